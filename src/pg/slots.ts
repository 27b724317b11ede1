/**
 * The primary's physical replication slots: create the ones wanted (one per member that streams) and drop the
 * inactive ones nobody wants any more. A replica keeps none.
 *
 * I/O: SQL. May import: `src/pg/` (the instance).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PgInstance } from "./instance.ts";

const log = getLogger(["hactl", "postgres"]);

/** Make the physical slots on a primary be `names` (invalid names ignored; active slots are never dropped). */
export async function syncSlots(inst: PgInstance, names: string[]): Promise<void> {
  const wanted = new Set(names.filter((n) => /^[a-z0-9_]{1,63}$/.test(n)));
  const rows = await inst.sql.query((sql) =>
    sql`SELECT pg_is_in_recovery() AS r, coalesce((SELECT json_agg(json_build_object('name', slot_name::text,
            'active', active)) FROM pg_replication_slots WHERE slot_type = 'physical'), '[]'::json) AS slots`
  );
  if (rows[0]!["r"] !== false) return;
  const existing = rows[0]!["slots"] as { name: string; active: boolean }[];
  const have = new Set(existing.map((s) => s.name));
  for (const name of wanted) {
    if (have.has(name)) continue;
    log.info("creating physical replication slot {name}", { name });
    await inst.sql.query((sql) => sql`SELECT pg_create_physical_replication_slot(${name})`).catch((e) => {
      if (!(e instanceof Error && "code" in e && e.code === "42710")) throw e; // created meanwhile
    });
  }
  for (const slot of existing) {
    if (wanted.has(slot.name) || slot.active) continue;
    log.info("dropping physical replication slot {name}", { name: slot.name });
    await inst.sql.query((sql) => sql`SELECT pg_drop_replication_slot(${slot.name})`).catch((e) => {
      log.warn("could not drop slot {name}: {error}", { name: slot.name, error: String(e) });
    });
  }
}
