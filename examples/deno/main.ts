// Deno: `deno run main.ts` (the npm: specifier needs no install step and no permission).
import { init, scaledDotProductAttention } from "npm:wasm-attention";

await init();
const L = 4, E = 8;   // 4 tokens, width 8, one head: causal self-attention with q = k = v = x
const x = { data: Float32Array.from({ length: L * E }, (_, i) => ((i * 7) % 11) / 11 - 0.5), shape: [L, E] };
const { output } = scaledDotProductAttention(x, x, x, { causal: true });
console.log(JSON.stringify({ shape: output.shape, data: Array.from(output.data, (v) => +v.toFixed(5)) }));
