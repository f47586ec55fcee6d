// Plain JavaScript, as a user would write it (nested loops over Float32Array, no SIMD, no tiling): the
// benchmark panel's baseline, and the check that our kernels computed the same thing before timing.
// Shapes: L tokens, E = d_model, H heads of Dh = E/H; matmul is M×K · K×N; all row-major.

/** C[M, N] = A[M, K]·B[K, N], loop order i-k-j. */
export function matmul(a, b, M, K, N) {
  const c = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = a[i * K + k];
      for (let j = 0; j < N; j++) c[i * N + j] += aik * b[k * N + j];
    }
  }
  return c;
}

/** y[L, out] = x[L, in]·W[row0 : row0 + out, :]ᵀ + bias (PyTorch's Linear layout). */
function linear(x, L, inDim, w, bias, row0, outDim) {
  const y = new Float32Array(L * outDim);
  for (let r = 0; r < L; r++) {
    for (let o = 0; o < outDim; o++) {
      let acc = bias ? bias[row0 + o] : 0;
      const wo = (row0 + o) * inDim;
      for (let i = 0; i < inDim; i++) acc += x[r * inDim + i] * w[wo + i];
      y[r * outDim + o] = acc;
    }
  }
  return y;
}

/**
 * Self-attention of nn.MultiheadAttention (batch 1, no masks) with PyTorch's weights
 * { in_proj_weight [3E, E], in_proj_bias [3E], "out_proj.weight" [E, E], "out_proj.bias" [E] }: x [L, E] → [L, E].
 */
export function mha(x, L, E, H, sd) {
  const Dh = E / H, scale = 1 / Math.sqrt(Dh);
  const w = sd.in_proj_weight.data, b = sd.in_proj_bias?.data;
  const q = linear(x, L, E, w, b, 0, E), k = linear(x, L, E, w, b, E, E), v = linear(x, L, E, w, b, 2 * E, E);
  const ctx = new Float32Array(L * E), p = new Float64Array(L);
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < L; i++) {
      let max = -Infinity;
      for (let j = 0; j < L; j++) {
        let dot = 0;
        for (let d = 0; d < Dh; d++) dot += q[i * E + h * Dh + d] * k[j * E + h * Dh + d];
        p[j] = dot * scale;
        if (p[j] > max) max = p[j];
      }
      let sum = 0;
      for (let j = 0; j < L; j++) { p[j] = Math.exp(p[j] - max); sum += p[j]; }
      for (let d = 0; d < Dh; d++) {
        let acc = 0;
        for (let j = 0; j < L; j++) acc += p[j] * v[j * E + h * Dh + d];
        ctx[i * E + h * Dh + d] = acc / sum;
      }
    }
  }
  return linear(ctx, L, E, sd["out_proj.weight"].data, sd["out_proj.bias"]?.data, 0, E);
}
