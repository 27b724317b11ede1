/**
 * Permanent replication slots and `ignore_slots`, as Patroni handles them:
 * - the dynamic `slots` key (older names `permanent_slots`, `permanent_replication_slots`) names permanent slots;
 *   an entry with no value or `type: physical` is a physical slot (created on the primary, and on every replica
 *   that may become primary, where it is advanced to the position the primary publishes in the `status` key);
 *   an entry with `database` and `plugin` (and `type: logical` or none) is a logical slot, created on the primary
 *   and copied to and advanced on the replicas that may become primary (src/core/logical_slots.ts);
 * - `ignore_slots` matchers (`name`, `type`, `database`, `plugin`; an absent field matches anything) mark slots
 *   hactl never creates, advances or drops;
 * - every other slot that is neither a member's, nor permanent, nor ignored is dropped when it is inactive, on the
 *   primary and on replicas (Patroni: "Trying to drop unknown replication slot"); an active one is left and
 *   retried next cycle. A replica creates the member slots it is given in `memberCreate` and keeps the others it
 *   has (from when it was primary) without creating them.
 *
 * - member slots follow src/core/member_slots.ts (cascading: who holds a `replicatefrom` member's slot).
 *
 * Pure. May import: `./slots.ts`, `./logical_slots.ts`.
 *
 * @module
 */
import { slotNameFor } from "./slots.ts";
import {
  type LogicalSlotOp,
  logicalSlotsFor,
  type LogicalSlotSpec,
  logicalSlotSpec,
  planLogicalSlots,
} from "./logical_slots.ts";

export type { LogicalSlotSpec } from "./logical_slots.ts";

/** One `ignore_slots` entry: a slot is ignored when every field given matches. */
export interface IgnoreSlotMatcher {
  name?: string;
  type?: string;
  database?: string;
  plugin?: string;
}

/** The slot part of the dynamic settings (src/core/types.ts `DynamicSettings`). */
export interface SlotSettingsPart {
  /** Names of the permanent physical slots of the dynamic `slots` key (valid names only). */
  permanentSlots?: string[];
  /** The permanent logical slots of the dynamic `slots` key. */
  logicalSlots?: LogicalSlotSpec[];
  /** The dynamic `ignore_slots` key. */
  ignoreSlots?: IgnoreSlotMatcher[];
}

/** A slot as `pg_replication_slots` shows it (temporary slots left out). */
export interface ExistingSlot {
  name: string;
  type: "physical" | "logical";
  active: boolean;
  /** `restart_lsn` as a number; null when the slot reserves no WAL. */
  restartLsn: number | null;
  /** `xmin` (hot_standby_feedback received through the slot), null when none. */
  xmin: string | null;
  database: string | null;
  plugin: string | null;
  /** `wal_status` (PostgreSQL 13+): `lost` means the WAL it needs is gone. */
  walStatus: string | null;
  /** PostgreSQL 17 logical failover slots (`failover = true`) belong to the server's own slot sync. */
  failover: boolean;
  /** `confirmed_flush_lsn` of a logical slot as a number; null (or absent) when none. */
  confirmedFlush?: number | null;
}

/** What the agent asks of the slots on this server, beside the member slots of `sync_slots.slots`. */
export interface SlotSyncFields {
  /** Permanent physical slots to keep (created when missing). */
  permanent?: string[];
  /** Positions to advance inactive slots to (the primary's positions from the `status` key; replicas). */
  advance?: Record<string, number>;
  /** `ignore_slots`: never touched. */
  ignore?: IgnoreSlotMatcher[];
  /** `replica`: `slots` are kept where they exist but not created; permanent ones are advanced. Default `primary`. */
  role?: "primary" | "replica";
  /** `primary` slots on a server in recovery: the standby leader of a standby cluster keeps its members' slots. */
  inRecovery?: true;
  /** Permanent logical slots to keep (created on the primary, advanced on a replica). */
  logical?: LogicalSlotSpec[];
  /** Replica: logical slots to copy from `copyFrom` (the leader), installed when Postgres next starts. */
  copy?: string[];
  copyFrom?: { name: string; connUrl: string };
  /**
   * Replica: member slots to create (with `member_slots_ttl` above 0 and not `nofailover`, every other member's;
   * else those of the members that stream from it; src/core/member_slots.ts).
   */
  memberCreate?: string[];
  /**
   * Member slots not expected to be in use here, with the position to advance them to (0: none known); one that
   * carries an `xmin` or reserves no WAL is dropped (and created again when it is wanted).
   */
  memberInactive?: Record<string, number>;
  /**
   * Only advance slots, never create or drop one (a replica while etcd is out of reach, from the positions of the
   * leader's failsafe calls: it does not know the cluster's members then, so a slot it is not told of is left).
   */
  advanceOnly?: true;
}

/** One change to the slots of a server. */
export type SlotOp =
  | { op: "create"; name: string }
  | { op: "drop"; name: string; why: string }
  | { op: "advance"; name: string; lsn: number }
  | LogicalSlotOp;

const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

/** The permanent slots of the dynamic configuration, split as Patroni reads each entry. */
export interface PermanentSlots {
  physical: string[];
  logical: LogicalSlotSpec[];
  /** Entries that are neither (bad value or invalid name), with why. */
  invalid: string[];
}

function isDoc(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The entry's type as Patroni decides it: an empty value (`null`, `0`, `""`, `{}`, as in `{"slots": {"x": 0}}`) or
 * `type: physical` is physical; `type: logical`, or `database` and `plugin` without a type, is logical; anything
 * else is a bad value (null).
 */
export function permanentSlotType(value: unknown): "physical" | "logical" | null {
  if (!value || (isDoc(value) && Object.keys(value).length === 0)) return "physical";
  if (!isDoc(value)) return null;
  const type = value.type ?? (value.database && value.plugin ? "logical" : "physical");
  if (type === "physical") return "physical";
  if (type === "logical") return "logical";
  return null;
}

/**
 * The permanent slots of a dynamic document (`permanent_replication_slots`, else `permanent_slots`, else `slots`,
 * the first non-empty one, as Patroni reads them).
 */
export function readPermanentSlots(doc: Record<string, unknown>): PermanentSlots {
  const out: PermanentSlots = { physical: [], logical: [], invalid: [] };
  const raw = [doc.permanent_replication_slots, doc.permanent_slots, doc.slots].find((v) =>
    isDoc(v) && Object.keys(v).length > 0
  );
  if (!isDoc(raw)) return out;
  for (const [name, value] of Object.entries(raw)) {
    const type = permanentSlotType(value);
    if (!SLOT_NAME.test(name)) out.invalid.push(`${name}: not a valid slot name ([a-z0-9_], at most 63)`);
    else if (type === null) out.invalid.push(`${name}: bad value ${JSON.stringify(value)}`);
    else if (type === "physical") out.physical.push(name);
    else {
      const spec = logicalSlotSpec(name, value);
      if (typeof spec === "string") out.invalid.push(`${name}: ${spec}`);
      else out.logical.push(spec);
    }
  }
  return out;
}

/** `ignore_slots` entries that are mappings of strings (others are reported in `invalid`). */
export function readIgnoreSlots(raw: unknown): { matchers: IgnoreSlotMatcher[]; invalid: string[] } {
  const matchers: IgnoreSlotMatcher[] = [];
  const invalid: string[] = [];
  if (raw === null || raw === undefined) return { matchers, invalid };
  if (!Array.isArray(raw)) return { matchers, invalid: [`not a list: ${JSON.stringify(raw)}`] };
  for (const entry of raw) {
    if (!isDoc(entry)) {
      invalid.push(`not a mapping: ${JSON.stringify(entry)}`);
      continue;
    }
    const m: IgnoreSlotMatcher = {};
    for (const field of ["name", "type", "database", "plugin"] as const) {
      const v = entry[field];
      if (v !== undefined && v !== null && v !== "") m[field] = String(v);
    }
    matchers.push(m);
  }
  return { matchers, invalid };
}

/** Whether `slot` matches an `ignore_slots` entry (Patroni: name equal when given, type/database/plugin likewise). */
export function isIgnoredSlot(slot: ExistingSlot, matchers: readonly IgnoreSlotMatcher[]): boolean {
  return matchers.some((m) =>
    (m.name === undefined || m.name === slot.name) &&
    (m.type === undefined || m.type === slot.type) &&
    (m.database === undefined || m.database === slot.database) &&
    (m.plugin === undefined || m.plugin === slot.plugin)
  );
}

/**
 * The changes that make a server's slots what the agent wants: `members` (the member slots; on a replica kept
 * where they exist, and created only when in `fields.memberCreate`) and `fields.permanent` physical slots exist;
 * member slots in `fields.memberInactive` (not expected to be in use here) are advanced to their position there
 * when it is ahead (on a replica never past `replayLsn`, its replay position), on either role, and dropped when they carry an `xmin` or reserve no WAL; every other slot that is not ignored
 * and is inactive is dropped (an active one is left: Postgres refuses, and Patroni retries next cycle); a wanted
 * slot whose WAL is lost (`wal_status = lost`) or that exists as a logical slot is dropped to be re-created, and
 * on a replica one that reserves no WAL; on a replica, inactive permanent slots without `xmin` are advanced to
 * `fields.advance` when that is ahead. The permanent logical slots `fields.logical` follow `planLogicalSlots`
 * (src/core/logical_slots.ts), with `replayLsn` (a replica's replay position) as the limit of an advance.
 */
export function planSlotSync(
  existing: readonly ExistingSlot[],
  members: readonly string[],
  fields: SlotSyncFields,
  me: string,
  replayLsn: number | null = null,
): SlotOp[] {
  const replica = fields.role === "replica";
  const ignore = fields.ignore ?? [];
  const own = slotNameFor(me);
  const keep = new Set<string>([...members, ...fields.memberCreate ?? []].filter((n) => SLOT_NAME.test(n)));
  const wanted = new Set<string>(replica ? (fields.memberCreate ?? []).filter((n) => keep.has(n)) : keep);
  const inactive = fields.memberInactive ?? {};
  for (const n of fields.permanent ?? []) if (SLOT_NAME.test(n) && n !== own) wanted.add(n);
  for (const n of wanted) keep.add(n);
  const ignored = new Set(existing.filter((s) => isIgnoredSlot(s, ignore)).map((s) => s.name));
  const logical = (fields.logical ?? []).filter((s) =>
    SLOT_NAME.test(s.name) && !keep.has(s.name) && !ignored.has(s.name)
  );
  const logicalNames = new Set(logical.map((s) => s.name));
  const ops: SlotOp[] = [];
  const have = new Map(existing.map((s) => [s.name, s]));
  for (const slot of existing) {
    if (slot.type === "logical" && slot.failover) continue; // PostgreSQL 17's own failover slots
    if (isIgnoredSlot(slot, ignore)) continue;
    if (slot.active || logicalNames.has(slot.name)) continue;
    if (!keep.has(slot.name)) {
      ops.push({ op: "drop", name: slot.name, why: "unknown replication slot" });
    } else if (slot.type === "physical" && inactive[slot.name] !== undefined && slot.xmin !== null) {
      ops.push({ op: "drop", name: slot.name, why: `xmin ${slot.xmin} on a slot not expected to be in use` });
    } else if (slot.type === "physical" && inactive[slot.name] !== undefined && slot.restartLsn === null) {
      ops.push({ op: "drop", name: slot.name, why: "no restart_lsn, so it cannot be advanced" });
    } else if (!wanted.has(slot.name)) {
      continue; // a member slot on a replica: kept as it is
    } else if (slot.type !== "physical") {
      ops.push({ op: "drop", name: slot.name, why: "a logical slot where a physical one belongs" });
    } else if (slot.walStatus === "lost") {
      ops.push({ op: "drop", name: slot.name, why: "wal_status=lost" });
    } else if (slot.restartLsn === null && replica) {
      ops.push({ op: "drop", name: slot.name, why: "no restart_lsn, so it cannot be advanced" });
    }
  }
  const dropped = new Set(ops.map((o) => o.name));
  for (const name of [...keep].sort()) {
    const slot = have.get(name);
    if (!slot || dropped.has(name)) {
      if (wanted.has(name)) ops.push({ op: "create", name });
      continue;
    }
    const wantedAt = inactive[name] || (replica && wanted.has(name) ? fields.advance?.[name] : undefined);
    // A replica's slot never goes past what it has replayed (Postgres caps an advance there on a standby too).
    const target = wantedAt !== undefined && replica && replayLsn !== null
      ? Math.min(wantedAt, replayLsn)
      : wantedAt;
    if (
      slot.type === "physical" && !slot.active && slot.xmin === null && slot.restartLsn !== null &&
      !isIgnoredSlot(slot, ignore) && target !== undefined && target > slot.restartLsn
    ) {
      ops.push({ op: "advance", name, lsn: target });
    }
  }
  const live = existing.filter((s) => !(s.type === "logical" && s.failover));
  ops.push(...planLogicalSlots(live, logical, replica, fields.advance ?? {}, replayLsn));
  return fields.advanceOnly ? ops.filter((o) => o.op === "advance") : ops;
}

/**
 * The `slots` the leader publishes in the `status` key, as Patroni does: the restart position of each permanent
 * physical slot on it, the `confirmed_flush_lsn` of each permanent logical slot (`positions` holds both), and its
 * own slot name at its WAL position (a permanent slot named after the leader is advanced to it on the replicas).
 * Empty when there are no permanent slots.
 */
export function statusSlots(
  permanent: readonly string[],
  positions: Readonly<Record<string, number>>,
  me: string,
  walPosition: number | null,
  logical: readonly string[] = [],
): Record<string, number> {
  const out: Record<string, number> = {};
  if (permanent.length === 0 && logical.length === 0) return out;
  for (const name of [...permanent, ...logical]) {
    const lsn = positions[name];
    if (lsn !== undefined && lsn > 0) out[name] = lsn;
  }
  if (walPosition !== null && walPosition > 0) out[slotNameFor(me)] = walPosition;
  return out;
}

/**
 * The `sync_slots` fields for a member: the permanent slots (none for a `nofailover` member, which never becomes
 * primary, as in Patroni; no logical ones for a `nostream` member nor of a member slot's name: `logicalSlotsFor`),
 * `ignore_slots`, and on a replica the positions published by the leader.
 */
export function slotSyncFields(
  settings: SlotSettingsPart,
  role: "primary" | "replica",
  nofailover: boolean,
  published: Readonly<Record<string, number>>,
  nostream = false,
  memberSlots: readonly string[] = [],
): SlotSyncFields {
  const permanent = nofailover ? [] : settings.permanentSlots ?? [];
  const logical = logicalSlotsFor(settings.logicalSlots, { nofailover, nostream }, [
    ...memberSlots,
    ...permanent,
  ]);
  const ignore = settings.ignoreSlots ?? [];
  const out: SlotSyncFields = {};
  if (permanent.length > 0) out.permanent = [...permanent];
  if (logical.length > 0) out.logical = logical;
  if (ignore.length > 0) out.ignore = ignore.map((m) => ({ ...m }));
  if (role === "replica") {
    out.role = "replica";
    const advance: Record<string, number> = {};
    for (const name of [...permanent, ...logical.map((s) => s.name)]) {
      if (published[name] !== undefined) advance[name] = published[name]!;
    }
    if (Object.keys(advance).length > 0) out.advance = advance;
  }
  return out;
}
