/**
 * A leader that gives the key up while it runs as a primary on a timeline the `history` key does not know yet
 * (it promoted, and gives up before the cycle that would publish the switch: its fencing supervisor or watchdog
 * failed right after the promotion) publishes that timeline first, after its demotion and before the release.
 * Otherwise the next promotion would pick the same timeline number on another history, and this member's data
 * could later be taken for the new leader's.
 *
 * Pure. May import: `src/core/` (types, the leader's history rule).
 *
 * @module
 */
import type { Decision, Observation } from "./types.ts";
import { historyToPublish } from "./decide_leader.ts";

/** `d` with a `write_history` before its `release_leader` when this key holder's timeline is not published yet. */
export function withHistoryBeforeRelease(d: Decision, obs: Observation, me: string, max = 0): Decision {
  if (obs.dcs.kind !== "ok" || obs.dcs.cluster.leader?.name !== me) return d;
  const at = d.actions.findIndex((a) => a.type === "release_leader");
  if (at < 0 || d.actions.some((a) => a.type === "write_history")) return d;
  if (!(obs.pg.running && obs.pg.role === "primary")) return d;
  const history = historyToPublish(obs.dcs.cluster, obs.pg, obs.wallNow, me, max);
  if (history === null) return d;
  return {
    ...d,
    actions: [...d.actions.slice(0, at), { type: "write_history", history }, ...d.actions.slice(at)],
  };
}
