// Argument checking for the public API. Every TypeError/RangeError message is built here:
// "<function>: <argument> <what was expected>; got <what was given>".
// Nothing here touches WASM memory.

/** A row-major tensor: `data.length` equals the product of `shape`. */
export interface Tensor {
  data: Float32Array;
  shape: readonly number[];
}

/** A mask: boolean (Uint8Array) or additive (Float32Array) data, row-major. */
export interface Mask {
  data: Uint8Array | Float32Array;
  shape: readonly number[];
}

export function describe(x: unknown): string {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (Array.isArray(x)) return `an Array(${x.length})`;
  if (ArrayBuffer.isView(x)) return `${article(x.constructor.name)} ${x.constructor.name}(${(x as unknown as ArrayLike<unknown>).length ?? (x as DataView).byteLength})`;
  if (typeof x === "number") return String(x);
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? x.slice(0, 40) + "…" : x);
  if (typeof x === "object") return x.constructor && x.constructor !== Object ? `${article(x.constructor.name)} ${x.constructor.name}` : "an object";
  return `${article(typeof x)} ${typeof x}`;
}

function article(word: string): string {
  return /^[aeioAEIO]/.test(word) ? "an" : "a";  // "a Uint8Array" (a you-), "an Int32Array"
}

/** "E·E = 8·8 = 64", or "E = 8" when the values are the length itself. */
export function fmtLength(formula: string, values: string, len: number): string {
  return values === String(len) ? `${formula} = ${len}` : `${formula} = ${values} = ${len}`;
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

export function typeError(fn: string, arg: string, expected: string, got: unknown): TypeError {
  return new TypeError(`${fn}: ${arg} must be ${expected}; got ${describe(got)}`);
}

export function rangeError(fn: string, arg: string, expected: string, got: string | number): RangeError {
  return new RangeError(`${fn}: ${arg} must ${expected}; got ${got}`);
}

export function product(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

/**
 * The array a result is written into: `options.out` when given (a Float32Array of exactly n elements,
 * which may be one of the call's inputs: inputs are copied into WASM memory before anything is written),
 * else a new zeroed one. Checked with the other arguments, before anything is written.
 */
export function checkOut(fn: string, arg: string, v: unknown, n: number, shape: readonly number[]): Float32Array {
  if (v === undefined) return new Float32Array(n);
  if (!(v instanceof Float32Array)) throw typeError(fn, arg, "a Float32Array", v);
  if (v.length !== n) throw rangeError(fn, `${arg}.length`, `equal the result's ${n} elements (shape ${fmtShape(shape)})`, v.length);
  return v;
}

/** Checks a shape: an array of non-negative safe integers. */
export function checkShape(fn: string, arg: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw typeError(fn, `${arg}.shape`, "an array of non-negative integers", shape);
  // Copy first, then check the copy: each element is read once (a getter or Proxy cannot change it after).
  const s: unknown[] = Array.prototype.slice.call(shape);
  for (let i = 0; i < s.length; i++) {
    const d = s[i];
    if (typeof d !== "number") throw typeError(fn, `${arg}.shape[${i}]`, "a number", d);
    if (!Number.isSafeInteger(d) || d < 0) throw rangeError(fn, `${arg}.shape[${i}]`, "be a non-negative integer", d);
  }
  return s as number[];
}

/**
 * Checks `{ data: Float32Array, shape }` with data.length = product(shape) and rank ≥ minRank.
 * `dims` names the axes for messages, e.g. "[...batch, L, E]".
 */
export function checkTensor(fn: string, arg: string, t: unknown, minRank: number, dims: string): Tensor {
  if (typeof t !== "object" || t === null) throw typeError(fn, arg, `a tensor { data: Float32Array, shape: ${dims} }`, t);
  const { data, shape } = t as { data: unknown; shape: unknown };
  if (!(data instanceof Float32Array)) throw typeError(fn, `${arg}.data`, "a Float32Array", data);
  const s = checkShape(fn, arg, shape);
  if (s.length < minRank) throw rangeError(fn, `${arg}.shape`, `have rank ≥ ${minRank} (${dims})`, `${fmtShape(s)} (rank ${s.length})`);
  const n = product(s);
  if (data.length !== n) {
    throw rangeError(fn, `${arg}.data`, `have length ${s.join("·") || "1"} = ${n} for shape ${fmtShape(s)}`, data.length);
  }
  return { data, shape: s };
}

/** Checks a mask tensor (Uint8Array or Float32Array data) broadcastable to `target` (numpy rules). */
export function checkMask(fn: string, arg: string, m: unknown, target: readonly number[], targetDims: string, boolMeaning = "1 = may attend"): Mask {
  if (typeof m !== "object" || m === null) throw typeError(fn, arg, "a mask { data: Uint8Array | Float32Array, shape }", m);
  const { data, shape } = m as { data: unknown; shape: unknown };
  if (!(data instanceof Uint8Array || data instanceof Float32Array)) {
    throw typeError(fn, `${arg}.data`, `a Uint8Array (boolean, ${boolMeaning}) or a Float32Array (additive)`, data);
  }
  const s = checkShape(fn, arg, shape);
  const n = product(s);
  if ((data as Uint8Array).length !== n) {
    throw rangeError(fn, `${arg}.data`, `have length ${s.join("·") || "1"} = ${n} for shape ${fmtShape(s)}`, (data as Uint8Array).length);
  }
  if (s.length > target.length || s.some((d, i) => d !== 1 && d !== target[target.length - s.length + i])) {
    throw rangeError(fn, `${arg}.shape`, `broadcast to ${targetDims} = ${fmtShape(target)}`, fmtShape(s));
  }
  return { data: data as Uint8Array | Float32Array, shape: s };
}

/** Rejects option names the function does not know (a typo like `casual` must not pass silently). */
export function checkOptions<T extends object>(fn: string, opts: unknown, known: readonly string[]): Partial<T> {
  if (opts === undefined) return {};
  if (typeof opts !== "object" || opts === null || Array.isArray(opts)) throw typeError(fn, "options", "an object", opts);
  for (const key of Object.keys(opts)) {
    if (!known.includes(key)) {
      throw new TypeError(`${fn}: unknown option ${JSON.stringify(key)}; known options are ${known.join(", ")}`);
    }
  }
  return opts as Partial<T>;
}

export function checkBool(fn: string, arg: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw typeError(fn, arg, "a boolean", v);
  return v;
}

/** The `causal` option: `true` is "bottom-right"; `false` (or no option) masks nothing. */
export type Causal = boolean | CausalAlignment;
/** Which corner the causal triangle is anchored to when L ≠ S (the two agree when L = S). */
export type CausalAlignment = "top-left" | "bottom-right";

/** Checks a `causal` option: the alignment it asks for, or null for no causal mask. */
export function checkCausal(fn: string, arg: string, v: unknown, dflt: boolean): CausalAlignment | null {
  if (v === undefined) v = dflt;
  if (v === "top-left" || v === "bottom-right") return v;
  if (typeof v !== "boolean") throw typeError(fn, arg, 'a boolean, "top-left" or "bottom-right"', v);
  return v ? "bottom-right" : null;
}

export function checkFinite(fn: string, arg: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number") throw typeError(fn, arg, "a number", v);
  if (!Number.isFinite(v)) throw rangeError(fn, arg, "be a finite number", v);
  return v;
}

export function checkInt(fn: string, arg: string, v: unknown, min: number, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== "number") throw typeError(fn, arg, "a number", v);
  if (!Number.isSafeInteger(v) || v < min) throw rangeError(fn, arg, `be an integer ≥ ${min}`, v);
  return v;
}

/** numpy broadcasting of two batch shapes; null when they don't broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const ia = a.length - n + i, ib = b.length - n + i;   // right-aligned; < 0: a missing leading dim
    const da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/**
 * Element strides of a tensor of `shape` broadcast to `target` (right-aligned): 0 along broadcast axes.
 */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const strides = new Array<number>(target.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const t = target.length - shape.length + i;
    strides[t] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

/** Offset of flat index `idx` of `batch` in a tensor with per-axis `strides` (same length as batch). */
export function batchOffset(idx: number, batch: readonly number[], strides: readonly number[]): number {
  let off = 0;
  for (let i = batch.length - 1; i >= 0; i--) {
    const d = batch[i];
    off += (idx % d) * strides[i];
    idx = Math.floor(idx / d);
  }
  return off;
}
