// GEMM building blocks: C[M×N] (+)= A[M×K] · B[K×N], f32, on packed panels.
//
//   Shapes: M×K · K×N. A and B are read through element strides (rs = row stride, cs = column
//   stride), so a transposed operand is just other strides: Aᵀ stored [K, M] has rs = 1, cs = M.
//   Packing copies a KC-deep slice of each operand into the layout the micro-kernel streams:
//     packed A panel (MR rows):  pa[k·MR + r]        = A[m0 + r, k0 + k]   (zeros past the last row)
//     packed B (panels of NR):   pb[(p·kc + k)·NR + c] = B[k0 + k, n0 + p·NR + c] (zeros past N)
//   The micro-kernel computes one MR×NR tile from a packed A panel and one packed B panel with
//   MR·NR/4 = 10 f32x4 accumulators (5×8: the largest tile whose accumulators, two B vectors, one
//   A splat and one product fit V8's 15 usable xmm registers under plain SIMD; see LIMITS.md).
//   Loop order of `gemm` (BLIS-like): k-blocks of KC → n-blocks of NC (B block packed once, stays in
//   L2) → MR-row panels of A (packed, stays in L1) → NR-column panels.
//   Every k-block after the first adds to C, so the sum over k is: ((Σ_{k<KC}) + Σ_{KC≤k<2KC}) + …,
//   each block summed in k order per lane: a fixed order, the same in every engine.
// No checks here: src/ guarantees the dims are ≥ 1 and every range lies inside memory.

// Tile rows: 5 under plain SIMD (10 accumulators + 2 B vectors + 1 A splat + 1 product fit V8's
// 15 usable xmm registers), 6 with relaxed SIMD's fused multiply-add (12 + 2 + 1, no product
// register; LIMITS.md: 54 vs 42 GFLOP/s), 5 in the scalar build.
// @ts-ignore: decorator
@inline export const MR: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 5;
// @ts-ignore: decorator
@inline export const NR: i32 = 8;
// @ts-ignore: decorator
@inline export const KC: i32 = 512;
// @ts-ignore: decorator
@inline export const NC: i32 = 512;

/** Bytes of scratch `gemm` needs: one packed A panel and one packed B block. */
export function gemm_scratch_bytes(K: i32, N: i32): f64 {
  const kc = min<i32>(KC, K);
  const nc = min<i32>(NC, (N + NR - 1) & ~(NR - 1));
  return <f64>(MR * kc + MR * NR + kc * ((nc + NR - 1) & ~(NR - 1))) * 4 + 64;
}

/** acc + a·b per lane: plain SIMD mul then add (two roundings, bit-identical everywhere), or relaxed madd (FMA where the CPU has it) in the relaxed build. */
// @ts-ignore: decorator
@inline export function vmadd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** Pack rows [0, mr) × cols [0, kc) of A (element strides rs, cs) into an MR-row panel. */
export function pack_a(pa: usize, a: usize, rs: i32, cs: i32, mr: i32, kc: i32): void {
  if (mr == MR && cs == 1) {
    // Row-major A: walk each row contiguously.
    for (let r = 0; r < MR; r++) {
      const src = a + <usize>(r * rs) * 4;
      let dst = pa + <usize>r * 4;
      for (let k = 0; k < kc; k++) {
        store<f32>(dst, load<f32>(src + (<usize>k << 2)));
        dst += MR * 4;
      }
    }
    return;
  }
  for (let k = 0; k < kc; k++) {
    const src = a + <usize>(k * cs) * 4;
    const dst = pa + <usize>(k * MR) * 4;
    for (let r = 0; r < MR; r++) {
      store<f32>(dst + (<usize>r << 2), r < mr ? load<f32>(src + <usize>(r * rs) * 4) : 0);
    }
  }
}

/** Pack rows [0, kc) × cols [0, nc) of B (element strides rs, cs) into ⌈nc/NR⌉ panels of NR columns. */
export function pack_b(pb: usize, b: usize, rs: i32, cs: i32, kc: i32, nc: i32): void {
  for (let n0 = 0; n0 < nc; n0 += NR) {
    const nr = min<i32>(NR, nc - n0);
    const panel = pb + <usize>(n0 * kc) * 4;
    const col0 = b + <usize>(n0 * cs) * 4;
    if (ASC_FEATURE_SIMD && nr == NR && cs == 1) {
      // Row-major B: 8 contiguous floats per k.
      for (let k = 0; k < kc; k++) {
        const src = col0 + <usize>(k * rs) * 4;
        const dst = panel + <usize>(k * NR) * 4;
        if (ASC_FEATURE_SIMD) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
        }
      }
    } else if (rs == 1) {
      // Bᵀ stored row-major (e.g. Kᵀ in Q·Kᵀ): each column is contiguous in k.
      for (let c = 0; c < NR; c++) {
        const dst = panel + <usize>c * 4;
        if (c < nr) {
          const src = col0 + <usize>(c * cs) * 4;
          for (let k = 0; k < kc; k++) store<f32>(dst + <usize>(k * NR) * 4, load<f32>(src + (<usize>k << 2)));
        } else {
          for (let k = 0; k < kc; k++) store<f32>(dst + <usize>(k * NR) * 4, 0);
        }
      }
    } else {
      for (let k = 0; k < kc; k++) {
        const src = col0 + <usize>(k * rs) * 4;
        const dst = panel + <usize>(k * NR) * 4;
        for (let c = 0; c < NR; c++) {
          store<f32>(dst + (<usize>c << 2), c < nr ? load<f32>(src + <usize>(c * cs) * 4) : 0);
        }
      }
    }
  }
}

/**
 * C[0:mr, 0:nr] (+)= Apanel · Bpanel over kc steps. C row stride ldc elements.
 * acc = false stores the tile, acc = true adds it to C. tmp: MR·NR floats of scratch for edge tiles.
 */
// @ts-ignore: decorator
@inline export function tile(c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool, tmp: usize): void {
  if (ASC_FEATURE_RELAXED_SIMD) tile_6x8(c, ldc, pa, pb, kc, mr, nr, acc, tmp);
  else if (ASC_FEATURE_SIMD) tile_5x8(c, ldc, pa, pb, kc, mr, nr, acc, tmp);
  else tile_scalar(c, ldc, pa, pb, kc, mr, nr, acc);
}

function tile_5x8(c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool, tmp: usize): void {
  let vacc0x0 = f32x4.splat(0), vacc0x4 = f32x4.splat(0);
  let vacc1x0 = f32x4.splat(0), vacc1x4 = f32x4.splat(0);
  let vacc2x0 = f32x4.splat(0), vacc2x4 = f32x4.splat(0);
  let vacc3x0 = f32x4.splat(0), vacc3x4 = f32x4.splat(0);
  let vacc4x0 = f32x4.splat(0), vacc4x4 = f32x4.splat(0);
  let a = pa, b = pb;
  for (let k = 0; k < kc; k++) {
    const vb0 = v128.load(b);
    const vb4 = v128.load(b, 16);
    const va0 = v128.load32_splat(a);
    vacc0x0 = vmadd(va0, vb0, vacc0x0);
    vacc0x4 = vmadd(va0, vb4, vacc0x4);
    const va1 = v128.load32_splat(a, 4);
    vacc1x0 = vmadd(va1, vb0, vacc1x0);
    vacc1x4 = vmadd(va1, vb4, vacc1x4);
    const va2 = v128.load32_splat(a, 8);
    vacc2x0 = vmadd(va2, vb0, vacc2x0);
    vacc2x4 = vmadd(va2, vb4, vacc2x4);
    const va3 = v128.load32_splat(a, 12);
    vacc3x0 = vmadd(va3, vb0, vacc3x0);
    vacc3x4 = vmadd(va3, vb4, vacc3x4);
    const va4 = v128.load32_splat(a, 16);
    vacc4x0 = vmadd(va4, vb0, vacc4x0);
    vacc4x4 = vmadd(va4, vb4, vacc4x4);
    a += MR * 4;
    b += NR * 4;
  }
  if (mr == MR && nr == NR) {
    const ld = <usize>ldc * 4;
    if (acc) {
      vacc0x0 = f32x4.add(v128.load(c), vacc0x0); vacc0x4 = f32x4.add(v128.load(c, 16), vacc0x4);
      vacc1x0 = f32x4.add(v128.load(c + ld), vacc1x0); vacc1x4 = f32x4.add(v128.load(c + ld, 16), vacc1x4);
      vacc2x0 = f32x4.add(v128.load(c + 2 * ld), vacc2x0); vacc2x4 = f32x4.add(v128.load(c + 2 * ld, 16), vacc2x4);
      vacc3x0 = f32x4.add(v128.load(c + 3 * ld), vacc3x0); vacc3x4 = f32x4.add(v128.load(c + 3 * ld, 16), vacc3x4);
      vacc4x0 = f32x4.add(v128.load(c + 4 * ld), vacc4x0); vacc4x4 = f32x4.add(v128.load(c + 4 * ld, 16), vacc4x4);
    }
    v128.store(c, vacc0x0); v128.store(c, vacc0x4, 16);
    v128.store(c + ld, vacc1x0); v128.store(c + ld, vacc1x4, 16);
    v128.store(c + 2 * ld, vacc2x0); v128.store(c + 2 * ld, vacc2x4, 16);
    v128.store(c + 3 * ld, vacc3x0); v128.store(c + 3 * ld, vacc3x4, 16);
    v128.store(c + 4 * ld, vacc4x0); v128.store(c + 4 * ld, vacc4x4, 16);
    return;
  }
  // Edge tile: spill the accumulators to `tmp` (MR·NR floats) and copy the valid part.
  v128.store(tmp, vacc0x0); v128.store(tmp, vacc0x4, 16);
  v128.store(tmp, vacc1x0, 32); v128.store(tmp, vacc1x4, 48);
  v128.store(tmp, vacc2x0, 64); v128.store(tmp, vacc2x4, 80);
  v128.store(tmp, vacc3x0, 96); v128.store(tmp, vacc3x4, 112);
  v128.store(tmp, vacc4x0, 128); v128.store(tmp, vacc4x4, 144);
  store_edge(c, ldc, tmp, mr, nr, acc);
}

/** The relaxed-SIMD tile: 6×8, 12 accumulators, fused multiply-add. Same contract as tile_5x8 with MR = 6. */
function tile_6x8(c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool, tmp: usize): void {
  let vacc0x0 = f32x4.splat(0), vacc0x4 = f32x4.splat(0);
  let vacc1x0 = f32x4.splat(0), vacc1x4 = f32x4.splat(0);
  let vacc2x0 = f32x4.splat(0), vacc2x4 = f32x4.splat(0);
  let vacc3x0 = f32x4.splat(0), vacc3x4 = f32x4.splat(0);
  let vacc4x0 = f32x4.splat(0), vacc4x4 = f32x4.splat(0);
  let vacc5x0 = f32x4.splat(0), vacc5x4 = f32x4.splat(0);
  let a = pa, b = pb;
  for (let k = 0; k < kc; k++) {
    const vb0 = v128.load(b);
    const vb4 = v128.load(b, 16);
    const va0 = v128.load32_splat(a);
    vacc0x0 = vmadd(va0, vb0, vacc0x0);
    vacc0x4 = vmadd(va0, vb4, vacc0x4);
    const va1 = v128.load32_splat(a, 4);
    vacc1x0 = vmadd(va1, vb0, vacc1x0);
    vacc1x4 = vmadd(va1, vb4, vacc1x4);
    const va2 = v128.load32_splat(a, 8);
    vacc2x0 = vmadd(va2, vb0, vacc2x0);
    vacc2x4 = vmadd(va2, vb4, vacc2x4);
    const va3 = v128.load32_splat(a, 12);
    vacc3x0 = vmadd(va3, vb0, vacc3x0);
    vacc3x4 = vmadd(va3, vb4, vacc3x4);
    const va4 = v128.load32_splat(a, 16);
    vacc4x0 = vmadd(va4, vb0, vacc4x0);
    vacc4x4 = vmadd(va4, vb4, vacc4x4);
    const va5 = v128.load32_splat(a, 20);
    vacc5x0 = vmadd(va5, vb0, vacc5x0);
    vacc5x4 = vmadd(va5, vb4, vacc5x4);
    a += MR * 4;
    b += NR * 4;
  }
  if (mr == MR && nr == NR) {
    const ld = <usize>ldc * 4;
    if (acc) {
      vacc0x0 = f32x4.add(v128.load(c), vacc0x0); vacc0x4 = f32x4.add(v128.load(c, 16), vacc0x4);
      vacc1x0 = f32x4.add(v128.load(c + ld), vacc1x0); vacc1x4 = f32x4.add(v128.load(c + ld, 16), vacc1x4);
      vacc2x0 = f32x4.add(v128.load(c + 2 * ld), vacc2x0); vacc2x4 = f32x4.add(v128.load(c + 2 * ld, 16), vacc2x4);
      vacc3x0 = f32x4.add(v128.load(c + 3 * ld), vacc3x0); vacc3x4 = f32x4.add(v128.load(c + 3 * ld, 16), vacc3x4);
      vacc4x0 = f32x4.add(v128.load(c + 4 * ld), vacc4x0); vacc4x4 = f32x4.add(v128.load(c + 4 * ld, 16), vacc4x4);
      vacc5x0 = f32x4.add(v128.load(c + 5 * ld), vacc5x0); vacc5x4 = f32x4.add(v128.load(c + 5 * ld, 16), vacc5x4);
    }
    v128.store(c, vacc0x0); v128.store(c, vacc0x4, 16);
    v128.store(c + ld, vacc1x0); v128.store(c + ld, vacc1x4, 16);
    v128.store(c + 2 * ld, vacc2x0); v128.store(c + 2 * ld, vacc2x4, 16);
    v128.store(c + 3 * ld, vacc3x0); v128.store(c + 3 * ld, vacc3x4, 16);
    v128.store(c + 4 * ld, vacc4x0); v128.store(c + 4 * ld, vacc4x4, 16);
    v128.store(c + 5 * ld, vacc5x0); v128.store(c + 5 * ld, vacc5x4, 16);
    return;
  }
  v128.store(tmp, vacc0x0); v128.store(tmp, vacc0x4, 16);
  v128.store(tmp, vacc1x0, 32); v128.store(tmp, vacc1x4, 48);
  v128.store(tmp, vacc2x0, 64); v128.store(tmp, vacc2x4, 80);
  v128.store(tmp, vacc3x0, 96); v128.store(tmp, vacc3x4, 112);
  v128.store(tmp, vacc4x0, 128); v128.store(tmp, vacc4x4, 144);
  v128.store(tmp, vacc5x0, 160); v128.store(tmp, vacc5x4, 176);
  store_edge(c, ldc, tmp, mr, nr, acc);
}

/** The scalar build's tile (engines without SIMD): plain loops, each C element summed in k order. */
function tile_scalar(c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool): void {
  for (let r = 0; r < mr; r++) {
    const crow = c + <usize>(r * ldc) * 4;
    for (let j = 0; j < nr; j++) {
      let s: f32 = 0;
      let a = pa + (<usize>r << 2), b = pb + (<usize>j << 2);
      for (let k = 0; k < kc; k++) {
        s += load<f32>(a) * load<f32>(b);
        a += MR * 4;
        b += NR * 4;
      }
      const p = crow + (<usize>j << 2);
      store<f32>(p, acc ? load<f32>(p) + s : s);
    }
  }
}

/** C[0:mr, 0:nr] (+)= tmp[0:mr, 0:nr] (tmp row stride NR). */
function store_edge(c: usize, ldc: i32, tmp: usize, mr: i32, nr: i32, acc: bool): void {
  for (let r = 0; r < mr; r++) {
    const dst = c + <usize>(r * ldc) * 4, src = tmp + <usize>(r * NR) * 4;
    for (let j = 0; j < nr; j++) {
      const p = dst + (<usize>j << 2);
      const x = load<f32>(src + (<usize>j << 2));
      store<f32>(p, acc ? load<f32>(p) + x : x);
    }
  }
}

/**
 * C[M×N] = A[M×K]·B[K×N] (acc = false) or C += A·B (acc = true); C row stride ldc.
 * scratch: gemm_scratch_bytes(K, N) bytes, 16-aligned.
 */
export function gemm(
  c: usize, ldc: i32,
  a: usize, a_rs: i32, a_cs: i32,
  b: usize, b_rs: i32, b_cs: i32,
  scratch: usize,
  M: i32, K: i32, N: i32, acc: bool,
): void {
  const kcmax = min<i32>(KC, K);
  const pa = scratch;
  const tmp = (pa + <usize>(MR * kcmax) * 4 + 15) & ~15;
  const pb = tmp + <usize>(MR * NR) * 4;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min<i32>(KC, K - k0);
    const add = acc || k0 > 0;
    for (let n0 = 0; n0 < N; n0 += NC) {
      const nc = min<i32>(NC, N - n0);
      pack_b(pb, b + <usize>(k0 * b_rs + n0 * b_cs) * 4, b_rs, b_cs, kc, nc);
      for (let m0 = 0; m0 < M; m0 += MR) {
        const mr = min<i32>(MR, M - m0);
        pack_a(pa, a + <usize>(m0 * a_rs + k0 * a_cs) * 4, a_rs, a_cs, mr, kc);
        const crow = c + <usize>(m0 * ldc + n0) * 4;
        for (let j = 0; j < nc; j += NR) {
          tile(crow + <usize>j * 4, ldc, pa, pb + <usize>(j * kc) * 4, kc, mr, min<i32>(NR, nc - j), add, tmp);
        }
      }
    }
  }
}

/**
 * C[M×N] (+ bias[N]) = A[M×K] · B, with B already packed by `pack_b` over its full depth K:
 * pb[(p·K + k)·NR + c] = B[k, p·NR + c] (the layout weights are kept in). The KC slice of panel p
 * starting at k0 is contiguous at pb + (p·K + k0)·NR. scratch: gemm_scratch_bytes(K, 0) bytes.
 */
export function gemm_packed(
  c: usize, ldc: i32,
  a: usize, a_rs: i32, a_cs: i32,
  pb: usize, scratch: usize,
  M: i32, K: i32, N: i32,
): void {
  const kcmax = min<i32>(KC, K);
  const pa = scratch;
  const tmp = (pa + <usize>(MR * kcmax) * 4 + 15) & ~15;
  if (ASC_FEATURE_SIMD && M == 1 && a_cs == 1) {
    gemv_packed(c, a, pb, tmp, K, N);
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min<i32>(KC, K - k0);
    for (let n0 = 0; n0 < N; n0 += NC) {
      const nc = min<i32>(NC, N - n0);
      for (let m0 = 0; m0 < M; m0 += MR) {
        const mr = min<i32>(MR, M - m0);
        pack_a(pa, a + <usize>(m0 * a_rs + k0 * a_cs) * 4, a_rs, a_cs, mr, kc);
        const crow = c + <usize>(m0 * ldc + n0) * 4;
        for (let j = 0; j < nc; j += NR) {
          tile(crow + <usize>j * 4, ldc, pa, pb + <usize>((n0 + j) * K + k0 * NR) * 4, kc, mr, min<i32>(NR, nc - j), k0 > 0, tmp);
        }
      }
    }
  }
}

/**
 * c[0:N] = a[0:K] · B for one row (decoding one token), B packed by pack_b over depth K. The tile
 * would compute MR rows to keep one; this walks 4 panels (32 outputs) at a time with 8 accumulators
 * and one splat of a[k], bound by reading B. Each KC block is summed from zero and added to c, the
 * tile path's order, so one row gives the same bits either way. tmp: NR floats for a partial panel.
 */
function gemv_packed(c: usize, a: usize, pb: usize, tmp: usize, K: i32, N: i32): void {
  const panels = (N + NR - 1) / NR;
  const pstride = <usize>K * NR * 4;   // bytes between panels
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min<i32>(KC, K - k0);
    const add = k0 > 0;
    let p = 0;
    for (; p + 4 <= panels && (p + 4) * NR <= N; p += 4) {
      let vacc0 = f32x4.splat(0), vacc1 = vacc0, vacc2 = vacc0, vacc3 = vacc0;
      let vacc4 = vacc0, vacc5 = vacc0, vacc6 = vacc0, vacc7 = vacc0;
      let b = pb + <usize>p * pstride + <usize>(k0 * NR) * 4;
      let x = a + (<usize>k0 << 2);
      for (let k = 0; k < kc; k++) {
        const va = v128.load32_splat(x);
        vacc0 = vmadd(va, v128.load(b), vacc0);
        vacc1 = vmadd(va, v128.load(b, 16), vacc1);
        vacc2 = vmadd(va, v128.load(b + pstride), vacc2);
        vacc3 = vmadd(va, v128.load(b + pstride, 16), vacc3);
        vacc4 = vmadd(va, v128.load(b + 2 * pstride), vacc4);
        vacc5 = vmadd(va, v128.load(b + 2 * pstride, 16), vacc5);
        vacc6 = vmadd(va, v128.load(b + 3 * pstride), vacc6);
        vacc7 = vmadd(va, v128.load(b + 3 * pstride, 16), vacc7);
        x += 4;
        b += NR * 4;
      }
      const y = c + <usize>(p * NR) * 4;
      if (add) {
        vacc0 = f32x4.add(v128.load(y), vacc0); vacc1 = f32x4.add(v128.load(y, 16), vacc1);
        vacc2 = f32x4.add(v128.load(y, 32), vacc2); vacc3 = f32x4.add(v128.load(y, 48), vacc3);
        vacc4 = f32x4.add(v128.load(y, 64), vacc4); vacc5 = f32x4.add(v128.load(y, 80), vacc5);
        vacc6 = f32x4.add(v128.load(y, 96), vacc6); vacc7 = f32x4.add(v128.load(y, 112), vacc7);
      }
      v128.store(y, vacc0); v128.store(y, vacc1, 16); v128.store(y, vacc2, 32); v128.store(y, vacc3, 48);
      v128.store(y, vacc4, 64); v128.store(y, vacc5, 80); v128.store(y, vacc6, 96); v128.store(y, vacc7, 112);
    }
    for (; p < panels; p++) {
      let vacc0 = f32x4.splat(0), vacc1 = vacc0;
      let b = pb + <usize>p * pstride + <usize>(k0 * NR) * 4;
      let x = a + (<usize>k0 << 2);
      for (let k = 0; k < kc; k++) {
        const va = v128.load32_splat(x);
        vacc0 = vmadd(va, v128.load(b), vacc0);
        vacc1 = vmadd(va, v128.load(b, 16), vacc1);
        x += 4;
        b += NR * 4;
      }
      v128.store(tmp, vacc0);
      v128.store(tmp, vacc1, 16);
      store_edge(c + <usize>(p * NR) * 4, 0, tmp, 1, min<i32>(NR, N - p * NR), add);
    }
  }
}
