// PyTorch's Transformer modules, with their state_dict keys and semantics (batch-first, eval mode):
//   TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder, Transformer.
// Masks follow MultiHeadAttention's conventions: a Uint8Array attention mask is 1 = may attend, a
// key padding mask 1 = padding, a Float32Array mask is added to the scores; `isCausal` options apply
// a causal mask (they are not only hints as in PyTorch). Dropout is the identity (eval()).
// The stacks' work is in transformer-core.ts; these classes name the options as PyTorch does.
import { type LoadStateDictOptions, readStateDict } from "./state-dict.js";
import type { TransformerDecoderCache } from "./transformer-cache.js";
import { type TransformerLayerConfig, checkLayerConfig, layerConfigOf } from "./transformer-config.js";
import { DecoderStack, EncoderStack } from "./transformer-core.js";
import { type Causal, type Mask, type Tensor, checkBool, checkInt, checkOptions, typeError } from "./validate.js";

export type { TransformerLayerConfig, TransformerActivation } from "./transformer-config.js";
export type { LoadStateDictOptions } from "./state-dict.js";

type Source = Uint8Array | ArrayBuffer | Record<string, Tensor>;

export interface TransformerEncoderLayerOptions {
  /** Broadcastable to [B, H, L, L]: Uint8Array 1 = may attend, Float32Array added. */
  srcMask?: Mask;
  /** [B, L] ([L] unbatched): Uint8Array 1 = padding, Float32Array added. */
  srcKeyPaddingMask?: Mask;
  /** Apply a causal mask (true / "bottom-right" / "top-left"; the same for L = S). Default false. */
  isCausal?: Causal;
  /** Write the output here (B·L·E floats) instead of a new array; it may be src.data. */
  out?: Float32Array;
}

export interface TransformerDecoderOptions {
  /** Target self-attention mask, broadcastable to [B, H, L, T] (T = cached + new target positions). */
  tgtMask?: Mask;
  /** Cross-attention mask, broadcastable to [B, H, L, S]. */
  memoryMask?: Mask;
  /** [B, T]: 1 = padding. */
  tgtKeyPaddingMask?: Mask;
  /** [B, S]: 1 = padding. */
  memoryKeyPaddingMask?: Mask;
  /** Causal target self-attention; default false, true with a cache. */
  tgtIsCausal?: Causal;
  /** Causal cross-attention (rarely wanted); default false. */
  memoryIsCausal?: Causal;
  /** A cache from createCache(): the call appends its target positions; memory is projected on the cache's first step only. */
  cache?: TransformerDecoderCache;
  /** Write the output here (B·L·E floats). */
  out?: Float32Array;
}

export interface TransformerEncoderOptions {
  mask?: Mask;
  srcKeyPaddingMask?: Mask;
  isCausal?: Causal;
  out?: Float32Array;
}

export interface TransformerForwardOptions {
  srcMask?: Mask; tgtMask?: Mask; memoryMask?: Mask;
  srcKeyPaddingMask?: Mask; tgtKeyPaddingMask?: Mask; memoryKeyPaddingMask?: Mask;
  srcIsCausal?: Causal; tgtIsCausal?: Causal; memoryIsCausal?: Causal;
  out?: Float32Array;
}

export interface TransformerStackConfig {
  /** Every layer's config (each layer gets its own initial weights). */
  layer: TransformerLayerConfig;
  numLayers: number;
  /** A final LayerNorm (key `norm.*`); default false. */
  norm?: boolean;
}

export interface TransformerConfig extends Partial<TransformerLayerConfig> {
  numEncoderLayers?: number;
  numDecoderLayers?: number;
}

const ENC_LAYER_KEYS = ["srcMask", "srcKeyPaddingMask", "isCausal", "out"] as const;
const DEC_KEYS = ["tgtMask", "memoryMask", "tgtKeyPaddingMask", "memoryKeyPaddingMask", "tgtIsCausal", "memoryIsCausal", "cache", "out"] as const;
const ENC_KEYS = ["mask", "srcKeyPaddingMask", "isCausal", "out"] as const;
const FWD_KEYS = ["srcMask", "tgtMask", "memoryMask", "srcKeyPaddingMask", "tgtKeyPaddingMask", "memoryKeyPaddingMask", "srcIsCausal", "tgtIsCausal", "memoryIsCausal", "out"] as const;

/** nn.TransformerEncoderLayer: self-attention and a feed-forward block, each with a residual and a LayerNorm. */
export class TransformerEncoderLayer {
  readonly #s: EncoderStack;
  /** The checked config (dropout accepted and ignored). */
  readonly config: Readonly<Required<Omit<TransformerLayerConfig, "seed">>>;
  /**
   * @throws {TypeError} a non-object config, non-number sizes, an unknown option or activation
   * @throws {RangeError} sizes < 1, nhead not dividing dModel, eps < 0, dropout outside [0, 1], too large for WASM memory
   */
  constructor(config: TransformerLayerConfig) {
    const fn = "TransformerEncoderLayer";
    const { dims, seed } = checkLayerConfig(fn, config);
    this.#s = new EncoderStack(fn, dims, seed, 1, false, false, true);
    this.config = Object.freeze(layerConfigOf(dims));
  }
  /** src [B, L, E] or [L, E] → [B, L, E] (or [L, E]). */
  forward(src: Tensor, options?: TransformerEncoderLayerOptions): Tensor {
    const fn = "TransformerEncoderLayer.forward";
    const o = checkOptions<TransformerEncoderLayerOptions>(fn, options, ENC_LAYER_KEYS);
    return this.#s.forward(fn, src, { attnMask: o.srcMask, keyPaddingMask: o.srcKeyPaddingMask, causal: o.isCausal, out: o.out });
  }
  /** PyTorch's keys (`self_attn.in_proj_weight`, `linear1.weight`, `norm2.bias`, …) after `options.prefix`, through `options.rename`. */
  loadStateDict(source: Source, options?: LoadStateDictOptions): void { this.#s.load("TransformerEncoderLayer.loadStateDict", source, options); }
  stateDict(prefix = ""): Record<string, Tensor> { return this.#s.stateDictOf("TransformerEncoderLayer.stateDict", prefix); }
  dispose(): void { this.#s.dispose(); }
}

/** nn.TransformerDecoderLayer: self-attention, cross-attention over memory, and a feed-forward block. */
export class TransformerDecoderLayer {
  readonly #s: DecoderStack;
  readonly config: Readonly<Required<Omit<TransformerLayerConfig, "seed">>>;
  constructor(config: TransformerLayerConfig) {
    const fn = "TransformerDecoderLayer";
    const { dims, seed } = checkLayerConfig(fn, config);
    this.#s = new DecoderStack(fn, dims, seed, 1, false, false, true);
    this.config = Object.freeze(layerConfigOf(dims));
  }
  /** tgt [B, L, E], memory [B, S, E] (or unbatched) → [B, L, E]. */
  forward(tgt: Tensor, memory: Tensor, options?: TransformerDecoderOptions): Tensor {
    const fn = "TransformerDecoderLayer.forward";
    return this.#s.forward(fn, tgt, memory, checkOptions<TransformerDecoderOptions>(fn, options, DEC_KEYS));
  }
  createCache(options: { batch?: number; maxLength: number }): TransformerDecoderCache { return this.#s.createCache("TransformerDecoderLayer.createCache", options); }
  loadStateDict(source: Source, options?: LoadStateDictOptions): void { this.#s.load("TransformerDecoderLayer.loadStateDict", source, options); }
  stateDict(prefix = ""): Record<string, Tensor> { return this.#s.stateDictOf("TransformerDecoderLayer.stateDict", prefix); }
  dispose(): void { this.#s.dispose(); }
}

function checkStack(fn: string, config: unknown): { dims: ReturnType<typeof checkLayerConfig>["dims"]; seed: number; n: number; norm: boolean } {
  if (typeof config !== "object" || config === null) throw typeError(fn, "config", "an object { layer, numLayers, norm? }", config);
  const c = checkOptions<TransformerStackConfig>(fn, config, ["layer", "numLayers", "norm"]);
  const { dims, seed } = checkLayerConfig(fn, c.layer, "config.layer");
  return { dims, seed, n: checkInt(fn, "config.numLayers", c.numLayers, 1), norm: checkBool(fn, "config.norm", c.norm, false) };
}

/** nn.TransformerEncoder: numLayers encoder layers (keys `layers.N.*`) and an optional final LayerNorm (`norm.*`). */
export class TransformerEncoder {
  readonly #s: EncoderStack;
  readonly numLayers: number;
  constructor(config: TransformerStackConfig) {
    const fn = "TransformerEncoder";
    const { dims, seed, n, norm } = checkStack(fn, config);
    this.#s = new EncoderStack(fn, dims, seed, n, norm, false, false);
    this.numLayers = n;
  }
  forward(src: Tensor, options?: TransformerEncoderOptions): Tensor {
    const fn = "TransformerEncoder.forward";
    const o = checkOptions<TransformerEncoderOptions>(fn, options, ENC_KEYS);
    return this.#s.forward(fn, src, { attnMask: o.mask, keyPaddingMask: o.srcKeyPaddingMask, causal: o.isCausal, out: o.out });
  }
  loadStateDict(source: Source, options?: LoadStateDictOptions): void { this.#s.load("TransformerEncoder.loadStateDict", source, options); }
  stateDict(prefix = ""): Record<string, Tensor> { return this.#s.stateDictOf("TransformerEncoder.stateDict", prefix); }
  dispose(): void { this.#s.dispose(); }
}

/** nn.TransformerDecoder: numLayers decoder layers (`layers.N.*`) and an optional final LayerNorm (`norm.*`). */
export class TransformerDecoder {
  readonly #s: DecoderStack;
  readonly numLayers: number;
  constructor(config: TransformerStackConfig) {
    const fn = "TransformerDecoder";
    const { dims, seed, n, norm } = checkStack(fn, config);
    this.#s = new DecoderStack(fn, dims, seed, n, norm, false, false);
    this.numLayers = n;
  }
  forward(tgt: Tensor, memory: Tensor, options?: TransformerDecoderOptions): Tensor {
    const fn = "TransformerDecoder.forward";
    return this.#s.forward(fn, tgt, memory, checkOptions<TransformerDecoderOptions>(fn, options, DEC_KEYS));
  }
  /** Room for `maxLength` target positions of `batch` sequences in every layer, and each layer's projected memory. */
  createCache(options: { batch?: number; maxLength: number }): TransformerDecoderCache { return this.#s.createCache("TransformerDecoder.createCache", options); }
  loadStateDict(source: Source, options?: LoadStateDictOptions): void { this.#s.load("TransformerDecoder.loadStateDict", source, options); }
  stateDict(prefix = ""): Record<string, Tensor> { return this.#s.stateDictOf("TransformerDecoder.stateDict", prefix); }
  dispose(): void { this.#s.dispose(); }
}

const TRANSFORMER_KEYS = ["dModel", "nhead", "numEncoderLayers", "numDecoderLayers", "dimFeedforward", "dropout", "activation", "layerNormEps", "normFirst", "bias", "seed"] as const;

/**
 * nn.Transformer: an encoder and a decoder stack, each with its final LayerNorm (keys `encoder.*`,
 * `decoder.*`); every matrix initialised Xavier-uniform, as nn.Transformer does.
 */
export class Transformer {
  readonly #enc: EncoderStack;
  readonly #dec: DecoderStack;
  readonly config: Readonly<Required<Omit<TransformerConfig, "seed">>>;
  constructor(config: TransformerConfig = {}) {
    const fn = "Transformer";
    if (typeof config !== "object" || config === null) throw typeError(fn, "config", "an object", config);
    const c = checkOptions<TransformerConfig>(fn, config, TRANSFORMER_KEYS);
    const ne = checkInt(fn, "config.numEncoderLayers", c.numEncoderLayers, 1, 6);
    const nd = checkInt(fn, "config.numDecoderLayers", c.numDecoderLayers, 1, 6);
    const { numEncoderLayers: _e, numDecoderLayers: _d, ...layer } = c;
    const { dims, seed } = checkLayerConfig(fn, { ...layer, dModel: c.dModel ?? 512, nhead: c.nhead ?? 8 });
    this.#enc = new EncoderStack(fn, dims, seed, ne, true, true, false);
    try {
      this.#dec = new DecoderStack(fn, dims, (seed ^ 0x5bd1e995) >>> 0, nd, true, true, false);
    } catch (e) {
      this.#enc.dispose();
      throw e;
    }
    this.config = Object.freeze({ ...layerConfigOf(dims), numEncoderLayers: ne, numDecoderLayers: nd });
  }
  /** The encoder: src [B, S, E] → memory [B, S, E]. */
  encode(src: Tensor, options?: Omit<TransformerEncoderOptions, "mask"> & { srcMask?: Mask }): Tensor {
    const fn = "Transformer.encode";
    const o = checkOptions<TransformerEncoderLayerOptions>(fn, options, ENC_LAYER_KEYS);
    return this.#enc.forward(fn, src, { attnMask: o.srcMask, keyPaddingMask: o.srcKeyPaddingMask, causal: o.isCausal, out: o.out });
  }
  /** The decoder: tgt [B, T, E] over memory [B, S, E] → [B, T, E]; with a cache, step by step. */
  decode(tgt: Tensor, memory: Tensor, options?: TransformerDecoderOptions): Tensor {
    const fn = "Transformer.decode";
    return this.#dec.forward(fn, tgt, memory, checkOptions<TransformerDecoderOptions>(fn, options, DEC_KEYS));
  }
  /** decode(tgt, encode(src)): nn.Transformer.forward. */
  forward(src: Tensor, tgt: Tensor, options?: TransformerForwardOptions): Tensor {
    const fn = "Transformer.forward";
    const o = checkOptions<TransformerForwardOptions>(fn, options, FWD_KEYS);
    const memory = this.#enc.forward(fn, src, { attnMask: o.srcMask, keyPaddingMask: o.srcKeyPaddingMask, causal: o.srcIsCausal });
    return this.#dec.forward(fn, tgt, memory, {
      tgtMask: o.tgtMask, memoryMask: o.memoryMask, tgtKeyPaddingMask: o.tgtKeyPaddingMask, memoryKeyPaddingMask: o.memoryKeyPaddingMask,
      tgtIsCausal: o.tgtIsCausal, memoryIsCausal: o.memoryIsCausal, out: o.out,
    });
  }
  createCache(options: { batch?: number; maxLength: number }): TransformerDecoderCache { return this.#dec.createCache("Transformer.createCache", options); }
  /** PyTorch's keys: `encoder.layers.N.*`, `encoder.norm.*`, `decoder.layers.N.*`, `decoder.norm.*` (after options.prefix). */
  loadStateDict(source: Source, options?: LoadStateDictOptions): void {
    const fn = "Transformer.loadStateDict";
    this.#enc.live(fn);
    this.#dec.live(fn);
    // One read of the source; every key of both stacks is checked before either stores anything.
    const { dict, prefix } = readStateDict(fn, source, options);
    this.#enc.check(dict, `${prefix}encoder.`);
    this.#dec.check(dict, `${prefix}decoder.`);
    this.#enc.loadFrom(dict, `${prefix}encoder.`);
    this.#dec.loadFrom(dict, `${prefix}decoder.`);
  }
  stateDict(prefix = ""): Record<string, Tensor> {
    return { ...this.#enc.stateDictOf("Transformer.stateDict", `${prefix}encoder.`), ...this.#dec.stateDictOf("Transformer.stateDict", `${prefix}decoder.`) };
  }
  dispose(): void { this.#enc.dispose(); this.#dec.dispose(); }
}
