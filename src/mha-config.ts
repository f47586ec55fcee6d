// MultiHeadAttention's configuration, checked once at construction: every size the layer, its weights
// and its caches derive from.
//   E = embedDim, H = numHeads, Hkv = numKVHeads, Dh = E / H (head width), Ekv = Hkv · Dh,
//   kdim/vdim the key/value input widths.
import { checkBool, checkInt, checkOptions, rangeError, typeError } from "./validate.js";

export interface MultiHeadAttentionConfig {
  /** E: model width; query input and output width. */
  embedDim: number;
  /** H: number of query heads; must divide embedDim. */
  numHeads: number;
  /** Hkv: number of key/value heads (grouped-query attention; 1 = multi-query); must divide numHeads. Default numHeads. */
  numKVHeads?: number;
  /** Key input width; default embedDim. */
  kdim?: number;
  /** Value input width; default embedDim. */
  vdim?: number;
  /** Biases on the input and output projections (PyTorch's `bias`); default true. */
  bias?: boolean;
  /** Seed of the initial weights (Xavier-uniform like PyTorch); default random. */
  seed?: number;
}

/** The sizes of an attention layer, after checking. */
export interface AttentionDims {
  readonly E: number;
  readonly H: number;
  readonly Hkv: number;
  readonly Dh: number;
  readonly Ekv: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly bias: boolean;
}

const CONFIG_KEYS = ["embedDim", "numHeads", "numKVHeads", "kdim", "vdim", "bias", "seed"] as const;

/**
 * Checks a MultiHeadAttentionConfig. `seed` is the one given, else a random 32-bit one.
 * @throws {TypeError} a non-object, non-number sizes, an unknown option, a non-boolean bias
 * @throws {RangeError} sizes < 1 or fractional, numHeads not dividing embedDim, numKVHeads not dividing numHeads
 */
export function checkConfig(fn: string, config: unknown): { dims: AttentionDims; seed: number } {
  if (typeof config !== "object" || config === null) throw typeError(fn, "config", "an object { embedDim, numHeads, … }", config);
  const c = checkOptions<MultiHeadAttentionConfig>(fn, config, CONFIG_KEYS);
  const E = checkInt(fn, "config.embedDim", c.embedDim, 1);
  const H = checkInt(fn, "config.numHeads", c.numHeads, 1);
  if (E % H !== 0) throw rangeError(fn, "config.numHeads", `divide embedDim = ${E}`, H);
  const Hkv = checkInt(fn, "config.numKVHeads", c.numKVHeads, 1, H);
  if (H % Hkv !== 0) throw rangeError(fn, "config.numKVHeads", `divide numHeads = ${H}`, Hkv);
  const Dh = E / H;
  const kdim = checkInt(fn, "config.kdim", c.kdim, 1, E);
  const vdim = checkInt(fn, "config.vdim", c.vdim, 1, E);
  const bias = checkBool(fn, "config.bias", c.bias, true);
  const seed = c.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : checkInt(fn, "config.seed", c.seed, 0);
  return { dims: { E, H, Hkv, Dh, Ekv: Hkv * Dh, kdim, vdim, bias }, seed };
}

/** Whether PyTorch keeps one in_proj_weight [3E, E] for these sizes (kdim = vdim = E, no grouped K/V heads). */
export function packedInProj(d: AttentionDims): boolean {
  return d.kdim === d.E && d.vdim === d.E && d.Hkv === d.H;
}
