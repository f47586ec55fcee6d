// Loading: the debug build's failed kernel assertions become Errors naming the kernel, file and line
// (src/wasm.ts decodes the AssemblyScript message); the release builds have no assertions at all: they
// import no abort function, and a call that debug rejects runs as the dims say. Each build checks its own.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { BUILD } from "../helpers.js";
import { runtime } from "../../src/wasm.js";

const DEBUG = BUILD === "debug";
const FILE = BUILD === "simd" ? "kernels.wasm" : `kernels.${BUILD}.wasm`;
const PATTERN = 0xa5;   // a byte no kernel writes by accident (as f32: −2.9e−16)

test(`${BUILD}: the running module is build/${FILE}; it imports env.memory${DEBUG ? " and env.abort (its assertions call it)" : " only: no abort, so no assertion is compiled in"}`, () => {
  const rt = runtime("test");
  assert.equal([rt.info.build, rt.info.debug], [BUILD, DEBUG], "buildInfo");
  const mod = new WebAssembly.Module(new Uint8Array(readFileSync(new URL(`../../build/${FILE}`, import.meta.url))));
  const imports = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}:${i.kind}`).sort();
  assert.equal(imports, DEBUG ? ["env.abort:function", "env.memory:memory"] : ["env.memory:memory"]);
});

test(`${BUILD}: a kernel called with bad dims ${DEBUG ? "throws an Error with the assertion's message, file and line" : "is not checked: rows = 0 writes nothing, a misaligned scratch still gives the right result"}`, () => {
  const rt = runtime("test");
  const p = rt.heap.alloc(4096);
  const bytes = () => new Uint8Array(rt.heap.memory.buffer, p, 4096);
  try {
    bytes().fill(PATTERN);
    if (DEBUG) {
      assert.throws(() => rt.kernels.softmax_rows_f32(p, p + 2048, 0, 5),
        (e: Error) => /^abort: softmax_rows_f32: rows and cols must be >= 1 at assembly\/softmax\.ts:\d+:\d+$/.test(e.message));
      assert.throws(() => rt.kernels.attention_f32(p, 1, 0, 1, p, 1, p, 1, p, 1, 0, 0, p + 8, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0),
        (e: Error) => /^abort: attention_f32: scratch must be 16-byte aligned at assembly\/attention\.ts:\d+:\d+$/.test(e.message));
    } else {
      rt.kernels.softmax_rows_f32(p, p + 2048, 0, 5);   // rows = 0: nothing to do
      assert.ok(bytes().every((b) => b === PATTERN), "rows = 0: not one byte written");
      // one query over one key (L = S = E = Ev = 1): the weight is exactly 1, the output the value
      const f = new Float32Array(rt.heap.memory.buffer, p, 4);
      f.set([0.75, -1.5, 2.25]);   // q, k, v
      rt.kernels.attention_f32(p + 12, 1, 0, 1, p, 1, p + 4, 1, p + 8, 1, 0, 0, p + 1024 + 8, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0);
      assert.equal(Array.from(new Float32Array(rt.heap.memory.buffer, p, 4)), [0.75, -1.5, 2.25, 2.25], "o = v with scratch at an 8-byte offset");
    }
  } finally {
    rt.heap.release(p);
  }
});

test.run();
