// Residual connections of a Transformer layer (x + sublayer(x)), on rows of E floats:
//   add_f32:            y[i] = a[i] + b[i], i < n (y may be a or b)
//   add_layer_norm_f32: s = x + r per row, y = LayerNorm(s) (layer_norm_f32's bits on s), and s
//                       kept at `sum` when it is not 0 (a pre-norm layer adds to it again); y, sum,
//                       x and r may alias each other. ONNX Runtime calls this SkipLayerNormalization.
// One rounding per add (f32), in every build: the same bits as adding first and normalising after.
// src/ guarantees rows ≥ 1, E ≥ 1, n ≥ 0, every range inside memory.
import { layer_norm_f32 } from "./layernorm";

export function add_f32(y: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

export function add_layer_norm_f32(y: usize, sum: usize, x: usize, r: usize, weight: usize, bias: usize, rows: i32, E: i32, eps: f32): void {
  assert(rows > 0 && E > 0 && eps >= 0, "add_layer_norm_f32: rows and E must be >= 1 and eps >= 0");
  const row = <usize>E * 4;
  for (let i = 0; i < rows; i++) {
    const off = <usize>i * row;
    // the sum goes where it is kept, else into y's row, then is normalised from there (in place)
    const s = sum != 0 ? sum + off : y + off;
    add_f32(s, x + off, r + off, E);
    layer_norm_f32(y + off, s, weight, bias, 1, E, eps);
  }
}
