// Concurrency as JS has it (issue #5): one thread, but many MultiHeadAttention instances and KV caches whose
// calls interleave, async callers that await between calls, and init({ build }) switching the running build
// between calls. Results must not depend on the interleaving or the order of calls (bit for bit: the kernels
// keep no state), and instances keep the module they were created with.
// Shapes: B batch, T tokens, E = embedDim, H heads, Hkv K/V heads; sdpa L, S, E; matmul M×K · K×N.
// Run: WASM_ATTENTION_BUILD=debug node --import tsx scripts/uvu-run.mjs test/src/concurrency.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUILD, assertClose, assertRowsClose, randBytes, rng } from "../helpers.js";
import { stillWorks } from "../support.js";
import {
  buildInfo, init, matmul, memoryStats, scaledDotProductAttention as sdpa, softmax,
  type BuildName, type KVCache, type Tensor,
} from "../../src/index.js";
import { detectFeatures, runtime } from "../../src/wasm.js";
import {
  bitsEqual, heapInUse, model, refForward, refMatmulCall, refSdpaCall, refSoftmaxCall, rowsOf, runFresh, tensor, type Model,
} from "./reliability-support.js";

const RTOL = 1e-5;
type Rand = () => number;
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

function shuffle<X>(rand: Rand, xs: X[]): X[] {
  const a = xs.slice();
  for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [a[i], a[j]] = [a[j], a[i]]; }
  return a;
}

/** One cache's job: its tokens [B, T, E] and the chunk sizes fed one forward at a time. */
interface Seq { m: Model; B: number; T: number; x: Tensor; chunks: number[] }

function sequence(rand: Rand, m: Model): Seq {
  const B = int(rand, 1, 2), T = int(rand, 8, 16), E = m.cfg.E;
  const chunks: number[] = [int(rand, 1, 5)];
  for (let t = chunks[0]; t < T;) { const n = Math.min(T - t, rand() < 0.8 ? 1 : 2); chunks.push(n); t += n; }
  return { m, B, T, x: tensor(rand, [B, T, E]), chunks };
}

/** Forward of chunk c of seq through cache: tokens [at, at + n). */
function stepOf(s: Seq, cache: KVCache, at: number, n: number): Float32Array {
  const xs = { data: rowsOf(s.x.data, s.B, s.T, s.m.cfg.E, at, at + n), shape: [s.B, n, s.m.cfg.E] };
  return s.m.mha.forward(xs, undefined, undefined, { cache }).output.data;
}

/** All chunks of s through a fresh cache, nothing in between. */
function alone(s: Seq): Float32Array[] {
  const cache = s.m.mha.createCache({ batch: s.B, maxLength: s.T });
  const out: Float32Array[] = [];
  let at = 0;
  for (const n of s.chunks) { out.push(stepOf(s, cache, at, n)); at += n; }
  cache.dispose();
  return out;
}

test("KV caches interleaved: 7 caches on 3 instances (MHA, GQA, MQA without bias), token steps in random order with other calls, redone steps and instances created/disposed in between = each cache alone, bit for bit, and = one causal forward", () => {
  const mark = heapInUse();
  const rand = rng(31);
  const models = [model({ E: 12, H: 4, Hkv: 2 }, 31), model({ E: 8, H: 2 }, 32), model({ E: 12, H: 3, Hkv: 1, bias: false }, 33)];
  try {
    const seqs = Array.from({ length: 7 }, (_, i) => sequence(rand, models[i % 3]));
    const want = seqs.map(alone);
    const caches = seqs.map((s) => s.m.mha.createCache({ batch: s.B, maxLength: s.T }));
    const pos = seqs.map(() => 0), next = seqs.map(() => 0);
    const got: Float32Array[][] = seqs.map(() => []);
    let steps = 0, redone = 0, others = 0;
    for (;;) {
      const live = seqs.map((_, i) => i).filter((i) => next[i] < seqs[i].chunks.length);
      if (live.length === 0) break;
      const i = live[Math.floor(rand() * live.length)], s = seqs[i], n = s.chunks[next[i]];
      got[i].push(stepOf(s, caches[i], pos[i], n));
      pos[i] += n; next[i]++; steps++;
      const r = rand();
      if (r < 0.15 && next[i] > 1) {
        // redo the step just taken: truncate it away and feed it again
        caches[i].truncate(pos[i] - n);
        bitsEqual(stepOf(s, caches[i], pos[i] - n, n), got[i][got[i].length - 1], `cache ${i}: step ${next[i] - 1} redone`);
        redone++;
      } else if (r < 0.35) {
        // an uncached forward on one of the instances, and the free functions
        const m = models[int(rand, 0, 2)];
        const q = tensor(rand, [2, int(rand, 1, 9), m.cfg.E]), o = { causal: rand() < 0.5 };
        const want = refForward(m, q, undefined, undefined, o);
        assertRowsClose(m.mha.forward(q, undefined, undefined, o).output.data, want.out, m.cfg.E, RTOL, "uncached forward in between", want.mag);
        const a = tensor(rand, [int(rand, 1, 9), 7]), b = tensor(rand, [7, int(rand, 1, 9)]);
        assertClose(matmul(a, b).data, refMatmulCall(a, b).data, RTOL, "matmul in between");
        others++;
      } else if (r < 0.45) {
        // heap churn: an instance with a cache created and disposed next to the live caches
        const tmp = model({ E: 16, H: 4 }, int(rand, 1, 1000));
        const c = tmp.mha.createCache({ batch: 2, maxLength: 32 });
        tmp.mha.forward(tensor(rand, [2, 5, 16]), undefined, undefined, { cache: c });
        tmp.mha.dispose();
        others++;
      }
    }
    assert.ok(steps > 40 && redone > 3 && others > 10, `interleaving happened: ${steps} steps, ${redone} redone, ${others} other calls`);
    seqs.forEach((s, i) => {
      got[i].forEach((g, c) => bitsEqual(g, want[i][c], `cache ${i} step ${c}`));
      // and the rows of one causal forward over the whole sequence
      const full = refForward(s.m, s.x, undefined, undefined, { causal: true }), E = s.m.cfg.E;
      let at = 0;
      s.chunks.forEach((n, c) => {
        assertRowsClose(got[i][c], rowsOf(full.out, s.B, s.T, E, at, at + n), E, RTOL, `cache ${i} step ${c} vs reference`, rowsOf(full.mag, s.B, s.T, E, at, at + n));
        at += n;
      });
    });
  } finally {
    models.forEach((m) => m.mha.dispose());
  }
  assert.is(heapInUse(), mark, "heap back");
});

/** A deterministic call: the same (kind, seed) always builds the same inputs; returns its output(s). */
function makeCall(kind: number, seed: number, models: Model[]): () => Float32Array {
  const rand = rng(seed);
  switch (kind % 4) {
    case 0: {
      const L = int(rand, 1, 45), S = int(rand, 1, 30), E = int(rand, 1, 9);
      const q = tensor(rand, [2, L, E]), k = tensor(rand, [2, S, E]), v = tensor(rand, [2, S, 3]);
      const mask = { data: randBytes(rand, L * S, 0.7), shape: [L, S] };
      return () => sdpa(q, k, v, { mask, causal: true }).output.data;
    }
    case 1: { const a = tensor(rand, [int(rand, 1, 20), 13]), b = tensor(rand, [13, int(rand, 1, 20)]); return () => matmul(a, b).data; }
    case 2: { const x = tensor(rand, [3, int(rand, 1, 70)], -20, 20); return () => softmax(x).data; }
    default: { const m = models[seed % models.length]; const q = tensor(rand, [2, int(rand, 1, 12), m.cfg.E]); return () => m.mha.forward(q, undefined, undefined, { needWeights: true }).output.data; }
  }
}

test("results do not depend on call order: 240 calls (sdpa, matmul, softmax, forward) in order, shuffled and reversed give the same bits", () => {
  const mark = heapInUse();
  const models = [model({ E: 8, H: 2 }, 41), model({ E: 12, H: 6, Hkv: 3 }, 42)];
  try {
    const calls = Array.from({ length: 240 }, (_, i) => makeCall(i, 1000 + i, models));
    const first = calls.map((c) => c());
    const order = shuffle(rng(43), calls.map((_, i) => i));
    const second: Float32Array[] = [];
    for (const i of order) second[i] = calls[i]();
    const third: Float32Array[] = [];
    for (let i = calls.length - 1; i >= 0; i--) third[i] = calls[i]();
    calls.forEach((_, i) => { bitsEqual(second[i], first[i], `call ${i} shuffled`); bitsEqual(third[i], first[i], `call ${i} reversed`); });
    // and the first results are right
    for (let i = 0; i < 8; i++) {
      const rand = rng(1000 + i);
      if (i % 4 === 1) { const a = tensor(rand, [int(rand, 1, 20), 13]), b = tensor(rand, [13, int(rand, 1, 20)]); assertClose(first[i], refMatmulCall(a, b).data, RTOL, `call ${i}`); }
      if (i % 4 === 2) { const x = tensor(rand, [3, int(rand, 1, 70)], -20, 20); assertRowsClose(first[i], refSoftmaxCall(x), x.shape[1], RTOL, `call ${i}`); }
    }
  } finally {
    models.forEach((m) => m.mha.dispose());
  }
  assert.is(heapInUse(), mark, "heap back");
});

test("async callers: 10 async functions awaiting between calls (timers, immediates, microtasks) under Promise.all, each with its own KV cache on shared instances, get the bits of the same calls run one after another", async () => {
  const mark = heapInUse();
  const models = [model({ E: 8, H: 2 }, 51), model({ E: 12, H: 4, Hkv: 1 }, 52)];
  try {
    const JOBS = 10, STEPS = 14;
    const seqs = Array.from({ length: JOBS }, (_, j) => { const s = sequence(rng(60 + j), models[j % 2]); s.chunks = s.chunks.slice(0, STEPS); return s; });
    const callsOf = (j: number) => Array.from({ length: STEPS }, (_, s) => makeCall(j * 7 + s, 5000 + j * 100 + s, models));
    // sequentially: job after job
    const want = Array.from({ length: JOBS }, (_, j) => {
      const calls = callsOf(j), cache = seqs[j].m.mha.createCache({ batch: seqs[j].B, maxLength: seqs[j].T });
      const out: Float32Array[] = [];
      let at = 0;
      for (let s = 0; s < STEPS; s++) {
        out.push(calls[s]());
        if (s < seqs[j].chunks.length) { out.push(stepOf(seqs[j], cache, at, seqs[j].chunks[s])); at += seqs[j].chunks[s]; }
      }
      cache.dispose();
      return out;
    });
    const pause = (rand: Rand): Promise<void> => {
      const r = rand();
      if (r < 0.3) return new Promise((res) => setTimeout(res, 0));
      if (r < 0.6) return new Promise((res) => setImmediate(res));
      if (r < 0.9) return new Promise((res) => queueMicrotask(res));
      return Promise.resolve();
    };
    let running = 0, maxRunning = 0;
    const trace: number[] = [];
    const job = async (j: number): Promise<Float32Array[]> => {
      const rand = rng(700 + j), calls = callsOf(j), cache = seqs[j].m.mha.createCache({ batch: seqs[j].B, maxLength: seqs[j].T });
      const out: Float32Array[] = [];
      running++; maxRunning = Math.max(maxRunning, running);
      let at = 0;
      for (let s = 0; s < STEPS; s++) {
        await pause(rand);
        out.push(calls[s]());
        trace.push(j);
        await pause(rand);
        if (s < seqs[j].chunks.length) { out.push(stepOf(seqs[j], cache, at, seqs[j].chunks[s])); at += seqs[j].chunks[s]; }
      }
      running--;
      cache.dispose();
      return out;
    };
    const got = await Promise.all(Array.from({ length: JOBS }, (_, j) => job(j)));
    let switches = 0;
    for (let i = 1; i < trace.length; i++) if (trace[i] !== trace[i - 1]) switches++;
    assert.ok(maxRunning === JOBS && switches > JOBS * 3, `the jobs interleaved (${maxRunning} at once, ${switches} switches)`);
    got.forEach((outs, j) => outs.forEach((o, i) => bitsEqual(o, want[j][i], `job ${j} result ${i}`)));
  } finally {
    models.forEach((m) => m.mha.dispose());
  }
  assert.is(heapInUse(), mark, "heap back");
});

test("switching builds with init({ build }) between calls: new calls use the build asked for; instances and caches created under another build keep their module (same bits as before the switch); disposing one frees its own module's heap", async () => {
  const rt0 = runtime("t");
  const builds: BuildName[] = ["simd", "debug", "scalar", ...(detectFeatures().relaxedSimd ? ["relaxed" as BuildName] : [])];
  if (!builds.includes(BUILD)) builds.push(BUILD);
  const rand = rng(81);
  const x = tensor(rand, [2, 5, 8]);
  const q = tensor(rand, [2, 7, 6]), k = tensor(rand, [2, 9, 6]), v = tensor(rand, [2, 9, 4]);
  const a = tensor(rand, [5, 11]), b = tensor(rand, [11, 3]), s = tensor(rand, [4, 10], -5, 5);
  const refs = { sdpa: refSdpaCall(q, k, v, { causal: true }), matmul: refMatmulCall(a, b).data, softmax: refSoftmaxCall(s) };
  interface PerBuild { m: Model; cache: KVCache; forward: Float32Array; steps: Float32Array[]; free: Float32Array[]; heapBefore: number; stepAt: number }
  const per = new Map<BuildName, PerBuild>();
  const T = 1 + 3 * builds.length;   // one step at creation, then one per round and current build
  const seqX = tensor(rand, [1, T, 8]);
  const step = (p: PerBuild): Float32Array => {
    const out = p.m.mha.forward({ data: seqX.data.slice(p.stepAt * 8, (p.stepAt + 1) * 8), shape: [1, 1, 8] }, undefined, undefined, { cache: p.cache }).output.data;
    p.stepAt++;
    return out;
  };
  const freeCalls = () => [sdpa(q, k, v, { causal: true }).output.data, matmul(a, b).data, softmax(s).data];
  try {
    // under each build: an instance with a cache, its first results, the free functions' results
    for (const bn of builds) {
      assert.is((await init({ build: bn })).build, bn, `init({ build: ${bn} })`);
      const heapBefore = heapInUse();
      const m = model({ E: 8, H: 2 }, 90);
      const p: PerBuild = { m, cache: m.mha.createCache({ maxLength: T }), forward: m.mha.forward(x).output.data, steps: [], free: freeCalls(), heapBefore, stepAt: 0 };
      p.steps.push(step(p));
      per.set(bn, p);
      const want = refForward(m, x);
      assertRowsClose(p.forward, want.out, 8, RTOL, `${bn}: forward`, want.mag);
      assertRowsClose(p.free[0], refs.sdpa.out, 4, RTOL, `${bn}: free sdpa`, refs.sdpa.mag);
      assertClose(p.free[1], refs.matmul, RTOL, `${bn}: free matmul`);
      assertRowsClose(p.free[2], refs.softmax, 10, RTOL, `${bn}: free softmax`);
    }
    // the same instance's full step sequence, computed now for comparison (a second cache on each instance)
    const alone = new Map<BuildName, Float32Array[]>();
    for (const [bn, p] of per) {
      const c2 = p.m.mha.createCache({ maxLength: T });
      alone.set(bn, Array.from({ length: T }, (_, t) => p.m.mha.forward({ data: seqX.data.slice(t * 8, (t + 1) * 8), shape: [1, 1, 8] }, undefined, undefined, { cache: c2 }).output.data));
      c2.dispose();
    }
    // rounds of switching in random order; every instance is used under every current build
    for (let round = 0; round < 3; round++) {
      for (const cur of shuffle(rand, builds)) {
        await init({ build: cur });
        assert.is(buildInfo()!.build, cur, "buildInfo follows init");
        assert.is(runtime("t").info.build, cur, "the running module");
        assert.is(memoryStats()!.inUse, runtime("t").heap.bytesInUse, "memoryStats is the running module's");
        freeCalls().forEach((o, i) => bitsEqual(o, per.get(cur)!.free[i], `round ${round} under ${cur}: free call ${i} as before`));
        for (const [bn, p] of shuffle(rand, [...per])) {
          bitsEqual(p.m.mha.forward(x).output.data, p.forward, `round ${round}: ${bn} instance under ${cur}`);
          const t = p.stepAt;
          bitsEqual(step(p), alone.get(bn)![t], `round ${round}: ${bn} cache step ${t} under ${cur}`);
        }
      }
    }
    // dispose each instance while another build runs; its own module's heap comes back
    for (const bn of builds) {
      const other = builds.find((o) => o !== bn)!;
      await init({ build: other });
      per.get(bn)!.m.mha.dispose();
      await init({ build: bn });
      assert.is(heapInUse(), per.get(bn)!.heapBefore, `${bn}: heap back after dispose under ${other}`);
    }
  } finally {
    for (const p of per.values()) p.m.mha.dispose();
    await init({ build: BUILD });
  }
  assert.ok(runtime("t") === rt0, "back on the module the other suites use");
  stillWorks("after switching builds");
});

test("concurrent init() calls: the last call decides the build — an earlier init still compiling does not override a later init of an already loaded build (fresh process)", () => {
  const lines = runFresh(`
    await m.init({ build: "simd" });
    await m.init({ build: "debug" });
    const p1 = m.init({ build: "scalar" });   // not loaded yet: compiles asynchronously
    const p2 = m.init({ build: "simd" });     // loaded: switches at once
    await Promise.all([p1, p2]);
    console.log(JSON.stringify({ case: "scalar (compiling) then simd (loaded)", build: m.buildInfo().build, want: "simd" }));
    await m.init({ build: "debug" });
    const p4 = m.init({ build: "simd" });
    const p5 = m.init({ build: "debug" });
    await Promise.all([p4, p5]);
    console.log(JSON.stringify({ case: "simd then debug (both loaded)", build: m.buildInfo().build, want: "debug" }));`);
  assert.is(lines.length, 2, "both cases reported");
  for (const l of lines) {
    const r = JSON.parse(l);
    assert.is(r.build, r.want, `${r.case}: running ${r.build} after both settled; the last call asked for ${r.want}`);
  }
});

test.run();
