// Low-rank (Linformer) attention: scaledDotProductAttention's keyProjection / valueProjection options.
//   E, F [k, S]: attention runs over E·K [..., k, D] and F·V [..., k, Dv] instead of K and V, so the
//   scores are L × k: O(L·k) instead of O(L·S) (plus the projections, O(k·S·D)). The projections are
//   matmul's GEMMs; the attention is the fused kernel over the k projected keys.
// Masks over the S keys (causal, padding, mask, window, blockSparse) and ALiBi's key positions do not
// commute with the projection, so they are refused with a TypeError naming the option.
import { matmul } from "./matmul.js";
import { type Tensor, checkTensor, fmtShape, rangeError, typeError } from "./validate.js";

/** The options refused together with a projection (they address the S keys one by one). */
const POSITIONAL = ["mask", "causal", "window", "blockSparse", "alibiSlopes"] as const;

/**
 * Checks query/key/value as scaledDotProductAttention does (shapes and batch dims), then the
 * projections and the options that cannot combine with them; returns the projected key and value
 * ([...batch, k, E], [...batch, k, Ev]). `sdpa` is then called on them with the other options.
 */
export function projectKeys(fn: string, query: Tensor, key: Tensor, value: Tensor, o: Record<string, unknown>): { key: Tensor; value: Tensor } {
  const Q = checkTensor(fn, "query", query, 2, "[...batch, L, E]");
  const K = checkTensor(fn, "key", key, 2, "[...batch, S, E]");
  const V = checkTensor(fn, "value", value, 2, "[...batch, S, Ev]");
  const r = Q.shape.length;
  const batch = Q.shape.slice(0, -2);
  for (const [name, t] of [["key", K], ["value", V]] as const) {
    if (t.shape.length !== r || t.shape.slice(0, -2).some((d, i) => d !== batch[i])) {
      throw rangeError(fn, `${name}.shape`, `have the same leading (batch) dims as query ${fmtShape(batch)}`, fmtShape(t.shape));
    }
  }
  const S = K.shape[r - 2], E = Q.shape[r - 1];
  if (K.shape[r - 1] !== E) throw rangeError(fn, `key.shape[${r - 1}]`, `equal E = ${E} (query.shape ${fmtShape(Q.shape)})`, K.shape[r - 1]);
  if (V.shape[r - 2] !== S) throw rangeError(fn, `value.shape[${r - 2}]`, `equal S = ${S} (key.shape ${fmtShape(K.shape)})`, V.shape[r - 2]);
  for (const name of POSITIONAL) {
    if (o[name] !== undefined && o[name] !== false) {
      throw new TypeError(`${fn}: options.${name} cannot be combined with options.keyProjection/valueProjection: it addresses the ${S} keys one by one, and the projection mixes them (Linformer attends over k projected keys)`);
    }
  }
  if (o.keyProjection === undefined) throw typeError(fn, "options.keyProjection", "a tensor { data: Float32Array, shape: [k, S] } (valueProjection alone is not enough)", undefined);
  const P = checkProjection(fn, "options.keyProjection", o.keyProjection, S);
  const F = o.valueProjection === undefined ? P : checkProjection(fn, "options.valueProjection", o.valueProjection, S);
  if (F.shape[0] !== P.shape[0]) {
    throw rangeError(fn, "options.valueProjection.shape[0]", `equal keyProjection's k = ${P.shape[0]}`, F.shape[0]);
  }
  return { key: matmul(P, K), value: matmul(F, V) };
}

function checkProjection(fn: string, arg: string, v: unknown, S: number): Tensor {
  const t = checkTensor(fn, arg, v, 2, "[k, S]");
  if (t.shape.length !== 2) throw rangeError(fn, `${arg}.shape`, "be [k, S] (rank 2: one projection for every slice)", fmtShape(t.shape));
  if (t.shape[1] !== S) throw rangeError(fn, `${arg}.shape[1]`, `equal the key length S = ${S}`, t.shape[1]);
  if (t.shape[0] < 1) throw rangeError(fn, `${arg}.shape[0]`, "be ≥ 1 (k projected keys)", t.shape[0]);
  return t;
}
