// Vectorised exp for x ≤ 0 (softmax after max subtraction), and its scalar twin.
//
// Algorithm "rr2-p5", as in XNNPACK's f32-raddstoreexpminusmax kernels:
//   n = round(x · log2(e))                 via the magic-bias trick: the low mantissa bits of
//                                          (x·log2e + 0x1.8000FEp23) hold n + 127
//   s = 2ⁿ                                 those bits shifted into the exponent field
//   t = x − n·ln2                          ln2 split in hi + lo parts (2 steps: "rr2")
//   exp(x) = s · (1 + t·p(t)),  p(t) = c1 + c2·t + c3·t² + c4·t³ + c5·t⁴   (degree 5: "p5")
//   x < −87.336… (where eˣ is below FLT_MIN) gives +0.
// Max relative error against float64 exp over [−87.3, 0]: 1.8e-7 (≈ 3 ulp, at x ≈ −48.8), checked
// by test/assembly/softmax.test.ts against the 2e-7 bound.
// NaN propagates (t is NaN); −Infinity gives 0.
//
// The scalar `expf_p5` performs the same f32 operations in the same order as one lane of
// `vexp_p5`, so a scalar tail gives bit-identical results to the vector body (in the relaxed build
// the vector body fuses multiply-adds, so there the two may differ in the last bit).

// @ts-ignore: decorator
@inline const LOG2E: f32 = reinterpret<f32>(0x3FB8AA3B);        // 0x1.715476p+0
// @ts-ignore: decorator
@inline const MAGIC_BIAS: f32 = reinterpret<f32>(0x4B40007F);   // 0x1.8000FEp23 (1.5·2²³ + 127)
// @ts-ignore: decorator
@inline const MINUS_LN2_HI: f32 = reinterpret<f32>(0xBF317200); // −0x1.62E400p-1
// @ts-ignore: decorator
@inline const MINUS_LN2_LO: f32 = reinterpret<f32>(0xB5BFBE8E); // −0x1.7F7D1Cp-20
// @ts-ignore: decorator
@inline const C5: f32 = reinterpret<f32>(0x3C07CFCE);           // 0x1.0F9F9Cp-7
// @ts-ignore: decorator
@inline const C4: f32 = reinterpret<f32>(0x3D2B9D0D);           // 0x1.573A1Ap-5
// @ts-ignore: decorator
@inline const C3: f32 = reinterpret<f32>(0x3E2AAD40);           // 0x1.555A80p-3
// @ts-ignore: decorator
@inline const C2: f32 = reinterpret<f32>(0x3EFFFEE3);           // 0x1.FFFDC6p-2
// @ts-ignore: decorator
@inline const C1: f32 = reinterpret<f32>(0x3F7FFFFB);           // 0x1.FFFFF6p-1
// @ts-ignore: decorator
@inline const DENORM_CUTOFF: f32 = reinterpret<f32>(0xC2AEAC4F); // −0x1.5D589Ep6 = ln(FLT_MIN)

/** a·b + c: mul then add (plain SIMD: two roundings, the same in every engine), or relaxed madd. */
// @ts-ignore: decorator
@inline function vfma(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// The vector constants, each splatted to 16 bytes, in the module's static data. V8 11.3 keeps no
// f32x4.splat(constant) in a register across a loop: it rebuilds each one in every iteration (movq +
// vmovq + vpunpcklqdq, 3 instructions; 10 constants took ~30 of an exp loop's ~100 instructions, and
// spilled). A v128.load from a constant address is one instruction (a load, which the CPU has spare).
const K: usize = memory.data<f32>([
  LOG2E, LOG2E, LOG2E, LOG2E,
  MAGIC_BIAS, MAGIC_BIAS, MAGIC_BIAS, MAGIC_BIAS,
  MINUS_LN2_HI, MINUS_LN2_HI, MINUS_LN2_HI, MINUS_LN2_HI,
  MINUS_LN2_LO, MINUS_LN2_LO, MINUS_LN2_LO, MINUS_LN2_LO,
  C5, C5, C5, C5,
  C4, C4, C4, C4,
  C3, C3, C3, C3,
  C2, C2, C2, C2,
  C1, C1, C1, C1,
  DENORM_CUTOFF, DENORM_CUTOFF, DENORM_CUTOFF, DENORM_CUTOFF,
], 16);

/** exp(x) for each lane, x ≤ 0 (valid up to x ≈ 88 too). */
// @ts-ignore: decorator
@inline export function vexp_p5(vx: v128): v128 {
  const vmagic = v128.load(K, 16);
  let vn = vfma(vx, v128.load(K, 0), vmagic);
  const vs = i32x4.shl(vn, 23);
  vn = f32x4.sub(vn, vmagic);
  let vt = vfma(vn, v128.load(K, 32), vx);
  vt = vfma(vn, v128.load(K, 48), vt);
  let vp = vfma(v128.load(K, 64), vt, v128.load(K, 80));
  vp = vfma(vp, vt, v128.load(K, 96));
  vp = vfma(vp, vt, v128.load(K, 112));
  vp = vfma(vp, vt, v128.load(K, 128));
  vt = f32x4.mul(vt, vs);
  const vf = vfma(vt, vp, vs);
  return v128.andnot(vf, f32x4.lt(vx, v128.load(K, 144)));
}

/** One lane of vexp_p5, bit for bit. */
// @ts-ignore: decorator
@inline export function expf_p5(x: f32): f32 {
  let n = x * LOG2E + MAGIC_BIAS;
  const s = reinterpret<f32>(reinterpret<u32>(n) << 23);
  n = n - MAGIC_BIAS;
  let t = n * MINUS_LN2_HI + x;
  t = n * MINUS_LN2_LO + t;
  let p = C5 * t + C4;
  p = p * t + C3;
  p = p * t + C2;
  p = p * t + C1;
  t = t * s;
  const f = t * p + s;
  return x < DENORM_CUTOFF ? 0 : f;
}
