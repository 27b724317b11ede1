/**
 * The leader race: with no leader key, a running primary takes the key back unless the cluster moved on, and a
 * replica takes it (and promotes) only when it is the healthiest node, as Patroni's `_is_healthiest_node` judges
 * from the peers' statuses. A `failover` key steers the race (its candidate, or its former leader standing back).
 * `peerVerdicts` also feeds the failover record of `role_change.ts`.
 *
 * Pure. May import: `src/core/` (types, context, member state, topology, switchover rules).
 *
 * @module
 */
import type { Action, ClusterView, Decision, Observation, PgObservation } from "./types.ts";
import { type Cycle, type HaContext, noChange } from "./ha_context.ts";
import { failoverPriority, isNoFailover } from "./member_state.ts";
import { clusterTimeline } from "./topology.ts";
import { confirmedClusterTimeline, isReservation } from "./history_reservation.ts";
import { raceStep } from "./switchover.ts";
import { failsafeKeyExcludes } from "./failsafe_key.ts";
import { localPosition } from "./divergence.ts";
import { formatLsn } from "./lsn.ts";
import { quorumRaceVotes, syncBeforePromote, syncRaceGate } from "./sync_plan.ts";
import { raceBackoff } from "./race_backoff.ts";

/**
 * Before the race: a required watchdog that is not usable keeps this member out (a primary demotes), and a primary
 * without the lock (e.g. after an agent restart) takes it back unless the cluster moved to a newer timeline. Null
 * for a replica that may race.
 */
function raceForPrimaryOrUnguarded({ obs, mem, view }: Cycle): Decision | null {
  const pg = obs.pg;
  if (obs.watchdogUnusable !== undefined) {
    if (pg.role === "primary") {
      return noChange(
        mem,
        `demoting self because the watchdog is required but not usable: ${obs.watchdogUnusable}`,
        [{ type: "demote", mode: "immediate" }],
      );
    }
    return noChange(
      mem,
      `not taking the leader key because the watchdog is required but not usable: ${obs.watchdogUnusable}`,
    );
  }
  if (pg.role === "primary") {
    // A primary without the lock (e.g. an agent restart) may take the lock back only if no one moved on.
    if (clusterTimeline(view) > (pg.timeline ?? 0)) {
      return noChange(mem, "demoting self because the cluster moved to a newer timeline", [
        { type: "demote", mode: "immediate" },
      ]);
    }
    return noChange(mem, "acquired session lock as a leader", [
      { type: "acquire_leader" },
      ...(pg.walPosition !== null ? [{ type: "write_status" as const, optime: pg.walPosition }] : []),
    ]);
  }
  return null;
}

/** The leader key is absent: take it if this member is the healthiest, else wait for the winner. */
export function decideLeaderRace(c: Cycle): Decision {
  const early = raceForPrimaryOrUnguarded(c);
  if (early) return early;
  let { obs } = c;
  const { mem, ctx, view, previousWal } = c;
  const pg = obs.pg;
  const backoff = raceBackoff({ obs, mem, ctx, view, holdsLock: false }, previousWal ?? null);
  if (backoff) return backoff;
  const gate = syncRaceGate(obs, ctx, view);
  if (gate.refusal !== null) {
    // The candidate of a manual failover that may not take over says so and clears the request (as a refusal).
    if (view.failover?.member !== ctx.name) {
      return noChange(mem, `not taking the leader key: ${gate.refusal}`);
    }
    return noChange(mem, `not taking the leader key: ${gate.refusal}; cleared the failover key`, [
      { type: "clear_failover", modRevision: view.failover.modRevision },
    ]);
  }
  obs = gate.obs;
  const step = raceStep(
    view,
    ctx.name,
    obs.peers,
    { nofailover: isNoFailover(ctx.tags), position: pg.walPosition, timeline: pg.timeline },
    { maximumLagOnFailover: ctx.dynamic.maximumLagOnFailover, checkTimeline: ctx.dynamic.checkTimeline },
  );
  if (step.kind === "defer") return noChange(mem, step.reason);
  if (step.kind === "refuse") {
    // Final for this request: the others then race as without a candidate (and the caller learns it failed).
    return noChange(mem, `not taking the leader key: ${step.reason}; cleared the failover key`, [
      { type: "clear_failover", modRevision: view.failover!.modRevision },
    ]);
  }
  if (step.kind === "take") {
    // Quorum commit: even the named candidate promotes only with the votes that prove it has every commit;
    // without them the request is refused, and the others race as without a candidate.
    const votes = quorumRaceVotes(obs, ctx, view);
    if (votes !== null) {
      return noChange(mem, `not taking the leader key: ${votes}; cleared the failover key`, [
        { type: "clear_failover", modRevision: view.failover!.modRevision },
      ]);
    }
    return noChange(mem, `promoted self to leader by acquiring session lock: ${step.reason}`, [
      { type: "acquire_leader" },
      ...syncBeforePromote(ctx, view),
      { type: "promote" },
      { type: "clear_failover", modRevision: view.failover!.modRevision },
    ]);
  }
  const verdict = healthiestVerdict(obs, ctx, view) ?? quorumRaceVotes(obs, ctx, view);
  if (verdict !== null && isNoFailover(ctx.tags)) {
    return noChange(mem, "following a different leader because I am not allowed to promote");
  }
  if (verdict !== null) {
    return noChange(mem, `following a different leader because I am not the healthiest node: ${verdict}`);
  }
  const actions: Action[] = [{ type: "acquire_leader" }, ...syncBeforePromote(ctx, view), {
    type: "promote",
  }];
  // A switchover without a named candidate is over once someone takes the lock.
  if (view.failover) actions.push({ type: "clear_failover", modRevision: view.failover.modRevision });
  return noChange(mem, "promoted self to leader by acquiring session lock", actions);
}

/**
 * Null when this replica may take the lock; otherwise why not. Implements Patroni's `_is_healthiest_node`:
 * nofailover, lag against `/status.optime`, check_timeline, any reachable primary vetoes, a peer ahead vetoes,
 * an equal peer with a higher failover_priority vetoes.
 *
 * With a `failover` key (a manual switchover or failover whose candidate, if any, is not taking over), as
 * Patroni's `manual_failover_process_no_leader`: the lag check is skipped; the former leader named in the key
 * stands back while another member could take over, and the others race among themselves without it. (Its REST
 * status may still say "primary" for a moment after it stopped, which would otherwise veto everyone, and it
 * would win the race back.)
 */
export function healthiestVerdict(obs: Observation, ctx: HaContext, view: ClusterView): string | null {
  const pg: PgObservation = obs.pg;
  if (isNoFailover(ctx.tags)) return "I am tagged nofailover";
  const mine = pg.walPosition ?? 0;
  const optime = view.status?.optime ?? null;
  const manual = view.failover;
  if (!manual && optime !== null && optime - mine > ctx.dynamic.maximumLagOnFailover) {
    return `my WAL position ${mine} lags ${
      optime - mine
    } bytes behind the last known leader position ${optime}`;
  }
  const cluster = confirmedClusterTimeline(view);
  if (ctx.dynamic.checkTimeline && (pg.timeline === null || pg.timeline < cluster)) {
    return `my timeline ${pg.timeline ?? "unknown"} is behind the cluster timeline ${cluster}`;
  }
  // Not in a standby cluster: its members' timelines are the remote cluster's (as check_timeline is not applied).
  const diverged = ctx.dynamic.standbyCluster === undefined ? leftClusterHistory(pg, view) : null;
  if (diverged !== null) return diverged;
  const formerLeader = manual?.leader;
  if (formerLeader !== undefined && formerLeader === ctx.name) {
    const other = promotablePeer(obs, ctx, view, manual?.member);
    return other === null ? null : `I am the former leader of a manual switchover and ${other} can take over`;
  }
  for (const v of peerVerdicts(obs, ctx, formerLeader, view)) {
    if (v.veto) return v.said ?? `member ${v.name} ${v.why}`;
  }
  return null;
}

/**
 * Why this member's WAL is not on the cluster's history (the `history` key names the point where its timeline
 * ended, and it holds WAL past that point), or null: promoting it would drop every write the cluster made after the
 * switch (found by the simulator: a diverged replica waiting for a re-clone won the race after an etcd outage, with
 * `check_timeline` off, and the leader's acknowledged writes were lost). Patroni compares positions only. A timeline
 * the key does not name (trimmed, or newer than the key) is not judged here.
 */
function leftClusterHistory(pg: PgObservation, view: ClusterView): string | null {
  const local = localPosition(pg);
  // A reservation's position is only a lower bound of its switch point (history_reservation.ts).
  const entry = local
    ? (view.history ?? []).find((e) => e[0] === local.timeline && !isReservation(e))
    : undefined;
  if (!local || !entry) return null;
  const switchLsn = entry[1];
  const beyond = local.inRecovery ? local.lsn > switchLsn : local.lsn >= switchLsn;
  if (!beyond) return null;
  return `my timeline ${local.timeline} at ${
    formatLsn(local.lsn)
  } went past the point where the cluster left it ` +
    `(${formatLsn(switchLsn)}): my WAL is not on the cluster's history`;
}

/**
 * A peer that could take over from the former leader of a manual switchover (Patroni's `is_failover_possible`
 * over the members other than me and the unhealthy candidate): not kept out of the race by the failsafe key
 * (found by the simulator: the former leader waited for good for members the key left out), reachable, reporting
 * a WAL position, not
 * nofailover, watchdog not failed, not lagging behind `/status`, and (with check_timeline) not on an older timeline
 * than the cluster's. Its name, or null.
 */
function promotablePeer(
  obs: Observation,
  ctx: HaContext,
  view: ClusterView,
  candidate: string | undefined,
): string | null {
  const optime = view.status?.optime ?? null;
  const timeline = confirmedClusterTimeline(view);
  const ok = (obs.peers ?? []).find((p) =>
    p.name !== ctx.name && p.name !== candidate && p.reachable && p.walPosition !== undefined &&
    !failsafeKeyExcludes(view, p.name) &&
    p.nofailover !== true && p.watchdogFailed !== true && p.fenceFailed !== true &&
    (optime === null || optime - p.walPosition <= ctx.dynamic.maximumLagOnFailover) &&
    (!ctx.dynamic.checkTimeline || (p.timeline !== undefined && p.timeline >= timeline))
  );
  return ok?.name ?? null;
}

/** How one peer weighed in this member's leader race. */
export interface PeerVerdict {
  name: string;
  /** True when this peer keeps this member from taking the lock. */
  veto: boolean;
  why: string;
  /** A veto in Patroni's words, for the log line (where Patroni has a sentence for it). */
  said?: string;
}

/**
 * Every peer's part in the race, for the decision and for the failover record: who was not counted (unreachable,
 * nofailover, watchdog failed), who vetoed (still primary, newer timeline, ahead, equal with a higher priority),
 * and who was behind.
 */
export function peerVerdicts(
  obs: Observation,
  ctx: HaContext,
  formerLeader?: string,
  view?: ClusterView,
): PeerVerdict[] {
  const pg = obs.pg;
  const mine = pg.walPosition ?? 0;
  const myPriority = failoverPriority(ctx.tags);
  const out: PeerVerdict[] = [];
  for (const peer of obs.peers ?? []) {
    if (peer.name === ctx.name) continue;
    const v = (veto: boolean, why: string, said?: string) =>
      out.push({ name: peer.name, veto, why, ...(said ? { said } : {}) });
    if (peer.name === formerLeader) v(false, "is the former leader of the manual switchover (not counted)");
    else if (!peer.reachable || peer.walPosition === undefined) v(false, "is unreachable (not counted)");
    else if (peer.nofailover === true) v(false, "is tagged nofailover (not counted)");
    else if (peer.watchdogFailed === true) v(false, "has a failed watchdog (not counted)");
    else if (peer.fenceFailed === true) v(false, "has no usable fencing supervisor (not counted)");
    else if (peer.role === "primary") v(true, "is still running as primary");
    // It cannot take the lock (failsafe_key.ts): waiting for it would leave nobody leading (found by the simulator).
    else if (view && failsafeKeyExcludes(view, peer.name)) {
      v(false, "is not in the failsafe key (not counted)");
    } // WAL positions on different timelines are not comparable: a peer on a newer timeline is ahead of me...
    else if (peer.timeline !== undefined && pg.timeline !== null && peer.timeline > pg.timeline) {
      v(true, `is on a newer timeline (${peer.timeline} > ${pg.timeline})`);
    } // ...and a peer on an older timeline is behind me whatever its position says.
    else if (peer.timeline !== undefined && pg.timeline !== null && peer.timeline < pg.timeline) {
      v(false, `is on an older timeline (${peer.timeline} < ${pg.timeline})`);
    } else if (peer.walPosition > mine) {
      const why = `is ahead (${peer.walPosition} > ${mine})`;
      v(
        true,
        why,
        `Wal position of ${peer.name} is ahead of my wal position (${peer.walPosition} > ${mine})`,
      );
    } else if (peer.walPosition === mine && (peer.failoverPriority ?? 1) > myPriority) {
      const said = `${peer.name} has equally tolerable WAL position and priority ${peer.failoverPriority}, ` +
        `while this node has priority ${myPriority}`;
      v(true, "is as far as me and has a higher failover_priority", said);
    } else v(false, `is not ahead (${peer.walPosition} <= ${mine})`);
  }
  return out;
}
