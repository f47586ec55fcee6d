// Bench report: one markdown table per suite (stdout and latest.md), the JSON record, the charts.
//
// Table columns: case | per impl: median ms, GFLOP/s (none in a suite without operation counts) | per peer: "× vs <peer>" = peer median / our
// median (> 1: we are faster) | extra figures. A failed impl's cell names its status; the full
// messages follow the table as notes.

import os from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions, BenchResult, ImplResult } from './harness.js';
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
    lines.push(`| ${row.map(cellEscape).join(' | ')} |`);
  }
  let out = lines.join('\n') + '\n';
  if (notes.length) out += '\n' + notes.map((n) => n.replace(/\n/g, ' ')).join('\n') + '\n';
  return out;
}

/** One-line description of the run. */
export function machineLine(m: Machine, opts?: Pick<BenchOptions, 'rounds' | 'minTime' | 'quick'>): string {
  const run = opts ? ` · ${opts.rounds} rounds × ${opts.minTime} s per impl${opts.quick ? ' (quick)' : ''}` : '';
  return `${m.cpu}, ${m.cores} cores · Node ${m.node} (V8 ${m.v8}) · ${m.date.slice(0, 10)} · load ${m.load1}${run}`;
}

/** Every suite's table under a "### suite" heading, after a header naming machine, Node and date. */
export function renderMarkdown(results: BenchResult[], machine: Machine, opts?: Pick<BenchOptions, 'rounds' | 'minTime' | 'quick'>): string {
  let out = `\n## Benchmarks\n\n${machineLine(machine, opts)}\n\n` +
    'Median ms per call over all rounds; GFLOP/s = flops / median; × vs peer = peer median / our median (> 1: we are faster).\n';
  for (const suite of suitesOf(results)) {
    out += `\n### ${suite}\n\n` + renderSuiteTable(results.filter((r) => r.suite === suite));
  }
  return out;
}

/** The JSON record of a run (samples reduced to median/min/max/count, plus per-round medians). */
export function resultsJson(results: BenchResult[], opts: BenchOptions, machine: Machine): unknown {
  return {
    machine,
    options: opts,
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
export function writeResults(results: BenchResult[], opts: BenchOptions, machine: Machine): string[] {
  mkdirSync(opts.outDir, { recursive: true });
  const day = machine.date.slice(0, 10);
  const written: string[] = [];
  const put = (name: string, text: string): void => {
    const p = join(opts.outDir, name);
    writeFileSync(p, text);
    written.push(p);
  };
  put(`${day}.json`, JSON.stringify(resultsJson(results, opts, machine), null, 2) + '\n');
  let md = renderMarkdown(results, machine, opts).trimStart();
  const charts = chartedSuites(results, opts.chartSuites);
  if (charts.length) md += '\n' + charts.map((s) => `![${s}](${chartFile(s)})`).join('\n') + '\n';
  put('latest.md', md);
  const subtitle = `${machine.cpu}, ${machine.cores} cores · Node ${machine.node} · ${day}`;
  for (const s of charts) put(chartFile(s), renderChart(results, s, { subtitle }));
  return written;
}
