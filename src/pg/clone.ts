/**
 * Creating a replica as Patroni does: the methods of `postgresql.create_replica_methods` (in a standby cluster, of
 * `standby_cluster.create_replica_methods`, carried by the upstream) in order, the first that succeeds wins. `basebackup` is pg_basebackup from the clone source into an emptied data directory (two attempts,
 * five seconds apart); any other method runs its section's command (`replica_methods.ts`) with the replication
 * password in pgpass (`PGPASSFILE`), into a data directory emptied first unless the method says `keep_data`, and
 * emptied again after a failure unless `keep_data`. `fromLeader` (`hactl reinit --from-leader`) uses pg_basebackup
 * only. Without an upstream (no member leads), only the methods marked `no_leader` run, with an empty
 * `--connstring`, as Patroni runs them. Then the replica's configuration.
 *
 * I/O: runs pg_basebackup and the methods' commands, wipes and writes the data directory. May import: `src/core/`,
 * `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { PostgresError } from "../core/ports.ts";
import type { Upstream } from "../core/types.ts";
import { basebackupArgv } from "./conf.ts";
import { replicationConninfoFor, writeConfig, writePgpass } from "./config_files.ts";
import type { PgInstance } from "./instance.ts";
import {
  childEnv,
  delay,
  postmasterPid,
  removeIfExists,
  runChecked,
  scriptCwd,
  wipeDirectory,
} from "./process.ts";
import { flagSet, methodsWithoutLeader, replicaMethodArgv } from "./replica_methods.ts";

const log = getLogger(["hactl", "postgres"]);

/** A week: a method copying a large database is never cut short by hactl. */
const METHOD_TIMEOUT_MS = 7 * 24 * 3600_000;

/**
 * The methods to try, in order: the upstream's own (`standby_cluster.create_replica_methods` in a standby cluster)
 * or else the configured ones, `basebackup` when none; pg_basebackup only with `fromLeader`. Without a replication
 * connection (an upstream with no address) only the methods whose section sets `no_leader` can work, as in
 * Patroni.
 */
export function replicaMethodsToTry(
  configured: readonly string[],
  fromLeader: boolean,
  upstream: Pick<Upstream, "connUrl" | "cloneMethods"> = { connUrl: "x" },
  sections: Record<string, Record<string, unknown>> = {},
): string[] {
  if (fromLeader) return ["basebackup"];
  const own = upstream.cloneMethods ?? configured;
  const methods = own.length === 0 ? ["basebackup"] : [...own];
  if (upstream.connUrl) return methods;
  return methods.filter((m) => m !== "basebackup" && flagSet(sections[m] ?? {}, "no_leader"));
}

/**
 * Clone the data directory from `upstream`, or without one (no member leads) with the `no_leader` methods; on
 * failure the data directory is left empty.
 */
export async function cloneFrom(
  inst: PgInstance,
  upstream: Upstream | null,
  opts: { fromLeader?: boolean } = {},
): Promise<void> {
  if ((await postmasterPid(inst.dataDir, inst.postmasterNames)) !== null) {
    throw new PostgresError(`cannot create a replica in ${inst.dataDir}: Postgres is running there`);
  }
  await inst.sql.close();
  if (upstream) await writePgpass(inst, upstream);
  const methods = upstream
    ? replicaMethodsToTry(
      inst.pg.createReplicaMethods,
      opts.fromLeader === true,
      upstream,
      inst.pg.replicaMethods ?? {},
    )
    : methodsWithoutLeader(inst.pg.createReplicaMethods, inst.pg.replicaMethods);
  const failures: string[] = [];
  let created = false;
  if (methods.length === 0) {
    throw new PostgresError(
      `could not create a replica from ${
        upstream?.name ?? "nobody"
      }: it has no address and no replica method ` +
        "sets no_leader",
    );
  }
  for (const method of methods) {
    inst.sysid = null;
    try {
      // `basebackup` is never among the methods without an upstream.
      if (method === "basebackup") await basebackup(inst, upstream!);
      else await customMethod(inst, upstream, method);
      log.info("replica has been created using {method}", { method });
      created = true;
      break;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      failures.push(`${method}: ${message}`);
      log.error("error creating replica using method {method}: {error}", { method, error: message });
      if (!flagSet(inst.pg.replicaMethods?.[method] ?? {}, "keep_data")) await wipeDirectory(inst.dataDir);
    }
  }
  if (!created) {
    await wipeDirectory(inst.dataDir);
    const from = upstream ? `from ${upstream.name}` : "without a leader";
    const why = methods.length ? failures.join("; ") : "no replica method has no_leader";
    throw new PostgresError(`could not create a replica ${from}: ${why}`);
  }
  await removeIfExists(`${inst.dataDir}/postgresql.log`);
  await writeConfig(inst, "replica", upstream);
}

/** pg_basebackup with `postgresql.basebackup`'s options, two attempts five seconds apart. */
async function basebackup(inst: PgInstance, upstream: Upstream): Promise<void> {
  const { argv, dropped } = basebackupArgv({
    dataDir: inst.dataDir,
    conninfo: replicationConninfoFor(inst, upstream),
    extra: inst.pg.basebackup,
  });
  if (dropped.length) log.warn("ignored pg_basebackup options hactl sets itself: {dropped}", { dropped });
  let lastError: unknown = null;
  for (let attempt = 1; attempt <= 2; attempt++) {
    await wipeDirectory(inst.dataDir);
    log.info("pg_basebackup from {upstream} (attempt {attempt})", { upstream: upstream.name, attempt });
    try {
      await runChecked(await inst.bin("pg_basebackup"), argv, {
        timeoutMs: METHOD_TIMEOUT_MS,
        what: `pg_basebackup from ${upstream.name}`,
      });
      return;
    } catch (e) {
      lastError = e;
      log.warn("{error}", { error: e instanceof Error ? e.message : String(e) });
      if (attempt < 2) await delay(5_000);
    }
  }
  throw lastError;
}

/**
 * A custom method's command, with Patroni's parameters and the replication password in pgpass (without an
 * upstream: an empty `--connstring`, and the agent's own environment).
 */
async function customMethod(inst: PgInstance, upstream: Upstream | null, method: string): Promise<void> {
  const section = inst.pg.replicaMethods?.[method] ?? {};
  if (flagSet(section, "keep_data")) {
    log.info("leaving the data directory uncleaned ({method}: keep_data)", { method });
  } else await removeDataDirectory(inst.dataDir);
  const argv = replicaMethodArgv(method, section, {
    scope: inst.config.scope,
    dataDir: inst.dataDir,
    connstring: upstream ? replicationConninfoFor(inst, upstream) : "",
  });
  log.info("creating a replica with method {method}: {command}", { method, command: argv[0] });
  await runChecked(argv[0]!, argv.slice(1), {
    cwd: scriptCwd(),
    timeoutMs: METHOD_TIMEOUT_MS,
    env: upstream ? childEnv({ PGPASSFILE: inst.pgpass }) : childEnv(),
    what: `replica method ${method}`,
  });
}

/**
 * Remove the data directory itself before a method without `keep_data`, as Patroni does: a method may create it
 * (a copy, a restore script). One that cannot be removed (a mount point) is left empty.
 */
async function removeDataDirectory(dir: string): Promise<void> {
  await wipeDirectory(dir);
  await Deno.remove(dir).catch((e) =>
    log.debug("kept the empty data directory {dir}: {error}", { dir, error: String(e) })
  );
}
