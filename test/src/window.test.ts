// test/src/window.test.ts ↔ src/window.ts, the `window` option of src/sdpa.ts, and the kernels' sliding
// window (assembly/attention.ts: key tiles bounded per row block, the direct path's key range).
//   window [left, right]: query i (at p = i + S − L, bottom-right aligned) sees key j iff
//   p − left ≤ j ≤ p + right; −1 or Infinity: unbounded. It intersects causal and the masks.
// Sizes cross the kernels' blocks: BM query rows per block, KC = BN keys per tile, DIRECT_L rows of the
// direct path, NR-column K panels (a windowed block's first tile starts at a multiple of NR).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type SdpaOptions, type Tensor, scaledDotProductAttention as sdpa } from "../../src/index.js";
import { BM, DIRECT_L, KC } from "../constants.js";
import { assertRowsClose, randBytes, rng, throwsWith } from "../helpers.js";
import { type RefCausal, type RefMask, refAttention } from "../reference.js";
import { stillWorks } from "../support.js";
import { bitsEqual, tensor } from "./reliability-support.js";

const RTOL = 1e-5;
type Win = readonly [number, number];

const sees = (i: number, j: number, L: number, S: number, win: Win): boolean => {
  const [l, r] = win.map((x) => (x === -1 ? Infinity : x));
  return j >= i + S - L - l && j <= i + S - L + r;
};

/** One sdpa call with weights against float64: output at each row's mag, weights, exact zeros outside the window. */
function check(L: number, S: number, E: number, Ev: number, win: Win, causal: RefCausal, seed: number,
  extra: { mask?: boolean; softcap?: number; alibi?: number; B?: number } = {}): void {
  const rand = rng(seed);
  const B = extra.B ?? 1;
  const q = tensor(rand, [B, L, E]), k = tensor(rand, [B, S, E]), v = tensor(rand, [B, S, Ev]);
  const o: SdpaOptions = { window: win, causal, returnWeights: true };
  const masks: RefMask[] = [];
  if (extra.mask) {
    // key padding broadcast over the rows: [B, 1, S]
    const keep = randBytes(rand, B * S, 0.75);
    o.mask = { data: keep, shape: [B, 1, S] };
    masks.push({ data: keep, shape: [B, 1, S], bool: true });
  }
  if (extra.softcap) o.softcap = extra.softcap;
  if (extra.alibi) o.alibiSlopes = Float32Array.of(extra.alibi);
  const what = `L=${L} S=${S} E=${E} Ev=${Ev} window=[${win}] causal=${causal}${extra.mask ? " padded" : ""}${extra.softcap ? " softcap" : ""}${extra.alibi ? " alibi" : ""}`;
  const got = sdpa(q, k, v, o);
  const ref = refAttention(q.data, k.data, v.data, [B], L, S, E, Ev, {
    causal, masks, window: win, softcap: extra.softcap,
    alibiSlopes: extra.alibi ? new Float64Array(B).fill(Math.fround(extra.alibi)) : undefined,
  });
  assertRowsClose(got.output.data, ref.out, Ev || 1, RTOL, `${what}: output`, ref.mag);
  assertRowsClose(got.weights!.data, ref.w, S, RTOL, `${what}: weights`);
  const w = got.weights!.data;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < S; j++) {
        if (!sees(i, j, L, S, win) && !Object.is(w[(b * L + i) * S + j], 0)) {
          assert.unreachable(`${what}: weight [${b}, ${i}, ${j}] outside the window is ${w[(b * L + i) * S + j]}, not +0`);
        }
      }
    }
  }
}

const EDGE_WINDOWS: Win[] = [[0, 0], [0, -1], [-1, 0], [3, 2], [1, Infinity], [BM, 5], [KC + 7, 0], [5, KC + 3]];

test(`window vs float64 at the edges (left = 0, right = 0, one side unbounded, across BM = ${BM} and KC = ${KC}), L = S, plain and causal`, () => {
  let seed = 1;
  for (const n of [1, DIRECT_L, 3, 7, BM - 1, BM + 1, 2 * BM + 3, KC + 9]) {
    for (const win of EDGE_WINDOWS) {
      for (const causal of [false, true, "top-left"] as const) check(n, n, 8, 5, win, causal, seed++);
    }
  }
});

test("window vs float64 with L ≠ S (L < S: a KV cache's queries; L > S), windows wider than S, both paths", () => {
  let seed = 100;
  const shapes: Array<[number, number]> = [[1, 37], [2, 600], [7, 100], [100, 7], [BM + 1, KC + 9], [2 * BM + 5, 3], [3, 2 * KC + 5], [KC + 3, 2 * KC + 1]];
  for (const [L, S] of shapes) {
    for (const win of [[0, 0], [4, 0], [0, 4], [S + 3, 0], [S + 5, L + 5], [Infinity, -1], [BM + 3, 2], [17, KC + 1]] as Win[]) {
      for (const causal of [false, true, "top-left"] as const) check(L, S, 6, 7, win, causal, seed++);
    }
  }
});

test("window with a padding mask, soft-capping and ALiBi (it combines with every other score option), batch of 2", () => {
  let seed = 300;
  for (const [L, S] of [[2, 45], [BM + 2, BM + 2], [45, KC + 40], [KC + 20, KC + 20]] as Array<[number, number]>) {
    for (const win of [[5, 0], [9, 3], [0, 0], [BM * 2, -1]] as Win[]) {
      for (const causal of [false, true] as const) {
        check(L, S, 9, 4, win, causal, seed++, { mask: true, B: 2 });
        check(L, S, 9, 4, win, causal, seed++, { softcap: 2.5 });
        check(L, S, 9, 4, win, causal, seed++, { alibi: 0.25, mask: true });
      }
    }
  }
});

test("window sizes crossing the tiles: sliding windows of 256 over L = S = 1500 (several blocks and tiles), odd E and Ev", () => {
  check(1500, 1500, 13, 11, [256, -1], true, 401);
  check(1500, 1500, 13, 11, [256, 256], false, 402);
  check(1499, 1501, 16, 3, [KC - 1, 1], false, 403);
});

test("a window that keeps every key gives the bits of no window (the window path's first tile is key 0), every causal kind, masks and weights", () => {
  const rand = rng(500);
  for (const [L, S] of [[1, 9], [2, 700], [9, 9], [BM + 7, KC + 13], [2 * BM + 1, 50], [KC + 5, KC + 5]] as Array<[number, number]>) {
    const q = tensor(rand, [2, L, 12]), k = tensor(rand, [2, S, 12]), v = tensor(rand, [2, S, 10]);
    const mask = { data: randBytes(rand, 2 * L * S, 0.8), shape: [2, L, S] };
    for (const causal of [false, true, "top-left"] as const) {
      for (const extra of [{}, { mask }, { softcap: 3, alibiSlopes: Float32Array.of(0.1, 0.4) }] as SdpaOptions[]) {
        const base = sdpa(q, k, v, { causal, returnWeights: true, ...extra });
        // the tightest window that keeps every key (left = S − 1, right = L − 1: bounded, run by the window code), and unbounded sides
        for (const window of [[S - 1, L - 1], [-1, L - 1], [S - 1, Infinity], [-1, -1], [S + L, 10 * L]] as Win[]) {
          const got = sdpa(q, k, v, { causal, returnWeights: true, window, ...extra });
          const what = `L=${L} S=${S} causal=${causal} window=[${window}] ${Object.keys(extra).join("+")}`;
          bitsEqual(got.output.data, base.output.data, `${what}: output`);
          bitsEqual(got.weights!.data, base.weights!.data, `${what}: weights`);
        }
        // bottom-right causal = window [S − 1, 0] alone: the same bits
        if (causal === true) {
          const got = sdpa(q, k, v, { returnWeights: true, window: [S - 1, 0], ...extra });
          bitsEqual(got.output.data, base.output.data, `L=${L} S=${S} window [S−1, 0] vs causal: output`);
          bitsEqual(got.weights!.data, base.weights!.data, `L=${L} S=${S} window [S−1, 0] vs causal: weights`);
        }
      }
    }
  }
});

const GARBAGE = [NaN, Infinity, -Infinity];
function plant(x: Float32Array, cols: number, keys: number[]): Float32Array {
  const y = x.slice();
  keys.forEach((j, n) => { for (let c = 0; c < cols; c++) y[j * cols + c] = GARBAGE[(n + c) % 3]; });
  return y;
}

test("keys outside a row's window are never read: NaN/±Inf planted there leave that row's output and weights exactly as with clean keys", () => {
  const rand = rng(600);
  for (const [L, S, win, causal] of [
    [1, 40, [5, 0], false], [2, 700, [20, 3], true], [9, 9, [1, 1], false], [BM + 9, BM + 9, [4, 2], false],
    [2 * BM + 5, KC + 40, [BM, 0], true], [KC + 50, KC + 50, [60, -1], true], [KC + 50, KC + 50, [3, 70], false],
  ] as Array<[number, number, Win, RefCausal]>) {
    const E = 8, Ev = 11;
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    // plant every third key that neither row 0 nor row ⌊L/2⌋ may see (before and after their windows)
    const vis = (i: number, j: number) => sees(i, j, L, S, win) && !(causal && j > i + S - L);
    const planted = Array.from({ length: S }, (_, j) => j).filter((j) => j % 3 !== 1 && !vis(0, j) && !vis(L >> 1, j));
    const rows = Array.from({ length: L }, (_, i) => i).filter((i) => planted.every((j) => !vis(i, j)));
    assert.ok(rows.length > 0 && planted.length > 0, `L=${L} S=${S} window=[${win}]: ${rows.length} blind rows, ${planted.length} planted keys`);
    const o: SdpaOptions = { causal, window: win, returnWeights: true };
    const clean = sdpa(q, k, v, o);
    const kb = { data: plant(k.data, E, planted), shape: k.shape }, vb = { data: plant(v.data, Ev, planted), shape: v.shape };
    const dirty = sdpa(q, kb, vb, o);
    const noW = sdpa(q, kb, vb, { causal, window: win });
    const ref = refAttention(q.data, k.data, v.data, [], L, S, E, Ev, { causal, window: win });
    for (const i of rows) {
      const what = `L=${L} S=${S} window=[${win}] causal=${causal} row ${i}`;
      const out = (x: Float32Array) => x.subarray(i * Ev, (i + 1) * Ev), wr = (x: Float32Array) => x.subarray(i * S, (i + 1) * S);
      bitsEqual(out(dirty.output.data), out(clean.output.data), `${what}: output`);
      bitsEqual(out(noW.output.data), out(clean.output.data), `${what}: output (no weights)`);
      bitsEqual(wr(dirty.weights!.data), wr(clean.weights!.data), `${what}: weights`);
      assertRowsClose(out(dirty.output.data), ref.out.subarray(i * Ev, (i + 1) * Ev), Ev, RTOL, `${what} vs float64`, ref.mag.subarray(i * Ev, (i + 1) * Ev));
    }
  }
});

test("rows with no visible key give zeros (causal top-left with a window right of the diagonal; a window past a padding mask)", () => {
  const rand = rng(700);
  const L = BM + 3, S = KC + 20;
  const q = tensor(rand, [L, 5]), k = tensor(rand, [S, 5]), v = tensor(rand, [S, 6]);
  // top-left causal: row i sees j ≤ i; a window [0, 3] at p = i + S − L: keys ≥ i + S − L > i: nothing
  const r = sdpa(q, k, v, { causal: "top-left", window: [0, 3], returnWeights: true });
  assert.ok(r.output.data.every((x) => Object.is(x, 0)), "output all +0");
  assert.ok(r.weights!.data.every((x) => Object.is(x, 0)), "weights all +0");
  // padding every key of the last 10 rows' windows
  const keep = new Uint8Array(S).fill(1);
  keep.fill(0, S - 12);
  const r2 = sdpa(q, k, v, { window: [1, 0], mask: { data: keep, shape: [1, S] }, returnWeights: true });
  const ref = refAttention(q.data, k.data, v.data, [], L, S, 5, 6, { window: [1, 0], masks: [{ data: keep, shape: [1, S], bool: true }] });
  assertRowsClose(r2.output.data, ref.out, 6, RTOL, "padded windows: output", ref.mag);
  for (let i = L - 10; i < L; i++) for (let c = 0; c < 6; c++) assert.ok(r2.output.data[i * 6 + c] === 0, `row ${i} zeros`);
});

test("window: bad values are TypeError/RangeError naming options.window, and the library keeps working", () => {
  const rand = rng(800);
  const q: Tensor = tensor(rand, [3, 4]), k: Tensor = tensor(rand, [5, 4]), v: Tensor = tensor(rand, [5, 2]);
  const bad: Array<[unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    [5, TypeError, /options\.window must be an array \[left, right\]/],
    ["[1, 2]", TypeError, /options\.window must be an array/],
    [[1], RangeError, /options\.window\.length must be 2/],
    [[1, 2, 3], RangeError, /options\.window\.length must be 2/],
    [[1, "2"], TypeError, /options\.window\[1\] must be a number/],
    [[1.5, 0], RangeError, /options\.window\[0\] must be an integer ≥ 0, or −1 or Infinity/],
    [[-2, 0], RangeError, /options\.window\[0\] must be an integer ≥ 0.*got -2/],
    [[0, NaN], RangeError, /options\.window\[1\] must be an integer ≥ 0/],
    [[-Infinity, 0], RangeError, /options\.window\[0\]/],
  ];
  for (const [window, cls, re] of bad) {
    throwsWith(() => sdpa(q, k, v, { window } as unknown as SdpaOptions), cls, re, `window ${JSON.stringify(window)}`);
  }
  stillWorks("after bad windows");
});
test.run();
