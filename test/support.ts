// Test support shared by test/assembly/ and test/src/ (test/helpers.ts is owned elsewhere):
// guarded WASM buffers for the raw-kernel tests, tile names for test titles, and a "still works"
// check run after every thrown error in the API tests.
// Shapes: M×K · K×N (matmul); L query rows, S keys, E query/key width, Ev value width (attention).
import * as assert from "uvu/assert";
import { type Runtime } from "../src/wasm.js";
import { matmul, scaledDotProductAttention, softmax } from "../src/index.js";
import { refAttention, refMatmul, refSoftmax } from "./reference.js";
import { assertClose, assertRowsClose, randn, rng } from "./helpers.js";

/** Guard words around every buffer: 16 floats (64 bytes) before and after. */
export const GUARD = 16;
/** A quiet NaN with a payload: if a kernel reads it as data the result is NaN; if it writes over it we see it. */
export const GUARD_BITS = 0x7fc0_a5a5;

export interface Buf {
  /** address of the first element (64-aligned) */
  ptr: number;
  /** elements (f32 or u8 or i32 as `type` says) */
  n: number;
  type: "f32" | "u8" | "i32";
  role: "input" | "output" | "scratch";
  name: string;
  /** the block from heap.alloc (the guard before starts here) */
  base: number;
  /** bytes of the data region */
  bytes: number;
  /** inputs: a copy of the bytes written, to check they are unchanged */
  snapshot?: Uint8Array;
}

/**
 * WASM buffers for one kernel call, each with GUARD_BITS guards before and after. Outputs and scratch are
 * pre-filled with GUARD_BITS (NaN) so that an element the kernel should write but does not, or a scratch
 * word it reads before writing, shows up. `check()` verifies every guard and every input; `dispose()`
 * releases everything. Views are made on demand (an allocation may grow the memory and detach them).
 */
export class Guarded {
  readonly bufs: Buf[] = [];
  constructor(readonly rt: Runtime) {}

  private alloc(bytes: number, type: Buf["type"], role: Buf["role"], name: string): Buf {
    const padded = Math.ceil(bytes / 4) * 4;
    const base = this.rt.heap.alloc(padded + 2 * GUARD * 4);
    const b: Buf = { ptr: base + GUARD * 4, n: type === "u8" ? bytes : bytes / 4, type, role, name, base, bytes };
    this.bufs.push(b);
    // guards (and the fill of outputs/scratch)
    new Uint32Array(this.rt.heap.memory.buffer, base, padded / 4 + 2 * GUARD).fill(GUARD_BITS);
    return b;
  }

  private u8view(p: number, n: number): Uint8Array {
    return new Uint8Array(this.rt.heap.memory.buffer, p, n);
  }

  /** An input buffer holding `data` (checked unchanged by check()). */
  input(data: Float32Array | Uint8Array | Int32Array, name = "input"): Buf {
    const type = data instanceof Float32Array ? "f32" : data instanceof Uint8Array ? "u8" : "i32";
    const b = this.alloc(data.byteLength, type, "input", name);
    b.n = data.length;
    const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.u8view(b.ptr, data.byteLength).set(src);
    b.snapshot = src.slice();
    return b;
  }

  /** An output buffer of n floats, pre-filled with GUARD_BITS. */
  output(n: number, name = "output"): Buf {
    return this.alloc(n * 4, "f32", "output", name);
  }

  /** Scratch of `bytes` bytes (16-aligned, pre-filled with GUARD_BITS): only its guards are checked. */
  scratch(bytes: number, name = "scratch"): Buf {
    return this.alloc(Math.ceil(bytes), "u8", "scratch", name);
  }

  f32(b: Buf): Float32Array {
    return new Float32Array(this.rt.heap.memory.buffer, b.ptr, b.n);
  }

  u32(b: Buf): Uint32Array {
    return new Uint32Array(this.rt.heap.memory.buffer, b.ptr, b.n);
  }

  /** Guards intact around every buffer, inputs byte-for-byte unchanged. */
  check(what: string): void {
    const mem = this.rt.heap.memory.buffer;
    for (const b of this.bufs) {
      const padded = Math.ceil(b.bytes / 4) * 4;
      const before = new Uint32Array(mem, b.base, GUARD);
      const after = new Uint32Array(mem, b.ptr + padded, GUARD);
      for (let i = 0; i < GUARD; i++) {
        if (before[i] !== GUARD_BITS) assert.unreachable(`${what}: guard word ${i - GUARD} before ${b.role} ${b.name} overwritten (0x${before[i].toString(16)})`);
        if (after[i] !== GUARD_BITS) assert.unreachable(`${what}: guard word ${i} after ${b.role} ${b.name} (of ${b.n}) overwritten (0x${after[i].toString(16)})`);
      }
      if (b.snapshot) {
        const now = this.u8view(b.ptr, b.bytes);
        for (let i = 0; i < b.bytes; i++) {
          if (now[i] !== b.snapshot[i]) assert.unreachable(`${what}: input ${b.name} changed at byte ${i} (element ${Math.floor(i / (b.type === "u8" ? 1 : 4))})`);
        }
      }
    }
  }

  /**
   * Elements of output `b` outside the strided block rows × cols (row stride ld, starting at element off)
   * still hold GUARD_BITS: the kernel wrote nowhere else.
   */
  untouchedOutside(b: Buf, rows: number, cols: number, ld: number, off: number, what: string): void {
    const u = this.u32(b);
    for (let i = 0; i < b.n; i++) {
      const r = Math.floor((i - off) / ld), c = (i - off) - r * ld;
      const inside = i >= off && r < rows && c < cols;
      if (!inside && u[i] !== GUARD_BITS) {
        assert.unreachable(`${what}: ${b.name}[${i}] (row ${r}, col ${c}) outside the ${rows}×${cols} block (ld ${ld}, offset ${off}) was written`);
      }
    }
  }

  /** The rows × cols block of f32 buffer b with row stride ld starting at element off, compacted. */
  gather(b: Buf, rows: number, cols: number, ld: number, off = 0): Float32Array {
    const v = this.f32(b), out = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = v[off + r * ld + c];
    return out;
  }

  dispose(): void {
    for (let i = this.bufs.length - 1; i >= 0; i--) this.rt.heap.release(this.bufs[i].base);
    this.bufs.length = 0;
  }
}

/** Runs body with a fresh Guarded, always disposing it, and checks the heap is back where it was. */
export function guarded<T>(rt: Runtime, body: (g: Guarded) => T): T {
  const before = rt.heap.bytesInUse;
  const g = new Guarded(rt);
  try {
    return body(g);
  } finally {
    g.dispose();
    assert.is(rt.heap.bytesInUse, before, "test buffers released");
  }
}

/** Lays out a logical rows × cols matrix at element strides (rs, cs) inside a buffer of n floats; the rest is NaN. */
export function layout(m: Float32Array, rows: number, cols: number, rs: number, cs: number, n: number, off = 0): Float32Array {
  const out = new Float32Array(n).fill(NaN);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[off + r * rs + c * cs] = m[r * cols + c];
  return out;
}

/** "5 (eq_MR)": a size named by how it relates to a tile size t (MR = 5, NR = 8, f32x4 = 4). */
export function tile(n: number, t: number, name: string): string {
  const rel = n < t ? "lt" : n === t ? "eq" : n % t === 0 ? "div" : "gt";
  return `${n} (${rel}_${name})`;
}

/** Bits of a float32. */
export function f32bits(x: number): number {
  const f = new Float32Array([x]);
  return new Uint32Array(f.buffer)[0];
}

/**
 * After a thrown error: the library still gives correct results (small matmul, softmax and sdpa against
 * the reference).
 */
export function stillWorks(what: string): void {
  const rand = rng(4242);
  const a = randn(rand, 3 * 5), b = randn(rand, 5 * 4);
  assertClose(matmul({ data: a, shape: [3, 5] }, { data: b, shape: [5, 4] }).data, refMatmul(a, b, 3, 5, 4), 1e-5, `${what}: then matmul`);
  const x = randn(rand, 2 * 7, -3, 3);
  assertRowsClose(softmax({ data: x, shape: [2, 7] }).data, refSoftmax(x, 7), 7, 1e-5, `${what}: then softmax`);
  const q = randn(rand, 4 * 3), k = randn(rand, 5 * 3), v = randn(rand, 5 * 2);
  const r = scaledDotProductAttention({ data: q, shape: [4, 3] }, { data: k, shape: [5, 3] }, { data: v, shape: [5, 2] }, { causal: true });
  const ref = refAttention(q, k, v, [], 4, 5, 3, 2, { causal: true });
  assertRowsClose(r.output.data, ref.out, 2, 1e-5, `${what}: then sdpa`, ref.mag);
}
