// A state_dict as the layers load it: safetensors bytes or tensors by name, keys mapped through the
// user's `rename` (a file's key → PyTorch's key), then looked up by PyTorch's names with their shapes.
import { readSafetensors } from "./safetensors.js";
import { type Tensor, checkOptions, checkTensor, fmtShape, rangeError, typeError } from "./validate.js";

export interface LoadStateDictOptions {
  /** Prepended to every key this layer looks up (e.g. "encoder.layers.0."); default "". */
  prefix?: string;
  /** Maps a key of the source to PyTorch's key (e.g. HuggingFace BERT's names); applied before `prefix` is matched. */
  rename?: (key: string) => string;
}

/** Tensors by (renamed) key, and a lookup that names what is missing and what was there. */
export interface StateDict {
  readonly fn: string;
  readonly tensors: Record<string, Tensor>;
  /** The tensor at `key` with exactly `shape`. */
  get(key: string, shape: readonly number[]): Float32Array;
  has(key: string): boolean;
}

/**
 * Reads `source` (safetensors bytes: only tensors whose renamed key starts with `prefix` are decoded;
 * or a record of tensors) into a StateDict keyed by renamed key.
 * @throws {TypeError} a source of another type, a non-function rename or one returning a non-string, an unknown option, malformed safetensors
 * @throws {RangeError} malformed safetensors
 */
export function readStateDict(fn: string, source: unknown, options: unknown): { dict: StateDict; prefix: string } {
  const o = checkOptions<LoadStateDictOptions>(fn, options, ["prefix", "rename"]);
  const prefix = o.prefix ?? "";
  if (typeof prefix !== "string") throw typeError(fn, "options.prefix", "a string", prefix);
  const rename = o.rename;
  if (rename !== undefined && typeof rename !== "function") throw typeError(fn, "options.rename", "a function (key: string) => string", rename);
  const map = (k: string): string => {
    if (!rename) return k;
    const r = rename(k);
    if (typeof r !== "string") throw typeError(fn, `options.rename(${JSON.stringify(k)})`, "a string", r);
    return r;
  };
  const tensors: Record<string, Tensor> = Object.create(null);
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    let read: Record<string, Tensor>;
    try {
      read = readSafetensors(source, { names: (n) => map(n).startsWith(prefix) }).tensors;
    } catch (e) {
      if (e instanceof TypeError || e instanceof RangeError) throw new (e.constructor as typeof TypeError)(`${fn}: ${e.message}`);
      throw e;
    }
    for (const [k, t] of Object.entries(read)) tensors[map(k)] = t;
  } else if (typeof source === "object" && source !== null && !ArrayBuffer.isView(source)) {
    for (const [k, t] of Object.entries(source as Record<string, Tensor>)) {
      const r = map(k);
      if (r.startsWith(prefix)) tensors[r] = t;
    }
  } else {
    throw typeError(fn, "source", "safetensors bytes (Uint8Array | ArrayBuffer) or a record of tensors", source);
  }
  const dict: StateDict = {
    fn,
    tensors,
    has: (key) => tensors[key] !== undefined,
    get(key, shape) {
      const t = tensors[key];
      if (t === undefined) {
        const present = Object.keys(tensors);
        throw new TypeError(`${fn}: key ${JSON.stringify(key)} ${fmtShape(shape)} is missing (keys present${prefix ? ` under ${JSON.stringify(prefix)}` : ""}: ${present.slice(0, 40).map((k) => JSON.stringify(k)).join(", ") || "none"}${present.length > 40 ? `, … ${present.length - 40} more` : ""})`);
      }
      const c = checkTensor(fn, JSON.stringify(key), t, 0, fmtShape(shape));
      if (c.shape.length !== shape.length || c.shape.some((n, i) => n !== shape[i])) {
        throw rangeError(fn, `${JSON.stringify(key)}.shape`, `be ${fmtShape(shape)}`, fmtShape(c.shape));
      }
      return c.data;
    },
  };
  return { dict, prefix };
}
