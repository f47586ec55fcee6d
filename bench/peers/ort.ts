// Peer "onnxruntime-web": ORT's WASM backend (CPU EP, SIMD build) in Node, one thread.
// Each op is a small ONNX graph written with ./onnx.ts; weights are initializers (raw_data),
// activations are graph inputs with fixed shapes. Prepare = build the graph, create the session
// and the input ort.Tensors once; the Runner is session.run + reading the output's data.
//
// Shapes: B batch, H heads, L query length, S key/value length, D head size, E = d_model = H·D,
// P cached tokens (decode); matmul is M×K · K×N.
//
// Loading in Node: `import 'onnxruntime-web'` resolves (exports "node") to dist/ort.node.min.mjs,
// which finds dist/ort-wasm-simd-threaded.{mjs,wasm} next to itself, so no env.wasm.wasmPaths is
// needed. 1.30 ships only the SIMD+threads build and reads env.wasm.numThreads once, at the first
// session: it is set to 1 before that.
import * as ort from 'onnxruntime-web';
import { causalMask } from './causal.js';
import { Graph } from './onnx.js';
import type { MhaWeights, Peer, Runner, Tensor } from './types.js';

/** MHA graph: fused com.microsoft Attention (QKV weight [E,3E]) | MatMul projections + com.microsoft
 *  MultiHeadAttention (q/k/v bias input) | MatMul+Add projections + ai.onnx Attention-23 | standard ops. */
export type OrtMhaGraph = 'ms-attention' | 'ms-mha' | 'onnx-attention' | 'standard';
/** Decode graph: com.microsoft MultiHeadAttention with past_key/past_value | com.microsoft Attention with
 *  stacked past [2,B,H,P,D] | ai.onnx Attention-23 with past_key/past_value | standard ops with Concat. */
export type OrtDecodeGraph = 'ms-mha' | 'ms-attention' | 'onnx-attention' | 'concat';
/**
 * SDPA graph: standard ops (Transpose, MatMul, Mul, [Add mask], Softmax, MatMul) | ai.onnx Attention-23 |
 * com.microsoft MultiHeadAttention (query [B, L, H·D] by a Transpose, key/value BNSH as given, the output
 * transposed back). Causal: the op's own flag where it means ours, i.e. at L = S (Attention's is_causal
 * aligns top-left, ours bottom-right; the same triangle when L = S; MHA's unidirectional likewise),
 * else an explicit additive [L, S] mask.
 */
export type OrtSdpaGraph = 'standard' | 'onnx-attention' | 'ms-mha';

export interface OrtPeerOptions {
  mha?: OrtMhaGraph;
  decode?: OrtDecodeGraph;
  sdpa?: OrtSdpaGraph;
  /** Peer name override (check.ts labels variants with it). */
  name?: string;
}

/**
 * Defaults, from interleaved single-thread runs on the 2-core bench machine (check.ts prints them):
 * the four MHA graphs are within noise of each other (ORT's time is its MLAS GEMMs), ms-attention had
 * the steadiest medians; ai.onnx Attention is 5–10 % ahead for SDPA and ~2 % ahead for decode.
 * Causal SDPA (2026-12-02, interleaved rounds on a host at load 11–15, B=1 H=8 D=64, L = S), ms per
 * call for onnx-attention (is_causal) / standard (explicit additive mask) / ms-mha (unidirectional):
 * L=256 64.5 / 69.1 / 66.7, L=1024 1028 / 994 / 1105, L=2048 2311 / 3478 / 2761; unmasked: L=256
 * 59.6 / 79.5 / 72.4, L=1024 868 / 927 / 943. No form skips the masked half; ai.onnx Attention with
 * its own is_causal is the fastest or within 3 %, so it stays the default, as is_causal (not a mask).
 */
export const ORT_DEFAULTS: Required<Omit<OrtPeerOptions, 'name'>> = { mha: 'ms-attention', decode: 'onnx-attention', sdpa: 'onnx-attention' };

const OPSETS = { '': 21, 'com.microsoft': 1 };
const OPSETS_23 = { '': 23, 'com.microsoft': 1 };   // ai.onnx Attention needs opset 23 → IR 11

export async function createOrtPeer(options: OrtPeerOptions = {}): Promise<Peer> {
  const cfg = { ...ORT_DEFAULTS, ...options };
  // One thread, or WASM_ATTENTION_ORT_THREADS (the bench's thread-axis process): ORT reads it once, at the first session.
  const threads = Number(process.env.WASM_ATTENTION_ORT_THREADS ?? 1);
  ort.env.wasm.numThreads = threads;
  const sessions: ort.InferenceSession[] = [];
  await smokeTest();   // instantiate the .wasm now, so that a peer that cannot load fails in loadPeers()

  /** Create a session for g and a Runner feeding `inputs` (name → tensor) and returning output `out`. */
  async function prepare(g: Graph, inputs: Record<string, Tensor>, out: string, opsets = OPSETS): Promise<Runner> {
    const bytes = g.toBytes(opsets, opsets === OPSETS_23 ? 11 : 10);
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    sessions.push(session);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', t.data, t.shape);
    return async () => (await session.run(feeds, [out]))[out].data as Float32Array;
  }

  return {
    name: cfg.name ?? (threads > 1 ? `onnxruntime-web ×${threads}` : 'onnxruntime-web'),

    async matmul(a, b) {
      const g = new Graph();
      g.node('MatMul', [g.input('a', a.shape), g.input('b', b.shape)], {}, { outputs: ['y'] });
      g.output('y', [a.shape[0], b.shape[1]]);
      return prepare(g, { a, b }, 'y');
    },

    async softmax(x) {
      const g = new Graph();
      g.node('Softmax', [g.input('x', x.shape)], { axis: -1 }, { outputs: ['y'] });
      g.output('y', x.shape);
      return prepare(g, { x }, 'y');
    },

    async sdpa(q, k, v, { causal }) {
      const [B, H, L, D] = q.shape, S = k.shape[2];
      const g = new Graph();
      const qi = g.input('q', q.shape), ki = g.input('k', k.shape), vi = g.input('v', v.shape);
      const flag = causal && L === S;                   // the op's causal flag is ours here
      const mask = (shape: number[]) => (causal && !flag ? g.f32('mask', causalMask(L, S), shape) : '');
      if (cfg.sdpa === 'onnx-attention') {
        g.node('Attention', [qi, ki, vi, mask([L, S])], { is_causal: flag ? 1 : 0 }, { outputs: ['y'] });
        g.output('y', [B, H, L, D]);
        return prepare(g, { q, k, v }, 'y', OPSETS_23);
      }
      if (cfg.sdpa === 'ms-mha') {
        const q3 = g.op('Reshape', [g.op('Transpose', [qi], { perm: [0, 2, 1, 3] }), g.i64('q_shape', [B, L, H * D])]);
        const o = g.op('MultiHeadAttention', [q3, ki, vi, '', '', mask([1, 1, L, S])], { num_heads: H, unidirectional: flag ? 1 : 0 }, 'com.microsoft');
        g.node('Transpose', [g.op('Reshape', [o, g.i64('o_shape', [B, L, H, D])])], { perm: [0, 2, 1, 3] }, { outputs: ['y'] });
        g.output('y', [B, H, L, D]);
        return prepare(g, { q, k, v }, 'y');
      }
      let s = g.op('MatMul', [qi, g.op('Transpose', [ki], { perm: [0, 1, 3, 2] })]);
      s = g.op('Mul', [s, g.f32('scale', Float32Array.of(1 / Math.sqrt(D)), [])]);
      if (causal) s = g.op('Add', [s, g.f32('mask', causalMask(L, S), [L, S])]);
      g.node('MatMul', [g.op('Softmax', [s], { axis: -1 }), vi], {}, { outputs: ['y'] });
      g.output('y', [B, H, L, D]);
      return prepare(g, { q, k, v }, 'y');
    },

    async mha(x, w, numHeads, { causal }) {
      const [B, L, E] = x.shape, H = numHeads, D = E / H;
      const g = new Graph();
      const xi = g.input('x', x.shape);
      const p = projections(g, w, E);
      let att: string;                  // attention output [B, L, E] before the output projection
      let opsets = OPSETS;
      switch (cfg.mha) {
        case 'ms-attention': {
          att = g.op('Attention', [xi, p.wqkvT, p.bqkv], { num_heads: H, unidirectional: causal ? 1 : 0 }, 'com.microsoft');
          break;
        }
        case 'ms-mha': {
          const [q, k, v] = g.node('Split', [g.op('MatMul', [xi, p.wqkvT]), g.i64('split', [E, E, E])], { axis: -1 }, { outputs: 3 });
          att = g.op('MultiHeadAttention', [q, k, v, p.bqkv], { num_heads: H, unidirectional: causal ? 1 : 0 }, 'com.microsoft');
          break;
        }
        case 'onnx-attention': {
          const [q, k, v] = [0, 1, 2].map((i) => g.op('Add', [g.op('MatMul', [xi, p.wT[i]]), p.b[i]]));
          att = g.op('Attention', [q, k, v], { q_num_heads: H, kv_num_heads: H, is_causal: causal ? 1 : 0 });
          opsets = OPSETS_23;
          break;
        }
        case 'standard': {
          const [q, k, v] = [0, 1, 2].map((i) => g.op('Reshape', [g.op('Add', [g.op('MatMul', [xi, p.wT[i]]), p.b[i]]), g.i64(`heads${i}`, [B, L, H, D])]));
          const qh = g.op('Transpose', [q], { perm: [0, 2, 1, 3] });    // [B, H, L, D]
          const khT = g.op('Transpose', [k], { perm: [0, 2, 3, 1] });   // [B, H, D, L]
          const vh = g.op('Transpose', [v], { perm: [0, 2, 1, 3] });    // [B, H, L, D]
          let s = g.op('Mul', [g.op('MatMul', [qh, khT]), g.f32('scale', Float32Array.of(1 / Math.sqrt(D)), [])]);
          if (causal) s = g.op('Add', [s, g.f32('mask', causalMask(L, L), [L, L])]);
          const o = g.op('MatMul', [g.op('Softmax', [s], { axis: -1 }), vh]);
          att = g.op('Reshape', [g.op('Transpose', [o], { perm: [0, 2, 1, 3] }), g.i64('merged', [B, L, E])]);
          break;
        }
      }
      g.node('Add', [g.op('MatMul', [att, p.woT]), p.bo], {}, { outputs: ['y'] });
      g.output('y', [B, L, E]);
      return prepare(g, { x }, 'y', opsets);
    },

    async decode(x, pastKey, pastValue, w, numHeads) {
      const [B, , E] = x.shape, H = numHeads, D = E / H, P = pastKey.shape[2];
      const g = new Graph();
      const xi = g.input('x', x.shape);
      const p = projections(g, w, E);
      const inputs: Record<string, Tensor> = { x };
      let att: string;                  // [B, 1, E]
      let opsets = OPSETS;
      switch (cfg.decode) {
        case 'ms-mha': {
          const [q, k, v] = g.node('Split', [g.op('MatMul', [xi, p.wqkvT]), g.i64('split', [E, E, E])], { axis: -1 }, { outputs: 3 });
          const pk = g.input('past_key', pastKey.shape), pv = g.input('past_value', pastValue.shape);
          Object.assign(inputs, { past_key: pastKey, past_value: pastValue });
          att = g.node('MultiHeadAttention', [q, k, v, p.bqkv, '', '', pk, pv], { num_heads: H }, { outputs: 3, domain: 'com.microsoft' })[0];
          break;
        }
        case 'ms-attention': {
          // past is one tensor [2, B, H, P, D] = stack(pastKey, pastValue): ORT's layout, built once here
          const past = new Float32Array(2 * B * H * P * D);
          past.set(pastKey.data, 0); past.set(pastValue.data, B * H * P * D);
          inputs.past = { data: past, shape: [2, B, H, P, D] };
          att = g.node('Attention', [xi, p.wqkvT, p.bqkv, '', g.input('past', [2, B, H, P, D])], { num_heads: H }, { outputs: 2, domain: 'com.microsoft' })[0];
          break;
        }
        case 'onnx-attention': {
          const [q, k, v] = [0, 1, 2].map((i) => g.op('Add', [g.op('MatMul', [xi, p.wT[i]]), p.b[i]]));
          const pk = g.input('past_key', pastKey.shape), pv = g.input('past_value', pastValue.shape);
          Object.assign(inputs, { past_key: pastKey, past_value: pastValue });
          att = g.node('Attention', [q, k, v, '', pk, pv], { q_num_heads: H, kv_num_heads: H }, { outputs: 3 })[0];
          opsets = OPSETS_23;
          break;
        }
        case 'concat': {
          const [q, k, v] = [0, 1, 2].map((i) => g.op('Transpose', [g.op('Reshape', [g.op('Add', [g.op('MatMul', [xi, p.wT[i]]), p.b[i]]), g.i64(`heads${i}`, [B, 1, H, D])])], { perm: [0, 2, 1, 3] }));
          const pk = g.input('past_key', pastKey.shape), pv = g.input('past_value', pastValue.shape);
          Object.assign(inputs, { past_key: pastKey, past_value: pastValue });
          const K = g.op('Concat', [pk, k], { axis: 2 }), V = g.op('Concat', [pv, v], { axis: 2 });   // [B, H, P+1, D]
          const s = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [K], { perm: [0, 1, 3, 2] })]), g.f32('scale', Float32Array.of(1 / Math.sqrt(D)), [])]);
          const o = g.op('MatMul', [g.op('Softmax', [s], { axis: -1 }), V]);                      // [B, H, 1, D]
          att = g.op('Reshape', [g.op('Transpose', [o], { perm: [0, 2, 1, 3] }), g.i64('merged', [B, 1, E])]);
          break;
        }
      }
      g.node('Add', [g.op('MatMul', [att, p.woT]), p.bo], {}, { outputs: ['y'] });
      g.output('y', [B, 1, E]);
      return prepare(g, inputs, 'y', opsets);
    },

    async dispose() {
      for (const s of sessions.splice(0)) await s.release();
    },
  };
}

/** Create, run and release a one-node session (Relu of [1]); throws if ORT's wasm cannot load. */
async function smokeTest(): Promise<void> {
  const g = new Graph();
  g.node('Relu', [g.input('x', [1])], {}, { outputs: ['y'] });
  g.output('y', [1]);
  const session = await ort.InferenceSession.create(g.toBytes(OPSETS), { executionProviders: ['wasm'] });
  try {
    const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-1), [1]) });
    if ((y.data as Float32Array)[0] !== 0) throw new Error('onnxruntime-web: smoke test gave a wrong result');
  } finally {
    await session.release();
  }
}

/** Wᵀ of rows [r0, r0+n) of a PyTorch [rows, E] weight → [E, n], so that y = x·(Wᵀ) is a plain MatMul. */
function transposeRows(w: Float32Array, E: number, r0: number, n: number): Float32Array {
  const t = new Float32Array(E * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < E; c++) t[c * n + r] = w[(r0 + r) * E + c];
  return t;
}

/**
 * Projection initializers, each added to g on first use: fused WqkvT [E,3E] and bqkv [3E];
 * per-matrix wT[i] = WqT/WkT/WvT [E,E] and b[i] = bq/bk/bv [E]; WoT [E,E] and bo [E].
 */
function projections(g: Graph, w: MhaWeights, E: number) {
  const made = new Map<string, string>();
  const once = (name: string, make: () => [Float32Array, number[]]) => {
    if (!made.has(name)) made.set(name, g.f32(name, ...make()));
    return made.get(name)!;
  };
  return {
    get wqkvT() { return once('wqkv_t', () => [transposeRows(w.inProjWeight, E, 0, 3 * E), [E, 3 * E]]); },
    get bqkv() { return once('bqkv', () => [w.inProjBias, [3 * E]]); },
    get wT() { return ['wq_t', 'wk_t', 'wv_t'].map((n, i) => once(n, () => [transposeRows(w.inProjWeight, E, i * E, E), [E, E]])); },
    get b() { return ['bq', 'bk', 'bv'].map((n, i) => once(n, () => [w.inProjBias.subarray(i * E, (i + 1) * E), [E]])); },
    get woT() { return once('wo_t', () => [transposeRows(w.outProjWeight, E, 0, E), [E, E]]); },
    get bo() { return once('bo', () => [w.outProjBias, [E]]); },
  };
}
