// GEMM building blocks: C[M×N] (+)= A[M×K] · B[K×N], f32, on packed panels.
//
//   Shapes: M×K · K×N. A and B are read through element strides (rs = row stride, cs = column
//   stride), so a transposed operand is just other strides: Aᵀ stored [K, M] has rs = 1, cs = M.
//   Packing copies a KC-deep slice of each operand into the layout the micro-kernel streams:
//     packed A panel (MR rows):  pa[k·PA + r]        = A[m0 + r, k0 + k]   (zeros past the last row;
//                                                      slots MR ≤ r < PA are padding, never read)
//     packed B (panels of NR):   pb[(p·kc + k)·NR + c] = B[k0 + k, n0 + p·NR + c] (zeros past N)
//   The micro-kernel computes one MR×NR tile from a packed A panel and one packed B panel with
//   MR·NR/4 = 10 f32x4 accumulators (5×8: the largest tile whose accumulators, two B vectors, one
//   A splat and one product fit V8's 15 usable xmm registers under plain SIMD; 6×8 spills there:
//   measured 42 vs 28 GFLOP/s at 512³ in Node 20 on a Zen 4 core).
//   PA = NR = 8 floats per k in the SIMD builds: A and B panels then advance by the same 32 bytes a
//   step, so the tile's loop walks one pointer (tile_simd: ~12% faster than with PA = MR). A panel
//   of kc steps takes PA·kc floats; the first k step is peeled (the sums start from a product).
//   Loop order of `gemm` (BLIS-like): k-blocks of KC → n-blocks of NC (B block packed once, stays in
//   L2) → MR-row panels of A (packed, stays in L1) → NR-column panels.
//   Every k-block after the first adds to C, so the sum over k is: ((Σ_{k<KC}) + Σ_{KC≤k<2KC}) + …,
//   each block summed in k order per lane: a fixed order, the same in every engine.
//   gemm_packed's epilogue (bias, activation): after the last k-block, each MR-row panel of C just
//   stored (MR × NC floats, still in L1) gets C = act(C + bias) in one pass (activation.ts). Without
//   bias and activation there is no epilogue; with a bias alone it computes (Σ) + bias[j], the same
//   operation, on the same sum, as a separate pass after the GEMM would.
// No checks here: src/ guarantees the dims are ≥ 1 and every range lies inside memory.
import { bias_act } from "./activation";

// Tile rows: 5 under plain SIMD (10 accumulators + 2 B vectors + 1 A splat + 1 product fit V8's
// 15 usable xmm registers), 6 with relaxed SIMD's fused multiply-add (12 + 2 + 1, no product
// register; measured 54 GFLOP/s at 512³ against plain SIMD 5×8's 42), 5 in the scalar build.
// @ts-ignore: decorator
@inline export const MR: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 5;
// @ts-ignore: decorator
@inline export const NR: i32 = 8;
/** Floats per k step in an A panel packed by `pack_a` (a panel of kc steps is PA·kc floats): NR in the SIMD builds (see tile_simd), MR in the scalar one. */
// @ts-ignore: decorator
@inline export const PA: i32 = ASC_FEATURE_SIMD ? NR : MR;
// @ts-ignore: decorator
@inline export const KC: i32 = 512;
// @ts-ignore: decorator
@inline export const NC: i32 = 512;

/** Bytes of scratch `gemm` needs: one packed A panel and one packed B block. */
export function gemm_scratch_bytes(K: i32, N: i32): f64 {
  const kc = min<i32>(KC, K);
  const nc = min<i32>(NC, (N + NR - 1) & ~(NR - 1));
  return <f64>(PA * kc + MR * NR + kc * ((nc + NR - 1) & ~(NR - 1))) * 4 + 64;
}

/** acc + a·b per lane: plain SIMD mul then add (two roundings, bit-identical everywhere), or relaxed madd (FMA where the CPU has it) in the relaxed build. */
// @ts-ignore: decorator
@inline export function vmadd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * Pack rows [0, mr) × cols [0, kc) of A (element strides rs, cs) into an MR-row panel of PA floats
 * per k step (`tile`'s layout): pa[k·PA + r] = A[r, k], zeros for mr ≤ r < MR.
 */
export function pack_a(pa: usize, a: usize, rs: i32, cs: i32, mr: i32, kc: i32): void {
  if (ASC_FEATURE_SIMD && mr == MR && cs == 1) {
    // Row-major A: rows 0-3 by 4×4 transposes (4 k steps at a time), rows 4.. one float at a time.
    const r1 = a + <usize>rs * 4, r2 = a + <usize>rs * 8, r3 = a + <usize>rs * 12;
    let k = 0;
    for (; k + 4 <= kc; k += 4) {
      const o = <usize>k << 2, d = pa + <usize>(k * PA) * 4;
      const x0 = v128.load(a + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
      const t0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5), t1 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
      const t2 = i32x4.shuffle(x0, x1, 2, 6, 3, 7), t3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
      v128.store(d, i64x2.shuffle(t0, t1, 0, 2));
      v128.store(d, i64x2.shuffle(t0, t1, 1, 3), PA * 4);
      v128.store(d, i64x2.shuffle(t2, t3, 0, 2), PA * 8);
      v128.store(d, i64x2.shuffle(t2, t3, 1, 3), PA * 12);
      for (let r = 4; r < MR; r++) {
        const src = a + <usize>(r * rs) * 4 + o, dst = d + <usize>r * 4;
        store<f32>(dst, load<f32>(src));
        store<f32>(dst, load<f32>(src, 4), PA * 4);
        store<f32>(dst, load<f32>(src, 8), PA * 8);
        store<f32>(dst, load<f32>(src, 12), PA * 12);
      }
    }
    for (; k < kc; k++) {
      const src = a + (<usize>k << 2), dst = pa + <usize>(k * PA) * 4;
      for (let r = 0; r < MR; r++) store<f32>(dst + (<usize>r << 2), load<f32>(src + <usize>(r * rs) * 4));
    }
    return;
  }
  for (let k = 0; k < kc; k++) {
    const src = a + <usize>(k * cs) * 4;
    const dst = pa + <usize>(k * PA) * 4;
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
 * C[0:mr, 0:nr] (+)= Apanel · Bpanel over kc ≥ 1 steps, the A panel packed by `pack_a` (PA floats per
 * k step), the B panel by `pack_b`. C row stride ldc elements. acc = false stores the tile, acc = true
 * adds it to C. tmp: MR·NR floats of scratch for edge tiles.
 */
// @ts-ignore: decorator
@inline export function tile(c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool, tmp: usize): void {
  if (ASC_FEATURE_SIMD) {
    if (mr <= 3) tile_3x8(c, ldc, pa, pb, kc, mr, nr, acc, tmp);   // the last panel of M mod MR rows
    else tile_simd(c, ldc, pa, pb, kc, mr, nr, acc, tmp);
  }
  else tile_scalar(c, ldc, pa, pb, kc, mr, nr, acc, PA);
}

/**
 * The SIMD tile: MR×8 (5×8 under plain SIMD, 6×8 with relaxed SIMD's fused multiply-add); tile_3x8
 * for a last panel of at most 3 rows (a 2-row panel of the relaxed 6×8 tile would cost 6 rows). Both
 * are tile_rows with a constant row count, kept apart from their callers: inlining a tile into its
 * caller's loop halves its speed in V8.
 */
function tile_simd(c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool, tmp: usize): void {
  tile_rows(MR, c, ldc, pa, pb, kc, mr, nr, acc, tmp);
}

function tile_3x8(c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool, tmp: usize): void {
  tile_rows(3, c, ldc, pa, pb, kc, mr, nr, acc, tmp);
}

/**
 * The tile's loop for `rows` (a constant: 3, 5 or 6) rows × 8 columns. Shaped for V8's code (~33 x64
 * instructions a step for 5×8, against ~38 with an A panel of MR floats per step): the A panel has
 * PA = NR floats per step, so A's address is B's plus a constant and one pointer walks both;
 * v128.load folds its offset into the address but v128.load32_splat does not, hence the peeled first
 * step (below). In L1: 43 GFLOP/s vs 39.
 */
// @ts-ignore: decorator
@inline function tile_rows(rows: i32, c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool, tmp: usize): void {
  // k = 0, peeled: the accumulators start as products (no zeroing), and the splat addresses
  // (memory base + 4, + 8, …, which V8 computes apart from the index) get a use before the loop, so
  // V8 computes them once there instead of once per step.
  const d = pa - pb;        // A panel address - B panel address: both advance NR·4 = PA·4 bytes a step
  const a0 = pb + d;        // = pa; written so that d has a use before the loop (V8 then keeps it in a register)
  const vb0 = v128.load(pb);
  const vb4 = v128.load(pb, 16);
  const va0 = v128.load32_splat(a0);
  let vacc0x0 = f32x4.mul(va0, vb0), vacc0x4 = f32x4.mul(va0, vb4);
  const va1 = v128.load32_splat(a0, 4);
  let vacc1x0 = f32x4.mul(va1, vb0), vacc1x4 = f32x4.mul(va1, vb4);
  const va2 = v128.load32_splat(a0, 8);
  let vacc2x0 = f32x4.mul(va2, vb0), vacc2x4 = f32x4.mul(va2, vb4);
  let vacc3x0 = f32x4.splat(0), vacc3x4 = vacc3x0, vacc4x0 = vacc3x0, vacc4x4 = vacc3x0, vacc5x0 = vacc3x0, vacc5x4 = vacc3x0;
  if (rows > 3) {
    const va3 = v128.load32_splat(a0, 12);
    vacc3x0 = f32x4.mul(va3, vb0); vacc3x4 = f32x4.mul(va3, vb4);
    const va4 = v128.load32_splat(a0, 16);
    vacc4x0 = f32x4.mul(va4, vb0); vacc4x4 = f32x4.mul(va4, vb4);
  }
  if (rows > 5) {
    const va5 = v128.load32_splat(a0, 20);
    vacc5x0 = f32x4.mul(va5, vb0); vacc5x4 = f32x4.mul(va5, vb4);
  }
  let b = pb + NR * 4;
  const bend = pb + <usize>(kc * NR) * 4;
  // One induction pointer; a `while` loop (a do-while, or unrolling by 2, lets V8 hoist loads and spill).
  while (b < bend) {
    const vb0 = v128.load(b);
    const vb4 = v128.load(b, 16);
    const a = b + d;
    const va0 = v128.load32_splat(a);
    vacc0x0 = vmadd(va0, vb0, vacc0x0);
    vacc0x4 = vmadd(va0, vb4, vacc0x4);
    const va1 = v128.load32_splat(a, 4);
    vacc1x0 = vmadd(va1, vb0, vacc1x0);
    vacc1x4 = vmadd(va1, vb4, vacc1x4);
    const va2 = v128.load32_splat(a, 8);
    vacc2x0 = vmadd(va2, vb0, vacc2x0);
    vacc2x4 = vmadd(va2, vb4, vacc2x4);
    if (rows > 3) {
      const va3 = v128.load32_splat(a, 12);
      vacc3x0 = vmadd(va3, vb0, vacc3x0);
      vacc3x4 = vmadd(va3, vb4, vacc3x4);
      const va4 = v128.load32_splat(a, 16);
      vacc4x0 = vmadd(va4, vb0, vacc4x0);
      vacc4x4 = vmadd(va4, vb4, vacc4x4);
    }
    if (rows > 5) {
      const va5 = v128.load32_splat(a, 20);
      vacc5x0 = vmadd(va5, vb0, vacc5x0);
      vacc5x4 = vmadd(va5, vb4, vacc5x4);
    }
    b += NR * 4;
  }
  store_tile(c, ldc, mr, nr, acc, tmp, vacc0x0, vacc0x4, vacc1x0, vacc1x4, vacc2x0, vacc2x4, vacc3x0, vacc3x4, vacc4x0, vacc4x4, vacc5x0, vacc5x4);
}

/**
 * Stores (acc = false) or adds (acc = true) a tile's accumulators to C[0:mr, 0:nr]; a partial tile goes
 * through tmp. Rows 0-4, and row 5 when MR = 6 (the relaxed build).
 */
// @ts-ignore: decorator
@inline function store_tile(c: usize, ldc: i32, mr: i32, nr: i32, acc: bool, tmp: usize,
  vacc0x0: v128, vacc0x4: v128, vacc1x0: v128, vacc1x4: v128, vacc2x0: v128, vacc2x4: v128,
  vacc3x0: v128, vacc3x4: v128, vacc4x0: v128, vacc4x4: v128, vacc5x0: v128, vacc5x4: v128): void {
  if (mr == MR && nr == NR) {
    const ld = <usize>ldc * 4;
    if (acc) {
      vacc0x0 = f32x4.add(v128.load(c), vacc0x0); vacc0x4 = f32x4.add(v128.load(c, 16), vacc0x4);
      vacc1x0 = f32x4.add(v128.load(c + ld), vacc1x0); vacc1x4 = f32x4.add(v128.load(c + ld, 16), vacc1x4);
      vacc2x0 = f32x4.add(v128.load(c + 2 * ld), vacc2x0); vacc2x4 = f32x4.add(v128.load(c + 2 * ld, 16), vacc2x4);
      vacc3x0 = f32x4.add(v128.load(c + 3 * ld), vacc3x0); vacc3x4 = f32x4.add(v128.load(c + 3 * ld, 16), vacc3x4);
      vacc4x0 = f32x4.add(v128.load(c + 4 * ld), vacc4x0); vacc4x4 = f32x4.add(v128.load(c + 4 * ld, 16), vacc4x4);
      if (MR > 5) { vacc5x0 = f32x4.add(v128.load(c + 5 * ld), vacc5x0); vacc5x4 = f32x4.add(v128.load(c + 5 * ld, 16), vacc5x4); }
    }
    v128.store(c, vacc0x0); v128.store(c, vacc0x4, 16);
    v128.store(c + ld, vacc1x0); v128.store(c + ld, vacc1x4, 16);
    v128.store(c + 2 * ld, vacc2x0); v128.store(c + 2 * ld, vacc2x4, 16);
    v128.store(c + 3 * ld, vacc3x0); v128.store(c + 3 * ld, vacc3x4, 16);
    v128.store(c + 4 * ld, vacc4x0); v128.store(c + 4 * ld, vacc4x4, 16);
    if (MR > 5) { v128.store(c + 5 * ld, vacc5x0); v128.store(c + 5 * ld, vacc5x4, 16); }
    return;
  }
  // Edge tile: spill the accumulators to `tmp` (MR·NR floats) and copy the valid part.
  v128.store(tmp, vacc0x0); v128.store(tmp, vacc0x4, 16);
  v128.store(tmp, vacc1x0, 32); v128.store(tmp, vacc1x4, 48);
  v128.store(tmp, vacc2x0, 64); v128.store(tmp, vacc2x4, 80);
  v128.store(tmp, vacc3x0, 96); v128.store(tmp, vacc3x4, 112);
  v128.store(tmp, vacc4x0, 128); v128.store(tmp, vacc4x4, 144);
  if (MR > 5) { v128.store(tmp, vacc5x0, 160); v128.store(tmp, vacc5x4, 176); }
  store_edge(c, ldc, tmp, mr, nr, acc);
}

/** The scalar build's tile (engines without SIMD): plain loops, each C element summed in k order. ps: floats per k step in the A panel. */
function tile_scalar(c: usize, ldc: i32, pa: usize, pb: usize, kc: i32, mr: i32, nr: i32, acc: bool, ps: i32): void {
  for (let r = 0; r < mr; r++) {
    const crow = c + <usize>(r * ldc) * 4;
    for (let j = 0; j < nr; j++) {
      let s: f32 = 0;
      let a = pa + (<usize>r << 2), b = pb + (<usize>j << 2);
      for (let k = 0; k < kc; k++) {
        s += load<f32>(a) * load<f32>(b);
        a += <usize>ps * 4;
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
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= nr; j += 4) {
        const p = dst + (<usize>j << 2);
        const x = v128.load(src + (<usize>j << 2));
        v128.store(p, acc ? f32x4.add(v128.load(p), x) : x);
      }
    }
    for (; j < nr; j++) {
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
  const tmp = (pa + <usize>(PA * kcmax) * 4 + 15) & ~15;
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
 * C[M×N] = act(A[M×K] · B + bias[N]), with B already packed by `pack_b` over its full depth K:
 * pb[(p·K + k)·NR + c] = B[k, p·NR + c] (the layout weights are kept in). The KC slice of panel p
 * starting at k0 is contiguous at pb + (p·K + k0)·NR. bias = 0: none; act: activation.ts's codes
 * (0: none). scratch: gemm_scratch_bytes(K, 0) bytes.
 */
export function gemm_packed(
  c: usize, ldc: i32,
  a: usize, a_rs: i32, a_cs: i32,
  pb: usize, scratch: usize,
  M: i32, K: i32, N: i32,
  bias: usize, act: i32,
): void {
  const kcmax = min<i32>(KC, K);
  const pa = scratch;
  const tmp = (pa + <usize>(PA * kcmax) * 4 + 15) & ~15;
  const epilogue = bias != 0 || act != 0;
  if (M == 1 && a_cs == 1) {
    gemv_packed(c, a, pb, K, N);
    if (epilogue) bias_act(c, N, bias, 1, N, act);
    return;
  }
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min<i32>(KC, K - k0);
    const last = epilogue && k0 + kc == K;
    for (let n0 = 0; n0 < N; n0 += NC) {
      const nc = min<i32>(NC, N - n0);
      for (let m0 = 0; m0 < M; m0 += MR) {
        const mr = min<i32>(MR, M - m0);
        pack_a(pa, a + <usize>(m0 * a_rs + k0 * a_cs) * 4, a_rs, a_cs, mr, kc);
        const crow = c + <usize>(m0 * ldc + n0) * 4;
        for (let j = 0; j < nc; j += NR) {
          tile(crow + <usize>j * 4, ldc, pa, pb + <usize>((n0 + j) * K + k0 * NR) * 4, kc, mr, min<i32>(NR, nc - j), k0 > 0, tmp);
        }
        // The panel's final values were just stored: bias and activation while they are in L1.
        if (last) bias_act(crow, ldc, bias == 0 ? 0 : bias + (<usize>n0 << 2), mr, nc, act);
      }
    }
  }
}

/**
 * c[0:N] = a[0:K] · B for one row (decoding one token), B packed by pack_b over depth K:
 * pb[(p·K + k)·NR + l] = B[k, p·NR + l]. The tile would compute MR rows to keep one; this walks
 * three panels (24 outputs) per pass over a: 6 accumulators + 6 loaded vectors + 1 splat stay within
 * V8's 15 usable xmm registers (V8 schedules a loop body's loads before their arithmetic; over
 * budget, an accumulator spills every step). Each KC block is summed in k order per lane starting
 * from the first product, then added to c: the tile's order, so one row gives the same bits either way.
 */
export function gemv_packed(c: usize, a: usize, pb: usize, K: i32, N: i32): void {
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
        let b = b0 + <usize>p * ps, x = a0;
        const va = v128.load32_splat(x);   // k = 0: the accumulators start as products (as in the tile)
        let v0 = f32x4.mul(va, v128.load(b)), v1 = f32x4.mul(va, v128.load(b, 16));
        let v2 = f32x4.mul(va, v128.load(b + ps)), v3 = f32x4.mul(va, v128.load(b + ps, 16));
        let v4 = f32x4.mul(va, v128.load(b + 2 * ps)), v5 = f32x4.mul(va, v128.load(b + 2 * ps, 16));
        x += 4;
        b += NR * 4;
        for (let k = 1; k < kc; k++) {
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
        let b = b0 + <usize>p * ps, x = a0;
        const va = v128.load32_splat(x);
        let v0 = f32x4.mul(va, v128.load(b)), v1 = f32x4.mul(va, v128.load(b, 16));
        x += 4;
        b += NR * 4;
        for (let k = 1; k < kc; k++) {
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
      // Scalar build: tile_scalar's order for one row (each output summed over the block from zero).
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
