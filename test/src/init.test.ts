// Loading: the debug build's failed kernel assertions become Errors naming the kernel, file and line
// (src/wasm.ts decodes the AssemblyScript message); the release build has no assertions at all.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUILD } from "../helpers.js";
import { runtime } from "../../src/wasm.js";

test(`${BUILD}: a kernel called with bad dims ${BUILD === "debug" ? "throws an Error with the assertion's message, file and line" : "has no assertion to fail"}`, () => {
  const rt = runtime("test");
  const p = rt.heap.alloc(4096);
  try {
    if (BUILD === "debug") {
      assert.throws(() => rt.kernels.softmax_rows_f32(p, p, 0, 5),
        (e: Error) => /^abort: softmax_rows_f32: rows and cols must be >= 1 at assembly\/softmax\.ts:\d+:\d+$/.test(e.message));
      assert.throws(() => rt.kernels.attention_f32(p, 1, 0, 1, p, 1, p, 1, p, 1, 0, 0, p + 8, 1, 1, 1, 1, 1, 0),
        (e: Error) => /^abort: attention_f32: scratch must be 16-byte aligned at assembly\/attention\.ts:\d+:\d+$/.test(e.message));
    } else {
      rt.kernels.softmax_rows_f32(p, p, 0, 5);   // rows = 0: nothing to do, nothing checked
    }
  } finally {
    rt.heap.release(p);
  }
});

test.run();
