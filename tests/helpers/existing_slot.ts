/**
 * A slot as the Postgres adapter reports it (`ExistingSlot`), for the slot planners' unit tests: an inactive
 * physical slot at 1000 unless `over` says otherwise.
 *
 * @module
 */
import type { ExistingSlot } from "../../src/core/slot_rules.ts";

export function slot(name: string, over: Partial<ExistingSlot> = {}): ExistingSlot {
  return {
    name,
    type: "physical",
    active: false,
    restartLsn: 1000,
    xmin: null,
    database: null,
    plugin: null,
    walStatus: "reserved",
    failover: false,
    ...over,
  };
}
