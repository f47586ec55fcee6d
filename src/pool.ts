// Threads: workers that share the module's WebAssembly.Memory with the calling thread.
//
// A call's work is a job: a list of tasks, each one call of one kernel export with its arguments
// (f64s in a table in WASM memory). The calling thread publishes the job in a small control block
// (a SharedArrayBuffer), wakes the workers, and then claims and runs tasks itself like any worker;
// it returns when every task is done. Tasks are claimed one at a time (an atomic compare-exchange),
// so uneven tasks (causal rows) balance themselves. Which thread runs a task changes nothing in its
// result: a task is a fixed call on fixed memory, and each thread has its own scratch slot, so a
// call gives the same bits for any number of threads.
//
// Workers are made from code this module holds (no worker file for a bundler to find): Node's
// worker_threads with `eval` (Node, Bun, Deno), module Web Workers from a Blob URL (browsers). They
// park on Atomics.wait; a Node worker is unref()ed so it never keeps a process alive.

/** Control block layout (Int32 slots). */
const GEN = 0;        // job generation; workers wait on it
const CLAIM = 1;      // (generation & 0x7fff) << 16 | next task index, or CLOSED between jobs
const DONE = 2;       // tasks finished in this job
const NTASKS = 3;
const TABLE = 4;      // byte address of the task table in WASM memory
const SCRATCH = 5;    // byte address of scratch slot 0
const SSTRIDE = 6;    // bytes between scratch slots
const FN = 7;         // kernel index (into the names list)
const SARG = 8;       // argument index that receives the thread's scratch slot (−1: none)
const NARGS = 9;
const STOP = 10;
const READY = 11;     // workers started
const ERR = 12;       // 1 when a task threw; its message at ERRMSG
const ERRLEN = 13;
const ERRMSG = 16;    // UTF-16 code units, 2 per slot … up to CTL_INTS
const CTL_INTS = 16 + 256;
const CLOSED = -1;

/** f64 slots per task in the table. */
export const TASK_STRIDE = 24;
/** Tasks one job can hold (the claim index has 16 bits). */
export const MAX_TASKS = 0xffff;

/** The worker's whole program: instantiate, report ready, then claim and run tasks until told to stop. */
function workerMain(d: { module: WebAssembly.Module; memory: WebAssembly.Memory; ctl: SharedArrayBuffer; id: number; names: string[]; spin: number }, ready: (m: unknown) => void): void {
  const ctl = new Int32Array(d.ctl);
  const CLAIM_ = 1, DONE_ = 2, NTASKS_ = 3, TABLE_ = 4, SCRATCH_ = 5, SSTRIDE_ = 6, FN_ = 7, SARG_ = 8, NARGS_ = 9, STOP_ = 10, READY_ = 11, ERR_ = 12, ERRLEN_ = 13, ERRMSG_ = 16, MAXMSG = 512;
  let exports: Record<string, (...a: number[]) => unknown>;
  try {
    const str = (p: number): string => {
      const buf = d.memory.buffer;
      if (p < 4 || p >= buf.byteLength) return "";
      const u = new Uint16Array(buf, p, Math.min(new Uint32Array(buf, (p - 4) & ~3, 1)[0], buf.byteLength - p) >>> 1);
      let s = "";
      for (let k = 0; k < u.length; k++) s += String.fromCharCode(u[k]);
      return s;
    };
    const abort = (m: number, f: number, l: number, c: number): never => { throw new Error(`abort: ${str(m)} at ${str(f)}:${l}:${c}`); };
    exports = new WebAssembly.Instance(d.module, { env: { memory: d.memory, abort } }).exports as typeof exports;
  } catch (e) {
    ready({ error: String((e as Error)?.message ?? e) });
    return;
  }
  const fns = d.names.map((n) => exports[n]);
  Atomics.add(ctl, READY_, 1);
  ready({ ok: true });
  let gen = Atomics.load(ctl, 0);
  const args: number[] = [];
  for (;;) {
    // Wait for the next generation: spin briefly (a call's next job usually follows at once), then park.
    let g = Atomics.load(ctl, 0);
    for (let i = 0; g === gen && i < d.spin; i++) g = Atomics.load(ctl, 0);
    while (g === gen) {
      Atomics.wait(ctl, 0, gen);
      g = Atomics.load(ctl, 0);
    }
    gen = g;
    if (Atomics.load(ctl, STOP_) !== 0) return;
    for (;;) {
      const c = Atomics.load(ctl, CLAIM_);
      if (c === -1 || (c >>> 16) !== (gen & 0x7fff)) break;
      const n = Atomics.load(ctl, NTASKS_);
      const i = c & 0xffff;
      if (i >= n) break;
      if (Atomics.compareExchange(ctl, CLAIM_, c, c + 1) !== c) continue;
      // Claimed task i of this job: its parameters stay put until every task is done.
      try {
        const t = new Float64Array(d.memory.buffer, ctl[TABLE_] + i * 24 * 8, 24);
        const nargs = ctl[NARGS_], sarg = ctl[SARG_];
        args.length = nargs;
        for (let a = 0; a < nargs; a++) args[a] = t[a];
        if (sarg >= 0) args[sarg] = ctl[SCRATCH_] + d.id * ctl[SSTRIDE_];
        fns[ctl[FN_]](...args);
      } catch (e) {
        if (Atomics.compareExchange(ctl, ERR_, 0, 1) === 0) {
          const msg = String((e as Error)?.message ?? e).slice(0, MAXMSG);
          const u16 = new Uint16Array(d.ctl, ERRMSG_ * 4, MAXMSG);
          for (let k = 0; k < msg.length; k++) u16[k] = msg.charCodeAt(k);
          Atomics.store(ctl, ERRLEN_, msg.length);
        }
      }
      if (Atomics.add(ctl, DONE_, 1) + 1 === n) Atomics.notify(ctl, DONE_);
    }
  }
}

// Node's modules named through variables: bundlers for browsers and workerd leave them alone (the
// code paths that load them run only in Node, Bun and Deno), and the package's types need no @types/node.
const NODE_OS: string = "node:os";
const NODE_WORKER_THREADS: string = "node:worker_threads";

// workerMain travels as source text: a transpiler's helpers it may call (esbuild's keepNames wraps
// functions in __name) must exist in the worker too.
const PRELUDE = "var __name = (f) => f;";

/** Can this thread block in Atomics.wait? (Not a browser's main thread.) */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

interface WorkerHandle {
  terminate(): unknown;
}

type NodeWorkerCtor = new (code: string, opts: object) => WorkerHandle & {
  unref(): void;
  on(ev: string, cb: (x: unknown) => void): void;
};

/** Why this engine cannot run threads (undefined: it can). */
export function threadsUnsupported(): string | undefined {
  if (typeof SharedArrayBuffer !== "function") return "SharedArrayBuffer is not available (in a browser: the page is not cross-origin isolated; serve it with COOP same-origin and COEP require-corp)";
  const g = globalThis as { crossOriginIsolated?: boolean; process?: { versions?: { node?: string } }; Worker?: unknown; navigator?: { userAgent?: string } };
  if (g.navigator?.userAgent === "Cloudflare-Workers") return "no workers in Cloudflare workerd";
  if (g.crossOriginIsolated === false) return "the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  if (typeof g.Worker !== "function" && !g.process?.versions?.node) return "no workers in this engine";
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
  } catch {
    return "this engine has no shared WebAssembly.Memory";
  }
  return undefined;
}

/** The number of cores the engine reports, or 1. */
export async function reportedCores(): Promise<number> {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; process?: { versions?: { node?: string } } };
  if (g.navigator?.hardwareConcurrency) return g.navigator.hardwareConcurrency;
  if (g.process?.versions?.node) {
    try {
      const os = await import(NODE_OS) as { availableParallelism?: () => number; cpus(): unknown[] };
      return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
    } catch { /* no node:os */ }
  }
  return 1;
}

/** What makes one kernel call: its index in the names list, its arguments, the scratch argument. */
export interface Job {
  fn: number;
  /** Tasks' argument lists (all of the same length ≤ TASK_STRIDE). */
  tasks: number[][];
  /** Index of the argument that receives the running thread's scratch slot, or −1. */
  scratchArg: number;
  /** Address of scratch slot 0 and the bytes between slots (slot t is thread t's). */
  scratch: number;
  scratchStride: number;
  /** Byte address of a table of tasks.length × TASK_STRIDE f64s in WASM memory. */
  table: number;
}

export class Pool {
  readonly threads: number;
  #ctl: Int32Array;
  #memory: WebAssembly.Memory;
  #workers: WorkerHandle[];
  #block: boolean;
  #gen = 0;
  #failed: string | undefined;

  private constructor(threads: number, ctl: Int32Array, memory: WebAssembly.Memory, workers: WorkerHandle[]) {
    this.threads = threads;
    this.#ctl = ctl;
    this.#memory = memory;
    this.#workers = workers;
    this.#block = canBlock();
  }

  /**
   * Starts threads − 1 workers over `module` and `memory` (shared) and waits until each has
   * instantiated it. Rejects (after ending any started worker) when one fails or none report in time.
   */
  static async start(threads: number, module: WebAssembly.Module, memory: WebAssembly.Memory, names: readonly string[], timeoutMs = 20000): Promise<Pool> {
    const ctl = new Int32Array(new SharedArrayBuffer(CTL_INTS * 4));
    ctl[CLAIM] = CLOSED;
    const workers: WorkerHandle[] = [];
    let pool: Pool | null = null;
    const readies: Promise<void>[] = [];
    const spin = 20000;
    const g = globalThis as { process?: { versions?: { node?: string } }; Worker?: unknown; Deno?: unknown };
    try {
      // Node, Bun and Deno: worker_threads (unref()ed: they never keep the process alive; Deno's Web
      // Workers would, and Bun's are experimental). Browsers: module Web Workers from a Blob URL.
      const NodeWorker: NodeWorkerCtor | null = g.process?.versions?.node
        ? ((await import(NODE_WORKER_THREADS)) as { Worker: NodeWorkerCtor }).Worker : null;
      for (let id = 1; id < threads; id++) {
        const data = { module, memory, ctl: ctl.buffer, id, names: [...names], spin };
        readies.push(new Promise<void>((resolve, reject) => {
          const onMessage = (m: unknown): void => {
            const r = m as { ok?: boolean; error?: string };
            if (r?.ok) resolve();
            else reject(new Error(`wasm-attention: a worker could not instantiate the kernels: ${r?.error ?? String(m)}`));
          };
          const onError = (e: unknown): void => {
            const msg = `a worker failed: ${(e as Error)?.message ?? String(e)}`;
            if (pool) pool.#failed ??= msg;
            reject(new Error(`wasm-attention: ${msg}`));
          };
          if (NodeWorker) {
            // import() works whether Node evaluates the code as CommonJS or (--input-type=module) as ESM.
            const code = `${PRELUDE} import("node:worker_threads").then((wt) => (${workerMain.toString()})(wt.workerData, (m) => wt.parentPort.postMessage(m)));`;
            const w = new NodeWorker(code, { eval: true, workerData: data });
            // Referenced until ready (an await on start() must keep the process alive), then unref()ed.
            w.on("message", (m) => { onMessage(m); w.unref(); });
            w.on("error", onError);
            w.on("exit", (code) => {
              const msg = `a worker exited (code ${String(code)})`;
              if (pool) pool.#failed ??= msg;
              reject(new Error(`wasm-attention: ${msg} before it was ready`));
            });
            workers.push(w);
          } else {
            const code = `${PRELUDE} onmessage = (e) => { onmessage = null; (${workerMain.toString()})(e.data, (m) => postMessage(m)); };`;
            const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
            const WebWorker = g.Worker as new (url: string, o: object) => WorkerHandle & { postMessage(m: unknown): void; onmessage: unknown; onerror: unknown };
            const w = new WebWorker(url, { type: "module" });
            w.onmessage = (e: { data: unknown }) => onMessage(e.data);
            w.onerror = (e: { message?: string; preventDefault?: () => void }) => { e.preventDefault?.(); onError(new Error(e.message ?? "worker error")); };
            w.postMessage(data);
            workers.push(w);
            setTimeout(() => URL.revokeObjectURL(url), 60000);
          }
        }));
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`wasm-attention: workers did not start within ${timeoutMs} ms`)), timeoutMs);
        (timer as { unref?: () => void }).unref?.();
      });
      try {
        await Promise.race([Promise.all(readies), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    pool = new Pool(threads, ctl, memory, workers);
    return pool;
  }

  /** Why the pool can no longer be used (a worker died), or undefined. */
  get failed(): string | undefined {
    return this.#failed;
  }

  /** Ends the workers (they stop at their next wake-up; terminate() ends them now). */
  terminate(): void {
    Atomics.store(this.#ctl, STOP, 1);
    Atomics.add(this.#ctl, GEN, 1);
    Atomics.notify(this.#ctl, GEN);
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }

  /** Ends one worker (tests: what happens when a worker dies). */
  killOne(): void {
    const w = this.#workers.pop();
    if (w) {
      w.terminate();
      this.#failed ??= "a worker was terminated";
    }
  }

  /**
   * Runs a job on every thread and returns when all its tasks are done; `run` calls a kernel on this
   * thread. A task that threw in a worker becomes an Error here (after the others finished).
   */
  run(job: Job, run: (args: number[]) => void): void {
    const ctl = this.#ctl;
    const n = job.tasks.length;
    const nargs = job.tasks[0].length;
    if (nargs > TASK_STRIDE) throw new Error(`wasm-attention: internal error: a task of ${nargs} arguments (at most ${TASK_STRIDE})`);
    const table = new Float64Array(this.#memory.buffer, job.table, n * TASK_STRIDE);
    for (let i = 0; i < n; i++) table.set(job.tasks[i], i * TASK_STRIDE);
    // Publish: parameters while the claim word is closed, then open it for this generation.
    const gen = (this.#gen = (this.#gen + 1) & 0x3fffffff);
    ctl[DONE] = 0;
    ctl[NTASKS] = n;
    ctl[TABLE] = job.table;
    ctl[SCRATCH] = job.scratch;
    ctl[SSTRIDE] = job.scratchStride;
    ctl[FN] = job.fn;
    ctl[SARG] = job.scratchArg;
    ctl[NARGS] = nargs;
    ctl[ERR] = 0;
    Atomics.store(ctl, CLAIM, ((gen & 0x7fff) << 16) | 0);
    Atomics.store(ctl, GEN, gen);
    Atomics.notify(ctl, GEN);
    // This thread's share: claim like a worker (slot 0).
    let error: unknown;
    const args: number[] = [];
    for (;;) {
      const c = Atomics.load(ctl, CLAIM);
      const i = c & 0xffff;
      if (i >= n) break;
      if (Atomics.compareExchange(ctl, CLAIM, c, c + 1) !== c) continue;
      const t = job.tasks[i];
      args.length = nargs;
      for (let a = 0; a < nargs; a++) args[a] = t[a];
      if (job.scratchArg >= 0) args[job.scratchArg] = job.scratch;
      try {
        run(args);
      } catch (e) {
        error ??= e;
      }
      Atomics.add(ctl, DONE, 1);
    }
    // Wait for the tasks the workers claimed: spin a little, then block where this thread may.
    let done = Atomics.load(ctl, DONE);
    for (let s = 0; done < n && s < 4000; s++) done = Atomics.load(ctl, DONE);
    while (done < n) {
      if (this.#block) Atomics.wait(ctl, DONE, done, 50);
      done = Atomics.load(ctl, DONE);
    }
    Atomics.store(ctl, CLAIM, CLOSED);
    if (error !== undefined) throw error;
    if (ctl[ERR] !== 0) {
      const len = ctl[ERRLEN];
      const u16 = new Uint16Array(ctl.buffer, ERRMSG * 4, len);
      let msg = "";
      for (let k = 0; k < len; k++) msg += String.fromCharCode(u16[k]);
      ctl[ERR] = 0;
      throw new Error(msg);
    }
  }
}
