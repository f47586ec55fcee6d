// KVCache: the keys and values of earlier tokens, for token-by-token generation.
//   K and V each a block of B·Hkv·maxLength·Dh floats in WASM memory, head-major [B, Hkv, maxLength, Dh]:
//   a head's cached keys (and values) are one contiguous block, streamed whole by a decode step.
//   Positions [0, length) hold data; a forward appends after them.
// Users get a cache only from a layer's createCache() and see only its sizes, length, reset(),
// truncate() and dispose(). Everything else (the blocks, the owner, the fill level) is reachable only
// through this module's functions, which the package does not export: a cache cannot be made over
// arbitrary addresses, and its fill level never moves outside [0, maxLength].
import { checkInt, rangeError } from "./validate.js";

/** What the layer that made a cache knows of it. */
export interface CacheState {
  readonly owner: object;
  readonly batch: number;
  readonly maxLength: number;
  /** Byte addresses of the K and V blocks. */
  readonly k: number;
  readonly v: number;
  /** Frees the blocks and forgets the cache (the owner's bookkeeping); called once, by dispose(). */
  readonly release: () => void;
  filled: number;
  disposed: boolean;
}

/** Checked by the constructor: only newKVCache holds it. */
const TOKEN = Symbol("KVCache");

let stateOf: (c: KVCache) => CacheState;
let isCache: (x: unknown) => x is KVCache;

/** Keys and values of earlier tokens, for MultiHeadAttention.forward(x, undefined, undefined, { cache }). */
export class KVCache {
  readonly #s: CacheState;

  /**
   * Not constructible: a cache comes from MultiHeadAttention.createCache().
   * @throws {TypeError} always, when called from outside the package
   */
  private constructor(token: symbol, s: CacheState) {
    if (token !== TOKEN) throw new TypeError("KVCache: not constructible; use MultiHeadAttention.createCache({ batch, maxLength })");
    this.#s = s;
  }

  static {
    stateOf = (c) => c.#s;
    isCache = (x): x is KVCache => typeof x === "object" && x !== null && #s in x;
  }

  /** Sequences the cache holds (the forward's batch B). */
  get batch(): number {
    return this.#s.batch;
  }

  /** Positions it has room for. */
  get maxLength(): number {
    return this.#s.maxLength;
  }

  /** Positions filled so far. */
  get length(): number {
    return this.#s.filled;
  }

  /** Forget every cached position (start a new sequence); the memory is kept. */
  reset(): void {
    if (this.#s.disposed) throw new TypeError("KVCache.reset: this cache was disposed");
    this.#s.filled = 0;
  }

  /**
   * Keep only the first `length` positions (e.g. to redo a step, or to drop rejected speculative
   * tokens); the next forward appends after them.
   * @throws {TypeError} a non-number, use after dispose
   * @throws {RangeError} length not an integer in [0, this.length]
   */
  truncate(length: number): void {
    const s = this.#s;
    if (s.disposed) throw new TypeError("KVCache.truncate: this cache was disposed");
    const n = checkInt("KVCache.truncate", "length", length, 0);
    if (n > s.filled) throw rangeError("KVCache.truncate", "length", `be ≤ the cached length ${s.filled}`, n);
    s.filled = n;
  }

  /** Free the cache's memory; idempotent. */
  dispose(): void {
    const s = this.#s;
    if (s.disposed) return;
    s.disposed = true;
    s.release();
  }
}

/** A cache over blocks `k` and `v` the owner allocated; `release` frees them. */
export function newKVCache(owner: object, batch: number, maxLength: number, k: number, v: number, release: () => void): KVCache {
  return new (KVCache as unknown as new (token: symbol, s: CacheState) => KVCache)(TOKEN, { owner, batch, maxLength, k, v, release, filled: 0, disposed: false });
}

/** Whether `x` is a KVCache made by newKVCache (a brand check: an object with KVCache's prototype is not). */
export function isKVCache(x: unknown): x is KVCache {
  return isCache(x);
}

/** The owner, blocks and state of a cache, for the layer that made it. */
export function cacheState(c: KVCache): Readonly<CacheState> {
  return stateOf(c);
}

/** Records `n` more positions written by a forward; the caller has checked length + n ≤ maxLength. */
export function advanceCache(c: KVCache | CacheState, n: number): void {
  const s = c instanceof KVCache ? stateOf(c) : (c as CacheState);
  if (!(n >= 0 && s.filled + n <= s.maxLength)) throw new Error(`wasm-attention: internal error: cache advance by ${n} from ${s.filled} of ${s.maxLength}`);
  s.filled += n;
}
