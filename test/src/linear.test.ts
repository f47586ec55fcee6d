// test/src/linear.test.ts ↔ src/linear.ts, assembly/activation.ts, assembly/simd/erf.ts and
// gemm_packed_act_f32 (assembly/matmul.ts, gemm.ts's epilogue).
// y = act(x·Wᵀ + b): x [..., in], weight [out, in], bias [out] → [..., out]; M = rows of x, K = in,
// N = out. Checked against test/reference-layers.ts (float64) at 1e-5 of each row's scale (Σ|x·w| + |b|);
// erf and the activations on their own against float64 over dense grids; the activation applied in the
// GEMM's store gives the bits of applying it afterwards; M, K, N across MR, NR, KC and NC; 1, 2 and 3
// threads give the same bits.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUILD, assertRowsClose, randn, rng, throwsWith } from "../helpers.js";
import { KC, MR, NC, NR } from "../constants.js";
import { type RefActivation, refAct, refErf, refLinearAct } from "../reference-layers.js";
import { type LinearOptions, type Tensor, init, linear, matmul, terminate } from "../../src/index.js";
import { tuning } from "../../src/parallel.js";
import { runtime } from "../../src/wasm.js";
import { guarded, stillWorks } from "../support.js";
import { bitsEqual } from "./reliability-support.js";

const rt = runtime("test");
const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
const ACTS: RefActivation[] = [undefined, "relu", "gelu", "gelu-tanh"];
const CODE = { relu: 1, gelu: 2, "gelu-tanh": 3 } as const;
const FLT_MAX = 3.4028234663852886e38;

function tensor(data: Float32Array, shape: number[]): Tensor {
  return { data, shape };
}

/** A kernel y = f(x) over n floats (erf_f32, activation_f32), through guarded buffers. */
function elementwise(x: Float32Array, call: (y: number, x: number, n: number) => void, what: string): Float32Array {
  return guarded(rt, (g) => {
    const px = g.input(x, "x"), py = g.output(x.length, "y");
    call(py.ptr, px.ptr, x.length);
    g.check(what);
    return g.f32(py).slice();
  });
}

/** Inputs for the elementwise checks: a dense grid over [−lim, lim], powers of 2 from 2⁻¹²⁶ to 2¹²⁷ of both signs, and the specials. */
function grid(lim: number, step: number): Float32Array {
  const xs: number[] = [];
  for (let x = -lim; x <= lim; x += step) xs.push(x);
  for (let e = -126; e <= 127; e++) xs.push(2 ** e, -(2 ** e));
  xs.push(0, -0, Infinity, -Infinity, NaN, FLT_MAX, -FLT_MAX, 1e-45, -1e-45, 3.9, 4, 4.1, -3.9, -4, -4.1);
  return Float32Array.from(xs);
}

/** act(x·Wᵀ + b) with weight [N, K] against refLinearAct at 1e-5 of each row's Σ|x·w| + |b|; inputs unchanged. */
function check(M: number, K: number, N: number, act: RefActivation, withBias: boolean, seed: number): Float32Array {
  const what = `linear M=${M} K=${K} N=${N} ${act ?? "none"}${withBias ? " +bias" : ""}`;
  const r = rng(seed);
  const x = randn(r, M * K, -2, 2), w = randn(r, N * K), b = withBias ? randn(r, N) : null;
  const x0 = x.slice(), w0 = w.slice();
  const y = linear(tensor(x, [M, K]), tensor(w, [N, K]), b && tensor(b, [N]), act ? { activation: act } : undefined);
  assert.equal(y.shape, [M, N], `${what}: shape`);
  const ref = refLinearAct(x, w, b, M, K, N, act);
  assertRowsClose(y.data, ref.y, N, 1e-5, what, ref.mag);
  assert.equal([Array.from(x), Array.from(w)], [Array.from(x0), Array.from(w0)], `${what}: inputs unchanged`);
  return y.data;
}

test("erf_f32 against float64 erf: within 1.5e-7 relative (measured 1.08e-7, 1.5 ulp) over [−6, 6] by 1e−4, every power of 2, ±0, ±∞, NaN", () => {
  const x = grid(6, 1e-4);
  const y = elementwise(x, (py, px, n) => rt.kernels.erf_f32(py, px, n), "erf_f32");
  let worst = 0, at = 0;
  for (let i = 0; i < x.length; i++) {
    const ref = refErf(x[i]);
    if (Number.isNaN(ref)) { assert.ok(Number.isNaN(y[i]), `erf(NaN) = ${y[i]}`); continue; }
    // relative to |erf(x)|, with an absolute floor of the smallest subnormal (2⁻¹⁴⁹) for subnormal results
    const rel = Math.abs(y[i] - ref) / Math.max(Math.abs(ref), 2 ** -149 / 1.5e-7);
    if (rel > worst) { worst = rel; at = x[i]; }
  }
  assert.ok(worst <= 1.5e-7, `erf: worst relative error ${worst.toExponential(3)} at x = ${at}`);
  const f = (v: number) => y[x.findIndex((u) => Object.is(u, Math.fround(v)))];   // Object.is: −0 is not 0
  assert.ok(Object.is(f(-0), -0) && Object.is(f(0), 0), "erf(±0) = ±0");
  for (const v of [4, 4.1, FLT_MAX, Infinity]) assert.is(f(v), 1, `erf(${v}) = 1 exactly`);
  for (const v of [-4, -4.1, -FLT_MAX, -Infinity]) assert.is(f(v), -1, `erf(${v}) = −1 exactly`);
});

for (const act of ["relu", "gelu", "gelu-tanh"] as const) {
  test(`activation_f32 ${act} against float64 over [−12, 12] by 1e−3 and every power of 2: |error| ≤ 3e−7·|x| (measured: gelu 1.1e−7, gelu-tanh 1.4e−7); the limits at ±∞, NaN`, () => {
    const x = grid(12, 1e-3);
    const y = elementwise(x, (py, px, n) => rt.kernels.activation_f32(py, px, n, CODE[act]), act);
    let worst = 0, at = 0;
    for (let i = 0; i < x.length; i++) {
      const ref = refAct(x[i], act);
      if (Number.isNaN(ref)) { assert.ok(Number.isNaN(y[i]), `${act}(NaN) = ${y[i]}`); continue; }
      if (!Number.isFinite(ref)) { assert.is(y[i], ref, `${act}(${x[i]})`); continue; }
      // relative to |x| (the row's scale in a layer), with an absolute floor of 2⁻¹⁴⁹ for subnormal x
      const err = Math.abs(y[i] - ref), rel = err === 0 ? 0 : err / Math.max(Math.abs(x[i]), 2 ** -149 / 3e-7);
      if (rel > worst) { worst = rel; at = x[i]; }
    }
    assert.ok(act === "relu" ? worst === 0 : worst <= 3e-7, `${act}: worst error ${worst.toExponential(3)}·|x| at x = ${at}`);
    const f = (v: number) => y[x.findIndex((u) => Object.is(u, Math.fround(v)))];   // Object.is: −0 is not 0
    assert.is(f(Infinity), Infinity, `${act}(∞)`);
    assert.ok(Object.is(f(-Infinity), act === "relu" ? 0 : -0), `${act}(−∞) = ${f(-Infinity)}`);
    assert.is(f(-FLT_MAX), act === "relu" ? 0 : -0, `${act}(−FLT_MAX)`);
    for (let e = 5; e <= 127; e++) assert.ok(y[x.indexOf(-(2 ** e))] === 0, `${act}(−2^${e}) = ${y[x.indexOf(-(2 ** e))]}, want 0`);
  });
}

test("activation_f32: the vector body and the scalar tail give the same bits (n = 1 … 9 at every offset)", () => {
  const x = randn(rng(5), 64, -6, 6);
  for (const act of [1, 2, 3]) {
    const whole = elementwise(x, (py, px, n) => rt.kernels.activation_f32(py, px, n, act), `act ${act}`);
    // both GELUs' exp fuses multiply-adds in the relaxed build's vector body only
    if (BUILD === "relaxed" && act !== 1) continue;
    for (let off = 0; off < 4; off++) {
      for (let n = 1; n <= 9; n++) {
        const part = elementwise(x.subarray(off, off + n), (py, px, m) => rt.kernels.activation_f32(py, px, m, act), `act ${act}`);
        bitsEqual(part, whole.subarray(off, off + n), `act ${act} x[${off}:${off + n}]`);
      }
    }
  }
});

// Sizes across the micro-tile (MR rows × NR columns), the 4-lane vectors and the epilogue's scalar tail.
const Ms = [...new Set([1, MR - 1, MR, MR + 1, 2 * MR + 3])];
const Ks = [1, 3, 24, 40, 65];
const Ns = [...new Set([1, 3, NR, NR + 1, 17, 40, 65])];

for (const act of ACTS) {
  test(`linear ${act ?? "no activation"}: M ∈ {${Ms}} × K ∈ {${Ks}} × N ∈ {${Ns}}, with and without bias`, () => {
    let seed = 1;
    for (const M of Ms) for (const K of Ks) for (const N of Ns) for (const withBias of [true, false]) check(M, K, N, act, withBias, seed++);
  });
}

test(`linear K across KC = ${KC} (K ∈ {KC−1, KC, KC+1, 2·KC+3}) and N across NC = ${NC}, each activation`, () => {
  let seed = 1000;
  for (const act of ACTS) {
    for (const K of [KC - 1, KC, KC + 1, 2 * KC + 3]) {
      check(MR + 1, K, 9, act, true, seed++);
      check(1, K, 40, act, true, seed++);
    }
    check(MR + 2, 17, NC + 9, act, true, seed++);
    check(1, KC + 1, NC + 9, act, true, seed++);
  }
});

test("linear applies bias and activation in the GEMM's store with the bits of a pass afterwards: none = matmul(x, W, transposeB), act(·) per row by activation_f32", () => {
  let seed = 2000;
  for (const [M, K, N] of [[1, 300, 77], [MR + 2, KC + 3, 19], [2 * MR + 1, 24, NC + 9], [3, 1, 5]]) {
    const r = rng(seed++);
    const x = tensor(randn(r, M * K, -2, 2), [M, K]), w = tensor(randn(r, N * K), [N, K]), b = tensor(randn(r, N), [N]);
    bitsEqual(linear(x, w).data, matmul(x, w, { transposeB: true }).data, `[${M}, ${K}]·[${N}, ${K}]ᵀ: no bias = matmul`);
    const plain = linear(x, w, b).data;
    const mm = matmul(x, w, { transposeB: true }).data;
    bitsEqual(plain, mm.map((v, i) => Math.fround(v + b.data[i % N])), `M=${M} K=${K} N=${N}: bias = matmul + bias`);
    for (const act of ["relu", "gelu", "gelu-tanh"] as const) {
      const fused = linear(x, w, b, { activation: act }).data;
      const after = new Float32Array(M * N);
      for (let i = 0; i < M; i++) after.set(elementwise(plain.subarray(i * N, (i + 1) * N), (py, px, n) => rt.kernels.activation_f32(py, px, n, CODE[act]), act), i * N);
      bitsEqual(fused, after, `M=${M} K=${K} N=${N} ${act}: in the store = afterwards`);
    }
  }
});

test("linear with special values: gelu(−∞) = −0, gelu(+∞) = +∞, NaN stays NaN, relu(−∞) = 0 (x [n, 1] · W [4, 1] of ones: the vector store and, for N = 1, the scalar tail)", () => {
  const x = Float32Array.from([-Infinity, Infinity, NaN, -FLT_MAX, FLT_MAX, -0, 0, -1e30, 2]);
  for (const N of [4, 1]) {
    const w = tensor(new Float32Array(N).fill(1), [N, 1]);
    for (const act of ["relu", "gelu", "gelu-tanh"] as const) {
      const y = linear(tensor(x, [x.length, 1]), w, null, { activation: act }).data;
      for (let i = 0; i < x.length; i++) {
        const want = refAct(x[i], act);
        for (let j = 0; j < N; j++) {
          const got = y[i * N + j];
          const ok = Number.isNaN(want) ? Number.isNaN(got) : got === want || Math.abs(got - want) <= 1e-6 * Math.abs(want);
          assert.ok(ok, `${act}(${x[i]}) = ${got}, want ${want} (N = ${N}, column ${j})`);
        }
      }
      assert.ok(Object.is(y[0], act === "relu" ? 0 : -0), `${act}(−∞) = ${y[0]}`);
    }
  }
});

test("linear batched shapes: x [in], [2, 3, in], [2, 1, 4, in] give the rows of the flat [rows, in] call", () => {
  const K = 24, N = 40, r = rng(3000);
  const w = tensor(randn(r, N * K), [N, K]), b = tensor(randn(r, N), [N]);
  for (const lead of [[], [2, 3], [2, 1, 4]]) {
    const x = randn(r, prod(lead) * K, -2, 2);
    const y = linear(tensor(x, [...lead, K]), w, b, { activation: "gelu" });
    assert.equal(y.shape, [...lead, N]);
    bitsEqual(y.data, linear(tensor(x, [prod(lead), K]), w, b, { activation: "gelu" }).data, `[${lead}, ${K}]`);
    const ref = refLinearAct(x, w.data, b.data, prod(lead), K, N, "gelu");
    assertRowsClose(y.data, ref.y, N, 1e-5, `[${lead}, ${K}] against float64`, ref.mag);
  }
});

test("linear in = 0: act(bias) in every row (zeros without a bias); empty batches give empty results", () => {
  const b = Float32Array.from([-2, -0.5, 0, 0.5, 2, 3]);
  for (const act of ACTS) {
    const y = linear(tensor(new Float32Array(0), [3, 0]), tensor(new Float32Array(0), [6, 0]), tensor(b, [6]), act ? { activation: act } : undefined);
    assert.equal(y.shape, [3, 6]);
    const ref = Array.from({ length: 18 }, (_, i) => refAct(b[i % 6], act));
    assertRowsClose(y.data, ref, 6, 1e-6, `in = 0, ${act ?? "none"}`);
    const z = linear(tensor(new Float32Array(0), [3, 0]), tensor(new Float32Array(0), [6, 0]), null, act ? { activation: act } : undefined);
    assert.ok(z.data.every((v) => v === 0), `in = 0 without bias, ${act ?? "none"}: zeros`);
  }
  const e = linear(tensor(new Float32Array(0), [0, 5]), tensor(new Float32Array(15), [3, 5]));
  assert.equal([e.data.length, e.shape], [0, [0, 3]]);
  const f = linear(tensor(new Float32Array(10), [2, 5]), tensor(new Float32Array(0), [0, 5]));
  assert.equal([f.data.length, f.shape], [0, [2, 0]]);
});

test("linear options.out: filled and returned; out may be x.data", () => {
  const r = rng(4000);
  const x = tensor(randn(r, 4 * 6), [4, 6]), w = tensor(randn(r, 6 * 6), [6, 6]), b = tensor(randn(r, 6), [6]);
  const want = linear(x, w, b, { activation: "relu" }).data;
  const out = new Float32Array(24).fill(NaN);
  const got = linear(x, w, b, { activation: "relu", out });
  assert.ok(got.data === out, "returns out");
  bitsEqual(out, want, "out");
  const xi = tensor(x.data.slice(), [4, 6]);
  linear(xi, w, b, { activation: "relu", out: xi.data });
  bitsEqual(xi.data, want, "out = x.data");
});

test("linear errors: TypeError/RangeError naming the argument, the expected and the actual value; the library still works", () => {
  const x = tensor(new Float32Array(6), [2, 3]), w = tensor(new Float32Array(12), [4, 3]), b = tensor(new Float32Array(4), [4]);
  const cases: [() => unknown, typeof TypeError, RegExp][] = [
    [() => linear(null as never, w), TypeError, /^linear: x must be a tensor \{ data: Float32Array, shape: \[\.\.\., in\] \}; got null$/],
    [() => linear(tensor(new Float32Array(1), []), w), RangeError, /^linear: x\.shape must have rank ≥ 1 \(\[\.\.\., in\]\); got \[\] \(rank 0\)$/],
    [() => linear(x, undefined as never), TypeError, /^linear: weight must be a tensor \{ data: Float32Array, shape: \[out, in\] \}; got undefined$/],
    [() => linear(x, tensor(new Float32Array(3), [3])), RangeError, /^linear: weight\.shape must have rank ≥ 2 \(\[out, in\]\); got \[3\] \(rank 1\)$/],
    [() => linear(x, tensor(new Float32Array(12), [1, 4, 3])), RangeError, /^linear: weight\.shape must have rank 2 \(\[out, in\], as nn\.Linear stores it\); got \[1, 4, 3\] \(rank 3\)$/],
    [() => linear(x, tensor(new Float32Array(12), [3, 4])), RangeError, /^linear: weight\.shape\[1\] must equal in = 3 \(the last axis of x\.shape \[2, 3\]\); got 4 \(weight\.shape \[3, 4\]\)$/],
    [() => linear(x, w, tensor(new Float32Array(3), [3])), RangeError, /^linear: bias\.shape must equal \[out\] = \[4\] \(weight\.shape \[4, 3\]\), or bias be null; got \[3\]$/],
    [() => linear(x, w, tensor(new Float32Array(4), [1, 4])), RangeError, /^linear: bias\.shape must equal \[out\] = \[4\] .*; got \[1, 4\]$/],
    [() => linear(x, w, { data: new Float64Array(4), shape: [4] } as never), TypeError, /^linear: bias\.data must be a Float32Array; got a Float64Array\(4\)$/],
    [() => linear(x, w, b, { activation: "tanh" as never }), TypeError, /^linear: options\.activation must be one of "relu", "gelu", "gelu-tanh", or absent for none; got "tanh"$/],
    [() => linear(x, w, b, { activation: null as never }), TypeError, /^linear: options\.activation must be one of .*; got null$/],
    [() => linear(x, w, b, { act: "relu" } as never), TypeError, /^linear: unknown option "act"; known options are activation, out$/],
    [() => linear(x, w, b, { out: new Float32Array(6) }), RangeError, /^linear: options\.out\.length must equal the result's 8 elements \(shape \[2, 4\]\); got 6$/],
    [() => linear(x, w, b, [] as never), TypeError, /^linear: options must be an object; got an Array\(0\)$/],
  ];
  cases.forEach(([f, cls, re], i) => {
    throwsWith(f, cls, re, `case ${i}`);
    stillWorks(`linear error case ${i}`);
  });
});

test("linear gives the same bits on 1, 2 and 3 threads (rows at MR multiples, one row's columns at NR multiples, every job through the workers)", async () => {
  if (BUILD === "scalar") return;   // no threads variant
  const minWork = tuning.minWork;
  const r = rng(5000);
  const cases: [number[], number, LinearOptions["activation"]][] = [
    [[3 * MR + 2], KC + 3, "gelu"], [[1], 300, "gelu-tanh"], [[2, MR], 24, "relu"], [[1], 77, undefined], [[4 * MR + 1], 40, undefined],
  ];
  const Ns = [37, 77, NC + 9, 130, 65];
  const inputs = cases.map(([lead, K], i) => ({
    x: tensor(randn(r, prod(lead) * K, -2, 2), [...lead, K]), w: tensor(randn(r, Ns[i] * K), [Ns[i], K]), b: tensor(randn(r, Ns[i]), [Ns[i]]),
  }));
  const run = () => inputs.map(({ x, w, b }, i) => linear(x, w, b, { activation: cases[i][2] }).data);
  try {
    await init({ build: BUILD });
    const want = run();
    tuning.minWork = 0;
    for (const n of [2, 3, 1]) {
      await init({ build: BUILD, threads: n });
      run().forEach((y, i) => bitsEqual(y, want[i], `${n} threads, case ${i}`));
    }
  } finally {
    tuning.minWork = minWork;
    terminate();
    await init({ build: BUILD });
  }
});

test.run();
