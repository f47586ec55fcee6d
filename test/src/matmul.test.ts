// test/src/matmul.test.ts ↔ src/matmul.ts (public API matmul).
// a [...batch, M, K] (or [..., K, M] with transposeA) · b [...batch, K, N] (or [..., N, K] with transposeB)
// → [...batch, M, N], batch dims broadcast (numpy). Checked against test/reference.ts at 1e-5 relative to
// the output's scale; one test per thrown error per argument.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertClose, randn, rng, throwsWith } from "../helpers.js";
import { KC, NC } from "../constants.js";
import { broadcastIndex, refMatmul } from "../reference.js";
import { type MatmulOptions, type Tensor, matmul } from "../../src/index.js";
import { runtime } from "../../src/wasm.js";
import { stillWorks } from "../support.js";

const SIZES = [1, 3, 17, 63, 65, 129];
const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** numpy broadcast of two batch shapes (the test's own, independent of src/validate.ts). */
function bcast(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length), out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1, y = b[b.length - n + i] ?? 1;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Reference batched matmul: each batch item of the broadcast batch through refMatmul. */
function refBatched(a: Float32Array, aBatch: number[], b: Float32Array, bBatch: number[], M: number, K: number, N: number, ta: boolean, tb: boolean): Float64Array {
  const batch = bcast(aBatch, bBatch), nb = prod(batch);
  const out = new Float64Array(nb * M * N);
  for (let i = 0; i < nb; i++) {
    const idx: number[] = [];
    for (let d = batch.length - 1, r = i; d >= 0; d--) { idx.unshift(r % batch[d]); r = Math.floor(r / batch[d]); }
    const ia = broadcastIndex(idx, aBatch, batch), ib = broadcastIndex(idx, bBatch, batch);
    out.set(refMatmul(a.subarray(ia * M * K, (ia + 1) * M * K), b.subarray(ib * K * N, (ib + 1) * K * N), M, K, N, ta, tb), i * M * N);
  }
  return out;
}

interface Case { aBatch: number[]; bBatch: number[]; M: number; K: number; N: number; ta?: boolean; tb?: boolean }

function check(c: Case, seed: number): Tensor {
  const { M, K, N } = c;
  const ta = !!c.ta, tb = !!c.tb;
  const aShape = [...c.aBatch, ...(ta ? [K, M] : [M, K])], bShape = [...c.bBatch, ...(tb ? [N, K] : [K, N])];
  const what = `matmul [${aShape}]${ta ? "ᵀ" : ""} · [${bShape}]${tb ? "ᵀ" : ""}`;
  const rand = rng(seed);
  const a = randn(rand, prod(aShape)), b = randn(rand, prod(bShape));
  const a0 = a.slice(), b0 = b.slice();
  const opts: MatmulOptions = {};
  if (c.ta !== undefined) opts.transposeA = c.ta;
  if (c.tb !== undefined) opts.transposeB = c.tb;
  const r = matmul({ data: a, shape: aShape }, { data: b, shape: bShape }, opts);
  assert.equal(r.shape, [...bcast(c.aBatch, c.bBatch), M, N], `${what}: shape`);
  assertClose(r.data, refBatched(a, c.aBatch, b, c.bBatch, M, K, N, ta, tb), 1e-5, what);
  assert.equal(Array.from(a), Array.from(a0), `${what}: a unchanged`);
  assert.equal(Array.from(b), Array.from(b0), `${what}: b unchanged`);
  return r;
}

// ---- shapes ----------------------------------------------------------------------------------------------------

for (const [d, dim] of (["M", "K", "N"] as const).entries()) {
  test(`matmul ${dim} through {${SIZES}}, the other dims random from the same set, no batch`, () => {
    const rand = rng(d + 10);
    for (const x of SIZES) {
      const dims = [0, 1, 2].map((i) => (i === d ? x : SIZES[Math.floor(rand() * SIZES.length)]));
      check({ aBatch: [], bBatch: [], M: dims[0], K: dims[1], N: dims[2] }, x + d);
    }
  });
}

test(`matmul K across the k-blocks (KC = ${KC}) and N across the n-blocks (NC = ${NC}): [3, ${KC + 1}] · [${KC + 1}, 7], [5, 20] · [20, ${2 * NC + 6}], [2, ${2 * KC + 3}] · [${2 * KC + 3}, ${NC + 1}]`, () => {
  check({ aBatch: [], bBatch: [], M: 3, K: KC + 1, N: 7 }, 1);
  check({ aBatch: [], bBatch: [], M: 5, K: 20, N: 2 * NC + 6 }, 2);
  check({ aBatch: [], bBatch: [], M: 2, K: 2 * KC + 3, N: NC + 1 }, 3);
});

test("matmul leading batch dims: [2] · [2] and [2, 3] · [2, 3], M, K, N ∈ {1, 17, 65}", () => {
  for (const batch of [[2], [2, 3]]) for (const [M, K, N] of [[1, 17, 65], [17, 65, 1], [65, 1, 17], [17, 17, 17]]) {
    check({ aBatch: batch, bBatch: batch, M, K, N }, M + K + N + batch.length);
  }
});

for (const [ta, tb] of [[true, false], [false, true], [true, true], [false, false]]) {
  test(`matmul transposeA=${ta} transposeB=${tb}: no batch, batch [3], broadcast [2, 1] · [3], folded [2, 3] · []`, () => {
    for (const [M, K, N] of [[3, 17, 5], [17, 1, 65], [1, 63, 3], [65, 3, 17]]) {
      check({ aBatch: [], bBatch: [], M, K, N, ta, tb }, M * K * N);
      check({ aBatch: [3], bBatch: [3], M, K, N, ta, tb }, M * K * N + 1);
      check({ aBatch: [2, 1], bBatch: [3], M, K, N, ta, tb }, M * K * N + 2);
      check({ aBatch: [2, 3], bBatch: [], M, K, N, ta, tb }, M * K * N + 3);
    }
  });
}

test("matmul batch broadcasting: [2, 1, M, K] · [3, K, N] → [2, 3, M, N]; [1, M, K] · [4, K, N]; [M, K] · [2, K, N]; [4, M, K] · [1, K, N]; [2, 1] · [1, 3]", () => {
  for (const [aBatch, bBatch] of [[[2, 1], [3]], [[1], [4]], [[], [2]], [[4], [1]], [[2, 1], [1, 3]], [[1, 1], []]]) {
    check({ aBatch, bBatch, M: 5, K: 7, N: 9 }, aBatch.length * 10 + bBatch.length);
    check({ aBatch, bBatch, M: 17, K: 3, N: 8, tb: true }, aBatch.length * 10 + bBatch.length + 1);
  }
});

test("matmul folded case [B, M, K] · [K, N] (one GEMM over B·M rows): B ∈ {1, 3, 7}, M ∈ {1, 3, 17}, also [2, 3, M, K] · [1, K, N]", () => {
  for (const B of [1, 3, 7]) for (const M of [1, 3, 17]) check({ aBatch: [B], bBatch: [], M, K: 9, N: 11 }, B * M);
  check({ aBatch: [2, 3], bBatch: [1], M: 4, K: 6, N: 5 }, 1);
  check({ aBatch: [2, 3], bBatch: [1, 1], M: 4, K: 6, N: 5, tb: true }, 2);
});

test("matmul zero sizes: M = 0, N = 0 (empty results), K = 0 (zeros), batch dim 0", () => {
  const z = (aShape: number[], bShape: number[], opts?: MatmulOptions) =>
    matmul({ data: randn(rng(1), prod(aShape)), shape: aShape }, { data: randn(rng(2), prod(bShape)), shape: bShape }, opts);
  let r = z([0, 4], [4, 3]);
  assert.equal(r.shape, [0, 3]); assert.is(r.data.length, 0);
  r = z([2, 4], [4, 0]);
  assert.equal(r.shape, [2, 0]); assert.is(r.data.length, 0);
  r = z([2, 0], [0, 3]);
  assert.equal(r.shape, [2, 3]); assert.equal(Array.from(r.data), [0, 0, 0, 0, 0, 0]);
  r = z([0, 2], [3, 0], { transposeA: true, transposeB: true });
  assert.equal(r.shape, [2, 3]); assert.equal(Array.from(r.data), [0, 0, 0, 0, 0, 0]);
  r = z([0, 2, 4], [4, 3]);
  assert.equal(r.shape, [0, 2, 3]); assert.is(r.data.length, 0);
  r = z([2, 1, 2, 4], [0, 4, 3]);
  assert.equal(r.shape, [2, 0, 2, 3]); assert.is(r.data.length, 0);
});

test("matmul 1×1 · 1×1 and a row · a column: [1, 1] · [1, 1], [1, 65] · [65, 1], [65, 1] · [1, 65]", () => {
  const r = matmul({ data: new Float32Array([3]), shape: [1, 1] }, { data: new Float32Array([-2.5]), shape: [1, 1] });
  assert.equal(Array.from(r.data), [-7.5]);
  check({ aBatch: [], bBatch: [], M: 1, K: 65, N: 1 }, 1);
  check({ aBatch: [], bBatch: [], M: 65, K: 1, N: 65 }, 2);
});

test("matmul options: undefined, {}, and explicit false are the same", () => {
  const rand = rng(4);
  const a: Tensor = { data: randn(rand, 15), shape: [3, 5] }, b: Tensor = { data: randn(rand, 10), shape: [5, 2] };
  const x = matmul(a, b), y = matmul(a, b, {}), z = matmul(a, b, { transposeA: false, transposeB: false }), u = matmul(a, b, { transposeA: undefined });
  for (const r of [y, z, u]) assert.equal(Array.from(r.data), Array.from(x.data));
  assertClose(x.data, refMatmul(a.data, b.data, 3, 5, 2), 1e-5, "[3, 5] · [5, 2]");
});

test("matmul results are fresh arrays: not views of WASM memory, new on every call", () => {
  const rand = rng(5);
  const a: Tensor = { data: randn(rand, 6), shape: [2, 3] }, b: Tensor = { data: randn(rand, 12), shape: [3, 4] };
  const x = matmul(a, b), y = matmul(a, b);
  assert.ok(x.data.buffer !== runtime("test").heap.memory.buffer, "not a view of WASM memory");
  assert.ok(x.data !== y.data && x.data.buffer !== y.data.buffer, "new per call");
  assert.ok(x.shape !== y.shape, "shape arrays not shared");
  const keep = Array.from(x.data);
  matmul({ data: randn(rand, 6), shape: [2, 3] }, b);
  assert.equal(Array.from(x.data), keep, "not overwritten by a later call");
});

test("matmul does not modify inputs given as subarray views at odd offsets: [2, 3, 4] · [4, 5] and transposed", () => {
  const big = randn(rng(12), 100);
  const a = big.subarray(1, 25), b = big.subarray(30, 50);
  const before = Array.from(big);
  assertClose(matmul({ data: a, shape: [2, 3, 4] }, { data: b, shape: [4, 5] }).data, refMatmul(a, b, 6, 4, 5), 1e-5, "[2, 3, 4] · [4, 5]");
  const r = matmul({ data: a, shape: [2, 4, 3] }, { data: b, shape: [5, 4] }, { transposeA: true, transposeB: true });
  assertClose(r.data.subarray(0, 15), refMatmul(a.subarray(0, 12), b, 3, 4, 5, true, true), 1e-5, "[4, 3]ᵀ · [5, 4]ᵀ batch 0");
  assertClose(r.data.subarray(15), refMatmul(a.subarray(12), b, 3, 4, 5, true, true), 1e-5, "[4, 3]ᵀ · [5, 4]ᵀ batch 1");
  assert.equal(Array.from(big), before);
});

test("matmul options.out: the result is written into it and returned (same bits as a new array), batch and transposes, odd sizes", () => {
  const rand = rng(21);
  for (const [aShape, bShape, opts, M, N, batch] of [
    [[17, 63], [63, 65], {}, 17, 65, []],
    [[3, 1, 5, 9], [2, 9, 3], {}, 5, 3, [3, 2]],
    [[2, 9, 5], [3, 9], { transposeA: true, transposeB: true }, 5, 3, [2]],
  ] as [number[], number[], MatmulOptions, number, number, number[]][]) {
    const a: Tensor = { data: randn(rand, prod(aShape)), shape: aShape }, b: Tensor = { data: randn(rand, prod(bShape)), shape: bShape };
    const fresh = matmul(a, b, opts);
    const out = new Float32Array(prod(batch) * M * N).fill(NaN);
    const r = matmul(a, b, { ...opts, out });
    assert.ok(r.data === out, `[${aShape}] · [${bShape}]: data is out`);
    assert.equal(r.shape, [...batch, M, N]);
    assert.equal(Array.from(out), Array.from(fresh.data), `[${aShape}] · [${bShape}]: same bits`);
  }
});

test("matmul options.out may be an input's data (a·B into a.data, [4, 65] · [65, 65]); K = 0 overwrites out with zeros", () => {
  const rand = rng(22);
  const a: Tensor = { data: randn(rand, 4 * 65), shape: [4, 65] }, b: Tensor = { data: randn(rand, 65 * 65), shape: [65, 65] };
  const want = matmul(a, b).data;
  const r = matmul(a, b, { out: a.data });
  assert.ok(r.data === a.data);
  assert.equal(Array.from(a.data), Array.from(want), "in place");
  const out = new Float32Array(6).fill(7);
  matmul({ data: new Float32Array(0), shape: [2, 0] }, { data: new Float32Array(0), shape: [0, 3] }, { out });
  assert.equal(Array.from(out), [0, 0, 0, 0, 0, 0]);
  const empty = new Float32Array(0);
  assert.ok(matmul({ data: new Float32Array(0), shape: [0, 4] }, { data: new Float32Array(12), shape: [4, 3] }, { out: empty }).data === empty);
});

// ---- errors --------------------------------------------------------------------------------------------------------

const A = (): Tensor => ({ data: randn(rng(1), 6), shape: [2, 3] });
const B = (): Tensor => ({ data: randn(rng(2), 12), shape: [3, 4] });

function errorTest(name: string, call: () => unknown, cls: typeof TypeError | typeof RangeError, pattern: RegExp): void {
  test(`matmul throws ${cls.name}: ${name}`, () => {
    throwsWith(call, cls, new RegExp("matmul: " + pattern.source), name);
    stillWorks(name);
  });
}

for (const [name, out, cls, pattern] of [
  ["options.out a Float64Array", new Float64Array(8), TypeError, /options\.out must be a Float32Array; got a Float64Array\(8\)/],
  ["options.out an Array", [0, 0, 0, 0, 0, 0, 0, 0], TypeError, /options\.out must be a Float32Array; got an Array\(8\)/],
  ["options.out null", null, TypeError, /options\.out must be a Float32Array; got null/],
  ["options.out too short", new Float32Array(7), RangeError, /options\.out\.length must equal the result's 8 elements \(shape \[2, 4\]\); got 7/],
  ["options.out too long", new Float32Array(9), RangeError, /options\.out\.length must equal the result's 8 elements \(shape \[2, 4\]\); got 9/],
] as const) {
  errorTest(name, () => matmul(A(), B(), { out: out as never }), cls, pattern);
}
test("matmul: an out of the wrong length is left untouched", () => {
  const out = new Float32Array(9).fill(5);
  throwsWith(() => matmul(A(), B(), { out }), RangeError, /options\.out\.length/, "length 9");
  assert.ok(out.every((x) => x === 5));
});
errorTest("options not an object (\"T\")", () => matmul(A(), B(), "T" as never), TypeError, /options must be an object; got "T"/);
errorTest("unknown option transpose", () => matmul(A(), B(), { transpose: true } as never), TypeError,
  /unknown option "transpose"; known options are transposeA, transposeB/);
errorTest("options.transposeA not a boolean (1)", () => matmul(A(), B(), { transposeA: 1 as never }), TypeError, /options\.transposeA must be a boolean; got 1/);
errorTest("options.transposeB not a boolean (\"true\")", () => matmul(A(), B(), { transposeB: "true" as never }), TypeError,
  /options\.transposeB must be a boolean; got "true"/);

for (const [arg, make, dims] of [["a", A, "\\[\\.\\.\\.batch, M, K\\]"], ["b", B, "\\[\\.\\.\\.batch, K, N\\]"]] as const) {
  const call = (t: unknown) => () => (arg === "a" ? matmul(t as Tensor, B()) : matmul(A(), t as Tensor));
  const good = make();
  errorTest(`${arg} not a tensor (undefined)`, call(undefined), TypeError, new RegExp(`${arg} must be a tensor \\{ data: Float32Array, shape: ${dims} \\}; got undefined`));
  errorTest(`${arg} not a tensor (a number)`, call(3), TypeError, new RegExp(`${arg} must be a tensor .*; got 3`));
  errorTest(`${arg}.data an Int32Array`, call({ data: new Int32Array(good.data.length), shape: good.shape }), TypeError,
    new RegExp(`${arg}\\.data must be a Float32Array; got an? Int32Array\\(${good.data.length}\\)`));
  errorTest(`${arg}.shape missing`, call({ data: good.data }), TypeError, new RegExp(`${arg}\\.shape must be an array of non-negative integers; got undefined`));
  errorTest(`${arg}.shape[0] not a number`, call({ data: good.data, shape: [undefined, good.shape[1]] }), TypeError,
    new RegExp(`${arg}\\.shape\\[0\\] must be a number; got undefined`));
  errorTest(`${arg}.shape[1] NaN`, call({ data: good.data, shape: [good.shape[0], NaN] }), RangeError,
    new RegExp(`${arg}\\.shape\\[1\\] must be a non-negative integer; got NaN`));
  errorTest(`${arg} rank 1`, call({ data: good.data, shape: [good.data.length] }), RangeError,
    new RegExp(`${arg}\\.shape must have rank ≥ 2 \\(${dims}\\); got \\[${good.data.length}\\] \\(rank 1\\)`));
  errorTest(`${arg}.data length ≠ shape product`, call({ data: new Float32Array(good.data.length + 1), shape: good.shape }), RangeError,
    new RegExp(`${arg}\\.data must have length ${good.shape.join("·")} = ${good.data.length} for shape \\[${good.shape.join(", ")}\\]; got ${good.data.length + 1}`));
}
errorTest("a rank 1 with transposeA names [...batch, K, M]", () => matmul({ data: new Float32Array(3), shape: [3] }, B(), { transposeA: true }), RangeError,
  /a\.shape must have rank ≥ 2 \(\[\.\.\.batch, K, M\]\); got \[3\] \(rank 1\)/);
errorTest("inner dims differ: [2, 3] · [4, 5]", () => matmul(A(), { data: new Float32Array(20), shape: [4, 5] }), RangeError,
  /b\.shape\[0\] must equal K = 3 \(from a\.shape \[2, 3\]\); got 4 \(b\.shape \[4, 5\]\)/);
errorTest("inner dims differ with transposeB: [2, 3] · [5, 4]ᵀ", () => matmul(A(), { data: new Float32Array(20), shape: [5, 4] }, { transposeB: true }), RangeError,
  /b\.shape\[1\] must equal K = 3 \(from a\.shape \[2, 3\]\); got 4 \(b\.shape \[5, 4\], transposed\)/);
errorTest("inner dims differ with transposeA: [2, 3]ᵀ · [3, 4]", () => matmul(A(), B(), { transposeA: true }), RangeError,
  /b\.shape\[0\] must equal K = 2 \(from a\.shape \[2, 3\], transposed\); got 3 \(b\.shape \[3, 4\]\)/);
errorTest("inner dims differ with batch: [2, 2, 3] · [2, 4, 4]", () => matmul({ data: new Float32Array(12), shape: [2, 2, 3] }, { data: new Float32Array(32), shape: [2, 4, 4] }), RangeError,
  /b\.shape\[1\] must equal K = 3 \(from a\.shape \[2, 2, 3\]\); got 4 \(b\.shape \[2, 4, 4\]\)/);
errorTest("batch dims do not broadcast: [2, 2, 3] · [3, 3, 4]", () => matmul({ data: new Float32Array(12), shape: [2, 2, 3] }, { data: new Float32Array(36), shape: [3, 3, 4] }), RangeError,
  /batch dims of a and b must broadcast; got \[2\] and \[3\]/);
errorTest("batch dims do not broadcast: [2, 3, 2, 3] · [2, 3, 4]", () => matmul({ data: new Float32Array(36), shape: [2, 3, 2, 3] }, { data: new Float32Array(24), shape: [2, 3, 4] }), RangeError,
  /batch dims of a and b must broadcast; got \[2, 3\] and \[2\]/);

test.run();
