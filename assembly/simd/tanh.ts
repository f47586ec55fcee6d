// Vectorised tanh (attention's logit soft-capping), and its scalar twin.
//
//   tanh(x) = sign(x) · tanh(z),  z = min(|x|, SAT)
//   z < 1:  tanh(z) = z + z³·P(z²), P of degree 7: fitted in float64 to the relative error of tanh on
//           (0, 1] (least squares over 2000 Chebyshev nodes, reweighted towards the max error (Lawson);
//           0.007 ulp before its coefficients were rounded to f32). Keeps small |x| exact to the ulp.
//   z ≥ 1:  tanh(z) = 1 − d,  d = 2e/(1 + e) ≤ 0.24,  e = e^{−2z}: d's errors are a fraction of the
//           result's ulp, so the subtraction does not amplify them.
//           e = s·(1 + expm1(r)): u = −2z (exact); n = round(u·log2e) (the magic-bias trick of exp.ts:
//           the low mantissa bits of u·log2e + 0x1.8000FEp23 hold n + 127); s = 2ⁿ; r = u − n·ln2 (ln2
//           in hi + lo parts, |r| ≤ ln2/2); expm1(r) = r + r·(r·p(r)), p(r) = 1/2! + r/3! + … + r⁵/7!
//           (Taylor: the first term left out, r⁸/8!, is under 0.1 ulp of expm1(r) at |r| = ln2/2).
// SAT = 9.25 (> 13·ln2 ≈ 9.011, past which tanh rounds to 1 in f32): ±Infinity gives ±1; NaN
// propagates; the sign of ±0 is kept.
// Max error against float64 Math.tanh: 1.2 ulp (z near 1; test/src/softcap-alibi.test.ts holds it to
// 2 ulp over a dense sweep).
// Each lane's result depends only on its own x (a vector computes the z ≥ 1 branch when any lane needs
// it, then selects per lane). `tanhf` performs the same f32 operations
// in the same order as one lane of `vtanh` (the relaxed build fuses the vector multiply-adds, so there
// the two may differ in the last bit, as exp.ts's pair does).

// @ts-ignore: decorator
@inline const LOG2E: f32 = reinterpret<f32>(0x3FB8AA3B);        // 0x1.715476p+0
// @ts-ignore: decorator
@inline const MAGIC_BIAS: f32 = reinterpret<f32>(0x4B40007F);   // 0x1.8000FEp23 (1.5·2²³ + 127)
// @ts-ignore: decorator
@inline const MINUS_LN2_HI: f32 = reinterpret<f32>(0xBF317200); // −0x1.62E400p-1 (n·ln2_hi exact for |n| < 512)
// @ts-ignore: decorator
@inline const MINUS_LN2_LO: f32 = reinterpret<f32>(0xB5BFBE8E); // −0x1.7F7D1Cp-20
// @ts-ignore: decorator
@inline const SAT: f32 = 9.25;
// expm1's Taylor coefficients 1/k!, k = 2 … 7
// @ts-ignore: decorator
@inline const E2: f32 = reinterpret<f32>(0x3F000000);            // 1/2
// @ts-ignore: decorator
@inline const E3: f32 = reinterpret<f32>(0x3E2AAAAB);            // 1/6
// @ts-ignore: decorator
@inline const E4: f32 = reinterpret<f32>(0x3D2AAAAB);            // 1/24
// @ts-ignore: decorator
@inline const E5: f32 = reinterpret<f32>(0x3C088889);            // 1/120
// @ts-ignore: decorator
@inline const E6: f32 = reinterpret<f32>(0x3AB60B61);            // 1/720
// @ts-ignore: decorator
@inline const E7: f32 = reinterpret<f32>(0x39500D01);            // 1/5040
// P's coefficients (of z², z⁴, …): near tanh's Taylor series −1/3, 2/15, −17/315, 62/2835, …
// @ts-ignore: decorator
@inline const P0: f32 = reinterpret<f32>(0xBEAAAAA9);            // −0.33333328
// @ts-ignore: decorator
@inline const P1: f32 = reinterpret<f32>(0x3E088831);            // 0.13333203
// @ts-ignore: decorator
@inline const P2: f32 = reinterpret<f32>(0xBD5CFE26);            // −0.053953312
// @ts-ignore: decorator
@inline const P3: f32 = reinterpret<f32>(0x3CB277A4);            // 0.021785565
// @ts-ignore: decorator
@inline const P4: f32 = reinterpret<f32>(0xBC0CD9D8);            // −0.0085968599
// @ts-ignore: decorator
@inline const P5: f32 = reinterpret<f32>(0x3B49E430);            // 0.0030806176
// @ts-ignore: decorator
@inline const P6: f32 = reinterpret<f32>(0xBA5CD1D3);            // −0.00084236002
// @ts-ignore: decorator
@inline const P7: f32 = reinterpret<f32>(0x38FF5F7D);            // 0.00012177134
// @ts-ignore: decorator
@inline const SIGN: f32 = reinterpret<f32>(0x80000000);          // −0: the sign bit alone

/** a·b + c: mul then add (plain SIMD), or relaxed madd (as exp.ts's vfma). */
// @ts-ignore: decorator
@inline function vfma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// The vector constants in static data, one 16-byte splat each (see exp.ts: V8 rebuilds splatted
// constants in every loop iteration; a load from a constant address is one instruction).
const K: usize = memory.data<f32>([
  SAT, SAT, SAT, SAT,                                   //   0
  LOG2E, LOG2E, LOG2E, LOG2E,                           //  16
  MAGIC_BIAS, MAGIC_BIAS, MAGIC_BIAS, MAGIC_BIAS,       //  32
  MINUS_LN2_HI, MINUS_LN2_HI, MINUS_LN2_HI, MINUS_LN2_HI, //  48
  MINUS_LN2_LO, MINUS_LN2_LO, MINUS_LN2_LO, MINUS_LN2_LO, //  64
  E7, E7, E7, E7,                                       //  80
  E6, E6, E6, E6,                                       //  96
  E5, E5, E5, E5,                                       // 112
  E4, E4, E4, E4,                                       // 128
  E3, E3, E3, E3,                                       // 144
  E2, E2, E2, E2,                                       // 160
  -2.0, -2.0, -2.0, -2.0,                               // 176
  1.0, 1.0, 1.0, 1.0,                                   // 192
  SIGN, SIGN, SIGN, SIGN,                               // 208
  P7, P7, P7, P7,                                       // 224
  P6, P6, P6, P6,                                       // 240
  P5, P5, P5, P5,                                       // 256
  P4, P4, P4, P4,                                       // 272
  P3, P3, P3, P3,                                       // 288
  P2, P2, P2, P2,                                       // 304
  P1, P1, P1, P1,                                       // 320
  P0, P0, P0, P0,                                       // 336
], 16);

/** tanh(x) for each lane. The z ≥ 1 branch is skipped when no lane needs it (soft-capping's usual case). */
// @ts-ignore: decorator
@inline export function vtanh(vx: v128): v128 {
  const vone = v128.load(K, 192);
  const vz = f32x4.pmin(f32x4.abs(vx), v128.load(K, 0));   // pmin(z, SAT) = SAT < z ? SAT : z: NaN stays NaN
  // z < 1: z + z³·P(z²)
  const vz2 = f32x4.mul(vz, vz);
  let vw = vfma(v128.load(K, 224), vz2, v128.load(K, 240));
  vw = vfma(vw, vz2, v128.load(K, 256));
  vw = vfma(vw, vz2, v128.load(K, 272));
  vw = vfma(vw, vz2, v128.load(K, 288));
  vw = vfma(vw, vz2, v128.load(K, 304));
  vw = vfma(vw, vz2, v128.load(K, 320));
  vw = vfma(vw, vz2, v128.load(K, 336));
  let vy = vfma(f32x4.mul(vz, vz2), vw, vz);
  const vsmall = f32x4.lt(vz, vone);
  if (!i32x4.all_true(vsmall)) {
    // z ≥ 1: 1 − 2e/(1 + e), e = e^{−2z}
    const vu = f32x4.mul(vz, v128.load(K, 176));
    const vmagic = v128.load(K, 32);
    let vn = vfma(vu, v128.load(K, 16), vmagic);
    const vs = i32x4.shl(vn, 23);
    vn = f32x4.sub(vn, vmagic);
    let vr = vfma(vn, v128.load(K, 48), vu);
    vr = vfma(vn, v128.load(K, 64), vr);
    let vp = vfma(v128.load(K, 80), vr, v128.load(K, 96));
    vp = vfma(vp, vr, v128.load(K, 112));
    vp = vfma(vp, vr, v128.load(K, 128));
    vp = vfma(vp, vr, v128.load(K, 144));
    vp = vfma(vp, vr, v128.load(K, 160));
    const vq = f32x4.mul(vp, vr);                             // expm1(r) = r + r·q
    const vrs = f32x4.mul(vr, vs);
    const ve = f32x4.add(vfma(vq, vrs, vrs), vs);             // s·expm1(r) + s
    const vd = f32x4.div(f32x4.add(ve, ve), f32x4.add(ve, vone));
    vy = v128.bitselect(vy, f32x4.sub(vone, vd), vsmall);
  }
  return v128.bitselect(vx, vy, v128.load(K, 208));         // y ≥ 0 with x's sign bit
}

/** One lane of vtanh, bit for bit (plain SIMD and scalar builds). */
// @ts-ignore: decorator
@inline export function tanhf(x: f32): f32 {
  const a = abs<f32>(x);
  const z = SAT < a ? SAT : a;
  const z2 = z * z;
  let w = P7 * z2 + P6;
  w = w * z2 + P5;
  w = w * z2 + P4;
  w = w * z2 + P3;
  w = w * z2 + P2;
  w = w * z2 + P1;
  w = w * z2 + P0;
  let y = (z * z2) * w + z;
  if (!(z < 1)) {
    const u = z * <f32>-2;
    let n = u * LOG2E + MAGIC_BIAS;
    const s = reinterpret<f32>(reinterpret<u32>(n) << 23);
    n = n - MAGIC_BIAS;
    let r = n * MINUS_LN2_HI + u;
    r = n * MINUS_LN2_LO + r;
    let p = E7 * r + E6;
    p = p * r + E5;
    p = p * r + E4;
    p = p * r + E3;
    p = p * r + E2;
    const q = p * r;
    const rs = r * s;
    const e = (q * rs + rs) + s;
    y = <f32>1 - (e + e) / (e + 1);
  }
  return reinterpret<f32>((reinterpret<u32>(x) & 0x80000000) | (reinterpret<u32>(y) & 0x7FFFFFFF));
}
