// The runtime part of `npm test`: pack the package and install it into a fresh project (pack.mjs),
// then run the conformance suite (test/conformance/) from that project in Node, Deno, Bun, Chromium
// (embedded bytes; .wasm URLs) and workerd (the entry's imported Modules; Modules passed to init),
// for every build in BUILDS, and compare every case's output bits with Node's; run examples/ in the
// runtime each is for; open the attention explorer and run `npm run bench -- --browser --quick` on one
// case in headless Chromium (bench-browser.mjs). Every check is counted.
// A runtime that cannot be found or started is a failed check, never a skip.
// Usage: node test/runtimes/index.mjs   (scripts/test.mjs calls runRuntimes())
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadBuilds, wasmFile } from "./builds.mjs";
import { chromiumPath, runChromium } from "./chromium.mjs";
import { runExplorer } from "./explorer.mjs";
import { runBenchBrowser } from "./bench-browser.mjs";
import { makeConsumer, packChecks } from "./pack.mjs";
import { Tally, findBinary, parseTagged, run, tail } from "./util.mjs";
import { bundleWorker, withWorkerd } from "./workerd.mjs";

/** Where an npm package's binary may be: .bin (after its postinstall) or its platform package. */
function candidates(root, bin, scope, rel) {
  const nm = join(root, "node_modules");
  const platform = existsSync(join(nm, scope)) ? readdirSync(join(nm, scope)).map((d) => join(nm, scope, d, rel)) : [];
  return [join(nm, ".bin", bin), ...platform];
}

const RUNTIME_ENV = { NO_COLOR: "1", FORCE_COLOR: "0", DENO_NO_UPDATE_CHECK: "1", BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" };

const first = (s) => String(s).split("\n")[0];
/** Thread runs: the simd build on 2 threads, in every runtime (see judgeThreads). */
const THREAD_BUILDS = ["simd+t2"];
const entryOf = (result, build) => result?.builds?.find((b) => b.build === build);

/**
 * Judges every runtime's suite results, build by build, one counted check per (runtime, build, case):
 * the case's own check (against its float64 reference) passed, and its output digest equals the
 * reference runtime's — Node, or for a build Node cannot compile, the first runtime that ran it.
 * Builds that report relaxedSimd may differ in the last bits between engines: those compare samples
 * within 1e-5 (and say whether the digests happen to agree). A runtime may fail to compile such a
 * build (CompileError: the engine lacks relaxed SIMD, as Node 20 does) — printed as n/a, not counted;
 * any other init failure fails. Returns a table runtime → build → summary.
 */
function judge(tally, runs, builds) {
  const table = Object.fromEntries(runs.map(([label]) => [label, {}]));
  for (const build of builds) {
    const ran = runs.filter(([, r]) => entryOf(r, build) && !entryOf(r, build).error);
    const relaxedBuild = ran.some(([, r]) => entryOf(r, build).info?.relaxedSimd);
    const [refLabel, refResult] = ran.find(([label]) => label === "node") ?? ran[0] ?? [null, null];
    const ref = refLabel && entryOf(refResult, build);
    for (const [label, result] of runs) {
      const e = entryOf(result, build);
      if (!e) { tally.check(`${label} ${build}: ran`, false, "no result for this build"); table[label][build] = "missing"; continue; }
      if (e.error) {
        if (relaxedBuild && e.errorName === "CompileError") {
          console.log(`  n/a  ${label} ${build}: this engine cannot compile the build (${first(e.error).slice(0, 160)})`);
          table[label][build] = "n/a (no relaxed SIMD)";
        } else {
          tally.check(`${label} ${build}: init`, false, first(e.error));
          table[label][build] = "init FAILED";
        }
        continue;
      }
      if (e.info?.build !== build) tally.check(`${label} ${build}: buildInfo().build`, false, `got ${JSON.stringify(e.info)}`);
      let good = 0, bad = 0, identical = 0;
      for (const c of e.cases) {
        const rc = label === refLabel ? c : ref.cases.find((x) => x.name === c.name);
        let ok = c.ok, why = c.error ? first(c.error) : `maxdiff ${c.diff} > tol ${c.tol} vs the float64 reference`;
        if (ok && !rc) { ok = false; why = `${refLabel} has no such case`; }
        else if (ok) {
          const same = c.digest === rc.digest && c.n === rc.n;
          if (same) identical++;
          const close = c.samples.length === rc.samples.length && c.samples.every((v, i) => Math.abs(v - rc.samples[i]) <= 1e-5 * Math.max(1, Math.abs(rc.samples[i])));
          if (relaxedBuild ? !close : !same) {
            ok = false;
            why = `digest ${c.digest} ≠ ${refLabel} ${rc.digest} (${c.n} vs ${rc.n} values); samples ${JSON.stringify(c.samples)} vs ${JSON.stringify(rc.samples)}`;
          }
        }
        if (ok) { tally.passed++; good++; } else { bad++; tally.check(`${label} ${build} ${c.name}`, false, why); }
      }
      for (const m of ref.cases.filter((x) => !e.cases.some((c) => c.name === x.name))) { bad++; tally.check(`${label} ${build} ${m.name}`, false, "case missing"); }
      const how = label === refLabel ? `match the float64 references (the reference for ${build})`
        : relaxedBuild ? `within 1e-5 of ${refLabel} (relaxed SIMD; ${identical}/${e.cases.length} digests identical)` : `bit-identical to ${refLabel}`;
      if (bad === 0) console.log(`  ok   ${label} ${build}: ${good}/${e.cases.length} cases ${how}`);
      table[label][build] = bad ? `${bad} FAILED` : label === refLabel ? `reference` : relaxedBuild ? `${identical}/${good} identical, all close` : `${good}/${good} identical`;
    }
  }
  return table;
}

/**
 * Thread runs ("simd+t2"): in Node, Deno, Bun and a cross-origin isolated Chromium page, init({ threads: 2 })
 * runs on 2 threads and every case gives the bits of Node's single-thread simd run; a page without
 * COOP/COEP and workerd fall back to 1 thread with a note saying why (and give the same bits).
 */
function judgeThreads(tally, runs, nodeResult) {
  const want = { node: 2, deno: 2, bun: 2, "chromium-isolated": 2, "chromium-not-isolated": 1, workerd: 1 };
  const notes = { "chromium-not-isolated": /not cross-origin isolated/, workerd: /no workers in Cloudflare workerd/ };
  const ref = entryOf(nodeResult, "simd");
  for (const build of THREAD_BUILDS) {
    for (const [label, result] of runs) {
      const e = entryOf(result, build);
      if (!e || e.error) { tally.check(`${label} ${build}: ran`, false, e ? first(e.error) : `no result for this build (builds run: ${JSON.stringify(result?.builds?.map((b) => b.build))})`); continue; }
      const threads = e.info?.threads;
      const noteOk = notes[label] ? notes[label].test(e.info?.note ?? "") : true;
      tally.check(`${label} ${build}: buildInfo().threads = ${want[label]}${notes[label] ? " with a note saying why" : ""}`,
        threads === want[label] && noteOk, `got ${JSON.stringify(e.info)}`);
      const diffs = [];
      for (const c of e.cases) {
        const rc = ref?.cases.find((x) => x.name === c.name);
        if (!(c.ok && rc && c.digest === rc.digest && c.n === rc.n)) diffs.push(c.error ? `${c.name}: ${first(c.error)}` : `${c.name}: digest ${c.digest} vs node simd ${rc?.digest}`);
      }
      tally.check(`${label} ${build}: ${e.cases.length} cases bit-identical to node simd (1 thread)`,
        Boolean(ref) && diffs.length === 0 && e.cases.length === ref.cases.length, diffs.join("; "));
    }
  }
}

/** Runs everything; prints one line per check (or per group of passing checks); returns the tally. */
export async function runRuntimes({ root }) {
  const tally = new Tally();
  const t0 = performance.now();
  const timings = {};
  const timed = async (name, fn) => { const t = performance.now(); try { return await fn(); } finally { timings[name] = Math.round(performance.now() - t); } };
  let builds;
  try { builds = await loadBuilds(root); } catch (e) { tally.check("runtimes: read BUILDS from dist/wasm.js", false, e.message); return tally; }
  console.log(`\n# runtimes (builds: ${builds.join(", ")})`);

  const bins = {};
  for (const [name, scope, rel] of [["deno", "@deno", "deno"], ["bun", "@oven", "bin/bun"], ["workerd", "@cloudflare", "bin/workerd"]]) {
    try { bins[name] = findBinary(name, candidates(root, name, scope, rel)); } catch (e) { tally.check(`${name}: installed and runs`, false, e.message); }
  }
  let chromium = null;   // CHROMIUM_PATH, else @sparticuz/chromium's binary (unpacked on the first run)
  try { chromium = await timed("chromium path", chromiumPath); } catch (e) { tally.check("chromium: CHROMIUM_PATH or the @sparticuz/chromium binary", false, e.message); }
  console.log(`  runtimes: node ${process.version}, ${Object.entries(bins).map(([n, b]) => `${n} ${b.version}`).join(", ")}`);

  let consumer;
  try { consumer = await timed("pack+install", () => makeConsumer(root)); } catch (e) { tally.check("pack: npm pack and install into a fresh project", false, e.message); return tally; }
  const dir = consumer.dir;
  const table = {};
  try {
    tally.check("pack: npm pack and install into a fresh project", true, `${consumer.installMs} ms`);
    mkdirSync(join(dir, "conformance"), { recursive: true });
    for (const f of ["suite.mjs", "main.mjs", "worker.mjs"]) cpSync(join(root, "test", "conformance", f), join(dir, "conformance", f));
    writeFileSync(join(dir, "conformance", "modules.mjs"), builds.map((b, i) => `import m${i} from "wasm-attention/wasm/${wasmFile(b)}";\n`).join("") +
      `export default { ${builds.map((b, i) => `${JSON.stringify(b)}: m${i}`).join(", ")} };\n`);
    cpSync(join(root, "examples"), join(dir, "examples"), { recursive: true });
    const env = { ...RUNTIME_ENV, DENO_DIR: join(dir, ".deno") };
    const cli = (name, cmd, args) => timed(name, () => run(cmd, args, { cwd: dir, env }));
    const deno = (file, ...a) => [bins.deno.path, ["run", "--no-prompt", "--quiet", file, ...a]];

    // 1. Node (the reference), Deno, Bun, the pack smoke checks and the CLI examples: side by side
    const [nodeRun, denoRun, bunRun, , nodeEx, denoEx] = await Promise.all([
      cli("node", process.execPath, ["conformance/main.mjs", ...builds, ...THREAD_BUILDS]),
      bins.deno ? cli("deno", ...deno("conformance/main.mjs", ...builds, ...THREAD_BUILDS)) : null,
      bins.bun ? cli("bun", bins.bun.path, ["conformance/main.mjs", ...builds, ...THREAD_BUILDS]) : null,
      timed("pack checks", () => packChecks(root, consumer, builds, tally)),
      run(process.execPath, ["examples/node/index.mjs"], { cwd: dir, env }),
      bins.deno ? run(...deno("examples/deno/main.ts"), { cwd: dir, env }) : null,
    ]);
    const parse = (label, r) => {
      if (r === null) return null;
      try { return parseTagged("CONFORMANCE", r); } catch (e) { tally.check(`${label}: suite ran`, false, e.message); return null; }
    };
    const runs = [];   // [label, suite result]; Node first (the reference)
    const threadRuns = [];   // [label, suite result] of runs whose thread builds judgeThreads checks beside Node/Deno/Bun's
    for (const [label, r] of [["node", nodeRun], ["deno", denoRun], ["bun", bunRun]]) {
      const res = parse(label, r);
      if (res) runs.push([label, res]);
    }

    // 2. Chromium: the bundled suite, embedded bytes and .wasm URLs; the static example page
    const printed = (r) => (r.code === 0 ? r.stdout.trim() : `exit ${r.code ?? r.signal}: ${tail(r.stderr)}`);
    const examples = { node: printed(nodeEx) };   // only those whose runtime is there (a missing one failed above)
    if (denoEx) examples.deno = printed(denoEx);
    if (chromium) {
      try {
        const c = await timed("chromium", () => runChromium(root, dir, [...builds, ...THREAD_BUILDS]));
        console.log(`  chromium ${c.version} (${chromium})`);
        runs.push(["chromium-embedded", c.embedded], ["chromium-url", c.url]);
        if (c.threads) threadRuns.push(["chromium-isolated", c.threads], ["chromium-not-isolated", c.threadsPlain]);
        const expect = builds.map((b) => `/www/${wasmFile(b).replace(/\.wasm$/, "")}-`);   // esbuild's [name]-[hash]
        const fetched = c.url.fetched ?? [];
        tally.check("chromium url: every build's .wasm was fetched from its URL", expect.every((p) => fetched.some((f) => f.startsWith(p))), fetched.join(", "));
        tally.check("chromium embedded: no .wasm fetched (the bytes are in the bundle)", (c.embedded.fetched ?? []).length === 0, (c.embedded.fetched ?? []).join(", "));
        examples.browser = c.example;
      } catch (e) { tally.check("chromium: launch and run the pages", false, e.message); }
    }

    // 2b. the attention explorer page (examples/attention-explorer/, from the repository's dist/)
    await timed("explorer", () => runExplorer({ root, tally }));
    // 2c. the bench in a browser: `npm run bench -- --browser --quick` on one case (bench/browser.ts)
    await timed("bench --browser", () => runBenchBrowser({ root, tally }));

    // 3. workerd: the suite with the .wasm imported as modules; the cloudflare-worker example
    if (bins.workerd) {
      try {
        await timed("workerd", async () => {
          const out = join(dir, "workerd-suite"), exOut = join(dir, "workerd-example");
          const names = await bundleWorker(join(dir, "conformance", "worker.mjs"), out);
          const exNames = await bundleWorker(join(dir, "examples", "cloudflare-worker", "worker.js"), exOut);
          await withWorkerd(bins.workerd.path, out, names, async (base, output) => {
            for (const [label, mode] of [["workerd", "default"], ["workerd-module", "module"]]) {
              const all = mode === "default" ? [...builds, ...THREAD_BUILDS] : builds;
              const r = await fetch(`${base}/?builds=${encodeURIComponent(all.join(","))}&mode=${mode}`, { signal: AbortSignal.timeout(120_000) });
              if (!r.ok) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 500)}\n${tail(output())}`);
              const res = await r.json();
              runs.push([label, res]);
              if (mode === "default") threadRuns.push([label, res]);
            }
          });
          examples["cloudflare-worker"] = await withWorkerd(bins.workerd.path, exOut, exNames, async (base, output) => {
            const r = await fetch(`${base}/`, { signal: AbortSignal.timeout(60_000) });
            const text = await r.text();
            return r.ok ? text.trim() : `HTTP ${r.status}: ${text.slice(0, 300)}\n${tail(output())}`;
          });
        });
      } catch (e) { tally.check("workerd: bundle, serve and run the worker", false, e.message); }
    }

    // 4. every runtime's outputs against Node's (bit for bit); thread runs against Node's one thread
    console.log("  conformance:");
    Object.assign(table, judge(tally, runs, builds));
    judgeThreads(tally, [...runs.filter(([l]) => ["node", "deno", "bun"].includes(l)), ...threadRuns], runs.find(([l]) => l === "node")?.[1]);

    // 5. examples: each ran and printed the same result as the Node one (a [4, 8] tensor)
    let good = null;
    try { const j = JSON.parse(examples.node); if (j.shape.join() === "4,8" && j.data.length === 32 && j.data.every(Number.isFinite)) good = examples.node; } catch { /* below */ }
    tally.check("example node: prints a [4, 8] attention output", good !== null, good ? "" : examples.node);
    for (const name of ["deno", "browser", "cloudflare-worker"]) {
      if (!(name in examples)) continue;
      tally.check(`example ${name}: same output as the node example`, good !== null && examples[name] === good, examples[name] === good ? "" : String(examples[name]));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    const rows = Object.entries(table);
    if (rows.length) {
      console.log(`\n  conformance summary (cases per build whose output digests equal the reference's):`);
      for (const [rt, s] of rows) console.log(`    ${rt.padEnd(18)} ${builds.map((b) => `${b}: ${s[b] ?? "-"}`).join(" | ")}`);
    }
    console.log(`  timings (ms): ${Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(", ")}; total ${Math.round(performance.now() - t0)}`);
    console.log(`# runtimes: ${tally.passed} checks ok, ${tally.failed} failing`);
  }
  return tally;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
  const t = await runRuntimes({ root });
  process.exitCode = t.failed === 0 && t.passed > 0 ? 0 : 1;
}
