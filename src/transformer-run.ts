// The forward of one Transformer layer on WASM blocks: the steps of PyTorch's
// nn.TransformerEncoderLayer / nn.TransformerDecoderLayer, with every activation kept in WASM memory.
//   post-norm (normFirst false):  x = norm1(x + SA(x));        [x = norm2(x + CA(x, mem));]  x = normK(x + FF(x))
//   pre-norm  (normFirst true):   x = x + SA(norm1(x));        [x = x + CA(norm2(x), mem);]  x = x + FF(normK(x))
//   FF(x) = linear2(act(linear1(x))), the activation and biases applied in the GEMMs' stores.
// Each residual add is fused with the LayerNorm after it (add_layer_norm_f32: ONNX Runtime's
// SkipLayerNormalization); the pre-norm layer keeps the sum for the next residual.
// The layer classes (transformer-layer.ts) and the stacks (transformer.ts) check everything first
// (plans: mha-plan.ts), then call these.
import type { Frame } from "./memory.js";
import { internals as mha } from "./mha.js";
import type { ForwardPlan } from "./mha-plan.js";
import { addLayerNormRows, addRows, gemms, layerNormRows } from "./parallel.js";
import type { LayerCache } from "./transformer-cache.js";
import type { LayerParts } from "./transformer-parts.js";

/** Bytes a layer's run allocates for M rows (beyond its input and output), for the up-front size check. */
export function layerRunBytes(p: LayerParts, M: number, plans: ForwardPlan[]): number {
  const { E, FF } = p.d;
  const threads = p.rt.pool?.threads ?? 1;
  return (4 * M * E + M * FF) * 4 + p.gemmScratch * threads + Math.max(...plans.map((pl, i) => mha.runBytes(p.attn[i], pl))) + 8 * 64;
}

/** linear2(act(linear1(x))) of M rows at px, into py. */
function feedForward(p: LayerParts, f: Frame, px: number, py: number, M: number): void {
  const { E, FF, act } = p.d;
  const ph = f.alloc(M * FF * 4);
  gemms(p.rt, f, [{ c: ph, ldc: FF, a: px, aRs: E, aCs: 1, pb: p.l1.ptr, bias: p.b1, M, K: E, N: FF, act }]);
  gemms(p.rt, f, [{ c: py, ldc: E, a: ph, aRs: FF, aCs: 1, pb: p.l2.ptr, bias: p.b2, M, K: FF, N: E }]);
}

/** An encoder layer over M = B·L rows at px (left unchanged) into py. */
export function runEncoderLayer(p: LayerParts, f: Frame, plan: ForwardPlan, px: number, py: number, M: number): void {
  const rt = p.rt, { E, eps } = p.d, [n1, n2] = p.norms, sa = p.attn[0];
  const pa = f.alloc(M * E * 4), pb = f.alloc(M * E * 4);
  if (!p.d.normFirst) {
    mha.run(sa, f, plan, px, px, px, pa, 0);
    addLayerNormRows(rt, f, pa, 0, px, pa, n1.w, n1.b, M, E, eps);            // x1 = norm1(x + SA(x))
    feedForward(p, f, pa, pb, M);
    addLayerNormRows(rt, f, py, 0, pa, pb, n2.w, n2.b, M, E, eps);            // norm2(x1 + FF(x1))
  } else {
    const pn = f.alloc(M * E * 4);
    layerNormRows(rt, f, pn, px, n1.w, n1.b, M, E, eps);
    mha.run(sa, f, plan, pn, pn, pn, pa, 0);
    addLayerNormRows(rt, f, pn, pa, px, pa, n2.w, n2.b, M, E, eps);           // x1 = x + SA(norm1(x)) at pa; norm2(x1) at pn
    feedForward(p, f, pn, pb, M);
    addRows(rt, f, py, pa, pb, M * E);                                         // x1 + FF(norm2(x1))
  }
}

/**
 * A decoder layer over M = B·L target rows at px (left unchanged) into py. Memory: rows at pmem
 * ([B·S, E]); or, with a layer cache, its projected K/V (projected here on the cache's first step).
 */
export function runDecoderLayer(p: LayerParts, f: Frame, selfPlan: ForwardPlan, crossPlan: ForwardPlan, px: number, py: number, M: number,
  pmem: number, lc: LayerCache | null): void {
  const rt = p.rt, { E, eps } = p.d, [n1, n2, n3] = p.norms, [sa, ca] = p.attn;
  const pa = f.alloc(M * E * 4), pc = f.alloc(M * E * 4), pb = f.alloc(M * E * 4);
  const cross = (pq: number): void => {
    if (lc) {
      const S = crossPlan.S, B = crossPlan.B;
      if (lc.crossS < 0) {
        const bytes = Math.max(1, B * S * E) * 4;
        lc.crossK = rt.heap.alloc(bytes, "TransformerDecoderCache");
        try {
          lc.crossV = rt.heap.alloc(bytes, "TransformerDecoderCache");
        } catch (e) {
          rt.heap.release(lc.crossK);
          lc.crossK = 0;
          throw e;
        }
        mha.project(ca, f, lc.crossK, lc.crossV, pmem, pmem, B * S);
        lc.crossS = S;
      }
      mha.run(ca, f, crossPlan, pq, lc.crossK, lc.crossV, pc, 0);
    } else {
      mha.run(ca, f, crossPlan, pq, pmem, pmem, pc, 0);
    }
  };
  if (!p.d.normFirst) {
    mha.run(sa, f, selfPlan, px, px, px, pa, 0);
    addLayerNormRows(rt, f, pa, 0, px, pa, n1.w, n1.b, M, E, eps);            // x1 = norm1(x + SA(x))
    cross(pa);
    addLayerNormRows(rt, f, pc, 0, pa, pc, n2.w, n2.b, M, E, eps);            // x2 = norm2(x1 + CA(x1, mem))
    feedForward(p, f, pc, pb, M);
    addLayerNormRows(rt, f, py, 0, pc, pb, n3.w, n3.b, M, E, eps);            // norm3(x2 + FF(x2))
  } else {
    const pn = f.alloc(M * E * 4);
    layerNormRows(rt, f, pn, px, n1.w, n1.b, M, E, eps);
    mha.run(sa, f, selfPlan, pn, pn, pn, pa, 0);
    addLayerNormRows(rt, f, pn, pa, px, pa, n2.w, n2.b, M, E, eps);           // x1 = x + SA(norm1(x)) at pa; norm2(x1) at pn
    cross(pn);
    addLayerNormRows(rt, f, pn, pc, pa, pc, n3.w, n3.b, M, E, eps);           // x2 = x1 + CA(norm2(x1)) at pc; norm3(x2) at pn
    feedForward(p, f, pn, pb, M);
    addRows(rt, f, py, pc, pb, M * E);                                         // x2 + FF(norm3(x2))
  }
}

/** Whether a layer cache still needs memory projected (its first step). */
export function needsMemory(lc: LayerCache | null): boolean {
  return lc === null || lc.crossS < 0;
}
