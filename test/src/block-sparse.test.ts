// test/src/block-sparse.test.ts ↔ src/sparse-layout.ts (the blockSparse option's checks, sparseLayout),
// the blockSparse option of src/sdpa.ts, and the kernels' block layouts (assembly/sparse.ts: mask kind 4,
// key tiles from runs of kept blocks; assembly/attention.ts).
//   blockSparse { blockSize b, layout [..., ⌈L/b⌉, ⌈S/b⌉] }: score (i, j) kept only if layout[⌊i/b⌋, ⌊j/b⌋] ≠ 0.
// The float64 reference gets the layout as the equivalent element mask [..., L, S].
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type SdpaOptions, scaledDotProductAttention as sdpa, sparseLayout } from "../../src/index.js";
import { BM, DIRECT_L, KC, NR } from "../constants.js";
import { assertRowsClose, randBytes, rng, throwsWith } from "../helpers.js";
import { type RefCausal, type RefMask, refAttention } from "../reference.js";
import { stillWorks } from "../support.js";
import { bitsEqual, tensor } from "./reliability-support.js";

const RTOL = 1e-5;

/** The layout [lead..., R, C] as an element mask [lead..., L, S] (1 = kept). */
function expand(layout: Uint8Array, lead: number, R: number, C: number, b: number, L: number, S: number): Uint8Array {
  const m = new Uint8Array(lead * L * S);
  for (let n = 0; n < lead; n++) {
    for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) m[(n * L + i) * S + j] = layout[(n * R + Math.floor(i / b)) * C + Math.floor(j / b)] ? 1 : 0;
  }
  return m;
}

function check(L: number, S: number, b: number, seed: number, o: { causal?: RefCausal; density?: number; emptyRows?: number[]; B?: number; perBatch?: boolean; pad?: boolean; window?: [number, number] } = {}): void {
  const rand = rng(seed);
  const B = o.B ?? 1, E = 7, Ev = 9;
  const R = Math.ceil(L / b), C = Math.ceil(S / b);
  const lead = o.perBatch ? B : 1;
  const layout = randBytes(rand, lead * R * C, o.density ?? 0.3);
  for (const r of o.emptyRows ?? []) for (let n = 0; n < lead; n++) layout.fill(0, (n * R + r) * C, (n * R + r + 1) * C);
  const q = tensor(rand, [B, L, E]), k = tensor(rand, [B, S, E]), v = tensor(rand, [B, S, Ev]);
  const opts: SdpaOptions = { causal: o.causal, returnWeights: true, window: o.window, blockSparse: { blockSize: b, layout: { data: layout, shape: o.perBatch ? [B, R, C] : [R, C] } } };
  const masks: RefMask[] = [{ data: expand(layout, lead, R, C, b, L, S), shape: o.perBatch ? [B, L, S] : [L, S], bool: true }];
  if (o.pad) {
    const keep = randBytes(rand, B * S, 0.8);
    opts.mask = { data: keep, shape: [B, 1, S] };
    masks.push({ data: keep, shape: [B, 1, S], bool: true });
  }
  const what = `L=${L} S=${S} b=${b} causal=${o.causal ?? false}${o.pad ? " padded" : ""}${o.window ? ` window [${o.window}]` : ""}${o.perBatch ? " per batch" : ""}`;
  const got = sdpa(q, k, v, opts);
  const ref = refAttention(q.data, k.data, v.data, [B], L, S, E, Ev, { causal: o.causal, masks, window: o.window });
  assertRowsClose(got.output.data, ref.out, Ev, RTOL, `${what}: output`, ref.mag);
  assertRowsClose(got.weights!.data, ref.w, S, RTOL, `${what}: weights`);
  // exact zeros outside the kept blocks
  const w = got.weights!.data;
  for (let n = 0; n < B; n++) {
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < S; j++) {
        if (!layout[((o.perBatch ? n : 0) * R + Math.floor(i / b)) * C + Math.floor(j / b)] && !Object.is(w[(n * L + i) * S + j], 0)) {
          assert.unreachable(`${what}: weight [${n}, ${i}, ${j}] in a skipped block is ${w[(n * L + i) * S + j]}`);
        }
      }
    }
  }
  // and the output alone (the path without W)
  const noW = sdpa(q, k, v, { ...opts, returnWeights: false });
  bitsEqual(noW.output.data, got.output.data, `${what}: output without weights`);
}

test(`blockSparse vs float64: block sizes 1, 3, NR = ${NR}, 64, and past BM/KC; partial last blocks; L ≠ S; both paths`, () => {
  let seed = 1;
  for (const [L, S, b] of [
    [1, 50, 4], [DIRECT_L, 700, 64], [5, 5, 1], [17, 23, 3], [BM + 1, BM + 7, NR], [2 * BM + 3, KC + 9, 64], [100, 1100, 33],
    [KC + 5, KC + 5, 64], [300, 2 * KC + 70, KC + 1], [BM * 3, 90, 7], [650, 650, 1],
  ] as Array<[number, number, number]>) {
    for (const causal of [undefined, true, "top-left"] as const) check(L, S, b, seed++, { causal });
  }
});

test("blockSparse: empty block rows give zeros; dense and nearly empty layouts; with padding masks, windows, per-batch layouts", () => {
  let seed = 100;
  check(3 * BM + 1, KC + 40, 16, seed++, { emptyRows: [0, 2, Math.ceil((3 * BM + 1) / 16) - 1] });
  check(2, 300, 16, seed++, { emptyRows: [0] });
  check(2 * BM, KC + 40, 32, seed++, { density: 0.05 });
  check(2 * BM, KC + 40, 32, seed++, { density: 0.95, causal: true });
  check(BM + 9, KC + 3, 24, seed++, { pad: true, B: 2 });
  check(BM + 9, KC + 3, 24, seed++, { B: 3, perBatch: true, causal: true });
  check(KC + 9, KC + 9, 40, seed++, { window: [70, 0], causal: true });
  check(KC + 9, KC + 9, 8, seed++, { window: [5, 5], pad: true, B: 2 });
});

test("blockSparse with a layout that keeps every block gives the bits of no layout (whatever its shape broadcasts as)", () => {
  const rand = rng(200);
  for (const [L, S, b] of [[2, 70, 8], [BM + 5, KC + 20, 16], [61, 61, 61]] as Array<[number, number, number]>) {
    const q = tensor(rand, [2, L, 8]), k = tensor(rand, [2, S, 8]), v = tensor(rand, [2, S, 6]);
    const R = Math.ceil(L / b), C = Math.ceil(S / b);
    for (const causal of [false, true] as const) {
      const base = sdpa(q, k, v, { causal, returnWeights: true });
      const got = sdpa(q, k, v, { causal, returnWeights: true, blockSparse: { blockSize: b, layout: { data: new Uint8Array(2 * R * C).fill(1), shape: [2, R, C] } } });
      bitsEqual(got.output.data, base.output.data, `L=${L} S=${S} b=${b}: output`);
      bitsEqual(got.weights!.data, base.weights!.data, `L=${L} S=${S} b=${b}: weights`);
    }
  }
});

test("blockSparse: keys in skipped blocks are never read (NaN planted there changes no bit of a row that skips them)", () => {
  const rand = rng(300);
  const L = 2 * BM + 7, S = KC + 100, b = 16, E = 6, Ev = 5;
  const R = Math.ceil(L / b), C = Math.ceil(S / b);
  const layout = randBytes(rand, R * C, 0.4);
  for (let r = 0; r < R; r++) layout[r * C + 3] = 0;   // key block 3: skipped by every row
  const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
  const opts: SdpaOptions = { returnWeights: true, blockSparse: { blockSize: b, layout: { data: layout, shape: [R, C] } } };
  const clean = sdpa(q, k, v, opts);
  const kd = k.data.slice(), vd = v.data.slice();
  for (let j = 3 * b; j < 4 * b; j++) { kd.fill(NaN, j * E, (j + 1) * E); vd.fill(Infinity, j * Ev, (j + 1) * Ev); }
  const dirty = sdpa(q, { data: kd, shape: k.shape }, { data: vd, shape: v.shape }, opts);
  bitsEqual(dirty.output.data, clean.output.data, "output");
  bitsEqual(dirty.weights!.data, clean.weights!.data, "weights");
});

test("sparseLayout: local window, global and random blocks, causal; the shape [⌈L/b⌉, ⌈S/b⌉]; seeded", () => {
  const l = sparseLayout({ queryLength: 100, keyLength: 100, blockSize: 10, window: 1 });
  assert.equal(l.shape, [10, 10]);
  for (let r = 0; r < 10; r++) for (let c = 0; c < 10; c++) assert.is(l.data[r * 10 + c], Math.abs(r - c) <= 1 ? 1 : 0, `window (${r}, ${c})`);
  const g = sparseLayout({ queryLength: 64, keyLength: 64, blockSize: 8, globalBlocks: 2, causal: true });
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 8; c++) {
      const want = c > r ? 0 : c === r || c < 2 || r < 2 ? 1 : 0;
      assert.is(g.data[r * 8 + c], want, `global+causal (${r}, ${c})`);
    }
  }
  const a = sparseLayout({ queryLength: 1000, keyLength: 1000, blockSize: 50, randomBlocks: 3, seed: 7 });
  const b2 = sparseLayout({ queryLength: 1000, keyLength: 1000, blockSize: 50, randomBlocks: 3, seed: 7 });
  assert.equal(Array.from(a.data), Array.from(b2.data), "same seed, same layout");
  for (let r = 0; r < 20; r++) assert.is(a.data.subarray(r * 20, r * 20 + 20).reduce((x, y) => x + y, 0), 4, `row ${r}: diagonal + 3 random`);
  // L ≠ S: the diagonal is bottom-right aligned; partial last blocks
  const p = sparseLayout({ queryLength: 10, keyLength: 45, blockSize: 4 });
  assert.equal(p.shape, [3, 12]);
  assert.is(p.data[2 * 12 + 11], 1, "last query block sees the last key block");
  assert.is(p.data[0 * 12 + 8], 1, "query 0 (position 35) → key block 8");
  // used as a layout: it runs, against float64
  const rand = rng(400);
  const q = tensor(rand, [1, 2, 200, 8]), k = tensor(rand, [1, 2, 200, 8]), v = tensor(rand, [1, 2, 200, 8]);
  const bb = sparseLayout({ queryLength: 200, keyLength: 200, blockSize: 16, window: 1, globalBlocks: 1, randomBlocks: 2, causal: true });
  const got = sdpa(q, k, v, { causal: true, blockSparse: { blockSize: 16, layout: bb } });
  const ref = refAttention(q.data, k.data, v.data, [1, 2], 200, 200, 8, 8, { causal: true, masks: [{ data: expand(bb.data, 1, 13, 13, 16, 200, 200), shape: [200, 200], bool: true }] });
  assertRowsClose(got.output.data, ref.out, 8, RTOL, "BigBird-like layout", ref.mag);
});

test("blockSparse and sparseLayout: bad values are TypeError/RangeError naming the argument; the library keeps working", () => {
  const rand = rng(500);
  const q = tensor(rand, [10, 4]), k = tensor(rand, [20, 4]), v = tensor(rand, [20, 3]);
  const lay = { data: new Uint8Array(3 * 5), shape: [3, 5] };
  const bad: Array<[unknown, typeof TypeError | typeof RangeError, RegExp]> = [
    [5, TypeError, /options\.blockSparse must be an object/],
    [{ layout: lay }, TypeError, /options\.blockSparse\.blockSize must be a number/],
    [{ blockSize: 0, layout: lay }, RangeError, /options\.blockSparse\.blockSize must be an integer ≥ 1/],
    [{ blockSize: 4.5, layout: lay }, RangeError, /blockSize must be an integer/],
    [{ blockSize: 4 }, TypeError, /options\.blockSparse\.layout must be a layout/],
    [{ blockSize: 4, layout: { data: new Float32Array(15), shape: [3, 5] } }, TypeError, /layout\.data must be a Uint8Array/],
    [{ blockSize: 4, layout: { data: new Uint8Array(12), shape: [3, 4] } }, RangeError, /layout\.shape must broadcast/],
    [{ blockSize: 4, layout: { data: new Uint8Array(5), shape: [1, 5] } }, RangeError, /layout\.shape must end in \[⌈L\/b⌉, ⌈S\/b⌉\] = \[3, 5\]/],
    [{ blockSize: 4, layout: lay, extra: 1 }, TypeError, /unknown option "extra"/],
  ];
  for (const [blockSparse, cls, re] of bad) {
    throwsWith(() => sdpa(q, k, v, { blockSparse } as unknown as SdpaOptions), cls, re, `blockSparse ${JSON.stringify(blockSparse)}`);
  }
  throwsWith(() => sparseLayout({ queryLength: 0, keyLength: 4, blockSize: 2 }), RangeError, /options\.queryLength must be an integer ≥ 1/, "queryLength 0");
  throwsWith(() => sparseLayout({ queryLength: 4, keyLength: 4, blockSize: 2, window: -1 }), RangeError, /options\.window must be an integer ≥ 0/, "window −1");
  throwsWith(() => sparseLayout({ queryLength: 4, keyLength: 4, blockSize: 2, causal: 1 as never }), TypeError, /options\.causal/, "causal 1");
  throwsWith(() => sparseLayout({ queryLength: 4, keyLength: 4, blockSize: 2, global: 1 } as never), TypeError, /unknown option "global"/, "typo");
  stillWorks("after bad blockSparse");
});

test.run();
