// Conformance entry for Chromium, bundled by esbuild: ?builds=simd,debug runs the embedded-bytes
// default entry; with &mode=url every build is loaded from the URL of its .wasm (imported through the
// package's ./wasm/* subpath with esbuild's file loader: see the generated urls.mjs).
import * as api from "wasm-attention";
import { runConformance } from "./suite.mjs";
import urls from "./urls.mjs";

const params = new URLSearchParams(location.search);
const builds = params.get("builds").split(",");
const url = params.get("mode") === "url";
globalThis.__result = runConformance(api, builds, url ? (b) => new URL(urls[b], location.href) : undefined).then((r) => {
  // the URL mode must really have fetched each .wasm (not fallen back on the embedded bytes)
  r.fetched = performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname).filter((p) => p.endsWith(".wasm"));
  return r;
});
