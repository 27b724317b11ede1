/**
 * The `primary_slot_name` the fake Postgres writes for an upstream, as the real adapter does
 * (src/pg/config_files.ts `primarySlotFor`): the standby_cluster's slot on a remote primary (none when it names
 * none), else the member's own slot when slots are used; and which servers `syncSlots` is meant for.
 *
 * Imports `src/core/ports.ts`, `src/core/types.ts` and `src/core/slot_rules.ts` (types) only.
 *
 * @module
 */
import { slotNameFor } from "../../src/core/ports.ts";
import type { Upstream } from "../../src/core/types.ts";
import type { SlotSyncFields } from "../../src/core/slot_rules.ts";

/** The slot `name` streams through from `upstream`, or null. */
export function fakePrimarySlot(upstream: Upstream, name: string, useSlots: boolean): string | null {
  if (upstream.recovery?.remote) return upstream.recovery.primarySlotName ?? null;
  return useSlots ? slotNameFor(name) : null;
}

/** Whether `syncSlots` with `fields` is meant for a server in recovery (a replica, or a standby leader). */
export function slotsInRecovery(fields: SlotSyncFields): boolean {
  return fields.role === "replica" || fields.inRecovery === true;
}
