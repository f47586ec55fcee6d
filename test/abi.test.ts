// The ABI: assembly/index.ts exports exactly the names src/abi.ts lists, and the built module has them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { KERNEL_NAMES } from "../src/abi.js";

const root = new URL("..", import.meta.url);

test("assembly/index.ts exports the names src/abi.ts lists", () => {
  const src = readFileSync(new URL("assembly/index.ts", root), "utf8");
  const names = new Set<string>();
  for (const m of src.matchAll(/export\s*\{([^}]*)\}/g)) for (const n of m[1].split(",")) names.add(n.trim());
  for (const m of src.matchAll(/export\s+function\s+(\w+)/g)) names.add(m[1]);
  names.delete("");
  assert.equal([...names].sort(), [...KERNEL_NAMES].sort());
});

for (const file of ["kernels.wasm", "kernels.debug.wasm"]) {
  test(`build/${file} exports exactly the ABI functions and imports only env.memory (+ env.abort in debug)`, () => {
    const mod = new WebAssembly.Module(new Uint8Array(readFileSync(new URL(`build/${file}`, root))));
    const fns = WebAssembly.Module.exports(mod).filter((e) => e.kind === "function").map((e) => e.name).sort();
    assert.equal(fns, [...KERNEL_NAMES].sort());
    const imports = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`).sort();
    assert.equal(imports, file.includes("debug") ? ["env.abort:function", "env.memory:memory"] : ["env.memory:memory"]);
  });
}

test.run();
