// matmul(a, b): [...batch, M, K] · [...batch, K, N] → [...batch, M, N], batch dims broadcast (numpy).
import { checkFits, withFrame } from "./call.js";
import { type Gemm, gemms, packB } from "./parallel.js";
import {
  type Tensor, batchOffset, broadcastShapes, broadcastStrides, checkBool, checkOptions, checkOut, checkTensor, fmtShape, product, rangeError,
} from "./validate.js";
import { runtime } from "./wasm.js";

export interface MatmulOptions {
  /** Read a as [...batch, K, M] (its last two axes swapped). */
  transposeA?: boolean;
  /** Read b as [...batch, N, K] (its last two axes swapped), e.g. a PyTorch Linear weight [out, in]. */
  transposeB?: boolean;
  /** Write the result into this Float32Array (exactly the result's element count) instead of a new one; it may be a.data or b.data. */
  out?: Float32Array;
}

const KEYS = ["transposeA", "transposeB", "out"] as const;

/**
 * Matrix product over the last two axes, f32: C = op(A)·op(B), op = identity or transpose.
 * Leading (batch) axes broadcast as in numpy; both operands need rank ≥ 2.
 * @throws {TypeError} a non-tensor, non-Float32Array data or out, a non-boolean flag, an unknown option
 * @throws {RangeError} data length ≠ shape product, out of another length, rank < 2, inner dims differ, batch dims don't broadcast, too large for WASM memory
 */
export function matmul(a: Tensor, b: Tensor, options?: MatmulOptions): Tensor {
  const fn = "matmul";
  const o = checkOptions<MatmulOptions>(fn, options, KEYS);
  const ta = checkBool(fn, "options.transposeA", o.transposeA, false);
  const tb = checkBool(fn, "options.transposeB", o.transposeB, false);
  const A = checkTensor(fn, "a", a, 2, ta ? "[...batch, K, M]" : "[...batch, M, K]");
  const B = checkTensor(fn, "b", b, 2, tb ? "[...batch, N, K]" : "[...batch, K, N]");
  const ra = A.shape.length, rb = B.shape.length;
  const M = ta ? A.shape[ra - 1] : A.shape[ra - 2];
  const K = ta ? A.shape[ra - 2] : A.shape[ra - 1];
  const Kb = tb ? B.shape[rb - 1] : B.shape[rb - 2];
  const N = tb ? B.shape[rb - 2] : B.shape[rb - 1];
  if (K !== Kb) {
    throw rangeError(fn, `b.shape[${tb ? rb - 1 : rb - 2}]`, `equal K = ${K} (from a.shape ${fmtShape(A.shape)}${ta ? ", transposed" : ""})`, `${Kb} (b.shape ${fmtShape(B.shape)}${tb ? ", transposed" : ""})`);
  }
  const ba = A.shape.slice(0, -2), bb = B.shape.slice(0, -2);
  const batch = broadcastShapes(ba, bb);
  if (batch === null) throw rangeError(fn, "batch dims of a and b", "broadcast", `${fmtShape(ba)} and ${fmtShape(bb)}`);
  const nb = product(batch);
  const shape = [...batch, M, N];
  const outLen = nb * M * N;
  const out = checkOut(fn, "options.out", o.out, outLen, shape);
  const work = outLen > 0 && K > 0;
  const rt = work ? runtime(fn) : null;
  // b shared by every batch item and a plain row-major: one GEMM with M' = nb·M rows.
  const fold = !ta && product(bb) === 1 && product(ba) === nb;
  const Mk = fold ? nb * M : M;
  // B is packed whole (K × N rounded up to NR columns) for each distinct batch item of b.
  const nbB = product(bb);
  const scratchBytes = rt ? nbB * rt.kernels.packed_b_bytes(K, N) + rt.kernels.matmul_scratch_bytes(Mk, K, 0) * 64 : 0;
  checkFits(fn, (A.data.length + B.data.length + outLen) * 4 + scratchBytes, "a, b and the result");
  if (!rt) return { data: o.out === undefined ? out : out.fill(0), shape };   // K = 0: zeros
  return withFrame(rt, fn, (f) => {
    // One block for a, b and the result (each part 64-aligned).
    const bytesA = align64(A.data.length * 4), bytesB = align64(B.data.length * 4), bytesC = align64(outLen * 4);
    const pa = f.alloc(bytesA + bytesB + bytesC);
    const pb = pa + bytesA, pc = pb + bytesB;
    rt.heap.f32(pa, A.data.length).set(A.data);
    rt.heap.f32(pb, B.data.length).set(B.data);
    const [aRs, aCs] = ta ? [1, M] : [K, 1];
    const [bRs, bCs] = tb ? [1, K] : [N, 1];
    // Pack each b once (the GEMM reads B in panels; packing by kernel blocks would repeat it per row
    // piece), then the GEMMs on the packed panels: the same bits as matmul_f32.
    const packs = packB(rt, f, Array.from({ length: nbB }, (_, i) => ({ b: pb + i * K * N * 4, rs: bRs, cs: bCs, K, N })));
    const list: Gemm[] = [];
    if (fold) {
      list.push({ c: pc, ldc: N, a: pa, aRs, aCs, pb: packs[0], bias: 0, M: Mk, K, N });
    } else {
      const sa = broadcastStrides(ba, batch), sb = broadcastStrides(bb, batch);
      for (let i = 0; i < nb; i++) {
        const offA = batchOffset(i, batch, sa) * M * K, iB = batchOffset(i, batch, sb);
        list.push({ c: pc + i * M * N * 4, ldc: N, a: pa + offA * 4, aRs, aCs, pb: packs[iB], bias: 0, M, K, N });
      }
    }
    gemms(rt, f, list);
    out.set(rt.heap.f32(pc, out.length));
    return { data: out, shape };
  });
}

function align64(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}
