// Rotary position embeddings (RoPE, Su et al. 2021): applyRotary for users who project Q/K
// themselves, and the pieces MultiHeadAttention's `rotary` config uses.
//   Row at position p, pair d < dim/2: angle θ = p · base^(−2d/dim), computed in float64 (p · the
//   float64 frequency, then cos/sin in float64), rounded to f32 once per call into a table
//   [rows, dim] (cos half | sin half); the kernel (assembly/rotary.ts) rotates
//   (a, b) → (a·cos θ − b·sin θ, b·cos θ + a·sin θ). Position 100 000 keeps the f32 table's own rounding
//   (≤ 6e-8), unlike angles formed in f32 (p · f32 frequency: errors ~ p · 2^-24 rad).
//   interleaved false: pairs (d, d + dim/2) (GPT-NeoX, HuggingFace LLaMA); true: (2d, 2d + 1) (GPT-J,
//   Meta's LLaMA). Channels ≥ dim are untouched (GPT-NeoX's rotary_pct).
import { checkFits, put, withFrame } from "./call.js";
import type { Frame } from "./memory.js";
import { pieces, runJob, threadsFor } from "./parallel.js";
import { type Tensor, checkBool, checkInt, checkOptions, checkOut, checkTensor, fmtShape, rangeError, typeError } from "./validate.js";
import { type Runtime, runtime } from "./wasm.js";

export interface RotaryOptions {
  /** The position of each of the L rows (Int32Array [L]); instead of offset. */
  positions?: Int32Array;
  /** Row i is at position offset + i; default 0. An integer ≥ 0; instead of positions. */
  offset?: number;
  /** Channels rotated, from the start of each row: an even integer in [2, D]; default D (which must then be even). */
  dim?: number;
  /** Frequency base: pair d turns by base^(−2d/dim) per position. A finite number > 0; default 10000. */
  base?: number;
  /** Pairs (2d, 2d + 1) (GPT-J) instead of (d, d + dim/2) (GPT-NeoX, HuggingFace LLaMA); default false. */
  interleaved?: boolean;
  /** Write the result into this Float32Array (x's length) instead of a new one; it may be x.data itself. */
  out?: Float32Array;
}

/** A checked rotary setting: the rotated width, frequency base and pair layout. */
export interface RotarySpec {
  readonly dim: number;
  readonly base: number;
  readonly interleaved: boolean;
}

const KEYS = ["positions", "offset", "dim", "base", "interleaved", "out"] as const;
const SPEC_KEYS = ["dim", "base", "interleaved"] as const;

/** Checks dim (even, in [2, D]; default D), base (finite > 0; default 10000) and interleaved of `o`. */
function checkSpec(fn: string, arg: string, o: { dim?: unknown; base?: unknown; interleaved?: unknown }, D: number, width: string): RotarySpec {
  let dim: number;
  if (o.dim === undefined) {
    if (D % 2 !== 0) throw rangeError(fn, `${arg}dim`, `be given when ${width} = ${D} is odd (an even number of channels to rotate)`, "undefined");
    dim = D;
  } else {
    dim = checkInt(fn, `${arg}dim`, o.dim, 2);
    if (dim % 2 !== 0 || dim > D) throw rangeError(fn, `${arg}dim`, `be even and ≤ ${width} = ${D}`, dim);
  }
  let base = 10000;
  if (o.base !== undefined) {
    if (typeof o.base !== "number") throw typeError(fn, `${arg}base`, "a number", o.base);
    if (!Number.isFinite(o.base) || o.base <= 0) throw rangeError(fn, `${arg}base`, "be a finite number > 0", o.base);
    base = o.base;
  }
  return { dim, base, interleaved: checkBool(fn, `${arg}interleaved`, o.interleaved, false) };
}

/** Checks a layer's `rotary` config ({ dim?, base?, interleaved? }) for heads of width Dh. */
export function checkRotaryConfig(fn: string, arg: string, v: unknown, Dh: number): RotarySpec | null {
  if (v === undefined) return null;
  if (typeof v !== "object" || v === null) throw typeError(fn, arg, "an object { dim?, base?, interleaved? }", v);
  const o = checkOptions<{ dim: number; base: number; interleaved: boolean }>(fn, v, SPEC_KEYS);
  return checkSpec(fn, `${arg}.`, o, Dh, "the head width embedDim / numHeads");
}

/** Checks an explicit positions option: an Int32Array of length L. */
export function checkPositions(fn: string, arg: string, v: unknown, L: number): Int32Array {
  if (!(v instanceof Int32Array)) throw typeError(fn, arg, "an Int32Array (one position per row)", v);
  if (v.length !== L) throw rangeError(fn, `${arg}.length`, `equal the number of rows L = ${L}`, v.length);
  return v;
}

/**
 * The f32 table [rows, dim] of cos θ | sin θ for each row's position (positions[i], or offset + i), θ in
 * float64 as the header says.
 */
export function rotaryTable(spec: RotarySpec, rows: number, positions: Int32Array | null, offset: number): Float32Array {
  const { dim, base } = spec, half = dim / 2;
  const inv = new Float64Array(half);
  for (let d = 0; d < half; d++) inv[d] = Math.pow(base, -2 * d / dim);
  const t = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const p = positions ? positions[r] : offset + r;
    const o = r * dim;
    for (let d = 0; d < half; d++) {
      const a = p * inv[d];
      t[o + d] = Math.cos(a);
      t[o + half + d] = Math.sin(a);
    }
  }
  return t;
}

/**
 * Rotates, in place, `heads` heads (hs elements apart) of `rows` rows (ld elements apart) at x, row r
 * by table row r (tab: an address of rotaryTable's rows), split across threads by rows (each element is
 * independent: the bits do not depend on the split).
 */
export function rotateRows(rt: Runtime, f: Frame, x: number, ld: number, hs: number, rows: number, heads: number, spec: RotarySpec, tab: number): void {
  if (rows === 0 || heads === 0) return;
  const work = 3 * rows * heads * spec.dim;
  const tasks = pieces(rows, 1, threadsFor(rt, work)).map(([r0, r1]) =>
    [x + r0 * ld * 4, ld, hs, r1 - r0, heads, spec.dim, tab + r0 * spec.dim * 4, spec.interleaved ? 1 : 0]);
  runJob(rt, f, "rotary_f32", tasks, work);
}

/**
 * Rotary position embeddings on x [..., L, D]: row i (of every leading index) at position
 * positions[i] (or offset + i) has its first `dim` channels rotated in pairs by θ = p · base^(−2d/dim).
 * @throws {TypeError} a non-tensor x, non-Float32Array data or out, non-Int32Array positions, both positions and offset, non-number dim/base/offset, a non-boolean interleaved, an unknown option
 * @throws {RangeError} rank < 2, data length ≠ shape product, positions not of length L, offset < 0 or fractional, dim odd, < 2 or > D (or absent with D odd), base ≤ 0 or not finite, out of another length, too large for WASM memory
 */
export function applyRotary(x: Tensor, options?: RotaryOptions): Tensor {
  const fn = "applyRotary";
  const o = checkOptions<RotaryOptions>(fn, options, KEYS);
  const X = checkTensor(fn, "x", x, 2, "[..., L, D]");
  const shape = X.shape.slice();
  const L = shape[shape.length - 2], D = shape[shape.length - 1];
  if (o.positions !== undefined && o.offset !== undefined) {
    throw new TypeError(`${fn}: give options.positions or options.offset, not both`);
  }
  const positions = o.positions === undefined ? null : checkPositions(fn, "options.positions", o.positions, L);
  const offset = checkInt(fn, "options.offset", o.offset, 0, 0);
  if (D === 0) throw rangeError(fn, "x.shape", `have a last axis D ≥ 2 (channels to rotate), [..., L, D]`, fmtShape(shape));
  const spec = checkSpec(fn, "options.", o, D, "x's last axis D");
  const out = checkOut(fn, "options.out", o.out, X.data.length, shape);
  const n = X.data.length;
  checkFits(fn, (n + L * spec.dim) * 4 + 3 * 64, "x and its angles");
  if (n === 0) return { data: out, shape };
  const rt = runtime(fn);
  const tab = rotaryTable(spec, L, positions, offset);
  return withFrame(rt, fn, (f) => {
    const px = put(rt, f, X.data);
    const pt = put(rt, f, tab);
    // rows = L (ld = D), the leading indices as "heads" L·D apart: one table row per position.
    rotateRows(rt, f, px, D, L * D, L, n / (L * D), spec, pt);
    out.set(rt.heap.f32(px, n));
    return { data: out, shape };
  });
}

/**
 * MultiHeadAttention's rotation of projected rows: `B` blocks of `rows` token rows (ld elements apart;
 * block b at x + b·rows·ld floats), each row `heads` heads Dh apart, row i of every block by table row i.
 */
export function rotateBlocks(rt: Runtime, f: Frame, x: number, B: number, rows: number, ld: number, heads: number, Dh: number,
  spec: RotarySpec, tab: number): void {
  for (let b = 0; b < B; b++) rotateRows(rt, f, x + b * rows * ld * 4, ld, Dh, rows, heads, spec, tab);
}
