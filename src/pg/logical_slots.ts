/**
 * Permanent logical slots on this server (the rules: src/core/logical_slots.ts): create one on the primary, in its
 * database; advance a replica's copy in its database; copy missing ones from the leader, as Patroni does for
 * PostgreSQL 11 to 16: the slot's `pg_replslot/<name>/state` file is read on the leader with
 * `pg_read_binary_file` (superuser credentials), kept in memory, and written into this server's `pg_replslot`
 * (through a `.tmp` directory, fsynced, then renamed) just before Postgres next starts as a replica, which is when
 * PostgreSQL 15 reads its slots.
 *
 * I/O: SQL (local server, the leader), files under `pg_replslot`. May import: `src/core/`, `src/config/`,
 * `src/pg/`.
 *
 * @module
 */
import type postgres from "postgres";
import { getLogger } from "@logtape/logtape";
import type { PgInstance } from "./instance.ts";
import { formatLsn } from "../core/lsn.ts";
import type { LogicalSlotSpec } from "../core/logical_slots.ts";
import { PostgresError } from "../core/ports.ts";
import { localConnectAddress } from "./local_address.ts";
import { parseConnUrl } from "./conf.ts";
import { userSession } from "./user_session.ts";

const log = getLogger(["hactl", "postgres"]);

/** Run `fn` on a short connection to `database` of the local server as the superuser. */
async function inDatabase<T>(
  inst: PgInstance,
  database: string,
  fn: (sql: postgres.Sql) => Promise<T>,
): Promise<T> {
  const pg = inst.pg;
  const su = pg.authentication.superuser;
  const { host, port } = localConnectAddress(pg.listen, pg.useUnixSocket, inst.unixSocketDirectories());
  const sql = userSession(su, host, port, {
    database,
    fetchTypes: false,
    connection: { application_name: "hactl", statement_timeout: 60_000 },
  });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Create a permanent logical slot on the primary (nothing when it exists meanwhile). */
export async function createLogicalSlot(inst: PgInstance, spec: LogicalSlotSpec): Promise<void> {
  log.info("creating logical replication slot {name} (database {database}, plugin {plugin})", { ...spec });
  await inDatabase(
    inst,
    spec.database,
    (sql) =>
      sql`SELECT pg_create_logical_replication_slot(${spec.name}, ${spec.plugin})
        WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = ${spec.name})`,
  ).catch((e) => {
    log.error("could not create logical replication slot {name}: {error}", {
      name: spec.name,
      error: String(e),
    });
  });
}

/**
 * Advance a replica's copy of a logical slot (connected to its database, as Postgres requires); when its WAL is
 * gone or the slot is invalidated (SQLSTATE 58P01, 55000) the copy is dropped, so it is copied again, as Patroni
 * does.
 */
export async function advanceLogicalSlot(
  inst: PgInstance,
  name: string,
  database: string,
  lsn: number,
): Promise<void> {
  const at = formatLsn(lsn);
  try {
    await inDatabase(
      inst,
      database,
      (sql) => sql`SELECT pg_replication_slot_advance(${name}, ${at}::pg_lsn)`,
    );
  } catch (e) {
    const code = e instanceof Error && "code" in e ? String(e.code) : "";
    log.error("could not advance logical replication slot {name} to {lsn}: {error}", {
      name,
      lsn: at,
      error: String(e),
    });
    if (code === "58P01" || code === "55000") {
      await inst.sql.query((sql) =>
        sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
            WHERE slot_name = ${name} AND NOT active`
      ).catch(() => {});
    }
  }
}

/**
 * Read the logical slots `names` on the leader (superuser credentials; the leader must not be in recovery) and
 * keep the ones whose database and plugin are as configured, to be installed when Postgres next starts as a
 * replica. Throws when none could be read, so the restart that would install them does not run.
 */
export async function stageLogicalSlots(
  inst: PgInstance,
  leader: { name: string; connUrl: string },
  names: readonly string[],
  specs: readonly LogicalSlotSpec[],
): Promise<void> {
  const su = inst.pg.authentication.superuser;
  const { host, port } = parseConnUrl(leader.connUrl);
  const sql = userSession(su, host, port);
  const got = new Map<string, Uint8Array>();
  try {
    const rows = await sql`SELECT slot_name, slot_type, datname, plugin,
        pg_read_binary_file('pg_replslot/' || slot_name || '/state') AS data
      FROM pg_get_replication_slots() JOIN pg_database ON datoid = pg_database.oid
      WHERE NOT pg_is_in_recovery() AND slot_name = ANY(${names as string[]})`;
    for (const r of rows) {
      const spec = specs.find((s) => s.name === r["slot_name"]);
      if (!spec) continue;
      if (r["slot_type"] !== "logical" || r["datname"] !== spec.database || r["plugin"] !== spec.plugin) {
        log.warn("will not copy the logical slot {name}: on the primary it is {found}", {
          name: spec.name,
          found: `${r["slot_type"]} ${r["datname"]} ${r["plugin"]}`,
        });
        continue;
      }
      got.set(spec.name, new Uint8Array(r["data"] as Uint8Array));
    }
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
  if (got.size === 0) {
    throw new PostgresError(`no logical slot of ${names.join(", ")} could be copied from ${leader.name}`);
  }
  log.info("copied logical slots {names} from {leader}; installed when Postgres starts again", {
    names: [...got.keys()].join(", "),
    leader: leader.name,
  });
  inst.stagedSlots = got;
}

/** Write the staged copies into `pg_replslot` (Postgres must be stopped); nothing when none are staged. */
export async function installStagedSlots(inst: PgInstance): Promise<void> {
  const slots = inst.stagedSlots;
  inst.stagedSlots = null;
  if (!slots) return;
  const base = `${inst.dataDir}/pg_replslot`;
  for (const [name, data] of slots) {
    const dir = `${base}/${name}`;
    const tmp = `${dir}.tmp`;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await Deno.mkdir(tmp, { mode: 0o700 });
    const file = await Deno.open(`${tmp}/state`, { write: true, create: true, mode: 0o600 });
    try {
      for (let at = 0; at < data.length;) at += await file.write(data.subarray(at));
      await file.sync();
    } finally {
      file.close();
    }
    await syncDir(tmp);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, dir);
    await syncDir(dir);
    log.info("installed the copy of logical slot {name}", { name });
  }
  await syncDir(base);
}

async function syncDir(path: string): Promise<void> {
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}
