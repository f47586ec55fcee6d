// The Node built-ins the bench imports (node:fs, node:os, node:path, node:url, node:child_process,
// node:perf_hooks, node:module), for the bench bundled into a page by bench/browser.ts: every
// `node:*` import of the bench resolves to this module, and the free identifier `process` to
// ./browser-process.ts. Only what the bench calls is here; everything a page cannot do itself goes
// to Node through send() (window.__benchSend, exposed by bench/browser.ts):
//   - writeFileSync/mkdirSync → Node writes the file (only under the run's --out directory);
//   - the host's CPU, memory and load average come from Node (window.__BENCH__.host, load1 refreshed
//     by Node while the run goes);
//   - spawnSync of the bench script itself (the thread axis's second process) → Node runs it in a
//     second page after this one; any other command (the cold start's Node processes) does not run.
//   - statSync throws (no files in a page): the cold start, which needs dist/ on disk, reports null.
import { config, send } from "./browser-process.js";

class NotInPage extends Error {
  code = "ENOENT";
  constructor(what: string) { super(`${what}: not available in a browser page`); }
}

// ---- node:fs ----
export function writeFileSync(path: string, data: string | Uint8Array): void {
  send("write", String(path), typeof data === "string" ? data : new TextDecoder().decode(data));
}
export function mkdirSync(path: string): void { send("mkdir", String(path)); }
export function readFileSync(path: string): never { throw new NotInPage(`readFileSync(${String(path)})`); }
export function statSync(path: unknown): never { throw new NotInPage(`statSync(${String(path)})`); }
export function existsSync(): boolean { return false; }

// ---- node:os ----
export const cpus = (): { model: string }[] => Array.from({ length: config.host.cores }, () => ({ model: config.host.cpu }));
export const loadavg = (): number[] => [config.host.load1, config.host.load1, config.host.load1];
export const platform = (): string => config.host.platform;
export const arch = (): string => config.host.arch;
export const totalmem = (): number => config.host.memBytes;
export const tmpdir = (): string => "/tmp";
export default { cpus, loadavg, platform, arch, totalmem, tmpdir };

// ---- node:path (POSIX) ----
export function join(...parts: string[]): string {
  const s = parts.filter((p) => p !== "").join("/").replace(/\/+/g, "/");
  return s.replace(/\/\.(?=\/|$)/g, "") || ".";
}
export function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

// ---- node:url ----
export function fileURLToPath(u: string | URL): string { return decodeURIComponent(new URL(String(u)).pathname); }
export function pathToFileURL(p: string): URL { return new URL(`file://${p}`); }

// ---- node:perf_hooks ----
export const performance = globalThis.performance;

// ---- node:module ----
/** require.resolve(name) → the package's path under /node_modules/ on the page's server (tfjs.ts's setWasmPaths). */
export function createRequire(): { resolve: (name: string) => string } {
  return { resolve: (name: string) => `${new URL(`/node_modules/${name}/dist/index.js`, location.href).href}` };
}

// ---- node:child_process ----
/** The bench script itself (import.meta.url: this bundle) is run by Node in a second page; nothing else runs. */
export function spawnSync(_cmd: string, args: string[] = [], options: { env?: Record<string, string | undefined> } = {}) {
  const self = args.indexOf(fileURLToPath(import.meta.url));
  if (self >= 0) {
    const env = Object.fromEntries(Object.entries(options.env ?? {}).filter(([k, v]) => k.startsWith("WASM_ATTENTION_") && v !== undefined)) as Record<string, string>;
    send("spawn", JSON.stringify({ argv: args.slice(self + 1), env }));
    return { status: 0, signal: null, stdout: "", stderr: "", pid: 0, output: [] };
  }
  return { status: null, signal: null, error: new NotInPage(`spawnSync(${[_cmd, ...args].join(" ").slice(0, 60)})`), stdout: "", stderr: "not in a browser page", pid: 0, output: [] };
}
