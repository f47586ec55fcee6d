// The configuration of PyTorch's nn.TransformerEncoderLayer / nn.TransformerDecoderLayer (names
// camelCased), checked once at construction, and the options of the stacks built from them.
//   E = dModel, H = nhead, FF = dimFeedforward.
import { ACTIVATIONS } from "./parallel.js";
import { checkBool, checkFinite, checkInt, checkOptions, rangeError, typeError } from "./validate.js";

export type TransformerActivation = "relu" | "gelu" | "gelu-tanh";

export interface TransformerLayerConfig {
  /** E: model width. */
  dModel: number;
  /** H: attention heads; must divide dModel. */
  nhead: number;
  /** FF: the feed-forward block's inner width; default 2048. */
  dimFeedforward?: number;
  /** Accepted for PyTorch's signature and ignored: inference runs as a model in eval() (dropout is the identity). Default 0.1; a number in [0, 1]. */
  dropout?: number;
  /** The feed-forward activation: "relu" (default), "gelu" (exact erf) or "gelu-tanh". */
  activation?: TransformerActivation;
  /** LayerNorm's eps; default 1e-5 (BERT: 1e-12). */
  layerNormEps?: number;
  /** Pre-norm (x + f(norm(x))) instead of post-norm (norm(x + f(x))); default false. */
  normFirst?: boolean;
  /** Biases in the linear layers and LayerNorms; default true. */
  bias?: boolean;
  /** Seed of the initial weights; default random. */
  seed?: number;
}

/** A layer's sizes and choices, after checking. */
export interface LayerDims {
  readonly E: number;
  readonly H: number;
  readonly FF: number;
  /** ACTIVATIONS code of the feed-forward activation. */
  readonly act: number;
  readonly activation: TransformerActivation;
  readonly eps: number;
  readonly normFirst: boolean;
  readonly bias: boolean;
  readonly dropout: number;
}

export const LAYER_KEYS = ["dModel", "nhead", "dimFeedforward", "dropout", "activation", "layerNormEps", "normFirst", "bias", "seed"] as const;

/**
 * Checks a layer config; `seed` is the one given, else a random 32-bit one.
 * @throws {TypeError} a non-object, a non-number size, eps or dropout, an unknown option or activation, a non-boolean flag
 * @throws {RangeError} sizes < 1 or fractional, nhead not dividing dModel, eps < 0 or not finite, dropout outside [0, 1]
 */
export function checkLayerConfig(fn: string, config: unknown, arg = "config"): { dims: LayerDims; seed: number } {
  if (typeof config !== "object" || config === null) throw typeError(fn, arg, "an object { dModel, nhead, … }", config);
  const c = checkOptions<TransformerLayerConfig>(fn, config, LAYER_KEYS);
  const E = checkInt(fn, `${arg}.dModel`, c.dModel, 1);
  const H = checkInt(fn, `${arg}.nhead`, c.nhead, 1);
  if (E % H !== 0) throw rangeError(fn, `${arg}.nhead`, `divide dModel = ${E}`, H);
  const FF = checkInt(fn, `${arg}.dimFeedforward`, c.dimFeedforward, 1, 2048);
  const dropout = checkFinite(fn, `${arg}.dropout`, c.dropout, 0.1);
  if (dropout < 0 || dropout > 1) throw rangeError(fn, `${arg}.dropout`, "be in [0, 1]", dropout);
  const activation = c.activation ?? "relu";
  if (typeof activation !== "string" || !(activation in ACTIVATIONS)) {
    throw typeError(fn, `${arg}.activation`, `one of ${Object.keys(ACTIVATIONS).map((n) => JSON.stringify(n)).join(", ")}`, activation);
  }
  const eps = checkFinite(fn, `${arg}.layerNormEps`, c.layerNormEps, 1e-5);
  if (eps < 0) throw rangeError(fn, `${arg}.layerNormEps`, "be ≥ 0", eps);
  const normFirst = checkBool(fn, `${arg}.normFirst`, c.normFirst, false);
  const bias = checkBool(fn, `${arg}.bias`, c.bias, true);
  const seed = c.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : checkInt(fn, `${arg}.seed`, c.seed, 0);
  return { dims: { E, H, FF, act: ACTIVATIONS[activation as TransformerActivation], activation: activation as TransformerActivation, eps, normFirst, bias, dropout }, seed };
}

/** The config back from checked dims (what a stack's layers were made with). */
export function layerConfigOf(d: LayerDims): Required<Omit<TransformerLayerConfig, "seed">> {
  return { dModel: d.E, nhead: d.H, dimFeedforward: d.FF, dropout: d.dropout, activation: d.activation, layerNormEps: d.eps, normFirst: d.normFirst, bias: d.bias };
}
