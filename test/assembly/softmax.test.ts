// test/assembly/softmax.test.ts ↔ assembly/softmax.ts, assembly/simd/exp.ts (raw exports).
// softmax_rows_f32(y, x, rows, cols): y[r, :] = softmax(x[r, :]); y == x allowed.
// exp_f32(y, x, n): y = exp(x), vector body of f32x4 lanes + scalar tail.
// Shapes: rows × cols, cols named after the f32x4 lanes (4); the exp and max passes step 16 floats,
// then 4, then 1.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUILD, ODD_SIZES, assertRowsClose, randn, rng } from "../helpers.js";
import { refSoftmax } from "../reference.js";
import { runtime } from "../../src/wasm.js";
import { type Guarded, guarded, tile } from "../support.js";

const rt = runtime("test");
const kern = rt.kernels;

/** Guarded softmax_rows_f32 of x (rows × cols) against refSoftmax; in place when inPlace. */
function checkSoftmax(x: Float32Array, rows: number, cols: number, what: string, inPlace = false): Float32Array {
  return guarded(rt, (g) => {
    let out: Float32Array;
    if (inPlace) {
      const px = g.output(rows * cols, "x=y");
      g.f32(px).set(x);
      kern.softmax_rows_f32(px.ptr, px.ptr, rows, cols);
      g.check(what);
      out = g.f32(px).slice();
    } else {
      const px = g.input(x, "x"), py = g.output(rows * cols, "y");
      kern.softmax_rows_f32(py.ptr, px.ptr, rows, cols);
      g.check(what);
      out = g.f32(py).slice();
    }
    assertRowsClose(out, refSoftmax(x, cols), cols, 1e-5, what);
    return out;
  });
}

for (const cols of ODD_SIZES) {
  test(`softmax_rows_f32 cols=${tile(cols, 4, "lanes")}, rows ∈ {1, 3, 5}, x ∈ [90, 100) (exp(x) overflows f32)`, () => {
    for (const rows of [1, 3, 5]) {
      const x = randn(rng(rows * 100 + cols), rows * cols, 90, 100);
      const y = checkSoftmax(x, rows, cols, `softmax_rows_f32 rows=${rows} cols=${cols}`);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += y[r * cols + j];
        assert.ok(Math.abs(s - 1) < 1e-5, `row ${r} sums to ${s}`);
      }
    }
  });
}

test("softmax_rows_f32 long rows: cols ∈ {255, 1000, 4099}, rows = 3, x ∈ [90, 100)", () => {
  for (const cols of [255, 1000, 4099]) checkSoftmax(randn(rng(cols), 3 * cols, 90, 100), 3, cols, `cols=${cols}`);
});

test("softmax_rows_f32 in place (y == x): rows = 4, cols through ODD_SIZES, x ∈ [90, 100)", () => {
  for (const cols of ODD_SIZES) checkSoftmax(randn(rng(cols + 7), 4 * cols, 90, 100), 4, cols, `in place cols=${cols}`, true);
});

test("softmax_rows_f32 negative and wide inputs: x ∈ [−100, −90) and [−30, 30), cols through ODD_SIZES", () => {
  for (const cols of ODD_SIZES) {
    checkSoftmax(randn(rng(cols + 1), 3 * cols, -100, -90), 3, cols, `x ∈ [−100, −90) cols=${cols}`);
    checkSoftmax(randn(rng(cols + 2), 3 * cols, -30, 30), 3, cols, `x ∈ [−30, 30) cols=${cols}`);
  }
});

test("softmax_rows_f32 finds a row's max wherever it lies (16-float steps, 4-float steps, scalar tail): one-hot rows, cols ∈ ODD_SIZES ∪ {16, 20, 31, 33, 48}", () => {
  // Row r: −200 everywhere but 0 at column r. A max pass that missed column r would take −200 as the
  // max, and exp(0 − (−200)) overflows to Infinity: NaN instead of a one-hot row.
  for (const cols of [...ODD_SIZES, 16, 20, 31, 33, 48]) {
    const x = new Float32Array(cols * cols).fill(-200);
    for (let r = 0; r < cols; r++) x[r * cols + r] = 0;
    const y = checkSoftmax(x, cols, cols, `one-hot rows, cols=${cols}`);
    for (let i = 0; i < y.length; i++) assert.is(y[i], i % (cols + 1) === 0 ? 1 : 0, `cols=${cols}: y[${Math.floor(i / cols)}, ${i % cols}]`);
  }
});

test("softmax_rows_f32 a row of all −Infinity gives zeros (not NaN); its neighbours are normal (cols through ODD_SIZES)", () => {
  for (const cols of ODD_SIZES) {
    const x = randn(rng(cols), 3 * cols, -5, 5);
    x.fill(-Infinity, cols, 2 * cols);
    const y = checkSoftmax(x, 3, cols, `−Infinity row, cols=${cols}`);
    for (let j = cols; j < 2 * cols; j++) assert.is(Object.is(y[j], 0), true, `y[1, ${j - cols}] = ${y[j]}, want +0`);
  }
});

test("softmax_rows_f32 −Infinity entries (partly masked rows) get exactly 0, the rest sums to 1 (cols through ODD_SIZES)", () => {
  for (const cols of ODD_SIZES) {
    const rand = rng(cols * 3);
    const x = randn(rand, 2 * cols, 90, 100);
    for (let i = 0; i < x.length; i++) if (rand() < 0.4 && i % cols !== 0) x[i] = -Infinity;
    const y = checkSoftmax(x, 2, cols, `partly −Infinity, cols=${cols}`);
    for (let i = 0; i < x.length; i++) if (x[i] === -Infinity) assert.is(y[i], 0, `y[${i}]`);
  }
});

test("softmax_rows_f32 a NaN anywhere in a row makes that row NaN, other rows unaffected (NaN at first, middle, last, and with −Infinity)", () => {
  for (const cols of [1, 4, 5, 8, 17, 65]) {
    for (const at of [0, cols >> 1, cols - 1]) {
      const x = randn(rng(cols + at), 3 * cols, 90, 100);
      x[cols + at] = NaN;
      checkSoftmax(x, 3, cols, `NaN at [1, ${at}] cols=${cols}`);   // ref: row 1 all NaN
      const x2 = new Float32Array(3 * cols).fill(-Infinity);
      x2[cols + at] = NaN;
      const y2 = checkSoftmax(x2, 3, cols, `NaN among −Infinity at [1, ${at}] cols=${cols}`);
      for (let j = 0; j < cols; j++) assert.ok(Number.isNaN(y2[cols + j]), `row 1 [${j}] = ${y2[cols + j]}, want NaN`);
    }
  }
});

// ---- exp_f32 ----------------------------------------------------------------------------------------------

function expCall(g: Guarded, x: Float32Array, what: string): Float32Array {
  const px = g.input(x, "x"), py = g.output(x.length, "y");
  kern.exp_f32(py.ptr, px.ptr, x.length);
  g.check(what);
  return g.f32(py).slice();
}

test("exp_f32: max relative error vs Math.exp ≤ 2e-7 over a dense sweep of [−87.3, 0] (1e6 points) and exact points", () => {
  const n = 1_000_000;
  const x = new Float32Array(n + 8);
  for (let i = 0; i < n; i++) x[i] = -87.3 * (i / (n - 1));
  x.set([0, -0, -1e-30, -1e-7, -87.33, -87.336, -0.5, -Math.LN2], n);
  const y = guarded(rt, (g) => expCall(g, x, "exp sweep"));
  let worst = 0, at = 0;
  for (let i = 0; i < x.length; i++) {
    const e = Math.exp(x[i]), rel = Math.abs(y[i] - e) / e;
    if (!(rel <= worst)) { worst = rel; at = i; }
  }
  assert.ok(worst <= 2e-7, `max rel error ${worst.toExponential(3)} at x = ${x[at]} (got ${y[at]}, want ${Math.exp(x[at])})`);
  assert.is(y[n], 1, "exp(0)");
  assert.is(y[n + 1], 1, "exp(−0)");
  assert.is(y[n + 2], 1, "exp(−1e-30)");
});

test("exp_f32: exp(−Infinity) = 0, NaN → NaN, 0 below −87.34, in body lanes and the scalar tail (n = 4k + 3)", () => {
  const special = [-Infinity, NaN, -87.35, -88, -100, -1e30, -3.4e38, -87.34];
  // each special value once in a vector lane (index < n4) and once in the tail
  const x = new Float32Array(special.length * 4 + 3).fill(-1);
  special.forEach((v, i) => { x[i] = v; });
  const tailAt = x.length - 3;
  const got: number[][] = [];
  for (const v of special) {
    const xt = x.slice();
    xt[tailAt] = v;
    got.push([...guarded(rt, (g) => expCall(g, xt, `exp tail ${v}`))]);
  }
  special.forEach((v, i) => {
    const body = got[0][i], tail = got[i][tailAt];
    for (const [where, y] of [["body", body], ["tail", tail]] as const) {
      if (Number.isNaN(v)) assert.ok(Number.isNaN(y), `${where}: exp(NaN) = ${y}`);
      else assert.ok(Object.is(y, 0), `${where}: exp(${v}) = ${y}, want +0`);
    }
  });
  // the filler −1 everywhere else
  for (let i = special.length; i < tailAt; i++) assert.ok(Math.abs(got[0][i] - Math.exp(-1)) / Math.exp(-1) <= 2e-7, `exp(−1) at ${i}`);
});

// The relaxed build fuses the vector body's multiply-adds (its contract allows last-bit differences),
// so there the tail is only required to be as accurate as the body.
test(`exp_f32: the scalar tail gives ${BUILD === "relaxed" ? "the accuracy of" : "the same bits as"} a vector lane, n through ODD_SIZES`, () => {
  const vals = randn(rng(5), 64, -87, 0);
  const body = guarded(rt, (g) => expCall(g, vals, "exp n=64 (all vector lanes)"));
  for (const n of ODD_SIZES) {
    const x = vals.slice(0, n);
    const y = guarded(rt, (g) => expCall(g, x, `exp n=${tile(n, 4, "lanes")}`));
    for (let i = 0; i < n; i++) {
      const bits = new Uint32Array(new Float32Array([y[i], body[i]]).buffer);
      if (BUILD !== "relaxed") assert.ok(bits[0] === bits[1], `n=${n} [${i}] (${i >= (n & ~3) ? "tail" : "body"}): ${y[i]} vs ${body[i]} in a vector lane`);
    }
    assertRowsClose(y, Array.from(x, Math.exp), 1, 2e-7, `exp n=${n}: each value within 2e-7 of itself`);
  }
});

test.run();
