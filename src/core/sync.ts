/**
 * Synchronous replication as pure rules (Patroni's `synchronous_mode`, non-quorum): which streaming standbys the
 * leader names in `synchronous_standby_names`, which it names in the `sync` key, and in which order it updates
 * the two so that the key never names a standby Postgres does not wait for: a standby leaves the key before it
 * leaves `synchronous_standby_names`, and enters the key only once Postgres reports it synchronous and it has
 * caught up (Patroni's `_process_multisync_replication`). Also who may take the leader key while the `sync` key
 * is active (only the standbys it names, and its leader), and the key a replica writes before it promotes.
 *
 * Pure. May import: `src/core/` (types, sync types and names, member state).
 *
 * @module
 */
import type { ClusterView, Member, PeerStatus, PgObservation, ReplicationRow, SyncState } from "./types.ts";
import { parseLsn } from "./types.ts";
import type { SyncAction, SyncConfig, SyncMemory } from "./sync_types.ts";
import { buildSyncNames, parseSyncNames, sameSet, sameSyncNames } from "./sync_names.ts";
import { isNoFailover, tagInt } from "./member_state.ts";

/** `nosync` with Patroni's semantics: an explicit tag wins; otherwise `sync_priority <= 0`. */
export function isNoSync(tags: Member["data"]["tags"]): boolean {
  if (typeof tags?.nosync === "boolean") return tags.nosync;
  const priority = tagInt(tags?.sync_priority);
  return priority !== null && priority <= 0;
}

/** `sync_priority` with Patroni's default of 1 (0 when nosync). */
export function syncPriority(tags: Member["data"]["tags"]): number {
  if (tags?.nosync === true) return 0;
  return tagInt(tags?.sync_priority) ?? 1;
}

/** Synchronous replication is asked for (on or quorum). */
export function syncRequested(cfg: SyncConfig | undefined): cfg is SyncConfig {
  return cfg !== undefined && cfg.mode !== "off";
}

/** The `sync` key is in force: asked for, and a leader has written its name there. */
export function syncKeyActive(cfg: SyncConfig | undefined, key: SyncState | null): key is SyncState {
  return syncRequested(cfg) && key !== null && key.leader !== null && key.leader !== "";
}

const lower = (s: string) => s.toLowerCase();

/** Is `name` the key's leader or one of its standbys (case-insensitive, as Patroni's `matches(name, True)`)? */
export function syncKeyNames(key: SyncState, name: string): boolean {
  return [key.leader ?? "", ...key.syncStandby].some((n) => lower(n) === lower(name));
}

/** One streaming standby that may become synchronous. */
interface Candidate {
  name: string;
  syncState: string;
  lsn: number;
  nofailover: boolean;
  priority: number;
}

/** The standbys the leader would name (`active`) and those of them Postgres waits for already (`confirmed`). */
export interface SyncCandidates {
  active: string[];
  confirmed: string[];
}

/** What the leader weighs: its settings, its view, its Postgres and what it remembers. */
export interface SyncLeaderInput {
  me: string;
  cfg: SyncConfig;
  view: ClusterView;
  pg: PgObservation;
  mem: SyncMemory;
}

/**
 * The standby's position that commits wait for, as Patroni weighs it: `replay_lsn` under `synchronous_commit =
 * remote_apply`, `write_lsn` under `remote_write`, `flush_lsn` otherwise (null: not reported).
 */
export function rowLsn(row: ReplicationRow, synchronousCommit?: string | null): number | null {
  const text = synchronousCommit === "remote_apply"
    ? row.replay_lsn
    : synchronousCommit === "remote_write"
    ? row.write_lsn
    : row.flush_lsn;
  if (!text) return null;
  try {
    return parseLsn(text);
  } catch {
    return null;
  }
}

function streamingCandidates(
  me: string,
  members: readonly Member[],
  pg: PgObservation,
): Candidate[] {
  const rows = pg.replication;
  const lsnOf = (r: ReplicationRow) => rowLsn(r, pg.synchronousCommit);
  const out: Candidate[] = [];
  for (const m of members) {
    const tags = m.data.tags ?? {};
    if (lower(m.name) === lower(me) || m.data.state !== "running" || isNoSync(tags)) continue;
    const row = rows.find((r) => lower(r.application_name) === lower(m.name) && lsnOf(r) !== null);
    if (!row) continue;
    const nofailover = isNoFailover(tags);
    out.push({
      name: m.name,
      syncState: row.sync_state,
      lsn: lsnOf(row)!,
      nofailover,
      priority: syncPriority(tags),
    });
  }
  return out;
}

/**
 * Patroni's `current_state` for priority mode: streaming members (running, not nosync) ranked by sync_priority,
 * then already `sync`, then position (`rowLsn`), those without nofailover first; a standby lagging more than
 * `maximum_lag_on_syncnode` behind the most advanced one (the primary when it is alone) is skipped; the first
 * `synchronous_node_count` are `active`. Confirmed: active, reported `sync`, and named in the key or caught up.
 */
export function syncCandidates(input: SyncLeaderInput, readyFrom: number): SyncCandidates {
  const { cfg, view, pg } = input;
  const list = streamingCandidates(input.me, view.members, pg);
  list.sort((a, b) =>
    b.priority - a.priority || (b.syncState > a.syncState ? 1 : b.syncState < a.syncState ? -1 : 0) ||
    b.lsn - a.lsn
  );
  const maxLsn = list.length > 1 ? Math.max(...list.map((c) => c.lsn)) : (pg.walPosition ?? 0);
  const ordered = [...list.filter((c) => !c.nofailover), ...list.filter((c) => c.nofailover)];
  const keyed = view.sync?.syncStandby.map(lower) ?? [];
  const active: string[] = [];
  const confirmed: string[] = [];
  for (const c of ordered) {
    if (cfg.maximumLagOnSyncnode > 0 && maxLsn - c.lsn > cfg.maximumLagOnSyncnode) continue;
    active.push(c.name);
    const ready = keyed.includes(lower(c.name)) || c.lsn >= readyFrom;
    if (c.syncState === "sync" && ready) confirmed.push(c.name);
    if (active.length >= Math.max(cfg.nodeCount, cfg.strict ? 1 : 0)) break;
  }
  return { active, confirmed };
}

/** The leader's synchronous replication this cycle: actions in order, memory, and a note for the log line. */
export interface SyncStep {
  actions: SyncAction[];
  mem: SyncMemory;
  note: string | null;
  /** Patroni's one-time warning, when strict mode has just lost its last standby. */
  warning?: string;
}

/** The leader's memory of `synchronous_standby_names` as this cycle sees it. */
export function syncMemoryFor(pg: PgObservation, mem: SyncMemory): SyncMemory {
  const value = pg.synchronousStandbyNames ?? "";
  if (mem.syncNamesSeen?.value === value) return mem;
  return { ...mem, syncNamesSeen: { value, lsn: pg.walPosition ?? Number.MAX_SAFE_INTEGER } };
}

function writeKey(input: SyncLeaderInput, standbys: string[]): SyncAction {
  return {
    type: "write_sync",
    leader: input.me,
    standbys: [...standbys].sort(),
    quorum: 0,
    modRevision: input.view.sync?.modRevision ?? null,
  };
}

/**
 * The leader's step (Patroni's `_process_multisync_replication` and `_handle_synchronous_strict_mode`): claim the
 * key; with fewer streaming candidates than strict mode needs, keep waiting for the standbys in the key (or for
 * the placeholder); otherwise name the chosen standbys in Postgres, and in the key those Postgres already waits
 * for. One key write per cycle, always before the change to `synchronous_standby_names`: a standby leaves the key
 * before Postgres stops waiting for it, and enters it only once Postgres waits for it.
 */
export function syncLeaderStep(input: SyncLeaderInput): SyncStep {
  const { me, cfg, view, pg } = input;
  const mem = syncMemoryFor(pg, input.mem);
  const current = pg.synchronousStandbyNames ?? "";
  const key = view.sync;
  const mine = key !== null && key.leader !== null && lower(key.leader) === lower(me);
  const voters = mine ? key.syncStandby : [];
  const { active, confirmed } = syncCandidates(input, mem.syncNamesSeen!.lsn);
  const actions: SyncAction[] = [];
  const minSync = cfg.strict ? 1 : 0;
  // The value is set every cycle, changed or not: the adapter keeps it for every later rewrite of postgresql.conf
  // (a reload, a restart), also in an agent restarted beside a running Postgres; it writes only what changed.
  if (active.length < minSync) {
    if (!mine) actions.push(writeKey(input, []));
    const wanted = buildSyncNames(voters, Math.max(minSync, voters.length));
    actions.push({ type: "set_sync_standby_names", value: wanted });
    const on = voters.length > 0 ? voters.join(", ") : "a standby";
    const note = `synchronous_mode_strict: no standby to add, commits wait for ${on}`;
    if (mem.strictWarned) return { actions, mem, note };
    const warning = strictModeWarning(voters.length > 0, current, wanted);
    return { actions, mem: { ...mem, strictWarned: true }, note, warning };
  }
  const { strictWarned: _, ...settled } = mem;
  if (!mine || !sameSet(voters, confirmed)) actions.push(writeKey(input, confirmed));
  const wanted = buildSyncNames(active);
  const changed = actions.length > 0 || !sameSyncNames(current, wanted);
  actions.push({ type: "set_sync_standby_names", value: wanted });
  const note = !changed ? null : `synchronous standbys: ${confirmed.join(", ") || "none yet"}` +
    (sameSet(active, confirmed) ? "" : ` (named in postgres: ${active.join(", ") || "none"})`);
  return { actions, mem: settled, note };
}

/**
 * Before a leader starts its stopped Postgres as a primary in synchronous mode: the value it must start with, so
 * that no commit is acknowledged before the next cycle names its standbys: those of the key it wrote (strict
 * mode: at least the placeholder), none outside strict mode when the key names none.
 */
export function syncBeforeStart(me: string, cfg: SyncConfig, key: SyncState | null): SyncAction[] {
  const mine = key !== null && key.leader !== null && lower(key.leader) === lower(me);
  const standbys = mine ? key.syncStandby : [];
  const num = cfg.strict ? Math.max(1, standbys.length) : standbys.length;
  return [{ type: "set_sync_standby_names", value: buildSyncNames(standbys, num) }];
}

/**
 * Synchronous mode turned off (Patroni's `disable_synchronous_replication`): delete the key, then hand
 * `synchronous_standby_names` back to the configured value.
 */
export function syncDisableStep(view: ClusterView, pg: PgObservation, configured: string): SyncAction[] {
  const actions: SyncAction[] = [];
  if (view.sync !== null && view.sync.leader) {
    actions.push({ type: "delete_sync", modRevision: view.sync.modRevision });
  }
  if (!sameSyncNames(pg.synchronousStandbyNames ?? "", configured)) {
    actions.push({ type: "set_sync_standby_names", value: null });
  }
  return actions;
}

/**
 * Before a replica promotes in synchronous mode (Patroni's `_process_multisync_prepromote`): the key names it as
 * the leader (a compare-and-set; the promotion does not happen when it fails), with no standby outside strict
 * mode; in strict mode it keeps the key's members, its former leader included (Patroni's `SyncState.members`),
 * minus itself, and Postgres waits for them from the start.
 */
export function syncPrepromote(me: string, cfg: SyncConfig, view: ClusterView): SyncAction[] {
  const members = view.sync?.leader ? [view.sync.leader, ...view.sync.syncStandby] : [];
  const keep = cfg.strict ? members.filter((n) => lower(n) !== lower(me)) : [];
  return [
    {
      type: "write_sync",
      leader: me,
      standbys: keep,
      quorum: 0,
      modRevision: view.sync?.modRevision ?? null,
    },
    {
      type: "set_sync_standby_names",
      value: buildSyncNames(keep, cfg.strict ? Math.max(1, keep.length) : 0),
    },
  ];
}

/**
 * Null when this member may race for the leader key as far as synchronous replication goes; else why not. While
 * the key is active only its leader and its standbys may take over (each of them has every commit Postgres
 * acknowledged): Patroni's `is_healthiest_node` in synchronous mode. In quorum mode anyone may race (the votes
 * decide: src/core/quorum_plan.ts).
 */
export function syncRaceRefusal(
  me: string,
  cfg: SyncConfig | undefined,
  key: SyncState | null,
): string | null {
  if (!syncKeyActive(cfg, key) || cfg?.mode === "quorum" || syncKeyNames(key, me)) return null;
  const named = key.syncStandby.length > 0 ? key.syncStandby.join(", ") : "none";
  return `synchronous_mode is on and I am not a synchronous standby (sync key: leader ${key.leader}, standbys ${named})`;
}

/** The peers that count in a leader race under an active key: its leader and standbys only. */
export function syncRacePeers(
  cfg: SyncConfig | undefined,
  key: SyncState | null,
  peers: PeerStatus[] | null,
): PeerStatus[] | null {
  if (peers === null || !syncKeyActive(cfg, key)) return peers;
  return peers.filter((p) => syncKeyNames(key, p.name));
}

/**
 * Why `candidate` may not be the target of a switchover or failover while synchronous mode is on, or null
 * (Patroni's REST check: "candidate name does not match with sync_standby"; Patroni lets a failover go to any
 * member, hactl does not: that member could lack acknowledged commits). Without a candidate: null when the key
 * names a standby, else why not.
 */
export function syncSwitchoverRefusal(
  cfg: SyncConfig | undefined,
  key: SyncState | null,
  candidate: string | undefined,
  action: "switchover" | "failover",
): string | null {
  if (!syncRequested(cfg) || cfg.mode === "quorum") return null;
  const standbys = key?.leader ? key.syncStandby : [];
  if (candidate) {
    return standbys.some((n) => lower(n) === lower(candidate))
      ? null
      : "candidate name does not match with sync_standby";
  }
  return standbys.length > 0 ? null : `${action} is not possible: can not find sync_standby`;
}

/** The parsed current value, for the REST status (`synchronous_standby_names` as Postgres has it). */
export { parseSyncNames };

/**
 * Patroni's one-time WARNING when strict mode makes commits wait with no standby streaming (priority and quorum
 * modes alike); it names the value kept when Postgres already waits for the key's voters.
 */
export function strictModeWarning(
  hasVoters: boolean,
  current: string | null | undefined,
  wanted: string,
): string {
  const kept = hasVoters && sameSyncNames(current, wanted)
    ? `Continue using old value of synchronous_standby_names="${current}". `
    : "";
  return "No active replication connections from Patroni members and synchronous_mode_strict is " +
    `requested. ${kept}Commits will be delayed.`;
}
