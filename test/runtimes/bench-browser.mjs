// `npm run bench -- --browser --quick` on one small case (matmul 128×64·64×128), from the repository:
// the bench bundled into a page in headless Chromium (bench/browser.ts), every implementation — ours
// in the default and relaxed builds and into `out`, onnxruntime-web, tfjs-wasm and plain JS — checked
// against the float64 referee and timed there; the table printed by Node, the results JSON written
// by Node, and bench/report.ts rendering that JSON as the README's table. About 15–30 s.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, tail } from "./util.mjs";

const CASE = "matmul f32 128×64·64×128";
const IMPLS = ["wasm-attention", "wasm-attention relaxed", "wasm-attention into out", "onnxruntime-web", "tfjs-wasm", "plain-js"];

/** Runs the checks into `tally` (a Tally from util.mjs); `root` is the repository (node_modules installed). */
export async function runBenchBrowser({ root, tally }) {
  const name = (s) => `bench --browser: ${s}`;
  const out = mkdtempSync(join(tmpdir(), "wasm-attention-bench-browser-"));
  try {
    const r = await run(process.execPath, ["--import", "tsx", "bench/index.ts", "--browser", "--quick", "--save", "--out", out, "matmul f32 128"],
      { cwd: root, timeout: 180_000 });
    // Details only for a failed check (an ok line gets the run's time).
    const ok = r.code === 0;
    if (!tally.check(name(`--quick on ${CASE} exits 0`), ok, ok ? `${r.ms} ms` : `exit ${r.code ?? r.signal} after ${r.ms} ms\n${tail(r.stdout)}\n${tail(r.stderr)}`)) return;
    const table = /## Benchmarks\n\n.*· Chromium \d+[\d.]* \(headless\) \(V8 [\d.]+\) ·/.test(r.stdout) && r.stdout.includes(`| ${CASE} |`);
    tally.check(name("prints the table under a Chromium machine line"), table, table ? "" : tail(r.stdout));
    const files = readdirSync(out).filter((f) => /^\d{4}-\d\d-\d\d\.json$/.test(f));
    if (!tally.check(name("writes <date>.json to --out"), files.length === 1, readdirSync(out).join(", "))) return;
    const json = JSON.parse(readFileSync(join(out, files[0]), "utf8"));
    const res = json.results?.[0];
    tally.check(name("the JSON names Chromium as the engine"), /^Chromium \d/.test(json.machine?.browser ?? "") && json.results.length === 1 && res.name === CASE,
      json.machine?.browser ?? JSON.stringify(json.machine));
    const impls = res?.impls ?? [];
    const bad = IMPLS.filter((n) => {
      const i = impls.find((x) => x.name === n);
      return !(i && i.status === "ok" && /^float64 reference/.test(i.checkedAgainst ?? "") && i.maxRelDiff <= i.tolerance && Number.isFinite(i.gflops) && i.gflops > 0);
    });
    tally.check(name(`${IMPLS.length} implementations in the page, each checked against float64 and timed (finite GFLOP/s)`), bad.length === 0,
      bad.length === 0 ? impls.map((i) => `${i.name} ${i.gflops.toFixed(1)}`).join(", ")
        : `not ok: ${bad.join(", ")}; got ${impls.map((i) => `${i.name} ${i.status}${i.note ? ` (${i.note})` : ""}`).join("; ")}`);
    const rep = await run(process.execPath, ["--import", "tsx", "bench/report.ts", join(out, files[0])], { cwd: root, timeout: 60_000 });
    const rendered = rep.code === 0 && /^Run of \d{4}-\d\d-\d\d on .*, Chromium \d[\d.]* \(headless\),/.test(rep.stdout) && rep.stdout.includes(`| ${CASE} | **`);
    tally.check(name("bench/report.ts renders its JSON as the README's table"), rendered, rendered ? "" : `exit ${rep.code}\n${tail(rep.stdout)}\n${tail(rep.stderr)}`);
  } catch (e) {
    tally.check(name("run"), false, e.message);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
