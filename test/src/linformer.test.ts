// test/src/linformer.test.ts ↔ src/linformer.ts and the keyProjection/valueProjection options of src/sdpa.ts:
// Linformer's attention softmax(Q·(E·K)ᵀ·scale)·(F·V) against the explicit formula in float64 (the
// projections in float64, then refAttention), shared and separate projections, batch dims, k below, at
// and above S, sizes across BM and KC; the refused combinations and bad projections.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type SdpaOptions, scaledDotProductAttention as sdpa } from "../../src/index.js";
import { BM, KC } from "../constants.js";
import { assertRowsClose, rng, throwsWith } from "../helpers.js";
import { refAttention } from "../reference.js";
import { stillWorks } from "../support.js";
import { tensor } from "./reliability-support.js";

const RTOL = 1e-5;

/** P [k, S] · X [nb, S, D] in float64 → [nb, k, D]. */
function project(P: Float32Array, k: number, S: number, X: Float32Array, nb: number, D: number): Float64Array {
  const y = new Float64Array(nb * k * D);
  for (let b = 0; b < nb; b++) {
    for (let r = 0; r < k; r++) {
      for (let d = 0; d < D; d++) {
        let s = 0;
        for (let j = 0; j < S; j++) s += P[r * S + j] * X[(b * S + j) * D + d];
        y[(b * k + r) * D + d] = s;
      }
    }
  }
  return y;
}

test(`keyProjection/valueProjection vs the explicit formula: k ∈ {1, < S, = S, > S}, batch dims, L across BM = ${BM}, S across KC = ${KC}`, () => {
  const rand = rng(1);
  let n = 0;
  for (const [batch, L, S, E, Ev, k] of [
    [[], 5, 9, 4, 3, 1], [[2], 2, 40, 8, 8, 7], [[2, 3], BM + 3, 100, 16, 5, 32], [[1], 2 * BM + 1, KC + 30, 12, 12, 64],
    [[3], 17, 20, 6, 9, 20], [[2], 9, 12, 5, 5, 30], [[1, 2], KC + 5, 300, 8, 4, KC + 1],
  ] as Array<[number[], number, number, number, number, number]>) {
    const nb = batch.reduce((a, b) => a * b, 1);
    const q = tensor(rand, [...batch, L, E]), kk = tensor(rand, [...batch, S, E]), v = tensor(rand, [...batch, S, Ev]);
    const P = tensor(rand, [k, S], -1 / Math.sqrt(S), 1 / Math.sqrt(S)), F = tensor(rand, [k, S], -1 / Math.sqrt(S), 1 / Math.sqrt(S));
    for (const shared of [false, true]) {
      const o: SdpaOptions = { keyProjection: P, returnWeights: true, ...(shared ? {} : { valueProjection: F }), ...(n++ % 3 === 2 ? { softcap: 2 } : {}) };
      const got = sdpa(q, kk, v, o);
      const K2 = project(P.data, k, S, kk.data, nb, E), V2 = project((shared ? P : F).data, k, S, v.data, nb, Ev);
      const ref = refAttention(q.data, K2, V2, batch, L, k, E, Ev, { softcap: o.softcap });
      const what = `batch ${JSON.stringify(batch)} L=${L} S=${S} k=${k}${shared ? " shared" : ""}${o.softcap ? " softcap" : ""}`;
      assert.equal(got.output.shape, [...batch, L, Ev], `${what}: output shape`);
      assert.equal(got.weights!.shape, [...batch, L, k], `${what}: weights shape [..., L, k]`);
      assertRowsClose(got.output.data, ref.out, Ev, RTOL, `${what}: output`, ref.mag);
      assertRowsClose(got.weights!.data, ref.w, k, RTOL, `${what}: weights`);
    }
  }
});

test("Linformer with an identity projection (k = S) equals plain attention (to rounding), and into options.out", () => {
  const rand = rng(2);
  const L = 30, S = 25, E = 8;
  const q = tensor(rand, [2, L, E]), k = tensor(rand, [2, S, E]), v = tensor(rand, [2, S, E]);
  const I = new Float32Array(S * S);
  for (let i = 0; i < S; i++) I[i * S + i] = 1;
  const out = new Float32Array(2 * L * E);
  const got = sdpa(q, k, v, { keyProjection: { data: I, shape: [S, S] }, out });
  assert.ok(got.output.data === out, "written into out");
  const ref = refAttention(q.data, k.data, v.data, [2], L, S, E, E);
  assertRowsClose(out, ref.out, E, RTOL, "identity projection", ref.mag);
});

test("Linformer: masks, causal, window, blockSparse and ALiBi are refused (TypeError naming them), bad projections too; the library keeps working", () => {
  const rand = rng(3);
  const q = tensor(rand, [4, 3]), k = tensor(rand, [6, 3]), v = tensor(rand, [6, 2]);
  const P = tensor(rand, [2, 6]);
  const refused: Array<[SdpaOptions, RegExp]> = [
    [{ causal: true }, /options\.causal cannot be combined with options\.keyProjection/],
    [{ causal: "top-left" }, /options\.causal cannot be combined/],
    [{ mask: { data: new Uint8Array(6).fill(1), shape: [1, 6] } }, /options\.mask cannot be combined/],
    [{ window: [1, 1] }, /options\.window cannot be combined/],
    [{ blockSparse: { blockSize: 2, layout: { data: new Uint8Array(6), shape: [2, 3] } } }, /options\.blockSparse cannot be combined/],
    [{ alibiSlopes: Float32Array.of(0.5) }, /options\.alibiSlopes cannot be combined/],
  ];
  for (const [extra, re] of refused) throwsWith(() => sdpa(q, k, v, { keyProjection: P, ...extra }), TypeError, re, JSON.stringify(Object.keys(extra)));
  throwsWith(() => sdpa(q, k, v, { valueProjection: P }), TypeError, /options\.keyProjection must be a tensor/, "valueProjection alone");
  throwsWith(() => sdpa(q, k, v, { keyProjection: { data: new Float32Array(10), shape: [2, 5] } }), RangeError, /options\.keyProjection\.shape\[1\] must equal the key length S = 6/, "wrong S");
  throwsWith(() => sdpa(q, k, v, { keyProjection: { data: new Float32Array(12), shape: [1, 2, 6] } }), RangeError, /options\.keyProjection\.shape must be \[k, S\]/, "rank 3");
  throwsWith(() => sdpa(q, k, v, { keyProjection: P, valueProjection: tensor(rand, [3, 6]) }), RangeError, /options\.valueProjection\.shape\[0\] must equal keyProjection's k = 2/, "different k");
  throwsWith(() => sdpa(q, k, v, { keyProjection: { data: [1, 2], shape: [1, 2] } as never }), TypeError, /options\.keyProjection\.data must be a Float32Array/, "array data");
  throwsWith(() => sdpa(q, tensor(rand, [6, 4]), v, { keyProjection: P }), RangeError, /key\.shape\[1\] must equal E = 3/, "key width checked before projecting");
  stillWorks("after bad Linformer options");
});

test.run();
