/**
 * The fencing supervisor gates leadership, as a required watchdog does: a member whose supervisor is on
 * (`fencing.supervisor`) but not running or not answering (`Observation.fenceUnusable`) neither takes nor keeps
 * the leader key, because nothing outside the agent would stop its Postgres if the agent froze. It does not race
 * or bootstrap, a running primary without the key is demoted, a leader gives the key up (demoting a writable
 * primary first), and each cycle's sentence says why. Replicas keep following. The supervisor is armed as before
 * (no round trip on the race's path): the gate looks at the last state it acknowledged.
 *
 * Pure. May import: `src/core/` (types, context).
 *
 * @module
 */
import type { Decision, Observation } from "./types.ts";
import { type Cycle, mayBeWritable, noChange } from "./ha_context.ts";

/** Why this member may not lead because of its fencing supervisor, or null. */
export function fenceVeto(obs: Observation): string | null {
  return obs.fenceUnusable === undefined
    ? null
    : `the fencing supervisor is not running (${obs.fenceUnusable})`;
}

/** Holding the key without a usable supervisor: give it up, demoting a writable primary first. */
export function fenceUnusableWithLock({ obs, mem, holdsLock }: Cycle): Decision | null {
  const veto = fenceVeto(obs);
  if (!holdsLock || veto === null) return null;
  const writable = mayBeWritable(obs.pg);
  return noChange(
    { ...mem, isLeader: false, primaryDownSince: null },
    writable
      ? `demoting self because ${veto}: giving up the leader key`
      : `released the leader key because ${veto}`,
    writable
      ? [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]
      : [{ type: "release_leader" }],
  );
}

/** In the leader race: a primary without the key is demoted, a replica does not take the key. */
export function fenceUnusableInRace({ obs, mem }: Cycle): Decision | null {
  const veto = fenceVeto(obs);
  if (veto === null) return null;
  if (obs.pg.role === "primary") {
    return noChange(mem, `demoting self because ${veto}`, [{ type: "demote", mode: "immediate" }]);
  }
  return noChange(mem, `not taking the leader key because ${veto}`);
}

/**
 * A job in flight while holding the key: no renewal (the fence armed at the last one stops Postgres in time). A
 * promotion in flight is stopped at once instead (Postgres stopped, the key given up): it cannot be undone, and
 * once it ends Postgres is writable with nothing outside the agent to stop it if the agent froze then (found by
 * the simulator once faults no longer waited for the end of every promotion: the agent stopped right after this
 * cycle, the promotion ended, and another member was promoted beside it once the lease expired).
 */
export function fenceUnusableDuringJob({ obs, mem, holdsLock }: Cycle): Decision | null {
  const veto = fenceVeto(obs);
  if (!holdsLock || veto === null || obs.job?.status !== "running") return null;
  if (obs.job.kind === "promote") {
    return noChange(
      { ...mem, isLeader: false, primaryDownSince: null },
      `${obs.job.description} in progress; ${veto}: stopping postgres before the promotion ends and giving up the ` +
        "leader key",
      [{ type: "demote", mode: "immediate" }, { type: "release_leader" }],
    );
  }
  return noChange(
    mem,
    `${obs.job.description} in progress; ${veto}: not renewing the leader key, giving it up once the job has ended`,
  );
}
