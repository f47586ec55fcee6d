// Headless Chromium, driven by playwright-core: the conformance suite bundled by esbuild for the
// browser and served from 127.0.0.1, once through the default entry (embedded bytes) and once loading
// every build from its .wasm URL (the ./wasm/* subpath, copied by esbuild's file loader); then
// examples/browser/index.html, unbundled, through its import map.
// The browser is CHROMIUM_PATH if set, else the Chromium that the @sparticuz/chromium devDependency
// ships in its tarball (Linux x64), unpacked once per version into the temp folder. A system Chromium
// is never needed.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { run, staticServer, tail } from "./util.mjs";
import { wasmFile } from "./builds.mjs";

const PACKAGE = "@sparticuz/chromium";
// A browser that behaves as a user's does: none of @sparticuz/chromium's `chromium.args`, which
// include --disable-web-security, --disable-site-isolation-trials and
// --enable-features=SharedArrayBuffer (a page without COOP/COEP would then look cross-origin isolated
// capable). Only what a headless run as root in a container needs; software GL is the SwiftShader
// unpacked next to the binary.
const ARGS = ["--no-sandbox", "--no-zygote", "--use-angle=swiftshader", "--in-process-gpu"];

let unpacked;   // the promise of the package's binary, shared by every caller in this process

/**
 * The Chromium binary to test with: CHROMIUM_PATH if set, else @sparticuz/chromium's, unpacked on the
 * first call. Rejects with a message that says why when there is none.
 */
export async function chromiumPath() {
  const env = process.env.CHROMIUM_PATH;
  if (env) {
    if (!existsSync(env)) throw new Error(`CHROMIUM_PATH=${env}: no such file`);
    return env;
  }
  unpacked ??= unpack().catch((e) => { unpacked = undefined; throw e; });
  return unpacked;
}

/**
 * Unpacks the package's Chromium into <tmp>/sparticuz-chromium-<version>/ (where its SwiftShader
 * libraries sit beside it) and returns the binary's path. The package's executablePath() unpacks
 * into os.tmpdir() itself and trusts any <tmp>/chromium it finds, whatever its version or however
 * complete; so it runs in a child whose TMPDIR is a fresh folder, which is then renamed into place:
 * a partial unpack is never used, and concurrent test runs (other checkouts) share one copy.
 */
async function unpack() {
  const require = createRequire(import.meta.url);
  let main;
  try { main = require.resolve(PACKAGE); } catch { throw new Error(`${PACKAGE} is not installed (run npm install), and CHROMIUM_PATH is not set`); }
  const pkgDir = main.slice(0, main.lastIndexOf(join("node_modules", PACKAGE)) + join("node_modules", PACKAGE).length);
  const { version } = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`${PACKAGE} ${version} ships Chromium for Linux x64 only, not ${process.platform} ${process.arch}: set CHROMIUM_PATH to a Chromium or Chrome binary`);
  }
  const dir = join(tmpdir(), `sparticuz-chromium-${version}`);
  const bin = join(dir, "chromium");
  if (existsSync(bin)) return bin;
  const partial = mkdtempSync(`${dir}.partial-`);
  try {
    const r = await run(process.execPath, ["-e", "require(process.argv[1]).executablePath().then((p) => process.stdout.write(p))", main],
      { env: { TMPDIR: partial }, timeout: 300_000 });
    if (r.code !== 0 || r.stdout !== join(partial, "chromium")) {
      throw new Error(`${PACKAGE} ${version}: unpacking Chromium failed (exit ${r.code ?? r.signal}, printed ${JSON.stringify(r.stdout)}): ${tail(r.stderr)}`);
    }
    try { renameSync(partial, dir); } catch (e) { if (!existsSync(bin)) throw e; }   // another run got there first
  } finally { rmSync(partial, { recursive: true, force: true }); }
  return bin;
}

/**
 * Launches headless Chromium (chromiumPath()) through playwright-core with the minimal ARGS; `args`
 * are appended to those, other options are playwright's launch options. Returns the playwright Browser.
 */
export async function launchChromium({ args = [], ...options } = {}) {
  const executablePath = await chromiumPath();
  const { chromium } = await import("playwright-core");
  try {
    return await chromium.launch({ headless: true, timeout: 60_000, executablePath, ...options, args: [...ARGS, ...args] });
  } catch (e) { throw new Error(`${executablePath} did not start: ${e.message}`, { cause: e }); }
}

/** Bundles test/conformance/browser.mjs (copied to <dir>/conformance/) into <dir>/www/. */
async function bundle(root, dir, builds) {
  const src = join(dir, "conformance");
  mkdirSync(src, { recursive: true });
  for (const f of ["suite.mjs", "browser.mjs"]) copyFileSync(join(root, "test", "conformance", f), join(src, f));
  writeFileSync(join(src, "urls.mjs"), builds.map((b, i) => `import u${i} from "wasm-attention/wasm/${wasmFile(b)}";\n`).join("") +
    `export default { ${builds.map((b, i) => `${JSON.stringify(b)}: u${i}`).join(", ")} };\n`);
  const www = join(dir, "www");
  await build({
    entryPoints: [join(src, "browser.mjs")], outdir: www, bundle: true, format: "esm", platform: "browser",
    target: "es2022", loader: { ".wasm": "file" }, assetNames: "[name]-[hash]", logLevel: "error",
  });
  writeFileSync(join(www, "conformance.html"), `<!doctype html><meta charset="utf-8"><title>conformance</title><script type="module" src="browser.js"></script>\n`);
}

/**
 * Runs the suite in Chromium in both modes and the browser example. Returns
 * { version, embedded, url, example } (results as the suite returns them; example is the page's text).
 * Throws when Chromium or playwright-core is missing or fails to start, or a page fails to load.
 */
export async function runChromium(root, dir, builds) {
  await bundle(root, dir, builds);
  copyFileSync(join(root, "examples", "browser", "index.html"), join(dir, "example.html"));
  const server = await staticServer(dir);
  let browser;
  try {
    browser = await launchChromium();
    const page = async (path, wait) => {
      const p = await browser.newPage();
      const errors = [];
      p.on("pageerror", (e) => errors.push(e.message));
      p.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
      try {
        await p.goto(`${server.url}${path}`);
        return await wait(p);
      } catch (e) {
        throw new Error(`${path}: ${e.message.split("\n")[0]}${errors.length ? `; page errors: ${errors.join(" | ")}` : ""}`);
      } finally { await p.close(); }
    };
    const suite = (mode) => page(`/www/conformance.html?builds=${builds.join(",")}&mode=${mode}`, async (p) => {
      await p.waitForFunction(() => globalThis.__result !== undefined, null, { timeout: 60_000 });
      let timer;
      const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error("the suite took over 120 s")), 120_000); });
      try { return await Promise.race([p.evaluate(() => globalThis.__result), timeout]); } finally { clearTimeout(timer); }
    });
    const embedded = await suite("embedded");
    const url = await suite("url");
    const example = await page("/example.html", async (p) => {
      await p.waitForSelector("#out[data-done]", { timeout: 60_000 });
      return p.textContent("#out");
    });
    return { version: browser.version(), embedded, url, example };
  } finally {
    await browser?.close();
    await server.close();
  }
}
