// The kernels' calls of one public call, as jobs of tasks that any number of threads can share.
//
// Every split here is at a boundary the kernels already have, so the bits do not depend on it: GEMM
// rows at multiples of the micro-tile's MR rows (each output element is summed over the same KC
// blocks in the same order whichever rows share its call), GEMV columns at multiples of NR, attention
// rows at multiples of the kernel's BM-row blocks, decode heads at whole K/V groups, softmax rows.
// Without a pool (one thread) each job runs on the calling thread, in larger pieces.
import type { Kernels } from "./abi.js";
import { KERNEL_NAMES } from "./abi.js";
import type { Frame } from "./memory.js";
import { MAX_TASKS, TASK_STRIDE, type Pool } from "./pool.js";
import type { Runtime } from "./wasm.js";

/**
 * A job smaller than `minWork` (flops, or element visits) stays on the calling thread: waking the
 * workers costs ~20–40 µs. Not API (the package does not export it); the tests set it to 0 to send
 * small shapes through the workers.
 */
export const tuning = { minWork: 8e6 };
/** Tasks per thread a job aims for, so uneven tasks (causal rows) balance. */
const TASKS_PER_THREAD = 4;

const align64 = (n: number): number => Math.ceil(n / 64) * 64;

/** The pool to use for a job of `work` units split `pieces` ways, or null (this thread alone). */
function poolFor(rt: Runtime, work: number, pieces: number): Pool | null {
  const pool = rt.pool;
  return pool && pool.threads > 1 && pieces > 1 && work >= tuning.minWork ? pool : null;
}

/** Threads a job of this size would run on (for sizing its pieces). */
export function threadsFor(rt: Runtime, work: number): number {
  const pool = rt.pool;
  return pool && work >= tuning.minWork ? pool.threads : 1;
}

/**
 * Runs `tasks` (argument lists of kernel `name`) on the pool or this thread. `scratchArg` ≥ 0 names
 * the argument that gets the running thread's scratch block of `scratchBytes`.
 */
export function runJob(rt: Runtime, f: Frame, name: keyof Kernels, tasks: number[][], work: number,
  scratchArg = -1, scratchBytes = 0): void {
  if (tasks.length === 0) return;
  const kernel = rt.kernels[name] as (...a: number[]) => void;
  const pool = poolFor(rt, work, tasks.length);
  if (!pool) {
    const s = scratchArg >= 0 ? f.alloc(Math.max(scratchBytes, 16)) : 0;
    for (const t of tasks) {
      if (scratchArg >= 0) t[scratchArg] = s;
      kernel(...t);
    }
    return;
  }
  const stride = align64(Math.max(scratchBytes, 16));
  const scratch = scratchArg >= 0 ? f.alloc(stride * pool.threads) : 0;
  const fn = KERNEL_NAMES.indexOf(name);
  const run = (args: number[]): void => { kernel(...args); };
  for (let at = 0; at < tasks.length; at += MAX_TASKS) {
    const part = tasks.length <= MAX_TASKS ? tasks : tasks.slice(at, at + MAX_TASKS);
    const table = f.alloc(part.length * TASK_STRIDE * 8);
    pool.run({ fn, tasks: part, scratchArg, scratch, scratchStride: stride, table }, run);
  }
}

/** Pieces of [0, n) for `threads` threads: multiples of `unit` (the last may be shorter), about TASKS_PER_THREAD per thread. */
export function pieces(n: number, unit: number, threads: number): [number, number][] {
  const want = threads > 1 ? threads * TASKS_PER_THREAD : 1;
  const step = Math.max(unit, Math.ceil(n / want / unit) * unit);
  const out: [number, number][] = [];
  for (let a = 0; a < n; a += step) out.push([a, Math.min(n, a + step)]);
  return out;
}

/** Activation codes of gemm_packed_act_f32 (assembly/activation.ts). */
export const ACTIVATIONS = { relu: 1, gelu: 2, "gelu-tanh": 3 } as const;

/**
 * One GEMM C[M×N] = act(A[M×K]·B + bias) on B packed over depth K (a resident weight, or packed for
 * the call). `act` (ACTIVATIONS; 0 or absent: none) is applied in the GEMM's store, as is the bias.
 */
export interface Gemm {
  c: number; ldc: number;
  a: number; aRs: number; aCs: number;
  pb: number; bias: number;
  M: number; K: number; N: number;
  act?: number;
}

/**
 * Runs GEMMs on packed B, split by rows (MR multiples); a single row is a GEMV, split by columns
 * (NR multiples) when it is large enough to share. GEMMs with an activation take
 * gemm_packed_act_f32 (rows and column pieces alike: with M = 1 it runs the same GEMV).
 */
export function gemms(rt: Runtime, f: Frame, list: Gemm[]): void {
  const k = rt.kernels;
  const MR = k.gemm_tile_rows(), NR = 8;
  let work = 0, scratch = 0;
  for (const g of list) {
    work += 2 * g.M * g.K * g.N;
    if (g.M > 1) scratch = Math.max(scratch, k.matmul_scratch_bytes(g.M, g.K, 0));
  }
  const T = threadsFor(rt, work);
  const rows: number[][] = [], cols: number[][] = [], acts: number[][] = [];
  for (const g of list) {
    const act = g.act ?? 0;
    if (g.M === 1 && g.aCs === 1) {
      for (const [n0, n1] of pieces(g.N, NR, T)) {
        const bias = g.bias === 0 ? 0 : g.bias + n0 * 4;
        if (act === 0) cols.push([g.c + n0 * 4, g.a, g.pb + n0 * g.K * 4, bias, g.K, n1 - n0]);
        else acts.push([g.c + n0 * 4, n1 - n0, g.a, g.aRs, 1, g.pb + n0 * g.K * 4, bias, 0, 1, g.K, n1 - n0, act]);
      }
    } else {
      for (const [m0, m1] of pieces(g.M, MR, T)) {
        const t = [g.c + m0 * g.ldc * 4, g.ldc, g.a + m0 * g.aRs * 4, g.aRs, g.aCs, g.pb, g.bias, 0, m1 - m0, g.K, g.N];
        if (act === 0) rows.push(t);
        else acts.push([...t, act]);
      }
    }
  }
  runJob(rt, f, "gemm_packed_f32", rows, work, 7, scratch);
  runJob(rt, f, "gemv_packed_f32", cols, work);
  runJob(rt, f, "gemm_packed_act_f32", acts, work, 7, scratch);
}

/** Packs B[K×N] (element strides rs, cs) for gemms(), split by column panels; returns its address (in f). */
export function packB(rt: Runtime, f: Frame, list: { b: number; rs: number; cs: number; K: number; N: number }[]): number[] {
  const k = rt.kernels;
  let work = 0;
  const out = list.map((x) => { work += x.K * x.N; return f.alloc(k.packed_b_bytes(x.K, x.N)); });
  const T = threadsFor(rt, work * 4);
  const tasks: number[][] = [];
  list.forEach((x, i) => {
    for (const [n0, n1] of pieces(x.N, 8, T)) tasks.push([out[i] + n0 * x.K * 4, x.b + n0 * x.cs * 4, x.rs, x.cs, x.K, n1 - n0]);
  });
  runJob(rt, f, "pack_b_f32", tasks, work * 4);
  return out;
}

/** One (batch, head) slice of attention: pointers and row strides as attention_f32 takes them. */
export interface Head {
  o: number; ldo: number; w: number; ldw: number;
  q: number; ldq: number; k: number; ldk: number; v: number; ldv: number;
  masks: number; nmasks: number;
  /** ALiBi slope of this head (0: no bias). */
  slope: number;
  /** Heads with the same key share K and V (grouped-query attention): packed once. */
  kv: number;
}

/** Bytes attention() will allocate for these heads (for the up-front size check). */
export function attentionBytes(rt: Runtime, heads: number, kvs: number, L: number, S: number, E: number, Ev: number, sparseBlock = 0): number {
  const k = rt.kernels;
  const work = 2 * heads * L * S * (E + Ev);
  const T = threadsFor(rt, work);
  if (L <= k.attention_direct_rows()) return T * (k.attention_scratch_bytes(L, S, E, Ev) + 64);
  const packed = align64(k.attention_packed_bytes(S, E, Ev));
  const block = sparseBlock > 0 ? k.attention_sparse_scratch_bytes(S, E, Ev, sparseBlock) : k.attention_block_scratch_bytes(S, E, Ev);
  return (T > 1 ? kvs : 1) * packed + T * (align64(block) + 64) + 8 * 64;
}

/**
 * A sliding window as the kernels take it: wl = left + 1, wr = right + 1, 0 for an unbounded side
 * (query i at p = i + S − L sees keys p − left ≤ j ≤ p + right). NO_WINDOW: [0, 0].
 */
export type KernelWindow = readonly [wl: number, wr: number];
export const NO_WINDOW: KernelWindow = [0, 0];

/** Keys a query row attends to at most (for work estimates): S, or the window's width. */
function rowKeys(S: number, causal: number, win: KernelWindow): number {
  const [wl, wr] = win;
  if (wl === 0 && wr === 0) return causal ? S / 2 : S;
  return Math.min(causal ? S / 2 : S, (wl > 0 ? wl : S) + (wr > 0 ? wr - 1 : S));
}

/**
 * softmax(cap(Q·Kᵀ·scale) + ALiBi bias + masks)·V for every head, shared by the threads (whole row
 * blocks per task); softcap 0: none, a head's slope 0: no bias; win: a sliding window (NO_WINDOW: none);
 * sparseBlock: the block size of a block-sparse layout among the heads' masks (0: none; sizes the scratch).
 */
export function attention(rt: Runtime, f: Frame, heads: Head[], L: number, S: number, E: number, Ev: number, scale: number, causal: number,
  softcap = 0, win: KernelWindow = NO_WINDOW, sparseBlock = 0): void {
  const k = rt.kernels;
  const [wl, wr] = win;
  const work = 2 * heads.length * L * rowKeys(S, causal, win) * (E + Ev);
  if (L <= k.attention_direct_rows()) {
    const tasks = heads.map((h) => [h.o, h.ldo, h.w, h.ldw, h.q, h.ldq, h.k, h.ldk, h.v, h.ldv, h.masks, h.nmasks, 0, L, S, E, Ev, scale, causal,
      softcap, h.slope, wl, wr]);
    runJob(rt, f, "attention_f32", tasks, work, 12, k.attention_scratch_bytes(L, S, E, Ev));
    return;
  }
  if (causal === 2 && L < S && wl === 0 && wr === 0 && sparseBlock === 0) {
    // Top-left with L < S: no row sees a key j ≥ L, so attend over the first L keys (the same blocks,
    // tiles and bits) and never pack the rest; the weights' columns [L, S) are zeros.
    attention(rt, f, heads, L, L, E, Ev, scale, causal, softcap);
    for (const h of heads) if (h.w !== 0) for (let i = 0; i < L; i++) rt.heap.f32(h.w + (i * h.ldw + L) * 4, S - L).fill(0);
    return;
  }
  const T = threadsFor(rt, work);
  const packedBytes = k.attention_packed_bytes(S, E, Ev);
  const blockBytes = sparseBlock > 0 ? k.attention_sparse_scratch_bytes(S, E, Ev, sparseBlock) : k.attention_block_scratch_bytes(S, E, Ev);
  const BM = k.attention_block_rows();
  const rowTasks = (h: Head, pk: number, r0: number, r1: number): number[] =>
    [h.o, h.ldo, h.w, h.ldw, h.q, h.ldq, pk, h.v, h.ldv, h.masks, h.nmasks, 0, L, S, E, Ev, scale, causal, softcap, h.slope, r0, r1, wl, wr];
  if (T === 1) {
    // One thread: pack each K/V group once into one buffer, then its heads' rows.
    const pk = f.alloc(packedBytes), s = f.alloc(blockBytes);
    let last = NaN;
    for (const h of heads) {
      if (h.kv !== last) { k.attention_pack_f32(pk, h.k, h.ldk, h.v, h.ldv, S, E, Ev); last = h.kv; }
      const t = rowTasks(h, pk, 0, L);
      t[11] = s;
      k.attention_rows_f32(...(t as Parameters<Kernels["attention_rows_f32"]>));
    }
    return;
  }
  // Threads: pack every K/V group (one task each), then rows; causal tasks with the most keys first.
  const packs = new Map<number, number>();
  const packTasks: number[][] = [];
  for (const h of heads) {
    if (packs.has(h.kv)) continue;
    const pk = f.alloc(packedBytes);
    packs.set(h.kv, pk);
    packTasks.push([pk, h.k, h.ldk, h.v, h.ldv, S, E, Ev]);
  }
  // Packing is a copy: shared only when there is much of it (long S, many heads).
  runJob(rt, f, "attention_pack_f32", packTasks, 4 * packTasks.length * S * (E + Ev));
  const ranges = pieces(L, BM, Math.max(1, Math.ceil(T / heads.length)));
  if (causal) ranges.reverse();
  const tasks: number[][] = [];
  for (const [r0, r1] of ranges) for (const h of heads) tasks.push(rowTasks(h, packs.get(h.kv)!, r0, r1));
  runJob(rt, f, "attention_rows_f32", tasks, work, 11, blockBytes);
}

/**
 * decode_attention_f32 over B rows of H heads, split by whole K/V groups. softcap 0: none; slopes: the
 * address of H f32 ALiBi slopes (one per head, the same for every row), 0: none; win: a sliding window.
 */
export function decode(rt: Runtime, f: Frame, B: number, args: { o: number; q: number; k: number; v: number; hs: number; ld: number; kvB: number },
  H: number, group: number, S: number, D: number, scale: number, softcap = 0, slopes = 0, win: KernelWindow = NO_WINDOW): void {
  const k = rt.kernels;
  const work = 4 * B * H * rowKeys(S, 0, win) * D;
  const T = threadsFor(rt, work);
  const tasks: number[][] = [];
  for (let b = 0; b < B; b++) {
    for (const [g0, g1] of pieces(H / group, 1, Math.max(1, Math.ceil(T / B)))) {
      const h0 = g0 * group;
      tasks.push([args.o + (b * H + h0) * D * 4, args.q + (b * H + h0) * D * 4, args.k + b * args.kvB + g0 * args.hs * 4,
        args.v + b * args.kvB + g0 * args.hs * 4, args.hs, args.ld, 0, (g1 - g0) * group, group, S, D, scale,
        softcap, slopes === 0 ? 0 : slopes + h0 * 4, win[0], win[1]]);
    }
  }
  runJob(rt, f, "decode_attention_f32", tasks, work, 6, k.decode_scratch_bytes(S));
}

/** LayerNorm (layer_norm_f32) of `rows` rows of E floats at x into y (y == x allowed), split by rows. weight, bias: 0 for none. */
export function layerNormRows(rt: Runtime, f: Frame, y: number, x: number, weight: number, bias: number, rows: number, E: number, eps: number): void {
  const work = 8 * rows * E;
  const tasks = pieces(rows, 1, threadsFor(rt, work)).map(([r0, r1]) => [y + r0 * E * 4, x + r0 * E * 4, weight, bias, r1 - r0, E, eps]);
  runJob(rt, f, "layer_norm_f32", tasks, work);
}

/** y = a + b over n floats, split into pieces of whole vectors (y may be a or b). */
export function addRows(rt: Runtime, f: Frame, y: number, a: number, b: number, n: number): void {
  const tasks = pieces(n, 64, threadsFor(rt, n)).map(([i0, i1]) => [y + i0 * 4, a + i0 * 4, b + i0 * 4, i1 - i0]);
  runJob(rt, f, "add_f32", tasks, n);
}

/** s = x + r (kept at `sum` unless 0) and y = LayerNorm(s), over `rows` rows of E, split by rows. */
export function addLayerNormRows(rt: Runtime, f: Frame, y: number, sum: number, x: number, r: number, weight: number, bias: number,
  rows: number, E: number, eps: number): void {
  const work = 9 * rows * E;
  const at = (p: number, r0: number): number => (p === 0 ? 0 : p + r0 * E * 4);
  const tasks = pieces(rows, 1, threadsFor(rt, work)).map(([r0, r1]) => [at(y, r0), at(sum, r0), at(x, r0), at(r, r0), weight, bias, r1 - r0, E, eps]);
  runJob(rt, f, "add_layer_norm_f32", tasks, work);
}

/** softmax over rows of `cols`, in place at p, split by rows. */
export function softmaxRows(rt: Runtime, f: Frame, p: number, rows: number, cols: number): void {
  const work = 8 * rows * cols;
  const tasks = pieces(rows, 1, threadsFor(rt, work)).map(([a, b]) => [p + a * cols * 4, p + a * cols * 4, b - a, cols]);
  runJob(rt, f, "softmax_rows_f32", tasks, work);
}
