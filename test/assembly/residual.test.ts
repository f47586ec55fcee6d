// test/assembly/residual.test.ts ↔ assembly/residual.ts (raw exports add_f32, add_layer_norm_f32).
// add_f32(y, a, b, n): y = a + b, exactly (one f32 add per element), n through the vector loop and the tail.
// add_layer_norm_f32(y, sum, x, r, weight, bias, rows, E, eps): the bits of layer_norm_f32 on x + r, the
// sum kept at `sum` when it is not 0; in place (y = x, sum = r) gives the same bits. Guarded buffers
// (test/support.ts): nothing written outside the outputs, inputs unchanged, every output element written.
import { test } from "uvu";
import { ODD_SIZES, randn, rng } from "../helpers.js";
import { runtime } from "../../src/wasm.js";
import { guarded } from "../support.js";
import { bitsEqual } from "../src/reliability-support.js";

const rt = runtime("test");
const kern = rt.kernels;

for (const n of [0, ...ODD_SIZES, 5, 7, 8, 33]) {
  test(`add_f32 n=${n}: y = a + b exactly (f32 adds), every element written, nothing outside`, () => {
    const r = rng(n + 1);
    const a = randn(r, n, -1e3, 1e3), b = randn(r, n, -1, 1);
    guarded(rt, (g) => {
      const pa = g.input(a, "a"), pb = g.input(b, "b"), py = g.output(Math.max(n, 1), "y");
      kern.add_f32(py.ptr, pa.ptr, pb.ptr, n);
      if (n === 0) return;
      g.check(`n=${n}`);
      bitsEqual(g.f32(py).slice(0, n), Float32Array.from(a, (x, i) => Math.fround(x + b[i])), `n=${n}`);
    });
  });
}

for (const E of [1, 3, 4, 15, 16, 17, 33, 768]) {
  test(`add_layer_norm_f32 E=${E}, rows 3: the bits of layer_norm_f32(x + r); sum kept; in place the same`, () => {
    const r = rng(E + 100);
    const rows = 3;
    const x = randn(r, rows * E, -3, 3), res = randn(r, rows * E, -3, 3), w = randn(r, E, 0.5, 2), b = randn(r, E);
    const s = Float32Array.from(x, (v, i) => Math.fround(v + res[i]));
    const want = guarded(rt, (g) => {
      const ps = g.input(s, "s"), py = g.output(rows * E, "y"), pw = g.input(w, "w"), pb = g.input(b, "b");
      kern.layer_norm_f32(py.ptr, ps.ptr, pw.ptr, pb.ptr, rows, E, 1e-5);
      return g.f32(py).slice();
    });
    guarded(rt, (g) => {
      const px = g.input(x, "x"), pr = g.input(res, "r"), pw = g.input(w, "w"), pb = g.input(b, "b");
      const py = g.output(rows * E, "y"), psum = g.output(rows * E, "sum");
      kern.add_layer_norm_f32(py.ptr, psum.ptr, px.ptr, pr.ptr, pw.ptr, pb.ptr, rows, E, 1e-5);
      g.check(`E=${E}`);
      bitsEqual(g.f32(py), want, `E=${E}: y`);
      bitsEqual(g.f32(psum), s, `E=${E}: sum`);
      const py2 = g.output(rows * E, "y without sum");
      kern.add_layer_norm_f32(py2.ptr, 0, px.ptr, pr.ptr, pw.ptr, pb.ptr, rows, E, 1e-5);
      bitsEqual(g.f32(py2), want, `E=${E}: y, sum not kept`);
    });
    guarded(rt, (g) => {
      const pxy = g.output(rows * E, "x=y"), prs = g.output(rows * E, "r=sum"), pw = g.input(w, "w"), pb = g.input(b, "b");
      g.f32(pxy).set(x);
      g.f32(prs).set(res);
      kern.add_layer_norm_f32(pxy.ptr, prs.ptr, pxy.ptr, prs.ptr, pw.ptr, pb.ptr, rows, E, 1e-5);
      g.check(`E=${E} in place`);
      bitsEqual(g.f32(pxy), want, `E=${E}: in place y`);
      bitsEqual(g.f32(prs), s, `E=${E}: in place sum`);
    });
  });
}

test.run();
