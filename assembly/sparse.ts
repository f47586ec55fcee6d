// Block-sparse layouts for attention_rows_f32 (attention.ts): which key tiles a row block visits.
//
// A layout is a mask descriptor of kind 4 (MASK_BLOCKS; the block size b in the kind's upper bits:
// kind = 4 | b << 4): u8 at `address`, element (block row r, block column c) at r·rs + c·cs; ≠ 0 = the
// b×b block of queries [r·b, r·b + b) × keys [c·b, c·b + b) is computed, 0 = skipped. Element by element
// it drops the scores of skipped blocks (apply_mask); row blocks visit only key tiles that hold a
// kept block of one of their block rows: a tile starts at a kept block (rounded down to an NR panel)
// and ends at the end of that run of kept blocks (rounded up to NR), at most BN keys. A layout keeping
// every block gives the tiles of no layout (src/ passes none then: it also keeps the folded scale).
import { NR, KC } from "./gemm";

// @ts-ignore: decorator
@inline export const MASK_BLOCKS: i32 = 4;

/** The first block-layout descriptor of the `nmasks` at `masks`, or 0. */
export function sparse_find(masks: usize, nmasks: i32): usize {
  for (let m = 0; m < nmasks; m++) {
    const d = masks + <usize>(m << 4);
    if ((load<i32>(d) & 15) == MASK_BLOCKS) return d;
  }
  return 0;
}

/** Block size of a layout descriptor. */
// @ts-ignore: decorator
@inline export function sparse_block(d: usize): i32 { return load<i32>(d) >>> 4; }

/** Whether key block c is kept for any of block rows [r0, r1]. */
function kept(d: usize, r0: i32, r1: i32, c: i32): bool {
  const base = <usize>load<u32>(d, 4), rs = load<i32>(d, 8), cs = load<i32>(d, 12);
  for (let r = r0; r <= r1; r++) if (load<u8>(base + <usize>(r * rs + c * cs)) != 0) return true;
  return false;
}

/**
 * The next key tile at or after `from` (a multiple of NR) below jend, for query rows [i0, i0 + bm):
 * (start << 32) | end, start ≥ from a multiple of NR, end ≤ min(start + KC, jend); start = jend when no
 * kept block is left.
 */
export function sparse_next_tile(d: usize, i0: i32, bm: i32, from: i32, jend: i32): i64 {
  const b = sparse_block(d);
  const r0 = i0 / b, r1 = (i0 + bm - 1) / b;
  const nkb = (jend + b - 1) / b;
  let c = from / b;
  while (c < nkb && !kept(d, r0, r1, c)) c++;
  if (c >= nkb) return (<i64>jend << 32) | <i64>jend;
  const start = max<i32>(from, c * b / NR * NR);
  const limit = min<i32>(jend, start + KC);
  let e = c;
  while (e + 1 < nkb && (e + 1) * b < limit && kept(d, r0, r1, e + 1)) e++;
  const end = min<i32>(limit, ((e + 1) * b + NR - 1) / NR * NR);
  return (<i64>start << 32) | <i64>end;
}

/** Row i, keys [j0, j0 + n) at row[0:n]: −Infinity where the layout skips the block. */
export function apply_blocks(row: usize, n: i32, d: usize, i: i32, j0: i32): void {
  const b = sparse_block(d);
  const src = <usize>load<u32>(d, 4) + <usize>((i / b) * load<i32>(d, 8));
  const cs = load<i32>(d, 12);
  let j = 0;
  while (j < n) {
    const c = (j0 + j) / b;
    const jn = min<i32>(n, (c + 1) * b - j0);
    if (load<u8>(src + <usize>(c * cs)) == 0) for (let t = j; t < jn; t++) store<f32>(row + (<usize>t << 2), -Infinity);
    j = jn;
  }
}

/** Tiles a row block may visit at most with block size b over S keys (the W path's per-tile maxima). */
export function sparse_max_tiles(S: i32, b: i32): i32 {
  return (S + KC - 1) / KC + (S + b - 1) / b;
}
