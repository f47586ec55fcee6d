// Masks as the attention kernel reads them: descriptors of 4 × i32 (kind, address, row stride,
// column stride), one set per (batch, head) slice, written once per call into WASM memory; and the
// kernel's causal kind.
import type { Frame } from "./memory.js";
import { type CausalAlignment, type Mask, batchOffset, broadcastStrides } from "./validate.js";
import type { Runtime } from "./wasm.js";
import { put } from "./call.js";

/** Kernel mask kinds (assembly/attention.ts). */
export const KEEP_NONZERO = 1;   // boolean attention mask: 1 = may attend
export const DROP_NONZERO = 2;   // key padding mask: 1 = padding
export const ADDITIVE = 3;       // float mask added to the scores

/**
 * Kernel causal kinds (assembly/attention.ts's `causal` argument): query row i of L sees key j of S iff
 * j ≤ i + (S − L) (bottom-right), or j ≤ i (top-left).
 */
export const CAUSAL_NONE = 0;
export const CAUSAL_BOTTOM_RIGHT = 1;
export const CAUSAL_TOP_LEFT = 2;

/**
 * The kernel's causal kind for an alignment. `cached`: the L queries follow S − L cached positions
 * (a KV cache), so query i is position S − L + i of the sequence, and "top-left" counted from the
 * sequence's start (position 0) is j ≤ S − L + i: the bottom-right kind. ONNX Attention with
 * past_key aligns the same way.
 */
export function causalKind(alignment: CausalAlignment | null, cached = false): number {
  if (alignment === null) return CAUSAL_NONE;
  return alignment === "top-left" && !cached ? CAUSAL_TOP_LEFT : CAUSAL_BOTTOM_RIGHT;
}

export interface MaskPlan {
  kind: number;
  data: Uint8Array | Float32Array;
  /** strides (elements) over `target`'s leading axes, then the row (L) and column (S) strides */
  batchStrides: number[];
  rs: number;
  cs: number;
}

/** Plans a mask broadcast to `target` = [...lead, L, S]; the kind follows the data type unless given. */
export function planMask(mask: Mask, target: readonly number[], kind?: number): MaskPlan {
  const s = broadcastStrides(mask.shape, target);
  const n = target.length;
  return {
    kind: kind ?? (mask.data instanceof Float32Array ? ADDITIVE : KEEP_NONZERO),
    data: mask.data,
    batchStrides: s.slice(0, n - 2),
    rs: s[n - 2],
    cs: s[n - 1],
  };
}

/**
 * Copies the masks' data in and writes descriptors for every slice of `lead` (flat index i at
 * address + i · 16 · plans.length). Returns the descriptor block's address (0 when no masks).
 */
export function writeMasks(rt: Runtime, f: Frame, plans: MaskPlan[], lead: readonly number[]): number {
  if (plans.length === 0) return 0;
  const ptrs = plans.map((p) => put(rt, f, p.data));
  const nb = lead.reduce((a, b) => a * b, 1);
  const desc = f.alloc(nb * plans.length * 16);
  const d = rt.heap.i32(desc, nb * plans.length * 4);
  for (let i = 0; i < nb; i++) {
    for (let m = 0; m < plans.length; m++) {
      const p = plans[m];
      const at = (i * plans.length + m) * 4;
      d[at] = p.kind;
      d[at + 1] = ptrs[m] + batchOffset(i, lead, p.batchStrides) * p.data.BYTES_PER_ELEMENT;
      d[at + 2] = p.rs;
      d[at + 3] = p.cs;
    }
  }
  return desc;
}

/** Bytes writeMasks allocates (for the up-front size check). */
export function masksBytes(plans: MaskPlan[], nb: number): number {
  return plans.reduce((a, p) => a + p.data.byteLength + 64, 0) + nb * plans.length * 16;
}
