// softmax(x): over the last axis.
import { checkFits, put, take, withFrame } from "./call.js";
import { type Tensor, checkOptions, checkTensor } from "./validate.js";
import { runtime } from "./wasm.js";

/**
 * Softmax over the last axis, f32: y = exp(x − max) / Σ exp(x − max) per row.
 * A row of all −Infinity (fully masked) gives zeros; NaN propagates.
 * @throws {TypeError} a non-tensor or non-Float32Array data, an unknown option
 * @throws {RangeError} data length ≠ shape product, rank 0, too large for WASM memory
 */
export function softmax(x: Tensor, options?: Record<string, never>): Tensor {
  const fn = "softmax";
  checkOptions(fn, options, []);
  const X = checkTensor(fn, "x", x, 1, "[..., N]");
  const shape = X.shape.slice();
  const cols = shape[shape.length - 1];
  if (X.data.length === 0) return { data: new Float32Array(0), shape };
  checkFits(fn, X.data.length * 8, "x and the result");
  const rt = runtime(fn);
  return withFrame(rt, fn, (f) => {
    const px = put(rt, f, X.data);
    rt.kernels.softmax_rows_f32(px, px, X.data.length / cols, cols);
    return { data: take(rt, px, X.data.length), shape };
  });
}
