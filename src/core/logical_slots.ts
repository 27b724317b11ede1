/**
 * Permanent logical replication slots, as Patroni handles them on PostgreSQL 11 to 16:
 * - an entry of the dynamic `slots` key with `database` and `plugin` (and `type: logical` or no type) is a
 *   permanent logical slot; one without both is a bad value;
 * - the primary creates it (in its database, with its plugin) and publishes its `confirmed_flush_lsn` in the
 *   `status` key's `slots`; a slot of that name with another database, plugin or type is dropped and re-created;
 * - a replica that may become primary (not `nofailover`, not `nostream`) keeps a copy: a missing one is copied
 *   from the primary (the slot's `pg_replslot/<name>/state` file, read with `pg_read_binary_file`, written into its
 *   own `pg_replslot` while Postgres is stopped, as Patroni does: PostgreSQL 15 reads slots only at start), and an
 *   existing one is advanced with `pg_replication_slot_advance` to the published position, never past what the
 *   replica has replayed; such a replica runs with `hot_standby_feedback = on`, so the primary keeps the catalog
 *   rows the copies need;
 * - after a failover the consumer continues on the new primary from the last position published before it (at
 *   most one loop behind what it confirmed): changes may be sent twice, none it had not confirmed is skipped.
 * PostgreSQL 17's own failover slots (`failover = true`) are left to the server and not used by hactl yet.
 *
 * Pure. May import nothing.
 *
 * @module
 */

/** A permanent logical slot of the dynamic `slots` key. */
export interface LogicalSlotSpec {
  name: string;
  database: string;
  plugin: string;
}

/** The fields of an existing slot the logical rules read (src/core/slot_rules.ts `ExistingSlot`). */
export interface LogicalSlotSeen {
  name: string;
  type: "physical" | "logical";
  active: boolean;
  database: string | null;
  plugin: string | null;
  walStatus: string | null;
  /** `confirmed_flush_lsn` of a logical slot; null when none. */
  confirmedFlush?: number | null;
}

/** The changes the logical rules ask for (part of src/core/slot_rules.ts `SlotOp`). */
export type LogicalSlotOp =
  | { op: "create_logical"; name: string; database: string; plugin: string }
  | { op: "drop"; name: string; why: string }
  | { op: "advance"; name: string; lsn: number; database: string };

function isDoc(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A logical entry's database and plugin (the entry is logical by `permanentSlotType`), or why it is a bad value:
 * Patroni treats an entry as a logical slot only when both are set.
 */
export function logicalSlotSpec(name: string, value: unknown): LogicalSlotSpec | string {
  if (!isDoc(value)) return `bad value ${JSON.stringify(value)}`;
  const database = value.database;
  const plugin = value.plugin;
  if (typeof database !== "string" || database === "" || typeof plugin !== "string" || plugin === "") {
    return `a logical slot needs both database and plugin (strings), got ${JSON.stringify(value)}`;
  }
  return { name, database, plugin };
}

/**
 * The logical slots a member keeps: none for a `nofailover` member (it never becomes primary) nor a `nostream`
 * one (it sends no feedback to the primary, so its copies would be unsafe), as in Patroni; and none whose name is
 * a member's physical slot (Patroni reports the conflict and keeps the member slot).
 */
export function logicalSlotsFor(
  specs: readonly LogicalSlotSpec[] | undefined,
  tags: { nofailover?: unknown; nostream?: unknown },
  physicalNames: readonly string[],
): LogicalSlotSpec[] {
  if (!specs || tags.nofailover === true || tags.nostream === true) return [];
  const taken = new Set(physicalNames);
  return specs.filter((s) => !taken.has(s.name)).map((s) => ({ ...s }));
}

/**
 * The logical slots a replica copies from the primary: the ones it keeps that the leader publishes a position
 * for (the slot exists there) and that it does not have (Patroni copies only slots with feedback in the DCS).
 */
export function logicalSlotsToCopy(
  specs: readonly LogicalSlotSpec[],
  present: readonly string[],
  published: Readonly<Record<string, number>>,
): string[] {
  const have = new Set(present);
  return specs.filter((s) => !have.has(s.name) && (published[s.name] ?? 0) > 0).map((s) => s.name).sort();
}

/**
 * The changes to the logical slots of a server: on the primary, create the wanted ones that are missing; on both,
 * drop an inactive slot of a wanted name whose type, database or plugin differ (re-created on the primary, copied
 * again on a replica) or whose WAL is lost; on a replica, advance an inactive copy to the published position
 * (`advance`), never past `replayLsn`. Slots of other names are not looked at here.
 */
export function planLogicalSlots(
  existing: readonly LogicalSlotSeen[],
  wanted: readonly LogicalSlotSpec[],
  replica: boolean,
  advance: Readonly<Record<string, number>>,
  replayLsn: number | null,
): LogicalSlotOp[] {
  const ops: LogicalSlotOp[] = [];
  const have = new Map(existing.map((s) => [s.name, s]));
  for (const spec of [...wanted].sort((a, b) => a.name.localeCompare(b.name))) {
    const slot = have.get(spec.name);
    let missing = !slot;
    if (slot && !slot.active) {
      const same = slot.type === "logical" && slot.database === spec.database && slot.plugin === spec.plugin;
      if (!same) {
        ops.push({ op: "drop", name: spec.name, why: `it changes to ${describe(spec)}` });
        missing = true;
      } else if (slot.walStatus === "lost") {
        ops.push({ op: "drop", name: spec.name, why: "wal_status=lost" });
        missing = true;
      } else if (replica) {
        const published = advance[spec.name];
        const target = published === undefined || replayLsn === null
          ? undefined
          : Math.min(published, replayLsn);
        if (target !== undefined && (slot.confirmedFlush ?? 0) < target) {
          ops.push({ op: "advance", name: spec.name, lsn: target, database: spec.database });
        }
      }
    }
    if (missing && !replica) {
      ops.push({ op: "create_logical", name: spec.name, database: spec.database, plugin: spec.plugin });
    }
  }
  return ops;
}

function describe(spec: LogicalSlotSpec): string {
  return `a logical slot of database ${spec.database} with plugin ${spec.plugin}`;
}
