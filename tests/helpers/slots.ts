/**
 * The replication slots of a real member, for the integration tests of slots: read them
 * (`pg_replication_slots`: active, restart_lsn) and wait, deadline-bounded, until they satisfy a condition.
 *
 * @module
 */
import { type MemberLayout, waitFor, withSql } from "../../scripts/lib/local_cluster.ts";
import { parseLsn } from "../../src/core/lsn.ts";

export interface SlotRow {
  active: boolean;
  /** restart_lsn as a number (0 when the slot reserves no WAL). */
  restart: number;
}

/** Every slot on `m`, by name. */
export function slotsOn(m: MemberLayout): Promise<Record<string, SlotRow>> {
  return withSql(m, async (sql) => {
    const rows =
      await sql`SELECT slot_name::text AS n, active, restart_lsn::text AS l FROM pg_replication_slots`;
    return Object.fromEntries(
      rows.map((
        r,
      ) => [r.n as string, { active: r.active as boolean, restart: r.l ? parseLsn(r.l as string) : 0 }]),
    );
  });
}

/** Until `m`'s slots satisfy `ok` (30 s). */
export async function waitSlots(
  m: MemberLayout,
  what: string,
  ok: (s: Record<string, SlotRow>) => boolean,
): Promise<void> {
  await waitFor(`${m.name}: ${what}`, 30_000, async () => {
    const s = await slotsOn(m).catch((e) => ({ error: String(e) }) as unknown as Record<string, SlotRow>);
    return ok(s) ? true : { notYet: JSON.stringify(s) };
  }, 200);
}
