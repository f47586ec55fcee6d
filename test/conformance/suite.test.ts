// The conformance suite (suite.mjs, which test/runtimes/ runs from the packed package in Node, Deno,
// Bun, Chromium and workerd) run here too, on src/ and the build under test: every case within its
// tolerance of the suite's float64 references. And its private copy of mulberry32 (it cannot import
// the project's: the package does not export it) gives src/random.ts's numbers.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUILD } from "../helpers.js";
import * as api from "../../src/index.js";
import { mulberry32 } from "../../src/random.js";
import { CASE_NAMES, mulberry32 as suiteMulberry32, runConformance } from "./suite.mjs";

test("the suite's mulberry32 is src/random.ts's: the same 1000 numbers for seeds 0, 1, 42, 2³¹ − 1 and 2³² − 1", () => {
  for (const seed of [0, 1, 42, 2 ** 31 - 1, 2 ** 32 - 1]) {
    const a = mulberry32(seed), b = suiteMulberry32(seed);
    for (let i = 0; i < 1000; i++) {
      const x = a(), y = b();
      if (x !== y) assert.unreachable(`seed ${seed}, draw ${i}: ${y} vs ${x}`);
    }
  }
});

test(`${BUILD}: every conformance case (${CASE_NAMES.length}) is within its tolerance of its float64 reference`, async () => {
  const r = await runConformance(api, [BUILD]);
  assert.is(r.builds.length, 1);
  const b = r.builds[0];
  assert.is(b.error, undefined, `init: ${b.error}`);
  assert.equal(b.cases!.map((c) => c.name), CASE_NAMES, "every case ran");
  const bad = b.cases!.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error ?? `diff ${c.diff} > tol ${c.tol}`}`);
  assert.equal(bad, [], bad.join("\n"));
  const worst = b.cases!.filter((c) => c.tol! > 0).map((c) => `${c.name} ${c.diff!.toExponential(2)}`);
  console.log(`    ${BUILD}: conformance diffs (of each row's scale): ${worst.join(", ")}`);
});

test.run();
