// test/src/window-mha.test.ts ↔ the `window` option of src/mha.ts (forward), src/mha-plan.ts and the config
// default (src/mha-config.ts): MultiHeadAttention with a sliding window against float64 (the window as a
// boolean attnMask in the reference), the config's default and a call's override, KV-cache steps (the
// decode path: decode_attention_f32's window) against one causal forward, bad values.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MultiHeadAttention, type MultiHeadAttentionOptions } from "../../src/index.js";
import { BM, KC } from "../constants.js";
import { assertRowsClose, rng, throwsWith } from "../helpers.js";
import { stillWorks } from "../support.js";
import { bitsEqual, model, refForward, rowsOf, tensor } from "./reliability-support.js";

const RTOL = 1e-5;

/** The window [left, right] for L queries and S keys as a boolean attnMask [L, S] (1 = may attend). */
function windowMask(L: number, S: number, win: readonly [number, number]): { data: Uint8Array; shape: number[] } {
  const [l, r] = win.map((x) => (x === -1 ? Infinity : x));
  const m = new Uint8Array(L * S);
  for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) m[i * S + j] = j >= i + S - L - l && j <= i + S - L + r ? 1 : 0;
  return { data: m, shape: [L, S] };
}

test("MultiHeadAttention.forward({ window }) vs float64: self- and cross-attention, causal, padding, GQA, weights per head", () => {
  const rand = rng(21);
  const m = model({ E: 24, H: 4, Hkv: 2 }, 3);
  for (const [L, S, win, causal] of [
    [7, 7, [2, 0], true], [BM + 5, BM + 5, [9, -1], true], [BM + 5, BM + 5, [3, 4], false], [1, 40, [6, 0], false],
    [2, KC + 9, [KC - 3, 1], false], [2 * BM + 1, KC + 30, [40, 2], true], [KC + 11, KC + 11, [100, -1], true],
  ] as Array<[number, number, [number, number], boolean]>) {
    const B = 2;
    const x = tensor(rand, [B, L, 24]);
    const kv = L === S ? undefined : tensor(rand, [B, S, 24]);
    const pad = { data: Uint8Array.from({ length: B * S }, (_, n) => (n % 11 === 4 ? 1 : 0)), shape: [B, S] };
    for (const keyPaddingMask of [undefined, pad]) {
      const o: MultiHeadAttentionOptions = { causal, keyPaddingMask, needWeights: true, averageWeights: false };
      const got = m.mha.forward(x, kv, kv, { ...o, window: win });
      const ref = refForward(m, x, kv, kv, { ...o, attnMask: windowMask(L, S, win) });
      const what = `L=${L} S=${S} window=[${win}] causal=${causal}${keyPaddingMask ? " padded" : ""}`;
      assertRowsClose(got.output.data, ref.out, 24, RTOL, `${what}: output`);
      assertRowsClose(got.weights!.data, ref.w, S, RTOL, `${what}: weights`);
    }
  }
  m.mha.dispose();
});

test("config.window is every forward's default; a call's window overrides it; [-1, -1] is no window (same bits)", () => {
  const rand = rng(22);
  const base = model({ E: 16, H: 2 }, 5);
  const mw = new MultiHeadAttention({ embedDim: 16, numHeads: 2, window: [5, 0] });
  mw.loadWeights(base.weights);
  const x = tensor(rand, [1, BM + 9, 16]);
  const a = mw.forward(x, undefined, undefined, { causal: true }).output.data;
  bitsEqual(a, base.mha.forward(x, undefined, undefined, { causal: true, window: [5, 0] }).output.data, "config window = call window");
  bitsEqual(mw.forward(x, undefined, undefined, { causal: true, window: [-1, -1] }).output.data,
    base.mha.forward(x, undefined, undefined, { causal: true }).output.data, "call window [-1, -1] overrides the config's: no window");
  bitsEqual(mw.forward(x, undefined, undefined, { causal: true, window: [2, 0] }).output.data,
    base.mha.forward(x, undefined, undefined, { causal: true, window: [2, 0] }).output.data, "call window [2, 0] overrides [5, 0]");
  mw.dispose();
  base.mha.dispose();
});

test("KV cache with a window: a prefix then one-token steps (the decode kernel's window) match one windowed causal forward over the sequence", () => {
  const rand = rng(23);
  const m = model({ E: 32, H: 4, Hkv: 1 }, 9);
  const B = 2, T = 70, P = 50, win: [number, number] = [12, 0];
  const x = tensor(rand, [B, T, 32]);
  const whole = m.mha.forward(x, undefined, undefined, { causal: true, window: win }).output.data;
  const ref = refForward(m, x, undefined, undefined, { causal: true, attnMask: windowMask(T, T, win) });
  assertRowsClose(whole, ref.out, 32, RTOL, "whole sequence vs float64");
  const cache = m.mha.createCache({ batch: B, maxLength: T });
  const pre = m.mha.forward({ data: rowsOf(x.data, B, T, 32, 0, P), shape: [B, P, 32] }, undefined, undefined, { cache, window: win }).output.data;
  assertRowsClose(pre, rowsOf(ref.out, B, T, 32, 0, P), 32, RTOL, "prefix");
  for (let t = P; t < T; t++) {
    const step = m.mha.forward({ data: rowsOf(x.data, B, T, 32, t, t + 1), shape: [B, 1, 32] }, undefined, undefined, { cache, window: win }).output.data;
    assertRowsClose(step, rowsOf(ref.out, B, T, 32, t, t + 1), 32, RTOL, `step ${t}`);
  }
  // one step with and without a window that keeps the whole cache: the same bits
  cache.truncate(T - 1);
  const last = { data: rowsOf(x.data, B, T, 32, T - 1, T), shape: [B, 1, 32] };
  const keep = m.mha.forward(last, undefined, undefined, { cache, window: [T - 1, 0] }).output.data;
  cache.truncate(T - 1);
  bitsEqual(keep, m.mha.forward(last, undefined, undefined, { cache }).output.data, "decode step: window keeping every key = no window");
  cache.dispose();
  m.mha.dispose();
});

test("MultiHeadAttention window: bad config.window and options.window are TypeError/RangeError naming them; the layer keeps working", () => {
  throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, window: 4 as never }), TypeError, /config\.window must be an array/, "config 4");
  throwsWith(() => new MultiHeadAttention({ embedDim: 8, numHeads: 2, window: [1, -3] }), RangeError, /config\.window\[1\] must be an integer ≥ 0/, "config [1, -3]");
  const m = model({ E: 8, H: 2 }, 4);
  const x = tensor(rng(24), [1, 5, 8]);
  throwsWith(() => m.mha.forward(x, undefined, undefined, { window: [1] as never }), RangeError, /options\.window\.length must be 2/, "forward [1]");
  throwsWith(() => m.mha.forward(x, undefined, undefined, { window: [0.5, 1] }), RangeError, /options\.window\[0\]/, "forward [0.5, 1]");
  const rolling = m.mha.createCache({ window: 8 });
  throwsWith(() => m.mha.forward(x, undefined, undefined, { cache: rolling, window: [2, 0] }), TypeError, /options\.window\) needs a plain cache: this cache is a rolling one/, "window with a rolling cache");
  rolling.dispose();
  const ok = m.mha.forward(x, undefined, undefined, { window: [1, 1] });
  assert.is(ok.output.data.length, 40);
  m.mha.dispose();
  stillWorks("after bad MHA windows");
});

test.run();
