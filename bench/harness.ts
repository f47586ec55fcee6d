// Benchmark harness: validate, then time, every implementation of a case, side by side.
//
// For each case: setup() every impl → run each once and check its output against the case's float64
// reference (bench/reference.ts; every impl, ours included, each with its own tolerance relative to
// each row's scale: |got − ref| ≤ tol · max|ref row|), or, for a case without one (the self-test's
// fakes), against impls[0]'s output → warm up by time (V8 runs a WASM
// function's first calls in its baseline tier) → time with Benchmark.js, interleaving the impls
// in rotated rounds so machine noise hits all alike → median ms over every sample of every
// round, GFLOP/s = flops / median, and for impls[0] (ours) the ratio peer median / our median.
// Then report.ts prints one markdown table per suite and writes bench/results/ (see writeResults).
//
// Progress goes to stderr, tables to stdout. Samples are Benchmark.js `stats.sample` (seconds per
// op, each the mean over one cycle of ≥ cycleTime seconds), stored here in milliseconds.

import Benchmark from 'benchmark';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import type { Reference } from './reference.js';
import { engineOf, fmtMs, machineInfo, renderMarkdown, renderTargets, writeResults } from './report.js';

// ───────────────────────────── inputs ─────────────────────────────

/** Runs the op once on inputs built in setup(); returns the op's output. */
export type Runner = () => Float32Array | Promise<Float32Array>;

export interface Impl {
  name: string;
  /** Builds inputs (once, outside timing) and returns the function to time. */
  setup: () => Promise<Runner>;
  teardown?: () => void | Promise<void>;
  /**
   * A baseline that computes another output, timed in the same interleaved rounds (e.g. a GEMM alone
   * beside the fused GEMM + activation): checked against this float64 reference instead of the case's.
   */
  reference?: () => Reference;
}

export interface BenchCase {
  /** e.g. 'matmul', 'softmax', 'sdpa', 'mha', 'decode', 'long-context': filterable, one table and chart each. */
  suite: string;
  /** Label carrying the shape, e.g. 'sdpa f32 B=1 H=8 L=128 S=128 D=64'. */
  name: string;
  /** Floating-point operations of one run, for GFLOP/s; 0 when the case has no operation count (softmax): no GFLOP/s figure. */
  flops: number;
  /** x-axis value for the suite's chart (sequence length). */
  x?: number;
  /** Chart line group, when one suite charts several shape families (line label "<impl> · <series>"). */
  series?: string;
  /** impls[0] is ours ("wasm-attention"); the others are peers. */
  impls: Impl[];
  /**
   * Float64 reference of the output (bench/reference.ts), computed once before timing; every impl,
   * impls[0] included, is checked against it. Without one, impls are checked against impls[0].
   */
  reference?: () => Reference;
  /** Tolerance of the output check, relative to each output row's scale (max |ref| of the row); default 1e-3. */
  tolerance?: number;
  /** Per-impl tolerances (impl name → tolerance), overriding `tolerance`. */
  tolerances?: Record<string, number>;
  /** Extra figures recorded after timing, while every impl is still set up (e.g. peak WASM memory MiB). */
  extra?: () => Record<string, number | string>;
}

export interface BenchOptions {
  /** CI smoke test: few rounds, short times; results printed, not saved (unless save). */
  quick: boolean;
  /** Words; a case runs if any word is a case-insensitive substring of its suite or name. Empty: all. */
  filter: string[];
  /** Seconds of timing per impl per round, at least (Benchmark.js `maxTime`, once minSamples are in). */
  minTime: number;
  /** Rounds of [ours, peer1, peer2 …], rotated by one each round. */
  rounds: number;
  /** Where results go: <date>.json, latest.md, <suite>.svg. */
  outDir: string;
  /** Suites to chart; ['*'] = every suite whose cases carry x. */
  chartSuites: string[];
  /** Seconds of warm-up per impl, by time, before the first round. */
  warmup: number;
  /** Write result files even with --quick. */
  save: boolean;
  /** Benchmark.js samples per impl per round, at least. */
  minSamples: number;
  /** Seconds per Benchmark.js cycle (one sample = mean over a cycle of at least this long). */
  cycleTime: number;
}

// ───────────────────────────── outputs ─────────────────────────────

export type ImplStatus = 'ok' | 'mismatch' | 'setup-failed' | 'run-failed';

export interface SampleStats {
  /** All samples of all rounds, ms per op. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  count: number;
}

export interface ImplResult {
  name: string;
  status: ImplStatus;
  /** Human-readable status, e.g. 'mismatch (maxdiff 2.1e-2 at [17] …)' or 'setup failed: Error: …'. */
  note?: string;
  /** Max |got − ref| of the output check (undefined for the reference itself or if it never ran). */
  maxDiff?: number;
  /** Max over the checked rows of |got − ref| / (the row's max |ref|): the figure held to `tolerance`. */
  maxRelDiff?: number;
  /** The tolerance this impl was held to (relative to each row's scale). */
  tolerance?: number;
  /** What this one was checked against: 'float64 reference (n of m rows)', or an impl's name (impls[0], unless that one failed). */
  checkedAgainst?: string;
  async: boolean;
  /** Samples in ms per op, every round, in the order taken. */
  samplesMs: number[];
  /** Median of each round's samples, ms. */
  roundMediansMs: number[];
  stats?: SampleStats;
  gflops?: number;
}

export interface BenchResult {
  suite: string;
  name: string;
  flops: number;
  x?: number;
  series?: string;
  tolerance: number;
  /** The referee: float64 (checked rows of all) or impls[0]'s output (the self-test's fakes). */
  referee?: string;
  /** 1-minute load average of the host when the case's timing ended (the machines are shared). */
  load1?: number;
  impls: ImplResult[];
  /** Peer name → peer median / our median (> 1: we are faster). Only where both are 'ok'. */
  ratios: Record<string, number>;
  extra?: Record<string, number | string>;
}

// ───────────────────────────── options ─────────────────────────────

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export const USAGE = `usage: npm run bench -- [options] [filter words…]
  --quick          CI smoke test: 2 rounds, short times, print only (no files unless --save)
  --rounds N       rounds of interleaved impls (default 3; quick 2)
  --time S         seconds of timing per impl per round (default 0.5; quick 0.05)
  --warmup S       seconds of warm-up per impl (default 0.5; quick 0.05)
  --save           write result files even with --quick
  --out DIR        results directory (default bench/results)
  --chart a,b      suites to chart (default: every suite with x values)
  --browser        run in headless Chromium (bench/browser.ts; results in bench/results/browser)
  words            run cases whose suite or name contains any word (case-insensitive)`;

/** Defaults for a full run, or for --quick. */
export function defaultOptions(quick = false): BenchOptions {
  return {
    quick,
    filter: [],
    minTime: quick ? 0.05 : 0.5,
    rounds: quick ? 2 : 3,
    outDir: RESULTS_DIR,
    chartSuites: ['*'],
    warmup: quick ? 0.05 : 0.5,
    save: false,
    minSamples: quick ? 3 : 5,
    cycleTime: quick ? 0.01 : 0.05,
  };
}

/** Parses process.argv.slice(2)-style arguments. Throws on an unknown flag or a bad number; --help prints USAGE and exits. */
export function parseArgs(argv: string[]): BenchOptions {
  const flags = new Map<string, string | true>();
  const words: string[] = [];
  const valued = new Set(['--rounds', '--time', '--warmup', '--out', '--chart']);
  const bare = new Set(['--quick', '--save']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') continue;
    if (a === '-h' || a === '--help') { process.stdout.write(USAGE + '\n'); process.exit(0); }
    if (!a.startsWith('--')) { words.push(a); continue; }
    const eq = a.indexOf('=');
    const key = eq < 0 ? a : a.slice(0, eq);
    if (bare.has(key) && eq < 0) { flags.set(key, true); continue; }
    if (!valued.has(key)) throw new Error(`bench: unknown option ${a}\n${USAGE}`);
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`bench: ${key} needs a value\n${USAGE}`);
    flags.set(key, value);
  }
  const opts = defaultOptions(flags.has('--quick'));
  opts.filter = words;
  opts.save = flags.has('--save');
  const num = (key: string, min: number): number | undefined => {
    const v = flags.get(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`bench: ${key} must be a number ≥ ${min}; got ${String(v)}`);
    return n;
  };
  const rounds = num('--rounds', 1);
  if (rounds !== undefined) opts.rounds = Math.floor(rounds);
  const time = num('--time', 0.001);
  if (time !== undefined) {
    opts.minTime = time;
    opts.cycleTime = Math.min(opts.cycleTime, time / 2);
  }
  const warmup = num('--warmup', 0);
  if (warmup !== undefined) opts.warmup = warmup;
  const out = flags.get('--out');
  if (typeof out === 'string') opts.outDir = out;
  const chart = flags.get('--chart');
  if (typeof chart === 'string') opts.chartSuites = chart.split(',').map((s) => s.trim()).filter(Boolean);
  return opts;
}

/** The cases the filter lets through, in order. */
export function selectCases(cases: BenchCase[], filter: string[]): BenchCase[] {
  if (filter.length === 0) return cases;
  const words = filter.map((w) => w.toLowerCase());
  return cases.filter((c) => {
    const suite = c.suite.toLowerCase(), name = c.name.toLowerCase();
    return words.some((w) => suite.includes(w) || name.includes(w));
  });
}

// ───────────────────────────── checking ─────────────────────────────

export interface Comparison {
  ok: boolean;
  maxDiff: number;
  /** Max |got − ref| / (its row's max |ref|) over the compared rows. */
  maxRel: number;
  /** Index (into got) of the element furthest outside its row's bound, or of the largest relative difference (-1 if lengths differ or empty). */
  at: number;
  /** tol · the scale of the row of `at` */
  bound: number;
  message: string;
}

/**
 * Rows `rows` of got, an [n, cols] row-major output, against ref (rows.length × cols): for each row,
 * |got − ref| ≤ tol · max |ref| of that row (a row of zeros: ≤ tol). NaN anywhere compared fails.
 */
export function compareRows(got: ArrayLike<number>, ref: ArrayLike<number>, rows: readonly number[], cols: number, totalRows: number, tol: number): Comparison {
  if (got.length !== totalRows * cols) {
    return { ok: false, maxDiff: Infinity, maxRel: Infinity, at: -1, bound: NaN, message: `length ${got.length}, want ${totalRows * cols}` };
  }
  let ok = true, maxDiff = 0, maxRel = 0, at = -1, atRef = -1, atBound = NaN;
  for (let r = 0; r < rows.length; r++) {
    const g0 = rows[r]! * cols, r0 = r * cols;
    let scale = 0;
    for (let c = 0; c < cols; c++) scale = Math.max(scale, Math.abs(ref[r0 + c]!));
    if (scale === 0) scale = 1;
    const bound = tol * scale;
    for (let c = 0; c < cols; c++) {
      const d = Math.abs(got[g0 + c]! - ref[r0 + c]!);
      if (!(d <= bound)) ok = false;                        // catches NaN too
      if (d > maxDiff || (Number.isNaN(d) && !Number.isNaN(maxDiff))) maxDiff = d;
      const rel = Number.isNaN(d) ? Infinity : d / scale;
      if (rel > maxRel || at < 0) { maxRel = rel; at = g0 + c; atRef = r0 + c; atBound = bound; }   // the worst element relative to its row
    }
  }
  const where = at >= 0 ? ` at [${at}]: got ${fmtNum(got[at]!)}, want ${fmtNum(ref[atRef]!)}` : '';
  return {
    ok, maxDiff, maxRel, at, bound: atBound,
    message: `maxdiff ${fmtNum(maxDiff)}, ${fmtNum(maxRel)} of its row's max |ref|${where}; bound ${fmtNum(atBound)} (tol ${tol.toExponential()} × row max)`,
  };
}

/** Elementwise |got − ref| ≤ tol · max|ref| of each row of `cols` (default: the whole array is one row); same length; NaN fails. */
export function compareOutputs(got: ArrayLike<number>, ref: ArrayLike<number>, tol: number, cols = ref.length): Comparison {
  const n = cols > 0 ? ref.length / cols : 0;
  return compareRows(got, ref, Array.from({ length: n }, (_, i) => i), cols, n, tol);
}

/** Compare got with a float64 reference's checked rows. */
export function compareWithReference(got: ArrayLike<number>, ref: Reference, tol: number): Comparison {
  return compareRows(got, ref.values, ref.checked, ref.cols, ref.rows, tol);
}

/**
 * The referee's verdict on a run: one line per implementation whose output did not match (naming
 * the case and the implementation), empty when every checked output matched.
 */
export function refereeFailures(results: BenchResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    for (const i of r.impls) if (i.status === 'mismatch') lines.push(`${r.name} · ${i.name}: ${i.note ?? 'mismatch'}`);
  }
  return lines;
}

function fmtNum(v: number): string {
  return Number.isFinite(v) && v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(2) : String(+v.toPrecision(4));
}

// ───────────────────────────── timing ─────────────────────────────

/** Every timed call reads one element of its output into this sink, so the work stays visible. */
let sink = 0;
/** The sink's value (read it so no engine can prove the reads dead). */
export function benchSink(): number { return sink; }

function consume(out: ArrayLike<number>): void { sink += out.length > 0 ? out[0]! : 1; }

function isThenable(v: unknown): v is PromiseLike<Float32Array> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Calls run until `seconds` have passed (and at least `minCalls` calls). */
async function warmUp(run: Runner, isAsync: boolean, seconds: number, minCalls = 2): Promise<number> {
  const t0 = performance.now();
  let calls = 0;
  while (calls < minCalls || performance.now() - t0 < seconds * 1e3) {
    consume(isAsync ? await run() : (run() as Float32Array));
    calls++;
  }
  return calls;
}

/** One Benchmark.js run of `run`; resolves with its samples in ms per op, rejects if the runner throws. */
function timeWithBenchmark(label: string, run: Runner, isAsync: boolean, opts: BenchOptions): Promise<number[]> {
  return new Promise((resolve, reject) => {
    let failure: { error: unknown } | undefined;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      if (failure) reject(failure.error);
      else if (bench.error) reject(bench.error);
      else resolve(bench.stats.sample.map((s) => s * 1e3));
    };
    const fail = (error: unknown): void => {
      if (!failure) failure = { error };
      bench.abort();
    };
    const fn = isAsync
      ? (deferred: Benchmark.Deferred): void => {
          if (failure) { deferred.resolve(); return; }
          Promise.resolve(run()).then(
            (out) => { consume(out); deferred.resolve(); },
            (e: unknown) => { fail(e); deferred.resolve(); },
          );
        }
      : (): void => {
          if (failure) return;
          try { consume(run() as Float32Array); } catch (e) { fail(e); }
        };
    const bench: Benchmark = new Benchmark(label, fn, {
      defer: isAsync,
      async: true,
      minSamples: opts.minSamples,
      maxTime: opts.minTime,
      minTime: opts.cycleTime,
      onComplete: finish,
      onAbort: () => setTimeout(finish, 0),
    });
    bench.run({ async: true });
  });
}

export function summarize(samplesMs: number[]): SampleStats | undefined {
  if (samplesMs.length === 0) return undefined;
  return { medianMs: median(samplesMs), minMs: Math.min(...samplesMs), maxMs: Math.max(...samplesMs), count: samplesMs.length };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function errText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

// ───────────────────────────── the run ─────────────────────────────

const t0 = performance.now();
function log(line: string): void {
  const s = ((performance.now() - t0) / 1e3).toFixed(1).padStart(6);
  process.stderr.write(`[${s}s] ${line}\n`);
}

interface Live { impl: Impl; res: ImplResult; run?: Runner; setUp: boolean }

/** Runs one case: setup, check, warm-up, rounds, extra, teardown. Never throws for an impl's failure. */
async function runCase(c: BenchCase, index: number, total: number, opts: BenchOptions): Promise<BenchResult> {
  const tol = c.tolerance ?? 1e-3;
  const tag = `[${index}/${total}] ${c.suite} · ${c.name}`;
  log(tag);
  const live: Live[] = c.impls.map((impl) => ({
    impl, setUp: false,
    res: { name: impl.name, status: 'ok', async: false, samplesMs: [], roundMediansMs: [] },
  }));

  // 1. setup
  for (const l of live) {
    const ts = performance.now();
    try {
      l.run = await l.impl.setup();
      l.setUp = true;
      if (typeof l.run !== 'function') throw new TypeError(`setup() resolved to ${typeof l.run}, not a function`);
      log(`  setup    ${l.impl.name}: ${(performance.now() - ts).toFixed(0)} ms`);
    } catch (e) {
      l.run = undefined;
      l.res.status = 'setup-failed';
      l.res.note = `setup failed: ${errText(e)}`;
      log(`  setup    ${l.impl.name}: FAILED ${errText(e)}`);
    }
  }

  // 2. validate: run each once, compare with the float64 reference (every impl), or without one with
  //    impls[0] (or the first impl that ran). A mismatching impl is not timed.
  const tolOf = (name: string): number => c.tolerances?.[name] ?? tol;
  let reference: Reference | undefined;
  let referee: string | undefined;
  if (c.reference) {
    const ts = performance.now();
    try {
      reference = c.reference();
      referee = `float64 reference (${reference.checked.length === reference.rows ? 'all' : reference.checked.length + ' of'} ${reference.rows} rows)`;
      log(`  check    ${referee}: ${(performance.now() - ts).toFixed(0)} ms`);
    } catch (e) {
      // No referee, no figures: every impl of the case is reported as unchecked.
      referee = `float64 reference failed: ${errText(e)}`;
      log(`  check    ${referee}`);
      for (const l of live) {
        if (!l.run) continue;
        l.run = undefined;
        l.res.status = 'run-failed';
        l.res.note = `not checked: ${referee}`;
      }
    }
  }
  let ref: { name: string; out: Float32Array } | undefined;
  for (const l of live) {
    if (!l.run) continue;
    let out: ArrayLike<number>;
    try {
      const r = l.run();
      l.res.async = isThenable(r);
      out = await r;
      if (out == null || typeof (out as ArrayLike<number>).length !== 'number') throw new TypeError(`runner returned ${String(out)}, not a Float32Array`);
    } catch (e) {
      l.run = undefined;
      l.res.status = 'run-failed';
      l.res.note = `run failed: ${errText(e)}`;
      log(`  check    ${l.impl.name}: FAILED ${errText(e)}`);
      continue;
    }
    let cmp: Comparison;
    const itol = tolOf(l.impl.name);
    let own: Reference | undefined;
    try {
      own = l.impl.reference?.();
    } catch (e) {
      l.run = undefined;
      l.res.status = 'run-failed';
      l.res.note = `not checked: its float64 reference failed: ${errText(e)}`;
      continue;
    }
    if (own) {
      cmp = compareWithReference(out, own, itol);
      l.res.checkedAgainst = `its own float64 reference (${own.checked.length === own.rows ? 'all' : own.checked.length + ' of'} ${own.rows} rows)`;
    } else if (reference) {
      cmp = compareWithReference(out, reference, itol);
      l.res.checkedAgainst = referee;
    } else {
      if (!ref) {
        ref = { name: l.impl.name, out: Float32Array.from(out) };     // a copy: the runner may reuse its buffer
        if (l !== live[0]) l.res.note = `checked against ${ref.name}, not ${live[0]!.impl.name}, which failed`;
        log(`  check    ${l.impl.name}: reference (${out.length} values)`);
        referee = `${ref.name}'s output`;
        continue;
      }
      cmp = compareOutputs(out, ref.out, itol);
      l.res.checkedAgainst = ref.name;
    }
    l.res.maxDiff = cmp.maxDiff;
    l.res.maxRelDiff = cmp.maxRel;
    l.res.tolerance = itol;
    log(`  check    ${l.impl.name}: ${cmp.message} ${cmp.ok ? 'ok' : 'MISMATCH'}`);
    if (!cmp.ok) {
      l.run = undefined;
      l.res.status = 'mismatch';
      l.res.note = `mismatch (${cmp.message})`;
    }
  }

  // 3. warm up by time
  for (const l of live) {
    if (!l.run) continue;
    try {
      const ts = performance.now();
      const calls = await warmUp(l.run, l.res.async, opts.warmup);
      log(`  warm-up  ${l.impl.name}: ${calls} calls in ${((performance.now() - ts) / 1e3).toFixed(2)} s`);
    } catch (e) {
      l.run = undefined;
      l.res.status = 'run-failed';
      l.res.note = `run failed during warm-up: ${errText(e)}`;
      log(`  warm-up  ${l.impl.name}: FAILED ${errText(e)}`);
    }
  }

  // 4. time, interleaved in rotated rounds
  const timed = live.filter((l) => l.run);
  for (let r = 0; r < opts.rounds; r++) {
    const order = timed.map((_, i) => timed[(i + r) % timed.length]!);
    for (const l of order) {
      if (!l.run) continue;                                   // failed in an earlier round
      try {
        const samples = await timeWithBenchmark(`${c.name} · ${l.impl.name}`, l.run, l.res.async, opts);
        if (samples.length === 0) throw new Error('Benchmark.js took no samples');
        l.res.samplesMs.push(...samples);
        l.res.roundMediansMs.push(median(samples));
        log(`  round ${r + 1}/${opts.rounds} ${l.impl.name}: ${fmtMs(median(samples))} ms (n=${samples.length})`);
      } catch (e) {
        l.run = undefined;
        l.res.status = 'run-failed';
        l.res.note = `run failed while timing: ${errText(e)}`;
        log(`  round ${r + 1}/${opts.rounds} ${l.impl.name}: FAILED ${errText(e)}`);
      }
    }
  }

  // 5. figures
  const load1 = +(os.loadavg()[0] ?? 0).toFixed(2);
  for (const l of live) {
    if (l.res.status !== 'ok') { l.res.samplesMs = []; l.res.roundMediansMs = []; continue; }
    l.res.stats = summarize(l.res.samplesMs);
    // flops = 0 marks a case with no operation count (softmax): no GFLOP/s figure, not 0.
    if (l.res.stats && c.flops > 0) l.res.gflops = c.flops / (l.res.stats.medianMs * 1e-3) / 1e9;
  }
  const ours = live[0]?.res;
  const ratios: Record<string, number> = {};
  if (ours?.status === 'ok' && ours.stats) {
    for (const l of live.slice(1)) {
      if (l.res.status === 'ok' && l.res.stats) ratios[l.impl.name] = l.res.stats.medianMs / ours.stats.medianMs;
    }
  }
  const summary = live.map((l) => `${l.impl.name} ${l.res.stats ? fmtMs(l.res.stats.medianMs) + ' ms' : l.res.status}`).join(', ');
  const ratioText = Object.entries(ratios).map(([k, v]) => `${v.toFixed(2)}× vs ${k}`).join(', ');
  log(`  = ${summary}${ratioText ? ' | ' + ratioText : ''}`);

  let extra: Record<string, number | string> | undefined;
  if (c.extra) {
    try { extra = c.extra(); } catch (e) { extra = { 'extra error': errText(e) }; }
  }

  // 6. teardown
  for (const l of live) {
    if (!l.setUp || !l.impl.teardown) continue;
    try { await l.impl.teardown(); } catch (e) { log(`  teardown ${l.impl.name}: FAILED ${errText(e)}`); }
  }

  return {
    suite: c.suite, name: c.name, flops: c.flops,
    ...(c.x !== undefined && { x: c.x }), ...(c.series !== undefined && { series: c.series }),
    tolerance: tol, ...(referee !== undefined && { referee }), load1, ratios, ...(extra && { extra }),
    impls: live.map((l) => l.res),
  };
}

/** A target of the issues, against this run: `met` true/false, or absent for a figure reported beside the targets but not held to one. */
export interface Target {
  target: string;
  measured: string;
  met?: boolean;
}

export interface RunHooks {
  /** Called after the last case, before anything is printed or written: the targets of this run (printed, in latest.md and in the JSON). */
  targets?: (results: BenchResult[]) => Target[] | Promise<Target[]>;
}

/**
 * Runs the cases the filter selects, prints one markdown table per suite (and the targets, if hooks
 * give them) to stdout and, unless quick without save, writes <outDir>/<date>.json, latest.md and
 * <suite>.svg charts. Missing options take defaultOptions(opts.quick).
 */
export async function runBench(cases: BenchCase[], options: Partial<BenchOptions> = {}, hooks: RunHooks = {}): Promise<BenchResult[]> {
  const opts: BenchOptions = { ...defaultOptions(options.quick ?? false), ...options };
  const selected = selectCases(cases, opts.filter);
  const machine = machineInfo();
  log(`bench: ${selected.length}/${cases.length} cases · ${opts.rounds} rounds × ${opts.minTime} s · warm-up ${opts.warmup} s` +
      `${opts.quick ? ' · quick' : ''} · ${machine.cpu} ×${machine.cores} · ${engineOf(machine, false)} · load ${machine.load1}`);
  if (selected.length === 0) log(`bench: no case matches ${JSON.stringify(opts.filter)}`);

  const results: BenchResult[] = [];
  for (let i = 0; i < selected.length; i++) results.push(await runCase(selected[i]!, i + 1, selected.length, opts));
  const targets = hooks.targets ? await hooks.targets(results) : [];
  machine.load1End = +(os.loadavg()[0] ?? 0).toFixed(2);

  process.stdout.write(renderMarkdown(results, machine, opts) + renderTargets(targets));
  if (!opts.quick || opts.save) {
    const written = writeResults(results, opts, machine, targets);
    for (const f of written) log(`wrote ${f}`);
  }
  if (Number.isNaN(benchSink())) log('(sink is NaN: some output starts with NaN)');
  return results;
}
