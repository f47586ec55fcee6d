// The causal mask as an additive [L, S] matrix, for peers that take no causal flag (tfjs) or whose
// causal attribute aligns top-left (ONNX Attention's is_causal) where the operation needs bottom-right.

/** Additive bottom-right causal mask [L, S]: 0 where key j ≤ i + S − L (query i may see it), else −∞. */
export function causalMask(L: number, S: number): Float32Array {
  const m = new Float32Array(L * S);
  for (let i = 0; i < L; i++) for (let j = Math.max(0, i + S - L + 1); j < S; j++) m[i * S + j] = -Infinity;
  return m;
}
