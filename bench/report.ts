// Bench report: one markdown table per suite (stdout and latest.md), the referee's figures, the
// targets, the JSON record, the charts; and the README's table, rendered from a results JSON:
//   node --import tsx bench/report.ts bench/results/<date>.json     prints the README's table and targets
//
// Table columns: case | per impl: median ms, GFLOP/s (none in a suite without operation counts) | per peer: "× vs <peer>" = peer median / our
// median (> 1: we are faster) | extra figures | load (the host's 1-minute load average when the case
// was timed). A failed impl's cell names its status; the full messages follow the table as notes.

import os from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchResult, ImplResult, Target } from './harness.js';
import { renderChart } from './chart.js';

export interface Machine {
  cpu: string;
  cores: number;
  platform: string;
  arch: string;
  memGiB: number;
  node: string;
  v8: string;
  /** ISO timestamp of the run. */
  date: string;
  /** 1-minute load average when the run started (the machines are shared). */
  load1: number;
  /** 1-minute load average when the last case ended. */
  load1End?: number;
  /** A run in a browser (npm run bench -- --browser): e.g. "Chromium 143.0.7499.4 (headless)"; v8 is its V8, node the Node that drove it. */
  browser?: string;
}

/** "Chromium 143… (headless) (V8 …)" for a browser run, else "Node v20… (V8 …)". */
export function engineOf(m: Machine, withV8 = true): string {
  const v8 = withV8 ? ` (V8 ${m.v8})` : '';
  return m.browser ? `${m.browser}${v8}` : `Node ${m.node}${v8}`;
}

export function machineInfo(): Machine {
  const cpus = os.cpus();
  return {
    cpu: (cpus[0]?.model ?? 'unknown cpu').trim(),
    cores: cpus.length,
    platform: os.platform(),
    arch: os.arch(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    load1: +(os.loadavg()[0] ?? 0).toFixed(2),
    // bench/browser-process.ts's process.versions.chrome: the bench is running in a page.
    ...(process.versions.chrome !== undefined && { browser: `Chromium ${process.versions.chrome} (headless)` }),
  };
}

export function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toPrecision(3);
}
export function fmtGflops(g: number): string {
  return g >= 100 ? g.toFixed(0) : g >= 10 ? g.toFixed(1) : g >= 0.1 ? g.toFixed(2) : g.toPrecision(2);
}
export function fmtRatio(r: number): string { return `${r.toFixed(2)}×`; }
/** An extra figure: counts (integers) exactly, e.g. 262144 elements, not 262100; measurements to 4 digits. */
export function fmtExtra(v: number): string { return Number.isInteger(v) ? String(v) : String(+v.toPrecision(4)); }

const cellEscape = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Suites in order of first appearance. */
export function suitesOf(results: BenchResult[]): string[] {
  return [...new Set(results.map((r) => r.suite))];
}

/** The markdown table of one suite's results (no heading), with failure notes under it. */
export function renderSuiteTable(results: BenchResult[]): string {
  const implNames: string[] = [];
  const extraKeys: string[] = [];
  for (const r of results) {
    for (const i of r.impls) if (!implNames.includes(i.name)) implNames.push(i.name);
    for (const k of Object.keys(r.extra ?? {})) if (!extraKeys.includes(k)) extraKeys.push(k);
  }
  // Ratio columns: every peer that has a ratio somewhere, in impl order.
  const peers = implNames.filter((n) => results.some((r) => n in r.ratios));
  const head = ['case'];
  const align = ['---'];
  // A suite without operation counts (softmax: flops 0) gets no GFLOP/s columns.
  const withGflops = results.some((r) => r.flops > 0);
  for (const n of implNames) {
    head.push(`${n} ms`); align.push('---:');
    if (withGflops) { head.push(`${n} GFLOP/s`); align.push('---:'); }
  }
  for (const p of peers) { head.push(`× vs ${p}`); align.push('---:'); }
  for (const k of extraKeys) { head.push(k); align.push('---:'); }
  const withLoad = results.some((r) => r.load1 !== undefined);
  if (withLoad) { head.push('load'); align.push('---:'); }

  const lines = [`| ${head.map(cellEscape).join(' | ')} |`, `| ${align.join(' | ')} |`];
  const notes: string[] = [];
  for (const r of results) {
    const row = [r.name];
    for (const n of implNames) {
      const i: ImplResult | undefined = r.impls.find((x) => x.name === n);
      if (!i) { row.push('—'); if (withGflops) row.push('—'); continue; }
      if (i.status === 'ok' && i.stats) {
        row.push(fmtMs(i.stats.medianMs));
        if (withGflops) row.push(i.gflops !== undefined ? fmtGflops(i.gflops) : '—');
      } else {
        row.push(i.status === 'ok' ? 'no samples' : i.status.replace('-', ' '));
        if (withGflops) row.push('—');
      }
      if (i.note) notes.push(`- ${r.name} · ${n}: ${i.note}`);
    }
    for (const p of peers) row.push(p in r.ratios ? fmtRatio(r.ratios[p]!) : '—');
    for (const k of extraKeys) {
      const v = r.extra?.[k];
      row.push(v === undefined ? '—' : typeof v === 'number' ? fmtExtra(v) : v);
    }
    if (withLoad) row.push(r.load1 !== undefined ? String(r.load1) : '—');
    lines.push(`| ${row.map(cellEscape).join(' | ')} |`);
  }
  let out = lines.join('\n') + '\n';
  if (notes.length) out += '\n' + notes.map((n) => n.replace(/\n/g, ' ')).join('\n') + '\n';
  return out;
}

/** One-line description of the run. */
export function machineLine(m: Machine, opts?: Pick<BenchOptions, 'rounds' | 'minTime' | 'quick'>): string {
  const run = opts ? ` · ${opts.rounds} rounds × ${opts.minTime} s per impl${opts.quick ? ' (quick)' : ''}` : '';
  const load = m.load1End !== undefined ? `${m.load1} at the start, ${m.load1End} at the end` : `${m.load1}`;
  return `${m.cpu}, ${m.cores} cores · ${engineOf(m)} · ${m.date.slice(0, 10)} · load ${load} (1-min average)${run}`;
}

/** Every suite's table under a "### suite" heading, after a header naming machine, Node and date. */
export function renderMarkdown(results: BenchResult[], machine: Machine, opts?: Pick<BenchOptions, 'rounds' | 'minTime' | 'quick'>): string {
  let out = `\n## Benchmarks\n\n${machineLine(machine, opts)}\n\n` +
    'Median ms per call over all rounds; GFLOP/s = flops / median; × vs peer = peer median / our median (> 1: we are faster); ' +
    'load = the host\'s 1-minute load average when the case was timed (absolute times vary with it; ratios are interleaved).\n';
  for (const suite of suitesOf(results)) {
    out += `\n### ${suite}\n\n` + renderSuiteTable(results.filter((r) => r.suite === suite));
  }
  return out + renderReferee(results);
}

/** Relative error, compact: 3.1e-7. */
const fmtErr = (v: number): string => (v === 0 ? '0' : Number.isFinite(v) ? v.toExponential(1) : String(v));

/**
 * The referee's figures: per case and impl, max |got − ref| / (the row's max |ref|) against the
 * float64 reference, and the tolerance it was held to.
 */
export function renderReferee(results: BenchResult[]): string {
  const checked = results.filter((r) => r.impls.some((i) => i.maxRelDiff !== undefined));
  if (!checked.length) return '';
  const names: string[] = [];
  for (const r of checked) for (const i of r.impls) if (!names.includes(i.name)) names.push(i.name);
  const lines = [
    '', '### referee', '',
    'Each output against its float64 reference before timing: max |got − ref| / (max |ref| of the row), and in brackets the tolerance it is held to.', '',
    `| case | checked | ${names.map(cellEscape).join(' | ')} |`, `| --- | --- | ${names.map(() => '---:').join(' | ')} |`,
  ];
  for (const r of checked) {
    const cells = names.map((n) => {
      const i = r.impls.find((x) => x.name === n);
      if (!i) return '—';
      if (i.maxRelDiff === undefined) return i.status.replace('-', ' ');
      return `${fmtErr(i.maxRelDiff)} (${i.tolerance === undefined ? '—' : i.tolerance.toExponential()})${i.status === 'mismatch' ? ' **MISMATCH**' : ''}`;
    });
    lines.push(`| ${cellEscape(r.name)} | ${cellEscape((r.referee ?? '').replace(/^float64 reference /, ''))} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

/** The targets table: met, missed, or — for a figure reported beside them. */
export function renderTargets(targets: Target[]): string {
  if (!targets.length) return '';
  const lines = ['', '### Targets (this run)', '', '| target | measured | |', '| --- | --- | --- |'];
  for (const t of targets) lines.push(`| ${cellEscape(t.target)} | ${cellEscape(t.measured)} | ${t.met === undefined ? '—' : t.met ? 'met' : '**missed**'} |`);
  return lines.join('\n') + '\n';
}

/** The JSON record of a run (samples reduced to median/min/max/count, plus per-round medians). */
export function resultsJson(results: BenchResult[], opts: BenchOptions, machine: Machine, targets: Target[] = []): unknown {
  return {
    machine,
    options: opts,
    targets,
    results: results.map((r) => ({
      ...r,
      impls: r.impls.map(({ samplesMs: _samples, ...rest }) => rest),
    })),
  };
}

/** Suites to chart: those in opts.chartSuites ('*' = all) whose results carry x values. */
export function chartedSuites(results: BenchResult[], chartSuites: string[]): string[] {
  const all = chartSuites.includes('*');
  return suitesOf(results).filter((s) =>
    (all || chartSuites.includes(s)) && results.some((r) => r.suite === s && r.x !== undefined));
}

/** The chart's file name for a suite: '<suite>.svg', with characters unsafe in a path replaced by '_'. */
export function chartFile(suite: string): string { return `${suite.replace(/[^\w.-]/g, '_')}.svg`; }

/** Writes <outDir>/<YYYY-MM-DD>.json, latest.md and <suite>.svg; returns the paths written. */
export function writeResults(results: BenchResult[], opts: BenchOptions, machine: Machine, targets: Target[] = []): string[] {
  mkdirSync(opts.outDir, { recursive: true });
  const day = machine.date.slice(0, 10);
  const written: string[] = [];
  const put = (name: string, text: string): void => {
    const p = join(opts.outDir, name);
    writeFileSync(p, text);
    written.push(p);
  };
  put(`${day}.json`, JSON.stringify(resultsJson(results, opts, machine, targets), null, 2) + '\n');
  let md = renderMarkdown(results, machine, opts).trimStart() + renderTargets(targets);
  const charts = chartedSuites(results, opts.chartSuites);
  if (charts.length) md += '\n' + charts.map((s) => `![${s}](${chartFile(s)})`).join('\n') + '\n';
  put('latest.md', md);
  const subtitle = `${machine.cpu}, ${machine.cores} cores · ${engineOf(machine, false)} · ${day}`;
  for (const s of charts) put(chartFile(s), renderChart(results, s, { subtitle }));
  return written;
}

// ───────────────────────────── the README's table ─────────────────────────────

/** A results file as writeResults writes it. */
export interface ResultsFile {
  machine: Machine;
  options: Partial<BenchOptions>;
  targets?: Target[];
  results: BenchResult[];
}

const OURS = 'wasm-attention', RELAXED = 'wasm-attention relaxed';
const README_PEERS: [string, string][] = [
  ['onnxruntime-web', 'onnxruntime-web'], ['onnxruntime-web ×2', 'onnxruntime-web 2 threads'], ['tfjs-wasm', 'tfjs-wasm'],
  ['tfjs-wasm batched', 'tfjs-wasm batched'], ['plain-js', 'plain JS'],
];

/**
 * The README's benchmark table from a results file: every case of the run, in run order (no
 * selection, so rows where a peer is faster are there too: their ratio reads "0.72×, faster than
 * ours"), then the targets. Ours: median (GFLOP/s); peers: median (peer / ours); any other impl of
 * ours (e.g. "wasm-attention into out") gets a row of its own under its case.
 * `file` is the results file's path as the README links it.
 */
export function renderReadmeTable(run: ResultsFile, file: string): string {
  const m = run.machine;
  const peers = README_PEERS.filter(([n]) => run.results.some((r) => r.impls.some((i) => i.name === n)));
  const load = m.load1End !== undefined ? `${m.load1}–${m.load1End}` : `${m.load1}`;
  const quick = run.options.quick ? ' **(a --quick run: short timings)**' : '';
  const withLoad = run.results.some((r) => r.load1 !== undefined);
  const names = new Set(run.results.flatMap((r) => r.impls.map((i) => i.name)));
  const threads = [...names].some((n) => n.startsWith('wasm-attention ×'))
    ? `one thread each except the rows marked ×2 (ours on 2 threads)${names.has('onnxruntime-web ×2') ? ' and onnxruntime-web 2 threads' : ''}`
    : 'single thread';
  const lines = [
    `Run of ${m.date.slice(0, 10)} on ${m.cpu}, ${m.cores} cores, ${m.browser ?? `Node ${m.node.replace(/^v/, '')}`}, ${threads}, host load ${load}${quick}`,
    `([all results](${file.replace(/[^/]*$/, '')}latest.md), [JSON](${file})). Absolute times vary with the host and its load` +
      (withLoad ? ' (the last column: the 1-minute load average when the case was timed)' : ' (1-minute load average at the start of the run)') +
      `; the ratios are interleaved in one ${m.browser ? 'page' : 'process'}.`,
    '',
    `| case | wasm-attention | relaxed SIMD | ${peers.map(([, label]) => label).join(' | ')} |${withLoad ? ' load |' : ''}`,
    `| --- | ---: | ---: | ${peers.map(() => '---:').join(' | ')} |${withLoad ? ' ---: |' : ''}`,
  ];
  const time = (i: ImplResult | undefined): string | undefined => (i?.status === 'ok' && i.stats ? `${fmtMs(i.stats.medianMs)} ms` : undefined);
  const failed = (i: ImplResult | undefined): string => (i ? i.status.replace('-', ' ') : '—');
  for (const r of run.results) {
    const by = (n: string) => r.impls.find((i) => i.name === n);
    const ours = by(OURS), oursMs = ours?.status === 'ok' ? ours.stats?.medianMs : undefined;
    const extras = Object.entries(r.extra ?? {}).map(([k, v]) => `${k} ${typeof v === 'number' ? fmtExtra(v) : v}`);
    const label = r.name + (extras.length ? ` (${extras.join(', ')})` : '');
    const gf = (i: ImplResult | undefined) => (r.flops > 0 && i?.gflops !== undefined ? ` (${fmtGflops(i.gflops)} GFLOP/s)` : '');
    const cells = [label, time(ours) ? `**${time(ours)}**${gf(ours)}` : failed(ours), time(by(RELAXED)) ? `${time(by(RELAXED))}${gf(by(RELAXED))}` : failed(by(RELAXED))];
    for (const [n] of peers) {
      const p = by(n), t = time(p), ratio = r.ratios[n];
      cells.push(t ? `${t} (${ratio === undefined ? '—' : ratio < 1 ? `${fmtRatio(ratio)}, faster than ours` : fmtRatio(ratio)})` : failed(p));
    }
    if (withLoad) cells.push(r.load1 !== undefined ? String(r.load1) : '—');
    lines.push(`| ${cells.map(cellEscape).join(' | ')} |`);
    for (const i of r.impls.filter((x) => x.name.startsWith(`${OURS} `) && x.name !== RELAXED)) {
      const t = time(i);
      const vs = t && oursMs ? ` (${fmtRatio(i.stats!.medianMs / oursMs)} of the above)` : '';
      const blanks = ['', ...peers.map(() => ''), ...(withLoad ? [''] : [])];
      lines.push(`| ${cellEscape(`${r.name}: ${i.name.slice(OURS.length + 1)}`)} | ${t ? `**${t}**${gf(i)}${vs}` : failed(i)} | ${blanks.join(' | ')} |`);
    }
  }
  const short = (note: string) => (note.length > 240 ? note.slice(0, 239) + '…' : note);
  const notes = run.results.flatMap((r) => r.impls.filter((i) => i.status !== 'ok' && i.note).map((i) => `- ${r.name} · ${i.name}: ${short(i.note!)}`));
  let out = lines.join('\n') + '\n';
  if (notes.length) out += '\n' + notes.map((n) => cellEscape(n)).join('\n') + '\n';
  return out + renderTargets(run.targets ?? []);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/report.ts bench/results/<date>.json   (prints the README\'s table)\n');
    process.exit(2);
  }
  const run = JSON.parse(readFileSync(file, 'utf8')) as ResultsFile;
  process.stdout.write(renderReadmeTable(run, file.replace(/^.*?(bench\/results\/)/, '$1')));
}
