// src/safetensors.ts
// safetensors reader and writer, so a PyTorch / Hugging Face state_dict can be loaded into MultiHeadAttention.
// Format: https://github.com/huggingface/safetensors. All integers are little-endian.
//
//   bytes [0, 8)        u64 N = header length in bytes (at most 100 000 000, as in the reference reader)
//   bytes [8, 8+N)      UTF-8 JSON object, possibly padded with trailing spaces:
//                         { "<name>": { "dtype": "F32", "shape": [d0, d1, …], "data_offsets": [begin, end] }, …,
//                           "__metadata__"?: { "<key>": "<value>", … } }
//   bytes [8+N, len)    data section; begin/end are relative to its start; each tensor is row-major (C order)
//
// A tensor here is { data: Float32Array, shape } with data.length = product(shape) (1 for shape []).
// The reader applies the checks of the reference reader (safetensors/src/tensor.rs, read_metadata and
// Metadata::validate): end − begin = product(shape) · bits(dtype) / 8, and the tensors, sorted by offsets, tile the
// data section exactly (no holes, no overlap, no trailing bytes). Nothing is read before the header has been checked
// whole, and every read goes through a DataView or subarray bounded by those checks.
// The writer lays a file out as the reference serializer does for all-F32 input: "__metadata__" first, tensors in
// name order (compared as code points, which is Rust's byte order of UTF-8), offsets back to back from 0, and the
// header padded with spaces so that 8 + N is a multiple of 8.
// Only web-standard JS is used (DataView, TextEncoder/TextDecoder, JSON), so this runs unchanged in Node, browsers,
// Deno, Bun and workerd.
import { describe, fmtShape } from "./validate.js";

/** A named tensor as stored in a state_dict: row-major `data` with `data.length = product(shape)`. */
export interface NamedTensor {
  data: Float32Array;
  shape: number[];
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /**
   * Which tensors to return: called once per tensor name; tensors for which it returns false are still validated
   * (dtype known, offsets and byte lengths consistent) but not converted, so they may have any dtype.
   */
  names?: (name: string) => boolean;
}

/** The result of {@link readSafetensors}. */
export interface SafetensorsContents {
  tensors: Record<string, NamedTensor>;
  /** The header's `__metadata__` (e.g. `{ format: "pt" }`), or `{}` when the file has none. */
  metadata: Record<string, string>;
}

/** The reference reader's MAX_HEADER_SIZE. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";

/** Bits per element of every dtype the format defines (safetensors Dtype::bitsize). */
const DTYPE_BITS: ReadonlyMap<string, number> = new Map([
  ["BOOL", 8], ["F4", 4], ["F6_E2M3", 6], ["F6_E3M2", 6], ["U8", 8], ["I8", 8],
  ["F8_E5M2", 8], ["F8_E4M3", 8], ["F8_E8M0", 8], ["F8_E4M3FNUZ", 8], ["F8_E5M2FNUZ", 8],
  ["I16", 16], ["U16", 16], ["F16", 16], ["BF16", 16], ["I32", 32], ["U32", 32], ["F32", 32],
  ["C64", 64], ["F64", 64], ["I64", 64], ["U64", 64],
]);

/** The dtypes converted to Float32Array. */
const READABLE_DTYPES = ["F32", "F16", "BF16", "F64"];

/**
 * True when a Float32Array's bytes are already in file order, so F32 data is copied byte for byte (fast, and NaN
 * payloads survive). Big-endian hosts take the DataView path, where signalling-NaN payloads may be quieted.
 */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One header entry after validation. */
interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

/**
 * Parses a safetensors file. Floating tensors (F32, F16, BF16, F64) are converted to fresh Float32Arrays: F16 and
 * BF16 exactly (subnormals, ±0, ±Inf and NaN payloads included), F64 rounded to nearest-even (overflow gives ±Inf).
 * The result never aliases `bytes`, `bytes` is not modified, and the data section need not be aligned.
 *
 * @param bytes The whole file.
 * @param options `names` selects the tensors to return; the others may have any known dtype.
 * @returns The selected tensors (in header order) and the header's `__metadata__`.
 * @throws {TypeError} If `bytes` is not a Uint8Array or ArrayBuffer, or `options.names` is not a function.
 * @throws {TypeError} If the header is not UTF-8, not JSON, or not a JSON object; if `__metadata__` is not an object
 *   of strings; if an entry is not an object or its `dtype` is not a known dtype string, its `shape` not an array
 *   of numbers or its `data_offsets` not an array of numbers; or if a selected tensor's dtype is not F32, F16, BF16
 *   or F64.
 * @throws {RangeError} If the file is shorter than 8 bytes; if the header length exceeds 100 000 000 or the file;
 *   if a dim or offset is negative or fractional, `data_offsets` does not have 2 entries, end < begin, or end is
 *   beyond the data section; if end − begin ≠ product(shape) · item size; or if the tensors overlap, leave a hole,
 *   or leave trailing bytes in the data section.
 */
export function readSafetensors(
  bytes: Uint8Array | ArrayBuffer,
  options: ReadSafetensorsOptions = {},
): SafetensorsContents {
  const fn = "readSafetensors";
  const u8 = checkBytes(fn, bytes);
  const select = checkReadOptions(fn, options);

  // 1. header length, header text, header object
  if (u8.length < 8) {
    throw new RangeError(`${fn}: bytes must hold at least 8 bytes (the u64 header length N); got ${u8.length}`);
  }
  const n64 = new DataView(u8.buffer, u8.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw new RangeError(`${fn}: header length N must be at most ${MAX_HEADER_BYTES} bytes; got ${n64}`);
  }
  const n = Number(n64);
  if (8 + n > u8.length) {
    throw new RangeError(`${fn}: header length N = ${n} needs 8 + ${n} = ${8 + n} bytes; got ${u8.length}`);
  }
  const header = parseHeader(fn, u8.slice(8, 8 + n));
  const dataStart = 8 + n;
  const dataLength = u8.length - dataStart;

  // 2. every entry, selected or not, then the layout of the data section
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const key of Object.keys(header)) {
    if (key === METADATA_KEY) metadata = checkFileMetadata(fn, header[key]);
    else entries.push(checkEntry(fn, key, header[key], dataLength));
  }
  checkLayout(fn, entries, dataLength);

  // 3. selection and dtypes, before anything is allocated
  const selected = select ? entries.filter((e) => select(e.name)) : entries;
  for (const e of selected) {
    if (!READABLE_DTYPES.includes(e.dtype)) {
      throw new TypeError(
        `${fn}: tensor ${q(e.name)} has dtype ${e.dtype}; only ${READABLE_DTYPES.join(", ")} can be read ` +
          `(leave it out with options.names)`,
      );
    }
  }

  // 4. conversion into fresh arrays
  const tensors: Record<string, NamedTensor> = {};
  for (const e of selected) {
    define(tensors, e.name, { data: decode(u8, dataStart + e.begin, e.dtype, e.count), shape: e.shape });
  }
  return { tensors, metadata };
}

/**
 * Serializes F32 tensors as a safetensors file, laid out as the reference serializer does: `__metadata__` first
 * (keys sorted) when given, tensors in name order (code point order) with back-to-back data_offsets from 0, and the
 * header padded with spaces to a multiple of 8 bytes. Data is copied; the inputs are not modified.
 *
 * @param tensors Tensors by name, e.g. a MultiHeadAttention's weights under PyTorch's state_dict names.
 * @param metadata Optional string-to-string `__metadata__`, e.g. `{ format: "pt" }`.
 * @returns The file's bytes.
 * @throws {TypeError} If `tensors` is not a plain object, a tensor is not an object, its `data` is not a
 *   Float32Array, or its `shape` is not an array of numbers; or if `metadata` is not a plain object of strings.
 * @throws {RangeError} If a name is empty, is "__metadata__" or is not well-formed Unicode (a lone surrogate); if a
 *   dim is negative, fractional or unsafe; if `data.length` ≠ product(shape); if a metadata key or value is not
 *   well-formed Unicode; or if the header would exceed 100 000 000 bytes.
 */
export function writeSafetensors(tensors: Record<string, NamedTensor>, metadata?: Record<string, string>): Uint8Array {
  const fn = "writeSafetensors";

  // 1. inputs
  if (!isPlainObject(tensors)) {
    throw new TypeError(`${fn}: tensors must be an object mapping names to { data, shape }; got ${describe(tensors)}`);
  }
  const names = Object.keys(tensors).sort(compareCodePoints);
  const items = names.map((name) => checkTensorArg(fn, name, tensors[name]));
  const meta = metadata === undefined ? undefined : checkMetadataArg(fn, metadata);

  // 2. header text: serde_json's compact form, which JSON.stringify matches for strings and safe integers
  const parts: string[] = [];
  if (meta) parts.push(`${q(METADATA_KEY)}:{${meta.map(([k, v]) => `${q(k)}:${q(v)}`).join(",")}}`);
  let offset = 0;
  for (const { name, data, shape } of items) {
    const end = offset + data.length * 4;
    parts.push(`${q(name)}:{"dtype":"F32","shape":[${shape.join(",")}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const headerUtf8 = new TextEncoder().encode(`{${parts.join(",")}}`);
  const n = Math.ceil(headerUtf8.length / 8) * 8;
  if (n > MAX_HEADER_BYTES) {
    throw new RangeError(`${fn}: header would take ${n} bytes; the format allows at most ${MAX_HEADER_BYTES}`);
  }

  // 3. bytes: N, header, space padding, data
  const out = new Uint8Array(8 + n + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true); // u64 N: low word, high word stays 0
  out.set(headerUtf8, 8);
  out.fill(0x20, 8 + headerUtf8.length, 8 + n);
  let pos = 8 + n;
  for (const { data } of items) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat32(pos + 4 * i, data[i], true);
    }
    pos += data.length * 4;
  }
  return out;
}

// ---- reader helpers -------------------------------------------------------------------------------------------

function checkBytes(fn: string, bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  const tag = Object.prototype.toString.call(bytes);
  if (tag === "[object ArrayBuffer]" || tag === "[object SharedArrayBuffer]") {
    return new Uint8Array(bytes as ArrayBuffer); // another realm's buffer
  }
  if (ArrayBuffer.isView(bytes) && tag === "[object Uint8Array]") {
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  throw new TypeError(`${fn}: bytes must be a Uint8Array or ArrayBuffer; got ${describe(bytes)}`);
}

function checkReadOptions(fn: string, options: unknown): ((name: string) => boolean) | undefined {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${fn}: options must be an object; got ${describe(options)}`);
  }
  const { names } = options as ReadSafetensorsOptions;
  if (names !== undefined && typeof names !== "function") {
    throw new TypeError(`${fn}: options.names must be a function (name) => boolean; got ${describe(names)}`);
  }
  return names;
}

function parseHeader(fn: string, headerBytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    // fatal: invalid UTF-8 throws; ignoreBOM: a BOM stays in the text, so JSON.parse rejects it as Rust does
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (cause) {
    throw new TypeError(`${fn}: header (bytes 8 to ${8 + headerBytes.length}) is not valid UTF-8`, { cause });
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (cause) {
    throw new TypeError(`${fn}: header is not valid JSON (${(cause as Error).message}): ${clip(text)}`, { cause });
  }
  if (!isPlainObject(header)) {
    throw new TypeError(`${fn}: header must be a JSON object; got ${describe(header)}`);
  }
  return header;
}

function checkFileMetadata(fn: string, value: unknown): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === null) return metadata; // serde reads null as None
  if (!isPlainObject(value)) {
    throw new TypeError(`${fn}: ${METADATA_KEY} must be an object of strings; got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (typeof v !== "string") {
      throw new TypeError(`${fn}: ${METADATA_KEY} entry ${q(key)} must be a string; got ${describe(v)}`);
    }
    define(metadata, key, v);
  }
  return metadata;
}

function checkEntry(fn: string, name: string, info: unknown, dataLength: number): Entry {
  const t = `${fn}: tensor ${q(name)}`;
  if (!isPlainObject(info)) {
    throw new TypeError(`${t} must be an object { dtype, shape, data_offsets }; got ${describe(info)}`);
  }
  const { dtype, shape, data_offsets: offsets } = info;

  if (typeof dtype !== "string") throw new TypeError(`${t} dtype must be a string; got ${describe(dtype)}`);
  const bits = DTYPE_BITS.get(dtype);
  if (bits === undefined) {
    throw new TypeError(`${t} has unknown dtype ${q(dtype)}; expected one of ${[...DTYPE_BITS.keys()].join(", ")}`);
  }

  if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number")) {
    throw new TypeError(`${t} shape must be an array of numbers; got ${describe(shape)}`);
  }
  const bad = shape.findIndex((d: number) => !isCount(d));
  if (bad >= 0) {
    throw new RangeError(
      `${t} has shape ${fmtShape(shape)}; dims must be non-negative integers, got ${shape[bad]} at index ${bad}`,
    );
  }

  if (!Array.isArray(offsets) || !offsets.every((o) => typeof o === "number")) {
    throw new TypeError(`${t} data_offsets must be an array [begin, end] of numbers; got ${describe(offsets)}`);
  }
  if (offsets.length !== 2) {
    throw new RangeError(`${t} data_offsets must have 2 entries [begin, end]; got ${offsets.length}`);
  }
  const [begin, end] = offsets as [number, number];
  if (!isCount(begin) || !isCount(end)) {
    throw new RangeError(`${t} data_offsets [${begin}, ${end}] must be non-negative integers`);
  }
  if (end < begin) throw new RangeError(`${t} data_offsets [${begin}, ${end}] end must be ≥ begin`);
  if (end > dataLength) {
    throw new RangeError(`${t} data_offsets [${begin}, ${end}] end beyond the ${dataLength}-byte data section`);
  }

  // product(shape) stays exact while ≤ 2^53; past that it only grows, so it still differs from the span
  const count = shape.includes(0) ? 0 : shape.reduce((a: number, d: number) => a * d, 1);
  const span = end - begin;
  const nbits = count * bits;
  if (nbits % 8 !== 0) {
    throw new RangeError(`${t} has shape ${fmtShape(shape)} (${count} × ${bits} bits = ${nbits} bits), not whole bytes`);
  }
  if (nbits / 8 !== span) {
    const size = bits % 8 === 0 ? `${count} × ${bits / 8} bytes = ${nbits / 8}` : `${count} × ${bits} bits = ${nbits / 8} bytes`;
    throw new RangeError(`${t} has shape ${fmtShape(shape)} (${size}) but data_offsets span ${span} bytes`);
  }
  return { name, dtype, shape: shape.slice(), count, begin, end };
}

/** The tensors, sorted by (begin, end), must tile [0, dataLength) exactly, as in the reference's validate(). */
function checkLayout(fn: string, entries: readonly Entry[], dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let prev: Entry | undefined;
  for (const e of sorted) {
    const prevEnd = prev ? prev.end : 0;
    const here = `${fn}: tensor ${q(e.name)} data_offsets [${e.begin}, ${e.end}]`;
    if (e.begin < prevEnd) {
      throw new RangeError(`${here} overlap tensor ${q(prev!.name)} data_offsets [${prev!.begin}, ${prev!.end}]`);
    }
    if (e.begin > prevEnd) {
      throw new RangeError(`${here} leave a hole: data bytes [${prevEnd}, ${e.begin}) belong to no tensor`);
    }
    prev = e;
  }
  const covered = prev ? prev.end : 0;
  if (covered !== dataLength) {
    const last = prev ? ` (the last, tensor ${q(prev.name)}, ends at ${covered})` : " (there are no tensors)";
    throw new RangeError(
      `${fn}: data section has ${dataLength} bytes but the tensors cover ${covered}${last}; ` +
        `${dataLength - covered} trailing bytes belong to no tensor`,
    );
  }
}

/** Copies `count` elements of `dtype` starting at byte `start` of `u8` into a fresh Float32Array. */
function decode(u8: Uint8Array, start: number, dtype: string, count: number): Float32Array {
  const out = new Float32Array(count);
  if (count === 0) return out;
  const view = new DataView(u8.buffer, u8.byteOffset + start, (count * DTYPE_BITS.get(dtype)!) / 8);
  switch (dtype) {
    case "F32":
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(u8.subarray(start, start + 4 * count));
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case "F64": // rounded to nearest-even by the Float32Array store
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case "F16": {
      const bits = new Uint32Array(out.buffer); // host order for both writing and reading: consistent
      for (let i = 0; i < count; i++) bits[i] = f16BitsToF32Bits(view.getUint16(2 * i, true));
      break;
    }
    case "BF16": {
      const bits = new Uint32Array(out.buffer); // bf16 is the upper half of an f32
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      break;
    }
  }
  return out;
}

/**
 * IEEE binary16 bits → binary32 bits, exact. binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits.
 *   exp = 31:      ±Inf / NaN, fraction (payload) kept in the top fraction bits
 *   0 < exp < 31:  (1 + f/2^10)·2^(exp−15)  → f32 exponent exp − 15 + 127 = exp + 112
 *   exp = 0:       f·2^−24 (subnormal); shift f left until bit 10 is set, lowering the exponent once per shift
 */
function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let frac = h & 0x3ff;
  if (exp === 0x1f) return sign | 0x7f800000 | (frac << 13);
  if (exp !== 0) return sign | ((exp + 112) << 23) | (frac << 13);
  if (frac === 0) return sign;
  let e = 113; // f·2^−24 = (f/2^10)·2^−14 and 2^−14 has f32 exponent 113, once f is normalized to 1.x
  while ((frac & 0x400) === 0) {
    frac <<= 1;
    e--;
  }
  return sign | (e << 23) | ((frac & 0x3ff) << 13);
}

// ---- writer helpers -------------------------------------------------------------------------------------------

function checkTensorArg(fn: string, name: string, value: unknown): { name: string; data: Float32Array; shape: number[] } {
  const t = `${fn}: tensor ${q(name)}`;
  if (name === "") throw new RangeError(`${fn}: tensor names must be non-empty strings; got ""`);
  if (name === METADATA_KEY) throw new RangeError(`${t}: the name ${q(METADATA_KEY)} is reserved for the metadata`);
  if (!isWellFormed(name)) throw new RangeError(`${t}: name must be well-formed Unicode (it has a lone surrogate)`);
  if (typeof value !== "object" || value === null) {
    throw new TypeError(`${t} must be an object { data, shape }; got ${describe(value)}`);
  }
  const { data, shape } = value as Partial<NamedTensor>;
  if (!isFloat32Array(data)) throw new TypeError(`${t} data must be a Float32Array; got ${describe(data)}`);
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === "number")) {
    throw new TypeError(`${t} shape must be an array of numbers; got ${describe(shape)}`);
  }
  const bad = shape.findIndex((d) => !isCount(d));
  if (bad >= 0) {
    throw new RangeError(
      `${t} has shape ${fmtShape(shape)}; dims must be non-negative integers, got ${shape[bad]} at index ${bad}`,
    );
  }
  const count = shape.includes(0) ? 0 : shape.reduce((a, d) => a * d, 1);
  if (data.length !== count) {
    throw new RangeError(`${t} has shape ${fmtShape(shape)} (${count} elements) but data has length ${data.length}`);
  }
  return { name, data, shape: shape.slice() };
}

function checkMetadataArg(fn: string, metadata: unknown): [string, string][] {
  if (!isPlainObject(metadata)) {
    throw new TypeError(`${fn}: metadata must be an object of strings; got ${describe(metadata)}`);
  }
  const pairs: [string, string][] = [];
  for (const key of Object.keys(metadata).sort(compareCodePoints)) {
    const v = metadata[key];
    if (typeof v !== "string") throw new TypeError(`${fn}: metadata ${q(key)} must be a string; got ${describe(v)}`);
    if (!isWellFormed(key) || !isWellFormed(v)) {
      throw new RangeError(`${fn}: metadata ${q(key)} must be well-formed Unicode (it has a lone surrogate)`);
    }
    pairs.push([key, v]);
  }
  return pairs;
}

// ---- shared helpers -------------------------------------------------------------------------------------------

/** A JSON-quoted name, as in `tensor "out_proj.weight"`. */
function q(s: string): string {
  return JSON.stringify(s);
}

/** A non-negative safe integer: a valid dim, offset or usize. */
function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return Object.prototype.toString.call(x) === "[object Object]";
}

function isFloat32Array(x: unknown): x is Float32Array {
  return x instanceof Float32Array || (ArrayBuffer.isView(x) && Object.prototype.toString.call(x) === "[object Float32Array]");
}

/** No lone surrogates (String.prototype.isWellFormed, which is newer than ES2022). */
function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** Code point order, which is the byte order of UTF-8 and so the order of Rust's String::cmp. */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    if (ca > 0xffff) i++; // both strings hold the same surrogate pair here
  }
  return a.length - b.length;
}

/** Sets an own enumerable property, so names like "__proto__" stay data. */
function define<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Keeps messages short when a header holds something huge. */
function clip(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
