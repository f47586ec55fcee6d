// Test helpers: seeded random data, tolerance checks that print the first mismatches, and the
// build under test (WASM_ATTENTION_BUILD: "simd" or "debug"; scripts/test.mjs runs both).
import * as assert from "uvu/assert";
import { init, type BuildName } from "../src/index.js";
import { mulberry32 } from "../src/random.js";

export const BUILD = ((globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.WASM_ATTENTION_BUILD ?? "simd") as BuildName;
await init({ build: BUILD });

/** mulberry32 (src/random.ts): a small seeded PRNG, so failures reproduce. */
export const rng = mulberry32;

/** n floats uniform in [lo, hi). */
export function randn(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = lo + (hi - lo) * rand();
  return x;
}

export function randBytes(rand: () => number, n: number, pOne = 0.7): Uint8Array {
  const x = new Uint8Array(n);
  for (let i = 0; i < n; i++) x[i] = rand() < pOne ? 1 : 0;
  return x;
}

/**
 * |got − ref| ≤ rtol · max(1, max|ref|) elementwise over the whole array, NaN only where ref is NaN. On
 * failure prints the first mismatches and maxdiff. The floor of 1 makes it an absolute check for values
 * below 1: it is for matmul results; weights, softmax and attention outputs use assertRowsClose.
 */
export function assertClose(got: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, what: string): void {
  assert.is(got.length, ref.length, `${what}: length`);
  let scale = 1;
  for (let i = 0; i < ref.length; i++) if (Number.isFinite(ref[i])) scale = Math.max(scale, Math.abs(ref[i]));
  const tol = rtol * scale;
  let maxdiff = 0;
  const bad: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const g = got[i], r = ref[i];
    const ok = Number.isNaN(r) ? Number.isNaN(g) : !Number.isFinite(r) ? g === r : Math.abs(g - r) <= tol;
    if (Number.isFinite(r) && Number.isFinite(g)) maxdiff = Math.max(maxdiff, Math.abs(g - r));
    if (!ok && bad.length < 5) bad.push(`[${i}] got ${g} want ${r}`);
    if (!ok && bad.length === 5) { bad.push("…"); }
    if (!ok && Number.isNaN(g) && !Number.isNaN(r)) maxdiff = Infinity;
  }
  if (bad.length) assert.unreachable(`${what}: mismatch (tol ${tol.toExponential(2)}, maxdiff ${maxdiff.toExponential(3)}): ${bad.join(", ")}`);
}

// WASM_ATTENTION_TOL_LOG=<file>: every assertRowsClose appends "worst<TAB>rtol<TAB>what" to it (to measure margins).
const LOG_FILE = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.WASM_ATTENTION_TOL_LOG;
const appendLog = LOG_FILE ? (await import("node:fs")).appendFileSync : undefined;

/**
 * Row by row: got and ref are [rows, cols] row-major (cols ≥ 1), and in row r every element has
 * |got − ref| ≤ rtol · scale_r, where scale_r = max |ref| over the row's finite values. So 1e-5 means
 * 1e-5 of each row's own size: a softmax or weights row near 1/S is held to 1e-5 of 1/S, not of 1.
 * For sums whose terms may cancel (attention outputs), pass `mag`, the size each element is summed from
 * (refAttention's and refMha's mag): then scale_r = max mag over the row (finite values), the scale
 * that bounds the rounding error. A row whose scale is 0 (all zeros: nothing to attend to) must be
 * exactly 0; NaN only where ref is NaN, ±Infinity only where ref has it. On failure prints the worst
 * rows. Returns the largest |got − ref| / scale_r seen.
 */
export function assertRowsClose(
  got: ArrayLike<number>, ref: ArrayLike<number>, cols: number, rtol: number, what: string, mag?: ArrayLike<number>,
): number {
  assert.is(got.length, ref.length, `${what}: length`);
  if (ref.length === 0) return 0;
  if (!(cols >= 1) || ref.length % cols !== 0) assert.unreachable(`${what}: ${ref.length} values are not rows of ${cols}`);
  const rows = ref.length / cols;
  if (mag && mag.length !== ref.length) assert.unreachable(`${what}: ${mag.length} magnitudes for ${ref.length} values`);
  const size = mag ?? ref;
  let worst = 0;
  const bad: string[] = [];
  for (let r = 0; r < rows; r++) {
    let scale = 0;
    for (let j = 0; j < cols; j++) { const x = size[r * cols + j]; if (Number.isFinite(x)) scale = Math.max(scale, Math.abs(x)); }
    const tol = rtol * scale;
    let rowWorst = 0, first = -1;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j, g = got[i], x = ref[i];
      let ok: boolean;
      if (Number.isNaN(x)) ok = Number.isNaN(g);
      else if (!Number.isFinite(x)) ok = g === x;
      else {
        const d = Math.abs(g - x);
        ok = d <= tol;   // false for NaN
        const rel = Number.isNaN(d) ? Infinity : d === 0 ? 0 : scale === 0 ? Infinity : d / scale;
        rowWorst = Math.max(rowWorst, rel);
      }
      if (!ok && first < 0) first = j;
    }
    worst = Math.max(worst, rowWorst);
    if (first >= 0 && bad.length < 5) {
      bad.push(`row ${r} (scale ${scale.toExponential(2)}, worst ${rowWorst.toExponential(2)} of it): [${r * cols + first}] got ${got[r * cols + first]} want ${ref[r * cols + first]}`);
    } else if (first >= 0 && bad.length === 5) bad.push("…");
  }
  if (bad.length) assert.unreachable(`${what}: mismatch (rtol ${rtol.toExponential(1)} of each row's scale, worst ${worst.toExponential(3)}): ${bad.join("; ")}`);
  if (appendLog) appendLog(LOG_FILE!, `${worst.toExponential(3)}\t${rtol}\t${what}\n`);
  return worst;
}

/** The dims every kernel loop is exercised with (test/constants.ts: from MR, NR and the f32x4 width). */
export { ODD_SIZES } from "./constants.js";

export function throwsWith(fn: () => unknown, cls: typeof TypeError | typeof RangeError, pattern: RegExp, what: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, cls, `${what}: threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.match((e as Error).message, pattern, `${what}: message`);
    return;
  }
  assert.unreachable(`${what}: did not throw`);
}
