// test/assembly/attention.test.ts ↔ assembly/attention.ts (raw export attention_f32).
// One (batch, head) slice: O[L×Ev] = softmax(Q[L×E]·K[S×E]ᵀ·scale + masks)·V[S×Ev], W = the softmax.
// Q, K, V, O, W through row strides (ldq, ldk, ldv, ldo, ldw); masks as 4 × i32 descriptors
// (kind, address, row stride, column stride): kind 1 u8 keep-if-nonzero, 2 u8 drop-if-nonzero, 3 f32 additive.
// Paths: direct (L ≤ DIRECT_L = 2) and packed (L > DIRECT_L) with row blocks of BM = MR·8 query rows
// (40; 48 in the relaxed build) that walk the keys in tiles of BN = KC = 512 with an online softmax
// (running max and sum; the O rows rescaled when the max grows); micro-tiles MR = 5 (relaxed: 6) rows ×
// NR = 8 columns, f32x4 lanes. Sizes come from those constants (test/constants.ts), so they follow a change.
// Every buffer is guarded (test/support.ts); O, W and scratch start as NaN; inputs are checked unchanged.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ODD_SIZES, assertRowsClose, randn, rng } from "../helpers.js";
import { type RefMask, refAttention } from "../reference.js";
import { runtime } from "../../src/wasm.js";
import { guarded, layout, tile } from "../support.js";
import { BM, BN, DIRECT_L, KC, MR, NR } from "../constants.js";

const rt = runtime("test");
const kern = rt.kernels;

type Bcast = "full" | "row" | "col" | "scalar";   // [L, S], [1, S] (rs 0), [L, 1] (cs 0), [1, 1] (both 0)

interface MaskSpec {
  kind: 1 | 2 | 3;
  bcast: Bcast;
  /** extra elements per row of a full/col mask (row stride > S) */
  pad?: number;
  /** probability that a bool entry is "nonzero" */
  p?: number;
  /** explicit entries instead of random ones: fill(i, j) for row i (0 when broadcast), column j */
  fill?: (i: number, j: number) => number;
}

interface Case {
  L: number; S: number; E: number; Ev: number;
  causal?: boolean;
  scale?: number;
  /** W returned (default true) */
  weights?: boolean;
  masks?: MaskSpec[];
  /** heads in place: Q [L, H·E], K [S, H·E], V [S, H·Ev], O [L, H·Ev + padO]; this call computes head h */
  H?: number; h?: number;
  padO?: number; padW?: number;
  /** range of the random Q, K, V entries */
  range?: number;
  /** explicit data (compact), instead of random */
  q?: Float32Array; k?: Float32Array; v?: Float32Array;
  /** sliding window as the kernel takes it: wl = left + 1, wr = right + 1 (0 = unbounded) */
  wl?: number; wr?: number;
}

function caseName(c: Case): string {
  const parts = [`attention_f32 L=${c.L} (${c.L <= 2 ? "direct" : "packed"}) S=${c.S} E=${c.E} Ev=${c.Ev}`];
  if (c.causal) parts.push(c.L < c.S ? "causal L<S" : c.L === c.S ? "causal L=S" : "causal L>S");
  if (c.masks?.length) parts.push(`masks [${c.masks.map((m) => `kind ${m.kind} ${m.bcast}${m.pad ? ` rs+${m.pad}` : ""}`).join(", ")}]`);
  if (c.H) parts.push(`head ${c.h} of H=${c.H} in place`);
  if (c.scale !== undefined) parts.push(`scale ${c.scale}`);
  if (c.weights === false) parts.push("no W");
  if (c.padO) parts.push(`ldo+${c.padO}`);
  if (c.padW) parts.push(`ldw=S+${c.padW}`);
  if (c.wl || c.wr) parts.push(`window wl=${c.wl ?? 0} wr=${c.wr ?? 0}`);
  return parts.join(" ");
}

interface BuiltMask { data: Uint8Array | Float32Array; rs: number; cs: number; dense: RefMask }

function buildMask(m: MaskSpec, L: number, S: number, rand: () => number): BuiltMask {
  const cs = m.bcast === "full" || m.bcast === "row" ? 1 : 0;
  const rowLen = cs ? S : 1;
  const rs = m.bcast === "full" || m.bcast === "col" ? rowLen + (m.pad ?? 0) : 0;
  const n = (rs ? (L - 1) * rs : 0) + rowLen;
  let data: Uint8Array | Float32Array;
  if (m.kind === 3) {
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rand() < (m.p ?? 0.2) ? -Infinity : -3 + 6 * rand();
  } else {
    data = new Uint8Array(n);
    // nonzero bytes are 1, 2 or 255: "nonzero", not "== 1"
    for (let i = 0; i < n; i++) data[i] = rand() < (m.p ?? (m.kind === 1 ? 0.7 : 0.3)) ? [1, 2, 255][Math.floor(rand() * 3)] : 0;
  }
  if (m.fill) for (let i = 0; i < (rs ? L : 1); i++) for (let j = 0; j < rowLen; j++) data[i * rs + j] = m.fill(i, j);
  const dense = m.kind === 3 ? new Float32Array(L * S) : new Uint8Array(L * S);
  for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) dense[i * S + j] = data[i * rs + j * cs];
  return { data, rs, cs, dense: { data: dense, shape: [L, S], bool: m.kind !== 3, padding: m.kind === 2 } };
}

interface Result { o: Float32Array; w: Float32Array | null; refO: Float64Array; refW: Float64Array }

/** One guarded attention_f32 call against refAttention. */
function check(c: Case, seed: number): Result {
  const { L, S, E, Ev } = c;
  const what = caseName(c);
  const rand = rng(seed);
  const r = c.range ?? 1;
  const q = c.q ?? randn(rand, L * E, -r, r), k = c.k ?? randn(rand, S * E, -r, r), v = c.v ?? randn(rand, S * Ev, -r, r);
  const H = c.H ?? 1, h = c.h ?? 0;
  const ldq = H * E, ldk = H * E, ldv = H * Ev, ldo = H * Ev + (c.padO ?? 0), ldw = S + (c.padW ?? 0);
  const withW = c.weights !== false;
  const scale = c.scale ?? 1 / Math.sqrt(E);
  const masks = (c.masks ?? []).map((m) => buildMask(m, L, S, rand));
  // Other heads' columns are NaN (layout's fill): reading them would poison the result.
  const qStore = layout(q, L, E, ldq, 1, L * ldq, h * E);
  const kStore = layout(k, S, E, ldk, 1, S * ldk, h * E);
  const vStore = layout(v, S, Ev, ldv, 1, S * ldv, h * Ev);
  return guarded(rt, (g) => {
    const pq = g.input(qStore, "Q"), pk = g.input(kStore, "K"), pv = g.input(vStore, "V");
    const pms = masks.map((m, i) => g.input(m.data, `mask ${i} data`));
    const desc = new Int32Array(masks.length * 4);
    masks.forEach((m, i) => desc.set([c.masks![i].kind, pms[i].ptr, m.rs, m.cs], i * 4));
    const pd = masks.length ? g.input(desc, "mask descriptors") : null;
    const po = g.output(L * ldo, "O");
    const pw = withW ? g.output(L * ldw, "W") : null;
    const ps = g.scratch(kern.attention_scratch_bytes(L, S, E, Ev));
    kern.attention_f32(
      po.ptr + h * Ev * 4, ldo, pw?.ptr ?? 0, ldw,
      pq.ptr + h * E * 4, ldq, pk.ptr + h * E * 4, ldk, pv.ptr + h * Ev * 4, ldv,
      pd?.ptr ?? 0, masks.length, ps.ptr, L, S, E, Ev, scale, c.causal ? 1 : 0, 0, 0, c.wl ?? 0, c.wr ?? 0,
    );
    g.check(what);
    g.untouchedOutside(po, L, Ev, ldo, h * Ev, what);
    if (pw) g.untouchedOutside(pw, L, S, ldw, 0, what);
    const window = c.wl || c.wr ? [c.wl ? c.wl - 1 : -1, c.wr ? c.wr - 1 : -1] as const : undefined;
    const ref = refAttention(q, k, v, [], L, S, E, Ev, { scale, causal: c.causal, masks: masks.map((m) => m.dense), window });
    const o = g.gather(po, L, Ev, ldo, h * Ev);
    assertRowsClose(o, ref.out, Ev, 1e-5, `${what}: O`, ref.mag);
    const w = pw ? g.gather(pw, L, S, ldw) : null;
    if (w) assertRowsClose(w, ref.w, S, 1e-5, `${what}: W`);
    // rows with nothing to attend to: exact zeros (not NaN) in O and W
    for (let i = 0; i < L; i++) {
      let sum = 0;
      for (let j = 0; j < S; j++) sum += ref.w[i * S + j];
      if (sum !== 0) continue;
      for (let e = 0; e < Ev; e++) if (o[i * Ev + e] !== 0) assert.unreachable(`${what}: fully masked row ${i}: O[${i}, ${e}] = ${o[i * Ev + e]}, want 0`);
      if (w) for (let j = 0; j < S; j++) if (w[i * S + j] !== 0) assert.unreachable(`${what}: fully masked row ${i}: W[${i}, ${j}] = ${w[i * S + j]}, want 0`);
    }
    return { o, w, refO: ref.out, refW: ref.w };
  });
}

// ---- sizes: every dim through ODD_SIZES ------------------------------------------------------------------------

const BASES: [number, number, number, number][] = [[5, 17, 8, 5], [17, 63, 17, 8], [2, 9, 4, 3]];
const DIMS = ["L", "S", "E", "Ev"] as const;
const TILE_OF = { L: [MR, "MR"], S: [NR, "NR"], E: [4, "lanes"], Ev: [NR, "NR"] } as const;

for (const [d, dim] of DIMS.entries()) {
  const values = dim === "L" ? [...ODD_SIZES, DIRECT_L] : ODD_SIZES;
  test(`attention_f32 ${dim} through ${values.map((x) => tile(x, TILE_OF[dim][0], TILE_OF[dim][1])).join(", ")}, others from (L, S, E, Ev) ∈ {${BASES.map((b) => `(${b})`).join(", ")}}, plain and causal`, () => {
    for (const base of BASES) {
      for (const x of values) {
        const [L, S, E, Ev] = base.map((b, i) => (i === d ? x : b));
        check({ L, S, E, Ev }, x * 1000 + d);
        check({ L, S, E, Ev, causal: true }, x * 1000 + d + 1);
      }
    }
  });
}

for (const L of [...ODD_SIZES, DIRECT_L]) {
  test(`attention_f32 L=${tile(L, MR, "MR")} (${L <= DIRECT_L ? "direct" : "packed"}) × S, E, Ev ∈ {${ODD_SIZES}}³, causal on every other shape`, () => {
    let n = 0;
    for (const S of ODD_SIZES) for (const E of ODD_SIZES) for (const Ev of ODD_SIZES) {
      check({ L, S, E, Ev, causal: n % 2 === 1, weights: n % 3 !== 2 }, ++n * 13 + L);
    }
  });
}

test("attention_f32 60 seeded random shapes from ODD_SIZES⁴ with random masks, causal, W on/off, strides", () => {
  const rand = rng(2024);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  for (let t = 0; t < 60; t++) {
    const L = pick([...ODD_SIZES, DIRECT_L]), S = pick(ODD_SIZES), E = pick(ODD_SIZES), Ev = pick(ODD_SIZES);
    const nm = pick([0, 0, 1, 2, 3]);
    const masks: MaskSpec[] = [];
    for (let i = 0; i < nm; i++) masks.push({ kind: pick([1, 2, 3] as const), bcast: pick(["full", "row", "col", "scalar"] as const), pad: pick([0, 0, 3]) });
    check({ L, S, E, Ev, masks, causal: rand() < 0.4, weights: rand() < 0.7, padO: pick([0, 0, 5]), padW: pick([0, 0, 2]) }, 7000 + t);
  }
});

// ---- row blocks (BM) and the depth of the GEMMs (KC) -----------------------------------------------------------

const ROW_BLOCK_LS = [BM - 1, BM, BM + 1, 2 * BM, 2 * BM + 1, 3 * BM + 1];
test(`attention_f32 row blocks: L ∈ {${ROW_BLOCK_LS}} (BM = ${BM}), S ∈ {17, 64}, plain, causal, masked`, () => {
  for (const L of ROW_BLOCK_LS) {
    for (const S of [17, 64]) {
      check({ L, S, E: 8, Ev: 5 }, L + S);
      check({ L, S, E: 8, Ev: 5, causal: true }, L + S + 1);
      check({ L, S, E: 5, Ev: 9, masks: [{ kind: 1, bcast: "full" }, { kind: 3, bcast: "row" }], padW: 3 }, L + S + 2);
    }
  }
});

const ONE_TILE_SS = [BN - 1, BN, BN + 1, 2 * BN + 3];
test(`attention_f32 S around one key tile (BN = KC = ${BN}, the P·V GEMM's depth): S ∈ {${ONE_TILE_SS}}, L ∈ {${DIRECT_L}, 7, ${BM + 1}} (direct, one block, two), plain and causal`, () => {
  for (const S of ONE_TILE_SS) {
    for (const L of [DIRECT_L, 7, BM + 1]) {
      check({ L, S, E: 8, Ev: 17 }, S + L);
      check({ L, S, E: 8, Ev: 17, causal: true }, S + L + 1);
    }
    check({ L: 9, S, E: 3, Ev: 4, masks: [{ kind: 2, bcast: "row" }] }, S);
  }
});

const DEEP_ES = [KC - 1, KC, KC + 1, 2 * KC + 3];
test(`attention_f32 E around and past KC = ${KC} (Q·Kᵀ is not cut into k-blocks: Q and K panels of depth E): E ∈ {${DEEP_ES}}, L ∈ {1, 7}, S = 9, Ev = 5`, () => {
  for (const E of DEEP_ES) for (const L of [1, 7]) check({ L, S: 9, E, Ev: 5, causal: L > 1 }, E + L);
});

test("attention_f32 wide values: Ev ∈ {129, 200}, L ∈ {2, 6}, S = 33", () => {
  for (const Ev of [129, 200]) for (const L of [2, 6]) check({ L, S: 33, E: 7, Ev }, Ev + L);
});

// ---- causal ----------------------------------------------------------------------------------------------------

test("attention_f32 causal (bottom-right) with L < S, L = S, L > S on both paths; rows with no visible key give zeros", () => {
  const shapes: [number, number][] = [[1, 1], [1, 5], [2, 1], [2, 2], [2, 7], [3, 1], [3, 3], [5, 3], [17, 5], [5, 17], [17, 17],
    [81, 17], [17, 81], [81, 130], [130, 81], [45, 3]];
  for (const [L, S] of shapes) {
    const r = check({ L, S, E: 5, Ev: 6, causal: true }, L * 1000 + S);
    // row i sees keys j ≤ i + S − L: check the zero pattern of W directly
    for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
      if (j > i + S - L && r.w![i * S + j] !== 0) assert.unreachable(`L=${L} S=${S}: W[${i}, ${j}] = ${r.w![i * S + j]} past the causal edge`);
    }
  }
});

// ---- masks -----------------------------------------------------------------------------------------------------

for (const kind of [1, 2, 3] as const) {
  const kname = kind === 1 ? "u8 keep-if-nonzero" : kind === 2 ? "u8 drop-if-nonzero" : "f32 additive";
  test(`attention_f32 mask kind ${kind} (${kname}): [L, S] (rs S and S+3), [1, S] (rs 0), [L, 1] (cs 0), [1, 1]; L ∈ {1, 2, 17, 41}, with and without causal`, () => {
    for (const bcast of ["full", "row", "col", "scalar"] as const) {
      for (const pad of bcast === "full" || bcast === "col" ? [0, 3] : [0]) {
        for (const L of [1, 2, 17, 41]) {
          const S = 19;
          check({ L, S, E: 6, Ev: 5, masks: [{ kind, bcast, pad }] }, kind * 100 + L + pad);
          check({ L, S, E: 6, Ev: 5, masks: [{ kind, bcast, pad }], causal: true, padW: 1 }, kind * 100 + L + pad + 1);
        }
      }
    }
  });
}

test("attention_f32 several masks at once: kind 1 [L, S] + kind 2 [1, S] + kind 3 [L, 1] (+ causal), L ∈ {2, 5, 41}", () => {
  for (const L of [2, 5, 41]) for (const S of [7, 33]) for (const causal of [false, true]) {
    check({ L, S, E: 4, Ev: 9, causal, masks: [
      { kind: 1, bcast: "full", pad: 2 }, { kind: 2, bcast: "row", p: 0.2 }, { kind: 3, bcast: "col", p: 0.1 },
    ] }, L * 10 + S + (causal ? 1 : 0));
    check({ L, S, E: 4, Ev: 9, causal, masks: [{ kind: 3, bcast: "full" }, { kind: 3, bcast: "row" }, { kind: 1, bcast: "scalar", p: 1 }] }, L + S);
  }
});

test("attention_f32 fully masked rows (bool 0 everywhere, additive −Infinity, drop-all) give zeros in O and W, not NaN", () => {
  for (const L of [1, 2, 3, 17, 41]) {
    const S = 11;
    // every row fully masked
    check({ L, S, E: 5, Ev: 4, masks: [{ kind: 1, bcast: "scalar", p: 0 }] }, L);
    check({ L, S, E: 5, Ev: 4, masks: [{ kind: 2, bcast: "row", p: 1 }] }, L + 1);
    check({ L, S, E: 5, Ev: 4, masks: [{ kind: 3, bcast: "full", p: 1 }] }, L + 2);
    // some rows fully masked: a [L, 1] keep mask with zeros
    check({ L, S, E: 5, Ev: 4, masks: [{ kind: 1, bcast: "col", p: 0.5 }] }, L + 3);
    check({ L, S, E: 5, Ev: 4, masks: [{ kind: 3, bcast: "col", p: 0.5 }], causal: true }, L + 4);
  }
});

test("attention_f32 a fully masked row gives zeros even when the mask leaves scores of +large magnitude (kind 3 −Infinity on 1e4 logits)", () => {
  const L = 6, S = 5;
  const q = new Float32Array(L * 2), k = new Float32Array(S * 2);
  for (let i = 0; i < L; i++) q.set([100, 1], i * 2);
  for (let j = 0; j < S; j++) k.set([100, j / 8], j * 2);
  check({ L, S, E: 2, Ev: 3, scale: 1, q, k, masks: [{ kind: 3, bcast: "col", p: 0.5 }] }, 77);
});

// ---- key tiles (BN) and the online softmax ----------------------------------------------------------------------

const TILE_SS = [BN - 1, BN, BN + 1, 2 * BN - 1, 2 * BN + 1, 2 * BN + 76, 3 * BN + 1];
const TILE_LS = [DIRECT_L + 1, BM + 1, 2 * BM + 3];
test(`attention_f32 key tiles: S ∈ {${TILE_SS}} (BN = ${BN}) × L ∈ {${TILE_LS}}, plain, causal, masked with W`, () => {
  for (const S of TILE_SS) for (const L of TILE_LS) {
    check({ L, S, E: 7, Ev: 9, weights: L === 3 }, S + L);
    check({ L, S, E: 5, Ev: 6, causal: true, padW: 3 }, S + L + 1);
    check({ L, S, E: 4, Ev: 3, masks: [{ kind: 3, bcast: "full" }, { kind: 2, bcast: "row" }], causal: L === BM + 1 }, S + L + 2);
  }
});

/** Q = [1…], K rows k_j = [f(j), 0…]: row scores are f(j)·scale, so the max can sit in any key tile. */
function rampCase(L: number, S: number, f: (j: number) => number, extra: Partial<Case> = {}): Case {
  const E = 3, q = new Float32Array(L * E).fill(1), k = new Float32Array(S * E);
  for (let j = 0; j < S; j++) k[j * E] = f(j);
  return { L, S, E, Ev: 5, scale: 1, q, k, ...extra };
}

test(`attention_f32 online rescaling over 3 and 4 key tiles of ${BN}: the row max rising in every later tile, falling, only in the last tile, and ±40 logits`, () => {
  for (const L of [DIRECT_L + 1, BM + 1]) for (const S of [2 * BN + 76, 3 * BN + 64]) {
    check(rampCase(L, S, (j) => j / 60), L + S);                        // rises across tiles: every tile rescales
    check(rampCase(L, S, (j) => (S - j) / 60), L + S + 1);              // falls: the first tile holds the max
    check(rampCase(L, S, (j) => (j === S - 1 ? 30 : Math.sin(j))), L + S + 2);   // one dominant key in the last tile
    check(rampCase(L, S, (j) => 40 * Math.sin(j / 97)), L + S + 3);     // e^80 spread: tiles far below the max underflow
    check(rampCase(L, S, (j) => j / 60, { causal: true }), L + S + 4);
    check(rampCase(L, S, (j) => j / 60, { scale: 0.37, masks: [{ kind: 3, bcast: "full", p: 0.1 }] }), L + S + 5);
  }
});

// keys [0, a) hidden from every row: all of the first tile and part of the second; row 3 sees only [a, b]
const HID_A = BN + 88, HID_B = BN + 188;
test(`attention_f32 key tiles a row cannot see: keys 0…${HID_A - 1} dropped (additive −Infinity, padding; BN = ${BN}), one row sees only keys ${HID_A}…${HID_B}`, () => {
  const L = 7, S = 2 * BN + 76;
  const hidden = (i: number, j: number) => j < HID_A || (i === 3 && j > HID_B);
  for (const causal of [false, true]) {
    const base = rampCase(L, S, (j) => (j % 50) / 10, { causal });
    check({ ...base, masks: [{ kind: 3, bcast: "full", fill: (i, j) => (hidden(i, j) ? -Infinity : 0) }] }, 12);
    check({ ...base, masks: [{ kind: 1, bcast: "full", fill: (i, j) => (hidden(i, j) ? 0 : 1) }] }, 13);
    check({ ...base, masks: [{ kind: 2, bcast: "row", fill: (_i, j) => (j < HID_A ? 1 : 0) }] }, 14);
    // every key of the first tile hidden from every row, and the later tiles' scores far above it
    check({ ...rampCase(L, S, (j) => (j < BN ? 50 : j / 100), { causal }), masks: [{ kind: 2, bcast: "row", fill: (_i, j) => (j < BN ? 1 : 0) }] }, 15);
  }
});

test(`attention_f32 NaN in one key of the second tile (BN = ${BN}) makes every row NaN; in the first tile too (O and W)`, () => {
  for (const j of [5, BN + 188]) {
    const L = 5, S = 2 * BN + 6, E = 3, Ev = 4;
    const k = randn(rng(j), S * E);
    k[j * E + 1] = NaN;
    const r = check({ L, S, E, Ev, k }, j);
    assert.ok(r.o.every(Number.isNaN), `key ${j} NaN: every O entry NaN`);
    assert.ok(r.w!.every(Number.isNaN), `key ${j} NaN: every W entry NaN`);
  }
});

// ---- strides: heads in place -------------------------------------------------------------------------------------

test("attention_f32 one head in place inside [L, H·E] buffers (ldq = ldk = H·E, ldv = H·Ev, offset h·E; other heads NaN): H = 3, every h, both paths", () => {
  for (const L of [1, 2, 7, 41]) for (const h of [0, 1, 2]) {
    check({ L, S: 13, E: 5, Ev: 7, H: 3, h }, L * 10 + h);
    check({ L, S: 13, E: 4, Ev: 3, H: 3, h, padO: 2, padW: 4, causal: true, masks: [{ kind: 1, bcast: "full" }] }, L * 10 + h + 5);
  }
});

test("attention_f32 all H = 4 heads of [L, H·E] into one O [L, H·Ev]: each head matches its reference, L ∈ {2, 17}", () => {
  for (const L of [2, 17]) {
    const S = 21, E = 6, Ev = 5, H = 4;
    const rand = rng(L);
    const Q = randn(rand, L * H * E), K = randn(rand, S * H * E), V = randn(rand, S * H * Ev);
    const scale = 1 / Math.sqrt(E);
    guarded(rt, (g) => {
      const pq = g.input(Q, "Q"), pk = g.input(K, "K"), pv = g.input(V, "V"), po = g.output(L * H * Ev, "O");
      const ps = g.scratch(kern.attention_scratch_bytes(L, S, E, Ev));
      for (let h = 0; h < H; h++) {
        kern.attention_f32(po.ptr + h * Ev * 4, H * Ev, 0, 0, pq.ptr + h * E * 4, H * E, pk.ptr + h * E * 4, H * E,
          pv.ptr + h * Ev * 4, H * Ev, 0, 0, ps.ptr, L, S, E, Ev, scale, 0, 0, 0, 0, 0);
        g.check(`head ${h}`);
        g.untouchedOutside(po, L, (h + 1) * Ev, H * Ev, 0, `after head ${h}: later heads untouched`);
      }
      for (let h = 0; h < H; h++) {
        const pick = (x: Float32Array, rows: number, w: number) => {
          const out = new Float32Array(rows * w);
          for (let i = 0; i < rows; i++) for (let e = 0; e < w; e++) out[i * w + e] = x[i * H * w + h * w + e];
          return out;
        };
        const ref = refAttention(pick(Q, L, E), pick(K, S, E), pick(V, S, Ev), [], L, S, E, Ev);
        assertRowsClose(g.gather(po, L, Ev, H * Ev, h * Ev), ref.out, Ev, 1e-5, `L=${L} head ${h}`, ref.mag);
      }
    });
  }
});

// ---- scale, W, special values ------------------------------------------------------------------------------------

test("attention_f32 scale: 0.37, 1, 0 (uniform weights), −1 on both paths", () => {
  for (const scale of [0.37, 1, 0, -1]) for (const L of [2, 9]) {
    const r = check({ L, S: 12, E: 7, Ev: 6, scale }, L + 10 * scale);
    if (scale === 0) for (const x of r.w!) assert.ok(Math.abs(x - 1 / 12) < 1e-6, `scale 0: weight ${x}, want 1/12`);
  }
});

test("attention_f32 without W (w = 0): O still right and nothing else written, both paths and causal", () => {
  for (const L of [1, 2, 3, 41]) {
    check({ L, S: 10, E: 3, Ev: 8, weights: false }, L);
    check({ L, S: 10, E: 3, Ev: 8, weights: false, causal: true, masks: [{ kind: 2, bcast: "row" }] }, L + 1);
  }
});

test("attention_f32 Ev = 0 (weights only, as src/ calls it for an empty value width): W right, nothing else written", () => {
  for (const L of [1, 2, 3, 41]) for (const S of [5, 257]) {
    check({ L, S, E: 4, Ev: 0 }, L + S);
    check({ L, S, E: 4, Ev: 0, causal: true, masks: [{ kind: 1, bcast: "full" }] }, L + S + 1);
  }
});

test("attention_f32 W rows sum to 1 (where anything is visible), L ∈ {2, 17}, S ∈ {5, 257}", () => {
  for (const L of [2, 17]) for (const S of [5, 257]) {
    const r = check({ L, S, E: 4, Ev: 3, causal: true }, L + S);
    for (let i = 0; i < L; i++) {
      let s = 0;
      for (let j = 0; j < S; j++) s += r.w![i * S + j];
      const visible = i + S - L >= 0;   // causal: row i sees keys j ≤ i + S − L
      assert.ok(visible ? Math.abs(s - 1) < 1e-5 : s === 0, `L=${L} S=${S} row ${i} sums to ${s}, want ${visible ? 1 : 0}`);
    }
  }
});

test("attention_f32 logits of ±1e4, exact in f32 (E = 2, q = [±100, 1], k_j = [100, j/8], scale 1): no overflow, softmax of j/8", () => {
  for (const sign of [1, -1]) for (const L of [1, 2, 3, 12]) {
    const S = 11;
    const q = new Float32Array(L * 2), k = new Float32Array(S * 2);
    for (let i = 0; i < L; i++) q.set([sign * 100, 1], i * 2);
    for (let j = 0; j < S; j++) k.set([100, (j - 5) / 8], j * 2);
    const r = check({ L, S, E: 2, Ev: 4, scale: 1, q, k }, L);
    // the weights are softmax((j − 5)/8) whatever the 1e4 offset
    let z = 0;
    for (let j = 0; j < S; j++) z += Math.exp((j - 5) / 8);
    for (let j = 0; j < S; j++) assert.ok(Math.abs(r.w![j] - Math.exp((j - 5) / 8) / z) < 1e-6, `sign ${sign} L=${L}: w[0, ${j}] = ${r.w![j]}`);
  }
});

test("attention_f32 larger logits: Q, K ∈ [−3, 3), scale 1, E = 9 (scores up to ±81), both paths", () => {
  for (const L of [2, 7]) check({ L, S: 17, E: 9, Ev: 5, scale: 1, range: 3 }, L);
});

test("attention_f32 NaN in one query row makes only that row NaN (O and W), both paths", () => {
  for (const L of [2, 7, 41]) {
    const S = 9, E = 5, Ev = 4;
    const q = randn(rng(L), L * E);
    q[1 * E + 2] = NaN;
    const r = check({ L, S, E, Ev, q }, L);   // reference: row 1 NaN, others finite
    assert.ok(r.o.slice(Ev, 2 * Ev).every(Number.isNaN), "row 1 of O NaN");
    assert.ok(r.o.slice(0, Ev).every(Number.isFinite), "row 0 of O finite");
  }
});

test("attention_f32 is deterministic: the same call twice gives the same bits (L=45 S=300 E=17 Ev=9, masks, causal)", () => {
  const c: Case = { L: 45, S: 300, E: 17, Ev: 9, causal: true, masks: [{ kind: 3, bcast: "full" }] };
  const a = check(c, 1), b = check(c, 1);
  const bits = (x: Float32Array) => new Uint32Array(x.slice().buffer);
  assert.equal(Array.from(bits(a.o)), Array.from(bits(b.o)));
  assert.equal(Array.from(bits(a.w!)), Array.from(bits(b.w!)));
});

const SCRATCH_LS = [1, DIRECT_L, DIRECT_L + 1, BM, BM + 1];
test(`attention_scratch_bytes is enough: the scratch guards above hold for L ∈ {${SCRATCH_LS}}, S ∈ {1, 8, 9}, E ∈ {1, 300}, Ev ∈ {1, 9}`, () => {
  for (const L of SCRATCH_LS) for (const S of [1, 8, 9]) for (const E of [1, 300]) for (const Ev of [1, 9]) {
    check({ L, S, E, Ev, causal: L % 2 === 1 }, L + S + E + Ev);
  }
});

test(`attention_f32 window arguments (wl = left + 1, wr = right + 1; 0 unbounded) across BM = ${BM} rows and BN = ${BN} keys, heads in place, masks, no W`, () => {
  let seed = 9000;
  for (const [L, S] of [[1, 30], [2, BN + 9], [7, 7], [BM + 3, BN + 40], [2 * BM + 1, 2 * BN + 3], [BN + 1, 60]]) {
    for (const [wl, wr] of [[1, 0], [1, 1], [0, 1], [5, 3], [BM + 2, 0], [BN + 1, 2], [S + L + 1, 0], [3, L + 4]]) {
      check({ L, S, E: 9, Ev: 7, wl, wr, causal: seed % 2 === 0 }, seed++);
    }
    check({ L, S, E: 8, Ev: 5, wl: 6, wr: 0, H: 3, h: 1, padO: 2, padW: 3, masks: [{ kind: 2, bcast: "row" }] }, seed++);
    check({ L, S, E: 8, Ev: 5, wl: 0, wr: 4, weights: false }, seed++);
  }
});

test.run();
