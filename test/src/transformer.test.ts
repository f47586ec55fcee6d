// test/src/transformer.test.ts ↔ src/transformer*.ts, src/state-dict.ts, assembly/residual.ts:
// PyTorch's Transformer modules against float64 references (test/reference-transformer.ts) at 2e-5 of
// each row's scale: encoder and decoder layers in both normFirst modes with every activation, odd sizes
// (E = 24, H = 3, FF = 40; L = 1, 7, 65 — past a BM row block), masks of every kind, stacks with and
// without final norms, nn.Transformer; the decoder cache step by step against one causal forward;
// state_dict round trips (records and safetensors), rename (a BERT layer's HuggingFace names, gamma/beta),
// missing/misshapen keys (all or nothing); lazy initial weights; errors; 1, 2 and 3 threads.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUILD, assertRowsClose, randBytes, randn, rng, throwsWith } from "../helpers.js";
import { BM } from "../constants.js";
import { refMasks } from "../reference.js";
import { type Dict, type RefLayerDims, refDecoder, refDecoderLayer, refEncoder, refEncoderLayer } from "../reference-transformer.js";
import {
  type Tensor, Transformer, TransformerDecoder, TransformerDecoderCache, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
  init, memoryStats, terminate, writeSafetensors,
} from "../../src/index.js";
import { tuning } from "../../src/parallel.js";
import { stillWorks } from "../support.js";
import { bitsEqual } from "./reliability-support.js";

const E = 24, H = 3, FF = 40, RTOL = 2e-5;
const ACTS = ["relu", "gelu", "gelu-tanh"] as const;
const t = (data: Float32Array, shape: number[]): Tensor => ({ data, shape });
const dims = (o: Partial<RefLayerDims> = {}): RefLayerDims => ({ E, H, FF, act: "relu", eps: 1e-5, normFirst: false, bias: true, ...o });
const sd = (m: { stateDict(): Record<string, Tensor> }): Dict => m.stateDict() as Dict;
/** Rows of [B, L, E]: row b·L + i. */
function rows(x: Float32Array, B: number, L: number, i: number): Float32Array {
  const out = new Float32Array(B * E);
  for (let b = 0; b < B; b++) out.set(x.subarray((b * L + i) * E, (b * L + i + 1) * E), b * E);
  return out;
}

for (const normFirst of [false, true]) {
  for (const act of ACTS) {
    test(`TransformerEncoderLayer normFirst=${normFirst} ${act}: L ∈ {1, 7, ${BM + 1}}, B = 2, masks (padding, bool, additive), causal, unbatched = float64`, () => {
      const layer = new TransformerEncoderLayer({ dModel: E, nhead: H, dimFeedforward: FF, activation: act, normFirst, seed: 3 });
      const d = dims({ act, normFirst });
      const r = rng(normFirst ? 7 : 8);
      for (const L of [1, 7, BM + 1]) {
        const B = 2;
        const x = randn(r, B * L * E, -2, 2);
        const check = (o: Parameters<TransformerEncoderLayer["forward"]>[1], masks: ReturnType<typeof refMasks>, causal: boolean, what: string): void => {
          const y = layer.forward(t(x, [B, L, E]), o);
          assert.equal(y.shape, [B, L, E]);
          assertRowsClose(y.data, refEncoderLayer(sd(layer), "", x, B, L, d, { masks, causal }), E, RTOL, `L=${L} ${what}`);
        };
        check(undefined, [], false, "no mask");
        const pad = new Uint8Array(B * L);
        pad.fill(1, B * L - Math.floor(L / 2));   // the second sequence's last ⌊L/2⌋ keys are padding
        check({ srcKeyPaddingMask: { data: pad, shape: [B, L] } }, refMasks({ keyPaddingMask: { data: pad, shape: [B, L] } }, B, L), false, "padding");
        const bool = randBytes(r, L * L, 0.3);
        for (let i = 0; i < L; i++) bool[i * L + i] = 1;
        check({ srcMask: { data: bool, shape: [L, L] } }, refMasks({ attnMask: { data: bool, shape: [L, L] } }, B, L), false, "bool mask");
        const addm = randn(r, L * L, -1, 1);
        check({ srcMask: { data: addm, shape: [L, L] }, isCausal: true }, refMasks({ attnMask: { data: addm, shape: [L, L] } }, B, L), true, "additive + causal");
        const u = layer.forward(t(x.subarray(0, L * E), [L, E]));
        assert.equal(u.shape, [L, E]);
        assertRowsClose(u.data, refEncoderLayer(sd(layer), "", x.subarray(0, L * E), 1, L, d), E, RTOL, `L=${L} unbatched`);
      }
      layer.dispose();
    });

    test(`TransformerDecoderLayer normFirst=${normFirst} ${act}: L ∈ {1, 7, ${BM + 1}}, S ∈ {5, 9}, causal target, memory padding, memory mask = float64`, () => {
      const layer = new TransformerDecoderLayer({ dModel: E, nhead: H, dimFeedforward: FF, activation: act, normFirst, seed: 4 });
      const d = dims({ act, normFirst });
      const r = rng(normFirst ? 17 : 18);
      for (const [L, S] of [[1, 5], [7, 9], [BM + 1, 5]]) {
        const B = 2;
        const x = randn(r, B * L * E, -2, 2), mem = randn(r, B * S * E, -2, 2);
        const mpad = new Uint8Array(B * S);
        mpad.fill(1, B * S - 2);
        const mmask = randn(r, L * S, -1, 1);
        const y = layer.forward(t(x, [B, L, E]), t(mem, [B, S, E]), {
          tgtIsCausal: true, memoryKeyPaddingMask: { data: mpad, shape: [B, S] }, memoryMask: { data: mmask, shape: [L, S] },
        });
        const ref = refDecoderLayer(sd(layer), "", x, mem, B, L, S, d, { causal: true },
          { masks: refMasks({ keyPaddingMask: { data: mpad, shape: [B, S] }, attnMask: { data: mmask, shape: [L, S] } }, B, S) });
        assertRowsClose(y.data, ref, E, RTOL, `L=${L} S=${S}`);
        const tpad = new Uint8Array(B * L);
        if (L > 1) tpad[L - 1] = 1;   // first sequence's last target position is padding
        const y2 = layer.forward(t(x, [B, L, E]), t(mem, [B, S, E]), { tgtKeyPaddingMask: { data: tpad, shape: [B, L] } });
        assertRowsClose(y2.data, refDecoderLayer(sd(layer), "", x, mem, B, L, S, d, { masks: refMasks({ keyPaddingMask: { data: tpad, shape: [B, L] } }, B, L) }),
          E, RTOL, `L=${L} S=${S} target padding`);
      }
      layer.dispose();
    });
  }
}

test("TransformerEncoder (3 layers) and TransformerDecoder (2 layers), with and without final norms, both normFirst = float64", () => {
  const r = rng(21);
  for (const norm of [false, true]) {
    for (const normFirst of [false, true]) {
      const layer = { dModel: E, nhead: H, dimFeedforward: FF, normFirst, activation: "gelu" as const, seed: 5 };
      const d = dims({ normFirst, act: "gelu" });
      const enc = new TransformerEncoder({ layer, numLayers: 3, norm });
      const dec = new TransformerDecoder({ layer, numLayers: 2, norm });
      const B = 2, L = 7, S = 9;
      const src = randn(r, B * S * E, -2, 2), tgt = randn(r, B * L * E, -2, 2);
      const pad = new Uint8Array(B * S);
      pad.fill(1, B * S - 3);
      const mem = enc.forward(t(src, [B, S, E]), { srcKeyPaddingMask: { data: pad, shape: [B, S] } });
      const rm = refEncoder(sd(enc), "", 3, norm, src, B, S, d, { masks: refMasks({ keyPaddingMask: { data: pad, shape: [B, S] } }, B, S) });
      assertRowsClose(mem.data, rm, E, RTOL, `encoder norm=${norm} normFirst=${normFirst}`);
      const y = dec.forward(t(tgt, [B, L, E]), mem, { tgtIsCausal: true });
      assertRowsClose(y.data, refDecoder(sd(dec), "", 2, norm, tgt, mem.data, B, L, S, d, { causal: true }), E, RTOL, `decoder norm=${norm} normFirst=${normFirst}`);
      assert.is(Object.keys(enc.stateDict()).filter((k) => k.startsWith("norm.")).length, norm ? 2 : 0, "norm.* keys");
      enc.dispose();
      dec.dispose();
    }
  }
});

test("Transformer (2 + 2 layers, E = 24): forward = decode(encode) = float64 with final norms; Xavier-uniform matrices; config", () => {
  const tr = new Transformer({ dModel: E, nhead: H, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: FF, seed: 9 });
  assert.equal(tr.config, { dModel: E, nhead: H, dimFeedforward: FF, dropout: 0.1, activation: "relu", layerNormEps: 1e-5, normFirst: false, bias: true, numEncoderLayers: 2, numDecoderLayers: 2 });
  const r = rng(22);
  const B = 2, S = 6, L = 5;
  const src = randn(r, B * S * E, -2, 2), tgt = randn(r, B * L * E, -2, 2);
  const y = tr.forward(t(src, [B, S, E]), t(tgt, [B, L, E]), { tgtIsCausal: true });
  const s = sd(tr), d = dims();
  const mem = refEncoder(s, "encoder.", 2, true, src, B, S, d);
  assertRowsClose(y.data, refDecoder(s, "decoder.", 2, true, tgt, mem, B, L, S, d, { causal: true }), E, RTOL, "forward");
  const y2 = tr.decode(t(tgt, [B, L, E]), tr.encode(t(src, [B, S, E])), { tgtIsCausal: true });
  bitsEqual(y2.data, y.data, "decode(encode) = forward");
  // nn.Transformer's _reset_parameters: every matrix Xavier-uniform (bound √(6 / (fan_in + fan_out))).
  for (const [k, v] of Object.entries(s)) {
    if (v.shape.length !== 2) continue;
    const bound = Math.sqrt(6 / (v.shape[0] + v.shape[1]));
    const max = v.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    assert.ok(max <= bound && max > 0.9 * bound, `${k}: max |w| ${max} within the Xavier bound ${bound}`);
  }
  tr.dispose();
});

test("decoder cache: a prefix then single-token steps through a 3-layer decoder = one causal forward (1e-6 of each row's scale); reset with new memory; truncate", () => {
  for (const normFirst of [false, true]) {
    const dec = new TransformerDecoder({ layer: { dModel: E, nhead: H, dimFeedforward: FF, normFirst, seed: 6 }, numLayers: 3, norm: true });
    const r = rng(23);
    const B = 2, T = 12, S = 7, P = 4;
    const tgt = randn(r, B * T * E, -2, 2), mem = randn(r, B * S * E, -2, 2);
    const memory = t(mem, [B, S, E]);
    const whole = dec.forward(t(tgt, [B, T, E]), memory, { tgtIsCausal: true }).data;
    const cache = dec.createCache({ batch: B, maxLength: T });
    assert.instance(cache, TransformerDecoderCache);
    const prefix = new Float32Array(B * P * E);
    for (let b = 0; b < B; b++) prefix.set(tgt.subarray(b * T * E, (b * T + P) * E), b * P * E);
    const got = new Float32Array(B * T * E);
    const pre = dec.forward(t(prefix, [B, P, E]), memory, { cache }).data;
    for (let b = 0; b < B; b++) got.set(pre.subarray(b * P * E, (b + 1) * P * E), b * T * E);
    for (let i = P; i < T; i++) {
      const y = dec.forward(t(rows(tgt, B, T, i), [B, 1, E]), memory, { cache }).data;
      for (let b = 0; b < B; b++) got.set(y.subarray(b * E, (b + 1) * E), (b * T + i) * E);
    }
    assert.is(cache.length, T);
    assertRowsClose(got, whole, E, 1e-6, `normFirst=${normFirst}: steps = one forward`);
    // The memory is projected once: later steps do not read it (a NaN memory of the same shape changes nothing).
    cache.truncate(T - 1);
    const last = dec.forward(t(rows(tgt, B, T, T - 1), [B, 1, E]), t(new Float32Array(B * S * E).fill(NaN), [B, S, E]), { cache }).data;
    for (let b = 0; b < B; b++) bitsEqual(last.subarray(b * E, (b + 1) * E), got.subarray((b * T + T - 1) * E, (b * T + T) * E), "memory not re-read");
    throwsWith(() => dec.forward(t(rows(tgt, B, T, 0), [B, 1, E]), t(mem.subarray(0, B * (S - 1) * E), [B, S - 1, E]), { cache: (cache.truncate(0), cache) }),
      RangeError, /memory length.*reset/, "other memory length");
    // reset: a new sequence over new memory
    cache.reset();
    const mem2 = randn(r, B * 3 * E);
    const w2 = dec.forward(t(tgt.subarray(0, B * 2 * E), [B, 2, E]), t(mem2, [B, 3, E]), { tgtIsCausal: true }).data;
    const s1 = dec.forward(t(tgt.subarray(0, B * 2 * E), [B, 2, E]), t(mem2, [B, 3, E]), { cache }).data;
    assertRowsClose(s1, w2, E, 1e-5, "after reset");
    throwsWith(() => dec.forward(t(rows(tgt, B, T, 0), [B, 1, E]), memory, { cache: new TransformerDecoder({ layer: { dModel: E, nhead: H, dimFeedforward: FF }, numLayers: 1 }).createCache({ batch: B, maxLength: 4 }) }),
      TypeError, /another decoder/, "foreign cache");
    cache.dispose();
    throwsWith(() => dec.forward(t(rows(tgt, B, T, 0), [B, 1, E]), memory, { cache }), TypeError, /disposed/, "disposed cache");
    dec.dispose();
  }
});

test("loadStateDict: round trips (record and safetensors bytes, prefix), gamma/beta, a missing or misshapen key names it and changes nothing", () => {
  const a = new TransformerEncoder({ layer: { dModel: E, nhead: H, dimFeedforward: FF, seed: 1 }, numLayers: 2, norm: true });
  const b = new TransformerEncoder({ layer: { dModel: E, nhead: H, dimFeedforward: FF, seed: 2 }, numLayers: 2, norm: true });
  const x = t(randn(rng(24), 2 * 5 * E), [2, 5, E]);
  const ya = a.forward(x).data;
  const dict = a.stateDict("model.");
  assert.equal(Object.keys(dict).sort(), [
    "model.layers.0.linear1.bias", "model.layers.0.linear1.weight", "model.layers.0.linear2.bias", "model.layers.0.linear2.weight",
    "model.layers.0.norm1.bias", "model.layers.0.norm1.weight", "model.layers.0.norm2.bias", "model.layers.0.norm2.weight",
    "model.layers.0.self_attn.in_proj_bias", "model.layers.0.self_attn.in_proj_weight", "model.layers.0.self_attn.out_proj.bias", "model.layers.0.self_attn.out_proj.weight",
    ...["linear1.bias", "linear1.weight", "linear2.bias", "linear2.weight", "norm1.bias", "norm1.weight", "norm2.bias", "norm2.weight",
      "self_attn.in_proj_bias", "self_attn.in_proj_weight", "self_attn.out_proj.bias", "self_attn.out_proj.weight"].map((k) => `model.layers.1.${k}`),
    "model.norm.bias", "model.norm.weight",
  ].sort());
  const yb0 = b.forward(x).data;
  // A missing key: a TypeError naming it and the keys present; b unchanged.
  const missing = { ...dict };
  delete missing["model.layers.1.linear2.bias"];
  throwsWith(() => b.loadStateDict(missing, { prefix: "model." }), TypeError, /"model\.layers\.1\.linear2\.bias" \[24\] is missing \(keys present.*"model\.layers\.0\.linear1\.bias"/, "missing key");
  bitsEqual(b.forward(x).data, yb0, "unchanged after a missing key");
  const bad = { ...dict, "model.norm.weight": t(new Float32Array(E + 1), [E + 1]) };
  throwsWith(() => b.loadStateDict(bad, { prefix: "model." }), RangeError, /"model\.norm\.weight"\.shape must be \[24\]/, "misshapen key");
  bitsEqual(b.forward(x).data, yb0, "unchanged after a misshapen key");
  b.loadStateDict(dict, { prefix: "model." });
  bitsEqual(b.forward(x).data, ya, "record round trip");
  // safetensors bytes, LayerNorm parameters under their old names gamma/beta
  const c = new TransformerEncoder({ layer: { dModel: E, nhead: H, dimFeedforward: FF, seed: 3 }, numLayers: 2, norm: true });
  const renamed = Object.fromEntries(Object.entries(dict).map(([k, v]) => [k.replace(/norm(\d?)\.weight$/, "norm$1.gamma").replace(/norm(\d?)\.bias$/, "norm$1.beta"), v]));
  c.loadStateDict(writeSafetensors(renamed as never), { prefix: "model." });
  bitsEqual(c.forward(x).data, ya, "safetensors with gamma/beta");
  for (const m of [a, b, c]) m.dispose();
  stillWorks("after loadStateDict errors");
});

test("loadStateDict with rename: a BERT layer from HuggingFace's names (separate q/k/v, LayerNorm gamma/beta, eps 1e-12, GELU) = float64", () => {
  const E2 = 32, H2 = 4, FF2 = 48;
  const r = rng(25);
  const w = (o: number, i: number): Tensor => t(randn(r, o * i, -0.3, 0.3), [o, i]);
  const v = (n: number): Tensor => t(randn(r, n, -0.1, 0.1), [n]);
  const hf: Record<string, Tensor> = {};
  const p = "encoder.layer.0.";
  for (const n of ["query", "key", "value"]) { hf[`${p}attention.self.${n}.weight`] = w(E2, E2); hf[`${p}attention.self.${n}.bias`] = v(E2); }
  hf[`${p}attention.output.dense.weight`] = w(E2, E2); hf[`${p}attention.output.dense.bias`] = v(E2);
  hf[`${p}attention.output.LayerNorm.gamma`] = t(randn(r, E2, 0.5, 1.5), [E2]); hf[`${p}attention.output.LayerNorm.beta`] = v(E2);
  hf[`${p}intermediate.dense.weight`] = w(FF2, E2); hf[`${p}intermediate.dense.bias`] = v(FF2);
  hf[`${p}output.dense.weight`] = w(E2, FF2); hf[`${p}output.dense.bias`] = v(E2);
  hf[`${p}output.LayerNorm.gamma`] = t(randn(r, E2, 0.5, 1.5), [E2]); hf[`${p}output.LayerNorm.beta`] = v(E2);
  hf["embeddings.word_embeddings.weight"] = w(10, E2);   // other keys are ignored
  // The README's rename, verbatim.
  const rename = (k: string): string => k
    .replace(/^encoder\.layer\.(\d+)\./, "layers.$1.")
    .replace("attention.self.query.", "self_attn.q_proj_").replace("attention.self.key.", "self_attn.k_proj_")
    .replace("attention.self.value.", "self_attn.v_proj_").replace("attention.output.dense.", "self_attn.out_proj.")
    .replace("attention.output.LayerNorm.", "norm1.").replace("intermediate.dense.", "linear1.")
    .replace("output.dense.", "linear2.").replace("output.LayerNorm.", "norm2.");
  const bert = new TransformerEncoder({ layer: { dModel: E2, nhead: H2, dimFeedforward: FF2, activation: "gelu", layerNormEps: 1e-12 }, numLayers: 1 });
  bert.loadStateDict(writeSafetensors(hf as never), { rename });
  const L = 9;
  const x = randn(r, L * E2, -1, 1);
  const pad = new Uint8Array(L);
  pad[8] = 1;
  const y = bert.forward(t(x, [1, L, E2]), { srcKeyPaddingMask: { data: pad, shape: [1, L] } });
  // float64 straight from the HuggingFace tensors (BertLayer: post-norm, exact GELU)
  const g = (k: string): Float32Array => hf[p + k].data;
  const s: Dict = {
    "self_attn.in_proj_weight": { data: Float32Array.from([...g("attention.self.query.weight"), ...g("attention.self.key.weight"), ...g("attention.self.value.weight")]), shape: [3 * E2, E2] },
    "self_attn.in_proj_bias": { data: Float32Array.from([...g("attention.self.query.bias"), ...g("attention.self.key.bias"), ...g("attention.self.value.bias")]), shape: [3 * E2] },
    "self_attn.out_proj.weight": { data: g("attention.output.dense.weight"), shape: [E2, E2] }, "self_attn.out_proj.bias": { data: g("attention.output.dense.bias"), shape: [E2] },
    "norm1.weight": { data: g("attention.output.LayerNorm.gamma"), shape: [E2] }, "norm1.bias": { data: g("attention.output.LayerNorm.beta"), shape: [E2] },
    "linear1.weight": { data: g("intermediate.dense.weight"), shape: [FF2, E2] }, "linear1.bias": { data: g("intermediate.dense.bias"), shape: [FF2] },
    "linear2.weight": { data: g("output.dense.weight"), shape: [E2, FF2] }, "linear2.bias": { data: g("output.dense.bias"), shape: [E2] },
    "norm2.weight": { data: g("output.LayerNorm.gamma"), shape: [E2] }, "norm2.bias": { data: g("output.LayerNorm.beta"), shape: [E2] },
  };
  const ref = refEncoderLayer(s, "", x, 1, L, { E: E2, H: H2, FF: FF2, act: "gelu", eps: 1e-12, normFirst: false, bias: true },
    { masks: refMasks({ keyPaddingMask: { data: pad, shape: [1, L] } }, 1, L) });
  assertRowsClose(y.data, ref, E2, RTOL, "BERT layer");
  throwsWith(() => bert.loadStateDict(hf, { rename: (k: string) => (k.length > 1000 ? k : 7) as unknown as string }), TypeError, /options\.rename\(.*\) must be a string/, "rename returning a number");
  bert.dispose();
});

test("lazy initial weights: construction draws nothing; loaded weights before the first forward are the ones used; same seed, same weights; dropout is the identity", () => {
  const before = memoryStats()!.inUse;
  const big = new TransformerEncoder({ layer: { dModel: 768, nhead: 12, dimFeedforward: 3072 }, numLayers: 12 });
  const held = memoryStats()!.inUse - before;
  assert.ok(held > 12 * 4 * (4 * 768 * 768 + 2 * 768 * 3072) * 0.99, `weights resident: ${held} bytes`);
  big.dispose();
  assert.is(memoryStats()!.inUse, before, "dispose frees every block");
  const a = new TransformerEncoderLayer({ dModel: E, nhead: H, dimFeedforward: FF, seed: 11, dropout: 0.5 });
  const b = new TransformerEncoderLayer({ dModel: E, nhead: H, dimFeedforward: FF, seed: 11, dropout: 0 });
  const x = t(randn(rng(26), 3 * E), [3, E]);
  bitsEqual(a.forward(x).data, b.forward(x).data, "same seed; dropout ignored");
  const c = new TransformerEncoderLayer({ dModel: E, nhead: H, dimFeedforward: FF, seed: 12 });
  c.loadStateDict(a.stateDict());
  bitsEqual(c.forward(x).data, a.forward(x).data, "loaded before the first forward");
  for (const m of [a, b, c]) m.dispose();
});

test("errors: config, inputs, masks, options, dispose; the library still works after each", () => {
  const layer = new TransformerEncoderLayer({ dModel: E, nhead: H, dimFeedforward: FF });
  const dec = new TransformerDecoderLayer({ dModel: E, nhead: H, dimFeedforward: FF });
  const x = t(new Float32Array(2 * 3 * E), [2, 3, E]);
  const cases: [() => unknown, typeof TypeError, RegExp][] = [
    [() => new TransformerEncoderLayer({ dModel: 24, nhead: 5 }), RangeError, /config\.nhead must divide dModel = 24; got 5/],
    [() => new TransformerEncoderLayer({ dModel: 24, nhead: 3, activation: "swish" as never }), TypeError, /config\.activation.*"relu", "gelu", "gelu-tanh"/],
    [() => new TransformerEncoderLayer({ dModel: 24, nhead: 3, dropout: 2 }), RangeError, /config\.dropout must be in \[0, 1\]/],
    [() => new TransformerEncoderLayer({ dModel: 24, nhead: 3, layerNormEps: -1 }), RangeError, /layerNormEps must be ≥ 0/],
    [() => new TransformerEncoderLayer({ dModel: 24, nhead: 3, dim_feedforward: 8 } as never), TypeError, /unknown option "dim_feedforward"/],
    [() => new TransformerEncoder({ layer: { dModel: 24, nhead: 3 }, numLayers: 0 }), RangeError, /config\.numLayers must be an integer ≥ 1/],
    [() => new Transformer({ numEncoderLayers: 1.5 }), RangeError, /numEncoderLayers/],
    [() => layer.forward(t(new Float32Array(2 * 3 * 8), [2, 3, 8])), RangeError, /src\.shape\[2\] must equal dModel = 24; got 8/],
    [() => layer.forward(x, { srcMask: { data: new Uint8Array(4), shape: [2, 2] } }), RangeError, /options\.attnMask\.shape must broadcast/],
    [() => layer.forward(x, { srcKeyPaddingMask: { data: new Uint8Array(3), shape: [3] } }), RangeError, /keyPaddingMask\.shape must be \[2, 3\]/],
    [() => layer.forward(x, { casual: true } as never), TypeError, /unknown option "casual"/],
    [() => layer.forward(x, { out: new Float32Array(5) }), RangeError, /options\.out\.length/],
    [() => dec.forward(x, t(new Float32Array(3 * 4 * E), [3, 4, E])), RangeError, /memory\.shape\[0\] must equal tgt's batch B = 2; got 3/],
    [() => dec.forward(x, t(new Float32Array(4 * E), [4, E])), RangeError, /memory\.shape must have rank 3/],
    [() => dec.forward(x, x, { cache: {} as never }), TypeError, /options\.cache must be a TransformerDecoderCache/],
    [() => dec.createCache({ batch: 1, maxLength: 0 }), RangeError, /maxLength must be an integer ≥ 1/],
    [() => layer.loadStateDict(new Uint8Array(3)), RangeError, /loadStateDict: readSafetensors/],
    [() => layer.loadStateDict({}, { prefix: 3 } as never), TypeError, /options\.prefix must be a string/],
    [() => new (TransformerDecoderCache as unknown as new () => unknown)(), TypeError, /not constructible/],
  ];
  cases.forEach(([f, cls, re], i) => {
    throwsWith(f, cls, re, `case ${i}`);
    stillWorks(`transformer error case ${i}`);
  });
  const cache = dec.createCache({ batch: 2, maxLength: 2 });
  dec.forward(x.data.subarray(0, 2 * 2 * E) && t(x.data.subarray(0, 2 * 2 * E), [2, 2, E]), x, { cache });
  throwsWith(() => dec.forward(t(x.data.subarray(0, 2 * E), [2, 1, E]), x, { cache }), RangeError, /fit in the cache: 2 cached \+ 1 new ≤ maxLength = 2/, "cache overflow");
  layer.dispose();
  dec.dispose();
  throwsWith(() => layer.forward(x), TypeError, /disposed/, "forward after dispose");
  throwsWith(() => layer.stateDict(), TypeError, /disposed/, "stateDict after dispose");
  throwsWith(() => cache.reset(), TypeError, /disposed/, "a cache dies with its decoder");
  stillWorks("after dispose");
});

test("Transformer layers give the same bits on 1, 2 and 3 threads (every job through the workers): encoder, decoder, cached steps", async () => {
  if (BUILD === "scalar") return;   // no threads variant
  const minWork = tuning.minWork;
  const run = (): Float32Array[] => {
    const r = rng(31);
    const enc = new TransformerEncoderLayer({ dModel: E, nhead: H, dimFeedforward: FF, seed: 1, activation: "gelu" });
    const dec = new TransformerDecoder({ layer: { dModel: E, nhead: H, dimFeedforward: FF, seed: 2, normFirst: true }, numLayers: 2, norm: true });
    const L = BM + 3, S = 9;
    const out = [enc.forward(t(randn(r, 2 * L * E), [2, L, E]), { isCausal: true }).data];
    const mem = t(randn(r, 2 * S * E), [2, S, E]);
    out.push(dec.forward(t(randn(r, 2 * L * E), [2, L, E]), mem, { tgtIsCausal: true }).data);
    const cache = dec.createCache({ batch: 2, maxLength: 8 });
    out.push(dec.forward(t(randn(r, 2 * 5 * E), [2, 5, E]), mem, { cache }).data);
    for (let i = 0; i < 3; i++) out.push(dec.forward(t(randn(r, 2 * E), [2, 1, E]), mem, { cache }).data);
    enc.dispose();
    dec.dispose();
    return out;
  };
  try {
    await init({ build: BUILD });
    const want = run();
    tuning.minWork = 0;
    for (const n of [2, 3, 1]) {
      await init({ build: BUILD, threads: n });
      run().forEach((y, i) => bitsEqual(y, want[i], `${n} threads, output ${i}`));
    }
  } finally {
    tuning.minWork = minWork;
    terminate();
    await init({ build: BUILD });
  }
});

test.run();
