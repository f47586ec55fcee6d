// Decoding one token: the kernels of MultiHeadAttention.forward's one-row steps.
//
//   gemv_packed_f32      c[0:N] = a[0:K] · B (+ bias), B packed by pack_b_f32 (a resident weight).
//   decode_attention_f32 one query row per head against S keys/values, every head in one call, no masks
//                        (soft-capping and per-head ALiBi slopes as attention_f32 takes them).
//   scatter_heads_f32    rows of [rows, heads·D] into head-major [heads, ·, D] blocks (the KV cache's layout).
//
// gemv_packed_f32 keeps 3 panels in flight (6 accumulators, 6 loaded vectors, 1 splat: ≤ 14 of V8's 15
// usable xmm registers; V8 schedules a loop body's loads before their arithmetic, so a budget over 15
// spills an accumulator every iteration). It performs gemm_packed_f32's operations for M = 1 in the same
// order (each KC block summed from zero per lane, in k order, then added to c; bias last), and
// decode_attention_f32 is attention_f32's direct path per head: a decode step gives the same bits as
// the general kernels.
// No checks here: src/ guarantees sizes ≥ 1 and every range inside memory, outputs not overlapping inputs.
import { gemv_packed } from "./gemm";
import { add_bias_rows } from "./matmul";
import { attention_direct } from "./attention";

/** Scratch bytes of decode_attention_f32 for S keys: one row of scores. */
export function decode_scratch_bytes(S: i32): f64 {
  return <f64>S * 4 + 64;
}

/** c[0:N] = a[0:K] · B (+ bias[0:N]; bias = 0: none), B packed over depth K by pack_b_f32 (gemm.ts's gemv_packed). */
export function gemv_packed_f32(c: usize, a: usize, pb: usize, bias: usize, K: i32, N: i32): void {
  assert(K > 0 && N > 0, "gemv_packed_f32: K and N must be >= 1");
  gemv_packed(c, a, pb, K, N);
  if (bias != 0) add_bias_rows(c, N, bias, 1, N);
}

/**
 * One query row per head: for h < H, with g = ⌊h / group⌋ (the K/V head),
 *   o[h·D : h·D + D] = softmax(cap(q[h·D : h·D + D] · K_gᵀ · scale) − m_h·(S − 1 − j)) · V_g,
 * cap(x) = c·tanh(x/c) when softcap c > 0 (else x), m_h = slopes[h] (f32 at slopes + 4h; slopes = 0:
 * no bias): the row is position S − 1, as attention_f32 with L = 1 places it.
 * K_g row j at k + (g·hs + j·ld)·4 (likewise V_g at v): hs = elements between K/V heads, ld =
 * elements between rows (head-major cache: hs = maxLength·D, ld = D; token-major [S, Hkv·D]: hs = D,
 * ld = Hkv·D). Every one of the S keys is attended: src/ passes the keys the row may see (one row of a
 * causal step sees the whole cache; a top-left causal row 0 sees key 0 only). A row whose
 * scores are all −Infinity gives zeros; NaN propagates. Window wl, wr as attention_f32 takes
 * them (0: unbounded; the row is at position S − 1, so it sees keys j ≥ S − wl when wl > 0). scratch: decode_scratch_bytes(S), 16-aligned.
 */
export function decode_attention_f32(
  o: usize, q: usize, k: usize, v: usize, hs: i32, ld: i32, scratch: usize,
  H: i32, group: i32, S: i32, D: i32, scale: f32, softcap: f32, slopes: usize, wl: i32, wr: i32,
): void {
  assert(H > 0 && group > 0 && H % group == 0 && S > 0 && D > 0, "decode_attention_f32: H, S, D must be >= 1 and group must divide H");
  assert((scratch & 15) == 0, "decode_attention_f32: scratch must be 16-byte aligned");
  for (let h = 0; h < H; h++) {
    const g = h / group;
    const kh = k + <usize>g * <usize>hs * 4, vh = v + <usize>g * <usize>hs * 4;
    const slope: f32 = slopes != 0 ? load<f32>(slopes + (<usize>h << 2)) : 0;
    attention_direct(o + <usize>(h * D) * 4, D, 0, 0, q + <usize>(h * D) * 4, D, kh, ld, vh, ld, 0, 0, scratch, 1, S, D, D, scale, 0, softcap, slope, wl, wr);
  }
}

/**
 * dst[h·hs + r·D + d] = src[r·lds + h·D + d] for h < heads, r < rows, d < D (elements): the rows of
 * a [rows, heads·D] block into per-head [rows, D] blocks hs elements apart.
 */
export function scatter_heads_f32(dst: usize, hs: i32, src: usize, lds: i32, rows: i32, heads: i32, D: i32): void {
  const bytes = <usize>D << 2;
  for (let h = 0; h < heads; h++) {
    let d = dst + <usize>h * <usize>hs * 4;
    let s = src + <usize>(h * D) * 4;
    for (let r = 0; r < rows; r++) {
      memory.copy(d, s, bytes);
      d += bytes;
      s += <usize>lds * 4;
    }
  }
}
