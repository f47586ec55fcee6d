// Shared by the reliability suites (property, fuzz, numerics, concurrency; issue #5): float64 references
// for whole public calls (batch broadcasting, masks and defaults as the API has them), MultiHeadAttention
// models with known random weights and their reference, and bit/heap helpers.
// Shapes: B batch, H heads, Hkv K/V heads, L query length, S key length, E (Dk) query/key width, Ev value
// width, Dh head width; matmul [...batch, M, K] · [...batch, K, N].
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as assert from "uvu/assert";
import { broadcastIndex, refAttention, refMasks, refMatmul, refMha, refSoftmax, type RefMask, type RefMhaWeights } from "../reference.js";
export { refMasks };
import { randn, rng } from "../helpers.js";
import {
  MultiHeadAttention,
  type MatmulOptions, type MultiHeadAttentionOptions, type MultiHeadAttentionWeights, type SdpaOptions, type Tensor,
} from "../../src/index.js";
import { runtime } from "../../src/wasm.js";

export const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Bytes in WASM heap blocks of the running build. */
export const heapInUse = (): number => runtime("reliability").heap.bytesInUse;

export function tensor(rand: () => number, shape: number[], lo = -1, hi = 1): Tensor {
  return { data: randn(rand, prod(shape), lo, hi), shape };
}

/** Same float32 bits (NaN payloads included), with the first difference in the message. */
export function bitsEqual(got: Float32Array, want: Float32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) assert.unreachable(`${what}: [${i}] got ${got[i]} want ${want[i]} (bits differ)`);
  }
}

/** Numpy broadcast of batch shapes, or null. */
export function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length), out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Index vector of flat index i in shape. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) { idx[d] = i % shape[d]; i = Math.floor(i / shape[d]); }
  return idx;
}

// ---- whole-call references -----------------------------------------------------------------------------------

/** scaledDotProductAttention(q, k, v, o) in float64: output [...batch, L, Ev] (and its mag: see refAttention), weights [...batch, L, S]. */
export function refSdpaCall(q: Tensor, k: Tensor, v: Tensor, o: SdpaOptions = {}): { out: Float64Array; w: Float64Array; mag: Float64Array; outShape: number[]; wShape: number[] } {
  const r = q.shape.length;
  const batch = q.shape.slice(0, -2), L = q.shape[r - 2], E = q.shape[r - 1], S = k.shape[r - 2], Ev = v.shape[r - 1];
  const masks: RefMask[] = o.mask ? [{ data: o.mask.data, shape: o.mask.shape, bool: o.mask.data instanceof Uint8Array }] : [];
  const scale = o.scale ?? (E > 0 ? 1 / Math.sqrt(E) : 1);
  const { out, w, mag } = refAttention(q.data, k.data, v.data, batch, L, S, E, Ev, { scale, causal: o.causal, masks });
  return { out, w, mag, outShape: [...batch, L, Ev], wShape: [...batch, L, S] };
}

/** matmul(a, b, o) in float64, batch dims broadcast. */
export function refMatmulCall(a: Tensor, b: Tensor, o: MatmulOptions = {}): { data: Float64Array; shape: number[] } {
  const ra = a.shape.length, rb = b.shape.length;
  const M = o.transposeA ? a.shape[ra - 1] : a.shape[ra - 2], K = o.transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const N = o.transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const ba = a.shape.slice(0, -2), bb = b.shape.slice(0, -2);
  const batch = broadcast(ba, bb);
  if (batch === null) throw new Error("refMatmulCall: batch dims do not broadcast");
  const nb = prod(batch), out = new Float64Array(nb * M * N);
  for (let i = 0; i < nb; i++) {
    const idx = unravel(i, batch);
    const offA = broadcastIndex(idx, ba, batch) * M * K, offB = broadcastIndex(idx, bb, batch) * K * N;
    out.set(refMatmul(a.data.subarray(offA, offA + M * K), b.data.subarray(offB, offB + K * N), M, K, N, o.transposeA, o.transposeB), i * M * N);
  }
  return { data: out, shape: [...batch, M, N] };
}

/** softmax(x) over the last axis in float64. */
export function refSoftmaxCall(x: Tensor): Float64Array {
  const n = x.shape[x.shape.length - 1];
  return x.data.length === 0 ? new Float64Array(0) : refSoftmax(x.data, n);
}

// ---- MultiHeadAttention models ---------------------------------------------------------------------------------

/** E embedDim, H numHeads, Hkv numKVHeads, kdim/vdim key/value input widths. */
export interface MhaCfg { E: number; H: number; Hkv: number; kdim: number; vdim: number; bias: boolean }

export interface Model { mha: MultiHeadAttention; cfg: MhaCfg; ref: RefMhaWeights; weights: MultiHeadAttentionWeights }

export function fullCfg(c: Partial<MhaCfg> & { E: number; H: number }): MhaCfg {
  return { E: c.E, H: c.H, Hkv: c.Hkv ?? c.H, kdim: c.kdim ?? c.E, vdim: c.vdim ?? c.E, bias: c.bias ?? true };
}

/** Random weights (±1.5/√fan-in, biases ±0.5) as loadWeights takes them (separate q/k/v) and as refMha does. */
export function randomWeights(rand: () => number, f: MhaCfg): { weights: MultiHeadAttentionWeights; ref: RefMhaWeights } {
  const { E, H, Hkv, kdim, vdim } = f;
  const Ekv = Hkv * (E / H);
  const u = (n: number, fanIn: number) => randn(rand, n, -1.5 / Math.sqrt(fanIn), 1.5 / Math.sqrt(fanIn));
  const Wq = u(E * E, E), Wk = u(Ekv * kdim, kdim), Wv = u(Ekv * vdim, vdim), Wo = u(E * E, E);
  const ref: RefMhaWeights = { Wq, Wk, Wv, Wo };
  const weights: MultiHeadAttentionWeights = { qProjWeight: Wq, kProjWeight: Wk, vProjWeight: Wv, outProjWeight: Wo };
  if (f.bias) {
    const bin = randn(rand, E + 2 * Ekv, -0.5, 0.5), bo = randn(rand, E, -0.5, 0.5);
    ref.bq = bin.subarray(0, E); ref.bk = bin.subarray(E, E + Ekv); ref.bv = bin.subarray(E + Ekv); ref.bo = bo;
    weights.inProjBias = bin; weights.outProjBias = bo;
  }
  return { weights, ref };
}

/** A new instance with known random weights. */
export function model(c: Partial<MhaCfg> & { E: number; H: number }, seed = 1): Model {
  const cfg = fullCfg(c);
  const mha = new MultiHeadAttention({ embedDim: cfg.E, numHeads: cfg.H, numKVHeads: cfg.Hkv, kdim: cfg.kdim, vdim: cfg.vdim, bias: cfg.bias, seed });
  const { weights, ref } = randomWeights(rng(seed * 7919 + 13), cfg);
  mha.loadWeights(weights);
  return { mha, cfg, ref, weights };
}

/**
 * m.mha.forward(q, k, v, o) (without a cache) in float64: output [B, L, E] (or [L, E]) and weights as the
 * options ask (averaged [B, L, S] or per head [B, H, L, S]; unbatched without B).
 */
export function refForward(m: Model, q: Tensor, k?: Tensor, v?: Tensor, o: MultiHeadAttentionOptions = {}): { out: Float64Array; w: Float64Array; mag: Float64Array; outShape: number[]; wShape: number[] } {
  const { E, H, Hkv, kdim, vdim } = m.cfg;
  const unbatched = q.shape.length === 2;
  const B = unbatched ? 1 : q.shape[0], L = q.shape[q.shape.length - 2];
  const S = k ? k.shape[k.shape.length - 2] : L;
  const r = refMha(q.data, (k ?? q).data, (v ?? q).data, B, L, S, E, H, Hkv, kdim, vdim, m.ref, { causal: o.causal, masks: refMasks(o, B, S) });
  const avg = o.averageWeights ?? true;
  let w = r.w;
  if (avg) {
    w = new Float64Array(B * L * S);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < L * S; i++) w[b * L * S + i] += r.w[(b * H + h) * L * S + i] / H;
  }
  const wShape = avg ? [B, L, S] : [B, H, L, S];
  return { out: r.out, w, mag: r.mag, outShape: unbatched ? [L, E] : [B, L, E], wShape: unbatched ? wShape.slice(1) : wShape };
}

/** Rows [a, b) of each batch item of x [B, T, W] → [B, b − a, W]. */
export function rowsOf(x: ArrayLike<number>, B: number, T: number, W: number, a: number, b: number): Float32Array {
  const out = new Float32Array(B * (b - a) * W);
  for (let n = 0; n < B; n++) for (let t = a; t < b; t++) for (let e = 0; e < W; e++) out[(n * (b - a) + t - a) * W + e] = x[(n * T + t) * W + e];
  return out;
}

/** Row r of a row-major [rows, cols] array. */
export function row(x: ArrayLike<number>, cols: number, r: number): number[] {
  return Array.from({ length: cols }, (_, j) => x[r * cols + j]);
}

/**
 * Runs `body` (an async module body with the library as `m`) in a fresh Node process, for tests that change
 * what is loaded: the suites share one process, and other files hold the running module. Returns stdout lines.
 */
export function runFresh(body: string): string[] {
  const index = fileURLToPath(new URL("../../src/index.ts", import.meta.url));
  const script = `const m = await import(process.argv[1]);\n${body}`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, index], { encoding: "utf8", timeout: 60000 });
  assert.is(r.status, 0, `fresh process failed: ${r.stderr}`);
  return r.stdout.trim().split("\n").filter((l) => l.length > 0);
}
