// Which builds the runtime runs cover, and which .wasm file holds each. The build names come from
// BUILDS in src/wasm.ts (read from the compiled dist/wasm.js); the file of a build follows
// scripts/build-wasm.mjs: kernels.wasm for "simd", kernels.<build>.wasm for every other build.
import { pathToFileURL } from "node:url";
import { join } from "node:path";

export const wasmFile = (build) => (build === "simd" ? "kernels.wasm" : `kernels.${build}.wasm`);

export async function loadBuilds(root) {
  const { BUILDS } = await import(pathToFileURL(join(root, "dist", "wasm.js")).href);
  if (!Array.isArray(BUILDS) || BUILDS.length === 0) throw new Error("dist/wasm.js exports no BUILDS list");
  return [...BUILDS];
}
