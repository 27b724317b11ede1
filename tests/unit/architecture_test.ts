/**
 * The house rules, checked on the source text: which layer may import which (src/<layer>/mod.ts says why), no
 * import cycle between files, a pure core (no `Deno.*`, clock, timer, randomness or package import), a `mod.ts`
 * with a module comment in every layer, and the size budget (files ≤ 600 lines, the `agent` command ≤ 150).
 *
 * @module
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Who may import whom: a layer's own files are always allowed. */
export const LAYER_RULES: Record<string, readonly string[]> = {
  "src/core": [],
  "src/log": ["src/core"],
  "src/config": ["src/core", "src/log"],
  "src/host": ["src/core", "src/config", "src/log"],
  "src/dcs": ["src/core", "src/config", "src/log"],
  "src/pg": ["src/core", "src/config", "src/log"],
  "src/api": ["src/core", "src/config", "src/log"],
  "src/shell": ["src/core"],
  "src/daemon": [
    "src/core",
    "src/log",
    "src/config",
    "src/host",
    "src/dcs",
    "src/pg",
    "src/api",
    "src/shell",
  ],
  "cli": [
    "src/core",
    "src/log",
    "src/config",
    "src/host",
    "src/dcs",
    "src/pg",
    "src/api",
    "src/shell",
    "src/daemon",
  ],
  "main.ts": ["cli"],
};

/** Calls the pure core never makes: time, timers, randomness, the runtime. */
const IMPURE =
  /\bDeno\.|\bsetTimeout\(|\bsetInterval\(|\bperformance\.now\(|\bDate\.now\(|\bMath\.random\(|\bfetch\(/;

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(join(ROOT, dir))) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...walk(rel));
    else if (e.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/** The layer a repository path belongs to (`src/core`, `cli`, `main.ts`), or null outside the product. */
export function layerOf(path: string): string | null {
  if (path === "main.ts") return "main.ts";
  if (path.startsWith("cli/")) return "cli";
  const m = /^src\/([^/]+)\//.exec(path);
  return m ? `src/${m[1]}` : null;
}

/** Every static import/export specifier of a source text (comments stripped first). */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const specs: string[] = [];
  const re = /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s+from\s+)?["']([^"']+)["']/gm;
  for (const m of code.matchAll(re)) specs.push(m[1]!);
  return specs;
}

/** Each product file's project-local imports as repository paths. */
export function importGraph(files: string[], read: (path: string) => string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const local = importsOf(read(file))
      .filter((s) => s.startsWith("."))
      .map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)));
    graph.set(file, local);
  }
  return graph;
}

/** Imports that break the layer rules, as `from -> to (layer -> layer)`. */
export function forbiddenImports(graph: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [from, targets] of graph) {
    const layer = layerOf(from);
    if (layer === null) continue;
    for (const to of targets) {
      const target = layerOf(to);
      if (target === null || target === layer) continue;
      if (!(LAYER_RULES[layer] ?? []).includes(target)) {
        bad.push(`${from} -> ${to} (${layer} may not import ${target})`);
      }
    }
  }
  return bad;
}

/** The import cycles between files (each as its files in order), found by a depth-first search. */
export function importCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") cycles.push(stack.slice(stack.indexOf(next)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

const read = (path: string) => Deno.readTextFileSync(join(ROOT, path));
const PRODUCT = ["main.ts", ...walk("cli"), ...walk("src")];

Deno.test("every import follows the layer rules (core <- adapters <- shell/api <- daemon <- cli <- main.ts)", () => {
  assert.deepEqual(forbiddenImports(importGraph(PRODUCT, read)), []);
});

Deno.test("no import cycle between product files", () => {
  assert.deepEqual(importCycles(importGraph(PRODUCT, read)).map((c) => c.join(" -> ")), []);
});

Deno.test("commands never import other commands: what several share lives in cli/lib/", () => {
  const graph = importGraph(PRODUCT.filter((f) => f.startsWith("cli/")), read);
  const bad = [...graph].flatMap(([from, targets]) =>
    targets.filter((to) => /^cli\/[^/]+\.ts$/.test(to)).map((to) => `${from} -> ${to}`)
  );
  assert.deepEqual(bad, []);
});

Deno.test("the core is pure: no runtime, clock, timer, randomness or package import", () => {
  const bad: string[] = [];
  for (const file of PRODUCT.filter((f) => layerOf(f) === "src/core")) {
    const code = read(file).replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    const impure = IMPURE.exec(code);
    if (impure) bad.push(`${file}: ${impure[0]}`);
    for (const spec of importsOf(read(file))) if (!spec.startsWith(".")) bad.push(`${file}: imports ${spec}`);
  }
  assert.deepEqual(bad, []);
});

Deno.test("every layer has a mod.ts that opens with a module comment saying what it owns and may import", () => {
  const layers = [
    ...new Set(PRODUCT.map(layerOf).filter((l): l is string => l?.startsWith("src/") ?? false)),
  ];
  const missing = layers.filter((l) => {
    try {
      const text = read(`${l}/mod.ts`);
      return !(text.startsWith("/**") && text.includes("@module") && /may import/i.test(text));
    } catch {
      return true;
    }
  });
  assert.deepEqual(missing, []);
});

Deno.test("size budget: no product file over 600 lines, the agent command's file at most 150", () => {
  const over = PRODUCT.map((f) => ({ f, n: read(f).split("\n").length - 1 }))
    .filter(({ f, n }) => n > (f === "cli/agent.ts" ? 150 : 600))
    .map(({ f, n }) => `${f}: ${n} lines`);
  assert.deepEqual(over, []);
});

Deno.test("the rules bite: a core file importing an adapter, and a two-file circle, are both reported", () => {
  const graph = new Map([
    ["src/core/decide.ts", ["src/dcs/etcd.ts"]],
    ["src/dcs/etcd.ts", ["src/core/types.ts"]],
    ["src/shell/a.ts", ["src/shell/b.ts"]],
    ["src/shell/b.ts", ["src/shell/a.ts"]],
  ]);
  assert.deepEqual(forbiddenImports(graph), [
    "src/core/decide.ts -> src/dcs/etcd.ts (src/core may not import src/dcs)",
  ]);
  assert.deepEqual(importCycles(graph), [["src/shell/a.ts", "src/shell/b.ts"]]);
  assert.deepEqual(
    importsOf('import type { A } from "./a.ts";\nexport * from "../b.ts";\n// import "./c.ts"'),
    [
      "./a.ts",
      "../b.ts",
    ],
  );
});
