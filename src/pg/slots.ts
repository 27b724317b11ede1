/**
 * This server's replication slots: read them (temporary slots left out), let `planSlotSync`
 * (src/core/slot_rules.ts) say what to create, drop and advance, and do it. On a primary: the member slots and the
 * permanent slots exist, other inactive slots that are not ignored are dropped; on a replica: the permanent
 * physical slots exist and are advanced to the positions the leader published.
 *
 * I/O: SQL. May import: `src/pg/` (the instance), `src/core/` (the rules, LSN text).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PgInstance } from "./instance.ts";
import { type ExistingSlot, planSlotSync, type SlotOp, type SlotSyncFields } from "../core/slot_rules.ts";
import { formatLsn, parseLsn } from "../core/lsn.ts";

const log = getLogger(["hactl", "postgres"]);

/** Row fields of `to_jsonb(pg_replication_slots)`; `wal_status` (13+) and `failover` (17+) may be absent. */
interface SlotRow {
  slot_name: string;
  slot_type: string;
  active: boolean;
  restart_lsn: string | null;
  xmin: string | null;
  database: string | null;
  plugin: string | null;
  wal_status?: string | null;
  failover?: boolean | null;
}

/** A row of `pg_replication_slots` as the rules see it. */
export function slotFromRow(r: SlotRow): ExistingSlot {
  return {
    name: r.slot_name,
    type: r.slot_type === "logical" ? "logical" : "physical",
    active: r.active === true,
    restartLsn: r.restart_lsn ? parseLsn(r.restart_lsn) : null,
    xmin: r.xmin === null || r.xmin === undefined ? null : String(r.xmin),
    database: r.database ?? null,
    plugin: r.plugin ?? null,
    walStatus: r.wal_status ?? null,
    failover: r.failover === true,
  };
}

/** Make the slots of this server what the agent wants (nothing when the server's role is not `fields.role`). */
export async function syncSlots(
  inst: PgInstance,
  names: string[],
  fields: SlotSyncFields = {},
): Promise<void> {
  const rows = await inst.sql.query((sql) =>
    sql`SELECT pg_is_in_recovery() AS r, coalesce((SELECT json_agg(to_jsonb(s)) FROM pg_replication_slots s
            WHERE NOT s.temporary), '[]'::json) AS slots`
  );
  const replica = fields.role === "replica";
  if (rows[0]!["r"] !== (replica || fields.inRecovery === true)) return;
  const existing = (rows[0]!["slots"] as SlotRow[]).map(slotFromRow);
  for (const op of planSlotSync(existing, names, fields, inst.config.name)) await applySlotOp(inst, op);
}

async function applySlotOp(inst: PgInstance, op: SlotOp): Promise<void> {
  const name = op.name;
  if (op.op === "create") {
    log.info("creating physical replication slot {name}", { name });
    // Reserve WAL at once (as Patroni does), so the slot holds WAL from now on and can be advanced on a replica.
    await inst.sql.query((sql) => sql`SELECT pg_create_physical_replication_slot(${name}, true)`).catch(
      (e) => {
        if (!(e instanceof Error && "code" in e && e.code === "42710")) throw e; // created meanwhile
      },
    );
  } else if (op.op === "drop") {
    log.info("dropping replication slot {name}: {why}", { name, why: op.why });
    // Only while inactive: a consumer that connected meanwhile keeps its slot (retried next cycle).
    await inst.sql.query((sql) =>
      sql`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
          WHERE slot_name = ${name} AND NOT active`
    ).catch((e) => {
      log.warn("could not drop replication slot {name}: {error}", { name, error: String(e) });
    });
  } else {
    const lsn = formatLsn(op.lsn);
    await inst.sql.query((sql) => sql`SELECT pg_replication_slot_advance(${name}, ${lsn}::pg_lsn)`).catch(
      (e) => {
        log.warn("could not advance replication slot {name} to {lsn}: {error}", {
          name,
          lsn,
          error: String(e),
        });
      },
    );
  }
}
