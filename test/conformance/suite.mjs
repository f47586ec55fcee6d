// Conformance suite: one file that runs unchanged in Node, Deno, Bun, Chromium and workerd, through
// the public API only (the caller passes the module it imported as `api`). Every case builds its
// inputs in code from a seed, checks its results against a float64 reference computed here (for
// MultiHeadAttention from the instance's stateDict(); the KV cache's steps also against the library's
// own causal forward; options.out bit for bit against a fresh result), and returns a digest of the exact output bits
// (FNV-1a over the Float32Array bytes) and a few sample values, so that test/runtimes/ can compare
// each runtime with Node bit for bit.
//   Shapes: B batch, H heads, L query length, S key length, E query/key width, Ev value width;
//   matmul M×K · K×N; MHA embedDim Em, numHeads H, numKVHeads Hkv.
// Plain JavaScript, no imports, no runtime globals beyond ECMAScript (so no transpiler is needed),
// and no Math.exp/sin/…  in the inputs (those may round differently between engines).
// Tolerances are relative to each row: weights and softmax rows to their largest value, attention
// outputs to the largest magnitude they are summed from (Σ_j w_ij·|v_j|, through the projections on
// absolute values for MHA), matmul results to max(1, max |C|).

/**
 * mulberry32: a small seeded PRNG. Integer ops and one exact division: the same in every engine.
 * A copy of src/random.ts's: this file runs from a project with only the packed package installed,
 * whose public API does not (and should not) export it; test/conformance/suite.test.ts checks that
 * the two give the same numbers.
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n floats uniform in [lo, hi), rounded to f32. */
function uniform(rand, n, lo = -1, hi = 1) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = lo + (hi - lo) * rand();
  return x;
}

function bits(rand, n, pOne) {
  const x = new Uint8Array(n);
  for (let i = 0; i < n; i++) x[i] = rand() < pOne ? 1 : 0;
  return x;
}

const tensor = (data, shape) => ({ data, shape });

/** FNV-1a (32-bit) over the bytes of each array in turn, as 8 hex digits. */
export function fnv1a(arrays) {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** Samples of the outputs: first, ⅓, ⅔ and last element of each (exact f32 values as numbers). */
function samples(arrays) {
  const out = [];
  for (const a of arrays) {
    if (a.length === 0) continue;
    for (const i of [0, Math.floor(a.length / 3), Math.floor((2 * a.length) / 3), a.length - 1]) out.push(a[i]);
  }
  return out;
}

// ---- float64 references (plain loops, written for reading) ----

/** C[b] = A[b]·B[b] with A [Ba, M, K] (or [K, M] per batch if tA), B [Bb, K, N] (or [N, K] if tB), batch broadcast from size 1. */
function refMatmul(a, b, batch, aBatch, bBatch, M, K, N, tA = false, tB = false) {
  const c = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const ao = (aBatch === 1 ? 0 : z) * M * K, bo = (bBatch === 1 ? 0 : z) * K * N;
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ao + (tA ? k * M + i : i * K + k)] * b[bo + (tB ? j * K + k : k * N + j)];
      c[z * M * N + i * N + j] = s;
    }
  }
  return c;
}

/** Row softmax over the last axis; an all -Infinity row gives zeros. */
function refSoftmaxRow(s) {
  let m = -Infinity;
  for (const x of s) m = Math.max(m, x);
  if (m === -Infinity) return s.map(() => 0);
  const e = s.map((x) => Math.exp(x - m));
  const sum = e.reduce((p, x) => p + x, 0);
  return e.map((x) => x / sum);
}

/**
 * SDPA per (batch·head) z: softmax(q·kᵀ·scale + mask(z,i,j)) · v; mask(z, i, j) returns a number to add
 * (−Infinity drops). Causal is bottom-right: j ≤ i + S − L. Also mag = Σ_j w_ij·|v_j| (or vMag_j, the
 * values' own magnitudes, when given): the size each output is summed from, which bounds its error.
 */
function refSdpa(q, k, v, Z, L, S, E, Ev, scale, causal, mask, vMag = null) {
  const o = new Float64Array(Z * L * Ev), w = new Float64Array(Z * L * S), mag = new Float64Array(Z * L * Ev);
  for (let z = 0; z < Z; z++) for (let i = 0; i < L; i++) {
    const s = [];
    for (let j = 0; j < S; j++) {
      let d = 0;
      for (let e = 0; e < E; e++) d += q[(z * L + i) * E + e] * k[(z * S + j) * E + e];
      let x = d * scale + (mask ? mask(z, i, j) : 0);
      if (causal && j > i + S - L) x = -Infinity;
      s.push(x);
    }
    const p = refSoftmaxRow(s);
    for (let j = 0; j < S; j++) {
      w[(z * L + i) * S + j] = p[j];
      if (p[j] === 0) continue;
      for (let e = 0; e < Ev; e++) {
        o[(z * L + i) * Ev + e] += p[j] * v[(z * S + j) * Ev + e];
        mag[(z * L + i) * Ev + e] += p[j] * Math.abs((vMag ?? v)[(z * S + j) * Ev + e]);
      }
    }
  }
  return { o, w, mag };
}

/** y[n, o] = Σ_i x[n, i]·W[o, i] + b[o] (a PyTorch Linear) on rows of x [rows, inp]. */
function refLinear(x, rows, inp, W, out, b) {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inp; i++) s += x[r * inp + i] * W[o * inp + i];
    y[r * out + o] = s;
  }
  return y;
}

const absOf = (x) => (x ? Float64Array.from(x, Math.abs) : null);

/** An instance's weights, from its public stateDict() (PyTorch's names). */
function weightsOf(mha) {
  const sd = mha.stateDict(), E = mha.embedDim, Ekv = mha.numKVHeads * mha.headDim;
  const w = sd.in_proj_weight
    ? { Wq: sd.in_proj_weight.data.subarray(0, E * E), Wk: sd.in_proj_weight.data.subarray(E * E, 2 * E * E), Wv: sd.in_proj_weight.data.subarray(2 * E * E) }
    : { Wq: sd.q_proj_weight.data, Wk: sd.k_proj_weight.data, Wv: sd.v_proj_weight.data };
  w.Wo = sd["out_proj.weight"].data;
  const bin = sd.in_proj_bias?.data;
  if (bin) Object.assign(w, { bq: bin.subarray(0, E), bk: bin.subarray(E, E + Ekv), bv: bin.subarray(E + Ekv), bo: sd["out_proj.bias"].data });
  return w;
}

/**
 * MultiHeadAttention.forward in float64 (batch first): xq [B, L, E], xk [B, S, kdim], xv [B, S, vdim];
 * H heads over Hkv K/V heads (head h uses K/V head ⌊h / (H/Hkv)⌋); mask(b, h, i, j) adds a number
 * (−Infinity drops). Returns out [B, L, E], per-head weights [B, H, L, S], and mag [B, L, E] (the value
 * path on absolute values: see refSdpa).
 */
function refMha(mha, xq, xk, xv, B, L, S, causal, mask) {
  const E = mha.embedDim, H = mha.numHeads, Hkv = mha.numKVHeads, D = mha.headDim, Ekv = Hkv * D, W = weightsOf(mha);
  const q = refLinear(xq, B * L, E, W.Wq, E, W.bq), k = refLinear(xk, B * S, mha.kdim, W.Wk, Ekv, W.bk);
  const v = refLinear(xv, B * S, mha.vdim, W.Wv, Ekv, W.bv), vm = refLinear(absOf(xv), B * S, mha.vdim, absOf(W.Wv), Ekv, absOf(W.bv));
  const qh = new Float64Array(B * H * L * D), kh = new Float64Array(B * H * S * D), vh = new Float64Array(B * H * S * D), vmh = new Float64Array(B * H * S * D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / Hkv));
    for (let i = 0; i < L; i++) for (let d = 0; d < D; d++) qh[((b * H + h) * L + i) * D + d] = q[(b * L + i) * E + h * D + d];
    for (let j = 0; j < S; j++) for (let d = 0; d < D; d++) {
      const at = ((b * H + h) * S + j) * D + d, from = (b * S + j) * Ekv + g * D + d;
      kh[at] = k[from]; vh[at] = v[from]; vmh[at] = vm[from];
    }
  }
  const a = refSdpa(qh, kh, vh, B * H, L, S, D, D, 1 / Math.sqrt(D), causal,
    mask ? (z, i, j) => mask(Math.floor(z / H), z % H, i, j) : null, vmh);
  const ctx = new Float64Array(B * L * E), ctxm = new Float64Array(B * L * E);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) for (let d = 0; d < D; d++) {
    ctx[(b * L + i) * E + h * D + d] = a.o[((b * H + h) * L + i) * D + d];
    ctxm[(b * L + i) * E + h * D + d] = a.mag[((b * H + h) * L + i) * D + d];
  }
  return { out: refLinear(ctx, B * L, E, W.Wo, E, W.bo), w: a.w, mag: refLinear(ctxm, B * L, E, absOf(W.Wo), E, absOf(W.bo)) };
}

/** Per-head weights [B, H, L·S] averaged over heads → [B, L·S]. */
function meanOverHeads(w, B, H, n) {
  const out = new Float64Array(B * n);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) out[b * n + i] += w[(b * H + h) * n + i] / H;
  return out;
}

/**
 * Row by row ([rows, cols]): max over rows of max_j |got − ref| / scale_r, scale_r = the row's largest
 * finite |mag| (mag defaults to ref). A row of scale 0 must be exactly 0. Infinity if a NaN shows up
 * where ref has none, or the lengths differ.
 */
function rowDiff(got, ref, cols, mag = ref) {
  if (got.length !== ref.length || mag.length !== ref.length || ref.length % cols !== 0) return Infinity;
  let d = 0;
  for (let r = 0; r < ref.length / cols; r++) {
    let scale = 0, worst = 0;
    for (let j = r * cols; j < (r + 1) * cols; j++) if (Number.isFinite(mag[j])) scale = Math.max(scale, Math.abs(mag[j]));
    for (let j = r * cols; j < (r + 1) * cols; j++) {
      const x = Math.abs(got[j] - ref[j]);
      if (Number.isNaN(x)) return Infinity;
      worst = Math.max(worst, x);
    }
    d = Math.max(d, worst === 0 ? 0 : scale === 0 ? Infinity : worst / scale);
  }
  return d;
}

/** max |got − ref| / max(1, max |ref|) (matmul results); Infinity if a NaN shows up or the lengths differ. */
function relDiff(got, ref) {
  if (got.length !== ref.length) return Infinity;
  let scale = 1, d = 0;
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
  for (let i = 0; i < ref.length; i++) {
    const x = Math.abs(got[i] - ref[i]);
    if (Number.isNaN(x)) return Infinity;
    d = Math.max(d, x);
  }
  return d / scale;
}

// ---- the cases: each returns { outputs: Float32Array[], diff: number, tol: number } ----

const CASES = [
  ["matmul_batch_broadcast", (api) => {   // [2, M, K] · [K, N], M=33 K=70 N=29: tails in every dim
    const r = mulberry32(1), M = 33, K = 70, N = 29;
    const a = uniform(r, 2 * M * K), b = uniform(r, K * N);
    const c = api.matmul(tensor(a, [2, M, K]), tensor(b, [K, N]));
    return { outputs: [c.data], diff: relDiff(c.data, refMatmul(a, b, 2, 2, 1, M, K, N)), tol: 1e-5 };
  }],
  ["matmul_transposed", (api) => {   // x·Wᵀ (a Linear layer) and aᵀ·b, M=5 K=64 N=48
    const r = mulberry32(2), M = 5, K = 64, N = 48;
    const x = uniform(r, M * K), w = uniform(r, N * K), at = uniform(r, K * M), b = uniform(r, K * N);
    const c1 = api.matmul(tensor(x, [M, K]), tensor(w, [N, K]), { transposeB: true });
    const c2 = api.matmul(tensor(at, [K, M]), tensor(b, [K, N]), { transposeA: true });
    const diff = Math.max(relDiff(c1.data, refMatmul(x, w, 1, 1, 1, M, K, N, false, true)), relDiff(c2.data, refMatmul(at, b, 1, 1, 1, M, K, N, true, false)));
    return { outputs: [c1.data, c2.data], diff, tol: 1e-5 };
  }],
  ["softmax_rows", (api) => {   // [7, 67] in 90…100 (exp would overflow without the max), one row all -Infinity
    const r = mulberry32(3), rows = 7, cols = 67;
    const x = uniform(r, rows * cols, 90, 100);
    x.fill(-Infinity, 4 * cols, 5 * cols);
    const y = api.softmax(tensor(x, [rows, cols]));
    const ref = [];
    for (let i = 0; i < rows; i++) ref.push(...refSoftmaxRow(Array.from(x.subarray(i * cols, (i + 1) * cols))));
    return { outputs: [y.data], diff: rowDiff(y.data, ref, cols), tol: 1e-5 };
  }],
  ["sdpa_plain", (api) => {   // [B=2, H=3, L=53, E=24] over S=37, Ev=20: two row blocks (BM = 40, or 48 relaxed)
    const r = mulberry32(4), B = 2, H = 3, L = 53, S = 37, E = 24, Ev = 20;
    const q = uniform(r, B * H * L * E), k = uniform(r, B * H * S * E), v = uniform(r, B * H * S * Ev);
    const { output } = api.scaledDotProductAttention(tensor(q, [B, H, L, E]), tensor(k, [B, H, S, E]), tensor(v, [B, H, S, Ev]));
    const { o, mag } = refSdpa(q, k, v, B * H, L, S, E, Ev, 1 / Math.sqrt(E), false, null);
    return { outputs: [output.data], diff: rowDiff(output.data, o, Ev, mag), tol: 1e-5 };
  }],
  ["sdpa_causal_weights", (api) => {   // causal with L=41 < S=53 (bottom-right), returnWeights
    const r = mulberry32(5), H = 2, L = 41, S = 53, E = 16, Ev = 12;
    const q = uniform(r, H * L * E), k = uniform(r, H * S * E), v = uniform(r, H * S * Ev);
    const { output, weights } = api.scaledDotProductAttention(tensor(q, [H, L, E]), tensor(k, [H, S, E]), tensor(v, [H, S, Ev]), { causal: true, returnWeights: true });
    const { o, w, mag } = refSdpa(q, k, v, H, L, S, E, Ev, 1 / Math.sqrt(E), true, null);
    return { outputs: [output.data, weights.data], diff: Math.max(rowDiff(output.data, o, Ev, mag), rowDiff(weights.data, w, S)), tol: 1e-5 };
  }],
  ["sdpa_bool_mask", (api) => {   // Uint8Array mask [L, S] broadcast over [B, H]; query row 2 fully masked → zeros
    const r = mulberry32(6), B = 2, H = 2, L = 9, S = 23, E = 8, Ev = 8;
    const q = uniform(r, B * H * L * E), k = uniform(r, B * H * S * E), v = uniform(r, B * H * S * Ev);
    const m = bits(r, L * S, 0.6);
    m.fill(0, 2 * S, 3 * S);
    const { output, weights } = api.scaledDotProductAttention(tensor(q, [B, H, L, E]), tensor(k, [B, H, S, E]), tensor(v, [B, H, S, Ev]),
      { mask: tensor(m, [L, S]), returnWeights: true });
    const { o, w, mag } = refSdpa(q, k, v, B * H, L, S, E, Ev, 1 / Math.sqrt(E), false, (z, i, j) => (m[i * S + j] ? 0 : -Infinity));
    return { outputs: [output.data, weights.data], diff: Math.max(rowDiff(output.data, o, Ev, mag), rowDiff(weights.data, w, S)), tol: 1e-5 };
  }],
  ["sdpa_float_mask_causal_scale", (api) => {   // additive f32 mask [B, 1, L, S] (some −Infinity) + causal + scale 0.3
    const r = mulberry32(7), B = 2, H = 3, L = 17, S = 17, E = 5, Ev = 7;
    const q = uniform(r, B * H * L * E), k = uniform(r, B * H * S * E), v = uniform(r, B * H * S * Ev);
    const m = uniform(r, B * L * S, -2, 2);
    for (let i = 0; i < m.length; i += 5) m[i] = -Infinity;
    const { output } = api.scaledDotProductAttention(tensor(q, [B, H, L, E]), tensor(k, [B, H, S, E]), tensor(v, [B, H, S, Ev]),
      { mask: tensor(m, [B, 1, L, S]), causal: true, scale: 0.3 });
    const { o, mag } = refSdpa(q, k, v, B * H, L, S, E, Ev, 0.3, true, (z, i, j) => m[(Math.floor(z / H) * L + i) * S + j]);
    return { outputs: [output.data], diff: rowDiff(output.data, o, Ev, mag), tol: 1e-5 };
  }],
  ["sdpa_decode_step", (api) => {   // one query over S=70 keys (causal: sees all), [H=4, 1, 32]
    const r = mulberry32(8), H = 4, L = 1, S = 70, E = 32, Ev = 32;
    const q = uniform(r, H * L * E), k = uniform(r, H * S * E), v = uniform(r, H * S * Ev);
    const { output } = api.scaledDotProductAttention(tensor(q, [H, L, E]), tensor(k, [H, S, E]), tensor(v, [H, S, Ev]), { causal: true });
    const { o, mag } = refSdpa(q, k, v, H, L, S, E, Ev, 1 / Math.sqrt(E), true, null);
    return { outputs: [output.data], diff: rowDiff(output.data, o, Ev, mag), tol: 1e-5 };
  }],
  ["mha_self_padding_weights", (api) => {   // Em=32, H=4, seeded weights, key padding mask, averaged weights vs float64
    const r = mulberry32(9), B = 2, L = 11, Em = 32, H = 4;
    const mha = new api.MultiHeadAttention({ embedDim: Em, numHeads: H, seed: 42 });
    try {
      const x = uniform(r, B * L * Em);
      const pad = new Uint8Array(B * L);
      pad.fill(1, L - 3, L);   // batch 0: last 3 positions are padding
      const { output, weights } = mha.forward(tensor(x, [B, L, Em]), undefined, undefined, { keyPaddingMask: tensor(pad, [B, L]), needWeights: true });
      const ref = refMha(mha, x, x, x, B, L, L, false, (b, h, i, j) => (pad[b * L + j] ? -Infinity : 0));
      let diff = Math.max(rowDiff(output.data, ref.out, Em, ref.mag), rowDiff(weights.data, meanOverHeads(ref.w, B, H, L * L), L));
      for (let i = 0; i < L; i++) for (let j = L - 3; j < L; j++) if (weights.data[i * L + j] !== 0) diff = Infinity;   // padding: exactly 0
      return { outputs: [output.data, weights.data], diff, tol: 1e-5 };
    } finally { mha.dispose(); }
  }],
  ["mha_cross_gqa", (api) => {   // cross-attention, Em=24 H=6 Hkv=2 (GQA), kdim=10 vdim=14, attnMask [L, S]
    const r = mulberry32(10), B = 2, L = 7, S = 13, Em = 24;
    const mha = new api.MultiHeadAttention({ embedDim: Em, numHeads: 6, numKVHeads: 2, kdim: 10, vdim: 14, seed: 7 });
    try {
      const xq = uniform(r, B * L * Em), xk = uniform(r, B * S * 10), xv = uniform(r, B * S * 14);
      const m = bits(r, L * S, 0.8);
      for (let i = 0; i < L; i++) m[i * S] = 1;   // every row keeps key 0
      const args = [tensor(xq, [B, L, Em]), tensor(xk, [B, S, 10]), tensor(xv, [B, S, 14])];
      const { output } = mha.forward(...args, { attnMask: tensor(m, [L, S]) });
      const withW = mha.forward(...args, { attnMask: tensor(m, [L, S]), needWeights: true, averageWeights: false });
      const ref = refMha(mha, xq, xk, xv, B, L, S, false, (b, h, i, j) => (m[i * S + j] ? 0 : -Infinity));
      const diff = Math.max(rowDiff(output.data, ref.out, Em, ref.mag), rowDiff(withW.output.data, ref.out, Em, ref.mag), rowDiff(withW.weights.data, ref.w, S));
      return { outputs: [output.data, withW.output.data, withW.weights.data], diff, tol: 1e-5 };
    } finally { mha.dispose(); }
  }],
  ["mha_kv_cache", (api) => {   // Em=32 H=4: a 6-token prefix, then 3 single-token steps == one causal forward over 9
    const r = mulberry32(11), B = 2, T = 9, P = 6, Em = 32;
    const mha = new api.MultiHeadAttention({ embedDim: Em, numHeads: 4, seed: 3 });
    try {
      const x = uniform(r, B * T * Em);
      const rows = (t0, t1) => {   // x[:, t0:t1, :]
        const out = new Float32Array(B * (t1 - t0) * Em);
        for (let b = 0; b < B; b++) out.set(x.subarray((b * T + t0) * Em, (b * T + t1) * Em), b * (t1 - t0) * Em);
        return tensor(out, [B, t1 - t0, Em]);
      };
      const full = mha.forward(tensor(x, [B, T, Em]), undefined, undefined, { causal: true }).output.data;
      const cache = mha.createCache({ batch: B, maxLength: T });
      const steps = [mha.forward(rows(0, P), undefined, undefined, { cache }).output.data];
      for (let t = P; t < T; t++) steps.push(mha.forward(rows(t, t + 1), undefined, undefined, { cache }).output.data);
      const stitched = new Float32Array(B * T * Em);   // the step outputs put back in [B, T, Em] order
      for (let b = 0; b < B; b++) {
        stitched.set(steps[0].subarray(b * P * Em, (b + 1) * P * Em), b * T * Em);
        for (let t = P; t < T; t++) stitched.set(steps[t - P + 1].subarray(b * Em, (b + 1) * Em), (b * T + t) * Em);
      }
      const ref = refMha(mha, x, x, x, B, T, T, true, null);   // the causal forward against float64, the steps against both
      const diff = Math.max(rowDiff(full, ref.out, Em, ref.mag), rowDiff(stitched, ref.out, Em, ref.mag), rowDiff(stitched, full, Em, ref.mag));
      return { outputs: [full, ...steps], diff: cache.length === T ? diff : Infinity, tol: 1e-5 };
    } finally { mha.dispose(); }
  }],
  ["transformer_layers", (api) => {   // an encoder layer (E=24 H=3 FF=40, post-norm, ReLU) against float64; a 2-layer pre-norm GELU decoder's cached steps == its causal forward
    const r = mulberry32(13), B = 2, L = 7, S = 5, T = 6, P = 3, Em = 24, FF = 40;
    const enc = new api.TransformerEncoderLayer({ dModel: Em, nhead: 3, dimFeedforward: FF, seed: 2 });
    const dec = new api.TransformerDecoder({ layer: { dModel: Em, nhead: 3, dimFeedforward: FF, normFirst: true, activation: "gelu", seed: 3 }, numLayers: 2, norm: true });
    try {
      const x = uniform(r, B * L * Em, -2, 2);
      const y = enc.forward(tensor(x, [B, L, Em])).data;
      // float64: x1 = norm1(x + SA(x)); y = norm2(x1 + linear2(relu(linear1(x1))))
      const sd = enc.stateDict();
      const sub = {};
      for (const k of Object.keys(sd)) if (k.startsWith("self_attn.")) sub[k.slice(10)] = sd[k];
      const sa = refMha({ stateDict: () => sub, embedDim: Em, numHeads: 3, numKVHeads: 3, headDim: Em / 3, kdim: Em, vdim: Em }, x, x, x, B, L, L, false, null).out;
      const norm = (v, p) => {
        const out = new Float64Array(v.length), w = sd[p + ".weight"].data, b = sd[p + ".bias"].data;
        for (let i = 0; i < v.length / Em; i++) {
          let mean = 0, vr = 0;
          for (let e = 0; e < Em; e++) mean += v[i * Em + e] / Em;
          for (let e = 0; e < Em; e++) vr += (v[i * Em + e] - mean) ** 2 / Em;
          for (let e = 0; e < Em; e++) out[i * Em + e] = (v[i * Em + e] - mean) / Math.sqrt(vr + 1e-5) * w[e] + b[e];
        }
        return out;
      };
      const x1 = norm(Float64Array.from(x, (v, i) => v + sa[i]), "norm1");
      const h = refLinear(x1, B * L, Em, sd["linear1.weight"].data, FF, sd["linear1.bias"].data).map((v) => Math.max(v, 0));
      const f = refLinear(h, B * L, FF, sd["linear2.weight"].data, Em, sd["linear2.bias"].data);
      const ref = norm(Float64Array.from(x1, (v, i) => v + f[i]), "norm2");
      // the decoder: a prefix of P target tokens, then single steps, through its cache
      const tgt = uniform(r, B * T * Em, -2, 2), memory = tensor(uniform(r, B * S * Em, -2, 2), [B, S, Em]);
      const full = dec.forward(tensor(tgt, [B, T, Em]), memory, { tgtIsCausal: true }).data;
      const rows = (t0, t1) => {
        const out = new Float32Array(B * (t1 - t0) * Em);
        for (let b = 0; b < B; b++) out.set(tgt.subarray((b * T + t0) * Em, (b * T + t1) * Em), b * (t1 - t0) * Em);
        return tensor(out, [B, t1 - t0, Em]);
      };
      const cache = dec.createCache({ batch: B, maxLength: T });
      const steps = [dec.forward(rows(0, P), memory, { cache }).data];
      for (let t = P; t < T; t++) steps.push(dec.forward(rows(t, t + 1), memory, { cache }).data);
      const stitched = new Float32Array(B * T * Em);
      for (let b = 0; b < B; b++) {
        stitched.set(steps[0].subarray(b * P * Em, (b + 1) * P * Em), b * T * Em);
        for (let t = P; t < T; t++) stitched.set(steps[t - P + 1].subarray(b * Em, (b + 1) * Em), (b * T + t) * Em);
      }
      const diff = Math.max(rowDiff(y, ref, Em) / 2, rowDiff(stitched, full, Em) * 10);   // y to 2e-5, the steps to 1e-6
      return { outputs: [y, full, ...steps], diff, tol: 1e-5 };
    } finally { enc.dispose(); dec.dispose(); }
  }],
  ["rotary", (api) => {   // applyRotary at positions near 100 000 (both pair layouts, partial dim) against float64: its cos/sin tables are made from + − × ÷ only, the same bits everywhere
    const r = mulberry32(14), L = 33, D = 64;
    const x = uniform(r, L * D);
    const positions = Int32Array.from({ length: L }, (_, i) => 99000 + 37 * i);
    const a = api.applyRotary(tensor(x, [L, D]), { offset: 99000 }).data;
    const b = api.applyRotary(tensor(x, [L, D]), { positions, dim: 32, base: 500000, interleaved: true }).data;
    const ref = (pos, dim, base, inter) => {
      const y = Float64Array.from(x);
      for (let i = 0; i < L; i++) for (let d = 0; d < dim / 2; d++) {
        const th = pos(i) * Math.pow(base, -2 * d / dim), c = Math.cos(th), s = Math.sin(th);
        const j0 = i * D + (inter ? 2 * d : d), j1 = i * D + (inter ? 2 * d + 1 : d + dim / 2);
        y[j0] = x[j0] * c - x[j1] * s;
        y[j1] = x[j1] * c + x[j0] * s;
      }
      return y;
    };
    const diff = Math.max(rowDiff(a, ref((i) => 99000 + i, D, 10000, false), D), rowDiff(b, ref((i) => positions[i], 32, 500000, true), D));
    return { outputs: [a, b], diff, tol: 1e-5 };
  }],
  ["softcap_alibi", (api) => {   // H=3 L=9 S=13 E=8: soft-capping at 2 (scores up to ~8, so the cap bends them) with ALiBi slopes under a causal mask, weights too, against float64
    const r = mulberry32(15), H = 3, L = 9, S = 13, E = 8, cap = 2;
    const q = uniform(r, H * L * E, -2, 2), k = uniform(r, H * S * E, -2, 2), v = uniform(r, H * S * E);
    const slopes = Float32Array.from([0.5, 0.25, 0.125]);
    const { output, weights } = api.scaledDotProductAttention(tensor(q, [H, L, E]), tensor(k, [H, S, E]), tensor(v, [H, S, E]),
      { causal: true, softcap: cap, alibiSlopes: slopes, returnWeights: true });
    const refO = new Float64Array(H * L * E), refW = new Float64Array(H * L * S), mag = new Float64Array(H * L * E);
    for (let h = 0; h < H; h++) for (let i = 0; i < L; i++) {
      const p = i + S - L, sc = new Float64Array(S).fill(-Infinity);
      for (let j = 0; j <= p; j++) {
        let d = 0;
        for (let e = 0; e < E; e++) d += q[(h * L + i) * E + e] * k[(h * S + j) * E + e];
        sc[j] = cap * Math.tanh(d / Math.sqrt(E) / cap) - slopes[h] * (p - j);
      }
      const w = refSoftmaxRow(sc);
      for (let j = 0; j < S; j++) {
        refW[(h * L + i) * S + j] = w[j];
        for (let e = 0; e < E; e++) {
          refO[(h * L + i) * E + e] += w[j] * v[(h * S + j) * E + e];
          mag[(h * L + i) * E + e] += w[j] * Math.abs(v[(h * S + j) * E + e]);
        }
      }
    }
    return { outputs: [output.data, weights.data], diff: Math.max(rowDiff(output.data, refO, E, mag), rowDiff(weights.data, refW, S)), tol: 1e-5 };
  }],
  ["out_option", (api) => {   // options.out on every function: the same bits as a fresh result, written into the given array
    const r = mulberry32(12), M = 9, K = 21, N = 9, H = 2, L = 5, S = 19, E = 8, Em = 16;
    const a = uniform(r, M * K), b = uniform(r, K * N), x = uniform(r, 3 * 33, -5, 5);
    const q = uniform(r, H * L * E), k = uniform(r, H * S * E), v = uniform(r, H * S * E), xm = uniform(r, L * Em);
    const mha = new api.MultiHeadAttention({ embedDim: Em, numHeads: 2, seed: 5 });
    try {
      const fresh = [
        api.matmul(tensor(a, [M, K]), tensor(b, [K, N])).data,
        api.softmax(tensor(x, [3, 33])).data,
        api.scaledDotProductAttention(tensor(q, [H, L, E]), tensor(k, [H, S, E]), tensor(v, [H, S, E]), { causal: true }).output.data,
        mha.forward(tensor(xm, [L, Em])).output.data,
      ];
      const outs = [new Float32Array(M * N), x, new Float32Array(H * L * E).fill(NaN), new Float32Array(L * Em)];
      const got = [
        api.matmul(tensor(a, [M, K]), tensor(b, [K, N]), { out: outs[0] }).data,
        api.softmax(tensor(x, [3, 33]), { out: outs[1] }).data,   // in place
        api.scaledDotProductAttention(tensor(q, [H, L, E]), tensor(k, [H, S, E]), tensor(v, [H, S, E]), { causal: true, out: outs[2] }).output.data,
        mha.forward(tensor(xm, [L, Em]), undefined, undefined, { out: outs[3] }).output.data,
      ];
      let same = got.every((g, i) => g === outs[i]);
      for (let i = 0; i < 4 && same; i++) same = fnv1a([got[i]]) === fnv1a([fresh[i]]);
      return { outputs: got, diff: same ? 0 : Infinity, tol: 0 };
    } finally { mha.dispose(); }
  }],
];

export const CASE_NAMES = CASES.map(([name]) => name);

/**
 * Runs every case under each build. `sourceFor(build)`, if given, is passed to init as the
 * kernels' source (a URL, bytes or a Module); otherwise the entry's default is used. A build named
 * "<build>+t<n>" runs <build> with init({ threads: n }) (and the entry's default source).
 * Returns { builds: [{ build, info, cases: [{ name, digest, n, samples, diff, tol, ok, error? }] } | { build, error, errorName }] }.
 */
export async function runConformance(api, builds, sourceFor) {
  const result = { builds: [] };
  for (const build of builds) {
    let info;
    try {
      // "simd+t2": the simd build on 2 threads (init's default source: its shared-memory variant)
      const [name, threads] = build.split("+t");
      info = await api.init(threads ? { build: name, threads: Number(threads) } : sourceFor ? { build, source: await sourceFor(build) } : { build });
    } catch (e) {
      result.builds.push({ build, error: `init: ${e && e.stack || e}`, errorName: e && e.name });
      continue;
    }
    const cases = [];
    for (const [name, fn] of CASES) {
      try {
        const { outputs, diff, tol } = fn(api);
        cases.push({
          name, digest: fnv1a(outputs), n: outputs.reduce((s, a) => s + a.length, 0), samples: samples(outputs),
          diff, tol, ok: diff <= tol,
        });
      } catch (e) {
        cases.push({ name, ok: false, error: String(e && e.stack || e) });
      }
    }
    result.builds.push({ build, info, cases });
  }
  return result;
}
