/**
 * This server's replication slots: read them (temporary slots left out), let `planSlotSync`
 * (src/core/slot_rules.ts) say what to create, drop and advance, and do it. On a primary: the member slots and the
 * permanent slots exist, other inactive slots that are not ignored are dropped; on a replica: the permanent
 * physical slots exist and are advanced to the positions the leader published, and so are the copies of the
 * permanent logical slots (src/pg/logical_slots.ts), missing ones being copied from the leader.
 *
 * I/O: SQL. May import: `src/pg/` (the instance), `src/core/` (the rules, LSN text).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PgInstance } from "./instance.ts";
import { type ExistingSlot, planSlotSync, type SlotOp, type SlotSyncFields } from "../core/slot_rules.ts";
import { formatLsn, parseLsn } from "../core/lsn.ts";
import { advanceLogicalSlot, createLogicalSlot, stageLogicalSlots } from "./logical_slots.ts";

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
  confirmed_flush_lsn?: string | null;
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
    confirmedFlush: r.confirmed_flush_lsn ? parseLsn(r.confirmed_flush_lsn) : null,
  };
}

/** Make the slots of this server what the agent wants (nothing when the server's role is not `fields.role`). */
export async function syncSlots(
  inst: PgInstance,
  names: string[],
  fields: SlotSyncFields = {},
): Promise<void> {
  const rows = await inst.sql.query((sql) =>
    sql`SELECT pg_is_in_recovery() AS r, pg_last_wal_replay_lsn()::text AS replay,
            coalesce((SELECT json_agg(to_jsonb(s)) FROM pg_replication_slots s
            WHERE NOT s.temporary), '[]'::json) AS slots`
  );
  const replica = fields.role === "replica";
  if (rows[0]!["r"] !== (replica || fields.inRecovery === true)) return;
  const existing = (rows[0]!["slots"] as SlotRow[]).map(slotFromRow);
  const replay = rows[0]!["replay"] ? parseLsn(String(rows[0]!["replay"])) : null;
  for (const op of planSlotSync(existing, names, fields, inst.config.name, replay)) {
    await applySlotOp(inst, op);
  }
  if (replica && fields.copy?.length && fields.copyFrom) {
    await stageLogicalSlots(inst, fields.copyFrom, fields.copy, fields.logical ?? []);
  }
}

async function applySlotOp(inst: PgInstance, op: SlotOp): Promise<void> {
  const name = op.name;
  if (op.op === "create_logical") {
    await createLogicalSlot(inst, op);
  } else if (op.op === "advance" && "database" in op) {
    await advanceLogicalSlot(inst, name, op.database, op.lsn);
  } else if (op.op === "create") {
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
