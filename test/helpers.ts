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
 * |got − ref| ≤ rtol · max(1, max|ref|) elementwise (tolerance relative to the output's scale),
 * NaN only where ref is NaN. On failure prints the first mismatches and maxdiff.
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

/** The dims every kernel loop is exercised with: named from the tiles (MR = 5 rows, NR = 8 columns, f32x4). */
export const ODD_SIZES = [1, 3, 4, 5, 8, 17, 63, 64, 65];

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
