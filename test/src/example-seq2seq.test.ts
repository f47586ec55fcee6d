// examples/seq2seq/index.mjs runs against the built package (dist/): as a script it exits 0 and prints
// its parts; imported, it exports its models' parameters, inputs and results, checked here against the
// float64 references (test/reference-transformer.ts, refLinear) at 2e-5 of each row's scale: the
// classifier's hidden states and logits, the Transformer's memory and every generated row (cached
// steps and re-runs alike); the cached and re-run generations pick the same tokens, rows within 1e-6.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { assertRowsClose } from "../helpers.js";
import { refLinear, refMasks } from "../reference.js";
import { refDecoder, refEncoder } from "../reference-transformer.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("examples/seq2seq runs as a script: exit 0, its parts printed, the same tokens both ways", () => {
  const r = spawnSync(process.execPath, ["examples/seq2seq/index.mjs"], { cwd: root, encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.is(lines.length, 3, r.stdout);
  assert.match(lines[0], /^1\. classifier: logits \[2,3\] = /);
  const m = /^2\. generated with the cache: ([\d ]+); re-running the prefix: ([\d ]+)$/.exec(lines[1]);
  assert.ok(m, lines[1]);
  assert.is(m![1], m![2], "the same tokens");
});

test("examples/seq2seq's numbers = float64: classifier hidden states and logits, memory, every generated row", async () => {
  const { example: ex } = await import(`${root}/examples/seq2seq/index.mjs`);
  const c = ex.classifier;
  const [B, L, E] = c.tokens.shape as number[];
  const d = { E, H: c.layer.H, FF: c.layer.FF, act: "gelu" as const, eps: 1e-5, normFirst: false, bias: true };
  const hidden = refEncoder(c.stateDict, "", c.numLayers, true, c.tokens.data, B, L, d, { masks: refMasks({ keyPaddingMask: c.padding }, B, L) });
  assertRowsClose(c.hidden.data, hidden, E, 2e-5, "classifier hidden");
  const logits = refLinear(c.pooled, B, E, c.head.weight.data, 3, c.head.bias.data);
  assertRowsClose(c.logits.data, logits, 3, 2e-5, "classifier logits", refLinear(Float64Array.from(c.pooled, Math.abs), B, E, Float64Array.from(c.head.weight.data, Math.abs), 3, Float64Array.from(c.head.bias.data, Math.abs)));
  const s = ex.seq2seq;
  const sd = { ...s, E: s.E, H: s.H, FF: s.FF, act: "relu" as const, eps: 1e-5, normFirst: false, bias: true };
  const embed = (ids: number[]): Float64Array => { const x = new Float64Array(ids.length * s.E); ids.forEach((id, i) => x.set(s.embedding.subarray(id * s.E, (id + 1) * s.E), i * s.E)); return x; };
  const mem = refEncoder(s.stateDict, "encoder.", 2, true, embed(s.source), 1, s.source.length, sd);
  assertRowsClose(s.memory.data, mem, s.E, 2e-5, "memory");
  assert.equal(s.cached, s.rerun, "same tokens");
  const T = s.cachedRows.length;
  const rows = refDecoder(s.stateDict, "decoder.", 2, true, embed(s.cached.slice(0, T)), s.memory.data, 1, T, s.source.length, sd, { causal: true });
  for (let t = 0; t < T; t++) {
    assertRowsClose(s.cachedRows[t], rows.subarray(t * s.E, (t + 1) * s.E), s.E, 2e-5, `cached step ${t}`);
    assertRowsClose(s.cachedRows[t], s.rerunRows[t], s.E, 1e-6, `cached = re-run, step ${t}`);
  }
});

test.run();
