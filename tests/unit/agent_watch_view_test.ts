/**
 * The agent decides on the watch's copy of the cluster only when the decision is routine (src/core/watch_view.ts):
 * anything else decided on the copy is decided again, in the same cycle, on a read of etcd.
 *
 * @module
 */
import assert from "node:assert/strict";
import { routineDecision } from "../../src/core/watch_view.ts";
import type { ClusterView, Decision } from "../../src/core/types.ts";
import { INITIAL_MEMORY } from "../../src/core/types.ts";
import type { WatchViewFacts } from "../../src/core/watch_view.ts";
import { MemoryDcs } from "../fakes/memory_dcs.ts";
import type { MemoryEtcd } from "../fakes/memory_etcd.ts";
import { fakeMember, PG1_DCS, stepAgent, testAgent } from "../helpers/agent_fixture.ts";
import { view } from "../helpers/decide_inputs.ts";
import type { AgentLog } from "../../src/core/ports.ts";

const quietLog: AgentLog = { cycle: () => {}, warn: () => {}, error: () => {} };

function plan(types: string[]): Decision {
  return {
    memory: INITIAL_MEMORY,
    reason: "x",
    actions: types.map((type) => ({ type }) as Decision["actions"][number]),
  };
}

Deno.test("routineDecision(): renewing, status, slots and following may rest on the copy; nothing else", () => {
  assert.equal(routineDecision(plan([])), true);
  assert.equal(routineDecision(plan(["renew_leader", "write_status", "sync_slots"])), true);
  assert.equal(routineDecision(plan(["follow"])), true);
  for (
    const other of [
      "acquire_leader",
      "promote",
      "acquire_initialize",
      "start_job",
      "demote",
      "release_leader",
    ]
  ) {
    assert.equal(routineDecision(plan(["renew_leader", other])), false, other);
  }
});

/** A MemoryDcs whose watch's copy is usable and stale: the cluster as it was before anyone initialized it. */
class StaleCopyDcs extends MemoryDcs {
  reads = 0;
  constructor(etcd: MemoryEtcd) {
    super(etcd, PG1_DCS);
  }
  override watchViewFacts(): WatchViewFacts {
    return { renewalRevision: "1", viewRevision: "1", highestSeen: null };
  }
  override watchView(): ClusterView {
    return view({ initialize: null, config: null, leader: null, members: [], status: null, revision: "1" });
  }
  override loadCluster(): Promise<ClusterView> {
    this.reads++;
    return super.loadCluster();
  }
}

Deno.test("Agent: a decision on the watch's copy to bootstrap is decided again on a read, which finds the cluster initialized", async () => {
  const { clock, etcd, dcs, pg } = fakeMember({ makeDcs: (e) => new StaleCopyDcs(e) });
  const other = new MemoryDcs(etcd, { ...PG1_DCS, name: "pg9" });
  await other.refreshLease(30);
  assert.ok(await other.initialize(true, "7000000000000000001"));
  const agent = testAgent(clock, { dcs, pg, log: quietLog });
  const step = stepAgent(agent, clock, etcd);
  const first = await step();
  assert.ok(first);
  // One read finds the store past the copy's revision; the cycle completes its observation again with that view.
  assert.equal(dcs.reads, 1, "the cycle read the prefix after deciding on the copy");
  assert.doesNotMatch(first.decision.reason, /bootstrap a new cluster/, first.decision.reason);
  assert.ok(!first.decision.actions.some((a) => a.type === "acquire_initialize"), first.decision.reason);
});
