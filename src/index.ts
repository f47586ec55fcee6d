// wasm-attention: the default entry. The kernels' bytes are embedded (base64), so this entry works
// under any bundler and in any runtime that may compile WebAssembly from bytes.
import { relaxed, scalar, simd, simdDebug } from "./generated/wasm.js";
import { type BuildInfo, type BuildName, type InitOptions, type WasmSource, decodeBase64, initSyncWith, initWith } from "./wasm.js";

const EMBEDDED: Record<BuildName, string> = { simd, relaxed, scalar, debug: simdDebug };
/** The build's bytes; with `threads`, its shared-memory variant, from a module loaded only then (the scalar build has none). */
function embedded(build: BuildName, threads: boolean): WasmSource | Promise<WasmSource> {
  if (!threads || build === "scalar") return decodeBase64(EMBEDDED[build]);
  return import("./generated/wasm-threads.js").then((t) =>
    decodeBase64(build === "simd" ? t.simdThreads : build === "relaxed" ? t.relaxedThreads : t.simdDebugThreads));
}

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
