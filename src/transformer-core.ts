// The encoder and decoder stacks behind every public Transformer class (transformer.ts): N layers'
// parameters (transformer-parts.ts), an optional final LayerNorm, and a forward that checks the whole
// call first (inputs, masks and caches of every layer: mha-plan.ts), then runs the layers on WASM
// blocks (transformer-run.ts), copying in the inputs once and the output out once.
// A single layer is a stack of one without a final norm whose keys have no "layers.0." prefix.
import { checkFits, put, withFrame } from "./call.js";
import type { Frame } from "./memory.js";
import { internals as mha } from "./mha.js";
import type { ForwardPlan } from "./mha-plan.js";
import { layerNormRows } from "./parallel.js";
import { type StateDict, readStateDict } from "./state-dict.js";
import { type LayerCache, type TransformerDecoderCache, decoderCacheState, isDecoderCache, newDecoderCache } from "./transformer-cache.js";
import type { LayerDims } from "./transformer-config.js";
import { FinalNorm, LayerParts } from "./transformer-parts.js";
import { layerRunBytes, runDecoderLayer, runEncoderLayer } from "./transformer-run.js";
import { runtime } from "./wasm.js";
import { type Causal, type Mask, type Tensor, checkInt, checkOptions, checkOut, checkTensor, fmtShape, rangeError, typeError } from "./validate.js";

/** A checked [B, L, E] or [L, E] input. */
interface Input { t: Tensor; B: number; L: number; unbatched: boolean }

function checkInput(fn: string, arg: string, x: unknown, E: number, rank?: number): Input {
  const t = checkTensor(fn, arg, x, 2, "[B, L, E] or [L, E]");
  if (t.shape.length > 3) throw rangeError(fn, `${arg}.shape`, "be [B, L, E] or [L, E]", fmtShape(t.shape));
  if (rank !== undefined && t.shape.length !== rank) throw rangeError(fn, `${arg}.shape`, `have rank ${rank} like the first input`, fmtShape(t.shape));
  const r = t.shape.length;
  if (t.shape[r - 1] !== E) throw rangeError(fn, `${arg}.shape[${r - 1}]`, `equal dModel = ${E}`, t.shape[r - 1]);
  return { t, B: r === 3 ? t.shape[0] : 1, L: t.shape[r - 2], unbatched: r === 2 };
}

/** Common to both stacks: layers, final norm, weights I/O, lifetime. */
abstract class Stack {
  readonly d: LayerDims;
  readonly layers: LayerParts[];
  readonly norm: FinalNorm | null;
  /** Key prefix of layer i ("" for a lone layer). */
  readonly #layerKey: (i: number) => string;
  #disposed = false;

  constructor(fn: string, d: LayerDims, seed: number, n: number, norm: boolean, decoder: boolean, xavier: boolean, lone: boolean) {
    this.d = d;
    const layers: LayerParts[] = [];
    // One grow for every block of the model (the weights, 64-byte aligned, and a final norm).
    const { E, FF } = d, attn = decoder ? 2 : 1, blocks = (x: number): number => Math.ceil(x / 16) * 64;
    const perLayer = attn * (4 * blocks(Math.ceil(E / 8) * 8 * E) + blocks(3 * E) + blocks(E)) + blocks(Math.ceil(FF / 8) * 8 * E)
      + blocks(Math.ceil(E / 8) * 8 * FF) + blocks(FF) + (2 + 2 * (attn + 1)) * blocks(E);
    runtime(fn).heap.reserve(n * perLayer + 2 * blocks(E), fn);
    try {
      for (let i = 0; i < n; i++) layers.push(new LayerParts(fn, d, (seed + 0x6d2b79f5 * i) >>> 0, decoder, xavier));
      this.norm = norm ? new FinalNorm(runtime(fn), fn, d.E, d.bias) : null;
    } catch (e) {
      for (const l of layers) l.dispose();
      throw e;
    }
    this.layers = layers;
    this.#layerKey = lone ? () => "" : (i) => `layers.${i}.`;
  }

  live(fn: string): void {
    if (this.#disposed) throw new TypeError(`${fn}: this model was disposed; create a new one`);
  }

  /** Loads every layer (and the final norm, key `norm.*`) from one state_dict after `prefix`; all or nothing. */
  loadFrom(dict: StateDict, prefix: string): void {
    // Check every tensor first: a missing or misshapen key leaves the model as it was.
    this.check(dict, prefix);
    const norm = this.norm ? this.norm.load(dict, `${prefix}norm`) : null;
    this.layers.forEach((l, i) => l.load(dict, prefix + this.#layerKey(i)));
    if (norm) this.norm!.store(norm);
  }

  /** Finds and checks every tensor loadFrom would take; stores nothing. */
  check(dict: StateDict, prefix: string): void {
    for (let i = 0; i < this.layers.length; i++) this.layers[i].read(dict, prefix + this.#layerKey(i));
    this.norm?.load(dict, `${prefix}norm`);
  }

  load(fn: string, source: unknown, options: unknown): void {
    this.live(fn);
    const { dict, prefix } = readStateDict(fn, source, options);
    this.loadFrom(dict, prefix);
  }

  stateDictOf(fn: string, prefix: string): Record<string, Tensor> {
    this.live(fn);
    if (typeof prefix !== "string") throw typeError(fn, "prefix", "a string", prefix);
    const out: Record<string, Tensor> = {};
    this.layers.forEach((l, i) => Object.assign(out, l.stateDict(fn, prefix + this.#layerKey(i))));
    if (this.norm) Object.assign(out, this.norm.stateDict(`${prefix}norm`));
    return out;
  }

  ready(fn: string): void {
    for (const l of this.layers) l.ready(fn);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.onDispose();
    for (const l of this.layers) l.dispose();
    this.norm?.dispose();
  }

  protected onDispose(): void {}

  /** Runs `n` layers from rows at px, ping-ponging between two blocks; the final norm; returns the block holding the result. */
  protected runLayers(f: Frame, px: number, M: number, step: (l: LayerParts, i: number, from: number, to: number) => void): number {
    const E = this.d.E;
    let from = px;
    const a = f.alloc(M * E * 4), b = this.layers.length > 1 ? f.alloc(M * E * 4) : 0;
    this.layers.forEach((l, i) => {
      const to = i % 2 === 0 ? a : b;
      step(l, i, from, to);
      from = to;
    });
    if (this.norm) layerNormRows(this.layers[0].rt, f, from, from, this.norm.n.w, this.norm.n.b, M, E, this.d.eps);
    return from;
  }
}

export interface EncoderCall { attnMask?: Mask; keyPaddingMask?: Mask; causal?: Causal; out?: Float32Array }

export class EncoderStack extends Stack {
  constructor(fn: string, d: LayerDims, seed: number, n: number, norm: boolean, xavier: boolean, lone: boolean) {
    super(fn, d, seed, n, norm, false, xavier, lone);
  }

  forward(fn: string, src: unknown, o: EncoderCall, arg = "src"): Tensor {
    this.live(fn);
    const E = this.d.E;
    const x = checkInput(fn, arg, src, E);
    const { B, L, unbatched } = x;
    const plans = this.layers.map((l) => mha.plan(l.attn[0], fn, B, L, unbatched, "self", 0,
      { attnMask: o.attnMask, keyPaddingMask: o.keyPaddingMask, causal: o.causal }));
    const M = B * L;
    const out = checkOut(fn, "options.out", o.out, M * E, x.t.shape);
    checkFits(fn, 3 * M * E * 4 + Math.max(0, ...this.layers.map((l, i) => layerRunBytes(l, M, [plans[i]]))), "the activations and scratch");
    if (M === 0 || this.layers.length === 0) { out.set(x.t.data); return { data: out, shape: x.t.shape.slice() }; }
    this.ready(fn);
    const rt = this.layers[0].rt;
    return withFrame(rt, fn, (f) => {
      const px = put(rt, f, x.t.data);
      const py = this.runLayers(f, px, M, (l, i, from, to) => runEncoderLayer(l, f, plans[i], from, to, M));
      out.set(rt.heap.f32(py, M * E));
      return { data: out, shape: x.t.shape.slice() };
    });
  }
}

export interface DecoderCall {
  tgtMask?: Mask; memoryMask?: Mask; tgtKeyPaddingMask?: Mask; memoryKeyPaddingMask?: Mask;
  tgtIsCausal?: Causal; memoryIsCausal?: Causal; cache?: TransformerDecoderCache; out?: Float32Array;
}

export class DecoderStack extends Stack {
  readonly #caches = new Set<TransformerDecoderCache>();

  constructor(fn: string, d: LayerDims, seed: number, n: number, norm: boolean, xavier: boolean, lone: boolean) {
    super(fn, d, seed, n, norm, true, xavier, lone);
  }

  createCache(fn: string, options: unknown): TransformerDecoderCache {
    this.live(fn);
    if (typeof options !== "object" || options === null) throw typeError(fn, "options", "an object { batch, maxLength }", options);
    const o = checkOptions<{ batch: number; maxLength: number }>(fn, options, ["batch", "maxLength"]);
    const batch = checkInt(fn, "options.batch", o.batch, 1, 1);
    const maxLength = checkInt(fn, "options.maxLength", o.maxLength, 1);
    const selfs = [];
    try {
      for (const l of this.layers) selfs.push(l.attn[0].createCache({ batch, maxLength }));
    } catch (e) {
      for (const c of selfs) c.dispose();
      throw e;
    }
    const caches = this.#caches;
    const cache = newDecoderCache(this, this.layers[0].rt.heap, batch, maxLength, selfs, () => caches.delete(cache));
    caches.add(cache);
    return cache;
  }

  protected override onDispose(): void {
    for (const c of [...this.#caches]) c.dispose();
  }

  forward(fn: string, tgt: unknown, memory: unknown, o: DecoderCall): Tensor {
    this.live(fn);
    const E = this.d.E;
    const x = checkInput(fn, "tgt", tgt, E);
    const m = checkInput(fn, "memory", memory, E, x.t.shape.length);
    const { B, L, unbatched } = x;
    if (m.B !== B) throw rangeError(fn, "memory.shape[0]", `equal tgt's batch B = ${B}`, m.B);
    const S = m.L;
    let lcs: LayerCache[] | null = null;
    if (o.cache !== undefined) {
      if (!isDecoderCache(o.cache)) throw typeError(fn, "options.cache", "a TransformerDecoderCache from createCache()", o.cache);
      const cs = decoderCacheState(o.cache);
      if (cs.owner !== this) throw new TypeError(`${fn}: options.cache was created by another decoder`);
      if (cs.disposed) throw new TypeError(`${fn}: options.cache was disposed`);
      lcs = cs.layers;
      if (lcs[0].crossS >= 0 && lcs[0].crossS !== S) {
        throw rangeError(fn, "memory length", `equal the length the cache projected on its first step, ${lcs[0].crossS} (reset() the cache for new memory)`, S);
      }
    }
    const selfPlans: ForwardPlan[] = [], crossPlans: ForwardPlan[] = [];
    this.layers.forEach((l, i) => {
      selfPlans.push(mha.plan(l.attn[0], fn, B, L, unbatched, "self", 0,
        { attnMask: o.tgtMask, keyPaddingMask: o.tgtKeyPaddingMask, causal: o.tgtIsCausal ?? (lcs ? true : undefined), cache: lcs?.[i].self }));
      crossPlans.push(mha.plan(l.attn[1], fn, B, L, unbatched, lcs ? "projected" : "inputs", S,
        { attnMask: o.memoryMask, keyPaddingMask: o.memoryKeyPaddingMask, causal: o.memoryIsCausal }));
    });
    const M = B * L;
    const out = checkOut(fn, "options.out", o.out, M * E, x.t.shape);
    const projectNow = lcs !== null && lcs[0].crossS < 0;
    checkFits(fn, (3 * M * E + B * S * E * (lcs && !projectNow ? 0 : 1) + (projectNow ? 2 * B * S * E * this.layers.length : 0)) * 4
      + Math.max(0, ...this.layers.map((l, i) => layerRunBytes(l, M, [selfPlans[i], crossPlans[i]]))), "the activations, scratch and cached memory");
    if (M === 0 || this.layers.length === 0) { out.set(x.t.data); return { data: out, shape: x.t.shape.slice() }; }
    this.ready(fn);
    const rt = this.layers[0].rt;
    return withFrame(rt, fn, (f) => {
      const px = put(rt, f, x.t.data);
      const pmem = lcs && !projectNow ? 0 : put(rt, f, m.t.data);
      const py = this.runLayers(f, px, M, (l, i, from, to) => runDecoderLayer(l, f, selfPlans[i], crossPlans[i], from, to, M, pmem, lcs ? lcs[i] : null));
      out.set(rt.heap.f32(py, M * E));
      return { data: out, shape: x.t.shape.slice() };
    });
  }
}
