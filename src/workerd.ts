// wasm-attention for Cloudflare Workers (workerd, wrangler, miniflare) and other runtimes that refuse
// to compile WebAssembly from bytes ("Wasm code generation disallowed by embedder"). Picked by the
// package's "workerd" export condition. The kernels are imported as modules, which those
// runtimes hand over already compiled; nothing here compiles bytes or reads import.meta.url.
import simd from "../build/kernels.wasm";
import debug from "../build/kernels.debug.wasm";
import relaxed from "../build/kernels.relaxed.wasm";
import scalar from "../build/kernels.scalar.wasm";
import { type BuildInfo, type BuildName, type InitOptions, type WasmSource, initSyncWith, initWith } from "./wasm.js";

// One imported Module per build in BUILDS (src/wasm.ts); a new build needs its import here.
const MODULES: Record<BuildName, WebAssembly.Module> = { simd, relaxed, scalar, debug };
const imported = (build: BuildName): WasmSource => MODULES[build];

/**
 * Loads the kernels. Idempotent: later calls return the running build. With no source it
 * instantiates the `.wasm` imported as a module (compiled by the runtime when the worker loads).
 * @param options `{ build?, relaxedSimd?, threads?, source? }` (workerd has no workers: threads is always 1), or a source directly: a `WebAssembly.Module`, bytes, a `Response` or a URL.
 */
export function init(options?: InitOptions | WasmSource): Promise<BuildInfo> {
  return initWith(imported, options);
}

/** Synchronous init over the imported Module (the default), or a given Module. */
export function initSync(options?: InitOptions | WasmSource): BuildInfo {
  return initSyncWith(imported, options);
}

export * from "./api.js";
