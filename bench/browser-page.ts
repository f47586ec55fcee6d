// The page side of `npm run bench -- --browser` (bench/browser.ts bundles this file with esbuild and
// loads it in headless Chromium): points the peers at their .wasm files on the page's server, sends
// console output to Node, then runs bench/index.ts itself — the same cases, harness, referee and
// report as in Node — and tells Node its exit code.
// @ts-expect-error: lodash ships no types here (@types/lodash is not a dependency)
import lodash from "lodash";
import * as ort from "onnxruntime-web";
// @ts-expect-error: platform.js ships no types here
import platform from "platform";
import { Exit, process, send } from "./browser-process.js";

// Benchmark.js takes lodash and platform.js from require() (Node) or else from globals; in the bundle
// its own dynamic require() finds nothing, so they are globals, set before it is first evaluated.
Object.assign(globalThis, { _: lodash, platform });
const { default: Benchmark } = await import("benchmark");

// onnxruntime-web finds its .wasm beside its script, which is this bundle: point it at its dist/.
ort.env.wasm.wasmPaths = new URL("/node_modules/onnxruntime-web/dist/", location.href).href;
// Benchmark.js compiles its timing loops with a <script> element that names the global Benchmark;
// without one it falls back to Function (the same loops), after a ReferenceError in the page.
(globalThis as { Benchmark?: unknown }).Benchmark = Benchmark;
// Benchmark.js's clocks are process.hrtime (Node), microtime, chrome.Interval (Chrome with
// --enable-benchmarking) or Date (1 ms). Its chrome.Interval hook, on performance.now() (5 µs steps in
// a cross-origin isolated page), gives it a microsecond clock; it picks the finest it measures.
const w = globalThis as { chrome?: Record<string, unknown> };
w.chrome = Object.assign(w.chrome ?? {}, {
  Interval: class {
    #t0 = 0;
    start(): void { this.#t0 = performance.now(); }
    stop(): void { /* Benchmark.js reads microseconds() without stopping */ }
    microseconds(): number { return (performance.now() - this.#t0) * 1e3; }
  },
});

const text = (args: unknown[]): string => args.map((a) => {
  if (typeof a === "string") return a;
  if (a instanceof Error) return a.stack ?? `${a.name}: ${a.message}`;
  try { return JSON.stringify(a); } catch { return String(a); }
}).join(" ") + "\n";
console.log = console.info = (...a: unknown[]) => process.stdout.write(text(a));
console.warn = console.error = (...a: unknown[]) => process.stderr.write(text(a));

(globalThis as { __benchRunning?: boolean }).__benchRunning = true;
let code: number;
try {
  await import("./index.js");
  code = process.exitCode ?? 0;
} catch (e) {
  if (e instanceof Exit) code = e.code;
  else {
    process.stderr.write(`bench (browser): ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    code = 1;
  }
}
send("exit", String(code));
