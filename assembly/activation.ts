// Activations of a Linear layer, applied in the GEMM's store (gemm.ts gemm_packed: after the last K
// block, over the row panel just written, while it is in L1), and on their own for tests and callers.
//
//   act = ACT_NONE (0)       y = x
//         ACT_RELU (1)       y = max(x, 0)                          (NaN stays NaN)
//         ACT_GELU (2)       y = x·½·(1 + erf(x/√2))                (PyTorch's default, exact erf form)
//         ACT_GELU_TANH (3)  y = x·½·(1 + tanh(√(2/π)·(x + 0.044715·x³)))   (PyTorch's approximate="tanh")
//   src/linear.ts mirrors these codes.
//
// GELU: the exact form, (x·½)·(1 + erf(x/√2)) with simd/erf.ts's 1 + erf (no cancellation for
// x < 0: the negative tail keeps its relative precision); the outer factor is max(x, −FLT_MAX), so
// gelu(−∞) = −0 (the limit) instead of −∞·0 = NaN; every finite x is unchanged by it.
// GELU (tanh): ½·(1 + tanh(u)) = σ(2u) = 1/(1 + e^(−2u)), with 2u = x·(C0 + C1·x²),
//   C0 = 2·√(2/π), C1 = 2·0.044715·√(2/π). σ is computed from e = exp(−|2u|) ∈ [0, 1] (simd/exp.ts,
//   whose domain is x ≤ 0): σ = 1/(1 + e) for 2u ≥ 0, e/(1 + e) below; no overflow, no cancellation
//   (f32's 1 + tanh(u) loses every digit for u ≪ 0). gelu_tanh(−∞) = −0, as for GELU.
// Each vector function has a scalar twin doing one lane's operations in the same order: in the
// default build a row's bits do not depend on which elements the vector body or the scalar tail
// computes. (In the relaxed build, exp's vector body fuses multiply-adds and its scalar twin does
// not: there the GELUs' last bit may depend on whether an element falls in the vector body or the
// tail, which its column fixes, so threads still agree.)
// No checks here: src/ guarantees the ranges lie inside memory and act is one of the codes.
import { verf, verf1p, erff, erf1pf } from "./simd/erf";
import { vexp_p5, expf_p5 } from "./simd/exp";

// @ts-ignore: decorator
@inline export const ACT_NONE: i32 = 0;
// @ts-ignore: decorator
@inline export const ACT_RELU: i32 = 1;
// @ts-ignore: decorator
@inline export const ACT_GELU: i32 = 2;
// @ts-ignore: decorator
@inline export const ACT_GELU_TANH: i32 = 3;

// @ts-ignore: decorator
@inline const SQRT1_2: f32 = 0.7071067811865476;   // 1/√2
// @ts-ignore: decorator
@inline const C0: f32 = 1.5957691216057308;        // 2·√(2/π)
// @ts-ignore: decorator
@inline const C1: f32 = 0.07135481627260025;       // 2·0.044715·√(2/π)
// @ts-ignore: decorator
@inline const NEG_MAX: f32 = -3.4028234663852886e38;   // −FLT_MAX

const T: usize = memory.data<f32>([
  0, 0, 0, 0,                             //   0
  0.5, 0.5, 0.5, 0.5,                     //  16
  1, 1, 1, 1,                             //  32
  SQRT1_2, SQRT1_2, SQRT1_2, SQRT1_2,     //  48
  C0, C0, C0, C0,                         //  64
  C1, C1, C1, C1,                         //  80
  NEG_MAX, NEG_MAX, NEG_MAX, NEG_MAX,     //  96
], 16);

/** act(x) per lane; act a constant where this is inlined (each activation its own loop). */
// @ts-ignore: decorator
@inline export function vact(vx: v128, act: i32): v128 {
  if (act == ACT_RELU) return f32x4.max(vx, v128.load(T, 0));
  if (act == ACT_GELU) {
    const h = f32x4.mul(f32x4.max(vx, v128.load(T, 96)), v128.load(T, 16));
    return f32x4.mul(h, verf1p(f32x4.mul(vx, v128.load(T, 48))));
  }
  if (act == ACT_GELU_TANH) {
    const one = v128.load(T, 32);
    const z = f32x4.mul(vx, f32x4.add(v128.load(T, 64), f32x4.mul(v128.load(T, 80), f32x4.mul(vx, vx))));
    const e = vexp_p5(f32x4.neg(f32x4.abs(z)));
    const s = f32x4.div(v128.bitselect(one, e, f32x4.ge(z, v128.load(T, 0))), f32x4.add(one, e));
    return f32x4.mul(f32x4.max(vx, v128.load(T, 96)), s);
  }
  return vx;
}

/** One lane of vact, the same operations in the same order. */
// @ts-ignore: decorator
@inline export function act1(x: f32, act: i32): f32 {
  if (act == ACT_RELU) return max<f32>(x, 0);
  if (act == ACT_GELU) {
    const h = max<f32>(x, NEG_MAX) * 0.5;
    return h * erf1pf(x * SQRT1_2);
  }
  if (act == ACT_GELU_TANH) {
    const z = x * (C0 + C1 * (x * x));
    const e = expf_p5(-abs<f32>(z));
    const s = (z >= 0 ? <f32>1 : e) / (1 + e);
    return max<f32>(x, NEG_MAX) * s;
  }
  return x;
}

/**
 * C[0:rows, 0:cols] = act(C + bias[0:cols]) (bias = 0: act(C)); row stride ldc. Vector body over
 * whole 4-column groups, then a scalar tail, per row.
 */
export function bias_act(c: usize, ldc: i32, bias: usize, rows: i32, cols: i32, act: i32): void {
  if (bias != 0) {
    if (act == ACT_RELU) bias_act_rows(c, ldc, bias, rows, cols, ACT_RELU, true);
    else if (act == ACT_GELU) bias_act_rows(c, ldc, bias, rows, cols, ACT_GELU, true);
    else if (act == ACT_GELU_TANH) bias_act_rows(c, ldc, bias, rows, cols, ACT_GELU_TANH, true);
    else bias_act_rows(c, ldc, bias, rows, cols, ACT_NONE, true);
  } else {
    if (act == ACT_RELU) bias_act_rows(c, ldc, 0, rows, cols, ACT_RELU, false);
    else if (act == ACT_GELU) bias_act_rows(c, ldc, 0, rows, cols, ACT_GELU, false);
    else if (act == ACT_GELU_TANH) bias_act_rows(c, ldc, 0, rows, cols, ACT_GELU_TANH, false);
  }
}

// @ts-ignore: decorator
@inline function bias_act_rows(c: usize, ldc: i32, bias: usize, rows: i32, cols: i32, act: i32, hasBias: bool): void {
  for (let r = 0; r < rows; r++) {
    const row = c + <usize>r * <usize>ldc * 4;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      // Two vectors a step: their polynomial chains are independent, so they overlap.
      for (; j + 8 <= cols; j += 8) {
        const p = row + (<usize>j << 2);
        let v0 = v128.load(p), v1 = v128.load(p, 16);
        if (hasBias) {
          v0 = f32x4.add(v0, v128.load(bias + (<usize>j << 2)));
          v1 = f32x4.add(v1, v128.load(bias + (<usize>j << 2), 16));
        }
        v128.store(p, vact(v0, act));
        v128.store(p, vact(v1, act), 16);
      }
      for (; j + 4 <= cols; j += 4) {
        const p = row + (<usize>j << 2);
        let v = v128.load(p);
        if (hasBias) v = f32x4.add(v, v128.load(bias + (<usize>j << 2)));
        v128.store(p, vact(v, act));
      }
    }
    for (; j < cols; j++) {
      const p = row + (<usize>j << 2);
      let v = load<f32>(p);
      if (hasBias) v = v + load<f32>(bias + (<usize>j << 2));
      store<f32>(p, act1(v, act));
    }
  }
}

/** y[0:n] = act(x[0:n]) (y == x allowed): the activations on their own, as the GEMM applies them. */
export function activation_f32(y: usize, x: usize, n: i32, act: i32): void {
  assert(act >= ACT_NONE && act <= ACT_GELU_TANH, "activation_f32: act must be 0, 1, 2 or 3");
  if (y != x) memory.copy(y, x, <usize>n << 2);
  bias_act(y, n, 0, 1, n, act);
}

/** y[0:n] = erf(x[0:n]) (y == x allowed): simd/erf.ts on its own (for tests and callers). */
export function erf_f32(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), verf(v128.load(x + (<usize>i << 2))));
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), erff(load<f32>(x + (<usize>i << 2))));
}
