// softmax(x): over the last axis. x [..., N] is copied into one WASM block, normalised there in place
// (softmax_rows_f32 with y = x) and copied out: the call needs x's bytes of WASM memory, once.
import { put, withFrame } from "./call.js";
import { softmaxRows } from "./parallel.js";
import { MAX_BYTES, fmtBytes } from "./memory.js";
import { type Tensor, checkOptions, checkOut, checkTensor, rangeError } from "./validate.js";
import { runtime } from "./wasm.js";

/** The most bytes a call may put in WASM memory: 4 GiB, less 1 MiB for the module's own data (checkFits' rule). */
const MAX_CALL_BYTES = MAX_BYTES - 1024 * 1024;

export interface SoftmaxOptions {
  /** Write the result into this Float32Array (x's length) instead of a new one; it may be x.data itself. */
  out?: Float32Array;
}

/**
 * Softmax over the last axis, f32: y = exp(x − max) / Σ exp(x − max) per row.
 * A row of all −Infinity (fully masked) gives zeros; NaN propagates.
 * @throws {TypeError} a non-tensor or non-Float32Array data or out, an unknown option
 * @throws {RangeError} data length ≠ shape product, out of another length, rank 0, more than 1073479680 floats (4 GiB − 1 MiB)
 */
export function softmax(x: Tensor, options?: SoftmaxOptions): Tensor {
  const fn = "softmax";
  const o = checkOptions<SoftmaxOptions>(fn, options, ["out"]);
  const X = checkTensor(fn, "x", x, 1, "[..., N]");
  const shape = X.shape.slice();
  const cols = shape[shape.length - 1];
  const bytes = X.data.length * 4;   // one block: the kernel works in place
  if (!(bytes <= MAX_CALL_BYTES)) {
    throw rangeError(fn, "x.data", `have at most ${MAX_CALL_BYTES / 4} floats (softmax copies x into WebAssembly memory once and works in place there; a module addresses 4 GiB, 1 MiB of it kept for the module)`,
      `${X.data.length} floats (${fmtBytes(bytes)})`);
  }
  const out = checkOut(fn, "options.out", o.out, X.data.length, shape);
  if (X.data.length === 0) return { data: out, shape };
  const rt = runtime(fn);
  return withFrame(rt, fn, (f) => {
    const px = put(rt, f, X.data);
    softmaxRows(rt, f, px, X.data.length / cols, cols);
    out.set(rt.heap.f32(px, X.data.length));
    return { data: out, shape };
  });
}
