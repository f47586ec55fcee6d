// test/src/rolling-cache.test.ts ↔ the rolling KV cache (src/kv-cache.ts: createCache({ window,
// sinkTokens }), the cache part of src/mha.ts and src/mha-plan.ts).
//   Token at position p attends over the sinks [0, sinkTokens) and the last `window` positions up to
//   itself, (p − window, p]; positions count up for RoPE. The reference recomputes each checked token in
//   float64 from the inputs over exactly those keys (refMha with the keys' true positions).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MultiHeadAttention, type Tensor, memoryStats } from "../../src/index.js";
import { assertRowsClose, randn, rng, throwsWith } from "../helpers.js";
import { refMha } from "../reference.js";
import { stillWorks } from "../support.js";
import { bitsEqual, fullCfg, randomWeights } from "./reliability-support.js";

type Cfg = { E: number; H: number; Hkv: number; rotary?: { dim?: number; interleaved?: boolean }; alibi?: boolean };

function layer(c: Cfg, seed = 1) {
  const cfg = fullCfg(c);
  const mha = new MultiHeadAttention({ embedDim: c.E, numHeads: c.H, numKVHeads: c.Hkv, seed, rotary: c.rotary, alibi: c.alibi });
  const { weights, ref } = randomWeights(rng(seed * 7919 + 13), cfg);
  mha.loadWeights(weights);
  return { mha, cfg, ref };
}

const t = (data: Float32Array, shape: number[]): Tensor => ({ data, shape });

/** The keys position p attends over: sinks, then (p − window, p]. */
function keysOf(p: number, window: number, sinks: number): number[] {
  const keys: number[] = [];
  for (let j = 0; j < Math.min(sinks, p + 1); j++) keys.push(j);
  for (let j = Math.max(sinks, p - window + 1); j <= p; j++) keys.push(j);
  return keys;
}

/** float64 output row of the token at position p of sequence b (x: [B, T, E]). */
function refRow(m: ReturnType<typeof layer>, c: Cfg, x: Float32Array, T: number, b: number, p: number, window: number, sinks: number) {
  const { E, H, Hkv } = c;
  const keys = keysOf(p, window, sinks);
  const row = (j: number) => x.subarray((b * T + j) * E, (b * T + j + 1) * E);
  const xk = new Float64Array(keys.length * E);
  keys.forEach((j, n) => xk.set(row(j), n * E));
  const Dh = E / H;
  return refMha(row(p), xk, xk, 1, 1, keys.length, E, H, Hkv, E, E, m.ref, {
    causal: true,
    rotary: c.rotary ? { dim: c.rotary.dim ?? Dh, interleaved: c.rotary.interleaved, qPos: () => p, kPos: (j) => keys[j] } : undefined,
    alibiSlopes: c.alibi ? m.mha.alibiSlopes! : undefined,
  });
}

test("rolling cache: 10 000 single-token steps (RoPE + GQA, window 24, 3 sinks) equal a float64 sliding-window recompute at sampled steps; memory flat after the window fills", () => {
  const c: Cfg = { E: 16, H: 4, Hkv: 2, rotary: {} };
  const m = layer(c, 2);
  const W = 24, SK = 3, T = 10_000, B = 2, E = c.E;
  const x = randn(rng(9), B * T * E);
  const cache = m.mha.createCache({ batch: B, window: W, sinkTokens: SK });
  assert.equal([cache.window, cache.sinkTokens, cache.maxLength, cache.length], [W, SK, Infinity, 0]);
  const sample = new Set([0, 1, SK, SK + 1, W - 1, W, W + SK - 1, W + SK, W + SK + 1, 2 * W + SK - 1, 2 * W + SK, 2 * W + SK + 1, 3 * W, 1000, 4321, T - 2, T - 1]);
  for (let k = 0; k < 30; k++) sample.add(Math.floor(rng(k)() * T));
  let inUse = -1, reserved = -1;
  const step = new Float32Array(B * E);
  for (let p = 0; p < T; p++) {
    for (let b = 0; b < B; b++) step.set(x.subarray((b * T + p) * E, (b * T + p + 1) * E), b * E);
    const y = m.mha.forward(t(step, [B, 1, E]), undefined, undefined, { cache }).output.data;
    if (sample.has(p)) {
      for (let b = 0; b < B; b++) {
        const ref = refRow(m, c, x, T, b, p, W, SK);
        assertRowsClose(y.subarray(b * E, (b + 1) * E), ref.out, E, 1e-5, `step ${p} batch ${b}`, ref.mag);
      }
    }
    if (p === 3 * W) ({ inUse, reserved } = memoryStats()!);
    if (p > 3 * W && p % 997 === 0) {
      const s = memoryStats()!;
      assert.equal([s.inUse, s.reserved], [inUse, reserved], `memory at step ${p}`);
    }
  }
  assert.is(cache.length, T);
  m.mha.dispose();
});

test("rolling cache: calls of several tokens (up to window) each see their own window; with 0 and 5 sinks, both RoPE layouts", () => {
  for (const [SK, rotary] of [[0, { interleaved: true }], [5, {}], [2, { dim: 4 }]] as [number, Cfg["rotary"]][]) {
    const c: Cfg = { E: 24, H: 3, Hkv: 1, rotary };
    const m = layer(c, 3 + SK);
    const W = 7, B = 2, E = c.E;
    const chunks = [1, 3, 7, 2, 1, 1, 5, 7, 7, 4, 1, 6, 2, 7, 3, 1, 1];
    const T = chunks.reduce((a, b) => a + b, 0);
    const x = randn(rng(SK + 11), B * T * E);
    const cache = m.mha.createCache({ batch: B, window: W, sinkTokens: SK });
    let p = 0;
    for (const n of chunks) {
      const xs = new Float32Array(B * n * E);
      for (let b = 0; b < B; b++) xs.set(x.subarray((b * T + p) * E, (b * T + p + n) * E), b * n * E);
      const y = m.mha.forward(t(xs, [B, n, E]), undefined, undefined, { cache }).output.data;
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < n; i++) {
          const ref = refRow(m, c, x, T, b, p + i, W, SK);
          assertRowsClose(y.subarray((b * n + i) * E, (b * n + i + 1) * E), ref.out, E, 1e-5, `sinks ${SK}: chunk of ${n} at ${p}, batch ${b}, token ${i}`, ref.mag);
        }
      }
      p += n;
    }
    m.mha.dispose();
  }
});

test("rolling cache with ALiBi (sinkTokens 0): the recent keys keep their true distances", () => {
  const c: Cfg = { E: 16, H: 4, Hkv: 4, alibi: true };
  const m = layer(c, 5);
  const W = 9, T = 60, E = c.E;
  const x = randn(rng(4), T * E);
  const cache = m.mha.createCache({ window: W });
  for (let p = 0; p < T; p++) {
    const y = m.mha.forward(t(x.subarray(p * E, (p + 1) * E), [1, 1, E]), undefined, undefined, { cache }).output.data;
    const ref = refRow(m, c, x, T, 0, p, W, 0);
    assertRowsClose(y, ref.out, E, 1e-5, `ALiBi step ${p}`, ref.mag);
  }
  throwsWith(() => m.mha.createCache({ window: W, sinkTokens: 2 }), TypeError, /sinkTokens with ALiBi/, "sinks with ALiBi");
  m.mha.dispose();
});

test("rolling cache before anything is dropped gives the bits of a plain cache; truncate while held, RangeError after", () => {
  const c: Cfg = { E: 16, H: 2, Hkv: 2, rotary: {} };
  const m = layer(c, 6);
  const W = 10, SK = 2, E = c.E, T = 40;
  const x = randn(rng(6), T * E);
  const roll = m.mha.createCache({ window: W, sinkTokens: SK, maxLength: 1000 });
  const plain = m.mha.createCache({ maxLength: T });
  const outs: Float32Array[] = [];
  for (let p = 0; p < T; p++) {
    const xi = t(x.subarray(p * E, (p + 1) * E), [1, E]);
    const a = m.mha.forward(xi, undefined, undefined, { cache: roll }).output.data;
    const b = m.mha.forward(xi, undefined, undefined, { cache: plain }).output.data;
    if (p < W + SK) bitsEqual(a, b, `step ${p}: rolling = plain while nothing is dropped`);
    outs.push(a);
  }
  // Undo the last call (always held: the block still has the window before it), and redo it.
  roll.truncate(T - 1);
  bitsEqual(m.mha.forward(t(x.subarray((T - 1) * E, T * E), [1, E]), undefined, undefined, { cache: roll }).output.data, outs[T - 1], "redo the last step");
  const z = randn(rng(2), 4 * E);
  const first = m.mha.forward(t(z, [4, E]), undefined, undefined, { cache: roll }).output.data;
  roll.truncate(T);
  bitsEqual(m.mha.forward(t(z, [4, E]), undefined, undefined, { cache: roll }).output.data, first, "redo a call of 4 tokens");
  roll.truncate(T);
  // Further back, the sinks (moved up a row each step) have overwritten the positions the next step would need.
  throwsWith(() => roll.truncate(T - 5), RangeError, /KVCache\.truncate: length must keep the positions the next step attends to held: this rolling cache \(window 10, sinkTokens 2\) holds positions \d+ … 39 besides the sinks/, "dropped");
  assert.is(roll.length, T, "unchanged after the error");
  roll.truncate(SK);   // only sinks needed
  assert.is(roll.length, SK);
  // From SK on, the same as a fresh rolling cache fed positions 0 … SK − 1 then these tokens.
  const fresh = m.mha.createCache({ window: W, sinkTokens: SK });
  m.mha.forward(t(x.subarray(0, SK * E), [SK, E]), undefined, undefined, { cache: fresh });
  const y = randn(rng(1), 3 * E);
  bitsEqual(m.mha.forward(t(y, [3, E]), undefined, undefined, { cache: roll }).output.data,
    m.mha.forward(t(y, [3, E]), undefined, undefined, { cache: fresh }).output.data, "after truncate to the sinks");
  roll.reset();
  assert.is(roll.length, 0);
  m.mha.dispose();
});

test("rolling cache: weights and masks index the held keys (the sinks, then the recent positions in order)", () => {
  const c: Cfg = { E: 16, H: 2, Hkv: 1, rotary: {} };
  const m = layer(c, 8);
  const W = 5, SK = 2, E = c.E, T = 20;
  const x = randn(rng(8), T * E);
  const cache = m.mha.createCache({ window: W, sinkTokens: SK });
  for (let p = 0; p < T - 1; p++) m.mha.forward(t(x.subarray(p * E, (p + 1) * E), [1, E]), undefined, undefined, { cache });
  // The last step with weights: [1, 1, SK + W] over keys 0, 1, T − W … T − 1.
  const xi = t(x.subarray((T - 1) * E, T * E), [1, 1, E]);
  const r = m.mha.forward(xi, undefined, undefined, { cache, needWeights: true });
  assert.equal(r.weights!.shape, [1, 1, SK + W]);
  const ref = refRow(m, c, x, T, 0, T - 1, W, SK);
  assertRowsClose(r.weights!.data, Float64Array.from({ length: SK + W }, (_, j) => (ref.w[j] + ref.w[SK + W + j]) / 2), SK + W, 1e-5, "averaged weights");
  // A key padding mask over those keys: dropping the sinks (columns 0, 1) matches the reference without them.
  cache.truncate(T - 1);
  const pad = { data: Uint8Array.from({ length: SK + W }, (_, j) => (j < SK ? 1 : 0)), shape: [1, SK + W] };
  const y = m.mha.forward(xi, undefined, undefined, { cache, keyPaddingMask: pad }).output.data;
  const noSinks = refRow(m, c, x, T, 0, T - 1, W, 0);
  assertRowsClose(y, noSinks.out, E, 1e-5, "sinks masked", noSinks.mag);
  m.mha.dispose();
});

test("rolling cache bad input: clear errors; plain caches unchanged (window null, sinkTokens 0)", () => {
  const m = layer({ E: 16, H: 2, Hkv: 1 }, 7);
  throwsWith(() => m.mha.createCache({ window: 0 }), RangeError, /options\.window must be an integer ≥ 1; got 0/, "window 0");
  throwsWith(() => m.mha.createCache({ window: 4, sinkTokens: -1 }), RangeError, /options\.sinkTokens must be an integer ≥ 0/, "sinks < 0");
  throwsWith(() => m.mha.createCache({ maxLength: 8, sinkTokens: 2 }), TypeError, /sinkTokens is for a rolling cache; give options\.window too/, "sinks alone");
  throwsWith(() => m.mha.createCache({} as { maxLength: number }), TypeError, /options\.maxLength must be a number/, "no maxLength, no window");
  throwsWith(() => m.mha.createCache({ window: 2.5 }), RangeError, /options\.window/, "fractional window");
  const cache = m.mha.createCache({ window: 4, maxLength: 6 });
  const x = (n: number) => t(randn(rng(n), n * 16), [n, 16]);
  throwsWith(() => m.mha.forward(x(5), undefined, undefined, { cache }), RangeError, /query length must be ≤ the rolling cache's window = 4/, "L > window");
  m.mha.forward(x(4), undefined, undefined, { cache });
  throwsWith(() => m.mha.forward(x(3), undefined, undefined, { cache }), RangeError, /maxLength = 6/, "past maxLength");
  assert.is(cache.length, 4);
  const plain = m.mha.createCache({ maxLength: 3 });
  assert.equal([plain.window, plain.sinkTokens], [null, 0]);
  stillWorks("after rolling-cache errors");
  m.mha.dispose();
});

test.run();
