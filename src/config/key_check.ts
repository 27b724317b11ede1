/**
 * Walks a configuration document against the table of every key (`./keys.ts`): a key hactl does not implement yet
 * set to a value that would change behaviour is refused (`<key>: not supported by hactl yet`), a key with no
 * meaning here or acting only with an unsupported one is warned about, and an unknown key (a typo) is warned about
 * with the nearest known key (edit distance). Never fatal for a cosmetic key. Used for the local file (with
 * `bootstrap.dcs` walked as dynamic configuration), for `edit-config` / `PATCH /config`, and for the cluster's
 * dynamic configuration as the agent reads it (whose `guarantee` keys stop an agent from taking the leader key).
 *
 * Pure. Imports `./keys.ts` and `./env.ts` (document helpers) only.
 *
 * @module
 */
import { CONFIG_KEYS, type ConfigKey, type Inert } from "./keys.ts";
import { type Doc, isDoc, parseBoolText } from "./env.ts";
import { methodSectionNames } from "./standby_methods.ts";

/** The outcome of a walk: keys refused, warnings (already prefixed with the key), guarantees that are set. */
export interface KeyCheck {
  /**
   * Keys (dotted as written, e.g. `bootstrap.dcs.synchronous_mode`) set to a value hactl does not support yet,
   * each with its message (`not supported by hactl yet`, and the table's note when it has one).
   */
  refused: { key: string; message: string }[];
  warnings: string[];
  /** Dynamic keys whose promise hactl cannot keep (`synchronous_mode`, `standby_cluster`, ...). */
  guarantees: string[];
}

/** The message of a refused key, after `<file>: <key>: `. */
export const NOT_SUPPORTED_YET = "not supported by hactl yet";

const BY_KEY = {
  local: new Map(CONFIG_KEYS.filter((k) => k.where === "local").map((k) => [k.key, k])),
  dynamic: new Map(CONFIG_KEYS.filter((k) => k.where === "dynamic").map((k) => [k.key, k])),
};

/** `a.b.c` -> `a`, `a.b`: the sections a key lies in. */
function parentsOf(key: string): string[] {
  const parts = key.split(".");
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("."));
}

/** Keys with sub-keys in the table (a mapping under any other key is the reader's type error, not a walk). */
const SECTIONS = {
  local: new Set([...BY_KEY.local.keys()].flatMap(parentsOf)),
  dynamic: new Set([...BY_KEY.dynamic.keys()].flatMap(parentsOf)),
};

/** Whether `postgresql.<name>` is a key or section of the table (not a method's section). */
export function isKnownPostgresqlKey(name: string): boolean {
  const path = `postgresql.${name}`;
  return BY_KEY.local.has(path) || SECTIONS.local.has(path);
}

function isUnset(value: unknown): boolean {
  return value === null || value === undefined;
}

function isEmpty(value: unknown): boolean {
  if (isUnset(value) || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return isDoc(value) && Object.keys(value).length === 0;
}

function asBool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") return parseBoolText(value);
  if (value === 0 || value === 1) return value === 1;
  return undefined;
}

/** Whether `value` is one of the values of an unsupported key that change nothing. */
export function isInert(inert: Inert, value: unknown, def: string): boolean {
  if (isUnset(value)) return true;
  switch (inert) {
    case "false":
      return asBool(value) === false;
    case "empty":
      return isEmpty(value);
    case "zero":
      return Number(value) === 0 && value !== "";
    case "initdb":
      return value === "initdb";
    case "basebackup":
      return isEmpty(value) || (Array.isArray(value) && value.every((m) => m === "basebackup")) ||
        value === "basebackup";
    case "default":
      return String(value) === def;
    case "not quorum":
      return !(typeof value === "string" && value.trim().toLowerCase() === "quorum");
    case "no standby":
      return !isDoc(value) || ["host", "port", "restore_command"].every((k) => isEmpty(value[k]));
  }
}

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known key nearest to `path` among its siblings, when close enough to be a typo. */
function didYouMean(where: "local" | "dynamic", path: string): string | undefined {
  const dot = path.lastIndexOf(".");
  const parent = dot < 0 ? "" : path.slice(0, dot + 1);
  const leaf = path.slice(dot + 1).toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const key of BY_KEY[where].keys()) {
    if (!key.startsWith(parent) || key.slice(parent.length).includes(".") || key.includes("<")) continue;
    const d = editDistance(leaf, key.slice(parent.length).toLowerCase());
    if (d <= Math.max(1, Math.floor(leaf.length / 3)) && (best === undefined || d < best.d)) {
      best = { name: key, d };
    }
  }
  return best?.name;
}

/** Names of the sections chosen by other keys: `bootstrap.<method>`, `postgresql.<replica_method>`. */
interface Chosen {
  bootstrapMethod?: string;
  replicaMethods: string[];
}

function lookup(where: "local" | "dynamic", path: string, chosen: Chosen): ConfigKey | undefined {
  const exact = BY_KEY[where].get(path);
  if (exact) return exact;
  if (where !== "local") return undefined;
  if (chosen.bootstrapMethod !== undefined && path === `bootstrap.${chosen.bootstrapMethod}`) {
    return BY_KEY.local.get("bootstrap.<method>");
  }
  const m = /^postgresql\.([^.]+)$/.exec(path);
  if (m && chosen.replicaMethods.includes(m[1]!)) return BY_KEY.local.get("postgresql.<replica_method>");
  return undefined;
}

class Walker {
  readonly out: KeyCheck = { refused: [], warnings: [], guarantees: [] };
  constructor(readonly chosen: Chosen) {}

  /** Walks `doc` whose keys are `path.<key>` in the table of `where`; messages name `shown.<key>`. */
  walk(doc: Doc, where: "local" | "dynamic", path: string, shown: string): void {
    for (const [name, value] of Object.entries(doc)) {
      const key = path === "" ? name : `${path}.${name}`;
      const label = shown === "" ? name : `${shown}.${name}`;
      if (where === "local" && key === "bootstrap.dcs") {
        if (isDoc(value)) this.walk(value, "dynamic", "", label);
        continue;
      }
      const entry = lookup(where, key, this.chosen);
      if (entry === undefined) this.unknown(where, key, label);
      else if (!isUnset(value)) this.entry(entry, value, label, where, key);
    }
  }

  entry(entry: ConfigKey, value: unknown, label: string, where: "local" | "dynamic", key: string): void {
    if (entry.status === "not applicable") {
      if (entry.onSet === "warn") this.out.warnings.push(`${label}: has no effect in hactl (${entry.note})`);
      return;
    }
    if (entry.status === "not yet") {
      if (entry.onSet === "reader") return;
      if (isInert(entry.inert!, value, entry.default)) {
        // An inert section (a standby_cluster without host, port or restore_command) still has its keys checked.
        if (isDoc(value) && SECTIONS[where].has(entry.key)) this.walk(value, where, key, label);
        return;
      }
      if (entry.dependsOn !== undefined) {
        this.out.warnings.push(`${label}: has no effect: hactl does not implement ${entry.dependsOn} yet`);
        return;
      }
      const message = entry.note === undefined ? NOT_SUPPORTED_YET : `${NOT_SUPPORTED_YET} (${entry.note})`;
      this.out.refused.push({ key: label, message });
      if (entry.guarantee) this.out.guarantees.push(key);
      return;
    }
    if (isDoc(value) && !entry.open && SECTIONS[where].has(entry.key)) this.walk(value, where, key, label);
  }

  unknown(where: "local" | "dynamic", key: string, label: string): void {
    if (where === "local" && !key.includes(".") && BY_KEY.dynamic.has(key)) {
      this.out.warnings.push(
        `${label}: is dynamic configuration, ignored here: set it under bootstrap.dcs (or with hactl edit-config)`,
      );
      return;
    }
    const near = didYouMean(where, key);
    const prefix = label.slice(0, label.length - key.length);
    this.out.warnings.push(
      `${label}: unknown key, ignored${near === undefined ? "" : ` (did you mean ${prefix}${near}?)`}`,
    );
  }
}

/** Checks the local configuration document (with `bootstrap.dcs` as dynamic configuration). */
export function checkLocalKeys(doc: Doc): KeyCheck {
  const boot = isDoc(doc.bootstrap) ? doc.bootstrap : {};
  const pg = isDoc(doc.postgresql) ? doc.postgresql : {};
  const methods = pg.create_replica_methods;
  const chosen: Chosen = {
    replicaMethods: [
      ...(Array.isArray(methods) ? methods : typeof methods === "string" ? [methods] : [])
        .filter((m): m is string => typeof m === "string" && m !== "basebackup"),
      ...methodSectionNames(doc, isKnownPostgresqlKey),
    ],
  };
  if (typeof boot.method === "string" && boot.method !== "initdb") chosen.bootstrapMethod = boot.method;
  const w = new Walker(chosen);
  w.walk(doc, "local", "", "");
  return w.out;
}

/** Checks a dynamic configuration document (the DCS `config` key, or what `edit-config` would write). */
export function checkDynamicKeys(doc: Doc): KeyCheck {
  const w = new Walker({ replicaMethods: [] });
  w.walk(doc, "dynamic", "", "");
  return w.out;
}

/**
 * What `edit-config`, `PATCH /config` and `PUT /config` refuse to write: each key of the dynamic document `doc`
 * set to a value hactl does not support yet, as `<source>: <key>: not supported by hactl yet`.
 */
export function unsupportedDynamicProblems(doc: Doc, source: string): string[] {
  return checkDynamicKeys(doc).refused.map(({ key, message }) => `${source}: ${key}: ${message}`);
}
