// test/src/sdpa.test.ts ↔ src/sdpa.ts (public API scaledDotProductAttention).
// query [...batch, L, E], key [...batch, S, E], value [...batch, S, Ev] → output [...batch, L, Ev],
// weights [...batch, L, S]; masks broadcast to [...batch, L, S]. Checked against test/reference.ts at
// 1e-5 relative to the output's scale; one test per thrown error per argument.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertRowsClose, randBytes, randn, rng, throwsWith } from "../helpers.js";
import { refAttention } from "../reference.js";
import { type Mask, type SdpaOptions, type Tensor, scaledDotProductAttention as sdpa } from "../../src/index.js";
import { runtime } from "../../src/wasm.js";
import { BM } from "../constants.js";
import { stillWorks } from "../support.js";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const SIZES = [1, 3, 17, 63, 65, 129];

interface MaskSpec { kind: "bool" | "add"; shape: number[]; p?: number }
interface Case {
  batch: number[]; L: number; S: number; E: number; Ev: number;
  mask?: MaskSpec; causal?: boolean; scale?: number; returnWeights?: boolean;
  q?: Float32Array; k?: Float32Array; v?: Float32Array;
}

const prod = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);
const fmt = (c: Case) => `batch [${c.batch}] L=${c.L} S=${c.S} E=${c.E} Ev=${c.Ev}` +
  (c.mask ? ` ${c.mask.kind} mask [${c.mask.shape}]` : "") + (c.causal ? " causal" : "") +
  (c.scale !== undefined ? ` scale ${c.scale}` : "") + (c.returnWeights ? " weights" : "");

function makeMask(m: MaskSpec, rand: () => number): Mask {
  const n = prod(m.shape);
  if (m.kind === "bool") return { data: randBytes(rand, n, m.p ?? 0.7), shape: m.shape };
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = rand() < (m.p ?? 0.2) ? -Infinity : -2 + 4 * rand();
  return { data: d, shape: m.shape };
}

/** Calls sdpa on case c (random data from seed unless given) and checks output/weights against refAttention. */
function check(c: Case, seed: number) {
  const what = fmt(c);
  const rand = rng(seed);
  const nb = prod(c.batch);
  const { L, S, E, Ev } = c;
  const q = c.q ?? randn(rand, nb * L * E), k = c.k ?? randn(rand, nb * S * E), v = c.v ?? randn(rand, nb * S * Ev);
  const mask = c.mask && makeMask(c.mask, rand);
  const copies = [q.slice(), k.slice(), v.slice(), mask?.data.slice()];
  const opts: SdpaOptions = {};
  if (mask) opts.mask = mask;
  if (c.causal !== undefined) opts.causal = c.causal;
  if (c.scale !== undefined) opts.scale = c.scale;
  if (c.returnWeights !== undefined) opts.returnWeights = c.returnWeights;
  const r = sdpa({ data: q, shape: [...c.batch, L, E] }, { data: k, shape: [...c.batch, S, E] }, { data: v, shape: [...c.batch, S, Ev] }, opts);
  assert.equal(r.output.shape, [...c.batch, L, Ev], `${what}: output shape`);
  const ref = refAttention(q, k, v, c.batch, L, S, E, Ev, {
    scale: c.scale ?? (E > 0 ? 1 / Math.sqrt(E) : 1), causal: c.causal,
    masks: mask ? [{ data: mask.data, shape: mask.shape, bool: mask.data instanceof Uint8Array }] : [],
  });
  assertRowsClose(r.output.data, ref.out, Ev, 1e-5, `${what}: output`, ref.mag);
  if (c.returnWeights) {
    assert.ok(r.weights, `${what}: weights returned`);
    assert.equal(r.weights!.shape, [...c.batch, L, S], `${what}: weights shape`);
    assertRowsClose(r.weights!.data, ref.w, S, 1e-5, `${what}: weights`);
  } else {
    assert.is(r.weights, undefined, `${what}: no weights unless asked`);
  }
  // inputs unchanged
  [q, k, v, mask?.data].forEach((x, i) => {
    if (x) assert.equal(Array.from(x), Array.from(copies[i]!), `${what}: input ${["query", "key", "value", "mask"][i]} unchanged`);
  });
  return { r, ref };
}

// ---- shapes ----------------------------------------------------------------------------------------------------

const BATCHES = [[], [2], [2, 3]];
for (const [d, dim] of (["L", "S", "E", "Ev"] as const).entries()) {
  test(`sdpa ${dim} through {${SIZES}}, the other dims from {1, 3, 17}, batch [], [2], [2, 3] in turn`, () => {
    const rand = rng(d + 1);
    SIZES.forEach((x, n) => {
      const dims = [0, 1, 2, 3].map((i) => (i === d ? x : [1, 3, 17][Math.floor(rand() * 3)]));
      const [L, S, E, Ev] = dims;
      check({ batch: BATCHES[n % 3], L, S, E, Ev, returnWeights: true }, x * 7 + d);
    });
  });
}

test("sdpa 12 seeded random shapes from {1, 3, 17, 63, 65, 129}⁴ (batch [])", () => {
  const rand = rng(99);
  for (let t = 0; t < 12; t++) {
    const [L, S, E, Ev] = [0, 1, 2, 3].map(() => SIZES[Math.floor(rand() * SIZES.length)]);
    check({ batch: [], L, S, E, Ev, returnWeights: t % 2 === 0, causal: t % 3 === 0 }, t);
  }
});

test("sdpa L ≠ S and Ev ≠ E: [4, 17, 5] · [4, 9, 5] · [4, 9, 11] and [3, 2, 8] · [3, 40, 8] · [3, 40, 1]", () => {
  check({ batch: [4], L: 17, S: 9, E: 5, Ev: 11, returnWeights: true }, 1);
  check({ batch: [3], L: 2, S: 40, E: 8, Ev: 1, returnWeights: true }, 2);
});

test(`sdpa batch dims: none, one ([5]), several ([2, 3], [2, 1, 3]), L = BM + 1 = ${BM + 1} (two row blocks)`, () => {
  for (const batch of [[], [5], [2, 3], [2, 1, 3]]) check({ batch, L: BM + 1, S: 19, E: 6, Ev: 7, returnWeights: true }, batch.length);
});

// ---- masks -------------------------------------------------------------------------------------------------------

test("sdpa boolean mask (Uint8Array, 1 = may attend) broadcast from [L, S], [1, S], [S], [L, 1], [1, 1], [], [B, 1, L, S], [H, L, S], [B, H, L, S] against batch [B, H] = [2, 3]", () => {
  const B = 2, H = 3, L = 7, S = 10;
  for (const shape of [[L, S], [1, S], [S], [L, 1], [1, 1], [], [B, 1, L, S], [H, L, S], [B, H, L, S], [1, H, 1, S]]) {
    check({ batch: [B, H], L, S, E: 4, Ev: 5, mask: { kind: "bool", shape }, returnWeights: true }, shape.length * 10 + prod(shape));
    check({ batch: [B, H], L: 2, S, E: 4, Ev: 5, mask: { kind: "bool", shape: shape.map((x) => (x === L ? 2 : x)) }, returnWeights: true }, prod(shape));
  }
});

test("sdpa additive mask (Float32Array, −Infinity drops) broadcast from [L, S], [1, S], [L, 1], [1, 1], [B, 1, L, S] against batch [B, H] = [2, 3]", () => {
  const B = 2, H = 3, L = 9, S = 6;
  for (const shape of [[L, S], [1, S], [L, 1], [1, 1], [B, 1, L, S], [B, H, L, S]]) {
    check({ batch: [B, H], L, S, E: 5, Ev: 3, mask: { kind: "add", shape }, returnWeights: true }, prod(shape));
  }
});

test("sdpa masks combined with causal: boolean [L, S] and additive [1, S] masks, L < S, L = S, L > S", () => {
  for (const [L, S] of [[3, 8], [8, 8], [8, 3], [2, 9]]) {
    check({ batch: [2], L, S, E: 4, Ev: 4, causal: true, mask: { kind: "bool", shape: [L, S] }, returnWeights: true }, L * S);
    check({ batch: [2], L, S, E: 4, Ev: 4, causal: true, mask: { kind: "add", shape: [1, S] }, returnWeights: true }, L * S + 1);
  }
});

test("sdpa a fully masked row gives zeros in output and weights, never NaN (bool 0 row, additive −Infinity row, L = 2 and 6)", () => {
  for (const L of [2, 6]) {
    const S = 5;
    const bool = new Uint8Array(L * S).fill(1);
    bool.fill(0, S, 2 * S);   // row 1: nothing
    const add = new Float32Array(L * S);
    add.fill(-Infinity, 0, S);   // row 0: nothing
    const rand = rng(L);
    const q = randn(rand, L * 3), k = randn(rand, S * 3), v = randn(rand, S * 4);
    for (const [mask, row] of [[{ data: bool, shape: [L, S] }, 1], [{ data: add, shape: [L, S] }, 0]] as const) {
      const r = sdpa({ data: q, shape: [L, 3] }, { data: k, shape: [S, 3] }, { data: v, shape: [S, 4] }, { mask, returnWeights: true });
      assert.equal(Array.from(r.output.data.slice(row * 4, row * 4 + 4)), [0, 0, 0, 0], `L=${L}: output row ${row}`);
      assert.equal(Array.from(r.weights!.data.slice(row * S, row * S + S)), [0, 0, 0, 0, 0], `L=${L}: weights row ${row}`);
      assert.ok(r.output.data.every(Number.isFinite) && r.weights!.data.every(Number.isFinite), "no NaN anywhere");
      const ref = refAttention(q, k, v, [], L, S, 3, 4, { masks: [{ data: mask.data, shape: mask.shape, bool: mask.data instanceof Uint8Array }] });
      assertRowsClose(r.output.data, ref.out, 4, 1e-5, `L=${L} masked row ${row}`, ref.mag);
    }
  }
});

test("sdpa boolean mask: any nonzero byte means 'may attend' (2, 255 same as 1)", () => {
  const L = 3, S = 4, rand = rng(5);
  const q = randn(rand, L * 2), k = randn(rand, S * 2), v = randn(rand, S * 2);
  const ones = new Uint8Array([1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1]);
  const other = ones.map((b, i) => (b ? [1, 2, 255][i % 3] : 0));
  const a = sdpa({ data: q, shape: [L, 2] }, { data: k, shape: [S, 2] }, { data: v, shape: [S, 2] }, { mask: { data: ones, shape: [L, S] } });
  const b = sdpa({ data: q, shape: [L, 2] }, { data: k, shape: [S, 2] }, { data: v, shape: [S, 2] }, { mask: { data: other, shape: [L, S] } });
  assert.equal(Array.from(b.output.data), Array.from(a.output.data));
});

// ---- causal ------------------------------------------------------------------------------------------------------

test("sdpa causal is bottom-right aligned: L=1 < S=7 (the one query sees all 7 keys), L=3 < S=8, L = S = 5, L=7 > S=3 (first 4 rows zeros)", () => {
  for (const [L, S] of [[1, 7], [2, 5], [3, 8], [5, 5], [7, 3], [45, 20]]) {
    const { r } = check({ batch: [2], L, S, E: 3, Ev: 2, causal: true, returnWeights: true }, L + S);
    const w = r.weights!.data;
    for (let b = 0; b < 2; b++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
      const x = w[(b * L + i) * S + j];
      if (j > i + S - L) assert.is(x, 0, `L=${L} S=${S}: w[${b}, ${i}, ${j}] past the diagonal`);
      else assert.ok(x > 0, `L=${L} S=${S}: w[${b}, ${i}, ${j}] = ${x} visible, want > 0`);
    }
    if (L > S) for (let i = 0; i < (L - S) * 2; i++) assert.is(r.output.data[i], 0, `row ${i >> 1} has no visible key: zeros`);
  }
});

test("sdpa causal: false is the same as no options (same bits); causal with L = S = 1", () => {
  const rand = rng(1);
  const q: Tensor = { data: randn(rand, 12), shape: [4, 3] }, k: Tensor = { data: randn(rand, 18), shape: [6, 3] }, v: Tensor = { data: randn(rand, 18), shape: [6, 3] };
  const a = sdpa(q, k, v, { causal: false }), b = sdpa(q, k, v);
  const ref = refAttention(q.data, k.data, v.data, [], 4, 6, 3, 3);
  assertRowsClose(a.output.data, ref.out, 3, 1e-5, "causal: false", ref.mag);
  assert.equal(Array.from(b.output.data), Array.from(a.output.data));
  check({ batch: [], L: 1, S: 1, E: 3, Ev: 3, causal: true, returnWeights: true }, 2);
});

// ---- scale, logits, weights ----------------------------------------------------------------------------------------

test("sdpa custom scale: 0.25, 3, 0 (uniform weights), −1", () => {
  for (const scale of [0.25, 3, 0, -1]) {
    const { r } = check({ batch: [2], L: 5, S: 6, E: 4, Ev: 3, scale, returnWeights: true }, 10 + scale);
    if (scale === 0) for (const x of r.weights!.data) assert.ok(Math.abs(x - 1 / 6) < 1e-6, `uniform: ${x}`);
  }
});

test("sdpa logits near ±1e4, exact in f32 (E=2, q = [±100, 1], k_j = [100, d_j], d_j = j/8 − 1, scale 1): softmax of d_j, no NaN", () => {
  for (const sign of [1, -1]) for (const L of [1, 2, 4]) {
    const S = 9;
    const q = new Float32Array(L * 2), k = new Float32Array(S * 2), v = randn(rng(L), S * 3);
    for (let i = 0; i < L; i++) q.set([sign * 100, 1], i * 2);
    for (let j = 0; j < S; j++) k.set([100, j / 8 - 1], j * 2);
    const { r } = check({ batch: [], L, S, E: 2, Ev: 3, scale: 1, q, k, v, returnWeights: true }, 0);
    let z = 0;
    for (let j = 0; j < S; j++) z += Math.exp(j / 8 - 1);
    for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
      assert.ok(Math.abs(r.weights!.data[i * S + j] - Math.exp(j / 8 - 1) / z) < 1e-6, `sign ${sign} L=${L} w[${i}, ${j}]`);
    }
  }
});

test("sdpa returnWeights: rows sum to 1, shape [...batch, L, S] (batch [2, 3], L = 7, S = 130)", () => {
  const { r } = check({ batch: [2, 3], L: 7, S: 130, E: 8, Ev: 4, returnWeights: true }, 3);
  for (let row = 0; row < 2 * 3 * 7; row++) {
    let s = 0;
    for (let j = 0; j < 130; j++) s += r.weights!.data[row * 130 + j];
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${row} sums to ${s}`);
  }
});

test("sdpa explicit undefined options are the defaults ({ mask: undefined, causal: undefined, scale: undefined, returnWeights: undefined })", () => {
  const rand = rng(3);
  const q = randn(rand, 12), k = randn(rand, 15), v = randn(rand, 10);
  const r = sdpa({ data: q, shape: [4, 3] }, { data: k, shape: [5, 3] }, { data: v, shape: [5, 2] },
    { mask: undefined, causal: undefined, scale: undefined, returnWeights: undefined });
  const ref = refAttention(q, k, v, [], 4, 5, 3, 2);
  assertRowsClose(r.output.data, ref.out, 2, 1e-5, "defaults", ref.mag);
  assert.is(r.weights, undefined);
});

// ---- empty dims ----------------------------------------------------------------------------------------------------

test("sdpa E = 0: scores are all 0, so the output is the mean of the visible values (L = 2 and 5, with causal and a mask)", () => {
  for (const L of [2, 5]) {
    check({ batch: [2], L, S: 4, E: 0, Ev: 3, returnWeights: true }, L);
    check({ batch: [2], L, S: 4, E: 0, Ev: 3, causal: true, returnWeights: true }, L + 1);
    check({ batch: [2], L, S: 4, E: 0, Ev: 3, mask: { kind: "bool", shape: [1, 4] }, scale: 2 }, L + 2);
  }
  // explicit: mean of V
  const v = new Float32Array([1, 2, 3, 4, 5, 6]);
  const r = sdpa({ data: new Float32Array(0), shape: [3, 0] }, { data: new Float32Array(0), shape: [2, 0] }, { data: v, shape: [2, 3] });
  assert.equal(Array.from(r.output.data), [2.5, 3.5, 4.5, 2.5, 3.5, 4.5, 2.5, 3.5, 4.5]);
});

test("sdpa S = 0: no keys, every row fully masked: zeros [..., L, Ev], weights [..., L, 0]", () => {
  const r = sdpa({ data: randn(rng(1), 2 * 3 * 4), shape: [2, 3, 4] }, { data: new Float32Array(0), shape: [2, 0, 4] },
    { data: new Float32Array(0), shape: [2, 0, 5] }, { returnWeights: true, causal: true });
  assert.equal(r.output.shape, [2, 3, 5]);
  assert.equal(Array.from(r.output.data), new Array(30).fill(0));
  assert.equal(r.weights!.shape, [2, 3, 0]);
  assert.is(r.weights!.data.length, 0);
});

test("sdpa L = 0 and batch dim 0: empty output [..., 0, Ev] and weights", () => {
  const r = sdpa({ data: new Float32Array(0), shape: [2, 0, 4] }, { data: randn(rng(1), 2 * 5 * 4), shape: [2, 5, 4] },
    { data: randn(rng(2), 2 * 5 * 3), shape: [2, 5, 3] }, { returnWeights: true });
  assert.equal(r.output.shape, [2, 0, 3]);
  assert.is(r.output.data.length, 0);
  assert.equal(r.weights!.shape, [2, 0, 5]);
  const z = sdpa({ data: new Float32Array(0), shape: [0, 3, 4] }, { data: new Float32Array(0), shape: [0, 5, 4] }, { data: new Float32Array(0), shape: [0, 5, 2] });
  assert.equal(z.output.shape, [0, 3, 2]);
  assert.is(z.output.data.length, 0);
});

test("sdpa Ev = 0 with returnWeights: output [..., L, 0] and the weights still computed (L = 2 and L = 5)", () => {
  for (const L of [2, 5]) {
    const rand = rng(L);
    const q = randn(rand, L * 3), k = randn(rand, 4 * 3);
    const r = sdpa({ data: q, shape: [L, 3] }, { data: k, shape: [4, 3] }, { data: new Float32Array(0), shape: [4, 0] }, { returnWeights: true });
    assert.equal(r.output.shape, [L, 0]);
    assertRowsClose(r.weights!.data, refAttention(q, k, new Float32Array(0), [], L, 4, 3, 0).w, 4, 1e-5, `Ev = 0, L = ${L}: weights`);
  }
});

// ---- results -------------------------------------------------------------------------------------------------------

test("sdpa results are fresh arrays: not views of WASM memory, new on every call, shapes not aliased", () => {
  const rand = rng(8);
  const q: Tensor = { data: randn(rand, 12), shape: [4, 3] }, k: Tensor = { data: randn(rand, 15), shape: [5, 3] }, v: Tensor = { data: randn(rand, 10), shape: [5, 2] };
  const a = sdpa(q, k, v, { returnWeights: true }), b = sdpa(q, k, v, { returnWeights: true });
  const mem = runtime("test").heap.memory.buffer;
  for (const x of [a.output.data, a.weights!.data]) {
    assert.ok(x.buffer !== mem, "not a view of WASM memory");
    assert.ok(x.buffer !== q.data.buffer && x.buffer !== k.data.buffer && x.buffer !== v.data.buffer, "not an input's buffer");
  }
  assert.ok(a.output.data !== b.output.data && a.output.data.buffer !== b.output.data.buffer, "new per call");
  assert.ok(a.output.shape !== q.shape, "shape not aliased");
  const keep = Array.from(a.output.data);
  b.output.data.fill(7);
  sdpa(q, k, v);
  assert.equal(Array.from(a.output.data), keep, "earlier results are not overwritten by later calls");
});

test("sdpa does not modify inputs given as subarray views at odd offsets (query, key, value, Uint8Array and Float32Array masks)", () => {
  const rand = rng(11);
  const big = randn(rand, 200), bytes = randBytes(rand, 50), add = randn(rand, 50);
  const q = big.subarray(3, 3 + 2 * 4 * 3), k = big.subarray(41, 41 + 2 * 5 * 3), v = big.subarray(90, 90 + 2 * 5 * 2);
  const before = [Array.from(big), Array.from(bytes), Array.from(add)];
  for (const mask of [{ data: bytes.subarray(7, 7 + 20), shape: [4, 5] }, { data: add.subarray(1, 1 + 20), shape: [1, 4, 5] }]) {
    const r = sdpa({ data: q, shape: [2, 4, 3] }, { data: k, shape: [2, 5, 3] }, { data: v, shape: [2, 5, 2] }, { mask, causal: true, returnWeights: true });
    const ref = refAttention(q, k, v, [2], 4, 5, 3, 2, { causal: true, masks: [{ data: mask.data, shape: mask.shape, bool: mask.data instanceof Uint8Array }] });
    assertRowsClose(r.output.data, ref.out, 2, 1e-5, `${mask.data.constructor.name} mask: output`, ref.mag);
    assertRowsClose(r.weights!.data, ref.w, 5, 1e-5, `${mask.data.constructor.name} mask: weights`);
  }
  assert.equal([Array.from(big), Array.from(bytes), Array.from(add)], before);
});

test("sdpa options.out: the output is written into it (same bits as a new array), with weights, masks, batch [2], L=17 S=65", () => {
  const rand = rng(31);
  const q = randn(rand, 2 * 17 * 9), k = randn(rand, 2 * 65 * 9), v = randn(rand, 2 * 65 * 5);
  const Q: Tensor = { data: q, shape: [2, 17, 9] }, K: Tensor = { data: k, shape: [2, 65, 9] }, V: Tensor = { data: v, shape: [2, 65, 5] };
  const opts: SdpaOptions = { causal: true, mask: { data: randBytes(rand, 17 * 65, 0.8), shape: [17, 65] }, returnWeights: true };
  const want = sdpa(Q, K, V, opts);
  const out = new Float32Array(2 * 17 * 5).fill(NaN);
  const r = sdpa(Q, K, V, { ...opts, out });
  assert.ok(r.output.data === out);
  assert.equal(r.output.shape, [2, 17, 5]);
  assert.equal(Array.from(out), Array.from(want.output.data));
  assert.equal(Array.from(r.weights!.data), Array.from(want.weights!.data), "weights");
});

test("sdpa options.out may be the query's data (E = Ev); S = 0 overwrites out with zeros", () => {
  const rand = rng(32);
  const Q: Tensor = { data: randn(rand, 3 * 8), shape: [3, 8] }, K: Tensor = { data: randn(rand, 5 * 8), shape: [5, 8] }, V: Tensor = { data: randn(rand, 5 * 8), shape: [5, 8] };
  const want = sdpa(Q, K, V).output.data;
  assert.ok(sdpa(Q, K, V, { out: Q.data }).output.data === Q.data);
  assert.equal(Array.from(Q.data), Array.from(want), "in place");
  const out = new Float32Array(3 * 2).fill(9);
  sdpa(Q, { data: new Float32Array(0), shape: [0, 8] }, { data: new Float32Array(0), shape: [0, 2] }, { out });
  assert.equal(Array.from(out), [0, 0, 0, 0, 0, 0]);
});

test("before init(): sdpa, matmul and softmax throw an Error naming the function and saying to call init() (fresh process)", () => {
  const index = fileURLToPath(new URL("../../src/index.ts", import.meta.url));
  const script = `
    const m = await import(process.argv[1]);
    const t = { data: new Float32Array(4), shape: [2, 2] }, out = [];
    for (const f of [() => m.scaledDotProductAttention(t, t, t), () => m.matmul(t, t), () => m.softmax(t)]) {
      try { f(); out.push("no throw"); } catch (e) { out.push(e.constructor.name + ": " + e.message); }
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, index], { encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  const msgs: string[] = JSON.parse(r.stdout.trim().split("\n").pop()!);
  ["scaledDotProductAttention", "matmul", "softmax"].forEach((fn, i) => {
    assert.match(msgs[i], new RegExp("^Error: " + fn + ": wasm-attention is not initialised; call `await init\\(\\)`"), `${fn}: got ${msgs[i]}`);
  });
});

// ---- errors --------------------------------------------------------------------------------------------------------

const Q = (): Tensor => ({ data: randn(rng(1), 12), shape: [3, 4] });
const K = (): Tensor => ({ data: randn(rng(2), 20), shape: [5, 4] });
const V = (): Tensor => ({ data: randn(rng(3), 10), shape: [5, 2] });
const FN = "scaledDotProductAttention: ";

function errorTest(name: string, call: () => unknown, cls: typeof TypeError | typeof RangeError, pattern: RegExp): void {
  test(`sdpa throws ${cls.name}: ${name}`, () => {
    throwsWith(call, cls, new RegExp(FN + pattern.source), name);
    stillWorks(name);
  });
}

errorTest("options not an object (5)", () => sdpa(Q(), K(), V(), 5 as never), TypeError, /options must be an object; got 5/);
errorTest("options.out a Float64Array", () => sdpa(Q(), K(), V(), { out: new Float64Array(6) as never }), TypeError, /options\.out must be a Float32Array; got a Float64Array\(6\)/);
errorTest("options.out of the weights' length", () => sdpa(Q(), K(), V(), { out: new Float32Array(15) }), RangeError,
  /options\.out\.length must equal the result's 6 elements \(shape \[3, 2\]\); got 15/);
errorTest("options null", () => sdpa(Q(), K(), V(), null as never), TypeError, /options must be an object; got null/);
errorTest("options an array", () => sdpa(Q(), K(), V(), [] as never), TypeError, /options must be an object; got an Array\(0\)/);
errorTest("unknown option `casual` (typo of causal)", () => sdpa(Q(), K(), V(), { casual: true } as never), TypeError,
  /unknown option "casual"; known options are mask, causal, scale, returnWeights/);

for (const [arg, make, dims] of [["query", Q, "\\[\\.\\.\\.batch, L, E\\]"], ["key", K, "\\[\\.\\.\\.batch, S, E\\]"], ["value", V, "\\[\\.\\.\\.batch, S, Ev\\]"]] as const) {
  const call = (t: unknown) => () => sdpa(...([Q(), K(), V()].map((x, i) => (i === ["query", "key", "value"].indexOf(arg) ? t : x)) as [Tensor, Tensor, Tensor]));
  const good = make();
  errorTest(`${arg} not a tensor (null)`, call(null), TypeError, new RegExp(`${arg} must be a tensor \\{ data: Float32Array, shape: ${dims} \\}; got null`));
  errorTest(`${arg} not a tensor (a Float32Array)`, call(good.data), TypeError, new RegExp(`${arg}\\.data must be a Float32Array; got undefined`));
  errorTest(`${arg}.data a Float64Array`, call({ data: Float64Array.from(good.data), shape: good.shape }), TypeError,
    new RegExp(`${arg}\\.data must be a Float32Array; got an? Float64Array\\(${good.data.length}\\)`));
  errorTest(`${arg}.data a plain Array`, call({ data: Array.from(good.data), shape: good.shape }), TypeError,
    new RegExp(`${arg}\\.data must be a Float32Array; got an Array\\(${good.data.length}\\)`));
  errorTest(`${arg}.shape not an array`, call({ data: good.data, shape: "3,4" }), TypeError,
    new RegExp(`${arg}\\.shape must be an array of non-negative integers; got "3,4"`));
  errorTest(`${arg}.shape[1] not a number`, call({ data: good.data, shape: [good.shape[0], String(good.shape[1])] }), TypeError,
    new RegExp(`${arg}\\.shape\\[1\\] must be a number; got "${good.shape[1]}"`));
  errorTest(`${arg}.shape[0] negative`, call({ data: good.data, shape: [-1, good.shape[1]] }), RangeError,
    new RegExp(`${arg}\\.shape\\[0\\] must be a non-negative integer; got -1`));
  errorTest(`${arg}.shape[0] not an integer`, call({ data: good.data, shape: [1.5, good.shape[1]] }), RangeError,
    new RegExp(`${arg}\\.shape\\[0\\] must be a non-negative integer; got 1\\.5`));
  errorTest(`${arg} rank 1`, call({ data: good.data, shape: [good.data.length] }), RangeError,
    new RegExp(`${arg}\\.shape must have rank ≥ 2 \\(${dims}\\); got \\[${good.data.length}\\] \\(rank 1\\)`));
  errorTest(`${arg}.data length ≠ shape product`, call({ data: good.data.subarray(1), shape: good.shape }), RangeError,
    new RegExp(`${arg}\\.data must have length ${good.shape[0]}·${good.shape[1]} = ${good.data.length} for shape \\[${good.shape.join(", ")}\\]; got ${good.data.length - 1}`));
}

errorTest("key batch dims differ from query's ([2, 3, 4] vs key [3, 5, 4])",
  () => sdpa({ data: new Float32Array(24), shape: [2, 3, 4] }, { data: new Float32Array(60), shape: [3, 5, 4] }, { data: new Float32Array(30), shape: [3, 5, 2] }),
  RangeError, /key\.shape must have the same leading \(batch\) dims as query \[2\]; got \[3, 5, 4\]/);
errorTest("key rank differs from query's ([2, 3, 4] vs key [5, 4])",
  () => sdpa({ data: new Float32Array(24), shape: [2, 3, 4] }, K(), { data: new Float32Array(20), shape: [2, 5, 2] }),
  RangeError, /key\.shape must have the same leading \(batch\) dims as query \[2\]; got \[5, 4\]/);
errorTest("value batch dims differ from query's ([2, 3, 4], key [2, 5, 4], value [1, 5, 2])",
  () => sdpa({ data: new Float32Array(24), shape: [2, 3, 4] }, { data: new Float32Array(40), shape: [2, 5, 4] }, { data: new Float32Array(10), shape: [1, 5, 2] }),
  RangeError, /value\.shape must have the same leading \(batch\) dims as query \[2\]; got \[1, 5, 2\]/);
errorTest("key.shape[1] ≠ E (query [3, 4], key [5, 5])",
  () => sdpa(Q(), { data: new Float32Array(25), shape: [5, 5] }, V()),
  RangeError, /key\.shape\[1\] must equal E = 4 \(query\.shape \[3, 4\]\); got 5/);
errorTest("key.shape[2] ≠ E with batch (query [2, 3, 4], key [2, 5, 3])",
  () => sdpa({ data: new Float32Array(24), shape: [2, 3, 4] }, { data: new Float32Array(30), shape: [2, 5, 3] }, { data: new Float32Array(20), shape: [2, 5, 2] }),
  RangeError, /key\.shape\[2\] must equal E = 4 \(query\.shape \[2, 3, 4\]\); got 3/);
errorTest("value.shape[0] ≠ S (key [5, 4], value [6, 2])",
  () => sdpa(Q(), K(), { data: new Float32Array(12), shape: [6, 2] }),
  RangeError, /value\.shape\[0\] must equal S = 5 \(key\.shape \[5, 4\]\); got 6/);

const withMask = (mask: unknown) => () => sdpa(Q(), K(), V(), { mask: mask as Mask });
errorTest("options.mask not a mask (5)", withMask(5), TypeError, /options\.mask must be a mask \{ data: Uint8Array \| Float32Array, shape \}; got 5/);
errorTest("options.mask null", withMask(null), TypeError, /options\.mask must be a mask .*; got null/);
errorTest("options.mask.data an Int32Array", withMask({ data: new Int32Array(15), shape: [3, 5] }), TypeError,
  /options\.mask\.data must be a Uint8Array \(boolean, 1 = may attend\) or a Float32Array \(additive\); got an? Int32Array\(15\)/);
errorTest("options.mask.data a plain Array", withMask({ data: new Array(15).fill(1), shape: [3, 5] }), TypeError,
  /options\.mask\.data must be .*; got an Array\(15\)/);
errorTest("options.mask.shape not an array", withMask({ data: new Uint8Array(15), shape: 15 }), TypeError,
  /options\.mask\.shape must be an array of non-negative integers; got 15/);
errorTest("options.mask.shape[0] not a number", withMask({ data: new Uint8Array(15), shape: [null, 5] }), TypeError,
  /options\.mask\.shape\[0\] must be a number; got null/);
errorTest("options.mask.shape[1] negative", withMask({ data: new Uint8Array(15), shape: [3, -5] }), RangeError,
  /options\.mask\.shape\[1\] must be a non-negative integer; got -5/);
errorTest("options.mask.data length ≠ shape product", withMask({ data: new Uint8Array(14), shape: [3, 5] }), RangeError,
  /options\.mask\.data must have length 3·5 = 15 for shape \[3, 5\]; got 14/);
errorTest("options.mask does not broadcast to [L, S] ([4, 5] vs [3, 5])", withMask({ data: new Uint8Array(20), shape: [4, 5] }), RangeError,
  /options\.mask\.shape must broadcast to \[\.\.\.batch, L, S\] = \[3, 5\]; got \[4, 5\]/);
errorTest("options.mask of higher rank than [...batch, L, S] ([1, 3, 5] vs [3, 5])", withMask({ data: new Float32Array(15), shape: [1, 3, 5] }), RangeError,
  /options\.mask\.shape must broadcast to \[\.\.\.batch, L, S\] = \[3, 5\]; got \[1, 3, 5\]/);
errorTest("options.mask [S, L] transposed ([5, 3] vs [3, 5])", withMask({ data: new Uint8Array(15), shape: [5, 3] }), RangeError,
  /options\.mask\.shape must broadcast to \[\.\.\.batch, L, S\] = \[3, 5\]; got \[5, 3\]/);
errorTest("options.causal not a boolean or an alignment (1)", () => sdpa(Q(), K(), V(), { causal: 1 as never }), TypeError, /options\.causal must be a boolean, "top-left" or "bottom-right"; got 1/);
errorTest("options.returnWeights not a boolean (\"yes\")", () => sdpa(Q(), K(), V(), { returnWeights: "yes" as never }), TypeError,
  /options\.returnWeights must be a boolean; got "yes"/);
errorTest("options.scale not a number (\"2\")", () => sdpa(Q(), K(), V(), { scale: "2" as never }), TypeError, /options\.scale must be a number; got "2"/);
errorTest("options.scale null", () => sdpa(Q(), K(), V(), { scale: null as never }), TypeError, /options\.scale must be a number; got null/);
for (const s of [NaN, Infinity, -Infinity]) {
  errorTest(`options.scale ${s}`, () => sdpa(Q(), K(), V(), { scale: s }), RangeError, new RegExp(`options\\.scale must be a finite number; got ${String(s)}`));
}

test.run();
