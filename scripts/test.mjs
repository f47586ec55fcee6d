// npm test: runs the uvu suites in test/ once per kernel build ("simd", the bounds-checked "debug",
// "relaxed" and "scalar"), each in its own process; then the runtime part (test/runtimes/): the npm pack
// smoke test, the conformance suite in Node, Deno, Bun, Chromium and workerd compared bit for bit
// with Node, and examples/. Prints one final line "N passed, N failed" totalling all of it.
// Usage: node scripts/test.mjs [--build simd|debug|relaxed|scalar] [--no-runtimes | --only-runtimes | --runtimes] [file-filter …]
//   --no-runtimes    the uvu suites only (fast, for development)
//   --only-runtimes  the runtime part only
//   A file filter or --build narrows the uvu suites and skips the runtime part unless --runtimes is given.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, existsSync } from "node:fs";
import { join, relative, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const builds = args.includes("--build") ? [args[args.indexOf("--build") + 1]] : ["simd", "debug", "relaxed", "scalar"];
// Node 20 compiles relaxed SIMD only behind a V8 flag; newer Nodes have it on (and may not know the flag).
const RELAXED_FLAG = "--experimental-wasm-relaxed-simd";
const relaxedArgs = spawnSync(process.execPath, [RELAXED_FLAG, "-e", "0"], { stdio: "ignore" }).status === 0 ? [RELAXED_FLAG] : [];
const filters = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--build");
const onlyRuntimes = args.includes("--only-runtimes");
const runtimes = onlyRuntimes || args.includes("--runtimes") || (!args.includes("--no-runtimes") && filters.length === 0 && !args.includes("--build"));

// Rebuild the kernels when assembly/ is newer than the build (npm install builds them once).
const newest = (dir) => readdirSync(dir, { recursive: true }).reduce((t, f) => Math.max(t, statSync(join(dir, f)).mtimeMs), 0);
const wasm = join(root, "build", "kernels.wasm"), gen = join(root, "src", "generated", "wasm.ts");
if (!existsSync(wasm) || !existsSync(gen) || newest(join(root, "assembly")) > statSync(gen).mtimeMs) {
  const r = spawnSync(process.execPath, [join(root, "scripts", "build-wasm.mjs")], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// Rebuild dist/ (tsc, then the esbuild bundles) when src/ is newer: the runtime part uses the packed package.
let distOk = true;
const distStamp = join(root, "dist", "cjs", "index.cjs");
if (runtimes && (!existsSync(distStamp) || newest(join(root, "src")) > statSync(distStamp).mtimeMs)) {
  console.log("# building dist/ (src/ changed)");
  for (const step of [[join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], [join(root, "scripts", "build-bundles.mjs")]]) {
    const r = spawnSync(process.execPath, step, { cwd: root, stdio: "inherit" });
    if (r.status !== 0) { distOk = false; break; }
  }
}

const files = onlyRuntimes ? [] : readdirSync(join(root, "test"), { recursive: true })
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => join(root, "test", f))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

let passed = 0, failed = 0;
for (const build of onlyRuntimes ? [] : builds) {
  console.log(`\n# kernels build: ${build} (${files.length} files)`);
  const r = spawnSync(process.execPath, [...(build === "relaxed" ? relaxedArgs : []), "--import", "tsx", join(root, "scripts", "uvu-run.mjs"), ...files], {
    cwd: root, encoding: "utf8", env: { ...process.env, WASM_ATTENTION_BUILD: build, FORCE_COLOR: "0", NO_COLOR: "1" },
    maxBuffer: 256 * 1024 * 1024,
  });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  const total = Number(/Total:\s+(\d+)/.exec(r.stdout)?.[1] ?? NaN);
  const done = Number(/Passed:\s+(\d+)/.exec(r.stdout)?.[1] ?? NaN);
  if (!Number.isFinite(total) || !Number.isFinite(done)) {
    console.log(`# ${build}: the test process exited (${r.status ?? r.signal}) without a summary`);
    failed += 1;
    continue;
  }
  passed += done;
  failed += total - done;
  if (r.status !== 0 && total === done) failed += 1;   // crashed after the summary
}
if (runtimes) {
  if (!distOk) {
    console.log("\n# runtimes: not run: building dist/ failed");
    failed += 1;
  } else {
    try {
      const { runRuntimes } = await import(pathToFileURL(join(root, "test", "runtimes", "index.mjs")).href);
      const t = await runRuntimes({ root });
      passed += t.passed;
      failed += t.failed;
    } catch (e) {
      console.log(`\n# runtimes: the harness crashed: ${e?.stack ?? e}`);
      failed += 1;
    }
  }
} else {
  console.log("\n# runtimes: skipped (--no-runtimes, --build or a file filter; --runtimes runs them)");
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
