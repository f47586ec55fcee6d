// test/assembly/activation.test.ts ↔ assembly/activation.ts and gemm_packed_act_f32 (assembly/matmul.ts,
// gemm.ts's epilogue), raw exports.
// C[M×N] = act(A[M×K] · B + bias[N]) with B = Wᵀ packed by pack_b_f32 from W [N, K] (nn.Linear's
// layout); act 0 none, 1 ReLU, 2 GELU (erf), 3 GELU (tanh). Guarded buffers: C written exactly in its
// M×N block (row stride ldc ≥ N), inputs unchanged. Sizes from the tile constants (test/constants.ts).
import { test } from "uvu";
import { assertRowsClose, randn, rng } from "../helpers.js";
import { type RefActivation, refLinearAct } from "../reference-layers.js";
import { runtime } from "../../src/wasm.js";
import { guarded, layout, tile } from "../support.js";
import { KC, MR, NC, NR } from "../constants.js";

const rt = runtime("test");
const kern = rt.kernels;
const ACTS: [number, RefActivation][] = [[0, undefined], [1, "relu"], [2, "gelu"], [3, "gelu-tanh"]];

/** One guarded pack_b_f32 + gemm_packed_act_f32 call against refLinearAct. */
function check(M: number, K: number, N: number, act: number, seed: number, opts: { ta?: boolean; bias?: boolean; padC?: number } = {}): void {
  const ref = ACTS[act][1];
  const what = `gemm_packed_act_f32 M=${M} K=${K} N=${N} act=${ref ?? "none"}${opts.ta ? " Aᵀ" : ""}${opts.bias ? " bias" : ""}${opts.padC ? ` ldc=N+${opts.padC}` : ""}`;
  const r = rng(seed);
  const A = randn(r, M * K, -2, 2), W = randn(r, N * K), bias = randn(r, N);
  const ldc = N + (opts.padC ?? 0);
  const [aRs, aCs] = opts.ta ? [1, M] : [K, 1];
  guarded(rt, (g) => {
    const pa = g.input(layout(A, M, K, aRs, aCs, M * K), "A"), pw = g.input(W, "W");
    const pbias = opts.bias ? g.input(bias, "bias") : null;
    const pp = g.output(kern.packed_b_bytes(K, N) / 4, "packed W");
    kern.pack_b_f32(pp.ptr, pw.ptr, 1, K, K, N);
    const pc = g.output(M * ldc, "C");
    const ps = g.scratch(kern.matmul_scratch_bytes(M, K, N));
    kern.gemm_packed_act_f32(pc.ptr, ldc, pa.ptr, aRs, aCs, pp.ptr, pbias?.ptr ?? 0, ps.ptr, M, K, N, act);
    g.check(what);
    g.untouchedOutside(pc, M, N, ldc, 0, what);
    const want = refLinearAct(A, W, opts.bias ? bias : null, M, K, N, ref);
    assertRowsClose(g.gather(pc, M, N, ldc), want.y, N, 1e-5, what, want.mag);
  });
}

for (const [act, name] of ACTS) {
  test(`gemm_packed_act_f32 ${name ?? "none"}: M ∈ {1 (gemv), ${MR - 1}, ${tile(MR, MR, "MR")}, ${2 * MR + 1}} × N ∈ {1, 3, ${NR}, ${NR + 1}, 21}, K ∈ {1, 17}, bias, ldc > N, Aᵀ`, () => {
    let seed = act * 1000;
    for (const M of [1, MR - 1, MR, 2 * MR + 1]) {
      for (const N of [1, 3, NR, NR + 1, 21]) {
        for (const K of [1, 17]) {
          check(M, K, N, act, seed++, { bias: true, padC: 3 });
          check(M, K, N, act, seed++, { ta: M > 1, bias: seed % 2 === 0 });
        }
      }
    }
  });
}

test(`gemm_packed_act_f32 K across KC = ${KC} and N across NC = ${NC} (the epilogue after the last k-block only, per n-block)`, () => {
  let seed = 9000;
  for (const [act] of ACTS.slice(1)) {
    for (const K of [KC, KC + 1, 2 * KC + 3]) check(MR + 2, K, 13, act, seed++, { bias: true, padC: 1 });
    check(MR + 1, 9, NC + 11, act, seed++, { bias: true, padC: 5 });
    check(1, KC + 1, NC + 11, act, seed++, { bias: true });
  }
});

test.run();
