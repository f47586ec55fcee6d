// Property-based tests (issue #5): fast-check draws shapes (1, odd sizes, 0 now and then, several batch dims),
// masks (boolean and additive, broadcast shapes), scales and options, and every public computation is checked
// against the float64 references (test/reference.ts) on the build under test: scaledDotProductAttention,
// matmul (transposes, batch broadcasting), softmax and MultiHeadAttention.forward (self/cross, GQA, masks,
// needWeights). Each property is seeded, so a failure prints a counterexample and a seed that reproduce it.
// Data comes from a seeded rng drawn by fast-check (shrinking acts on shapes and flags, not on floats).
// Shapes: batch dims, L query rows, S keys, E query/key width, Ev value width; matmul M×K · K×N.
// Run: WASM_ATTENTION_BUILD=debug node --import tsx scripts/uvu-run.mjs test/src/property.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { assertClose, assertRowsClose, randBytes, randn, rng } from "../helpers.js";
import {
  matmul, scaledDotProductAttention as sdpa, softmax,
  type Mask, type MultiHeadAttentionOptions, type SdpaOptions, type Tensor,
} from "../../src/index.js";
import { BM, KC } from "../constants.js";
import { heapInUse, model, prod, refForward, refMatmulCall, refSdpaCall, refSoftmaxCall, tensor } from "./reliability-support.js";

const RTOL = 1e-5;

/** A dim: mostly the tile edges and small odd sizes, sometimes anything up to max, rarely 0. */
const dim = (max: number, zero = true): fc.Arbitrary<number> => fc.oneof(
  { arbitrary: fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 17), weight: 6 },
  { arbitrary: fc.integer({ min: 1, max }), weight: 3 },
  { arbitrary: fc.constant(0), weight: zero ? 1 : 0 },
);
const batchDims = fc.array(fc.oneof({ arbitrary: fc.integer({ min: 1, max: 3 }), weight: 12 }, { arbitrary: fc.constant(0), weight: 1 }), { maxLength: 3 });
/** For each of the last `rank` dims of target: keep it or make it 1 (a broadcastable shape). */
const broadcastPlan = fc.record({ rank: fc.nat(), keep: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }) });

function maskShape(target: number[], plan: { rank: number; keep: boolean[] }): number[] {
  const r = plan.rank % (target.length + 1);
  return target.slice(target.length - r).map((d, i) => (plan.keep[i] ? d : 1));
}

/** Boolean (~70% may attend) or additive (uniform ±3 with ~15% −Infinity) mask data. */
function maskData(rand: () => number, n: number, bool: boolean): Uint8Array | Float32Array {
  if (bool) return randBytes(rand, n, 0.7);
  const x = randn(rand, n, -3, 3);
  for (let i = 0; i < n; i++) if (rand() < 0.15) x[i] = -Infinity;
  return x;
}

function sameValues(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) assert.unreachable(`${what}: [${i}] got ${got[i]} want ${want[i]}`);
}

// ---- scaledDotProductAttention ------------------------------------------------------------------------------

test(`property: sdpa over random batch dims, L, S, E, Ev (1, odd, 0, two ${BM}-row blocks), masks, scale, causal, returnWeights = the float64 reference`, () => {
  const arb = fc.record({
    batch: batchDims,
    L: fc.oneof({ arbitrary: dim(20), weight: 9 }, { arbitrary: fc.integer({ min: BM + 1, max: BM + 5 }), weight: 1 }),
    S: fc.oneof({ arbitrary: dim(20), weight: 9 }, { arbitrary: fc.integer({ min: 60, max: 70 }), weight: 1 }),
    E: dim(17), Ev: dim(17),
    mask: fc.constantFrom("none", "bool", "additive"), plan: broadcastPlan,
    scale: fc.option(fc.oneof(fc.double({ min: -2, max: 2, noNaN: true }), fc.constantFrom(0, 1, 0.125, -0)), { nil: undefined }),
    causal: fc.option(fc.boolean(), { nil: undefined }), returnWeights: fc.option(fc.boolean(), { nil: undefined }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
  fc.assert(fc.property(arb, (c) => {
    const rand = rng(c.seed);
    const q = tensor(rand, [...c.batch, c.L, c.E]), k = tensor(rand, [...c.batch, c.S, c.E]), v = tensor(rand, [...c.batch, c.S, c.Ev]);
    const target = [...c.batch, c.L, c.S];
    const o: SdpaOptions = {};
    if (c.mask !== "none") {
      const shape = maskShape(target, c.plan);
      o.mask = { data: maskData(rand, prod(shape), c.mask === "bool"), shape } as Mask;
    }
    if (c.scale !== undefined) o.scale = c.scale;
    if (c.causal !== undefined) o.causal = c.causal;
    if (c.returnWeights !== undefined) o.returnWeights = c.returnWeights;
    const copies = [q.data, k.data, v.data, o.mask?.data].map((d) => d?.slice());
    const mark = heapInUse();
    const r = sdpa(q, k, v, o);
    assert.is(heapInUse(), mark, "heap back");
    [q.data, k.data, v.data, o.mask?.data].forEach((d, i) => d && sameValues(d, copies[i]!, `input ${i} unchanged`));
    const ref = refSdpaCall(q, k, v, o);
    assert.equal(r.output.shape, ref.outShape, "output shape");
    assertRowsClose(r.output.data, ref.out, c.Ev, RTOL, "output", ref.mag);
    if (c.returnWeights) {
      assert.equal(r.weights?.shape, ref.wShape, "weights shape");
      assertRowsClose(r.weights!.data, ref.w, c.S, RTOL, "weights");
    } else {
      assert.is(r.weights, undefined, "no weights unless returnWeights");
    }
  }), { seed: 0x5d9a, numRuns: 1000 });
});

// ---- matmul -------------------------------------------------------------------------------------------------

test(`property: matmul over random M, K, N (now and then K ∈ {${[KC - 1, KC, KC + 1, 2 * KC + 3]}}: around the k-block KC), transposes and broadcast batch dims = the float64 reference`, () => {
  const operandBatch = fc.record({ drop: fc.nat(), ones: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }) });
  const arb = fc.record({
    batch: batchDims, pa: operandBatch, pb: operandBatch,
    M: dim(24), N: dim(24),
    K: fc.oneof({ arbitrary: dim(24), weight: 12 }, { arbitrary: fc.constantFrom(KC - 1, KC, KC + 1, 2 * KC + 3), weight: 1 }),
    transposeA: fc.option(fc.boolean(), { nil: undefined }), transposeB: fc.option(fc.boolean(), { nil: undefined }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
  // each operand's batch: a suffix of the common batch with some dims made 1
  const own = (batch: number[], p: { drop: number; ones: boolean[] }) =>
    batch.slice(p.drop % (batch.length + 1)).map((d, i) => (p.ones[i] ? 1 : d));
  fc.assert(fc.property(arb, (c) => {
    const rand = rng(c.seed);
    const ba = own(c.batch, c.pa), bb = own(c.batch, c.pb);
    const a = tensor(rand, [...ba, ...(c.transposeA ? [c.K, c.M] : [c.M, c.K])]);
    const b = tensor(rand, [...bb, ...(c.transposeB ? [c.N, c.K] : [c.K, c.N])]);
    const o = { ...(c.transposeA !== undefined ? { transposeA: c.transposeA } : {}), ...(c.transposeB !== undefined ? { transposeB: c.transposeB } : {}) };
    const a0 = a.data.slice(), b0 = b.data.slice();
    const mark = heapInUse();
    const r = matmul(a, b, o);
    assert.is(heapInUse(), mark, "heap back");
    sameValues(a.data, a0, "a unchanged");
    sameValues(b.data, b0, "b unchanged");
    const ref = refMatmulCall(a, b, o);
    assert.equal(r.shape, ref.shape, "shape");
    assertClose(r.data, ref.data, RTOL, "C");
  }), { seed: 0x3a7, numRuns: 800 });
});

// ---- softmax ------------------------------------------------------------------------------------------------

test("property: softmax over random shapes of rank 1–4 and value ranges (±1, ±30, 90…100, −Infinity entries and rows, rare NaN/+Infinity) = the float64 reference", () => {
  const arb = fc.record({
    shape: fc.array(fc.oneof({ arbitrary: dim(40, false), weight: 15 }, { arbitrary: fc.constant(0), weight: 1 }), { minLength: 1, maxLength: 4 }),
    range: fc.constantFrom([-1, 1], [-30, 30], [90, 100], [-100, -90]),
    negInf: fc.constantFrom(0, 0.2, 1), special: fc.constantFrom(false, false, false, true),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });
  fc.assert(fc.property(arb, (c) => {
    if (prod(c.shape) > 20000) return;
    const rand = rng(c.seed);
    const x = tensor(rand, c.shape, c.range[0], c.range[1]);
    for (let i = 0; i < x.data.length; i++) {
      if (rand() < c.negInf) x.data[i] = -Infinity;
      else if (c.special && rand() < 0.02) x.data[i] = rand() < 0.5 ? NaN : Infinity;
    }
    const x0 = x.data.slice();
    const mark = heapInUse();
    const r = softmax(x);
    assert.is(heapInUse(), mark, "heap back");
    sameValues(x.data, x0, "x unchanged");
    assert.equal(r.shape, c.shape, "shape");
    assertRowsClose(r.data, refSoftmaxCall(x), c.shape[c.shape.length - 1], RTOL, "y");
  }), { seed: 0x50f7, numRuns: 600 });
});

// ---- MultiHeadAttention.forward -----------------------------------------------------------------------------

test("property: MultiHeadAttention.forward over random configs (head width 1–6, GQA/MQA, kdim/vdim, bias), self/cross, (un)batched, masks, causal, needWeights = refMha", () => {
  const arb = fc.record({
    H: fc.integer({ min: 1, max: 4 }), Dh: fc.integer({ min: 1, max: 6 }), kvDiv: fc.nat(),
    kdim: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }), vdim: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
    bias: fc.boolean(), cross: fc.boolean(), unbatched: fc.boolean(),
    B: fc.integer({ min: 1, max: 3 }),
    L: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 9 }), weight: 9 }, { arbitrary: fc.integer({ min: 41, max: 43 }), weight: 1 }),
    S: fc.integer({ min: 1, max: 11 }),
    padding: fc.constantFrom("none", "bool", "additive"), attn: fc.constantFrom("none", "bool", "additive"), plan: broadcastPlan,
    causal: fc.option(fc.boolean(), { nil: undefined }), needWeights: fc.option(fc.boolean(), { nil: undefined }),
    averageWeights: fc.option(fc.boolean(), { nil: undefined }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  });
  fc.assert(fc.property(arb, (c) => {
    const divisors = Array.from({ length: c.H }, (_, i) => i + 1).filter((d) => c.H % d === 0);
    const Hkv = divisors[c.kvDiv % divisors.length], E = c.H * c.Dh;
    const cross = c.cross || (c.kdim ?? E) !== E || (c.vdim ?? E) !== E;   // self-attention needs kdim = vdim = E
    const mark = heapInUse();
    const m = model({ E, H: c.H, Hkv, kdim: c.kdim, vdim: c.vdim, bias: c.bias }, c.seed);
    try {
      const rand = rng(c.seed + 1);
      const B = c.unbatched ? 1 : c.B, S = cross ? c.S : c.L, lead = c.unbatched ? [] : [B];
      const q = tensor(rand, [...lead, c.L, E]);
      const k = cross ? tensor(rand, [...lead, S, m.cfg.kdim]) : undefined, v = cross ? tensor(rand, [...lead, S, m.cfg.vdim]) : undefined;
      const o: MultiHeadAttentionOptions = {};
      if (c.padding !== "none") o.keyPaddingMask = { data: c.padding === "bool" ? randBytes(rand, B * S, 0.25) : maskData(rand, B * S, false), shape: c.unbatched ? [S] : [B, S] };
      if (c.attn !== "none") {
        const target = c.unbatched ? [c.H, c.L, S] : [B, c.H, c.L, S];
        const shape = maskShape(target, c.plan);
        o.attnMask = { data: maskData(rand, prod(shape), c.attn === "bool"), shape };
      }
      if (c.causal !== undefined) o.causal = c.causal;
      if (c.needWeights !== undefined) o.needWeights = c.needWeights;
      if (c.averageWeights !== undefined) o.averageWeights = c.averageWeights;
      const before = heapInUse();
      const r = m.mha.forward(q, k, v, o);
      assert.is(heapInUse(), before, "heap back after forward");
      const ref = refForward(m, q, k, v, o);
      assert.equal(r.output.shape, ref.outShape, "output shape");
      assertRowsClose(r.output.data, ref.out, E, RTOL, "output", ref.mag);
      if (c.needWeights) {
        assert.equal(r.weights?.shape, ref.wShape, "weights shape");
        assertRowsClose(r.weights!.data, ref.w, S, RTOL, "weights");
      } else {
        assert.is(r.weights, undefined, "no weights unless needWeights");
      }
    } finally {
      m.mha.dispose();
    }
    assert.is(heapInUse(), mark, "heap back after dispose");
  }), { seed: 0x3a11, numRuns: 600 });
});

test("property: a KV cache fed random chunk sizes gives the rows of one causal forward over the whole sequence (random configs, B 1–2)", () => {
  const arb = fc.record({
    H: fc.integer({ min: 1, max: 4 }), Dh: fc.integer({ min: 1, max: 5 }), kvDiv: fc.nat(), bias: fc.boolean(), B: fc.integer({ min: 1, max: 2 }),
    chunks: fc.array(fc.oneof({ arbitrary: fc.constant(1), weight: 3 }, { arbitrary: fc.integer({ min: 2, max: 7 }), weight: 1 }), { minLength: 1, maxLength: 8 }),
    seed: fc.integer({ min: 1, max: 2 ** 30 }),
  });
  fc.assert(fc.property(arb, (c) => {
    const divisors = Array.from({ length: c.H }, (_, i) => i + 1).filter((d) => c.H % d === 0);
    const E = c.H * c.Dh, T = c.chunks.reduce((a, b) => a + b, 0);
    const m = model({ E, H: c.H, Hkv: divisors[c.kvDiv % divisors.length], bias: c.bias }, c.seed);
    try {
      const x = tensor(rng(c.seed), [c.B, T, E]);
      const { out: full, mag } = refForward(m, x, undefined, undefined, { causal: true });
      const cache = m.mha.createCache({ batch: c.B, maxLength: T });
      let t = 0;
      for (const n of c.chunks) {
        const xs: Tensor = { data: new Float32Array(c.B * n * E), shape: [c.B, n, E] };
        for (let b = 0; b < c.B; b++) xs.data.set(x.data.subarray((b * T + t) * E, (b * T + t + n) * E), b * n * E);
        const got = m.mha.forward(xs, undefined, undefined, { cache }).output.data;
        const want = new Float64Array(c.B * n * E), wantMag = new Float64Array(c.B * n * E);
        for (let b = 0; b < c.B; b++) {
          want.set(full.subarray((b * T + t) * E, (b * T + t + n) * E), b * n * E);
          wantMag.set(mag.subarray((b * T + t) * E, (b * T + t + n) * E), b * n * E);
        }
        assertRowsClose(got, want, E, RTOL, `rows ${t}..${t + n}`, wantMag);
        t += n;
      }
      assert.is(cache.length, T, "cache.length");
    } finally {
      m.mha.dispose();
    }
  }), { seed: 0xcac4e, numRuns: 200 });
});

test.run();
