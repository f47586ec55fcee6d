// Fuzz (issue #5): thousands of seeded random malformed calls to every public function and option. Each case
// starts from a valid call (small random sizes) and applies 0–3 random mutations: non-tensors, plain arrays,
// Float64Array/Int32Array data, wrong lengths, negative/fractional/NaN/string/huge dims, rank too low,
// mismatched dims, masks that don't broadcast or of other data types, non-finite scales, non-boolean flags,
// unknown option names, bad MultiHeadAttention configs, wrong weight sizes, use after dispose, foreign and
// overflowing caches. An independent spec of the README's contract (below) says whether the arguments are
// valid; then:
//   valid   → the call returns, and the result equals the float64 reference;
//   invalid → the call throws TypeError or RangeError (the class the contract names, when one thing is
//             wrong), with a message starting "<function>:"; never WebAssembly.RuntimeError or another class.
// Always: the WASM heap is back where it was (memoryStats().inUse), no call takes long (sizes are bounded),
// and a normal call still gives correct results. Failures are collected by kind and printed with repro text.
// Also here: 10 000 mixed calls keep the memory bounded, and regression tests for what the fuzz found.
// Run: WASM_ATTENTION_BUILD=debug node --import tsx scripts/uvu-run.mjs test/src/fuzz.test.ts
/* Arguments here are malformed on purpose, so they are typed `any`. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertClose, assertRowsClose, randBytes, randn, rng } from "../helpers.js";
import { refMha, type RefMhaWeights } from "../reference.js";
import { stillWorks } from "../support.js";
import {
  KVCache, MultiHeadAttention, buildInfo, initSync, init, matmul, memoryStats, readSafetensors, scaledDotProductAttention as sdpa, softmax, writeSafetensors,
  type Tensor,
} from "../../src/index.js";
import {
  heapInUse, model, prod, refForward, refMatmulCall, refSdpaCall, refSoftmaxCall, runFresh, tensor, type MhaCfg, type Model,
} from "./reliability-support.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
type Rand = () => number;
const RTOL = 1e-5;

// ---- the contract, written independently of src/validate.ts ----------------------------------------------------

/** Why the arguments are invalid, and the error class the README names ("either": it names none). */
class Invalid {
  constructor(readonly cls: "TypeError" | "RangeError" | "either", readonly why: string) {}
}
const T = (why: string): never => { throw new Invalid("TypeError", why); };
const R = (why: string): never => { throw new Invalid("RangeError", why); };

function specShape(shape: Any, what: string): number[] {
  if (!Array.isArray(shape)) T(`${what}.shape not an array`);
  const s: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== "number") T(`${what}.shape[${i}] not a number`);
    if (!Number.isSafeInteger(d) || d < 0) R(`${what}.shape[${i}] = ${d}`);
    s.push(d);
  }
  return s;
}

function specTensor(t: Any, what: string, minRank: number): { data: Float32Array; shape: number[] } {
  if (typeof t !== "object" || t === null) T(`${what} not an object`);
  if (!(t.data instanceof Float32Array)) T(`${what}.data not a Float32Array`);
  const shape = specShape(t.shape, what);
  if (shape.length < minRank) R(`${what} rank ${shape.length} < ${minRank}`);
  if (t.data.length !== prod(shape)) R(`${what}.data length ${t.data.length} ≠ ${prod(shape)}`);
  return { data: t.data, shape };
}

function specMask(m: Any, what: string, target: number[]): void {
  if (typeof m !== "object" || m === null) T(`${what} not an object`);
  if (!(m.data instanceof Uint8Array || m.data instanceof Float32Array)) T(`${what}.data neither Uint8Array nor Float32Array`);
  const s = specShape(m.shape, what);
  if (m.data.length !== prod(s)) R(`${what}.data length`);
  if (s.length > target.length || s.some((d, i) => d !== 1 && d !== target[target.length - s.length + i])) R(`${what} [${s}] does not broadcast to [${target}]`);
}

function specOptions(o: Any, known: string[]): Record<string, Any> {
  if (o === undefined) return {};
  if (typeof o !== "object" || o === null || Array.isArray(o)) T("options not an object");
  for (const k of Object.keys(o)) if (!known.includes(k)) T(`unknown option ${JSON.stringify(k)}`);
  return o;
}

const specBool = (v: Any, what: string): void => { if (v !== undefined && typeof v !== "boolean") T(`${what} not a boolean`); };

function specInt(v: Any, what: string, min: number, optional: boolean): void {
  if (v === undefined && optional) return;
  if (typeof v !== "number") T(`${what} not a number`);
  if (!Number.isSafeInteger(v) || v < min) R(`${what} = ${v}`);
}

/** Runs a spec: null when valid, else the Invalid it threw. */
function spec(f: () => void): Invalid | null {
  try { f(); return null; } catch (e) { if (e instanceof Invalid) return e; throw e; }
}

// ---- random malformed values ------------------------------------------------------------------------------

const pick = <X>(rand: Rand, xs: readonly X[]): X => xs[Math.floor(rand() * xs.length)];
const int = (rand: Rand, lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));

/** Values that are not what any argument wants (a few are valid for some: the spec decides). */
function junk(rand: Rand): Any {
  return pick(rand, [
    () => undefined, () => null, () => 0, () => 1, () => -1, () => 1.5, () => NaN, () => Infinity, () => "3", () => "", () => true, () => false,
    () => ({}), () => [], () => [1, 2], () => 3n, () => Symbol("s"), () => () => 1, () => new Float64Array(4), () => new Float32Array(3),
    () => new Int32Array(4), () => new Uint8Array(4), () => new Uint8ClampedArray(4), () => new DataView(new ArrayBuffer(8)),
    () => new ArrayBuffer(8), () => Object.create(null), () => new Map(), () => new Date(0),
  ])();
}

/** Dims that are not non-negative safe integers, or are but are far too large, or are edge-valid (0, −0). */
const DIM_JUNK: Any[] = [-1, -0, 0, 1.5, NaN, Infinity, -Infinity, "3", null, undefined, true, 3n, [3], {}, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 53 - 1, 1e300];
const FLAG_JUNK: Any[] = [1, 0, "true", "false", null, NaN, {}, [], new Boolean(true)];
const UNKNOWN_KEYS = ["casual", "Causal", "weights", "masks", "scale ", "returnweights", "__proto__", "constructor", "transposeC", "cache2", "needweights"];

/** Sets an own property even for "__proto__". */
function setOwn(o: Any, key: string, value: Any): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}

/** A malformed (or occasionally still valid, differently shaped) version of tensor t. */
function mutateTensor(rand: Rand, t: Tensor): [Any, string] {
  try { return mutateTensorOnce(rand, t); } catch { const j = junk(rand); return [j, `→ ${describeValue(j)}`]; }   // t already too odd to edit (a BigInt dim)
}

function mutateTensorOnce(rand: Rand, t: Tensor): [Any, string] {
  if (typeof t !== "object" || t === null || !(t.data instanceof Float32Array) || !Array.isArray(t.shape)) { const j = junk(rand); return [j, `→ ${describeValue(j)}`]; }
  const data = t.data, shape = [...t.shape];
  const i = shape.length ? int(rand, 0, shape.length - 1) : 0;
  switch (int(rand, 0, 15)) {
    case 0: { const j = junk(rand); return [j, `→ ${describeValue(j)}`]; }
    case 1: return [{ data: Float64Array.from(data), shape }, "data Float64Array"];
    case 2: return [{ data: Array.from(data), shape }, "data plain Array"];
    case 3: return [{ data: (pick(rand, [Int32Array, Uint8Array, Int8Array, Uint16Array, Float64Array]) as Any).from(data), shape }, "data other typed array"];
    case 4: return [{ data: rand() < 0.5 ? data.subarray(1) : Float32Array.from([...data, 0]), shape }, "data length ±1"];
    case 5: { const d = pick(rand, DIM_JUNK); shape[i] = d; return [{ data, shape }, `shape[${i}] = ${describeValue(d)}`]; }
    case 6: return [{ data, shape: shape.slice(1) }, "rank − 1"];
    case 7: return [{ data, shape: [1, ...shape] }, "leading 1 added"];
    case 8: return [{ data, shape: [data.length] }, "flattened to rank 1"];
    case 9: { const s = shape.slice(); const n = s.length; if (n >= 2) [s[n - 1], s[n - 2]] = [s[n - 2], s[n - 1]]; return [{ data, shape: s }, "last two dims swapped"]; }
    case 10: { shape[i] = (shape[i] as number) + (rand() < 0.5 ? 1 : -1); return [{ data, shape }, `shape[${i}] ± 1`]; }
    case 11: { const j = pick(rand, ["3,4", 12, null, undefined, { length: 2, 0: 1, 1: 1 }, Int32Array.from(shape)]); return [{ data, shape: j }, `shape ${describeValue(j)}`]; }
    case 12: { const big = new Float32Array(data.length + 3); big.set(data, 1); return [{ data: big.subarray(1, 1 + data.length), shape }, "data a subarray view (valid)"]; }
    case 13: { const o = Object.create(null); o.data = data; o.shape = shape; return [o, "a prototype-less object (valid)"]; }
    case 14: return [Object.freeze({ data, shape: Object.freeze(shape), dtype: "float32" }), "frozen, extra key (valid)"];
    default: { const s = shape.slice(); delete (s as Any)[i]; return [{ data, shape: s }, `shape[${i}] a hole`]; }
  }
}

function describeValue(v: Any): string {
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "symbol") return "Symbol";
  if (typeof v === "function") return "a function";
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Any).length ?? (v as DataView).byteLength})`;
  if (v instanceof ArrayBuffer) return "ArrayBuffer";
  if (Array.isArray(v)) return `[${v.map(describeValue).join(", ")}]`;
  if (v === null) return "null";
  if (typeof v === "object") return v.constructor ? v.constructor.name : "Object.create(null)";
  if (Object.is(v, -0)) return "-0";
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/** A random (possibly malformed) mask for target [..., L, S]. */
function randomMask(rand: Rand, target: number[]): [Any, string] {
  const r = int(rand, 0, target.length);
  const shape = target.slice(target.length - r).map((d) => (rand() < 0.4 ? 1 : d));
  const n = prod(shape);
  const additive = (): Float32Array => { const x = randn(rand, n, -3, 3); for (let i = 0; i < n; i++) if (rand() < 0.2) x[i] = -Infinity; return x; };
  switch (int(rand, 0, 10)) {
    case 0: return [{ data: randBytes(rand, n, 0.7), shape }, `bool mask [${shape}]`];
    case 1: return [{ data: additive(), shape }, `additive mask [${shape}]`];
    case 2: return [{ data: (pick(rand, [Int8Array, Float64Array, Uint8ClampedArray, Int32Array, Uint16Array]) as Any).from(randBytes(rand, n)), shape }, "mask data of another type"];
    case 3: return [{ data: Array.from(randBytes(rand, n)), shape }, "mask data a plain Array"];
    case 4: return [{ data: randBytes(rand, n + 1), shape }, "mask data length + 1"];
    case 5: { const s = [...shape]; const j = int(rand, 0, Math.max(0, s.length - 1)); s[j] = (s[j] ?? 1) + 1; return [{ data: randBytes(rand, prod(s)), shape: s }, `mask [${s}] not broadcastable`]; }
    case 6: { const s = [2, ...target]; return [{ data: randBytes(rand, prod(s)), shape: s }, "mask rank too high"]; }
    case 7: { const j = junk(rand); return [j, `mask ${describeValue(j)}`]; }
    case 8: { const s = [...shape, pick(rand, DIM_JUNK)]; return [{ data: randBytes(rand, n), shape: s }, "mask shape with a bad dim"]; }
    case 9: return [{ data: Uint8Array.from({ length: n }, () => pick(rand, [0, 1, 2, 255])), shape }, "bool mask with bytes 2 and 255 (valid)"];
    default: return [{ data: new Float32Array(n).fill(pick(rand, [NaN, -1e30, Infinity])), shape }, "additive mask of NaN / −1e30 / +Infinity (valid)"];
  }
}

// ---- running a case ---------------------------------------------------------------------------------------

interface Case {
  fn: string;
  what: string[];
  call: () => Any;
  /** null: valid, must return the reference result; Invalid: must throw; "any": either (a returned result is verified) */
  invalid: Invalid | null | "any";
  verify: (r: Any) => void;
  /** whether only one thing was changed (then the error class must be the contract's) */
  single: boolean;
  cleanup?: () => void;
}

class Failures {
  readonly byKind = new Map<string, { n: number; first: string }>();
  add(kind: string, detail: string): void {
    const f = this.byKind.get(kind);
    if (f) f.n++; else this.byKind.set(kind, { n: 1, first: detail });
  }
  report(cases: number): void {
    if (this.byKind.size === 0) return;
    const lines = [...this.byKind].map(([k, f]) => `  ${k} (${f.n}×), e.g. ${f.first}`);
    assert.unreachable(`${this.byKind.size} kinds of failure in ${cases} cases:\n${lines.join("\n")}`);
  }
}

function errName(e: Any): string {
  return e?.constructor?.name ?? typeof e;
}

/** Runs one case; `mark` is the heap's inUse before the case was generated (generators may create instances). */
function runCase(c: Case, fails: Failures, mark: number): void {
  const where = `${c.fn}(${c.what.join("; ")})`;
  const t0 = performance.now();
  let result: Any, error: Any, threw = false;
  try { result = c.call(); } catch (e) { error = e; threw = true; }
  const ms = performance.now() - t0;
  try {
    if (!threw) {
      if (c.invalid instanceof Invalid) fails.add(`${c.fn}: returned for invalid arguments (${c.invalid.why.replace(/-?\d[\d.e+]*|"[^"]*"/g, "…")})`, `${where}: ${c.invalid.why}`);
      else {
        try { c.verify(result); } catch (e) { fails.add(`${c.fn}: wrong result`, `${where}: ${(e as Error).message.slice(0, 400)}`); }
      }
    } else if (!(error instanceof TypeError || error instanceof RangeError)) {
      fails.add(`${c.fn}: threw ${errName(error)}`, `${where}: ${errName(error)}: ${error?.message}`);
    } else if (!error.message.startsWith(`${c.fn}:`)) {
      fails.add(`${c.fn}: message does not start with "${c.fn}:"`, `${where}: ${errName(error)}: ${error.message}`);
    } else if (!c.invalid) {
      fails.add(`${c.fn}: threw for valid arguments`, `${where}: ${errName(error)}: ${error.message}`);
    } else if (c.single && c.invalid instanceof Invalid && c.invalid.cls !== "either" && errName(error) !== c.invalid.cls) {
      fails.add(`${c.fn}: ${errName(error)} where the contract says ${c.invalid.cls}`, `${where}: ${c.invalid.why}: ${error.message}`);
    }
  } finally {
    try { c.cleanup?.(); } catch (e) { fails.add(`${c.fn}: cleanup threw`, `${where}: ${(e as Error).message}`); }
  }
  if (heapInUse() !== mark) fails.add(`${c.fn}: heap not back`, `${where}: inUse ${mark} → ${heapInUse()} (${threw ? `threw ${errName(error)}: ${error?.message}` : "returned"})`);
  if (ms > 1000) fails.add(`${c.fn}: slow`, `${where}: ${ms.toFixed(0)} ms`);
}

// ---- generators per function ------------------------------------------------------------------------------

const small = (rand: Rand, zero = 0.04): number => (rand() < zero ? 0 : pick(rand, [1, 1, 2, 3, 4, 5, 7, 8, 9, 13]));

function sdpaCase(rand: Rand): Case {
  const batch = Array.from({ length: int(rand, 0, 2) }, () => small(rand, 0.02) || 1);
  const L = small(rand) || 1, S = small(rand), E = small(rand), Ev = small(rand);
  const args: Any[] = [tensor(rand, [...batch, L, E]), tensor(rand, [...batch, S, E]), tensor(rand, [...batch, S, Ev]), rand() < 0.2 ? undefined : {}];
  const what: string[] = [`q [${args[0].shape}] k [${args[1].shape}] v [${args[2].shape}]`];
  const target = [...batch, L, S];
  if (args[3] && rand() < 0.3) { const [m, d] = randomMask(rand, target); if (rand() < 0.8) { args[3].mask = { data: rand() < 0.5 ? randBytes(rand, L * S) : randn(rand, L * S, -2, 2), shape: [L, S] }; what.push("valid [L, S] mask"); } else { args[3].mask = m; what.push(d); } }
  const nMut = pick(rand, [0, 1, 1, 1, 2, 3]);
  for (let n = 0; n < nMut; n++) {
    const k = int(rand, 0, 9);
    if (k <= 2) { const [t, d] = mutateTensor(rand, args[k]); args[k] = t; what.push(`${["query", "key", "value"][k]} ${d}`); }
    else if (k === 3) { const j = pick(rand, [5, "x", null, [], true, () => ({}), Object.create(null), new Map(), undefined]); args[3] = j; what.push(`options ${describeValue(j)}`); }
    else {
      if (typeof args[3] !== "object" || args[3] === null || Array.isArray(args[3]) || args[3] instanceof Map) args[3] = {};
      const o = args[3];
      if (k === 4) { const key = pick(rand, UNKNOWN_KEYS); setOwn(o, key, true); what.push(`unknown option ${key}`); }
      else if (k === 5) { const [m, d] = randomMask(rand, target); o.mask = m; what.push(d); }
      else if (k === 6) { o.causal = rand() < 0.3 ? rand() < 0.5 : pick(rand, FLAG_JUNK); what.push(`causal ${describeValue(o.causal)}`); }
      else if (k === 7) { o.returnWeights = rand() < 0.3 ? rand() < 0.5 : pick(rand, FLAG_JUNK); what.push(`returnWeights ${describeValue(o.returnWeights)}`); }
      else { o.scale = pick(rand, [NaN, Infinity, -Infinity, "2", null, true, [2], {}, 3n, -0, 0, 1e-30, 5, -3, 2 ** -20]); what.push(`scale ${describeValue(o.scale)}`); }
    }
  }
  const [q, k, v, o] = args;
  const invalid = spec(() => {
    const oo = specOptions(o, ["mask", "causal", "scale", "returnWeights"]);
    const Q = specTensor(q, "query", 2), K = specTensor(k, "key", 2), V = specTensor(v, "value", 2);
    const r = Q.shape.length, b = Q.shape.slice(0, -2);
    for (const [n, t] of [["key", K], ["value", V]] as const) {
      if (t.shape.length !== r || t.shape.slice(0, -2).some((d, i) => d !== b[i])) R(`${n} batch dims differ`);
    }
    if (K.shape[r - 1] !== Q.shape[r - 1]) R("key E ≠ query E");
    if (V.shape[r - 2] !== K.shape[r - 2]) R("value S ≠ key S");
    if (oo.mask !== undefined) specMask(oo.mask, "mask", [...b, Q.shape[r - 2], K.shape[r - 2]]);
    specBool(oo.causal, "causal");
    specBool(oo.returnWeights, "returnWeights");
    if (oo.scale !== undefined) {
      if (typeof oo.scale !== "number") T("scale not a number");
      if (!Number.isFinite(oo.scale)) R("scale not finite");
    }
    const nL = prod(b) * Q.shape[r - 2];
    if (4 * nL * (V.shape[r - 1] + (oo.returnWeights ? K.shape[r - 2] : 0)) >= 2 ** 32) R("results beyond 4 GiB");
  });
  return {
    fn: "scaledDotProductAttention", what, invalid, single: nMut <= 1, call: () => sdpa(q, k, v, o),
    verify: (res) => {
      const ref = refSdpaCall(q, k, v, o ?? {});
      assert.equal(res.output.shape, ref.outShape, "output shape");
      assertRowsClose(res.output.data, ref.out, ref.outShape[ref.outShape.length - 1], RTOL, "output", ref.mag);
      if (o?.returnWeights) assertRowsClose(res.weights.data, ref.w, ref.wShape[ref.wShape.length - 1], RTOL, "weights");
      else assert.is(res.weights, undefined, "no weights");
    },
  };
}

function matmulCase(rand: Rand): Case {
  const M = small(rand) || 1, K = small(rand), N = small(rand) || 1;
  const ta = rand() < 0.3, tb = rand() < 0.3;
  const batch = Array.from({ length: int(rand, 0, 2) }, () => int(rand, 1, 3));
  const bb = rand() < 0.5 ? [] : batch.map((d) => (rand() < 0.5 ? 1 : d));
  const args: Any[] = [tensor(rand, [...batch, ...(ta ? [K, M] : [M, K])]), tensor(rand, [...bb, ...(tb ? [N, K] : [K, N])]), { ...(ta ? { transposeA: true } : {}), ...(tb ? { transposeB: true } : {}) }];
  const what = [`a [${args[0].shape}] b [${args[1].shape}] ${ta ? "tA " : ""}${tb ? "tB" : ""}`];
  const nMut = pick(rand, [0, 1, 1, 1, 2, 3]);
  for (let n = 0; n < nMut; n++) {
    const k = int(rand, 0, 5);
    if (k <= 1) { const [t, d] = mutateTensor(rand, args[k]); args[k] = t; what.push(`${"ab"[k]} ${d}`); }
    else if (k === 2) { const j = pick(rand, [5, "x", null, [], true, undefined, Object.create(null)]); args[2] = j; what.push(`options ${describeValue(j)}`); }
    else {
      if (typeof args[2] !== "object" || args[2] === null || Array.isArray(args[2])) args[2] = {};
      if (k === 3) { const key = pick(rand, UNKNOWN_KEYS); setOwn(args[2], key, true); what.push(`unknown option ${key}`); }
      else { const key = k === 4 ? "transposeA" : "transposeB"; args[2][key] = rand() < 0.4 ? !args[2][key] : pick(rand, FLAG_JUNK); what.push(`${key} ${describeValue(args[2][key])}`); }
    }
  }
  const [a, b, o] = args;
  const invalid = spec(() => {
    const oo = specOptions(o, ["transposeA", "transposeB"]);
    specBool(oo.transposeA, "transposeA");
    specBool(oo.transposeB, "transposeB");
    const A = specTensor(a, "a", 2), B = specTensor(b, "b", 2);
    const ra = A.shape.length, rb = B.shape.length;
    const Ka = oo.transposeA ? A.shape[ra - 2] : A.shape[ra - 1], Kb = oo.transposeB ? B.shape[rb - 1] : B.shape[rb - 2];
    if (Ka !== Kb) R("inner dims differ");
    const ba = A.shape.slice(0, -2), bb2 = B.shape.slice(0, -2);
    for (let i = 1; i <= Math.min(ba.length, bb2.length); i++) {
      const x = ba[ba.length - i], y = bb2[bb2.length - i];
      if (x !== y && x !== 1 && y !== 1) R("batch dims do not broadcast");
    }
    const M = oo.transposeA ? A.shape[ra - 1] : A.shape[ra - 2], N = oo.transposeB ? B.shape[rb - 2] : B.shape[rb - 1];
    const nb = Math.max(prod(ba), prod(bb2)) * (prod(ba) && prod(bb2) ? 1 : 0);
    if (4 * nb * M * N >= 2 ** 32) R("result beyond 4 GiB");
  });
  return {
    fn: "matmul", what, invalid, single: nMut <= 1, call: () => matmul(a, b, o),
    verify: (res) => {
      const ref = refMatmulCall(a, b, o ?? {});
      assert.equal(res.shape, ref.shape, "shape");
      assertClose(res.data, ref.data, RTOL, "C");
    },
  };
}

function softmaxCase(rand: Rand): Case {
  const shape = Array.from({ length: int(rand, 1, 3) }, () => small(rand, 0.03) || 1);
  let x: Any = tensor(rand, shape, -20, 20), o: Any = rand() < 0.5 ? undefined : {};
  const what = [`x [${shape}]`];
  const nMut = pick(rand, [0, 1, 1, 1, 2]);
  for (let n = 0; n < nMut; n++) {
    const k = int(rand, 0, 3);
    if (k <= 1) { const [t, d] = mutateTensor(rand, x); x = t; what.push(`x ${d}`); }
    else if (k === 2) { o = pick(rand, [5, null, [], "x", undefined, {}]); what.push(`options ${describeValue(o)}`); }
    else { o = {}; setOwn(o, pick(rand, UNKNOWN_KEYS), 1); what.push(`options ${JSON.stringify(Object.keys(o))}`); }
  }
  const invalid = spec(() => { specOptions(o, []); specTensor(x, "x", 1); });
  return {
    fn: "softmax", what, invalid, single: nMut <= 1, call: () => softmax(x, o),
    verify: (res) => { assert.equal(res.shape, [...x.shape], "shape"); assertRowsClose(res.data, refSoftmaxCall(x), x.shape[x.shape.length - 1], RTOL, "y"); },
  };
}

/** Small configs the MultiHeadAttention cases use; the one with kdim ≠ E can only cross-attend. */
const CFGS: Array<Partial<MhaCfg> & { E: number; H: number }> = [
  { E: 8, H: 2 }, { E: 12, H: 3, kdim: 5, vdim: 7 }, { E: 12, H: 6, Hkv: 2 }, { E: 6, H: 3, Hkv: 1, bias: false }, { E: 4, H: 4 },
];

const CONFIG_KEYS = ["embedDim", "numHeads", "numKVHeads", "kdim", "vdim", "bias", "seed"];
const SIZE_JUNK: Any[] = [0, -1, 1.5, NaN, Infinity, "8", null, true, 3n, [8], 2 ** 31, 2 ** 32 + 8, 2 ** 40, 2 ** 53 - 1, 1e16];
/**
 * kdim/vdim beyond i32 make the constructor fill a JS array of Ekv·kdim floats before failing (see the
 * regression test below), so the random cases use only values where that array cannot exist (> 2^32
 * elements): a quick RangeError instead of gigabytes of memory.
 */
const WIDTH_JUNK: Any[] = [0, -1, 1.5, NaN, Infinity, "8", null, true, 3n, [8], 2 ** 33, 2 ** 40, 2 ** 53 - 1, 1e16];

function ctorCase(rand: Rand): Case {
  const H = pick(rand, [1, 2, 3, 4]), E = H * int(rand, 1, 4);
  const cfg: Any = { embedDim: E, numHeads: H };
  if (rand() < 0.3) cfg.numKVHeads = pick(rand, [1, H]);
  if (rand() < 0.3) cfg.kdim = int(rand, 1, 9);
  if (rand() < 0.3) cfg.vdim = int(rand, 1, 9);
  if (rand() < 0.3) cfg.bias = rand() < 0.5;
  if (rand() < 0.5) cfg.seed = int(rand, 0, 1000);
  let config: Any = cfg;
  const what: string[] = [];
  const nMut = pick(rand, [0, 1, 1, 1, 2]);
  for (let n = 0; n < nMut; n++) {
    const k = int(rand, 0, 9);
    if (k === 0) { config = junk(rand); what.push(`config ${describeValue(config)}`); }
    else if (k === 1) { setOwn(cfg, pick(rand, ["embed_dim", "heads", "dropout", "batchFirst", "__proto__", "kDim"]), 4); what.push("unknown key"); }
    else if (k === 2) { cfg.numHeads = pick(rand, [E + 1, 5, 7]); what.push(`numHeads ${cfg.numHeads} not dividing ${E}`); }
    else if (k === 3) { cfg.numKVHeads = pick(rand, [H + 1, 5, 0, 1.5, "1"]); what.push(`numKVHeads ${describeValue(cfg.numKVHeads)}`); }
    else if (k === 4) { cfg.bias = pick(rand, FLAG_JUNK); what.push(`bias ${describeValue(cfg.bias)}`); }
    else if (k === 5) { cfg.seed = pick(rand, [-1, 1.5, NaN, "1", null, 2 ** 53, 2 ** 53 - 1, 0]); what.push(`seed ${describeValue(cfg.seed)}`); }
    else if (k === 6) { delete cfg[pick(rand, ["embedDim", "numHeads"])]; what.push("embedDim or numHeads missing"); }
    else { const key = pick(rand, ["embedDim", "numHeads", "kdim", "vdim"]); cfg[key] = pick(rand, key.endsWith("dim") && key !== "embedDim" ? WIDTH_JUNK : SIZE_JUNK); what.push(`${key} ${describeValue(cfg[key])}`); }
  }
  if (config === cfg) what.unshift(JSON.stringify(cfg, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)));
  let bytes = 0;
  const invalid = spec(() => {
    if (typeof config !== "object" || config === null) T("config not an object");
    const c = specOptions(config, CONFIG_KEYS);
    specInt(c.embedDim, "embedDim", 1, false);
    specInt(c.numHeads, "numHeads", 1, false);
    if (c.embedDim % c.numHeads !== 0) R("numHeads does not divide embedDim");
    specInt(c.numKVHeads, "numKVHeads", 1, true);
    const Hkv = c.numKVHeads ?? c.numHeads;
    if (c.numHeads % Hkv !== 0) R("numKVHeads does not divide numHeads");
    specInt(c.kdim, "kdim", 1, true);
    specInt(c.vdim, "vdim", 1, true);
    specBool(c.bias, "bias");
    specInt(c.seed, "seed", 0, true);
    const Ekv = Hkv * (c.embedDim / c.numHeads);
    bytes = 4 * (2 * c.embedDim * c.embedDim + Ekv * ((c.kdim ?? c.embedDim) + (c.vdim ?? c.embedDim)));
    if (bytes >= 2 ** 32) R(`the weights need ${bytes} bytes, beyond 4 GiB`);
  });
  let made = null as MultiHeadAttention | null;
  return {
    fn: "MultiHeadAttention", what, invalid, single: nMut <= 1,
    call: () => (made = new MultiHeadAttention(config)),
    verify: (m: MultiHeadAttention) => {
      const E2 = config.embedDim, H2 = config.numHeads;
      assert.equal([m.embedDim, m.numHeads, m.numKVHeads, m.kdim, m.vdim, m.bias], [E2, H2, config.numKVHeads ?? H2, config.kdim ?? E2, config.vdim ?? E2, config.bias ?? true], "properties");
      // usable at once: a cross-attention forward matches refMha over its stateDict
      const sd = m.stateDict();
      const Ekv = m.numKVHeads * m.headDim;
      const ref: RefMhaWeights = sd.in_proj_weight
        ? { Wq: sd.in_proj_weight.data.subarray(0, E2 * E2), Wk: sd.in_proj_weight.data.subarray(E2 * E2, 2 * E2 * E2), Wv: sd.in_proj_weight.data.subarray(2 * E2 * E2), Wo: sd["out_proj.weight"].data }
        : { Wq: sd.q_proj_weight.data, Wk: sd.k_proj_weight.data, Wv: sd.v_proj_weight.data, Wo: sd["out_proj.weight"].data };
      if (m.bias) { const b = sd.in_proj_bias.data; Object.assign(ref, { bq: b.subarray(0, E2), bk: b.subarray(E2, E2 + Ekv), bv: b.subarray(E2 + Ekv), bo: sd["out_proj.bias"].data }); }
      const r2 = rng(3), q = tensor(r2, [2, 3, E2]), k = tensor(r2, [2, 4, m.kdim]), v = tensor(r2, [2, 4, m.vdim]);
      const want = refMha(q.data, k.data, v.data, 2, 3, 4, E2, H2, m.numKVHeads, m.kdim, m.vdim, ref);
      assertRowsClose(m.forward(q, k, v).output.data, want.out, E2, RTOL, "forward", want.mag);
    },
    cleanup: () => made?.dispose(),
  };
}

/** Forward, loadWeights, loadStateDict, createCache, the cache's methods, stateDict, use after dispose. */
function mhaCase(rand: Rand): Case {
  const c = pick(rand, CFGS);
  const m = model(c, int(rand, 1, 1e6));
  const { E, H, Hkv, kdim, vdim, bias } = m.cfg;
  const Ekv = Hkv * (E / H);
  const extra: MultiHeadAttention[] = [];
  // What the test did, kept here rather than read back from the library's (private) state.
  const disposed = new WeakSet<object>(), foreign = new WeakSet<object>();
  const cleanup = () => { m.mha.dispose(); extra.forEach((x) => x.dispose()); };
  const what: string[] = [JSON.stringify(m.cfg)];
  const kind = pick(rand, ["forward", "forward", "forward", "cache", "cache", "loadWeights", "loadStateDict", "createCache", "cacheMethods", "stateDict", "disposed"]);

  if (kind === "forward" || kind === "cache") {
    const unbatched = kind === "forward" && rand() < 0.25;
    const B = unbatched ? 1 : int(rand, 1, 3), L = int(rand, 1, 6);
    const lead = unbatched ? [] : [B];
    let cache: Any, cached = 0, history: Float32Array | null = null;
    if (kind === "cache") {
      cached = int(rand, 0, 5);
      const maxLength = cached + int(rand, 1, 8);
      cache = m.mha.createCache({ batch: B, maxLength });
      history = randn(rand, B * cached * E);
      if (cached > 0 && kdim === E && vdim === E) m.mha.forward({ data: history, shape: [B, cached, E] }, undefined, undefined, { cache });
      else cached = 0;
      what.push(`cache B=${B} maxLength=${maxLength} holding ${cached}`);
    }
    const cross = kind === "forward" && (kdim !== E || vdim !== E || rand() < 0.4);
    const S = cross ? int(rand, 1, 6) : cached + L;
    const args: Any[] = [tensor(rand, [...lead, L, E]), cross ? tensor(rand, [...lead, S, kdim]) : undefined, cross ? tensor(rand, [...lead, S, vdim]) : undefined, kind === "cache" ? { cache } : rand() < 0.3 ? undefined : {}];
    what.push(`query [${args[0].shape}]${cross ? ` key [${args[1].shape}] value [${args[2].shape}]` : ""}`);
    const nMut = pick(rand, [0, 1, 1, 1, 2, 3]);
    const target = unbatched ? [H, L, S] : [B, H, L, S];
    let disposeIt = false;
    for (let n = 0; n < nMut; n++) {
      const k = int(rand, 0, 13);
      if (k <= 2) { if (k > 0 && !args[k]) continue; const [t, d] = mutateTensor(rand, args[k]); args[k] = t; what.push(`${["query", "key", "value"][k]} ${d}`); }
      else if (k === 3) { if (args[1]) { args[2] = undefined; what.push("value omitted"); } else { args[1] = tensor(rand, [...lead, L, kdim]); what.push("key only"); } }
      else if (k === 4) { const j = pick(rand, [5, "x", null, [], true]); args[3] = j; what.push(`options ${describeValue(j)}`); }
      else {
        if (typeof args[3] !== "object" || args[3] === null || Array.isArray(args[3])) args[3] = {};
        const o = args[3];
        if (k === 5) { const key = pick(rand, UNKNOWN_KEYS); setOwn(o, key, true); what.push(`unknown option ${key}`); }
        else if (k === 6) {
          const want = unbatched ? [S] : [B, S];
          const v = int(rand, 0, 5);
          o.keyPaddingMask = v === 0 ? { data: randBytes(rand, prod(want), 0.3), shape: want } : v === 1 ? { data: randn(rand, prod(want), -2, 2), shape: want }
            : v === 2 ? { data: randBytes(rand, S), shape: [1, S] } : v === 3 ? { data: randBytes(rand, S + 1), shape: unbatched ? [S + 1] : [B, S + 1] }
            : v === 4 ? { data: new Int8Array(prod(want)), shape: want } : randomMask(rand, want)[0];
          what.push(`keyPaddingMask ${describeValue(o.keyPaddingMask?.data)} [${o.keyPaddingMask?.shape}]`);
        } else if (k === 7) { const [mm, d] = randomMask(rand, target); o.attnMask = mm; what.push(`attnMask: ${d}`); }
        else if (k === 8 || k === 9 || k === 10) {
          const key = ["causal", "needWeights", "averageWeights"][k - 8];
          o[key] = rand() < 0.5 ? rand() < 0.5 : pick(rand, FLAG_JUNK); what.push(`${key} ${describeValue(o[key])}`);
        } else if (k === 11) {
          const v = int(rand, 0, 4);
          if (v === 0) { o.cache = pick(rand, [{ length: 0 }, 5, "cache", null, new Map()]); what.push(`cache ${describeValue(o.cache)}`); }
          else if (v === 1) { const other = new MultiHeadAttention({ embedDim: E, numHeads: H, seed: 1 }); extra.push(other); o.cache = other.createCache({ batch: B, maxLength: 16 }); foreign.add(o.cache); what.push("cache of another instance"); }
          else if (v === 2) { o.cache = m.mha.createCache({ batch: B, maxLength: 16 }); o.cache.dispose(); disposed.add(o.cache); what.push("disposed cache"); }
          else if (v === 3) { o.cache = m.mha.createCache({ batch: B, maxLength: Math.max(1, L - 1) }); what.push(`cache maxLength ${Math.max(1, L - 1)} < L = ${L}`); }
          else { o.cache = m.mha.createCache({ batch: B + 1, maxLength: 16 }); what.push(`cache batch ${B + 1}`); }
        } else if (k === 12) { if (cache && !disposed.has(cache)) { o.cache = cache; cache.truncate(0); cached = 0; what.push("cache truncated to 0"); } }
        else { disposeIt = true; what.push("instance disposed"); }
      }
    }
    if (disposeIt) { m.mha.dispose(); disposed.add(m.mha); }   // last: the other mutations may still create caches on it
    const [q, k2, v2, o] = args;
    const cacheBefore = (o as Any)?.cache instanceof KVCache ? (o as Any).cache.length : 0;
    let Sx = 0, Bq = 1, Lq = 0;
    const invalid = spec(() => {
      if (disposed.has(m.mha)) T("use after dispose");
      const oo = specOptions(o, ["keyPaddingMask", "attnMask", "causal", "needWeights", "averageWeights", "cache"]);
      const Q = specTensor(q, "query", 2);
      if (Q.shape.length > 3) R("query rank > 3");
      if (Q.shape[Q.shape.length - 1] !== E) R("query width ≠ embedDim");
      const ub = Q.shape.length === 2;
      Bq = ub ? 1 : Q.shape[0]; Lq = Q.shape[Q.shape.length - 2];
      if ((k2 === undefined) !== (v2 === undefined)) T("only one of key and value");
      Sx = Lq;
      if (oo.cache !== undefined) {
        if (!(oo.cache instanceof KVCache)) T("cache not a KVCache");
        if (foreign.has(oo.cache)) T("cache of another instance");
        if (disposed.has(oo.cache)) T("disposed cache");
        if (k2 !== undefined) T("key and value with a cache");
        if (Bq !== oo.cache.batch) R("batch ≠ cache batch");
        if (oo.cache.length + Lq > oo.cache.maxLength) R("cache overflow");
        Sx = oo.cache.length + Lq;
      }
      if (k2 !== undefined) {
        const K = specTensor(k2, "key", 2), V = specTensor(v2, "value", 2);
        for (const [n, t, w] of [["key", K, kdim], ["value", V, vdim]] as const) {
          if (t.shape.length !== Q.shape.length) R(`${n} rank`);
          if (!ub && t.shape[0] !== Bq) R(`${n} batch`);
          if (t.shape[t.shape.length - 1] !== w) R(`${n} width`);
        }
        Sx = K.shape[K.shape.length - 2];
        if (V.shape[V.shape.length - 2] !== Sx) R("value S ≠ key S");
      } else if (kdim !== E || vdim !== E) {
        throw new Invalid("either", `self-attention (key/value omitted${oo.cache ? ", with a cache" : ""}) with kdim = ${kdim}, vdim = ${vdim} ≠ embedDim = ${E}`);
      }
      if (oo.keyPaddingMask !== undefined) {
        const want = ub ? [Sx] : [Bq, Sx];
        specMask(oo.keyPaddingMask, "keyPaddingMask", want);
        const s = oo.keyPaddingMask.shape;
        if (s.length !== want.length || s.some((d: number, i: number) => d !== want[i])) R("keyPaddingMask not [B, S]");
      }
      if (oo.attnMask !== undefined) specMask(oo.attnMask, "attnMask", ub ? [H, Lq, Sx] : [Bq, H, Lq, Sx]);
      specBool(oo.causal, "causal");
      specBool(oo.needWeights, "needWeights");
      specBool(oo.averageWeights, "averageWeights");
    });
    return {
      // a cache on an instance with kdim/vdim ≠ E is already one thing wrong before any mutation
      fn: "MultiHeadAttention.forward", what, invalid, single: nMut <= 1 && !(kind === "cache" && (kdim !== E || vdim !== E)), cleanup,
      call: () => m.mha.forward(q, k2, v2, o),
      verify: (res) => {
        const oo = o ?? {};
        let ref;
        if (oo.cache) {
          // the cache holds `cacheBefore` earlier tokens: attend like a cross-attention over history + new, bottom-right causal
          const hist = new Float32Array(Bq * (cacheBefore + Lq) * E);
          for (let b = 0; b < Bq; b++) {
            if (cacheBefore > 0) hist.set(history!.subarray(b * cached * E, (b * cached + cacheBefore) * E), b * (cacheBefore + Lq) * E);
            hist.set(q.data.subarray(b * Lq * E, (b + 1) * Lq * E), (b * (cacheBefore + Lq) + cacheBefore) * E);
          }
          const all = { data: hist, shape: q.shape.length === 2 ? [cacheBefore + Lq, E] : [Bq, cacheBefore + Lq, E] };
          ref = refForward(m, q, all, all, { ...oo, causal: oo.causal ?? true });
          assert.is(oo.cache.length, cacheBefore + Lq, "cache.length advanced");
        } else {
          ref = refForward(m, q, k2, v2, oo);
        }
        assert.equal(res.output.shape, ref.outShape, "output shape");
        assertRowsClose(res.output.data, ref.out, E, RTOL, "output", ref.mag);
        if (oo.needWeights) { assert.equal(res.weights.shape, ref.wShape, "weights shape"); assertRowsClose(res.weights.data, ref.w, ref.wShape[ref.wShape.length - 1], RTOL, "weights"); }
        else assert.is(res.weights, undefined, "no weights");
      },
    };
  }

  if (kind === "loadWeights") {
    const packed = kdim === E && vdim === E && Hkv === H && rand() < 0.5;
    const r2 = rng(int(rand, 1, 1e6));
    const u = (n: number) => randn(r2, n, -0.5, 0.5);
    const w: Any = packed ? { inProjWeight: u(3 * E * E), outProjWeight: u(E * E) } : { qProjWeight: u(E * E), kProjWeight: u(Ekv * kdim), vProjWeight: u(Ekv * vdim), outProjWeight: u(E * E) };
    if (bias) { w.inProjBias = u(E + 2 * Ekv); w.outProjBias = u(E); }
    let weights: Any = w;
    what.push(packed ? "packed" : "separate");
    const nMut = pick(rand, [0, 1, 1, 1, 2]);
    const names = ["inProjWeight", "qProjWeight", "kProjWeight", "vProjWeight", "inProjBias", "outProjWeight", "outProjBias"];
    for (let n = 0; n < nMut; n++) {
      const k = int(rand, 0, 6), name = pick(rand, names);
      if (k === 0) { weights = junk(rand); what.push(`weights ${describeValue(weights)}`); }
      else if (k === 1) { delete w[name]; what.push(`${name} missing`); }
      else if (k === 2) { w[name] = junk(rand); what.push(`${name} ${describeValue(w[name])}`); }
      else if (k === 3) { w[name] = new Float32Array(Math.max(0, (w[name]?.length ?? 4) + pick(rand, [-1, 1, 7]))); what.push(`${name} wrong length ${w[name].length}`); }
      else if (k === 4) { w[name] = Float64Array.from(w[name] ?? [1]); what.push(`${name} Float64Array`); }
      else if (k === 5) { setOwn(w, pick(rand, ["in_proj_weight", "weight", "__proto__", "outProjWeights"]), new Float32Array(1)); what.push("unknown weight name"); }
      else { w[name] = new Float32Array(name === "inProjWeight" ? 3 * E * E : name.endsWith("Bias") ? (name === "inProjBias" ? E + 2 * Ekv : E) : name === "kProjWeight" ? Ekv * kdim : name === "vProjWeight" ? Ekv * vdim : E * E); what.push(`${name} added (right length)`); }
    }
    const invalid = spec(() => {
      if (typeof weights !== "object" || weights === null) T("weights not an object");
      const ww = specOptions(weights, names);
      const need = (n: string, len: number): void => {
        if (ww[n] === undefined) T(`${n} missing`);
        if (!(ww[n] instanceof Float32Array)) T(`${n} not a Float32Array`);
        if (ww[n].length !== len) R(`${n} length`);
      };
      if (ww.inProjWeight !== undefined) {
        if (!(kdim === E && vdim === E && Hkv === H)) T("inProjWeight for an instance that needs separate weights");
        for (const n of ["qProjWeight", "kProjWeight", "vProjWeight"]) if (ww[n] !== undefined) T("both inProjWeight and separate weights");
        need("inProjWeight", 3 * E * E);
      } else { need("qProjWeight", E * E); need("kProjWeight", Ekv * kdim); need("vProjWeight", Ekv * vdim); }
      need("outProjWeight", E * E);
      if (bias) { need("inProjBias", E + 2 * Ekv); need("outProjBias", E); }
      else for (const n of ["inProjBias", "outProjBias"]) if (ww[n] !== undefined) T(`${n} with bias: false`);
    });
    return {
      fn: "MultiHeadAttention.loadWeights", what, invalid, single: nMut <= 1, cleanup, call: () => m.mha.loadWeights(weights),
      verify: () => {
        const W = weights;
        const ref: RefMhaWeights = W.inProjWeight ? { Wq: W.inProjWeight.subarray(0, E * E), Wk: W.inProjWeight.subarray(E * E, 2 * E * E), Wv: W.inProjWeight.subarray(2 * E * E), Wo: W.outProjWeight }
          : { Wq: W.qProjWeight, Wk: W.kProjWeight, Wv: W.vProjWeight, Wo: W.outProjWeight };
        if (bias) Object.assign(ref, { bq: W.inProjBias.subarray(0, E), bk: W.inProjBias.subarray(E, E + Ekv), bv: W.inProjBias.subarray(E + Ekv), bo: W.outProjBias });
        const mm: Model = { ...m, ref };
        const r2b = rng(9), q = tensor(r2b, [2, 3, E]), k = tensor(r2b, [2, 5, kdim]), v = tensor(r2b, [2, 5, vdim]);
        const want = refForward(mm, q, k, v);
        assertRowsClose(m.mha.forward(q, k, v).output.data, want.out, E, RTOL, "forward after loadWeights", want.mag);
      },
    };
  }

  if (kind === "loadStateDict") {
    const sd = m.mha.stateDict("p.");
    let source: Any = rand() < 0.5 ? sd : writeSafetensors(sd as Any);
    let opts: Any = { prefix: "p." };
    const what2 = source instanceof Uint8Array ? "safetensors bytes" : "record";
    what.push(what2);
    const nMut = pick(rand, [0, 1, 1, 2]);
    let corrupted = false;
    for (let n = 0; n < nMut; n++) {
      const k = int(rand, 0, 5);
      const names = Object.keys(sd);
      if (k === 0) { source = pick(rand, [5, "x", null, undefined, new Float32Array(4), new Int8Array(8), true]); what.push(`source ${describeValue(source)}`); }
      else if (k === 1) { opts = pick(rand, [5, null, [], { prefix: 5 }, { prefix: null }, { prefx: "p." }, undefined]); what.push(`options ${JSON.stringify(opts)}`); }
      else if (k === 2 && !(source instanceof Uint8Array) && typeof source === "object" && source) { const nm = pick(rand, names); source = { ...source }; delete source[nm]; what.push(`${nm} missing`); }
      else if (k === 3 && !(source instanceof Uint8Array) && typeof source === "object" && source) { const nm = pick(rand, names); source = { ...source, [nm]: pick(rand, [{ data: source[nm].data, shape: [source[nm].data.length] }, { data: Float64Array.from(source[nm].data), shape: source[nm].shape }, 5, null]) }; what.push(`${nm} malformed`); }
      else if (k === 4 && source instanceof Uint8Array) { source = source.slice(); const at = int(rand, 0, source.length - 1); source[at] ^= 1 << int(rand, 0, 7); corrupted = true; what.push(`byte ${at} flipped`); }
      else if (source instanceof Uint8Array) { source = source.slice(0, int(rand, 0, source.length - 1)); corrupted = true; what.push(`truncated to ${source.length}`); }
    }
    const invalid = corrupted ? null : spec(() => {
      const oo = specOptions(opts, ["prefix"]);
      const prefix = oo.prefix ?? "";
      if (typeof prefix !== "string") T("prefix not a string");
      if (!(source instanceof Uint8Array || source instanceof ArrayBuffer) && (typeof source !== "object" || source === null || ArrayBuffer.isView(source))) T("source neither bytes nor a record");
      if (source instanceof Uint8Array) { if (prefix !== "p.") T("no key under this prefix"); return; }
      for (const [nm, t] of Object.entries(sd)) {
        const key = prefix + nm.slice(2);
        if (key !== nm || !(key in source)) T(`${key} missing`);
        const x = specTensor(source[key], key, 0);
        if (x.shape.length !== t.shape.length || x.shape.some((d, i) => d !== t.shape[i])) R(`${key} shape`);
      }
    });
    return {
      fn: "MultiHeadAttention.loadStateDict", what, cleanup,
      // corrupted bytes: no spec; any TypeError/RangeError, or a load (a flipped data byte) checked against readSafetensors
      invalid: corrupted ? "any" : invalid, single: nMut <= 1 && !corrupted,
      call: () => m.mha.loadStateDict(source, opts),
      verify: () => {
        const want = source instanceof Uint8Array ? readSafetensors(source).tensors : source;
        const got = m.mha.stateDict("p.");
        for (const nm of Object.keys(got)) assertClose(got[nm].data, want[nm].data, 0, `stateDict ${nm}`);
      },
    };
  }

  if (kind === "createCache") {
    let o: Any = { batch: int(rand, 1, 3), maxLength: int(rand, 1, 9) };
    if (rand() < 0.3) delete o.batch;
    const nMut = pick(rand, [0, 1, 1, 2]);
    for (let n = 0; n < nMut; n++) {
      const k = int(rand, 0, 3);
      if (k === 0) o = pick(rand, [5, null, [], "x", undefined, true]);
      else if (typeof o !== "object" || o === null || Array.isArray(o)) o = { maxLength: 4 };
      else if (k === 1) o.batch = pick(rand, SIZE_JUNK);
      else if (k === 2) o.maxLength = pick(rand, [...SIZE_JUNK, undefined]);
      else setOwn(o, pick(rand, ["max_length", "length", "__proto__", "size"]), 4);
    }
    what.push(`options ${describeValue(o)} ${typeof o === "object" && o ? JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) : ""}`);
    const invalid = spec(() => {
      if (typeof o !== "object" || o === null) T("options not an object");
      const oo = specOptions(o, ["batch", "maxLength"]);
      specInt(oo.batch, "batch", 1, true);
      specInt(oo.maxLength, "maxLength", 1, false);
      if (2 * (oo.batch ?? 1) * oo.maxLength * Ekv * 4 >= 2 ** 32) R("cache beyond 4 GiB");
    });
    return {
      fn: "MultiHeadAttention.createCache", what, invalid, single: nMut <= 1, cleanup, call: () => m.mha.createCache(o),
      verify: (cache: KVCache) => {
        assert.equal([cache.batch, cache.maxLength, cache.length], [o.batch ?? 1, o.maxLength, 0], "cache fields");
        if (kdim === E && vdim === E) {
          const x = tensor(rng(4), [cache.batch, 1, E]);
          const want = refForward(m, x, undefined, undefined, { causal: true });
          assertRowsClose(m.mha.forward(x, undefined, undefined, { cache }).output.data, want.out, E, RTOL, "first step", want.mag);
        }
      },
    };
  }

  if (kind === "cacheMethods") {
    const cache = m.mha.createCache({ batch: 1, maxLength: 8 });
    const n0 = kdim === E && vdim === E ? int(rand, 0, 4) : 0;
    if (n0 > 0) m.mha.forward(tensor(rand, [1, n0, E]), undefined, undefined, { cache });
    const which = int(rand, 0, 3);
    if (which === 3) cache.dispose();
    const arg: Any = pick<Any>(rand, [0, 1, 2, n0, n0 + 1, -1, 1.5, NaN, "1", null, undefined, 2 ** 53, Infinity]);
    const method = which === 0 || which === 3 ? pick(rand, ["truncate", "reset"]) : which === 1 ? "truncate" : "reset";
    what.push(`cache holding ${n0}${which === 3 ? " disposed" : ""}: ${method}(${method === "truncate" ? describeValue(arg) : ""})`);
    const invalid = spec(() => {
      if (which === 3) T("use after dispose");
      if (method === "truncate") { specInt(arg, "length", 0, false); if (arg > n0) R("length > cached"); }
    });
    return {
      fn: `KVCache.${method}`, what, invalid, single: true, cleanup, call: () => (method === "truncate" ? cache.truncate(arg) : cache.reset()),
      verify: () => assert.is(cache.length, method === "truncate" ? arg : 0, "cache.length"),
    };
  }

  if (kind === "stateDict") {
    const prefix: Any = pick<Any>(rand, [undefined, "", "a.", 5, null, {}, ["x"]]);
    what.push(`prefix ${describeValue(prefix)}`);
    const invalid = spec(() => { if (prefix !== undefined && typeof prefix !== "string") T("prefix not a string"); });
    return {
      fn: "MultiHeadAttention.stateDict", what, invalid, single: true, cleanup, call: () => m.mha.stateDict(prefix as Any),
      verify: (d: Record<string, Tensor>) => assert.ok(Object.keys(d).every((k) => k.startsWith(prefix ?? "")), "keys under the prefix"),
    };
  }

  // use after dispose: every method throws TypeError
  m.mha.dispose();
  const method = pick(rand, ["forward", "loadWeights", "loadStateDict", "createCache", "stateDict"]);
  what.push(`${method} after dispose`);
  const calls: Record<string, () => unknown> = {
    forward: () => m.mha.forward(tensor(rand, [1, 2, E])),
    loadWeights: () => m.mha.loadWeights(m.weights),
    loadStateDict: () => m.mha.loadStateDict({}),
    createCache: () => m.mha.createCache({ maxLength: 4 }),
    stateDict: () => m.mha.stateDict(),
  };
  return { fn: `MultiHeadAttention.${method}`, what, invalid: new Invalid("TypeError", "use after dispose"), single: true, cleanup, call: calls[method], verify: () => {} };
}

function safetensorsCase(rand: Rand): Case {
  const write = rand() < 0.5;
  const arg: Any = write ? pick<Any>(rand, [5, null, "x", [], new Float32Array(2), { a: 5 }, { a: { data: [1], shape: [1] } }, { a: { data: new Float32Array(2), shape: [3] } }, { "": { data: new Float32Array(1), shape: [1] } }])
    : pick<Any>(rand, [5, null, "x", [], new Float32Array(2), new Uint8Array(3), new Uint8Array(16), {}, new ArrayBuffer(4)]);
  return {
    fn: write ? "writeSafetensors" : "readSafetensors", what: [describeValue(arg)], invalid: new Invalid("either", "malformed"), single: false,
    call: () => (write ? writeSafetensors(arg) : readSafetensors(arg)), verify: () => {},
  };
}

// ---- the fuzz tests -----------------------------------------------------------------------------------------

function fuzz(name: string, seed: number, n: number, gen: (rand: Rand) => Case): void {
  test(`fuzz: ${name}: ${n} seeded cases (seed ${seed}): TypeError/RangeError naming the function, or the reference result; heap back; still works`, () => {
    const rand = rng(seed), fails = new Failures();
    const mark = heapInUse();
    for (let i = 0; i < n; i++) {
      const before = heapInUse();
      const c = gen(rand);
      c.what.unshift(`#${i}`);
      runCase(c, fails, before);
      if (i % 250 === 249) {
        try { stillWorks(`after case ${i}`); } catch (e) { fails.add("a normal call after the cases is wrong", (e as Error).message); }
      }
    }
    if (heapInUse() !== mark) fails.add("heap not back after all cases", `inUse ${mark} → ${heapInUse()}`);
    fails.report(n);
    stillWorks(`after ${n} cases`);
  });
}

fuzz("scaledDotProductAttention", 501, 3000, sdpaCase);
fuzz("matmul", 502, 2000, matmulCase);
fuzz("softmax", 503, 1000, softmaxCase);
fuzz("new MultiHeadAttention(config)", 504, 1000, ctorCase);
fuzz("MultiHeadAttention methods and KVCache (forward, caches, weights, state dicts, dispose)", 505, 3000, mhaCase);
fuzz("readSafetensors / writeSafetensors", 506, 100, safetensorsCase);

test("fuzz: init() and initSync() with malformed options throw TypeError (CompileError for bytes that are not WebAssembly) and keep the running build", async () => {
  const build = buildInfo()!.build;
  const bad: Any[] = [{ build: "fast" }, { build: 5 }, { build: null }, { relaxedSimd: "yes" }, { sourc: new Uint8Array(4) }, { __proto__: null, casual: 1 }, ["simd"]];
  for (const o of bad) {
    for (const [name, f] of [["init", () => init(o)], ["initSync", () => initSync(o)]] as const) {
      let err: Any = null;
      try { await f(); } catch (e) { err = e; }
      assert.instance(err, TypeError, `${name}(${JSON.stringify(o)}): ${errName(err)}: ${err?.message}`);
      assert.match(err.message, new RegExp(`^${name}: `), `${name}: message names it`);
      assert.is(buildInfo()!.build, build, `${name}(${JSON.stringify(o)}): build unchanged`);
    }
  }
  for (const src of [5, Symbol("s"), true, "not a url"]) {
    let err: Any = null;
    try { initSync(src); } catch (e) { err = e; }
    assert.instance(err, TypeError, `initSync(${describeValue(src)}): ${errName(err)}: ${err?.message}`);
  }
  for (const bytes of [new Uint8Array(0), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 9])]) {
    let err: Any = null;
    try { initSync({ source: bytes }); } catch (e) { err = e; }
    assert.ok(err instanceof WebAssembly.CompileError || err instanceof TypeError, `initSync(bad bytes): ${errName(err)}`);
    assert.is(buildInfo()!.build, build, "build unchanged");
  }
  stillWorks("after malformed init calls");
});

test("init(null) and initSync(null) either throw TypeError or act as init(): the loaded default build is reused, no new module per call (fresh process)", () => {
  const out = runFresh(`
    const first = [], second = [];
    for (const [name, f] of [["initSync", () => m.initSync(null)], ["init", () => m.init(null)]]) {
      try {
        await f(); const a = m.memoryStats(); m.matmul({ data: new Float32Array(4), shape: [2, 2] }, { data: new Float32Array(4), shape: [2, 2] });
        await f(); const b = m.memoryStats();
        // a new module starts with an empty heap: peakInUse drops back to 0
        console.log(JSON.stringify([name, "returned", b.peakInUse > 0]));
      } catch (e) { console.log(JSON.stringify([name, e.constructor.name, e.message])); }
    }`);
  for (const line of out) {
    const [name, what, same] = JSON.parse(line);
    if (what === "returned") assert.ok(same, `${name}(null) twice: the second call made a new module (a fresh WebAssembly.Memory and instance; peakInUse back to 0)`);
    else assert.is(what, "TypeError", `${name}(null) threw ${what}`);
  }
  assert.is(out.length, 2, "both calls reported");
});

// ---- memory under 10 000 mixed calls --------------------------------------------------------------------------

test("10 000 mixed calls (sdpa, matmul, softmax, MultiHeadAttention forward and cache steps, errors in between) keep memoryStats().reserved bounded and inUse back each time", () => {
  const rand = rng(10000);
  const mark = heapInUse();
  const models = [model({ E: 16, H: 4 }, 1), model({ E: 12, H: 6, Hkv: 2 }, 2)];
  const caches = models.map((mm) => mm.mha.createCache({ batch: 2, maxLength: 24 }));
  const base0 = heapInUse();
  const sizes = { L: 24, S: 24, E: 16 };
  const calls: Array<(max: boolean) => () => Float32Array | Float64Array | null> = [
    (max) => { const L = max ? sizes.L : int(rand, 1, sizes.L), S = max ? sizes.S : int(rand, 1, sizes.S), E = max ? sizes.E : int(rand, 1, sizes.E);
      const q = tensor(rand, [2, L, E]), k = tensor(rand, [2, S, E]), v = tensor(rand, [2, S, E]);
      const o = { causal: rand() < 0.5, returnWeights: max || rand() < 0.3, ...(rand() < 0.4 ? { mask: { data: randBytes(rand, L * S), shape: [L, S] } } : {}) };
      const r = sdpa(q, k, v, o); return () => { const want = refSdpaCall(q, k, v, o); assertRowsClose(r.output.data, want.out, E, RTOL, "sdpa", want.mag); return null; }; },
    (max) => { const M = max ? 32 : int(rand, 1, 32), K = max ? 32 : int(rand, 1, 32), N = max ? 32 : int(rand, 1, 32);
      const a = tensor(rand, [2, M, K]), b = tensor(rand, [K, N]); const r = matmul(a, b); return () => (assertClose(r.data, refMatmulCall(a, b).data, RTOL, "matmul"), null); },
    (max) => { const x = tensor(rand, [max ? 8 : int(rand, 1, 8), max ? 64 : int(rand, 1, 64)], -9, 9); const r = softmax(x); return () => (assertRowsClose(r.data, refSoftmaxCall(x), x.shape[1], RTOL, "softmax"), null); },
    (max) => { const mm = models[int(rand, 0, 1)]; const L = max ? 16 : int(rand, 1, 16); const q = tensor(rand, [2, L, mm.cfg.E]);
      const o = { causal: rand() < 0.5, needWeights: max || rand() < 0.3 }; const r = mm.mha.forward(q, undefined, undefined, o);
      return () => { const want = refForward(mm, q, undefined, undefined, o); assertRowsClose(r.output.data, want.out, mm.cfg.E, RTOL, "mha", want.mag); return null; }; },
    () => { const i = int(rand, 0, 1), mm = models[i], c = caches[i]; const n = int(rand, 1, 3);
      if (c.length + n > c.maxLength) c.reset();
      mm.mha.forward(tensor(rand, [2, n, mm.cfg.E]), undefined, undefined, { cache: c }); return () => null; },
  ];
  const bad: Array<() => unknown> = [
    () => sdpa(tensor(rand, [3, 4]), tensor(rand, [5, 3]), tensor(rand, [5, 2])),
    () => matmul(tensor(rand, [3, 4]), tensor(rand, [5, 2])),
    () => softmax({ data: new Float32Array(3), shape: [4] }),
    () => models[0].mha.forward(tensor(rand, [1, 2, 5])),
    () => models[0].mha.forward(tensor(rand, [2, 30, 16]), undefined, undefined, { cache: caches[0] }),
    () => sdpa(tensor(rand, [3, 4]), tensor(rand, [5, 4]), tensor(rand, [5, 2]), { mask: { data: new Uint8Array(6), shape: [2, 3] } }),
  ];
  // warm-up: the largest of each kind, twice
  for (let r = 0; r < 2; r++) for (const c of calls) c(true);
  const reserved0 = memoryStats()!.reserved;
  let errors = 0, checked = 0;
  for (let i = 0; i < 10000; i++) {
    if (i % 7 === 3) {
      try { pick(rand, bad)(); assert.unreachable(`call ${i}: a malformed call returned`); } catch (e) {
        assert.ok(e instanceof TypeError || e instanceof RangeError, `call ${i}: threw ${errName(e)}: ${(e as Error).message}`);
        errors++;
      }
    } else {
      const check = pick(rand, calls)(false);
      if (i % 250 === 0) { check(); checked++; }
    }
    if (heapInUse() !== base0) assert.unreachable(`call ${i}: inUse ${base0} → ${heapInUse()}`);
  }
  const grown = memoryStats()!.reserved - reserved0;
  assert.ok(grown <= 2 * 1024 * 1024, `reserved grew by ${grown} bytes after the warm-up (limit 2 MiB)`);
  assert.ok(errors > 1000 && checked >= 30, "errors and checks happened");
  models.forEach((mm) => mm.mha.dispose());
  assert.is(heapInUse(), mark, "heap back after disposing the instances and caches");
  stillWorks("after 10 000 calls");
});

// ---- what the fuzz found: regression tests -------------------------------------------------------------------

test("found by fuzz: MultiHeadAttention.forward self-attention (key/value omitted) and cache steps on an instance with kdim or vdim ≠ embedDim throw, not compute over mis-strided rows", () => {
  for (const cfg of [{ embedDim: 12, numHeads: 3, kdim: 5, vdim: 7 }, { embedDim: 4, numHeads: 2, kdim: 9 }, { embedDim: 4, numHeads: 2, vdim: 9 }]) {
    const mark = heapInUse();
    const m = new MultiHeadAttention({ ...cfg, seed: 1 });
    try {
      const x = tensor(rng(1), [1, 3, cfg.embedDim]);
      for (const [what, call] of [["self-attention", () => m.forward(x)], ["cache step", () => m.forward(x, undefined, undefined, { cache: m.createCache({ maxLength: 4 }) })]] as const) {
        let err: Any = null, out: Any = null;
        try { out = call(); } catch (e) { err = e; }
        assert.ok(err instanceof TypeError || err instanceof RangeError,
          `${JSON.stringify(cfg)} ${what}: ${err ? `threw ${errName(err)}: ${err.message}` : `returned [${Array.from(out.output.data.slice(0, 3)).map((v: Any) => v.toFixed(4))}, …] (key rows read with stride kdim from a [B, L, E] query)`}`);
        assert.match(err.message, /^MultiHeadAttention\.forward: /, "message names forward");
      }
    } finally { m.dispose(); }
    assert.is(heapInUse(), mark, "heap back");
  }
});

test("found by fuzz: new MultiHeadAttention with kdim or vdim ≥ 2^31 is a RangeError from the size check, and leaks no WASM memory", () => {
  for (const cfg of [{ embedDim: 8, numHeads: 2, kdim: 2 ** 31 }, { embedDim: 8, numHeads: 1, kdim: 2 ** 32 + 8 }, { embedDim: 8, numHeads: 2, vdim: 2 ** 53 - 1 }]) {
    const mark = heapInUse();
    let err: Any = null;
    try { new MultiHeadAttention(cfg).dispose(); } catch (e) { err = e; }
    assert.instance(err, RangeError, `${JSON.stringify(cfg)}: ${errName(err)}`);
    assert.match(err.message, /^MultiHeadAttention: /, `${JSON.stringify(cfg)}: message names the constructor; got "${err.message}"`);
    assert.is(heapInUse(), mark, `${JSON.stringify(cfg)}: heap back (the weight blocks were freed)`);
  }
});

test("found by fuzz: MultiHeadAttention.stateDict(prefix) with a non-string prefix is a TypeError", () => {
  const m = new MultiHeadAttention({ embedDim: 4, numHeads: 2, seed: 1 });
  try {
    for (const p of [5, null, {}, ["x"]]) {
      let err: Any = null, keys: string[] = [];
      try { keys = Object.keys(m.stateDict(p as Any)); } catch (e) { err = e; }
      assert.instance(err, TypeError, `stateDict(${describeValue(p)}): returned keys ${JSON.stringify(keys.slice(0, 2))}`);
    }
  } finally { m.dispose(); }
});

test("a shape is read once: accessor elements or a Proxy that change between reads cannot pass negative or fractional dims to the kernels", () => {
  const flip = (first: number[], later: number[]): number[] => {
    const s: number[] = [];
    first.forEach((d, i) => {
      let n = 0;
      Object.defineProperty(s, i, { get: () => (n++ === 0 ? d : later[i]), enumerable: true, configurable: true });
    });
    return s;
  };
  const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
  for (const [first, later] of [[[2, 3], [-2, -3]], [[2, 3], [3, 2]], [[3, 2], [-3, -2]]] as const) {
    let res: Any = null, err: Any = null;
    try { res = softmax({ data: x, shape: flip([...first], [...later]) }); } catch (e) { err = e; }
    if (err) {
      assert.ok(err instanceof TypeError || err instanceof RangeError, `[${first}] then [${later}]: threw ${errName(err)}: ${err.message}`);
    } else {
      // whatever shape it settled on, it must be a valid one, and the result the softmax over its rows
      const s: number[] = [...res.shape];
      assert.ok(s.every((d) => Number.isSafeInteger(d) && d >= 0) && prod(s) === 6, `[${first}] then [${later}]: returned shape [${s}]`);
      assertRowsClose(res.data, refSoftmaxCall({ data: x, shape: s }), s[s.length - 1], RTOL, `[${first}] then [${later}]`);
    }
  }
  let reads = 0;
  const proxy = new Proxy([4, 3], { get: (t, p, r) => (p === "1" && reads++ > 0 ? -3 : Reflect.get(t, p, r)) });
  let err: Any = null, shape: number[] = [];
  try { shape = [...matmul({ data: new Float32Array(12).fill(1), shape: proxy }, tensor(rng(1), [3, 2])).shape]; } catch (e) { err = e; }
  if (err) assert.ok(err instanceof TypeError || err instanceof RangeError, `proxy: threw ${errName(err)}: ${err.message}`);
  else assert.ok(shape.every((d) => d >= 0), `proxy: returned shape [${shape}]`);
  stillWorks("after shapes that change between reads");
});

test.run();
