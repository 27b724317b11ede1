/**
 * Readers of the role-specific Postgres keys (`postgresql.parameters_<role>`, `pg_hba_<role>`, `pg_ident_<role>`
 * for `primary`, `replica` and `standby_leader`, as Patroni 4.1) and of `postgresql.rewind` (pg_rewind's extra
 * options, in Patroni's list-or-mapping form). Both the local file's reader (a bad value is a problem that stops
 * the start) and the dynamic configuration's (a bad value is left out, with a warning) use them, through a
 * `problem(path, message)` callback.
 *
 * Pure. Imports `./env.ts` and core types only.
 *
 * @module
 */
import { CONFIG_ROLES, type RoleConfig, type RoleConfigs } from "../core/pg_role_types.ts";
import { type Doc, isDoc } from "./env.ts";

/** Reports a value that cannot be used, by its dotted path. */
export type Problem = (path: string, message: string) => void;

/** pg_rewind options hactl sets itself (or that would change what the rewind does), refused as Patroni refuses them. */
export const REWIND_FORBIDDEN = [
  "target-pgdata",
  "source-pgdata",
  "source-server",
  "write-recovery-conf",
  "dry-run",
  "restore-target-wal",
  "config-file",
  "no-ensure-shutdown",
  "version",
  "help",
];

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

/** A list of lines (`pg_hba_<role>`, `pg_ident_<role>`); undefined when absent or unusable. */
function lines(pg: Doc, key: string, problem: Problem): string[] | undefined {
  const value = pg[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return [value];
  if (!Array.isArray(value) || !value.every((l) => typeof l === "string" || typeof l === "number")) {
    problem(`postgresql.${key}`, `must be a list of lines, found ${kind(value)}`);
    return undefined;
  }
  return value.map(String);
}

/** A mapping of scalar parameters (`parameters_<role>`); undefined when absent or unusable. */
function params(pg: Doc, key: string, problem: Problem): RoleConfig["parameters"] | undefined {
  const value = pg[key];
  if (value === undefined || value === null) return undefined;
  if (!isDoc(value)) {
    problem(`postgresql.${key}`, `must be a mapping, found ${kind(value)}`);
    return undefined;
  }
  const out: Record<string, string | number | boolean> = {};
  for (const [name, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (typeof v === "object") problem(`postgresql.${key}.${name}`, `must be a scalar, found ${kind(v)}`);
    else out[name] = v as string | number | boolean;
  }
  return out;
}

/**
 * The role-specific keys of one `postgresql` section; undefined when none is set. A key that is set (even to an
 * empty list or mapping) is kept, as Patroni keeps it: the local file's then wins over the dynamic one.
 */
export function readRoleConfigs(pg: Doc, problem: Problem): RoleConfigs | undefined {
  const out: RoleConfigs = {};
  for (const role of CONFIG_ROLES) {
    const c: RoleConfig = {};
    const p = params(pg, `parameters_${role}`, problem);
    if (p !== undefined) c.parameters = p;
    const hba = lines(pg, `pg_hba_${role}`, problem);
    if (hba !== undefined) c.pgHba = hba;
    const ident = lines(pg, `pg_ident_${role}`, problem);
    if (ident !== undefined) c.pgIdent = ident;
    if (Object.keys(c).length > 0) out[role] = c;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * `postgresql.rewind` as pg_rewind arguments, read as Patroni reads its tool options: a list of option names and
 * one-key `{option: value}` mappings, or one mapping (`--option=value`; a mapping entry without a value is left
 * out, as Patroni leaves it out). Options hactl sets itself are refused. Undefined when the key is absent.
 */
export function readRewindOptions(pg: Doc, problem: Problem): string[] | undefined {
  const value = pg["rewind"];
  const path = "postgresql.rewind";
  if (value === undefined || value === null) return undefined;
  const argv: string[] = [];
  const add = (name: string, val: unknown, at: string) => {
    const option = name.replace(/^-+/, "");
    if (option === "") return problem(at, "an option name is empty");
    if (REWIND_FORBIDDEN.includes(option)) {
      return problem(at, `option "${option}" is set by hactl and not allowed`);
    }
    if (val === undefined) return argv.push(`--${option}`);
    if (val === null || val === "" || typeof val === "object") {
      return problem(at, `value of "${option}" must be a non-empty scalar`);
    }
    argv.push(`--${option}=${String(val).replace(/^(["'])(.*)\1$/, "$2")}`);
  };
  if (isDoc(value)) {
    for (const [k, v] of Object.entries(value)) add(k, v, path);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const at = `${path}.${i}`;
      if (typeof item === "string") add(item, undefined, at);
      else if (isDoc(item) && Object.keys(item).length === 1) {
        add(Object.keys(item)[0]!, Object.values(item)[0], at);
      } else problem(at, `must be an option name or one {option: value}, found ${kind(item)}`);
    });
  } else {
    problem(path, `must be a list of options or a mapping, found ${kind(value)}`);
  }
  return argv;
}
