// causal: "top-left" | "bottom-right" (issue 21) on scaledDotProductAttention and MultiHeadAttention.forward.
// Query row i of L, key j of S: bottom-right (true) keeps j ≤ i + (S − L), top-left keeps j ≤ i; they agree
// when L = S. A row that sees nothing gives zeros. Checked against test/reference.ts (float64) at 1e-5 of
// each row's scale, at L < S, L = S, L > S, odd sizes, on the direct path (L ≤ DIRECT_L = 2), across query
// blocks (BM = MR·8 rows: MR = 5, or 6 in the relaxed build) and key tiles (BN = KC = 512 keys:
// assembly/attention.ts, assembly/gemm.ts), with masks, weights and a KV cache. Keys a top-left mask
// removes are never read: NaN/±Infinity planted there leave the rows that may not see them bit for bit
// as with clean data (as test/src/masked-keys.test.ts does for bottom-right).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertClose, assertRowsClose as rowsClose, BUILD, randBytes, rng, throwsWith } from "../helpers.js";
import { type Mask, type SdpaOptions, type Tensor, scaledDotProductAttention as sdpa } from "../../src/index.js";
import { refAttention, type RefCausal, type RefMask } from "../reference.js";
import { bitsEqual, heapInUse, model, refForward, tensor } from "./reliability-support.js";

const MR = BUILD === "relaxed" ? 6 : 5, BM = MR * 8, KC = 512, DIRECT_L = 2;
const ALIGNMENTS = ["top-left", "bottom-right"] as const;
type Alignment = typeof ALIGNMENTS[number];
const GARBAGE = [NaN, Infinity, -Infinity];

const sees = (a: Alignment, L: number, S: number) => (i: number, j: number): boolean => (a === "top-left" ? j <= i : j <= i + S - L);

// [L, S]: direct path (L ≤ 2) at L < S, L = S, L > S; odd sizes; one block; a block edge at L = BM ± 1;
// several blocks; key tiles past the first (S > KC), and top-left rows crossing a tile (L > KC).
const SHAPES: Array<[number, number]> = [
  [1, 1], [1, 7], [2, 9], [2, 1], [DIRECT_L, DIRECT_L],
  [3, 8], [8, 3], [5, 5], [17, 17], [13, 63], [65, 17],
  [BM - 1, BM + 1], [BM + 1, BM - 1], [BM, 3], [3, BM],
  [2 * BM + 3, BM + 7], [BM + 7, 2 * BM + 3], [2 * BM + 1, 2 * BM + 1],
  [3, KC + 5], [BM + 3, KC + 9], [KC + 9, BM + 3], [KC + BM + 1, KC + 2 * BM + 3], [KC + 2 * BM + 3, KC + BM + 1],
];

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
const t = (rand: () => number, shape: number[]): Tensor => tensor(rand, shape);

/** Rows of each [L, cols] slice (nb of them) are exactly +0 (or −0) where `blind(i)`. */
function assertZeroRows(x: Float32Array, nb: number, L: number, cols: number, blind: (i: number) => boolean, what: string): void {
  for (let b = 0; b < nb; b++) for (let i = 0; i < L; i++) {
    if (!blind(i)) continue;
    for (let c = 0; c < cols; c++) if (x[(b * L + i) * cols + c] !== 0) assert.unreachable(`${what}: batch ${b} row ${i} (sees no key) col ${c} = ${x[(b * L + i) * cols + c]}, want 0`);
  }
}

/** Each row of got [rows, cols] against ref within 1e-5 of that row's scale (test/helpers.ts; outputs: of mag, the size they are summed from). */
function assertRowsClose(got: Float32Array, ref: Float64Array, cols: number, what: string, mag?: Float64Array): void {
  rowsClose(got, ref, cols, 1e-5, what, mag);
}

test("sdpa: both alignments = float64 (output and weights, with and without returnWeights) at L < S, L = S, L > S, odd sizes, across BM and KC", () => {
  const rand = rng(2101);
  for (const [L, S] of SHAPES) {
    const batch = L * S < 20000 ? [2] : [], nb = prod(batch);
    const E = 5 + (L % 3), Ev = 7 - (S % 3);
    const q = t(rand, [...batch, L, E]), k = t(rand, [...batch, S, E]), v = t(rand, [...batch, S, Ev]);
    for (const a of ALIGNMENTS) {
      const what = `L=${L} S=${S} E=${E} Ev=${Ev} batch [${batch}] ${a}`;
      const ref = refAttention(q.data, k.data, v.data, batch, L, S, E, Ev, { causal: a });
      const r = sdpa(q, k, v, { causal: a, returnWeights: true });
      assert.equal(r.weights!.shape, [...batch, L, S], `${what}: weights shape`);
      assertRowsClose(r.output.data, ref.out, Ev, `${what}: output`, ref.mag);
      assertRowsClose(r.weights!.data, ref.w, S, `${what}: weights`);
      // without weights: the online-softmax path only
      assertRowsClose(sdpa(q, k, v, { causal: a }).output.data, ref.out, Ev, `${what}: output without weights`, ref.mag);
      // rows that see no key (bottom-right, L > S: the first L − S) are zeros; every other row sees key 0
      const vis = sees(a, L, S);
      const blind = (i: number) => !vis(i, 0);
      assert.is(Array.from({ length: L }, (_, i) => i).filter(blind).length, a === "bottom-right" ? Math.max(0, L - S) : 0, `${what}: blind rows`);
      assertZeroRows(r.output.data, nb, L, Ev, blind, `${what}: output`);
      assertZeroRows(r.weights!.data, nb, L, S, blind, `${what}: weights`);
      // weights are exactly 0 where the alignment removes a key
      for (let b = 0; b < nb; b++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
        if (!vis(i, j) && r.weights!.data[(b * L + i) * S + j] !== 0) assert.unreachable(`${what}: weight [${b}, ${i}, ${j}] of a removed key = ${r.weights!.data[(b * L + i) * S + j]}`);
      }
    }
  }
});

test("sdpa: the alignments differ exactly as documented at L = 4, S = 6 (ONNX's causal test size): top-left row 0 sees key 0, bottom-right row 0 sees keys 0..2", () => {
  const rand = rng(2102);
  const q = t(rand, [4, 3]), k = t(rand, [6, 3]), v = t(rand, [6, 2]);
  const tl = sdpa(q, k, v, { causal: "top-left", returnWeights: true }).weights!.data;
  const br = sdpa(q, k, v, { causal: "bottom-right", returnWeights: true }).weights!.data;
  for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) {
    assert.is(tl[i * 6 + j] > 0, j <= i, `top-left weight [${i}, ${j}] > 0 iff j ≤ i`);
    assert.is(br[i * 6 + j] > 0, j <= i + 2, `bottom-right weight [${i}, ${j}] > 0 iff j ≤ i + 2`);
  }
  // top-left = an explicit lower-triangular boolean mask (PyTorch's is_causal)
  const tril = new Uint8Array(24);
  for (let i = 0; i < 4; i++) for (let j = 0; j <= i; j++) tril[i * 6 + j] = 1;
  assertClose(sdpa(q, k, v, { causal: "top-left" }).output.data, sdpa(q, k, v, { mask: { data: tril, shape: [4, 6] } }).output.data, 1e-6, "top-left vs explicit tril mask");
});

test("sdpa: true is \"bottom-right\" and false/undefined no mask (same bits); at L = S the two alignments give the same bits", () => {
  const rand = rng(2103);
  for (const [L, S] of [[1, 1], [2, 5], [7, 3], [BM + 2, BM + 2], [BM + 3, KC + 5], [KC + 4, KC + 4]] as Array<[number, number]>) {
    const q = t(rand, [L, 6]), k = t(rand, [S, 6]), v = t(rand, [S, 5]);
    const run = (o: SdpaOptions) => { const r = sdpa(q, k, v, { ...o, returnWeights: true }); return [r.output.data, r.weights!.data]; };
    const what = `L=${L} S=${S}`;
    const [ot, wt] = run({ causal: true }), [ob, wb] = run({ causal: "bottom-right" });
    bitsEqual(ob, ot, `${what}: "bottom-right" vs true, output`);
    bitsEqual(wb, wt, `${what}: "bottom-right" vs true, weights`);
    const [on, wn] = run({});
    for (const o of [{ causal: false }, { causal: undefined }] as SdpaOptions[]) {
      const [oo, wo] = run(o);
      bitsEqual(oo, on, `${what}: ${JSON.stringify(o)} vs no option, output`);
      bitsEqual(wo, wn, `${what}: ${JSON.stringify(o)} vs no option, weights`);
    }
    if (L === S) {
      const [otl, wtl] = run({ causal: "top-left" });
      bitsEqual(otl, ob, `${what}: top-left vs bottom-right, output`);
      bitsEqual(wtl, wb, `${what}: top-left vs bottom-right, weights`);
    }
  }
});

/** Plants garbage (cycling NaN, +Inf, −Inf) in every column of rows `keys` of x [..., S, cols] (every batch item). */
function plant(x: Float32Array, nb: number, S: number, cols: number, keys: number[]): Float32Array {
  const y = x.slice();
  for (let b = 0; b < nb; b++) keys.forEach((j, n) => { for (let c = 0; c < cols; c++) y[(b * S + j) * cols + c] = GARBAGE[(n + c + b) % 3]; });
  return y;
}

test("sdpa top-left: NaN/±Inf in key and value rows past a row's horizon never reach it, bit for bit (direct, blocked, several tiles, L < S and L > S)", () => {
  const rand = rng(2104);
  for (const [L, S] of SHAPES) {
    if (S === 1) continue;   // no key past any row's horizon
    const E = 8, Ev = 11, batch = [2], nb = 2;
    const q = t(rand, [...batch, L, E]), k = t(rand, [...batch, S, E]), v = t(rand, [...batch, S, Ev]);
    // keys the first ⌈min(L, S)/2⌉ rows may not see: the first past their horizon, the next and the last;
    // with L < S also every key ≥ L (no row sees those)
    const j0 = Math.ceil(Math.min(L, S) / 2);
    const planted = [...new Set([j0, Math.min(S - 1, j0 + 1), S - 1, ...(L < S ? [L, Math.min(S - 1, L + KC)] : [])])].sort((x, y) => x - y);
    const rows = Array.from({ length: L }, (_, i) => i).filter((i) => planted.every((j) => j > i));
    assert.is(rows.length, j0, `L=${L} S=${S}: rows blind to the planted keys`);
    const kb = { data: plant(k.data, nb, S, E, planted), shape: k.shape }, vb = { data: plant(v.data, nb, S, Ev, planted), shape: v.shape };
    const ref = refAttention(q.data, k.data, v.data, batch, L, S, E, Ev, { causal: "top-left" });
    for (const returnWeights of [true, false]) {
      const what = `L=${L} S=${S} top-left${returnWeights ? " weights" : ""}`;
      const clean = sdpa(q, k, v, { causal: "top-left", returnWeights });
      const dirty = sdpa(q, kb, vb, { causal: "top-left", returnWeights });
      const check = (got: Float32Array, want: Float32Array, r: Float64Array, cols: number, name: string) => {
        for (let b = 0; b < nb; b++) for (const i of rows) {
          const at = (b * L + i) * cols;
          bitsEqual(got.subarray(at, at + cols), want.subarray(at, at + cols), `${what}: ${name} batch ${b} row ${i}, planted vs clean`);
          rowsClose(got.subarray(at, at + cols), r.subarray(at, at + cols), cols, 1e-5, `${what}: ${name} batch ${b} row ${i} vs float64`, name === "output" ? ref.mag.subarray(at, at + cols) : undefined);
        }
      };
      check(dirty.output.data, clean.output.data, ref.out, Ev, "output");
      if (returnWeights) check(dirty.weights!.data, clean.weights!.data, ref.w, S, "weights");
    }
  }
});

test("sdpa top-left with L < S: no row sees the keys from L on; garbage in all of them leaves every output and weight bit as it is", () => {
  const rand = rng(2111);
  for (const [L, S] of SHAPES.filter(([l, s]) => l < s)) {
    const E = 6, Ev = 9, batch = [2], nb = 2;
    const q = t(rand, [...batch, L, E]), k = t(rand, [...batch, S, E]), v = t(rand, [...batch, S, Ev]);
    const past = Array.from({ length: S - L }, (_, n) => L + n);
    const kb = { data: plant(k.data, nb, S, E, past), shape: k.shape }, vb = { data: plant(v.data, nb, S, Ev, past), shape: v.shape };
    for (const returnWeights of [true, false]) {
      const what = `L=${L} S=${S}${returnWeights ? " weights" : ""}`;
      const clean = sdpa(q, k, v, { causal: "top-left", returnWeights }), dirty = sdpa(q, kb, vb, { causal: "top-left", returnWeights });
      bitsEqual(dirty.output.data, clean.output.data, `${what}: output`);
      if (returnWeights) bitsEqual(dirty.weights!.data, clean.weights!.data, `${what}: weights`);
    }
  }
});

function boolMask(rand: () => number, shape: number[], p = 0.75): Mask { return { data: randBytes(rand, prod(shape), p), shape }; }
function addMask(rand: () => number, shape: number[], pInf = 0.2): Mask {
  const d = new Float32Array(prod(shape));
  for (let i = 0; i < d.length; i++) d[i] = rand() < pInf ? -Infinity : -2 + 4 * rand();
  return { data: d, shape };
}
const refMask = (m: Mask): RefMask => ({ data: m.data, shape: m.shape, bool: m.data instanceof Uint8Array });

test("sdpa: both alignments combined with boolean and additive masks (broadcast [L, S], [1, S], [batch, L, S]) = float64; a row both remove everything from gives zeros", () => {
  const rand = rng(2105);
  for (const [L, S] of [[1, 7], [2, 5], [6, 9], [9, 6], [BM + 1, BM + 4], [BM + 4, BM + 1], [BM + 3, KC + 9], [KC + BM + 1, KC + 3]] as Array<[number, number]>) {
    const batch = [2], E = 4, Ev = 5;
    const q = t(rand, [...batch, L, E]), k = t(rand, [...batch, S, E]), v = t(rand, [...batch, S, Ev]);
    for (const mask of [boolMask(rand, [L, S]), addMask(rand, [1, S]), boolMask(rand, [2, L, S], 0.6), addMask(rand, [2, L, S], 0.4)]) {
      for (const a of ALIGNMENTS) {
        const what = `L=${L} S=${S} ${a} + ${mask.data instanceof Uint8Array ? "boolean" : "additive"} mask [${mask.shape}]`;
        const r = sdpa(q, k, v, { causal: a, mask, returnWeights: true });
        const ref = refAttention(q.data, k.data, v.data, batch, L, S, E, Ev, { causal: a, masks: [refMask(mask)] });
        assertRowsClose(r.output.data, ref.out, Ev, `${what}: output`, ref.mag);
        assertRowsClose(r.weights!.data, ref.w, S, `${what}: weights`);
        assertRowsClose(sdpa(q, k, v, { causal: a, mask }).output.data, ref.out, Ev, `${what}: output without weights`, ref.mag);
      }
    }
    // top-left row 0 sees key 0 only: a mask that drops key 0 from row 0 leaves it nothing (zeros, not NaN)
    const keep = new Uint8Array(L * S).fill(1);
    keep[0] = 0;
    const r = sdpa(q, k, v, { causal: "top-left", mask: { data: keep, shape: [L, S] }, returnWeights: true });
    assertZeroRows(r.output.data, 2, L, Ev, (i) => i === 0, `L=${L} S=${S} top-left, key 0 masked from row 0: output`);
    assertZeroRows(r.weights!.data, 2, L, S, (i) => i === 0, `L=${L} S=${S} top-left, key 0 masked from row 0: weights`);
    const ref = refAttention(q.data, k.data, v.data, batch, L, S, E, Ev, { causal: "top-left", masks: [{ data: keep, shape: [L, S], bool: true }] });
    assertRowsClose(r.output.data, ref.out, Ev, `L=${L} S=${S} top-left, key 0 masked from row 0: output vs float64`, ref.mag);
  }
});

test("sdpa: causal other than a boolean, \"top-left\" or \"bottom-right\" is a TypeError naming the option, and the library stays usable", () => {
  const rand = rng(2106);
  const q = t(rand, [3, 4]), k = t(rand, [5, 4]), v = t(rand, [5, 2]);
  const mark = heapInUse();
  for (const [bad, shown] of [["top_left", '"top_left"'], ["Top-Left", '"Top-Left"'], ["bottom", '"bottom"'], ["", '""'], [1, "1"], [0, "0"], [null, "null"], ["true", '"true"'], [{}, "an object"]] as Array<[unknown, string]>) {
    throwsWith(() => sdpa(q, k, v, { causal: bad as never }), TypeError,
      new RegExp(`^scaledDotProductAttention: options\\.causal must be a boolean, "top-left" or "bottom-right"; got ${shown.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`), `causal ${shown}`);
  }
  assert.is(heapInUse(), mark, "heap back at its mark");
  const after = refAttention(q.data, k.data, v.data, [], 3, 5, 4, 2, { causal: "top-left" });
  rowsClose(sdpa(q, k, v, { causal: "top-left" }).output.data, after.out, 2, 1e-5, "a call after the errors", after.mag);
});

// ---- MultiHeadAttention.forward ----------------------------------------------------------------------------

test("MultiHeadAttention.forward: both alignments = refMha, self- and cross-attention (L < S, L = S, L > S), decode (L = 1) and direct (L = 2) paths, across BM and KC, with weights", () => {
  const m = model({ E: 12, H: 3, Hkv: 3 }, 21);
  const g = model({ E: 16, H: 4, Hkv: 2, kdim: 10, vdim: 6 }, 22);
  try {
    const rand = rng(2107);
    for (const [L, S] of [[1, 1], [1, 9], [2, 7], [2, 1], [5, 5], [4, 11], [11, 4], [BM + 1, BM - 2], [BM - 2, BM + 1], [3, KC + 6], [KC + 6, BM + 2]] as Array<[number, number]>) {
      for (const mm of [m, g]) {
        const { E, kdim, vdim } = mm.cfg, B = 2;
        const x = t(rand, [B, L, E]), key = t(rand, [B, S, kdim]), value = t(rand, [B, S, vdim]);
        for (const a of ALIGNMENTS) {
          const what = `E=${E} kdim=${kdim} L=${L} S=${S} ${a}`;
          // cross-attention; decode path (L = 1, no masks, no weights) first
          const ref = refForward(mm, x, key, value, { causal: a });
          assertRowsClose(mm.mha.forward(x, key, value, { causal: a }).output.data, ref.out, E, `${what}: cross output`, ref.mag);
          const rw = mm.mha.forward(x, key, value, { causal: a, needWeights: true, averageWeights: false });
          const refw = refForward(mm, x, key, value, { causal: a, needWeights: true, averageWeights: false });
          assertRowsClose(rw.output.data, refw.out, E, `${what}: cross output with weights`, refw.mag);
          assertRowsClose(rw.weights!.data, refw.w, S, `${what}: cross per-head weights`);
          const ra = mm.mha.forward(x, key, value, { causal: a, needWeights: true });
          assertRowsClose(ra.weights!.data, refForward(mm, x, key, value, { causal: a, needWeights: true }).w, S, `${what}: cross averaged weights`);
          // unbatched
          const x0 = { data: x.data.subarray(0, L * E), shape: [L, E] };
          const k0 = { data: key.data.subarray(0, S * kdim), shape: [S, kdim] }, v0 = { data: value.data.subarray(0, S * vdim), shape: [S, vdim] };
          assertRowsClose(mm.mha.forward(x0, k0, v0, { causal: a }).output.data, refForward(mm, x0, k0, v0, { causal: a }).out, E, `${what}: unbatched`);
          // self-attention (L = S)
          if (mm === m) {
            const self = mm.mha.forward(x, undefined, undefined, { causal: a }).output.data;
            assertRowsClose(self, refForward(mm, x, undefined, undefined, { causal: a }).out, E, `${what}: self output`);
            bitsEqual(self, mm.mha.forward(x, undefined, undefined, { causal: true }).output.data, `${what}: self-attention (L = S): same bits as causal: true`);
          }
        }
      }
    }
  } finally { m.mha.dispose(); g.mha.dispose(); }
});

test("MultiHeadAttention.forward: both alignments with keyPaddingMask and attnMask (boolean and additive) = refMha; garbage in memory rows top-left removes never reaches the output", () => {
  const m = model({ E: 12, H: 3, Hkv: 1 }, 23);
  try {
    const rand = rng(2108), B = 2, E = 12, H = 3;
    for (const [L, S] of [[1, 6], [2, 9], [7, 12], [12, 7], [BM + 2, KC + 3]] as Array<[number, number]>) {
      const x = t(rand, [B, L, E]), mem = t(rand, [B, S, E]);
      for (const a of ALIGNMENTS) {
        for (const o of [
          { keyPaddingMask: boolMask(rand, [B, S], 0.2), attnMask: addMask(rand, [B, 1, L, S]) },
          { keyPaddingMask: addMask(rand, [B, S]), attnMask: boolMask(rand, [B, H, L, S], 0.7) },
          { attnMask: boolMask(rand, [L, S], 0.8), needWeights: true },
        ]) {
          const what = `L=${L} S=${S} ${a} ${Object.keys(o).join(" + ")}`;
          const r = m.mha.forward(x, mem, mem, { ...o, causal: a });
          const ref = refForward(m, x, mem, mem, { ...o, causal: a });
          assertRowsClose(r.output.data, ref.out, E, `${what}: output`, ref.mag);
          if (o.needWeights) assertRowsClose(r.weights!.data, ref.w, S, `${what}: weights`);
        }
      }
      // top-left: plant garbage in memory rows j ≥ ⌈L/2⌉ (and with L < S every row ≥ L): rows i < ⌈L/2⌉ keep their bits
      const j0 = Math.ceil(Math.min(L, S) / 2);
      const dirty = mem.data.slice();
      for (let b = 0; b < B; b++) for (let j = j0; j < S; j++) for (let c = 0; c < E; c++) dirty[(b * S + j) * E + c] = GARBAGE[(j + c) % 3];
      const dm = { data: dirty, shape: mem.shape };
      for (const o of [{}, { needWeights: true }, { keyPaddingMask: boolMask(rand, [B, S], 0.1) }]) {
        const clean = m.mha.forward(x, mem, mem, { ...o, causal: "top-left" }).output.data;
        const got = m.mha.forward(x, dm, dm, { ...o, causal: "top-left" }).output.data;
        for (let b = 0; b < B; b++) for (let i = 0; i < j0; i++) {
          bitsEqual(got.subarray((b * L + i) * E, (b * L + i + 1) * E), clean.subarray((b * L + i) * E, (b * L + i + 1) * E), `L=${L} S=${S} top-left ${Object.keys(o).join(" + ")}: batch ${b} row ${i}, planted vs clean`);
        }
      }
    }
  } finally { m.mha.dispose(); }
});

test("MultiHeadAttention with a KV cache: \"top-left\" counts from the sequence's start, so it gives the bits of \"bottom-right\" and true (a new token sees the past and itself) = refMha over the whole sequence", () => {
  const m = model({ E: 16, H: 4, Hkv: 2 }, 24);
  try {
    const rand = rng(2109), B = 2, E = 16, T = BM + 11;
    const x = t(rand, [B, T, E]);
    const chunk = (a: number, b: number): Tensor => {
      const d = new Float32Array(B * (b - a) * E);
      for (let n = 0; n < B; n++) d.set(x.data.subarray((n * T + a) * E, (n * T + b) * E), n * (b - a) * E);
      return { data: d, shape: [B, b - a, E] };
    };
    const full = refForward(m, x, undefined, undefined, { causal: "bottom-right" }).out;
    // a prefix of 7 tokens, single steps (the decode path), a chunk of BM + 1 (the blocked path), one more step
    const cuts = [0, 7, 8, 9, 9 + BM + 1, T];
    const runs = new Map<string, Float32Array[]>();
    for (const causal of ["top-left", "bottom-right", true, undefined] as Array<RefCausal | undefined>) {
      const cache = m.mha.createCache({ batch: B, maxLength: T });
      const outs: Float32Array[] = [];
      for (let c = 0; c + 1 < cuts.length; c++) {
        const o = causal === undefined ? { cache } : { cache, causal: causal as Alignment | boolean };
        outs.push(m.mha.forward(chunk(cuts[c], cuts[c + 1]), undefined, undefined, o).output.data);
      }
      cache.dispose();
      runs.set(String(causal), outs);
    }
    const tl = runs.get("top-left")!;
    for (const name of ["bottom-right", "true", "undefined"]) {
      runs.get(name)!.forEach((o, c) => bitsEqual(tl[c], o, `chunk ${c} [${cuts[c]}, ${cuts[c + 1]}): top-left vs causal ${name}`));
    }
    tl.forEach((o, c) => {
      const want = new Float64Array(o.length), n = cuts[c + 1] - cuts[c];
      for (let b = 0; b < B; b++) want.set(full.subarray((b * T + cuts[c]) * E, (b * T + cuts[c + 1]) * E), b * n * E);
      assertRowsClose(o, want, E, `chunk ${c} [${cuts[c]}, ${cuts[c + 1]}) top-left with a cache vs one causal forward in float64`);
    });
    // causal: false with a cache: the new tokens see each other both ways (and every cached one)
    const c2 = m.mha.createCache({ batch: B, maxLength: T });
    m.mha.forward(chunk(0, 5), undefined, undefined, { cache: c2 });
    const h2 = chunk(0, 9);
    assertRowsClose(m.mha.forward(chunk(5, 9), undefined, undefined, { cache: c2, causal: false }).output.data,
      refForward(m, chunk(5, 9), h2, h2, {}).out, E, "causal: false with a cache, 4 new tokens after 5 cached");
    c2.dispose();
    // with a cache, the weights of a top-left chunk are the bottom-right ones over history + new
    const cache = m.mha.createCache({ batch: B, maxLength: T });
    m.mha.forward(chunk(0, 5), undefined, undefined, { cache });
    const r = m.mha.forward(chunk(5, 9), undefined, undefined, { cache, causal: "top-left", needWeights: true });
    const hist = chunk(0, 9);
    const ref = refForward(m, chunk(5, 9), hist, hist, { causal: "bottom-right", needWeights: true });
    assertRowsClose(r.output.data, ref.out, E, "top-left chunk after 5 cached tokens: output", ref.mag);
    assertRowsClose(r.weights!.data, ref.w, 9, "top-left chunk after 5 cached tokens: weights");
    cache.dispose();
  } finally { m.mha.dispose(); }
});

test("MultiHeadAttention.forward: causal other than a boolean, \"top-left\" or \"bottom-right\" is a TypeError naming the option (with and without a cache), and nothing changes", () => {
  const m = model({ E: 8, H: 2 }, 25);
  try {
    const rand = rng(2110);
    const x = t(rand, [1, 3, 8]);
    const cache = m.mha.createCache({ maxLength: 8 });
    const mark = heapInUse();
    for (const bad of ["topleft", "bottom_right", 2, null]) {
      for (const o of [{}, { cache }]) {
        throwsWith(() => m.mha.forward(x, undefined, undefined, { ...o, causal: bad as never }), TypeError,
          /^MultiHeadAttention\.forward: options\.causal must be a boolean, "top-left" or "bottom-right"; got /, `causal ${String(bad)}${"cache" in o ? " with a cache" : ""}`);
      }
    }
    assert.is(cache.length, 0, "the cache did not advance");
    assert.is(heapInUse(), mark, "heap back at its mark");
    assertRowsClose(m.mha.forward(x, undefined, undefined, { causal: "top-left" }).output.data, refForward(m, x, undefined, undefined, { causal: "top-left" }).out, 8, "a call after the errors");
    cache.dispose();
  } finally { m.mha.dispose(); }
});

test.run();
