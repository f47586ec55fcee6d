// A MultiHeadAttention forward, checked: every size, mask and score option of one call, worked out
// before anything touches WASM memory. MultiHeadAttention.forward plans then runs; the Transformer
// layers (transformer-layer.ts) plan each attention block of a layer first, so a bad mask is refused
// before the layer computes anything.
import { type CacheState, cacheKeys, cacheState, isKVCache, windowMask } from "./kv-cache.js";
import { ADDITIVE, DROP_NONZERO, type MaskPlan, causalKind, planMask } from "./masks.js";
import type { AttentionDims, ScoreConfig } from "./mha-config.js";
import { checkLinformerForward } from "./mha-linformer.js";
import { checkBlockSparse } from "./sparse-layout.js";
import { checkPositions } from "./rotary.js";
import { checkSoftcap } from "./score-options.js";
import { checkWindow } from "./window.js";
import { checkBool, checkCausal, checkMask, fmtShape, rangeError, typeError } from "./validate.js";
import type { MultiHeadAttentionOptions } from "./mha-options.js";

/** The options a forward's attention takes: MultiHeadAttentionOptions without `out`. */
export type AttentionOptions = Omit<MultiHeadAttentionOptions, "out">;

/** Where K and V come from: projected from the query input, from key/value inputs, or given already projected ([B, S, Ekv] each). */
export type KVSource = "self" | "inputs" | "projected";

export interface ForwardPlan {
  readonly B: number;
  readonly L: number;
  /** Keys attended over (cached + new with a cache). */
  readonly S: number;
  readonly unbatched: boolean;
  readonly kv: KVSource;
  readonly cache: CacheState | null;
  readonly masks: MaskPlan[];
  readonly causal: number;
  readonly needWeights: boolean;
  readonly averageWeights: boolean;
  readonly softcap: number;
  /** The new tokens' explicit positions (a rotary layer's `positions` option), or null: cached + i. */
  readonly positions: Int32Array | null;
  /** Sliding window [left, right] (Infinity: unbounded side), or null: none. */
  readonly window: readonly [number, number] | null;
  /** The block size of a block-sparse layout among `masks` (0: none). */
  readonly sparseBlock: number;
  /** K/V rows projected from the inputs: S, but with Linformer the input's length (S is then k). */
  readonly sourceKeys: number;
}

/**
 * Checks one forward of a layer with sizes `d`: the query's batch B and length L, the keys' length S
 * (key/value inputs or projected K/V; ignored for "self"), and the options.
 * @throws {TypeError} a non-boolean flag, masks of other data types, a bad blockSparse (sparse-layout.ts) or one with a rolling cache, Linformer's refused options (mha-linformer.ts), a non-number softcap, a window not an array of numbers or with a rolling cache, a foreign or disposed cache, a cache with key/value, key/value with a rotary config, positions without one or not an Int32Array
 * @throws {RangeError} a softcap ≤ 0 or non-finite, a layout not [..., ⌈L/b⌉, ⌈S/b⌉] broadcastable to [B, H], a Linformer key length > maxLength, a window side other than an integer ≥ 0, −1 or Infinity, masks that don't fit, cache batch mismatch or overflow, positions not of length L
 */
export function planForward(fn: string, owner: object, d: AttentionDims, scores: ScoreConfig, B: number, L: number, unbatched: boolean,
  kv: KVSource, keyLength: number, o: AttentionOptions): ForwardPlan {
  const { E, H, Dh, kdim, vdim } = d;
  const cache = o.cache;
  if (cache !== undefined && !isKVCache(cache)) throw typeError(fn, "options.cache", "a KVCache from createCache()", cache);
  const cs = cache === undefined ? null : cacheState(cache);
  if (cs) {
    if (cs.owner !== owner) throw new TypeError(`${fn}: options.cache was created by another MultiHeadAttention`);
    if (cs.disposed) throw new TypeError(`${fn}: options.cache was disposed`);
    if (kv !== "self") throw new TypeError(`${fn}: a cache is for self-attention decoding; omit key and value`);
    if (B !== cs.batch) throw rangeError(fn, "query batch", `equal the cache's batch = ${cs.batch}`, B);
    if (cs.filled + L > cs.maxLength) {
      throw rangeError(fn, "query length", `fit in the cache: ${cs.filled} cached + ${L} new ≤ maxLength = ${cs.maxLength}`, `${cs.filled + L} positions`);
    }
    if (cs.window > 0 && L > cs.window) {
      throw rangeError(fn, "query length", `be ≤ the rolling cache's window = ${cs.window} (split longer inputs into calls of at most window tokens)`, L);
    }
  }
  if (kv === "self" && (kdim !== E || vdim !== E)) {
    throw new TypeError(`${fn}: self-attention (key and value omitted${cs ? ", as with a cache" : ""}) needs kdim = vdim = embedDim = ${E}; this instance has kdim = ${kdim}, vdim = ${vdim}: give key and value`);
  }
  // With a rolling cache, the keys are those it holds for this call: the sinks, then recent positions.
  const S = kv !== "self" ? keyLength : cs ? cacheKeys(cs, L) : L;
  const target = [B, H, L, S];
  const targetDims = unbatched ? "[H, L, S]" : "[B, H, L, S]";
  const masks: MaskPlan[] = [];
  if (o.keyPaddingMask !== undefined) {
    const want = unbatched ? [S] : [B, S];
    const m = checkMask(fn, "options.keyPaddingMask", o.keyPaddingMask, want, unbatched ? "[S]" : "[B, S]", "1 = padding");
    if (m.shape.length !== want.length || m.shape.some((n, i) => n !== want[i])) {
      throw rangeError(fn, "options.keyPaddingMask.shape", `be ${fmtShape(want)} (${unbatched ? "[S]" : "[B, S]"})`, fmtShape(m.shape));
    }
    masks.push(planMask({ data: m.data, shape: [B, 1, 1, S] }, target, m.data instanceof Uint8Array ? DROP_NONZERO : ADDITIVE));
  }
  if (o.attnMask !== undefined) {
    const m = checkMask(fn, "options.attnMask", o.attnMask, unbatched ? [H, L, S] : target, targetDims);
    masks.push(planMask(m, target));
  }
  const wm = cs ? windowMask(cs, L) : null;
  if (wm) masks.push(planMask({ data: wm, shape: [L, S] }, target));
  const causal = causalKind(checkCausal(fn, "options.causal", o.causal, cs !== null), cs !== null);
  const needWeights = checkBool(fn, "options.needWeights", o.needWeights, false);
  const softcap = o.softcap === undefined ? scores.softcap : checkSoftcap(fn, "options.softcap", o.softcap, 1 / Math.sqrt(Dh));
  const averageWeights = checkBool(fn, "options.averageWeights", o.averageWeights, true);
  if (scores.rotary && kv !== "self") throw new TypeError(`${fn}: this layer has a rotary config, which is for self-attention; omit key and value`);
  if (!scores.rotary && o.positions !== undefined) throw new TypeError(`${fn}: options.positions is for a layer with a rotary config; this one has none`);
  const positions = o.positions === undefined ? null : checkPositions(fn, "options.positions", o.positions, L);
  const window = o.window === undefined ? scores.window : checkWindow(fn, "options.window", o.window);
  if (window !== null && cs && cs.window > 0) {
    throw new TypeError(`${fn}: a sliding window (${o.window === undefined ? "config.window" : "options.window"}) needs a plain cache: this cache is a rolling one (createCache's window), whose held keys are not consecutive positions; give window: [-1, -1] here, or use the rolling cache alone`);
  }
  const sparse = checkBlockSparse(fn, "options.blockSparse", o.blockSparse, [B, H], L, S);
  if (sparse && cs && cs.window > 0) throw new TypeError(`${fn}: options.blockSparse needs a plain cache: this cache is a rolling one (createCache's window), whose held keys are not consecutive positions`);
  if (sparse) masks.push(sparse.plan);
  const lin = d.linformer;
  if (lin) checkLinformerForward(fn, lin, S, o as Record<string, unknown>, window);
  return {
    B, L, S: lin ? lin.k : S, unbatched, kv, cache: cs, masks, causal, needWeights, averageWeights, softcap, positions, window,
    sparseBlock: sparse ? sparse.blockSize : 0, sourceKeys: S,
  };
}
