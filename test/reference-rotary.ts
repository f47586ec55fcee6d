// Rotary position embeddings in float64, written plainly (test/src/rotary.test.ts and the MHA checks).
//   Row r at position p, pair d < dim/2: θ = p · base^(−2d/dim); (a, b) → (a·cos θ − b·sin θ, b·cos θ + a·sin θ),
//   pairs (d, d + dim/2) (interleaved false) or (2d, 2d + 1) (true); channels ≥ dim unchanged.
export type Arr = ArrayLike<number>;

export interface RefRotary { dim: number; base?: number; interleaved?: boolean }

/** The two channels of pair d: (d, d + dim/2) or (2d, 2d + 1). */
function pair(d: number, dim: number, interleaved: boolean): [number, number] {
  return interleaved ? [2 * d, 2 * d + 1] : [d, d + dim / 2];
}

/**
 * x: `rows` rows of `heads` heads of width D (row-major, heads contiguous within a row); row r at
 * position pos(r). Returns the rotated copy y and mag (|a·cos θ| + |b·sin θ| per element: the size its
 * rounding is bounded by; |x| for untouched channels).
 */
export function refRotary(x: Arr, rows: number, heads: number, D: number, pos: (r: number) => number, o: RefRotary): { y: Float64Array; mag: Float64Array } {
  const dim = o.dim, base = o.base ?? 10000, il = o.interleaved ?? false;
  const y = Float64Array.from(x), mag = Float64Array.from(x, Math.abs);
  for (let r = 0; r < rows; r++) {
    const p = pos(r);
    for (let h = 0; h < heads; h++) {
      const at = (r * heads + h) * D;
      for (let d = 0; d < dim / 2; d++) {
        const t = p * Math.pow(base, -2 * d / dim);
        const c = Math.cos(t), s = Math.sin(t);
        const [i, j] = pair(d, dim, il);
        const a = x[at + i], b = x[at + j];
        y[at + i] = a * c - b * s;
        y[at + j] = b * c + a * s;
        mag[at + i] = Math.abs(a * c) + Math.abs(b * s);
        mag[at + j] = Math.abs(b * c) + Math.abs(a * s);
      }
    }
  }
  return { y, mag };
}
