// Block-sparse attention layouts: the `blockSparse: { blockSize, layout }` option of
// scaledDotProductAttention (checked into a kernel mask plan: kind 4 with the block size, assembly/sparse.ts)
// and sparseLayout(), which builds the common layouts (BigBird / Longformer: a local window of blocks,
// global blocks, random blocks; optionally causal).
//   layout { data: Uint8Array, shape: [..., ⌈L/b⌉, ⌈S/b⌉] }: 1 = compute the b×b block of queries
//   [r·b, r·b + b) × keys [c·b, c·b + b) (the last block row/column may be partial), 0 = skip it.
import { type MaskPlan, planMask } from "./masks.js";
import { mulberry32 } from "./random.js";
import { type Mask, checkInt, checkMask, checkOptions, checkBool, fmtShape, rangeError, typeError } from "./validate.js";

/** The blockSparse option: compute only the kept blockSize × blockSize blocks of the scores. */
export interface BlockSparse {
  /** b: queries and keys per block, an integer ≥ 1. */
  blockSize: number;
  /** Uint8Array data, shape [..., ⌈L/b⌉, ⌈S/b⌉] (leading dims broadcast over the batch): 1 = compute the block, 0 = skip it. */
  layout: Mask;
}

/** The kernel's mask kind of a block layout (assembly/sparse.ts's MASK_BLOCKS, the block size above 4 bits). */
const MASK_BLOCKS = 4;
/** The largest block size the kernel's descriptor holds (kind = 4 | b << 4 in an i32). */
const MAX_BLOCK = 2 ** 27 - 1;

/**
 * Checks a blockSparse option for queries [...batch, L, ·] and S keys. Returns the kernel mask plan and
 * the block size, or null when absent or when the layout keeps every block (then it changes nothing:
 * no plan, the bits of no layout).
 */
export function checkBlockSparse(fn: string, arg: string, v: unknown, batch: readonly number[], L: number, S: number): { plan: MaskPlan; blockSize: number } | null {
  if (v === undefined) return null;
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw typeError(fn, arg, "an object { blockSize, layout }", v);
  const o = checkOptions<BlockSparse>(fn, v, ["blockSize", "layout"]);
  if (o.blockSize === undefined) throw typeError(fn, `${arg}.blockSize`, "a number (queries and keys per block)", undefined);
  const b = checkInt(fn, `${arg}.blockSize`, o.blockSize, 1);
  if (b > MAX_BLOCK) throw rangeError(fn, `${arg}.blockSize`, `be at most ${MAX_BLOCK}`, b);
  const lay = o.layout as { data?: unknown } | undefined;
  if (typeof lay !== "object" || lay === null) throw typeError(fn, `${arg}.layout`, "a layout { data: Uint8Array, shape: [..., ⌈L/b⌉, ⌈S/b⌉] }", lay);
  if (!(lay.data instanceof Uint8Array)) throw typeError(fn, `${arg}.layout.data`, "a Uint8Array (1 = compute the block, 0 = skip it)", lay.data);
  const nbr = Math.ceil(L / b), nbc = Math.ceil(S / b);
  const target = [...batch, nbr, nbc];
  const m = checkMask(fn, `${arg}.layout`, lay, target, `[...batch, ⌈L/b⌉, ⌈S/b⌉] (b = ${b})`, "1 = compute the block");
  // the last two dims must be the block grid itself (a layout broadcast over rows or columns would mean nothing per block)
  const s = m.shape;
  if (s.length < 2 || s[s.length - 2] !== nbr || s[s.length - 1] !== nbc) {
    throw rangeError(fn, `${arg}.layout.shape`, `end in [⌈L/b⌉, ⌈S/b⌉] = [${nbr}, ${nbc}] (L = ${L}, S = ${S}, b = ${b})`, fmtShape(s));
  }
  if ((m.data as Uint8Array).every((x) => x !== 0)) return null;
  return { plan: planMask(m, target, MASK_BLOCKS | (b << 4)), blockSize: b };
}

export interface SparseLayoutOptions {
  /** L: queries. */
  queryLength: number;
  /** S: keys. */
  keyLength: number;
  /** b: queries and keys per block. */
  blockSize: number;
  /** Local window: key blocks within this many blocks of the query block's diagonal (bottom-right aligned); default 0 (the diagonal block only). */
  window?: number;
  /** Global blocks: the first g key blocks are seen by every query block, and the first g query blocks see every key block; default 0. */
  globalBlocks?: number;
  /** Random key blocks per query block (BigBird's), drawn once from `seed`; default 0. */
  randomBlocks?: number;
  /** Seed of the random blocks; default 0. */
  seed?: number;
  /** Keep no block that lies wholly in the future (bottom-right aligned, as `causal: true`); default false. */
  causal?: boolean;
}

const LAYOUT_KEYS = ["queryLength", "keyLength", "blockSize", "window", "globalBlocks", "randomBlocks", "seed", "causal"] as const;

/**
 * A block layout [⌈L/b⌉, ⌈S/b⌉] for `blockSparse`: the union of a local window of blocks around the
 * (bottom-right aligned) diagonal, global blocks (rows and columns) and random blocks per block row.
 * With causal, blocks wholly above the causal diagonal are dropped (pass `causal: true` to the attention
 * call too: the blocks the diagonal crosses are masked element by element there).
 * @throws {TypeError} a non-object, an unknown option, non-number sizes, a non-boolean causal
 * @throws {RangeError} sizes < 1 or fractional, negative window, globalBlocks, randomBlocks or seed
 */
export function sparseLayout(options: SparseLayoutOptions): { data: Uint8Array; shape: [number, number] } {
  const fn = "sparseLayout";
  if (typeof options !== "object" || options === null) throw typeError(fn, "options", "an object { queryLength, keyLength, blockSize, … }", options);
  const o = checkOptions<SparseLayoutOptions>(fn, options, LAYOUT_KEYS);
  const L = checkInt(fn, "options.queryLength", o.queryLength, 1);
  const S = checkInt(fn, "options.keyLength", o.keyLength, 1);
  const b = checkInt(fn, "options.blockSize", o.blockSize, 1);
  const win = checkInt(fn, "options.window", o.window, 0, 0);
  const g = checkInt(fn, "options.globalBlocks", o.globalBlocks, 0, 0);
  const nr = checkInt(fn, "options.randomBlocks", o.randomBlocks, 0, 0);
  const seed = checkInt(fn, "options.seed", o.seed, 0, 0);
  const causal = checkBool(fn, "options.causal", o.causal, false);
  const R = Math.ceil(L / b), C = Math.ceil(S / b);
  const data = new Uint8Array(R * C);
  const rand = mulberry32(seed);
  for (let r = 0; r < R; r++) {
    // the key blocks of the first and last positions of this block row (query i at position i + S − L)
    const p0 = r * b + S - L, p1 = Math.min(L, r * b + b) - 1 + S - L;
    const d0 = Math.floor(p0 / b), d1 = Math.floor(p1 / b);
    const last = causal ? Math.min(C - 1, d1) : C - 1;   // the last key block a causal row may reach
    if (last < 0) continue;                                // every query of the block row is before every key
    const keep = (c: number) => { if (c >= 0 && c <= last) data[r * C + c] = 1; };
    for (let c = d0 - win; c <= d1 + win; c++) keep(c);
    for (let c = 0; c < Math.min(g, C); c++) keep(c);
    if (r < g) for (let c = 0; c <= last; c++) keep(c);
    // random blocks among those not yet kept
    const free: number[] = [];
    for (let c = 0; c <= last; c++) if (!data[r * C + c]) free.push(c);
    for (let n = 0; n < nr && free.length > 0; n++) keep(free.splice(Math.floor(rand() * free.length), 1)[0]);
  }
  return { data, shape: [R, C] };
}
