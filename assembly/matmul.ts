// matmul_f32: C[M×N] = A[M×K] · B[K×N] (+ bias[N] per row), f32.
//   A through element strides (a_rs, a_cs), B through (b_rs, b_cs): transposes are strides.
//   C row stride ldc. bias = 0 means none; otherwise C[i, j] = (A·B)[i, j] + bias[j].
// src/ guarantees M, K, N ≥ 1, every range inside memory, C not overlapping A, B or scratch.
// scratch: matmul_scratch_bytes(M, K, N) bytes, 16-aligned.
// gemm_packed_f32 / gemm_packed_act_f32: the same product on a B packed once (a resident weight), the
// latter with a Linear layer's activation applied in the GEMM's store (assembly/activation.ts).
import { gemm, gemm_packed, gemm_scratch_bytes, pack_b, MR, NR } from "./gemm";
import { ACT_NONE, ACT_GELU_TANH } from "./activation";

/** Rows of the GEMM micro-tile (5, or 6 in the relaxed build): a row split at multiples of it gives the same bits. */
export function gemm_tile_rows(): i32 {
  return MR;
}

export function matmul_scratch_bytes(M: i32, K: i32, N: i32): f64 {
  return gemm_scratch_bytes(K, N);
}

export function matmul_f32(
  c: usize, ldc: i32,
  a: usize, a_rs: i32, a_cs: i32,
  b: usize, b_rs: i32, b_cs: i32,
  bias: usize, scratch: usize,
  M: i32, K: i32, N: i32,
): void {
  assert(M > 0 && K > 0 && N > 0 && ldc >= N, "matmul_f32: M, K, N must be >= 1 and ldc >= N");
  assert((scratch & 15) == 0, "matmul_f32: scratch must be 16-byte aligned");
  gemm(c, ldc, a, a_rs, a_cs, b, b_rs, b_cs, scratch, M, K, N, false);
  if (bias != 0) add_bias_rows(c, ldc, bias, M, N);
}

/** C[i, j] += bias[j] for i < M, j < N; row stride ldc. */
export function add_bias_rows(c: usize, ldc: i32, bias: usize, M: i32, N: i32): void {
  const n4 = N & ~3;
  for (let i = 0; i < M; i++) {
    const row = c + <usize>(i * ldc) * 4;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j < n4; j += 4) {
        const p = row + (<usize>j << 2);
        v128.store(p, f32x4.add(v128.load(p), v128.load(bias + (<usize>j << 2))));
      }
    }
    for (; j < N; j++) {
      const p = row + (<usize>j << 2);
      store<f32>(p, load<f32>(p) + load<f32>(bias + (<usize>j << 2)));
    }
  }
}

/** Bytes of a B[K×N] packed by pack_b_f32: ⌈N/NR⌉ panels of K×NR floats. */
export function packed_b_bytes(K: i32, N: i32): f64 {
  return <f64>K * <f64>((N + NR - 1) / NR * NR) * 4;
}

/**
 * Packs B[K×N] (element strides b_rs, b_cs) into the panel layout gemm_packed_f32 reads; for
 * weights kept resident (e.g. a Linear weight W[out, in] as B = Wᵀ: b_rs = 1, b_cs = in).
 */
export function pack_b_f32(pb: usize, b: usize, b_rs: i32, b_cs: i32, K: i32, N: i32): void {
  assert(K > 0 && N > 0, "pack_b_f32: K and N must be >= 1");
  pack_b(pb, b, b_rs, b_cs, K, N);
}

/**
 * C[M×N] = A[M×K] · B (+ bias[N] per row; bias = 0: none), B packed by pack_b_f32. The bias is added
 * in the GEMM's store (gemm.ts gemm_packed's epilogue): the bits of adding it in a pass afterwards.
 * scratch: matmul_scratch_bytes(M, K, N).
 */
export function gemm_packed_f32(
  c: usize, ldc: i32,
  a: usize, a_rs: i32, a_cs: i32,
  pb: usize, bias: usize, scratch: usize,
  M: i32, K: i32, N: i32,
): void {
  assert(M > 0 && K > 0 && N > 0 && ldc >= N, "gemm_packed_f32: M, K, N must be >= 1 and ldc >= N");
  assert((scratch & 15) == 0, "gemm_packed_f32: scratch must be 16-byte aligned");
  gemm_packed(c, ldc, a, a_rs, a_cs, pb, scratch, M, K, N, bias, ACT_NONE);
}

/**
 * C[M×N] = act(A[M×K] · B + bias[N]) (bias = 0: none; act: 0 none, 1 ReLU, 2 GELU (erf), 3 GELU
 * (tanh), as assembly/activation.ts), B packed by pack_b_f32: a Linear layer y = act(x·Wᵀ + b) with
 * bias and activation applied in the GEMM's store (after the last K block, to each MR-row panel while
 * it is in L1), not in a second pass over C. act = 0 gives gemm_packed_f32's bits. M = 1 (one row,
 * a_cs = 1) takes the GEMV; its columns may be split at multiples of NR (pb + n0·K·4, bias + n0·4)
 * without changing a bit. scratch: matmul_scratch_bytes(M, K, N).
 */
export function gemm_packed_act_f32(
  c: usize, ldc: i32,
  a: usize, a_rs: i32, a_cs: i32,
  pb: usize, bias: usize, scratch: usize,
  M: i32, K: i32, N: i32, act: i32,
): void {
  assert(M > 0 && K > 0 && N > 0 && ldc >= N, "gemm_packed_act_f32: M, K, N must be >= 1 and ldc >= N");
  assert((scratch & 15) == 0, "gemm_packed_act_f32: scratch must be 16-byte aligned");
  assert(act >= ACT_NONE && act <= ACT_GELU_TANH, "gemm_packed_act_f32: act must be 0, 1, 2 or 3");
  gemm_packed(c, ldc, a, a_rs, a_cs, pb, scratch, M, K, N, bias, act);
}
