// The parameters of one Transformer layer (PyTorch's nn.TransformerEncoderLayer / DecoderLayer):
// its attention blocks (MultiHeadAttention instances: self_attn, and multihead_attn in a decoder),
// the feed-forward block's two linear layers and the LayerNorms (norm1, norm2, and norm3 in a
// decoder), resident in WASM memory from construction to dispose().
//   linear1: W1 [FF, E], b1 [FF]    linear2: W2 [E, FF], b2 [E]    normK: weight [E], bias [E]
// The linear weights are packed once into the GEMM's panels (packed.ts). Initial weights are drawn
// only when something reads them before weights were loaded (the first forward or stateDict()), so a
// model built to load a checkpoint costs no random numbers: PyTorch's initialisation (nn.Linear's
// uniform ±1/√in for the linears, MultiheadAttention's own, LayerNorm 1 and 0), or with `xavier`
// nn.Transformer's (Xavier-uniform on every matrix).
import { checkFits, withFrame } from "./call.js";
import { Frame } from "./memory.js";
import { MultiHeadAttention, internals as mha } from "./mha.js";
import { type MultiHeadAttentionWeights, weightsFromStateDict } from "./mha-weights.js";
import { type PackedMatrix, packMatrix, packedBytes, projectScratchBytes, unpackMatrix } from "./packed.js";
import { mulberry32 } from "./random.js";
import type { StateDict } from "./state-dict.js";
import type { LayerDims } from "./transformer-config.js";
import type { Tensor } from "./validate.js";
import { type Runtime, runtime } from "./wasm.js";

/** A layer's tensors from a state_dict, checked. */
interface LayerTensors {
  attn: MultiHeadAttentionWeights[];
  w1: Float32Array; b1: Float32Array | null; w2: Float32Array; b2: Float32Array | null;
  norms: { w: Float32Array; b: Float32Array | null }[];
}

export interface Norm {
  readonly w: number;
  readonly b: number;
}

export class LayerParts {
  readonly d: LayerDims;
  readonly rt: Runtime;
  /** self_attn, then multihead_attn in a decoder layer. */
  readonly attn: MultiHeadAttention[];
  readonly l1: PackedMatrix;
  readonly l2: PackedMatrix;
  /** Bias addresses (0 without bias). */
  readonly b1: number;
  readonly b2: number;
  readonly norms: Norm[];
  /** Scratch bytes per thread for the feed-forward GEMMs. */
  readonly gemmScratch: number;
  readonly #blocks: Frame;
  #seed: number | null;
  readonly #xavier: boolean;
  #disposed = false;

  constructor(fn: string, d: LayerDims, seed: number, decoder: boolean, xavier: boolean) {
    this.d = d;
    this.rt = runtime(fn);
    const { E, FF } = d;
    const nNorms = decoder ? 3 : 2;
    checkFits(fn, packedBytes(FF, E) + packedBytes(E, FF) + (FF + E + 2 * nNorms * E) * 4 + 2 * FF * E * 4 + 4096, "the feed-forward weights");
    const attn: MultiHeadAttention[] = [];
    try {
      for (let i = 0; i < (decoder ? 2 : 1); i++) {
        attn.push(new MultiHeadAttention({ embedDim: E, numHeads: d.H, bias: d.bias, seed: (seed + 0x9e3779b9 * (i + 1)) >>> 0 }));
      }
    } catch (e) {
      for (const a of attn) a.dispose();
      throw e;
    }
    this.attn = attn;
    const blocks = new Frame(this.rt.heap, fn);
    try {
      this.l1 = { ptr: blocks.alloc(packedBytes(FF, E)), out: FF, in: E };
      this.l2 = { ptr: blocks.alloc(packedBytes(E, FF)), out: E, in: FF };
      this.b1 = d.bias ? blocks.alloc(FF * 4) : 0;
      this.b2 = d.bias ? blocks.alloc(E * 4) : 0;
      this.norms = [];
      for (let i = 0; i < nNorms; i++) this.norms.push({ w: blocks.alloc(E * 4), b: d.bias ? blocks.alloc(E * 4) : 0 });
    } catch (e) {
      blocks.done();
      for (const a of attn) a.dispose();
      throw e;
    }
    this.#blocks = blocks;
    this.gemmScratch = projectScratchBytes(this.rt, [this.l1, this.l2]);
    this.#seed = seed;
    this.#xavier = xavier;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Draws and stores the initial weights if nothing was loaded yet: before anything reads them. */
  ready(fn: string): void {
    if (this.#seed === null) return;
    const { E, FF, bias } = this.d;
    const rand = mulberry32(this.#seed);
    const uniform = (n: number, bound: number): Float32Array => {
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = (2 * rand() - 1) * bound;
      return x;
    };
    const xav = (out: number, inp: number): Float32Array => uniform(out * inp, Math.sqrt(6 / (out + inp)));
    if (this.#xavier) {
      for (const a of this.attn) {
        a.loadWeights({
          inProjWeight: xav(3 * E, E), outProjWeight: xav(E, E),
          ...(bias ? { inProjBias: new Float32Array(3 * E), outProjBias: new Float32Array(E) } : {}),
        });
      }
    } else {
      for (const a of this.attn) mha.ready(a, fn);
    }
    const w1 = this.#xavier ? xav(FF, E) : uniform(FF * E, 1 / Math.sqrt(E)), b1 = uniform(FF, 1 / Math.sqrt(E));
    const w2 = this.#xavier ? xav(E, FF) : uniform(E * FF, 1 / Math.sqrt(FF)), b2 = uniform(E, 1 / Math.sqrt(FF));
    this.#store(fn, w1, bias ? b1 : null, w2, bias ? b2 : null, this.norms.map(() => ({ w: new Float32Array(E).fill(1), b: bias ? new Float32Array(E) : null })));
    this.#seed = null;
  }

  #store(fn: string, w1: Float32Array, b1: Float32Array | null, w2: Float32Array, b2: Float32Array | null,
    norms: { w: Float32Array; b: Float32Array | null }[]): void {
    const rt = this.rt;
    withFrame(rt, fn, (f) => {
      packMatrix(rt, f, this.l1, w1);
      packMatrix(rt, f, this.l2, w2);
    });
    if (b1) rt.heap.f32(this.b1, b1.length).set(b1);
    if (b2) rt.heap.f32(this.b2, b2.length).set(b2);
    norms.forEach((n, i) => {
      rt.heap.f32(this.norms[i].w, n.w.length).set(n.w);
      if (n.b) rt.heap.f32(this.norms[i].b, n.b.length).set(n.b);
    });
  }

  /**
   * Loads PyTorch's keys after `prefix` (self_attn.*, multihead_attn.*, linear1.*, linear2.*, normK.*).
   * Every tensor is found and checked before anything is stored. Separate q/k/v biases
   * (`self_attn.q_proj_bias`, `k_proj_bias`, `v_proj_bias`, as a renamed BERT checkpoint has them)
   * stand in for `in_proj_bias`.
   */
  load(dict: StateDict, prefix: string): void {
    const r = this.read(dict, prefix);
    this.attn.forEach((a, i) => a.loadWeights(r.attn[i]));
    this.#store(dict.fn, r.w1, r.b1, r.w2, r.b2, r.norms);
    this.#seed = null;
  }

  /** Finds and checks every tensor load() takes; stores nothing. */
  read(dict: StateDict, prefix: string): LayerTensors {
    const fn = dict.fn;
    const { E, FF, bias } = this.d;
    const names = ["self_attn.", "multihead_attn."];
    const attn: MultiHeadAttentionWeights[] = this.attn.map((a, i) => {
      const p = prefix + names[i];
      const t = dict.tensors;
      if (bias && t[p + "in_proj_bias"] === undefined && t[p + "q_proj_bias"] !== undefined) {
        const parts = ["q_proj_bias", "k_proj_bias", "v_proj_bias"].map((n) => dict.get(p + n, [E]));
        const joined = new Float32Array(3 * E);
        parts.forEach((x, j) => joined.set(x, j * E));
        return weightsFromStateDict(fn, mha.dims(a), { ...t, [p + "in_proj_bias"]: { data: joined, shape: [3 * E] } }, p);
      }
      return weightsFromStateDict(fn, mha.dims(a), t, p);
    });
    const w1 = dict.get(prefix + "linear1.weight", [FF, E]), w2 = dict.get(prefix + "linear2.weight", [E, FF]);
    const b1 = bias ? dict.get(prefix + "linear1.bias", [FF]) : null, b2 = bias ? dict.get(prefix + "linear2.bias", [E]) : null;
    const norms = this.norms.map((_, i) => ({
      w: normParam(dict, `${prefix}norm${i + 1}`, "weight", "gamma", E),
      b: bias ? normParam(dict, `${prefix}norm${i + 1}`, "bias", "beta", E) : null,
    }));
    return { attn, w1, b1, w2, b2, norms };
  }

  /** The parameters under PyTorch's names after `prefix`, as new tensors. */
  stateDict(fn: string, prefix: string): Record<string, Tensor> {
    this.ready(fn);
    const { E, FF, bias } = this.d;
    const rt = this.rt;
    const out: Record<string, Tensor> = {};
    const names = ["self_attn.", "multihead_attn."];
    this.attn.forEach((a, i) => Object.assign(out, a.stateDict(prefix + names[i])));
    out[prefix + "linear1.weight"] = { data: unpackMatrix(rt, this.l1), shape: [FF, E] };
    if (bias) out[prefix + "linear1.bias"] = { data: rt.heap.f32(this.b1, FF).slice(), shape: [FF] };
    out[prefix + "linear2.weight"] = { data: unpackMatrix(rt, this.l2), shape: [E, FF] };
    if (bias) out[prefix + "linear2.bias"] = { data: rt.heap.f32(this.b2, E).slice(), shape: [E] };
    this.norms.forEach((n, i) => {
      out[`${prefix}norm${i + 1}.weight`] = { data: rt.heap.f32(n.w, E).slice(), shape: [E] };
      if (bias) out[`${prefix}norm${i + 1}.bias`] = { data: rt.heap.f32(n.b, E).slice(), shape: [E] };
    });
    return out;
  }

  dispose(): void {
    if (this.#disposed) return;
    for (const a of this.attn) a.dispose();
    this.#blocks.done();
    this.#disposed = true;
  }
}

/** A LayerNorm's weight or bias: PyTorch's name, or the older `gamma`/`beta`. */
export function normParam(dict: StateDict, at: string, name: string, old: string, E: number): Float32Array {
  return dict.get(dict.has(`${at}.${name}`) || !dict.has(`${at}.${old}`) ? `${at}.${name}` : `${at}.${old}`, [E]);
}

/** A final LayerNorm of a stack ([E] weight and bias), resident. */
export class FinalNorm {
  readonly n: Norm;
  readonly #blocks: Frame;
  constructor(readonly rt: Runtime, fn: string, readonly E: number, readonly bias: boolean) {
    this.#blocks = new Frame(rt.heap, fn);
    this.n = { w: this.#blocks.alloc(E * 4), b: bias ? this.#blocks.alloc(E * 4) : 0 };
    rt.heap.f32(this.n.w, E).fill(1);
    if (bias) rt.heap.f32(this.n.b, E).fill(0);
  }
  load(dict: StateDict, at: string): { w: Float32Array; b: Float32Array | null } {
    return { w: normParam(dict, at, "weight", "gamma", this.E), b: this.bias ? normParam(dict, at, "bias", "beta", this.E) : null };
  }
  store(p: { w: Float32Array; b: Float32Array | null }): void {
    this.rt.heap.f32(this.n.w, this.E).set(p.w);
    if (p.b) this.rt.heap.f32(this.n.b, this.E).set(p.b);
  }
  stateDict(at: string): Record<string, Tensor> {
    const out: Record<string, Tensor> = { [`${at}.weight`]: { data: this.rt.heap.f32(this.n.w, this.E).slice(), shape: [this.E] } };
    if (this.bias) out[`${at}.bias`] = { data: this.rt.heap.f32(this.n.b, this.E).slice(), shape: [this.E] };
    return out;
  }
  dispose(): void {
    this.#blocks.done();
  }
}
