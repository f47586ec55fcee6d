// Rotary position embeddings (RoPE): rotates pairs of channels of each head by its row's angles.
//
//   rotary_f32(x, ld, hs, rows, heads, dim, tab, interleaved): for r < rows, h < heads, d < dim/2,
//     with c = tab[r·dim + d], s = tab[r·dim + dim/2 + d] (the cos and sin of row r's angle d),
//     the pair (a, b) of head h of row r, at x + (r·ld + h·hs)·4 + (i, j)·4 with
//       interleaved = 0: (i, j) = (d, d + dim/2)   (GPT-NeoX, HuggingFace LLaMA)
//       interleaved = 1: (i, j) = (2d, 2d + 1)     (GPT-J, Meta's original LLaMA)
//     becomes (a·c − b·s, b·c + a·s), in place. Channels ≥ dim of each head are left alone.
// The angles (and their cos/sin) are computed by src/ in float64 and rounded to f32 once; this kernel
// only multiplies. Every element is computed with the same operations in the vector body and the scalar
// tail (no fused multiply-add), so the bits depend neither on the build's lanes nor on how src/ splits
// the rows.
// No checks here: src/ guarantees rows, heads ≥ 1, dim ≥ 2 even, every range inside memory.

export function rotary_f32(x: usize, ld: i32, hs: i32, rows: i32, heads: i32, dim: i32, tab: usize, interleaved: i32): void {
  assert(rows > 0 && heads > 0 && dim >= 2 && (dim & 1) == 0, "rotary_f32: rows, heads >= 1, dim >= 2 even");
  const half = dim >> 1;
  for (let r = 0; r < rows; r++) {
    const cr = tab + <usize>r * <usize>dim * 4;
    const sr = cr + <usize>half * 4;
    for (let h = 0; h < heads; h++) {
      const p = x + (<usize>r * <usize>ld + <usize>h * <usize>hs) * 4;
      if (interleaved != 0) rotate_interleaved(p, cr, sr, half);
      else rotate_halves(p, cr, sr, half);
    }
  }
}

/** Pairs (d, d + half). */
// @ts-ignore: decorator
@inline function rotate_halves(p: usize, cr: usize, sr: usize, half: i32): void {
  const q = p + <usize>half * 4;
  let d = 0;
  if (ASC_FEATURE_SIMD) {
    for (; d + 4 <= half; d += 4) {
      const o = <usize>d << 2;
      const a = v128.load(p + o), b = v128.load(q + o);
      const c = v128.load(cr + o), s = v128.load(sr + o);
      v128.store(p + o, f32x4.sub(f32x4.mul(a, c), f32x4.mul(b, s)));
      v128.store(q + o, f32x4.add(f32x4.mul(b, c), f32x4.mul(a, s)));
    }
  }
  for (; d < half; d++) {
    const o = <usize>d << 2;
    const a = load<f32>(p + o), b = load<f32>(q + o);
    const c = load<f32>(cr + o), s = load<f32>(sr + o);
    store<f32>(p + o, a * c - b * s);
    store<f32>(q + o, b * c + a * s);
  }
}

/** Pairs (2d, 2d + 1). */
// @ts-ignore: decorator
@inline function rotate_interleaved(p: usize, cr: usize, sr: usize, half: i32): void {
  let d = 0;
  if (ASC_FEATURE_SIMD) {
    // Two pairs per step: x = [a0, b0, a1, b1], c = [c0, c0, c1, c1], s = [s0, s0, s1, s1];
    // u = x·c, w = swap(x)·s = [b0·s0, a0·s0, b1·s1, a1·s1]; out = [u0 − w0, u1 + w1, u2 − w2, u3 + w3].
    for (; d + 2 <= half; d += 2) {
      const px = p + (<usize>d << 3);
      const xv = v128.load(px);
      const c2 = v128.load64_zero(cr + (<usize>d << 2)), s2 = v128.load64_zero(sr + (<usize>d << 2));
      const c = v128.shuffle<f32>(c2, c2, 0, 0, 1, 1), s = v128.shuffle<f32>(s2, s2, 0, 0, 1, 1);
      const u = f32x4.mul(xv, c);
      const w = f32x4.mul(v128.shuffle<f32>(xv, xv, 1, 0, 3, 2), s);
      const minus = f32x4.sub(u, w), plus = f32x4.add(u, w);
      v128.store(px, v128.shuffle<f32>(minus, plus, 0, 5, 2, 7));
    }
  }
  for (; d < half; d++) {
    const px = p + (<usize>d << 3);
    const a = load<f32>(px), b = load<f32>(px, 4);
    const c = load<f32>(cr + (<usize>d << 2)), s = load<f32>(sr + (<usize>d << 2));
    store<f32>(px, a * c - b * s);
    store<f32>(px, b * c + a * s, 4);
  }
}
