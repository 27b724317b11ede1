/**
 * Quorum commit (`synchronous_mode: quorum`) in the HA plan, as Patroni 4 runs it: the leader names its streaming
 * standbys in `synchronous_standby_names` as `ANY numsync (...)` and keeps the `sync` key's voters and `quorum`
 * in step through the state machine of src/core/quorum.ts; a replica promotes only with enough votes (members of
 * the voting set — the key's leader and voters — whose WAL is not ahead of its own: `quorum` of them for a voter,
 * one more for anyone else), so it holds every commit Postgres acknowledged. Also what a member sets before it
 * promotes or starts as a primary, and which hand-overs can gather those votes.
 *
 * One plan carries at most one key write and the `synchronous_standby_names` change that follows it: a key change
 * due after a change in Postgres waits for the next cycle, when the server reports the new value (Patroni writes
 * both within one cycle; waiting only ever errs towards Postgres waiting for more than the key assumes).
 *
 * Pure. May import: `src/core/`.
 *
 * @module
 */
import type { ClusterView, Observation, PeerStatus, ReplicationRow, SyncState } from "./types.ts";
import { parseLsn } from "./types.ts";
import type { SyncAction, SyncConfig } from "./sync_types.ts";
import {
  isNoSync,
  strictModeWarning,
  type SyncLeaderInput,
  syncMemoryFor,
  syncPriority,
  type SyncStep,
} from "./sync.ts";
import { parseSyncNames, SYNC_STRICT_PLACEHOLDER } from "./sync_names.ts";
import { quoteStandbyName } from "./sync_names.ts";
import { type QuorumTransition, quorumTransitions } from "./quorum.ts";

const lower = (s: string) => s.toLowerCase();
const sameName = (a: string | null | undefined, b: string) => a != null && lower(a) === lower(b);

/**
 * `ANY num (names)`; empty when Postgres waits for nobody; `ANY 1 (placeholder)` when it must wait but none is
 * named (as Patroni writes it).
 */
export function buildQuorumNames(names: readonly string[], num: number): string {
  if (names.length === 0) return num >= 1 ? `ANY 1 (${SYNC_STRICT_PLACEHOLDER})` : "";
  if (num <= 0) return "";
  return `ANY ${num} (${[...names].sort().map(quoteStandbyName).join(",")})`;
}

function rowLsn(row: ReplicationRow): number | null {
  if (!row.flush_lsn) return null;
  try {
    return parseLsn(row.flush_lsn);
  } catch {
    return null;
  }
}

/** The standbys eligible for quorum commit (`active`) and those of them known caught up (`confirmed`). */
export interface QuorumCandidates {
  active: string[];
  confirmed: string[];
}

/**
 * Patroni's `current_state` in quorum mode: streaming members (running, not nosync), those without nofailover
 * first, each within `maximum_lag_on_syncnode` of the most advanced one; a nofailover member only while fewer than
 * `synchronous_node_count` are chosen. Confirmed: named in `synchronous_standby_names`, reported `quorum` by
 * Postgres, and flushed up to the leader's position when that value was first seen (`readyFrom`).
 */
export function quorumCandidates(input: SyncLeaderInput, readyFrom: number): QuorumCandidates {
  const { me, cfg, view, pg } = input;
  const named = (parseSyncNames(pg.synchronousStandbyNames ?? "")?.names ?? []).map(lower);
  const list: { name: string; state: string; lsn: number; nofailover: boolean; priority: number }[] = [];
  for (const m of view.members) {
    const tags = m.data.tags ?? {};
    if (sameName(me, m.name) || m.data.state !== "running" || isNoSync(tags)) continue;
    const row = pg.replication.find((r) => sameName(r.application_name, m.name) && rowLsn(r) !== null);
    if (!row) continue;
    const nofailover = typeof tags.nofailover === "boolean"
      ? tags.nofailover
      : typeof tags.failover_priority === "number" && tags.failover_priority <= 0;
    list.push({
      name: m.name,
      state: row.sync_state,
      lsn: rowLsn(row)!,
      nofailover,
      priority: syncPriority(tags),
    });
  }
  list.sort((a, b) =>
    b.priority - a.priority || (b.state > a.state ? 1 : b.state < a.state ? -1 : 0) || b.lsn - a.lsn
  );
  const maxLsn = list.length > 1 ? Math.max(...list.map((c) => c.lsn)) : (pg.walPosition ?? 0);
  const ordered = [...list.filter((c) => !c.nofailover), ...list.filter((c) => c.nofailover)];
  const active: string[] = [];
  const confirmed: string[] = [];
  for (const c of ordered) {
    if (cfg.maximumLagOnSyncnode > 0 && maxLsn - c.lsn > cfg.maximumLagOnSyncnode) continue;
    if (c.nofailover && active.length >= cfg.nodeCount) continue;
    active.push(c.name);
    if (named.includes(lower(c.name)) && c.state === "quorum" && c.lsn >= readyFrom) confirmed.push(c.name);
  }
  return { active, confirmed };
}

function keyWrite(view: ClusterView, t: QuorumTransition): SyncAction {
  return {
    type: "write_sync",
    leader: t.leader,
    standbys: t.names,
    quorum: t.num,
    modRevision: view.sync?.modRevision ?? null,
  };
}

/** The transitions carried out this cycle: a key write and the Postgres change after it, or one Postgres change. */
function thisCycle(view: ClusterView, ts: QuorumTransition[]): SyncAction[] {
  const out: SyncAction[] = [];
  for (const t of ts) {
    if (t.kind === "restart") break;
    if (t.kind === "quorum") {
      if (out.length > 0) break;
      out.push(keyWrite(view, t));
      continue;
    }
    out.push({ type: "set_sync_standby_names", value: buildQuorumNames(t.names, t.num) });
    break;
  }
  return out;
}

function describe(actions: SyncAction[]): string | null {
  const parts = actions.map((a) =>
    a.type === "write_sync"
      ? `sync key: leader ${a.leader}, quorum ${a.quorum} of (${a.standbys.join(", ")})`
      : a.type === "set_sync_standby_names"
      ? `synchronous_standby_names = '${a.value ?? ""}'`
      : "sync key deleted"
  );
  return parts.length > 0 ? `quorum commit: ${parts.join("; ")}` : null;
}

/**
 * The leader's step in quorum mode (Patroni's `_process_quorum_replication`): claim an empty key; in strict mode
 * with too few streaming standbys keep Postgres waiting for the key's voters (or the placeholder); otherwise run
 * the state machine and carry out this cycle's share of its transitions; with nothing to change, turn a
 * `FIRST n (...)` value into `ANY n (...)`.
 */
export function quorumLeaderStep(input: SyncLeaderInput): SyncStep {
  const { me, cfg, view, pg } = input;
  const seen = syncMemoryFor(pg, input.mem);
  // The strict-mode warning is logged once while commits wait (as Patroni); leaving that state resets it.
  const { strictWarned: _warned, ...mem } = seen;
  const key = view.sync;
  if (key === null || !key.leader) {
    const actions: SyncAction[] = [{
      type: "write_sync",
      leader: me,
      standbys: [],
      quorum: 0,
      modRevision: key?.modRevision ?? null,
    }];
    return { actions, mem, note: "quorum commit: enabled synchronous replication" };
  }
  const parsed = parseSyncNames(pg.synchronousStandbyNames ?? "") ??
    { kind: "off" as const, num: 0, names: [] };
  const sync = parsed.names.includes("*") ? [SYNC_STRICT_PLACEHOLDER] : parsed.names;
  const numsync = parsed.kind === "off" ? 0 : parsed.num;
  const { active, confirmed } = quorumCandidates(input, mem.syncNamesSeen!.lsn);
  const minSync = cfg.strict ? 1 : 0;
  if (sameName(key.leader, me) && active.length < minSync) {
    const wanted = buildQuorumNames(key.syncStandby, Math.max(minSync, key.syncStandby.length - key.quorum));
    const on = key.syncStandby.length > 0 ? key.syncStandby.join(", ") : "a standby";
    const actions: SyncAction[] = [{ type: "set_sync_standby_names", value: wanted }];
    const note = `synchronous_mode_strict: no standby to add, commits wait for ${on}`;
    if (seen.strictWarned) return { actions, mem: seen, note };
    const warning = strictModeWarning(key.syncStandby.length > 0, pg.synchronousStandbyNames ?? "", wanted);
    return { actions, mem: { ...mem, strictWarned: true }, note, warning };
  }
  if (minSync === 0 && active.length === 0 && key.syncStandby.length === 0 && sync.length > 0) {
    const actions: SyncAction[] = [{ type: "set_sync_standby_names", value: "" }];
    return { actions, mem, note: describe(actions) };
  }
  const r = quorumTransitions({
    leader: key.leader,
    quorum: key.quorum,
    voters: key.syncStandby,
    numsync,
    sync,
    numsyncConfirmed: confirmed.length,
    active,
    syncWanted: cfg.nodeCount,
    leaderWanted: me,
  });
  // The value is set every cycle, changed or not: the adapter keeps it for every later rewrite of postgresql.conf.
  const keep: SyncAction[] = [{ type: "set_sync_standby_names", value: pg.synchronousStandbyNames ?? "" }];
  if (r.error !== null) return { actions: keep, mem, note: `quorum commit: state left as it is: ${r.error}` };
  const actions = thisCycle(view, r.transitions);
  if (r.transitions.length === 0 && parsed.kind === "priority") {
    actions.push({ type: "set_sync_standby_names", value: buildQuorumNames(sync, numsync) });
  }
  if (actions.length === 0) return { actions: keep, mem, note: null };
  return { actions, mem, note: describe(actions) };
}

/**
 * Before a replica promotes in quorum mode (Patroni's `_process_quorum_prepromote`): Postgres will wait, from its
 * first commit, for the key's members other than itself (the former leader among them), as many as the key's
 * quorum leaves: `|members| - quorum - 1`, one more when it is not a voter itself, at least one in strict mode.
 * The key itself is rewritten by its first cycle as the leader.
 */
export function quorumPrepromote(me: string, cfg: SyncConfig, key: SyncState | null): SyncAction[] {
  const active = key !== null && !!key.leader;
  const members = active ? [key.leader!, ...key.syncStandby] : [];
  const quorum = active ? key.quorum : 0;
  let num = members.length - quorum - 1;
  const others = members.filter((n) => !sameName(n, me));
  if (others.length === members.length) num += 1;
  num = Math.max(num, cfg.strict ? 1 : 0);
  return [{ type: "set_sync_standby_names", value: buildQuorumNames(others, num) }];
}

/**
 * Before a leader starts its stopped Postgres as a primary in quorum mode: wait for the key's voters, as many as
 * its quorum leaves (`|voters| - quorum`, at least one in strict mode) when the key is this leader's, else as
 * before a promotion.
 */
export function quorumBeforeStart(me: string, cfg: SyncConfig, key: SyncState | null): SyncAction[] {
  if (key === null || !sameName(key.leader, me)) return quorumPrepromote(me, cfg, key);
  const num = Math.max(key.syncStandby.length - key.quorum, cfg.strict ? 1 : 0);
  return [{ type: "set_sync_standby_names", value: buildQuorumNames(key.syncStandby, num) }];
}

/** A peer whose answer counts in the vote (Patroni's `failover_limitation`): reachable, promotable, watchdog fine. */
function canVote(p: PeerStatus): p is PeerStatus & { walPosition: number } {
  return p.reachable && p.walPosition !== undefined && p.nofailover !== true && p.watchdogFailed !== true &&
    p.fenceFailed !== true;
}

/**
 * Null when quorum commit lets this member take the leader key, else why not (Patroni's `_is_healthiest_node` in
 * quorum mode). Applies while the key is active in quorum mode, and in any synchronous mode while the key still
 * carries a quorum (a switch from quorum to on is not complete until the leader rewrites it). A vote is a member of
 * the voting set (key leader and voters) that reports a WAL position above zero and is not ahead of me (on my
 * timeline and not past my position, or on an older timeline); a voter (or the key's leader) needs `quorum` votes, anyone else one more. Unlike Patroni, the key's
 * former leader needs them too: the key names a new leader only from its first cycle as leader, so a member that
 * promoted, acknowledged commits and died before that leaves a key whose former leader may lack them.
 */
export function quorumRaceRefusal(
  me: string,
  cfg: SyncConfig | undefined,
  key: SyncState | null,
  obs: Observation,
): string | null {
  if (cfg === undefined || cfg.mode === "off" || key === null || !key.leader) return null;
  if (cfg.mode !== "quorum" && key.quorum <= 0) return null;
  const voting = [key.leader, ...key.syncStandby];
  const inVoting = (n: string) => voting.some((v) => sameName(v, n));
  const mine = obs.pg.walPosition ?? 0;
  const myTimeline = obs.pg.timeline;
  let votes = inVoting(me) ? 0 : -1;
  const voters: string[] = [];
  for (const p of obs.peers ?? []) {
    if (sameName(p.name, me) || !inVoting(p.name) || !canVote(p)) continue;
    // Positions compare on one timeline only: a peer on a newer timeline is ahead (no vote), one on an older
    // timeline is behind whatever its position says (it has nothing of this timeline).
    const older = myTimeline !== null && p.timeline !== undefined && p.timeline < myTimeline;
    if (myTimeline !== null && p.timeline !== undefined && p.timeline > myTimeline) continue;
    if (p.walPosition > 0 && (older || p.walPosition <= mine)) {
      votes++;
      voters.push(p.name);
    }
  }
  if (votes >= key.quorum) return null;
  const got = voters.length > 0 ? ` (${voters.join(", ")})` : "";
  const need = key.quorum + (inVoting(me) ? 0 : 1);
  return `quorum commit needs ${need} vote(s) from the voting set (${voting.join(", ")})` +
    `${inVoting(me) ? "" : " (one more than the quorum, as I am not a voter)"}; got ${voters.length}${got}`;
}

/**
 * Why a hand-over cannot gather the votes its candidate needs in quorum mode, or null: besides the candidate, the
 * healthy voters (those `healthy` accepts, the leader itself not counted: it stops) must number the key's quorum,
 * one more for a candidate outside the voters; without a named candidate, quorum + 1 healthy voters.
 */
export function quorumHandoverRefusal(
  me: string,
  cfg: SyncConfig | undefined,
  key: SyncState | null,
  candidate: string | null,
  healthy: (name: string) => boolean,
): string | null {
  if (cfg?.mode !== "quorum" || key === null || !sameName(key.leader, me)) return null;
  const voters = key.syncStandby.filter((n) => !sameName(n, me));
  const ok = voters.filter(healthy);
  if (candidate === null) {
    return ok.length >= key.quorum + 1
      ? null
      : `quorum commit needs ${key.quorum + 1} healthy voter(s) to hand over to, found ${ok.length}`;
  }
  const isVoter = voters.some((n) => sameName(n, candidate));
  const need = key.quorum + (isVoter ? 0 : 1);
  const others = ok.filter((n) => !sameName(n, candidate)).length;
  return others >= need
    ? null
    : `quorum commit: candidate '${candidate}' would need ${need} vote(s) from healthy voters, found ${others}`;
}
