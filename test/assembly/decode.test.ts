// test/assembly/decode.test.ts ↔ assembly/decode.ts (raw exports gemv_packed_f32, decode_attention_f32,
// decode_scratch_bytes, scatter_heads_f32): the kernels of one-token decode steps.
//   gemv_packed_f32: c[N] = a[K]·B (+ bias), B packed by pack_b_f32 (panels of NR = 8 columns, 3 panels per pass,
//     KC-deep blocks over K).
//   decode_attention_f32: one query row per head, every head in one call; K/V heads hs elements apart, rows ld
//     apart (head-major cache: hs = maxLength·D, ld = D; token-major: hs = D, ld = Hkv·D); GQA through `group`.
//   scatter_heads_f32: [rows, heads·D] → per-head [rows, D] blocks hs apart.
// Every buffer is guarded (test/support.ts); outputs and scratch start as NaN; inputs are checked unchanged.
// The kernels perform the operations of gemm_packed_f32 (M = 1) and attention_f32 (L = 1, no masks) in the same
// order, so they are also checked bit for bit against those.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ODD_SIZES, assertClose, assertRowsClose, randn, rng } from "../helpers.js";
import { refAttention, refMatmul } from "../reference.js";
import { runtime } from "../../src/wasm.js";
import { guarded } from "../support.js";
import { DECODE_ROWS, KC, NR } from "../constants.js";

const rt = runtime("test");
const kern = rt.kernels;

function bitsEqual(got: Float32Array, want: Float32Array, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) {
    if (g[i] !== w[i]) assert.unreachable(`${what}: [${i}] got ${got[i]} want ${want[i]} (bits differ)`);
  }
}

// ---- gemv_packed_f32 ---------------------------------------------------------------------------------------------

function checkGemv(K: number, N: number, bias: boolean, seed: number): void {
  const what = `gemv_packed_f32 K=${K} N=${N}${bias ? " bias" : ""}`;
  const rand = rng(seed);
  const a = randn(rand, K), B = randn(rand, K * N), b = randn(rand, N, -2, 2);
  guarded(rt, (g) => {
    const pa = g.input(a, "a"), pB = g.input(B, "B"), pbias = bias ? g.input(b, "bias") : null;
    const pp = g.scratch(kern.packed_b_bytes(K, N), "packed B");
    kern.pack_b_f32(pp.ptr, pB.ptr, N, 1, K, N);
    const pc = g.output(N, "c");
    kern.gemv_packed_f32(pc.ptr, pa.ptr, pp.ptr, pbias?.ptr ?? 0, K, N);
    g.check(what);
    const got = g.f32(pc).slice();
    const ref = refMatmul(a, B, 1, K, N);
    if (bias) for (let j = 0; j < N; j++) ref[j] += b[j];
    assertClose(got, ref, 1e-5, what);
    // the same bits as the general kernel's one-row path
    const pg = g.output(N, "gemm c"), ps = g.scratch(kern.matmul_scratch_bytes(1, K, N));
    kern.gemm_packed_f32(pg.ptr, N, pa.ptr, K, 1, pp.ptr, pbias?.ptr ?? 0, ps.ptr, 1, K, N);
    bitsEqual(got, g.f32(pg).slice(), `${what}: against gemm_packed_f32 M=1`);
  });
}

test(`gemv_packed_f32 K, N ∈ {${ODD_SIZES}} (N vs 3 panels of 8), with and without bias`, () => {
  for (const K of ODD_SIZES) for (const N of ODD_SIZES) for (const bias of [false, true]) checkGemv(K, N, bias, K * 131 + N * 7 + (bias ? 1 : 0));
});

test(`gemv_packed_f32 around and past one K block (K ∈ {${[KC, KC + 1, 2 * KC + 76]}}, KC = ${KC}) and N = 23, 24, 25, 47, 48, 49, 200, 512 (N vs 3 panels of ${NR})`, () => {
  for (const K of [KC, KC + 1, 2 * KC + 76]) for (const N of [23, 24, 25, 47, 48, 49, 200, 512]) checkGemv(K, N, N % 2 === 0, K + N);
});

test("gemv_packed_f32 gives the bits of the same row inside a batched product (the tiles: 5×8 or 6×8, and 3×8 for the last rows)", () => {
  for (const K of [3, 17, KC + 1, 2 * KC + 76]) for (const N of [5, 24, 49]) for (const signedZero of [false, true]) {
    const M = 7, what = `gemv vs tiles K=${K} N=${N}${signedZero ? " (row 2 of A zero, B < 0: sums of −0, no bias)" : ""}`;
    const rand = rng(K * 7 + N);
    const A = randn(rand, M * K), B = randn(rand, K * N), bias = randn(rand, N, -2, 2);
    if (signedZero) {
      A.fill(0, 2 * K, 3 * K);
      for (let i = 0; i < B.length; i++) B[i] = -Math.abs(B[i]) - 0.5;
    }
    guarded(rt, (g) => {
      const pa = g.input(A, "A"), pB = g.input(B, "B"), pbias = signedZero ? { ptr: 0 } : g.input(bias, "bias");
      const pp = g.scratch(kern.packed_b_bytes(K, N), "packed B");
      kern.pack_b_f32(pp.ptr, pB.ptr, N, 1, K, N);
      const pc = g.output(M * N, "C"), ps = g.scratch(kern.matmul_scratch_bytes(M, K, N));
      kern.gemm_packed_f32(pc.ptr, N, pa.ptr, K, 1, pp.ptr, pbias.ptr, ps.ptr, M, K, N);
      const rows = g.f32(pc).slice();
      for (let r = 0; r < M; r++) {
        const pr = g.output(N, `row ${r}`);
        kern.gemv_packed_f32(pr.ptr, pa.ptr + r * K * 4, pp.ptr, pbias.ptr, K, N);
        bitsEqual(g.f32(pr).slice(), rows.subarray(r * N, (r + 1) * N), `${what}: row ${r}`);
      }
      g.check(what);
    });
  }
});

// ---- decode_attention_f32 ----------------------------------------------------------------------------------------

/** wl, wr: the window as the kernels take it (left + 1, right + 1; 0 = unbounded), the row at position S − 1. */
interface AttnCase { H: number; Hkv: number; S: number; D: number; headMajor: boolean; spare?: number; scale?: number; range?: number; wl?: number; wr?: number }

function checkAttn(c: AttnCase, seed: number): void {
  const { H, Hkv, S, D } = c;
  const wl = c.wl ?? 0, wr = c.wr ?? 0;
  const what = `decode_attention_f32 H=${H} Hkv=${Hkv} S=${S} D=${D} ${c.headMajor ? "head-major" : "token-major"}${wl || wr ? ` window wl=${wl} wr=${wr}` : ""}`;
  const rand = rng(seed);
  const r = c.range ?? 1;
  const group = H / Hkv, scale = c.scale ?? 1 / Math.sqrt(D);
  const q = randn(rand, H * D, -r, r);
  const ks = Array.from({ length: Hkv }, () => randn(rand, S * D, -r, r));
  const vs = Array.from({ length: Hkv }, () => randn(rand, S * D, -r, r));
  // Head-major: heads hs = (S + spare)·D apart, rows D apart (the rows past S are NaN: never read).
  // Token-major: rows Hkv·D apart, heads D apart.
  const rows = S + (c.spare ?? 0);
  const [hs, ld] = c.headMajor ? [rows * D, D] : [D, Hkv * D];
  const n = c.headMajor ? Hkv * rows * D : S * Hkv * D;
  const store = (m: Float32Array[]): Float32Array => {
    const out = new Float32Array(n).fill(NaN);
    for (let g = 0; g < Hkv; g++) for (let j = 0; j < S; j++) for (let d = 0; d < D; d++) out[g * hs + j * ld + d] = m[g][j * D + d];
    return out;
  };
  guarded(rt, (g) => {
    const pq = g.input(q, "q"), pk = g.input(store(ks), "K"), pv = g.input(store(vs), "V");
    const po = g.output(H * D, "o");
    const ps = g.scratch(kern.decode_scratch_bytes(S));
    kern.decode_attention_f32(po.ptr, pq.ptr, pk.ptr, pv.ptr, hs, ld, ps.ptr, H, group, S, D, scale, 0, 0, wl, wr);
    g.check(what);
    const got = g.f32(po).slice();
    const ref = new Float64Array(H * D), mag = new Float64Array(H * D);
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / group);
      const window = wl || wr ? [wl ? wl - 1 : -1, wr ? wr - 1 : -1] as const : undefined;
      const r = refAttention(q.subarray(h * D, (h + 1) * D), ks[kv], vs[kv], [], 1, S, D, D, { scale, window });
      ref.set(r.out, h * D);
      mag.set(r.mag, h * D);
    }
    assertRowsClose(got, ref, D, 1e-5, what, mag);
    // the same bits as attention_f32 (its direct path) head by head
    const pa = g.output(H * D, "attention_f32 o"), pas = g.scratch(kern.attention_scratch_bytes(1, S, D, D));
    for (let h = 0; h < H; h++) {
      const kv = Math.floor(h / group);
      kern.attention_f32(pa.ptr + h * D * 4, H * D, 0, S, pq.ptr + h * D * 4, H * D, pk.ptr + kv * hs * 4, ld, pv.ptr + kv * hs * 4, ld, 0, 0, pas.ptr, 1, S, D, D, scale, 0, 0, 0, wl, wr);
    }
    bitsEqual(got, g.f32(pa).slice(), `${what}: against attention_f32 L=1`);
  });
}

test(`decode_attention_f32 D, S ∈ {${ODD_SIZES}}: head-major (spare rows after S) and token-major, H = Hkv = 2`, () => {
  for (const D of ODD_SIZES) for (const S of ODD_SIZES) {
    checkAttn({ H: 2, Hkv: 2, S, D, headMajor: true, spare: 3 }, D * 97 + S);
    checkAttn({ H: 2, Hkv: 2, S, D, headMajor: false }, D * 89 + S);
  }
});

const R = DECODE_ROWS;
test(`decode_attention_f32 grouped K/V heads (H/Hkv = 8/2, 6/1, 3/3), long rows S ∈ {${[R - 1, R, R + 1, 2 * R + 44, 8 * R + 1]}} (P·V row blocks of ${R}), D = 17 and 64`, () => {
  for (const [H, Hkv] of [[8, 2], [6, 1], [3, 3]]) {
    for (const S of [1, R - 1, R, R + 1, 2 * R + 44]) checkAttn({ H, Hkv, S, D: 17, headMajor: true, spare: 5 }, H * 1000 + S);
    checkAttn({ H, Hkv, S: 8 * R + 1, D: 64, headMajor: true }, H);
    checkAttn({ H, Hkv, S: 2 * R + 44, D: 64, headMajor: false }, H + 1);
  }
});

test("decode_attention_f32 large scores (range 8: the max subtraction matters), tiny and zero scale (the unfolded path)", () => {
  checkAttn({ H: 2, Hkv: 1, S: 65, D: 17, headMajor: true, range: 8 }, 1);
  checkAttn({ H: 2, Hkv: 1, S: 65, D: 8, headMajor: true, scale: 1e-38 }, 2);
  checkAttn({ H: 2, Hkv: 1, S: 65, D: 8, headMajor: false, scale: 0 }, 3);
});

test("decode_attention_f32 sliding windows (wl = left + 1, wr = right + 1; 0 unbounded): only keys S − wl … S − 1, = attention_f32's bits", () => {
  for (const [S, wl] of [[1, 1], [9, 1], [9, 4], [DECODE_ROWS + 7, 3], [2 * DECODE_ROWS + 44, DECODE_ROWS + 1], [50, 50], [50, 51], [50, 1000]]) {
    checkAttn({ H: 4, Hkv: 2, S, D: 17, headMajor: true, spare: 2, wl, wr: S % 2 }, S * 7 + wl);
    checkAttn({ H: 2, Hkv: 1, S, D: 8, headMajor: false, wl, wr: 3 }, S * 5 + wl);
  }
});

// ---- scatter_heads_f32 -------------------------------------------------------------------------------------------

test("scatter_heads_f32: rows of [rows, heads·D] into head blocks hs apart, nothing else written", () => {
  for (const [rows, heads, D, spare] of [[1, 1, 1, 0], [1, 8, 64, 3], [3, 2, 17, 5], [65, 3, 5, 1], [7, 4, 3, 0]]) {
    const what = `scatter_heads_f32 rows=${rows} heads=${heads} D=${D}`;
    const lds = heads * D + 2, hs = (rows + spare) * D + 1;
    const src = randn(rng(rows * 31 + D), rows * lds);
    guarded(rt, (g) => {
      const ps = g.input(src, "src");
      const pd = g.output(heads * hs, "dst");
      kern.scatter_heads_f32(pd.ptr, hs, ps.ptr, lds, rows, heads, D);
      g.check(what);
      const got = g.f32(pd), bits = g.u32(pd);
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < hs; i++) {
          const r = Math.floor(i / D), d = i % D;
          if (r < rows) {
            if (got[h * hs + i] !== src[r * lds + h * D + d]) assert.unreachable(`${what}: head ${h} row ${r} col ${d}`);
          } else if (bits[h * hs + i] !== 0x7fc0_a5a5) {
            assert.unreachable(`${what}: head ${h} element ${i} past the rows was written`);
          }
        }
      }
    });
  }
});

test.run();
