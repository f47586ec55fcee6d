// A worked example of the three ways a Transformer uses attention, with wasm-attention:
//   1. encoder self-attention over a padded batch (key padding mask),
//   2. decoder cross-attention: decoder queries over the encoder's output (kdim/vdim may differ),
//   3. generation: causal self-attention token by token with a KV cache.
// Run: `node examples/transformer/index.mjs` (after `npm install`). Prints what each part shows.
// The module also exports what it computed (`example`): test/src/example-transformer.test.ts imports
// it and checks every number against a float64 reference.
import { fileURLToPath } from "node:url";
import { init, MultiHeadAttention } from "wasm-attention";

await init();

const B = 2, S = 6, L = 4, E = 32, H = 4, T = 8;
const rand = (n, seed) => {              // small deterministic data
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
};

// 1. Encoder self-attention. Sequence 0 has 6 tokens, sequence 1 only 4: its last 2 are padding.
const encoder = new MultiHeadAttention({ embedDim: E, numHeads: H, seed: 1 });
const source = { data: rand(B * S * E, 2), shape: [B, S, E] };
const padding = { data: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]), shape: [B, S] };   // 1 = padding
const memory = encoder.forward(source, undefined, undefined, { keyPaddingMask: padding, needWeights: true });
// No query attends to a padded key: in sequence 1, weight columns 4 and 5 are 0 (weights: [B, S, S]).
let padWeight = 0;
for (let i = 0; i < S; i++) padWeight += memory.weights.data[(1 * S + i) * S + 4] + memory.weights.data[(1 * S + i) * S + 5];

// 2. Decoder cross-attention: L decoder positions attend over the S encoder outputs.
const cross = new MultiHeadAttention({ embedDim: E, numHeads: H, seed: 3 });
const target = { data: rand(B * L * E, 4), shape: [B, L, E] };
const attended = cross.forward(target, memory.output, memory.output, { keyPaddingMask: padding });

// 3. Generation: a decoder self-attention layer fed one token at a time through a KV cache gives the
//    same rows as one causal pass over the whole sequence.
const decoder = new MultiHeadAttention({ embedDim: E, numHeads: H, numKVHeads: 2, seed: 5 });   // grouped-query
const tokens = { data: rand(1 * T * E, 6), shape: [1, T, E] };
const whole = decoder.forward(tokens, undefined, undefined, { causal: true }).output.data;
const cache = decoder.createCache({ batch: 1, maxLength: T });
const steps = [];
let maxDiff = 0;
for (let t = 0; t < T; t++) {
  const step = { data: tokens.data.subarray(t * E, (t + 1) * E), shape: [1, 1, E] };
  const row = decoder.forward(step, undefined, undefined, { cache }).output.data;
  steps.push(row);
  for (let i = 0; i < E; i++) maxDiff = Math.max(maxDiff, Math.abs(row[i] - whole[t * E + i]));
}

/** Everything above: each layer's config, its parameters (stateDict: PyTorch's names), inputs and results. */
export const example = {
  encoder: { config: { embedDim: E, numHeads: H }, stateDict: encoder.stateDict(), source, padding, output: memory.output, weights: memory.weights },
  cross: { config: { embedDim: E, numHeads: H }, stateDict: cross.stateDict(), target, memory: memory.output, padding, output: attended.output },
  generation: { config: { embedDim: E, numHeads: H, numKVHeads: 2 }, stateDict: decoder.stateDict(), tokens, whole, steps, cacheLength: cache.length },
};
for (const m of [encoder, cross, decoder]) m.dispose();

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`1. encoder: output [${memory.output.shape}]; weight on the padded keys of sequence 1: ${padWeight}`);
  console.log(`2. cross-attention: output [${attended.output.shape}]`);
  console.log(`3. generation: ${cache.length} steps through the cache; largest difference from one causal pass: ${maxDiff.toExponential(2)}`);
}
