/**
 * Has this member's history left the leader's? Patroni's divergence rule, applied to every member that follows a
 * leader: on start (Postgres stopped: after a lost race, a demotion, a crash, an agent restart), while a running
 * replica does not stream (an upstream change, a leader that moved on without it), and when the leader's timeline
 * is newer than this member's (a timeline change of the leader). The leader's timeline history is compared with
 * where this member's WAL ends:
 *
 * - a running replica: its replay position and timeline (WAL received but not yet replayed does not count: on
 *   reaching the switch point, recovery follows the newer timeline by itself), or its minimum recovery point when
 *   that is further (its pages already hold that WAL, e.g. after pg_rewind from a member that has since lost);
 * - a stopped server: pg_controldata (the minimum recovery ending location after a shutdown in recovery, else the
 *   latest checkpoint).
 *
 * A member on a newer timeline than the leader's has diverged; on the same timeline it has not; on an older one it
 * has diverged when its position on that timeline is past the point where the leader's history left it (a former
 * primary when its latest checkpoint starts at or past that point). The check is made only against the
 * read-write leader: never against a cascading (`replicatefrom`) upstream, which may still be on the old timeline.
 *
 * Two members promoted while neither knew of the other's promotion (the cluster's `history` key not yet written)
 * can pick the same timeline number for two histories: a member on the leader's timeline *number* whose own history
 * file records other switches has diverged too, and pg_rewind (which compares timeline numbers) cannot repair it.
 * When both promoted from the same point even the history files are equal: a stopped member's WAL after its switch
 * point is then compared with the leader's (wal_probe.ts), and other bytes mean another timeline.
 *
 * A running replica whose WAL is on the leader's history may still be unable to follow it: its pg_wal holds the
 * history file of a newer timeline the leader never had (an abandoned branch, fetched from a member that led
 * briefly), and `recovery_target_timeline = latest` keeps chasing that one ("new timeline N is not a child of
 * database system timeline M"), even once the leader's own newer history file is there too (Postgres chose its
 * target when it started and switches only to a timeline whose history contains that target). Postgres picks its
 * target again when it starts, so such a replica (any history file it holds past its timeline and not in the
 * leader's history) is restarted once it has not streamed for a while.
 *
 * Pure. May import: `src/core/types.ts`.
 *
 * @module
 */
import {
  type ClusterView,
  type DcsObservation,
  formatLsn,
  type LeaderTimeline,
  type LocalPosition,
  type Observation,
  type PgObservation,
  type TimelineSwitch,
  type Upstream,
} from "./types.ts";
import { PROBE_BYTES, type WalProbe } from "./wal_probe.ts";

/** The leader's member as an upstream, when its key says it runs as the read-write primary. */
export function readWriteLeader(view: ClusterView, me: string): Upstream | null {
  const name = view.leader?.name;
  if (!name || name === me) return null;
  const member = view.members.find((m) => m.name === name);
  if (!member || !member.data.conn_url) return null;
  if (member.data.role !== "primary" && member.data.role !== "master") return null;
  return { name, connUrl: member.data.conn_url };
}

/**
 * The leader whose timeline history this cycle needs, or null: only for a member that follows a read-write leader
 * and may have left its history (Postgres stopped, a replica that does not stream, or one on an older timeline
 * than the leader's key says), never while a job runs or the cluster is paused.
 */
export function divergenceCheckTarget(
  dcs: DcsObservation,
  pg: PgObservation,
  jobBusy: boolean,
  me: string,
  paused: boolean,
): Upstream | null {
  if (dcs.kind !== "ok" || jobBusy || paused || pg.dataDir !== "initialized") return null;
  const leader = readWriteLeader(dcs.cluster, me);
  if (!leader) return null;
  if (!pg.running) return leader;
  if (!pg.queryable || pg.role !== "replica") return null;
  if (pg.replicationState !== "streaming") return leader;
  const leaderTimeline = dcs.cluster.members.find((m) => m.name === leader.name)?.data.timeline;
  return typeof leaderTimeline === "number" && pg.timeline !== null && pg.timeline < leaderTimeline
    ? leader
    : null;
}

/** Where this member's history ends: a running replica's replay position, or a stopped server's pg_controldata. */
export function localPosition(pg: PgObservation): LocalPosition | null {
  if (pg.running) {
    const lsn = pg.replayLsn ?? pg.walPosition;
    if (pg.role !== "replica" || pg.timeline === null || lsn === null) return null;
    // Pages already hold WAL up to the minimum recovery point (after pg_rewind: the source's position, maybe on a
    // newer timeline than the WAL replayed so far): that is where its history ends when it is further.
    const min = pg.minRecoveryPoint;
    if (min && (min.timeline > pg.timeline || (min.timeline === pg.timeline && min.lsn > lsn))) return min;
    return { inRecovery: true, timeline: pg.timeline, lsn };
  }
  return pg.controlPosition ?? null;
}

/**
 * The WAL a stopped member compares with the leader's: what it wrote on its timeline after that timeline's switch
 * point (at most PROBE_BYTES), or null when there is nothing to compare (timeline 1, nothing written after the
 * switch, its history unknown, or Postgres running).
 */
export function walProbe(pg: PgObservation): WalProbe | null {
  const pos = pg.running ? null : pg.controlPosition;
  const start = pg.positionHistory?.at(-1);
  if (!pos || pos.timeline <= 1 || !start || pos.lsn <= start.switchLsn) return null;
  return {
    timeline: pos.timeline,
    lsn: start.switchLsn,
    length: Math.min(PROBE_BYTES, pos.lsn - start.switchLsn),
  };
}

/** Patroni's comparison of a local position with the leader's timeline and history: true when diverged. */
export function hasDiverged(
  local: LocalPosition,
  leaderTimeline: number,
  history: readonly TimelineSwitch[],
): boolean {
  if (local.timeline > leaderTimeline) return true;
  if (local.timeline === leaderTimeline) return false;
  for (const sw of history) {
    if (sw.timeline === local.timeline) {
      // A former primary's latest checkpoint starting before the switch point may end exactly at it (its shutdown
      // checkpoint, which the new leader received): Patroni reads its end with pg_waldump; here it counts as not
      // diverged. pg_rewind, always run for a former primary when enabled, finds out itself, and once it runs as
      // a replica its replay position is checked again.
      return local.inRecovery ? local.lsn > sw.switchLsn : local.lsn >= sw.switchLsn;
    }
    if (sw.timeline > local.timeline) return true;
  }
  return true;
}

/** The divergence verdict of this cycle: diverged (and why), not diverged, unknown (and why), or not checked. */
export type Divergence =
  | { kind: "diverged"; leader: string; why: string }
  | { kind: "same"; leader: string; why: string }
  | { kind: "unknown"; leader: string; why: string }
  /** On the leader's timeline number, but another history: pg_rewind sees "the same timeline" and cannot help. */
  | { kind: "renumbered"; leader: string; why: string }
  /** Its WAL is on the leader's history, but Postgres chases a newer timeline the leader never had. */
  | { kind: "foreign-target"; leader: string; why: string }
  | null;

/** Read the cycle's observation: has this member's history left the leader's? */
export function divergence(obs: Observation): Divergence {
  const lt: LeaderTimeline | undefined = obs.leaderTimeline;
  if (!lt) return null;
  if ("error" in lt) return { kind: "unknown", leader: lt.member, why: lt.error };
  const local = localPosition(obs.pg);
  if (!local) {
    return { kind: "unknown", leader: lt.member, why: "this member's timeline and position are not known" };
  }
  const own = obs.pg.positionHistory;
  const ownTimeline = obs.pg.running ? obs.pg.timeline : obs.pg.controlPosition?.timeline;
  if (
    local.timeline === lt.timeline && ownTimeline === local.timeline && own && !sameSwitches(own, lt.history)
  ) {
    return {
      kind: "renumbered",
      leader: lt.member,
      why:
        `its timeline ${local.timeline} is another history than timeline ${lt.timeline} of '${lt.member}' ` +
        `(left timeline ${own.at(-1)?.timeline ?? "?"} at ${
          formatLsn(own.at(-1)?.switchLsn ?? 0)
        }, the leader's ` +
        `timeline ${lt.history.at(-1)?.timeline ?? "?"} at ${formatLsn(lt.history.at(-1)?.switchLsn ?? 0)})`,
    };
  }
  const wal = lt.switchWal;
  if (local.timeline === lt.timeline && !obs.pg.running && wal && !wal.match) {
    return {
      kind: "renumbered",
      leader: lt.member,
      why:
        `its timeline ${local.timeline} began with other WAL at ${
          formatLsn(wal.lsn)
        } than on '${lt.member}' ` +
        "(both promoted from one point, unaware of each other)",
    };
  }
  // Postgres may have picked any of them when it started (the newest it found then), not only the newest now.
  const lineage = new Set([lt.timeline, ...lt.history.map((h) => h.timeline)]);
  const foreign = obs.pg.running
    ? (obs.pg.historyTimelines ?? []).filter((t) => t > local.timeline && !lineage.has(t))
    : [];
  if (!hasDiverged(local, lt.timeline, lt.history) && foreign.length > 0) {
    return {
      kind: "foreign-target",
      leader: lt.member,
      why: `its pg_wal holds the history of timeline ${foreign.join(", ")}, which is not in the history of ` +
        `'${lt.member}' (timeline ${lt.timeline}), and Postgres may chase it; its WAL (timeline ` +
        `${local.timeline} at ${formatLsn(local.lsn)}) is`,
    };
  }
  if (!hasDiverged(local, lt.timeline, lt.history)) {
    return {
      kind: "same",
      leader: lt.member,
      why: `timeline ${local.timeline} at ${formatLsn(local.lsn)} is in the history of '${lt.member}' ` +
        `(timeline ${lt.timeline})`,
    };
  }
  return {
    kind: "diverged",
    leader: lt.member,
    why: `timeline ${local.timeline} at ${formatLsn(local.lsn)} is not in the history of '${lt.member}' ` +
      `(timeline ${lt.timeline}${switchText(lt.history, local.timeline)})`,
  };
}

/** Do two timeline histories record the same switches? */
function sameSwitches(a: readonly TimelineSwitch[], b: readonly TimelineSwitch[]): boolean {
  return a.length === b.length &&
    a.every((s, i) => s.timeline === b[i]!.timeline && s.switchLsn === b[i]!.switchLsn);
}

function switchText(history: readonly TimelineSwitch[], timeline: number): string {
  const sw = history.find((s) => s.timeline === timeline);
  return sw ? `, which left timeline ${timeline} at ${formatLsn(sw.switchLsn)}` : "";
}
