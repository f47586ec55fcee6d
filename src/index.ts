// wasm-attention: the default entry. The kernels' bytes are embedded (base64), so this entry works
// under any bundler and in any runtime that may compile WebAssembly from bytes.
import { relaxed, relaxedThreads, scalar, simd, simdDebug, simdDebugThreads, simdThreads } from "./generated/wasm.js";
import { type BuildInfo, type BuildName, type InitOptions, type WasmSource, decodeBase64, initSyncWith, initWith } from "./wasm.js";

const EMBEDDED: Record<BuildName, string> = { simd, relaxed, scalar, debug: simdDebug };
// Over a shared memory (init({ threads })); the scalar build has none (engines without SIMD).
const THREADS: Partial<Record<BuildName, string>> = { simd: simdThreads, relaxed: relaxedThreads, debug: simdDebugThreads };
const embedded = (build: BuildName, threads: boolean): WasmSource => decodeBase64((threads && THREADS[build]) || EMBEDDED[build]);

/**
 * Loads the kernels. Idempotent: later calls return the running build. With no source it compiles
 * the bytes embedded in the package.
 * @param options `{ build?, relaxedSimd?, threads?, source? }`, or a source directly: a `WebAssembly.Module`, bytes, a `Response` or a URL.
 */
export function init(options?: InitOptions | WasmSource): Promise<BuildInfo> {
  return initWith(embedded, options);
}

/** Synchronous init over the embedded bytes, given bytes, or a compiled `WebAssembly.Module`. */
export function initSync(options?: InitOptions | WasmSource): BuildInfo {
  return initSyncWith(embedded, options);
}

export * from "./api.js";
