// cos, sin and powers in float64 from + − × ÷ alone, so every engine computes the same bits.
// Math.cos/sin/pow are not specified to the bit: V8 versions, JavaScriptCore (Bun) and the C
// libraries under them may differ in the last place, and a rotary table rounded to f32 from them then
// differs in a few entries between runtimes (measured: Node 20, Deno and Bun gave three digests over
// 1.5 M entries). These functions use only IEEE-754 basic operations on doubles (correctly rounded
// everywhere; JavaScript never fuses a multiply-add) and integer-exact steps, with errors of a few
// ulps: far below the f32 rounding of the tables they feed.
//   sincos(x): x = k·π/2 + r, k = round(x·2/π), r by subtracting k·P1 … k·P5, P_i consecutive 21-bit
//   pieces of π/2 (each k·P_i is exact for |k| < 2^32, so |x| < 2^32 is reduced to ~2^-70); then
//   Taylor series of sin r and cos r on |r| ≤ π/4 (+ a little), to r^21 and r^22 (error < 1e-19).
//   pow(b, y) = exp(y·ln b): ln by halving to m ∈ [1, 2) (exact) and 2·atanh((m − 1)/(m + 1)); exp by
//   y = k·ln 2 + r, |r| ≤ ln2/2, Taylor to r^24, then exact halvings/doublings.

/** π's fractional part in hexadecimal (the digits of Blowfish's P-array), enough for 105 bits of π/2. */
const PI_HEX = "243F6A8885A308D313198A2E03707344A4093822299F31D0";
/** π/2 as five 21-bit pieces: P[0] + P[1] + … (each a double with at most 21 significant bits). */
const PIO2: number[] = (() => {
  // π·2^(4·n) as an integer, then π/2 = that / 2^(4n + 1); peel 21 bits at a time from the top.
  const n = PI_HEX.length;
  let v = BigInt(`0x3${PI_HEX}`);
  const scale = 4 * n + 1;   // π/2 = v / 2^scale
  const bits = v.toString(2).length;
  const out: number[] = [];
  let shift = bits - 21;
  for (let i = 0; i < 5; i++) {
    const top = v >> BigInt(shift);
    out.push(Number(top) * 2 ** (shift - scale));   // exact: an integer < 2^21 times a power of two
    v -= top << BigInt(shift);
    shift -= 21;
  }
  return out;
})();
const TWO_OVER_PI = 0.6366197723675814;

/** [cos x, sin x] for |x| < 2^32 (x a finite double). */
export function sincos(x: number): [number, number] {
  const k = Math.round(x * TWO_OVER_PI);
  let r = x;
  for (const p of PIO2) r -= k * p;
  const r2 = r * r;
  // Horner from the highest term: sin r = r·(1 − r²/(2·3)·(1 − r²/(4·5)·(1 − …)))
  let s = 1, c = 1;
  for (let i = 21; i >= 3; i -= 2) s = 1 - (r2 / ((i - 1) * i)) * s;
  for (let i = 22; i >= 2; i -= 2) c = 1 - (r2 / ((i - 1) * i)) * c;
  s *= r;
  switch (((k % 4) + 4) % 4) {
    case 0: return [c, s];
    case 1: return [-s, c];
    case 2: return [-c, -s];
    default: return [s, -c];
  }
}

const LN2 = 0.6931471805599453;
const LN2_HI = 6.93147180369123816490e-01, LN2_LO = 1.90821492927058770002e-10;   // fdlibm's split: k·LN2_HI exact for |k| < 2^20

/** ln b for a finite b > 0. */
export function log(b: number): number {
  let e = 0, m = b;
  while (m >= 2) { m /= 2; e++; }
  while (m < 1) { m *= 2; e--; }
  const z = (m - 1) / (m + 1), z2 = z * z;   // z ∈ [0, 1/3)
  let s = 0;
  for (let i = 61; i >= 1; i -= 2) s = 1 / i + z2 * s;
  return e * LN2_HI + (e * LN2_LO + 2 * z * s);
}

/** e^y for |y| < 700. */
export function exp(y: number): number {
  const k = Math.round(y / LN2);
  const r = (y - k * LN2_HI) - k * LN2_LO;
  let s = 1;
  for (let i = 24; i >= 1; i--) s = 1 + (r / i) * s;
  for (let i = 0; i < k; i++) s *= 2;
  for (let i = 0; i > k; i--) s /= 2;
  return s;
}

/** b^y for b > 0 and moderate |y·ln b|. */
export function pow(b: number, y: number): number {
  return y === 0 ? 1 : exp(y * log(b));
}
