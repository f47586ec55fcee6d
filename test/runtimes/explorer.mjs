// The attention explorer (examples/attention-explorer/) in real headless Chromium: launchChromium()
// of chromium.mjs (CHROMIUM_PATH, else @sparticuz/chromium's binary; minimal flags). The page is served
// from the repository (it imports ../../dist/index.js) by a node:http server on 127.0.0.1 that sends
// COOP/COEP, so the page is cross-origin isolated as a threaded build needs. The run types a sentence,
// checks one heatmap panel per head with L×L cells and one for the mean, that the causal and padding
// toggles give weight-0 colours exactly where keys are masked, runs the benchmark panel and checks
// finite GFLOP/s for every implementation, and saves a screenshot (examples/attention-explorer/screenshot.png,
// shown in the README) from the same run.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { launchChromium } from "./chromium.mjs";

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json", ".wasm": "application/wasm", ".png": "image/png" };
const SENTENCE = "Attention is all you need, they said.";   // 9 tokens: 7 words, "," and "."
const TOKENS = 9;
const WEIGHT_ZERO = "#440154";   // viridis entry 0: the colour of weight 0 with the page's range [0, max]

/** Serves `root` on 127.0.0.1, cross-origin isolated (COOP same-origin, COEP require-corp). */
async function isolatedServer(root) {
  const server = createServer((req, res) => {
    const file = join(root, normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)));
    const path = existsSync(file) && statSync(file).isDirectory() ? join(file, "index.html") : file;
    if (req.method !== "GET" || !path.startsWith(root + sep) || !existsSync(path)) { res.writeHead(404).end("not found"); return; }
    res.writeHead(200, {
      "content-type": TYPES[extname(path)] ?? "application/octet-stream", "cache-control": "no-store",
      "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp",
    }).end(readFileSync(path));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }) };
}

/** In the page: per heatmap container, the panels' cell fills (row-major) and titles. */
function readMaps() {
  const panels = (id) => [...document.querySelectorAll(`#${id} svg g.panel`)].map((p) => ({
    name: p.querySelector(".panel-title")?.textContent,
    fills: [...p.querySelectorAll("g.cells > rect")].map((r) => r.getAttribute("fill")),
  }));
  return { perHead: panels("per-head"), mean: panels("mean"), status: document.getElementById("status").textContent };
}

/**
 * Runs the checks into `tally` (a Tally from util.mjs). `root`: the repository, with dist/ built.
 * Every failure is a failed check (a missing Chromium too), never a skip.
 */
export async function runExplorer({ root, tally, screenshot = join(root, "examples", "attention-explorer", "screenshot.png") }) {
  const name = (s) => `explorer: ${s}`;
  let browser, server;
  const errors = [];
  try {
    server = await isolatedServer(root);
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(`${server.url}/examples/attention-explorer/`);
    await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
    tally.check(name(`page loads (Chromium ${browser.version()}), cross-origin isolated`), await page.evaluate(() => crossOriginIsolated), errors.join(" | "));

    // 1. type a sentence: 4 heads (the default) → 4 panels of 9×9 cells, and the mean
    await page.fill("#text", SENTENCE);
    await page.waitForSelector(`body[data-tokens="${TOKENS}"]`, { timeout: 10_000 });
    let m = await page.evaluate(readMaps);
    tally.check(name("one heatmap panel per head (4), each L×L = 81 cells"), m.perHead.length === 4 && m.perHead.every((p, h) => p.fills.length === 81 && p.name === `head ${h}`),
      JSON.stringify(m.perHead.map((p) => [p.name, p.fills.length])));
    tally.check(name("one mean panel of 81 cells"), m.mean.length === 1 && m.mean[0].fills.length === 81 && m.mean[0].name === "mean of 4 heads", JSON.stringify(m.mean.map((p) => [p.name, p.fills.length])));
    const upper = (fills, L) => fills.filter((_, i) => i % L > Math.floor(i / L));
    tally.check(name("without a mask some future key has weight > 0"), m.perHead.some((p) => upper(p.fills, TOKENS).some((f) => f !== WEIGHT_ZERO)), "");

    // 2. causal: every key after its query has weight 0 in every panel
    await page.check("#causal");
    await page.waitForSelector(`body[data-causal="true"]`, { timeout: 10_000 });
    m = await page.evaluate(readMaps);
    tally.check(name("causal: every cell above the diagonal has weight 0's colour, in every head and the mean"),
      [...m.perHead, ...m.mean].every((p) => p.fills.length === 81 && upper(p.fills, TOKENS).every((f) => f === WEIGHT_ZERO)), m.status);
    await page.uncheck("#causal");
    await page.waitForSelector(`body[data-causal="false"]`, { timeout: 10_000 });

    // 3. padding: 9 tokens + 7 [PAD] = 16; the padding keys (columns 9…15) have weight 0 in every row
    await page.check("#padding");
    await page.waitForSelector(`body[data-tokens="16"]`, { timeout: 10_000 });
    m = await page.evaluate(readMaps);
    tally.check(name("padding: 16 × 16 cells a panel, every padding key's column has weight 0's colour"),
      [...m.perHead, ...m.mean].every((p) => p.fills.length === 256 && p.fills.every((f, i) => i % 16 < TOKENS || f === WEIGHT_ZERO)), m.status);
    await page.uncheck("#padding");
    await page.waitForSelector(`body[data-tokens="${TOKENS}"]`, { timeout: 10_000 });

    // 4. 8 heads → 8 panels
    await page.selectOption("#heads", "8");
    await page.waitForFunction(() => document.querySelectorAll("#per-head svg g.panel").length === 8, null, { timeout: 10_000 });
    m = await page.evaluate(readMaps);
    tally.check(name("8 heads: 8 panels of 81 cells"), m.perHead.length === 8 && m.perHead.every((p) => p.fills.length === 81), m.status);

    // 5. a safetensors file (nn.MultiheadAttention weights, E = 32, under a prefix) replaces the seeded weights
    const api = await import(pathToFileURL(join(root, "dist", "index.js")).href);
    await api.init();
    const src = new api.MultiHeadAttention({ embedDim: 32, numHeads: 4, seed: 5 });
    const file = api.writeSafetensors(src.stateDict("encoder.layers.0.self_attn."));
    src.dispose();
    await page.selectOption("#heads", "4");
    await page.setInputFiles("#weights", { name: "mha.safetensors", mimeType: "application/octet-stream", buffer: Buffer.from(file) });
    await page.waitForFunction(() => /mha\.safetensors/.test(document.getElementById("status").textContent), null, { timeout: 10_000 });
    m = await page.evaluate(readMaps);
    tally.check(name("a dropped-in safetensors file (E = 32, prefix encoder.layers.0.self_attn.): 4 panels of 81 cells"),
      m.perHead.length === 4 && m.perHead.every((p) => p.fills.length === 81) && m.status.includes("mha.safetensors (encoder.layers.0.self_attn.*), E = 32"), m.status);
    await page.setInputFiles("#weights", []);
    await page.waitForFunction(() => /seeded weights/.test(document.getElementById("status").textContent), null, { timeout: 10_000 });

    // 6. at most 64 tokens
    await page.fill("#text", Array.from({ length: 70 }, (_, i) => `w${i}`).join(" "));
    await page.waitForSelector(`body[data-tokens="64"]`, { timeout: 10_000 });
    m = await page.evaluate(readMaps);
    tally.check(name("70 words are cut to 64 tokens: 64 × 64 cells a panel"), m.perHead.every((p) => p.fills.length === 64 * 64), m.status);
    await page.fill("#text", SENTENCE);
    await page.waitForSelector(`body[data-tokens="${TOKENS}"]`, { timeout: 10_000 });

    // 7. attentionHeatmap gives the same text in Chromium as in Node (cells, labels, NaN, a pooled PNG image)
    const recipes = [
      { shape: [2, 5, 7], nanAt: 3, opts: { queryLabels: ["a", "<b>", "&c", '"d"', "a-very-long-token"], keyLabels: ["1", "2", "3", "4", "5", "6", "7"], title: "t & <t>" } },
      { shape: [1, 3, 9, 9], nanAt: -1, opts: { batch: 0, heads: "mean", colormap: "magma", range: [0.1, 0.7] } },
      { shape: [300, 520], nanAt: 1234, opts: { colormap: "gray" } },
    ];
    const make = (r) => {   // the same weights on both sides: a multiplicative hash in [0, 1), one NaN
      const n = r.shape.reduce((a, b) => a * b, 1), data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = ((Math.imul(i + 1, 2654435761) >>> 0) % 1000003) / 1000003;
      if (r.nanAt >= 0) data[r.nanAt] = NaN;
      return { data, shape: r.shape };
    };
    const inNode = recipes.map((r) => api.attentionHeatmap(make(r), r.opts));
    const inPage = await page.evaluate(async ([recipes, makeSrc]) => {
      const { attentionHeatmap } = await import("wasm-attention");
      const make = new Function(`return ${makeSrc}`)();
      return recipes.map((r) => attentionHeatmap(make(r), r.opts));
    }, [recipes, make.toString()]);
    const same = inNode.map((s, i) => s === inPage[i]);
    tally.check(name("attentionHeatmap: the same SVG text in Chromium as in Node (3 maps, one drawn as a PNG image)"), same.every(Boolean),
      `${inNode.map((s) => s.length).join(", ")} characters; same: ${same.join(", ")}`);

    // 8. the benchmark panel: every implementation the browser runs reports a finite GFLOP/s
    const t0 = performance.now();
    await page.click("#run-bench");
    await page.waitForSelector("#bench[data-done]", { timeout: 300_000 });
    const bench = await page.evaluate(() => ({
      support: document.getElementById("support").textContent,
      header: [...document.querySelectorAll("#bench-table th")].map((t) => t.textContent),
      rows: [...document.querySelectorAll("#bench-table tr")].slice(1).map((tr) => [...tr.children].map((td) => ({ text: td.textContent, gflops: td.dataset.gflops ?? null }))),
      status: document.getElementById("bench-status").textContent,
      threads: crossOriginIsolated && navigator.hardwareConcurrency > 1,
      relaxed: WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11])),
    }));
    const cells = bench.rows.flatMap((r) => r.slice(1));
    const wantImpls = 2 + bench.relaxed + bench.threads;   // SIMD, relaxed where it validates, threads where isolated with > 1 core, plain JavaScript
    tally.check(name(`benchmark: 3 cases × ${wantImpls} implementations, each a finite GFLOP/s > 0`),
      bench.rows.length === 3 && bench.rows.every((r) => r.length === 1 + wantImpls) && cells.every((c) => c.gflops !== null && Number.isFinite(+c.gflops) && +c.gflops > 0),
      `${Math.round((performance.now() - t0) / 1000)} s; ${bench.header.join(" | ")}; ${bench.rows.map((r) => r.map((c) => c.text).join(" | ")).join(" / ")}`);
    tally.check(name("benchmark: lists the browser's SIMD, relaxed SIMD, threads and cores"), /WebAssembly SIMD: yes/.test(bench.support) && /relaxed SIMD: (yes|no)/.test(bench.support) && /threads .*: (yes|no)/.test(bench.support) && /logical cores: \d+/.test(bench.support), bench.support);
    console.log(`  explorer bench: ${bench.header.slice(1).join(" | ")}\n${bench.rows.map((r) => `    ${r.map((c) => c.text).join(" | ")}`).join("\n")}`);

    // 9. the screenshot for the README: 4 heads, the sentence, the benchmark results
    await page.selectOption("#heads", "4");
    await page.waitForFunction(() => document.querySelectorAll("#per-head svg g.panel").length === 4, null, { timeout: 10_000 });
    await page.screenshot({ path: screenshot, fullPage: true });
    tally.check(name(`screenshot saved (${screenshot.slice(root.length + 1)})`), existsSync(screenshot) && statSync(screenshot).size > 10_000, "");
    tally.check(name("no errors in the page"), errors.length === 0, errors.join(" | "));
  } catch (e) {
    tally.check(name("run the page in Chromium"), false, `${e.message.split("\n")[0]}${errors.length ? `; page errors: ${errors.join(" | ")}` : ""}`);
  } finally {
    await browser?.close();
    await server?.close();
  }
}
