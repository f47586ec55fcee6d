// Self-test of the bench harness: runs runBench (quick settings) on synthetic cases with fake impls
// and checks the results programmatically. Exits 1 on any failed check.
//   node --import tsx bench/harness.selftest.ts
//
// Fakes: "ours" = a JS mat-vec (sync); "slow" = ours' runner called twice, async (ratio ≈ 2);
// "wrong" = output off by 1 in one element (mismatch); "broken" = setup throws; "flaky" and
// "flaky-async" = throw on their 10th timed call. A case in another suite checks the filter.
// The referee: a case with a float64 reference (an f64 mat-vec) where ours passes and a peer whose
// error is small against the whole output but large against its own row's scale fails, and a case
// where ours itself is off: refereeFailures names both, with their case.
// Also renders a chart for a fake suite with x = 64…4096 to /tmp/wasm-attention-chart-selftest.svg
// (and .png if rsvg-convert is installed: `apt-get install -y librsvg2-bin`).

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  compareOutputs, compareWithReference, median, parseArgs, refereeFailures, runBench, selectCases, type BenchCase, type BenchResult, type Impl,
} from './harness.js';
import { sampleRows } from './reference.js';
import { renderChart } from './chart.js';

let failures = 0;
function check(ok: boolean, what: string, detail = ''): void {
  if (!ok) failures++;
  process.stderr.write(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}\n`);
}

// ───────────── fakes ─────────────

/** y = A·x, A (n×n) row-major. */
function matvec(y: Float32Array, a: Float32Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j]! * x[j]!;
    y[i] = s;
  }
}

function inputs(n: number): { a: Float32Array; x: Float32Array } {
  let seed = n;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  return { a: Float32Array.from({ length: n * n }, rnd), x: Float32Array.from({ length: n }, rnd) };
}

const teardowns: string[] = [];

function dotCase(x: number, withFlaky: boolean): BenchCase {
  // A 64×64 mat-vec (16 KiB, cache-resident: the machines are shared, keep memory out of it), x/4 times.
  const n = 64, reps = x / 4;
  const once = (): (() => Float32Array) => {
    const { a, x: v } = inputs(n); const y = new Float32Array(n);
    return () => { for (let r = 0; r < reps; r++) matvec(y, a, v, n); return y; };
  };
  const impls: Impl[] = [
    {
      name: 'ours',
      setup: async () => once(),
      teardown: () => { teardowns.push(`ours ${x}`); },
    },
    {
      // ours' own runner, called twice: the same machine code, twice the work
      name: 'slow',
      setup: async () => { const run = once(); return async () => { run(); return run(); }; },
      teardown: async () => { teardowns.push(`slow ${x}`); },
    },
    {
      name: 'wrong',
      setup: async () => {
        const { a, x: v } = inputs(n); const y = new Float32Array(n);
        return () => { for (let r = 0; r < reps; r++) matvec(y, a, v, n); y[3]! += 1; return y; };
      },
    },
    {
      name: 'broken',
      setup: async () => { throw new Error('no such backend'); },
      teardown: () => { teardowns.push(`broken ${x}`); },          // must not run: setup failed
    },
  ];
  if (withFlaky) {
    // Both throw on their 10th call from Benchmark.js (seen on the stack): past the check and the
    // warm-up, so they fail while being timed.
    const flaky = (): (() => Float32Array) => {
      const run = once(); let timedCalls = 0;
      return () => {
        if (new Error().stack?.includes('benchmark.js') && ++timedCalls >= 10) throw new RangeError('out of memory');
        return run();
      };
    };
    impls.push(
      { name: 'flaky', setup: async () => flaky() },
      { name: 'flaky-async', setup: async () => { const run = flaky(); return async () => run(); } },
    );
  }
  return {
    suite: 'dot', name: `matvec f32 N=${n} ×${reps}`, flops: 2 * n * n * reps, x, impls,
    extra: () => ({ 'peak MiB': 1.5, note: `x=${x}` }),
  };
}

let skippedRan = false;
const cases: BenchCase[] = [
  dotCase(64, true), dotCase(128, false), dotCase(256, false),
  { suite: 'other', name: 'never runs', flops: 1, impls: [{ name: 'ours', setup: async () => { skippedRan = true; return () => new Float32Array(1); } }] },
];

/** y = A·x in float64, as a reference of the [n, 1] output (n rows of one column). */
function refereeCase(name: string, oursOff: number): BenchCase {
  const n = 48, { a, x } = inputs(n);
  const f32 = (off: number, row = -1, by = 0) => async () => {
    const y = new Float32Array(n);
    matvec(y, a, x, n);
    if (off) y[5]! += off;
    if (row >= 0) y[row]! += by;
    return () => y;
  };
  // Row 7's value is made small (its scale is its own |y|), so an error of 1e-3·|y7| fails there.
  return {
    suite: 'referee', name, flops: 2 * n * n, tolerance: 1e-4, tolerances: { ours: 1e-5 },
    reference: () => {
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) { let s = 0; for (let j = 0; j < n; j++) s += a[i * n + j]! * x[j]!; y[i] = s; }
      return { cols: 1, rows: n, checked: Array.from({ length: n }, (_, i) => i), values: y };
    },
    impls: [
      { name: 'ours', setup: f32(oursOff) },
      { name: 'peer', setup: f32(0) },
      { name: 'peer-off', setup: async () => { const run = await f32(0)(); const y0 = run()[7]!; return () => { const y = run(); y[7] = y0 * (1 + 1e-3); return y; }; } },
    ],
  };
}

// ───────────── unit checks ─────────────

{
  const o = parseArgs(['--quick', '--rounds', '2', '--time=0.04', 'DOT', '--save', '--out', '/x', '--chart', 'a,b']);
  check(o.quick && o.rounds === 2 && o.minTime === 0.04 && o.save && o.outDir === '/x', 'parseArgs: flags', JSON.stringify(o));
  check(o.filter.join() === 'DOT' && o.chartSuites.join() === 'a,b', 'parseArgs: filter words and --chart');
  const d = parseArgs([]);
  check(!d.quick && d.rounds >= 3 && d.minTime >= 0.5 && d.warmup >= 0.5 && !d.save && d.chartSuites.join() === '*', 'parseArgs: full-run defaults');
  let threw = false;
  try { parseArgs(['--bogus']); } catch { threw = true; }
  check(threw, 'parseArgs: unknown flag throws');
  check(selectCases(cases, ['DOT']).length === 3 && selectCases(cases, ['×32', 'never']).length === 2 && selectCases(cases, []).length === 4,
    'selectCases: substring of suite or name, any word, case-insensitive');
  const ref = new Float32Array([1, 2, 30]);
  check(compareOutputs(new Float32Array([1, 2, 30.02]), ref, 1e-3).ok, 'compare: within tol·max|ref|');
  check(!compareOutputs(new Float32Array([1, 2, 30.04]), ref, 1e-3).ok, 'compare: beyond tol·max|ref|');
  check(!compareOutputs(new Float32Array([NaN, 2, 30]), ref, 1e-3).ok, 'compare: NaN fails');
  check(!compareOutputs(new Float32Array([1, 2]), ref, 1e-3).ok, 'compare: length mismatch fails');
  // Per row: rows [1e-3, 2e-3] and [100, 200]. An error of 1e-5 passes against the whole output's
  // scale (200) but is 5e-3 of the first row's: it fails at tol 1e-3.
  const two = new Float32Array([1e-3, 2e-3, 100, 200]);
  check(compareOutputs(new Float32Array([1e-3, 2e-3 + 1e-5, 100, 200]), two, 1e-3).ok, 'compare: one row, scale of the whole output');
  const perRow = compareOutputs(new Float32Array([1e-3, 2e-3 + 1e-5, 100, 200]), two, 1e-3, 2);
  check(!perRow.ok && perRow.at === 1 && Math.abs(perRow.maxRel - 5e-3) < 1e-4, 'compare: per row, each held to its own scale', perRow.message);
  check(compareOutputs(new Float32Array([1e-3, 2e-3 + 1e-7, 100, 200 + 0.1]), two, 1e-3, 2).ok, 'compare: per row, within each row\'s bound');
  // Checked rows only: rows 1 and 3 of a [4, 2] output.
  const sub = compareWithReference(new Float32Array([9, 9, 1, 2, 9, 9, 3, 4]), { cols: 2, rows: 4, checked: [1, 3], values: Float64Array.of(1, 2, 3, 4) }, 1e-6);
  check(sub.ok && sub.maxDiff === 0, 'compare: a reference of some rows checks those rows');
  const subBad = compareWithReference(new Float32Array([1, 2, 1, 2, 3, 4, 3, 4.01]), { cols: 2, rows: 4, checked: [1, 3], values: Float64Array.of(1, 2, 3, 4) }, 1e-3);
  check(!subBad.ok && subBad.at === 7, 'compare: a bad checked row fails, pointing at its element', subBad.message);
  check(!compareWithReference(new Float32Array(6), { cols: 2, rows: 4, checked: [0], values: Float64Array.of(0, 0) }, 1e-3).ok, 'compare: output of another length fails');
  const rows = sampleRows(4096);
  check(sampleRows(256).length === 256 && rows.length > 200 && rows.length <= 300 && rows[0] === 0 && rows[40] === 40 && rows.at(-1) === 4095
    && rows.at(-41) === 4055 && rows.some((r) => r % 2 === 1 && r > 41 && r < 4054) && rows.every((r, i) => i === 0 || r > rows[i - 1]!),
    'sampleRows: all up to 256; beyond, both ends (41 rows) and an odd stride between, ascending', `${rows.length} rows`);
}

// ───────────── the run ─────────────

const out = mkdtempSync(join(tmpdir(), 'bench-selftest-'));
const opts = parseArgs(['--quick', '--rounds', '3', '--time', '0.1', '--save', '--out', out, 'DOT']);
let stdout = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;
const t0 = performance.now();
let results: BenchResult[] = [];
try {
  results = await runBench(cases, opts);
} finally {
  process.stdout.write = write;
}
const seconds = (performance.now() - t0) / 1e3;

check(results.length === 3 && !skippedRan, 'filter: 3 dot cases ran, the other suite did not');
check(seconds < 30, '--quick is short', `${seconds.toFixed(1)} s`);
const ratios: number[] = [];   // the machines are shared and noisy: each ratio loosely, their median tighter
for (const r of results) {
  const by = (n: string) => r.impls.find((i) => i.name === n)!;
  const ours = by('ours'), slow = by('slow'), wrong = by('wrong'), broken = by('broken');
  check(ours.status === 'ok' && !!ours.stats && ours.stats.count >= opts.rounds * opts.minSamples && ours.gflops! > 0,
    `${r.name}: ours timed`, `${ours.stats?.count} samples, ${ours.gflops?.toFixed(2)} GFLOP/s`);
  check(ours.roundMediansMs.length === opts.rounds, `${r.name}: one median per round`);
  check(slow.status === 'ok' && slow.async && slow.maxDiff === 0, `${r.name}: slow (async) validated and timed`);
  const ratio = r.ratios['slow'];
  ratios.push(ratio ?? NaN);
  // Loose per case (a shared host can disturb one case's rounds: 1.13 seen); the median below is tighter.
  check(ratio !== undefined && ratio > 1 && ratio < 4, `${r.name}: slow/ours ratio above 1`, ratio?.toFixed(2));
  check(wrong.status === 'mismatch' && /^mismatch \(maxdiff 1\b/.test(wrong.note ?? '') && wrong.stats === undefined && !('wrong' in r.ratios),
    `${r.name}: mismatch reported, not timed`, wrong.note);
  check(broken.status === 'setup-failed' && (broken.note ?? '').includes('no such backend'), `${r.name}: setup failure reported`, broken.note);
  check(r.extra?.['peak MiB'] === 1.5, `${r.name}: extra figures recorded`);
}
check(median(ratios) > 1.4 && median(ratios) < 3, 'median slow/ours ratio ≈ 2', median(ratios).toFixed(2));
for (const name of ['flaky', 'flaky-async']) {
  const f = results[0]!.impls.find((i) => i.name === name)!;
  check(f.status === 'run-failed' && (f.note ?? '').startsWith('run failed while timing: RangeError: out of memory') && !f.stats,
    `${name}: runner throwing while timed is reported`, f.note);
}
check(teardowns.length === 6 && !teardowns.some((t) => t.startsWith('broken')), 'teardown for every impl that was set up', teardowns.join(', '));

check(stdout.includes('### dot') && stdout.includes('| case | ours ms | ours GFLOP/s |'), 'table printed with header');
check(/\| matvec f32 N=64 ×64 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| mismatch \| — \| setup failed \| — \| (?:—|no samples) \| — \| \d\.\d\d× \|/.test(stdout) ||
      /\| matvec f32 N=64 ×64 \|.*\| mismatch \|.*\| setup failed \|.*\d\.\d\d× \|/.test(stdout), 'table row: times, statuses, ratio');
check(stdout.includes('× vs slow') && !stdout.includes('× vs wrong') && stdout.includes('peak MiB'), 'table: ratio and extra columns');

const day = new Date().toISOString().slice(0, 10);
const jsonPath = join(out, `${day}.json`);
if (existsSync(jsonPath)) {
  const j = JSON.parse(readFileSync(jsonPath, 'utf8')) as { machine: { cpu: string; cores: number; node: string; v8: string }; options: unknown; results: BenchResult[] };
  check(j.machine.cores > 0 && j.machine.node === process.version && !!j.machine.v8 && !!j.options, 'json: machine and options');
  const o = j.results[0]!.impls[0]!;
  check(j.results.length === 3 && !!o.stats && o.stats.count > 0 && o.stats.minMs <= o.stats.medianMs && o.stats.medianMs <= o.stats.maxMs,
    'json: results with median/min/max/count');
  const jj = j as unknown as { targets?: unknown[]; machine: { load1?: number; load1End?: number } };
  check(Array.isArray(jj.targets) && typeof jj.machine.load1 === 'number' && typeof jj.machine.load1End === 'number' && j.results.every((r) => typeof r.load1 === 'number'),
    'json: targets, the load at start and end and per case');
} else check(false, 'json written', jsonPath);
const md = existsSync(join(out, 'latest.md')) ? readFileSync(join(out, 'latest.md'), 'utf8') : '';
check(md.includes(process.version) && md.includes(day) && md.includes('### dot') && md.includes('dot.svg'), 'latest.md: header, table, chart link');
const svgPath = join(out, 'dot.svg');
check(existsSync(svgPath) && svgProblems(readFileSync(svgPath, 'utf8')).length === 0, 'dot.svg written and well-formed',
  existsSync(svgPath) ? svgProblems(readFileSync(svgPath, 'utf8')).join('; ') : 'missing');
if (!process.env.KEEP) rmSync(out, { recursive: true, force: true });
else process.stderr.write(`kept ${out}\n`);

// --quick without --save writes nothing. With it, a case without an operation count (flops 0, as
// softmax): no GFLOP/s figure and no GFLOP/s columns, and its integer extra printed exactly.
const out2 = join(tmpdir(), `bench-selftest-nosave-${process.pid}`);
const counted: BenchCase = { ...dotCase(16, false), suite: 'count', name: 'count 512×512', flops: 0, extra: () => ({ elements: 512 * 512, 'peak MiB': 1.23456 }) };
let stdout2 = '';
process.stdout.write = ((chunk: string | Uint8Array) => { stdout2 += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(); return true; }) as typeof process.stdout.write;
let results2: BenchResult[] = [];
try {
  results2 = await runBench([dotCase(16, false), counted], { ...parseArgs(['--quick', '--out', out2]), rounds: 1, minTime: 0.01, warmup: 0.01 });
} finally {
  process.stdout.write = write;
}
check(!existsSync(out2), '--quick without --save writes no files');
const countedOurs = results2[1]?.impls.find((i) => i.name === 'ours');
check(countedOurs?.status === 'ok' && !!countedOurs.stats && countedOurs.gflops === undefined, 'flops 0: timed, no GFLOP/s figure', JSON.stringify(countedOurs?.gflops));
const countTable = stdout2.slice(stdout2.indexOf('### count'));
check(stdout2.includes('### count') && countTable.includes('| case | ours ms | slow ms |') && !countTable.includes('GFLOP/s'), 'flops 0: the suite\'s table has no GFLOP/s columns', countTable.split('\n')[2]);
check(/\| count 512×512 \|.*\| 262144 \| 1\.235 \| [\d.]+ \|$/m.test(countTable), 'extras: counts exact (262144), measurements to 4 digits', countTable.split('\n')[4]);
check(stdout2.slice(0, stdout2.indexOf('### count')).includes('| case | ours ms | ours GFLOP/s |'), 'a suite with flops keeps its GFLOP/s columns');

// The referee: every impl, ours included, against the float64 reference, each with its tolerance.
let stdout3 = '';
process.stdout.write = ((chunk: string | Uint8Array) => { stdout3 += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(); return true; }) as typeof process.stdout.write;
let results3: BenchResult[] = [];
try {
  results3 = await runBench([refereeCase('referee ours ok', 0), refereeCase('referee ours off', 1e-2)],
    { ...parseArgs(['--quick', '--out', out2]), rounds: 1, minTime: 0.01, warmup: 0.01 },
    { targets: () => [{ target: 'a target', measured: '1', met: true }, { target: 'another', measured: '2', met: false }, { target: 'reported', measured: '3' }] });
} finally {
  process.stdout.write = write;
}
{
  const [okCase, offCase] = results3;
  const by = (r: BenchResult | undefined, n: string) => r?.impls.find((i) => i.name === n);
  check(by(okCase, 'ours')?.status === 'ok' && by(okCase, 'ours')?.tolerance === 1e-5 && (by(okCase, 'ours')?.maxRelDiff ?? 1) < 1e-6
    && (by(okCase, 'ours')?.checkedAgainst ?? '').startsWith('float64 reference (all 48 rows)'), 'referee: ours checked against float64, held to its own tolerance',
    JSON.stringify(by(okCase, 'ours')));
  check(by(okCase, 'peer')?.status === 'ok' && by(okCase, 'peer')?.tolerance === 1e-4, 'referee: a peer held to the case\'s tolerance');
  check(by(okCase, 'peer-off')?.status === 'mismatch' && !by(okCase, 'peer-off')?.stats, 'referee: an error of 1e-3 of its own row fails at tol 1e-4, not timed', by(okCase, 'peer-off')?.note);
  check(by(offCase, 'ours')?.status === 'mismatch' && !('peer' in (offCase?.ratios ?? {})), 'referee: ours off by 1e-2 fails; no ratios without ours', by(offCase, 'ours')?.note);
  const fails = refereeFailures(results3);
  check(fails.length === 3 && fails.some((f) => f.startsWith('referee ours off · ours: mismatch (maxdiff')) && fails.some((f) => f.startsWith('referee ours ok · peer-off: mismatch')),
    'refereeFailures: one line per mismatching impl, naming case and impl', fails.join(' / '));
  check(refereeFailures(results).length === 3 && refereeFailures(results).every((f) => / · wrong: mismatch/.test(f)), 'refereeFailures: the mat-vec run\'s "wrong" impls');
  check(/\| a target \| 1 \| met \|/.test(stdout3) && /\| another \| 2 \| \*\*missed\*\* \|/.test(stdout3) && /\| reported \| 3 \| — \|/.test(stdout3),
    'targets printed: met, missed, reported');
  check(stdout3.includes('### referee') && /\| referee ours off \| \(all 48 rows\) \| [\d.e-]+ \(1e-5\) \*\*MISMATCH\*\* \|/.test(stdout3), 'referee table: errors, tolerances, mismatches',
    stdout3.split('\n').filter((l) => l.startsWith('| referee ours off')).at(-1));
  check(results3.every((r) => typeof r.load1 === 'number') && /\| load \|/.test(stdout3), 'load recorded per case and printed');
}

// ───────────── chart of a fake suite, x = 64…4096 ─────────────

function svgProblems(svg: string): string[] {
  const problems: string[] = [];
  if (!svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')) problems.push('does not start with <svg xmlns=…>');
  if (!svg.trimEnd().endsWith('</svg>')) problems.push('does not end with </svg>');
  if (/NaN|undefined|Infinity/.test(svg)) problems.push('contains NaN/undefined/Infinity');
  if (/&(?!amp;|lt;|gt;|quot;|apos;)/.test(svg)) problems.push('unescaped &');
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)\b[^<>]*?(\/?)>/g)) {
    const [, close, tag, selfClose] = m;
    if (selfClose) continue;
    if (!close) stack.push(tag!);
    else if (stack.pop() !== tag) { problems.push(`unbalanced </${tag}>`); break; }
  }
  if (stack.length) problems.push(`unclosed <${stack.join('>, <')}>`);
  const stripped = svg.replace(/<(\/?)([A-Za-z][\w:-]*)\b[^<>]*?(\/?)>/g, '');
  if (/[<>]/.test(stripped)) problems.push('stray < or > outside tags');
  return problems;
}

function fakeResults(): BenchResult[] {
  const xs = [64, 128, 256, 512, 1024, 2048, 4096];
  const curve = (peak: number, knee: number, x: number): number => peak * x / (x + knee) * (x > 1024 ? 1 - 0.08 * Math.log2(x / 1024) : 1);
  return xs.map((x) => {
    const flops = 2 * 8 * x * x * 128;
    const impl = (name: string, g: number | null) => {
      if (g === null) return { name, status: 'mismatch' as const, note: 'mismatch (maxdiff 1)', async: false, samplesMs: [], roundMediansMs: [] };
      const ms = flops / g / 1e6;
      return { name, status: 'ok' as const, async: false, samplesMs: [ms], roundMediansMs: [ms], stats: { medianMs: ms, minMs: ms, maxMs: ms, count: 1 }, gflops: g };
    };
    return {
      suite: 'sdpa-fake', name: `sdpa f32 B=1 H=8 L=${x} S=${x} D=64`, flops, x, tolerance: 1e-3, ratios: {},
      impls: [impl('wasm-attention', curve(38, 90, x)), impl('onnxruntime-web', x === 1024 ? null : curve(21, 200, x)), impl('tfjs-wasm', curve(9, 60, x))],
    };
  });
}
const svg = renderChart(fakeResults(), 'sdpa-fake', { subtitle: 'fake data · AMD EPYC, 2 cores · Node v20 · <&> escaping check' });
const chartPath = '/tmp/wasm-attention-chart-selftest.svg';
writeFileSync(chartPath, svg);
check(svgProblems(svg).length === 0, 'fake chart well-formed', svgProblems(svg).join('; '));
check(['wasm-attention', 'onnxruntime-web', 'tfjs-wasm', '>4096<', '>64<', 'GFLOP/s', '&lt;&amp;&gt;'].every((s) => svg.includes(s)),
  'fake chart: legend, x ticks 64…4096, y label, escaping');
check((svg.match(/<path d="M[^"]*"/g) ?? []).some((d) => (d.match(/M/g) ?? []).length === 2), 'fake chart: a line broken at the mismatching point');
const empty = renderChart([], 'nothing');
check(svgProblems(empty).length === 0 && empty.includes('no data'), 'empty chart says no data');
const png = spawnSync('rsvg-convert', ['-o', chartPath.replace(/\.svg$/, '.png'), chartPath]);
if (png.error) process.stderr.write('note: rsvg-convert not installed; PNG not rendered\n');
else check(png.status === 0, 'rsvg-convert parses and renders the chart', png.stderr.toString().trim());
process.stderr.write(`chart: ${chartPath}\n`);

process.stderr.write(failures ? `\nharness self-test: ${failures} check(s) FAILED\n` : '\nharness self-test: all checks passed\n');
process.exit(failures ? 1 : 0);
