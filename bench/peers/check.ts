// Peer check: `node --import tsx bench/peers/check.ts [--no-timing]`
// 1. Agreement: every peer (and every ORT graph variant, and plain-js) against the float64 references
//    of bench/reference.ts at small odd shapes, |got − ref| ≤ 1e-4 · max |ref| of each output row;
//    prints the error per op per peer, exits 1 on any mismatch. (The bench itself referees every
//    implementation at its own shapes before timing: this is for trying graph variants.)
// 2. Rough single-thread timings at the bench shapes: median and min of ~10 runs after a few warm-ups,
//    every peer and graph variant. For the adapter author's report only; bench/ makes the claims.
//
// Shapes: B batch, H heads, L query length, S key/value length, D head size, E = d_model = H·D,
// P cached tokens (decode); matmul is M×K · K×N.
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../../src/random.js';
import { loadPeers } from './index.js';
import type { OrtDecodeGraph, OrtMhaGraph, OrtSdpaGraph } from './ort.js';
import { createPlainPeer } from './plain.js';
import { compareWithReference } from '../harness.js';
import { type Reference, referenceDecode, referenceMatmul, referenceMha, referenceSdpa, referenceSoftmax } from '../reference.js';
import type { MhaWeights, Peer, Runner, Tensor } from './types.js';

const RTOL = 1e-4;
const MHA_GRAPHS: OrtMhaGraph[] = ['ms-attention', 'ms-mha', 'onnx-attention', 'standard'];
const DECODE_GRAPHS: OrtDecodeGraph[] = ['ms-mha', 'ms-attention', 'onnx-attention', 'concat'];
const SDPA_GRAPHS: OrtSdpaGraph[] = ['standard', 'onnx-attention', 'ms-mha'];

// Deterministic inputs, uniform in [lo, hi).
const rand = mulberry32(0x9e3779b9);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
function tensor(shape: number[], lo = -1, hi = 1): Tensor {
  return { data: Float32Array.from({ length: size(shape) }, () => lo + (hi - lo) * rand()), shape };
}
function weights(E: number): MhaWeights {
  const s = 1 / Math.sqrt(E);   // PyTorch-like scale keeps activations O(1)
  return {
    inProjWeight: tensor([3 * E, E], -s, s).data, inProjBias: tensor([3 * E], -s, s).data,
    outProjWeight: tensor([E, E], -s, s).data, outProjBias: tensor([E], -s, s).data,
  };
}

/** The ops of the bench, as (peer) → Runner, with their labels and (small cases) float64 references. */
interface Case { op: string; label: string; prepare(p: Peer): Promise<Runner> | undefined; flops?: number; reference?: () => Reference }

function cases(full: boolean): Case[] {
  if (!full) {
    const a = tensor([17, 33]), b = tensor([33, 9]);
    const sm = tensor([3, 5, 37], 90, 100);       // exp(x) overflows f32, exp(x − max) does not
    const q = tensor([1, 2, 5, 8]), k = tensor([1, 2, 7, 8]), v = tensor([1, 2, 7, 8]);
    const q7 = tensor([1, 2, 7, 8]);
    const x = tensor([2, 5, 16]), w16 = weights(16);
    const x1 = tensor([2, 1, 16]), pk = tensor([2, 4, 6, 4]), pv = tensor([2, 4, 6, 4]);
    return [
      { op: 'matmul', label: 'matmul 17×33 · 33×9', prepare: (p) => p.matmul?.(a, b), reference: () => referenceMatmul(a, b) },
      { op: 'softmax', label: 'softmax [3,5,37] x∈[90,100)', prepare: (p) => p.softmax?.(sm), reference: () => referenceSoftmax(sm) },
      { op: 'sdpa', label: 'sdpa B=1 H=2 L=5 S=7 D=8', prepare: (p) => p.sdpa?.(q, k, v, { causal: false }), reference: () => referenceSdpa(q, k, v, { causal: false }) },
      { op: 'sdpa', label: 'sdpa B=1 H=2 L=5 S=7 D=8 causal', prepare: (p) => p.sdpa?.(q, k, v, { causal: true }), reference: () => referenceSdpa(q, k, v, { causal: true }) },
      { op: 'sdpa', label: 'sdpa B=1 H=2 L=S=7 D=8 causal', prepare: (p) => p.sdpa?.(q7, k, v, { causal: true }), reference: () => referenceSdpa(q7, k, v, { causal: true }) },
      { op: 'mha', label: 'mha B=2 L=5 E=16 H=4', prepare: (p) => p.mha?.(x, w16, 4, { causal: false }), reference: () => referenceMha(x, w16, 4) },
      { op: 'mha', label: 'mha B=2 L=5 E=16 H=4 causal', prepare: (p) => p.mha?.(x, w16, 4, { causal: true }), reference: () => referenceMha(x, w16, 4, { causal: true }) },
      { op: 'decode', label: 'decode B=2 E=16 H=4 P=6', prepare: (p) => p.decode?.(x1, pk, pv, w16, 4), reference: () => referenceDecode(x1, pk, pv, w16, 4) },
    ];
  }
  const a = tensor([512, 512]), b = tensor([512, 512]);
  const mha = (L: number, E: number, H: number): Case => {
    const x = tensor([1, L, E]), w = weights(E);
    return { op: 'mha', label: `mha B=1 L=${L} E=${E} H=${H}`, prepare: (p) => p.mha?.(x, w, H, { causal: false }), flops: 8 * L * E * E + 4 * L * L * E };
  };
  const E = 512, H = 8, P = 1024, w = weights(E);
  const x1 = tensor([1, 1, E]), pk = tensor([1, H, P, E / H]), pv = tensor([1, H, P, E / H]);
  const q = tensor([1, 8, 512, 64]), k = tensor([1, 8, 512, 64]), v = tensor([1, 8, 512, 64]);
  return [
    { op: 'matmul', label: 'matmul 512×512 · 512×512', prepare: (p) => p.matmul?.(a, b), flops: 2 * 512 ** 3 },
    { op: 'sdpa', label: 'sdpa B=1 H=8 L=S=512 D=64', prepare: (p) => p.sdpa?.(q, k, v, { causal: false }), flops: 4 * 8 * 512 * 512 * 64 },
    mha(128, 512, 8), mha(512, 512, 8), mha(1024, 512, 8), mha(128, 768, 12),
    { op: 'decode', label: `decode B=1 E=${E} H=${H} P=${P}`, prepare: (p) => p.decode?.(x1, pk, pv, w, H), flops: 8 * E * E + 4 * (P + 1) * E },
  ];
}

/** Graph/strategy variants of the peers, each exposing only the op it varies (labelled * when default). */
async function variantPeers(base: Peer[]): Promise<Peer[]> {
  const out: Peer[] = [];
  if (base.some((p) => p.name === 'onnxruntime-web')) {
    const { createOrtPeer, ORT_DEFAULTS } = await import('./ort.js');   // lazily: a broken peer was skipped
    const star = (op: keyof typeof ORT_DEFAULTS, v: string) => (ORT_DEFAULTS[op] === v ? '*' : '');
    for (const mha of MHA_GRAPHS) out.push(only(await createOrtPeer({ mha, name: `onnxruntime-web mha=${mha}${star('mha', mha)}` }), 'mha'));
    for (const decode of DECODE_GRAPHS) out.push(only(await createOrtPeer({ decode, name: `onnxruntime-web decode=${decode}${star('decode', decode)}` }), 'decode'));
    for (const sdpa of SDPA_GRAPHS) out.push(only(await createOrtPeer({ sdpa, name: `onnxruntime-web sdpa=${sdpa}${star('sdpa', sdpa)}` }), 'sdpa'));
  }
  if (base.some((p) => p.name === 'tfjs-wasm')) {
    const { createTfjsPeer } = await import('./tfjs.js');
    const batched = await createTfjsPeer({ attention: 'batched', name: 'tfjs-wasm attention=batched' });
    const perHead = await createTfjsPeer({ attention: 'per-head', name: 'tfjs-wasm attention=per-head' });
    out.push(only(batched, 'sdpa', 'mha', 'decode'), only(perHead, 'decode'));
  }
  return out;
}
/** A view of peer p with only the given ops. */
function only(p: Peer, ...ops: ('mha' | 'decode' | 'sdpa')[]): Peer {
  const view: Peer = { name: p.name, dispose: p.dispose };
  for (const op of ops) (view as unknown as Record<string, unknown>)[op] = p[op];
  return view;
}

async function agreement(peers: Peer[]): Promise<boolean> {
  let ok = true;
  console.log(`# agreement with float64 (tolerance ${RTOL} × max |ref| of each output row)`);
  for (const c of cases(false)) {
    const ref = c.reference!();
    for (const p of peers) {
      let line: string;
      try {
        const r = await c.prepare(p);
        if (!r) continue;
        const cmp = compareWithReference(await r(), ref, RTOL);
        line = `${cmp.ok ? 'ok  ' : 'FAIL'} ${p.name.padEnd(34)} ${c.label.padEnd(34)} ${cmp.message}`;
        ok &&= cmp.ok;
      } catch (e) {
        line = `FAIL ${p.name.padEnd(34)} ${c.label.padEnd(34)} threw: ${String(e).split('\n')[0]}`;
        ok = false;
      }
      console.log(line);
    }
  }
  return ok;
}

/** Median and min of ~10 timed runs after a few warm-ups; fewer runs when one run is slow (plain-js). */
async function measure(run: Runner): Promise<{ median: number; min: number }> {
  let sink = 0;
  let t0 = performance.now();
  sink += (await run())[0];
  const first = performance.now() - t0;
  for (let i = 0; i < (first > 500 ? 0 : 3); i++) sink += (await run())[0];
  const n = Math.max(3, Math.min(10, Math.floor(20_000 / first)));
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    t0 = performance.now();
    sink += (await run())[0];
    times.push(performance.now() - t0);
  }
  if (Number.isNaN(sink)) throw new Error('NaN in output');
  times.sort((a, b) => a - b);
  return { median: times[n >> 1], min: times[0] };
}

async function timings(peers: Peer[]): Promise<void> {
  console.log('\n# rough single-thread timings: median (min) ms, GFLOP/s at the median; * = default graph');
  for (const c of cases(true)) {
    for (const p of peers) {
      // the ORT graph variants stand in for the default ORT peer on the ops they vary
      if (p.name === 'onnxruntime-web' && ['mha', 'decode', 'sdpa'].includes(c.op)) continue;
      try {
        const r = await c.prepare(p);
        if (!r) continue;
        const { median, min } = await measure(r);
        const rate = c.flops ? `  ${(c.flops / median / 1e6).toFixed(1).padStart(6)} GFLOP/s` : '';
        console.log(`${c.label.padEnd(30)} ${p.name.padEnd(36)} ${median.toFixed(2).padStart(9)} (${min.toFixed(2)}) ms${rate}`);
      } catch (e) {
        console.log(`${c.label.padEnd(30)} ${p.name.padEnd(36)} threw: ${String(e).split('\n')[0]}`);
      } finally {
        await p.dispose?.();
      }
    }
  }
}

const base = await loadPeers();
const plain = base.find((p) => p.name === 'plain-js') ?? (await createPlainPeer());
const peers = [...base.filter((p) => p !== plain), ...(await variantPeers(base))];
const ok = await agreement([...peers, plain]);
if (!process.argv.includes('--no-timing')) await timings([...peers, plain]);
for (const p of peers) await p.dispose?.();
if (!ok) {
  console.error('check: some peers disagree with the float64 reference');
  process.exit(1);
}
