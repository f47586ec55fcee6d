// erf for f32, vectorised (f32x4) and its scalar twin, and 1 + erf (GELU's factor) without cancellation.
//
// Two ranges, as in musl's and Arm's erff (coefficients fitted here: a Lawson-weighted least-squares
// fit toward minimax in float64 against scipy's erf/erfc, then rounded to f32 and re-checked in
// emulated f32 arithmetic):
//   |t| < 0.875:       erf(t) = t + t·P(t²),        P of degree 5: P(s) ≈ erf(√s)/√s − 1
//   0.875 ≤ |t| < 4:   erf(t) = ±(1 − e),  e = erfc(|t|) = exp(−R(|t|)),  R of degree 7 in |t|: R(a) ≈ −ln erfc(a)
//   |t| ≥ 4:           erf(t) = ±1 (erfc(4) = 1.5e−8 rounds away next to 1), e = 0
// exp is simd/exp.ts's (x ≤ 0 here). P is evaluated by Horner's rule, R by Estrin's scheme (its
// chain of dependent multiply-adds is 3 deep instead of 7: GELU in the GEMM's store ~10 % faster).
// Max error against float64 over [−6, 6] by 1e−5 and every power of 2: 1.46 ulp (1.08e−7
// relative); test/src/linear.test.ts holds erf_f32 to 1.5e−7.
// 1 + erf(t) (verf1p): 1 + t + t·P(t²) in the first range, 2 − e for t ≥ 0.875 and e itself for
// t ≤ −0.875, so GELU's negative tail x·½·(1 + erf(x/√2)) keeps its relative precision instead of
// cancelling (and is exactly 0 from x/√2 ≤ −4 on).
// NaN propagates (every select takes the NaN side); erf(±∞) = ±1; erf(−0) = −0.
//
// The scalar twins do one lane's operations in the same order; in the default build a row gets the
// same bits whichever elements the vector body or the scalar tail computes (in the relaxed build
// exp's vector body fuses multiply-adds, so there the last bit may depend on an element's position).
import { vexp_p5, expf_p5 } from "./exp";

// P: erf(t) = t + t·P(t²) for |t| < 0.875
// @ts-ignore: decorator
@inline const P0: f32 = reinterpret<f32>(0x3E0375D3);   //  0.12837915 (2/√π − 1)
// @ts-ignore: decorator
@inline const P1: f32 = reinterpret<f32>(0xBEC0936E);   // −0.37612480
// @ts-ignore: decorator
@inline const P2: f32 = reinterpret<f32>(0x3DE70C82);   //  0.11281683
// @ts-ignore: decorator
@inline const P3: f32 = reinterpret<f32>(0xBCDB3B65);   // −0.026761720
// @ts-ignore: decorator
@inline const P4: f32 = reinterpret<f32>(0x3BA36119);   //  0.0049859402
// @ts-ignore: decorator
@inline const P5: f32 = reinterpret<f32>(0xBA1C12DE);   // −0.00059537392
// R: erfc(a) = exp(−R(a)) for 0.875 ≤ a < 4
// @ts-ignore: decorator
@inline const R0: f32 = reinterpret<f32>(0xB923E33C);   // −0.00015629543
// @ts-ignore: decorator
@inline const R1: f32 = reinterpret<f32>(0x3F9090FF);   //  1.1294249
// @ts-ignore: decorator
@inline const R2: f32 = reinterpret<f32>(0x3F222F24);   //  0.63353181
// @ts-ignore: decorator
@inline const R3: f32 = reinterpret<f32>(0x3DDD55AB);   //  0.10807355
// @ts-ignore: decorator
@inline const R4: f32 = reinterpret<f32>(0xBCCCAB64);   // −0.024984069
// @ts-ignore: decorator
@inline const R5: f32 = reinterpret<f32>(0x3B86F907);   //  0.0041190418
// @ts-ignore: decorator
@inline const R6: f32 = reinterpret<f32>(0xB9DE1852);   // −0.00042361260
// @ts-ignore: decorator
@inline const R7: f32 = reinterpret<f32>(0x37A90382);   //  0.000020148003
// @ts-ignore: decorator
@inline const SPLIT: f32 = 0.875;
// @ts-ignore: decorator
@inline const TAIL: f32 = 4;

// The vector constants in static data, 16 bytes each (see simd/exp.ts: V8 rebuilds a splat of a
// constant in every loop iteration; a load from a constant address is one instruction).
const T: usize = memory.data<f32>([
  P5, P5, P5, P5,                     //   0
  P4, P4, P4, P4,                     //  16
  P3, P3, P3, P3,                     //  32
  P2, P2, P2, P2,                     //  48
  P1, P1, P1, P1,                     //  64
  P0, P0, P0, P0,                     //  80
  R7, R7, R7, R7,                     //  96
  R6, R6, R6, R6,                     // 112
  R5, R5, R5, R5,                     // 128
  R4, R4, R4, R4,                     // 144
  R3, R3, R3, R3,                     // 160
  R2, R2, R2, R2,                     // 176
  R1, R1, R1, R1,                     // 192
  R0, R0, R0, R0,                     // 208
  SPLIT, SPLIT, SPLIT, SPLIT,         // 224
  TAIL, TAIL, TAIL, TAIL,             // 240
  1, 1, 1, 1,                         // 256
  2, 2, 2, 2,                         // 272
  0, 0, 0, 0,                         // 288
], 16);

/** t + t·P(t²): erf(t) for |t| < 0.875. */
// @ts-ignore: decorator
@inline function vhead(t: v128): v128 {
  const s = f32x4.mul(t, t);
  let p = f32x4.add(f32x4.mul(v128.load(T, 0), s), v128.load(T, 16));
  p = f32x4.add(f32x4.mul(p, s), v128.load(T, 32));
  p = f32x4.add(f32x4.mul(p, s), v128.load(T, 48));
  p = f32x4.add(f32x4.mul(p, s), v128.load(T, 64));
  p = f32x4.add(f32x4.mul(p, s), v128.load(T, 80));
  return f32x4.add(t, f32x4.mul(t, p));
}

/** erfc(a) = exp(−R(a)) for a = |t| in [0.875, 4); 0 from 4 on; NaN for NaN. R by Estrin: ((r7·a + r6)·a² + (r5·a + r4))·a⁴ + ((r3·a + r2)·a² + (r1·a + r0)). */
// @ts-ignore: decorator
@inline function vtail(a: v128): v128 {
  const a2 = f32x4.mul(a, a), a4 = f32x4.mul(a2, a2);
  const q3 = f32x4.add(f32x4.mul(v128.load(T, 96), a), v128.load(T, 112));
  const q2 = f32x4.add(f32x4.mul(v128.load(T, 128), a), v128.load(T, 144));
  const q1 = f32x4.add(f32x4.mul(v128.load(T, 160), a), v128.load(T, 176));
  const q0 = f32x4.add(f32x4.mul(v128.load(T, 192), a), v128.load(T, 208));
  const r = f32x4.add(f32x4.mul(f32x4.add(f32x4.mul(q3, a2), q2), a4), f32x4.add(f32x4.mul(q1, a2), q0));
  return v128.andnot(vexp_p5(f32x4.neg(r)), f32x4.ge(a, v128.load(T, 240)));
}

/** erf(t) per lane. */
// @ts-ignore: decorator
@inline export function verf(t: v128): v128 {
  const a = f32x4.abs(t);
  const e = vtail(a);
  const big = v128.or(f32x4.sub(v128.load(T, 256), e), v128.and(t, f32x4.splat(-0.0)));   // ±(1 − e), the sign of t
  return v128.bitselect(big, vhead(t), f32x4.ge(a, v128.load(T, 224)));
}

/** 1 + erf(t) per lane, without cancellation for t ≤ −0.875. */
// @ts-ignore: decorator
@inline export function verf1p(t: v128): v128 {
  const a = f32x4.abs(t);
  const e = vtail(a);
  const big = v128.bitselect(f32x4.sub(v128.load(T, 272), e), e, f32x4.gt(t, v128.load(T, 288)));   // t > 0: 2 − e; t < 0: e
  return v128.bitselect(big, f32x4.add(v128.load(T, 256), vhead(t)), f32x4.ge(a, v128.load(T, 224)));
}

// @ts-ignore: decorator
@inline function head(t: f32): f32 {
  const s = t * t;
  let p = P5 * s + P4;
  p = p * s + P3;
  p = p * s + P2;
  p = p * s + P1;
  p = p * s + P0;
  return t + t * p;
}

// @ts-ignore: decorator
@inline function tail(a: f32): f32 {
  const a2 = a * a, a4 = a2 * a2;
  const q3 = R7 * a + R6, q2 = R5 * a + R4, q1 = R3 * a + R2, q0 = R1 * a + R0;
  const r = (q3 * a2 + q2) * a4 + (q1 * a2 + q0);
  const e = expf_p5(-r);
  return a >= TAIL ? 0 : e;
}

/** One lane of verf, bit for bit. */
// @ts-ignore: decorator
@inline export function erff(t: f32): f32 {
  const a = abs<f32>(t);
  const e = tail(a);
  const big = reinterpret<f32>(reinterpret<u32>(<f32>1 - e) | (reinterpret<u32>(t) & 0x80000000));
  return a >= SPLIT ? big : head(t);
}

/** One lane of verf1p, bit for bit. */
// @ts-ignore: decorator
@inline export function erf1pf(t: f32): f32 {
  const a = abs<f32>(t);
  const e = tail(a);
  const big = t > 0 ? <f32>2 - e : e;
  return a >= SPLIT ? big : <f32>1 + head(t);
}
