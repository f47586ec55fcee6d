// examples/transformer/index.mjs (the README's worked example) runs against the built package and
// prints what it promises: padded keys get no weight, shapes are right, cached generation = causal pass.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("examples/transformer: encoder padding, decoder cross-attention, generation with a KV cache", () => {
  assert.ok(existsSync(`${root}/dist/index.js`), "dist/ is missing: npm install (or npm run build) builds it");
  const r = spawnSync(process.execPath, ["examples/transformer/index.mjs"], { cwd: root, encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.equal(out, {
    encoder: [2, 6, 32], paddedKeyWeight: 0, crossAttention: [2, 4, 32],
    generation: { steps: 8, maxDiffVsCausalPass: "< 1e-5" },
  });
});

test.run();
