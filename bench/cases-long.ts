// Long sequences (issue 18): sliding-window attention, whose time grows linearly in L.
//   suite "window": scaledDotProductAttention B=1 H=8 D=64, causal with window [256, -1] (Mistral's: each
//   query sees itself and the 256 keys before it) at L = S = 4096, 16384, 65536 (charted against L).
//   Ours only: a peer would need the window as a dense [L, S] mask and the full L×S score matrix
//   (16384² · 8 heads · 4 B = 8 GiB of scores at 16k), which the long-context suite avoids for the same
//   reason. At L = 16384 the same rounds also time ours dense causal (the ≥ 20× target's baseline,
//   checked against its own float64 reference). At 65536 the peak WASM memory beyond inputs and output
//   is recorded (O(L·D): the packed K and V of one head, one row block's working set).
//   suite "block-sparse": a BigBird-like layout at L = S = 8192 (blocks of 64: a local window of 3
//   blocks, 2 global blocks, 3 random blocks per block row; sparseLayout), non-causal, against ours dense
//   in the same rounds.
//   suite "linformer": keyProjection/valueProjection k = 256 at L = S = 4096 (E, F uniform ±1/√S),
//   against ours full attention in the same rounds.
// Every case writes into a caller's `out` array made once per impl, as a long-context caller reuses its
// buffer: the results are 8–128 MiB, and on this VM the first touch of a fresh array's pages costs
// ~12 µs per 4 KiB page (a fresh 128 MiB Float32Array filled once: ~400 ms, against 7 ms to refill an
// existing one), which grows faster than L and would swamp what is measured here: the attention.
// Targets (summary() in bench/index.ts calls longTargets): time linear in L (±15 % of 4× per 4× L),
// window 256 at 16384 ≥ 20× faster than dense causal; BigBird at 8192 ≥ 5× faster than dense; Linformer k = 256 at 4096 ≥ 8× faster than full.
import { type BuildName, scaledDotProductAttention, sparseLayout } from "../src/index.js";
import { runtime } from "../src/wasm.js";
import type { BenchCase, BenchResult, Impl, Runner, Target } from "./harness.js";
import type { Tensor } from "./peers/index.js";
import { referenceSdpa } from "./reference.js";

export interface LongContext {
  quick: boolean;
  tensor: (shape: number[], seed: number) => Tensor;
  /** Ours in each build (bench/index.ts's ours()). */
  ours: (setup: (build: BuildName) => Runner | Promise<Runner>) => Impl[];
  /** The referee of a case (float64 reference, tolerances by impl name). */
  referee: (reference: BenchCase["reference"]) => Pick<BenchCase, "reference" | "tolerance" | "tolerances">;
  /** Ours' tolerance against float64. */
  tolOurs: number;
}

const H = 8, D = 64, WINDOW = 256;
export const DENSE_IMPL = "wasm-attention dense causal";
export const DENSE_FULL_IMPL = "wasm-attention dense";
export const FULL_IMPL = "wasm-attention full attention";
const windowName = (L: number) => `sdpa f32 B=1 H=${H} L=${L} S=${L} D=${D} causal window ${WINDOW} into out`;
/** A runner of `call` into an output array of its own (made once, at setup). */
const intoOut = (n: number, call: (out: Float32Array) => Float32Array) => () => { const out = new Float32Array(n); return () => call(out); };

export function longCases(c: LongContext): BenchCase[] {
  const cases: BenchCase[] = [];
  const Ls = c.quick ? [1024, 2048, 4096] : [4096, 16384, 65536];
  const denseAt = c.quick ? 2048 : 16384;
  const window: [number, number] = [WINDOW, -1];
  for (const L of Ls) {
    const q = c.tensor([1, H, L, D], 31), k = c.tensor([1, H, L, D], 32), v = c.tensor([1, H, L, D], 33);
    const opts = { causal: true, window };
    let peakMiB = 0;
    const n = H * L * D;
    const impls = c.ours(intoOut(n, (out) => scaledDotProductAttention(q, k, v, { ...opts, out }).output.data));
    if (L === Ls[Ls.length - 1]) {
      // the longest: one build, with the peak memory beyond inputs and output
      impls.splice(0, impls.length, ...c.ours(intoOut(n, (out) => {
        const heap = runtime("bench").heap;
        heap.resetPeak();
        const base = heap.bytesInUse;
        scaledDotProductAttention(q, k, v, { ...opts, out });
        peakMiB = Math.max(peakMiB, (heap.peakBytesInUse - base - 4 * H * L * D * 4) / 2 ** 20);
        return out;
      })).slice(0, 1));
    }
    if (L === denseAt) {
      const dense = c.ours(intoOut(n, (out) => scaledDotProductAttention(q, k, v, { causal: true, out }).output.data))[0];
      impls.push({ ...dense, name: DENSE_IMPL, reference: () => referenceSdpa(q, k, v, { causal: true }) });
    }
    const r = c.referee(() => referenceSdpa(q, k, v, { causal: true, window }));
    cases.push({
      suite: "window", name: windowName(L), x: L, series: `causal window ${WINDOW}`,
      // the scores and P·V the window keeps (each query: min(i + 1, 257) keys)
      flops: 2 * H * keptPairs(L, WINDOW) * (D + D),
      ...r, tolerances: { ...r.tolerances, [DENSE_IMPL]: c.tolOurs },
      impls,
      ...(L === Ls[Ls.length - 1] ? { extra: () => ({ "peak MiB beyond inputs+output": Number(peakMiB.toFixed(1)) }) } : {}),
    });
  }
  // BigBird-like block-sparse layout
  {
    const L = c.quick ? 2048 : 8192, b = 64;
    const q = c.tensor([1, H, L, D], 34), k = c.tensor([1, H, L, D], 35), v = c.tensor([1, H, L, D], 36);
    const layout = sparseLayout({ queryLength: L, keyLength: L, blockSize: b, window: 1, globalBlocks: 2, randomBlocks: 3, seed: 1 });
    const opts = { blockSparse: { blockSize: b, layout } };
    const C = layout.shape[1];
    const kept = layout.data.reduce((a, x) => a + x, 0);
    const visible = (i: number, j: number) => layout.data[Math.floor(i / b) * C + Math.floor(j / b)] !== 0;
    const n = H * L * D;
    const impls = c.ours(intoOut(n, (out) => scaledDotProductAttention(q, k, v, { ...opts, out }).output.data)).slice(0, 1);
    const dense = c.ours(intoOut(n, (out) => scaledDotProductAttention(q, k, v, { out }).output.data))[0];
    impls.push({ ...dense, name: DENSE_FULL_IMPL, reference: () => referenceSdpa(q, k, v, { causal: false }) });
    const r = c.referee(() => referenceSdpa(q, k, v, { causal: false, visible }));
    cases.push({
      suite: "block-sparse", name: `sdpa f32 B=1 H=${H} L=${L} S=${L} D=${D} BigBird-like (b=${b}: window 1, 2 global, 3 random; ${(100 * kept / layout.data.length).toFixed(1)} % of blocks) into out`,
      flops: 2 * H * kept * b * b * (D + D),
      ...r, tolerances: { ...r.tolerances, [DENSE_FULL_IMPL]: c.tolOurs },
      impls,
    });
  }
  // Linformer k = 256
  {
    const L = c.quick ? 1024 : 4096, kp = 256;
    const q = c.tensor([1, H, L, D], 37), k = c.tensor([1, H, L, D], 38), v = c.tensor([1, H, L, D], 39);
    const scaleP = 1 / Math.sqrt(L);
    const P = c.tensor([kp, L], 40), F = c.tensor([kp, L], 41);
    for (const t of [P, F]) for (let i = 0; i < t.data.length; i++) t.data[i] *= scaleP;
    const opts = { keyProjection: P, valueProjection: F };
    const n = H * L * D;
    const impls = c.ours(intoOut(n, (out) => scaledDotProductAttention(q, k, v, { ...opts, out }).output.data)).slice(0, 1);
    const full = c.ours(intoOut(n, (out) => scaledDotProductAttention(q, k, v, { out }).output.data))[0];
    impls.push({ ...full, name: FULL_IMPL, reference: () => referenceSdpa(q, k, v, { causal: false }) });
    const r = c.referee(() => referenceSdpa({ data: q.data, shape: q.shape }, projectRef(P, k, H, L, D), projectRef(F, v, H, L, D), { causal: false }));
    cases.push({
      suite: "linformer", name: `sdpa f32 B=1 H=${H} L=${L} S=${L} D=${D} Linformer k=${kp} into out`,
      flops: 2 * H * kp * L * (D + D) + 2 * H * L * kp * (D + D),   // the projections + attention over k keys
      ...r, tolerances: { ...r.tolerances, [FULL_IMPL]: c.tolOurs },
      impls,
    });
  }
  return cases;
}

/** P [k, S] · X [1, H, S, D] in float64, rounded to f32 for the referee's tensors: [1, H, k, D]. */
function projectRef(P: Tensor, X: Tensor, H: number, S: number, D: number): Tensor {
  const k = P.shape[0]!;
  const y = new Float32Array(H * k * D);
  const acc = new Float64Array(D);
  for (let h = 0; h < H; h++) {
    for (let r = 0; r < k; r++) {
      acc.fill(0);
      for (let j = 0; j < S; j++) {
        const p = P.data[r * S + j]!, off = (h * S + j) * D;
        for (let d = 0; d < D; d++) acc[d] += p * X.data[off + d]!;
      }
      y.set(acc, (h * k + r) * D);
    }
  }
  return { data: y, shape: [1, H, k, D] };
}

/** Query/key pairs a causal window [w, 0] keeps over L = S. */
function keptPairs(L: number, w: number): number {
  let n = 0;
  for (let i = 0; i < L; i++) n += Math.min(i + 1, w + 1);
  return n;
}

/** The targets for this run's "window" cases. */
export function longTargets(rs: BenchResult[]): Target[] {
  const med = (r: BenchResult | undefined, impl: string) => r?.impls.find((i) => i.name === impl && i.status === "ok")?.stats?.medianMs;
  const out: Target[] = [];
  const win = rs.filter((r) => r.suite === "window").sort((a, b) => (a.x ?? 0) - (b.x ?? 0));
  for (let n = 1; n < win.length; n++) {
    const a = win[n - 1], b = win[n];
    const ta = med(a, "wasm-attention"), tb = med(b, "wasm-attention");
    if (ta === undefined || tb === undefined || !a.x || !b.x) continue;
    const want = b.x / a.x, got = tb / ta;
    out.push({
      target: `window ${WINDOW}: time linear in L, L = ${a.x} → ${b.x} takes ${want}× (±15 %)`,
      measured: `${got.toFixed(2)}× (${ta.toFixed(1)} → ${tb.toFixed(1)} ms; separate cases)`, met: Math.abs(got / want - 1) <= 0.15,
    });
  }
  for (const r of win) {
    const w = med(r, "wasm-attention"), d = med(r, DENSE_IMPL);
    if (w !== undefined && d !== undefined) {
      out.push({ target: `${r.name}: ≥ 20× faster than dense causal (interleaved)`, measured: `${(d / w).toFixed(1)}× (${w.toFixed(1)} vs ${d.toFixed(1)} ms)`, met: d / w >= 20 });
    }
    const p = r.extra?.["peak MiB beyond inputs+output"];
    if (typeof p === "number") out.push({ target: `${r.name}: memory O(L·D): peak beyond inputs and output reported`, measured: `${p} MiB`, met: undefined });
  }
  for (const r of rs.filter((r) => r.suite === "block-sparse")) {
    const s = med(r, "wasm-attention"), d = med(r, DENSE_FULL_IMPL);
    if (s !== undefined && d !== undefined) {
      out.push({ target: `${r.name}: ≥ 5× faster than dense (interleaved)`, measured: `${(d / s).toFixed(1)}× (${s.toFixed(1)} vs ${d.toFixed(1)} ms)`, met: d / s >= 5 });
    }
  }
  for (const r of rs.filter((r) => r.suite === "linformer")) {
    const s = med(r, "wasm-attention"), d = med(r, FULL_IMPL);
    if (s !== undefined && d !== undefined) {
      out.push({ target: `${r.name}: ≥ 8× faster than full attention (interleaved)`, measured: `${(d / s).toFixed(1)}× (${s.toFixed(1)} vs ${d.toFixed(1)} ms)`, met: d / s >= 8 });
    }
  }
  return out;
}
