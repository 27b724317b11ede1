/**
 * Planned switchover and manual failover through the `failover` key, as pure rules:
 * what the leader does with a request (wait for its time, drop it as stale or invalid, or hand over), and what a
 * member does with it in a leader race (the named candidate takes the lock; others let a healthy candidate win).
 *
 * Pure: types, settings and topology. `decide_leader.ts` and `leader_race.ts` turn the steps into actions.
 *
 * @module
 */
import type { ClusterView, FailoverIntent, Member, PeerStatus } from "./types.ts";
import { staleAfterMs } from "./settings.ts";
import { confirmedClusterTimeline } from "./history_reservation.ts";
import { isNoFailover } from "./member_state.ts";
import { failsafeKeyExcludes } from "./failsafe_key.ts";

/** What the leader does about the `failover` key this cycle. */
export type LeaderStep =
  | { kind: "none" }
  | { kind: "wait"; reason: string }
  | { kind: "clear"; reason: string }
  | { kind: "handover"; candidate: string | null; reason: string };

/** A member that can take over: another member, running, not tagged nofailover. */
export function isHealthyCandidate(m: Member, me: string): boolean {
  const nofailover = isNoFailover(m.data.tags ?? {});
  return m.name !== me && !nofailover && m.data.state === "running" && typeof m.data.conn_url === "string";
}

/** The scheduled time in epoch ms, or null when absent or unparsable. */
export function scheduledAt(f: FailoverIntent): number | null {
  if (!f.scheduledAt) return null;
  const t = Date.parse(f.scheduledAt);
  return Number.isNaN(t) ? null : t;
}

/** What the leader knows of itself and of the candidates when it weighs a hand-over. */
export interface HandoverCheck {
  /** The candidates' `GET /patroni` answers (null: nobody was asked). */
  peers: PeerStatus[] | null;
  /** The leader's WAL position and timeline now. */
  position: number | null;
  timeline: number | null;
  maximumLagOnFailover: number;
  /** In synchronous mode, the standbys the `sync` key names: only they can take over in a switchover. */
  syncStandbys?: readonly string[] | null;
}

/**
 * Why `peer` cannot take over from this leader now, or null when it can: it answered over REST, is not tagged
 * nofailover, has a working watchdog, runs as a replica that streams, is on the leader's timeline and lags no more
 * than `maximum_lag_on_failover` behind the leader's position (Patroni's `is_failover_possible`, with streaming
 * required: a fast shutdown's last WAL, every acknowledged transaction, reaches only a replica that streams).
 */
export function handoverLimitation(peer: PeerStatus | undefined, check: HandoverCheck): string | null {
  if (!peer || !peer.reachable || peer.walPosition === undefined) return "did not answer over its REST API";
  if (peer.nofailover === true) return "is tagged nofailover";
  if (peer.watchdogFailed === true) return "has a failed watchdog";
  if (peer.fenceFailed === true) return "has no usable fencing supervisor";
  if (peer.role !== "replica") return `is not a running replica (role ${peer.role ?? "unknown"})`;
  if (peer.replicationState !== "streaming") {
    return `is not streaming (${peer.replicationState ?? "no replication state reported"})`;
  }
  if (check.timeline === null || peer.timeline !== check.timeline) {
    return `is on timeline ${peer.timeline ?? "unknown"}, not the leader's timeline ${
      check.timeline ?? "unknown"
    }`;
  }
  const lag = (check.position ?? 0) - peer.walPosition;
  if (lag > check.maximumLagOnFailover) {
    return `lags ${lag} bytes behind the leader (maximum_lag_on_failover ${check.maximumLagOnFailover})`;
  }
  return null;
}

/**
 * The leader's side. A request naming another leader, naming this leader as the candidate, with a time long past
 * (more than 1.5 * loop_wait), or without a candidate that can take over (by its member key, then by its answer:
 * `handoverLimitation`) is cleared, saying why; a request for later waits; otherwise the leader hands over: it
 * stops Postgres cleanly (every acknowledged transaction reaches the streaming candidate before the shutdown
 * completes) and releases the key.
 */
export function leaderStep(
  view: ClusterView,
  me: string,
  wallNow: number,
  loopWaitSeconds: number,
  check: HandoverCheck,
): LeaderStep {
  const f = view.failover;
  if (!f || (!f.leader && !f.member)) return { kind: "none" };
  const at = scheduledAt(f);
  if (f.scheduledAt && at === null) {
    return { kind: "clear", reason: `unparsable scheduled_at ${f.scheduledAt}` };
  }
  if (at !== null && at > wallNow) {
    return { kind: "wait", reason: `switchover scheduled at ${f.scheduledAt}` };
  }
  if (at !== null && wallNow - at > staleAfterMs({ loopWait: loopWaitSeconds })) {
    return { kind: "clear", reason: `the switchover scheduled at ${f.scheduledAt} is too old` };
  }
  if (f.leader && f.leader !== me) {
    return { kind: "clear", reason: `the request names leader '${f.leader}', but I am the leader` };
  }
  if (f.member === me) return { kind: "clear", reason: "the requested candidate is already the leader" };
  const sync = check.syncStandbys?.map((n) => n.toLowerCase()) ?? null;
  if (sync !== null && f.member && !sync.includes(f.member.toLowerCase())) {
    return { kind: "clear", reason: `candidate '${f.member}' is not a synchronous standby` };
  }
  const healthy = view.members.filter((m) =>
    isHealthyCandidate(m, me) && (!f.member || m.name === f.member) &&
    (sync === null || sync.includes(m.name.toLowerCase()))
  );
  if (healthy.length === 0) {
    const who = f.member
      ? `candidate '${f.member}' is not a healthy member`
      : "no healthy members to fail over to";
    return { kind: "clear", reason: who };
  }
  const refusals = healthy.map((m) => ({
    name: m.name,
    why: handoverLimitation(check.peers?.find((p) => p.name === m.name), check),
  }));
  if (refusals.every((r) => r.why !== null)) {
    return {
      kind: "clear",
      reason: f.member
        ? `candidate '${f.member}' ${refusals[0]!.why}`
        : `no member can take over: ${refusals.map((r) => `${r.name} ${r.why}`).join("; ")}`,
    };
  }
  const to = f.member ?? null;
  return {
    kind: "handover",
    candidate: to,
    reason: to
      ? `switching over to '${to}': stopping postgres and releasing the lock`
      : "switching over: stopping postgres and releasing the lock",
  };
}

/** What a member does about the `failover` key when nobody holds the leader key. */
export type RaceStep =
  | { kind: "none" }
  | { kind: "take"; reason: string }
  | { kind: "refuse"; reason: string }
  | { kind: "defer"; reason: string };

/** What a member needs to weigh a candidate in the race (its own or a peer's position and timeline). */
export interface RaceCheck {
  maximumLagOnFailover: number;
  checkTimeline: boolean;
}

/**
 * Why a candidate at `position` on `timeline` may not take over in the race, or null: it lags more than
 * `maximum_lag_on_failover` behind the last position the leader published (`/status`), or (with check_timeline)
 * its timeline is behind the cluster's. The candidate asks it of itself before it takes the key, the others of
 * the candidate's answer before they wait for it.
 */
export function raceLimitation(
  view: ClusterView,
  position: number | null,
  timeline: number | null,
  check: RaceCheck,
): string | null {
  const optime = view.status?.optime ?? null;
  const mine = position ?? 0;
  if (optime !== null && optime - mine > check.maximumLagOnFailover) {
    return `WAL position ${mine} lags ${optime - mine} bytes behind the last known leader position ${optime}`;
  }
  const cluster = confirmedClusterTimeline(view);
  if (check.checkTimeline && (timeline === null || timeline < cluster)) {
    return `timeline ${timeline ?? "unknown"} is behind the cluster timeline ${cluster}`;
  }
  return null;
}

/**
 * The race side: the named candidate takes the lock without the health comparison, once it has checked itself
 * (`self`: nofailover, lag, timeline, as Patroni's manual failover does through `is_failover_possible`); a
 * candidate that may not take over says why and stays a replica. Any other member lets a candidate win that
 * answers, is not nofailover and passes the same check, and races normally otherwise. The former leader named in
 * the request never races while a candidate is healthy.
 */
export function raceStep(
  view: ClusterView,
  me: string,
  peers: PeerStatus[] | null,
  self: { nofailover: boolean; position: number | null; timeline: number | null },
  check: RaceCheck,
): RaceStep {
  const f = view.failover;
  if (!f?.member) return { kind: "none" };
  if (f.member === me) {
    if (self.nofailover) {
      return {
        kind: "refuse",
        reason: "I am the candidate of a manual failover, but I am tagged nofailover",
      };
    }
    const why = raceLimitation(view, self.position, self.timeline, check);
    if (why !== null) {
      return { kind: "refuse", reason: `I am the candidate of a manual failover, but my ${why}` };
    }
    return { kind: "take", reason: "I am the candidate of a manual failover" };
  }
  // A candidate that the failsafe key keeps out of the race does not take the lock: nobody waits for it (found by
  // the simulator: the members of the key waited for it for good).
  const candidate = failsafeKeyExcludes(view, f.member)
    ? undefined
    : (peers ?? []).find((p) => p.name === f.member);
  if (
    candidate?.reachable && candidate.nofailover !== true && candidate.watchdogFailed !== true &&
    candidate.fenceFailed !== true &&
    raceLimitation(view, candidate.walPosition ?? null, candidate.timeline ?? null, check) === null
  ) {
    return { kind: "defer", reason: `waiting for candidate '${f.member}' to take the lock` };
  }
  return { kind: "none" };
}
