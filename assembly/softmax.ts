// Row softmax: y[r, :] = exp(x[r, :] − max_r) / Σ exp(x[r, :] − max_r),  r < rows.
//   x, y: (rows, cols) f32, row stride cols; y == x allowed.
//   A row whose max is −Infinity (every entry −Infinity: fully masked) becomes zeros, not NaN.
//   NaN in a row makes the row NaN; so does +Infinity: x − max = ∞ − ∞ is NaN, and so is the row's
//   sum (as exp(∞ − ∞) in PyTorch).
// src/ guarantees rows ≥ 1, cols ≥ 1, both ranges inside memory.
// Passes as in XNNPACK's softmax: 1. max  2. e = exp(x − max) into y, Σe  3. y *= 1/Σe.
// Lane partials fold as (l0+l2)+(l1+l3); the f32x4 bodies are followed by a scalar tail, so nothing is
// read or written past a row.
import { vexp_p5, expf_p5 } from "./simd/exp";
import { vtanh, tanhf } from "./simd/tanh";
import { hsum, hmax } from "./simd/reduce";

export function softmax_rows_f32(y: usize, x: usize, rows: i32, cols: i32): void {
  assert(rows > 0 && cols > 0, "softmax_rows_f32: rows and cols must be >= 1");
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * <usize>cols * 4;
    softmax_row(y + off, x + off, cols);
  }
}

/** Softmax of one row of n floats; returns Σ exp (0 for a fully masked row). */
export function softmax_row(y: usize, x: usize, n: i32): f32 {
  const max = row_max(x, n);
  if (max == -Infinity) {
    // Every entry −Infinity: fully masked, zeros. Otherwise a NaN hid from the max: NaN.
    const fill: f32 = all_neg_inf(x, n) ? 0 : NaN;
    for (let j = 0; j < n; j++) store<f32>(y + (<usize>j << 2), fill);
    return fill;
  }
  const sum = exp_sub_sum(y, x, n, max, 1);
  scale_row(y, n, 1 / sum);
  return sum;
}

/** true when every x[0:n] is −Infinity */
export function all_neg_inf(x: usize, n: i32): bool {
  for (let j = 0; j < n; j++) if (load<f32>(x + (<usize>j << 2)) != -Infinity) return false;
  return true;
}

/** max over x[0:n] (a NaN may be skipped; it still poisons the sum in exp_sub_sum). 16 floats a step, 4 partial maxima. */
export function row_max(x: usize, n: i32): f32 {
  let m: f32 = -Infinity;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let vmax0 = f32x4.splat(-Infinity), vmax1 = vmax0, vmax2 = vmax0, vmax3 = vmax0;
    for (; i + 16 <= n; i += 16) {
      const p = x + (<usize>i << 2);
      vmax0 = f32x4.pmax(vmax0, v128.load(p));
      vmax1 = f32x4.pmax(vmax1, v128.load(p, 16));
      vmax2 = f32x4.pmax(vmax2, v128.load(p, 32));
      vmax3 = f32x4.pmax(vmax3, v128.load(p, 48));
    }
    for (; i + 4 <= n; i += 4) vmax0 = f32x4.pmax(vmax0, v128.load(x + (<usize>i << 2)));
    m = hmax(f32x4.pmax(f32x4.pmax(vmax0, vmax2), f32x4.pmax(vmax1, vmax3)));
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    m = m < v ? v : m;
  }
  return m;
}

/**
 * y[i] = exp((x[i] − max)·scale); returns Σ y[i]. (scale folds attention's 1/√E into this pass;
 * softmax passes 1, and then the multiply is skipped: x·1 = x, so the bits are the same.)
 * Four vectors (16 floats) a step, then single vectors, then a scalar tail: 4 independent exps a step
 * beat 2 by ~25 % in V8 (1.0 vs 1.3 ns/element at 512 columns; 6 a step is no faster and slower on
 * short rows). Σ: each 16-float step adds (e0 + e2) to one partial and (e1 + e3) to the other, single
 * vectors add to the first; the partials fold as hsum(p0 + p1); the scalar tail adds in order.
 */
export function exp_sub_sum(y: usize, x: usize, n: i32, max: f32, scale: f32): f32 {
  return scale == 1 ? exp_sub_sum_body(y, x, n, max, 1, false) : exp_sub_sum_body(y, x, n, max, scale, true);
}

// @ts-ignore: decorator
@inline function exp_sub_sum_body(y: usize, x: usize, n: i32, max: f32, scale: f32, scaled: bool): f32 {
  let sum: f32 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vmax = f32x4.splat(max), vscale = f32x4.splat(scale);
    let vsum0 = f32x4.splat(0), vsum1 = vsum0;
    for (; i + 16 <= n; i += 16) {
      const p = x + (<usize>i << 2), q = y + (<usize>i << 2);
      const ve0 = exp_shifted(v128.load(p), vmax, vscale, scaled);
      const ve1 = exp_shifted(v128.load(p, 16), vmax, vscale, scaled);
      const ve2 = exp_shifted(v128.load(p, 32), vmax, vscale, scaled);
      const ve3 = exp_shifted(v128.load(p, 48), vmax, vscale, scaled);
      v128.store(q, ve0);
      v128.store(q, ve1, 16);
      v128.store(q, ve2, 32);
      v128.store(q, ve3, 48);
      vsum0 = f32x4.add(vsum0, f32x4.add(ve0, ve2));
      vsum1 = f32x4.add(vsum1, f32x4.add(ve1, ve3));
    }
    for (; i + 4 <= n; i += 4) {
      const ve = exp_shifted(v128.load(x + (<usize>i << 2)), vmax, vscale, scaled);
      v128.store(y + (<usize>i << 2), ve);
      vsum0 = f32x4.add(vsum0, ve);
    }
    sum = hsum(f32x4.add(vsum0, vsum1));
  }
  for (; i < n; i++) {
    const d = load<f32>(x + (<usize>i << 2)) - max;
    const e = expf_p5(scaled ? d * scale : d);
    store<f32>(y + (<usize>i << 2), e);
    sum += e;
  }
  return sum;
}

/** exp((vx − vmax)·vscale) per lane, the multiply left out when !scaled. */
// @ts-ignore: decorator
@inline function exp_shifted(vx: v128, vmax: v128, vscale: v128, scaled: bool): v128 {
  const d = f32x4.sub(vx, vmax);
  return vexp_p5(scaled ? f32x4.mul(d, vscale) : d);
}

/** y[0:n] *= s (8 floats a step: ~35 % faster than 4 in V8) */
export function scale_row(y: usize, n: i32, s: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vs = f32x4.splat(s);
    for (; i + 8 <= n; i += 8) {
      const p = y + (<usize>i << 2);
      v128.store(p, f32x4.mul(v128.load(p), vs));
      v128.store(p, f32x4.mul(v128.load(p, 16), vs), 16);
    }
    for (; i + 4 <= n; i += 4) {
      const p = y + (<usize>i << 2);
      v128.store(p, f32x4.mul(v128.load(p), vs));
    }
  }
  for (; i < n; i++) {
    const p = y + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * s);
  }
}

/** y[i] = exp(x[i]) for i < n: the vectorised exponential on its own (for tests and callers). */
export function exp_f32(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const n4 = n & ~3;
    for (; i < n4; i += 4) {
      const p = x + (<usize>i << 2);
      v128.store(y + (<usize>i << 2), vexp_p5(v128.load(p)));
    }
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), expf_p5(load<f32>(x + (<usize>i << 2))));
}

/** y[i] = tanh(x[i]) for i < n: attention's soft-capping function on its own (for tests and callers). */
export function tanh_f32(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const n4 = n & ~3;
    for (; i < n4; i += 4) v128.store(y + (<usize>i << 2), vtanh(v128.load(x + (<usize>i << 2))));
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), tanhf(load<f32>(x + (<usize>i << 2))));
}
