// Peer "plain-js": the five bench ops as a typical JS user writes them — nested loops over
// Float32Array, Math.exp, i-k-j matmul, no tiling, no SIMD. It is also the cross-check oracle
// that check.ts compares the other peers against (sums are accumulated in JS numbers, i.e. f64).
//
// Shapes: B batch, H heads, L query length, S key/value length, D = Dk = Dv head size,
// E = d_model = H·D, P cached tokens (decode); matmul is M×K · K×N. All tensors row-major.
import type { MhaWeights, Peer, Runner, Tensor } from './types.js';

/** C[M,N] = A[M,K]·B[K,N], loop order i-k-j. */
function matmul(a: Float32Array, b: Float32Array, M: number, K: number, N: number): Float32Array {
  const c = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k];
      for (let j = 0; j < N; j++) c[i * N + j] += aik * b[k * N + j];
    }
  }
  return c;
}

/** In-place row softmax of a [rows, cols] array: max → exp & sum → scale. */
function softmaxRows(x: Float32Array, rows: number, cols: number): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) { const e = Math.exp(x[o + j] - max); x[o + j] = e; sum += e; }
    for (let j = 0; j < cols; j++) x[o + j] /= sum;
  }
  return x;
}

/** y[rows, out] = x[rows, in]·W[wRow0 : wRow0+out, :]ᵀ + b[wRow0 : wRow0+out] (PyTorch Linear layout). */
function linear(x: Float32Array, rows: number, inDim: number, w: Float32Array, b: Float32Array, wRow0: number, outDim: number): Float32Array {
  const y = new Float32Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      const wo = (wRow0 + o) * inDim;
      let acc = b[wRow0 + o];
      for (let i = 0; i < inDim; i++) acc += x[r * inDim + i] * w[wo + i];
      y[r * outDim + o] = acc;
    }
  }
  return y;
}

/**
 * One head of attention: out[i, :] = Σ_j softmax_j(q_i·k_j·scale)·v_j for i < L, j < S, rows addressed
 * by (offset + row·stride) so both [B,H,L,D] and [B,L,E] (stride E, head offset h·D) layouts work.
 * causal: query i sees key j iff j ≤ i + S − L (bottom-right aligned).
 */
function attendHead(
  out: Float32Array, oOff: number, oStride: number,
  q: Float32Array, qOff: number, qStride: number,
  k: Float32Array, kOff: number, kStride: number,
  v: Float32Array, vOff: number, vStride: number,
  L: number, S: number, D: number, scale: number, causal: boolean,
): void {
  const p = new Float64Array(S);
  for (let i = 0; i < L; i++) {
    const jEnd = causal ? Math.min(S, i + S - L + 1) : S;
    // 1. scores and their max
    let max = -Infinity;
    for (let j = 0; j < jEnd; j++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[qOff + i * qStride + d] * k[kOff + j * kStride + d];
      p[j] = dot * scale;
      if (p[j] > max) max = p[j];
    }
    // 2. exp and sum
    let sum = 0;
    for (let j = 0; j < jEnd; j++) { p[j] = Math.exp(p[j] - max); sum += p[j]; }
    // 3. weighted sum of values
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let j = 0; j < jEnd; j++) acc += p[j] * v[vOff + j * vStride + d];
      out[oOff + i * oStride + d] = jEnd > 0 ? acc / sum : 0;
    }
  }
}

export async function createPlainPeer(): Promise<Peer> {
  return {
    name: 'plain-js',

    async matmul(a: Tensor, b: Tensor): Promise<Runner> {
      const [M, K] = a.shape, N = b.shape[1];
      return () => matmul(a.data, b.data, M, K, N);
    },

    async softmax(x: Tensor): Promise<Runner> {
      const cols = x.shape[x.shape.length - 1], rows = x.data.length / cols;
      return () => softmaxRows(x.data.slice(), rows, cols);
    },

    async sdpa(q: Tensor, k: Tensor, v: Tensor, { causal }: { causal: boolean }): Promise<Runner> {
      const [B, H, L, D] = q.shape, S = k.shape[2];
      const scale = 1 / Math.sqrt(D);
      return () => {
        const out = new Float32Array(B * H * L * D);
        for (let bh = 0; bh < B * H; bh++) {
          attendHead(out, bh * L * D, D, q.data, bh * L * D, D, k.data, bh * S * D, D, v.data, bh * S * D, D, L, S, D, scale, causal);
        }
        return out;
      };
    },

    async mha(x: Tensor, w: MhaWeights, numHeads: number, { causal }: { causal: boolean }): Promise<Runner> {
      const [B, L, E] = x.shape, H = numHeads, D = E / H;
      const scale = 1 / Math.sqrt(D);
      return () => {
        // 1. projections q, k, v: [B·L, E] each
        const q = linear(x.data, B * L, E, w.inProjWeight, w.inProjBias, 0, E);
        const k = linear(x.data, B * L, E, w.inProjWeight, w.inProjBias, E, E);
        const v = linear(x.data, B * L, E, w.inProjWeight, w.inProjBias, 2 * E, E);
        // 2. attention per (b, h), reading heads in place from the [B, L, E] layout
        const att = new Float32Array(B * L * E);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const off = b * L * E + h * D;
            attendHead(att, off, E, q, off, E, k, off, E, v, off, E, L, L, D, scale, causal);
          }
        }
        // 3. output projection
        return linear(att, B * L, E, w.outProjWeight, w.outProjBias, 0, E);
      };
    },

    async decode(x: Tensor, pastKey: Tensor, pastValue: Tensor, w: MhaWeights, numHeads: number): Promise<Runner> {
      const [B, , E] = x.shape, H = numHeads, D = E / H, P = pastKey.shape[2], S = P + 1;
      const scale = 1 / Math.sqrt(D);
      return () => {
        // 1. project the new token
        const q = linear(x.data, B, E, w.inProjWeight, w.inProjBias, 0, E);
        const kNew = linear(x.data, B, E, w.inProjWeight, w.inProjBias, E, E);
        const vNew = linear(x.data, B, E, w.inProjWeight, w.inProjBias, 2 * E, E);
        // 2. append it to the cache: K, V [B, H, P+1, D]
        const K = new Float32Array(B * H * S * D), V = new Float32Array(B * H * S * D);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const bh = b * H + h;
            for (let t = 0; t < P * D; t++) {
              K[bh * S * D + t] = pastKey.data[bh * P * D + t];
              V[bh * S * D + t] = pastValue.data[bh * P * D + t];
            }
            for (let d = 0; d < D; d++) {
              K[bh * S * D + P * D + d] = kNew[b * E + h * D + d];
              V[bh * S * D + P * D + d] = vNew[b * E + h * D + d];
            }
          }
        }
        // 3. attention of the one query over P+1 keys, per (b, h)
        const att = new Float32Array(B * E);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const bh = b * H + h;
            attendHead(att, b * E + h * D, E, q, b * E + h * D, E, K, bh * S * D, D, V, bh * S * D, D, 1, S, D, scale, false);
          }
        }
        // 4. output projection
        return linear(att, B, E, w.outProjWeight, w.outProjBias, 0, E);
      };
    },
  };
}
