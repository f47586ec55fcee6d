// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core): the conformance suite
// bundled by esbuild for the browser and served from 127.0.0.1, once through the default entry
// (embedded bytes) and once loading every build from its .wasm URL (the ./wasm/* subpath, copied by
// esbuild's file loader); then examples/browser/index.html, unbundled, through its import map.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { staticServer } from "./util.mjs";
import { wasmFile } from "./builds.mjs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

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
 * Throws when Chromium or playwright-core is missing, or a page fails to load.
 */
export async function runChromium(root, dir, builds) {
  await bundle(root, dir, builds);
  copyFileSync(join(root, "examples", "browser", "index.html"), join(dir, "example.html"));
  const { chromium } = await import("playwright-core");
  const server = await staticServer(dir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
  try {
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
    await browser.close();
    await server.close();
  }
}
