// Float64 references for the Transformer layers (src/transformer*.ts), written plainly from PyTorch's
// nn.TransformerEncoderLayer / nn.TransformerDecoderLayer forward (eval mode), over a state_dict in
// PyTorch's names: every sublayer is refMha / refLinearAct / refLayerNorm from the other reference files.
//   post-norm: x = norm1(x + SA(x)); [x = norm2(x + CA(x, mem));] x = normK(x + FF(x))
//   pre-norm:  x = x + SA(norm1(x)); [x = x + CA(norm2(x), mem);] x = x + FF(normK(x))
import { type RefCausal, type RefMask, type RefMhaWeights, refMha } from "./reference.js";
import { type RefActivation, refLayerNorm, refLinearAct } from "./reference-layers.js";

type Arr = ArrayLike<number>;
export type Dict = Record<string, { data: Float32Array; shape: number[] }>;
export interface RefLayerDims { E: number; H: number; FF: number; act: RefActivation; eps: number; normFirst: boolean; bias: boolean }
export interface RefAttn { masks?: RefMask[]; causal?: RefCausal }

function mhaWeights(sd: Dict, p: string, E: number, bias: boolean): RefMhaWeights {
  const w = sd[p + "in_proj_weight"].data, b = bias ? sd[p + "in_proj_bias"].data : undefined;
  return {
    Wq: w.subarray(0, E * E), Wk: w.subarray(E * E, 2 * E * E), Wv: w.subarray(2 * E * E),
    Wo: sd[p + "out_proj.weight"].data,
    ...(b ? { bq: b.subarray(0, E), bk: b.subarray(E, 2 * E), bv: b.subarray(2 * E), bo: sd[p + "out_proj.bias"].data } : {}),
  };
}

const add = (a: Arr, b: Arr): Float64Array => Float64Array.from(a, (x, i) => x + b[i]);
const norm = (sd: Dict, p: string, x: Arr, d: RefLayerDims): Float64Array =>
  refLayerNorm(x, sd[p + ".weight"].data, d.bias ? sd[p + ".bias"].data : null, d.E, d.eps).y;
function ff(sd: Dict, p: string, x: Arr, M: number, d: RefLayerDims): Float64Array {
  const h = refLinearAct(x, sd[p + "linear1.weight"].data, d.bias ? sd[p + "linear1.bias"].data : null, M, d.E, d.FF, d.act).y;
  return refLinearAct(h, sd[p + "linear2.weight"].data, d.bias ? sd[p + "linear2.bias"].data : null, M, d.FF, d.E, undefined).y;
}
function attn(sd: Dict, p: string, q: Arr, kv: Arr, B: number, L: number, S: number, d: RefLayerDims, a: RefAttn): Float64Array {
  return refMha(q, kv, kv, B, L, S, d.E, d.H, d.H, d.E, d.E, mhaWeights(sd, p, d.E, d.bias), { masks: a.masks, causal: a.causal }).out;
}

/** One encoder layer (keys after `p`): x [B, L, E] → [B, L, E]. */
export function refEncoderLayer(sd: Dict, p: string, x: Arr, B: number, L: number, d: RefLayerDims, a: RefAttn = {}): Float64Array {
  const M = B * L;
  if (!d.normFirst) {
    const x1 = norm(sd, p + "norm1", add(x, attn(sd, p + "self_attn.", x, x, B, L, L, d, a)), d);
    return norm(sd, p + "norm2", add(x1, ff(sd, p, x1, M, d)), d);
  }
  const n1 = norm(sd, p + "norm1", x, d);
  const x1 = add(x, attn(sd, p + "self_attn.", n1, n1, B, L, L, d, a));
  return add(x1, ff(sd, p, norm(sd, p + "norm2", x1, d), M, d));
}

/** One decoder layer: tgt [B, L, E] over memory [B, S, E]. */
export function refDecoderLayer(sd: Dict, p: string, x: Arr, mem: Arr, B: number, L: number, S: number, d: RefLayerDims,
  self: RefAttn = {}, cross: RefAttn = {}): Float64Array {
  const M = B * L;
  if (!d.normFirst) {
    const x1 = norm(sd, p + "norm1", add(x, attn(sd, p + "self_attn.", x, x, B, L, L, d, self)), d);
    const x2 = norm(sd, p + "norm2", add(x1, attn(sd, p + "multihead_attn.", x1, mem, B, L, S, d, cross)), d);
    return norm(sd, p + "norm3", add(x2, ff(sd, p, x2, M, d)), d);
  }
  const x1 = add(x, attn(sd, p + "self_attn.", norm(sd, p + "norm1", x, d), norm(sd, p + "norm1", x, d), B, L, L, d, self));
  const x2 = add(x1, attn(sd, p + "multihead_attn.", norm(sd, p + "norm2", x1, d), mem, B, L, S, d, cross));
  return add(x2, ff(sd, p, norm(sd, p + "norm3", x2, d), M, d));
}

/** A stack: layers `layers.i.` after p, then the final norm `norm` when `finalNorm`. */
export function refEncoder(sd: Dict, p: string, n: number, finalNorm: boolean, x: Arr, B: number, L: number, d: RefLayerDims, a: RefAttn = {}): Float64Array {
  let y: Arr = x;
  for (let i = 0; i < n; i++) y = refEncoderLayer(sd, `${p}layers.${i}.`, y, B, L, d, a);
  return finalNorm ? norm(sd, p + "norm", y, d) : Float64Array.from(y);
}

export function refDecoder(sd: Dict, p: string, n: number, finalNorm: boolean, x: Arr, mem: Arr, B: number, L: number, S: number, d: RefLayerDims,
  self: RefAttn = {}, cross: RefAttn = {}): Float64Array {
  let y: Arr = x;
  for (let i = 0; i < n; i++) y = refDecoderLayer(sd, `${p}layers.${i}.`, y, mem, B, L, S, d, self, cross);
  return finalNorm ? norm(sd, p + "norm", y, d) : Float64Array.from(y);
}
