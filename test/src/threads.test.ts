// Threads: every call gives the same bits on 1, 2, 3 and 8 threads (as on the single-thread build),
// errors in workers come back as Errors and leave the pool working, a dead worker is reported and
// the library falls back to one thread, memory stays bounded, workers never keep Node alive.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import {
  type Tensor, MultiHeadAttention, applyRotary, buildInfo, init, initSync, matmul, memoryStats, scaledDotProductAttention, softmax, terminate,
} from "../../src/index.js";
import { runJob, tuning } from "../../src/parallel.js";
import { runtime } from "../../src/wasm.js";
import { BUILD, randBytes, rng, throwsWith } from "../helpers.js";
import { refAttention } from "../reference.js";
import { bitsEqual, model, tensor } from "./reliability-support.js";

const THREADED = BUILD !== "scalar";   // the scalar build has no threads variant
let minWork = 0;
let BM = 40, MR = 5;
const KC = 512;   // GEMM depth block and attention key tile (assembly/gemm.ts)

test.before(async () => {
  await init({ build: BUILD });
  minWork = tuning.minWork;
  BM = runtime("test").kernels.attention_block_rows();
  MR = runtime("test").kernels.gemm_tile_rows();
});
test.after(async () => {
  tuning.minWork = minWork;
  terminate();
  await init({ build: BUILD });
});

/** The workload: odd sizes, sizes across BM row blocks and KC key tiles, masks, causal, weights, GQA, caches, decode, RoPE. */
function workload(seed: number): Float32Array[] {
  const r = rng(seed);
  const out: Float32Array[] = [];
  const L = 2 * BM + 3, S = KC + 5;
  const q = tensor(r, [2, L, 24]), k = tensor(r, [2, S, 24]), v = tensor(r, [2, S, 17]);
  let res = scaledDotProductAttention(q, k, v, { causal: true, returnWeights: true });
  out.push(res.output.data, res.weights!.data);
  res = scaledDotProductAttention(q, k, v, { causal: "top-left", returnWeights: true });   // L < S: the first L keys only
  out.push(res.output.data, res.weights!.data);
  out.push(scaledDotProductAttention(k, q, q, { causal: "top-left" }).output.data);        // L > S
  const mask = { data: randBytes(r, L * S), shape: [L, S] };
  res = scaledDotProductAttention(q, k, v, { mask, returnWeights: true });
  out.push(res.output.data, res.weights!.data);
  // Linformer: the projections (matmul) and attention over the projected keys
  out.push(scaledDotProductAttention(q, k, v, { keyProjection: tensor(r, [37, S]) }).output.data);
  const add = { data: Float32Array.from({ length: L * S }, () => (r() < 0.2 ? -Infinity : r() - 0.5)), shape: [L, S] };
  out.push(scaledDotProductAttention(q, k, v, { mask: add, causal: true }).output.data);
  out.push(scaledDotProductAttention(tensor(r, [3, 2, 24]), k.shape[0] === 2 ? tensor(r, [3, S, 24]) : k, tensor(r, [3, S, 8])).output.data);
  out.push(scaledDotProductAttention(tensor(r, [5, 7, 3]), tensor(r, [5, 7, 3]), tensor(r, [5, 7, 5]), { causal: true }).output.data);
  // sliding windows: each row block's tiles start at its window (and the direct path's key range)
  res = scaledDotProductAttention(q, k, v, { causal: true, window: [BM + 3, -1], returnWeights: true });
  out.push(res.output.data, res.weights!.data);
  out.push(scaledDotProductAttention(q, k, v, { window: [7, 30], mask }).output.data);
  out.push(scaledDotProductAttention(tensor(r, [4, 2, 24]), tensor(r, [4, S, 24]), tensor(r, [4, S, 8]), { window: [60, 0] }).output.data);
  // a block-sparse layout (tiles from runs of kept blocks), per batch
  const b = 16, R = Math.ceil(L / b), C = Math.ceil(S / b);
  res = scaledDotProductAttention(q, k, v, { returnWeights: true, blockSparse: { blockSize: b, layout: { data: randBytes(r, 2 * R * C, 0.3), shape: [2, R, C] } } });
  out.push(res.output.data, res.weights!.data);
  // matmul: folded, broadcast batches, transposes, one row, K across KC
  out.push(matmul(tensor(r, [3, 2 * MR + 1, KC + 3]), tensor(r, [KC + 3, 19])).data);
  out.push(matmul(tensor(r, [2, 1, 9, 13]), tensor(r, [3, 13, 21]), { transposeA: false }).data);
  out.push(matmul(tensor(r, [2, 13, 9]), tensor(r, [2, 21, 13]), { transposeA: true, transposeB: true }).data);
  out.push(matmul(tensor(r, [1, 300]), tensor(r, [300, 77])).data);
  out.push(softmax(tensor(r, [37, 129], -20, 20)).data);
  // MHA: self-attention with GQA and per-head weights; cross-attention with padding and causal
  const m = model({ E: 48, H: 6, Hkv: 2 }, seed);
  const x = tensor(r, [2, BM + 7, 48]);
  let mr = m.mha.forward(x, undefined, undefined, { needWeights: true, averageWeights: false, causal: true });
  out.push(mr.output.data, mr.weights!.data);
  const mem = tensor(r, [2, 2 * BM + 1, 48]);
  const keyPaddingMask = { data: randBytes(r, 2 * (2 * BM + 1), 0.2), shape: [2, 2 * BM + 1] };
  mr = m.mha.forward(x, mem, mem, { keyPaddingMask, needWeights: true });
  out.push(mr.output.data, mr.weights!.data);
  // KV cache: a prefill, then one-token steps (the decode path), then a short chunk
  const cache = m.mha.createCache({ batch: 2, maxLength: 3 * BM });
  out.push(m.mha.forward(tensor(r, [2, BM + 1, 48]), undefined, undefined, { cache, causal: true }).output.data);
  for (let t = 0; t < 3; t++) out.push(m.mha.forward(tensor(r, [2, 1, 48]), undefined, undefined, { cache }).output.data);
  out.push(m.mha.forward(tensor(r, [2, 5, 48]), undefined, undefined, { cache, causal: true }).output.data);
  cache.dispose();
  m.mha.dispose();
  // RoPE: applyRotary (both layouts), a rotary layer's forward, its cache prefill and decode steps
  out.push(applyRotary(tensor(r, [2, 3, BM + 1, 40]), { offset: 99_000 }).data);
  out.push(applyRotary(tensor(r, [BM + 1, 40]), { dim: 34, interleaved: true }).data);
  const rm = new MultiHeadAttention({ embedDim: 48, numHeads: 6, numKVHeads: 2, seed, rotary: { dim: 6 } });
  out.push(rm.forward(tensor(r, [2, BM + 7, 48]), undefined, undefined, { causal: true }).output.data);
  const rc = rm.createCache({ batch: 2, maxLength: 2 * BM });
  out.push(rm.forward(tensor(r, [2, BM + 1, 48]), undefined, undefined, { cache: rc }).output.data);
  for (let t = 0; t < 3; t++) out.push(rm.forward(tensor(r, [2, 1, 48]), undefined, undefined, { cache: rc }).output.data);
  // a rolling cache (window mask on a multi-token call, moves of the held rows)
  const roll = rm.createCache({ batch: 2, window: BM, sinkTokens: 3 });
  for (let t = 0; t < 4; t++) out.push(rm.forward(tensor(r, [2, BM, 48]), undefined, undefined, { cache: roll }).output.data);
  rm.dispose();
  return out;
}

function sameBits(got: Float32Array[], want: Float32Array[], what: string): void {
  assert.is(got.length, want.length, `${what}: results`);
  got.forEach((g, i) => bitsEqual(g, want[i], `${what}: result ${i}`));
}

test("init({ threads }): bad values are TypeError/RangeError naming the option; initSync refuses threads > 1", async () => {
  for (const bad of [0, -1, 1.5, 65, NaN]) {
    let err: unknown;
    try { await init({ build: BUILD, threads: bad }); } catch (e) { err = e; }
    assert.instance(err, RangeError, `threads ${bad}`);
    assert.match((err as Error).message, /options\.threads must be an integer from 1 to 64/);
  }
  for (const bad of ["two", true, {}]) {
    let err: unknown;
    try { await init({ build: BUILD, threads: bad as never }); } catch (e) { err = e; }
    assert.instance(err, TypeError, `threads ${String(bad)}`);
    assert.match((err as Error).message, /options\.threads must be a number or "auto"/);
  }
  terminate();
  throwsWith(() => initSync({ build: BUILD, threads: 2 }), TypeError, /initSync: options\.threads 2 needs workers/, "initSync threads");
  assert.equal(initSync({ build: BUILD }).threads, 1);
  if (THREADED) {
    await init({ build: BUILD, threads: 2 });
    assert.equal(initSync({ build: BUILD }).threads, 1, "initSync switches to one thread");
    assert.equal(initSync({ build: BUILD, threads: 2 }).threads, 2, "and back to the workers init started");
    throwsWith(() => initSync({ build: BUILD, threads: 3 }), TypeError, /initSync: options\.threads 3 needs workers/, "another count");
  }
});

test("1, 2, 3 and 8 threads give the bits of the single-thread build (every job through the workers)", async () => {
  await init({ build: BUILD });
  const want = workload(11);
  tuning.minWork = 0;
  for (const n of [2, 3, 8, 1, 2]) {
    const info = await init({ build: BUILD, threads: n });
    assert.is(info.threads, THREADED ? n : 1, `buildInfo().threads for ${n}`);
    assert.is(buildInfo()!.threads, info.threads);
    if (!THREADED && n > 1) assert.match(info.note ?? "", /threads: the scalar build \(no SIMD\) has no threads variant/);
    sameBits(workload(11), want, `${n} threads`);
  }
  tuning.minWork = minWork;
});

test("threaded results match float64 (causal attention across blocks and tiles, 3 threads)", async () => {
  await init({ build: BUILD, threads: 3 });
  tuning.minWork = 0;
  const r = rng(5);
  const L = 3 * BM + 1, S = KC + 9, E = 16;
  const q = tensor(r, [4, L, E]), k = tensor(r, [4, S, E]), v = tensor(r, [4, S, E]);
  const got = scaledDotProductAttention(q, k, v, { causal: true }).output.data;
  const ref = refAttention(q.data, k.data, v.data, [4], L, S, E, E, { causal: true });
  for (let row = 0; row < 4 * L; row++) {
    let scale = 0, err = 0;
    for (let c = 0; c < E; c++) scale = Math.max(scale, Math.abs(ref.out[row * E + c]));
    for (let c = 0; c < E; c++) err = Math.max(err, Math.abs(got[row * E + c] - ref.out[row * E + c]));
    assert.ok(err <= 1e-5 * Math.max(scale, 1e-30), `row ${row}: error ${err} vs scale ${scale}`);
  }
  tuning.minWork = minWork;
});

test("1000 interleaved calls of mixed shapes on 2 threads give the bits of 1 thread; memory stays bounded", async () => {
  const r = rng(77);
  const shapes: ((t: Tensor[]) => Float32Array)[] = [
    (t) => scaledDotProductAttention(t[0], t[1], t[2], { causal: true }).output.data,
    (t) => scaledDotProductAttention(t[0], t[1], t[2]).output.data,
    (t) => matmul(t[0], t[3], { transposeB: true }).data,
    (t) => softmax(t[1]).data,
  ];
  const inputs: Tensor[][] = [];
  for (let i = 0; i < 6; i++) {
    const L = 1 + Math.floor(r() * 3 * BM), S = 1 + Math.floor(r() * 2 * BM), E = 1 + Math.floor(r() * 40);
    inputs.push([tensor(r, [2, L, E]), tensor(r, [2, S, E]), tensor(r, [2, S, E]), tensor(r, [S, E])]);
  }
  await init({ build: BUILD });
  const want = inputs.map((t) => shapes.map((f) => f(t)));
  await init({ build: BUILD, threads: 2 });
  tuning.minWork = 0;
  shapes[0](inputs[0]);
  const base = memoryStats()!.inUse;
  for (let c = 0; c < 1000; c++) {
    const i = Math.floor(r() * inputs.length), j = Math.floor(r() * shapes.length);
    bitsEqual(shapes[j](inputs[i]), want[i][j], `call ${c}: input ${i}, op ${j}`);
  }
  assert.is(memoryStats()!.inUse, base, "memory in use after 1000 calls");
  tuning.minWork = minWork;
});

test("a task that fails in a worker is an Error on the calling thread, and the pool keeps working", async () => {
  if (!THREADED) return;
  await init({ build: BUILD, threads: 2 });
  const rt = runtime("test");
  tuning.minWork = 0;
  // softmax over rows far outside memory: a trap (release) or an out-of-bounds abort (debug) in whichever thread runs it.
  const bad = Array.from({ length: 8 }, () => [0x7ff00000, 0x7ff00000, 4, 1024]);
  let err: unknown;
  try {
    const f = { alloc: (n: number) => rt.heap.alloc(n), done() {} };
    runJob(rt, f as never, "softmax_rows_f32", bad, 1e9);
  } catch (e) { err = e; }
  assert.instance(err, Error, "the failed job throws");
  assert.match(String((err as Error).message), /out of bounds|abort/);
  assert.is(buildInfo()!.threads, 2, "still 2 threads");
  const x = tensor(rng(3), [64, 65]);
  await init({ build: BUILD });
  const want = softmax(x).data;
  await init({ build: BUILD, threads: 2 });
  bitsEqual(softmax(x).data, want, "after the error");
  tuning.minWork = minWork;
});

test("a worker that dies: the next call is an Error saying so, later calls run on 1 thread, init starts threads again", async () => {
  if (!THREADED) return;
  await init({ build: BUILD, threads: 2 });
  tuning.minWork = 0;
  const x = tensor(rng(4), [2, 3 * BM, 16]);
  const want = scaledDotProductAttention(x, x, x).output.data;
  runtime("test").pool!.killOne();
  let err: unknown;
  try { scaledDotProductAttention(x, x, x); } catch (e) { err = e; }
  assert.instance(err, Error);
  assert.match((err as Error).message, /scaledDotProductAttention: threads: a worker was terminated; fell back to 1 thread/);
  assert.is(buildInfo()!.threads, 1);
  assert.match(buildInfo()!.note ?? "", /fell back to 1 thread/);
  bitsEqual(scaledDotProductAttention(x, x, x).output.data, want, "on 1 thread after the fall-back");
  assert.is((await init({ build: BUILD, threads: 2 })).threads, 2, "init starts them again");
  assert.is(buildInfo()!.note?.includes("fell back") ?? false, false, "the note is gone");
  bitsEqual(scaledDotProductAttention(x, x, x).output.data, want, "on 2 threads again");
  tuning.minWork = minWork;
});

test("threads: 'auto' uses the cores Node reports (at most 8); terminate() ends the workers", async () => {
  if (!THREADED) return;
  const info = await init({ build: BUILD, threads: "auto" });
  assert.is(info.threads, Math.min(8, availableParallelism()));
  terminate();
  assert.is(buildInfo()!.threads, 1);
  const m = new MultiHeadAttention({ embedDim: 16, numHeads: 2, seed: 1 });
  assert.is(m.forward(tensor(rng(1), [3, 16])).output.data.length, 48, "works after terminate()");
  m.dispose();
});

test("workers never keep a Node process alive", () => {
  if (!THREADED) return;
  const index = fileURLToPath(new URL("../../src/index.ts", import.meta.url));
  const code = `const m = await import(${JSON.stringify(index)}); const i = await m.init({ threads: 2, build: ${JSON.stringify(BUILD)} });` +
    ` const x = { data: new Float32Array(512 * 64).fill(0.5), shape: [512, 64] };` +
    ` m.scaledDotProductAttention(x, x, x); console.log("threads", i.threads);`;
  const t0 = Date.now();
  const flags = process.execArgv.filter((a) => a.startsWith("--experimental-wasm"));   // the relaxed build's V8 flag on Node 20
  const r = spawnSync(process.execPath, [...flags, "--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8", timeout: 30000 });
  assert.is(r.status, 0, `exit status (stderr: ${r.stderr})`);
  assert.match(r.stdout, /threads 2/);
  assert.ok(Date.now() - t0 < 30000, "exited by itself");
});

test.run();
