// The attention options that change the scores inside the kernel: soft-capping (Gemma 2) and ALiBi
// (BLOOM, MPT). Shared by scaledDotProductAttention and MultiHeadAttention.
//   softcap c: a scaled score s becomes c·tanh(s/c), before the ALiBi bias and the masks.
//   ALiBi: head h's score for query position p and key j gets −m_h·|p − j| (under a causal mask every
//   key a query sees has j ≤ p, so this is the paper's −m_h·(p − j)).
import { pow } from "./exact-math.js";
import { rangeError, typeError } from "./validate.js";

/** f32's smallest normal number, 2^-126. */
const F32_MIN_NORMAL = 2 ** -126;

/**
 * Checks a soft-cap: a finite number > 0, which the kernel gets as an f32 together with scale/softcap
 * (so it must be a normal f32 and scale/softcap must stay finite in f32). Returns 0 (none) when absent.
 */
export function checkSoftcap(fn: string, arg: string, v: unknown, scale: number): number {
  if (v === undefined) return 0;
  if (typeof v !== "number") throw typeError(fn, arg, "a number (the soft-cap c: scores become c·tanh(s/c))", v);
  if (!Number.isFinite(v) || v <= 0) throw rangeError(fn, arg, "be a finite number > 0", v);
  const c = Math.fround(v);
  if (c < F32_MIN_NORMAL || !Number.isFinite(c) || !Number.isFinite(Math.fround(Math.fround(scale) / c))) {
    throw rangeError(fn, arg, `be within f32's normal range [2^-126, 3.4e38], with scale/softcap finite in f32 (scale = ${scale})`, v);
  }
  return v;
}

/** Checks ALiBi slopes: a Float32Array of finite numbers whose length is one of `lengths` (described by `expected`). */
export function checkSlopes(fn: string, arg: string, v: unknown, lengths: readonly number[], expected: string): Float32Array {
  if (!(v instanceof Float32Array)) throw typeError(fn, arg, "a Float32Array of ALiBi slopes", v);
  if (!lengths.includes(v.length)) throw rangeError(fn, `${arg}.length`, expected, v.length);
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw rangeError(fn, `${arg}[${i}]`, "be a finite number", v[i]);
  }
  return v;
}

/**
 * The ALiBi paper's slopes for H heads, as its reference implementation and BLOOM compute them: for H
 * a power of two m_h = 2^(−8h/H), h = 1 … H; otherwise the slopes of the largest power of two P < H,
 * then every other slope of 2P (h = 1, 3, 5, …) until there are H. Computed in float64, rounded to f32.
 */
export function alibiSlopes(H: number): Float32Array {
  const pow2 = (n: number): number[] => Array.from({ length: n }, (_, i) => pow(2, -8 * (i + 1) / n));   // exact-math: the same bits in every engine
  let P = 1;
  while (P * 2 <= H) P *= 2;
  const slopes = pow2(P);
  if (P < H) slopes.push(...pow2(2 * P).filter((_, i) => i % 2 === 0).slice(0, H - P));
  return Float32Array.from(slopes);
}
