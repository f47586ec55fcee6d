// The bench harness's self-test (bench/harness.selftest.ts: option parsing, output checks, interleaved
// rounds and ratios, failure reporting, the tables, JSON and charts) as one test, so the harness that
// produces the README's figures cannot rot. It uses no kernels: run once, under the default build.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

if ((process.env.WASM_ATTENTION_BUILD ?? "simd") === "simd") {
  test("bench harness self-test: every check passes", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/harness.selftest.ts"], { cwd: root, encoding: "utf8", env: { ...process.env, KEEP: "" } });
    const failed = r.stderr.split("\n").filter((l) => l.startsWith("FAIL"));
    assert.equal(failed, [], "failed checks");
    assert.is(r.status, 0, r.stderr.slice(-2000));
    assert.match(r.stderr, "harness self-test: all checks passed");
  });
}

test.run();
