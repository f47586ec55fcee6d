// test/src/softcap-alibi.test.ts ↔ src/score-options.ts, the softcap/alibiSlopes options of src/sdpa.ts and
// src/mha.ts (+ mha-config.ts), and the kernels' soft-capping and ALiBi bias (assembly/attention.ts,
// decode.ts, simd/tanh.ts through tanh_f32).
//   softcap c: a scaled score s becomes c·tanh(s/c), before the bias and the masks.
//   ALiBi: −m·|p_i − j| added, p_i = i + S − L (bottom-right; p_i = i under causal "top-left"): under a
//   causal mask the paper's −m·(p_i − j); test/reference.ts computes −m·((i + S − L) − j) there for both
//   alignments (a row constant apart under top-left: the softmax must not see it).
// Shapes: B batch, H heads, Hkv K/V heads, L query length, S key length, E query/key width, Ev value width.
// Sizes cross the kernels' blocks (BM query rows, KC = BN keys per tile, DIRECT_L rows of the direct path).
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  type MultiHeadAttentionOptions, type SdpaOptions, type Tensor, MultiHeadAttention, init, scaledDotProductAttention,
} from "../../src/index.js";
import { tuning } from "../../src/parallel.js";
import { alibiSlopes } from "../../src/score-options.js";
import { runtime } from "../../src/wasm.js";
import { BM, DIRECT_L, KC } from "../constants.js";
import { BUILD, assertRowsClose, randBytes, randn, rng, throwsWith } from "../helpers.js";
import { type RefCausal, type RefMask, refAttention, refMha } from "../reference.js";
import { guarded, stillWorks } from "../support.js";
import { bitsEqual, fullCfg, randomWeights, tensor } from "./reliability-support.js";

const RTOL = 1e-5;
const THREADED = BUILD !== "scalar";
const minWork = tuning.minWork;

test.after(async () => {
  tuning.minWork = minWork;
  await init({ build: BUILD });
});

// ---- tanh_f32: the soft-cap's tanh on its own ---------------------------------------------------------------------

/** Units in the last place of an f32 near t (t ≠ 0): 2^(⌊log2 |t|⌋ − 23), the subnormal step below 2^-126. */
function ulp(t: number): number {
  const a = Math.abs(t);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}

function tanhCall(x: Float32Array): Float32Array {
  const rt = runtime("test");
  return guarded(rt, (g) => {
    const px = g.input(x, "x"), py = g.output(x.length, "y");
    rt.kernels.tanh_f32(py.ptr, px.ptr, x.length);
    g.check("tanh_f32");
    return g.f32(py).slice();
  });
}

test("tanh_f32: within 2 ulp of Math.tanh over a dense sweep of [−10, 10] (2e6 points), small and tiny |x|, and the saturation edge", () => {
  const n = 2_000_000;
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(-10 + 20 * (i / (n - 1)));
  for (let e = -149; e <= 3; e += 0.25) xs.push(2 ** e, -(2 ** e));          // tiny to moderate, both signs
  for (let i = 0; i < 4000; i++) xs.push(8.9 + 0.2 * (i / 3999));            // around 13·ln2 ≈ 9.0109
  const x = Float32Array.from(xs);
  const y = tanhCall(x);
  let worst = 0, at = 0;
  for (let i = 0; i < x.length; i++) {
    const t = Math.tanh(x[i]);
    const err = t === 0 ? Math.abs(y[i]) / 2 ** -149 : Math.abs(y[i] - t) / ulp(t);
    if (!(err <= worst)) { worst = err; at = i; }
  }
  assert.ok(worst <= 2, `max error ${worst.toFixed(3)} ulp at x = ${x[at]} (got ${y[at]}, want ${Math.tanh(x[at])})`);
  console.log(`  tanh_f32 (${BUILD}): max error ${worst.toFixed(3)} ulp over ${x.length} points`);
});

test("tanh_f32: ±0 keep their sign, ±Infinity and |x| ≥ 9.02 give ±1, NaN → NaN, odd symmetry, in vector lanes and the scalar tail", () => {
  const special = [0, -0, Infinity, -Infinity, NaN, 9.02, -9.02, 100, -1e30, 3.4e38, 1e-45, -1e-45, 0.5, -0.5, 2.5];
  // n = 4k + 3 and each value once in the body (first 4k) and once in the tail: the same result either way.
  const x = Float32Array.from([...special, 0, ...special.slice(0, 3)]);
  const y = tanhCall(x);
  const want = [0, -0, 1, -1, NaN, 1, -1, 1, -1, 1, 1e-45, -1e-45];
  want.forEach((w, i) => assert.ok(Object.is(y[i], Math.fround(w)), `tanh(${x[i]}) = ${y[i]}, want ${w}`));
  assert.is(y[12], -y[13], "tanh(−x) = −tanh(x)");
  if (BUILD !== "relaxed") {
    // the tail holds special[0..2] at x.length − 3 …: the same bits as the body's lanes
    for (let t = 0; t < 3; t++) assert.ok(Object.is(y[x.length - 3 + t], y[t]), `tail ${t}`);
    const body = tanhCall(Float32Array.from([0.3, 0.7, 1.9, 4.2]));
    const tail = tanhCall(Float32Array.from([0.3, 0.7, 1.9]));
    for (let t = 0; t < 3; t++) assert.is(tail[t], body[t], `x = ${[0.3, 0.7, 1.9][t]}: scalar tail = vector lane`);
  }
});

// ---- slopes ----------------------------------------------------------------------------------------------------

test("ALiBi slopes: H = 8 → 2^-1 … 2^-8; H = 12 → those, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5; H = 1, 3, 16 (the paper's/BLOOM's rule)", () => {
  assert.equal([...alibiSlopes(8)], [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]);
  const r2 = Math.SQRT1_2;
  assert.equal([...alibiSlopes(12)], [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625,
    r2, r2 / 2, r2 / 4, r2 / 8].map(Math.fround));
  assert.equal([...alibiSlopes(1)], [2 ** -8]);
  assert.equal([...alibiSlopes(3)], [2 ** -4, 2 ** -8, 2 ** -2]);
  assert.equal([...alibiSlopes(16)], Array.from({ length: 16 }, (_, i) => Math.fround(2 ** (-(i + 1) / 2))));
  const m = new MultiHeadAttention({ embedDim: 24, numHeads: 12, alibi: true, seed: 1 });
  assert.equal([...m.alibiSlopes!], [...alibiSlopes(12)], "mha.alibiSlopes");
  m.alibiSlopes![0] = 7;
  assert.is(m.alibiSlopes![0], 0.5, "a copy");
  assert.is(m.softcap, undefined);
  m.dispose();
  const n = new MultiHeadAttention({ embedDim: 8, numHeads: 2, softcap: 30, alibiSlopes: Float32Array.of(0.3, 0.1), seed: 1 });
  assert.equal([...n.alibiSlopes!], [0.3, 0.1].map(Math.fround));
  assert.is(n.softcap, 30);
  n.dispose();
  const p = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
  assert.is(p.alibiSlopes, null);
  p.dispose();
});

// ---- scaledDotProductAttention against float64 -------------------------------------------------------------------

interface SdpaCase { batch: number[]; L: number; S: number; E: number; Ev: number; causal?: RefCausal; mask?: "bool" | "add"; softcap?: number; slopes?: "nb" | "last" | "one" }

function sdpaCase(c: SdpaCase, seed: number): void {
  const r = rng(seed);
  const nb = c.batch.reduce((a, b) => a * b, 1);
  // q, k in ±2 with E ≥ 4: scaled scores reach a few units, so a cap of 0.5 … 5 bends them.
  const q = tensor(r, [...c.batch, c.L, c.E], -2, 2), k = tensor(r, [...c.batch, c.S, c.E], -2, 2), v = tensor(r, [...c.batch, c.S, c.Ev]);
  const o: SdpaOptions = { returnWeights: true };
  const masks: RefMask[] = [];
  if (c.causal !== undefined) o.causal = c.causal;
  if (c.softcap !== undefined) o.softcap = c.softcap;
  if (c.mask === "bool") {
    o.mask = { data: randBytes(r, c.L * c.S, 0.8), shape: [c.L, c.S] };
    masks.push({ data: o.mask.data, shape: o.mask.shape, bool: true });
  } else if (c.mask === "add") {
    o.mask = { data: Float32Array.from({ length: c.L * c.S }, () => (r() < 0.1 ? -Infinity : r() - 0.5)), shape: [c.L, c.S] };
    masks.push({ data: o.mask.data, shape: o.mask.shape, bool: false });
  }
  let perSlice: Float32Array | undefined;
  if (c.slopes) {
    const H = c.batch.length ? c.batch[c.batch.length - 1] : 1;
    const n = c.slopes === "nb" ? nb : c.slopes === "last" ? H : 1;
    o.alibiSlopes = randn(r, n, 0.01, 0.9);
    perSlice = Float32Array.from({ length: nb }, (_, i) => o.alibiSlopes![c.slopes === "nb" ? i : c.slopes === "last" ? i % H : 0]);
  }
  const what = `sdpa ${JSON.stringify(c)}`;
  const res = scaledDotProductAttention(q, k, v, o);
  const ref = refAttention(q.data, k.data, v.data, c.batch, c.L, c.S, c.E, c.Ev, { causal: c.causal, masks, softcap: c.softcap, alibiSlopes: perSlice });
  assertRowsClose(res.output.data, ref.out, c.Ev, RTOL, `${what}: output`, ref.mag);
  assertRowsClose(res.weights!.data, ref.w, c.S, RTOL, `${what}: weights`);
  // without returnWeights: the same output bits
  bitsEqual(scaledDotProductAttention(q, k, v, { ...o, returnWeights: false }).output.data, res.output.data, `${what}: output without weights`);
}

const OPTION_SETS: Pick<SdpaCase, "softcap" | "slopes">[] = [{ softcap: 1.5 }, { slopes: "nb" }, { softcap: 0.7, slopes: "last" }, { softcap: 50, slopes: "one" }];
const CAUSALS: (RefCausal | undefined)[] = [undefined, true, "top-left"];

test(`scaledDotProductAttention softcap, alibiSlopes and both: L ∈ {1, ${DIRECT_L}, 3, ${BM + 1}}, S ∈ {1, 6, ${BM - 1}}, no/bottom-right/top-left causal, with weights`, () => {
  let seed = 1;
  for (const opts of OPTION_SETS) {
    for (const causal of CAUSALS) {
      for (const L of [1, DIRECT_L, 3, BM + 1]) {
        for (const S of [1, 6, BM - 1]) sdpaCase({ batch: [2, 3], L, S, E: 5, Ev: 7, causal, ...opts }, seed++);
      }
    }
  }
});

test(`scaledDotProductAttention softcap/ALiBi with masks (boolean, additive) and causal, across key tiles: S ∈ {${KC - 1}, ${KC + 1}, ${2 * KC + 3}}, L ∈ {${DIRECT_L}, ${2 * BM + 3}}`, () => {
  let seed = 100;
  for (const opts of OPTION_SETS) {
    for (const mask of ["bool", "add"] as const) {
      for (const [L, S] of [[DIRECT_L, KC + 1], [2 * BM + 3, KC - 1], [2 * BM + 3, 2 * KC + 3]]) {
        sdpaCase({ batch: [2], L, S, E: 8, Ev: 3, mask, causal: seed % 3 === 0 ? undefined : seed % 3 === 1 ? true : "top-left", ...opts }, seed++);
      }
    }
  }
});

test("scaledDotProductAttention softcap/ALiBi: odd widths E, Ev ∈ {1, 3, 17} and L > S, L < S under top-left; no leading dims", () => {
  let seed = 200;
  for (const E of [1, 3, 17]) for (const Ev of [1, 3, 17]) {
    sdpaCase({ batch: [], L: 7, S: 3, E, Ev, causal: "top-left", softcap: 2, slopes: "one" }, seed++);
    sdpaCase({ batch: [3], L: 3, S: 9, E, Ev, causal: seed % 2 ? true : "top-left", softcap: 0.5, slopes: "nb" }, seed++);
  }
});

test("ALiBi: a row constant apart, top-left's positions give the same weights as the issue's bottom-right distance; slopes of 0 and no options give the plain bits", () => {
  const r = rng(7);
  const q = tensor(r, [2, 2 * BM + 1, 6]), k = tensor(r, [2, KC + 9, 6]), v = tensor(r, [2, KC + 9, 5]);
  const plain = scaledDotProductAttention(q, k, v, { causal: true, returnWeights: true });
  const zero = scaledDotProductAttention(q, k, v, { causal: true, returnWeights: true, alibiSlopes: new Float32Array(2) });
  bitsEqual(zero.output.data, plain.output.data, "slopes 0: output");
  bitsEqual(zero.weights!.data, plain.weights!.data, "slopes 0: weights");
  // a slope changes the result (the option is not ignored)
  const biased = scaledDotProductAttention(q, k, v, { causal: true, alibiSlopes: Float32Array.of(0.25) }).output.data;
  assert.ok(biased.some((x, i) => x !== plain.output.data[i]), "a slope of 0.25 changes the output");
  const capped = scaledDotProductAttention(q, k, v, { causal: true, softcap: 0.3 }).output.data;
  assert.ok(capped.some((x, i) => x !== plain.output.data[i]), "a softcap of 0.3 changes the output");
});

test("softcap turns +Infinity and huge scores into ±c (finite), and bounds every score: logits ±1e30 give the weights of ±c", () => {
  const E = 2, L = 3, S = 4;
  const q = { data: Float32Array.of(1e20, 0, -1e20, 0, 1, 0), shape: [L, E] };
  const k = { data: Float32Array.of(1e20, 0, -1e20, 0, 0, 1, 1, 0), shape: [S, E] };
  const v = { data: Float32Array.of(1, 2, 3, 4), shape: [S, 1] };
  const res = scaledDotProductAttention(q, k, v, { softcap: 5, returnWeights: true, scale: 1 });
  const ref = refAttention(q.data, k.data, v.data, [], L, S, E, 1, { scale: 1, softcap: 5 });
  assert.ok(res.output.data.every(Number.isFinite), `finite: ${res.output.data}`);
  assertRowsClose(res.weights!.data, ref.w, S, RTOL, "weights at ±c");
  assertRowsClose(res.output.data, ref.out, 1, RTOL, "output", ref.mag);
});

// ---- MultiHeadAttention ----------------------------------------------------------------------------------------

interface MhaSetup { E: number; H: number; Hkv?: number; softcap?: number; alibi?: boolean; slopes?: Float32Array }

function mhaModel(c: MhaSetup, seed: number): { mha: MultiHeadAttention; ref: ReturnType<typeof randomWeights>["ref"]; slopes: Float32Array | undefined } {
  const cfg = fullCfg({ E: c.E, H: c.H, Hkv: c.Hkv });
  const mha = new MultiHeadAttention({
    embedDim: c.E, numHeads: c.H, numKVHeads: cfg.Hkv, seed,
    ...(c.softcap !== undefined ? { softcap: c.softcap } : {}), ...(c.alibi ? { alibi: true } : {}), ...(c.slopes ? { alibiSlopes: c.slopes } : {}),
  });
  const { weights, ref } = randomWeights(rng(seed * 31 + 1), cfg);
  mha.loadWeights(weights);
  return { mha, ref, slopes: c.slopes ?? (c.alibi ? alibiSlopes(c.H) : undefined) };
}

function refFwd(m: ReturnType<typeof mhaModel>, c: MhaSetup, x: Float32Array, B: number, L: number, o: { causal?: RefCausal; masks?: RefMask[]; softcap?: number } = {}) {
  return refMha(x, x, x, B, L, L, c.E, c.H, c.Hkv ?? c.H, c.E, c.E, m.ref, { causal: o.causal, masks: o.masks, softcap: o.softcap ?? c.softcap, alibiSlopes: m.slopes });
}

test("MultiHeadAttention softcap/alibi (config, forward override), GQA, causal both ways, key padding, per-head weights: against refMha", () => {
  const setups: MhaSetup[] = [
    { E: 24, H: 4, softcap: 2 }, { E: 24, H: 4, alibi: true }, { E: 36, H: 12, Hkv: 4, alibi: true, softcap: 1 },
    { E: 18, H: 3, Hkv: 1, slopes: Float32Array.of(0.5, 0.02, 0.3), softcap: 50 },
  ];
  let seed = 300;
  for (const c of setups) {
    const m = mhaModel(c, seed++);
    for (const L of [1, DIRECT_L, BM + 3]) {
      for (const causal of CAUSALS) {
        const B = 2, r = rng(seed++);
        const x = randn(r, B * L * c.E, -2, 2);
        const pad = randBytes(r, B * L, 0.2);
        pad[0] = 0;
        const o: MultiHeadAttentionOptions = { needWeights: true, averageWeights: false, keyPaddingMask: { data: pad, shape: [B, L] } };
        if (causal !== undefined) o.causal = causal;
        const what = `${JSON.stringify({ ...c, slopes: c.slopes && [...c.slopes] })} L=${L} causal=${causal}`;
        const got = m.mha.forward({ data: x, shape: [B, L, c.E] }, undefined, undefined, o);
        const ref = refFwd(m, c, x, B, L, { causal, masks: [{ data: pad, shape: [B, 1, 1, L], bool: true, padding: true }] });
        assertRowsClose(got.output.data, ref.out, c.E, RTOL, `${what}: output`, ref.mag);
        assertRowsClose(got.weights!.data, ref.w, L, RTOL, `${what}: weights`);
        // forward's softcap overrides the config's
        const o2 = { causal, softcap: 0.4 };
        const got2 = m.mha.forward({ data: x, shape: [B, L, c.E] }, undefined, undefined, { ...(causal !== undefined ? { causal } : {}), softcap: 0.4 });
        const ref2 = refFwd(m, c, x, B, L, o2);
        assertRowsClose(got2.output.data, ref2.out, c.E, RTOL, `${what}: forward softcap 0.4`, ref2.mag);
      }
    }
    m.mha.dispose();
  }
});

test("KV cache with softcap and ALiBi: a prefix then single-token steps (the decode kernel) = one causal forward over the whole sequence (1e-6 of each row), and refMha", () => {
  const setups: MhaSetup[] = [
    { E: 32, H: 8, Hkv: 2, alibi: true }, { E: 32, H: 8, Hkv: 2, softcap: 1.5 }, { E: 24, H: 12, Hkv: 12, alibi: true, softcap: 3 },
  ];
  let seed = 400;
  for (const c of setups) {
    const m = mhaModel(c, seed++);
    const B = 2, T = BM + 9, p = BM - 2;
    const x = randn(rng(seed++), B * T * c.E, -2, 2);
    const whole = m.mha.forward({ data: x, shape: [B, T, c.E] }, undefined, undefined, { causal: true }).output.data;
    const ref = refFwd(m, c, x, B, T, { causal: true });
    const what = JSON.stringify(c);
    assertRowsClose(whole, ref.out, c.E, RTOL, `${what}: whole sequence vs refMha`, ref.mag);
    const cache = m.mha.createCache({ batch: B, maxLength: T });
    const rows = (a: number, b: number, src: ArrayLike<number>) => {
      const out = new Float64Array(B * (b - a) * c.E);
      for (let n = 0; n < B; n++) for (let t = a; t < b; t++) for (let e = 0; e < c.E; e++) out[(n * (b - a) + t - a) * c.E + e] = src[(n * T + t) * c.E + e];
      return out;
    };
    const run = (a: number, b: number) => m.mha.forward({ data: Float32Array.from(rows(a, b, x)), shape: [B, b - a, c.E] }, undefined, undefined, { cache }).output.data;
    assertRowsClose(run(0, p), rows(0, p, whole), c.E, 1e-6, `${what}: prefix vs whole`, rows(0, p, ref.mag));
    for (let t = p; t < T; t++) {
      const got = run(t, t + 1);
      assertRowsClose(got, rows(t, t + 1, whole), c.E, 1e-6, `${what}: step ${t} vs whole`, rows(t, t + 1, ref.mag));
      assertRowsClose(got, rows(t, t + 1, ref.out), c.E, RTOL, `${what}: step ${t} vs refMha`, rows(t, t + 1, ref.mag));
    }
    cache.dispose();
    m.mha.dispose();
  }
});

// ---- threads ---------------------------------------------------------------------------------------------------

function threadWorkload(seed: number): Float32Array[] {
  const r = rng(seed);
  const out: Float32Array[] = [];
  const L = 2 * BM + 3, S = KC + 5;
  const q = tensor(r, [2, 3, L, 12], -2, 2), k = tensor(r, [2, 3, S, 12], -2, 2), v = tensor(r, [2, 3, S, 7]);
  const slopes = Float32Array.of(0.5, 0.125, 0.03);
  for (const causal of [false, true, "top-left"] as const) {
    const res = scaledDotProductAttention(q, k, v, { causal, softcap: 1.2, alibiSlopes: slopes, returnWeights: true });
    out.push(res.output.data, res.weights!.data);
  }
  out.push(scaledDotProductAttention(tensor(r, [6, 2, 12]), tensor(r, [6, S, 12]), tensor(r, [6, S, 7]), { softcap: 3, alibiSlopes: randn(r, 6, 0, 1) }).output.data);
  const m = mhaModel({ E: 32, H: 8, Hkv: 2, alibi: true, softcap: 2 }, seed);
  out.push(m.mha.forward(tensor(r, [2, BM + 7, 32]), undefined, undefined, { causal: true, needWeights: true }).output.data);
  const cache = m.mha.createCache({ batch: 2, maxLength: 2 * BM });
  out.push(m.mha.forward(tensor(r, [2, BM + 1, 32]), undefined, undefined, { cache }).output.data);
  for (let t = 0; t < 3; t++) out.push(m.mha.forward(tensor(r, [2, 1, 32]), undefined, undefined, { cache }).output.data);
  cache.dispose();
  m.mha.dispose();
  return out;
}

test("softcap/ALiBi give the same bits on 1, 2 and 3 threads (every job through the workers)", async () => {
  await init({ build: BUILD });
  const want = threadWorkload(5);
  tuning.minWork = 0;
  for (const n of [2, 3, 1]) {
    const info = await init({ build: BUILD, threads: n });
    assert.is(info.threads, THREADED ? n : 1);
    const got = threadWorkload(5);
    assert.is(got.length, want.length);
    got.forEach((g, i) => bitsEqual(g, want[i], `${n} threads: result ${i}`));
  }
  tuning.minWork = minWork;
  await init({ build: BUILD });
});

// ---- bad options -----------------------------------------------------------------------------------------------

test("bad softcap / alibiSlopes / alibi: TypeError or RangeError naming the option, expected and actual value; the library stays usable", () => {
  const x: Tensor = { data: new Float32Array(2 * 3 * 4 * 5), shape: [2, 3, 4, 5] };
  const F = "scaledDotProductAttention";
  const sd = (o: unknown) => () => scaledDotProductAttention(x, x, x, o as SdpaOptions);
  throwsWith(sd({ softcap: "50" }), TypeError, new RegExp(`^${F}: options\\.softcap must be a number .*; got "50"$`), "softcap string");
  for (const bad of [0, -1, NaN, Infinity, -Infinity]) {
    throwsWith(sd({ softcap: bad }), RangeError, new RegExp(`^${F}: options\\.softcap must be a finite number > 0; got ${bad}$`), `softcap ${bad}`);
  }
  throwsWith(sd({ softcap: 1e-40 }), RangeError, /options\.softcap must be within f32's normal range .*; got 1e-40$/, "softcap subnormal in f32");
  throwsWith(sd({ alibiSlopes: [0.5, 0.25, 0.125] }), TypeError, new RegExp(`^${F}: options\\.alibiSlopes must be a Float32Array of ALiBi slopes; got an Array\\(3\\)$`), "slopes array");
  throwsWith(sd({ alibiSlopes: new Float64Array(3) }), TypeError, /options\.alibiSlopes must be a Float32Array of ALiBi slopes; got a Float64Array\(3\)$/, "slopes f64");
  throwsWith(sd({ alibiSlopes: new Float32Array(4) }), RangeError,
    /options\.alibiSlopes\.length must be 1, the last leading dim 3 or the number of slices 2·3 = 6 \(one slope per slice of \[2, 3\]\); got 4$/, "slopes length");
  throwsWith(sd({ alibiSlopes: Float32Array.of(0.5, NaN, 1) }), RangeError, /options\.alibiSlopes\[1\] must be a finite number; got NaN$/, "slope NaN");
  throwsWith(sd({ alibiSlopes: Float32Array.of(Infinity) }), RangeError, /options\.alibiSlopes\[0\] must be a finite number; got Infinity$/, "slope Infinity");
  throwsWith(() => scaledDotProductAttention({ data: new Float32Array(4), shape: [2, 2] }, { data: new Float32Array(4), shape: [2, 2] }, { data: new Float32Array(4), shape: [2, 2] },
    { alibiSlopes: new Float32Array(2) }), RangeError, /options\.alibiSlopes\.length must be 1 \(no leading dims: one slice\); got 2$/, "slopes without leading dims");
  const C = "MultiHeadAttention";
  const mk = (c: object) => () => new MultiHeadAttention({ embedDim: 8, numHeads: 2, ...c } as never);
  throwsWith(mk({ softcap: -3 }), RangeError, new RegExp(`^${C}: config\\.softcap must be a finite number > 0; got -3$`), "config softcap");
  throwsWith(mk({ softcap: null }), TypeError, /config\.softcap must be a number .*; got null$/, "config softcap null");
  throwsWith(mk({ alibi: 1 }), TypeError, new RegExp(`^${C}: config\\.alibi must be a boolean; got 1$`), "alibi 1");
  throwsWith(mk({ alibiSlopes: new Float32Array(3) }), RangeError, /config\.alibiSlopes\.length must equal numHeads = 2 \(one slope per query head\); got 3$/, "config slopes length");
  throwsWith(mk({ alibiSlopes: [1, 2] }), TypeError, /config\.alibiSlopes must be a Float32Array of ALiBi slopes; got an Array\(2\)$/, "config slopes array");
  throwsWith(mk({ alibi: true, alibiSlopes: new Float32Array(2) }), TypeError, /give config\.alibi: true .* or config\.alibiSlopes .*, not both/, "both");
  throwsWith(mk({ alibis: true }), TypeError, /unknown option "alibis"/, "typo");
  const m = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 1 });
  const q = { data: new Float32Array(3 * 8), shape: [3, 8] };
  throwsWith(() => m.forward(q, undefined, undefined, { softcap: 0 }), RangeError, /^MultiHeadAttention\.forward: options\.softcap must be a finite number > 0; got 0$/, "forward softcap 0");
  throwsWith(() => m.forward(q, undefined, undefined, { alibi: true } as never), TypeError, /unknown option "alibi"/, "alibi is a config option");
  assert.is(m.forward(q).output.data.length, 24, "the instance still works");
  m.dispose();
  stillWorks("after bad softcap/ALiBi options");
});

test.run();
