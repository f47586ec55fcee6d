// A key that a boolean mask, a padding mask or the causal mask removes is never read: NaN, +Infinity
// and −Infinity planted in its key and value rows leave every row that may not see it exactly as it is
// with clean data (=== per element: the same numbers, ±0 alike), and equal to the float64 reference.
// Rows that do see a planted key are not checked here (numerics.test.ts says what IEEE gives them).
// Sizes cover the direct path (L ≤ 2), one query block, several blocks (BM = MR·8 rows: 40, or 48 in
// the relaxed build), and key tiles past the first (BN = KC = 512 keys: assembly/attention.ts), where
// the output rows carry over from one tile's P·V product to the next.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertRowsClose, rng } from "../helpers.js";
import { BM, KC } from "../constants.js";
import { MultiHeadAttention, scaledDotProductAttention as sdpa, type Tensor } from "../../src/index.js";
import { refAttention, refMha } from "../reference.js";
import { model, tensor } from "./reliability-support.js";

const GARBAGE = [NaN, Infinity, -Infinity];

/** Rows i of [L, cols] that see none of `planted` (visible(i, j) false for every planted j). */
function blindRows(L: number, planted: number[], visible: (i: number, j: number) => boolean): number[] {
  return Array.from({ length: L }, (_, i) => i).filter((i) => planted.every((j) => !visible(i, j)));
}

/** Plants garbage (cycling NaN, +Inf, −Inf) in every column of rows `keys` of x [S, cols]. */
function plant(x: Float32Array, cols: number, keys: number[]): Float32Array {
  const y = x.slice();
  keys.forEach((j, n) => { for (let c = 0; c < cols; c++) y[j * cols + c] = GARBAGE[(n + c) % 3]; });
  return y;
}

/** Rows `rows` of got: the bits of the clean run, and within 1e-5 of float64 at the row's scale (mag: Σ w·|v| for outputs). */
function checkRows(got: Float32Array, clean: Float32Array, ref: Float64Array, cols: number, rows: number[], what: string, mag?: Float64Array): void {
  for (const i of rows) {
    for (let c = 0; c < cols; c++) {
      const g = got[i * cols + c], w = clean[i * cols + c];
      if (!(g === w)) assert.unreachable(`${what}: row ${i} col ${c}: ${g} with planted keys, ${w} with clean ones`);
    }
    const row = (x: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }) => x.subarray(i * cols, (i + 1) * cols);
    assertRowsClose(row(got), row(ref), cols, 1e-5, `${what}: row ${i} vs float64`, mag && row(mag));
  }
}

const SHAPES: Array<[number, number]> = [[2, 6], [2, 9], [3, 9], [7, 13], [BM + 1, BM + 3], [2 * BM + 17, 2 * BM + 17], [5, KC + 7], [BM + 5, KC + 3]];

test("sdpa causal: NaN/±Inf in the key and value rows past a row's horizon never reach it (every path, tiles past the first)", () => {
  const rand = rng(101);
  for (const [L, S] of SHAPES) {
    const E = 8, Ev = 11;
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    // keys that the first ⌈L/2⌉ rows may not see: the first past their horizon, the next one and the last
    const j0 = S - L + Math.ceil(L / 2);
    const planted = [...new Set([j0, Math.min(S - 1, j0 + 1), S - 1])];
    const visible = (i: number, j: number) => j <= i + S - L;
    const rows = blindRows(L, planted, visible);
    assert.equal(rows.length, Math.ceil(L / 2), `L=${L} S=${S}: rows blind to the planted keys`);
    const clean = sdpa(q, k, v, { causal: true, returnWeights: true });
    const kb = { data: plant(k.data, E, planted), shape: k.shape }, vb = { data: plant(v.data, Ev, planted), shape: v.shape };
    const dirty = sdpa(q, kb, vb, { causal: true, returnWeights: true });
    const ref = refAttention(q.data, k.data, v.data, [], L, S, E, Ev, { causal: true });
    checkRows(dirty.output.data, clean.output.data, ref.out, Ev, rows, `L=${L} S=${S} causal output`, ref.mag);
    checkRows(dirty.weights!.data, clean.weights!.data, ref.w, S, rows, `L=${L} S=${S} causal weights`);
    // the same through the path without weights (online softmax only)
    checkRows(sdpa(q, kb, vb, { causal: true }).output.data, clean.output.data, ref.out, Ev, rows, `L=${L} S=${S} causal, no weights`, ref.mag);
  }
});

test("sdpa boolean mask: keys masked out for every row (padding) and per row: garbage there never reaches the output", () => {
  const rand = rng(102);
  for (const [L, S] of SHAPES) {
    const E = 5, Ev = 9;
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    const pad = [...new Set([0, S - 1, Math.floor(S / 2), Math.min(S - 1, KC), Math.min(S - 1, KC + 2)])].filter((j) => j !== 1 || S === 1);
    const keep = new Uint8Array(L * S);
    for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) keep[i * S + j] = pad.includes(j) ? 0 : (rand() < 0.8 ? 1 : 0);
    const mask = { data: keep, shape: [L, S] };
    for (const causal of [false, true]) {
      const clean = sdpa(q, k, v, { mask, causal, returnWeights: true });
      const dirty = sdpa(q, { data: plant(k.data, E, pad), shape: k.shape }, { data: plant(v.data, Ev, pad), shape: v.shape }, { mask, causal, returnWeights: true });
      const ref = refAttention(q.data, k.data, v.data, [], L, S, E, Ev, { causal, masks: [{ data: keep, shape: [L, S], bool: true }] });
      const all = Array.from({ length: L }, (_, i) => i);
      checkRows(dirty.output.data, clean.output.data, ref.out, Ev, all, `L=${L} S=${S} causal=${causal} output`, ref.mag);
      checkRows(dirty.weights!.data, clean.weights!.data, ref.w, S, all, `L=${L} S=${S} causal=${causal} weights`);
    }
  }
});

test("sdpa: a value row whose weight is exactly 0 after an additive −Infinity is not read (its key row keeps IEEE: NaN + −∞ = NaN)", () => {
  const rand = rng(103);
  for (const [L, S] of SHAPES) {
    const E = 4, Ev = 6, j = Math.floor(S / 2);
    const q = tensor(rand, [L, E]), k = tensor(rand, [S, E]), v = tensor(rand, [S, Ev]);
    const add = new Float32Array(L * S);
    for (let i = 0; i < L; i++) add[i * S + j] = -Infinity;
    const mask = { data: add, shape: [L, S] };
    const clean = sdpa(q, k, v, { mask }).output.data;
    const dirty = sdpa(q, k, { data: plant(v.data, Ev, [j]), shape: v.shape }, { mask }).output.data;
    const ref = refAttention(q.data, k.data, v.data, [], L, S, E, Ev, { masks: [{ data: add, shape: [L, S], bool: false }] });
    checkRows(dirty, clean, ref.out, Ev, Array.from({ length: L }, (_, i) => i), `L=${L} S=${S} additive −∞`, ref.mag);
  }
});

test("MultiHeadAttention: garbage in padded key/value tokens (keyPaddingMask) never reaches the output, batched, on every path", () => {
  for (const [L, S] of [[1, 7], [2, 9], [9, 12], [BM + 3, KC + 5]] as Array<[number, number]>) {
    const m = model({ E: 12, H: 3, Hkv: 3 }, 7);
    try {
      const rand = rng(104 + L), B = 2, E = 12;
      const x = tensor(rand, [B, L, E]), mem = tensor(rand, [B, S, E]);
      const padding = new Uint8Array(B * S);
      const padded = [S - 1, Math.min(S - 1, 2), Math.min(S - 1, KC + 1)];
      for (const j of padded) padding[1 * S + j] = 1;   // batch 1 pads; batch 0 pads nothing
      padding[0 * S + S - 1] = 1;
      const dirtyMem = mem.data.slice();
      for (let b = 0; b < B; b++) for (let j = 0; j < S; j++) if (padding[b * S + j]) for (let c = 0; c < E; c++) dirtyMem[(b * S + j) * E + c] = GARBAGE[(j + c) % 3];
      const o = { keyPaddingMask: { data: padding, shape: [B, S] } };
      const clean = m.mha.forward(x, mem, mem, o).output.data;
      const dm: Tensor = { data: dirtyMem, shape: mem.shape };
      const dirty = m.mha.forward(x, dm, dm, o).output.data;
      for (let i = 0; i < clean.length; i++) if (!(dirty[i] === clean[i])) assert.unreachable(`L=${L} S=${S}: element ${i}: ${dirty[i]} vs ${clean[i]}`);
      const ref = refMha(x.data, mem.data, mem.data, B, L, S, E, 3, 3, E, E, m.ref, { masks: [{ data: padding, shape: [B, 1, 1, S], bool: true, padding: true }] });
      assertRowsClose(dirty, ref.out, E, 1e-5, `L=${L} S=${S}: vs float64`, ref.mag);
    } finally { m.mha.dispose(); }
  }
});

test("MultiHeadAttention with a KV cache: a NaN token poisons only the steps after it; earlier steps and the causal prefix rows are untouched", () => {
  const m = model({ E: 16, H: 4, Hkv: 2 }, 9);
  try {
    const T = 11, t = 6, E = 16;
    const x = tensor(rng(105), [1, T, E]);
    const bad = x.data.slice();
    bad[t * E + 3] = NaN;
    const full = m.mha.forward({ data: bad, shape: [1, T, E] }, undefined, undefined, { causal: true }).output.data;
    const clean = m.mha.forward(x, undefined, undefined, { causal: true }).output.data;
    for (let i = 0; i < T * E; i++) {
      const r = Math.floor(i / E);
      if (r < t) { if (!(full[i] === clean[i])) assert.unreachable(`row ${r} (before the NaN token) changed: ${full[i]} vs ${clean[i]}`); }
      else assert.ok(Number.isNaN(full[i]), `row ${r} (at/after the NaN token) is NaN`);
    }
    // a prefix of 3 tokens, then single steps: the same rows
    const cache = m.mha.createCache({ maxLength: T });
    const rows: number[] = [];
    const pre = m.mha.forward({ data: bad.slice(0, 3 * E), shape: [1, 3, E] }, undefined, undefined, { cache }).output.data;
    rows.push(...pre);
    for (let s = 3; s < T; s++) rows.push(...m.mha.forward({ data: bad.slice(s * E, (s + 1) * E), shape: [1, 1, E] }, undefined, undefined, { cache }).output.data);
    for (let i = 0; i < t * E; i++) assert.ok(Math.abs(rows[i] - clean[i]) <= 1e-5 * Math.max(1e-30, ...Array.from(clean.subarray(Math.floor(i / E) * E, Math.floor(i / E) * E + E), Math.abs)), `cached step row ${Math.floor(i / E)} col ${i % E}`);
    for (let i = t * E; i < T * E; i++) assert.ok(Number.isNaN(rows[i]), `cached step row ${Math.floor(i / E)} is NaN`);
  } finally { m.mha.dispose(); }
});

void MultiHeadAttention;
test.run();
