/**
 * PostgreSQL's `synchronous_standby_names` as a value: parse it (`FIRST n (a, b)`, `ANY n (...)`, `n (...)`, a
 * plain list, `*`) and build it the way Patroni does (names sorted, quoted only when needed, `FIRST` implied by
 * `n (...)` for several, `ANY n (...)` for quorum commit, a placeholder nobody is named after when commits must
 * wait for a standby that is not there).
 *
 * Pure. May import nothing.
 *
 * @module
 */

/** A standby name no member may take (src/config/read.ts refuses it as a member name): commits wait for it. */
export const SYNC_STRICT_PLACEHOLDER = "__patroni_strict_sync_replica_placeholder__";

/** `synchronous_standby_names` parsed. */
export interface ParsedSyncNames {
  /** `off` (empty), `priority` (FIRST or plain list) or `quorum` (ANY). */
  kind: "off" | "priority" | "quorum";
  /** How many standbys must confirm a commit; 0 when off. */
  num: number;
  /** Standby names, lower-cased (Postgres compares them case-insensitively); `*` for a star. */
  names: string[];
}

const TOKEN = /\s*(?:("(?:[^"]|"")*")|([A-Za-z_][A-Za-z_0-9$]*)|(\d+)|([*,()]))/y;

/** Parse a value; null when Postgres would not accept it. */
export function parseSyncNames(value: string): ParsedSyncNames | null {
  const tokens: { kind: "name" | "num" | "punct"; text: string }[] = [];
  TOKEN.lastIndex = 0;
  const text = value.trim();
  while (TOKEN.lastIndex < text.length) {
    const m = TOKEN.exec(text);
    if (!m) return null;
    if (m[1] !== undefined) tokens.push({ kind: "name", text: m[1].slice(1, -1).replaceAll('""', '"') });
    else if (m[2] !== undefined) tokens.push({ kind: "name", text: m[2].toLowerCase() });
    else if (m[3] !== undefined) tokens.push({ kind: "num", text: m[3] });
    else tokens.push({ kind: "punct", text: m[4]! });
  }
  if (tokens.length === 0) return { kind: "off", num: 0, names: [] };
  let kind: "priority" | "quorum" = "priority";
  let i = 0;
  const word = tokens[0]!.kind === "name" ? tokens[0]!.text : "";
  if ((word === "first" || word === "any") && tokens[1]?.kind === "num") {
    kind = word === "any" ? "quorum" : "priority";
    i = 1;
  }
  let num = 1;
  let list = tokens.slice(i);
  if (list[0]?.kind === "num") {
    if (list[1]?.text !== "(" || list.at(-1)?.text !== ")") return null;
    num = Number(list[0].text);
    list = list.slice(2, -1);
  } else if (i === 1) return null;
  const names: string[] = [];
  for (let j = 0; j < list.length; j++) {
    const t = list[j]!;
    if (j % 2 === 1) {
      if (t.text !== ",") return null;
      continue;
    }
    if (t.kind === "name" || t.text === "*") names.push(t.text);
    else return null;
  }
  if (names.length === 0 || list.length % 2 === 0) return null;
  return { kind, num, names };
}

/** A name as it must be written in the value: as is when it is a plain identifier, else double-quoted. */
export function quoteStandbyName(name: string): string {
  if (/^[A-Za-z_][A-Za-z_0-9$]*$/.test(name) && !["first", "any"].includes(name.toLowerCase())) return name;
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The value for standbys `names` of which `num` must confirm (default: all of them): empty for none; the
 * placeholder when none are named but `num` >= 1 (commits wait); one name alone; `n (a,b)` (FIRST) for several,
 * or `ANY n (a,b)` for quorum commit.
 */
export function buildSyncNames(names: readonly string[], num?: number, quorum = false): string {
  if (names.length === 0) return (num ?? 0) >= 1 ? SYNC_STRICT_PLACEHOLDER : "";
  const list = [...names].sort().map(quoteStandbyName);
  const n = num ?? list.length;
  if (quorum) return `ANY ${n} (${list.join(",")})`;
  return list.length === 1 ? list[0]! : `${n} (${list.join(",")})`;
}

/** Whether two values ask Postgres for the same thing (same kind, count and names). */
export function sameSyncNames(a: string | null | undefined, b: string | null | undefined): boolean {
  const pa = parseSyncNames(a ?? "");
  const pb = parseSyncNames(b ?? "");
  if (pa === null || pb === null) return (a ?? "") === (b ?? "");
  return pa.kind === pb.kind && pa.num === pb.num && sameSet(pa.names, pb.names);
}

/** Case-insensitive set equality of names. */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const la = new Set(a.map((s) => s.toLowerCase()));
  const lb = new Set(b.map((s) => s.toLowerCase()));
  return la.size === lb.size && [...la].every((s) => lb.has(s));
}
