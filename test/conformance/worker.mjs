// Conformance entry for workerd, bundled by esbuild with the "workerd" condition: the package's
// workerd entry imports the .wasm files as modules (compiled by workerd; it compiles no bytes).
// GET /?builds=simd,debug → the suite's result as JSON, with init()'s default source;
// &mode=module passes each build's Module imported from the package's ./wasm/* subpath (the
// generated modules.mjs) to init() explicitly.
import * as api from "wasm-attention";
import { runConformance } from "./suite.mjs";
import modules from "./modules.mjs";

export default {
  async fetch(request) {
    const params = new URL(request.url).searchParams;
    const builds = (params.get("builds") ?? "simd").split(",");
    const sourceFor = params.get("mode") === "module" ? (b) => modules[b] : undefined;
    return Response.json(await runConformance(api, builds, sourceFor));
  },
};
