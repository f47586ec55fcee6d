// Cloudflare Worker: `npm install wasm-attention`, then `npx wrangler dev` (wrangler.toml beside this).
// wrangler resolves the package's "workerd" export, whose init() uses the .wasm imported as a module
// (Workers cannot compile WebAssembly from bytes).
import { init, scaledDotProductAttention } from "wasm-attention";

export default {
  async fetch() {
    await init();
    const L = 4, E = 8;   // 4 tokens, width 8, one head: causal self-attention with q = k = v = x
    const x = { data: Float32Array.from({ length: L * E }, (_, i) => ((i * 7) % 11) / 11 - 0.5), shape: [L, E] };
    const { output } = scaledDotProductAttention(x, x, x, { causal: true });
    return new Response(JSON.stringify({ shape: output.shape, data: Array.from(output.data, (v) => +v.toFixed(5)) }));
  },
};
