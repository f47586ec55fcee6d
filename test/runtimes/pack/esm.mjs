// npm pack smoke test, Node ESM side: run from a fresh project where the packed tarball is installed.
// Imports the package by name, runs one small attention, loads the kernels again from the .wasm
// subpaths (as bytes and as a compiled Module), and prints "SMOKE <json>" for test/runtimes/pack.mjs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as api from "wasm-attention";

const L = 5, E = 8;
const x = { data: Float32Array.from({ length: L * E }, (_, i) => ((i * 7) % 11) / 11 - 0.5), shape: [L, E] };
const digest = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).join(",");

const info = await api.init();
const out = api.scaledDotProductAttention(x, x, x, { causal: true }).output.data;

const subpaths = {};
for (const s of ["wasm-attention/kernels.wasm", "wasm-attention/kernels.debug.wasm", "wasm-attention/wasm/kernels.wasm", "wasm-attention/package.json"]) {
  const file = fileURLToPath(import.meta.resolve(s));
  subpaths[s] = { file, bytes: readFileSync(file).length };
}
// init from the subpath's bytes, then from a compiled Module: the same result bits
const bytes = readFileSync(fileURLToPath(import.meta.resolve("wasm-attention/kernels.wasm")));
await api.init({ source: bytes });
const fromBytes = api.scaledDotProductAttention(x, x, x, { causal: true }).output.data;
api.initSync({ source: new WebAssembly.Module(bytes) });
const fromModule = api.scaledDotProductAttention(x, x, x, { causal: true }).output.data;

console.log(`SMOKE ${JSON.stringify({
  entry: fileURLToPath(import.meta.resolve("wasm-attention")), exports: Object.keys(api).sort(), info,
  digest: digest(out), sameFromBytes: digest(fromBytes) === digest(out), sameFromModule: digest(fromModule) === digest(out), subpaths,
})}`);
