// Node: `npm install wasm-attention`, then `node index.mjs`.
import { init, scaledDotProductAttention } from "wasm-attention";

await init();   // compiles the embedded kernels once
const L = 4, E = 8;   // 4 tokens, width 8, one head: causal self-attention with q = k = v = x
const x = { data: Float32Array.from({ length: L * E }, (_, i) => ((i * 7) % 11) / 11 - 0.5), shape: [L, E] };
const { output } = scaledDotProductAttention(x, x, x, { causal: true });
console.log(JSON.stringify({ shape: output.shape, data: Array.from(output.data, (v) => +v.toFixed(5)) }));
