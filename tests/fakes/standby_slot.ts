/**
 * The `primary_slot_name` the fake Postgres writes for an upstream, as the real adapter does
 * (src/pg/config_files.ts `primarySlotFor`): the standby_cluster's slot on a remote primary (none when it names
 * none), else the member's own slot when slots are used; which servers `syncSlots` is meant for; and the
 * positions a server reports for its slots.
 *
 * Imports `src/core/ports.ts`, `src/core/types.ts`, `src/core/slot_rules.ts` and memory_pg.ts (types) only.
 *
 * @module
 */
import { slotNameFor } from "../../src/core/ports.ts";
import type { Upstream } from "../../src/core/types.ts";
import type { SlotSyncFields } from "../../src/core/slot_rules.ts";
import type { FakePostgres } from "./memory_pg.ts";

/** The slot `name` streams through from `upstream`, or null. */
export function fakePrimarySlot(upstream: Upstream, name: string, useSlots: boolean): string | null {
  if (upstream.recovery?.remote) return upstream.recovery.primarySlotName ?? null;
  return useSlots ? slotNameFor(name) : null;
}

/** Whether `syncSlots` with `fields` is meant for a server in recovery (a replica, or a standby leader). */
export function slotsInRecovery(fields: SlotSyncFields): boolean {
  return fields.role === "replica" || fields.inRecovery === true;
}

/**
 * The `restart_lsn` of the slots replicas stream through on `up`: each at that replica's WAL position, as a
 * walsender moves a physical slot along. The position of a slot nobody streams through is not modelled (left out).
 */
export function activeSlotPositions(
  up: FakePostgres,
  servers: Iterable<FakePostgres>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of servers) {
    if (s.streamSource() === up && s.slotName !== null && s.wal !== null) out[s.slotName] = s.wal;
  }
  return out;
}
