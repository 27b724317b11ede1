/**
 * etcd out of reach: nobody can hold the leader key, so a Postgres that may be writable stops (Patroni's "offline"
 * demotion) and everything else waits for the DCS to come back.
 *
 * Pure. May import: `src/core/` (types, context).
 *
 * @module
 */
import type { Action, Decision, Memory, Observation, PgObservation } from "./types.ts";
import { type HaContext, mayBeWritable, noChange } from "./ha_context.ts";
import { failsafeReplicaSlotActions } from "./failsafe_slots.ts";

/**
 * etcd is out of reach: a primary with streaming replicas stops with a fast shutdown (Patroni's "offline"
 * demotion), which refuses new writes at once and sends the WAL up to the shutdown checkpoint to every streaming
 * replica, so whichever replica is promoted later holds every acknowledged write. If an unreachable replica holds
 * the shutdown up, the server accepts nothing meanwhile and the fence deadline stops it (immediate). Without a
 * streaming replica (or when Postgres does not answer) the stop is immediate: a shutdown checkpoint no replica
 * receives would only make this server's history diverge from the next leader's.
 */
export function offlineStopMode(pg: PgObservation): "fast" | "immediate" {
  return pg.queryable && pg.replication.some((r) => r.state === "streaming") ? "fast" : "immediate";
}

/**
 * The actions of a member that gives leadership up while etcd is out of reach: it drops its lease first (no call),
 * since the leader key may still hang on it (the release cannot get through), and every later renewal of the member
 * key would keep that key alive for others; the old lease then expires within its TTL. Then a Postgres that may be
 * writable stops.
 */
export function offlineStepDown(memory: Memory, pg: PgObservation): Action[] {
  const actions: Action[] = memory.isLeader ? [{ type: "drop_lease" }] : [];
  if (mayBeWritable(pg)) actions.push({ type: "demote", mode: offlineStopMode(pg) });
  return actions;
}

/**
 * After an offline demotion, the stopped server starts again once as a read-only replica that streams from nobody
 * (Patroni's demotion ends the same way: `follow` with no member to follow), so it keeps serving reads and replays
 * its own WAL, and follows the next leader once etcd is back. A server stopped for any other reason stays stopped
 * while etcd is out of reach, as in Patroni.
 */
function startAfterOfflineDemotion(obs: Observation, memory: Memory): Action | null {
  const pg = obs.pg;
  if (!memory.offlineDemoted || pg.running || obs.job !== null || pg.dataDir !== "initialized") return null;
  return { type: "start_job", job: { kind: "start", role: "replica", upstream: null } };
}

/**
 * One cycle's decision while the DCS cannot be reached. A replica that accepted its leader's failsafe call within
 * `ttl` advances its permanent slot copies to the positions of that call (src/core/failsafe_slots.ts).
 */
export function decideDcsUnreachable(obs: Observation, memory: Memory, ctx: HaContext): Decision {
  const mem: Memory = { ...memory, isLeader: false };
  const actions = offlineStepDown(memory, obs.pg);
  if (mayBeWritable(obs.pg)) {
    return noChange(
      { ...mem, offlineDemoted: true },
      "demoting self because DCS is not accessible and I was a leader",
      actions,
    );
  }
  const start = startAfterOfflineDemotion(obs, memory);
  if (start) {
    const { offlineDemoted: _, ...rest } = mem;
    return noChange(rest, "starting as a read-only replica after the demotion (DCS is not accessible)", [
      ...actions,
      start,
    ]);
  }
  return noChange(
    mem,
    `DCS is not accessible: ${obs.dcs.kind === "unreachable" ? obs.dcs.error : ""}`,
    [...actions, ...failsafeReplicaSlotActions(obs, ctx)],
  );
}
