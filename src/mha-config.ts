// MultiHeadAttention's configuration, checked once at construction: every size the layer, its weights
// and its caches derive from.
//   E = embedDim, H = numHeads, Hkv = numKVHeads, Dh = E / H (head width), Ekv = Hkv · Dh,
//   kdim/vdim the key/value input widths.
import { LINFORMER_CONFIG_KEYS, type LinformerSpec, checkLinformerConfig } from "./mha-linformer.js";
import { type RotarySpec, checkRotaryConfig } from "./rotary.js";
import { alibiSlopes, checkSlopes, checkSoftcap } from "./score-options.js";
import { checkBool, checkInt, checkOptions, rangeError, typeError } from "./validate.js";
import { type AttentionWindow, checkWindow } from "./window.js";

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
  /** Logit soft-capping of every forward (Gemma 2 uses 50): scores s → softcap·tanh(s/softcap). A finite number > 0; default none. */
  softcap?: number;
  /** ALiBi with the paper's slopes for numHeads heads (BLOOM's, MPT's); default false. */
  alibi?: boolean;
  /** ALiBi with these slopes, one per query head [H]; instead of `alibi: true`. */
  alibiSlopes?: Float32Array;
  /**
   * Rotary position embeddings (RoPE) on every query and key head after the projections (before
   * caching): `dim` channels of each head (even, ≤ embedDim / numHeads; default all), frequency `base`
   * (default 10000), `interleaved` pairs (2d, 2d + 1) instead of (d, d + dim/2) (default false). Self-attention only.
   */
  rotary?: { dim?: number; base?: number; interleaved?: boolean };
  /** Sliding window [left, right] of every forward (as scaledDotProductAttention's `window`); default none. */
  window?: AttentionWindow;
  /**
   * Linformer: attend over k = projectedLength projected keys, E·K and F·V, instead of the S keys
   * (E, F [k, maxLength]: weights keyProjection / valueProjection; inputs of S ≤ maxLength use their
   * first S columns). Needs maxLength. Not with alibi, alibiSlopes, rotary or window. Default none.
   */
  projectedLength?: number;
  /** Linformer's sequence length n: the longest key input, the projections' columns. Required with projectedLength. */
  maxLength?: number;
  /** Linformer: one projection E for keys and values (F = E; no valueProjection weight). Default false. */
  shareKV?: boolean;
}

/** What the layer does to the scores inside the kernel (score-options.ts). */
export interface ScoreConfig {
  /** 0: none. */
  readonly softcap: number;
  /** One ALiBi slope per query head, or null: none. */
  readonly slopes: Float32Array | null;
  /** Rotary embeddings of the query and key heads (before the scores), or null/absent: none. */
  readonly rotary?: RotarySpec | null;
  /** Sliding window [left, right] (Infinity: unbounded side), or null: none. */
  readonly window: readonly [number, number] | null;
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
  /** Linformer's projection sizes, or null/absent: none. */
  readonly linformer?: LinformerSpec | null;
}

const CONFIG_KEYS = ["embedDim", "numHeads", "numKVHeads", "kdim", "vdim", "bias", "seed", "softcap", "alibi", "alibiSlopes", "rotary", "window", ...LINFORMER_CONFIG_KEYS] as const;

/**
 * Checks a MultiHeadAttentionConfig. `seed` is the one given, else a random 32-bit one.
 * @throws {TypeError} a non-object, non-number sizes or softcap, an unknown option, a non-boolean bias, alibi or shareKV, non-Float32Array alibiSlopes, both alibi and alibiSlopes, a non-object rotary or bad types in it, a window not an array of numbers, maxLength/shareKV without projectedLength or projectedLength without maxLength or with alibi, rotary or window
 * @throws {RangeError} sizes < 1 or fractional, numHeads not dividing embedDim, numKVHeads not dividing numHeads, a softcap ≤ 0 or non-finite, alibiSlopes not of length numHeads or with a non-finite slope, rotary dim odd or > the head width, rotary base ≤ 0, a window not [left, right] of integers ≥ 0, −1 or Infinity
 */
export function checkConfig(fn: string, config: unknown): { dims: AttentionDims; seed: number; scores: ScoreConfig } {
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
  const softcap = checkSoftcap(fn, "config.softcap", c.softcap, 1 / Math.sqrt(Dh));
  const alibi = checkBool(fn, "config.alibi", c.alibi, false);
  if (alibi && c.alibiSlopes !== undefined) {
    throw new TypeError(`${fn}: give config.alibi: true (the paper's slopes) or config.alibiSlopes (your own), not both`);
  }
  const slopes = c.alibiSlopes !== undefined
    ? Float32Array.from(checkSlopes(fn, "config.alibiSlopes", c.alibiSlopes, [H], `equal numHeads = ${H} (one slope per query head)`))
    : alibi ? alibiSlopes(H) : null;
  const rotary = checkRotaryConfig(fn, "config.rotary", c.rotary, Dh);
  const window = checkWindow(fn, "config.window", c.window);
  const linformer = checkLinformerConfig(fn, c as Record<string, unknown>);
  return { dims: { E, H, Hkv, Dh, Ekv: Hkv * Dh, kdim, vdim, bias, linformer }, seed, scores: { softcap, slopes, rotary, window } };
}

/** Whether PyTorch keeps one in_proj_weight [3E, E] for these sizes (kdim = vdim = E, no grouped K/V heads). */
export function packedInProj(d: AttentionDims): boolean {
  return d.kdim === d.E && d.vdim === d.E && d.Hkv === d.H;
}
