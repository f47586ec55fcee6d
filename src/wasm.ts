// Loading the kernels in any runtime: init()/initSync() over bytes | URL | Response | Module.
// The entry points (index.ts: embedded bytes; workerd.ts: .wasm files imported as Modules) pass
// their default source in; this file has no runtime-specific imports (pool.ts loads workers when asked).
import { KERNEL_NAMES, type Kernels } from "./abi.js";
import { Heap, PAGE } from "./memory.js";
import type { Pool } from "./pool.js";
import { describe } from "./validate.js";

/**
 * Which compiled kernels run:
 * - `simd`: plain SIMD, -O3 — the default; bit-identical results in every engine;
 * - `relaxed`: relaxed SIMD (fused multiply-add where the CPU has it, a 6×8 tile) — faster, opt-in
 *   with `relaxedSimd: true`; results may differ in the last bits between CPUs;
 * - `scalar`: no SIMD — the fallback for engines without WebAssembly SIMD, several times slower;
 * - `debug`: plain SIMD with the kernels' assertions live (tests, finding misuse).
 */
export type BuildName = "simd" | "relaxed" | "scalar" | "debug";
export const BUILDS: readonly BuildName[] = ["simd", "relaxed", "scalar", "debug"];

// Feature probes (hand-assembled): (func (result v128) i32.const 0 i8x16.splat), and three splats
// fed to f32x4.relaxed_madd (0xfd 0x105).
const SIMD_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 15, 11];
const RELAXED_PROBE = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0,
  65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253, 133, 2, 11];

function validates(bytes: number[]): boolean {
  try {
    return WebAssembly.validate(new Uint8Array(bytes));
  } catch {
    return false;
  }
}

/** What this engine supports: plain SIMD, relaxed SIMD. */
export function detectFeatures(): { simd: boolean; relaxedSimd: boolean } {
  const simd = validates(SIMD_PROBE);
  return { simd, relaxedSimd: simd && validates(RELAXED_PROBE) };
}

/** The build init() picks when none is named: relaxed if asked for and supported, else simd, else scalar. */
export function chooseBuild(relaxedSimd: boolean): BuildName {
  const f = detectFeatures();
  if (relaxedSimd && f.relaxedSimd) return "relaxed";
  return f.simd ? "simd" : "scalar";
}

const NOTES: Partial<Record<BuildName, string>> = {
  scalar: "this engine has no WebAssembly SIMD: running the scalar kernels, about 10× slower than the SIMD build",
  relaxed: "relaxed SIMD: fused multiply-add where the CPU has it; results may differ in the last bits between CPUs",
  debug: "debug kernels: assertions live, slower",
};

/** Where the kernels come from: a compiled Module (what Cloudflare Workers give for an imported .wasm), the bytes, a Response, or a URL to fetch. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | Response | URL | string;

export interface InitOptions {
  /** The .wasm to use. Default: the package's own for the chosen build. */
  source?: WasmSource | Promise<WasmSource>;
  /** Force a build. Default: "simd", or "scalar" where SIMD is missing ("relaxed" with relaxedSimd). With `source`, says which build the source is. */
  build?: BuildName;
  /** Use the relaxed-SIMD build where the engine supports it (Node ≥ 22, Chrome ≥ 114, Deno, workerd). Default false. */
  relaxedSimd?: boolean;
  /**
   * Threads that share each call: a number ≥ 1, or "auto" (the cores the engine reports, at most
   * 8, where shared memory and workers exist). Default 1. Results are the same bits for any count.
   */
  threads?: number | "auto";
}

export interface BuildInfo {
  build: BuildName;
  simd: boolean;
  relaxedSimd: boolean;
  debug: boolean;
  /** Threads each call may use (1: the calling thread alone). */
  threads: number;
  /** Why this build may be slower or differ, or why it runs on fewer threads than asked, when it does. */
  note?: string;
}

export interface Runtime {
  readonly kernels: Kernels;
  readonly heap: Heap;
  readonly info: BuildInfo;
  /** Workers sharing `heap`'s memory (threads builds only), or null. */
  pool: Pool | null;
  /** The compiled module (threads builds: what workers instantiate). */
  readonly module: WebAssembly.Module | null;
  readonly shared: boolean;
}

/** Supplies the embedded bytes of a build (from the entry point); `threads`: its shared-memory variant. */
export type DefaultSource = (build: BuildName, threads: boolean) => WasmSource | Promise<WasmSource>;

let current: Runtime | null = null;
let pending: Promise<Runtime> | null = null;
let pendingKey: string | null = null;
/** Every build loaded so far (each with its own memory), by name ("simd", or "simd+threads" over a shared memory): switching back to one reuses it. */
const loaded = new Map<string, Runtime>();

const INIT_KEYS = ["source", "build", "relaxedSimd", "threads"];

/**
 * A fetch Response, recognised without touching the global `Response`: in Node, reading any fetch
 * global loads the whole fetch implementation (~25 ms of a cold start).
 */
function isResponse(x: unknown): x is Response {
  return typeof x === "object" && x !== null && typeof (x as Response).arrayBuffer === "function" &&
    typeof (x as Response).ok === "boolean" && typeof (x as Response).status === "number";
}

function checkInitOptions(fn: string, opts: unknown): InitOptions {
  if (opts === undefined) return {};
  if (typeof opts === "string" || opts instanceof WebAssembly.Module || ArrayBuffer.isView(opts) ||
      opts instanceof ArrayBuffer || isResponse(opts) || opts instanceof URL ||
      (typeof opts === "object" && opts !== null && typeof (opts as Promise<unknown>).then === "function")) {
    return { source: opts as WasmSource };   // init(source) shorthand
  }
  if (typeof opts !== "object" || opts === null) {
    throw new TypeError(`${fn}: options must be { relaxedSimd?, build?, source?, threads? } or a source (a WebAssembly.Module, bytes, a Response or a URL); got ${describe(opts)}`);
  }
  for (const k of Object.keys(opts)) {
    if (!INIT_KEYS.includes(k)) throw new TypeError(`${fn}: unknown option ${JSON.stringify(k)}; known options are ${INIT_KEYS.join(", ")}`);
  }
  const o = opts as InitOptions;
  if (o.build !== undefined && !BUILDS.includes(o.build)) {
    throw new TypeError(`${fn}: options.build must be one of ${BUILDS.map((b) => JSON.stringify(b)).join(", ")}; got ${describe(o.build)}`);
  }
  if (o.relaxedSimd !== undefined && typeof o.relaxedSimd !== "boolean") {
    throw new TypeError(`${fn}: options.relaxedSimd must be a boolean; got ${describe(o.relaxedSimd)}`);
  }
  if (o.threads !== undefined && o.threads !== "auto") {
    if (typeof o.threads !== "number") throw new TypeError(`${fn}: options.threads must be a number or "auto"; got ${describe(o.threads)}`);
    if (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > MAX_THREADS) {
      throw new RangeError(`${fn}: options.threads must be an integer from 1 to ${MAX_THREADS} or "auto"; got ${describe(o.threads)}`);
    }
  }
  return o;
}

/** The most threads `init` accepts. */
export const MAX_THREADS = 64;

function makeRuntime(exports: Record<string, unknown>, memory: WebAssembly.Memory, build: BuildName,
  module: WebAssembly.Module | null = null, maxPages = 65536): Runtime {
  for (const name of KERNEL_NAMES) {
    if (typeof exports[name] !== "function") throw new TypeError(`wasm-attention: the loaded module lacks the export ${name}: it is not a wasm-attention kernels build`);
  }
  const kernels = exports as unknown as Kernels;
  const heap = new Heap(memory, kernels.heap_base() >>> 0, maxPages * PAGE);
  const info: BuildInfo = { build, simd: build !== "scalar", relaxedSimd: build === "relaxed", debug: build === "debug", threads: 1 };
  if (NOTES[build]) info.note = NOTES[build];
  return { kernels, heap, info, pool: null, module, shared: module !== null };
}

/** An AssemblyScript string at ptr: UTF-16 code units, its byte length in the 4 bytes before it. */
function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr < 4 || ptr >= memory.buffer.byteLength) return "";
  const bytes = new Uint32Array(memory.buffer, (ptr - 4) & ~3, 1)[0];
  const units = new Uint16Array(memory.buffer, ptr, Math.min(bytes, memory.buffer.byteLength - ptr) >>> 1);
  let s = "";
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.subarray(i, i + 4096));
  return s;
}

/**
 * The module's imports: its memory, and (used by the debug build only) env.abort, which turns a
 * failed kernel assertion into an Error naming the message, file, line and column.
 */
function imports(memory: WebAssembly.Memory) {
  const abort = (msg: number, file: number, line: number, col: number): never => {
    throw new Error(`abort: ${readString(memory, msg)} at ${readString(memory, file)}:${line}:${col}`);
  };
  return { env: { memory, abort } };
}

/** Compile (if needed) and instantiate; bytes compile asynchronously (browsers refuse large sync compiles). */
async function instantiate(src: WebAssembly.Module | BufferSource, imp: WebAssembly.Imports): Promise<Record<string, unknown>> {
  const module = src instanceof WebAssembly.Module ? src : await WebAssembly.compile(src);
  return (await WebAssembly.instantiate(module, imp)).exports as Record<string, unknown>;
}

function instantiateSync(src: WebAssembly.Module | BufferSource, imp: WebAssembly.Imports): Record<string, unknown> {
  const module = src instanceof WebAssembly.Module ? src : new WebAssembly.Module(src);
  return new WebAssembly.Instance(module, imp).exports as Record<string, unknown>;
}

function newMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 16 });   // 1 MiB; grows as needed
}

async function resolveSource(src: WasmSource | Promise<WasmSource>): Promise<WebAssembly.Module | ArrayBuffer | ArrayBufferView | Response> {
  const s = await src;
  if (typeof s === "string" || s instanceof URL) return fetch(s);
  return s;
}

/** A shared memory for a threads build: the largest maximum this engine grants (4 GiB, else 1 GiB, else 256 MiB). */
function newSharedMemory(): { memory: WebAssembly.Memory; maxPages: number } {
  let err: unknown;
  for (const maxPages of [65536, 16384, 4096]) {
    try {
      return { memory: new WebAssembly.Memory({ initial: 16, maximum: maxPages, shared: true } as WebAssembly.MemoryDescriptor), maxPages };
    } catch (e) {
      err = e;
    }
  }
  throw err;
}

async function bytesOrModule(src: WasmSource | Promise<WasmSource>): Promise<WebAssembly.Module | BufferSource> {
  let s = await resolveSource(src);
  if (isResponse(s)) {
    if (!s.ok) throw new Error(`init: fetching the kernels failed: HTTP ${s.status} ${s.statusText} for ${s.url}`);
    s = await s.arrayBuffer();
  }
  return s as WebAssembly.Module | BufferSource;
}

/** Loads a build over a shared memory, keeping the compiled Module for the workers. */
async function loadShared(src: WebAssembly.Module | BufferSource, build: BuildName): Promise<Runtime> {
  const module = src instanceof WebAssembly.Module ? src : await WebAssembly.compile(src);
  const { memory, maxPages } = newSharedMemory();
  const inst = await WebAssembly.instantiate(module, imports(memory));
  return makeRuntime(inst.exports as Record<string, unknown>, memory, build, module, maxPages);
}

/** Sets how many threads rt's calls use: ends its workers, then starts n − 1 new ones (n > 1). */
async function setThreads(rt: Runtime, n: number, why: string | undefined): Promise<void> {
  if (!(rt.pool && rt.pool.threads === n && !rt.pool.failed)) {
    rt.pool?.terminate();
    rt.pool = null;
    rt.info.threads = 1;
    if (n > 1 && rt.module) {
      try {
        const { Pool } = await import("./pool.js");
        rt.pool = await Pool.start(n, rt.module, rt.heap.memory, KERNEL_NAMES);
        rt.info.threads = n;
      } catch (e) {
        why = `${(e as Error).message}; running on 1 thread`;
      }
    }
  }
  setNote(rt, why);
}

/** buildInfo().note: the build's own note, and why threads are fewer than asked (if they are). */
function setNote(rt: Runtime, why: string | undefined): void {
  const notes = [NOTES[rt.info.build], why ? `threads: ${why}` : undefined].filter((x) => x !== undefined);
  if (notes.length) rt.info.note = notes.join("; ");
  else delete rt.info.note;
}

/** Ends every worker: calls run on the calling thread until `init({ threads })` starts them again. */
export function terminateThreads(): void {
  for (const rt of loaded.values()) {
    if (rt.pool) {
      rt.pool.terminate();
      rt.pool = null;
      rt.info.threads = 1;
    }
  }
}

/** A pool whose worker died: end it, fall back to one thread, and say so (in the error and in buildInfo().note). */
export function checkPool(rt: Runtime, fn: string): void {
  const why = rt.pool?.failed;
  if (why === undefined) return;
  rt.pool!.terminate();
  rt.pool = null;
  rt.info.threads = 1;
  const note = `threads: ${why}; fell back to 1 thread (call init({ threads }) to start them again)`;
  setNote(rt, `${why}; fell back to 1 thread (call init({ threads }) to start them again)`);
  throw new Error(`${fn}: ${note}. This call did not run; later calls run on 1 thread.`);
}

/** Loads the kernels (once; later calls return the same promise). Resolves to the running build's info. */
export function initWith(dflt: DefaultSource, opts?: InitOptions | WasmSource): Promise<BuildInfo> {
  const o = checkInitOptions("init", opts);
  const build = o.build ?? chooseBuild(o.relaxedSimd ?? false);
  const want = o.threads ?? 1;
  if (o.source === undefined && want === 1) {
    const have = loaded.get(build);
    if (have) {
      // The last call decides: a load still under way for another build must not take over.
      current = have;
      pending = null;
      pendingKey = null;
      setNote(have, undefined);
      return Promise.resolve({ ...have.info });
    }
  }
  const key = `${build}:${String(want)}`;
  if (o.source === undefined && pending && pendingKey === key) return pending.then((r) => ({ ...r.info }));
  pendingKey = key;
  const p = (async (): Promise<Runtime> => {
    let n = want === "auto" ? Math.min(8, await reportedCoresLazy()) : want;
    let why: string | undefined;
    if (n > 1) {
      why = build === "scalar" ? "the scalar build (no SIMD) has no threads variant" : await threadsUnsupportedLazy();
      if (why) n = 1;
    }
    if (n > 1) {
      // Threads: the build's shared-memory variant (one per build, its pool resized by each init).
      const have = o.source === undefined ? loaded.get(`${build}+threads`) : undefined;
      if (have) {
        await setThreads(have, n, why);
        return have;
      }
      const src = await bytesOrModule(o.source ?? dflt(build, true));
      let rt: Runtime | null = null;
      try {
        rt = await loadShared(src, build);
      } catch (e) {
        if (o.source === undefined) throw e;
        why = `the given source is not a threads build (${(e as Error).message}); running on 1 thread`;
      }
      if (rt) {
        await setThreads(rt, n, why);
        loaded.set(`${build}+threads`, rt);
        return rt;
      }
    }
    const have = o.source === undefined ? loaded.get(build) : undefined;
    if (have) {
      setNote(have, why);
      return have;
    }
    const memory = newMemory();
    const src = await bytesOrModule(o.source ?? dflt(build, false));
    const exports = await instantiate(src, imports(memory));
    const rt = makeRuntime(exports, memory, build);
    setNote(rt, why);
    loaded.set(build, rt);
    return rt;
  })();
  pending = p;
  return p.then(
    (r) => { if (pending === p) { current = r; pending = null; pendingKey = null; } return { ...r.info }; },
    (e) => { if (pending === p) { pending = null; pendingKey = null; } throw e; },
  );
}

async function reportedCoresLazy(): Promise<number> {
  return (await import("./pool.js")).reportedCores();
}

async function threadsUnsupportedLazy(): Promise<string | undefined> {
  return (await import("./pool.js")).threadsUnsupported();
}

/** Synchronous init over bytes or a compiled Module. */
export function initSyncWith(dflt: DefaultSource, opts?: InitOptions | WasmSource): BuildInfo {
  const o = checkInitOptions("initSync", opts);
  const build = o.build ?? chooseBuild(o.relaxedSimd ?? false);
  if (o.threads !== undefined && o.threads !== 1) {
    // Workers start asynchronously: initSync can only switch back to threads init() started.
    const have = o.source === undefined ? loaded.get(`${build}+threads`) : undefined;
    if (have && have.pool && !have.pool.failed && (o.threads === "auto" || have.pool.threads === o.threads)) {
      current = have; pending = null; pendingKey = null;
      return { ...have.info };
    }
    throw new TypeError(`initSync: options.threads ${describe(o.threads)} needs workers, which start asynchronously; use \`await init({ threads })\` (afterwards initSync may switch back to them)`);
  }
  const have = o.source === undefined ? loaded.get(build) : undefined;
  if (have) { current = have; pending = null; pendingKey = null; return { ...have.info }; }
  const src = o.source ?? dflt(build, false);
  if (!(src instanceof WebAssembly.Module || src instanceof ArrayBuffer || ArrayBuffer.isView(src))) {
    throw new TypeError(`initSync: source must be a WebAssembly.Module, an ArrayBuffer or a typed array; got ${describe(src)} (use init() for URLs, Responses and promises)`);
  }
  const memory = newMemory();
  const exports = instantiateSync(src as WebAssembly.Module | BufferSource, imports(memory));
  current = makeRuntime(exports, memory, build);
  loaded.set(build, current);
  pending = null;
  pendingKey = null;
  return { ...current.info };
}

/** The loaded runtime, or a clear error naming the caller. */
export function runtime(fn: string): Runtime {
  if (current === null) throw new Error(`${fn}: wasm-attention is not initialised; call \`await init()\` (or initSync()) first`);
  return current;
}

/** The running build, or null before init(). */
export function buildInfo(): BuildInfo | null {
  return current ? { ...current.info } : null;
}

/** Memory statistics of the running module, in bytes: reserved (the memory's size), in use now, and the peak in use. */
export function memoryStats(): { reserved: number; inUse: number; peakInUse: number } | null {
  return current ? { reserved: current.heap.bytesReserved, inUse: current.heap.bytesInUse, peakInUse: current.heap.peakBytesInUse } : null;
}

/** Base64 → bytes with atob (present in browsers, Node ≥ 16, Deno, Bun, workerd). */
export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
