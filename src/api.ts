// The public API shared by every entry point (index.ts: embedded bytes; workerd.ts: an imported
// Module). Each entry adds only its own init()/initSync(); everything else is re-exported from here.
export { buildInfo, memoryStats, terminateThreads as terminate } from "./wasm.js";
export type { BuildInfo, BuildName, InitOptions, WasmSource } from "./wasm.js";
export { matmul } from "./matmul.js";
export type { MatmulOptions } from "./matmul.js";
export { softmax } from "./softmax.js";
export type { SoftmaxOptions } from "./softmax.js";
export { layerNorm, type LayerNormOptions } from "./layernorm.js";
export { linear, type LinearOptions } from "./linear.js";
export { applyRotary, type RotaryOptions } from "./rotary.js";
export { scaledDotProductAttention } from "./sdpa.js";
export type { SdpaOptions, SdpaResult } from "./sdpa.js";
export type { AttentionWindow } from "./window.js";
export { sparseLayout, type BlockSparse, type SparseLayoutOptions } from "./sparse-layout.js";
export type { Tensor, Mask } from "./validate.js";
export { attentionHeatmap, type ColormapName, type HeatmapOptions } from "./heatmap.js";
export { MultiHeadAttention } from "./mha.js";
export { KVCache } from "./kv-cache.js";
export type { MultiHeadAttentionConfig, MultiHeadAttentionWeights, MultiHeadAttentionOptions, MultiHeadAttentionResult } from "./mha.js";
export { readSafetensors, writeSafetensors } from "./safetensors.js";
export type { NamedTensor, ReadSafetensorsOptions, SafetensorsContents } from "./safetensors.js";
export { TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder, Transformer } from "./transformer.js";
export type {
  TransformerLayerConfig, TransformerActivation, TransformerStackConfig, TransformerConfig, TransformerEncoderLayerOptions, TransformerEncoderOptions,
  TransformerDecoderOptions, TransformerForwardOptions, LoadStateDictOptions,
} from "./transformer.js";
export { TransformerDecoderCache } from "./transformer-cache.js";
