// Cold start: a new user's first result, each run a fresh Node process on the package's dist/ entry:
//   import → init() → new MultiHeadAttention({ embedDim: E, numHeads: H }) → loadWeights(their weights)
//   → first forward of x [1, L, E]      (E = 512, H = 8, L = 128)
// The weights and x are made before the clock starts (a user has them from a file). Each part is
// timed in wall time and in the process's CPU time (user + system): on a busy host, waiting for a core
// inflates the first only. Reported: the median of the runs' totals, each part's median, the host's
// load. Before timing, one run's output is compared bit for bit with the same forward in this process.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { type BuildName, MultiHeadAttention, buildInfo, initSync } from "../src/index.js";

export const COLD_E = 512, COLD_H = 8, COLD_L = 128;
export const COLD_TARGET_MS = 40;
const PARTS = ["import", "init", "construct", "load", "forward"] as const;

/** Deterministic data in [−scale/2, scale/2) (an LCG: cheap, so it stays out of the measured time). */
function fill(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = (x / 4294967296 - 0.5) * scale;
  }
  return a;
}

function inputs(E: number, L: number) {
  return {
    weights: { inProjWeight: fill(3 * E * E, 1, 0.1), inProjBias: fill(3 * E, 2, 0.1), outProjWeight: fill(E * E, 3, 0.1), outProjBias: fill(E, 4, 0.1) },
    x: { data: fill(L * E, 5, 2), shape: [1, L, E] },
  };
}

/** The child's script: builds the inputs, then times each step; prints the times and a few output values. */
function script(dist: string): string {
  return `const fill = ${fill.toString()};
const inputs = ${inputs.toString()};
const { weights, x } = inputs(${COLD_E}, ${COLD_L});
const T = [], C = [];
const mark = () => { T.push(performance.now()); const c = process.cpuUsage(); C.push((c.user + c.system) / 1000); };
mark();
const m = await import(${JSON.stringify(dist)});
mark();
await m.init();
mark();
const mha = new m.MultiHeadAttention({ embedDim: ${COLD_E}, numHeads: ${COLD_H} });
mark();
mha.loadWeights(weights);
mark();
const y = mha.forward(x).output.data;
mark();
const parts = {};
${JSON.stringify(PARTS)}.forEach((p, i) => { parts[p] = { ms: T[i + 1] - T[i], cpuMs: C[i + 1] - C[i] }; });
console.log(JSON.stringify({ ms: T[T.length - 1] - T[0], cpuMs: C[C.length - 1] - C[0], parts, probe: [y[0], y[12345], y[y.length - 1]], build: m.buildInfo().build }));`;
}

interface Run { ms: number; cpuMs: number; parts: Record<string, { ms: number; cpuMs: number }>; probe: number[]; build: string }

export interface ColdStart {
  /** Median total, wall time. */
  ms: number;
  cpuMs: number;
  runs: number;
  parts: Record<string, { ms: number; cpuMs: number }>;
  /** 1-minute load average before and after the runs. */
  load: [number, number];
  sizes: Record<string, number>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** `runs` fresh processes (null when dist/ is not built). Throws when a run fails or its output differs from this process's. */
export function coldStart(runs: number): ColdStart | null {
  const dist = new URL("../dist/index.js", import.meta.url);
  try { statSync(dist); } catch { return null; }
  const load0 = loadavg()[0];
  const code = script(dist.href);
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cold start: run ${i + 1} failed (${r.status ?? r.signal}): ${r.stderr}`);
    results.push(JSON.parse(r.stdout) as Run);
  }
  // Validate: the same forward here (src/, the build the child's init() picked) gives the same bits.
  const { weights, x } = inputs(COLD_E, COLD_L);
  const was = buildInfo()?.build;
  initSync({ build: results[0].build as BuildName });
  const mha = new MultiHeadAttention({ embedDim: COLD_E, numHeads: COLD_H });
  mha.loadWeights(weights);
  const y = mha.forward(x).output.data;
  mha.dispose();
  if (was) initSync({ build: was });
  const want = [y[0], y[12345], y[y.length - 1]];
  for (const r of results) {
    if (r.probe.some((v, i) => !Object.is(Math.fround(v), want[i]))) {
      throw new Error(`cold start: the child's output (${r.build} build) ${r.probe} differs from this process's ${want}`);
    }
  }
  const parts: ColdStart["parts"] = {};
  for (const p of PARTS) parts[p] = { ms: median(results.map((r) => r.parts[p].ms)), cpuMs: median(results.map((r) => r.parts[p].cpuMs)) };
  const sizes: Record<string, number> = {};
  for (const f of ["kernels.wasm", "kernels.relaxed.wasm", "kernels.scalar.wasm"]) {
    try { sizes[f] = statSync(new URL(`../build/${f}`, import.meta.url)).size; } catch { /* not built */ }
  }
  return {
    ms: median(results.map((r) => r.ms)), cpuMs: median(results.map((r) => r.cpuMs)), runs, parts,
    load: [load0, loadavg()[0]], sizes,
  };
}

/** "38.2 ms (import 9.1, init 6.0, construct 0.9, load 4.2, forward 17.5; CPU 37.0 ms; 7 runs, load 1.2)" */
export function fmtColdStart(c: ColdStart): string {
  const p = PARTS.map((k) => `${k} ${c.parts[k].ms.toFixed(1)}`).join(", ");
  return `${c.ms.toFixed(1)} ms (medians: ${p}; CPU ${c.cpuMs.toFixed(1)} ms; ${c.runs} runs, load ${c.load[0].toFixed(1)}→${c.load[1].toFixed(1)})`;
}

// `node --import tsx bench/cold-start.ts [runs]` runs this case alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const c = coldStart(Number(process.argv[2] ?? 7));
  if (!c) console.log("cold start: dist/ is not built (npm run build:ts)");
  else console.log(`cold start ≤ ${COLD_TARGET_MS} ms: ${fmtColdStart(c)}\n${JSON.stringify(c.parts)}`);
}
