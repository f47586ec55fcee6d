// TransformerDecoderCache: what a decoder keeps between generation steps, per layer:
//   - its self-attention's K/V (a KVCache of the layer's self_attn, [B, H, maxLength, Dh]);
//   - its cross-attention's K/V of `memory` ([B, S, E] each), projected on the first step after
//     createCache() or reset() and reused by every later step: a step costs O(layers · (S + t)), not a
//     projection of memory per step.
// Users see sizes, length, reset(), truncate() and dispose(); the blocks are reachable only through
// this module's functions, which the package does not export.
import type { KVCache } from "./kv-cache.js";
import type { Heap } from "./memory.js";
import { checkInt, rangeError } from "./validate.js";

/** One layer's part. */
export interface LayerCache {
  readonly self: KVCache;
  /** Cross K/V blocks (byte addresses), 0 until the first step projects memory. */
  crossK: number;
  crossV: number;
  /** memory's length S once projected, else -1. */
  crossS: number;
}

interface State {
  readonly owner: object;
  readonly heap: Heap;
  readonly batch: number;
  readonly maxLength: number;
  readonly layers: LayerCache[];
  readonly release: () => void;
  disposed: boolean;
}

const TOKEN = Symbol("TransformerDecoderCache");
let stateOf: (c: TransformerDecoderCache) => State;
let isCache: (x: unknown) => x is TransformerDecoderCache;

/**
 * Self- and cross-attention keys and values of a decoder, for generation step by step:
 * `decoder.forward(tgtStep, memory, { cache })`.
 */
export class TransformerDecoderCache {
  readonly #s: State;

  /**
   * Not constructible: a cache comes from createCache() of a TransformerDecoderLayer, TransformerDecoder or Transformer.
   * @throws {TypeError} always, when called from outside the package
   */
  private constructor(token: symbol, s: State) {
    if (token !== TOKEN) throw new TypeError("TransformerDecoderCache: not constructible; use decoder.createCache({ batch, maxLength })");
    this.#s = s;
  }

  static {
    stateOf = (c) => c.#s;
    isCache = (x): x is TransformerDecoderCache => typeof x === "object" && x !== null && #s in x;
  }

  /** Sequences the cache holds (the forward's batch B). */
  get batch(): number { return this.#s.batch; }
  /** Target positions it has room for. */
  get maxLength(): number { return this.#s.maxLength; }
  /** Target positions generated so far. */
  get length(): number { return this.#s.layers[0].self.length; }

  /** Forget every position and the projected memory (start a new sequence); the self-attention memory is kept. */
  reset(): void {
    const s = this.#s;
    if (s.disposed) throw new TypeError("TransformerDecoderCache.reset: this cache was disposed");
    for (const l of s.layers) {
      l.self.reset();
      dropCross(s.heap, l);
    }
  }

  /**
   * Keep only the first `length` target positions (the projected memory stays).
   * @throws {TypeError} a non-number, use after dispose
   * @throws {RangeError} length not an integer in [0, this.length]
   */
  truncate(length: number): void {
    const s = this.#s;
    if (s.disposed) throw new TypeError("TransformerDecoderCache.truncate: this cache was disposed");
    const n = checkInt("TransformerDecoderCache.truncate", "length", length, 0);
    if (n > this.length) throw rangeError("TransformerDecoderCache.truncate", "length", `be ≤ the cached length ${this.length}`, n);
    for (const l of s.layers) l.self.truncate(n);
  }

  /** Free the cache's memory; idempotent. */
  dispose(): void {
    const s = this.#s;
    if (s.disposed) return;
    s.disposed = true;
    for (const l of s.layers) {
      l.self.dispose();
      dropCross(s.heap, l);
    }
    s.release();
  }
}

function dropCross(heap: Heap, l: LayerCache): void {
  if (l.crossK !== 0) heap.release(l.crossK);
  if (l.crossV !== 0) heap.release(l.crossV);
  l.crossK = 0; l.crossV = 0; l.crossS = -1;
}

/** A cache over the layers' self-attention caches; `release` forgets it in the owner's bookkeeping. */
export function newDecoderCache(owner: object, heap: Heap, batch: number, maxLength: number, selfCaches: KVCache[], release: () => void): TransformerDecoderCache {
  const layers = selfCaches.map((self) => ({ self, crossK: 0, crossV: 0, crossS: -1 }));
  return new (TransformerDecoderCache as unknown as new (t: symbol, s: State) => TransformerDecoderCache)(TOKEN,
    { owner, heap, batch, maxLength, layers, release, disposed: false });
}

export function isDecoderCache(x: unknown): x is TransformerDecoderCache {
  return isCache(x);
}

/** The owner, state and per-layer parts, for the decoder that made the cache. */
export function decoderCacheState(c: TransformerDecoderCache): Readonly<State> {
  return stateOf(c);
}
