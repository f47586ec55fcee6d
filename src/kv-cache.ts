// KVCache: the keys and values of earlier tokens, for token-by-token generation.
//   K and V each a block of B·Hkv·R·Dh floats in WASM memory, head-major [B, Hkv, R, Dh] (R rows per
//   head: maxLength, or a rolling cache's sinkTokens + 2·window):
//   a head's cached keys (and values) are one contiguous block, streamed whole by a decode step.
//   Positions [0, length) hold data; a forward appends after them.
// A rolling cache (createCache({ window, sinkTokens })) holds, per head, room for R = sinkTokens +
// 2·window rows and keeps the positions a step needs as one contiguous block [start, end) of rows:
// the first sinkTokens positions (the sinks), then recent positions up to the last one. A call of L
// ≤ window new tokens at positions P … P + L − 1 attends over the sinks and positions
// max(sinks, P − window + 1) … P + L − 1 (each token sees the sinks and the last `window` positions
// up to itself; a window mask keeps the earlier tokens of a multi-token call to theirs):
//   1. if end + L > R, the sinks and the last window − 1 held positions are moved down to row 0
//      (amortised: about one row per step);
//   2. the new rows are written at end (by the layer);
//   3. the sinks (a few rows) are moved up to sit just below the recent rows the call needs (the rows
//      they overwrite are older than the window).
// Each step costs O(window) and the memory stays fixed; positions keep counting (length).
// Users get a cache only from a layer's createCache() and see only its sizes, length, reset(),
// truncate() and dispose(). Everything else (the blocks, the owner, the fill level) is reachable only
// through this module's functions, which the package does not export: a cache cannot be made over
// arbitrary addresses, and its fill level never moves outside [0, maxLength].
import type { Heap } from "./memory.js";
import { checkInt, checkOptions, rangeError } from "./validate.js";

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
  /** Rows per head in the blocks (maxLength without a window). */
  readonly rows: number;
  /** A rolling cache's window (positions kept besides the sinks), or 0: keep everything up to maxLength. */
  readonly window: number;
  /** A rolling cache's attention sinks (the first positions, always kept). */
  readonly sinks: number;
  /** Positions seen (the public length). */
  filled: number;
  /** The held rows [start, end) of each head: positions [0, min(sinks, filled)), then recent ones up to filled − 1. */
  start: number;
  end: number;
  disposed: boolean;
}

/** Moves `n` rows of every head of K and V from row `src` to row `dst` (overlapping allowed). */
export type MoveRows = (dst: number, src: number, n: number) => void;

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

  /** Positions it has room for (a rolling cache: the positions it may count up to; Infinity by default). */
  get maxLength(): number {
    return this.#s.maxLength;
  }

  /** Positions filled so far (a rolling cache: positions seen, held or not). */
  get length(): number {
    return this.#s.filled;
  }

  /** A rolling cache's window (the recent positions each step attends over), or null: not rolling. */
  get window(): number | null {
    return this.#s.window === 0 ? null : this.#s.window;
  }

  /** A rolling cache's attention sinks (the first positions, always attended); 0 otherwise. */
  get sinkTokens(): number {
    return this.#s.sinks;
  }

  /** Forget every cached position (start a new sequence); the memory is kept. */
  reset(): void {
    if (this.#s.disposed) throw new TypeError("KVCache.reset: this cache was disposed");
    this.#s.filled = this.#s.start = this.#s.end = 0;
  }

  /**
   * Keep only the first `length` positions (e.g. to redo a step, or to drop rejected speculative
   * tokens); the next forward appends after them. A rolling cache must still hold the positions the
   * next step needs: the sinks and the window − 1 positions before `length`.
   * @throws {TypeError} a non-number, use after dispose
   * @throws {RangeError} length not an integer in [0, this.length], or (rolling) positions no longer held
   */
  truncate(length: number): void {
    const s = this.#s;
    if (s.disposed) throw new TypeError("KVCache.truncate: this cache was disposed");
    const n = checkInt("KVCache.truncate", "length", length, 0);
    if (n > s.filled) throw rangeError("KVCache.truncate", "length", `be ≤ the cached length ${s.filled}`, n);
    if (s.window > 0 && n > s.sinks) {
      const oldest = s.filled - (s.end - s.start - Math.min(s.sinks, s.filled));   // first recent position held
      const need = Math.max(s.sinks, n - s.window + 1);
      if (need < oldest) {
        throw rangeError("KVCache.truncate", "length", `keep the positions the next step attends to held: this rolling cache (window ${s.window}, sinkTokens ${s.sinks}) holds positions ${oldest} … ${s.filled - 1} besides the sinks, so length must be ≥ ${oldest + s.window - 1} or ≤ ${s.sinks}`, n);
      }
    }
    // The held rows: the sinks, then recent positions up to filled − 1 (a gap between them once dropped).
    s.end = n <= s.sinks ? s.start + n : s.end - (s.filled - n);
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

/** Rows per head of a cache: maxLength, or a rolling cache's sinks + 2·window. */
export function cacheRows(maxLength: number, window: number, sinks: number): number {
  return window > 0 ? sinks + 2 * window : maxLength;
}

/**
 * A cache over blocks `k` and `v` the owner allocated (cacheRows rows per head); `release` frees them.
 * window 0: a plain cache of maxLength positions.
 */
export function newKVCache(owner: object, batch: number, maxLength: number, k: number, v: number, release: () => void,
  window = 0, sinks = 0): KVCache {
  const rows = cacheRows(maxLength, window, sinks);
  return new (KVCache as unknown as new (token: symbol, s: CacheState) => KVCache)(TOKEN,
    { owner, batch, maxLength, k, v, release, rows, window, sinks, filled: 0, start: 0, end: 0, disposed: false });
}

/** Whether `x` is a KVCache made by newKVCache (a brand check: an object with KVCache's prototype is not). */
export function isKVCache(x: unknown): x is KVCache {
  return isCache(x);
}

/** The owner, blocks and state of a cache, for the layer that made it. */
export function cacheState(c: KVCache): Readonly<CacheState> {
  return stateOf(c);
}

/** Records `n` more positions written by a forward (after cacheBlock); the caller has checked length + n ≤ maxLength. */
export function advanceCache(c: KVCache | CacheState, n: number): void {
  const s = c instanceof KVCache ? stateOf(c) : (c as CacheState);
  if (!(n >= 0 && s.filled + n <= s.maxLength && s.end <= s.rows)) throw new Error(`wasm-attention: internal error: cache advance by ${n} from ${s.filled} of ${s.maxLength}`);
  s.filled += n;
}

/** The first recent position a call of L new tokens attends to (rolling): max(sinks, P − window + 1). */
function firstNeeded(s: CacheState): number {
  return Math.max(s.sinks, s.filled - s.window + 1);
}

/** Keys a call of L new tokens attends over: cached + L, or (rolling) the sinks and the recent positions it needs. */
export function cacheKeys(s: CacheState, L: number): number {
  const P = s.filled + L;
  if (s.window === 0) return P;
  return Math.min(s.sinks, P) + Math.max(0, P - firstNeeded(s));
}

/**
 * A rolling cache's window mask for a call of L new tokens over cacheKeys(s, L) keys: [L, S], 1 where
 * token i (position P + i) may see key j (a sink, or a position > P + i − window); null when every
 * token may see every key (a single token, or nothing evicted yet).
 */
export function windowMask(s: CacheState, L: number): Uint8Array | null {
  if (s.window === 0 || L <= 1) return null;
  const S = cacheKeys(s, L), P = s.filled, held = Math.min(s.sinks, P + L), first = firstNeeded(s);
  const m = new Uint8Array(L * S).fill(1);
  let any = false;
  for (let i = 0; i < L; i++) {
    for (let j = held; j < S; j++) {
      if (first + (j - held) <= P + i - s.window) { m[i * S + j] = 0; any = true; }
    }
  }
  return any ? m : null;
}

/** The row where a call's L new rows go: end, after moving the needed rows down to row 0 when they would not fit (rolling). */
export function cacheAppendRow(s: CacheState, L: number, move: MoveRows): number {
  if (s.window === 0 || s.end + L <= s.rows) return s.end;
  const sinks = Math.min(s.sinks, s.filled), keep = Math.max(0, s.filled - firstNeeded(s));
  move(0, s.start, sinks);
  move(sinks, s.end - keep, keep);
  s.start = 0;
  s.end = sinks + keep;
  if (s.end + L > s.rows) throw new Error(`wasm-attention: internal error: rolling cache of ${s.rows} rows cannot take ${L} after ${s.end}`);
  return s.end;
}

/** After the L new rows were written at cacheAppendRow's row: the first row of the cacheKeys(s, L) keys the call attends over. */
export function cacheBlock(s: CacheState, L: number, move: MoveRows): number {
  s.end += L;
  const S = cacheKeys(s, L), to = s.end - S;
  if (to !== s.start) {
    move(to, s.start, Math.min(s.sinks, s.filled));
    s.start = to;
  }
  return s.start;
}

/**
 * Checks createCache's options { batch = 1, maxLength, window?, sinkTokens = 0 }: maxLength required
 * without a window (default Infinity with one); sinkTokens only with a window, and not with ALiBi.
 */
export function checkCacheOptions(fn: string, options: object, alibi: boolean): { batch: number; maxLength: number; window: number; sinks: number } {
  const o = checkOptions<{ batch: number; maxLength: number; window: number; sinkTokens: number }>(fn, options, ["batch", "maxLength", "window", "sinkTokens"]);
  const batch = checkInt(fn, "options.batch", o.batch, 1, 1);
  const window = o.window === undefined ? 0 : checkInt(fn, "options.window", o.window, 1);
  const maxLength = window > 0 && o.maxLength === undefined ? Infinity : checkInt(fn, "options.maxLength", o.maxLength, 1);
  if (window === 0 && o.sinkTokens !== undefined) throw new TypeError(`${fn}: options.sinkTokens is for a rolling cache; give options.window too`);
  const sinks = checkInt(fn, "options.sinkTokens", o.sinkTokens, 0, 0);
  if (sinks > 0 && alibi) {
    throw new TypeError(`${fn}: options.sinkTokens with ALiBi: once positions are dropped, the sinks' distances are not those the bias needs; use sinkTokens: 0 (a plain window) with ALiBi`);
  }
  return { batch, maxLength, window, sinks };
}

/** MoveRows over the blocks of `s`: `heads` heads (B·Hkv) of s.rows rows of D floats in each of K and V. */
export function rowMover(heap: Heap, s: CacheState, heads: number, D: number): MoveRows {
  return (dst, src, n) => {
    if (n === 0 || dst === src) return;
    for (const base of [s.k, s.v]) {
      const all = heap.f32(base, heads * s.rows * D);
      for (let o = 0; o < all.length; o += s.rows * D) all.copyWithin(o + dst * D, o + src * D, o + (src + n) * D);
    }
  };
}
