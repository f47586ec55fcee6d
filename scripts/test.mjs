// npm test: runs the uvu suites in test/ once per kernel build (release "simd" and the bounds-checked
// "debug" build), each in its own process, then prints one line "N passed, N failed".
// Usage: node scripts/test.mjs [--build simd|debug] [file-filter …]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, existsSync } from "node:fs";
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const builds = args.includes("--build") ? [args[args.indexOf("--build") + 1]] : ["simd", "debug"];
const filters = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--build");

// Rebuild the kernels when assembly/ is newer than the build (npm install builds them once).
const newest = (dir) => readdirSync(dir, { recursive: true }).reduce((t, f) => Math.max(t, statSync(join(dir, f)).mtimeMs), 0);
const wasm = join(root, "build", "kernels.wasm"), gen = join(root, "src", "generated", "wasm.ts");
if (!existsSync(wasm) || !existsSync(gen) || newest(join(root, "assembly")) > statSync(gen).mtimeMs) {
  const r = spawnSync(process.execPath, [join(root, "scripts", "build-wasm.mjs")], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const files = readdirSync(join(root, "test"), { recursive: true })
  .filter((f) => f.endsWith(".test.ts"))
  .map((f) => join(root, "test", f))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();

let passed = 0, failed = 0;
for (const build of builds) {
  console.log(`\n# kernels build: ${build} (${files.length} files)`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts", "uvu-run.mjs"), ...files], {
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
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
