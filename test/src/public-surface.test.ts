// test/src/public-surface.test.ts ↔ src/index.ts, src/api.ts and README.md's "## API" section.
// The package's public surface is exactly what the README documents:
//   - the names src/index.ts exports (values at run time, types from the source) = the README's list
//     of functions, classes and types, and each function and class is described in the section;
//   - a MultiHeadAttention's and a KVCache's properties (own, prototype, static, symbols) = the
//     members the section names (`mha.x`, the "Read-only:" list, `cache.x`);
//   - a KVCache cannot be constructed, and the sizes forward() relies on cannot be written.
// The README is parsed, so documenting a member without adding it, or adding one without
// documenting it, fails here.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { randn, rng, throwsWith } from "../helpers.js";
import * as pkg from "../../src/index.js";
import { KVCache, MultiHeadAttention } from "../../src/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The README's "## API" section, up to the next second-level heading. */
function apiSection(): string {
  const start = readme.search(/^## API$/m);
  assert.ok(start >= 0, "README.md has a '## API' section");
  const rest = readme.slice(start + "## API".length);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}
const API = apiSection();

/** Identifiers in backticks on the list item that starts with `- <label>:` (continued on indented lines). */
function listed(label: string): string[] {
  const m = API.match(new RegExp(`^- ${label}:((?:.*)(?:\\n {2,}.*)*)`, "m"));
  assert.ok(m, `README API section lists '- ${label}:'`);
  const names = [...m![1].matchAll(/`([A-Za-z_$][\w$]*)`/g)].map((x) => x[1]);
  assert.ok(names.length > 0, `'- ${label}:' names something`);
  return names;
}

/** The API section without the export list, where each listed name must be described. */
const BODY = API.replace(/^- (functions|classes|types):.*(\n {2,}.*)*/gm, "");

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/**
 * Export names of a module file, from its syntax: `export { a, type B } from`, `export type { … }`,
 * `export * from` (followed), and exported declarations. Returns name → whether it is a type only.
 */
function exportsOf(file: string, seen = new Set<string>()): Map<string, boolean> {
  const out = new Map<string, boolean>();
  if (seen.has(file)) return out;
  seen.add(file);
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const isExported = (n: ts.Node) => ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
  for (const st of sf.statements) {
    if (ts.isExportDeclaration(st)) {
      if (!st.exportClause) {
        const spec = (st.moduleSpecifier as ts.StringLiteral).text.replace(/\.js$/, ".ts");
        for (const [k, v] of exportsOf(join(dirname(file), spec), seen)) out.set(k, v);
      } else if (ts.isNamedExports(st.exportClause)) {
        for (const el of st.exportClause.elements) out.set(el.name.text, st.isTypeOnly || el.isTypeOnly);
      }
    } else if (isExported(st)) {
      if (ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st)) out.set(st.name!.text, false);
      else if (ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st)) out.set(st.name.text, true);
      else if (ts.isVariableStatement(st)) for (const d of st.declarationList.declarations) out.set((d.name as ts.Identifier).text, false);
    }
  }
  return out;
}

test("exports: the values src/index.ts exports at run time are the README's functions and classes", () => {
  const functions = listed("functions"), classes = listed("classes");
  assert.equal(sorted(Object.keys(pkg)), sorted([...functions, ...classes]), "runtime exports = README's functions + classes");
  const isClass = (f: unknown) => typeof f === "function" && /^class\b/.test(Function.prototype.toString.call(f));
  for (const f of functions) assert.ok(typeof (pkg as Record<string, unknown>)[f] === "function" && !isClass((pkg as Record<string, unknown>)[f]), `${f} is a function`);
  for (const c of classes) assert.ok(isClass((pkg as Record<string, unknown>)[c]), `${c} is a class`);
  for (const f of functions) assert.ok(BODY.includes("`" + f + "("), `README API section describes ${f}(…) beyond the list`);
  for (const c of classes) assert.ok(BODY.includes("`" + c + "`") || BODY.includes("`new " + c + "("), `README API section describes ${c} beyond the list`);
});

test("exports: src/index.ts's names from its source (values and types) are the README's list, and src/workerd.ts's are the same", () => {
  const all = exportsOf(join(root, "src", "index.ts"));
  const values = [...all].filter(([, t]) => !t).map(([k]) => k), types = [...all].filter(([, t]) => t).map(([k]) => k);
  assert.equal(sorted(values), sorted(Object.keys(pkg)), "the source's value exports are the runtime's");
  assert.equal(sorted(types), sorted(listed("types")), "type exports = README's types");
  const workerd = exportsOf(join(root, "src", "workerd.ts"));
  assert.equal(sorted([...workerd].map(([k, t]) => `${k}${t ? " (type)" : ""}`)), sorted([...all].map(([k, t]) => `${k}${t ? " (type)" : ""}`)),
    "src/workerd.ts (the workerd entry) exports the same names");
});

/** Property names of an object and its prototype chain up to Object.prototype, by level. */
function surface(x: object): { own: string[]; proto: string[]; symbols: number } {
  const proto = Object.getPrototypeOf(x);
  assert.is(Object.getPrototypeOf(proto), Object.prototype, "one class level, no hidden base class");
  return {
    own: Object.getOwnPropertyNames(x),
    proto: Object.getOwnPropertyNames(proto).filter((n) => n !== "constructor"),
    symbols: Object.getOwnPropertySymbols(x).length + Object.getOwnPropertySymbols(proto).length,
  };
}

test("MultiHeadAttention: an instance's properties are the README's `mha.x` members and its read-only list", () => {
  const members = [...API.matchAll(/`mha\.([A-Za-z_$][\w$]*)/g)].map((m) => m[1]);
  const ro = listed("Read-only");
  assert.ok(members.length >= 6 && ro.length >= 7, `README names mha members (${members}) and read-only sizes (${ro})`);
  const mha = new MultiHeadAttention({ embedDim: 12, numHeads: 3, numKVHeads: 1, kdim: 12, vdim: 12, seed: 3 });
  try {
    const s = surface(mha);
    assert.equal(s.own, [], "no own properties (state is #private)");
    assert.equal(sorted(s.proto), sorted([...members, ...ro]), "prototype members = README's");
    assert.is(s.symbols, 0, "no symbol-keyed members");
    assert.equal(sorted(Object.getOwnPropertyNames(MultiHeadAttention)), ["length", "name", "prototype"], "no static members");
    for (const name of ro) {
      const d = Object.getOwnPropertyDescriptor(MultiHeadAttention.prototype, name)!;
      assert.ok(d.get && !d.set, `${name} is a getter without a setter`);
    }
    assert.equal([mha.embedDim, mha.numHeads, mha.numKVHeads, mha.headDim, mha.kdim, mha.vdim, mha.bias], [12, 3, 1, 4, 12, 12, true], "sizes");
  } finally {
    mha.dispose();
  }
});

test("KVCache: an instance's properties are the README's `cache.x` members; not constructible", () => {
  const members = [...API.matchAll(/`cache\.([A-Za-z_$][\w$]*)/g)].map((m) => m[1]);
  assert.ok(members.length >= 4, `README names cache members (${members})`);
  const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 5 });
  try {
    const cache = mha.createCache({ batch: 2, maxLength: 6 });
    assert.ok(cache instanceof KVCache, "createCache gives a KVCache");
    const s = surface(cache);
    assert.equal(s.own, [], "no own properties (state is #private)");
    assert.equal(sorted(s.proto), sorted(members), "prototype members = README's");
    assert.is(s.symbols, 0, "no symbol-keyed members");
    assert.equal(sorted(Object.getOwnPropertyNames(KVCache)), ["length", "name", "prototype"], "no static members");
    assert.equal([cache.batch, cache.maxLength, cache.length], [2, 6, 0], "sizes and length");
    const Ctor = KVCache as unknown as new (...args: unknown[]) => unknown;
    throwsWith(() => new Ctor(), TypeError, /KVCache: not constructible; use MultiHeadAttention\.createCache/, "new KVCache()");
    throwsWith(() => new Ctor(Symbol("KVCache"), { owner: mha, batch: 1, maxLength: 1e9, k: 0, v: 0, filled: 0, disposed: false, release() {} }), TypeError,
      /not constructible/, "new KVCache(a look-alike token, a made-up state)");
    // A look-alike (KVCache's prototype, no private state) is refused as a cache, and reading it throws.
    const fake = Object.create(KVCache.prototype);
    throwsWith(() => mha.forward({ data: new Float32Array(16), shape: [2, 1, 8] }, undefined, undefined, { cache: fake }), TypeError,
      /options\.cache must be a KVCache from createCache\(\)/, "a look-alike cache");
    assert.throws(() => fake.length, TypeError, "a look-alike has no cache state");
  } finally {
    mha.dispose();
  }
});

test("the sizes forward() and the cache rely on cannot be written at run time", () => {
  const rand = rng(11);
  const mha = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 7 });
  try {
    const cache = mha.createCache({ maxLength: 2 });
    const x = { data: randn(rand, 8), shape: [1, 1, 8] };
    const writes: [object, string, unknown][] = [[mha, "embedDim", 64], [mha, "numHeads", 1], [mha, "kdim", 64], [cache, "maxLength", 1e6], [cache, "batch", 4], [cache, "length", -1]];
    for (const [o, k, v] of writes) {
      assert.throws(() => { (o as Record<string, unknown>)[k] = v; }, TypeError, `assigning ${k} throws (strict mode)`);
    }
    assert.is(mha.embedDim, 8, "embedDim unchanged");
    const y1 = mha.forward(x, undefined, undefined, { cache }).output;
    const y2 = mha.forward(x, undefined, undefined, { cache }).output;
    assert.equal([y1.shape, y2.shape, cache.length], [[1, 1, 8], [1, 1, 8], 2], "two steps fill the cache");
    throwsWith(() => mha.forward(x, undefined, undefined, { cache }), RangeError, /fit in the cache: 2 cached \+ 1 new ≤ maxLength = 2/, "a third overflows");
  } finally {
    mha.dispose();
  }
});

test.run();
