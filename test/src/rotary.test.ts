// test/src/rotary.test.ts ↔ src/rotary.ts, assembly/rotary.ts (applyRotary), and MultiHeadAttention's
// `rotary` config (src/mha.ts, mha-config.ts).
//   applyRotary(x [..., L, D], { positions | offset, dim, base, interleaved }): row i at position p has
//   its first dim channels rotated in pairs by θ = p · base^(−2d/dim) (test/reference-rotary.ts, float64).
// Sizes: D and dim through the kernel's vector body (4 pairs a step halves / 2 pairs interleaved) and
// scalar tails; positions up to 100 000 and beyond.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type Tensor, applyRotary, init } from "../../src/index.js";
import { tuning } from "../../src/parallel.js";
import { BUILD, assertRowsClose, randn, rng, throwsWith } from "../helpers.js";
import { refRotary } from "../reference-rotary.js";
import { stillWorks } from "../support.js";
import { bitsEqual } from "./reliability-support.js";

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
const minWork = tuning.minWork;

test.after(async () => {
  tuning.minWork = minWork;
  await init({ build: BUILD });
});

/** applyRotary against refRotary at `rtol` of each row's scale; x unchanged. Returns the result. */
function check(x: Float32Array, shape: number[], o: { positions?: Int32Array; offset?: number; dim?: number; base?: number; interleaved?: boolean },
  rtol: number, what: string): Float32Array {
  const L = shape[shape.length - 2], D = shape[shape.length - 1];
  const x0 = x.slice();
  const r = applyRotary({ data: x, shape }, o);
  assert.equal(r.shape, shape, `${what}: shape`);
  const pos = (row: number) => (o.positions ? o.positions[row % L] : (o.offset ?? 0) + (row % L));
  const ref = refRotary(x, prod(shape) / D, 1, D, pos, { dim: o.dim ?? D, base: o.base, interleaved: o.interleaved });
  assertRowsClose(r.data, ref.y, D, rtol, what, ref.mag);
  assert.equal(Array.from(x), Array.from(x0), `${what}: x unchanged`);
  return r.data;
}

test("applyRotary both layouts, D and dim through the vector body and the tails (D ∈ {2 … 130}, dim ≤ D even), rows ∈ {1, 3, 9}", () => {
  for (const D of [2, 4, 6, 8, 10, 16, 18, 30, 64, 65, 128, 130]) {
    for (const dim of [...new Set([2, 6, D - (D % 2), D - (D % 2) - 4].filter((d) => d >= 2 && d <= D))]) {
      for (const interleaved of [false, true]) {
        for (const L of [1, 3, 9]) {
          const r = rng(D * 1000 + dim * 10 + L);
          check(randn(r, 2 * L * D, -3, 3), [2, L, D], { dim, interleaved, offset: 5 }, 1e-6, `D ${D} dim ${dim} L ${L} interleaved ${interleaved}`);
        }
      }
    }
  }
});

test("applyRotary: the pairs are (d, d + dim/2) by default and (2d, 2d + 1) interleaved; channels ≥ dim untouched", () => {
  // One pair set to (1, 0) at position 1 with base such that θ_0 = 1: expect (cos 1, sin 1) in that pair only.
  const D = 8;
  const x = new Float32Array(D);
  x[0] = 1;
  const y = applyRotary({ data: x, shape: [1, D] }, { offset: 1, dim: 6 }).data;
  assert.ok(Math.abs(y[0] - Math.cos(1)) < 1e-7 && Math.abs(y[3] - Math.sin(1)) < 1e-7, `halves: got ${Array.from(y)}`);
  assert.equal([y[1], y[2], y[4], y[5], y[6], y[7]], [0, 0, 0, 0, 0, 0]);
  const z = applyRotary({ data: x, shape: [1, D] }, { offset: 1, dim: 6, interleaved: true }).data;
  assert.ok(Math.abs(z[0] - Math.cos(1)) < 1e-7 && Math.abs(z[1] - Math.sin(1)) < 1e-7, `interleaved: got ${Array.from(z)}`);
  assert.equal([z[2], z[3], z[4], z[5]], [0, 0, 0, 0]);
  const w = new Float32Array(D).fill(0);
  w[6] = 3; w[7] = -2;
  const u = applyRotary({ data: w, shape: [1, D] }, { offset: 1234, dim: 6 }).data;
  assert.equal(Array.from(u), Array.from(w), "channels ≥ dim copied unchanged");
  // Position 0 is the identity.
  const v = randn(rng(1), 3 * D);
  bitsEqual(applyRotary({ data: v, shape: [3, D] }, { positions: new Int32Array(3) }).data, v, "position 0");
});

test("applyRotary at positions around 100 000, 1e6 and 2^31 − 1 is within 1e-6 of float64 (angles formed in float64)", () => {
  for (const interleaved of [false, true]) {
    for (const base of [10000, 500000, 10]) {
      const D = 128, L = 6;
      const positions = Int32Array.from([99_999, 100_000, 100_001, 1_000_000, 123_456_789, 2 ** 31 - 1]);
      const r = rng(base);
      check(randn(r, L * D), [L, D], { positions, interleaved, base }, 1e-6, `base ${base} interleaved ${interleaved}`);
    }
  }
  // offset too: row i at 100 000 + i.
  check(randn(rng(7), 4 * 3 * 64), [4, 3, 64], { offset: 100_000 }, 1e-6, "offset 100 000");
});

test("applyRotary: leading axes share the positions of axis −2; negative explicit positions; offset and positions agree", () => {
  const D = 24, L = 5;
  const x = randn(rng(3), 2 * 3 * L * D);
  check(x, [2, 3, L, D], { positions: Int32Array.from([0, -7, 3, 3, 1000]) }, 1e-6, "[2, 3, L, D] explicit");
  const a = applyRotary({ data: x, shape: [2, 3, L, D] }, { offset: 17 }).data;
  const b = applyRotary({ data: x, shape: [2, 3, L, D] }, { positions: Int32Array.from({ length: L }, (_, i) => 17 + i) }).data;
  bitsEqual(a, b, "offset 17 = positions 17…");
});

test("applyRotary: out (it may be x.data), empty shapes", () => {
  const D = 10, x = randn(rng(9), 3 * D);
  const want = applyRotary({ data: x, shape: [3, D] }, { offset: 2 }).data;
  const out = new Float32Array(3 * D);
  const r = applyRotary({ data: x, shape: [3, D] }, { offset: 2, out });
  assert.ok(r.data === out);
  bitsEqual(out, want, "out");
  const y = x.slice();
  applyRotary({ data: y, shape: [3, D] }, { offset: 2, out: y });
  bitsEqual(y, want, "in place");
  assert.equal(applyRotary({ data: new Float32Array(0), shape: [0, D] }).shape, [0, D]);
  assert.equal(applyRotary({ data: new Float32Array(0), shape: [2, 0, 4] }, { positions: new Int32Array(0) }).data.length, 0);
});

test("applyRotary gives the same bits on 1, 2 and 3 threads (rows split across workers)", async () => {
  if (BUILD === "scalar") return;   // no threads variant
  const shapes = [[1, 64], [7, 130], [2, 3, 33, 64]];
  const run = () => shapes.map((s, i) => applyRotary({ data: randn(rng(i), prod(s)), shape: s }, { offset: 99_990, interleaved: i === 1 }).data);
  try {
    await init({ build: BUILD });
    const want = run();
    tuning.minWork = 0;
    for (const n of [2, 3]) {
      await init({ build: BUILD, threads: n });
      run().forEach((y, i) => bitsEqual(y, want[i], `${n} threads, shape [${shapes[i]}]`));
    }
  } finally {
    tuning.minWork = minWork;
    await init({ build: BUILD });
  }
});

test("applyRotary bad input: clear TypeError/RangeError, and the library still works", () => {
  const x: Tensor = { data: new Float32Array(12), shape: [3, 4] };
  throwsWith(() => applyRotary({ data: new Float32Array(4), shape: [4] }), RangeError, /x\.shape must have rank ≥ 2/, "rank 1");
  throwsWith(() => applyRotary({ data: new Float64Array(12), shape: [3, 4] } as unknown as Tensor), TypeError, /x\.data must be a Float32Array/, "f64");
  throwsWith(() => applyRotary(x, { positions: new Int32Array(3), offset: 1 }), TypeError, /positions or options\.offset, not both/, "both");
  throwsWith(() => applyRotary(x, { positions: [0, 1, 2] as unknown as Int32Array }), TypeError, /options\.positions must be an Int32Array/, "array");
  throwsWith(() => applyRotary(x, { positions: new Int32Array(2) }), RangeError, /options\.positions\.length must equal the number of rows L = 3; got 2/, "length");
  throwsWith(() => applyRotary(x, { offset: -1 }), RangeError, /options\.offset must be an integer ≥ 0; got -1/, "offset < 0");
  throwsWith(() => applyRotary(x, { offset: 1.5 }), RangeError, /options\.offset/, "fractional offset");
  throwsWith(() => applyRotary(x, { dim: 3 }), RangeError, /options\.dim must be even and ≤ x's last axis D = 4; got 3/, "odd dim");
  throwsWith(() => applyRotary(x, { dim: 6 }), RangeError, /options\.dim must be even and ≤ x's last axis D = 4; got 6/, "dim > D");
  throwsWith(() => applyRotary(x, { dim: 0 }), RangeError, /options\.dim must be an integer ≥ 2/, "dim 0");
  throwsWith(() => applyRotary({ data: new Float32Array(15), shape: [3, 5] }), RangeError, /options\.dim must be given when x's last axis D = 5 is odd/, "odd D");
  throwsWith(() => applyRotary(x, { base: 0 }), RangeError, /options\.base must be a finite number > 0; got 0/, "base 0");
  throwsWith(() => applyRotary(x, { base: Infinity }), RangeError, /options\.base/, "base ∞");
  throwsWith(() => applyRotary(x, { base: "1e4" as unknown as number }), TypeError, /options\.base must be a number/, "base string");
  throwsWith(() => applyRotary(x, { interleaved: 1 as unknown as boolean }), TypeError, /options\.interleaved must be a boolean/, "interleaved");
  throwsWith(() => applyRotary(x, { out: new Float32Array(11) }), RangeError, /options\.out\.length must equal the result's 12 elements/, "out length");
  throwsWith(() => applyRotary(x, { offest: 1 } as unknown as { offset: number }), TypeError, /unknown option "offest"/, "typo");
  stillWorks("after applyRotary errors");
  check(randn(rng(5), 12), [3, 4], { offset: 3 }, 1e-6, "then applyRotary");
});

test.run();
