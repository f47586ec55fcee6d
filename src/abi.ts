// The kernels' exports, as seen from TypeScript: mirrors assembly/index.ts (test/abi.test.ts checks it).
// Addresses are byte offsets into the module's memory; sizes are element counts; strides in elements.
export interface Kernels {
  heap_base(): number;
  matmul_scratch_bytes(M: number, K: number, N: number): number;
  matmul_f32(c: number, ldc: number, a: number, aRs: number, aCs: number, b: number, bRs: number, bCs: number,
    bias: number, scratch: number, M: number, K: number, N: number): void;
  add_bias_rows(c: number, ldc: number, bias: number, M: number, N: number): void;
  packed_b_bytes(K: number, N: number): number;
  pack_b_f32(pb: number, b: number, bRs: number, bCs: number, K: number, N: number): void;
  gemm_packed_f32(c: number, ldc: number, a: number, aRs: number, aCs: number, pb: number, bias: number, scratch: number,
    M: number, K: number, N: number): void;
  softmax_rows_f32(y: number, x: number, rows: number, cols: number): void;
  exp_f32(y: number, x: number, n: number): void;
  tanh_f32(y: number, x: number, n: number): void;
  attention_scratch_bytes(L: number, S: number, E: number, Ev: number): number;
  attention_f32(o: number, ldo: number, w: number, ldw: number, q: number, ldq: number, k: number, ldk: number,
    v: number, ldv: number, masks: number, nmasks: number, scratch: number,
    L: number, S: number, E: number, Ev: number, scale: number, causal: number, softcap: number, slope: number,
    wl: number, wr: number): void;
  gemm_tile_rows(): number;
  attention_packed_bytes(S: number, E: number, Ev: number): number;
  attention_block_scratch_bytes(S: number, E: number, Ev: number): number;
  attention_block_rows(): number;
  attention_sparse_scratch_bytes(S: number, E: number, Ev: number, b: number): number;
  attention_direct_rows(): number;
  attention_pack_f32(pk: number, k: number, ldk: number, v: number, ldv: number, S: number, E: number, Ev: number): void;
  attention_rows_f32(o: number, ldo: number, w: number, ldw: number, q: number, ldq: number, pk: number, v: number, ldv: number,
    masks: number, nmasks: number, scratch: number,
    L: number, S: number, E: number, Ev: number, scale: number, causal: number, softcap: number, slope: number, r0: number, r1: number,
    wl: number, wr: number): void;
  gemv_packed_f32(c: number, a: number, pb: number, bias: number, K: number, N: number): void;
  decode_scratch_bytes(S: number): number;
  decode_attention_f32(o: number, q: number, k: number, v: number, hs: number, ld: number, scratch: number,
    H: number, group: number, S: number, D: number, scale: number, softcap: number, slopes: number,
    wl: number, wr: number): void;
  scatter_heads_f32(dst: number, hs: number, src: number, lds: number, rows: number, heads: number, D: number): void;
  /** act: 0 none, 1 ReLU, 2 GELU (erf), 3 GELU (tanh) (assembly/activation.ts). */
  gemm_packed_act_f32(c: number, ldc: number, a: number, aRs: number, aCs: number, pb: number, bias: number, scratch: number,
    M: number, K: number, N: number, act: number): void;
  activation_f32(y: number, x: number, n: number, act: number): void;
  erf_f32(y: number, x: number, n: number): void;
  layer_norm_f32(y: number, x: number, weight: number, bias: number, rows: number, E: number, eps: number): void;
  add_f32(y: number, a: number, b: number, n: number): void;
  /** s = x + r (kept at sum unless 0), y = LayerNorm(s) per row (assembly/residual.ts). */
  add_layer_norm_f32(y: number, sum: number, x: number, r: number, weight: number, bias: number, rows: number, E: number, eps: number): void;
  /** RoPE in place: rows × heads blocks (row stride ld, head stride hs), first dim channels; tab [rows, dim] (cos | sin halves). */
  rotary_f32(x: number, ld: number, hs: number, rows: number, heads: number, dim: number, tab: number, interleaved: number): void;
}

/** The export names of Kernels, in one list (for the ABI test and for checking a loaded module). */
export const KERNEL_NAMES: readonly (keyof Kernels)[] = [
  "heap_base", "matmul_scratch_bytes", "matmul_f32", "add_bias_rows", "packed_b_bytes", "pack_b_f32", "gemm_packed_f32", "softmax_rows_f32", "exp_f32", "tanh_f32",
  "attention_scratch_bytes", "attention_f32", "gemm_tile_rows", "attention_packed_bytes", "attention_block_scratch_bytes",
  "attention_block_rows", "attention_direct_rows", "attention_pack_f32", "attention_rows_f32", "gemv_packed_f32", "decode_scratch_bytes", "decode_attention_f32", "scatter_heads_f32",
  "gemm_packed_act_f32", "activation_f32", "erf_f32", "layer_norm_f32",
  "add_f32", "add_layer_norm_f32", "rotary_f32",
  "attention_sparse_scratch_bytes",
];
