// LayerNorm over the last axis: for each row r < rows of E floats,
//   y[r, i] = (x[r, i] − mean_r) / √(var_r + eps) · weight[i] + bias[i],
//   var_r = Σ_i (x[r, i] − mean_r)² / E   (biased, as PyTorch's LayerNorm)
//   x, y: (rows, E) f32, row stride E; y == x allowed. weight, bias: E floats each, or 0 (none: 1 and 0).
// src/ guarantees rows ≥ 1, E ≥ 1, eps ≥ 0, every range inside memory.
//
// Two passes over the row, shifted by its first element s = x[r, 0] (the textbook "shifted data"
// variance; never E[x²] − E[x]², which cancels):
//   1. d = Σ (x − s) / E                    (so mean = s + d, never rounded to one f32)
//   2. v = Σ ((x − s) − d)² / E
//   3. y = ((x − s) − d) · (1/√(v + eps)) · weight + bias
// x − s is exact for elements within a factor 2 of s (Sterbenz), so rows far from 0 (1e4 + x) keep
// the precision of their spread: the centred values are computed from exact differences, not from
// x − round(mean), whose rounding (ulp(1e4)/2 ≈ 5e−4) would show in every output. A constant row
// has x − s = 0 exactly: d = 0, v = 0, and y = bias exactly. With eps = 0 and v = 0 the scale
// 1/√0 = ∞ is taken as 0 (y = bias, not 0·∞ = NaN); an overflowed v = ∞ also gives bias. NaN in a
// row makes that row NaN (as does ±∞: ∞ − ∞).
// Order of the sums: 16 floats a step into four f32x4 partials p0…p3 (4 floats each, in order), then
// single vectors into p0, folded as hsum((p0 + p2) + (p1 + p3)), then a scalar tail in order (four
// partials: the adds of a step do not wait on each other). Pass 3 computes each element with the
// same operations in the vector body and the scalar tail. No fused multiply-add in any build: the
// same bits in every engine.
import { hsum } from "./simd/reduce";

export function layer_norm_f32(y: usize, x: usize, weight: usize, bias: usize, rows: i32, E: i32, eps: f32): void {
  assert(rows > 0 && E > 0 && eps >= 0, "layer_norm_f32: rows and E must be >= 1 and eps >= 0");
  if (weight != 0) {
    if (bias != 0) rows_body(y, x, weight, bias, rows, E, eps, true, true);
    else rows_body(y, x, weight, 0, rows, E, eps, true, false);
  } else {
    if (bias != 0) rows_body(y, x, 0, bias, rows, E, eps, false, true);
    else rows_body(y, x, 0, 0, rows, E, eps, false, false);
  }
}

// @ts-ignore: decorator
@inline function rows_body(y: usize, x: usize, weight: usize, bias: usize, rows: i32, E: i32, eps: f32, hasW: bool, hasB: bool): void {
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>E * 4;
    const xr = x + off, yr = y + off;
    const s = load<f32>(xr);
    // 1. d = Σ (x − s) / E
    const d = shifted_sum(xr, E, s, 0, false) / <f32>E;
    // 2. v = Σ ((x − s) − d)² / E
    const v = shifted_sum(xr, E, s, d, true) / <f32>E;
    const den = v + eps;
    const rstd: f32 = den > 0 && den < <f32>Infinity ? 1 / sqrt<f32>(den) : 0;
    // 3. y = ((x − s) − d)·rstd·weight + bias
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      const vs = f32x4.splat(s), vd = f32x4.splat(d), vr = f32x4.splat(rstd);
      for (; i + 4 <= E; i += 4) {
        const o = <usize>i << 2;
        let u = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(xr + o), vs), vd), vr);
        if (hasW) u = f32x4.mul(u, v128.load(weight + o));
        if (hasB) u = f32x4.add(u, v128.load(bias + o));
        v128.store(yr + o, u);
      }
    }
    for (; i < E; i++) {
      const o = <usize>i << 2;
      let u = ((load<f32>(xr + o) - s) - d) * rstd;
      if (hasW) u = u * load<f32>(weight + o);
      if (hasB) u = u + load<f32>(bias + o);
      store<f32>(yr + o, u);
    }
  }
}

/** Σ (x[i] − s) over i < n (squares: Σ ((x[i] − s) − d)²), in the order the header gives. */
// @ts-ignore: decorator
@inline function shifted_sum(x: usize, n: i32, s: f32, d: f32, squares: bool): f32 {
  let sum: f32 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vs = f32x4.splat(s), vd = f32x4.splat(d);
    let p0 = f32x4.splat(0), p1 = p0, p2 = p0, p3 = p0;
    for (; i + 16 <= n; i += 16) {
      const p = x + (<usize>i << 2);
      p0 = f32x4.add(p0, term(v128.load(p), vs, vd, squares));
      p1 = f32x4.add(p1, term(v128.load(p, 16), vs, vd, squares));
      p2 = f32x4.add(p2, term(v128.load(p, 32), vs, vd, squares));
      p3 = f32x4.add(p3, term(v128.load(p, 48), vs, vd, squares));
    }
    for (; i + 4 <= n; i += 4) p0 = f32x4.add(p0, term(v128.load(x + (<usize>i << 2)), vs, vd, squares));
    sum = hsum(f32x4.add(f32x4.add(p0, p2), f32x4.add(p1, p3)));
  }
  for (; i < n; i++) {
    let a = load<f32>(x + (<usize>i << 2)) - s;
    if (squares) { a = a - d; a = a * a; }
    sum += a;
  }
  return sum;
}

/** x − s, or ((x − s) − d)² for squares, per lane. */
// @ts-ignore: decorator
@inline function term(vx: v128, vs: v128, vd: v128, squares: bool): v128 {
  let a = f32x4.sub(vx, vs);
  if (squares) { a = f32x4.sub(a, vd); a = f32x4.mul(a, a); }
  return a;
}
