// test/src/mha.test.ts ↔ src/mha.ts
// MultiHeadAttention against the float64 oracle refMha (test/reference.ts): self/cross attention, GQA/MQA,
// odd sizes, every mask kind, attention weights, weights in and out (loadWeights, stateDict, loadStateDict over
// records and safetensors), the default initialisation, the KV cache, one test per thrown error, and the WASM heap
// returning to its mark. Random biases everywhere (the default zero biases would hide bias bugs).
// Run: WASM_ATTENTION_BUILD=debug node --import tsx scripts/uvu-run.mjs test/src/mha.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertRowsClose, randBytes, randn, rng, throwsWith } from "../helpers.js";
import {
  KVCache, MultiHeadAttention, writeSafetensors,
  type Mask, type MultiHeadAttentionConfig, type MultiHeadAttentionOptions, type MultiHeadAttentionResult,
  type MultiHeadAttentionWeights, type Tensor,
} from "../../src/index.js";
import { runtime } from "../../src/wasm.js";
import { BM, BN, KC } from "../constants.js";
import { refMasks, refMha, type RefMask, type RefMhaWeights } from "../reference.js";

const RTOL = 1e-5;
const heapInUse = (): number => runtime("mha.test").heap.bytesInUse;

// ---- models and data ------------------------------------------------------------------------------------------

/** E embedDim, H numHeads, Hkv numKVHeads, kdim/vdim key/value input widths. */
interface Cfg { E: number; H: number; Hkv?: number; kdim?: number; vdim?: number; bias?: boolean }
type FullCfg = Required<Cfg>;

/** An instance with random weights (random non-zero biases) and the same weights for refMha. */
interface Model { mha: MultiHeadAttention; cfg: FullCfg; ref: RefMhaWeights }

function fullCfg(c: Cfg): FullCfg {
  return { E: c.E, H: c.H, Hkv: c.Hkv ?? c.H, kdim: c.kdim ?? c.E, vdim: c.vdim ?? c.E, bias: c.bias ?? true };
}

const isPacked = (f: FullCfg): boolean => f.kdim === f.E && f.vdim === f.E && f.Hkv === f.H;

function config(c: Cfg, seed?: number): MultiHeadAttentionConfig {
  const o: MultiHeadAttentionConfig = { embedDim: c.E, numHeads: c.H };
  if (c.Hkv !== undefined) o.numKVHeads = c.Hkv;
  if (c.kdim !== undefined) o.kdim = c.kdim;
  if (c.vdim !== undefined) o.vdim = c.vdim;
  if (c.bias !== undefined) o.bias = c.bias;
  if (seed !== undefined) o.seed = seed;
  return o;
}

function concat(...xs: Float32Array[]): Float32Array {
  const out = new Float32Array(xs.reduce((n, x) => n + x.length, 0));
  let at = 0;
  for (const x of xs) { out.set(x, at); at += x.length; }
  return out;
}

/** Random weights W[out, in] uniform ±1.5/√in, biases uniform ±0.5; as loadWeights takes them and as refMha does. */
function randomWeights(rand: () => number, f: FullCfg, packed: boolean): { weights: MultiHeadAttentionWeights; ref: RefMhaWeights } {
  const { E, H, Hkv, kdim, vdim } = f;
  const Ekv = Hkv * (E / H);
  const u = (n: number, fanIn: number) => randn(rand, n, -1.5 / Math.sqrt(fanIn), 1.5 / Math.sqrt(fanIn));
  const Wq = u(E * E, E), Wk = u(Ekv * kdim, kdim), Wv = u(Ekv * vdim, vdim), Wo = u(E * E, E);
  const ref: RefMhaWeights = { Wq, Wk, Wv, Wo };
  const weights: MultiHeadAttentionWeights = { outProjWeight: Wo.slice() };
  if (packed) weights.inProjWeight = concat(Wq, Wk, Wv);
  else { weights.qProjWeight = Wq.slice(); weights.kProjWeight = Wk.slice(); weights.vProjWeight = Wv.slice(); }
  if (f.bias) {
    const bin = randn(rand, E + 2 * Ekv, -0.5, 0.5), bo = randn(rand, E, -0.5, 0.5);
    ref.bq = bin.subarray(0, E); ref.bk = bin.subarray(E, E + Ekv); ref.bv = bin.subarray(E + Ekv); ref.bo = bo;
    weights.inProjBias = bin.slice(); weights.outProjBias = bo.slice();
  }
  return { weights, ref };
}

function model(c: Cfg, seed = 1, packed?: boolean): Model {
  const cfg = fullCfg(c);
  const mha = new MultiHeadAttention(config(c, seed));
  const { weights, ref } = randomWeights(rng(seed * 7919 + 13), cfg, packed ?? isPacked(cfg));
  mha.loadWeights(weights);
  return { mha, cfg, ref };
}

function tensor(rand: () => number, shape: number[], lo = -1, hi = 1): Tensor {
  return { data: randn(rand, shape.reduce((a, b) => a * b, 1), lo, hi), shape };
}

/** Rows [a, b) of each batch of x [B, T, W] → [B, b − a, W]. */
function rowsOf(x: ArrayLike<number>, B: number, T: number, W: number, a: number, b: number): Float32Array {
  const out = new Float32Array(B * (b - a) * W);
  for (let n = 0; n < B; n++) for (let t = a; t < b; t++) for (let e = 0; e < W; e++) {
    out[(n * (b - a) + t - a) * W + e] = x[(n * T + t) * W + e];
  }
  return out;
}

/** Columns [0, c) of m [R, C] → [R, c]. */
function colsOf<T extends Uint8Array | Float32Array>(m: T, R: number, C: number, c: number): T {
  const out = new (m.constructor as { new(n: number): T })(R * c);
  for (let r = 0; r < R; r++) for (let j = 0; j < c; j++) out[r * c + j] = m[r * C + j];
  return out;
}

function bitsEqual(got: Float32Array, want: Float32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) assert.unreachable(`${what}: [${i}] got ${got[i]} want ${want[i]} (bits differ)`);
  }
}

function sameBytes(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) assert.unreachable(`${what}: [${i}] got ${got[i]} want ${want[i]}`);
  }
}

/** mean over heads of w [B, H, n] → [B, n] */
function averageOverHeads(w: ArrayLike<number>, B: number, H: number, n: number): Float64Array {
  const out = new Float64Array(B * n);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) out[b * n + i] += w[(b * H + h) * n + i] / H;
  return out;
}

/**
 * Runs m.mha.forward and checks it against refMha: output (and weights, when asked for) within RTOL of the
 * result's scale, the result shapes, inputs not modified, heap back at its mark.
 */
function expectForward(m: Model, q: Tensor, k?: Tensor, v?: Tensor, o: MultiHeadAttentionOptions = {}, what = "forward"): MultiHeadAttentionResult {
  const { E, H, Hkv, kdim, vdim } = m.cfg;
  const unbatched = q.shape.length === 2;
  const B = unbatched ? 1 : q.shape[0], L = q.shape[q.shape.length - 2];
  const S = k ? k.shape[k.shape.length - 2] : L;
  const inputs = [q.data, k?.data, v?.data, o.keyPaddingMask?.data, o.attnMask?.data];
  const copies = inputs.map((d) => d?.slice());
  const mark = heapInUse();
  const r = m.mha.forward(q, k, v, o);
  assert.is(heapInUse(), mark, `${what}: heap back at its mark`);
  inputs.forEach((d, i) => { if (d) sameBytes(d, copies[i]!, `${what}: input ${i} not modified`); });
  const ref = refMha(q.data, (k ?? q).data, (v ?? q).data, B, L, S, E, H, Hkv, kdim, vdim, m.ref, { causal: o.causal, masks: refMasks(o, B, S) });
  assert.equal(r.output.shape, unbatched ? [L, E] : [B, L, E], `${what}: output shape`);
  assert.instance(r.output.data, Float32Array, `${what}: output data`);
  assertRowsClose(r.output.data, ref.out, E, RTOL, `${what}: output`, ref.mag);
  if (o.needWeights) {
    assert.ok(r.weights, `${what}: weights returned`);
    const avg = o.averageWeights ?? true;
    const shape = avg ? [B, L, S] : [B, H, L, S];
    assert.equal(r.weights!.shape, unbatched ? shape.slice(1) : shape, `${what}: weights shape`);
    assertRowsClose(r.weights!.data, avg ? averageOverHeads(ref.w, B, H, L * S) : ref.w, S, RTOL, `${what}: weights`);
  } else {
    assert.is(r.weights, undefined, `${what}: no weights unless needWeights`);
  }
  return r;
}

/** Random self- (k, v omitted) or cross-attention inputs for m. */
function inputs(m: Model, rand: () => number, B: number, L: number, S: number, cross: boolean, unbatched = false): [Tensor, Tensor | undefined, Tensor | undefined] {
  const lead = unbatched ? [] : [B];
  const q = tensor(rand, [...lead, L, m.cfg.E]);
  if (!cross) return [q, undefined, undefined];   // always 3 entries: spread before the options
  return [q, tensor(rand, [...lead, S, m.cfg.kdim]), tensor(rand, [...lead, S, m.cfg.vdim])];
}

// ---- self-attention, cross-attention, GQA/MQA, bias, odd sizes ---------------------------------------------------

test("self-attention batched [B, L, E]: B in {1, 3}, L in {1, 2, 3, 17, 65}", () => {
  const m = model({ E: 16, H: 4 }, 2);
  const rand = rng(1);
  for (const B of [1, 3]) for (const L of [1, 2, 3, 17, 65]) {
    expectForward(m, ...inputs(m, rand, B, L, L, false), {}, `B=${B} L=${L}`);
  }
  m.mha.dispose();
});

test("self-attention unbatched [L, E]: output [L, E], weights [L, S] and [H, L, S]", () => {
  const m = model({ E: 12, H: 3 }, 3);
  const rand = rng(2);
  for (const L of [1, 3, 17, 65]) {
    const [q] = inputs(m, rand, 1, L, L, false, true);
    expectForward(m, q, undefined, undefined, {}, `L=${L}`);
    expectForward(m, q, undefined, undefined, { needWeights: true }, `L=${L} averaged weights`);
    expectForward(m, q, undefined, undefined, { needWeights: true, averageWeights: false }, `L=${L} per-head weights`);
    // the unbatched result equals the batched one with B = 1
    const a = m.mha.forward(q).output, b = m.mha.forward({ data: q.data, shape: [1, ...q.shape] }).output;
    bitsEqual(a.data, b.data, `L=${L}: unbatched = batched B=1`);
  }
  m.mha.dispose();
});

test(`cross-attention E=12 H=3 kdim=5 vdim=7: B in {1, 3}, L, S in {1, 3, 17, 65}, and S = BN + 4 = ${BN + 4}`, () => {
  const m = model({ E: 12, H: 3, kdim: 5, vdim: 7 }, 4);
  const rand = rng(3);
  for (const B of [1, 3]) for (const L of [1, 3, 17, 65]) for (const S of [1, 3, 17, 65]) {
    expectForward(m, ...inputs(m, rand, B, L, S, true), {}, `B=${B} L=${L} S=${S}`);
  }
  expectForward(m, ...inputs(m, rand, 2, 7, BN + 4, true), { needWeights: true }, `S=${BN + 4} (more than one key tile of BN = ${BN})`);
  expectForward(m, ...inputs(m, rand, 1, 4, 9, true, true), { needWeights: true, averageWeights: false }, "unbatched [L, E] × [S, kdim]");
});

test("cross-attention with an empty memory (S = 0): attention gives zeros, the output is out_proj.bias", () => {
  const m = model({ E: 12, H: 3, kdim: 5, vdim: 7 }, 5);
  const rand = rng(4);
  const r = expectForward(m, ...inputs(m, rand, 2, 3, 0, true), { needWeights: true }, "S=0");
  const bo = m.ref.bo!;
  for (let i = 0; i < 6; i++) for (let e = 0; e < 12; e++) assert.is(r.output.data[i * 12 + e], bo[e], `row ${i} = bo`);
  m.mha.dispose();
});

test("GQA (numKVHeads = 2 of 6) and MQA (numKVHeads = 1): self and cross", () => {
  const rand = rng(5);
  for (const c of [
    { E: 36, H: 6, Hkv: 2 }, { E: 36, H: 6, Hkv: 2, kdim: 10, vdim: 11 },
    { E: 20, H: 4, Hkv: 1 }, { E: 20, H: 4, Hkv: 1, kdim: 3, vdim: 9 },
  ] as Cfg[]) {
    const m = model(c, 6);
    const cross = c.kdim !== undefined;
    for (const [B, L, S] of [[1, 1, 1], [3, 3, 17], [2, 17, 5], [2, 65, 65]]) {
      const what = `${JSON.stringify(c)} B=${B} L=${L} S=${cross ? S : L}`;
      expectForward(m, ...inputs(m, rand, B, L, cross ? S : L, cross), { needWeights: true, averageWeights: false }, what);
    }
    // the same instance self-attending when kdim = vdim = E
    if (!cross) expectForward(m, ...inputs(m, rand, 2, 5, 8, true), {}, `${JSON.stringify(c)} cross with kdim = vdim = E`);
    m.mha.dispose();
  }
});

test("bias: false (no biases anywhere): self, cross, GQA", () => {
  const rand = rng(6);
  for (const c of [{ E: 12, H: 4, bias: false }, { E: 12, H: 3, kdim: 5, vdim: 7, bias: false }, { E: 24, H: 6, Hkv: 3, bias: false }] as Cfg[]) {
    const m = model(c, 7);
    assert.is(m.mha.bias, false);
    assert.is(m.ref.bq, undefined);
    const cross = c.kdim !== undefined;
    expectForward(m, ...inputs(m, rand, 3, 5, 9, cross), { needWeights: true }, JSON.stringify(c));
    // Causal self-attention where the instance can self-attend (kdim = vdim = E); else causal cross-attention.
    expectForward(m, ...inputs(m, rand, 1, 17, 17, cross), { causal: true }, `${JSON.stringify(c)} causal ${cross ? "cross" : "self"}`);
    m.mha.dispose();
  }
});

test(`odd sizes: head widths 1, 3, 5, 7, 9, 12, 17, 65 (E = H too) and E = KC + 8 = ${KC + 8} (projections over two k-blocks), L, S in {1, 3, 17, 65}, B in {1, 3}`, () => {
  const rand = rng(8);
  const cfgs: Cfg[] = [
    { E: 4, H: 4 }, { E: 3, H: 3 }, { E: 9, H: 3 }, { E: 10, H: 2 }, { E: 7, H: 1 },
    { E: 27, H: 3 }, { E: 24, H: 2, Hkv: 1 }, { E: 34, H: 2 }, { E: 65, H: 1, kdim: 3, vdim: 66 },
    { E: KC + 8, H: 2 },   // E > KC: the projections take more than one k-block
  ];
  let n = 0;
  for (const c of cfgs) {
    const m = model(c, 9);
    const forcedCross = m.cfg.kdim !== m.cfg.E || m.cfg.vdim !== m.cfg.E;
    for (const L of [1, 3, 17, 65]) for (const S of [1, 3, 17, 65]) {
      if (L !== S && !forcedCross && (L + S) % 3 !== 0) continue;   // keep the count down: some pairs only
      const B = n++ % 2 === 0 ? 1 : 3;
      const cross = forcedCross || L !== S;
      expectForward(m, ...inputs(m, rand, B, L, S, cross), {}, `${JSON.stringify(c)} Dh=${m.mha.headDim} B=${B} L=${L} S=${S}`);
    }
    m.mha.dispose();
  }
});

test("read-only properties: embedDim, numHeads, numKVHeads, headDim, kdim, vdim, bias", () => {
  const a = new MultiHeadAttention({ embedDim: 24, numHeads: 6, numKVHeads: 2, kdim: 5, vdim: 7, bias: false, seed: 1 });
  assert.equal([a.embedDim, a.numHeads, a.numKVHeads, a.headDim, a.kdim, a.vdim, a.bias], [24, 6, 2, 4, 5, 7, false]);
  const b = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
  assert.equal([b.embedDim, b.numHeads, b.numKVHeads, b.headDim, b.kdim, b.vdim, b.bias], [8, 2, 2, 4, 8, 8, true]);
  a.dispose(); b.dispose();
});

// ---- masks ----------------------------------------------------------------------------------------------------

const MB = 2, MH = 3, ME = 12;
/** [L, S] per case: self (L = S) and cross (L < S). */
const MASK_CASES: { name: string; L: number; S: number; cross: boolean }[] = [
  { name: "self L=S=6", L: 6, S: 6, cross: false },
  { name: "cross L=5 S=7", L: 5, S: 7, cross: true },
];
let maskModels: { self: Model; cross: Model } | null = null;
const masksModel = (cross: boolean): Model => {
  maskModels ??= { self: model({ E: ME, H: MH }, 21), cross: model({ E: ME, H: MH, kdim: 5, vdim: 7 }, 22) };
  return cross ? maskModels.cross : maskModels.self;
};

function boolMask(rand: () => number, shape: number[], pOne = 0.7): Mask {
  return { data: randBytes(rand, shape.reduce((a, b) => a * b, 1), pOne), shape };
}
/** Additive: uniform ±3 with about 15% −Infinity. */
function addMask(rand: () => number, shape: number[]): Mask {
  const data = randn(rand, shape.reduce((a, b) => a * b, 1), -3, 3);
  for (let i = 0; i < data.length; i++) if (rand() < 0.15) data[i] = -Infinity;
  return { data, shape };
}

for (const mc of MASK_CASES) {
  const { L, S } = mc;
  test(`keyPaddingMask Uint8Array (1 = padding) [B, S], ${mc.name}`, () => {
    const m = masksModel(mc.cross), rand = rng(31);
    const kpm = boolMask(rand, [MB, S], 0.3);
    kpm.data[0] = 1; kpm.data[1] = 0;
    expectForward(m, ...inputs(m, rand, MB, L, S, mc.cross), { keyPaddingMask: kpm, needWeights: true, averageWeights: false }, "kpm bool");
    // padding really is dropped: a padded key gets weight exactly 0 in every head and row
    const r = m.mha.forward(...inputs(m, rand, MB, L, S, mc.cross), { keyPaddingMask: kpm, needWeights: true, averageWeights: false });
    for (let h = 0; h < MH; h++) for (let i = 0; i < L; i++) assert.is(r.weights!.data[(h * L + i) * S + 0], 0, "padded key 0 of batch 0");
  });
  test(`keyPaddingMask Float32Array (additive) [B, S], ${mc.name}`, () => {
    const m = masksModel(mc.cross), rand = rng(32);
    expectForward(m, ...inputs(m, rand, MB, L, S, mc.cross), { keyPaddingMask: addMask(rand, [MB, S]), needWeights: true }, "kpm additive");
  });
  for (const [sname, shape] of [
    ["[L, S]", [L, S]], ["[B, 1, L, S]", [MB, 1, L, S]], ["[1, H, L, S]", [1, MH, L, S]], ["[B, H, L, S]", [MB, MH, L, S]],
    ["[L, 1]", [L, 1]], ["[S]", [S]], ["[H, 1, S]", [MH, 1, S]],
  ] as [string, number[]][]) {
    test(`attnMask Uint8Array (1 = may attend) ${sname}, ${mc.name}`, () => {
      const m = masksModel(mc.cross), rand = rng(33);
      expectForward(m, ...inputs(m, rand, MB, L, S, mc.cross), { attnMask: boolMask(rand, shape), needWeights: true, averageWeights: false }, `bool ${sname}`);
    });
    test(`attnMask Float32Array (additive) ${sname}, ${mc.name}`, () => {
      const m = masksModel(mc.cross), rand = rng(34);
      expectForward(m, ...inputs(m, rand, MB, L, S, mc.cross), { attnMask: addMask(rand, shape), needWeights: true, averageWeights: false }, `additive ${sname}`);
    });
  }
  test(`causal (bottom-right), ${mc.name}`, () => {
    const m = masksModel(mc.cross), rand = rng(35);
    const r = expectForward(m, ...inputs(m, rand, MB, L, S, mc.cross), { causal: true, needWeights: true, averageWeights: false }, "causal");
    // bottom-right: row i sees keys j ≤ i + S − L and nothing later
    for (let h = 0; h < MB * MH; h++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
      const w = r.weights!.data[(h * L + i) * S + j];
      if (j > i + S - L) assert.is(w, 0, `w[${h}, ${i}, ${j}] future`);
      else assert.ok(w > 0, `w[${h}, ${i}, ${j}] visible`);
    }
  });
  test(`all three: keyPaddingMask + attnMask + causal (both kinds of each), ${mc.name}`, () => {
    const m = masksModel(mc.cross), rand = rng(36);
    expectForward(m, ...inputs(m, rand, MB, L, S, mc.cross),
      { keyPaddingMask: boolMask(rand, [MB, S], 0.25), attnMask: addMask(rand, [MB, 1, L, S]), causal: true, needWeights: true, averageWeights: false }, "bool kpm + additive attnMask + causal");
    expectForward(m, ...inputs(m, rand, MB, L, S, mc.cross),
      { keyPaddingMask: addMask(rand, [MB, S]), attnMask: boolMask(rand, [MB, MH, L, S]), causal: true, needWeights: true }, "additive kpm + bool attnMask + causal");
    expectForward(m, ...inputs(m, rand, MB, L, S, mc.cross),
      { keyPaddingMask: boolMask(rand, [MB, S], 0.25), attnMask: boolMask(rand, [L, S]), causal: true }, "bool kpm + bool attnMask + causal");
  });
}

test("causal with L > S (bottom-right): the first L − S rows see nothing → attention zeros, output = bias", () => {
  const m = model({ E: 12, H: 3, kdim: 5, vdim: 7 }, 23), rand = rng(37);
  const r = expectForward(m, ...inputs(m, rand, 2, 9, 4, true), { causal: true, needWeights: true }, "L=9 S=4");
  for (let b = 0; b < 2; b++) for (let i = 0; i < 5; i++) {
    for (let e = 0; e < 12; e++) assert.is(r.output.data[(b * 9 + i) * 12 + e], m.ref.bo![e], `row ${b},${i}`);
    for (let j = 0; j < 4; j++) assert.is(r.weights!.data[(b * 9 + i) * 4 + j], 0, `weights ${b},${i},${j}`);
  }
  m.mha.dispose();
});

test("a fully masked row gives zeros (never NaN): padding, bool attnMask, additive −Infinity", () => {
  const m = model({ E: 12, H: 3, bias: false }, 24), rand = rng(38);
  const L = 5, S = 5;
  const kpm = boolMask(rand, [2, S], 0.2); kpm.data.fill(1, S, 2 * S);                     // batch 1: every key is padding
  const am = boolMask(rand, [L, S], 0.8); am.data.fill(0, 2 * S, 3 * S);                   // row 2: may attend to nothing
  const add = addMask(rand, [2, MH, L, S]); add.data.fill(-Infinity, 3 * S, 4 * S);        // batch 0 head 0 row 3: all −Infinity
  for (const [name, o] of [
    ["key padding", { keyPaddingMask: kpm }], ["attnMask bool", { attnMask: am }], ["attnMask additive", { attnMask: add }],
    ["all three", { keyPaddingMask: kpm, attnMask: am, causal: true }],
  ] as [string, MultiHeadAttentionOptions][]) {
    const r = expectForward(m, ...inputs(m, rand, 2, L, S, false), { ...o, needWeights: true, averageWeights: false }, name);
    for (const x of [...r.output.data, ...r.weights!.data]) assert.ok(!Number.isNaN(x), `${name}: no NaN`);
  }
  // with bias: false, a fully masked row's output is exactly zero
  const r = m.mha.forward(...inputs(m, rand, 2, L, S, false), { keyPaddingMask: kpm, needWeights: true });
  for (let i = L * 12; i < 2 * L * 12; i++) assert.is(r.output.data[i], 0, `batch 1 output [${i}]`);
  for (let i = L * S; i < 2 * L * S; i++) assert.is(r.weights!.data[i], 0, `batch 1 weights [${i}]`);
  const r2 = m.mha.forward(...inputs(m, rand, 2, L, S, false), { attnMask: am });
  for (const b of [0, 1]) for (let e = 0; e < 12; e++) assert.is(r2.output.data[(b * L + 2) * 12 + e], 0, `row 2 of batch ${b}`);
  m.mha.dispose();
});

test("masks on the decode path (L = 1, 2) and over long rows (S = 260): every kind, with causal", () => {
  const m = model({ E: 12, H: 3, kdim: 5, vdim: 7 }, 28), rand = rng(49);
  for (const [L, S] of [[1, 1], [1, 9], [2, 2], [2, 9], [3, 260], [41, 260]]) {
    for (const causal of [false, true]) {
      expectForward(m, ...inputs(m, rand, 2, L, S, true),
        { keyPaddingMask: boolMask(rand, [2, S], 0.2), attnMask: addMask(rand, [2, 1, L, S]), causal, needWeights: true, averageWeights: false }, `L=${L} S=${S} causal=${causal} bool kpm + additive attnMask`);
      expectForward(m, ...inputs(m, rand, 2, L, S, true),
        { keyPaddingMask: addMask(rand, [2, S]), attnMask: boolMask(rand, [L, 1]), causal, needWeights: true }, `L=${L} S=${S} causal=${causal} additive kpm + bool attnMask [L, 1]`);
    }
  }
  m.mha.dispose();
});

test("unbatched masks: keyPaddingMask [S], attnMask [L, S] and [H, L, S], causal", () => {
  const m = model({ E: 12, H: 3, kdim: 5, vdim: 7 }, 25), rand = rng(39);
  const L = 4, S = 9;
  expectForward(m, ...inputs(m, rand, 1, L, S, true, true),
    { keyPaddingMask: boolMask(rand, [S], 0.3), attnMask: boolMask(rand, [MH, L, S]), causal: true, needWeights: true, averageWeights: false }, "bool");
  expectForward(m, ...inputs(m, rand, 1, L, S, true, true),
    { keyPaddingMask: addMask(rand, [S]), attnMask: addMask(rand, [L, S]), needWeights: true }, "additive");
  m.mha.dispose();
});

// ---- attention weights ----------------------------------------------------------------------------------------

test("needWeights: averaged [B, L, S] = mean over heads; per head [B, H, L, S]; none by default", () => {
  const m = model({ E: 24, H: 4, Hkv: 2, kdim: 6, vdim: 5 }, 26), rand = rng(40);
  const [q, k, v] = inputs(m, rand, 3, 7, 11, true);
  const avg = expectForward(m, q, k, v, { needWeights: true }, "averaged");
  const per = expectForward(m, q, k, v, { needWeights: true, averageWeights: false }, "per head");
  // the average is the mean of the per-head weights, and each row sums to 1
  assertRowsClose(avg.weights!.data, averageOverHeads(per.weights!.data, 3, 4, 7 * 11), 11, 1e-6, "average of per-head");
  for (let r = 0; r < 3 * 7; r++) {
    let s = 0;
    for (let j = 0; j < 11; j++) s += avg.weights!.data[r * 11 + j];
    assert.ok(Math.abs(s - 1) < 1e-5, `row ${r} sums to ${s}`);
  }
  // the output does not depend on needWeights
  bitsEqual(avg.output.data, m.mha.forward(q, k, v).output.data, "output with = without needWeights");
  expectForward(m, q, k, v, { averageWeights: false }, "averageWeights alone returns no weights");
  m.mha.dispose();
});

test(`needWeights with causal, L = S = 65 (${BM}-row blocks skip keys), after the heap held other data: future weights are 0`, () => {
  const m = model({ E: 16, H: 2 }, 27), rand = rng(41);
  // fill the scratch the next call will reuse with non-zero numbers
  m.mha.forward(...inputs(m, rand, 3, 65, 65, false), { needWeights: true, averageWeights: false });
  expectForward(m, ...inputs(m, rand, 3, 65, 65, false), { causal: true, needWeights: true, averageWeights: false }, "per head");
  m.mha.forward(...inputs(m, rand, 3, 65, 65, false), { needWeights: true, averageWeights: false });
  expectForward(m, ...inputs(m, rand, 3, 65, 65, false), { causal: true, needWeights: true }, "averaged");
  m.mha.dispose();
});

// ---- weights in and out ---------------------------------------------------------------------------------------

test("loadWeights: inProjWeight [3E, E] and separate q/k/v weights give the same output (bitwise)", () => {
  const rand = rng(42);
  const cfg = fullCfg({ E: 12, H: 3 });
  const { weights: packed, ref } = randomWeights(rng(5), cfg, true);
  const { weights: separate } = randomWeights(rng(5), cfg, false);
  const a = new MultiHeadAttention({ embedDim: 12, numHeads: 3, seed: 1 });
  const b = new MultiHeadAttention({ embedDim: 12, numHeads: 3, seed: 2 });
  a.loadWeights(packed);
  b.loadWeights(separate);
  const [q, k, v] = inputs({ mha: a, cfg, ref }, rand, 2, 5, 6, true);
  const ya = expectForward({ mha: a, cfg, ref }, q, k, v, { needWeights: true }, "inProjWeight");
  const yb = expectForward({ mha: b, cfg, ref }, q, k, v, { needWeights: true }, "q/k/v weights");
  bitsEqual(ya.output.data, yb.output.data, "outputs");
  bitsEqual(ya.weights!.data, yb.weights!.data, "weights");
  a.dispose(); b.dispose();
});

test("loadWeights copies: changing the arrays afterwards changes nothing; a second load replaces everything", () => {
  const cfg = fullCfg({ E: 8, H: 2 });
  const rand = rng(43);
  const { weights, ref } = randomWeights(rng(6), cfg, true);
  const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 3 });
  mha.loadWeights(weights);
  for (const a of Object.values(weights)) (a as Float32Array).fill(7);
  const [q] = inputs({ mha, cfg, ref }, rand, 2, 3, 3, false);
  expectForward({ mha, cfg, ref }, q, undefined, undefined, {}, "after changing the loaded arrays");
  const second = randomWeights(rng(7), cfg, false);
  mha.loadWeights(second.weights);
  expectForward({ mha, cfg, ref: second.ref }, q, undefined, undefined, {}, "after a second load");
  mha.dispose();
});

test("stateDict() returns exactly what was loaded (bitwise), under PyTorch's names, as new arrays", () => {
  for (const [c, packedLoad] of [
    [{ E: 12, H: 3 }, true], [{ E: 12, H: 3 }, false], [{ E: 12, H: 6, Hkv: 2, kdim: 5, vdim: 7 }, false],
    [{ E: 8, H: 2, bias: false }, true], [{ E: KC + 8, H: 2 }, true],   // E > KC: more than one k-block
  ] as [Cfg, boolean][]) {
    const what = `${JSON.stringify(c)} ${packedLoad ? "inProjWeight" : "q/k/v"}`;
    const f = fullCfg(c);
    const { weights } = randomWeights(rng(8), f, packedLoad);
    const mha = new MultiHeadAttention(config(c, 4));
    mha.loadWeights(weights);
    const sd = mha.stateDict("layers.0.self_attn.");
    const Ekv = f.Hkv * (f.E / f.H);
    const inProj = weights.inProjWeight ?? concat(weights.qProjWeight!, weights.kProjWeight!, weights.vProjWeight!);
    const want: Record<string, [Float32Array, number[]]> = {};
    if (isPacked(f)) want["in_proj_weight"] = [inProj, [3 * f.E, f.E]];
    else {
      want["q_proj_weight"] = [weights.qProjWeight!, [f.E, f.E]];
      want["k_proj_weight"] = [weights.kProjWeight!, [Ekv, f.kdim]];
      want["v_proj_weight"] = [weights.vProjWeight!, [Ekv, f.vdim]];
    }
    if (f.bias) want["in_proj_bias"] = [weights.inProjBias!, [f.E + 2 * Ekv]];
    want["out_proj.weight"] = [weights.outProjWeight, [f.E, f.E]];
    if (f.bias) want["out_proj.bias"] = [weights.outProjBias!, [f.E]];
    assert.equal(Object.keys(sd).sort(), Object.keys(want).map((k) => "layers.0.self_attn." + k).sort(), `${what}: keys`);
    for (const [k, [data, shape]] of Object.entries(want)) {
      const t = sd["layers.0.self_attn." + k];
      assert.equal(t.shape, shape, `${what}: ${k} shape`);
      bitsEqual(t.data, data, `${what}: ${k}`);
      t.data.fill(0);   // the arrays are new: changing them changes nothing
    }
    const again = mha.stateDict();
    for (const [k, [data]] of Object.entries(want)) bitsEqual(again[k].data, data, `${what}: ${k} after changing the returned arrays`);
    mha.dispose();
  }
});

test("default init: same seed → identical stateDict, different seed → different; no seed → random", () => {
  const sd = (seed?: number, c: Cfg = { E: 16, H: 4 }) => {
    const mha = new MultiHeadAttention(config(c, seed));
    const d = mha.stateDict();
    mha.dispose();
    return d;
  };
  for (const c of [{ E: 16, H: 4 }, { E: 12, H: 6, Hkv: 2, kdim: 5, vdim: 7 }] as Cfg[]) {
    const a = sd(7, c), b = sd(7, c), d = sd(8, c), r1 = sd(undefined, c), r2 = sd(undefined, c);
    assert.equal(Object.keys(a), Object.keys(b));
    for (const k of Object.keys(a)) bitsEqual(b[k].data, a[k].data, `${JSON.stringify(c)} seed 7 twice: ${k}`);
    for (const k of Object.keys(a).filter((k) => k.includes("weight"))) {
      assert.ok(a[k].data.some((x, i) => x !== d[k].data[i]), `${JSON.stringify(c)} seeds 7 and 8 differ in ${k}`);
      assert.ok(r1[k].data.some((x, i) => x !== r2[k].data[i]), `${JSON.stringify(c)} two unseeded instances differ in ${k}`);
    }
  }
});

test("default init: Xavier-uniform in_proj (packed: ±√(6/(E+3E)); separate: each its own), out_proj ±1/√E, zero biases", () => {
  const maxAbs = (x: Float32Array) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const within = (x: Float32Array, bound: number, what: string) => {
    const m = maxAbs(x);
    assert.ok(m <= bound, `${what}: max |w| = ${m} ≤ ${bound}`);
    assert.ok(m >= 0.9 * bound, `${what}: max |w| = ${m} reaches near ${bound} (uniform over the whole range)`);
    let mean = 0;
    for (const v of x) mean += v / x.length;
    assert.ok(Math.abs(mean) < 0.3 * bound, `${what}: mean ${mean} ≈ 0`);
  };
  for (const seed of [1, 2]) {
    const E = 32;
    const a = new MultiHeadAttention({ embedDim: E, numHeads: 4, seed });
    const d = a.stateDict();
    within(d.in_proj_weight.data, Math.sqrt(6 / (E + 3 * E)), "in_proj_weight");
    within(d["out_proj.weight"].data, 1 / Math.sqrt(E), "out_proj.weight");
    assert.ok(d.in_proj_bias.data.every((x) => x === 0), "in_proj_bias zero");
    assert.ok(d["out_proj.bias"].data.every((x) => x === 0), "out_proj.bias zero");
    a.dispose();
    const b = new MultiHeadAttention({ embedDim: E, numHeads: 8, numKVHeads: 2, kdim: 10, vdim: 20, seed });
    const e = b.stateDict(), Ekv = 8;
    within(e.q_proj_weight.data, Math.sqrt(6 / (E + E)), "q_proj_weight");
    within(e.k_proj_weight.data, Math.sqrt(6 / (Ekv + 10)), "k_proj_weight");
    within(e.v_proj_weight.data, Math.sqrt(6 / (Ekv + 20)), "v_proj_weight");
    within(e["out_proj.weight"].data, 1 / Math.sqrt(E), "out_proj.weight (separate)");
    assert.ok(e.in_proj_bias.data.every((x) => x === 0) && e.in_proj_bias.data.length === E + 2 * Ekv, "in_proj_bias zero");
    b.dispose();
  }
});

test("default init is usable at once: forward matches refMha over its stateDict", () => {
  const mha = new MultiHeadAttention({ embedDim: 16, numHeads: 4, seed: 5 });
  const d = mha.stateDict();
  const W = d.in_proj_weight.data;
  const ref: RefMhaWeights = {
    Wq: W.subarray(0, 256), Wk: W.subarray(256, 512), Wv: W.subarray(512), Wo: d["out_proj.weight"].data,
    bq: new Float32Array(16), bk: new Float32Array(16), bv: new Float32Array(16), bo: d["out_proj.bias"].data,
  };
  const m: Model = { mha, cfg: fullCfg({ E: 16, H: 4 }), ref };
  expectForward(m, ...inputs(m, rng(44), 2, 9, 9, false), { causal: true, needWeights: true }, "default weights");
  mha.dispose();
});

test("default init: the weights are mulberry32(seed)'s draws, Xavier/Linear-scaled, in PyTorch's order — whether a forward, stateDict() or a failed loadWeights comes first", () => {
  // The initial weights are drawn when first needed (construction draws nothing): every order of use
  // must give the bits of one draw: in_proj (packed [3E, E], or q, k, v), then out_proj.
  const draw = (rand: () => number, n: number, bound: number) => Float32Array.from({ length: n }, () => (2 * rand() - 1) * bound);
  for (const c of [{ E: 16, H: 4 }, { E: 12, H: 6, Hkv: 2, kdim: 5, vdim: 7 }] as Cfg[]) {
    const f = fullCfg(c), Ekv = f.Hkv * (f.E / f.H), seed = 99;
    const rand = rng(seed);
    const want: Record<string, Float32Array> = {};
    if (isPacked(f)) want.in_proj_weight = draw(rand, 3 * f.E * f.E, Math.sqrt(6 / (4 * f.E)));
    else {
      want.q_proj_weight = draw(rand, f.E * f.E, Math.sqrt(6 / (2 * f.E)));
      want.k_proj_weight = draw(rand, Ekv * f.kdim, Math.sqrt(6 / (Ekv + f.kdim)));
      want.v_proj_weight = draw(rand, Ekv * f.vdim, Math.sqrt(6 / (Ekv + f.vdim)));
    }
    want["out_proj.weight"] = draw(rand, f.E * f.E, 1 / Math.sqrt(f.E));
    const check = (mha: MultiHeadAttention, what: string) => {
      const d = mha.stateDict();
      for (const k of Object.keys(want)) bitsEqual(d[k].data, want[k], `${JSON.stringify(c)} ${what}: ${k}`);
      assert.ok(d.in_proj_bias.data.every((x) => x === 0) && d["out_proj.bias"].data.every((x) => x === 0), `${what}: zero biases`);
    };
    const x = { data: randn(rng(3), 2 * 5 * f.E), shape: [2, 5, f.E] };
    const kv = (w: number) => ({ data: randn(rng(w), 2 * 4 * w), shape: [2, 4, w] });
    const run = (mha: MultiHeadAttention) => isPacked(f) ? mha.forward(x) : mha.forward(x, kv(f.kdim), kv(f.vdim));
    // stateDict first
    const a = new MultiHeadAttention(config(c, seed));
    check(a, "stateDict first");
    const ya = run(a).output.data;
    // forward first: the same output bits, then the same weights
    const b = new MultiHeadAttention(config(c, seed));
    bitsEqual(run(b).output.data, ya, `${JSON.stringify(c)} forward first: output`);
    check(b, "forward first");
    // a loadWeights that fails leaves the instance with its initial weights
    const e = new MultiHeadAttention(config(c, seed));
    throwsWith(() => e.loadWeights({ outProjWeight: new Float32Array(f.E * f.E) }), TypeError, /weights\.\w+ \(.*\) is missing/, "no input projections");
    check(e, "after a failed loadWeights");
    // loadWeights first: the loaded weights, never replaced by a late draw
    const g = new MultiHeadAttention(config(c, seed));
    const mine = Object.fromEntries(Object.entries(a.stateDict()).map(([k, t]) => [k, { data: t.data.map((v) => v / 2), shape: t.shape }]));
    g.loadStateDict(mine);
    run(g);
    const dg = g.stateDict();
    for (const k of Object.keys(mine)) bitsEqual(dg[k].data, mine[k].data, `${JSON.stringify(c)} loaded first: ${k}`);
    for (const m of [a, b, e, g]) m.dispose();
  }
});

// ---- state dicts and safetensors ------------------------------------------------------------------------------

/** A safetensors file built by hand: u64 header length, header JSON, data. */
function safetensorsFile(entries: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[]): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) { header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] }; off += e.bytes.length; }
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + off);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  let p = 8 + h.length;
  for (const e of entries) { out.set(e.bytes, p); p += e.bytes.length; }
  return out;
}

/** Random F16 numbers (normal, subnormal, ±0) as LE bytes and their exact values. */
function randomF16(rand: () => number, n: number): { bytes: Uint8Array; values: Float32Array } {
  const bytes = new Uint8Array(2 * n), values = new Float32Array(n), dv = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    const s = rand() < 0.5 ? 1 : 0, m = Math.floor(rand() * 1024);
    const e = i % 13 === 0 ? 0 : 9 + Math.floor(rand() * 7);   // some subnormals (and zeros when m = 0)
    dv.setUint16(2 * i, (s << 15) | (e << 10) | m, true);
    values[i] = (s ? -1 : 1) * (e === 0 ? 2 ** -14 * (m / 1024) : 2 ** (e - 15) * (1 + m / 1024));
  }
  return { bytes, values };
}

test("loadStateDict: safetensors bytes (writeSafetensors, prefix, other layers and keys) → identical forward outputs", () => {
  const rand = rng(45);
  for (const c of [{ E: 12, H: 3 }, { E: 12, H: 6, Hkv: 2, kdim: 5, vdim: 7 }, { E: 8, H: 2, bias: false }] as Cfg[]) {
    const what = JSON.stringify(c);
    const src = model(c, 30), other = model(c, 31);
    const sd = { ...other.mha.stateDict("layers.1.self_attn."), ...src.mha.stateDict("layers.0.self_attn."),
      "layers.0.norm.weight": { data: randn(rand, 12), shape: [12] }, "lm_head.weight": { data: randn(rand, 6), shape: [2, 3] } };
    const bytes = writeSafetensors(sd, { format: "pt" });
    const dst = new MultiHeadAttention(config(c, 99));
    const mark = heapInUse();
    dst.loadStateDict(bytes, { prefix: "layers.0.self_attn." });
    assert.is(heapInUse(), mark, `${what}: heap back at its mark`);
    const x = inputs(src, rand, 2, 5, 7, src.cfg.kdim !== src.cfg.E);
    bitsEqual(dst.forward(...x, { needWeights: true }).output.data, src.mha.forward(...x, { needWeights: true }).output.data, `${what}: outputs`);
    expectForward({ ...src, mha: dst }, ...x, {}, `${what}: against refMha`);
    const a = dst.stateDict(), b = src.mha.stateDict();
    for (const k of Object.keys(b)) bitsEqual(a[k].data, b[k].data, `${what}: ${k}`);
    // from an ArrayBuffer too, and the other layer
    dst.loadStateDict(bytes.slice().buffer, { prefix: "layers.1.self_attn." });
    bitsEqual(dst.forward(...x).output.data, other.mha.forward(...x).output.data, `${what}: layer 1 from an ArrayBuffer`);
    src.mha.dispose(); other.mha.dispose(); dst.dispose();
  }
});

test("loadStateDict: a record of tensors (with and without prefix; a packed instance takes q/k/v keys too)", () => {
  const rand = rng(46);
  const src = model({ E: 12, H: 3 }, 32);
  const dst = new MultiHeadAttention({ embedDim: 12, numHeads: 3, seed: 98 });
  const x = inputs(src, rand, 2, 4, 4, false);
  dst.loadStateDict(src.mha.stateDict());
  bitsEqual(dst.forward(...x).output.data, src.mha.forward(...x).output.data, "no prefix");
  const sd = src.mha.stateDict("enc.");
  const W = sd["enc.in_proj_weight"].data;
  const split: Record<string, Tensor> = {
    "enc.q_proj_weight": { data: W.slice(0, 144), shape: [12, 12] }, "enc.k_proj_weight": { data: W.slice(144, 288), shape: [12, 12] },
    "enc.v_proj_weight": { data: W.slice(288), shape: [12, 12] }, "enc.in_proj_bias": sd["enc.in_proj_bias"],
    "enc.out_proj.weight": sd["enc.out_proj.weight"], "enc.out_proj.bias": sd["enc.out_proj.bias"], "dec.x": { data: new Float32Array(1), shape: [1] },
  };
  const dst2 = new MultiHeadAttention({ embedDim: 12, numHeads: 3, seed: 97 });
  dst2.loadStateDict(split, { prefix: "enc." });
  bitsEqual(dst2.forward(...x).output.data, src.mha.forward(...x).output.data, "q/k/v keys into a packed instance");
  expectForward({ ...src, mha: dst2 }, ...x, {}, "against refMha");
  src.mha.dispose(); dst.dispose(); dst2.dispose();
});

test("loadStateDict: F16 safetensors (normals, subnormals, ±0) load with their exact values", () => {
  const rand = rng(47);
  const c: Cfg = { E: 12, H: 3, kdim: 5, vdim: 7 };
  const f = fullCfg(c), E = 12, Ekv = 12;
  const shapes: [string, number[]][] = [
    ["q_proj_weight", [E, E]], ["k_proj_weight", [Ekv, 5]], ["v_proj_weight", [Ekv, 7]],
    ["in_proj_bias", [E + 2 * Ekv]], ["out_proj.weight", [E, E]], ["out_proj.bias", [E]],
  ];
  const vals: Record<string, Float32Array> = {};
  const entries = shapes.map(([name, shape]) => {
    const { bytes, values } = randomF16(rand, shape.reduce((a, b) => a * b, 1));
    vals[name] = values;
    return { name: "model.attn." + name, dtype: "F16", shape, bytes };
  });
  entries.push({ name: "model.step", dtype: "I64", shape: [1], bytes: new Uint8Array(8) });   // outside the prefix: ignored
  const mha = new MultiHeadAttention(config(c, 5));
  mha.loadStateDict(safetensorsFile(entries), { prefix: "model.attn." });
  const sd = mha.stateDict();
  for (const [name] of shapes) bitsEqual(sd[name].data, vals[name], `${name} from F16`);
  const b = vals.in_proj_bias;
  const ref: RefMhaWeights = { Wq: vals.q_proj_weight, Wk: vals.k_proj_weight, Wv: vals.v_proj_weight, Wo: vals["out_proj.weight"],
    bq: b.subarray(0, E), bk: b.subarray(E, E + Ekv), bv: b.subarray(E + Ekv), bo: vals["out_proj.bias"] };
  expectForward({ mha, cfg: f, ref }, ...inputs({ mha, cfg: f, ref }, rand, 2, 3, 6, true), {}, "forward with F16 weights");
  mha.dispose();
});

test("loadStateDict: BF16 and F64 tensors convert (BF16 exact, F64 rounded to f32)", () => {
  const rand = rng(48);
  const E = 8;
  const x = randn(rand, 3 * E * E), y = randn(rand, E * E);
  const bf = new Uint8Array(2 * x.length), xv = new Float32Array(x.length);
  const u32 = new Uint32Array(x.buffer), dv = new DataView(bf.buffer);
  for (let i = 0; i < x.length; i++) { dv.setUint16(2 * i, u32[i] >>> 16, true); xv[i] = new Float32Array(new Uint32Array([(u32[i] >>> 16) << 16]).buffer)[0]; }
  const y64 = Float64Array.from(y, (v) => v + 1e-9 * Math.sign(v)), yb = new Uint8Array(y64.buffer.slice(0));
  const bias = new Float32Array(3 * E).map(() => rand() - 0.5), ob = new Float32Array(E).map(() => rand() - 0.5);
  const file = safetensorsFile([
    { name: "in_proj_weight", dtype: "BF16", shape: [3 * E, E], bytes: bf },
    { name: "out_proj.weight", dtype: "F64", shape: [E, E], bytes: yb },
    { name: "in_proj_bias", dtype: "F32", shape: [3 * E], bytes: new Uint8Array(bias.buffer) },
    { name: "out_proj.bias", dtype: "F32", shape: [E], bytes: new Uint8Array(ob.buffer) },
  ]);
  const mha = new MultiHeadAttention({ embedDim: E, numHeads: 2, seed: 1 });
  mha.loadStateDict(file);
  const sd = mha.stateDict();
  bitsEqual(sd.in_proj_weight.data, xv, "BF16");
  bitsEqual(sd["out_proj.weight"].data, Float32Array.from(y64), "F64");
  bitsEqual(sd.in_proj_bias.data, bias, "F32 bias");
  mha.dispose();
});

test("loadStateDict: other keys are ignored whatever their dtype, with prefix \"\" too (e.g. a BatchNorm's I64 num_batches_tracked)", () => {
  const src = model({ E: 8, H: 2 }, 33);
  const sd = src.mha.stateDict();
  const entries = Object.entries(sd).map(([name, t]) => ({ name, dtype: "F32", shape: [...t.shape], bytes: new Uint8Array(t.data.buffer.slice(0)) }));
  entries.push({ name: "norm.num_batches_tracked", dtype: "I64", shape: [], bytes: new Uint8Array(8) });
  const dst = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 3 });
  try {
    dst.loadStateDict(safetensorsFile(entries));
  } catch (e) {
    assert.unreachable(`loadStateDict threw on an unrelated I64 key: ${(e as Error).constructor.name}: ${(e as Error).message}`);
  }
  for (const k of Object.keys(sd)) bitsEqual(dst.stateDict()[k].data, sd[k].data, k);
  src.mha.dispose(); dst.dispose();
});

// ---- KV cache -------------------------------------------------------------------------------------------------

const CACHE_CFGS: Cfg[] = [{ E: 16, H: 4, Hkv: 2 }, { E: 12, H: 3 }, { E: 12, H: 6, Hkv: 1 }];

/** Runs rows [a, b) of x [B, T, E] through the cache; checks cache.length and the heap; returns the output data. */
function step(m: Model, cache: KVCache, x: Float32Array, B: number, T: number, a: number, b: number, o: MultiHeadAttentionOptions = {}): MultiHeadAttentionResult {
  const E = m.cfg.E;
  const mark = heapInUse();
  const r = m.mha.forward({ data: rowsOf(x, B, T, E, a, b), shape: [B, b - a, E] }, undefined, undefined, { ...o, cache });
  assert.is(heapInUse(), mark, `cache step [${a}, ${b}): heap back at its mark`);
  assert.is(cache.length, b, `cache.length after [${a}, ${b})`);
  assert.equal(r.output.shape, [B, b - a, E]);
  return r;
}

/** The whole sequence at once (causal), by the library and by refMha. */
function wholeSequence(m: Model, x: Float32Array, B: number, T: number, masks: RefMask[] = [], o: MultiHeadAttentionOptions = {}) {
  const { E, H, Hkv } = m.cfg;
  const lib = m.mha.forward({ data: x, shape: [B, T, E] }, undefined, undefined, { causal: true, ...o }).output.data;
  const ref = refMha(x, x, x, B, T, T, E, H, Hkv, E, E, m.ref, { causal: true, masks });
  assertRowsClose(lib, ref.out, E, RTOL, "whole sequence against refMha", ref.mag);
  return { lib, ref };
}

function expectRows(got: Float32Array, whole: { lib: Float32Array; ref: { out: Float64Array; mag: Float64Array } }, B: number, T: number, E: number, a: number, b: number, what: string): void {
  const mag = rowsOf(whole.ref.mag, B, T, E, a, b);
  assertRowsClose(got, rowsOf(whole.lib, B, T, E, a, b), E, RTOL, `${what}: against the whole-sequence forward`, mag);
  assertRowsClose(got, rowsOf(whole.ref.out, B, T, E, a, b), E, RTOL, `${what}: against refMha`, mag);
}

test("forward options.out: the output is written into it (same bits as a new array): self, cross with weights, unbatched, a cache step", () => {
  const rand = rng(81);
  const m = model({ E: 12, H: 3 }, 82), x = model({ E: 12, H: 3, kdim: 5, vdim: 7 }, 83);
  const same = (mm: Model, q: Tensor, k: Tensor | undefined, v: Tensor | undefined, o: MultiHeadAttentionOptions, what: string) => {
    const want = mm.mha.forward(q, k, v, o);
    const out = new Float32Array(want.output.data.length).fill(NaN);
    const r = mm.mha.forward(q, k, v, { ...o, out });
    assert.ok(r.output.data === out, `${what}: data is out`);
    assert.equal(r.output.shape, want.output.shape, `${what}: shape`);
    bitsEqual(out, want.output.data, `${what}: output`);
    if (o.needWeights) bitsEqual(r.weights!.data, want.weights!.data, `${what}: weights`);
  };
  same(m, ...inputs(m, rand, 2, 17, 17, false), { causal: true }, "self B=2 L=17");
  same(x, ...inputs(x, rand, 3, 5, 65, true), { needWeights: true }, "cross B=3 L=5 S=65");
  same(m, ...inputs(m, rand, 1, 3, 3, false, true), {}, "unbatched L=3");
  const c1 = m.mha.createCache({ batch: 2, maxLength: 8 }), c2 = m.mha.createCache({ batch: 2, maxLength: 8 });
  const prefix = inputs(m, rand, 2, 5, 5, false)[0], step = inputs(m, rand, 2, 1, 1, false)[0];
  m.mha.forward(prefix, undefined, undefined, { cache: c1 });
  m.mha.forward(prefix, undefined, undefined, { cache: c2 });
  const want = m.mha.forward(step, undefined, undefined, { cache: c1 }).output.data;
  const out = new Float32Array(2 * 12);
  m.mha.forward(step, undefined, undefined, { cache: c2, out });
  bitsEqual(out, want, "cache step");
  // in place: out = query.data
  const q = inputs(m, rand, 2, 3, 3, false)[0];
  const fresh = m.mha.forward(q).output.data;
  assert.ok(m.mha.forward(q, undefined, undefined, { out: q.data }).output.data === q.data);
  bitsEqual(q.data, fresh, "in place");
  m.mha.dispose(); x.mha.dispose();
});

test("KV cache: a prefix then single-token steps (B = 2) = one causal forward over the whole sequence, row by row", () => {
  for (const c of CACHE_CFGS) {
    const m = model(c, 40), E = m.cfg.E, B = 2, T = 9, p = 4;
    const x = randn(rng(50), B * T * E);
    const whole = wholeSequence(m, x, B, T);
    const cache = m.mha.createCache({ batch: B, maxLength: T });
    assert.instance(cache, KVCache);
    assert.equal([cache.batch, cache.maxLength, cache.length], [B, T, 0]);
    expectRows(step(m, cache, x, B, T, 0, p).output.data, whole, B, T, E, 0, p, `${JSON.stringify(c)} prefix`);
    for (let t = p; t < T; t++) expectRows(step(m, cache, x, B, T, t, t + 1).output.data, whole, B, T, E, t, t + 1, `${JSON.stringify(c)} step ${t}`);
    m.mha.dispose();
  }
});

test("KV cache: a prefix in two chunks (the second causal against the first), then steps", () => {
  for (const c of CACHE_CFGS) {
    const m = model(c, 41), E = m.cfg.E, B = 2, T = 8;
    const x = randn(rng(51), B * T * E);
    const whole = wholeSequence(m, x, B, T);
    const cache = m.mha.createCache({ batch: B, maxLength: 10 });
    expectRows(step(m, cache, x, B, T, 0, 2).output.data, whole, B, T, E, 0, 2, "chunk [0, 2)");
    expectRows(step(m, cache, x, B, T, 2, 5).output.data, whole, B, T, E, 2, 5, "chunk [2, 5)");
    for (let t = 5; t < T; t++) expectRows(step(m, cache, x, B, T, t, t + 1).output.data, whole, B, T, E, t, t + 1, `step ${t}`);
    m.mha.dispose();
  }
});

test("KV cache: reset() then reuse gives the same results; a new sequence after reset sees none of the old one", () => {
  const m = model({ E: 16, H: 4, Hkv: 2 }, 42), E = 16, B = 2, T = 7, p = 3;
  const x1 = randn(rng(52), B * T * E), x2 = randn(rng(53), B * T * E);
  const cache = m.mha.createCache({ batch: B, maxLength: T });
  const run = (x: Float32Array) => {
    const outs = [step(m, cache, x, B, T, 0, p).output.data];
    for (let t = p; t < T; t++) outs.push(step(m, cache, x, B, T, t, t + 1).output.data);
    return outs;
  };
  const first = run(x1);
  cache.reset();
  assert.is(cache.length, 0, "length after reset");
  const whole2 = wholeSequence(m, x2, B, T);
  const second = run(x2);
  expectRows(second[0], whole2, B, T, E, 0, p, "new sequence prefix");
  for (let t = p; t < T; t++) expectRows(second[t - p + 1], whole2, B, T, E, t, t + 1, `new sequence step ${t}`);
  cache.reset();
  const third = run(x1);
  first.forEach((y, i) => bitsEqual(third[i], y, `rerun ${i}`));
  m.mha.dispose();
});

test("KV cache: overflowing maxLength is a RangeError; length and contents unchanged, the next valid step matches", () => {
  const m = model({ E: 12, H: 3 }, 43), E = 12, B = 2, T = 7;
  const x = randn(rng(54), B * T * E);
  const whole = wholeSequence(m, x, B, T);
  const cache = m.mha.createCache({ batch: B, maxLength: T });
  step(m, cache, x, B, T, 0, 5);
  const mark = heapInUse();
  throwsWith(() => m.mha.forward({ data: randn(rng(1), B * 3 * E, 5, 9), shape: [B, 3, E] }, undefined, undefined, { cache }), RangeError,
    /MultiHeadAttention\.forward: query length must fit in the cache: 5 cached \+ 3 new ≤ maxLength = 7; got 8 positions/, "overflow by 1");
  assert.is(cache.length, 5, "length unchanged");
  assert.is(heapInUse(), mark, "heap unchanged");
  expectRows(step(m, cache, x, B, T, 5, 6).output.data, whole, B, T, E, 5, 6, "step 5 after the overflow");
  expectRows(step(m, cache, x, B, T, 6, 7).output.data, whole, B, T, E, 6, 7, "step 6 (fills the cache)");
  throwsWith(() => m.mha.forward({ data: new Float32Array(B * E), shape: [B, 1, E] }, undefined, undefined, { cache }), RangeError,
    /7 cached \+ 1 new ≤ maxLength = 7; got 8 positions/, "full cache");
  assert.is(cache.length, 7);
  m.mha.dispose();
});

test("KV cache: keyPaddingMask [B, cached + new] (both kinds) and needWeights [B, L, cached + new]", () => {
  const m = model({ E: 16, H: 4, Hkv: 2 }, 44), E = 16, B = 2, T = 8, p = 3;
  const x = randn(rng(55), B * T * E);
  for (const kind of ["bool", "additive"]) {
    const rand = rng(56);
    const full: Mask = kind === "bool" ? boolMask(rand, [B, T], 0.3) : addMask(rand, [B, T]);
    full.data[0] = kind === "bool" ? 0 : 0.5;   // batch 0 row 0 attends somewhere
    const masks = refMasks({ keyPaddingMask: full }, B, T);
    const whole = wholeSequence(m, x, B, T, masks, { keyPaddingMask: full });
    const wref = averageOverHeads(refMha(x, x, x, B, T, T, E, 4, 2, E, E, m.ref, { causal: true, masks }).w, B, 4, T * T);
    const cache = m.mha.createCache({ batch: B, maxLength: T });
    const r0 = step(m, cache, x, B, T, 0, p, { keyPaddingMask: { data: colsOf(full.data, B, T, p), shape: [B, p] } });
    expectRows(r0.output.data, whole, B, T, E, 0, p, `${kind} prefix`);
    for (let t = p; t < T; t++) {
      const r = step(m, cache, x, B, T, t, t + 1, { keyPaddingMask: { data: colsOf(full.data, B, T, t + 1), shape: [B, t + 1] }, needWeights: true });
      expectRows(r.output.data, whole, B, T, E, t, t + 1, `${kind} step ${t}`);
      assert.equal(r.weights!.shape, [B, 1, t + 1], "weights shape");
      const want = new Float64Array(B * (t + 1));
      for (let b = 0; b < B; b++) for (let j = 0; j <= t; j++) want[b * (t + 1) + j] = wref[(b * T + t) * T + j];
      assertRowsClose(r.weights!.data, want, t + 1, RTOL, `${kind} step ${t} weights`);
    }
  }
  m.mha.dispose();
});

test("KV cache: attnMask [L, cached + new] with a cache", () => {
  const m = model({ E: 12, H: 3 }, 45), E = 12, B = 2, T = 6, p = 2;
  const x = randn(rng(57), B * T * E);
  const full = addMask(rng(58), [T, T]);
  for (let i = 0; i < T; i++) full.data[i * T] = 0;   // key 0 always visible
  const whole = wholeSequence(m, x, B, T, refMasks({ attnMask: full }, B, T), { attnMask: full });
  const cache = m.mha.createCache({ batch: B, maxLength: T });
  const sub = (a: number, b: number) => ({ data: rowsOf(colsOf(full.data as Float32Array, T, T, b), 1, T, b, a, b), shape: [b - a, b] });
  expectRows(step(m, cache, x, B, T, 0, p, { attnMask: sub(0, p) }).output.data, whole, B, T, E, 0, p, "prefix");
  for (let t = p; t < T; t++) expectRows(step(m, cache, x, B, T, t, t + 1, { attnMask: sub(t, t + 1) }).output.data, whole, B, T, E, t, t + 1, `step ${t}`);
  m.mha.dispose();
});

test("KV cache: unbatched [L, E] queries with a batch-1 cache, per-head weights", () => {
  const m = model({ E: 12, H: 6, Hkv: 2 }, 47), E = 12, T = 5;
  const x = randn(rng(59), T * E);
  const whole = wholeSequence(m, x, 1, T);
  const wref = refMha(x, x, x, 1, T, T, E, 6, 2, E, E, m.ref, { causal: true }).w;
  const cache = m.mha.createCache({ maxLength: T });
  const r0 = m.mha.forward({ data: x.slice(0, 2 * E), shape: [2, E] }, undefined, undefined, { cache });
  assert.equal(r0.output.shape, [2, E]);
  expectRows(r0.output.data, whole, 1, T, E, 0, 2, "prefix");
  for (let t = 2; t < T; t++) {
    const r = m.mha.forward({ data: x.slice(t * E, (t + 1) * E), shape: [1, E] }, undefined, undefined, { cache, needWeights: true, averageWeights: false });
    assert.equal(r.output.shape, [1, E]);
    assert.equal(r.weights!.shape, [6, 1, t + 1]);
    expectRows(r.output.data, whole, 1, T, E, t, t + 1, `step ${t}`);
    const want = new Float64Array(6 * (t + 1));
    for (let h = 0; h < 6; h++) for (let j = 0; j <= t; j++) want[h * (t + 1) + j] = wref[(h * T + t) * T + j];
    assertRowsClose(r.weights!.data, want, t + 1, RTOL, `step ${t} weights`);
  }
  assert.is(cache.length, T);
  m.mha.dispose();
});

test("KV cache: head widths 1, 3, 17, 64 (GQA, MQA, B = 1, 2), cached lengths 1, 63, 65, then steps = the whole causal forward", () => {
  const cfgs: Cfg[] = [{ E: 3, H: 3 }, { E: 6, H: 2, Hkv: 1 }, { E: 51, H: 3, Hkv: 1 }, { E: 34, H: 2 }, { E: 128, H: 2 }];
  let n = 0;
  for (const c of cfgs) {
    const m = model(c, 60), E = m.cfg.E;
    for (const p of [1, 63, 65]) {
      const B = n++ % 2 === 0 ? 1 : 2, T = p + 3;
      const x = randn(rng(61 + p), B * T * E);
      const whole = wholeSequence(m, x, B, T);
      const cache = m.mha.createCache({ batch: B, maxLength: T + 2 });   // spare rows past the sequence
      const what = `${JSON.stringify(c)} Dh=${m.mha.headDim} B=${B}`;
      expectRows(step(m, cache, x, B, T, 0, p).output.data, whole, B, T, E, 0, p, `${what} prefix of ${p}`);
      for (let t = p; t < T; t++) expectRows(step(m, cache, x, B, T, t, t + 1).output.data, whole, B, T, E, t, t + 1, `${what} step ${t}`);
    }
    m.mha.dispose();
  }
});

test("KV cache: truncate then append (redo a step bit for bit; replace the last tokens by others = the whole forward of the new sequence)", () => {
  for (const c of [{ E: 34, H: 2 }, { E: 16, H: 4, Hkv: 2 }, { E: 64, H: 1 }] as Cfg[]) {
    const m = model(c, 62), E = m.cfg.E, B = 2, T = 12, p = 7;
    const x = randn(rng(63), B * T * E), y = randn(rng(64), B * T * E);
    // y2: x's first p − 2 tokens, then y's
    const y2 = new Float32Array(x);
    for (let b = 0; b < B; b++) y2.set(y.subarray((b * T + p - 2) * E, (b + 1) * T * E), (b * T + p - 2) * E);
    const whole = wholeSequence(m, x, B, T), whole2 = wholeSequence(m, y2, B, T);
    const cache = m.mha.createCache({ batch: B, maxLength: T });
    step(m, cache, x, B, T, 0, p);
    const first = step(m, cache, x, B, T, p, p + 1).output.data;
    expectRows(first, whole, B, T, E, p, p + 1, `${JSON.stringify(c)} step ${p}`);
    cache.truncate(p);
    bitsEqual(step(m, cache, x, B, T, p, p + 1).output.data, first, `${JSON.stringify(c)} step ${p} redone`);
    cache.truncate(p - 2);
    assert.is(cache.length, p - 2);
    expectRows(step(m, cache, y2, B, T, p - 2, p).output.data, whole2, B, T, E, p - 2, p, `${JSON.stringify(c)} two new tokens after truncate`);
    for (let t = p; t < T; t++) expectRows(step(m, cache, y2, B, T, t, t + 1).output.data, whole2, B, T, E, t, t + 1, `${JSON.stringify(c)} new step ${t}`);
    m.mha.dispose();
  }
});

test("KV cache: a step's output is the same bits with needWeights (the general attention path) and without (one call for every head)", () => {
  for (const c of [{ E: 16, H: 4, Hkv: 2 }, { E: 51, H: 3 }, { E: 128, H: 2, Hkv: 1 }] as Cfg[]) {
    const m = model(c, 65), E = m.cfg.E, B = 2, T = 70, p = 66;
    const x = randn(rng(66), B * T * E);
    const cache = m.mha.createCache({ batch: B, maxLength: T });
    step(m, cache, x, B, T, 0, p);
    for (let t = p; t < T; t++) {
      const plain = step(m, cache, x, B, T, t, t + 1).output.data;
      cache.truncate(t);
      const withW = step(m, cache, x, B, T, t, t + 1, { needWeights: true, averageWeights: false });
      bitsEqual(withW.output.data, plain, `${JSON.stringify(c)} step ${t}`);
    }
    m.mha.dispose();
  }
});

test("KV cache: memory — createCache allocates, cache.dispose() and mha.dispose() give it back; dispose is idempotent", () => {
  const mark = heapInUse();
  const m = model({ E: 16, H: 4 }, 46);
  const withWeights = heapInUse();
  assert.ok(withWeights > mark, "weights allocated");
  const c1 = m.mha.createCache({ batch: 2, maxLength: 64 });
  const c2 = m.mha.createCache({ maxLength: 16 });
  assert.is(c2.batch, 1, "default batch 1");
  assert.ok(heapInUse() >= withWeights + 2 * 2 * 64 * 16 * 4 + 2 * 16 * 16 * 4, "caches allocated");
  c1.dispose(); c1.dispose();
  throwsWith(() => c1.reset(), TypeError, /KVCache\.reset: this cache was disposed/, "c1 disposed");
  assert.is(heapInUse(), withWeights + 2 * 16 * 16 * 4, "c1 released, c2 kept");
  m.mha.dispose();
  throwsWith(() => c2.truncate(0), TypeError, /KVCache\.truncate: this cache was disposed/, "mha.dispose() disposes its caches");
  assert.is(heapInUse(), mark, "back at the mark");
  m.mha.dispose();
  c2.dispose();
  assert.is(heapInUse(), mark, "second dispose changes nothing");
  throwsWith(() => c2.reset(), TypeError, /KVCache\.reset: this cache was disposed/, "reset after dispose");
});

// ---- errors: one test per throw -------------------------------------------------------------------------------

/** Shared instances for the error tests: P packed E=8 H=2, X cross E=12 H=3 kdim=5 vdim=7, G GQA E=12 H=6 Hkv=2, N bias: false. */
let shared: { P: Model; X: Model; G: Model; N: Model } | null = null;
const SH = () => (shared ??= { P: model({ E: 8, H: 2 }, 61), X: model({ E: 12, H: 3, kdim: 5, vdim: 7 }, 62), G: model({ E: 12, H: 6, Hkv: 2 }, 63), N: model({ E: 8, H: 4, bias: false }, 64) });
const qP = (): Tensor => ({ data: randn(rng(70), 2 * 3 * 8), shape: [2, 3, 8] });
const qX = (): Tensor => ({ data: randn(rng(71), 2 * 3 * 12), shape: [2, 3, 12] });
const kX = (b = 2, s = 4, w = 5): Tensor => ({ data: randn(rng(72), b * s * w), shape: [b, s, w] });
const vX = (b = 2, s = 4, w = 7): Tensor => ({ data: randn(rng(73), b * s * w), shape: [b, s, w] });

/** A RegExp matching the literal parts in order. */
const lit = (...parts: string[]): RegExp => new RegExp(parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[^]*"));

/**
 * Expects f to throw cls with a message matching parts; then: the heap is back at its mark, the shared instances'
 * weights are unchanged (bitwise), and a normal forward still gives correct results.
 */
function throwsClean(f: () => unknown, cls: typeof TypeError | typeof RangeError, parts: string[], what: string): void {
  const sh = SH();
  const before = Object.values(sh).map((m) => m.mha.stateDict());
  const mark = heapInUse();
  throwsWith(f, cls, lit(...parts), what);
  assert.is(heapInUse(), mark, `${what}: heap back at its mark`);
  Object.values(sh).forEach((m, i) => {
    const now = m.mha.stateDict();
    for (const k of Object.keys(before[i])) bitsEqual(now[k].data, before[i][k].data, `${what}: weights unchanged: ${k}`);
  });
  const rand = rng(74);
  expectForward(sh.P, ...inputs(sh.P, rand, 2, 3, 3, false), { causal: true, needWeights: true }, `${what}: the next forward`);
  expectForward(sh.X, ...inputs(sh.X, rand, 2, 3, 4, true), { keyPaddingMask: boolMask(rand, [2, 4], 0.3) }, `${what}: the next cross forward`);
}

type ErrCase = [string, () => unknown, typeof TypeError | typeof RangeError, string[]];
const C = "MultiHeadAttention: ";
const mk = (c: unknown) => () => new MultiHeadAttention(c as MultiHeadAttentionConfig);
const ERRORS: ErrCase[] = [
  // constructor
  ["constructor: config not an object", mk(null), TypeError, [C, "config must be an object { embedDim, numHeads, … }; got null"]],
  ["constructor: unknown config key", mk({ embedDim: 8, numHeads: 2, heads: 2 }), TypeError, [C, 'unknown option "heads"', "embedDim, numHeads"]],
  ["constructor: embedDim missing", mk({ numHeads: 2 }), TypeError, [C, "config.embedDim must be a number; got undefined"]],
  ["constructor: embedDim not a number", mk({ embedDim: "8", numHeads: 2 }), TypeError, [C, 'config.embedDim must be a number; got "8"']],
  ["constructor: embedDim zero", mk({ embedDim: 0, numHeads: 1 }), RangeError, [C, "config.embedDim must be an integer ≥ 1; got 0"]],
  ["constructor: embedDim negative", mk({ embedDim: -8, numHeads: 2 }), RangeError, [C, "config.embedDim must be an integer ≥ 1; got -8"]],
  ["constructor: embedDim fractional", mk({ embedDim: 8.5, numHeads: 2 }), RangeError, [C, "config.embedDim must be an integer ≥ 1; got 8.5"]],
  ["constructor: embedDim NaN", mk({ embedDim: NaN, numHeads: 2 }), RangeError, [C, "config.embedDim must be an integer ≥ 1; got NaN"]],
  ["constructor: numHeads missing", mk({ embedDim: 8 }), TypeError, [C, "config.numHeads must be a number; got undefined"]],
  ["constructor: numHeads zero", mk({ embedDim: 8, numHeads: 0 }), RangeError, [C, "config.numHeads must be an integer ≥ 1; got 0"]],
  ["constructor: numHeads fractional", mk({ embedDim: 8, numHeads: 2.5 }), RangeError, [C, "config.numHeads must be an integer ≥ 1; got 2.5"]],
  ["constructor: numHeads not dividing embedDim", mk({ embedDim: 10, numHeads: 3 }), RangeError, [C, "config.numHeads must divide embedDim = 10; got 3"]],
  ["constructor: numKVHeads not dividing numHeads", mk({ embedDim: 12, numHeads: 6, numKVHeads: 4 }), RangeError, [C, "config.numKVHeads must divide numHeads = 6; got 4"]],
  ["constructor: numKVHeads > numHeads", mk({ embedDim: 12, numHeads: 6, numKVHeads: 12 }), RangeError, [C, "config.numKVHeads must divide numHeads = 6; got 12"]],
  ["constructor: numKVHeads zero", mk({ embedDim: 12, numHeads: 6, numKVHeads: 0 }), RangeError, [C, "config.numKVHeads must be an integer ≥ 1; got 0"]],
  ["constructor: numKVHeads not a number", mk({ embedDim: 12, numHeads: 6, numKVHeads: "2" }), TypeError, [C, 'config.numKVHeads must be a number; got "2"']],
  ["constructor: kdim zero", mk({ embedDim: 8, numHeads: 2, kdim: 0 }), RangeError, [C, "config.kdim must be an integer ≥ 1; got 0"]],
  ["constructor: kdim fractional", mk({ embedDim: 8, numHeads: 2, kdim: 4.5 }), RangeError, [C, "config.kdim must be an integer ≥ 1; got 4.5"]],
  ["constructor: vdim negative", mk({ embedDim: 8, numHeads: 2, vdim: -1 }), RangeError, [C, "config.vdim must be an integer ≥ 1; got -1"]],
  ["constructor: vdim not a number", mk({ embedDim: 8, numHeads: 2, vdim: null }), TypeError, [C, "config.vdim must be a number; got null"]],
  ["constructor: bias not a boolean", mk({ embedDim: 8, numHeads: 2, bias: 1 }), TypeError, [C, "config.bias must be a boolean; got 1"]],
  ["constructor: seed negative", mk({ embedDim: 8, numHeads: 2, seed: -1 }), RangeError, [C, "config.seed must be an integer ≥ 0; got -1"]],
  ["constructor: seed not a number", mk({ embedDim: 8, numHeads: 2, seed: "1" }), TypeError, [C, 'config.seed must be a number; got "1"']],
  ["constructor: weights too large for 4 GiB", mk({ embedDim: 65536, numHeads: 1 }), RangeError, [C, "the weights need", "GiB", "more than the 4 GiB"]],

  // loadWeights
  ...((): ErrCase[] => {
    const F = "MultiHeadAttention.loadWeights: ";
    const P = () => SH().P.mha, X = () => SH().X.mha, G = () => SH().G.mha, N = () => SH().N.mha;
    const z = (n: number) => new Float32Array(n);
    const okP = () => ({ inProjWeight: z(192), inProjBias: z(24), outProjWeight: z(64), outProjBias: z(8) });
    const okX = () => ({ qProjWeight: z(144), kProjWeight: z(60), vProjWeight: z(84), inProjBias: z(36), outProjWeight: z(144), outProjBias: z(12) });
    const lw = (m: () => MultiHeadAttention, w: unknown) => () => m().loadWeights(w as MultiHeadAttentionWeights);
    return [
      ["loadWeights: weights not an object", lw(P, null), TypeError, [F, "weights must be an object of Float32Arrays; got null"]],
      ["loadWeights: unknown weight name", lw(P, { ...okP(), inProjWeights: z(192) }), TypeError, [F, 'unknown option "inProjWeights"']],
      ["loadWeights: inProjWeight when kdim ≠ E", lw(X, { ...okX(), qProjWeight: undefined, kProjWeight: undefined, vProjWeight: undefined, inProjWeight: z(432) }), TypeError,
        [F, "weights.inProjWeight [3E, E] needs kdim = vdim = embedDim", "kdim = 5, vdim = 7"]],
      ["loadWeights: inProjWeight with numKVHeads", lw(G, { inProjWeight: z(432), inProjBias: z(20), outProjWeight: z(144), outProjBias: z(12) }), TypeError,
        [F, "weights.inProjWeight [3E, E] needs", "numKVHeads = 2"]],
      ["loadWeights: inProjWeight and qProjWeight", lw(P, { ...okP(), qProjWeight: z(64) }), TypeError, [F, "give either weights.inProjWeight or weights.qProjWeight, not both"]],
      ["loadWeights: outProjWeight missing", lw(P, { ...okP(), outProjWeight: undefined }), TypeError, [F, "weights.outProjWeight (E·E = 8·8 = 64 floats) is missing"]],
      ["loadWeights: no input projection", lw(P, { inProjBias: z(24), outProjWeight: z(64), outProjBias: z(8) }), TypeError, [F, "weights.qProjWeight (E·E = 8·8 = 64 floats) is missing"]],
      ["loadWeights: vProjWeight missing", lw(X, { ...okX(), vProjWeight: undefined }), TypeError, [F, "weights.vProjWeight (Ekv·vdim = 12·7 = 84 floats) is missing"]],
      ["loadWeights: inProjBias missing with bias", lw(P, { ...okP(), inProjBias: undefined }), TypeError, [F, "weights.inProjBias (E + 2·Ekv = 8 + 2·8 = 24 floats) is missing"]],
      ["loadWeights: outProjBias missing with bias", lw(X, { ...okX(), outProjBias: undefined }), TypeError, [F, "weights.outProjBias (E = 12", "floats) is missing"]],
      ["loadWeights: inProjWeight wrong length", lw(P, { ...okP(), inProjWeight: z(191) }), RangeError, [F, "weights.inProjWeight must have length 3E·E = 3·8·8 = 192; got 191"]],
      ["loadWeights: kProjWeight wrong length (E·E for kdim ≠ E)", lw(X, { ...okX(), kProjWeight: z(144) }), RangeError, [F, "weights.kProjWeight must have length Ekv·kdim = 12·5 = 60; got 144"]],
      ["loadWeights: GQA kProjWeight [E, E] instead of [Ekv, E]", lw(G, { qProjWeight: z(144), kProjWeight: z(144), vProjWeight: z(48), inProjBias: z(20), outProjWeight: z(144), outProjBias: z(12) }), RangeError,
        [F, "weights.kProjWeight must have length Ekv·kdim = 4·12 = 48; got 144"]],
      ["loadWeights: inProjBias [3E] with GQA", lw(G, { qProjWeight: z(144), kProjWeight: z(48), vProjWeight: z(48), inProjBias: z(36), outProjWeight: z(144), outProjBias: z(12) }), RangeError,
        [F, "weights.inProjBias must have length E + 2·Ekv = 12 + 2·4 = 20; got 36"]],
      ["loadWeights: outProjBias wrong length", lw(P, { ...okP(), outProjBias: z(9) }), RangeError, [F, "weights.outProjBias must have length E = 8", "; got 9"]],
      ["loadWeights: a Float64Array", lw(P, { ...okP(), outProjWeight: new Float64Array(64) }), TypeError, [F, "weights.outProjWeight must be a Float32Array; got a Float64Array(64)"]],
      ["loadWeights: an Array", lw(P, { ...okP(), inProjBias: Array(24).fill(0) }), TypeError, [F, "weights.inProjBias must be a Float32Array; got an Array(24)"]],
      ["loadWeights: inProjBias with bias: false", lw(N, { inProjWeight: z(192), inProjBias: z(24), outProjWeight: z(64) }), TypeError, [F, "weights.inProjBias given but this MultiHeadAttention has bias: false"]],
      ["loadWeights: outProjBias with bias: false", lw(N, { inProjWeight: z(192), outProjWeight: z(64), outProjBias: z(8) }), TypeError, [F, "weights.outProjBias given but this MultiHeadAttention has bias: false"]],
    ];
  })(),

  // loadStateDict
  ...((): ErrCase[] => {
    const F = "MultiHeadAttention.loadStateDict: ";
    const P = () => SH().P.mha, X = () => SH().X.mha;
    const t = (shape: number[]): Tensor => ({ data: new Float32Array(shape.reduce((a, b) => a * b, 1)), shape });
    const okP = (): Record<string, Tensor> => ({ in_proj_weight: t([24, 8]), in_proj_bias: t([24]), "out_proj.weight": t([8, 8]), "out_proj.bias": t([8]) });
    const okX = (): Record<string, Tensor> => ({ q_proj_weight: t([12, 12]), k_proj_weight: t([12, 5]), v_proj_weight: t([12, 7]), in_proj_bias: t([36]), "out_proj.weight": t([12, 12]), "out_proj.bias": t([12]) });
    const without = (d: Record<string, Tensor>, k: string) => { const c = { ...d }; delete c[k]; return c; };
    const ls = (m: () => MultiHeadAttention, src: unknown, o?: unknown) => () => m().loadStateDict(src as Uint8Array, o as { prefix?: string });
    const st = (d: Record<string, Tensor>) => writeSafetensors(d as Record<string, { data: Float32Array; shape: number[] }>);
    return [
      ["loadStateDict: missing key", ls(P, without(okP(), "out_proj.bias")), TypeError, [F, 'key "out_proj.bias" [8] is missing (keys present: "in_proj_weight"']],
      ["loadStateDict: missing key under a prefix", ls(P, { "enc.in_proj_weight": t([24, 8]) }, { prefix: "enc." }), TypeError, [F, 'key "enc.out_proj.weight" [8, 8] is missing (keys present: "enc.in_proj_weight")']],
      ["loadStateDict: no input projection", ls(X, without(okX(), "k_proj_weight")), TypeError, [F, 'key "k_proj_weight" [12, 5] is missing']],
      ["loadStateDict: wrong prefix", ls(P, okP(), { prefix: "layers.0." }), TypeError, [F, 'key "layers.0.out_proj.weight" [8, 8] is missing (keys present: none)']],
      ["loadStateDict: wrong shape (transposed)", ls(P, { ...okP(), in_proj_weight: t([8, 24]) }), RangeError, [F, '"in_proj_weight".shape must be [24, 8]; got [8, 24]']],
      ["loadStateDict: wrong shape (kdim)", ls(X, { ...okX(), k_proj_weight: t([12, 12]) }), RangeError, [F, '"k_proj_weight".shape must be [12, 5]; got [12, 12]']],
      ["loadStateDict: wrong shape in safetensors", ls(P, st({ ...okP(), "out_proj.bias": t([1, 8]) })), RangeError, [F, '"out_proj.bias".shape must be [8]; got [1, 8]']],
      ["loadStateDict: missing key in safetensors", ls(X, st(without(okX(), "in_proj_bias"))), TypeError, [F, 'key "in_proj_bias" [36] is missing']],
      ["loadStateDict: tensor data not Float32Array", ls(P, { ...okP(), "out_proj.weight": { data: new Float64Array(64), shape: [8, 8] } }), TypeError, [F, '"out_proj.weight".data must be a Float32Array; got a Float64Array(64)']],
      ["loadStateDict: tensor data length ≠ shape", ls(P, { ...okP(), in_proj_bias: { data: new Float32Array(23), shape: [24] } }), RangeError, [F, '"in_proj_bias".data must have length 24 = 24 for shape [24]; got 23']],
      ["loadStateDict: source a number", ls(P, 42), TypeError, [F, "source must be safetensors bytes (Uint8Array | ArrayBuffer) or a record of tensors; got 42"]],
      ["loadStateDict: source a Float32Array", ls(P, new Float32Array(4)), TypeError, [F, "source must be safetensors bytes", "got a Float32Array(4)"]],
      ["loadStateDict: unknown option", ls(P, okP(), { prefx: "a." }), TypeError, [F, 'unknown option "prefx"; known options are prefix']],
      ["loadStateDict: prefix not a string", ls(P, okP(), { prefix: 3 }), TypeError, [F, "options.prefix must be a string; got 3"]],
      ["loadStateDict: malformed safetensors (4 bytes)", ls(P, new Uint8Array(4)), RangeError, ["must hold at least 8 bytes", "got 4"]],
      ["loadStateDict: unreadable dtype under the prefix", ls(P, safetensorsFile([{ name: "in_proj_weight", dtype: "I32", shape: [24, 8], bytes: new Uint8Array(768) }])), TypeError,
        ['"in_proj_weight" has dtype I32']],
    ];
  })(),

  // createCache
  ...((): ErrCase[] => {
    const F = "MultiHeadAttention.createCache: ";
    const cc = (o: unknown) => () => SH().P.mha.createCache(o as { maxLength: number });
    return [
      ["createCache: options missing", cc(undefined), TypeError, [F, "options must be an object { batch, maxLength }; got undefined"]],
      ["createCache: unknown option", cc({ maxLen: 4 }), TypeError, [F, 'unknown option "maxLen"; known options are batch, maxLength']],
      ["createCache: maxLength missing", cc({ batch: 2 }), TypeError, [F, "options.maxLength must be a number; got undefined"]],
      ["createCache: maxLength zero", cc({ maxLength: 0 }), RangeError, [F, "options.maxLength must be an integer ≥ 1; got 0"]],
      ["createCache: maxLength fractional", cc({ maxLength: 2.5 }), RangeError, [F, "options.maxLength must be an integer ≥ 1; got 2.5"]],
      ["createCache: batch zero", cc({ batch: 0, maxLength: 4 }), RangeError, [F, "options.batch must be an integer ≥ 1; got 0"]],
      ["createCache: batch not a number", cc({ batch: "2", maxLength: 4 }), TypeError, [F, 'options.batch must be a number; got "2"']],
      ["createCache: too large for 4 GiB", cc({ batch: 64, maxLength: 2 ** 24 }), RangeError, [F, "the cache's keys and values need", "more than the 4 GiB"]],
    ];
  })(),

  // forward
  ...((): ErrCase[] => {
    const F = "MultiHeadAttention.forward: ";
    const fP = (q: unknown, k?: unknown, v?: unknown, o?: unknown) => () => SH().P.mha.forward(q as Tensor, k as Tensor, v as Tensor, o as MultiHeadAttentionOptions);
    const fX = (q: unknown, k?: unknown, v?: unknown, o?: unknown) => () => SH().X.mha.forward(q as Tensor, k as Tensor, v as Tensor, o as MultiHeadAttentionOptions);
    const u8 = (shape: number[]): Mask => ({ data: new Uint8Array(shape.reduce((a, b) => a * b, 1)).fill(1), shape });
    return [
      ["forward: options not an object", fP(qP(), undefined, undefined, "causal"), TypeError, [F, 'options must be an object; got "causal"']],
      ["forward: unknown option `casual`", fP(qP(), undefined, undefined, { casual: true }), TypeError, [F, 'unknown option "casual"; known options are keyPaddingMask, attnMask, causal']],
      ["forward: out a Float64Array", fP(qP(), undefined, undefined, { out: new Float64Array(48) }), TypeError, [F, "options.out must be a Float32Array; got a Float64Array(48)"]],
      ["forward: out of length 47", fP(qP(), undefined, undefined, { out: new Float32Array(47) }), RangeError, [F, "options.out.length must equal the result's 48 elements (shape [2, 3, 8]); got 47"]],
      ["forward: out of the wrong length with a cache (the cache does not advance)", () => {
        const c = SH().P.mha.createCache({ batch: 2, maxLength: 8 });
        try { return SH().P.mha.forward(qP(), undefined, undefined, { cache: c, out: new Float32Array(8) }); } finally { assert.is(c.length, 0); c.dispose(); }
      }, RangeError, [F, "options.out.length must equal the result's 48 elements"]],
      ["forward: query not a tensor", fP(null), TypeError, [F, "query must be a tensor { data: Float32Array, shape: [B, L, E] or [L, E] }; got null"]],
      ["forward: query.data not Float32Array", fP({ data: Array(48).fill(0), shape: [2, 3, 8] }), TypeError, [F, "query.data must be a Float32Array; got an Array(48)"]],
      ["forward: query.data length ≠ shape", fP({ data: new Float32Array(47), shape: [2, 3, 8] }), RangeError, [F, "query.data must have length 2·3·8 = 48 for shape [2, 3, 8]; got 47"]],
      ["forward: query.shape negative", fP({ data: new Float32Array(8), shape: [-1, 8] }), RangeError, [F, "query.shape[0] must be a non-negative integer; got -1"]],
      ["forward: query rank 1", fP({ data: new Float32Array(8), shape: [8] }), RangeError, [F, "query.shape must have rank ≥ 2 ([B, L, E] or [L, E]); got [8] (rank 1)"]],
      ["forward: query rank 4", fP({ data: new Float32Array(48), shape: [1, 2, 3, 8] }), RangeError, [F, "query.shape must be [B, L, E] or [L, E]; got [1, 2, 3, 8]"]],
      ["forward: query width ≠ embedDim", fP({ data: new Float32Array(42), shape: [2, 3, 7] }), RangeError, [F, "query.shape[2] must equal embedDim = 8; got 7"]],
      ["forward: key only", fX(qX(), kX()), TypeError, [F, "give both key and value (cross-attention) or neither (self-attention); got key only"]],
      ["forward: value only", fX(qX(), undefined, vX()), TypeError, [F, "give both key and value", "got value only"]],
      ["forward: key not a tensor", fX(qX(), "k", vX()), TypeError, [F, 'key must be a tensor { data: Float32Array, shape: [B, S, kdim] }; got "k"']],
      ["forward: value.data not Float32Array", fX(qX(), kX(), { data: new Float64Array(56), shape: [2, 4, 7] }), TypeError, [F, "value.data must be a Float32Array; got a Float64Array(56)"]],
      ["forward: key rank ≠ query rank", fX(qX(), { data: new Float32Array(20), shape: [4, 5] }, vX()), RangeError, [F, "key.shape must have rank 3 like query [2, 3, 12]; got [4, 5]"]],
      ["forward: key batch ≠ query batch", fX(qX(), kX(3), vX(3)), RangeError, [F, "key.shape[0] must equal the query's batch B = 2; got 3"]],
      ["forward: value batch ≠ query batch", fX(qX(), kX(), vX(1)), RangeError, [F, "value.shape[0] must equal the query's batch B = 2; got 1"]],
      ["forward: key width ≠ kdim", fX(qX(), kX(2, 4, 12), vX()), RangeError, [F, "key.shape[2] must equal kdim = 5; got 12"]],
      ["forward: value width ≠ vdim", fX(qX(), kX(), vX(2, 4, 5)), RangeError, [F, "value.shape[2] must equal vdim = 7; got 5"]],
      ["forward: value length ≠ key length", fX(qX(), kX(), vX(2, 6)), RangeError, [F, "value.shape[1] must equal the key length S = 4; got 6"]],
      ["forward: keyPaddingMask not a mask", fX(qX(), kX(), vX(), { keyPaddingMask: [1, 0] }), TypeError, [F, "options.keyPaddingMask.data must be a Uint8Array", "got undefined"]],
      ["forward: keyPaddingMask Int32Array", fX(qX(), kX(), vX(), { keyPaddingMask: { data: new Int32Array(8), shape: [2, 4] } }), TypeError, [F, "options.keyPaddingMask.data must be a Uint8Array", "Float32Array", "got an Int32Array(8)"]],
      ["forward: keyPaddingMask data length ≠ shape", fX(qX(), kX(), vX(), { keyPaddingMask: { data: new Uint8Array(7), shape: [2, 4] } }), RangeError, [F, "options.keyPaddingMask.data must have length 2·4 = 8 for shape [2, 4]; got 7"]],
      ["forward: keyPaddingMask [B, S + 1]", fX(qX(), kX(), vX(), { keyPaddingMask: u8([2, 5]) }), RangeError, [F, "options.keyPaddingMask.shape must broadcast to [B, S] = [2, 4]; got [2, 5]"]],
      ["forward: keyPaddingMask [1, S] for B = 2", fX(qX(), kX(), vX(), { keyPaddingMask: u8([1, 4]) }), RangeError, [F, "options.keyPaddingMask.shape must be [2, 4] ([B, S]); got [1, 4]"]],
      ["forward: keyPaddingMask [B, L, S]", fX(qX(), kX(), vX(), { keyPaddingMask: u8([2, 3, 4]) }), RangeError, [F, "options.keyPaddingMask.shape must broadcast to [B, S] = [2, 4]; got [2, 3, 4]"]],
      ["forward: keyPaddingMask [1, S] unbatched", fP({ data: new Float32Array(24), shape: [3, 8] }, undefined, undefined, { keyPaddingMask: u8([1, 3]) }), RangeError, [F, "options.keyPaddingMask.shape must broadcast to [S] = [3]; got [1, 3]"]],
      ["forward: attnMask [L, S + 1]", fX(qX(), kX(), vX(), { attnMask: u8([3, 5]) }), RangeError, [F, "options.attnMask.shape must broadcast to [B, H, L, S] = [2, 3, 3, 4]; got [3, 5]"]],
      ["forward: attnMask PyTorch 3-D [B·H, L, S]", fX(qX(), kX(), vX(), { attnMask: u8([6, 3, 4]) }), RangeError, [F, "options.attnMask.shape must broadcast to [B, H, L, S] = [2, 3, 3, 4]; got [6, 3, 4]"]],
      ["forward: attnMask rank 5", fX(qX(), kX(), vX(), { attnMask: u8([1, 2, 3, 3, 4]) }), RangeError, [F, "options.attnMask.shape must broadcast to [B, H, L, S]", "got [1, 2, 3, 3, 4]"]],
      ["forward: attnMask [1, H, L, S] unbatched", fP({ data: new Float32Array(24), shape: [3, 8] }, undefined, undefined, { attnMask: u8([1, 2, 3, 3]) }), RangeError, [F, "options.attnMask.shape must broadcast to [H, L, S] = [2, 3, 3]; got [1, 2, 3, 3]"]],
      ["forward: attnMask data length ≠ shape", fX(qX(), kX(), vX(), { attnMask: { data: new Float32Array(11), shape: [3, 4] } }), RangeError, [F, "options.attnMask.data must have length 3·4 = 12 for shape [3, 4]; got 11"]],
      ["forward: attnMask Int8Array", fX(qX(), kX(), vX(), { attnMask: { data: new Int8Array(12), shape: [3, 4] } }), TypeError, [F, "options.attnMask.data must be a Uint8Array (boolean, 1 = may attend) or a Float32Array (additive); got an Int8Array(12)"]],
      ["forward: attnMask shape not an array", fX(qX(), kX(), vX(), { attnMask: { data: new Uint8Array(12), shape: "3x4" } }), TypeError, [F, "options.attnMask.shape must be an array of non-negative integers; got \"3x4\""]],
      ["forward: causal not a boolean or an alignment", fP(qP(), undefined, undefined, { causal: 1 }), TypeError, [F, 'options.causal must be a boolean, "top-left" or "bottom-right"; got 1']],
      ["forward: needWeights not a boolean", fP(qP(), undefined, undefined, { needWeights: "yes" }), TypeError, [F, 'options.needWeights must be a boolean; got "yes"']],
      ["forward: averageWeights not a boolean", fP(qP(), undefined, undefined, { needWeights: true, averageWeights: 0 }), TypeError, [F, "options.averageWeights must be a boolean; got 0"]],
      ["forward: cache not a KVCache", fP(qP(), undefined, undefined, { cache: { length: 0 } }), TypeError, [F, "options.cache must be a KVCache from createCache(); got an object"]],
      ["forward: cache from another instance", () => {
        const other = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
        try { return SH().P.mha.forward(qP(), undefined, undefined, { cache: other.createCache({ batch: 2, maxLength: 8 }) }); } finally { other.dispose(); }
      }, TypeError, [F, "options.cache was created by another MultiHeadAttention"]],
      ["forward: disposed cache", () => {
        const c = SH().P.mha.createCache({ batch: 2, maxLength: 8 });
        c.dispose();
        return SH().P.mha.forward(qP(), undefined, undefined, { cache: c });
      }, TypeError, [F, "options.cache was disposed"]],
      ["forward: key and value with a cache", () => {
        const c = SH().X.mha.createCache({ batch: 2, maxLength: 8 });
        try { return SH().X.mha.forward(qX(), kX(), vX(), { cache: c }); } finally { c.dispose(); }
      }, TypeError, [F, "a cache is for self-attention decoding; omit key and value"]],
      ["forward: batch ≠ the cache's batch", () => {
        const c = SH().P.mha.createCache({ batch: 3, maxLength: 8 });
        try { return SH().P.mha.forward(qP(), undefined, undefined, { cache: c }); } finally { c.dispose(); }
      }, RangeError, [F, "query batch must equal the cache's batch = 3; got 2"]],
      ["forward: cache overflow", () => {
        const c = SH().P.mha.createCache({ batch: 2, maxLength: 2 });
        try { return SH().P.mha.forward(qP(), undefined, undefined, { cache: c }); } finally { assert.is(c.length, 0, "cache.length"); c.dispose(); }
      }, RangeError, [F, "query length must fit in the cache: 0 cached + 3 new ≤ maxLength = 2; got 3 positions"]],
      ["forward: keyPaddingMask [B, new] with a cache holding more", () => {
        const c = SH().P.mha.createCache({ batch: 2, maxLength: 8 });
        try {
          SH().P.mha.forward(qP(), undefined, undefined, { cache: c });
          return SH().P.mha.forward(qP(), undefined, undefined, { cache: c, keyPaddingMask: u8([2, 3]) });
        } finally { assert.is(c.length, 3, "cache.length after the failed step"); c.dispose(); }
      }, RangeError, [F, "options.keyPaddingMask.shape must broadcast to [B, S] = [2, 6]; got [2, 3]"]],
    ];
  })(),
];

for (const [name, f, cls, parts] of ERRORS) test(`error: ${name}`, () => throwsClean(f, cls, parts, name));

// use after dispose
for (const [name, use] of [
  ["forward", (m: MultiHeadAttention) => m.forward({ data: new Float32Array(8), shape: [1, 8] })],
  ["loadWeights", (m: MultiHeadAttention) => m.loadWeights({ outProjWeight: new Float32Array(64) })],
  ["loadStateDict", (m: MultiHeadAttention) => m.loadStateDict({})],
  ["createCache", (m: MultiHeadAttention) => m.createCache({ maxLength: 4 })],
  ["stateDict", (m: MultiHeadAttention) => m.stateDict()],
] as [string, (m: MultiHeadAttention) => unknown][]) {
  test(`error: ${name} after dispose → TypeError`, () => {
    const mark = heapInUse();
    const m = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
    m.dispose();
    assert.is(heapInUse(), mark, "dispose frees the weights");
    throwsClean(() => use(m), TypeError, [`MultiHeadAttention.${name}: this MultiHeadAttention was disposed`], `${name} after dispose`);
    m.dispose();   // idempotent
    assert.is(heapInUse(), mark, "second dispose changes nothing");
  });
}

// ---- many instances -------------------------------------------------------------------------------------------

test("many instances side by side: interleaved forwards, creations and disposes; outputs stay correct, heap back to its mark", () => {
  const mark = heapInUse();
  const rand = rng(80);
  const cfgs: Cfg[] = [
    { E: 8, H: 2 }, { E: 12, H: 3, kdim: 5, vdim: 7 }, { E: 18, H: 6, Hkv: 2 }, { E: 5, H: 5, bias: false }, { E: 24, H: 4, Hkv: 1, kdim: 9 },
  ];
  const live = cfgs.map((c, i) => model(c, 100 + i));
  live[0].mha.createCache({ batch: 2, maxLength: 8 });
  live[2].mha.createCache({ maxLength: 64 });
  assert.ok(heapInUse() > mark, "instances hold memory");
  let created = 0, forwards = 0;
  for (let stepNo = 0; live.length > 0; stepNo++) {
    const i = Math.floor(rand() * live.length);
    if (stepNo >= 12 && (rand() < 0.2 || stepNo > 80)) {
      live[i].mha.dispose();
      live.splice(i, 1);
      if (created < 3) {   // a new instance in the freed memory, next to the old ones
        const c = cfgs[Math.floor(rand() * cfgs.length)];
        live.push(model(c, 200 + created++));
        live[live.length - 1].mha.createCache({ batch: 1, maxLength: 5 });
      }
      continue;
    }
    const m = live[i];
    const cross = m.cfg.kdim !== m.cfg.E || rand() < 0.4;
    const B = 1 + Math.floor(rand() * 3), L = 1 + Math.floor(rand() * 20), Sk = cross ? 1 + Math.floor(rand() * 20) : L;
    const o: MultiHeadAttentionOptions = rand() < 0.5 ? { causal: true, needWeights: true } : { keyPaddingMask: boolMask(rand, [B, Sk], 0.2) };
    expectForward(m, ...inputs(m, rand, B, L, Sk, cross), o, `step ${stepNo} instance ${JSON.stringify(m.cfg)} B=${B} L=${L} S=${Sk}`);
    forwards++;
  }
  assert.ok(forwards >= 12, "forwards ran");
  assert.is(created, 3, "instances created in between");
  assert.is(heapInUse(), mark, "heap back to where it was before the instances");
});

test.run();
