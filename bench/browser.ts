// `npm run bench -- --browser [options] [words]`: the bench in headless Chromium. bench/index.ts
// delegates here; this bundles bench/browser-page.ts (which runs bench/index.ts itself: the same
// cases, harness, float64 referee, targets and report) with esbuild for the page, serves it from
// 127.0.0.1 cross-origin isolated (COOP/COEP: SharedArrayBuffer, so the threads build and ORT's
// threads run), opens it in the Chromium of test/runtimes/chromium.mjs (CHROMIUM_PATH, else
// @sparticuz/chromium's), and carries out what the page asks through window.__benchSend: its stdout
// and stderr (the progress, the tables), the result files (written here, only under --out; default
// bench/results/browser/), the thread axis's second process (run as a second page), its exit code.
// Every other option and word is the Node bench's (bench/harness.ts's USAGE).
//
// What differs from Node: no cold-start row (it times fresh Node processes); timing uses
// performance.now() (5 µs in a cross-origin isolated page) through Benchmark.js's chrome.Interval
// hook; the machine line names Chromium and its V8; load is the host's 1-minute average, from Node.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import os from "node:os";
import { dirname, extname, isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Page } from "playwright-core";
import type { PageConfig } from "./browser-process.js";
import { parseArgs } from "./harness.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const here = join(root, "bench");
const DEFAULT_OUT = join(here, "results", "browser");

/** Runs the bench in Chromium with `argv` (process.argv.slice(2), --browser anywhere in it); resolves with the exit code. */
export async function runInBrowser(argv: string[]): Promise<number> {
  const args = argv.filter((a) => a !== "--browser" && a !== "--");
  const opts = parseArgs(args);   // throws on a bad option; --help prints the usage and exits
  const outDir = resolve(opts.outDir === parseArgs([]).outDir ? DEFAULT_OUT : opts.outDir);
  const pageArgs = [...withoutOut(args), "--out", outDir];

  const dir = mkdtempSync(join(os.tmpdir(), "wasm-attention-browser-bench-"));
  let server: Awaited<ReturnType<typeof serve>> | undefined;
  let browser: import("playwright-core").Browser | undefined;
  try {
    const t0 = performance.now();
    await bundle(dir);
    log(`bundled bench/browser-page.ts in ${Math.round(performance.now() - t0)} ms`);
    server = await serve(dir);
    const { launchChromium } = await import("../test/runtimes/chromium.mjs");
    browser = await launchChromium();
    const cdp = await browser.newBrowserCDPSession();
    const v = await cdp.send("Browser.getVersion") as { product: string; jsVersion: string };
    await cdp.detach();
    const chrome = browser.version();
    log(`${v.product} (V8 ${v.jsVersion}), headless, served cross-origin isolated from ${server.url}`);

    const queue: { argv: string[]; env: Record<string, string> }[] = [{ argv: pageArgs, env: {} }];
    let code = 0;
    while (queue.length) {
      const run = queue.shift()!;
      const cfg: PageConfig = {
        argv: run.argv, env: run.env,
        host: { ...host(), node: process.version },
        browser: { chrome, v8: v.jsVersion, product: v.product },
      };
      const r = await runPage(await browser.newPage(), server.url, cfg, outDir);
      if (r.code !== 0) code = r.code;
      queue.push(...r.spawned);
    }
    return code;
  } catch (e) {
    process.stderr.write(`bench --browser: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function log(line: string): void { process.stderr.write(`[browser] ${line}\n`); }

/** args without --out DIR / --out=DIR. */
function withoutOut(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out") { i++; continue; }
    if (!args[i]!.startsWith("--out=")) out.push(args[i]!);
  }
  return out;
}

function host(): Omit<PageConfig["host"], "node"> {
  const cpus = os.cpus();
  return {
    cpu: (cpus[0]?.model ?? "unknown cpu").trim(), cores: cpus.length, platform: os.platform(), arch: os.arch(),
    memBytes: os.totalmem(), load1: +(os.loadavg()[0] ?? 0).toFixed(2),
  };
}

/** bench/browser-page.ts → <dir>/bench.js, with the Node built-ins and `process` replaced by bench/browser-node.ts and bench/browser-process.ts. */
async function bundle(dir: string): Promise<void> {
  await build({
    entryPoints: [join(here, "browser-page.ts")], outfile: join(dir, "bench.js"),
    bundle: true, format: "esm", platform: "browser", target: "es2022", logLevel: "error",
    inject: [join(here, "browser-process.ts")],
    plugins: [{
      name: "node-in-a-page",
      setup(b) {
        b.onResolve({ filter: /^node:/ }, () => ({ path: join(here, "browser-node.ts") }));
        // index.ts's `--browser` branch imports this file, which the page never runs.
        b.onResolve({ filter: /^\.\/browser\.js$/ }, (a) => (a.importer === join(here, "index.ts") ? { path: "./browser.js", external: true } : undefined));
      },
    }],
  });
  // An error before the bench starts (a module that fails to evaluate) would leave Node waiting: report it.
  const early = `addEventListener("error", (e) => { if (!globalThis.__benchRunning) __benchSend(-1, "fatal", String(e.message)); });`;
  writeFileSync(join(dir, "index.html"), `<!doctype html><meta charset="utf-8"><title>wasm-attention bench</title><script>${early}</script><script type="module" src="bench.js"></script>\n`);
}

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

/** /bench/* from the bundle's folder, /node_modules/* from the repository (the peers' .wasm and worker scripts); cross-origin isolated. */
async function serve(dir: string) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    const [base, rest] = path.startsWith("/bench/") ? [dir, path.slice(7)] : path.startsWith("/node_modules/") ? [join(root, "node_modules"), path.slice(14)] : ["", ""];
    const file = base && join(base, rest);
    if (req.method !== "GET" || !file || !file.startsWith(base + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store",
      "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp",
    }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/**
 * Loads the bench page with `cfg` and carries out its messages in their order until it exits.
 * Resolves with its exit code and the bench processes it asked for (the thread axis).
 */
async function runPage(page: Page, url: string, cfg: PageConfig, outDir: string): Promise<{ code: number; spawned: { argv: string[]; env: Record<string, string> }[] }> {
  const spawned: { argv: string[]; env: Record<string, string> }[] = [];
  let next = 0;
  const held = new Map<number, [string, string?, string?]>();
  let finish!: (code: number) => void;
  const exited = new Promise<number>((r) => { finish = r; });
  const handle = (kind: string, a = "", b = ""): void => {
    switch (kind) {
      case "stdout": process.stdout.write(a); break;
      case "stderr": process.stderr.write(a); break;
      case "mkdir": mkdirSync(inside(outDir, a), { recursive: true }); break;
      case "write": { const p = inside(outDir, a); mkdirSync(dirname(p), { recursive: true }); writeFileSync(p, b); break; }
      case "spawn": spawned.push(JSON.parse(a)); break;
      case "exit": finish(Number(a)); break;
      case "fatal": process.stderr.write(`bench --browser: the page failed before the bench started: ${a}\n`); finish(1); break;
      default: process.stderr.write(`bench --browser: unknown message ${kind}\n`);
    }
  };
  await page.exposeFunction("__benchSend", (seq: number, kind: string, a?: string, b?: string) => {
    if (seq < 0) { handle(kind, a, b); return; }
    held.set(seq, [kind, a, b]);
    for (let m = held.get(next); m; m = held.get(next)) { held.delete(next++); handle(...m); }
  });
  await page.addInitScript((c) => { (globalThis as { __BENCH__?: unknown }).__BENCH__ = c; }, cfg);
  page.on("pageerror", (e) => process.stderr.write(`bench --browser: page error: ${e.message}\n`));
  page.on("crash", () => { process.stderr.write("bench --browser: the page crashed\n"); finish(1); });
  // The host's load average, for each case's load column (the machines are shared).
  const timer = setInterval(() => { page.evaluate((l) => { (globalThis as unknown as { __BENCH__: PageConfig }).__BENCH__.host.load1 = l; }, +(os.loadavg()[0] ?? 0).toFixed(2)).catch(() => {}); }, 5000);
  try {
    await page.goto(`${url}/bench/index.html`);
    return { code: await exited, spawned };
  } finally {
    clearInterval(timer);
    await page.close().catch(() => {});
  }
}

/** `p` resolved, if it lies in `dir` (the page may only write results there). */
function inside(dir: string, p: string): string {
  const abs = resolve(p);
  const rel = relative(dir, abs);
  if (rel.startsWith("..") || isAbsolute(rel)) throw new Error(`bench --browser: the page asked to write ${p}, outside ${dir}`);
  return abs;
}
