// MultiHeadAttention: the Transformer attention layer, with PyTorch nn.MultiheadAttention's weights.
//   B batch, L query length, S key length, E = embedDim, H = numHeads, Hkv = numKVHeads,
//   Dh = E / H (head width), Ekv = Hkv · Dh, kdim/vdim the key/value input widths.
//   Q = xq·Wqᵀ + bq [B, L, E]   K = xk·Wkᵀ + bk [B, S, Ekv]   V = xv·Wvᵀ + bv [B, S, Ekv]
//   head h attends with K/V head g = ⌊h / (H/Hkv)⌋; heads are read in place (no split/merge copies)
//   output = concat_h(attention_h)·Woᵀ + bo [B, L, E]
// This file holds the layer and its forward paths; its pieces live beside it, for other layers too:
// the configuration (mha-config.ts), the weights' names, checks and initialisation (mha-weights.ts),
// packed matrices and projections (packed.ts), the KV cache (kv-cache.ts).
// Weights live in WASM memory from construction to dispose(), packed once into the GEMM panel
// layout, so a forward copies only activations. The initial (seeded) weights are drawn only when
// something reads them before loadWeights/loadStateDict replaced them: constructing a layer for
// weights of one's own costs no random numbers.
// A KV cache holds K and V head-major, [B, Hkv, maxLength, Dh]: a head's cached keys (and values) are
// one contiguous block, streamed by a decode step. A step of one token (L = 1, no masks, no weights)
// runs each projection as a GEMV (gemv_packed_f32) and every head's attention in one call
// (decode_attention_f32); both give the bits of the general kernels.
import { checkFits, put, withFrame } from "./call.js";
import { type KVCache, advanceCache, cacheAppendRow, cacheBlock, cacheRows, checkCacheOptions, newKVCache, rowMover } from "./kv-cache.js";
import { CAUSAL_TOP_LEFT, masksBytes, writeMasks } from "./masks.js";
import { Frame } from "./memory.js";
import { type AttentionDims, type MultiHeadAttentionConfig, type ScoreConfig, checkConfig } from "./mha-config.js";
import {
  type MultiHeadAttentionWeights, type ResidentWeights, allocResidentWeights, checkWeights, initialWeights, residentWeightsBytes, stateDictOf, storeWeights, weightsFromStateDict,
} from "./mha-weights.js";
import { projectSequence, projectSequenceBytes } from "./mha-linformer.js";
import { type PackedMatrix, projectScratchBytes } from "./packed.js";
import { type Gemm, type Head, attention, attentionBytes, decode, gemms } from "./parallel.js";
import { FORWARD_KEYS, type MultiHeadAttentionOptions, type MultiHeadAttentionResult, averageHeads } from "./mha-options.js";
import { type AttentionOptions, type ForwardPlan, type KVSource, planForward } from "./mha-plan.js";
import { rotaryTable, rotateBlocks } from "./rotary.js";
import {
  type Tensor, checkOptions, checkOut, checkTensor, fmtShape, product, rangeError, typeError,
} from "./validate.js";
import { type Runtime, runtime } from "./wasm.js";
import { kernelWindow } from "./window.js";

export type { MultiHeadAttentionConfig } from "./mha-config.js";
export type { MultiHeadAttentionWeights } from "./mha-weights.js";
export type { MultiHeadAttentionOptions, MultiHeadAttentionResult } from "./mha-options.js";

/**
 * Not API (the package does not export it): a forward on WASM blocks, for the Transformer layers
 * (transformer-layer.ts), which keep their activations in WASM memory from one block to the next.
 */
export let internals: {
  dims(m: MultiHeadAttention): AttentionDims;
  live(m: MultiHeadAttention, fn: string): void;
  plan(m: MultiHeadAttention, fn: string, B: number, L: number, unbatched: boolean, kv: KVSource, S: number, o: AttentionOptions): ForwardPlan;
  runBytes(m: MultiHeadAttention, p: ForwardPlan): number;
  ready(m: MultiHeadAttention, fn: string): void;
  run(m: MultiHeadAttention, f: Frame, p: ForwardPlan, px: number, pkx: number, pvx: number, po: number, pw: number): void;
  project(m: MultiHeadAttention, f: Frame, pk: number, pv: number, pkx: number, pvx: number, M: number): void;
};

/**
 * Multi-head attention with PyTorch nn.MultiheadAttention's weights and semantics (batch-first).
 * @throws {TypeError} non-number sizes or softcap, an unknown option, a non-boolean bias or alibi, non-Float32Array alibiSlopes, both alibi and alibiSlopes, a non-object rotary or bad types in it, Linformer's maxLength/shareKV without projectedLength, projectedLength without maxLength or with alibi, rotary or window
 * @throws {RangeError} sizes < 1 or fractional, numHeads not dividing embedDim, numKVHeads not dividing numHeads, a softcap ≤ 0 or non-finite, alibiSlopes not [numHeads] or non-finite, rotary dim odd or > the head width, rotary base ≤ 0, too large for WASM memory
 */
export class MultiHeadAttention {
  readonly #d: AttentionDims;
  /** Soft-cap and ALiBi slopes of every forward (the soft-cap a default). */
  readonly #scores: ScoreConfig;
  readonly #rt: Runtime;
  /** The weight blocks, freed by dispose(). */
  readonly #blocks: Frame;
  readonly #w: ResidentWeights;
  /** Bytes of scratch for gemm_packed_f32 on any of the projections. */
  readonly #gemmScratch: number;
  readonly #caches = new Set<KVCache>();
  /** The seed of initial weights not drawn yet; null once the blocks hold weights. */
  #seed: number | null;
  #disposed = false;

  constructor(config: MultiHeadAttentionConfig) {
    const fn = "MultiHeadAttention";
    const { dims: d, seed, scores } = checkConfig(fn, config);
    this.#d = d;
    this.#scores = scores;
    this.#rt = runtime(fn);
    const { E, Ekv } = d;
    // The blocks, and room to stage the initial weights when they are drawn.
    checkFits(fn, residentWeightsBytes(d) + (3 * E + 2 * Ekv) * E * 4, "the weights");
    this.#blocks = new Frame(this.#rt.heap, fn);
    try {
      this.#w = allocResidentWeights(d, (bytes) => this.#blocks.alloc(bytes));
    } catch (e) {
      this.#blocks.done();
      throw e;
    }
    this.#gemmScratch = projectScratchBytes(this.#rt, [this.#w.q, this.#w.k, this.#w.v, this.#w.o]);
    this.#seed = seed;   // the initial weights are drawn on first use (#weightsReady), unless loaded before
  }

  /** E: model width. */
  get embedDim(): number { return this.#d.E; }
  /** H: query heads. */
  get numHeads(): number { return this.#d.H; }
  /** Hkv: key/value heads. */
  get numKVHeads(): number { return this.#d.Hkv; }
  /** Dh = E / H: head width. */
  get headDim(): number { return this.#d.Dh; }
  /** Key input width. */
  get kdim(): number { return this.#d.kdim; }
  /** Value input width. */
  get vdim(): number { return this.#d.vdim; }
  /** Whether the projections have biases. */
  get bias(): boolean { return this.#d.bias; }
  /** The config's soft-cap, or undefined: none. */
  get softcap(): number | undefined { return this.#scores.softcap === 0 ? undefined : this.#scores.softcap; }
  /** The ALiBi slopes, one per head (a copy), or null: no ALiBi. */
  get alibiSlopes(): Float32Array | null { return this.#scores.slopes ? this.#scores.slopes.slice() : null; }
  /** The rotary setting ({ dim, base, interleaved }, a copy), or null: no RoPE. */
  get rotary(): { dim: number; base: number; interleaved: boolean } | null { return this.#scores.rotary ? { ...this.#scores.rotary } : null; }

  #live(fn: string): void {
    if (this.#disposed) throw new TypeError(`${fn}: this MultiHeadAttention was disposed; create a new one`);
  }

  /** Draws and stores the initial weights if nothing was loaded yet: before anything reads the weights. */
  #weightsReady(fn: string): void {
    if (this.#seed === null) return;
    storeWeights(this.#rt, fn, this.#w, initialWeights(this.#d, this.#seed));
    this.#seed = null;
  }

  /**
   * Replaces all weights (copied into WASM memory; the arrays are not kept).
   * Give either inProjWeight [3E, E] or qProjWeight, kProjWeight and vProjWeight (and, for Linformer, keyProjection / valueProjection [k, maxLength]).
   * @throws {TypeError} a missing or non-Float32Array weight, an unknown name, Linformer projections the config does not have, use after dispose
   * @throws {RangeError} a weight of the wrong length
   */
  loadWeights(weights: MultiHeadAttentionWeights): void {
    const fn = "MultiHeadAttention.loadWeights";
    this.#live(fn);
    const w = checkWeights(fn, this.#d, weights);
    storeWeights(this.#rt, fn, this.#w, w);
    this.#seed = null;
  }

  /**
   * The weights under PyTorch's state_dict names (`in_proj_weight` or `q_proj_weight`/`k_proj_weight`/
   * `v_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`; Linformer's `proj_k`/`proj_v` [maxLength, k]), as new tensors.
   */
  stateDict(prefix = ""): Record<string, Tensor> {
    const fn = "MultiHeadAttention.stateDict";
    this.#live(fn);
    if (typeof prefix !== "string") throw typeError(fn, "prefix", "a string", prefix);
    this.#weightsReady(fn);
    return stateDictOf(this.#rt, this.#d, this.#w, prefix);
  }

  /**
   * Loads a PyTorch state_dict: safetensors bytes, or tensors by name. Keys are PyTorch's
   * (`in_proj_weight`, …, `out_proj.weight`, `out_proj.bias`; Linformer's `proj_k`/`proj_v` [maxLength, k]) after `prefix` (e.g. "encoder.layers.0.self_attn.");
   * other keys are ignored. Shapes are checked.
   * @throws {TypeError} a missing key, a non-tensor, malformed safetensors
   * @throws {RangeError} a tensor of the wrong shape, malformed safetensors
   */
  loadStateDict(source: Uint8Array | ArrayBuffer | Record<string, Tensor>, options?: { prefix?: string }): void {
    const fn = "MultiHeadAttention.loadStateDict";
    this.#live(fn);
    const o = checkOptions<{ prefix: string }>(fn, options, ["prefix"]);
    const prefix = o.prefix ?? "";
    if (typeof prefix !== "string") throw typeError(fn, "options.prefix", "a string", prefix);
    this.loadWeights(weightsFromStateDict(fn, this.#d, source, prefix));
  }

  /**
   * A KV cache for token-by-token generation: room for `maxLength` positions of `batch` sequences; or,
   * with `window`, a rolling cache that keeps the first `sinkTokens` positions and the last `window`
   * (kv-cache.ts), counting positions up to maxLength (default unbounded).
   * Lives in WASM memory until its dispose() or this instance's dispose().
   * @throws {TypeError} non-number sizes, an unknown option, sinkTokens without window, sinkTokens with ALiBi, use after dispose
   * @throws {RangeError} sizes < 1 (sinkTokens < 0), maxLength absent without window, too large for WASM memory
   */
  createCache(options: { batch?: number; maxLength?: number; window?: number; sinkTokens?: number }): KVCache {
    const fn = "MultiHeadAttention.createCache";
    this.#live(fn);
    if (this.#d.linformer) throw new TypeError(`${fn}: a Linformer layer (config.projectedLength) has no KV cache: its projection mixes all the keys`);
    if (typeof options !== "object" || options === null) throw typeError(fn, "options", "an object { batch, maxLength }", options);
    const { batch, maxLength, window, sinks } = checkCacheOptions(fn, options, this.#scores.slopes !== null);
    const rows = cacheRows(maxLength, window, sinks);
    const bytes = batch * rows * this.#d.Ekv * 4;
    checkFits(fn, 2 * bytes, "the cache's keys and values");
    const heap = this.#rt.heap;
    const k = heap.alloc(bytes, fn);
    let v: number;
    try {
      v = heap.alloc(bytes, fn);
    } catch (e) {
      heap.release(k);
      throw e;
    }
    const caches = this.#caches;
    const cache = newKVCache(this, batch, maxLength, k, v, () => {
      if (caches.delete(cache)) {
        heap.release(k);
        heap.release(v);
      }
    }, window, sinks);
    caches.add(cache);
    return cache;
  }

  /** Frees the weights and every cache of this instance; any later use throws. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    for (const c of [...this.#caches]) c.dispose();
    this.#blocks.done();
    this.#disposed = true;
  }

  /**
   * Attention over `key`/`value` (cross-attention), or over `query` itself when they are omitted
   * (self-attention). query [B, L, E] or unbatched [L, E]; key [B, S, kdim]; value [B, S, vdim].
   * @throws {TypeError} non-tensors, non-Float32Array data or out, only one of key/value, a non-boolean flag, masks of other data types, a bad blockSparse, masks/causal/window/blockSparse with Linformer, a non-number softcap, an unknown option, a foreign or disposed cache, use after dispose, key/value with a rotary config, positions without one or not an Int32Array
   * @throws {RangeError} a softcap ≤ 0 or non-finite, out of another length, a layout of another block grid, a Linformer key length > maxLength, positions not of length L, wrong widths, ranks or batch/length mismatches, masks that don't fit, cache overflow, too large for WASM memory
   */
  forward(query: Tensor, key?: Tensor, value?: Tensor, options?: MultiHeadAttentionOptions): MultiHeadAttentionResult {
    const fn = "MultiHeadAttention.forward";
    this.#live(fn);
    const o = checkOptions<MultiHeadAttentionOptions>(fn, options, FORWARD_KEYS);
    const { E, H, kdim, vdim } = this.#d;
    const Q = checkTensor(fn, "query", query, 2, "[B, L, E] or [L, E]");
    if (Q.shape.length > 3) throw rangeError(fn, "query.shape", "be [B, L, E] or [L, E]", fmtShape(Q.shape));
    const unbatched = Q.shape.length === 2;
    const B = unbatched ? 1 : Q.shape[0];
    const L = Q.shape[Q.shape.length - 2];
    if (Q.shape[Q.shape.length - 1] !== E) throw rangeError(fn, `query.shape[${Q.shape.length - 1}]`, `equal embedDim = ${E}`, Q.shape[Q.shape.length - 1]);
    if ((key === undefined) !== (value === undefined)) {
      throw new TypeError(`${fn}: give both key and value (cross-attention) or neither (self-attention); got ${key === undefined ? "value only" : "key only"}`);
    }
    let Kx: Tensor | null = null, Vx: Tensor | null = null;
    let S = 0;
    if (key !== undefined) {
      const dims = unbatched ? "[S, kdim]" : "[B, S, kdim]";
      Kx = checkTensor(fn, "key", key, 2, dims);
      Vx = checkTensor(fn, "value", value, 2, unbatched ? "[S, vdim]" : "[B, S, vdim]");
      for (const [name, t, width, wname] of [["key", Kx, kdim, "kdim"], ["value", Vx, vdim, "vdim"]] as const) {
        const r = t.shape.length;
        if (r !== Q.shape.length) throw rangeError(fn, `${name}.shape`, `have rank ${Q.shape.length} like query ${fmtShape(Q.shape)}`, fmtShape(t.shape));
        if (!unbatched && t.shape[0] !== B) throw rangeError(fn, `${name}.shape[0]`, `equal the query's batch B = ${B}`, t.shape[0]);
        if (t.shape[r - 1] !== width) throw rangeError(fn, `${name}.shape[${r - 1}]`, `equal ${wname} = ${width}`, t.shape[r - 1]);
      }
      S = Kx.shape[Kx.shape.length - 2];
      if (Vx.shape[Vx.shape.length - 2] !== S) throw rangeError(fn, `value.shape[${Vx.shape.length - 2}]`, `equal the key length S = ${S}`, Vx.shape[Vx.shape.length - 2]);
    }
    const p = planForward(fn, this, this.#d, this.#scores, B, L, unbatched, Kx ? "inputs" : "self", S, o);
    S = p.S;
    const outShape = unbatched ? [L, E] : [B, L, E];
    const out = checkOut(fn, "options.out", o.out, B * L * E, outShape);
    const wShape = p.averageWeights ? [B, L, S] : [B, H, L, S];
    const nw = p.needWeights ? B * H * L * S : 0;
    // Refuse what cannot fit before allocating anything, here or in WASM memory.
    checkFits(fn, (Q.data.length + (Kx ? Kx.data.length + Vx!.data.length : 0) + 2 * B * L * E + nw * (p.averageWeights ? 2 : 1)) * 4
      + this.#runBytes(p), "the activations, scratch and weights output");
    const weights = p.needWeights ? new Float32Array(product(wShape)) : null;
    const result = (): MultiHeadAttentionResult => ({
      output: { data: out, shape: outShape },
      ...(weights ? { weights: { data: weights, shape: unbatched ? wShape.slice(1) : wShape } } : {}),
    });
    if (B * L === 0) return result();
    this.#weightsReady(fn);
    const rt = this.#rt;
    return withFrame(rt, fn, (f) => {
      const px = put(rt, f, Q.data);
      const pkx = Kx ? put(rt, f, Kx.data) : px, pvx = Vx ? put(rt, f, Vx.data) : px;
      const po = f.alloc(B * L * E * 4);
      const pw = weights ? f.alloc(Math.max(1, nw) * 4) : 0;
      this.#run(f, p, px, pkx, pvx, po, pw);
      out.set(rt.heap.f32(po, B * L * E));
      if (weights) {
        const w = rt.heap.f32(pw, nw);
        if (p.averageWeights) averageHeads(w, weights, B, H, L * S);
        else weights.set(w);
      }
      return result();
    });
  }

  /** Bytes #run allocates for plan `p` (activations, scratch, masks), for the up-front size check. */
  #runBytes(p: ForwardPlan): number {
    const { B, L, S } = p;
    const { E, H, Hkv, Dh, Ekv } = this.#d;
    const rt = this.#rt, k = rt.kernels;
    const Sx = p.cache ? L : p.kv === "projected" ? 0 : p.sourceKeys;    // rows of K/V projected in this call
    const lin = this.#d.linformer ? projectSequenceBytes(rt, this.#d.linformer, B, p.sourceKeys, Ekv) : 0;
    const gemmScratch = this.#gemmScratch * (rt.pool?.threads ?? 1);
    const direct = isDirect(p);
    const attnScratch = S > 0 && L > 0 ? (direct ? 64 * (k.decode_scratch_bytes(S) + 64) : attentionBytes(rt, B * H, B * Hkv, L, S, Dh, Dh, p.sparseBlock)) : 0;
    return (2 * B * L * E + 2 * B * Sx * Ekv + H + (this.#scores.rotary ? L * this.#scores.rotary.dim : 0)) * 4 + gemmScratch + attnScratch + masksBytes(p.masks, B * H) + lin + 4096;
  }

  /**
   * The forward of plan `p` on WASM blocks: query rows at px ([B·L, E]); keys/values inputs at pkx/pvx
   * ([B·S, kdim], [B·S, vdim]; px for self-attention), or projected K/V ([B, S, Ekv] each) when p.kv is
   * "projected". Writes the output rows [B·L, E] at po and, with needWeights, every head's weights
   * [B, H, L, S] at pw. Appends to p's cache.
   */
  #run(f: Frame, p: ForwardPlan, px: number, pkx: number, pvx: number, po: number, pw: number): void {
    const { B, L, S, causal, softcap, cache: cs, sourceKeys: Sx } = p;
    const win = kernelWindow(p.window, L, S);
    const { E, H, Hkv, Dh, Ekv } = this.#d;
    const rt = this.#rt, k = rt.kernels, W = this.#w;
    const slopes = this.#scores.slopes;
    // c[M, w.out] = a[M, w.in]·Wᵀ + bias; one row (a decode step) takes the GEMV (the same bits).
    const proj = (c: number, a: number, w: PackedMatrix, bias: number, M: number): Gemm =>
      ({ c, ldc: w.out, a, aRs: w.in, aCs: 1, pb: w.ptr, bias, M, K: w.in, N: w.out });
    const bk = this.#d.bias ? W.inBias + E * 4 : 0, bv = this.#d.bias ? W.inBias + (E + Ekv) * 4 : 0;
    // 1. projections (Q, K and V in one job, shared by the threads)
    const pq = f.alloc(B * L * E * 4);
    const projections = [proj(pq, px, W.q, W.inBias, B * L)];
    // RoPE on the projected query heads and the new key heads (at kr: [B, L, Ekv] rows; self-attention,
    // the plan checked), row i at position p.positions[i], else (cached positions) + i.
    const rotary = this.#scores.rotary;
    const rotate = (kr: number): void => {
      if (!rotary) return;
      const tab = put(rt, f, rotaryTable(rotary, L, p.positions, cs ? cs.filled : 0));
      rotateBlocks(rt, f, pq, B, L, E, H, Dh, rotary, tab);
      rotateBlocks(rt, f, kr, B, L, Ekv, Hkv, Dh, rotary, tab);
    };
    // K/V of batch b, head g, row j at pk + b·kvB + (g·kvH + j·kvLd)·4 (kvB bytes, kvH and kvLd elements)
    let pk: number, pv: number, kvB: number, kvH: number, kvLd: number;
    if (cs) {
      // The cache is head-major [B, Hkv, rows, Dh]: each head's keys (and values) are one
      // contiguous block. The new rows are projected token-major, then scattered into it; the keys
      // attended over are its rows [start, start + S) (kv-cache.ts; start 0 but for a rolling cache).
      const ml = cs.rows;
      kvB = Hkv * ml * Dh * 4; kvH = ml * Dh; kvLd = Dh;
      const move = rowMover(rt.heap, cs, B * Hkv, Dh);
      const row = cacheAppendRow(cs, L, move);
      const tk = f.alloc(2 * B * L * Ekv * 4), tv = tk + B * L * Ekv * 4;
      projections.push(proj(tk, px, W.k, bk, B * L), proj(tv, px, W.v, bv, B * L));
      gemms(rt, f, projections);
      rotate(tk);
      for (let b = 0; b < B; b++) {
        const at = b * kvB + row * Dh * 4;
        k.scatter_heads_f32(cs.k + at, kvH, tk + b * L * Ekv * 4, Ekv, L, Hkv, Dh);
        k.scatter_heads_f32(cs.v + at, kvH, tv + b * L * Ekv * 4, Ekv, L, Hkv, Dh);
      }
      const start = cacheBlock(cs, L, move);
      pk = cs.k + start * Dh * 4; pv = cs.v + start * Dh * 4;
    } else if (p.kv === "projected") {
      kvB = Sx * Ekv * 4; kvH = Dh; kvLd = Ekv;
      pk = pkx; pv = pvx;
      gemms(rt, f, projections);
    } else {
      kvB = Sx * Ekv * 4; kvH = Dh; kvLd = Ekv;
      pk = f.alloc(Math.max(1, B * Sx * Ekv) * 4);
      pv = f.alloc(Math.max(1, B * Sx * Ekv) * 4);
      if (Sx > 0) projections.push(proj(pk, pkx, W.k, bk, B * Sx), proj(pv, pvx, W.v, bv, B * Sx));
      gemms(rt, f, projections);
      rotate(pk);
    }
    const lin = this.#d.linformer;
    if (lin) {
      // Linformer: attend over K' = E[:, :Sx]·K and V' = F[:, :Sx]·V, [B, k, Ekv] (mha-linformer.ts)
      ({ pk, pv } = projectSequence(rt, f, lin, W.e, W.f, B, Sx, Ekv, pk, pv));
      kvB = S * Ekv * 4;
    }
    // 2. attention per (batch, head), heads addressed in place
    const pc = f.alloc(B * L * E * 4);
    const group = H / Hkv, scale = 1 / Math.sqrt(Dh);
    if (S === 0) {
      rt.heap.f32(pc, B * L * E).fill(0);
    } else if (isDirect(p)) {
      // the keys row 0 sees: all, or key 0 only (top-left; then ALiBi's bias on the one key changes nothing)
      decode(rt, f, B, { o: pc, q: pq, k: pk, v: pv, hs: kvH, ld: kvLd, kvB }, H, group, causal === CAUSAL_TOP_LEFT ? 1 : S, Dh, scale,
        softcap, slopes ? put(rt, f, slopes) : 0, win);
    } else {
      const pm = writeMasks(rt, f, p.masks, [B, H]);
      const nm = p.masks.length;
      const heads: Head[] = [];
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < H; h++) {
          const g = Math.floor(h / group), bh = b * H + h;
          heads.push({
            o: pc + (b * L * E + h * Dh) * 4, ldo: E, w: pw === 0 ? 0 : pw + bh * L * S * 4, ldw: S,
            q: pq + (b * L * E + h * Dh) * 4, ldq: E,
            k: pk + b * kvB + g * kvH * 4, ldk: kvLd,
            v: pv + b * kvB + g * kvH * 4, ldv: kvLd,
            masks: pm === 0 ? 0 : pm + bh * nm * 16, nmasks: nm, slope: slopes ? slopes[h] : 0, kv: b * Hkv + g,
          });
        }
      }
      attention(rt, f, heads, L, S, Dh, Dh, scale, causal, softcap, win, p.sparseBlock);
    }
    // 3. output projection
    gemms(rt, f, [proj(po, pc, W.o, W.outBias, B * L)]);
    if (cs) advanceCache(cs, L);
  }

  /** K [M, Ekv] at pk and V [M, Ekv] at pv: the key/value projections of M rows of inputs at pkx ([M, kdim]) and pvx ([M, vdim]). */
  #project(f: Frame, pk: number, pv: number, pkx: number, pvx: number, M: number): void {
    const W = this.#w, E = this.#d.E, Ekv = this.#d.Ekv;
    const bk = this.#d.bias ? W.inBias + E * 4 : 0, bv = this.#d.bias ? W.inBias + (E + Ekv) * 4 : 0;
    if (M === 0) return;
    gemms(this.#rt, f, [
      { c: pk, ldc: Ekv, a: pkx, aRs: W.k.in, aCs: 1, pb: W.k.ptr, bias: bk, M, K: W.k.in, N: Ekv },
      { c: pv, ldc: Ekv, a: pvx, aRs: W.v.in, aCs: 1, pb: W.v.ptr, bias: bv, M, K: W.v.in, N: Ekv },
    ]);
  }

  static {
    internals = {
      dims: (m) => m.#d,
      live: (m, fn) => m.#live(fn),
      plan: (m, fn, B, L, unbatched, kv, S, o) => planForward(fn, m, m.#d, m.#scores, B, L, unbatched, kv, S, o),
      runBytes: (m, p) => m.#runBytes(p),
      ready: (m, fn) => m.#weightsReady(fn),
      run: (m, f, p, px, pkx, pvx, po, pw) => m.#run(f, p, px, pkx, pvx, po, pw),
      project: (m, f, pk, pv, pkx, pvx, M) => m.#project(f, pk, pv, pkx, pvx, M),
    };
  }
}

/** One query row per (batch), no masks, no weights: every head in one decode_attention_f32 call. */
function isDirect(p: ForwardPlan): boolean {
  // (a window under top-left causal takes the general path: the decode call's keys are then [0, 1), not the window's frame)
  return p.L === 1 && p.S > 0 && p.masks.length === 0 && !p.needWeights && !(p.window !== null && p.causal === CAUSAL_TOP_LEFT);
}
