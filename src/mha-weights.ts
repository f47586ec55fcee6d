// MultiHeadAttention's weights: PyTorch's names and layouts in, packed blocks in WASM memory, and back out.
//   E, Ekv, kdim, vdim as in mha-config.ts. PyTorch's state_dict names and shapes (y = x·Wᵀ + b):
//     in_proj_weight [3E, E]   q, k, v stacked by rows; only when kdim = vdim = E and Hkv = H (packedInProj)
//     q_proj_weight [E, E], k_proj_weight [Ekv, kdim], v_proj_weight [Ekv, vdim]   otherwise
//     in_proj_bias [E + 2·Ekv], out_proj.weight [E, E], out_proj.bias [E]   (biases only with bias: true)
//     proj_k, proj_v [maxLength, k]   Linformer's E, F transposed (mha-linformer.ts); proj_v not with shareKV
// - initialWeights: PyTorch's initialisation, from a seed;
// - checkWeights: loadWeights' argument → the four matrices and two biases, or a TypeError/RangeError;
// - ResidentWeights: the blocks they live in; storeWeights and stateDictOf move them in and out;
// - weightsFromStateDict: a state_dict (safetensors bytes or tensors by name) → loadWeights' argument.
import { withFrame } from "./call.js";
import { type AttentionDims, packedInProj } from "./mha-config.js";
import {
  PROJECTION_KEYS, checkProjectionWeights, initialProjections, projectionFloats, projectionsFromStateDict, projectionsStateDict,
} from "./mha-linformer.js";
import { type PackedMatrix, packMatrix, packedBytes, unpackMatrix } from "./packed.js";
import { mulberry32 } from "./random.js";
import { readSafetensors } from "./safetensors.js";
import { type Tensor, checkOptions, checkTensor, fmtLength, fmtShape, rangeError, typeError } from "./validate.js";
import type { Runtime } from "./wasm.js";

/** Weights as PyTorch stores them: y = x·Wᵀ + b, W row-major [out, in]. */
export interface MultiHeadAttentionWeights {
  /** [3E, E]: q, k, v stacked by rows (only when kdim = vdim = E and numKVHeads = numHeads). */
  inProjWeight?: Float32Array;
  /** [E, E] */
  qProjWeight?: Float32Array;
  /** [Ekv, kdim] */
  kProjWeight?: Float32Array;
  /** [Ekv, vdim] */
  vProjWeight?: Float32Array;
  /** [E + 2·Ekv]: q, k, v biases stacked (required when bias is on). */
  inProjBias?: Float32Array;
  /** [E, E] */
  outProjWeight: Float32Array;
  /** [E] (required when bias is on) */
  outProjBias?: Float32Array;
  /** Linformer's E [k, maxLength] (required with config.projectedLength). */
  keyProjection?: Float32Array;
  /** Linformer's F [k, maxLength] (required with config.projectedLength unless shareKV). */
  valueProjection?: Float32Array;
}

const WEIGHT_KEYS = ["inProjWeight", "qProjWeight", "kProjWeight", "vProjWeight", "inProjBias", "outProjWeight", "outProjBias", "keyProjection", "valueProjection"] as const;

/** PyTorch's state_dict names of nn.MultiheadAttention's parameters (after a prefix). */
export const STATE_DICT_KEYS = ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias", ...PROJECTION_KEYS] as const;

/** A full set of weights, checked: the q, k, v and output matrices ([out, in] row-major) and the biases (null without bias). */
export interface CheckedWeights {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  inBias: Float32Array | null;
  outBias: Float32Array | null;
  /** Linformer's E, F [k, maxLength] (null: none; f null when shared). */
  e?: Float32Array | null;
  f?: Float32Array | null;
}

/** Where a layer's weights live in WASM memory: four packed matrices, and the biases' byte addresses (0 without bias). */
export interface ResidentWeights {
  readonly q: PackedMatrix;
  readonly k: PackedMatrix;
  readonly v: PackedMatrix;
  readonly o: PackedMatrix;
  /** [E + 2·Ekv]: q, k, v biases */
  readonly inBias: number;
  /** [E] */
  readonly outBias: number;
  /** Linformer's E and F [k, maxLength] row-major (f = e with shareKV; 0 without Linformer). */
  readonly e: number;
  readonly f: number;
}

function uniform(rand: () => number, n: number, bound: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (2 * rand() - 1) * bound;
  return x;
}

/**
 * PyTorch's initialisation, drawn from mulberry32(seed): Xavier-uniform input projections (one
 * [3E, E] matrix when packed, else q, k, v separately, in that order), then out_proj.weight as
 * nn.Linear (uniform ±1/√E); zero biases; then Linformer's E and F (uniform ±1/√k, mha-linformer.ts).
 */
export function initialWeights(d: AttentionDims, seed: number): CheckedWeights {
  const rand = mulberry32(seed);
  const { E, Ekv, kdim, vdim } = d;
  let q: Float32Array, k: Float32Array, v: Float32Array;
  if (packedInProj(d)) {
    const inp = uniform(rand, 3 * E * E, Math.sqrt(6 / (E + 3 * E)));
    q = inp.subarray(0, E * E); k = inp.subarray(E * E, 2 * E * E); v = inp.subarray(2 * E * E);
  } else {
    q = uniform(rand, E * E, Math.sqrt(6 / (E + E)));
    k = uniform(rand, Ekv * kdim, Math.sqrt(6 / (Ekv + kdim)));
    v = uniform(rand, Ekv * vdim, Math.sqrt(6 / (Ekv + vdim)));
  }
  const o = uniform(rand, E * E, 1 / Math.sqrt(E));
  const p = d.linformer ? initialProjections(d.linformer, rand) : { e: null, f: null };
  return { q, k, v, o, inBias: d.bias ? new Float32Array(E + 2 * Ekv) : null, outBias: d.bias ? new Float32Array(E) : null, ...p };
}

/**
 * Checks loadWeights' argument: either inProjWeight [3E, E] or qProjWeight, kProjWeight and
 * vProjWeight, then outProjWeight, and the biases exactly when `d.bias`.
 * @throws {TypeError} a non-object, a missing or non-Float32Array weight, an unknown name, inProjWeight where it does not apply or with q/k/v, a bias without bias
 * @throws {RangeError} a weight of the wrong length
 */
export function checkWeights(fn: string, d: AttentionDims, weights: unknown): CheckedWeights {
  if (typeof weights !== "object" || weights === null) throw typeError(fn, "weights", "an object of Float32Arrays", weights);
  const w = checkOptions<MultiHeadAttentionWeights>(fn, weights, WEIGHT_KEYS);
  const { E, Ekv, kdim, vdim } = d;
  const need = (name: keyof MultiHeadAttentionWeights, len: number, formula: string, values: string): Float32Array => {
    const a = w[name];
    if (a === undefined) throw new TypeError(`${fn}: weights.${name} (${fmtLength(formula, values, len)} floats) is missing`);
    if (!(a instanceof Float32Array)) throw typeError(fn, `weights.${name}`, "a Float32Array", a);
    if (a.length !== len) throw rangeError(fn, `weights.${name}`, `have length ${fmtLength(formula, values, len)}`, a.length);
    return a;
  };
  let q: Float32Array, k: Float32Array, v: Float32Array;
  if (w.inProjWeight !== undefined) {
    if (!packedInProj(d)) {
      throw new TypeError(`${fn}: weights.inProjWeight [3E, E] needs kdim = vdim = embedDim and numKVHeads = numHeads; give qProjWeight, kProjWeight and vProjWeight (kdim = ${kdim}, vdim = ${vdim}, numKVHeads = ${d.Hkv})`);
    }
    for (const n of ["qProjWeight", "kProjWeight", "vProjWeight"] as const) {
      if (w[n] !== undefined) throw new TypeError(`${fn}: give either weights.inProjWeight or weights.${n}, not both`);
    }
    const inp = need("inProjWeight", 3 * E * E, "3E·E", `3·${E}·${E}`);
    q = inp.subarray(0, E * E); k = inp.subarray(E * E, 2 * E * E); v = inp.subarray(2 * E * E);
  } else {
    q = need("qProjWeight", E * E, "E·E", `${E}·${E}`);
    k = need("kProjWeight", Ekv * kdim, "Ekv·kdim", `${Ekv}·${kdim}`);
    v = need("vProjWeight", Ekv * vdim, "Ekv·vdim", `${Ekv}·${vdim}`);
  }
  const o = need("outProjWeight", E * E, "E·E", `${E}·${E}`);
  let inBias: Float32Array | null = null, outBias: Float32Array | null = null;
  if (d.bias) {
    inBias = need("inProjBias", E + 2 * Ekv, "E + 2·Ekv", `${E} + 2·${Ekv}`);
    outBias = need("outProjBias", E, "E", `${E}`);
  } else {
    for (const n of ["inProjBias", "outProjBias"] as const) {
      if (w[n] !== undefined) throw new TypeError(`${fn}: weights.${n} given but this MultiHeadAttention has bias: false`);
    }
  }
  return { q, k, v, o, inBias, outBias, ...checkProjectionWeights(fn, d.linformer ?? null, w) };
}

/** Bytes of a layer's resident weights (four packed matrices and the biases). */
export function residentWeightsBytes(d: AttentionDims): number {
  const { E, Ekv, kdim, vdim } = d;
  return packedBytes(E, E) + packedBytes(Ekv, kdim) + packedBytes(Ekv, vdim) + packedBytes(E, E) + (d.bias ? (2 * E + 2 * Ekv) * 4 : 0)
    + projectionFloats(d.linformer ?? null) * 4;
}

/** Allocates a layer's weight blocks with `alloc` (which owns them: its caller frees them). */
export function allocResidentWeights(d: AttentionDims, alloc: (bytes: number) => number): ResidentWeights {
  const { E, Ekv, kdim, vdim } = d;
  const mat = (out: number, inp: number): PackedMatrix => ({ ptr: alloc(packedBytes(out, inp)), out, in: inp });
  const q = mat(E, E), k = mat(Ekv, kdim), v = mat(Ekv, vdim), o = mat(E, E);
  const inBias = d.bias ? alloc((E + 2 * Ekv) * 4) : 0;
  const outBias = d.bias ? alloc(E * 4) : 0;
  const lin = d.linformer, kn = lin ? lin.k * lin.maxLength * 4 : 0;
  const e = lin ? alloc(kn) : 0;
  const f = lin && !lin.shareKV ? alloc(kn) : e;
  return { q, k, v, o, inBias, outBias, e, f };
}

/**
 * Copies checked weights into the resident blocks (packing the matrices). Each matrix is staged in a
 * frame of its own, so the staging reuses one block's pages: a cold start touches (and the memory
 * keeps) one matrix of staging, not four.
 */
export function storeWeights(rt: Runtime, fn: string, r: ResidentWeights, w: CheckedWeights): void {
  for (const [p, m] of [[r.q, w.q], [r.k, w.k], [r.v, w.v], [r.o, w.o]] as const) {
    withFrame(rt, fn, (f) => packMatrix(rt, f, p, m));
  }
  if (w.inBias && w.outBias) {
    rt.heap.f32(r.inBias, w.inBias.length).set(w.inBias);
    rt.heap.f32(r.outBias, w.outBias.length).set(w.outBias);
  }
  if (w.e) rt.heap.f32(r.e, w.e.length).set(w.e);
  if (w.f) rt.heap.f32(r.f, w.f.length).set(w.f);
}

/** The resident weights under PyTorch's state_dict names (after `prefix`), as new tensors. */
export function stateDictOf(rt: Runtime, d: AttentionDims, r: ResidentWeights, prefix: string): Record<string, Tensor> {
  const { E, Ekv, kdim, vdim } = d;
  const out: Record<string, Tensor> = {};
  const [q, k, v, o] = [r.q, r.k, r.v, r.o].map((p) => unpackMatrix(rt, p));
  if (packedInProj(d)) {
    const inp = new Float32Array(3 * E * E);
    inp.set(q, 0); inp.set(k, E * E); inp.set(v, 2 * E * E);
    out[prefix + "in_proj_weight"] = { data: inp, shape: [3 * E, E] };
  } else {
    out[prefix + "q_proj_weight"] = { data: q, shape: [E, E] };
    out[prefix + "k_proj_weight"] = { data: k, shape: [Ekv, kdim] };
    out[prefix + "v_proj_weight"] = { data: v, shape: [Ekv, vdim] };
  }
  if (d.bias) out[prefix + "in_proj_bias"] = { data: rt.heap.f32(r.inBias, E + 2 * Ekv).slice(), shape: [E + 2 * Ekv] };
  out[prefix + "out_proj.weight"] = { data: o, shape: [E, E] };
  if (d.bias) out[prefix + "out_proj.bias"] = { data: rt.heap.f32(r.outBias, E).slice(), shape: [E] };
  return d.linformer ? { ...out, ...projectionsStateDict(rt, d.linformer, r.e, r.f, prefix) } : out;
}

/**
 * A state_dict (safetensors bytes, or tensors by name) → loadWeights' argument: PyTorch's keys after
 * `prefix`, shapes checked; other keys are ignored (from bytes, not even decoded).
 * @throws {TypeError} a source of another type, a missing key, a non-tensor, malformed safetensors
 * @throws {RangeError} a tensor of the wrong shape, malformed safetensors
 */
export function weightsFromStateDict(fn: string, d: AttentionDims, source: unknown, prefix: string): MultiHeadAttentionWeights {
  let dict: Record<string, Tensor>;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    // Read only this layer's tensors: a full model's file holds others, of any dtype.
    const wanted = new Set(STATE_DICT_KEYS.map((k) => prefix + k));
    try {
      dict = readSafetensors(source, { names: (n) => wanted.has(n) }).tensors;
    } catch (e) {
      // Same class, named after the caller: "MultiHeadAttention.loadStateDict: readSafetensors: …"
      if (e instanceof TypeError || e instanceof RangeError) throw new (e.constructor as typeof TypeError)(`${fn}: ${e.message}`);
      throw e;
    }
  } else if (typeof source === "object" && source !== null && !ArrayBuffer.isView(source)) {
    dict = source as Record<string, Tensor>;
  } else {
    throw typeError(fn, "source", "safetensors bytes (Uint8Array | ArrayBuffer) or a record of tensors", source);
  }
  const { E, Ekv, kdim, vdim } = d;
  const get = (name: string, shape: number[]): Float32Array => {
    const t = dict[prefix + name];
    if (t === undefined) {
      throw new TypeError(`${fn}: key ${JSON.stringify(prefix + name)} ${fmtShape(shape)} is missing (keys present: ${Object.keys(dict).filter((k) => k.startsWith(prefix)).map((k) => JSON.stringify(k)).join(", ") || "none"})`);
    }
    const c = checkTensor(fn, JSON.stringify(prefix + name), t, 0, fmtShape(shape));
    if (c.shape.length !== shape.length || c.shape.some((n, i) => n !== shape[i])) {
      throw rangeError(fn, `${JSON.stringify(prefix + name)}.shape`, `be ${fmtShape(shape)}`, fmtShape(c.shape));
    }
    return c.data;
  };
  const w: MultiHeadAttentionWeights = { outProjWeight: get("out_proj.weight", [E, E]) };
  if (packedInProj(d) && dict[prefix + "in_proj_weight"] !== undefined) {
    w.inProjWeight = get("in_proj_weight", [3 * E, E]);
  } else {
    w.qProjWeight = get("q_proj_weight", [E, E]);
    w.kProjWeight = get("k_proj_weight", [Ekv, kdim]);
    w.vProjWeight = get("v_proj_weight", [Ekv, vdim]);
  }
  if (d.bias) {
    w.inProjBias = get("in_proj_bias", [E + 2 * Ekv]);
    w.outProjBias = get("out_proj.bias", [E]);
  }
  return d.linformer ? { ...w, ...projectionsFromStateDict(d.linformer, get) } : w;
}
