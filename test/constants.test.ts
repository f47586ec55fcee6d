// test/constants.ts reads the kernels' block constants from assembly/: here they are checked against
// what the running build does, so that sizes derived from them really sit at the kernels' edges.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BUILD } from "./helpers.js";
import { BM, BN, DIRECT_L, KC, MR, NC, NR, PA } from "./constants.js";
import { runtime } from "../src/wasm.js";

const k = runtime("constants").kernels;
const round = (n: number, m: number) => Math.ceil(n / m) * m;

test(`${BUILD}: MR = ${MR}, BM = ${BM}, DIRECT_L = ${DIRECT_L} are what the kernels report (gemm_tile_rows, attention_block_rows, attention_direct_rows)`, () => {
  assert.is(k.gemm_tile_rows(), MR, "gemm_tile_rows()");
  assert.is(k.attention_block_rows(), BM, "attention_block_rows()");
  assert.is(k.attention_direct_rows(), DIRECT_L, "attention_direct_rows()");
});

test(`${BUILD}: KC = ${KC} and NC = ${NC}: the GEMM's scratch (one packed A panel, one packed B block) grows with K up to KC and with N up to NC, not past them`, () => {
  const s = (K: number, N: number) => k.matmul_scratch_bytes(7, K, N);
  assert.ok(s(KC, 8) > s(KC - 1, 8), "K = KC needs more than K = KC − 1");
  assert.is(s(KC + 1, 8), s(KC, 8), "K = KC + 1 needs no more than KC");
  assert.is(s(3 * KC + 5, 8), s(KC, 8), "nor does 3·KC + 5");
  assert.ok(s(8, NC) > s(8, NC - NR), "N = NC needs more than N = NC − NR");
  assert.is(s(8, NC + 1), s(8, NC), "N = NC + 1 needs no more than NC");
});

test(`${BUILD}: MR = ${MR}, NR = ${NR}, PA = ${PA}: the GEMM's scratch is (PA·kc + MR·NR + kc·nc)·4 + 64 bytes (assembly/gemm.ts)`, () => {
  for (const K of [1, 2, 17, KC - 1, KC, KC + 1, 2 * KC + 3]) for (const N of [1, NR, NR + 1, NC, NC + 1]) {
    const kc = Math.min(KC, K), nc = Math.min(NC, round(N, NR));
    assert.is(k.matmul_scratch_bytes(3, K, N), (PA * kc + MR * NR + kc * round(nc, NR)) * 4 + 64, `K=${K} N=${N}`);
  }
});

test(`${BUILD}: DIRECT_L = ${DIRECT_L}, BN = ${BN}: attention's scratch is the direct path's S·4 + 64 bytes up to L = DIRECT_L only; a row block's scratch grows by one float per row (BM = ${BM}) with each key tile of BN, and not within one`, () => {
  for (const S of [1, 9, BN + 1]) {
    for (let L = 1; L <= DIRECT_L; L++) assert.is(k.attention_scratch_bytes(L, S, 17, 9), S * 4 + 64, `L=${L} S=${S}: direct`);
    assert.not.equal(k.attention_scratch_bytes(DIRECT_L + 1, S, 17, 9), S * 4 + 64, `L=${DIRECT_L + 1} S=${S}: blocked`);
  }
  const b = (S: number) => k.attention_block_scratch_bytes(S, 17, 9);
  assert.is(b(BN + 1) - b(BN), BM * 4, "S = BN + 1: a second tile");
  assert.is(b(2 * BN), b(BN + 1), "S = 2·BN: still two tiles");
  assert.is(b(2 * BN + 1) - b(2 * BN), BM * 4, "S = 2·BN + 1: a third tile");
  assert.ok(b(BN) > b(BN - NR), "the scores tile widens up to S = BN");
});

test.run();
