/**
 * `synchronous_standby_names` as the leader manages it in synchronous mode: the value lives in the instance
 * (`PgInstance.syncStandbyNames`, overriding the configured parameter in every postgresql.conf this agent writes)
 * and is put into the running server's postgresql.conf followed by `pg_ctl reload`, as Patroni writes it into its
 * postgresql.conf and reloads. On a running replica (a member about to promote) only that one line of the file
 * changes, so its recovery settings stay as they are.
 *
 * I/O: reads and writes postgresql.conf, runs `pg_ctl reload`. May import: `src/core/`, `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { quoteConfValue } from "./conf.ts";
import { renderConf } from "./config_files.ts";
import type { PgInstance } from "./instance.ts";
import { exists, postmasterPid, runChecked, writeIfChanged } from "./process.ts";

const log = getLogger(["hactl", "postgres"]);
const NAME = "synchronous_standby_names";

/** postgresql.conf `text` with the `synchronous_standby_names` line set to `value` (removed when null). */
export function withSyncStandbyNames(text: string, value: string | null): string {
  const lines = text.split("\n").filter((l) => !new RegExp(`^\\s*${NAME}\\s*=`).test(l));
  if (value === null) return lines.join("\n");
  const at = lines.findIndex((l) => l.startsWith("# recovery"));
  const line = `${NAME} = ${quoteConfValue(value)}`;
  if (at < 0) {
    const end = lines.at(-1) === "" ? lines.length - 1 : lines.length;
    lines.splice(end, 0, line);
  } else lines.splice(at > 0 && lines[at - 1] === "" ? at - 1 : at, 0, line);
  return lines.join("\n");
}

/**
 * Keep `value` (null: the configured one) for every later postgresql.conf; when Postgres runs, write it into its
 * postgresql.conf and reload when the file changed.
 */
export async function setSyncStandbyNames(inst: PgInstance, value: string | null): Promise<void> {
  inst.syncStandbyNames = value;
  if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) === null) return;
  const path = `${inst.configDir}/postgresql.conf`;
  let text: string;
  if (await exists(`${inst.dataDir}/standby.signal`)) {
    const configured = (await renderConf(inst, "primary", null)).params[NAME] ?? null;
    text = withSyncStandbyNames(await Deno.readTextFile(path), value ?? configured);
  } else {
    text = (await renderConf(inst, "primary", null)).text;
  }
  if (!(await writeIfChanged(path, text))) return;
  log.info("setting synchronous_standby_names to {value}: reloading Postgres", {
    value: value ?? "(configured)",
  });
  await runChecked(await inst.bin("pg_ctl"), ["reload", "-D", inst.dataDir], {
    timeoutMs: 30_000,
    what: "pg_ctl reload",
  });
}
