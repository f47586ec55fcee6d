// Scaled dot-product attention for one (batch, head) slice, f32:
//   O[L×Ev] = softmax(Q[L×E] · K[S×E]ᵀ · scale + masks) · V[S×Ev];  W = the softmax (optional).
//
//   Q, K, V, O, W are read/written through row strides (ldq, ldk, ldv, ldo, ldw; unit column
//   stride), so heads are addressed in place inside [B, L, H·E] tensors: no split/merge copies.
//   Masks come as `nmasks` descriptors at `masks` (4 × i32 each: kind, address, row stride,
//   column stride; strides in elements, column stride 0 or 1 for broadcasting):
//     kind 1: u8, keep where ≠ 0 (boolean attention mask: 1 = may attend)
//     kind 2: u8, drop where ≠ 0 (key padding mask: 1 = padding)
//     kind 3: f32, added to the scaled score (additive mask, −Infinity drops)
//   causal: 0 none; 1 (bottom-right aligned) query i sees key j only if j ≤ i + (S − L); 2 (top-left
//   aligned) only if j ≤ i. Either is a shift: i sees j < i + shift + 1. Keys no row may see (top-left,
//   L < S: j ≥ L) are neither packed nor read.
//   window (wl, wr; 0: that side unbounded): a sliding window, FlashAttention's window_size (left,
//   right) as wl = left + 1, wr = right + 1, aligned bottom-right whatever the causal kind: row i (at
//   p = i + S − L) sees only keys p − left ≤ j ≤ p + right. wl = wr = 0 runs the old code (same bits),
//   as does a window wider than the keys. It intersects the causal mask and the masks; key tiles
//   wholly outside a row block's window are not visited (time ∝ L·(left + right + BM)): a windowed
//   block's first tile starts at its first visible key (rounded down to NR), not at key 0.
//   kind 4 | b << 4: a block-sparse layout (sparse.ts): u8 per b×b block (row stride: per block row,
//   column stride: per block column), 0 drops the block; row blocks visit only the key tiles holding
//   one of their kept blocks.
//   A row with nothing to attend to gives zeros in O and W.
//   softcap c > 0 (0: none; Gemma 2's logit soft-capping): each scaled score s becomes c·tanh(s/c),
//   before the bias and masks. slope m ≠ 0 (0: none; ALiBi): the score of query row i and key j gets
//   −m·|p_i − j| added after the soft-cap and before the masks, p_i = i + (S − L) the query's position
//   (bottom-right aligned, as with a KV cache), or p_i = i under causal 2 (top-left: the queries start
//   at position 0). Under a causal mask every key a row sees has j ≤ p_i, so this is ALiBi's
//   −m·(p_i − j); without one it is the symmetric distance (MPT's non-causal ALiBi). Both are computed
//   per row from the global row index i, so any split of the rows gives the same bits.
//
// Algorithm (one pass over the keys with an online softmax, per row block; never materialises L×S):
//   1. pack Kᵀ into NR-column panels over S (depth E), and V into NR-column panels over Ev
//      (depth S), once per (batch, head) (attention_pack_f32);
//   2. (attention_rows_f32, over any range of whole blocks: threads split a head's rows this way)
//      for each block of BM query rows (Q rows packed once, they stay in L1), walk the keys in tiles
//      of BN = KC, stopping at the last key any row of the block may see (causal blocks skip the rest):
//      a. scores[BM × bn] = Q_blk · Kᵀ[:, tile] (GEMM on the packed panels);
//      b. per row: scale, masks, tile max; running max m' = max(m, tile max); if m' > m the row's
//         accumulator O_i and running sum l are rescaled by α = exp(m − m'); e = exp(s − m') in
//         place, l += Σe (softmax.ts);
//      c. O_blk += E · V[tile, :] (GEMM);
//   3. each row × 1/l. W (when asked) gets each tile's e with its m', rescaled at the end by
//      exp(m' − m_final)/l.
//   Scratch is O(BM·BN + S·(E + Ev)): the packed K and V, one scores tile, the packed Q block.
//   Rows of very short queries (L ≤ DIRECT_L, the decode case) skip packing: dot products
//   against K's rows (three keys at a time), then an accumulation over V's rows (16 columns × 2 rows
//   per step). These loops keep accumulators + loaded vectors + splats ≤ 14 of V8's 15 usable xmm
//   registers: V8 schedules a loop body's loads before their arithmetic, and a loop over budget
//   spills an accumulator to the stack every iteration.
//   Scratch: attention_scratch_bytes(L, S, E, Ev) bytes, 16-aligned (with a block layout among the masks
//   and L > DIRECT_L: attention_packed_bytes + attention_sparse_scratch_bytes).
// src/ guarantees L, S, E ≥ 1, Ev ≥ 0, every range inside memory, outputs not overlapping inputs.
import { MR, NR, PA, KC, pack_a, pack_b, tile, vmadd } from "./gemm";
import { row_max, exp_sub_sum, scale_row, all_neg_inf } from "./softmax";
import { expf_p5 } from "./simd/exp";
import { vtanh, tanhf } from "./simd/tanh";
import { hsum } from "./simd/reduce";
import { MASK_BLOCKS, apply_blocks, sparse_block, sparse_find, sparse_max_tiles, sparse_next_tile } from "./sparse";

// @ts-ignore: decorator
@inline const BM: i32 = MR * 8;    // query rows per block (8 micro-tile rows: 40, or 48 with relaxed SIMD)
// @ts-ignore: decorator
@inline const BP: i32 = BM / MR;   // A panels per block (a panel of depth d takes PA·d floats)
// @ts-ignore: decorator
@inline const BN: i32 = KC;        // keys per tile (the P·V GEMM's depth block)
// @ts-ignore: decorator
@inline const DIRECT_L: i32 = 2;   // L up to this takes the unpacked path

// @ts-ignore: decorator
@inline function round_up(n: i32, m: i32): i32 { return (n + m - 1) / m * m; }

/** Row i sees keys j < i + shift + 1: S − L (causal 1, bottom-right), 0 (causal 2, top-left); S (none: all). */
// @ts-ignore: decorator
@inline function causal_shift(causal: i32, L: i32, S: i32): i32 { return causal == 0 ? S : causal == 2 ? 0 : S - L; }

/** Row i's query position is i + this (ALiBi): S − L (bottom-right, and no causal mask), 0 (causal 2, top-left). */
/**
 * The window as offsets from the row index: row i sees keys i + window_lo ≤ j ≤ i + window_hi. Unbounded
 * (wl or wr 0) or wider than the keys: −L and S, which bound nothing (no overflow for any wl, wr ≥ 0).
 */
// @ts-ignore: decorator
@inline function window_lo(wl: i32, L: i32, S: i32): i32 { return wl > 0 ? S - L - min<i32>(wl - 1, S) : -L; }
// @ts-ignore: decorator
@inline function window_hi(wr: i32, L: i32, S: i32): i32 { return wr > 0 ? S - L + min<i32>(wr - 1, L) : S; }

// @ts-ignore: decorator
@inline function query_offset(causal: i32, L: i32, S: i32): i32 { return causal == 2 ? 0 : S - L; }

export function attention_scratch_bytes(L: i32, S: i32, E: i32, Ev: i32): f64 {
  if (L <= DIRECT_L) return <f64>S * 4 + 64;
  return attention_packed_bytes(S, E, Ev) + attention_block_scratch_bytes(S, E, Ev);
}

/** Bytes of K and V packed by attention_pack_f32: Kᵀ in NR-column panels over S, V in NR-column panels over Ev. */
export function attention_packed_bytes(S: i32, E: i32, Ev: i32): f64 {
  const sp = round_up(S, NR);
  return (<f64>sp * <f64>E + <f64>round_up(Ev, NR) * <f64>S) * 4 + 2 * 64;
}

/** Scratch bytes of one attention_rows_f32 call: one row block's working set. */
export function attention_block_scratch_bytes(S: i32, E: i32, Ev: i32): f64 {
  return block_scratch_bytes(S, E, Ev, (S + BN - 1) / BN);
}

/** attention_block_scratch_bytes with a block-sparse layout of block size b among the masks (more tiles per row block). */
export function attention_sparse_scratch_bytes(S: i32, E: i32, Ev: i32, b: i32): f64 {
  return block_scratch_bytes(S, E, Ev, sparse_max_tiles(S, b));
}

function block_scratch_bytes(S: i32, E: i32, Ev: i32, ntiles: i32): f64 {
  const bs = min<i32>(BN, round_up(S, NR));
  const floats = <f64>(BM * bs) + <f64>(BP * PA * bs) + <f64>(BP * PA) * <f64>E + <f64>(BM * 2)
    + <f64>BM * <f64>ntiles + <f64>(MR * NR) + <f64>BM * <f64>Ev;
  return floats * 4 + 8 * 64;
}

/** Query rows per block of the packed path: attention_rows_f32's r0 must be a multiple of it. */
export function attention_block_rows(): i32 {
  return BM;
}

/** Query lengths up to this take the unpacked (direct) path in attention_f32. */
export function attention_direct_rows(): i32 {
  return DIRECT_L;
}

// @ts-ignore: decorator
@inline function align16(p: usize): usize { return (p + 15) & ~15; }

export function attention_f32(
  o: usize, ldo: i32, w: usize, ldw: i32,
  q: usize, ldq: i32, k: usize, ldk: i32, v: usize, ldv: i32,
  masks: usize, nmasks: i32, scratch: usize,
  L: i32, S: i32, E: i32, Ev: i32, scale: f32, causal: i32, softcap: f32, slope: f32, wl: i32, wr: i32,
): void {
  assert(L > 0 && S > 0 && E > 0 && Ev >= 0, "attention_f32: L, S, E must be >= 1 and Ev >= 0");
  assert((scratch & 15) == 0, "attention_f32: scratch must be 16-byte aligned");
  assert(causal >= 0 && causal <= 2, "attention_f32: causal must be 0, 1 or 2");
  assert(wl >= 0 && wr >= 0, "attention_f32: wl and wr must be >= 0");
  if (L <= DIRECT_L) {
    attention_direct(o, ldo, w, ldw, q, ldq, k, ldk, v, ldv, masks, nmasks, scratch, L, S, E, Ev, scale, causal, softcap, slope, wl, wr);
    return;
  }
  if (causal == 2 && L < S && wl == 0 && wr == 0) {
    // Top-left with L < S: no row sees a key j ≥ L. Attend over the first L keys only (the same blocks,
    // tiles and bits: every row's horizon is i + 1 either way), so the rest is not even packed; the
    // scratch this needs is less than for S. W's columns [L, S) are zeros. (ALiBi's positions under
    // top-left are i either way.)
    attention_f32(o, ldo, w, ldw, q, ldq, k, ldk, v, ldv, masks, nmasks, scratch, L, L, E, Ev, scale, causal, softcap, slope, 0, 0);
    if (w != 0) for (let i = 0; i < L; i++) memory.fill(w + <usize>(i * ldw + L) * 4, 0, <usize>(S - L) << 2);
    return;
  }
  attention_pack_f32(scratch, k, ldk, v, ldv, S, E, Ev);
  const bs = align16(scratch + <usize>attention_packed_bytes(S, E, Ev));
  attention_rows_f32(o, ldo, w, ldw, q, ldq, scratch, v, ldv, masks, nmasks, bs, L, S, E, Ev, scale, causal, softcap, slope, 0, L, wl, wr);
}

/**
 * Step 1 of the packed path, once per (batch, head): Kᵀ (B = Kᵀ: element (e, j) at k + j·ldk + e)
 * into NR-column panels over S at pk, V into NR-column panels over Ev after it (align16).
 * pk: attention_packed_bytes(S, E, Ev) bytes, 16-aligned.
 */
export function attention_pack_f32(pk: usize, k: usize, ldk: i32, v: usize, ldv: i32, S: i32, E: i32, Ev: i32): void {
  assert(S > 0 && E > 0 && Ev >= 0 && (pk & 15) == 0, "attention_pack_f32: S, E must be >= 1, Ev >= 0, pk 16-aligned");
  const pv = align16(pk + <usize>round_up(S, NR) * <usize>E * 4);
  pack_b(pk, k, 1, ldk, E, S);
  if (Ev > 0) pack_b(pv, v, ldv, 1, S, Ev);
}

/**
 * Step 2 of the packed path: query rows [r0, r1) of the L rows (r0 a multiple of
 * attention_block_rows(), r1 ≤ L), against K and V packed at pk by attention_pack_f32. Blocks start
 * at multiples of BM whatever the range, so any split of the rows gives the same bits as one call
 * over all of them (this is how threads share one head). v is read again only to recompute a
 * non-finite row without its masked value rows. scratch: attention_block_scratch_bytes(S, E, Ev).
 */
export function attention_rows_f32(
  o: usize, ldo: i32, w: usize, ldw: i32,
  q: usize, ldq: i32, pk: usize, v: usize, ldv: i32,
  masks: usize, nmasks: i32, scratch: usize,
  L: i32, S: i32, E: i32, Ev: i32, scale: f32, causal: i32, softcap: f32, slope: f32, r0: i32, r1: i32,
  wl: i32, wr: i32,
): void {
  assert(L > 0 && S > 0 && E > 0 && Ev >= 0, "attention_rows_f32: L, S, E must be >= 1 and Ev >= 0");
  assert(r0 >= 0 && r0 % BM == 0 && r1 <= L, "attention_rows_f32: r0 must be a multiple of the block rows and r1 <= L");
  assert((scratch & 15) == 0 && (pk & 15) == 0, "attention_rows_f32: scratch and pk must be 16-byte aligned");
  const sp = round_up(S, NR);
  const bs = min<i32>(BN, sp);                                         // scores tile row stride
  const sd = sparse_find(masks, nmasks);                               // block-sparse layout, or 0
  const ntiles = sd != 0 ? sparse_max_tiles(S, sparse_block(sd)) : (S + BN - 1) / BN;
  const pv = align16(pk + <usize>sp * <usize>E * 4);                   // [Ev/NR][S][NR]
  const sc = scratch;                                                  // [BM][bs] scores tile
  const pq = align16(sc + <usize>(BM * bs) * 4);                       // [BP][E][PA] packed Q rows
  const pp = align16(pq + <usize>(BP * PA) * <usize>E * 4);            // [BP][bs][PA] packed tile of e
  const rm = align16(pp + <usize>(BP * PA * bs) * 4);                  // [BM] running max per row
  const rl = align16(rm + <usize>BM * 4);                              // [BM] running Σe per row
  const tm = align16(rl + <usize>BM * 4);                              // [BM][ntiles] each tile's max (W)
  const tmp = align16(tm + <usize>(BM * ntiles) * 4);                  // [MR·NR] edge tile
  const ob = align16(tmp + <usize>(MR * NR) * 4);                      // [BM][Ev] O rows before a tile's P·V

  const shift = causal_shift(causal, L, S);   // row i sees keys j < i + shift + 1 (all when not causal)
  const qpos = query_offset(causal, L, S);    // row i is at position i + qpos (ALiBi)
  const wlo = window_lo(wl, L, S), whi = window_hi(wr, L, S);   // row i sees keys i + wlo ≤ j ≤ i + whi
  // Without masks, soft-cap or bias and with scale > 0, max(s·scale) = max(s)·scale: the scale folds
  // into the exp pass, as exp((s − max)·scale). s − max can overflow to −Infinity only when
  // |s − max| > FLT_MAX; then the true term exp(−|s − max|·scale) is below f32's range anyway (flushed
  // to 0) when scale ≥ 1e-36 (FLT_MAX·1e-36 ≈ 340 > 87.3). Smaller scales take the unfolded path.
  const fold = nmasks == 0 && softcap == 0 && slope == 0 && scale >= 1e-36;
  const escale: f32 = fold ? scale : 1;

  for (let i0 = r0; i0 < r1; i0 += BM) {
    const bm = min<i32>(BM, r1 - i0);
    // Keys the block can see: j < i0 + bm + shift (causal), else all S.
    // The window bounds it further on both sides: keys [tstart, jend), tstart rounded down to a K panel.
    const jend = min<i32>(causal != 0 ? min<i32>(S, max<i32>(0, i0 + bm + shift)) : S, max<i32>(0, i0 + bm + whi));
    const tstart = max<i32>(0, i0 + wlo) / NR * NR;
    const orow0 = o + <usize>(i0 * ldo) * 4;
    // The first tile: [tstart, tstart + BN), or with a layout the first holding a kept block.
    const first = next_tile(sd, i0, bm, tstart, jend);
    let t0 = <i32>(first >> 32), tend = <i32>first;
    if (jend <= t0) {
      zero_rows(o, ldo, i0, bm, Ev);
      if (w != 0) zero_rows(w, ldw, i0, bm, S);
      continue;
    }
    if (w != 0 && sd != 0) zero_rows(w, ldw, i0, bm, S);   // the tiles write W's kept parts
    for (let m0 = 0; m0 < bm; m0 += MR) {
      pack_a(pq + <usize>(m0 / MR * PA * E) * 4, q + <usize>((i0 + m0) * ldq) * 4, ldq, 1, min<i32>(MR, bm - m0), E);
    }
    for (let r = 0; r < bm; r++) {
      store<f32>(rm + (<usize>r << 2), -Infinity);
      store<f32>(rl + (<usize>r << 2), 0);
    }
    for (let nt = 0; t0 < jend; nt++) {
      const bn = tend - t0;
      const more = nt > 0;   // O rows hold earlier tiles' sums
      // a. scores tile = Q_blk · Kᵀ[:, t0:t0+bn]: each Kᵀ panel (E·NR floats) stays in L1 while
      //    every row panel passes over it.
      for (let j = 0; j < bn; j += NR) {
        const nr = min<i32>(NR, bn - j), panel = pk + <usize>((t0 + j) * E) * 4;
        for (let m0 = 0; m0 < bm; m0 += MR) {
          tile(sc + <usize>(m0 * bs + j) * 4, bs, pq + <usize>(m0 / MR * PA * E) * 4, panel, E, min<i32>(MR, bm - m0), nr, false, tmp);
        }
      }
      // b. online softmax per row, in place
      for (let r = 0; r < bm; r++) {
        const i = i0 + r;
        const row = sc + <usize>(r * bs) * 4;
        const jrow = min<i32>(causal != 0 ? min<i32>(jend, max<i32>(0, i + shift + 1)) : S, max<i32>(0, i + whi + 1));
        const n = min<i32>(bn, max<i32>(0, jrow - t0));
        // The row's window starts at column a of the tile (0 without a window): [0, a) are zeros.
        const a = min<i32>(n, max<i32>(0, i + wlo - t0));
        if (a > 0) memory.fill(row, 0, <usize>a << 2);
        online_row(row + (<usize>a << 2), i, t0 + a, n - a, bn - a, masks, nmasks, scale, softcap, slope, i + qpos, fold, escale,
          rm + (<usize>r << 2), rl + (<usize>r << 2), orow0 + <usize>(r * ldo) * 4, Ev, more);
        if (w != 0) {
          const wrow = w + <usize>(i * ldw + t0) * 4;
          memory.copy(wrow, row, <usize>bn << 2);
          store<f32>(tm + <usize>(r * ntiles + nt) * 4, load<f32>(rm + (<usize>r << 2)));
        }
      }
      // c. O_blk (+)= E_tile · V[t0:t0+bn, :]. The GEMM multiplies whole tiles, masked keys too
      //    (weight 0): 0·NaN or 0·Inf in a value row the mask removed would reach the row. Such a row
      //    comes out non-finite; it is then recomputed from its saved value over the keys of weight
      //    ≠ 0 only, in the tile's order (pv_row_exact): the bits the tile gives when those value rows
      //    are finite.
      if (more) save_rows(ob, orow0, ldo, bm, Ev);
      for (let m0 = 0; m0 < bm; m0 += MR) {
        pack_a(pp + <usize>(m0 / MR * PA * bn) * 4, sc + <usize>(m0 * bs) * 4, bs, 1, min<i32>(MR, bm - m0), bn);
      }
      for (let j = 0; j < Ev; j += NR) {
        const nr = min<i32>(NR, Ev - j), panel = pv + <usize>(j * S + t0 * NR) * 4;
        for (let m0 = 0; m0 < bm; m0 += MR) {
          tile(orow0 + <usize>(m0 * ldo + j) * 4, ldo, pp + <usize>(m0 / MR * PA * bn) * 4, panel, bn, min<i32>(MR, bm - m0), nr, more, tmp);
        }
      }
      for (let r = 0; r < bm; r++) {
        const orow = orow0 + <usize>(r * ldo) * 4;
        if (!row_finite(orow, Ev)) {
          pv_row_exact(orow, more ? ob + <usize>(r * Ev) * 4 : 0, sc + <usize>(r * bs) * 4, v + <usize>(t0 * ldv) * 4, ldv, bn, Ev);
        }
      }
      const tt = next_tile(sd, i0, bm, tend, jend);
      t0 = <i32>(tt >> 32); tend = <i32>tt;
    }
    // 3. O rows × 1/l; W rows: each tile's e × exp(m_tile − m)/l, zeros past jend
    for (let r = 0; r < bm; r++) {
      const l = load<f32>(rl + (<usize>r << 2));
      const rinv: f32 = l == 0 ? 0 : 1 / l;
      scale_row(orow0 + <usize>(r * ldo) * 4, Ev, rinv);
      if (w != 0) {
        const wrow = w + <usize>((i0 + r) * ldw) * 4;
        const m = load<f32>(rm + (<usize>r << 2));
        if (tstart > 0) memory.fill(wrow, 0, <usize>tstart << 2);
        // the same tiles again (their maxima in visiting order)
        let u0 = <i32>(first >> 32), uend = <i32>first;
        for (let nt = 0; u0 < jend; nt++) {
          const mt = load<f32>(tm + <usize>(r * ntiles + nt) * 4);
          // A tile before the row's first visible key holds zeros (its mt is −Infinity): keep them.
          const f: f32 = rinv == 0 || mt == -Infinity ? rinv : (mt == m ? rinv : expf_p5((mt - m) * escale) * rinv);
          scale_row(wrow + (<usize>u0 << 2), uend - u0, f);
          const tt = next_tile(sd, i0, bm, uend, jend);
          u0 = <i32>(tt >> 32); uend = <i32>tt;
        }
        if (jend < S) memory.fill(wrow + (<usize>jend << 2), 0, <usize>(S - jend) << 2);
      }
    }
  }
}

/**
 * The key tile after `from` (a multiple of NR) for query rows [i0, i0 + bm): (start << 32) | end. Without
 * a layout (sd = 0) [from, min(from + BN, jend)); with one, sparse_next_tile's (start = jend: none left).
 */
// @ts-ignore: decorator
@inline function next_tile(sd: usize, i0: i32, bm: i32, from: i32, jend: i32): i64 {
  if (from >= jend) return (<i64>jend << 32) | <i64>jend;
  if (sd != 0) return sparse_next_tile(sd, i0, bm, from, jend);
  return (<i64>from << 32) | <i64>min<i32>(from + BN, jend);
}

/**
 * One row's tile of raw scores at `row` (columns t0 … t0+bn of query row i at position pos; the first
 * n are keys the row may see): scale, soft-cap, bias and masks (score_row; unless folded), then the
 * online softmax step against the row's running max *pm and sum *pl: columns [0, n) become exp((s − m')·escale), columns [n, bn) zeros,
 * m' = max(m, tile max), and when m' > m (after earlier tiles: rescale) the accumulator row O_i
 * (Ev floats at orow) and the sum are multiplied by exp((m − m')·escale).
 * A tile whose every kept score is −Infinity adds nothing; a NaN anywhere makes the row NaN.
 */
function online_row(
  row: usize, i: i32, t0: i32, n: i32, bn: i32, masks: usize, nmasks: i32, scale: f32, softcap: f32,
  slope: f32, pos: i32, fold: bool, escale: f32, pm: usize, pl: usize, orow: usize, Ev: i32, rescale: bool,
): void {
  if (n < bn) memory.fill(row + (<usize>n << 2), 0, <usize>(bn - n) << 2);
  if (n == 0) return;
  if (!fold) score_row(row, n, i, t0, masks, nmasks, scale, softcap, slope, pos);
  const tmax = row_max(row, n);
  if (tmax == -Infinity) {
    // Every kept score −Infinity: this tile adds nothing. Unless a NaN hid from the max: NaN row.
    if (all_neg_inf(row, n)) {
      memory.fill(row, 0, <usize>n << 2);
    } else {
      for (let j = 0; j < n; j++) store<f32>(row + (<usize>j << 2), NaN);
      store<f32>(pl, NaN);
    }
    return;
  }
  const m = load<f32>(pm);
  let l = load<f32>(pl);
  let mnew = m;
  if (tmax > m) {
    mnew = tmax;
    if (rescale && m != -Infinity) {
      const alpha = expf_p5((m - mnew) * escale);
      l *= alpha;
      scale_row(orow, Ev, alpha);
    }
    store<f32>(pm, mnew);
  }
  store<f32>(pl, l + exp_sub_sum(row, row, n, mnew, escale));
}

/**
 * Row i (at position pos) of the scores at `row` (raw Q·Kᵀ over columns [0, jend)): scale, soft-cap,
 * bias, masks, and replace columns [0, jrow) by exp(s − max), columns [jrow, jend) by 0. Returns Σ exp
 * (0: nothing to attend). A row whose every kept score is −Infinity is all zeros; a NaN anywhere makes
 * the row NaN.
 */
function row_numerators(row: usize, i: i32, jrow: i32, jend: i32, masks: usize, nmasks: i32, scale: f32,
  softcap: f32, slope: f32, pos: i32, j0: i32): f32 {
  if (jrow < jend) memory.fill(row + (<usize>jrow << 2), 0, <usize>(jend - jrow) << 2);
  if (jrow == 0) return 0;
  // The scale folds into the exp pass when there is nothing else to apply (see attention_rows_f32).
  let escale = scale;
  if (nmasks != 0 || softcap != 0 || slope != 0 || !(scale >= 1e-36)) {
    score_row(row, jrow, i, j0, masks, nmasks, scale, softcap, slope, pos);
    escale = 1;
  }
  const max = row_max(row, jrow);
  if (max == -Infinity) {
    // Everything masked out (zeros), unless a NaN hid from the max (then NaN, as IEEE would give).
    const fill: f32 = all_neg_inf(row, jrow) ? 0 : NaN;
    for (let j = 0; j < jrow; j++) store<f32>(row + (<usize>j << 2), fill);
    return fill;
  }
  return exp_sub_sum(row, row, jrow, max, escale);
}

/**
 * Row i's raw scores for keys [j0, j0 + n) at row[0:n], in this order: s·scale; c·tanh(s·scale/c)
 * instead when softcap c > 0 (tanh's argument as s·(scale/c)); + (−slope)·|pos − j| when slope ≠ 0;
 * then each mask.
 */
function score_row(row: usize, n: i32, i: i32, j0: i32, masks: usize, nmasks: i32, scale: f32, softcap: f32, slope: f32, pos: i32): void {
  if (softcap > 0) softcap_row(row, n, scale / softcap, softcap);
  else scale_row(row, n, scale);
  if (slope != 0) alibi_row(row, n, pos - j0, -slope);
  for (let m = 0; m < nmasks; m++) {
    const d = masks + <usize>(m << 4);
    if ((load<i32>(d) & 15) == MASK_BLOCKS) apply_blocks(row, n, d, i, j0);
    else apply_mask(row, n, load<i32>(d), load<u32>(d, 4), load<i32>(d, 8), load<i32>(d, 12), i, j0);
  }
}

/** y[0:n] = c·tanh(y·a) (a = scale/c): 4 floats a step, then a scalar tail (the same bits per element). */
function softcap_row(y: usize, n: i32, a: f32, c: f32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(a), vc = f32x4.splat(c);
    const n4 = n & ~3;
    for (; j < n4; j += 4) {
      const p = y + (<usize>j << 2);
      v128.store(p, f32x4.mul(vtanh(f32x4.mul(v128.load(p), va)), vc));
    }
  }
  for (; j < n; j++) {
    const p = y + (<usize>j << 2);
    store<f32>(p, tanhf(load<f32>(p) * a) * c);
  }
}

/**
 * y[j] += mslope·|d0 − j| for j < n (the ALiBi bias −m·|p_i − j'| with d0 = p_i − j0 for key j' = j0 + j):
 * the distance converted exactly (|d| < 2²⁴), one multiply, one add; the vector lanes and the scalar
 * tail give the same bits.
 */
function alibi_row(y: usize, n: i32, d0: i32, mslope: f32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const vm = f32x4.splat(mslope), vstep = i32x4.splat(4);
    let vd = i32x4.sub(i32x4.splat(d0), i32x4(0, 1, 2, 3));
    const n4 = n & ~3;
    for (; j < n4; j += 4) {
      const p = y + (<usize>j << 2);
      v128.store(p, f32x4.add(v128.load(p), f32x4.mul(vm, f32x4.convert_i32x4_s(i32x4.abs(vd)))));
      vd = i32x4.sub(vd, vstep);
    }
  }
  for (; j < n; j++) {
    const p = y + (<usize>j << 2);
    store<f32>(p, load<f32>(p) + mslope * <f32>abs<i32>(d0 - j));
  }
}

/** Apply one mask descriptor to row i, key columns [j0, j0 + n) held at row[0:n]. */
function apply_mask(row: usize, n: i32, kind: i32, base: usize, rs: i32, cs: i32, i: i32, j0: i32): void {
  if (kind == 3) {
    const src = base + <usize>(i * rs + j0 * cs) * 4;
    if (cs == 0) {
      const a = load<f32>(src);
      let j = 0;
      if (ASC_FEATURE_SIMD) {
        const vadd = f32x4.splat(a);
        const n4 = n & ~3;
        for (; j < n4; j += 4) {
          const p = row + (<usize>j << 2);
          v128.store(p, f32x4.add(v128.load(p), vadd));
        }
      }
      for (; j < n; j++) store<f32>(row + (<usize>j << 2), load<f32>(row + (<usize>j << 2)) + a);
    } else {
      let j = 0;
      if (ASC_FEATURE_SIMD) {
        const n4 = n & ~3;
        for (; j < n4; j += 4) {
          const p = row + (<usize>j << 2);
          v128.store(p, f32x4.add(v128.load(p), v128.load(src + (<usize>j << 2))));
        }
      }
      for (; j < n; j++) {
        const p = row + (<usize>j << 2);
        store<f32>(p, load<f32>(p) + load<f32>(src + (<usize>j << 2)));
      }
    }
    return;
  }
  // Boolean masks: kind 1 drops where the byte is 0, kind 2 drops where it is not 0.
  const src = base + <usize>(i * rs + j0 * cs);
  const dropNonzero = kind == 2;
  for (let j = 0; j < n; j++) {
    const b = load<u8>(src + <usize>(j * cs)) != 0;
    if (b == dropNonzero) store<f32>(row + (<usize>j << 2), -Infinity);
  }
}

function zero_rows(p: usize, ld: i32, i0: i32, n: i32, cols: i32): void {
  for (let r = 0; r < n; r++) memory.fill(p + <usize>((i0 + r) * ld) * 4, 0, <usize>cols << 2);
}

/** The L ≤ DIRECT_L path: no packing (one query row costs about as much as packing K and V). Also decode.ts's, per head. */
export function attention_direct(
  o: usize, ldo: i32, w: usize, ldw: i32,
  q: usize, ldq: i32, k: usize, ldk: i32, v: usize, ldv: i32,
  masks: usize, nmasks: i32, scratch: usize,
  L: i32, S: i32, E: i32, Ev: i32, scale: f32, causal: i32, softcap: f32, slope: f32, wl: i32, wr: i32,
): void {
  const row = scratch;
  const wlo = window_lo(wl, L, S), whi = window_hi(wr, L, S);
  const shift = causal_shift(causal, L, S);
  const qpos = query_offset(causal, L, S);
  for (let i = 0; i < L; i++) {
    // Keys [j0, jrow): the causal horizon and the window (j0 = 0 and jrow as before without one).
    const jrow = min<i32>(causal != 0 ? min<i32>(S, max<i32>(0, i + shift + 1)) : S, max<i32>(0, i + whi + 1));
    const j0 = min<i32>(jrow, max<i32>(0, i + wlo));
    const n = jrow - j0;
    const kj = k + <usize>(j0 * ldk) * 4, vj = v + <usize>(j0 * ldv) * 4;
    const qi = q + <usize>(i * ldq) * 4;
    scores(row, qi, kj, ldk, E, n);
    const sum = row_numerators(row, i, n, n, masks, nmasks, scale, softcap, slope, i + qpos, j0);
    const rinv: f32 = sum == 0 ? 0 : 1 / sum;
    const oi = o + <usize>(i * ldo) * 4;
    weighted(oi, vj, ldv, row, n, Ev);
    // As in the blocked path: a non-finite row is recomputed over the keys of weight ≠ 0 only, so a
    // value row that a mask removed is never read into the result.
    if (!row_finite(oi, Ev)) weighted_exact(oi, vj, ldv, row, n, Ev);
    scale_row(oi, Ev, rinv);
    if (w != 0) {
      const wi = w + <usize>(i * ldw) * 4;
      if (j0 > 0) memory.fill(wi, 0, <usize>j0 << 2);
      if (n > 0) {
        memory.copy(wi + (<usize>j0 << 2), row, <usize>n << 2);
        scale_row(wi + (<usize>j0 << 2), n, rinv);
      }
      if (jrow < S) memory.fill(wi + (<usize>jrow << 2), 0, <usize>(S - jrow) << 2);
    }
  }
}

/**
 * row[j] = q · K[j, :] for j < n (K rows ld elements apart). Keys below n & ~3: three at a time, each
 * hsum(acc0 + acc1) + the scalar tail from E & ~7; the rest: `dot` (attention.ts's two orders).
 */
function scores(row: usize, q: usize, k: usize, ldk: i32, E: i32, n: i32): void {
  let j = 0;
  const ld = <usize>ldk * 4;
  if (ASC_FEATURE_SIMD) {
    const n4 = n & ~3, e8 = E & ~7;
    for (; j + 3 <= n4; j += 3) {
      const k0 = k + <usize>j * ld, k1 = k0 + ld, k2 = k1 + ld;
      let va0 = f32x4.splat(0), va1 = va0, vb0 = va0, vb1 = va0, vc0 = va0, vc1 = va0;
      for (let e = 0; e < e8; e += 8) {
        const off = <usize>e << 2;
        const vq0 = v128.load(q + off), vq1 = v128.load(q + off, 16);
        va0 = vmadd(vq0, v128.load(k0 + off), va0); va1 = vmadd(vq1, v128.load(k0 + off, 16), va1);
        vb0 = vmadd(vq0, v128.load(k1 + off), vb0); vb1 = vmadd(vq1, v128.load(k1 + off, 16), vb1);
        vc0 = vmadd(vq0, v128.load(k2 + off), vc0); vc1 = vmadd(vq1, v128.load(k2 + off, 16), vc1);
      }
      const dst = row + (<usize>j << 2);
      store<f32>(dst, hsum(f32x4.add(va0, va1)) + dot_tail(q, k0, e8, E));
      store<f32>(dst, hsum(f32x4.add(vb0, vb1)) + dot_tail(q, k1, e8, E), 4);
      store<f32>(dst, hsum(f32x4.add(vc0, vc1)) + dot_tail(q, k2, e8, E), 8);
    }
    for (; j < n4; j++) {
      const k0 = k + <usize>j * ld;
      let va0 = f32x4.splat(0), va1 = va0;
      for (let e = 0; e < e8; e += 8) {
        const off = <usize>e << 2;
        va0 = vmadd(v128.load(q + off), v128.load(k0 + off), va0);
        va1 = vmadd(v128.load(q + off, 16), v128.load(k0 + off, 16), va1);
      }
      store<f32>(row + (<usize>j << 2), hsum(f32x4.add(va0, va1)) + dot_tail(q, k0, e8, E));
    }
  }
  for (; j < n; j++) store<f32>(row + (<usize>j << 2), dot(q, k + <usize>j * ld, E));
}

/** Σ x[e]·y[e] for e in [from, n), in order. */
// @ts-ignore: decorator
@inline function dot_tail(x: usize, y: usize, from: i32, n: i32): f32 {
  let s: f32 = 0;
  for (let e = from; e < n; e++) s += load<f32>(x + (<usize>e << 2)) * load<f32>(y + (<usize>e << 2));
  return s;
}

/** dot(x[0:n], y[0:n]): two f32x4 accumulators over 8s, one more 4 into the first, (acc0 + acc1) → hsum, then a scalar tail. */
// @ts-ignore: decorator
@inline function dot(x: usize, y: usize, n: i32): f32 {
  let s: f32 = 0;
  let e = 0;
  if (ASC_FEATURE_SIMD) {
    let vacc0 = f32x4.splat(0), vacc1 = vacc0;
    const n8 = n & ~7;
    for (; e < n8; e += 8) {
      const px = x + (<usize>e << 2), py = y + (<usize>e << 2);
      vacc0 = vmadd(v128.load(px), v128.load(py), vacc0);
      vacc1 = vmadd(v128.load(px, 16), v128.load(py, 16), vacc1);
    }
    if (e + 4 <= n) {
      vacc0 = vmadd(v128.load(x + (<usize>e << 2)), v128.load(y + (<usize>e << 2)), vacc0);
      e += 4;
    }
    s = hsum(f32x4.add(vacc0, vacc1));
  }
  for (; e < n; e++) s += load<f32>(x + (<usize>e << 2)) * load<f32>(y + (<usize>e << 2));
  return s;
}

// @ts-ignore: decorator
@inline const ROWS: i32 = 128;   // V rows per block: every column group reads the block from L1

/**
 * out[0:Ev] = Σ_{j<n} p[j] · V[j, :] (V rows ld elements apart), each column summed in j order.
 * Blocks of ROWS rows; per block, 16 columns at a time (4 accumulators, two rows per step), then 4
 * columns at a time, then scalar columns; the running sums live in `out` between blocks.
 */
function weighted(out: usize, v: usize, ldv: i32, p: usize, n: i32, Ev: i32): void {
  memory.fill(out, 0, <usize>Ev << 2);
  const ld = <usize>ldv * 4;
  const c16 = Ev & ~15, c4 = Ev & ~3;
  for (let j0 = 0; j0 < n; j0 += ROWS) {
    const jn = min<i32>(n, j0 + ROWS);
    const vb = v + <usize>j0 * ld;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c < c16; c += 16) {
        const y = out + (<usize>c << 2);
        let v0 = v128.load(y), v1 = v128.load(y, 16), v2 = v128.load(y, 32), v3 = v128.load(y, 48);
        let r = vb + (<usize>c << 2), j = j0;
        for (; j + 2 <= jn; j += 2) {
          const pp = p + (<usize>j << 2);
          const pa = v128.load32_splat(pp), pb = v128.load32_splat(pp, 4);
          const r1 = r + ld;
          v0 = vmadd(pa, v128.load(r), v0); v1 = vmadd(pa, v128.load(r, 16), v1);
          v2 = vmadd(pa, v128.load(r, 32), v2); v3 = vmadd(pa, v128.load(r, 48), v3);
          v0 = vmadd(pb, v128.load(r1), v0); v1 = vmadd(pb, v128.load(r1, 16), v1);
          v2 = vmadd(pb, v128.load(r1, 32), v2); v3 = vmadd(pb, v128.load(r1, 48), v3);
          r += 2 * ld;
        }
        if (j < jn) {
          const pa = v128.load32_splat(p + (<usize>j << 2));
          v0 = vmadd(pa, v128.load(r), v0); v1 = vmadd(pa, v128.load(r, 16), v1);
          v2 = vmadd(pa, v128.load(r, 32), v2); v3 = vmadd(pa, v128.load(r, 48), v3);
        }
        v128.store(y, v0); v128.store(y, v1, 16); v128.store(y, v2, 32); v128.store(y, v3, 48);
      }
      for (; c < c4; c += 4) {
        const y = out + (<usize>c << 2);
        let v0 = v128.load(y);
        let r = vb + (<usize>c << 2);
        for (let j = j0; j < jn; j++) {
          v0 = vmadd(v128.load32_splat(p + (<usize>j << 2)), v128.load(r), v0);
          r += ld;
        }
        v128.store(y, v0);
      }
    }
    for (; c < Ev; c++) {
      const y = out + (<usize>c << 2);
      let s = load<f32>(y);
      let r = vb + (<usize>c << 2);
      for (let j = j0; j < jn; j++) {
        s = s + load<f32>(p + (<usize>j << 2)) * load<f32>(r);
        r += ld;
      }
      store<f32>(y, s);
    }
  }
}

/** Copies rows [0, n) × cols [0, cols) of p (row stride ld elements) to dst (row stride cols). */
function save_rows(dst: usize, p: usize, ld: i32, n: i32, cols: i32): void {
  for (let r = 0; r < n; r++) memory.copy(dst + <usize>(r * cols) * 4, p + <usize>(r * ld) * 4, <usize>cols << 2);
}

/** Whether x[0:n] holds no NaN and no ±Infinity (x − x is 0 exactly for finite x, NaN otherwise). */
function row_finite(x: usize, n: i32): bool {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    const n4 = n & ~3;
    for (; j < n4; j += 4) {
      const a = v128.load(x + (<usize>j << 2));
      acc = f32x4.add(acc, f32x4.sub(a, a));
    }
    if (!i32x4.all_true(f32x4.eq(acc, acc))) return false;
  }
  for (; j < n; j++) {
    const a = load<f32>(x + (<usize>j << 2));
    if (a - a != 0) return false;
  }
  return true;
}

/** acc + a·b with the bits of one lane of `vmadd` (relaxed: fused or not, as the engine's madd is). */
// @ts-ignore: decorator
@inline function madd_lane(a: f32, b: f32, acc: f32): f32 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.extract_lane(vmadd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(acc)), 0);
  return acc + a * b;
}

/**
 * o[0:Ev] = (prev ? prev[0:Ev] + s : s), s[c] = Σ_{j<n, p[j] ≠ 0} p[j]·V[j, c] in j order (V rows ldv
 * elements apart): one row of a P·V tile (`tile`: products summed in k order, then added to C) that
 * skips the keys of weight 0, so their value rows are not read.
 */
function pv_row_exact(o: usize, prev: usize, p: usize, v: usize, ldv: i32, n: i32, Ev: i32): void {
  for (let c = 0; c < Ev; c++) {
    let s: f32 = 0;
    let r = v + (<usize>c << 2);
    for (let j = 0; j < n; j++) {
      const pj = load<f32>(p + (<usize>j << 2));
      if (pj != 0) s = ASC_FEATURE_SIMD ? madd_lane(pj, load<f32>(r), s) : s + pj * load<f32>(r);
      r += <usize>ldv * 4;
    }
    store<f32>(o + (<usize>c << 2), prev != 0 ? load<f32>(prev + (<usize>c << 2)) + s : s);
  }
}

/** `weighted` over the keys of weight ≠ 0 only, with its per-column operations (SIMD lanes for the columns below Ev & ~3). */
function weighted_exact(out: usize, v: usize, ldv: i32, p: usize, n: i32, Ev: i32): void {
  const c4 = ASC_FEATURE_SIMD ? Ev & ~3 : 0;
  for (let c = 0; c < Ev; c++) {
    let s: f32 = 0;
    let r = v + (<usize>c << 2);
    for (let j = 0; j < n; j++) {
      const pj = load<f32>(p + (<usize>j << 2));
      if (pj != 0) s = c < c4 ? madd_lane(pj, load<f32>(r), s) : s + pj * load<f32>(r);
      r += <usize>ldv * 4;
    }
    store<f32>(out + (<usize>c << 2), s);
  }
}
