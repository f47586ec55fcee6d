// Weight matrices resident in WASM memory, packed once for the GEMM: the pieces a layer's linear
// projections are made of (MultiHeadAttention's four; a feed-forward block's two).
//   W[out, in] row-major, PyTorch's Linear layout: y = x·Wᵀ + b.
//   Packed as B = Wᵀ in pack_b_f32's panel layout: ⌈out/8⌉ panels of in×8 floats,
//     pb[(⌊n/8⌋·in + k)·8 + n mod 8] = W[n, k]   (n < out, k < in; a last partial panel is zero-padded).
// A projection c[M, out] = a[M, in]·Wᵀ + bias then copies only activations. One row (M = 1, a decode
// step) takes the GEMV over the same panels (gemv_packed_f32), which gives the GEMM's bits.
import { put } from "./call.js";
import type { Frame } from "./memory.js";
import type { Runtime } from "./wasm.js";

/** One packed W[out, in] at byte address `ptr`. */
export interface PackedMatrix {
  readonly ptr: number;
  readonly out: number;
  readonly in: number;
}

/** Bytes of a packed W[out, in], in JS doubles (no size wraps). */
export function packedBytes(out: number, inp: number): number {
  return Math.ceil(out / 8) * 8 * inp * 4;
}

/** Packs `w` (row-major [p.out, p.in]) into p's block; `w` is staged through a block of frame `f`. */
export function packMatrix(rt: Runtime, f: Frame, p: PackedMatrix, w: Float32Array): void {
  const tmp = put(rt, f, w);
  rt.kernels.pack_b_f32(p.ptr, tmp, 1, p.in, p.in, p.out);   // B = Wᵀ: B[k, n] at tmp + (n·in + k)·4
}

/** W[out, in] back from its packed panels, as a new array. */
export function unpackMatrix(rt: Runtime, p: PackedMatrix): Float32Array {
  const pb = rt.heap.f32(p.ptr, Math.ceil(p.out / 8) * 8 * p.in);
  const w = new Float32Array(p.out * p.in);
  for (let n = 0; n < p.out; n++) {
    const base = Math.floor(n / 8) * p.in * 8 + (n % 8);
    for (let k = 0; k < p.in; k++) w[n * p.in + k] = pb[base + k * 8];
  }
  return w;
}

/** Scratch bytes that a projection (parallel.ts gemms(), per thread) needs for any row count with any of `ps`. */
export function projectScratchBytes(rt: Runtime, ps: readonly PackedMatrix[]): number {
  return Math.max(0, ...ps.map((p) => rt.kernels.matmul_scratch_bytes(0, p.in, p.out)));
}
