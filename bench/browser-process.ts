// `process` for the bench bundled into a page (bench/browser.ts injects this module's `process` for
// the free identifier in the bench's code; globalThis.process stays undefined, so the library still
// sees a browser: Web Workers, not worker_threads). argv and env come from Node (window.__BENCH__);
// stdout and stderr go to Node through window.__benchSend, in order (each message numbered).

/** What Node hands the page (bench/browser.ts sets window.__BENCH__ before the bundle loads). */
export interface PageConfig {
  /** The bench's arguments, as after `npm run bench --` (without --browser). */
  argv: string[];
  /** WASM_ATTENTION_* variables of the bench (the thread axis's second page sets WASM_ATTENTION_ORT_THREADS). */
  env: Record<string, string>;
  /** The host, as Node's os module sees it; load1 is refreshed by Node during the run. */
  host: { cpu: string; cores: number; platform: string; arch: string; memBytes: number; load1: number; node: string };
  /** Chromium's version and its V8's (CDP Browser.getVersion). */
  browser: { chrome: string; v8: string; product: string };
}

type Send = (seq: number, kind: string, a?: string, b?: string) => void;
const g = globalThis as unknown as { __BENCH__: PageConfig; __benchSend: Send };
export const config: PageConfig = g.__BENCH__;

let seq = 0;
/** A message to Node: stdout/stderr text, a file to write, a bench process to run, the exit code. Numbered, so Node keeps their order. */
export function send(kind: string, a?: string, b?: string): void { g.__benchSend(seq++, kind, a, b); }

/** Thrown by process.exit() to stop the bench's code; bench/browser-page.ts reports the exit code. */
export class Exit extends Error {
  constructor(readonly code: number) { super(`process.exit(${code})`); }
}

export const process = {
  argv: ["node", "bench/index.ts", ...config.argv],
  execArgv: [] as string[],
  execPath: "node",
  env: { ...config.env } as Record<string, string | undefined>,
  version: config.host.node,
  versions: { v8: config.browser.v8, chrome: config.browser.chrome } as Record<string, string>,
  platform: config.host.platform,
  arch: config.host.arch,
  exitCode: undefined as number | undefined,
  stdout: { write: (s: string): boolean => { send("stdout", String(s)); return true; } },
  stderr: { write: (s: string): boolean => { send("stderr", String(s)); return true; } },
  exit(code?: number): never { throw new Exit(code ?? process.exitCode ?? 0); },
};
