// linear(x, weight, bias?): PyTorch's nn.Linear / F.linear, with an optional activation:
//   y = act(x·Wᵀ + b),  x [..., in], weight [out, in] (nn.Linear's layout), bias [out] → [..., out].
// The rows of x fold into one GEMM with M = product(batch) rows, K = in, N = out, on W packed into
// the GEMM's panels (B = Wᵀ, pack_b_f32 through parallel.ts packB). Bias and activation are applied in
// the GEMM's store (gemm_packed_act_f32; gemm_packed_f32 without an activation), not in a pass over
// the result afterwards.
// W is packed on every call: about one more pass over W (768×768: 2.4 MB). A layer that keeps its
// weights resident, packed once when they are loaded (src/packed.ts, as MultiHeadAttention does), skips it.
import { checkFits, put, withFrame } from "./call.js";
import { ACTIVATIONS, gemms, packB } from "./parallel.js";
import { type Tensor, checkOptions, checkOut, checkTensor, fmtShape, product, rangeError, typeError } from "./validate.js";
import type { Frame } from "./memory.js";
import { type Runtime, runtime } from "./wasm.js";

export interface LinearOptions {
  /** Applied to x·Wᵀ + b: "relu", "gelu" (the exact erf form, PyTorch's default) or "gelu-tanh" (the tanh approximation, PyTorch's approximate="tanh"); none when absent. */
  activation?: "relu" | "gelu" | "gelu-tanh";
  /** Write the result into this Float32Array (exactly the result's element count) instead of a new one; it may be x.data. */
  out?: Float32Array;
}

const KEYS = ["activation", "out"] as const;
const NAMES = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];

/**
 * y = act(x·Wᵀ + b) over the last axis of x, f32: `[..., in]` → `[..., out]` with `weight` `[out, in]`
 * (as `nn.Linear` stores it) and `bias` `[out]` (null or absent: none). `in = 0` gives act(bias).
 * @throws {TypeError} a non-tensor x, weight or bias, non-Float32Array data or out, an unknown activation or option
 * @throws {RangeError} data length ≠ shape product, x of rank 0, weight not of rank 2, weight.shape[1] ≠ x's last axis, bias not of shape [out], out of another length, too large for WASM memory
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, options?: LinearOptions): Tensor {
  const fn = "linear";
  const o = checkOptions<LinearOptions>(fn, options, KEYS);
  const act = checkActivation(fn, o.activation);
  const X = checkTensor(fn, "x", x, 1, "[..., in]");
  const W = checkTensor(fn, "weight", weight, 2, "[out, in]");
  if (W.shape.length !== 2) throw rangeError(fn, "weight.shape", "have rank 2 ([out, in], as nn.Linear stores it)", `${fmtShape(W.shape)} (rank ${W.shape.length})`);
  const K = X.shape[X.shape.length - 1], N = W.shape[0];
  if (W.shape[1] !== K) {
    throw rangeError(fn, "weight.shape[1]", `equal in = ${K} (the last axis of x.shape ${fmtShape(X.shape)})`, `${W.shape[1]} (weight.shape ${fmtShape(W.shape)})`);
  }
  let B: Tensor | null = null;
  if (bias !== undefined && bias !== null) {
    B = checkTensor(fn, "bias", bias, 1, "[out]");
    if (B.shape.length !== 1 || B.shape[0] !== N) {
      throw rangeError(fn, "bias.shape", `equal [out] = [${N}] (weight.shape ${fmtShape(W.shape)}), or bias be null`, fmtShape(B.shape));
    }
  }
  const batch = X.shape.slice(0, -1);
  const M = product(batch);
  const shape = [...batch, N];
  const outLen = M * N;
  const out = checkOut(fn, "options.out", o.out, outLen, shape);
  // in = 0: x·Wᵀ is all zeros; the GEMM runs over one zero column, so act(bias) comes from the same store.
  const Kk = Math.max(K, 1);
  const rt = outLen > 0 ? runtime(fn) : null;
  const scratch = rt ? rt.kernels.packed_b_bytes(Kk, N) + rt.kernels.matmul_scratch_bytes(M, Kk, 0) * 64 : 0;
  checkFits(fn, (M * Kk + N * Kk + N + outLen) * 4 + scratch + 4 * 64, "x, weight, bias and the result");
  if (!rt) return { data: out, shape };
  return withFrame(rt, fn, (f) => {
    const px = K > 0 ? put(rt, f, X.data) : zeros(rt, f, M);
    const pw = K > 0 ? put(rt, f, W.data) : zeros(rt, f, N);
    const pbias = B ? put(rt, f, B.data) : 0;
    // B = Wᵀ: B[k, n] = W[n, k] at pw + (n·in + k)·4, so row stride 1, column stride in.
    const [pb] = packB(rt, f, [{ b: pw, rs: 1, cs: Kk, K: Kk, N }]);
    const pc = f.alloc(outLen * 4);
    gemms(rt, f, [{ c: pc, ldc: N, a: px, aRs: Kk, aCs: 1, pb, bias: pbias, M, K: Kk, N, act }]);
    out.set(rt.heap.f32(pc, outLen));
    return { data: out, shape };
  });
}

function checkActivation(fn: string, v: unknown): number {
  if (v === undefined) return 0;
  const i = NAMES.indexOf(v as keyof typeof ACTIVATIONS);
  if (typeof v !== "string" || i < 0) {
    throw typeError(fn, "options.activation", `one of ${NAMES.map((n) => JSON.stringify(n)).join(", ")}, or absent for none`, v);
  }
  return ACTIVATIONS[NAMES[i]];
}

/** A block of n zero floats. */
function zeros(rt: Runtime, f: Frame, n: number): number {
  const p = f.alloc(n * 4);
  rt.heap.f32(p, n).fill(0);
  return p;
}
