// Bundles the package's entries with esbuild, after tsc (npm run build does):
// - dist/index.js, the default ESM entry: one file instead of tsc's module graph (src/index.ts with the
//   embedded kernel bytes, no dependencies). Loading one module instead of ~15 takes the import from
//   ~13 ms to ~4 ms of the cold start. tsc's dist/*.d.ts stay its types; dist/workerd.js stays tsc's
//   (it imports the .wasm files as modules and the other dist/*.js).
// - dist/cjs/index.cjs, the CommonJS entry for `require("wasm-attention")`, and its types:
//   dist/cjs/*.d.cts, copies of tsc's dist/*.d.ts with "./x.js" specifiers turned into "./x.cjs".
//   The CJS copy keeps its own state: init() it separately.
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist"), out = join(dist, "cjs");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(root, "src", "index.ts")],
  outfile: join(dist, "index.js"),
  allowOverwrite: true,
  bundle: true, format: "esm", platform: "neutral", target: "es2022",
  logLevel: "warning",
});

await build({
  entryPoints: [join(root, "src", "index.ts")],
  outfile: join(out, "index.cjs"),
  bundle: true, format: "cjs", platform: "neutral", target: "es2022",
  logLevel: "warning",
});

for (const f of readdirSync(dist, { recursive: true })) {
  if (!f.endsWith(".d.ts") || f.startsWith("cjs") || f === "workerd.d.ts") continue;
  const dts = readFileSync(join(dist, f), "utf8").replace(/(from\s+|import\()(["'])(\.{1,2}\/[^"']+)\.js\2/g, "$1$2$3.cjs$2");
  const dst = join(out, f.replace(/\.d\.ts$/, ".d.cts"));
  mkdirSync(dirname(dst), { recursive: true });
  writeFileSync(dst, dts);
}
