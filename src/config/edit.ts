/**
 * The pure parts of `hactl edit-config`: how patronictl changes the dynamic
 * configuration and shows the change.
 *
 * - {@linkcode patchConfigDoc}: `--apply`/`--replace` merge (Patroni's `patch_config`: `null` deletes, objects
 *   merge, other values replace when their string forms differ).
 * - {@linkcode applyKeyValues}: `-s key.path=yaml` / `-p guc=yaml` (dotted paths; below
 *   `postgresql.parameters` the rest of the path is one GUC name; `null` deletes and empty parents go away).
 * - {@linkcode unifiedDiff}: the line diff Python's `difflib.unified_diff` prints (same matching algorithm, so
 *   the same hunks), used to show the YAML before and after.
 *
 * Pure: imports `yaml` and `./env.ts` only; no I/O.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import { PYYAML_OPTIONS } from "./env.ts";

type Doc = Record<string, unknown>;

/** A `-s`/`-p` pair that cannot be used (patronictl: `Invalid parameter setting X`). */
export class EditError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EditError";
  }
}

function isDoc(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Python's `str()` of a JSON/YAML value, close enough to compare two values as Patroni's `patch_config` does. */
export function pyStr(v: unknown): string {
  const repr = (x: unknown): string => {
    if (typeof x === "string") return `'${x.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
    return pyStr(x);
  };
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  if (Array.isArray(v)) return `[${v.map(repr).join(", ")}]`;
  if (isDoc(v)) return `{${Object.entries(v).map(([k, x]) => `${repr(k)}: ${repr(x)}`).join(", ")}}`;
  return String(v);
}

/**
 * Patroni's `patch_config(config, data)`: mutates `config`, returns whether anything changed. A `null` value
 * deletes the key; an object merges into an object; any other value replaces the old one when their Python
 * string forms differ (so `5` does not replace `"5"`).
 */
export function patchConfigDoc(config: Doc, data: Doc): boolean {
  let changed = false;
  for (const [name, value] of Object.entries(data)) {
    if (value === null || value === undefined) {
      if (Object.hasOwn(config, name)) {
        const old = config[name];
        delete config[name];
        if (old !== null && old !== undefined) changed = true;
      }
    } else if (Object.hasOwn(config, name)) {
      if (isDoc(value)) {
        const old = config[name];
        if (isDoc(old)) {
          if (patchConfigDoc(old, value)) changed = true;
        } else {
          config[name] = value;
          changed = true;
        }
      } else if (pyStr(config[name]) !== pyStr(value)) {
        config[name] = value;
        changed = true;
      }
    } else {
      config[name] = value;
      changed = true;
    }
  }
  return changed;
}

/** Parse a value as PyYAML's `safe_load` would (YAML 1.1: `on` is true, `off` false, empty is null). */
export function loadYamlValue(text: string): unknown {
  try {
    const v = parseYaml(text, PYYAML_OPTIONS);
    return v === undefined ? null : v;
  } catch (err) {
    throw new EditError(
      `cannot parse YAML value ${JSON.stringify(text)}: ${(err as Error).message.split("\n")[0]}`,
    );
  }
}

function setPathValue(config: Doc, path: string[], value: unknown, prefix: string[]): void {
  // GUCs cannot nest but may contain dots: below postgresql.parameters the rest of the path is one key.
  if (prefix.length === 2 && prefix[0] === "postgresql" && prefix[1] === "parameters") {
    path = [path.join(".")];
  }
  const key = path[0]!;
  if (path.length === 1) {
    if (value === null) delete config[key];
    else config[key] = value;
    return;
  }
  if (!isDoc(config[key])) config[key] = {};
  const child = config[key] as Doc;
  setPathValue(child, path.slice(1), value, [...prefix, key]);
  if (Object.keys(child).length === 0) delete config[key];
}

/**
 * Apply `key.path=value` pairs (values parsed as YAML) to a deep copy of `data`, in order. Throws `EditError`
 * for a pair without `=`.
 */
export function applyKeyValues(data: Doc, pairs: string[]): Doc {
  const changed = structuredClone(data);
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (pair === "" || at < 0) throw new EditError(`Invalid parameter setting ${pair}`);
    const path = pair.slice(0, at).trim().split(".");
    setPathValue(changed, path, loadYamlValue(pair.slice(at + 1)), []);
  }
  return changed;
}

/** Deep equality of two JSON values (key order ignored), as Python's `==` on dicts. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isDoc(a) && isDoc(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length &&
      ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// difflib.SequenceMatcher / unified_diff, for lists of lines

type Opcode = ["equal" | "replace" | "delete" | "insert", number, number, number, number];

function matchingBlocks(a: string[], b: string[]): [number, number, number][] {
  const b2j = new Map<string, number[]>();
  b.forEach((line, j) => {
    const list = b2j.get(line);
    if (list) list.push(j);
    else b2j.set(line, [j]);
  });
  // difflib's autojunk: in sequences of 200+ items, very frequent items are not used to start a match.
  if (b.length >= 200) {
    const ntest = Math.floor(b.length / 100) + 1;
    for (const [line, idxs] of [...b2j]) if (idxs.length > ntest) b2j.delete(line);
  }
  const longest = (alo: number, ahi: number, blo: number, bhi: number): [number, number, number] => {
    let besti = alo, bestj = blo, bestsize = 0;
    let j2len = new Map<number, number>();
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>();
      for (const j of b2j.get(a[i]!) ?? []) {
        if (j < blo) continue;
        if (j >= bhi) break;
        const k = (j2len.get(j - 1) ?? 0) + 1;
        next.set(j, k);
        if (k > bestsize) [besti, bestj, bestsize] = [i - k + 1, j - k + 1, k];
      }
      j2len = next;
    }
    while (besti > alo && bestj > blo && a[besti - 1] === b[bestj - 1]) {
      [besti, bestj, bestsize] = [besti - 1, bestj - 1, bestsize + 1];
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] === b[bestj + bestsize]) {
      bestsize++;
    }
    return [besti, bestj, bestsize];
  };
  const queue: [number, number, number, number][] = [[0, a.length, 0, b.length]];
  const blocks: [number, number, number][] = [];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop()!;
    const [i, j, k] = longest(alo, ahi, blo, bhi);
    if (k > 0) {
      blocks.push([i, j, k]);
      if (alo < i && blo < j) queue.push([alo, i, blo, j]);
      if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi]);
    }
  }
  blocks.sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
  const merged: [number, number, number][] = [];
  let [i1, j1, k1] = [0, 0, 0];
  for (const [i2, j2, k2] of blocks) {
    if (i1 + k1 === i2 && j1 + k1 === j2) k1 += k2;
    else {
      if (k1) merged.push([i1, j1, k1]);
      [i1, j1, k1] = [i2, j2, k2];
    }
  }
  if (k1) merged.push([i1, j1, k1]);
  merged.push([a.length, b.length, 0]);
  return merged;
}

function opcodes(a: string[], b: string[]): Opcode[] {
  let i = 0, j = 0;
  const out: Opcode[] = [];
  for (const [ai, bj, size] of matchingBlocks(a, b)) {
    const tag = i < ai && j < bj ? "replace" : i < ai ? "delete" : j < bj ? "insert" : "";
    if (tag) out.push([tag, i, ai, j, bj]);
    [i, j] = [ai + size, bj + size];
    if (size) out.push(["equal", ai, i, bj, j]);
  }
  return out;
}

function groupedOpcodes(a: string[], b: string[], n: number): Opcode[][] {
  const codes = opcodes(a, b);
  if (codes.length === 0) codes.push(["equal", 0, 1, 0, 1]);
  const first = codes[0]!;
  if (first[0] === "equal") {
    codes[0] = [
      "equal",
      Math.max(first[1], first[2] - n),
      first[2],
      Math.max(first[3], first[4] - n),
      first[4],
    ];
  }
  const last = codes[codes.length - 1]!;
  if (last[0] === "equal") {
    codes[codes.length - 1] = [
      "equal",
      last[1],
      Math.min(last[2], last[1] + n),
      last[3],
      Math.min(last[4], last[3] + n),
    ];
  }
  const groups: Opcode[][] = [];
  let group: Opcode[] = [];
  for (const code of codes) {
    let [tag, i1, i2, j1, j2] = code;
    if (tag === "equal" && i2 - i1 > 2 * n) {
      group.push([tag, i1, Math.min(i2, i1 + n), j1, Math.min(j2, j1 + n)]);
      groups.push(group);
      group = [];
      [i1, j1] = [Math.max(i1, i2 - n), Math.max(j1, j2 - n)];
    }
    group.push([tag, i1, i2, j1, j2]);
  }
  if (group.length > 0 && !(group.length === 1 && group[0]![0] === "equal")) groups.push(group);
  return groups;
}

function unifiedRange(start: number, stop: number): string {
  let beginning = start + 1;
  const length = stop - start;
  if (length === 1) return String(beginning);
  if (length === 0) beginning -= 1;
  return `${beginning},${length}`;
}

/**
 * The lines of a unified diff between two texts (3 lines of context), exactly as patronictl prints it:
 * `--- ` and `+++ ` headers without file names, `@@ -a,b +c,d @@` hunks. Empty when the texts are equal.
 */
export function unifiedDiff(before: string, after: string, context = 3): string[] {
  const split = (s: string) => s.replace(/\n+$/, "").split("\n");
  const a = split(before);
  const b = split(after);
  const out: string[] = [];
  for (const group of groupedOpcodes(a, b, context)) {
    if (out.length === 0) out.push("--- ", "+++ ");
    const first = group[0]!;
    const last = group[group.length - 1]!;
    out.push(`@@ -${unifiedRange(first[1], last[2])} +${unifiedRange(first[3], last[4])} @@`);
    for (const [tag, i1, i2, j1, j2] of group) {
      if (tag === "equal") {
        for (const line of a.slice(i1, i2)) out.push(" " + line);
        continue;
      }
      if (tag === "replace" || tag === "delete") { for (const line of a.slice(i1, i2)) out.push("-" + line); }
      if (tag === "replace" || tag === "insert") { for (const line of b.slice(j1, j2)) out.push("+" + line); }
    }
  }
  return out;
}
