// MultiHeadAttention: the Transformer attention layer, with PyTorch nn.MultiheadAttention's weights.
//   B batch, L query length, S key length, E = embedDim, H = numHeads, Hkv = numKVHeads,
//   Dh = E / H (head width), Ekv = Hkv · Dh, kdim/vdim the key/value input widths.
//   Q = xq·Wqᵀ + bq [B, L, E]   K = xk·Wkᵀ + bk [B, S, Ekv]   V = xv·Wvᵀ + bv [B, S, Ekv]
//   head h attends with K/V head g = ⌊h / (H/Hkv)⌋; heads are read in place (no split/merge copies)
//   output = concat_h(attention_h)·Woᵀ + bo [B, L, E]
// Weights live in WASM memory from construction to dispose(), packed once into the GEMM panel
// layout (pack_b_f32), so a forward copies only activations.
// A KV cache holds K and V head-major, [B, Hkv, maxLength, Dh]: a head's cached keys (and values) are
// one contiguous block, streamed by a decode step. A step of one token (L = 1, no masks, no weights)
// runs each projection as a GEMV (gemv_packed_f32) and every head's attention in one call
// (decode_attention_f32); both give the bits of the general kernels.
import { checkFits, put, withFrame } from "./call.js";
import { type Gemm, type Head, attention, attentionBytes, decode, gemms } from "./parallel.js";
import { ADDITIVE, CAUSAL_TOP_LEFT, DROP_NONZERO, type MaskPlan, causalKind, masksBytes, planMask, writeMasks } from "./masks.js";
import { mulberry32 } from "./random.js";
import { readSafetensors } from "./safetensors.js";
import {
  type Causal, type Mask, type Tensor, checkBool, checkCausal, checkInt, checkMask, checkOptions, checkOut, checkTensor, fmtLength, fmtShape, product, rangeError, typeError,
} from "./validate.js";
import { type Runtime, runtime } from "./wasm.js";

export interface MultiHeadAttentionConfig {
  /** E: model width; query input and output width. */
  embedDim: number;
  /** H: number of query heads; must divide embedDim. */
  numHeads: number;
  /** Hkv: number of key/value heads (grouped-query attention; 1 = multi-query); must divide numHeads. Default numHeads. */
  numKVHeads?: number;
  /** Key input width; default embedDim. */
  kdim?: number;
  /** Value input width; default embedDim. */
  vdim?: number;
  /** Biases on the input and output projections (PyTorch's `bias`); default true. */
  bias?: boolean;
  /** Seed of the initial weights (Xavier-uniform like PyTorch); default random. */
  seed?: number;
}

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
}

export interface MultiHeadAttentionOptions {
  /** [B, S] ([S] unbatched). Uint8Array: 1 = padding, ignored (PyTorch's meaning); Float32Array: added to the scores. */
  keyPaddingMask?: Mask;
  /** Broadcastable to [B, H, L, S] ([H, L, S] unbatched), e.g. [L, S] or [B, 1, L, S]. Uint8Array: 1 = may attend; Float32Array: added. */
  attnMask?: Mask;
  /**
   * Mask the future: "bottom-right" (or true: query i sees key j iff j ≤ i + S − L) or "top-left" (j ≤ i,
   * PyTorch's is_causal). With a cache both mean j ≤ cache.length + i (a new token sees the past and
   * itself). Default false; true with a cache.
   */
  causal?: Causal;
  /** Also return the attention weights. Default false. */
  needWeights?: boolean;
  /** Average the weights over heads ([B, L, S]); false gives [B, H, L, S]. Default true. */
  averageWeights?: boolean;
  /** A KV cache from createCache(): the forward appends the new tokens' K/V and attends over all of it. */
  cache?: KVCache;
  /** Write the output into this Float32Array (B·L·E elements) instead of a new one; it may be an input's data. */
  out?: Float32Array;
}

export interface MultiHeadAttentionResult {
  output: Tensor;
  weights?: Tensor;
}

const CONFIG_KEYS = ["embedDim", "numHeads", "numKVHeads", "kdim", "vdim", "bias", "seed"] as const;
const WEIGHT_KEYS = ["inProjWeight", "qProjWeight", "kProjWeight", "vProjWeight", "inProjBias", "outProjWeight", "outProjBias"] as const;
const FORWARD_KEYS = ["keyPaddingMask", "attnMask", "causal", "needWeights", "averageWeights", "cache", "out"] as const;

function uniform(rand: () => number, n: number, bound: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (2 * rand() - 1) * bound;
  return x;
}

/** One packed weight matrix W[out, in] resident in WASM memory, as B = Wᵀ panels. */
interface Packed { ptr: number; out: number; in: number }

/**
 * Multi-head attention with PyTorch nn.MultiheadAttention's weights and semantics (batch-first).
 * @throws {TypeError} non-number sizes, an unknown option, a non-boolean bias
 * @throws {RangeError} sizes < 1 or fractional, numHeads not dividing embedDim, numKVHeads not dividing numHeads
 */
export class MultiHeadAttention {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly numKVHeads: number;
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly bias: boolean;
  private readonly rt: Runtime;
  private readonly wq: Packed;
  private readonly wk: Packed;
  private readonly wv: Packed;
  private readonly wo: Packed;
  private readonly bIn: number;    // [E + 2Ekv] or 0
  private readonly bOut: number;   // [E] or 0
  private readonly gemmScratch: number;   // bytes of scratch for gemm_packed_f32 on any of the projections
  private readonly blocks: number[] = [];
  private readonly caches = new Set<KVCache>();
  private disposed = false;

  constructor(config: MultiHeadAttentionConfig) {
    const fn = "MultiHeadAttention";
    if (typeof config !== "object" || config === null) throw typeError(fn, "config", "an object { embedDim, numHeads, … }", config);
    const c = checkOptions<MultiHeadAttentionConfig>(fn, config, CONFIG_KEYS);
    const E = checkInt(fn, "config.embedDim", c.embedDim, 1);
    const H = checkInt(fn, "config.numHeads", c.numHeads, 1);
    if (E % H !== 0) throw rangeError(fn, "config.numHeads", `divide embedDim = ${E}`, H);
    const Hkv = checkInt(fn, "config.numKVHeads", c.numKVHeads, 1, H);
    if (H % Hkv !== 0) throw rangeError(fn, "config.numKVHeads", `divide numHeads = ${H}`, Hkv);
    this.embedDim = E;
    this.numHeads = H;
    this.numKVHeads = Hkv;
    this.headDim = E / H;
    this.kdim = checkInt(fn, "config.kdim", c.kdim, 1, E);
    this.vdim = checkInt(fn, "config.vdim", c.vdim, 1, E);
    this.bias = checkBool(fn, "config.bias", c.bias, true);
    const seed = c.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : checkInt(fn, "config.seed", c.seed, 0);
    const Ekv = Hkv * this.headDim;

    this.rt = runtime(fn);
    const k = this.rt.kernels;
    this.gemmScratch = Math.max(k.matmul_scratch_bytes(0, E, Math.max(E, Ekv)), k.matmul_scratch_bytes(0, this.kdim, Ekv), k.matmul_scratch_bytes(0, this.vdim, Ekv));
    // Packed W[out, in]: ⌈out/8⌉ panels of in×8 floats (pack_b_f32's layout), sized here in JS
    // doubles so that no size wraps.
    const packedBytes = (out: number, inp: number) => Math.ceil(out / 8) * 8 * inp * 4;
    const bytes = [[E, E], [Ekv, this.kdim], [Ekv, this.vdim], [E, E]].reduce((a, [o, i]) => a + packedBytes(o, i), 0)
      + (this.bias ? (2 * E + 2 * Ekv) * 4 : 0) + (3 * E + 2 * Ekv) * E * 4;   // + the initial weights copied in
    checkFits(fn, bytes, "the weights");
    try {
      const pack = (out: number, inp: number): Packed => ({ ptr: this.alloc(packedBytes(out, inp)), out, in: inp });
      this.wq = pack(E, E);
      this.wk = pack(Ekv, this.kdim);
      this.wv = pack(Ekv, this.vdim);
      this.wo = pack(E, E);
      this.bIn = this.bias ? this.alloc((E + 2 * Ekv) * 4) : 0;
      this.bOut = this.bias ? this.alloc(E * 4) : 0;
      this.loadWeights(this.initialWeights(seed));
    } catch (e) {
      this.freeAll();
      throw e;
    }
  }

  private alloc(bytes: number): number {
    const p = this.rt.heap.alloc(bytes, "MultiHeadAttention");
    this.blocks.push(p);
    return p;
  }

  private freeAll(): void {
    for (const p of this.blocks) this.rt.heap.release(p);
    this.blocks.length = 0;
  }

  /**
   * PyTorch's initialisation: Xavier-uniform input projections (one [3E, E] matrix when packed,
   * else each separately), out_proj.weight as nn.Linear (uniform ±1/√E), zero biases.
   */
  private initialWeights(seed: number): MultiHeadAttentionWeights {
    const rand = mulberry32(seed);
    const E = this.embedDim, Ekv = this.numKVHeads * this.headDim;
    const w: MultiHeadAttentionWeights = { outProjWeight: new Float32Array(0) };
    if (this.packedInProj) {
      w.inProjWeight = uniform(rand, 3 * E * E, Math.sqrt(6 / (E + 3 * E)));
    } else {
      w.qProjWeight = uniform(rand, E * E, Math.sqrt(6 / (E + E)));
      w.kProjWeight = uniform(rand, Ekv * this.kdim, Math.sqrt(6 / (Ekv + this.kdim)));
      w.vProjWeight = uniform(rand, Ekv * this.vdim, Math.sqrt(6 / (Ekv + this.vdim)));
    }
    w.outProjWeight = uniform(rand, E * E, 1 / Math.sqrt(E));
    if (this.bias) {
      w.inProjBias = new Float32Array(E + 2 * Ekv);
      w.outProjBias = new Float32Array(E);
    }
    return w;
  }

  /** Whether PyTorch would keep one in_proj_weight [3E, E] (kdim = vdim = E, no grouped K/V heads). */
  get packedInProj(): boolean {
    return this.kdim === this.embedDim && this.vdim === this.embedDim && this.numKVHeads === this.numHeads;
  }

  private live(fn: string): void {
    if (this.disposed) throw new TypeError(`${fn}: this MultiHeadAttention was disposed; create a new one`);
  }

  /**
   * Replaces all weights (copied into WASM memory; the arrays are not kept).
   * Give either inProjWeight [3E, E] or qProjWeight, kProjWeight and vProjWeight.
   * @throws {TypeError} a missing or non-Float32Array weight, an unknown name, use after dispose
   * @throws {RangeError} a weight of the wrong length
   */
  loadWeights(weights: MultiHeadAttentionWeights): void {
    const fn = "MultiHeadAttention.loadWeights";
    this.live(fn);
    if (typeof weights !== "object" || weights === null) throw typeError(fn, "weights", "an object of Float32Arrays", weights);
    const w = checkOptions<MultiHeadAttentionWeights>(fn, weights, WEIGHT_KEYS);
    const E = this.embedDim, Ekv = this.numKVHeads * this.headDim;
    const need = (name: keyof MultiHeadAttentionWeights, len: number, formula: string, values: string): Float32Array => {
      const a = w[name];
      if (a === undefined) throw new TypeError(`${fn}: weights.${name} (${fmtLength(formula, values, len)} floats) is missing`);
      if (!(a instanceof Float32Array)) throw typeError(fn, `weights.${name}`, "a Float32Array", a);
      if (a.length !== len) throw rangeError(fn, `weights.${name}`, `have length ${fmtLength(formula, values, len)}`, a.length);
      return a;
    };
    let wq: Float32Array, wk: Float32Array, wv: Float32Array;
    if (w.inProjWeight !== undefined) {
      if (!this.packedInProj) {
        throw new TypeError(`${fn}: weights.inProjWeight [3E, E] needs kdim = vdim = embedDim and numKVHeads = numHeads; give qProjWeight, kProjWeight and vProjWeight (kdim = ${this.kdim}, vdim = ${this.vdim}, numKVHeads = ${this.numKVHeads})`);
      }
      for (const n of ["qProjWeight", "kProjWeight", "vProjWeight"] as const) {
        if (w[n] !== undefined) throw new TypeError(`${fn}: give either weights.inProjWeight or weights.${n}, not both`);
      }
      const inp = need("inProjWeight", 3 * E * E, "3E·E", `3·${E}·${E}`);
      wq = inp.subarray(0, E * E); wk = inp.subarray(E * E, 2 * E * E); wv = inp.subarray(2 * E * E);
    } else {
      wq = need("qProjWeight", E * E, "E·E", `${E}·${E}`);
      wk = need("kProjWeight", Ekv * this.kdim, "Ekv·kdim", `${Ekv}·${this.kdim}`);
      wv = need("vProjWeight", Ekv * this.vdim, "Ekv·vdim", `${Ekv}·${this.vdim}`);
    }
    const wo = need("outProjWeight", E * E, "E·E", `${E}·${E}`);
    let bin: Float32Array | null = null, bout: Float32Array | null = null;
    if (this.bias) {
      bin = need("inProjBias", E + 2 * Ekv, "E + 2·Ekv", `${E} + 2·${Ekv}`);
      bout = need("outProjBias", E, "E", `${E}`);
    } else {
      for (const n of ["inProjBias", "outProjBias"] as const) {
        if (w[n] !== undefined) throw new TypeError(`${fn}: weights.${n} given but this MultiHeadAttention has bias: false`);
      }
    }
    const rt = this.rt;
    withFrame(rt, fn, (f) => {
      for (const [dst, src] of [[this.wq, wq], [this.wk, wk], [this.wv, wv], [this.wo, wo]] as const) {
        const tmp = put(rt, f, src);
        rt.kernels.pack_b_f32(dst.ptr, tmp, 1, dst.in, dst.in, dst.out);   // B = Wᵀ
      }
    });
    if (bin && bout) {
      rt.heap.f32(this.bIn, bin.length).set(bin);
      rt.heap.f32(this.bOut, bout.length).set(bout);
    }
  }

  /**
   * The weights under PyTorch's state_dict names (`in_proj_weight` or `q_proj_weight`/`k_proj_weight`/
   * `v_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`), as new tensors.
   */
  stateDict(prefix = ""): Record<string, Tensor> {
    this.live("MultiHeadAttention.stateDict");
    if (typeof prefix !== "string") throw typeError("MultiHeadAttention.stateDict", "prefix", "a string", prefix);
    const E = this.embedDim, Ekv = this.numKVHeads * this.headDim;
    const d: Record<string, Tensor> = {};
    const [q, k, v, o] = [this.wq, this.wk, this.wv, this.wo].map((p) => this.unpack(p));
    if (this.packedInProj) {
      const inp = new Float32Array(3 * E * E);
      inp.set(q, 0); inp.set(k, E * E); inp.set(v, 2 * E * E);
      d[prefix + "in_proj_weight"] = { data: inp, shape: [3 * E, E] };
    } else {
      d[prefix + "q_proj_weight"] = { data: q, shape: [E, E] };
      d[prefix + "k_proj_weight"] = { data: k, shape: [Ekv, this.kdim] };
      d[prefix + "v_proj_weight"] = { data: v, shape: [Ekv, this.vdim] };
    }
    if (this.bias) d[prefix + "in_proj_bias"] = { data: this.rt.heap.f32(this.bIn, E + 2 * Ekv).slice(), shape: [E + 2 * Ekv] };
    d[prefix + "out_proj.weight"] = { data: o, shape: [E, E] };
    if (this.bias) d[prefix + "out_proj.bias"] = { data: this.rt.heap.f32(this.bOut, E).slice(), shape: [E] };
    return d;
  }

  /** W[out, in] back from its packed panels: pb[(⌊n/8⌋·in + k)·8 + n mod 8] = W[n, k]. */
  private unpack(p: Packed): Float32Array {
    const pb = this.rt.heap.f32(p.ptr, Math.ceil(p.out / 8) * 8 * p.in);
    const w = new Float32Array(p.out * p.in);
    for (let n = 0; n < p.out; n++) {
      const base = Math.floor(n / 8) * p.in * 8 + (n % 8);
      for (let k = 0; k < p.in; k++) w[n * p.in + k] = pb[base + k * 8];
    }
    return w;
  }

  /**
   * Loads a PyTorch state_dict: safetensors bytes, or tensors by name. Keys are PyTorch's
   * (`in_proj_weight`, …, `out_proj.weight`, `out_proj.bias`) after `prefix` (e.g. "encoder.layers.0.self_attn.");
   * other keys are ignored. Shapes are checked.
   * @throws {TypeError} a missing key, a non-tensor, malformed safetensors
   * @throws {RangeError} a tensor of the wrong shape, malformed safetensors
   */
  loadStateDict(source: Uint8Array | ArrayBuffer | Record<string, Tensor>, options?: { prefix?: string }): void {
    const fn = "MultiHeadAttention.loadStateDict";
    this.live(fn);
    const o = checkOptions<{ prefix: string }>(fn, options, ["prefix"]);
    const prefix = o.prefix ?? "";
    if (typeof prefix !== "string") throw typeError(fn, "options.prefix", "a string", prefix);
    const KEYS = ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"];
    let dict: Record<string, Tensor>;
    if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
      // Read only this layer's tensors: a full model's file holds others, of any dtype.
      const wanted = new Set(KEYS.map((k) => prefix + k));
      try {
        dict = readSafetensors(source, { names: (n) => wanted.has(n) }).tensors;
      } catch (e) {
        // Same class, named after this method: "MultiHeadAttention.loadStateDict: readSafetensors: …"
        if (e instanceof TypeError || e instanceof RangeError) throw new (e.constructor as typeof TypeError)(`${fn}: ${e.message}`);
        throw e;
      }
    } else if (typeof source === "object" && source !== null && !ArrayBuffer.isView(source)) {
      dict = source;
    } else {
      throw typeError(fn, "source", "safetensors bytes (Uint8Array | ArrayBuffer) or a record of tensors", source);
    }
    const E = this.embedDim, Ekv = this.numKVHeads * this.headDim;
    const get = (name: string, shape: number[], required: boolean): Float32Array | undefined => {
      const t = dict[prefix + name];
      if (t === undefined) {
        if (!required) return undefined;
        throw new TypeError(`${fn}: key ${JSON.stringify(prefix + name)} ${fmtShape(shape)} is missing (keys present: ${Object.keys(dict).filter((k) => k.startsWith(prefix)).map((k) => JSON.stringify(k)).join(", ") || "none"})`);
      }
      const c = checkTensor(fn, JSON.stringify(prefix + name), t, 0, fmtShape(shape));
      if (c.shape.length !== shape.length || c.shape.some((d, i) => d !== shape[i])) {
        throw rangeError(fn, `${JSON.stringify(prefix + name)}.shape`, `be ${fmtShape(shape)}`, fmtShape(c.shape));
      }
      return c.data;
    };
    const w: MultiHeadAttentionWeights = { outProjWeight: get("out_proj.weight", [E, E], true)! };
    if (this.packedInProj && dict[prefix + "in_proj_weight"] !== undefined) {
      w.inProjWeight = get("in_proj_weight", [3 * E, E], true);
    } else {
      w.qProjWeight = get("q_proj_weight", [E, E], true);
      w.kProjWeight = get("k_proj_weight", [Ekv, this.kdim], true);
      w.vProjWeight = get("v_proj_weight", [Ekv, this.vdim], true);
    }
    if (this.bias) {
      w.inProjBias = get("in_proj_bias", [E + 2 * Ekv], true);
      w.outProjBias = get("out_proj.bias", [E], true);
    }
    this.loadWeights(w);
  }

  /**
   * A KV cache for token-by-token generation: room for `maxLength` positions of `batch` sequences.
   * Lives in WASM memory until its dispose() or this instance's dispose().
   * @throws {TypeError} non-number sizes, an unknown option, use after dispose
   * @throws {RangeError} sizes < 1, too large for WASM memory
   */
  createCache(options: { batch?: number; maxLength: number }): KVCache {
    const fn = "MultiHeadAttention.createCache";
    this.live(fn);
    if (typeof options !== "object" || options === null) throw typeError(fn, "options", "an object { batch, maxLength }", options);
    const o = checkOptions<{ batch: number; maxLength: number }>(fn, options, ["batch", "maxLength"]);
    const batch = checkInt(fn, "options.batch", o.batch, 1, 1);
    const maxLength = checkInt(fn, "options.maxLength", o.maxLength, 1);
    const Ekv = this.numKVHeads * this.headDim;
    const bytes = batch * maxLength * Ekv * 4;
    checkFits(fn, 2 * bytes, "the cache's keys and values");
    const k = this.rt.heap.alloc(bytes, fn);
    let v: number;
    try {
      v = this.rt.heap.alloc(bytes, fn);
    } catch (e) {
      this.rt.heap.release(k);
      throw e;
    }
    const cache = new KVCache(this, batch, maxLength, k, v);
    this.caches.add(cache);
    return cache;
  }

  /** @internal */
  releaseCache(cache: KVCache, k: number, v: number): void {
    if (this.caches.delete(cache)) {
      this.rt.heap.release(k);
      this.rt.heap.release(v);
    }
  }

  /** Frees the weights and every cache of this instance; any later use throws. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    for (const c of [...this.caches]) c.dispose();
    this.freeAll();
    this.disposed = true;
  }

  /**
   * Attention over `key`/`value` (cross-attention), or over `query` itself when they are omitted
   * (self-attention). query [B, L, E] or unbatched [L, E]; key [B, S, kdim]; value [B, S, vdim].
   * @throws {TypeError} non-tensors, non-Float32Array data or out, only one of key/value, a non-boolean flag, masks of other data types, an unknown option, a foreign or disposed cache, use after dispose
   * @throws {RangeError} out of another length, wrong widths, ranks or batch/length mismatches, masks that don't fit, cache overflow, too large for WASM memory
   */
  forward(query: Tensor, key?: Tensor, value?: Tensor, options?: MultiHeadAttentionOptions): MultiHeadAttentionResult {
    const fn = "MultiHeadAttention.forward";
    this.live(fn);
    const o = checkOptions<MultiHeadAttentionOptions>(fn, options, FORWARD_KEYS);
    const E = this.embedDim, H = this.numHeads, Hkv = this.numKVHeads, Dh = this.headDim, Ekv = Hkv * Dh;
    const Q = checkTensor(fn, "query", query, 2, "[B, L, E] or [L, E]");
    if (Q.shape.length > 3) throw rangeError(fn, "query.shape", "be [B, L, E] or [L, E]", fmtShape(Q.shape));
    const unbatched = Q.shape.length === 2;
    const B = unbatched ? 1 : Q.shape[0];
    const L = Q.shape[Q.shape.length - 2];
    if (Q.shape[Q.shape.length - 1] !== E) throw rangeError(fn, `query.shape[${Q.shape.length - 1}]`, `equal embedDim = ${E}`, Q.shape[Q.shape.length - 1]);
    if ((key === undefined) !== (value === undefined)) {
      throw new TypeError(`${fn}: give both key and value (cross-attention) or neither (self-attention); got ${key === undefined ? "value only" : "key only"}`);
    }
    const cache = o.cache;
    if (cache !== undefined) {
      if (!(cache instanceof KVCache)) throw typeError(fn, "options.cache", "a KVCache from createCache()", cache);
      if (cache.owner !== this) throw new TypeError(`${fn}: options.cache was created by another MultiHeadAttention`);
      if (cache.disposed) throw new TypeError(`${fn}: options.cache was disposed`);
      if (key !== undefined) throw new TypeError(`${fn}: a cache is for self-attention decoding; omit key and value`);
      if (B !== cache.batch) throw rangeError(fn, "query batch", `equal the cache's batch = ${cache.batch}`, B);
      if (cache.length + L > cache.maxLength) {
        throw rangeError(fn, "query length", `fit in the cache: ${cache.length} cached + ${L} new ≤ maxLength = ${cache.maxLength}`, `${cache.length + L} positions`);
      }
    }
    if (key === undefined && (this.kdim !== E || this.vdim !== E)) {
      throw new TypeError(`${fn}: self-attention (key and value omitted${cache ? ", as with a cache" : ""}) needs kdim = vdim = embedDim = ${E}; this instance has kdim = ${this.kdim}, vdim = ${this.vdim}: give key and value`);
    }
    let Kx: Tensor | null = null, Vx: Tensor | null = null;
    let S = cache ? cache.length + L : L;
    if (key !== undefined) {
      const dims = unbatched ? "[S, kdim]" : "[B, S, kdim]";
      Kx = checkTensor(fn, "key", key, 2, dims);
      Vx = checkTensor(fn, "value", value, 2, unbatched ? "[S, vdim]" : "[B, S, vdim]");
      for (const [name, t, width, wname] of [["key", Kx, this.kdim, "kdim"], ["value", Vx, this.vdim, "vdim"]] as const) {
        const r = t.shape.length;
        if (r !== Q.shape.length) throw rangeError(fn, `${name}.shape`, `have rank ${Q.shape.length} like query ${fmtShape(Q.shape)}`, fmtShape(t.shape));
        if (!unbatched && t.shape[0] !== B) throw rangeError(fn, `${name}.shape[0]`, `equal the query's batch B = ${B}`, t.shape[0]);
        if (t.shape[r - 1] !== width) throw rangeError(fn, `${name}.shape[${r - 1}]`, `equal ${wname} = ${width}`, t.shape[r - 1]);
      }
      S = Kx.shape[Kx.shape.length - 2];
      if (Vx.shape[Vx.shape.length - 2] !== S) throw rangeError(fn, `value.shape[${Vx.shape.length - 2}]`, `equal the key length S = ${S}`, Vx.shape[Vx.shape.length - 2]);
    }
    const target = [B, H, L, S];
    const targetDims = unbatched ? "[H, L, S]" : "[B, H, L, S]";
    const plans: MaskPlan[] = [];
    if (o.keyPaddingMask !== undefined) {
      const want = unbatched ? [S] : [B, S];
      const m = checkMask(fn, "options.keyPaddingMask", o.keyPaddingMask, want, unbatched ? "[S]" : "[B, S]", "1 = padding");
      if (m.shape.length !== want.length || m.shape.some((d, i) => d !== want[i])) {
        throw rangeError(fn, "options.keyPaddingMask.shape", `be ${fmtShape(want)} (${unbatched ? "[S]" : "[B, S]"})`, fmtShape(m.shape));
      }
      plans.push(planMask({ data: m.data, shape: [B, 1, 1, S] }, target, m.data instanceof Uint8Array ? DROP_NONZERO : ADDITIVE));
    }
    if (o.attnMask !== undefined) {
      const t = unbatched ? [H, L, S] : target;
      const m = checkMask(fn, "options.attnMask", o.attnMask, t, targetDims);
      plans.push(planMask(m, target));
    }
    const causal = causalKind(checkCausal(fn, "options.causal", o.causal, cache !== undefined), cache !== undefined);
    const needWeights = checkBool(fn, "options.needWeights", o.needWeights, false);
    const averageWeights = checkBool(fn, "options.averageWeights", o.averageWeights, true);

    const outShape = unbatched ? [L, E] : [B, L, E];
    const out = checkOut(fn, "options.out", o.out, B * L * E, outShape);
    const wShape = averageWeights ? [B, L, S] : [B, H, L, S];
    const rt = this.rt;
    const k = rt.kernels;
    const Sx = cache ? L : S;    // rows of K/V projected in this call
    // One query row per (batch) without masks or weights: every head in one decode_attention_f32 call.
    const direct = L === 1 && S > 0 && plans.length === 0 && !needWeights;
    const gemmScratch = this.gemmScratch * (rt.pool?.threads ?? 1);
    const attnScratch = S > 0 && L > 0 ? (direct ? 64 * (k.decode_scratch_bytes(S) + 64) : attentionBytes(rt, B * H, B * Hkv, L, S, Dh, Dh)) : 0;
    // Refuse what cannot fit before allocating anything, here or in WASM memory.
    checkFits(fn, (Q.data.length + (Kx ? Kx.data.length + Vx!.data.length : 0) + 2 * B * L * E + 2 * B * Sx * Ekv
      + (needWeights ? B * H * L * S * (averageWeights ? 2 : 1) : 0) + B * L * E) * 4 + gemmScratch + attnScratch + masksBytes(plans, B * H) + 4096,
    "the activations, scratch and weights output");
    const weights = needWeights ? new Float32Array(product(wShape)) : null;
    const result = (): MultiHeadAttentionResult => ({
      output: { data: out, shape: outShape },
      ...(weights ? { weights: { data: weights, shape: unbatched ? wShape.slice(1) : wShape } } : {}),
    });
    if (B * L === 0) return result();
    return withFrame(rt, fn, (f) => {
      const px = put(rt, f, Q.data);
      const pkx = Kx ? put(rt, f, Kx.data) : px, pvx = Vx ? put(rt, f, Vx.data) : px;
      // c[M, w.out] = a[M, w.in]·Wᵀ + bias; one row (a decode step) takes the GEMV (the same bits).
      const proj = (c: number, a: number, w: Packed, bias: number, M: number): Gemm =>
        ({ c, ldc: w.out, a, aRs: w.in, aCs: 1, pb: w.ptr, bias, M, K: w.in, N: w.out });
      const bk = this.bias ? this.bIn + E * 4 : 0, bv = this.bias ? this.bIn + (E + Ekv) * 4 : 0;
      // 1. projections (Q, K and V in one job)
      const pq = f.alloc(B * L * E * 4);
      const projections = [proj(pq, px, this.wq, this.bIn, B * L)];
      // K/V of batch b, head g, row j at pk + b·kvB + (g·kvH + j·kvLd)·4 (kvB bytes, kvH and kvLd elements)
      let pk: number, pv: number, kvB: number, kvH: number, kvLd: number;
      if (cache) {
        // The cache is head-major [B, Hkv, maxLength, Dh]: each head's keys (and values) are one
        // contiguous block. The new rows are projected token-major, then scattered into it.
        const ml = cache.maxLength;
        pk = cache.k; pv = cache.v; kvB = Hkv * ml * Dh * 4; kvH = ml * Dh; kvLd = Dh;
        const tk = f.alloc(2 * B * L * Ekv * 4), tv = tk + B * L * Ekv * 4;
        projections.push(proj(tk, px, this.wk, bk, B * L), proj(tv, px, this.wv, bv, B * L));
        gemms(rt, f, projections);
        for (let b = 0; b < B; b++) {
          const at = b * kvB + cache.length * Dh * 4;
          k.scatter_heads_f32(pk + at, kvH, tk + b * L * Ekv * 4, Ekv, L, Hkv, Dh);
          k.scatter_heads_f32(pv + at, kvH, tv + b * L * Ekv * 4, Ekv, L, Hkv, Dh);
        }
      } else {
        kvB = S * Ekv * 4; kvH = Dh; kvLd = Ekv;
        pk = f.alloc(Math.max(1, B * S * Ekv) * 4);
        pv = f.alloc(Math.max(1, B * S * Ekv) * 4);
        if (S > 0) projections.push(proj(pk, pkx, this.wk, bk, B * S), proj(pv, pvx, this.wv, bv, B * S));
        gemms(rt, f, projections);
      }
      // 2. attention per (batch, head), heads addressed in place
      const pc = f.alloc(B * L * E * 4);
      const pw = weights ? f.alloc(Math.max(1, B * H * L * S) * 4) : 0;
      const group = H / Hkv, scale = 1 / Math.sqrt(Dh);
      if (S === 0) {
        rt.heap.f32(pc, B * L * E).fill(0);
      } else if (direct) {
        // the keys row 0 sees: all, or key 0 only (top-left)
        decode(rt, f, B, { o: pc, q: pq, k: pk, v: pv, hs: kvH, ld: kvLd, kvB }, H, group, causal === CAUSAL_TOP_LEFT ? 1 : S, Dh, scale);
      } else {
        const pm = writeMasks(rt, f, plans, [B, H]);
        const nm = plans.length;
        const heads: Head[] = [];
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            const g = Math.floor(h / group), bh = b * H + h;
            heads.push({
              o: pc + (b * L * E + h * Dh) * 4, ldo: E, w: pw === 0 ? 0 : pw + bh * L * S * 4, ldw: S,
              q: pq + (b * L * E + h * Dh) * 4, ldq: E,
              k: pk + b * kvB + g * kvH * 4, ldk: kvLd,
              v: pv + b * kvB + g * kvH * 4, ldv: kvLd,
              masks: pm === 0 ? 0 : pm + bh * nm * 16, nmasks: nm, kv: b * Hkv + g,
            });
          }
        }
        attention(rt, f, heads, L, S, Dh, Dh, scale, causal);
      }
      // 3. output projection
      gemms(rt, f, [proj(pq, pc, this.wo, this.bOut, B * L)]);
      out.set(rt.heap.f32(pq, B * L * E));
      if (weights) {
        const w = rt.heap.f32(pw, B * H * L * S);
        if (averageWeights) averageHeads(w, weights, B, H, L * S);
        else weights.set(w);
      }
      if (cache) cache.advance(L);
      return result();
    });
  }
}

/** avg[b, :] = Σ_h w[b, h, :] / H */
function averageHeads(w: Float32Array, avg: Float32Array, B: number, H: number, n: number): void {
  for (let b = 0; b < B; b++) {
    const dst = avg.subarray(b * n, (b + 1) * n);
    for (let h = 0; h < H; h++) {
      const src = w.subarray((b * H + h) * n, (b * H + h + 1) * n);
      for (let i = 0; i < n; i++) dst[i] += src[i];
    }
    for (let i = 0; i < n; i++) dst[i] /= H;
  }
}

/** Keys and values of earlier tokens, for MultiHeadAttention.forward(x, undefined, undefined, { cache }). */
export class KVCache {
  private filled = 0;
  /** @internal */
  disposed = false;
  /** @internal */
  constructor(
    /** @internal */ readonly owner: MultiHeadAttention,
    readonly batch: number,
    readonly maxLength: number,
    /** @internal */ readonly k: number,
    /** @internal */ readonly v: number,
  ) {}

  /** Positions filled so far. */
  get length(): number {
    return this.filled;
  }

  /** @internal */
  advance(n: number): void {
    this.filled += n;
  }

  /** Forget every cached position (start a new sequence); the memory is kept. */
  reset(): void {
    if (this.disposed) throw new TypeError("KVCache.reset: this cache was disposed");
    this.filled = 0;
  }

  /**
   * Keep only the first `length` positions (e.g. to redo a step, or to drop rejected speculative
   * tokens); the next forward appends after them.
   * @throws {TypeError} a non-number, use after dispose
   * @throws {RangeError} length not an integer in [0, this.length]
   */
  truncate(length: number): void {
    if (this.disposed) throw new TypeError("KVCache.truncate: this cache was disposed");
    const n = checkInt("KVCache.truncate", "length", length, 0);
    if (n > this.filled) throw rangeError("KVCache.truncate", "length", `be ≤ the cached length ${this.filled}`, n);
    this.filled = n;
  }

  /** Free the cache's memory; idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.owner.releaseCache(this, this.k, this.v);
  }
}

