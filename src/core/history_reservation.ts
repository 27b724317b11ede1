/**
 * A promotion reserves its timeline number in the `history` key before it happens.
 *
 * Patroni writes `history` in the new leader's cycles after the promotion (`update_cluster_history`, from the
 * timeline history file of the new timeline). A leader that is stopped, killed, cut off or hands over between its
 * promotion and that cycle leaves the new timeline unknown to the cluster, and the next promotion may pick the same
 * number on another history (two histories, one timeline: pg_rewind then sees "the same timeline", and a replica
 * may stream across them). hactl closes that window: the plan that promotes first writes the key with an entry for
 * the timeline the promotion will land on, `[T-1, position, "promotion under way ...", now, me]` (Patroni's 5-field
 * form, so Patroni members read it as any other entry: the cluster's timeline is T), and only then promotes (the
 * executor stops at the first failed action: no reservation, no promotion). A promotion seeds the history files of
 * every timeline the key names (src/pg/lifecycle.ts), so whoever promotes next lands above T. Once promoted, the
 * leader's next cycle replaces the entry with the real switch point and reason (src/core/decide_leader.ts
 * `historyToPublish`), also before a switchover's hand-over.
 *
 * A promotion the `pre_promote` script refused (so `pg_ctl promote` never ran) takes its reservation back before it
 * releases the key (src/core/pre_promote.ts).
 *
 * T is predicted as Postgres picks it: the first number after the own timeline and the key's timelines that has no
 * history file (a replica's own files in pg_wal counted); a number Postgres would find only in the WAL archive can
 * put it higher, which the leader's next cycle corrects as before. A reservation whose promotion never happened
 * (the pre_promote script refused, the member died before `pg_ctl promote`) leaves a number unused, never reused.
 *
 * Until corrected, the entry's position is only a lower bound of the switch point: the rule that keeps a member
 * whose WAL went past the cluster's switch point out of the race (src/core/leader_race.ts) does not judge by it,
 * and `check_timeline` counts only confirmed entries (a reservation whose promotion never happened must not keep
 * every member out of the race for good; Patroni, which writes no reservation, behaves the same).
 *
 * Pure. May import: `src/core/` (types, topology).
 *
 * @module
 */
import type { ClusterView, Decision, HistoryEntry, Observation, PgObservation } from "./types.ts";
import { clusterTimeline } from "./topology.ts";

/** The reason of a reserved entry (Postgres writes reasons such as "no recovery target specified"). */
export const RESERVED_REASON = "promotion under way (switch point not known yet)";

/** Is `e` a reservation, written before its promotion and not corrected since? */
export function isReservation(e: HistoryEntry): boolean {
  return e[2] === RESERVED_REASON;
}

/** The key's newest entry (highest timeline), or undefined. */
export function newestEntry(view: ClusterView): HistoryEntry | undefined {
  return (view.history ?? []).reduce<HistoryEntry | undefined>(
    (m, e) => (m && m[0] >= e[0] ? m : e),
    undefined,
  );
}

/** Is the key's newest entry a reservation by `me` (a promotion of mine the leader cycle has not confirmed)? */
export function ownReservationPending(view: ClusterView, me: string): boolean {
  const top = newestEntry(view);
  return top !== undefined && isReservation(top) && top[4] === me;
}

/** The cluster's timeline counting only confirmed entries (for `check_timeline`), or 1. */
export function confirmedClusterTimeline(view: ClusterView): number {
  return (view.history ?? []).reduce((max, e) => isReservation(e) ? max : Math.max(max, e[0] + 1), 1);
}

/** A `history` timestamp as Patroni writes it (ISO 8601 with an offset). */
export function historyStamp(wallNow: number): string {
  return new Date(wallNow).toISOString().replace("Z", "+00:00");
}

/**
 * The timeline a promotion of this replica lands on: Postgres takes the first number after its own timeline with
 * no history file, and the adapter first writes the files of every timeline the key names.
 */
export function promotionTimeline(view: ClusterView, pg: PgObservation): number {
  const files = new Set(pg.historyTimelines ?? []);
  let t = Math.max(pg.timeline ?? 1, clusterTimeline(view));
  while (files.has(t + 1)) t++;
  return t + 1;
}

/** The `history` value that reserves the timeline of this replica's promotion (trimmed to `max` above 0). */
export function reservation(
  view: ClusterView,
  pg: PgObservation,
  wallNow: number,
  me: string,
  max = 0,
): HistoryEntry[] {
  const next = promotionTimeline(view, pg);
  const position = pg.replayLsn ?? pg.walPosition ?? 0;
  const all: HistoryEntry[] = [...(view.history ?? []), [
    next - 1,
    position,
    RESERVED_REASON,
    historyStamp(wallNow),
    me,
  ]];
  return max > 0 ? all.slice(-max) : all;
}

/** `d` with a `write_history` reserving the new timeline right before its `promote`. */
export function withTimelineReservation(d: Decision, obs: Observation, me: string, max = 0): Decision {
  const at = d.actions.findIndex((a) => a.type === "promote");
  if (at < 0 || obs.dcs.kind !== "ok") return d;
  const history = reservation(obs.dcs.cluster, obs.pg, obs.wallNow, me, max);
  return {
    ...d,
    actions: [...d.actions.slice(0, at), { type: "write_history", history }, ...d.actions.slice(at)],
  };
}

/** The key without this member's pending reservation (its newest entry), or null when it holds none of mine. */
export function withdrawnReservation(view: ClusterView, me: string): HistoryEntry[] | null {
  if (!ownReservationPending(view, me)) return null;
  const top = newestEntry(view)!;
  return (view.history ?? []).filter((e) => e !== top);
}
