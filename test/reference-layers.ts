// Float64 references for a transformer layer's pieces, written plainly (as test/reference.ts):
// erf, the activations, layerNorm and linear. Shapes: rows × E (layerNorm), M×in · (out×in)ᵀ (linear).

export type Arr = ArrayLike<number>;

/**
 * erf(x) in float64: erf(x) = 2/√π · e^(−x²) · Σ_{n≥0} (2x²)ⁿ·x / (1·3·5···(2n+1)), a series of
 * positive terms (no cancellation: relative error ~1e−15 for |x| ≤ 6); ±1 beyond (erfc(6) = 2e−17).
 */
export function refErf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === 0) return x;   // keeps −0
  if (Math.abs(x) > 6) return Math.sign(x);
  const t = 2 * x * x;
  let term = x, sum = x;
  for (let n = 1; n < 1000; n++) {
    term *= t / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

export type RefActivation = "relu" | "gelu" | "gelu-tanh" | undefined;

/** The activation in float64: relu, gelu = x·Φ(x) (erf form), gelu-tanh = ½x(1 + tanh(√(2/π)(x + 0.044715x³))); the limits at ±∞. */
export function refAct(x: number, act: RefActivation): number {
  if (act === undefined) return x;
  if (Number.isNaN(x)) return NaN;
  if (act === "relu") return Math.max(x, 0);
  if (x === -Infinity) return 0;
  if (x === Infinity) return Infinity;
  if (act === "gelu") return 0.5 * x * (1 + refErf(x / Math.SQRT2));
  const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x);
  return 0.5 * x * (1 + Math.tanh(u));
}

/**
 * LayerNorm of each row of E (float64): (x − mean)/√(var + eps)·w + b, var biased; w, b null for none.
 * Also `mag`: |(x − mean)/√(var + eps)·w| + |b| per element, the size the f32 result is rounded at.
 */
export function refLayerNorm(x: Arr, w: Arr | null, b: Arr | null, E: number, eps: number): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(x.length), mag = new Float64Array(x.length);
  for (let r = 0; r < x.length / E; r++) {
    let mean = 0;
    for (let i = 0; i < E; i++) mean += x[r * E + i];
    mean /= E;
    let v = 0;
    for (let i = 0; i < E; i++) v += (x[r * E + i] - mean) ** 2;
    v /= E;
    const rstd = v + eps > 0 ? 1 / Math.sqrt(v + eps) : 0;
    for (let i = 0; i < E; i++) {
      const n = (x[r * E + i] - mean) * rstd * (w ? w[i] : 1);
      const bi = b ? b[i] : 0;
      y[r * E + i] = n + bi;
      mag[r * E + i] = Math.abs(n) + Math.abs(bi);
    }
  }
  return { y, mag };
}

/**
 * act(x·Wᵀ + b) (float64): x [M, K], W [N, K], b [N] or null → [M, N]. Also `mag`: Σ|x·w| + |b| per
 * element, the size the f32 sum is rounded at (the activations' slopes are at most ~1.13).
 */
export function refLinearAct(x: Arr, W: Arr, b: Arr | null, M: number, K: number, N: number, act: RefActivation): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(M * N), mag = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0, m = 0;
      for (let k = 0; k < K; k++) { s += x[i * K + k] * W[j * K + k]; m += Math.abs(x[i * K + k] * W[j * K + k]); }
      if (b) { s += b[j]; m += Math.abs(b[j]); }
      y[i * N + j] = refAct(s, act);
      mag[i * N + j] = m;
    }
  }
  return { y, mag };
}
