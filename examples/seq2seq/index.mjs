// Whole Transformers with wasm-attention (issue 17's seeds), on small random models so it runs anywhere:
//   1. a classifier: TransformerEncoder over a padded batch, mean-pooled over real tokens, then nn.Linear
//      (`linear`) to class logits;
//   2. seq2seq generation with nn.Transformer: encode the source once, then generate greedily token by
//      token through the decoder's cache (self K/V kept, memory projected once), and the same steps by
//      re-running the decoder over the whole prefix: the same tokens, the same rows.
// Run: `node examples/seq2seq/index.mjs` (after `npm install`). The module exports what it computed
// (`example`); test/src/example-seq2seq.test.ts checks it against float64 references.
import { fileURLToPath } from "node:url";
import { init, linear, Transformer, TransformerEncoder } from "wasm-attention";

await init();

const rand = (n, seed) => {              // small deterministic data in [-1, 1)
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
};
const E = 32, H = 4, FF = 64, VOCAB = 11, CLASSES = 3;

// 1. Classifier: 2 sequences of up to 6 tokens; the second has 2 padding tokens (1 = padding).
const B = 2, L = 6;
const encoder = new TransformerEncoder({ layer: { dModel: E, nhead: H, dimFeedforward: FF, activation: "gelu", seed: 1 }, numLayers: 2, norm: true });
const tokens = { data: rand(B * L * E, 2), shape: [B, L, E] };          // already-embedded tokens
const padding = { data: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]), shape: [B, L] };
const hidden = encoder.forward(tokens, { srcKeyPaddingMask: padding });
const pooled = new Float32Array(B * E);
for (let b = 0; b < B; b++) {
  let n = 0;
  for (let i = 0; i < L; i++) {
    if (padding.data[b * L + i]) continue;
    n++;
    for (let e = 0; e < E; e++) pooled[b * E + e] += hidden.data[(b * L + i) * E + e];
  }
  for (let e = 0; e < E; e++) pooled[b * E + e] /= n;
}
const head = { weight: { data: rand(CLASSES * E, 3), shape: [CLASSES, E] }, bias: { data: rand(CLASSES, 4), shape: [CLASSES] } };
const logits = linear({ data: pooled, shape: [B, E] }, head.weight, head.bias);

// 2. Seq2seq: embeddings and an output projection shared with the vocabulary (random, untrained).
const model = new Transformer({ dModel: E, nhead: H, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: FF, seed: 5 });
const embedding = rand(VOCAB * E, 6);
const unembedding = rand(VOCAB * E, 7);   // the output projection [VOCAB, E] (nn.Linear without bias)
const embed = (ids) => {
  const x = new Float32Array(ids.length * E);
  ids.forEach((id, i) => x.set(embedding.subarray(id * E, (id + 1) * E), i * E));
  return { data: x, shape: [1, ids.length, E] };
};
const argmaxLogit = (row) => {       // greedy: the largest of logits = linear(row, unembedding)
  const logits = linear({ data: row, shape: [E] }, { data: unembedding, shape: [VOCAB, E] }).data;
  return logits.indexOf(Math.max(...logits));
};
const source = [3, 1, 4, 1, 5, 9, 2, 6];
const memory = model.encode(embed(source));
const STEPS = 10, BOS = 0;

const cache = model.createCache({ batch: 1, maxLength: STEPS + 1 });
const cached = [BOS], cachedRows = [];
for (let t = 0; t < STEPS; t++) {
  const row = model.decode(embed([cached[t]]), memory, { cache }).data;   // one token in, its row out
  cachedRows.push(row.slice());
  cached.push(argmaxLogit(row));
}

const rerun = [BOS], rerunRows = [];
for (let t = 0; t < STEPS; t++) {
  const out = model.decode(embed(rerun), memory, { tgtIsCausal: true }).data;   // the whole prefix again
  const row = out.slice(t * E, (t + 1) * E);
  rerunRows.push(row);
  rerun.push(argmaxLogit(row));
}
let maxDiff = 0;
cachedRows.forEach((r, t) => r.forEach((x, e) => { maxDiff = Math.max(maxDiff, Math.abs(x - rerunRows[t][e])); }));

/** Everything above, for the test: configs, parameters (PyTorch's names), inputs and results. */
export const example = {
  classifier: { layer: { E, H, FF, activation: "gelu" }, numLayers: 2, stateDict: encoder.stateDict(), tokens, padding, hidden, pooled, head, logits },
  seq2seq: { E, H, FF, stateDict: model.stateDict(), source, embedding, memory, cached, rerun, cachedRows, rerunRows },
};
encoder.dispose();
model.dispose();

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(`1. classifier: logits [${logits.shape}] = ${Array.from(logits.data, (x) => x.toFixed(3)).join(", ")}`);
  console.log(`2. generated with the cache: ${cached.join(" ")}; re-running the prefix: ${rerun.join(" ")}`);
  console.log(`   largest difference between their rows: ${maxDiff.toExponential(2)} (a cached step projects one token; a re-run, the whole prefix)`);
}
