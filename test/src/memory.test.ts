// test/src/memory.test.ts ↔ src/memory.ts (Heap, Frame) and the memory behaviour of the public calls:
// the heap is back where it was after every success and every throw, repeated calls keep the memory
// bounded, requests beyond the 4 GiB a wasm32 module can address are RangeErrors before anything is
// allocated. The Heap class is also tested on its own memories.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertClose, randBytes, randn, rng, throwsWith } from "../helpers.js";
import { refAttention, refMatmul, refSoftmax } from "../reference.js";
import { matmul, memoryStats, scaledDotProductAttention as sdpa, softmax } from "../../src/index.js";
import { Frame, Heap, MAX_BYTES, PAGE } from "../../src/memory.js";
import { runtime } from "../../src/wasm.js";
import { stillWorks } from "../support.js";

const rt = runtime("t");

/** inUse, reserved, and where the next block would go (alloc + release): all three must come back. */
function state() {
  const p = rt.heap.alloc(1);
  rt.heap.release(p);
  return { inUse: rt.heap.bytesInUse, reserved: rt.heap.bytesReserved, next: p };
}

function sameState(before: ReturnType<typeof state>, what: string, reserved = true): void {
  const after = state();
  assert.is(after.inUse, before.inUse, `${what}: bytesInUse back`);
  assert.is(after.next, before.next, `${what}: next block at the same address (the top is back)`);
  if (reserved) assert.is(after.reserved, before.reserved, `${what}: bytesReserved unchanged`);
  const st = memoryStats()!;
  assert.equal({ reserved: st.reserved, inUse: st.inUse }, { reserved: after.reserved, inUse: after.inUse }, `${what}: memoryStats()`);
  assert.ok(st.peakInUse >= st.inUse, `${what}: memoryStats().peakInUse ≥ inUse`);
}

/** Bytes of JS ArrayBuffers alive (Node), to check a refused call allocated no multi-GB result first. */
const jsBuffers = (): number => (globalThis as { process?: { memoryUsage?: () => { arrayBuffers: number } } }).process?.memoryUsage?.().arrayBuffers ?? 0;

function noBigJsAllocation(before: number, what: string): void {
  const grew = jsBuffers() - before;
  assert.ok(grew < 100e6, `${what}: ${(grew / 1e9).toFixed(2)} GB of JS ArrayBuffers allocated before refusing`);
}

// ---- the public calls --------------------------------------------------------------------------------------------

test("memoryStats() reports the running heap: reserved = memory size, inUse = allocated blocks", () => {
  const s = memoryStats()!;
  assert.is(s.reserved, rt.heap.memory.buffer.byteLength);
  assert.is(s.inUse, rt.heap.bytesInUse);
  assert.is(s.reserved % PAGE, 0, "whole pages");
  const p = rt.heap.alloc(1000);
  assert.is(memoryStats()!.inUse, s.inUse + 1024, "a 1000-byte block counts 1024 (64-byte granules)");
  rt.heap.release(p);
  assert.is(memoryStats()!.inUse, s.inUse);
});

test("the heap is back where it was after successful matmul, softmax and sdpa calls (masks, weights, causal, E = 0, batch)", () => {
  const rand = rng(1);
  const calls: [string, () => unknown][] = [
    ["matmul [2, 5, 7] · [7, 3] (folded)", () => matmul({ data: randn(rand, 70), shape: [2, 5, 7] }, { data: randn(rand, 21), shape: [7, 3] })],
    ["matmul [2, 1, 5, 7]ᵀ · [3, 5, 4]", () => matmul({ data: randn(rand, 70), shape: [2, 1, 5, 7] }, { data: randn(rand, 60), shape: [3, 5, 4] }, { transposeA: true })],
    ["matmul K = 0", () => matmul({ data: new Float32Array(0), shape: [3, 0] }, { data: new Float32Array(0), shape: [0, 4] })],
    ["softmax [7, 300]", () => softmax({ data: randn(rand, 2100), shape: [7, 300] })],
    ["sdpa [2, 3, 41, 8] masks + weights + causal", () => sdpa({ data: randn(rand, 6 * 41 * 8), shape: [2, 3, 41, 8] },
      { data: randn(rand, 6 * 50 * 8), shape: [2, 3, 50, 8] }, { data: randn(rand, 6 * 50 * 5), shape: [2, 3, 50, 5] },
      { mask: { data: randBytes(rand, 2 * 41 * 50), shape: [2, 1, 41, 50] }, returnWeights: true, causal: true })],
    ["sdpa L = 1 additive mask", () => sdpa({ data: randn(rand, 4), shape: [1, 4] }, { data: randn(rand, 12), shape: [3, 4] },
      { data: randn(rand, 6), shape: [3, 2] }, { mask: { data: new Float32Array(3), shape: [3] } })],
    ["sdpa E = 0", () => sdpa({ data: new Float32Array(0), shape: [4, 0] }, { data: new Float32Array(0), shape: [5, 0] }, { data: randn(rand, 10), shape: [5, 2] })],
    ["sdpa S = 0", () => sdpa({ data: randn(rand, 8), shape: [2, 4] }, { data: new Float32Array(0), shape: [0, 4] }, { data: new Float32Array(0), shape: [0, 3] })],
  ];
  for (const [what, call] of calls) {
    call();   // first call may grow the memory
    const before = state();
    call();
    sameState(before, what);
  }
});

test("the heap is back where it was after thrown errors (validation errors of every function, too-large requests)", () => {
  const q = { data: randn(rng(1), 12), shape: [3, 4] }, k = { data: randn(rng(2), 20), shape: [5, 4] }, v = { data: randn(rng(3), 10), shape: [5, 2] };
  const bad: [string, () => unknown][] = [
    ["matmul inner dims", () => matmul(q, q)],
    ["matmul unknown option", () => matmul(q, k, { transposeC: true } as never)],
    ["softmax rank 0", () => softmax({ data: new Float32Array(1), shape: [] })],
    ["sdpa casual", () => sdpa(q, k, v, { casual: true } as never)],
    ["sdpa mask broadcast", () => sdpa(q, k, v, { mask: { data: new Uint8Array(4), shape: [4, 1] } })],
    ["sdpa scale NaN", () => sdpa(q, k, v, { scale: NaN })],
    ["matmul 40000×1 · 1×40000 (6.4 GB result)", () => matmul({ data: new Float32Array(40000), shape: [40000, 1] }, { data: new Float32Array(40000), shape: [1, 40000] })],
    ["sdpa weights 40000×40000", () => sdpa({ data: new Float32Array(40000), shape: [40000, 1] }, { data: new Float32Array(40000), shape: [40000, 1] },
      { data: new Float32Array(40000), shape: [40000, 1] }, { returnWeights: true })],
  ];
  for (const [what, call] of bad) {
    const before = state();
    let threw = false;
    try { call(); } catch { threw = true; }
    assert.ok(threw, `${what}: threw`);
    sameState(before, what);
  }
  stillWorks("after the errors");
});

test("whatever a call does (result or throw), the heap comes back: sdpa Ev = 0 with returnWeights, L = 5 and 2", () => {
  for (const L of [2, 5]) {
    const before = state();
    try {
      sdpa({ data: randn(rng(L), L * 3), shape: [L, 3] }, { data: randn(rng(1), 12), shape: [4, 3] }, { data: new Float32Array(0), shape: [4, 0] }, { returnWeights: true });
    } catch { /* the sdpa tests judge the result */ }
    sameState(before, `Ev = 0 L = ${L}`);
  }
});

test("1000 calls of varying sizes keep bytesReserved bounded: no growth after the first (largest) calls, heap back each time", () => {
  const rand = rng(1000);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const mm = (M: number, K: number, N: number, B: number) => {
    const a = randn(rand, B * M * K), b = randn(rand, K * N);
    return { r: matmul({ data: a, shape: [B, M, K] }, { data: b, shape: [K, N] }), check: () => refMatmul(a, b, B * M, K, N) };
  };
  const sm = (R: number, N: number) => {
    const x = randn(rand, R * N, -5, 5);
    return { r: softmax({ data: x, shape: [R, N] }), check: () => refSoftmax(x, N) };
  };
  const at = (B: number, L: number, S: number, E: number, Ev: number, masked: boolean, causal: boolean) => {
    const q = randn(rand, B * L * E), k = randn(rand, B * S * E), v = randn(rand, B * S * Ev);
    const mask = masked ? { data: randBytes(rand, L * S, 0.8), shape: [L, S] } : undefined;
    const r = sdpa({ data: q, shape: [B, L, E] }, { data: k, shape: [B, S, E] }, { data: v, shape: [B, S, Ev] }, { mask, causal, returnWeights: true });
    return { r: r.output, check: () => refAttention(q, k, v, [B], L, S, E, Ev, { causal, masks: mask ? [{ ...mask, bool: true }] : [] }).out };
  };
  // the first few: the largest of each kind
  mm(64, 64, 64, 3); sm(8, 300); at(2, 48, 48, 32, 32, true, true);
  const base = state();
  const reservedAfter: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const kind = i % 3;
    const { r, check } = kind === 0 ? mm(int(1, 64), int(1, 64), int(1, 64), int(1, 3))
      : kind === 1 ? sm(int(1, 8), int(1, 300))
      : at(int(1, 2), int(1, 48), int(1, 48), int(1, 32), int(1, 32), rand() < 0.5, rand() < 0.5);
    if (i % 97 === 0) assertClose(r.data, check(), 1e-5, `call ${i}`);
    assert.is(rt.heap.bytesInUse, base.inUse, `call ${i}: bytesInUse back`);
    reservedAfter.push(rt.heap.bytesReserved);
  }
  assert.is(Math.max(...reservedAfter), base.reserved, `bytesReserved grew after the first calls: ${base.reserved} → ${Math.max(...reservedAfter)}`);
  sameState(base, "after 1000 calls");
});

test("too large for 4 GiB: sdpa with returnWeights at L = S = 70 000 is a RangeError from sdpa before anything is allocated; the next call works", () => {
  const before = state();
  const t = (n: number, w: number) => ({ data: new Float32Array(n * w), shape: [n, w] });
  let err: unknown;
  try { sdpa(t(70000, 1), t(70000, 1), t(70000, 1), { returnWeights: true }); } catch (e) { err = e; }
  assert.instance(err, RangeError, `threw ${String(err)}`);
  assert.match((err as Error).message, /^scaledDotProductAttention: .*need .* of WebAssembly memory, more than the 4 GiB/,
    `the message names the function and the limit; got "${(err as Error).message}"`);
  sameState(before, "sdpa L = S = 70000");
  stillWorks("after sdpa L = S = 70000");
});

test("too large for 4 GiB: sdpa with returnWeights at L = S = 40 000 (6.4 GB of weights) is a RangeError from sdpa before anything is allocated (WASM or a JS result); the next call works", () => {
  const before = state();
  const t = (n: number, w: number) => ({ data: new Float32Array(n * w), shape: [n, w] });
  const q = t(40000, 2), k = t(40000, 2), v = t(40000, 3), js = jsBuffers();
  throwsWith(() => sdpa(q, k, v, { returnWeights: true }), RangeError,
    /^scaledDotProductAttention: .*need .* of WebAssembly memory, more than the 4 GiB/, "sdpa L = S = 40000 weights");
  noBigJsAllocation(js, "sdpa L = S = 40000");
  sameState(before, "sdpa L = S = 40000");
  stillWorks("after sdpa L = S = 40000");
});

test("too large for 4 GiB: matmul [40000, 1] · [1, 40000] is a RangeError from matmul before anything is allocated (WASM or a JS result); the next call works", () => {
  const before = state();
  const a = { data: new Float32Array(40000), shape: [40000, 1] }, b = { data: new Float32Array(40000), shape: [1, 40000] }, js = jsBuffers();
  throwsWith(() => matmul(a, b), RangeError,
    /^matmul: a, b and the result need .* of WebAssembly memory, more than the 4 GiB/, "matmul 40000×40000");
  noBigJsAllocation(js, "matmul 40000×40000");
  sameState(before, "matmul 40000×40000");
  stillWorks("after matmul 40000×40000");
});

test("too large for 4 GiB: softmax of 1 073 479 681 floats (one more than 4 GiB − 1 MiB holds; softmax works in place) is a RangeError from softmax before anything is allocated (WASM or a JS result); the next call works", () => {
  const before = state();
  const n = (MAX_BYTES - 1024 * 1024) / 4 + 1;
  const x = new Float32Array(n), js = jsBuffers();   // zero pages, never touched
  throwsWith(() => softmax({ data: x, shape: [n] }), RangeError,
    /^softmax: x\.data must have at most 1073479680 floats \(softmax copies x into WebAssembly memory once and works in place there; .*\); got 1073479681 floats \(4\.00 GiB\)$/, "softmax 1073479681");
  noBigJsAllocation(js, "softmax 1073479681");
  sameState(before, "softmax 1073479681");
  stillWorks("after softmax 1073479681");
});

// ---- the Heap class on its own memory ----------------------------------------------------------------------------

const newHeap = (base = 1024, initial = 1, maximum?: number) =>
  new Heap(new WebAssembly.Memory(maximum === undefined ? { initial } : { initial, maximum }), base);

test("Heap: blocks are 64-aligned from a base rounded up to 64, sized in 64-byte granules, and do not overlap", () => {
  const h = newHeap(1000);
  const sizes = [1, 64, 65, 0, 127, 128, 1000, 3];
  const ps = sizes.map((n) => h.alloc(n));
  assert.is(ps[0], 1024, "base 1000 rounds up to 1024");
  const granules = sizes.map((n) => Math.max(64, Math.ceil(n / 64) * 64));
  ps.forEach((p, i) => {
    assert.is(p % 64, 0, `alloc(${sizes[i]}) at ${p}`);
    if (i > 0) assert.is(p, ps[i - 1] + granules[i - 1], `alloc(${sizes[i]}) right after the previous block`);
  });
  assert.is(h.bytesInUse, granules.reduce((a, b) => a + b, 0));
  assert.is(newHeap(1024).alloc(5), 1024, "base already aligned");
});

test("Heap: a freed block is reused (first fit), and a larger free block is split", () => {
  const h = newHeap();
  const a = h.alloc(128), b = h.alloc(128), c = h.alloc(64);
  h.release(a);
  assert.is(h.alloc(64), a, "first 64 of a's 128");
  assert.is(h.alloc(64), a + 64, "the rest of a");
  assert.is(h.alloc(64), c + 64, "nothing free: the top");
  h.release(b);
  assert.is(h.alloc(100), b, "b reused for a 128-byte request");
  assert.is(h.bytesInUse, 64 + 64 + 64 + 128 + 64);
});

test("Heap: freed neighbours coalesce (a then b, b then a, and a, c then b) into one block that takes a bigger request", () => {
  for (const order of [["a", "b"], ["b", "a"], ["a", "c", "b"], ["c", "a", "b"]]) {
    const h = newHeap();
    const blk: Record<string, number> = { a: h.alloc(128), b: h.alloc(128), c: h.alloc(128) };
    const top = h.alloc(64);   // keeps the freed blocks below the top
    for (const n of order) h.release(blk[n]);
    const total = 128 * order.length;
    assert.is(h.alloc(total), blk.a, `release ${order}: one ${total}-byte block at a`);
    assert.is(h.alloc(64), top + 64, `release ${order}: nothing left free below the top`);
  }
});

test("Heap: releasing the top block lowers the top, also past free blocks below it; all released → back to the base", () => {
  const h = newHeap();
  const a = h.alloc(64), b = h.alloc(256), c = h.alloc(64);
  assert.is(h.bytesAvailable, MAX_BYTES - (c + 64));
  h.release(b);   // in the middle: a free block
  h.release(c);   // the top: lowers to c, then past the free b
  assert.is(h.bytesAvailable, MAX_BYTES - b, "top lowered to b");
  assert.is(h.alloc(1000), b, "the next request starts at b");
  h.release(b);
  h.release(a);
  assert.is(h.bytesInUse, 0);
  assert.is(h.bytesAvailable, MAX_BYTES - 1024, "top back at the base");
  assert.is(h.alloc(1), 1024);
});

test("Heap: 3000 seeded random allocs and releases keep blocks 64-aligned, disjoint and inside the memory; all released → back to the base", () => {
  const h = newHeap(1000);
  const rand = rng(31337);
  const live: { p: number; size: number }[] = [];
  let inUse = 0;
  for (let step = 0; step < 3000; step++) {
    if (live.length === 0 || rand() < 0.55) {
      const n = rand() < 0.05 ? Math.floor(rand() * 200000) : Math.floor(rand() * 3000);
      const size = Math.max(64, Math.ceil(n / 64) * 64);
      const p = h.alloc(n);
      assert.is(p % 64, 0, `step ${step}: alloc(${n}) at ${p}`);
      assert.ok(p >= 1024 && p + size <= h.bytesReserved, `step ${step}: block [${p}, ${p + size}) inside [1024, ${h.bytesReserved})`);
      for (const b of live) {
        if (p < b.p + b.size && b.p < p + size) assert.unreachable(`step ${step}: [${p}, ${p + size}) overlaps live [${b.p}, ${b.p + b.size})`);
      }
      live.push({ p, size });
      inUse += size;
      new Uint8Array(h.memory.buffer, p, size).fill(step & 255);   // usable memory
    } else {
      const [b] = live.splice(Math.floor(rand() * live.length), 1);
      h.release(b.p);
      inUse -= b.size;
    }
    assert.is(h.bytesInUse, inUse, `step ${step}: bytesInUse`);
  }
  while (live.length) h.release(live.splice(Math.floor(rand() * live.length), 1)[0].p);
  assert.is(h.bytesInUse, 0);
  assert.is(h.bytesAvailable, MAX_BYTES - 1024, "top back at the base");
  assert.is(h.alloc(1), 1024);
});

test("Heap: the memory grows in whole 64 KiB pages only when nothing free fits, and freed space is reused without growing", () => {
  const h = newHeap(1024, 1);
  const a = h.alloc(60000);
  assert.is(h.bytesReserved, PAGE, "fits in the first page");
  const b = h.alloc(10000);
  assert.is(h.bytesReserved, 2 * PAGE, "one more page");
  assert.is(b, a + 60032);
  h.release(b);
  h.release(a);
  assert.is(h.bytesReserved, 2 * PAGE, "never shrinks");
  const c = h.alloc(100000);
  assert.is(c, 1024);
  assert.is(h.bytesReserved, 2 * PAGE, "reused without growing");
  h.alloc(200000);
  assert.is(h.bytesReserved, Math.ceil((1024 + 100032 + 200000) / PAGE) * PAGE, "grown to the pages the top needs");
  // views made after growing see the new memory
  const v = h.f32(c, 4);
  v.set([1, 2, 3, 4]);
  assert.equal(Array.from(new Float32Array(h.memory.buffer, c, 4)), [1, 2, 3, 4]);
});

test("Heap: a request beyond 4 GiB is a RangeError naming the caller, and changes nothing", () => {
  const h = newHeap();
  const a = h.alloc(100);
  throwsWith(() => h.alloc(MAX_BYTES, "myFn"), RangeError, /^myFn: needs 4\.00 GiB more WebAssembly memory than the 4 GiB a module can address/, "alloc 4 GiB");
  throwsWith(() => h.alloc(5 * 2 ** 30), RangeError, /^wasm-attention: needs 5\.00 GiB/, "alloc 5 GiB, default caller");
  assert.is(h.bytesInUse, 128);
  assert.is(h.bytesReserved, PAGE);
  assert.is(h.alloc(64), a + 128, "the top did not move");
});

test("Heap: a refused grow (memory at its maximum) is a RangeError naming the caller, and changes nothing", () => {
  const h = newHeap(1024, 1, 2);
  const a = h.alloc(64);
  throwsWith(() => h.alloc(200000, "f"), RangeError, /^f: could not grow WebAssembly memory from 64\.0 KiB to 256\.0 KiB/, "grow past maximum");
  assert.is(h.bytesReserved, PAGE);
  assert.is(h.bytesInUse, 64);
  assert.is(h.alloc(64), a + 64, "the top did not move");
  assert.ok(h.alloc(100000) > 0, "a grow within the maximum still works");
  assert.is(h.bytesReserved, 2 * PAGE);
});

test("Heap: releasing an unknown block, or the same block twice, throws", () => {
  const h = newHeap();
  const a = h.alloc(64);
  h.alloc(64);
  throwsWith(() => h.release(a + 4), Error, /release of unknown block/, "unknown");
  h.release(a);
  throwsWith(() => h.release(a), Error, new RegExp(`release of unknown block ${a}`), "twice");
});

test("Frame: done() releases every block of the frame (and only those); the heap is back to empty", () => {
  const h = newHeap();
  const keep = h.alloc(64);
  const f = new Frame(h, "fn");
  const ps = [10, 300, 64, 5000].map((n) => f.alloc(n));
  assert.ok(new Set(ps).size === 4 && ps.every((p) => p % 64 === 0));
  f.done();
  assert.is(h.bytesInUse, 64, "only the block outside the frame remains");
  assert.is(h.alloc(1), keep + 64, "top back after the frame");
  f.done();   // idempotent
  assert.is(h.bytesInUse, 128);
  throwsWith(() => new Frame(h, "myCall").alloc(MAX_BYTES), RangeError, /^myCall: /, "frame passes its fn to the heap");
});

test.run();
