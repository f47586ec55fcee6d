// npm pack smoke test: pack the repo (as `npm publish` would), install the tarball into a fresh
// project in a temp dir, and use it from there: Node ESM, Node CommonJS, the .wasm subpaths, and the
// shipped types (tsc over an ESM and a CJS consumer). A file missing from "files" or "exports" fails
// here. The same project then serves every runtime run (test/runtimes/index.mjs).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTagged, run, tail } from "./util.mjs";
import { wasmFile } from "./builds.mjs";

const NPM_ENV = { npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false", npm_config_loglevel: "error" };

/** Every string target of an exports map (through nested conditions), with its subpath. */
function exportTargets(exp, key = ".") {
  if (typeof exp === "string") return [[key, exp]];
  return Object.entries(exp).flatMap(([k, v]) => exportTargets(v, k.startsWith(".") ? k : key));
}

/**
 * Packs the repo and installs the tarball into a new temp project. Returns { dir, tarball, files }
 * or throws with npm's output. The caller removes `dir`.
 */
export async function makeConsumer(root) {
  const dir = mkdtempSync(join(tmpdir(), "wasm-attention-consumer-"));
  const p = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: root, env: NPM_ENV });
  if (p.code !== 0) throw new Error(`npm pack failed (exit ${p.code}):\n${tail(p.stderr)}`);
  const [info] = JSON.parse(p.stdout.slice(p.stdout.indexOf("[")));
  writeFileSync(join(dir, "package.json"), JSON.stringify({
    name: "wasm-attention-consumer", private: true, type: "module",
    dependencies: { "wasm-attention": `file:./${info.filename}` },
  }, null, 2));
  const i = await run("npm", ["install", "--no-package-lock", "--prefer-offline"], { cwd: dir, env: NPM_ENV, timeout: 180_000 });
  if (i.code !== 0) throw new Error(`npm install of the packed tarball failed (exit ${i.code}):\n${tail(i.stdout + i.stderr)}`);
  return { dir, tarball: join(dir, info.filename), files: info.files.map((f) => f.path), installMs: p.ms + i.ms };
}

const TYPES_ESM = `import { init, initSync, scaledDotProductAttention, MultiHeadAttention, type BuildInfo, type Tensor } from "wasm-attention";
const t: Tensor = { data: new Float32Array(8), shape: [2, 4] };
const info: Promise<BuildInfo> = init({ build: "simd" });
const sync: BuildInfo = initSync();
const o: Tensor = scaledDotProductAttention(t, t, t, { causal: true }).output;
const m = new MultiHeadAttention({ embedDim: 4, numHeads: 2 });
export { info, sync, o, m };
`;
const TYPES_CJS = `import wa = require("wasm-attention");
const t: wa.Tensor = { data: new Float32Array(8), shape: [2, 4] };
const info: wa.BuildInfo = wa.initSync();
const o: wa.Tensor = wa.matmul(t, t, { transposeB: true });
export = { info, o };
`;

/** The pack smoke checks, counted in `tally`. */
export async function packChecks(root, consumer, builds, tally) {
  const { dir, files } = consumer;
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

  // 1. the tarball holds every exports target and every build's .wasm, and nothing from test/ or bench/
  const missing = exportTargets(pkg.exports)
    .map(([, t]) => t.replace(/^\.\//, ""))
    .flatMap((t) => (t.includes("*") ? builds.map((b) => t.replace("*", wasmFile(b))) : [t]))
    .concat(builds.map((b) => `build/${wasmFile(b)}`))
    .filter((t) => !files.includes(t));
  tally.check("pack: every exports target and build/*.wasm is in the tarball", missing.length === 0, missing.length ? `missing ${missing.join(", ")}` : `${files.length} files`);
  const stray = files.filter((f) => /^(test|bench|examples|node_modules|\.tmp)\//.test(f));
  tally.check("pack: no test/bench/examples files in the tarball", stray.length === 0, stray.join(", "));

  // 2. Node ESM and CJS from the installed package
  mkdirSync(join(dir, "smoke"), { recursive: true });
  cpSync(join(root, "test", "runtimes", "pack"), join(dir, "smoke"), { recursive: true });
  const [esmRun, cjsRun] = await Promise.all([
    run(process.execPath, ["smoke/esm.mjs"], { cwd: dir }),
    run(process.execPath, ["smoke/cjs.cjs"], { cwd: dir }),
  ]);
  let esm = null, cjs = null;
  try { esm = parseTagged("SMOKE", esmRun); } catch (e) { tally.check("pack: Node ESM import", false, e.message); }
  try { cjs = parseTagged("SMOKE", cjsRun); } catch (e) { tally.check("pack: Node CJS require", false, e.message); }
  if (esm) {
    const repoApi = await import(new URL(`file://${join(root, "dist", "index.js")}`).href);
    const want = Object.keys(repoApi).sort();
    tally.check("pack: Node ESM import resolves to dist/index.js with the full API",
      esm.entry.endsWith("/node_modules/wasm-attention/dist/index.js") && JSON.stringify(esm.exports) === JSON.stringify(want), `${esm.exports.length} exports`);
    tally.check("pack: Node ESM init from subpath bytes and from a Module give the same bits", esm.sameFromBytes && esm.sameFromModule);
    const sub = Object.entries(esm.subpaths).map(([s, { bytes }]) => {
      const f = s.endsWith("package.json") ? "package.json" : `build/${s.replace(/^.*\//, "")}`;
      return bytes === readFileSync(join(root, f)).length ? null : s;
    }).filter(Boolean);
    tally.check("pack: .wasm and package.json subpaths resolve to the packed files", sub.length === 0, sub.join(", "));
  }
  if (cjs) {
    tally.check("pack: Node CJS require resolves to dist/cjs/index.cjs", cjs.entry.endsWith("/node_modules/wasm-attention/dist/cjs/index.cjs"), cjs.entry);
    tally.check("pack: Node CJS has the same API and result bits as ESM",
      esm !== null && JSON.stringify(cjs.exports) === JSON.stringify(esm.exports) && cjs.digest === esm.digest);
  }

  // 3. the shipped types, from an ESM and a CommonJS TypeScript consumer
  writeFileSync(join(dir, "smoke", "types.mts"), TYPES_ESM);
  writeFileSync(join(dir, "smoke", "types.cts"), TYPES_CJS);
  writeFileSync(join(dir, "smoke", "tsconfig.json"), JSON.stringify({
    compilerOptions: { module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "dom"], strict: true, noEmit: true, types: [], skipLibCheck: false },
    files: ["types.mts", "types.cts"],
  }));
  const tsc = await run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "smoke/tsconfig.json"], { cwd: dir });
  tally.check("pack: types check for ESM (import) and CJS (require) consumers", tsc.code === 0, tsc.code === 0 ? `${tsc.ms} ms` : tail(tsc.stdout + tsc.stderr));
}
