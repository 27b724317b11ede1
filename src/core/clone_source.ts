/**
 * Where a new or reinitialised replica copies its data from, as Patroni's `get_clone_member` chooses: a running
 * member (not this one, not the leader) tagged `clonefrom` with a published address, else the leader. Patroni
 * picks among several `clonefrom` members at random; hactl takes the first by name, so the choice is the same in
 * every cycle (and in the simulator). `fromLeader` (`hactl reinit --from-leader`) always takes the leader.
 *
 * Pure. May import: `src/core/types.ts`.
 *
 * @module
 */
import type { ClusterView, Upstream } from "./types.ts";

/** The clone source for `me`, or null when neither a `clonefrom` member nor the leader has an address. */
export function cloneSourceFor(view: ClusterView, me: string, fromLeader = false): Upstream | null {
  const leaderName = view.leader?.name;
  if (!leaderName || leaderName === me) return null;
  if (!fromLeader) {
    const candidates = view.members
      .filter((m) =>
        m.name !== me && m.name !== leaderName && m.data.tags?.clonefrom === true &&
        m.data.state === "running" &&
        m.data.conn_url !== ""
      )
      .sort((a, b) => a.name.localeCompare(b.name));
    const chosen = candidates[0];
    if (chosen) return { name: chosen.name, connUrl: chosen.data.conn_url };
  }
  const leader = view.members.find((m) => m.name === leaderName);
  if (!leader?.data.conn_url) return null;
  return { name: leader.name, connUrl: leader.data.conn_url };
}
