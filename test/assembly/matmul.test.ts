// test/assembly/matmul.test.ts ↔ assembly/matmul.ts, assembly/gemm.ts (raw exports).
// Shapes: C[M×N] = A[M×K] · B[K×N] (+ bias[N]); A, B through element strides (rs, cs), C row stride ldc.
// Tiles: MR = 5 rows (6 in the relaxed build), NR = 8 columns, f32x4 lanes; KC = 512 (k-blocks), NC = 512 (n-blocks).
// Sizes come from those constants (test/constants.ts), so they follow a change.
// Every buffer is guarded (test/support.ts); C and scratch start as NaN, so a skipped write or a read of
// unwritten scratch shows; inputs are checked unchanged after every call.
import { test } from "uvu";
import { ODD_SIZES, assertClose, randn, rng } from "../helpers.js";
import { refMatmul } from "../reference.js";
import { runtime } from "../../src/wasm.js";
import { guarded, layout, tile } from "../support.js";
import { KC, MR, NC, NR } from "../constants.js";

const rt = runtime("test");
const kern = rt.kernels;

interface Case {
  M: number; K: number; N: number;
  /** A stored transposed ([K, M]) */
  ta?: boolean;
  /** B stored transposed ([N, K]) */
  tb?: boolean;
  /** extra elements per stored row of A, B, C (row stride > the row length) */
  padA?: number; padB?: number; padC?: number;
  bias?: boolean;
}

function name(c: Case): string {
  const { M, K, N } = c;
  const extra = [c.ta && "Aᵀ", c.tb && "Bᵀ", c.padA && `lda+${c.padA}`, c.padB && `ldb+${c.padB}`, c.padC && `ldc=N+${c.padC}`, c.bias && "bias"]
    .filter(Boolean).join(" ");
  return `matmul_f32 M=${M} K=${K} N=${N}${extra ? " " + extra : ""}`;
}

/** One guarded call of matmul_f32 against refMatmul. */
function check(c: Case, seed: number): void {
  const { M, K, N } = c;
  const what = name(c);
  const rand = rng(seed);
  const A = randn(rand, M * K), B = randn(rand, K * N), bias = randn(rand, N, -2, 2);
  // Stored layouts: a transposed operand is other strides, as src/matmul.ts passes them.
  const lda = (c.ta ? M : K) + (c.padA ?? 0), ldb = (c.tb ? K : N) + (c.padB ?? 0), ldc = N + (c.padC ?? 0);
  const [aRs, aCs] = c.ta ? [1, lda] : [lda, 1];
  const [bRs, bCs] = c.tb ? [1, ldb] : [ldb, 1];
  const aStore = layout(A, M, K, aRs, aCs, (c.ta ? K : M) * lda);
  const bStore = layout(B, K, N, bRs, bCs, (c.tb ? N : K) * ldb);
  guarded(rt, (g) => {
    const pa = g.input(aStore, "A"), pb = g.input(bStore, "B");
    const pbias = c.bias ? g.input(bias, "bias") : null;
    const pc = g.output(M * ldc, "C");
    const ps = g.scratch(kern.matmul_scratch_bytes(M, K, N));
    kern.matmul_f32(pc.ptr, ldc, pa.ptr, aRs, aCs, pb.ptr, bRs, bCs, pbias?.ptr ?? 0, ps.ptr, M, K, N);
    g.check(what);
    g.untouchedOutside(pc, M, N, ldc, 0, what);
    const ref = refMatmul(A, B, M, K, N);
    if (c.bias) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) ref[i * N + j] += bias[j];
    assertClose(g.gather(pc, M, N, ldc), ref, 1e-5, what);
  });
}

// Every dim through ODD_SIZES: one test per M (named after MR), all K × N inside.
for (const M of ODD_SIZES) {
  test(`matmul_f32 M=${tile(M, MR, "MR")} × K, N ∈ {${ODD_SIZES}} (N vs NR = ${NR}), row-major`, () => {
    for (const K of ODD_SIZES) for (const N of ODD_SIZES) check({ M, K, N }, M * 10007 + K * 101 + N);
  });
}

for (const [ta, tb] of [[true, false], [false, true], [true, true]]) {
  test(`matmul_f32 ${ta ? "Aᵀ [K, M] (rs 1, cs M)" : "A"} · ${tb ? "Bᵀ [N, K] (rs 1, cs K)" : "B"}: M, N ∈ {${ODD_SIZES}}, K ∈ {1, 4, 17, 64}`, () => {
    for (const M of ODD_SIZES) for (const N of ODD_SIZES) for (const K of [1, 4, 17, 64]) check({ M, K, N, ta, tb }, M * 31 + N * 7 + K);
  });
}

test("matmul_f32 row strides larger than the rows: ldc = N + 3 and N + 8, lda = K + 5, ldb = N + 1 (N through ODD_SIZES)", () => {
  for (const M of [3, 5, 17]) {
    for (const N of ODD_SIZES) {
      check({ M, K: 9, N, padC: 3 }, N);
      check({ M, K: 9, N, padC: 8, padA: 5, padB: 1 }, N + 1);
      check({ M, K: 9, N, padC: 1, padA: 2, padB: 3, ta: true, tb: true }, N + 2);
    }
  }
});

const K_BLOCKS = [KC - 1, KC, KC + 1, 2 * KC + 1, 3 * KC - 1];
test(`matmul_f32 K across KC = ${KC}: K ∈ {${K_BLOCKS}} (k-blocks accumulate, the first overwrites C)`, () => {
  for (const K of K_BLOCKS) {
    for (const [M, N] of [[5, 8], [7, 17], [1, 3]]) check({ M, K, N }, K + M);
    check({ M: 6, K, N: 9, ta: true, tb: true, padC: 2 }, K);
  }
});

const N_BLOCKS = [NC - 1, NC, NC + 1, 2 * NC + 7];
test(`matmul_f32 N across NC = ${NC}: N ∈ {${N_BLOCKS}} (n-blocks), with K = 5 and K = KC + 1 = ${KC + 1} (n-blocks inside two k-blocks)`, () => {
  for (const N of N_BLOCKS) {
    check({ M: 3, K: 5, N }, N);
    check({ M: 6, K: KC + 1, N, padC: 4 }, N + 1);
    check({ M: 2, K: 7, N, tb: true }, N + 2);
  }
});

test(`matmul_f32 M = 131 (${Math.floor(131 / MR)} MR-panels + a tail of ${131 % MR}) · K = 33 · N = 67`, () => {
  check({ M: 131, K: 33, N: 67 }, 1);
  check({ M: 131, K: 33, N: 67, ta: true, padC: 5 }, 2);
});

test("matmul_f32 with bias: C = A·B + bias[N], M ∈ {1, 5, 6}, N through ODD_SIZES, K ∈ {3, 257}", () => {
  for (const M of [1, 5, 6]) for (const N of ODD_SIZES) {
    check({ M, K: 3, N, bias: true }, M + N);
    check({ M, K: 257, N, bias: true, padC: 3 }, M + N + 1);
  }
});

test("add_bias_rows: C[i, j] += bias[j], M ∈ {1, 3, 5}, N through ODD_SIZES, ldc = N + 2", () => {
  for (const M of [1, 3, 5]) for (const N of ODD_SIZES) {
    const what = `add_bias_rows M=${M} N=${tile(N, 4, "lanes")} ldc=${N + 2}`;
    const rand = rng(M * 100 + N);
    const C = randn(rand, M * N), bias = randn(rand, N);
    const ldc = N + 2;
    guarded(rt, (g) => {
      const pb = g.input(bias, "bias");
      const pc = g.output(M * ldc, "C");
      const v = g.f32(pc);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) v[i * ldc + j] = C[i * N + j];
      kern.add_bias_rows(pc.ptr, ldc, pb.ptr, M, N);
      g.check(what);
      g.untouchedOutside(pc, M, N, ldc, 0, what);
      const ref = new Float64Array(M * N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) ref[i * N + j] = C[i * N + j] + bias[j];
      assertClose(g.gather(pc, M, N, ldc), ref, 1e-6, what);
    });
  }
});

/** One guarded pack_b_f32 + gemm_packed_f32 call (B packed over its full depth K) against refMatmul. */
function checkPacked(M: number, K: number, N: number, seed: number, opts: { ta?: boolean; tb?: boolean; bias?: boolean; padC?: number } = {}): void {
  const what = `gemm_packed_f32 M=${M} K=${K} N=${N}${opts.ta ? " Aᵀ" : ""}${opts.tb ? " Bᵀ" : ""}${opts.bias ? " bias" : ""}${opts.padC ? ` ldc=N+${opts.padC}` : ""}`;
  const rand = rng(seed);
  const A = randn(rand, M * K), B = randn(rand, K * N), bias = randn(rand, N, -2, 2);
  const ldc = N + (opts.padC ?? 0);
  const [aRs, aCs] = opts.ta ? [1, M] : [K, 1];
  const [bRs, bCs] = opts.tb ? [1, K] : [N, 1];
  guarded(rt, (g) => {
    const pa = g.input(layout(A, M, K, aRs, aCs, M * K), "A"), pb = g.input(layout(B, K, N, bRs, bCs, K * N), "B");
    const pbias = opts.bias ? g.input(bias, "bias") : null;
    const pp = g.output(kern.packed_b_bytes(K, N) / 4, "packed B");
    kern.pack_b_f32(pp.ptr, pb.ptr, bRs, bCs, K, N);
    const pc = g.output(M * ldc, "C");
    const ps = g.scratch(kern.matmul_scratch_bytes(M, K, N));
    kern.gemm_packed_f32(pc.ptr, ldc, pa.ptr, aRs, aCs, pp.ptr, pbias?.ptr ?? 0, ps.ptr, M, K, N);
    g.check(what);
    g.untouchedOutside(pc, M, N, ldc, 0, what);
    const ref = refMatmul(A, B, M, K, N);
    if (opts.bias) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) ref[i * N + j] += bias[j];
    assertClose(g.gather(pc, M, N, ldc), ref, 1e-5, what);
  });
}

// gemm_packed_f32 (the Linear layers' path): M = 1 is the one-row gemv, M > 1 the packed A panels.
for (const M of ODD_SIZES) {
  test(`gemm_packed_f32 M=${tile(M, MR, "MR")} (${M === 1 ? "gemv" : "tiles"}) × K ∈ {1, 3, 17, 63, 65}, N ∈ {${ODD_SIZES}}`, () => {
    for (const K of [1, 3, 17, 63, 65]) for (const N of ODD_SIZES) checkPacked(M, K, N, M * 7919 + K * 97 + N);
  });
}

test(`gemm_packed_f32 K across KC = ${KC} (K ∈ {${[KC - 1, KC, KC + 1, 2 * KC + 1]}}: KC + 1 ends in a k-block of one step), Aᵀ, Bᵀ, bias, ldc > N`, () => {
  for (const K of [KC - 1, KC, KC + 1, 2 * KC + 1]) {
    for (const [M, N] of [[1, 17], [3, 8], [7, 65]]) checkPacked(M, K, N, K + M + N);
    checkPacked(6, K, 9, K, { ta: true, tb: true, bias: true, padC: 3 });
  }
  for (const M of [1, 5, 17]) checkPacked(M, 63, 33, M, { ta: true, bias: true, padC: 1 });
});

test("matmul_f32 is deterministic: the same call twice gives the same bits (M=17 K=300 N=70)", () => {
  const rand = rng(9);
  const M = 17, K = 300, N = 70;
  const A = randn(rand, M * K), B = randn(rand, K * N);
  const run = () => guarded(rt, (g) => {
    const pa = g.input(A), pb = g.input(B), pc = g.output(M * N), ps = g.scratch(kern.matmul_scratch_bytes(M, K, N));
    kern.matmul_f32(pc.ptr, N, pa.ptr, K, 1, pb.ptr, N, 1, 0, ps.ptr, M, K, N);
    g.check("determinism");
    return Array.from(g.u32(pc));
  });
  const a = run(), b = run();
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`element ${i}: 0x${a[i].toString(16)} then 0x${b[i].toString(16)}`);
  assertClose(new Float32Array(new Uint32Array(a).buffer), refMatmul(A, B, M, K, N), 1e-5, "determinism values");
});

test.run();
