/**
 * When a switchover or failover is over, as `hactl switchover --wait` sees it in etcd: the new leader holds the
 * leader key and its member key says it runs as primary (writable), and the old leader's member key says it runs
 * as a replica that streams from it. Pure: reads a cluster view, returns a verdict and a sentence.
 *
 * @module
 */
import type { ClusterView, Member } from "../../src/core/types.ts";
import type { WaitObservation } from "./progress.ts";

function describe(m: Member | undefined, name: string): string {
  if (!m) return `${name} has no member key`;
  const d = m.data;
  const repl = d.replication_state ? `, ${d.replication_state}` : "";
  return `${name} ${d.role ?? "?"} ${d.state ?? "?"}${repl}`;
}

/**
 * The switchover's progress in `view`: `oldLeader` was the leader before the request (null for a failover without
 * one), `candidate` the member asked for (null: any other member may win). Done when a member other than
 * `oldLeader` (the candidate if named) holds the leader key and runs as primary, and `oldLeader`, if there was one,
 * runs as a replica that streams.
 */
export function switchoverProgress(
  view: ClusterView,
  oldLeader: string | null,
  candidate: string | null,
): WaitObservation {
  const leader = view.leader?.name ?? null;
  const member = (name: string | null) => view.members.find((m) => m.name === name);
  if (leader === null) return { done: false, state: "no leader yet" };
  const newLeader = member(leader);
  const parts = [`leader ${leader}`, describe(newLeader, leader)];
  const moved = leader !== oldLeader && (candidate === null || leader === candidate);
  const writable = newLeader?.data.state === "running" &&
    (newLeader.data.role === "primary" || newLeader.data.role === "master");
  let oldStreams = true;
  if (oldLeader !== null && oldLeader !== leader) {
    const old = member(oldLeader);
    parts.push(describe(old, oldLeader));
    oldStreams = old?.data.role === "replica" &&
      (old.data.replication_state === "streaming" || old.data.state === "streaming");
  }
  if (!moved) {
    parts[0] = candidate && leader !== candidate
      ? `leader ${leader} (waiting for ${candidate})`
      : `leader ${leader} (not moved yet)`;
  }
  return { done: moved && writable && oldStreams, state: parts.join("; ") };
}
