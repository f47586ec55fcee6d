// The kernels' ABI: every export of the module, and nothing else. src/abi.ts mirrors this list.
// All addresses are byte offsets into the imported memory; all sizes are element counts.
export { matmul_f32, matmul_scratch_bytes, add_bias_rows, packed_b_bytes, pack_b_f32, gemm_packed_f32, gemm_tile_rows } from "./matmul";
export { softmax_rows_f32, exp_f32, tanh_f32 } from "./softmax";
export {
  attention_f32, attention_scratch_bytes, attention_pack_f32, attention_packed_bytes, attention_rows_f32,
  attention_block_scratch_bytes, attention_block_rows, attention_direct_rows, attention_sparse_scratch_bytes,
} from "./attention";
export { gemv_packed_f32, decode_attention_f32, decode_scratch_bytes, scatter_heads_f32 } from "./decode";
export { gemm_packed_act_f32 } from "./matmul";
export { activation_f32, erf_f32 } from "./activation";
export { layer_norm_f32 } from "./layernorm";
export { add_f32, add_layer_norm_f32 } from "./residual";
export { rotary_f32 } from "./rotary";

/** First byte past the module's static data: where src/ may start its heap. */
export function heap_base(): usize {
  return __heap_base;
}
