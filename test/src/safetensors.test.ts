// test/src/safetensors.test.ts ↔ src/safetensors.ts
// Round trips, exact bytes (hand-built files and the reference implementation's own test vectors), dtype
// conversions against hand-computed values, and one test per thrown error.
// Run: node --import tsx test/src/safetensors.test.ts
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as vm from "node:vm";
import fc from "fast-check";
import { readSafetensors, writeSafetensors, type NamedTensor } from "../../src/safetensors.js";

// ---- helpers --------------------------------------------------------------------------------------------------

const enc = new TextEncoder();

/** u64 LE header length, the header text (padded with `pad` spaces) and the data bytes. */
function file(header: string, data: ArrayLike<number> = [], pad = 0): Uint8Array {
  const h = enc.encode(header + " ".repeat(pad));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** One-tensor header: {"name":{"dtype":…,"shape":…,"data_offsets":…}}. */
function one(name: string, dtype: string, shape: unknown, offsets: unknown): string {
  return JSON.stringify({ [name]: { dtype, shape, data_offsets: offsets } });
}

/** Little-endian bytes of u16 values. */
function u16le(values: number[]): number[] {
  return values.flatMap((v) => [v & 0xff, v >>> 8]);
}

/** The f32 bit patterns of a Float32Array (exact, NaN payloads and −0 included). */
function bitsOf(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** Calls `f`, expecting a throw of exactly class `cls` whose message equals `msg` or matches it. */
function throws(f: () => unknown, cls: typeof TypeError | typeof RangeError, msg: string | RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected ${cls.name}, but nothing was thrown`);
  assert.ok((err as Error).constructor === cls, `expected ${cls.name}; got ${String(err)}`);
  const message = (err as Error).message;
  if (typeof msg === "string") assert.is(message, msg);
  else assert.match(message, msg);
}

const t = (data: number[], shape: number[]): NamedTensor => ({ data: new Float32Array(data), shape });

// ---- round trip -----------------------------------------------------------------------------------------------

test("round trip: shapes [3,17], [1], [], [0,4], [2,3] with metadata, bit-exact", () => {
  const big = Array.from({ length: 51 }, (_, i) => (i - 25) / 7);
  const special = [-0, Infinity, -Infinity, NaN, 2 ** -149, 3.4028234663852886e38];
  const tensors = {
    "b.weight": t(big, [3, 17]),
    a: t([1.5], [1]),
    scalar: t([-2.25], []),
    empty: t([], [0, 4]),
    "in_proj.bias": t(special, [2, 3]),
  };
  const metadata = { format: "pt", note: "é ✓ \"quoted\"\n" };
  const bytes = writeSafetensors(tensors, metadata);
  const back = readSafetensors(bytes);
  assert.equal(back.metadata, metadata);
  assert.equal(Object.keys(back.tensors), ["a", "b.weight", "empty", "in_proj.bias", "scalar"]);
  for (const [name, tensor] of Object.entries(tensors)) {
    assert.equal(back.tensors[name].shape, tensor.shape, name);
    assert.equal(bitsOf(back.tensors[name].data), bitsOf(tensor.data), name);
  }
  assert.is(back.tensors.scalar.data.length, 1);
  assert.is(back.tensors.empty.data.length, 0);
  assert.ok(Object.is(back.tensors["in_proj.bias"].data[0], -0));
});

test("round trip property: random names, shapes and float32 bits", () => {
  const tensorArb = fc
    .array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 })
    .chain((shape) =>
      fc
        .array(fc.integer({ min: 0, max: 0xffffffff }), {
          minLength: shape.reduce((a, d) => a * d, 1),
          maxLength: shape.reduce((a, d) => a * d, 1),
        })
        .map((bits) => ({ data: new Float32Array(new Uint32Array(bits).buffer), shape })),
    );
  const nameArb = fc.string({ minLength: 1, maxLength: 12, unit: "grapheme" }).filter((s) => s !== "__metadata__");
  fc.assert(
    fc.property(fc.dictionary(nameArb, tensorArb, { maxKeys: 6 }), (tensors) => {
      const bytes = writeSafetensors(tensors);
      assert.is((8 + new DataView(bytes.buffer).getUint32(0, true)) % 8, 0);
      const back = readSafetensors(bytes);
      assert.equal(Object.keys(back.tensors).sort(), Object.keys(tensors).sort());
      for (const name of Object.keys(tensors)) {
        assert.equal(back.tensors[name].shape, tensors[name].shape);
        assert.equal(bitsOf(back.tensors[name].data), bitsOf(tensors[name].data));
      }
    }),
    { numRuns: 200 },
  );
});

test("a tensor named __proto__ round-trips as an own property", () => {
  const tensors = JSON.parse('{"__proto__": 0}') as Record<string, NamedTensor>;
  tensors["__proto__"] = t([7], [1]); // own data property, set through JSON.parse's object
  const back = readSafetensors(writeSafetensors(tensors));
  assert.ok(Object.prototype.hasOwnProperty.call(back.tensors, "__proto__"));
  assert.is(Object.getPrototypeOf(back.tensors), Object.prototype);
  assert.equal(Array.from(back.tensors["__proto__"].data), [7]);
});

// ---- writer: exact bytes --------------------------------------------------------------------------------------

test("writer: reference vector attn0 [1,1,2,3] = 0..5 (safetensors test_serialization_forced_alignement)", () => {
  const bytes = writeSafetensors({ attn0: t([0, 1, 2, 3, 4, 5], [1, 1, 2, 3]) });
  // prettier-ignore
  const expected = [
    72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
    121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
    91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
    115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
    32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
    160, 64,
  ];
  assert.equal(Array.from(bytes), expected);
});

test("writer: reference vectors for an empty file, without and with metadata (test_empty)", () => {
  assert.equal(Array.from(writeSafetensors({})), [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
  // prettier-ignore
  const withMeta = [
    40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
    95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
    116, 34, 125, 125, 32, 32, 32, 32, 32,
  ];
  assert.equal(Array.from(writeSafetensors({}, { framework: "pt" })), withMeta);
  const back = readSafetensors(new Uint8Array(withMeta));
  assert.equal(back, { tensors: {}, metadata: { framework: "pt" } });
});

test("writer: metadata first (keys sorted), tensors in code point order, offsets back to back, 8-byte padding", () => {
  // UTF-16 order would put U+10000 (a surrogate pair, 0xD800…) before U+FF61; code point (UTF-8 byte) order doesn't
  const bytes = writeSafetensors(
    { "\u{10000}": t([4], [1]), "\uFF61": t([3], [1]), b: t([2, 2], [2]), B: t([1], []), a: t([], [0]) },
    { z: "1", a: "2" },
  );
  const n = new DataView(bytes.buffer).getUint32(0, true);
  assert.is(new DataView(bytes.buffer).getUint32(4, true), 0);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const json =
    '{"__metadata__":{"a":"2","z":"1"},' +
    '"B":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
    '"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},' +
    '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},' +
    '"\uFF61":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},' +
    '"\u{10000}":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}';
  const jsonBytes = enc.encode(json).length;
  assert.is(n, Math.ceil(jsonBytes / 8) * 8);
  assert.is(text, json + " ".repeat(n - jsonBytes));
  assert.is(bytes.length, 8 + n + 20);
  assert.equal(Array.from(new Float32Array(bytes.slice(8 + n).buffer)), [1, 2, 2, 3, 4]);
});

// ---- reader: hand-built files and conversions ------------------------------------------------------------------

test("reader: hand-built F32 file with padded header and metadata", () => {
  const header =
    '{"__metadata__":{"format":"pt"},' +
    '"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},' +
    '"b":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}}';
  // prettier-ignore
  const data = [
    0x00, 0x00, 0x80, 0x3f,   //  1
    0x00, 0x00, 0x20, 0xc0,   // -2.5
    0xcd, 0xcc, 0xcc, 0x3d,   //  0.1f = 0x3DCCCCCD
    0x00, 0x00, 0x80, 0x7f,   //  Inf
    0x01, 0x00, 0x00, 0x80,   // -2^-149
  ];
  const { tensors, metadata } = readSafetensors(file(header, data, 8 - ((header.length + 8) % 8)));
  assert.equal(metadata, { format: "pt" });
  assert.equal(Object.keys(tensors), ["w", "b"]);
  assert.equal(tensors.w.shape, [2, 2]);
  assert.equal(Array.from(tensors.w.data), [1, -2.5, 0.10000000149011612, Infinity]);
  assert.equal(tensors.b.shape, [1]);
  assert.equal(Array.from(tensors.b.data), [-(2 ** -149)]);
});

test("reader: F16 → F32 exactly (zeros, subnormals, normals, max, ±Inf, NaN)", () => {
  const halves = [
    [0x0000, 0],
    [0x8000, -0],
    [0x0001, 2 ** -24], // smallest subnormal
    [0x0002, 2 ** -23],
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x3c00, 1],
    [0x3c01, 1 + 2 ** -10],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  const nans = [0x7e00, 0xfe00, 0x7c01, 0x7fff];
  const all = [...halves.map(([h]) => h), ...nans];
  const { tensors } = readSafetensors(file(one("h", "F16", [all.length], [0, 2 * all.length]), u16le(all)));
  const got = tensors.h.data;
  halves.forEach(([h, v], i) => assert.ok(Object.is(got[i], v), `0x${h.toString(16)}: got ${got[i]}, want ${v}`));
  const bits = bitsOf(got);
  assert.is(bits[halves.length], 0x7fc00000); // quiet NaN, payload kept
  assert.is(bits[halves.length + 1], 0xffc00000);
  assert.is(bits[halves.length + 2], 0x7f802000);
  assert.is(bits[halves.length + 3], 0x7fffe000);
});

test("reader: BF16 → F32 is the upper 16 bits", () => {
  const pairs = [
    [0x3f80, 1],
    [0x4049, 3.140625],
    [0xc049, -3.140625],
    [0x8000, -0],
    [0x0001, 2 ** -133], // bf16 subnormal: f32 bits 0x00010000
    [0x7f7f, 3.3895313892515355e38], // largest finite bf16
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];
  const all = [...pairs.map(([h]) => h), 0x7fc0];
  const { tensors } = readSafetensors(file(one("x", "BF16", [3, 3], [0, 18]), u16le(all)));
  assert.equal(tensors.x.shape, [3, 3]);
  pairs.forEach(([h, v], i) => assert.ok(Object.is(tensors.x.data[i], v), `0x${h.toString(16)}: ${tensors.x.data[i]}`));
  assert.is(bitsOf(tensors.x.data)[8], 0x7fc00000);
});

test("reader: F64 → F32 rounds to nearest-even, overflows to ±Inf, underflows to ±0", () => {
  const pairs = [
    [1, 1],
    [0.1, 0.10000000149011612],
    [1 + 2 ** -24, 1], // tie → even (1)
    [1 + 3 * 2 ** -24, 1 + 2 ** -22], // tie → even (1 + 2·2^-23)
    [1e39, Infinity],
    [-1e39, -Infinity],
    [3 * 2 ** -150, 2 ** -148], // subnormal tie → even
    [2 ** -150, 0], // tie between 0 and 2^-149 → 0
    [-1e-50, -0],
    [NaN, NaN],
  ];
  const dv = new DataView(new ArrayBuffer(8 * pairs.length));
  pairs.forEach(([v], i) => dv.setFloat64(8 * i, v, true));
  const { tensors } = readSafetensors(
    file(one("d", "F64", [pairs.length], [0, 8 * pairs.length]), new Uint8Array(dv.buffer)),
  );
  pairs.forEach(([v, want], i) => assert.ok(Object.is(tensors.d.data[i], want), `${v}: got ${tensors.d.data[i]}`));
});

test("reader: unaligned data section (file offset ≡ 3 mod 4, and odd byteOffset) for F32, F16 and F64", () => {
  const header =
    '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},' +
    '"d":{"dtype":"F64","shape":[1],"data_offsets":[10,18]}}';
  const data = new Uint8Array(18);
  const dv = new DataView(data.buffer);
  dv.setFloat32(0, 1.25, true);
  dv.setFloat32(4, -3.5, true);
  dv.setUint16(8, 0xbc00, true); // -1
  dv.setFloat64(10, 0.5, true);
  const pad = (3 - ((8 + header.length) % 4) + 4) % 4;
  const f = file(header, data, pad);
  assert.is((f.length - 18) % 4, 3); // the data section starts at an offset ≡ 3 (mod 4)
  const shifted = new Uint8Array(f.length + 1);
  shifted.set(f, 1);
  for (const input of [f, shifted.subarray(1), f.slice().buffer]) {
    const { tensors } = readSafetensors(input);
    assert.equal(Array.from(tensors.a.data), [1.25, -3.5]);
    assert.equal(Array.from(tensors.h.data), [-1]);
    assert.equal(Array.from(tensors.d.data), [0.5]);
  }
});

test("reader: input bytes are not modified and results do not alias them", () => {
  const bytes = writeSafetensors({ x: t([1, 2, 3], [3]), y: t([4], [1]) });
  const copy = bytes.slice();
  const { tensors } = readSafetensors(bytes);
  assert.equal(Array.from(bytes), Array.from(copy));
  assert.ok(tensors.x.data.buffer !== bytes.buffer && tensors.y.data.buffer !== bytes.buffer);
  assert.ok(tensors.x.data.buffer !== tensors.y.data.buffer);
  tensors.x.data[0] = 99;
  assert.equal(Array.from(bytes), Array.from(copy));
  bytes.fill(0, bytes.length - 16);
  assert.equal(Array.from(tensors.x.data), [99, 2, 3]);
  assert.equal(Array.from(tensors.y.data), [4]);
});

test("writer: inputs are not modified and the result does not alias them", () => {
  const data = new Float32Array([1, 2, 3, 4]);
  const shape = [2, 2];
  const metadata = { format: "pt" };
  const bytes = writeSafetensors({ w: { data, shape } }, metadata);
  assert.equal(Array.from(data), [1, 2, 3, 4]);
  assert.equal(shape, [2, 2]);
  assert.equal(metadata, { format: "pt" });
  data[0] = 42;
  assert.is(readSafetensors(bytes).tensors.w.data[0], 1);
  // a subarray view writes only its own elements
  const big = new Float32Array([9, 8, 7, 6]);
  assert.equal(Array.from(readSafetensors(writeSafetensors({ v: { data: big.subarray(1, 3), shape: [2] } })).tensors.v.data), [8, 7]);
});

test("reader: options.names selects tensors, and excluded ones may have other dtypes", () => {
  const header =
    '{"__metadata__":{"format":"pt"},' +
    '"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
    '"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[16,19]},' +
    '"packed":{"dtype":"F4","shape":[2],"data_offsets":[19,20]},' +
    '"w":{"dtype":"F32","shape":[1],"data_offsets":[20,24]}}';
  const data = new Uint8Array(24);
  new DataView(data.buffer).setFloat32(20, 0.75, true);
  const seen: string[] = [];
  const { tensors, metadata } = readSafetensors(file(header, data), {
    names: (name) => (seen.push(name), name === "w"),
  });
  assert.equal(seen, ["ids", "mask", "packed", "w"]);
  assert.equal(Object.keys(tensors), ["w"]);
  assert.equal(Array.from(tensors.w.data), [0.75]);
  assert.equal(metadata, { format: "pt" });
  throws(
    () => readSafetensors(file(header, data)),
    TypeError,
    'readSafetensors: tensor "ids" has dtype I64; only F32, F16, BF16, F64 can be read (leave it out with options.names)',
  );
  throws(() => readSafetensors(file(header, data), { names: (n) => n === "mask" }), TypeError, /tensor "mask" has dtype BOOL/);
});

test("reader: header may have leading whitespace, trailing spaces, null metadata and no tensors", () => {
  assert.equal(readSafetensors(file(' {"__metadata__":null}', [], 10)), { tensors: {}, metadata: {} });
  assert.equal(readSafetensors(file("{}")), { tensors: {}, metadata: {} });
});

test("reader and writer accept another realm's Uint8Array, ArrayBuffer and Float32Array (arrays made by node:vm in a new context)", () => {
  const bytes = writeSafetensors({ w: t([1.5, -2], [2]) });
  const other = vm.runInNewContext("({ u8: new Uint8Array(n), f32: new Float32Array([3, 4]) })", { n: bytes.length });
  assert.not.ok(other.u8 instanceof Uint8Array);
  other.u8.set(bytes);
  for (const input of [other.u8.subarray(0), other.u8.buffer]) {
    assert.equal(Array.from(readSafetensors(input).tensors.w.data), [1.5, -2]);
  }
  const shifted = vm.runInNewContext("new Uint8Array(n + 3)", { n: bytes.length });
  shifted.set(bytes, 3);
  assert.equal(Array.from(readSafetensors(shifted.subarray(3)).tensors.w.data), [1.5, -2]);
  assert.equal(Array.from(readSafetensors(writeSafetensors({ v: { data: other.f32, shape: [2] } })).tensors.v.data), [3, 4]);
});

// ---- reader errors --------------------------------------------------------------------------------------------

test("reader throws TypeError: bytes not a Uint8Array or ArrayBuffer", () => {
  throws(() => readSafetensors("abc" as never), TypeError, 'readSafetensors: bytes must be a Uint8Array or ArrayBuffer; got "abc"');
  throws(() => readSafetensors(new Float32Array(4) as never), TypeError, /got a Float32Array\(4\)$/);
  throws(() => readSafetensors(null as never), TypeError, /got null$/);
});

test("reader throws TypeError: options.names not a function", () => {
  throws(() => readSafetensors(file("{}"), { names: "w" as never }), TypeError, /options\.names must be a function .*; got "w"/);
  throws(() => readSafetensors(file("{}"), null as never), TypeError, "readSafetensors: options must be an object; got null");
});

test("reader throws RangeError: fewer than 8 bytes", () => {
  throws(() => readSafetensors(new Uint8Array(7)), RangeError, "readSafetensors: bytes must hold at least 8 bytes (the u64 header length N); got 7");
  throws(() => readSafetensors(new ArrayBuffer(0)), RangeError, /got 0$/);
});

test("reader throws RangeError: header length beyond 100 MB", () => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(0, 100_000_001, true);
  throws(() => readSafetensors(b), RangeError, "readSafetensors: header length N must be at most 100000000 bytes; got 100000001");
  b.fill(0xff, 0, 8);
  throws(() => readSafetensors(b), RangeError, /got 18446744073709551615$/);
});

test("reader throws RangeError: header length beyond the file", () => {
  const b = file("{} "); // N = 3, 11 bytes
  assert.equal(readSafetensors(b).tensors, {});
  throws(() => readSafetensors(b.subarray(0, 10)), RangeError, "readSafetensors: header length N = 3 needs 8 + 3 = 11 bytes; got 10");
});

test("reader throws TypeError: header not UTF-8", () => {
  const b = file('{"\u00e9":1}');
  b[10] = 0xff; // first byte of é becomes invalid
  throws(() => readSafetensors(b), TypeError, /^readSafetensors: header \(bytes 8 to \d+\) is not valid UTF-8$/);
});

test("reader throws TypeError: header not JSON (truncated, NUL padding, empty, BOM)", () => {
  throws(() => readSafetensors(file('{"a":')), TypeError, /^readSafetensors: header is not valid JSON \(.*\): \{"a":$/);
  throws(() => readSafetensors(file("{}\0\0\0\0\0\0")), TypeError, /header is not valid JSON/);
  throws(() => readSafetensors(file("")), TypeError, /header is not valid JSON/);
  throws(() => readSafetensors(file("\uFEFF{}")), TypeError, /header is not valid JSON/);
});

test("reader throws TypeError: header not an object", () => {
  throws(() => readSafetensors(file("[]")), TypeError, "readSafetensors: header must be a JSON object; got an Array(0)");
  throws(() => readSafetensors(file("null")), TypeError, /got null$/);
  throws(() => readSafetensors(file("12")), TypeError, /got 12$/);
  throws(() => readSafetensors(file('"x"')), TypeError, /got "x"$/);
});

test("reader throws TypeError: __metadata__ not an object of strings", () => {
  throws(() => readSafetensors(file('{"__metadata__":["pt"]}')), TypeError, 'readSafetensors: __metadata__ must be an object of strings; got an Array(1)');
  throws(() => readSafetensors(file('{"__metadata__":{"epoch":3}}')), TypeError, 'readSafetensors: __metadata__ entry "epoch" must be a string; got 3');
});

test("reader throws TypeError: entry not an object", () => {
  throws(() => readSafetensors(file('{"w":[1,2]}')), TypeError, 'readSafetensors: tensor "w" must be an object { dtype, shape, data_offsets }; got an Array(2)');
  throws(() => readSafetensors(file('{"w":null}')), TypeError, /tensor "w" must be an object .*; got null$/);
});

test("reader throws TypeError: dtype missing, not a string, unknown", () => {
  throws(() => readSafetensors(file('{"w":{"shape":[],"data_offsets":[0,4]}}', [0, 0, 0, 0])), TypeError, 'readSafetensors: tensor "w" dtype must be a string; got undefined');
  throws(() => readSafetensors(file(one("w", 32 as never, [], [0, 4]), [0, 0, 0, 0])), TypeError, /tensor "w" dtype must be a string; got 32$/);
  throws(() => readSafetensors(file(one("w", "f32", [], [0, 4]), [0, 0, 0, 0])), TypeError, /^readSafetensors: tensor "w" has unknown dtype "f32"; expected one of BOOL, F4, .*F32/);
  // unknown dtypes cannot be sized, so they fail even when excluded
  throws(() => readSafetensors(file(one("w", "toString", [], [0, 4]), [0, 0, 0, 0]), { names: () => false }), TypeError, /tensor "w" has unknown dtype "toString"/);
});

test("reader throws TypeError: shape missing or not an array of numbers", () => {
  throws(() => readSafetensors(file('{"w":{"dtype":"F32","data_offsets":[0,4]}}', [0, 0, 0, 0])), TypeError, 'readSafetensors: tensor "w" shape must be an array of numbers; got undefined');
  throws(() => readSafetensors(file(one("w", "F32", ["1"], [0, 4]), [0, 0, 0, 0])), TypeError, /tensor "w" shape must be an array of numbers; got an Array\(1\)$/);
  throws(() => readSafetensors(file(one("w", "F32", 1, [0, 4]), [0, 0, 0, 0])), TypeError, /got 1$/);
});

test("reader throws RangeError: negative, fractional or unsafe dims", () => {
  throws(() => readSafetensors(file(one("w", "F32", [2, -1], [0, 0]))), RangeError, 'readSafetensors: tensor "w" has shape [2, -1]; dims must be non-negative integers, got -1 at index 1');
  throws(() => readSafetensors(file(one("w", "F32", [0.5], [0, 0]))), RangeError, /tensor "w" has shape \[0\.5\]; .* got 0\.5 at index 0$/);
  throws(() => readSafetensors(file(one("w", "F32", [2 ** 53, 0], [0, 0]))), RangeError, /got 9007199254740992 at index 0$/);
});

test("reader throws TypeError/RangeError: data_offsets ill-typed, wrong length, negative, fractional", () => {
  const z = [0, 0, 0, 0];
  throws(() => readSafetensors(file('{"w":{"dtype":"F32","shape":[1]}}', z)), TypeError, 'readSafetensors: tensor "w" data_offsets must be an array [begin, end] of numbers; got undefined');
  throws(() => readSafetensors(file(one("w", "F32", [1], ["0", "4"]), z)), TypeError, /tensor "w" data_offsets must be an array/);
  throws(() => readSafetensors(file(one("w", "F32", [1], [0, 4, 8]), z)), RangeError, 'readSafetensors: tensor "w" data_offsets must have 2 entries [begin, end]; got 3');
  throws(() => readSafetensors(file(one("w", "F32", [1], [-4, 0]), z)), RangeError, 'readSafetensors: tensor "w" data_offsets [-4, 0] must be non-negative integers');
  throws(() => readSafetensors(file(one("w", "F32", [1], [0, 4.5]), z)), RangeError, /tensor "w" data_offsets \[0, 4\.5\] must be non-negative integers$/);
});

test("reader throws RangeError: end < begin, end beyond the data section", () => {
  throws(() => readSafetensors(file(one("w", "F32", [1], [4, 0]), [0, 0, 0, 0])), RangeError, 'readSafetensors: tensor "w" data_offsets [4, 0] end must be ≥ begin');
  throws(() => readSafetensors(file(one("w", "F32", [2], [0, 8]), [0, 0, 0, 0])), RangeError, 'readSafetensors: tensor "w" data_offsets [0, 8] end beyond the 4-byte data section');
  throws(() => readSafetensors(file(one("w", "F32", [1], [2 ** 60, 2 ** 60 + 4]), [0, 0, 0, 0])), RangeError, `readSafetensors: tensor "w" data_offsets [${2 ** 60}, ${2 ** 60 + 4}] must be non-negative integers`);
});

test("reader throws RangeError: byte length ≠ product(shape) · item size", () => {
  throws(
    () => readSafetensors(file(one("out_proj.weight", "F32", [4, 4], [0, 60]), new Uint8Array(60))),
    RangeError,
    'readSafetensors: tensor "out_proj.weight" has shape [4, 4] (16 × 4 bytes = 64) but data_offsets span 60 bytes',
  );
  throws(() => readSafetensors(file(one("h", "F16", [], [0, 4]), new Uint8Array(4))), RangeError, 'readSafetensors: tensor "h" has shape [] (1 × 2 bytes = 2) but data_offsets span 4 bytes');
  throws(() => readSafetensors(file(one("e", "F32", [0, 4], [0, 4]), new Uint8Array(4))), RangeError, /tensor "e" has shape \[0, 4\] \(0 × 4 bytes = 0\) but data_offsets span 4 bytes$/);
  throws(() => readSafetensors(file(one("p", "F4", [4], [0, 1]), new Uint8Array(1)), { names: () => false }), RangeError, 'readSafetensors: tensor "p" has shape [4] (4 × 4 bits = 2 bytes) but data_offsets span 1 bytes');
  throws(() => readSafetensors(file(one("p", "F4", [3], [0, 1]), new Uint8Array(1)), { names: () => false }), RangeError, 'readSafetensors: tensor "p" has shape [3] (3 × 4 bits = 12 bits), not whole bytes');
  const huge = [2 ** 40, 2 ** 40, 2 ** 40];
  throws(() => readSafetensors(file(one("w", "F32", huge, [0, 4]), new Uint8Array(4))), RangeError, /tensor "w" has shape \[1099511627776, 1099511627776, 1099511627776\] \(.* × 4 bytes = .*\) but data_offsets span 4 bytes$/);
});

test("reader throws RangeError: overlapping tensors", () => {
  const header =
    '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},' +
    '"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}';
  throws(() => readSafetensors(file(header, new Uint8Array(16))), RangeError, 'readSafetensors: tensor "b" data_offsets [8, 16] overlap tensor "a" data_offsets [0, 12]');
  const empty = '{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}';
  throws(() => readSafetensors(file(empty, new Uint8Array(12))), RangeError, /tensor "z" data_offsets \[4, 4\] overlap tensor "a"/);
});

test("reader throws RangeError: holes and trailing bytes in the data section", () => {
  const hole =
    '{"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
    '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  throws(() => readSafetensors(file(hole, new Uint8Array(12))), RangeError, 'readSafetensors: tensor "b" data_offsets [8, 12] leave a hole: data bytes [4, 8) belong to no tensor');
  throws(() => readSafetensors(file(one("w", "F32", [1], [4, 8]), new Uint8Array(8))), RangeError, /tensor "w" data_offsets \[4, 8\] leave a hole: data bytes \[0, 4\)/);
  throws(
    () => readSafetensors(file(one("w", "F32", [1], [0, 4]), new Uint8Array(6))),
    RangeError,
    'readSafetensors: data section has 6 bytes but the tensors cover 4 (the last, tensor "w", ends at 4); 2 trailing bytes belong to no tensor',
  );
  throws(() => readSafetensors(file("{}", [1])), RangeError, /data section has 1 bytes but the tensors cover 0 \(there are no tensors\)/);
});

test("reader: corrupted files throw only TypeError or RangeError (truncation and byte flips)", () => {
  const good = writeSafetensors({ a: t([1, 2, 3], [3]), "b.c": t([4, 5], [1, 2]) }, { format: "pt" });
  fc.assert(
    fc.property(
      fc.nat(good.length),
      fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      (cut, flips) => {
        const b = good.slice(0, cut);
        for (const [i, v] of flips) if (i < b.length) b[i] = v;
        try {
          readSafetensors(b);
        } catch (e) {
          assert.ok(e instanceof TypeError || e instanceof RangeError, String(e));
          assert.match((e as Error).message, /^readSafetensors: /);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

// ---- writer errors --------------------------------------------------------------------------------------------

test("writer throws TypeError: tensors not a plain object", () => {
  throws(() => writeSafetensors(null as never), TypeError, "writeSafetensors: tensors must be an object mapping names to { data, shape }; got null");
  throws(() => writeSafetensors([] as never), TypeError, /got an Array\(0\)$/);
  throws(() => writeSafetensors(new Map() as never), TypeError, /got a Map$/);
});

test("writer throws TypeError: tensor not an object, data not a Float32Array, shape not numbers", () => {
  throws(() => writeSafetensors({ w: 3 as never }), TypeError, 'writeSafetensors: tensor "w" must be an object { data, shape }; got 3');
  throws(() => writeSafetensors({ w: { data: [1, 2] as never, shape: [2] } }), TypeError, 'writeSafetensors: tensor "w" data must be a Float32Array; got an Array(2)');
  throws(() => writeSafetensors({ w: { data: new Float64Array(2) as never, shape: [2] } }), TypeError, /tensor "w" data must be a Float32Array; got a Float64Array\(2\)$/);
  throws(() => writeSafetensors({ w: { data: new Float32Array(2), shape: "2" as never } }), TypeError, 'writeSafetensors: tensor "w" shape must be an array of numbers; got "2"');
  throws(() => writeSafetensors({ w: { data: new Float32Array(2), shape: ["2"] as never } }), TypeError, /tensor "w" shape must be an array of numbers; got an Array\(1\)$/);
});

test("writer throws RangeError: negative, fractional, NaN dims", () => {
  throws(() => writeSafetensors({ w: { data: new Float32Array(0), shape: [-1, 0] } }), RangeError, 'writeSafetensors: tensor "w" has shape [-1, 0]; dims must be non-negative integers, got -1 at index 0');
  throws(() => writeSafetensors({ w: { data: new Float32Array(1), shape: [1, 1.5] } }), RangeError, /got 1\.5 at index 1$/);
  throws(() => writeSafetensors({ w: { data: new Float32Array(1), shape: [NaN] } }), RangeError, /got NaN at index 0$/);
});

test("writer throws RangeError: data length ≠ product(shape)", () => {
  throws(() => writeSafetensors({ "q_proj.weight": t(new Array(15).fill(0), [4, 4]) }), RangeError, 'writeSafetensors: tensor "q_proj.weight" has shape [4, 4] (16 elements) but data has length 15');
  throws(() => writeSafetensors({ s: t([], []) }), RangeError, 'writeSafetensors: tensor "s" has shape [] (1 elements) but data has length 0');
});

test("writer throws RangeError: empty, reserved or ill-formed names", () => {
  throws(() => writeSafetensors({ "": t([1], [1]) }), RangeError, 'writeSafetensors: tensor names must be non-empty strings; got ""');
  throws(() => writeSafetensors({ __metadata__: t([1], [1]) }), RangeError, 'writeSafetensors: tensor "__metadata__": the name "__metadata__" is reserved for the metadata');
  throws(() => writeSafetensors({ "a\uD800": t([1], [1]) }), RangeError, 'writeSafetensors: tensor "a\\ud800": name must be well-formed Unicode (it has a lone surrogate)');
});

test("writer throws TypeError/RangeError: metadata not an object of well-formed strings", () => {
  throws(() => writeSafetensors({}, null as never), TypeError, "writeSafetensors: metadata must be an object of strings; got null");
  throws(() => writeSafetensors({}, ["pt"] as never), TypeError, /metadata must be an object of strings; got an Array\(1\)$/);
  throws(() => writeSafetensors({}, { epoch: 3 } as never), TypeError, 'writeSafetensors: metadata "epoch" must be a string; got 3');
  throws(() => writeSafetensors({}, { note: "\uDC00" }), RangeError, 'writeSafetensors: metadata "note" must be well-formed Unicode (it has a lone surrogate)');
});

test("writer: a bad later tensor throws and nothing is returned", () => {
  let result: Uint8Array | undefined;
  throws(() => (result = writeSafetensors({ a: t([1], [1]), z: t([1, 2], [1]) })), RangeError, /tensor "z" has shape \[1\] \(1 elements\) but data has length 2$/);
  assert.is(result, undefined);
});

test.run();
