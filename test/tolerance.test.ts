// The tolerance helpers themselves (test/helpers.ts): assertRowsClose holds each row to rtol of its own
// scale, so it fails where the old whole-array check with its max(1, ·) floor could not.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertClose, assertRowsClose } from "./helpers.js";

/** true when fn fails an assertion */
const fails = (fn: () => unknown): boolean => { try { fn(); return false; } catch { return true; } };

test("assertRowsClose: a weights row of 1/130 off by 2e-5 of itself fails (assertClose passes it); off by 5e-6 passes", () => {
  const S = 130, ref = new Float64Array(S).fill(1 / S);
  const off = (rel: number) => Float32Array.from(ref, (x, j) => x * (1 + (j === 7 ? rel : 0)));
  assert.ok(fails(() => assertRowsClose(off(2e-5), ref, S, 1e-5, "2e-5")), "2e-5 of the row fails");
  assert.not.ok(fails(() => assertClose(off(2e-5), ref, 1e-5, "2e-5")), "the max(1, ·) floor lets it through");
  assert.not.ok(fails(() => assertClose(off(1e-3), ref, 1e-5, "1e-3")), "even 1e-3 of the row passes assertClose at S = 130");
  const worst = assertRowsClose(off(5e-6), ref, S, 1e-5, "5e-6");
  assert.ok(worst > 4e-6 && worst < 6e-6, `worst reported as ${worst}`);
});

test("assertRowsClose: each row at its own scale (a row of 1e-3 next to a row of 1), exact zero rows, NaN and ±Infinity where ref has them", () => {
  const ref = [1, 0.5, 1e-3, 2e-3];
  assert.ok(fails(() => assertRowsClose([1, 0.5, 1e-3 + 1e-7, 2e-3], ref, 2, 1e-5, "small row")), "1e-7 is 5e-5 of the second row");
  assert.not.ok(fails(() => assertRowsClose([1 + 5e-6, 0.5, 1e-3 + 1e-8, 2e-3], ref, 2, 1e-5, "both rows")), "within each row's tolerance");
  assert.ok(fails(() => assertRowsClose([0, 1e-30], [0, 0], 2, 1e-5, "zeros")), "a zero row must be exactly zero");
  assert.ok(fails(() => assertRowsClose([NaN, 1], [0.5, 1], 2, 1e-5, "NaN")), "NaN where ref is finite");
  assert.ok(fails(() => assertRowsClose([1, 1], [NaN, 1], 2, 1e-5, "not NaN")), "a number where ref is NaN");
  assert.not.ok(fails(() => assertRowsClose([NaN, -Infinity, 1], [NaN, -Infinity, 1], 3, 0, "specials")), "NaN and −∞ match");
  assert.ok(fails(() => assertRowsClose([1, 2, 3], [1, 2, 3], 2, 1e-5, "ragged")), "length not a multiple of cols");
});

test("assertRowsClose with mag: the row's scale is the largest magnitude the sums are built from (outputs whose terms cancel)", () => {
  // an output 1e-4 summed from terms of size 0.5: an error of 1e-7 is 2e-7 of 0.5 (passes), 1e-3 of the output
  assert.not.ok(fails(() => assertRowsClose([1e-4 + 1e-7], [1e-4], 1, 1e-5, "with mag", [0.5])), "passes at the scale of the terms");
  assert.ok(fails(() => assertRowsClose([1e-4 + 1e-7], [1e-4], 1, 1e-5, "without mag")), "fails at the scale of the output");
  assert.ok(fails(() => assertRowsClose([1e-4 + 1e-5], [1e-4], 1, 1e-5, "too far", [0.5])), "2e-5 of the terms fails");
});

test.run();
