// Shared pieces of the runtime harness: a pass/fail tally, child processes in their own process
// group (killed as a group on timeout), a free loopback port, a static file server on 127.0.0.1,
// and finding a runtime's binary (loudly failing when it is missing).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { extname, join, normalize, sep } from "node:path";

/** Counts checks and prints one line for each: "  ok   name" or "  FAIL name: detail". */
export class Tally {
  passed = 0;
  failed = 0;
  failures = [];
  check(name, ok, detail = "") {
    if (ok) this.passed++;
    else { this.failed++; this.failures.push(name); }
    console.log(`  ${ok ? "ok  " : "FAIL"} ${name}${detail ? (ok ? `  (${detail})` : `: ${detail}`) : ""}`);
    return ok;
  }
}

/** Runs a command to completion in its own process group; on timeout the whole group gets SIGKILL. */
export function run(cmd, args, { cwd, env, timeout = 120_000, input } = {}) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "", timedOut = false;
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => { timedOut = true; killGroup(child, "SIGKILL"); }, timeout);
    child.on("error", (e) => { stderr += `\n${e.message}`; });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr: timedOut ? `${stderr}\n(timed out after ${timeout} ms)` : stderr, ms: Math.round(performance.now() - t0) });
    });
  });
}

/** Sends a signal to a detached child's process group (ignores a group that is already gone). */
export function killGroup(child, signal = "SIGTERM") {
  if (child.pid === undefined) return;
  try { process.kill(-child.pid, signal); } catch { /* already exited */ }
}

/** Starts a long-running server process in its own group; stop() kills the group and waits for it. */
export function startServer(cmd, args, { cwd, env } = {}) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => { output += d; });
  child.stderr.on("data", (d) => { output += d; });
  const exited = new Promise((resolve) => child.on("close", resolve));
  child.on("error", (e) => { output += `\n${e.message}`; });
  return {
    child,
    get output() { return output; },
    exited,
    async stop() {
      killGroup(child, "SIGTERM");
      const t = setTimeout(() => killGroup(child, "SIGKILL"), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".cjs": "text/javascript",
  ".json": "application/json", ".wasm": "application/wasm", ".map": "application/json", ".css": "text/css",
};

/** Serves the files under `root` on 127.0.0.1 (GET only, no directory listings). */
export async function staticServer(root, headers = {}) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(root, path);
    if (req.method !== "GET" || !(file === root || file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store", ...headers }).end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/**
 * The first candidate path that runs `<bin> --version`; throws, naming every candidate, if none does.
 * (The npm packages deno/bun/workerd carry their binaries; their postinstall puts them in .bin.)
 */
export function findBinary(name, candidates) {
  const tried = [];
  for (const c of candidates) {
    if (!existsSync(c)) { tried.push(`${c} (missing)`); continue; }
    const r = spawnSync(c, ["--version"], { encoding: "utf8", timeout: 30_000, env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" } });
    if (r.status === 0) return { path: c, version: (r.stdout || r.stderr).trim().split("\n")[0] };
    tried.push(`${c} (exit ${r.status ?? r.signal}: ${(r.stderr || r.error?.message || "").trim().split("\n")[0]})`);
  }
  throw new Error(`${name} is not installed or does not run here; tried: ${tried.join("; ")}. Run npm install (${name} comes from devDependencies).`);
}

/** The one line "<PREFIX> <json>" of a run's stdout, parsed; throws with the output when absent. */
export function parseTagged(prefix, r) {
  const line = r.stdout.split("\n").find((l) => l.startsWith(`${prefix} `));
  if (!line) throw new Error(`no ${prefix} line (exit ${r.code ?? r.signal}):\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  return JSON.parse(line.slice(prefix.length + 1));
}

/** The last lines of some output, for failure messages. */
export function tail(s, n = 15) {
  return s.trim().split("\n").slice(-n).map((l) => `      | ${l}`).join("\n");
}
