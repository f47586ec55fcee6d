// Cloudflare workerd: bundle a worker with esbuild as wrangler does (wrangler's "workerd"/"worker"
// conditions; every imported .wasm left as its own module), write a capnp config that declares the
// bundle as an ES module and each .wasm as a wasm module (so workerd hands over a compiled
// WebAssembly.Module), serve it on a free 127.0.0.1 port in its own process group, fetch, stop.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join, resolve as resolvePath } from "node:path";
import { connect } from "node:net";
import { build } from "esbuild";
import { freePort, startServer, tail } from "./util.mjs";

// Not newer than the workerd binary's own date (workerd refuses that).
const COMPATIBILITY_DATE = "2025-09-01";

/** esbuild plugin: `import m from "….wasm"` stays an import of "<basename>.wasm"; the file is collected. */
function wasmModules(found) {
  return {
    name: "wasm-modules",
    setup(b) {
      b.onResolve({ filter: /\.wasm$/ }, async (args) => {
        if (args.pluginData === "inner") return undefined;   // our own b.resolve() below: esbuild's resolution
        let path;
        if (args.path.startsWith(".") || isAbsolute(args.path)) path = resolvePath(args.resolveDir, args.path);
        else {
          const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: "inner" });
          if (r.errors.length) return { errors: r.errors };
          path = r.path;
        }
        const name = basename(path);
        if (found.has(name) && found.get(name) !== path) return { errors: [{ text: `two different .wasm files named ${name}` }] };
        found.set(name, path);
        return { path: `./${name}`, external: true };
      });
    },
  };
}

/** Bundles `entry` into <outdir>/worker.mjs plus its .wasm files; returns the .wasm module names. */
export async function bundleWorker(entry, outdir) {
  mkdirSync(outdir, { recursive: true });
  const found = new Map();
  await build({
    entryPoints: [entry], outfile: join(outdir, "worker.mjs"), bundle: true, format: "esm", platform: "neutral",
    target: "es2022", conditions: ["workerd", "worker"], mainFields: ["module", "main"], plugins: [wasmModules(found)], logLevel: "error",
  });
  for (const [name, path] of found) copyFileSync(path, join(outdir, name));
  return [...found.keys()];
}

/** Whether 127.0.0.1:port accepts a TCP connection now. */
function canConnect(port) {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => { s.destroy(); resolve(true); });
    s.on("error", () => resolve(false));
  });
}

/**
 * Serves the bundle in <outdir> with workerd and calls `use(baseUrl)`; always stops workerd.
 * Returns what `use` returns.
 */
export async function withWorkerd(bin, outdir, wasmNames, use) {
  const port = await freePort();
  const modules = [`(name = "worker.mjs", esModule = embed "worker.mjs")`, ...wasmNames.map((n) => `(name = ${JSON.stringify(n)}, wasm = embed ${JSON.stringify(n)})`)];
  writeFileSync(join(outdir, "config.capnp"), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = (
    modules = [ ${modules.join(",\n      ")} ],
    compatibilityDate = "${COMPATIBILITY_DATE}",
  )) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
`);
  const server = startServer(bin, ["serve", "config.capnp"], { cwd: outdir });
  const base = `http://127.0.0.1:${port}`;
  try {
    // ready when a TCP connection is accepted (workerd needs ~0.1 s); a crash ends the wait at once
    const deadline = Date.now() + 20_000;
    let exited = false;
    server.exited.then(() => { exited = true; });
    for (;;) {
      if (exited) throw new Error(`workerd exited before serving:\n${tail(server.output)}`);
      if (await canConnect(port)) break;
      if (Date.now() > deadline) throw new Error(`workerd did not answer on ${base} within 20 s:\n${tail(server.output)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return await use(base, () => server.output);
  } finally {
    await server.stop();
  }
}
