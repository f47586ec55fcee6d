// npm pack smoke test, Node CommonJS side: require() of the package (its "require" export, a
// CommonJS bundle), initSync() over the embedded bytes, the same attention as esm.mjs.
const api = require("wasm-attention");

const L = 5, E = 8;
const x = { data: Float32Array.from({ length: L * E }, (_, i) => ((i * 7) % 11) / 11 - 0.5), shape: [L, E] };
const digest = (a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).join(",");

const info = api.initSync();
const out = api.scaledDotProductAttention(x, x, x, { causal: true }).output.data;
console.log(`SMOKE ${JSON.stringify({ entry: require.resolve("wasm-attention"), exports: Object.keys(api).sort(), info, digest: digest(out) })}`);
