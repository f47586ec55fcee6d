// The sliding-window option (`window: [left, right]`) of scaledDotProductAttention and
// MultiHeadAttention: FlashAttention's window_size, aligned bottom-right as our causal mask. Query i
// (at position p = i + S − L) may see key j iff p − left ≤ j ≤ p + right; −1 or Infinity leaves that
// side unbounded. The kernels take it as wl = left + 1, wr = right + 1 (0: unbounded) and visit only
// the key tiles a row block's window reaches.
import { type KernelWindow, NO_WINDOW } from "./parallel.js";
import { rangeError, typeError } from "./validate.js";

/** A sliding window [left, right]: keys at most `left` before and `right` after the query's (bottom-right aligned) position; −1 or Infinity: unbounded. */
export type AttentionWindow = readonly [left: number, right: number];

/** Checks a window option; returns it with unbounded sides as Infinity, or null when absent. */
export function checkWindow(fn: string, arg: string, v: unknown): readonly [number, number] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw typeError(fn, arg, "an array [left, right] (−1 or Infinity: unbounded)", v);
  if (v.length !== 2) throw rangeError(fn, `${arg}.length`, "be 2 ([left, right])", v.length);
  const side = (x: unknown, i: number): number => {
    const name = `${arg}[${i}]`;
    if (typeof x !== "number") throw typeError(fn, name, "a number (an integer ≥ 0, or −1 or Infinity: unbounded)", x);
    if (x === -1 || x === Infinity) return Infinity;
    if (!Number.isSafeInteger(x) || x < 0) throw rangeError(fn, name, "be an integer ≥ 0, or −1 or Infinity (unbounded)", x);
    return x;
  };
  return [side(v[0], 0), side(v[1], 1)];
}

/**
 * The kernels' form of a checked window for L queries and S keys. A side that reaches past every key
 * (left ≥ S, right ≥ L) is unbounded: it masks nothing, and the kernels then run their windowless code.
 */
export function kernelWindow(win: readonly [number, number] | null, L: number, S: number): KernelWindow {
  if (win === null) return NO_WINDOW;
  const [left, right] = win;
  return [left >= S ? 0 : left + 1, right >= L ? 0 : right + 1];
}
