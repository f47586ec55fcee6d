// wasm-attention: the default entry. The kernels' bytes are embedded (base64), so this entry works
// under any bundler and in any runtime that may compile WebAssembly from bytes.
import { relaxed, scalar, simd, simdDebug } from "./generated/wasm.js";
import { type BuildInfo, type BuildName, type InitOptions, type WasmSource, decodeBase64, initSyncWith, initWith } from "./wasm.js";

const EMBEDDED: Record<BuildName, string> = { simd, relaxed, scalar, debug: simdDebug };
const embedded = (build: BuildName): WasmSource => decodeBase64(EMBEDDED[build]);

/**
 * Loads the kernels. Idempotent: later calls return the running build. With no source it compiles
 * the bytes embedded in the package.
 * @param options `{ build?, source? }`, or a source directly: a `WebAssembly.Module`, bytes, a `Response` or a URL.
 */
export function init(options?: InitOptions | WasmSource): Promise<BuildInfo> {
  return initWith(embedded, options);
}

/** Synchronous init over the embedded bytes, given bytes, or a compiled `WebAssembly.Module`. */
export function initSync(options?: InitOptions | WasmSource): BuildInfo {
  return initSyncWith(embedded, options);
}

export * from "./api.js";
