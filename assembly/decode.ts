// Decoding one token: the kernels of MultiHeadAttention.forward's one-row steps.
//
//   gemv_packed_f32      c[0:N] = a[0:K] · B (+ bias), B packed by pack_b_f32 (a resident weight).
//   decode_attention_f32 one query row per head against S keys/values, every head in one call, no masks.
//   scatter_heads_f32    rows of [rows, heads·D] into head-major [heads, ·, D] blocks (the KV cache's layout).
//
// gemv_packed_f32 keeps 3 panels in flight (6 accumulators, 6 loaded vectors, 1 splat: ≤ 14 of V8's 15
// usable xmm registers; V8 schedules a loop body's loads before their arithmetic, so a budget over 15
// spills an accumulator every iteration). It performs gemm_packed_f32's operations for M = 1 in the same
// order (each KC block summed from zero per lane, in k order, then added to c; bias last), and
// decode_attention_f32 is attention_f32's direct path per head: a decode step gives the same bits as
// the general kernels.
// No checks here: src/ guarantees sizes ≥ 1 and every range inside memory, outputs not overlapping inputs.
import { KC, NR, vmadd } from "./gemm";
import { add_bias_rows } from "./matmul";
import { attention_direct } from "./attention";

/** Scratch bytes of decode_attention_f32 for S keys: one row of scores. */
export function decode_scratch_bytes(S: i32): f64 {
  return <f64>S * 4 + 64;
}

/**
 * c[0:N] = a[0:K] · B (+ bias[0:N]; bias = 0: none), B packed over depth K by pack_b_f32:
 * pb[(p·K + k)·NR + l] = B[k, p·NR + l]. Three panels (24 outputs) per pass over a.
 */
export function gemv_packed_f32(c: usize, a: usize, pb: usize, bias: usize, K: i32, N: i32): void {
  assert(K > 0 && N > 0, "gemv_packed_f32: K and N must be >= 1");
  const panels = (N + NR - 1) / NR;
  const ps = <usize>K * NR * 4;   // bytes between panels
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min<i32>(KC, K - k0);
    const add = k0 > 0;
    const a0 = a + (<usize>k0 << 2), b0 = pb + <usize>(k0 * NR) * 4;
    let p = 0;
    if (ASC_FEATURE_SIMD) {
      // Whole panels (p·NR + NR ≤ N), three at a time, then one at a time.
      const full = N / NR;
      for (; p + 3 <= full; p += 3) {
        let v0 = f32x4.splat(0), v1 = v0, v2 = v0, v3 = v0, v4 = v0, v5 = v0;
        let b = b0 + <usize>p * ps, x = a0;
        for (let k = 0; k < kc; k++) {
          const va = v128.load32_splat(x);
          v0 = vmadd(va, v128.load(b), v0); v1 = vmadd(va, v128.load(b, 16), v1);
          v2 = vmadd(va, v128.load(b + ps), v2); v3 = vmadd(va, v128.load(b + ps, 16), v3);
          v4 = vmadd(va, v128.load(b + 2 * ps), v4); v5 = vmadd(va, v128.load(b + 2 * ps, 16), v5);
          x += 4;
          b += NR * 4;
        }
        const y = c + <usize>(p * NR) * 4;
        if (add) {
          v0 = f32x4.add(v128.load(y), v0); v1 = f32x4.add(v128.load(y, 16), v1);
          v2 = f32x4.add(v128.load(y, 32), v2); v3 = f32x4.add(v128.load(y, 48), v3);
          v4 = f32x4.add(v128.load(y, 64), v4); v5 = f32x4.add(v128.load(y, 80), v5);
        }
        v128.store(y, v0); v128.store(y, v1, 16); v128.store(y, v2, 32);
        v128.store(y, v3, 48); v128.store(y, v4, 64); v128.store(y, v5, 80);
      }
      for (; p < panels; p++) {
        let v0 = f32x4.splat(0), v1 = v0;
        let b = b0 + <usize>p * ps, x = a0;
        for (let k = 0; k < kc; k++) {
          const va = v128.load32_splat(x);
          v0 = vmadd(va, v128.load(b), v0); v1 = vmadd(va, v128.load(b, 16), v1);
          x += 4;
          b += NR * 4;
        }
        const y = c + <usize>(p * NR) * 4;
        const nr = min<i32>(NR, N - p * NR);
        if (nr == NR) {
          if (add) { v0 = f32x4.add(v128.load(y), v0); v1 = f32x4.add(v128.load(y, 16), v1); }
          v128.store(y, v0); v128.store(y, v1, 16);
        } else {
          store_lanes(y, v0, min<i32>(nr, 4), add);
          if (nr > 4) store_lanes(y + 16, v1, nr - 4, add);
        }
      }
    } else {
      // Scalar build: gemm_packed's scalar tile for one row (each output summed over the block from zero).
      for (let n = 0; n < N; n++) {
        let s: f32 = 0;
        let b = b0 + <usize>(n / NR) * ps + (<usize>(n % NR) << 2), x = a0;
        for (let k = 0; k < kc; k++) {
          s += load<f32>(x) * load<f32>(b);
          x += 4;
          b += NR * 4;
        }
        const y = c + (<usize>n << 2);
        store<f32>(y, add ? load<f32>(y) + s : s);
      }
    }
  }
  if (bias != 0) add_bias_rows(c, N, bias, 1, N);
}

/** y[0:n] (+)= lanes 0..n−1 of v, n ≤ 4. */
// @ts-ignore: decorator
@inline function store_lanes(y: usize, v: v128, n: i32, add: bool): void {
  store_lane(y, f32x4.extract_lane(v, 0), add);
  if (n > 1) store_lane(y + 4, f32x4.extract_lane(v, 1), add);
  if (n > 2) store_lane(y + 8, f32x4.extract_lane(v, 2), add);
  if (n > 3) store_lane(y + 12, f32x4.extract_lane(v, 3), add);
}

// @ts-ignore: decorator
@inline function store_lane(p: usize, x: f32, add: bool): void {
  store<f32>(p, add ? load<f32>(p) + x : x);
}

/**
 * One query row per head: for h < H, with g = ⌊h / group⌋ (the K/V head),
 *   o[h·D : h·D + D] = softmax(q[h·D : h·D + D] · K_gᵀ · scale) · V_g,
 * K_g row j at k + (g·hs + j·ld)·4 (likewise V_g at v): hs = elements between K/V heads, ld =
 * elements between rows (head-major cache: hs = maxLength·D, ld = D; token-major [S, Hkv·D]: hs = D,
 * ld = Hkv·D). Every key is attended (one row of a causal step sees the whole cache). A row whose
 * scores are all −Infinity gives zeros; NaN propagates. scratch: decode_scratch_bytes(S), 16-aligned.
 */
export function decode_attention_f32(
  o: usize, q: usize, k: usize, v: usize, hs: i32, ld: i32, scratch: usize,
  H: i32, group: i32, S: i32, D: i32, scale: f32,
): void {
  assert(H > 0 && group > 0 && H % group == 0 && S > 0 && D > 0, "decode_attention_f32: H, S, D must be >= 1 and group must divide H");
  assert((scratch & 15) == 0, "decode_attention_f32: scratch must be 16-byte aligned");
  for (let h = 0; h < H; h++) {
    const g = h / group;
    const kh = k + <usize>g * <usize>hs * 4, vh = v + <usize>g * <usize>hs * 4;
    attention_direct(o + <usize>(h * D) * 4, D, 0, 0, q + <usize>(h * D) * 4, D, kh, ld, vh, ld, 0, 0, scratch, 1, S, D, D, scale, 0);
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
