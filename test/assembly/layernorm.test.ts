// test/assembly/layernorm.test.ts ↔ assembly/layernorm.ts (raw export layer_norm_f32).
// layer_norm_f32(y, x, weight, bias, rows, E, eps): rows × E, row stride E; weight, bias = 0 for none;
// y == x allowed. Guarded buffers (test/support.ts): nothing written outside y, inputs unchanged, every
// element of y written (y starts as NaN). E through the kernel's loops: 16 floats a step, then 4, then 1.
import { test } from "uvu";
import { ODD_SIZES, assertRowsClose, randn, rng } from "../helpers.js";
import { refLayerNorm } from "../reference-layers.js";
import { runtime } from "../../src/wasm.js";
import { guarded, tile } from "../support.js";
import { bitsEqual } from "../src/reliability-support.js";

const rt = runtime("test");
const kern = rt.kernels;

function run(x: Float32Array, w: Float32Array | null, b: Float32Array | null, rows: number, E: number, eps: number, inPlace: boolean, what: string): Float32Array {
  return guarded(rt, (g) => {
    const pw = w ? g.input(w, "weight").ptr : 0, pb = b ? g.input(b, "bias").ptr : 0;
    let y: Float32Array;
    if (inPlace) {
      const pxy = g.output(rows * E, "x=y");
      g.f32(pxy).set(x);
      kern.layer_norm_f32(pxy.ptr, pxy.ptr, pw, pb, rows, E, eps);
      g.check(what);
      y = g.f32(pxy).slice();
    } else {
      const px = g.input(x, "x"), py = g.output(rows * E, "y");
      kern.layer_norm_f32(py.ptr, px.ptr, pw, pb, rows, E, eps);
      g.check(what);
      y = g.f32(py).slice();
    }
    const ref = refLayerNorm(x, w, b, E, eps);
    assertRowsClose(y, ref.y, E, 1e-5, what, ref.mag);
    return y;
  });
}

for (const E of [...new Set([...ODD_SIZES, 15, 16, 31, 33, 768])].sort((a, b) => a - b)) {
  test(`layer_norm_f32 E=${tile(E, 16, "step")}, rows ∈ {1, 3}, weight and bias each present or 0, in place and not (the same bits)`, () => {
    for (const rows of [1, 3]) {
      const r = rng(E * 3 + rows);
      const x = randn(r, rows * E, -3, 3), w = randn(r, E, 0.5, 2), b = randn(r, E);
      for (const [ww, bb] of [[w, b], [w, null], [null, b], [null, null]] as const) {
        const what = `E=${E} rows=${rows}${ww ? " weight" : ""}${bb ? " bias" : ""}`;
        const y = run(x, ww, bb, rows, E, 1e-5, false, what);
        bitsEqual(run(x, ww, bb, rows, E, 1e-5, true, `${what} in place`), y, `${what}: in place`);
      }
    }
  });
}

test.run();
