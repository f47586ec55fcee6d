// Conformance entry for the command-line runtimes (Node, Deno, Bun): imports the package by its
// name, as a user would, runs the suite for the builds named on the command line and prints one
// line "CONFORMANCE <json>". test/runtimes/ runs it from a project with the packed package installed.
import * as api from "wasm-attention";
import { runConformance } from "./suite.mjs";

const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const result = await runConformance(api, args);
console.log(`CONFORMANCE ${JSON.stringify(result)}`);
