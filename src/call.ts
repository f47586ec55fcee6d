// Shared plumbing for one public call: size check up front, a frame of WASM blocks released in a
// finally, copies in and out.
import { Frame, MAX_BYTES, fmtBytes } from "./memory.js";
import { type Runtime, checkPool } from "./wasm.js";

/**
 * Refuses a call whose WASM blocks cannot fit in a 4 GiB memory, before anything is allocated.
 * `bytes` is the sum of the block sizes the call will allocate.
 */
export function checkFits(fn: string, bytes: number, what: string): void {
  if (!(bytes <= MAX_BYTES - 1024 * 1024)) {
    throw new RangeError(`${fn}: ${what} need ${fmtBytes(bytes)} of WebAssembly memory, more than the 4 GiB a module can address`);
  }
}

/** Runs `body` with a frame whose blocks are released afterwards, whatever happens. */
export function withFrame<T>(rt: Runtime, fn: string, body: (f: Frame) => T): T {
  checkPool(rt, fn);
  const frame = new Frame(rt.heap, fn);
  try {
    return body(frame);
  } finally {
    frame.done();
  }
}

/** Allocates a block and copies `data` into it (at least 64 bytes, so empty data has an address). */
export function put(rt: Runtime, f: Frame, data: Float32Array | Uint8Array): number {
  const p = f.alloc(Math.max(data.byteLength, 1));
  if (data instanceof Float32Array) rt.heap.f32(p, data.length).set(data);
  else rt.heap.u8(p, data.length).set(data);
  return p;
}
