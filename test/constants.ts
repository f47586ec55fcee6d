// The kernels' block constants for the build under test, read from their definitions in assembly/
// (`@inline const` there: compiled into the code, neither exports of the module nor API), so that test
// sizes are derived from them and follow a change: K at KC − 1, KC, KC + 1, 2·KC + 3 … instead of
// numbers that crossed a block once. test/constants.test.ts checks them against what the running
// build does (MR, BM and DIRECT_L as its exports report them; KC, NC, BN, PA through its scratch
// sizes), so a definition this cannot read, or reads wrong, fails there.
//   MR × NR: the GEMM micro-tile (rows × columns); PA: floats per k step of a packed A panel;
//   KC, NC: the GEMM's k- and n-blocks; BM: query rows per attention block; BN: keys per attention
//   tile; DIRECT_L: query rows up to which attention skips packing; DECODE_ROWS: V rows per block of
//   the one-query (direct/decode) path.
import { readFileSync } from "node:fs";

/** The build under test (as test/helpers.ts reads it; not imported from there, which imports this). */
const BUILD = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.WASM_ATTENTION_BUILD ?? "simd";

/** Compile-time features of each build (asconfig.json's targets). */
const FEATURES: Record<string, { simd: boolean; relaxed: boolean }> = {
  simd: { simd: true, relaxed: false }, debug: { simd: true, relaxed: false },
  relaxed: { simd: true, relaxed: true }, scalar: { simd: false, relaxed: false },
};

/** Evaluates the `@inline [export] const NAME: i32 = expr;` definitions of `names` in assembly/<file>, in order. */
function read(file: string, names: Record<string, string>, known: Record<string, number>): Record<string, number> {
  const text = readFileSync(new URL(`../assembly/${file}`, import.meta.url), "utf8");
  const out = { ...known };
  for (const [key, name] of Object.entries(names)) {
    const m = new RegExp(`@inline\\s+(?:export\\s+)?const\\s+${name}\\s*:\\s*i32\\s*=\\s*([^;]+);`).exec(text);
    if (!m) throw new Error(`test/constants.ts: no "@inline const ${name}: i32 = …;" in assembly/${file}`);
    const expr = m[1].trim();
    if (!/^[\w\s?:*/+()-]+$/.test(expr)) throw new Error(`test/constants.ts: cannot evaluate ${name} = ${expr}`);
    const args = Object.keys(out);
    const value = new Function(...args, `return (${expr}) | 0;`)(...args.map((a) => out[a])) as number;
    if (!Number.isInteger(value) || value < 1) throw new Error(`test/constants.ts: ${name} = ${expr} gave ${value}`);
    out[key] = value;
  }
  return out;
}

const f = FEATURES[BUILD];
if (!f) throw new Error(`test/constants.ts: unknown build ${BUILD}`);
const flags = { ASC_FEATURE_SIMD: f.simd ? 1 : 0, ASC_FEATURE_RELAXED_SIMD: f.relaxed ? 1 : 0 };
const gemm = read("gemm.ts", { MR: "MR", NR: "NR", PA: "PA", KC: "KC", NC: "NC" }, flags);
const attn = read("attention.ts", { BM: "BM", BN: "BN", DIRECT_L: "DIRECT_L", DECODE_ROWS: "ROWS" }, gemm);

export const MR = gemm.MR, NR = gemm.NR, PA = gemm.PA, KC = gemm.KC, NC = gemm.NC;
export const BM = attn.BM, BN = attn.BN, DIRECT_L = attn.DIRECT_L, DECODE_ROWS = attn.DECODE_ROWS;

/** The dims every kernel loop is exercised with: 1, below and at the f32x4 width, MR, NR, and around 64 (8 panels). */
export const ODD_SIZES: readonly number[] = [...new Set([1, 3, 4, MR, NR, 17, 63, 64, 65])].sort((a, b) => a - b);
