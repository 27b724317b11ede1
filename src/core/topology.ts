/**
 * The cluster's shape as the decision needs it: whom a replica streams from, which physical slots the primary
 * keeps (and the members it remembers for `member_slots_ttl`), and the cluster's timeline per the `history` key.
 *
 * Pure. May import: `src/core/types.ts`, `src/core/slots.ts`.
 *
 * @module
 */
import type { ClusterView, Member, Tags, Upstream } from "./types.ts";
import { slotNameFor } from "./slots.ts";

/** The upstream a replica should stream from: the `replicatefrom` member if it exists, else the leader. */
export function upstreamFor(view: ClusterView, me: string, tags: Tags): Upstream | null {
  if (tags.nostream === true || !view.leader || view.leader.name === me) return null;
  const byName = (n: string): Member | undefined => view.members.find((m) => m.name === n);
  const preferred = typeof tags.replicatefrom === "string" && tags.replicatefrom !== me
    ? byName(tags.replicatefrom)
    : undefined;
  const target = preferred ?? byName(view.leader.name);
  if (!target || !target.data.conn_url) return null;
  return { name: target.name, connUrl: target.data.conn_url };
}

/**
 * The physical slots the primary keeps: one per other member that streams (not `nostream`), and for members that
 * left less than `member_slots_ttl` ago (from `seen`), so a member coming back finds its slot.
 */
export function memberSlotsWanted(
  view: ClusterView,
  me: string,
  seen: Record<string, number> = {},
): string[] {
  const names = new Set(view.members.filter((m) => m.data.tags?.nostream !== true).map((m) => m.name));
  for (const name of Object.keys(seen)) if (!view.members.some((m) => m.name === name)) names.add(name);
  names.delete(me);
  return [...names].map(slotNameFor).sort();
}

/** `membersSeen` updated with this view's members, forgetting those gone for longer than `ttlMs`. */
export function updateMembersSeen(
  seen: Record<string, number>,
  view: ClusterView,
  now: number,
  ttlMs: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, at] of Object.entries(seen)) if (now - at <= ttlMs) out[name] = at;
  for (const m of view.members) out[m.name] = now;
  return out;
}

/** The timeline the cluster is on according to `history` (newest entry + 1), or 1. */
export function clusterTimeline(view: ClusterView): number {
  return (view.history ?? []).reduce((max, e) => Math.max(max, e[0] + 1), 1);
}
