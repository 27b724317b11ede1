/**
 * The command lines of Patroni's custom methods, built as Patroni builds them: a replica creation method named in
 * `postgresql.create_replica_methods` (its section's `command`, or the method's name, then `--key=value` for every
 * other key of the section and, unless `no_params`, `--scope`, `--role=replica`, `--datadir` and `--connstring`),
 * and a custom `bootstrap.method` (`command`, then `--scope` and `--datadir` unless `no_params`, then `--key=value`
 * for every key but the reserved ones). Values are written as Patroni's Python writes them (`True`, `False`).
 *
 * Pure (string building). May import: `src/pg/callbacks.ts` (command splitting).
 *
 * @module
 */
import { splitCommand } from "./callbacks.ts";

/** A section value as Patroni's `"--{0}={1}".format(...)` writes it. */
export function formatOptionValue(value: unknown): string {
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Whether a section's flag (`keep_data`, `no_params`, `no_leader`) is set, as Python's truthiness reads it. */
export function flagSet(section: Record<string, unknown>, key: string): boolean {
  const v = section[key];
  if (typeof v === "string") return ["true", "yes", "on", "1"].includes(v.trim().toLowerCase());
  return v === true || v === 1;
}

/**
 * The methods that may run while no member leads, as Patroni's: not `basebackup`, and marked `no_leader` in their
 * section.
 */
export function methodsWithoutLeader(
  methods: readonly string[],
  sections: Readonly<Record<string, Record<string, unknown>>> | undefined,
): string[] {
  return methods.filter((m) => m !== "basebackup" && flagSet(sections?.[m] ?? {}, "no_leader"));
}

/** The argv of a custom replica creation method. */
export function replicaMethodArgv(
  method: string,
  section: Record<string, unknown>,
  ctx: { scope: string; dataDir: string; connstring: string },
): string[] {
  const opts: Record<string, unknown> = { ...section };
  const command = typeof opts.command === "string" && opts.command.trim() !== "" ? opts.command : method;
  delete opts.command;
  if (!flagSet(opts, "no_params")) {
    Object.assign(opts, {
      scope: ctx.scope,
      role: "replica",
      datadir: ctx.dataDir,
      connstring: ctx.connstring,
    });
  } else {
    for (const k of ["no_params", "no_leader", "keep_data"]) delete opts[k];
  }
  return [
    ...splitCommand(command),
    ...Object.entries(opts).map(([k, v]) => `--${k}=${formatOptionValue(v)}`),
  ];
}

/** Keys of a custom bootstrap section that are not passed to its command. */
const BOOTSTRAP_RESERVED = new Set([
  "command",
  "no_params",
  "keep_existing_recovery_conf",
  "recovery_conf",
  "scope",
  "datadir",
]);

/** The argv of a custom bootstrap method's command. */
export function bootstrapMethodArgv(
  section: Record<string, unknown>,
  ctx: { scope: string; dataDir: string },
): string[] {
  const params = flagSet(section, "no_params") ? [] : [`--scope=${ctx.scope}`, `--datadir=${ctx.dataDir}`];
  for (const [k, v] of Object.entries(section)) {
    if (!BOOTSTRAP_RESERVED.has(k)) params.push(`--${k}=${formatOptionValue(v)}`);
  }
  return [...splitCommand(String(section.command ?? "")), ...params];
}

/** `recovery_conf` values as postgresql.conf holds them (`true`/`false` for booleans). */
export function recoveryParams(section: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (section === null || typeof section !== "object" || Array.isArray(section)) return out;
  for (const [k, v] of Object.entries(section as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    out[k] = typeof v === "boolean" ? (v ? "on" : "off") : String(v);
  }
  return out;
}
