// examples/transformer/index.mjs (the README's worked example) runs against the built package (dist/):
// as a script it exits 0 and prints its three parts; imported, it exports every layer's parameters,
// inputs and results, and each number is checked here against the float64 reference (refMha), rows at
// 1e-5 of their scale: the encoder's output and head-averaged weights (padded keys exactly 0), the
// cross-attention's output, the causal pass and every cached generation step.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { assertRowsClose } from "../helpers.js";
import { refMasks, refMha, type RefMhaWeights } from "../reference.js";
import type { Tensor } from "../../src/index.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const RTOL = 1e-5;

interface Layer { config: { embedDim: number; numHeads: number; numKVHeads?: number }; stateDict: Record<string, Tensor> }

/** refMha's weights from a stateDict (PyTorch's names: in_proj_weight packed, or q/k/v_proj_weight). */
function weightsOf(l: Layer): RefMhaWeights {
  const sd = l.stateDict, E = l.config.embedDim, Ekv = (l.config.numKVHeads ?? l.config.numHeads) * (E / l.config.numHeads);
  const w: RefMhaWeights = sd.in_proj_weight
    ? { Wq: sd.in_proj_weight.data.subarray(0, E * E), Wk: sd.in_proj_weight.data.subarray(E * E, 2 * E * E), Wv: sd.in_proj_weight.data.subarray(2 * E * E), Wo: sd["out_proj.weight"].data }
    : { Wq: sd.q_proj_weight.data, Wk: sd.k_proj_weight.data, Wv: sd.v_proj_weight.data, Wo: sd["out_proj.weight"].data };
  const b = sd.in_proj_bias?.data;
  if (b) Object.assign(w, { bq: b.subarray(0, E), bk: b.subarray(E, E + Ekv), bv: b.subarray(E + Ekv), bo: sd["out_proj.bias"].data });
  return w;
}

test("examples/transformer runs as a script: exit 0, its three parts printed", () => {
  assert.ok(existsSync(`${root}/dist/index.js`), "dist/ is missing: npm install (or npm run build) builds it");
  const r = spawnSync(process.execPath, ["examples/transformer/index.mjs"], { cwd: root, encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.is(lines.length, 3, r.stdout);
  assert.match(lines[0], /^1\. encoder: output \[2,6,32\]; weight on the padded keys of sequence 1: 0$/);
  assert.match(lines[1], /^2\. cross-attention: output \[2,4,32\]$/);
  assert.match(lines[2], /^3\. generation: 8 steps through the cache; largest difference from one causal pass: /);
});

test("examples/transformer's numbers = the float64 reference: encoder (padding) output and weights, cross-attention, causal pass and each cached step", async () => {
  const { example: ex } = await import(`${root}/examples/transformer/index.mjs`);
  // 1. encoder self-attention with key padding, weights averaged over heads
  {
    const { config: c, source, padding, output, weights } = ex.encoder;
    const [B, S, E] = source.shape as number[], H = c.numHeads;
    const ref = refMha(source.data, source.data, source.data, B, S, S, E, H, H, E, E, weightsOf(ex.encoder), { masks: refMasks({ keyPaddingMask: padding }, B, S) });
    assert.equal(output.shape, [B, S, E], "encoder output shape");
    assertRowsClose(output.data, ref.out, E, RTOL, "encoder output", ref.mag);
    const avg = new Float64Array(B * S * S);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S * S; i++) avg[b * S * S + i] += ref.w[(b * H + h) * S * S + i] / H;
    assert.equal(weights.shape, [B, S, S], "encoder weights shape");
    assertRowsClose(weights.data, avg, S, RTOL, "encoder weights");
    for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) {
      if (padding.data[b * S + j]) assert.is(weights.data[(b * S + i) * S + j], 0, `weight of padded key ${j} in sequence ${b}, row ${i}`);
    }
  }
  // 2. cross-attention over the encoder's output, the same padding
  {
    const { config: c, target, memory, padding, output } = ex.cross;
    const [B, L, E] = target.shape as number[], S = memory.shape[1] as number;
    const ref = refMha(target.data, memory.data, memory.data, B, L, S, E, c.numHeads, c.numHeads, E, E, weightsOf(ex.cross), { masks: refMasks({ keyPaddingMask: padding }, B, S) });
    assert.equal(output.shape, [B, L, E], "cross output shape");
    assertRowsClose(output.data, ref.out, E, RTOL, "cross-attention output", ref.mag);
  }
  // 3. generation: the causal pass and each step through the cache, against the causal reference
  {
    const { config: c, tokens, whole, steps, cacheLength } = ex.generation;
    const [, T, E] = tokens.shape as number[];
    const ref = refMha(tokens.data, tokens.data, tokens.data, 1, T, T, E, c.numHeads, c.numKVHeads, E, E, weightsOf(ex.generation), { causal: true });
    assertRowsClose(whole, ref.out, E, RTOL, "causal pass", ref.mag);
    assert.is(cacheLength, T, "cache.length");
    assert.is(steps.length, T, "steps");
    (steps as Float32Array[]).forEach((row, t) => assertRowsClose(row, ref.out.subarray(t * E, (t + 1) * E), E, RTOL, `step ${t}`, ref.mag.subarray(t * E, (t + 1) * E)));
  }
});

test.run();
