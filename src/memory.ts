// The heap over the module's one WebAssembly.Memory. TypeScript owns it; kernels keep no state.
//
// A first-fit free-list allocator: blocks are 64-byte aligned (a cache line; ≥ the 16 bytes v128
// wants), freed blocks coalesce with their neighbours, and a free block at the top lowers the top,
// so per-call scratch is reused across calls and memory stays bounded. The memory grows in whole
// 64 KiB pages when nothing free fits, and never shrinks (WebAssembly memories cannot).
// A request that cannot fit under 4 GiB, or a failed grow, is a RangeError and changes nothing.
//
// Views of memory.buffer are made on demand, after allocating: growing detaches old views.

export const PAGE = 65536;
export const MAX_BYTES = 4 * 1024 * 1024 * 1024;   // wasm32: 65536 pages
const ALIGN = 64;

export class Heap {
  readonly memory: WebAssembly.Memory;
  private readonly base: number;
  private top: number;                       // first byte past the highest block in use
  private free: { start: number; size: number }[] = [];   // sorted by start, coalesced
  private used = new Map<number, number>();  // start → size
  private inUse = 0;
  private peak = 0;

  /** The most bytes the memory may reach: 4 GiB, or a shared memory's declared maximum. */
  readonly maxBytes: number;

  constructor(memory: WebAssembly.Memory, base: number, maxBytes = MAX_BYTES) {
    this.memory = memory;
    this.maxBytes = Math.min(maxBytes, MAX_BYTES);
    this.base = Math.ceil(base / ALIGN) * ALIGN;
    this.top = this.base;
  }

  /** Bytes in blocks currently allocated. */
  get bytesInUse(): number {
    return this.inUse;
  }

  /** The most bytes in use at once since the heap was made or resetPeak() was called. */
  get peakBytesInUse(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.inUse;
  }

  private track(ptr: number, size: number): number {
    this.used.set(ptr, size);
    this.inUse += size;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return ptr;
  }

  /** Current size of the memory in bytes. */
  get bytesReserved(): number {
    return this.memory.buffer.byteLength;
  }

  /** The largest request that could still be satisfied, ignoring fragmentation (for messages). */
  get bytesAvailable(): number {
    return this.maxBytes - this.top;
  }

  /** Allocates `bytes` (≥ 1) bytes, 64-aligned. Throws RangeError (from `fn`) when it cannot. */
  alloc(bytes: number, fn = "wasm-attention"): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const f = this.free[i];
      if (f.size >= size) {
        const ptr = f.start;
        if (f.size === size) this.free.splice(i, 1);
        else { f.start += size; f.size -= size; }
        return this.track(ptr, size);
      }
    }
    // Nothing free fits: extend the top (a free block ending at the top is merged into it first).
    let start = this.top;
    const last = this.free[this.free.length - 1];
    if (last && last.start + last.size === this.top) start = last.start;
    const end = start + size;
    if (end > this.maxBytes) {
      const limit = this.maxBytes === MAX_BYTES ? "the 4 GiB a module can address" : `this memory's maximum of ${fmtBytes(this.maxBytes)}`;
      throw new RangeError(`${fn}: needs ${fmtBytes(size)} more WebAssembly memory than ${limit} (${fmtBytes(this.top)} in use or reserved)`);
    }
    this.ensure(end, fn);
    if (start !== this.top) this.free.pop();
    this.top = end;
    return this.track(start, size);
  }

  /** Releases a block from alloc(). */
  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new Error(`wasm-attention: internal error: release of unknown block ${ptr}`);
    this.used.delete(ptr);
    this.inUse -= size;
    if (ptr + size === this.top) {
      this.top = ptr;
      // A free block now at the top lowers it further.
      const last = this.free[this.free.length - 1];
      if (last && last.start + last.size === this.top) {
        this.top = last.start;
        this.free.pop();
      }
      return;
    }
    // Insert sorted, coalesce with neighbours.
    let lo = 0, hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid].start < ptr) lo = mid + 1; else hi = mid;
    }
    const block = { start: ptr, size };
    this.free.splice(lo, 0, block);
    const next = this.free[lo + 1];
    if (next && block.start + block.size === next.start) {
      block.size += next.size;
      this.free.splice(lo + 1, 1);
    }
    const prev = this.free[lo - 1];
    if (prev && prev.start + prev.size === block.start) {
      prev.size += block.size;
      this.free.splice(lo, 1);
    }
  }

  /**
   * Grows the memory once so that `bytes` more past the top exist: a model about to allocate many
   * blocks grows it in one step, not in one grow per block (each costs ~2 ms with a declared maximum).
   */
  reserve(bytes: number, fn: string): void {
    if (this.top + bytes <= this.maxBytes) this.ensure(this.top + bytes, fn);
  }

  /** Grows the memory so that bytes [0, end) exist. A refused grow becomes a RangeError. */
  private ensure(end: number, fn: string): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new RangeError(`${fn}: could not grow WebAssembly memory from ${fmtBytes(have)} to ${fmtBytes(have + pages * PAGE)} (${(e as Error).message})`);
    }
  }

  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  u8(ptr: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }

  i32(ptr: number, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }
}

export function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * A set of blocks for one call: allocate, use, then `done()` releases them all (in a finally, so a
 * throw leaves the heap as it was).
 */
export class Frame {
  private blocks: number[] = [];
  constructor(readonly heap: Heap, readonly fn: string) {}
  alloc(bytes: number): number {
    const p = this.heap.alloc(bytes, this.fn);
    this.blocks.push(p);
    return p;
  }
  done(): void {
    for (let i = this.blocks.length - 1; i >= 0; i--) this.heap.release(this.blocks[i]);
    this.blocks.length = 0;
  }
}
