// MultiHeadAttention.forward's options and result, and the head-averaging of its weights.
import type { KVCache } from "./kv-cache.js";
import type { Causal, Mask, Tensor } from "./validate.js";
import type { AttentionWindow } from "./window.js";
import type { BlockSparse } from "./sparse-layout.js";

export interface MultiHeadAttentionOptions {
  /** [B, S] ([S] unbatched). Uint8Array: 1 = padding, ignored (PyTorch's meaning); Float32Array: added to the scores. */
  keyPaddingMask?: Mask;
  /** Broadcastable to [B, H, L, S] ([H, L, S] unbatched), e.g. [L, S] or [B, 1, L, S]. Uint8Array: 1 = may attend; Float32Array: added. */
  attnMask?: Mask;
  /**
   * Mask the future: "bottom-right" (or true: query i sees key j iff j ≤ i + S − L) or "top-left" (j ≤ i,
   * PyTorch's is_causal). With a cache both mean j ≤ cache.length + i (a new token sees the past and
   * itself). Default false; true with a cache.
   */
  causal?: Causal;
  /** Also return the attention weights. Default false. */
  needWeights?: boolean;
  /** Average the weights over heads ([B, L, S]); false gives [B, H, L, S]. Default true. */
  averageWeights?: boolean;
  /** A KV cache from createCache(): the forward appends the new tokens' K/V and attends over all of it. */
  cache?: KVCache;
  /** Write the output into this Float32Array (B·L·E elements) instead of a new one; it may be an input's data. */
  out?: Float32Array;
  /** Logit soft-capping for this call (scores s → softcap·tanh(s/softcap)); default the config's. */
  softcap?: number;
  /** With a `rotary` config: the position of each of the L new tokens (Int32Array [L]); default cache.length + i (i without a cache). */
  positions?: Int32Array;
  /**
   * Sliding window [left, right] for this call, as scaledDotProductAttention's (bottom-right aligned: with a
   * cache, new token i at position cache.length + i sees positions p − left … p + right); default the
   * config's. Not with a rolling cache (createCache's window).
   */
  window?: AttentionWindow;
  /**
   * Block-sparse attention for this call, as scaledDotProductAttention's: { blockSize: b, layout } with
   * layout { data: Uint8Array, shape: [..., ⌈L/b⌉, ⌈S/b⌉] } broadcast over [B, H] as attnMask is
   * ([H, …] unbatched); 1 = compute the b×b block, 0 = skip it. Not with a rolling cache. Default none.
   */
  blockSparse?: BlockSparse;
}

export interface MultiHeadAttentionResult {
  output: Tensor;
  weights?: Tensor;
}

export const FORWARD_KEYS = ["keyPaddingMask", "attnMask", "causal", "needWeights", "averageWeights", "cache", "out", "softcap", "positions", "window", "blockSparse"] as const;

/** avg[b, :] = Σ_h w[b, h, :] / H */
export function averageHeads(w: Float32Array, avg: Float32Array, B: number, H: number, n: number): void {
  for (let b = 0; b < B; b++) {
    const dst = avg.subarray(b * n, (b + 1) * n);
    for (let h = 0; h < H; h++) {
      const src = w.subarray((b * H + h) * n, (b * H + h + 1) * n);
      for (let i = 0; i < n; i++) dst[i] += src[i];
    }
    for (let i = 0; i < n; i++) dst[i] /= H;
  }
}
