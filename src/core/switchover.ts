/**
 * Planned switchover and manual failover through the `failover` key, as pure rules:
 * what the leader does with a request (wait for its time, drop it as stale or invalid, or hand over), and what a
 * member does with it in a leader race (the named candidate takes the lock; others let a healthy candidate win).
 *
 * Pure: types only. `ha.ts` turns the steps into actions.
 *
 * @module
 */
import type { ClusterView, FailoverIntent, Member, PeerStatus } from "./types.ts";
import { staleAfterMs } from "./settings.ts";

/** What the leader does about the `failover` key this cycle. */
export type LeaderStep =
  | { kind: "none" }
  | { kind: "wait"; reason: string }
  | { kind: "clear"; reason: string }
  | { kind: "handover"; candidate: string | null; reason: string };

/** A member that can take over: another member, running, not tagged nofailover. */
export function isHealthyCandidate(m: Member, me: string): boolean {
  const tags = m.data.tags ?? {};
  const nofailover = tags.nofailover === true ||
    (tags.nofailover === undefined && typeof tags.failover_priority === "number" &&
      tags.failover_priority <= 0);
  return m.name !== me && !nofailover && m.data.state === "running" && typeof m.data.conn_url === "string";
}

/** The scheduled time in epoch ms, or null when absent or unparsable. */
export function scheduledAt(f: FailoverIntent): number | null {
  if (!f.scheduledAt) return null;
  const t = Date.parse(f.scheduledAt);
  return Number.isNaN(t) ? null : t;
}

/**
 * The leader's side. A request naming another leader, naming this leader as the candidate, with a time long past
 * (more than 1.5 * loop_wait), or without any healthy candidate is cleared; a request for later waits; otherwise
 * the leader hands over: it stops Postgres cleanly (every acknowledged transaction reaches the streaming
 * candidate before the shutdown completes) and releases the key.
 */
export function leaderStep(
  view: ClusterView,
  me: string,
  wallNow: number,
  loopWaitSeconds: number,
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
  const healthy = view.members.filter((m) => isHealthyCandidate(m, me) && (!f.member || m.name === f.member));
  if (healthy.length === 0) {
    const who = f.member
      ? `candidate '${f.member}' is not a healthy member`
      : "no healthy members to fail over to";
    return { kind: "clear", reason: who };
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
  | { kind: "defer"; reason: string };

/**
 * The race side: the named candidate takes the lock without the health comparison (and without the lag check, as
 * Patroni does for manual failover); any other member lets a reachable candidate win, and races normally only when
 * the candidate is not there. The former leader named in the request never races while a candidate is healthy.
 */
export function raceStep(view: ClusterView, me: string, peers: PeerStatus[] | null): RaceStep {
  const f = view.failover;
  if (!f?.member) return { kind: "none" };
  if (f.member === me) return { kind: "take", reason: "I am the candidate of a manual failover" };
  const candidate = (peers ?? []).find((p) => p.name === f.member);
  if (candidate?.reachable && candidate.nofailover !== true) {
    return { kind: "defer", reason: `waiting for candidate '${f.member}' to take the lock` };
  }
  return { kind: "none" };
}
