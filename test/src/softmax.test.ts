// test/src/softmax.test.ts ↔ src/softmax.ts (public API softmax over the last axis).
// x [..., N] → y [..., N]. Checked against test/reference.ts at 1e-5 relative to the output's scale;
// one test per thrown error per argument.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertRowsClose, randn, rng, throwsWith } from "../helpers.js";
import { refSoftmax } from "../reference.js";
import { type Tensor, softmax } from "../../src/index.js";
import { runtime } from "../../src/wasm.js";
import { stillWorks } from "../support.js";

const SIZES = [1, 3, 17, 63, 65, 129];
const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

function check(shape: number[], x: Float32Array, what: string): Float32Array {
  const x0 = x.slice();
  const r = softmax({ data: x, shape });
  assert.equal(r.shape, shape, `${what}: shape`);
  assertRowsClose(r.data, refSoftmax(x, shape[shape.length - 1]), shape[shape.length - 1], 1e-5, what);
  assert.equal(Array.from(x), Array.from(x0), `${what}: x unchanged`);
  return r.data;
}

test(`softmax shapes [N], [R, N], [2, 3, N] for N ∈ {${SIZES}}, x ∈ [90, 100) (exp(x) overflows f32)`, () => {
  for (const N of SIZES) {
    for (const lead of [[], [4], [2, 3], [129]]) {
      const shape = [...lead, N];
      const y = check(shape, randn(rng(N + lead.length), prod(shape), 90, 100), `[${shape}]`);
      for (let r = 0; r < prod(lead); r++) {
        let s = 0;
        for (let j = 0; j < N; j++) s += y[r * N + j];
        assert.ok(Math.abs(s - 1) < 1e-5, `[${shape}] row ${r} sums to ${s}`);
      }
    }
  }
});

test("softmax wide ranges: x ∈ [−50, 50) and [−100, −90), shape [5, 65]", () => {
  check([5, 65], randn(rng(1), 325, -50, 50), "[−50, 50)");
  check([5, 65], randn(rng(2), 325, -100, -90), "[−100, −90)");
});

test("softmax a row of all −Infinity gives zeros; partly −Infinity rows give exact zeros there ([3, 17])", () => {
  const x = randn(rng(3), 3 * 17, -5, 5);
  x.fill(-Infinity, 17, 34);
  x[2] = x[40] = -Infinity;
  const y = check([3, 17], x, "−Infinity rows");
  for (let j = 17; j < 34; j++) assert.ok(Object.is(y[j], 0), `y[1, ${j - 17}] = ${y[j]}, want 0`);
  assert.is(y[2], 0);
  assert.is(y[40], 0);
});

test("softmax a NaN makes its row NaN and leaves other rows alone ([3, 9], NaN at [1, 4]; a row of −Infinity and one NaN)", () => {
  const x = randn(rng(4), 27);
  x[13] = NaN;
  const y = check([3, 9], x, "NaN row");
  assert.ok(y.slice(9, 18).every(Number.isNaN), "row 1 all NaN");
  assert.ok(y.slice(0, 9).every(Number.isFinite) && y.slice(18).every(Number.isFinite), "rows 0, 2 finite");
  const z = new Float32Array(9).fill(-Infinity);
  z[8] = NaN;
  assert.ok(softmax({ data: z, shape: [9] }).data.every(Number.isNaN), "−Infinity row with a NaN is NaN");
});

test("softmax zero sizes: [0], [3, 0], [0, 5] give empty results of the same shape", () => {
  for (const shape of [[0], [3, 0], [0, 5], [2, 0, 4]]) {
    const r = softmax({ data: new Float32Array(0), shape });
    assert.equal(r.shape, shape);
    assert.is(r.data.length, 0);
  }
});

test("softmax results are fresh arrays: not views of WASM memory, not x, new per call; options undefined and {} accepted", () => {
  const x: Tensor = { data: randn(rng(5), 12), shape: [3, 4] };
  const a = softmax(x), b = softmax(x, {});
  assert.ok(a.data !== x.data && a.data.buffer !== x.data.buffer, "not x");
  assert.ok(a.data.buffer !== runtime("test").heap.memory.buffer, "not a view of WASM memory");
  assert.ok(a.data !== b.data, "new per call");
  assert.ok(a.shape !== x.shape, "shape not aliased");
  assert.equal(Array.from(a.data), Array.from(b.data));
  const keep = Array.from(a.data);
  softmax({ data: randn(rng(6), 12), shape: [3, 4] });
  assert.equal(Array.from(a.data), keep, "not overwritten by a later call");
});

test("softmax options.out: written and returned (same bits as a new array, [3, 65]); in place with out = x.data; [0] with an empty out", () => {
  const x: Tensor = { data: randn(rng(7), 3 * 65, -20, 20), shape: [3, 65] };
  const want = softmax(x).data;
  const out = new Float32Array(3 * 65).fill(NaN);
  const r = softmax(x, { out });
  assert.ok(r.data === out);
  assert.equal(r.shape, [3, 65]);
  assert.equal(Array.from(out), Array.from(want));
  const y = softmax(x, { out: x.data });
  assert.ok(y.data === x.data);
  assert.equal(Array.from(x.data), Array.from(want), "in place");
  const empty = new Float32Array(0);
  assert.ok(softmax({ data: new Float32Array(0), shape: [0] }, { out: empty }).data === empty);
});

// ---- the size limit: x is in WASM memory once ------------------------------------------------------------------

// softmax copies x into one block and normalises it in place, so x fits while its bytes do: at most
// (4 GiB − 1 MiB) / 4 = 1 073 479 680 floats. The check used to count x twice (x and a result), refusing
// everything from (4 GiB − 1 MiB) / 8 floats on, and its message blamed WebAssembly memory.
const LIMIT_FLOATS = (2 ** 32 - 2 ** 20) / 4;

test("softmax at the size limit: 1 073 479 681 floats (one more than fits) is a RangeError naming x's size, before any allocation", () => {
  const x = new Float32Array(LIMIT_FLOATS + 1);   // zero pages, never touched
  const before = runtime("test").heap.bytesInUse;
  throwsWith(() => softmax({ data: x, shape: [LIMIT_FLOATS + 1] }), RangeError,
    /^softmax: x\.data must have at most 1073479680 floats \(softmax copies x into WebAssembly memory once and works in place there; a module addresses 4 GiB, 1 MiB of it kept for the module\); got 1073479681 floats \(4\.00 GiB\)$/,
    "x of LIMIT + 1 floats");
  assert.is(runtime("test").heap.bytesInUse, before, "nothing allocated");
  stillWorks("after the refused call");
});

test("softmax past the old limit: 536 739 904 and 1 073 479 680 floats pass the size check and ask WebAssembly memory for x once (its grow refused here, which leaves everything as it was)", () => {
  // Running them would write 2–4 GiB into fresh pages (a minute on a small VM); refusing the memory's
  // grow shows what the call asked for, and that nothing is left behind.
  const rt = runtime("test");
  const realGrow = WebAssembly.Memory.prototype.grow;
  const cols = 64;
  for (const n of [Math.ceil((LIMIT_FLOATS / 2 + 1) / cols) * cols, LIMIT_FLOATS]) {
    assert.ok(n * 8 > 2 ** 32 - 2 ** 20, `${n} floats: the old count (8 bytes a float) refused it`);
    const x = new Float32Array(n);   // zero pages, never touched
    const before = { inUse: rt.heap.bytesInUse, reserved: rt.heap.bytesReserved };
    const asked: number[] = [];
    WebAssembly.Memory.prototype.grow = function (pages: number): number {
      asked.push(pages);
      throw new RangeError("refused by the test");
    };
    let err: unknown;
    try {
      softmax({ data: x, shape: [n / cols, cols] }, { out: x });
    } catch (e) {
      err = e;
    } finally {
      WebAssembly.Memory.prototype.grow = realGrow;
    }
    assert.instance(err, RangeError, `${n} floats: ${String(err)}`);
    const msg = (err as Error).message;
    assert.not.match(msg, /must have at most/, `${n} floats: not refused by the size check`);
    if (asked.length > 0) {
      assert.match(msg, /^softmax: could not grow WebAssembly memory from .* \(refused by the test\)$/, `${n} floats: the grow's error`);
      const want = before.reserved + asked[0] * 65536;
      assert.ok(want >= n * 4 && want <= n * 4 + before.reserved + 65536 + 64, `${n} floats: grows to ${want} bytes for x's ${n * 4} (one copy)`);
    } else {
      // The heap's top is already high enough that 4 GiB − 1 MiB more cannot fit at all.
      assert.ok(n === LIMIT_FLOATS, `${n} floats: the memory was asked to grow`);
      assert.match(msg, /^softmax: needs 4\.00 GiB more WebAssembly memory than the 4 GiB a module can address/, "the heap's own limit");
    }
    assert.equal({ inUse: rt.heap.bytesInUse, reserved: rt.heap.bytesReserved }, before, `${n} floats: heap unchanged`);
    stillWorks(`after ${n} floats`);
  }
});

// ---- errors --------------------------------------------------------------------------------------------------------

const X = (): Tensor => ({ data: randn(rng(1), 6), shape: [2, 3] });

function errorTest(name: string, call: () => unknown, cls: typeof TypeError | typeof RangeError, pattern: RegExp): void {
  test(`softmax throws ${cls.name}: ${name}`, () => {
    throwsWith(call, cls, new RegExp("softmax: " + pattern.source), name);
    stillWorks(name);
  });
}

errorTest("options not an object (1)", () => softmax(X(), 1 as never), TypeError, /options must be an object; got 1/);
errorTest("unknown option axis", () => softmax(X(), { axis: 0 } as never), TypeError, /unknown option "axis"; known options are /);
errorTest("options.out a Uint8Array", () => softmax(X(), { out: new Uint8Array(6) as never }), TypeError, /options\.out must be a Float32Array; got a Uint8Array\(6\)/);
errorTest("options.out of length 5", () => softmax(X(), { out: new Float32Array(5) }), RangeError,
  /options\.out\.length must equal the result's 6 elements \(shape \[2, 3\]\); got 5/);
errorTest("x not a tensor (null)", () => softmax(null as never), TypeError, /x must be a tensor \{ data: Float32Array, shape: \[\.\.\., N\] \}; got null/);
errorTest("x.data a Float64Array", () => softmax({ data: new Float64Array(6), shape: [2, 3] } as never), TypeError,
  /x\.data must be a Float32Array; got an? Float64Array\(6\)/);
errorTest("x.shape not an array", () => softmax({ data: new Float32Array(6), shape: { 0: 6 } } as never), TypeError,
  /x\.shape must be an array of non-negative integers; got an object/);
errorTest("x.shape[0] not a number", () => softmax({ data: new Float32Array(6), shape: ["2", 3] } as never), TypeError,
  /x\.shape\[0\] must be a number; got "2"/);
errorTest("x.shape[1] negative", () => softmax({ data: new Float32Array(6), shape: [2, -3] }), RangeError,
  /x\.shape\[1\] must be a non-negative integer; got -3/);
errorTest("x rank 0", () => softmax({ data: new Float32Array(1), shape: [] }), RangeError,
  /x\.shape must have rank ≥ 1 \(\[\.\.\., N\]\); got \[\] \(rank 0\)/);
errorTest("x.data length ≠ shape product", () => softmax({ data: new Float32Array(7), shape: [2, 3] }), RangeError,
  /x\.data must have length 2·3 = 6 for shape \[2, 3\]; got 7/);

test.run();
