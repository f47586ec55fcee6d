// The explorer's benchmark panel: our kernels in this browser against plain JavaScript.
// Cases: MultiHeadAttention (B = 1, E = 512, H = 8) at L = 128 and 512, matmul 512×512·512×512.
// Each implementation's output is checked against plain JavaScript's before it is timed; then every
// implementation runs in interleaved rounds (one run each per round) until each has ≥ 3 samples and
// ≥ 0.4 s, and the median is shown. GFLOP/s: MHA 8·L·E² + 4·L²·E, matmul 2·M·K·N.
import { MultiHeadAttention, init, matmul } from "wasm-attention";
import * as plain from "./plain.js";

/**
 * The kernel builds compared, in order: `init` is what init() gets, `requires` the features() it
 * needs, `minThreads` the threads init() must have started (else the build is reported as failed,
 * with buildInfo().note). Another build is one more entry.
 */
const cores = navigator.hardwareConcurrency ?? 1;
export const BUILDS = [
  { id: "simd", label: "wasm SIMD (default)", init: { build: "simd" }, requires: ["simd"] },
  { id: "relaxed", label: "wasm relaxed SIMD", init: { build: "relaxed" }, requires: ["relaxedSimd"] },
  { id: "threads", label: `wasm SIMD, ${Math.min(8, cores)} threads`, init: { build: "simd", threads: "auto" }, requires: ["simd", "threads", "multicore"], minThreads: 2 },
];

// WebAssembly feature probes (the same bytes as src/wasm.ts): i8x16.splat; f32x4.relaxed_madd.
const SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 15, 11];
const RELAXED_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0,
  65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11];
const validates = (bytes) => { try { return WebAssembly.validate(new Uint8Array(bytes)); } catch { return false; } };

/** What this browser offers. */
export function features() {
  const simd = validates(SIMD_PROBE);
  return {
    simd,
    relaxedSimd: simd && validates(RELAXED_PROBE),
    threads: typeof SharedArrayBuffer === "function" && globalThis.crossOriginIsolated === true,
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    cores: navigator.hardwareConcurrency ?? null,
    multicore: cores > 1,
  };
}

function seeded(seed, n) {   // mulberry32, uniform in [−1, 1)
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** init() for a build; throws when it runs on fewer threads than the build is about. */
async function start(build) {
  const info = await init(build.init);
  if (build.minThreads && info.threads < build.minThreads) throw new Error(`init gave ${info.threads} thread(s): ${info.note ?? "no reason given"}`);
}

const E = 512, H = 8;
/** Each case: its FLOP count, a plain-JS run, and for a build an async prepare() giving { before, run, dispose }. */
export const CASES = [128, 512].map((L) => ({
  name: `MHA L=${L} E=${E} H=${H}`,
  flops: 8 * L * E * E + 4 * L * L * E,
  setup() {
    const x = seeded(L, L * E);
    return { x, tensor: { data: x, shape: [1, L, E] } };
  },
  async wasm(build, s) {
    await start(build);
    const mha = new MultiHeadAttention({ embedDim: E, numHeads: H, seed: 1 });   // keeps the build it was made with
    s.sd ??= mha.stateDict();
    return { before: () => {}, run: () => mha.forward(s.tensor).output.data, dispose: () => mha.dispose() };
  },
  plain: (s) => plain.mha(s.x, L, E, H, s.sd),
})).concat([{
  name: "matmul 512×512·512×512",
  flops: 2 * 512 ** 3,
  setup() {
    const a = seeded(1, 512 * 512), b = seeded(2, 512 * 512);
    return { a, b, ta: { data: a, shape: [512, 512] }, tb: { data: b, shape: [512, 512] } };
  },
  async wasm(build, s) {
    await start(build);
    // matmul runs on the current build: switch to it before every sample (outside the timing)
    return { before: () => init(build.init), run: () => matmul(s.ta, s.tb).data, dispose: () => {} };
  },
  plain: (s) => plain.matmul(s.a, s.b, 512, 512, 512),
}]);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const tick = () => new Promise((r) => setTimeout(r, 0));

/** max |a − b| over max(1, max |b|). */
function relDiff(a, b) {
  let d = 0, scale = 1;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
  return a.length === b.length ? d / scale : Infinity;
}

/**
 * Runs every case; calls onResult({ case, impl, label, ms?, gflops?, samples?, status }) as results
 * come in. Builds the browser cannot run are reported with status "n/a: <why>".
 */
export async function runBench(onResult, { minSamples = 3, minMs = 400, maxSamples = 50 } = {}) {
  const f = features();
  for (const c of CASES) {
    const s = c.setup();
    const impls = [];
    for (const b of BUILDS) {
      const missing = b.requires.filter((r) => !f[r]);
      if (missing.length) { onResult({ case: c.name, impl: b.id, label: b.label, status: `n/a: this browser lacks ${missing.join(", ")}` }); continue; }
      try { impls.push({ id: b.id, label: b.label, ...(await c.wasm(b, s)) }); } catch (e) { onResult({ case: c.name, impl: b.id, label: b.label, status: `failed: ${e.message}` }); }
    }
    impls.push({ id: "plain", label: "plain JavaScript", before: () => {}, run: () => c.plain(s), dispose: () => {} });
    // 1. validate, then warm up: every implementation against plain JavaScript's result
    let ref = null;
    for (const im of [...impls].reverse()) {
      await im.before();
      const out = im.run();
      if (im.id === "plain") ref = out;
      else im.diff = relDiff(out, ref);
      await tick();
    }
    // 2. interleaved rounds
    for (const im of impls) { im.times = []; im.total = 0; }
    for (;;) {
      const todo = impls.filter((im) => im.diff === undefined || im.diff <= 1e-4).filter((im) => im.times.length < maxSamples && (im.times.length < minSamples || im.total < minMs));
      if (!todo.length) break;
      for (const im of todo) {
        await im.before();
        const t0 = performance.now();
        im.run();
        const ms = performance.now() - t0;
        im.times.push(ms);
        im.total += ms;
        await tick();
      }
    }
    for (const im of impls) {
      im.dispose();
      if (im.diff !== undefined && !(im.diff <= 1e-4)) { onResult({ case: c.name, impl: im.id, label: im.label, status: `wrong result: max diff ${im.diff} vs plain JavaScript` }); continue; }
      const ms = median(im.times);
      onResult({ case: c.name, impl: im.id, label: im.label, ms, gflops: c.flops / (ms * 1e6), samples: im.times.length, status: "ok" });
    }
  }
}
