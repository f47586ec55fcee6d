// Peer "tfjs-wasm": @tensorflow/tfjs-core on @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD, one thread),
// written as a competent tfjs user would: tf.matMul / tf.fused.matMul (bias folded in), tf.softmax,
// reshape/transpose for heads, tf.concat for the KV cache. Inputs and weights are uploaded once as
// tf tensors; the Runner runs the ops inside tf.tidy and returns dataSync() (the download is timed work).
//
// Shapes: B batch, H heads, L query length, S key/value length, D head size, E = d_model = H·D,
// P cached tokens (decode); matmul is M×K · K×N.
//
// Loading in Node: tfjs-backend-wasm's Node entry (dist/tf-backend-wasm.node.js) reads the .wasm
// from its own dist/ with fs; setWasmPaths(dist/) only makes that explicit. In Node the backend
// reports no thread support (WASM_HAS_MULTITHREAD_SUPPORT is false under IS_NODE), so it picks
// tfjs-backend-wasm-simd.wasm, the non-threaded SIMD build; setThreadsCount(1) pins XNNPACK anyway.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { causalMask as additiveCausalMask } from './causal.js';
import type { Peer, Runner, Tensor } from './types.js';

let ready: Promise<void> | undefined;

/** Select the wasm backend once per process (setWasmPaths must precede setBackend). */
function initBackend(): Promise<void> {
  ready ??= (async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
    setWasmPaths(dist + '/');
    setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: setBackend("wasm") failed');
    await tf.ready();
    if (getThreadsCount() !== 1) throw new Error(`tfjs: expected 1 thread, got ${getThreadsCount()}`);
  })();
  return ready;
}

export interface TfjsPeerOptions {
  /**
   * How attention runs over the heads. Default 'auto': 'per-head' for sdpa/mha, 'batched' for decode
   * (one query row: per head that would pack a fresh XNNPACK operator for a 1-row product, ~18× slower).
   */
  attention?: 'auto' | 'per-head' | 'batched';
  /** Peer name override (check.ts labels variants with it). */
  name?: string;
}

export async function createTfjsPeer(options: TfjsPeerOptions = {}): Promise<Peer> {
  const cfg = { attention: 'auto', ...options };
  await initBackend();
  const kept: tf.Tensor[] = [];
  /** A tensor that lives until dispose(). */
  const keep = <T extends tf.Tensor>(t: T): T => (kept.push(t), t);
  const upload = (t: Tensor) => keep(tf.tensor(t.data, t.shape, 'float32'));
  /**
   * Run f in tf.tidy (intermediates freed), then download and free its result. The download happens
   * outside the tidy on purpose: tf.tidy walks its return value as a tensor container, which for a
   * returned Float32Array means visiting every element (~150 ms for 512×512).
   */
  const runner = (f: () => tf.Tensor): Runner => () => {
    const y = tf.tidy(f);
    try { return y.dataSync() as Float32Array; } finally { y.dispose(); }
  };

  /** Wᵀ of a PyTorch [rows, E] weight as a [E, rows] tensor, so projections are x·Wᵀ = matMul(x, WT). */
  const weightT = (w: Float32Array, rows: number, E: number) => keep(tf.tidy(() => tf.transpose(tf.tensor2d(w, [rows, E]))));

  /**
   * softmax(q·kᵀ·scale [+ mask])·v for q [N,L,D], k/v [N,S,D] (N = B·H heads) → [N,L,D].
   * per-head: unstack the heads and use 2-D non-transposed matMuls (q_h · kᵀ_h, p_h · v_h), the only
   *   case tfjs-backend-wasm sends to XNNPACK; batched or transposed matMuls fall back to its scalar
   *   blocked loop, 4–9× slower at L = 128…1024 (check.ts times both).
   * batched: the textbook one-liner, matMul(q, k, false, true) over all heads at once.
   */
  function attention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, scale: number, mask?: tf.Tensor): tf.Tensor3D {
    const scores = (s: tf.Tensor) => tf.softmax(mask ? tf.add(tf.mul(s, scale), mask) : tf.mul(s, scale));
    const batched = cfg.attention === 'batched' || (cfg.attention === 'auto' && q.shape[1] === 1);
    if (batched) return tf.matMul(scores(tf.matMul(q, k, false, true)), v);
    const qs = tf.unstack(q), kTs = tf.unstack(tf.transpose(k, [0, 2, 1])), vs = tf.unstack(v);
    return tf.stack(qs.map((qh, i) => tf.matMul(scores(tf.matMul(qh as tf.Tensor2D, kTs[i] as tf.Tensor2D)), vs[i] as tf.Tensor2D))) as tf.Tensor3D;
  }

  /** The additive bottom-right causal mask [L, S] as a tensor (tfjs has no causal option: this is its form). */
  const causalMask = (L: number, S: number): tf.Tensor => keep(tf.tensor2d(additiveCausalMask(L, S), [L, S]));

  return {
    name: cfg.name ?? 'tfjs-wasm',

    async matmul(a, b) {
      const ta = upload(a), tb = upload(b);
      return runner(() => tf.matMul(ta, tb));
    },

    async softmax(x) {
      const tx = upload(x);
      return runner(() => tf.softmax(tx));
    },

    async sdpa(q, k, v, { causal }) {
      const [B, H, L, D] = q.shape, S = k.shape[2];
      const tq = upload({ data: q.data, shape: [B * H, L, D] }) as tf.Tensor3D;
      const tk = upload({ data: k.data, shape: [B * H, S, D] }) as tf.Tensor3D;
      const tv = upload({ data: v.data, shape: [B * H, S, D] }) as tf.Tensor3D;
      const mask = causal ? causalMask(L, S) : undefined;
      return runner(() => attention(tq, tk, tv, 1 / Math.sqrt(D), mask));
    },

    async mha(x, w, numHeads, { causal }) {
      const [B, L, E] = x.shape, H = numHeads, D = E / H;
      const tx = upload({ data: x.data, shape: [B * L, E] });
      const wqkvT = weightT(w.inProjWeight, 3 * E, E), bqkv = upload({ data: w.inProjBias, shape: [3 * E] });
      const woT = weightT(w.outProjWeight, E, E), bo = upload({ data: w.outProjBias, shape: [E] });
      const mask = causal ? causalMask(L, L) : undefined;
      return runner(() => {
        const qkv = tf.fused.matMul({ a: tx, b: wqkvT, bias: bqkv });                        // [B·L, 3E]
        const heads = tf.transpose(tf.reshape(qkv, [B, L, 3, H, D]), [2, 0, 3, 1, 4]);  // [3, B, H, L, D]
        const [q, k, v] = tf.unstack(tf.reshape(heads, [3, B * H, L, D])) as tf.Tensor3D[];
        const o = attention(q, k, v, 1 / Math.sqrt(D), mask);                            // [B·H, L, D]
        const merged = tf.reshape(tf.transpose(tf.reshape(o, [B, H, L, D]), [0, 2, 1, 3]), [B * L, E]);
        return tf.fused.matMul({ a: merged, b: woT, bias: bo });
      });
    },

    async decode(x, pastKey, pastValue, w, numHeads) {
      const [B, , E] = x.shape, H = numHeads, D = E / H, P = pastKey.shape[2];
      const tx = upload({ data: x.data, shape: [B, E] });
      const pk = upload({ data: pastKey.data, shape: [B * H, P, D] }), pv = upload({ data: pastValue.data, shape: [B * H, P, D] });
      const wqkvT = weightT(w.inProjWeight, 3 * E, E), bqkv = upload({ data: w.inProjBias, shape: [3 * E] });
      const woT = weightT(w.outProjWeight, E, E), bo = upload({ data: w.outProjBias, shape: [E] });
      return runner(() => {
        const qkv = tf.fused.matMul({ a: tx, b: wqkvT, bias: bqkv });                        // [B, 3E]
        const [q, k, v] = tf.unstack(tf.reshape(qkv, [B, 3, H, 1, D]), 1)
          .map((t) => tf.reshape(t, [B * H, 1, D])) as tf.Tensor3D[];                     // [B·H, 1, D] each
        const K = tf.concat([pk, k], 1) as tf.Tensor3D, V = tf.concat([pv, v], 1) as tf.Tensor3D;   // [B·H, P+1, D]
        const o = attention(q, K, V, 1 / Math.sqrt(D));                                  // [B·H, 1, D] ≡ [B, 1, E]
        return tf.fused.matMul({ a: tf.reshape(o, [B, E]), b: woT, bias: bo });
      });
    },

    async dispose() {
      for (const t of kept.splice(0)) t.dispose();
    },
  };
}

