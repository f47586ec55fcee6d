// test/src/rotary-mha.test.ts ↔ MultiHeadAttention's `rotary` config and `positions` option (src/mha.ts,
// src/mha-config.ts, src/rotary.ts): RoPE on every query and key head after the projections, before
// caching; row i of a call at position positions[i], else cache.length + i (i without a cache).
// Checked against refMha with RoPE (test/reference.ts + reference-rotary.ts, float64) at 1e-5 of each
// row's scale (mag), and a prefix + single-token steps against one causal forward (the LLaMA-shaped
// block of issue 19: E = 64, H = 8, Hkv = 2) at 1e-6.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MultiHeadAttention, type Tensor } from "../../src/index.js";
import { assertRowsClose, randn, rng, throwsWith } from "../helpers.js";
import { refMha } from "../reference.js";
import { type RefRotary } from "../reference-rotary.js";
import { stillWorks } from "../support.js";
import { type MhaCfg, fullCfg, randomWeights } from "./reliability-support.js";

type Rotary = { dim?: number; base?: number; interleaved?: boolean };

function rotaryModel(c: Partial<MhaCfg> & { E: number; H: number }, rotary: Rotary, seed = 1) {
  const cfg = fullCfg(c);
  const mha = new MultiHeadAttention({ embedDim: cfg.E, numHeads: cfg.H, numKVHeads: cfg.Hkv, bias: cfg.bias, seed, rotary });
  const { weights, ref } = randomWeights(rng(seed * 7919 + 13), cfg);
  mha.loadWeights(weights);
  return { mha, cfg, ref };
}

const t = (data: Float32Array, shape: number[]): Tensor => ({ data, shape });

/** refMha over x [B, T, E] (self-attention) with RoPE at positions pos(i). */
function reference(m: ReturnType<typeof rotaryModel>, x: Float32Array, B: number, T: number, rotary: Rotary, causal: boolean, pos = (i: number) => i) {
  const { E, H, Hkv } = m.cfg;
  const ro: RefRotary & { qPos: (i: number) => number; kPos: (j: number) => number } =
    { dim: rotary.dim ?? E / H, base: rotary.base, interleaved: rotary.interleaved, qPos: pos, kPos: pos };
  return refMha(x, x, x, B, T, T, E, H, Hkv, E, E, m.ref, { causal, rotary: ro });
}

test("rotary forward (no cache) vs float64: both layouts, partial dim, base, GQA, causal or not, odd sizes", () => {
  const cases: [Partial<MhaCfg> & { E: number; H: number }, Rotary, number, number, boolean][] = [
    [{ E: 64, H: 8, Hkv: 2 }, {}, 2, 13, true],
    [{ E: 64, H: 8, Hkv: 2 }, { interleaved: true }, 1, 9, false],
    [{ E: 48, H: 4, Hkv: 1 }, { dim: 6, base: 500 }, 2, 5, true],          // Dh 12, rotary_pct 0.5
    [{ E: 36, H: 3, bias: false }, { dim: 10, interleaved: true }, 3, 7, true],   // Dh 12: tails of both layouts
    [{ E: 20, H: 2 }, { dim: 2 }, 1, 1, true],
  ];
  cases.forEach(([c, rotary, B, L, causal], n) => {
    const m = rotaryModel(c, rotary, n + 1);
    const x = randn(rng(100 + n), B * L * c.E);
    const got = m.mha.forward(t(x, [B, L, c.E]), undefined, undefined, { causal }).output.data;
    const ref = reference(m, x, B, L, rotary, causal);
    assertRowsClose(got, ref.out, c.E, 1e-5, `case ${n} ${JSON.stringify(rotary)}`, ref.mag);
    assert.equal(m.mha.rotary, { dim: rotary.dim ?? c.E / c.H, base: rotary.base ?? 10000, interleaved: rotary.interleaved ?? false });
    m.mha.dispose();
  });
});

test("rotary: explicit positions (around 100 000 too) vs float64; scores depend only on position differences", () => {
  const c = { E: 64, H: 8, Hkv: 2 };
  const m = rotaryModel(c, {});
  const L = 11, x = randn(rng(5), L * c.E);
  for (const start of [0, 7, 100_000]) {
    const positions = Int32Array.from({ length: L }, (_, i) => start + i);
    const got = m.mha.forward(t(x, [L, c.E]), undefined, undefined, { causal: true, positions }).output.data;
    const ref = reference(m, x, 1, L, {}, true, (i) => start + i);
    assertRowsClose(got, ref.out, c.E, 1e-5, `start ${start}`, ref.mag);
    // RoPE is relative: the same rows as positions 0 … L−1 (float64's are identical)
    const base = reference(m, x, 1, L, {}, true);
    assertRowsClose(got, base.out, c.E, 1e-5, `start ${start} vs 0`, base.mag);
  }
  // Positions need not be increasing.
  const positions = Int32Array.from([5, 3, 9, 0, 1, 1, 40, 2, 8, 7, 6]);
  const got = m.mha.forward(t(x, [L, c.E]), undefined, undefined, { positions }).output.data;
  const ref = reference(m, x, 1, L, {}, false, (i) => positions[i]);
  assertRowsClose(got, ref.out, c.E, 1e-5, "shuffled positions", ref.mag);
  m.mha.dispose();
});

test("LLaMA-shaped block (RoPE + GQA + causal, E 64, H 8, Hkv 2): prefix + 100 single-token steps = one causal forward (1e-6), both vs float64", () => {
  for (const rotary of [{}, { interleaved: true, dim: 6 }] as Rotary[]) {
    const c = { E: 64, H: 8, Hkv: 2, bias: false };
    const m = rotaryModel(c, rotary, 3);
    const B = 2, P = 37, N = 100, T = P + N, E = c.E;
    const x = randn(rng(77), B * T * E);
    const full = m.mha.forward(t(x, [B, T, E]), undefined, undefined, { causal: true }).output.data;
    const cache = m.mha.createCache({ batch: B, maxLength: T });
    const stepped = new Float32Array(B * T * E);
    const put = (y: Float32Array, at: number, n: number) => {
      for (let b = 0; b < B; b++) stepped.set(y.subarray(b * n * E, (b + 1) * n * E), (b * T + at) * E);
    };
    const slice = (at: number, n: number) => {
      const s = new Float32Array(B * n * E);
      for (let b = 0; b < B; b++) s.set(x.subarray((b * T + at) * E, (b * T + at + n) * E), b * n * E);
      return s;
    };
    put(m.mha.forward(t(slice(0, P), [B, P, E]), undefined, undefined, { cache }).output.data, 0, P);
    for (let i = P; i < T; i++) put(m.mha.forward(t(slice(i, 1), [B, 1, E]), undefined, undefined, { cache }).output.data, i, 1);
    assert.is(cache.length, T);
    const ref = reference(m, x, B, T, rotary, true);
    assertRowsClose(stepped, full, E, 1e-6, `${JSON.stringify(rotary)}: steps vs one forward`, ref.mag);
    assertRowsClose(full, ref.out, E, 1e-5, `${JSON.stringify(rotary)}: one forward vs float64`, ref.mag);
    assertRowsClose(stepped, ref.out, E, 1e-5, `${JSON.stringify(rotary)}: steps vs float64`, ref.mag);
    // truncate and redo: the same rows again
    cache.truncate(P + 50);
    const again = m.mha.forward(t(slice(P + 50, 1), [B, 1, E]), undefined, undefined, { cache }).output.data;
    for (let b = 0; b < B; b++) {
      assert.equal(Array.from(again.subarray(b * E, (b + 1) * E)), Array.from(stepped.subarray((b * T + P + 50) * E, (b * T + P + 51) * E)), "redo after truncate");
    }
    m.mha.dispose();
  }
});

test("options together: RoPE + softcap + ALiBi + GQA, causal, with a cache (prefix + steps) and without, vs float64", () => {
  const c = { E: 48, H: 4, Hkv: 2 }, E = c.E, T = 23, P = 9;
  const cfg = fullCfg(c);
  const mha = new MultiHeadAttention({ embedDim: E, numHeads: c.H, numKVHeads: c.Hkv, rotary: { dim: 8, base: 1000 }, softcap: 3, alibi: true });
  const { weights, ref: rw } = randomWeights(rng(17), cfg);
  mha.loadWeights(weights);
  const x = randn(rng(18), T * E, -2, 2);
  const ref = refMha(x, x, x, 1, T, T, E, c.H, c.Hkv, E, E, rw, {
    causal: true, softcap: 3, alibiSlopes: mha.alibiSlopes!, rotary: { dim: 8, base: 1000, qPos: (i) => i, kPos: (j) => j },
  });
  const full = mha.forward(t(x, [T, E]), undefined, undefined, { causal: true }).output.data;
  assertRowsClose(full, ref.out, E, 1e-5, "one forward", ref.mag);
  const cache = mha.createCache({ maxLength: T });
  const steps = new Float32Array(T * E);
  steps.set(mha.forward(t(x.subarray(0, P * E), [P, E]), undefined, undefined, { cache }).output.data);
  for (let i = P; i < T; i++) steps.set(mha.forward(t(x.subarray(i * E, (i + 1) * E), [1, E]), undefined, undefined, { cache }).output.data, i * E);
  assertRowsClose(steps, ref.out, E, 1e-5, "prefix + steps", ref.mag);
  assertRowsClose(steps, full, E, 1e-6, "prefix + steps vs one forward", ref.mag);
  mha.dispose();
});

test("rotary bad input: config and forward errors name the argument; the layer still works", () => {
  const ctor = (rotary: unknown) => () => new MultiHeadAttention({ embedDim: 24, numHeads: 2, rotary: rotary as Rotary });
  throwsWith(ctor(true), TypeError, /config\.rotary must be an object \{ dim\?, base\?, interleaved\? \}/, "rotary true");
  throwsWith(ctor({ dim: 5 }), RangeError, /config\.rotary\.dim must be even and ≤ the head width embedDim \/ numHeads = 12; got 5/, "odd dim");
  throwsWith(ctor({ dim: 14 }), RangeError, /config\.rotary\.dim must be even and ≤ the head width/, "dim > Dh");
  throwsWith(ctor({ base: -1 }), RangeError, /config\.rotary\.base must be a finite number > 0/, "base");
  throwsWith(ctor({ interleaved: "yes" }), TypeError, /config\.rotary\.interleaved must be a boolean/, "interleaved");
  throwsWith(ctor({ dims: 4 }), TypeError, /unknown option "dims"/, "typo");
  throwsWith(() => new MultiHeadAttention({ embedDim: 15, numHeads: 3, rotary: {} }), RangeError, /config\.rotary\.dim must be given when the head width .* = 5 is odd/, "odd Dh");
  const m = rotaryModel({ E: 24, H: 2 }, {});
  const x = t(randn(rng(1), 3 * 24), [3, 24]);
  throwsWith(() => m.mha.forward(x, x, x), TypeError, /rotary config, which is for self-attention; omit key and value/, "cross-attention");
  throwsWith(() => m.mha.forward(x, undefined, undefined, { positions: new Int32Array(2) }), RangeError, /options\.positions\.length must equal the number of rows L = 3; got 2/, "positions length");
  throwsWith(() => m.mha.forward(x, undefined, undefined, { positions: [0, 1, 2] as unknown as Int32Array }), TypeError, /options\.positions must be an Int32Array/, "positions array");
  const plain = new MultiHeadAttention({ embedDim: 24, numHeads: 2 });
  assert.is(plain.rotary, null);
  throwsWith(() => plain.forward(x, undefined, undefined, { positions: new Int32Array(3) }), TypeError, /options\.positions is for a layer with a rotary config/, "no rotary");
  plain.dispose();
  stillWorks("after rotary errors");
  const ref = reference(m, x.data, 1, 3, {}, true);
  assertRowsClose(m.mha.forward(x, undefined, undefined, { causal: true }).output.data, ref.out, 24, 1e-5, "then forward", ref.mag);
  m.mha.dispose();
});

test.run();
