// test/src/layernorm.test.ts ↔ src/layernorm.ts, assembly/layernorm.ts (layerNorm over the last axis).
// x [..., E] → y [..., E], weight and bias [E] or null. Checked against test/reference-layers.ts
// (float64) at 1e-5 of each row's scale (|normalised·weight| + |bias|); E through the kernel's loops
// (16 floats a step, then 4, then a scalar tail); constant rows, large offsets, eps, NaN, `out`,
// errors; 1, 2 and 3 threads give the same bits.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUILD, assertRowsClose, randn, rng, throwsWith } from "../helpers.js";
import { refLayerNorm } from "../reference-layers.js";
import { ODD_SIZES } from "../constants.js";
import { type Tensor, init, layerNorm, terminate } from "../../src/index.js";
import { tuning } from "../../src/parallel.js";
import { stillWorks } from "../support.js";
import { bitsEqual } from "./reliability-support.js";

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
/** E through every loop of the kernel: below, at and past the 4-float vector and the 16-float step, and layer widths. */
const E_SIZES = [...new Set([...ODD_SIZES, 2, 15, 16, 24, 31, 33, 40, 768])].sort((a, b) => a - b);

function tensor(data: Float32Array, shape: number[]): Tensor {
  return { data, shape };
}

/** layerNorm against refLayerNorm at 1e-5 of each row's scale; x, weight, bias unchanged. Returns y. */
function check(x: Float32Array, shape: number[], w: Float32Array | null, b: Float32Array | null, eps: number | undefined, what: string): Float32Array {
  const E = shape[shape.length - 1];
  const x0 = x.slice();
  const r = layerNorm(tensor(x, shape), w && tensor(w, [E]), b && tensor(b, [E]), eps === undefined ? undefined : { eps });
  assert.equal(r.shape, shape, `${what}: shape`);
  const ref = refLayerNorm(x, w, b, E, eps ?? 1e-5);
  assertRowsClose(r.data, ref.y, E, 1e-5, what, ref.mag);
  assert.equal(Array.from(x), Array.from(x0), `${what}: x unchanged`);
  return r.data;
}

test(`layerNorm E ∈ {${E_SIZES}}, rows ∈ {1, 3, 7}, weight and bias random, x ∈ [−3, 3)`, () => {
  for (const E of E_SIZES) {
    for (const rows of [1, 3, 7]) {
      const r = rng(E * 10 + rows);
      check(randn(r, rows * E, -3, 3), [rows, E], randn(r, E, 0.5, 2), randn(r, E), undefined, `[${rows}, ${E}]`);
    }
  }
});

test("layerNorm batched shapes: [E], [2, 3, E], [2, 1, 5, E] give the rows of the flat [rows, E] call (E ∈ {3, 24, 65})", () => {
  for (const E of [3, 24, 65]) {
    const r = rng(E);
    const w = randn(r, E), b = randn(r, E);
    for (const lead of [[], [2, 3], [2, 1, 5]]) {
      const shape = [...lead, E];
      const x = randn(r, prod(shape), -2, 2);
      const y = check(x, shape, w, b, undefined, `[${shape}]`);
      const flat = layerNorm(tensor(x, [prod(lead), E]), tensor(w, [E]), tensor(b, [E])).data;
      bitsEqual(y, flat, `[${shape}] vs the flat call`);
    }
  }
});

test("layerNorm weight and bias may each be null or absent (1 and 0), as PyTorch's elementwise_affine = False and bias = False", () => {
  for (const E of [1, 5, 24, 65]) {
    const r = rng(100 + E);
    const x = randn(r, 3 * E, -4, 4), w = randn(r, E, -2, 2), b = randn(r, E);
    check(x, [3, E], null, null, undefined, `E=${E} no weight, no bias`);
    check(x, [3, E], w, null, undefined, `E=${E} weight only`);
    check(x, [3, E], null, b, undefined, `E=${E} bias only`);
    const y = layerNorm(tensor(x, [3, E])).data;
    bitsEqual(y, layerNorm(tensor(x, [3, E]), null, null).data, `E=${E}: absent = null`);
    bitsEqual(y, layerNorm(tensor(x, [3, E]), undefined, undefined, { eps: 1e-5 }).data, `E=${E}: default eps = 1e-5`);
  }
});

test("layerNorm of a constant row is exactly bias (0 without one), not NaN, with eps = 1e-5 and eps = 0", () => {
  for (const E of [1, 3, 24, 65, 768]) {
    const r = rng(200 + E);
    const w = randn(r, E, 0.5, 2), b = randn(r, E);
    const values = [0, 1, -0.1, 1e4 + 0.1, -3.75e20, 1e-30];
    const x = new Float32Array(values.length * E);
    values.forEach((v, i) => x.fill(v, i * E, (i + 1) * E));
    for (const eps of [1e-5, 0]) {
      const y = layerNorm(tensor(x, [values.length, E]), tensor(w, [E]), tensor(b, [E]), { eps }).data;
      for (let i = 0; i < values.length; i++) bitsEqual(y.subarray(i * E, (i + 1) * E), b, `E=${E} eps=${eps} row of ${values[i]}`);
      const z = layerNorm(tensor(x, [values.length, E]), tensor(w, [E]), null, { eps }).data;
      assert.ok(z.every((v) => v === 0), `E=${E} eps=${eps} without bias: zeros`);
    }
  }
});

test("layerNorm keeps precision far from 0: x = offset + u, u ∈ [−1, 1), offset ∈ {1e4, −1e4, 1e6}, E ∈ {3, 24, 65, 768}", () => {
  for (const offset of [1e4, -1e4, 1e6]) {
    for (const E of [3, 24, 65, 768]) {
      const r = rng(E + Math.abs(offset));
      const x = randn(r, 4 * E, -1, 1).map((u) => offset + u);
      check(x, [4, E], randn(r, E, 0.5, 2), randn(r, E), undefined, `offset ${offset} E=${E}`);
    }
  }
  // a small spread far from 0, where eps matters: var ≈ 3e−7 against eps 1e−5 and 1e−12
  for (const eps of [1e-5, 1e-12]) {
    const r = rng(7);
    const x = randn(r, 3 * 65, -1e-3, 1e-3).map((u) => 100 + u);
    check(x, [3, 65], randn(r, 65), randn(r, 65), eps, `100 + 1e−3·u, eps ${eps}`);
  }
});

test("layerNorm eps: 1e-12 (BERT), 0.5 and 0 against float64; tiny and huge rows", () => {
  const r = rng(8);
  for (const eps of [1e-12, 0.5, 0]) check(randn(r, 5 * 40, -2, 2), [5, 40], randn(r, 40), randn(r, 40), eps, `eps ${eps}`);
  check(randn(r, 3 * 24, -1e-18, 1e-18), [3, 24], null, null, 0, "x ~ 1e−18, eps 0");
  check(randn(r, 3 * 24, -1e15, 1e15), [3, 24], randn(r, 24), randn(r, 24), undefined, "x ~ 1e15");
});

test("layerNorm a NaN or ±Infinity makes its row NaN and leaves the other rows' bits alone", () => {
  const E = 33, r = rng(9);
  const x = randn(r, 4 * E, -2, 2), w = randn(r, E), b = randn(r, E);
  const want = layerNorm(tensor(x, [4, E]), tensor(w, [E]), tensor(b, [E])).data;
  const bad = x.slice();
  bad[E + 5] = NaN;
  bad[2 * E + 31] = Infinity;
  bad[3 * E] = -Infinity;
  const y = layerNorm(tensor(bad, [4, E]), tensor(w, [E]), tensor(b, [E])).data;
  bitsEqual(y.subarray(0, E), want.subarray(0, E), "row 0");
  for (const row of [1, 2, 3]) assert.ok(y.subarray(row * E, (row + 1) * E).every(Number.isNaN), `row ${row} all NaN`);
});

test("layerNorm options.out: filled and returned; out = x.data normalises in place; empty shapes", () => {
  const E = 17, r = rng(10);
  const x = randn(r, 3 * E), w = randn(r, E), b = randn(r, E);
  const want = layerNorm(tensor(x, [3, E]), tensor(w, [E]), tensor(b, [E])).data;
  const out = new Float32Array(3 * E).fill(NaN);
  const got = layerNorm(tensor(x, [3, E]), tensor(w, [E]), tensor(b, [E]), { out });
  assert.ok(got.data === out, "returns out");
  bitsEqual(out, want, "out");
  const xi = x.slice();
  layerNorm(tensor(xi, [3, E]), tensor(w, [E]), tensor(b, [E]), { out: xi });
  bitsEqual(xi, want, "in place");
  assert.equal(layerNorm(tensor(new Float32Array(0), [0, E]), tensor(w, [E])).shape, [0, E]);
  const e = layerNorm(tensor(new Float32Array(0), [3, 0]), tensor(new Float32Array(0), [0]));
  assert.equal([e.data.length, e.shape], [0, [3, 0]]);
});

test("layerNorm errors: TypeError/RangeError naming the argument, the expected and the actual value; the library still works", () => {
  const x = tensor(new Float32Array(6), [2, 3]), w3 = tensor(new Float32Array(3), [3]);
  const cases: [() => unknown, typeof TypeError, RegExp][] = [
    [() => layerNorm(null as never), TypeError, /^layerNorm: x must be a tensor \{ data: Float32Array, shape: \[\.\.\., E\] \}; got null$/],
    [() => layerNorm({ data: [0, 1], shape: [2] } as never), TypeError, /^layerNorm: x\.data must be a Float32Array; got an Array\(2\)$/],
    [() => layerNorm(tensor(new Float32Array(1), [])), RangeError, /^layerNorm: x\.shape must have rank ≥ 1 \(\[\.\.\., E\]\); got \[\] \(rank 0\)$/],
    [() => layerNorm(tensor(new Float32Array(5), [2, 3])), RangeError, /^layerNorm: x\.data must have length 2·3 = 6 for shape \[2, 3\]; got 5$/],
    [() => layerNorm(x, tensor(new Float32Array(4), [4])), RangeError, /^layerNorm: weight\.shape must equal \[E\] = \[3\] \(the last axis of x\.shape \[2, 3\]\), or weight be null; got \[4\]$/],
    [() => layerNorm(x, tensor(new Float32Array(3), [1, 3])), RangeError, /^layerNorm: weight\.shape must equal \[E\] = \[3\] .*; got \[1, 3\]$/],
    [() => layerNorm(x, w3, tensor(new Float32Array(2), [2])), RangeError, /^layerNorm: bias\.shape must equal \[E\] = \[3\] \(the last axis of x\.shape \[2, 3\]\), or bias be null; got \[2\]$/],
    [() => layerNorm(x, new Float32Array(3) as never), TypeError, /^layerNorm: weight\.data must be a Float32Array; got undefined$/],
    [() => layerNorm(x, w3, 0 as never), TypeError, /^layerNorm: bias must be a tensor \{ data: Float32Array, shape: \[E\] \}; got 0$/],
    [() => layerNorm(x, w3, w3, { eps: -1e-5 }), RangeError, /^layerNorm: options\.eps must be ≥ 0; got -0\.00001$/],
    [() => layerNorm(x, w3, w3, { eps: NaN }), RangeError, /^layerNorm: options\.eps must be a finite number; got NaN$/],
    [() => layerNorm(x, w3, w3, { eps: "1e-5" as never }), TypeError, /^layerNorm: options\.eps must be a number; got "1e-5"$/],
    [() => layerNorm(x, w3, w3, { epsilon: 1e-5 } as never), TypeError, /^layerNorm: unknown option "epsilon"; known options are eps, out$/],
    [() => layerNorm(x, w3, w3, { out: new Float32Array(5) }), RangeError, /^layerNorm: options\.out\.length must equal the result's 6 elements \(shape \[2, 3\]\); got 5$/],
    [() => layerNorm(x, w3, w3, { out: new Float64Array(6) as never }), TypeError, /^layerNorm: options\.out must be a Float32Array; got a Float64Array\(6\)$/],
  ];
  cases.forEach(([f, cls, re], i) => {
    throwsWith(f, cls, re, `case ${i}`);
    stillWorks(`layerNorm error case ${i}`);
  });
});

test("layerNorm gives the same bits on 1, 2 and 3 threads (every job through the workers)", async () => {
  if (BUILD === "scalar") return;   // no threads variant
  const minWork = tuning.minWork;
  const r = rng(12);
  const shapes = [[2, 37, 65], [513, 24], [7, 768], [40, 1]];
  const inputs = shapes.map((s) => ({ x: tensor(randn(r, prod(s), -3, 3), s), w: tensor(randn(r, s[s.length - 1]), [s[s.length - 1]]), b: tensor(randn(r, s[s.length - 1]), [s[s.length - 1]]) }));
  const run = () => inputs.map(({ x, w, b }) => layerNorm(x, w, b).data);
  try {
    await init({ build: BUILD });
    const want = run();
    tuning.minWork = 0;
    for (const n of [2, 3, 1]) {
      await init({ build: BUILD, threads: n });
      run().forEach((y, i) => bitsEqual(y, want[i], `${n} threads, shape [${shapes[i]}]`));
    }
  } finally {
    tuning.minWork = minWork;
    terminate();
    await init({ build: BUILD });
  }
});

test.run();
