/**
 * A leader's `renew_leader` counts on the cycle's own lease refresh and read (src/core/cycle_renewal.ts) when the
 * read, made after the refresh, found the key ours on the lease just renewed and the refresh is recent: no second
 * keepalive and no second read, and the fences count from the refresh's start. Otherwise it renews by calls of its
 * own, as before: a refresh answered late, the key on another lease, the key changed after the read.
 *
 * @module
 */
import assert from "node:assert/strict";
import { cycleRenewalFrom, cycleRenewalMaxAgeMs } from "../../src/core/cycle_renewal.ts";
import { fenceDeadline } from "../../src/core/fence.ts";
import { KEYS } from "../../src/dcs/codec.ts";
import { MemoryDcs } from "../fakes/memory_dcs.ts";
import { fakeMember, stepAgent, testAgent, type TestClock } from "../helpers/agent_fixture.ts";

const okView = { kind: "ok" } as never;
const renew = [{ type: "renew_leader" }] as const;

Deno.test("cycleRenewalFrom(): the refresh's start while it is recent and the plan promotes nothing, else null", () => {
  assert.equal(cycleRenewalMaxAgeMs(30), 1000);
  assert.equal(cycleRenewalMaxAgeMs(10), 500);
  assert.equal(cycleRenewalMaxAgeMs(5), 250);
  assert.equal(cycleRenewalFrom({ dcs: okView, leaseRenewedFrom: 1000 }, 1500, 10, renew), 1000);
  const promoting = [{ type: "renew_leader" }, { type: "promote" }] as const;
  assert.equal(
    cycleRenewalFrom({ dcs: okView, leaseRenewedFrom: 1000 }, 1000, 10, promoting),
    null,
    "a promotion",
  );
  assert.equal(cycleRenewalFrom({ dcs: okView, leaseRenewedFrom: 1000 }, 1501, 10, renew), null, "too old");
  assert.equal(
    cycleRenewalFrom({ dcs: okView, leaseRenewedFrom: 1000 }, 999, 10, renew),
    null,
    "from the future",
  );
  assert.equal(cycleRenewalFrom({ dcs: okView }, 1000, 10, renew), null, "no refresh this cycle");
  const unreachable = { kind: "unreachable", since: 0, error: "x" } as const;
  assert.equal(cycleRenewalFrom({ dcs: unreachable, leaseRenewedFrom: 1000 }, 1000, 10, renew), null);
});

/** pg1's DCS counting its calls; `refreshSlowMs` of virtual time pass before a refresh's answer is read. */
class CountingDcs extends MemoryDcs {
  clock: TestClock | null = null;
  refreshSlowMs = 0;
  refreshes: number[] = [];
  updates: number[] = [];
  /** Run after each read, a range or the watch's copy (a change made between the cycle's read and its renewal). */
  afterRead: (() => void) | null = null;
  override async refreshLease(ttl: number): Promise<boolean> {
    this.refreshes.push(this.clock!.now);
    const kept = await super.refreshLease(ttl);
    this.clock!.now += this.refreshSlowMs;
    return kept;
  }
  override async loadCluster() {
    const view = await super.loadCluster();
    this.afterRead?.();
    return view;
  }
  /** The cycle's read from the watch's copy (src/core/watch_view.ts) is a read too. */
  override watchView() {
    const view = super.watchView();
    this.afterRead?.();
    return view;
  }
  override updateLeader(): Promise<boolean> {
    this.updates.push(this.clock!.now);
    return super.updateLeader();
  }
}

async function leadingMember() {
  const m = fakeMember({ makeDcs: (e, id) => new CountingDcs(e, id) });
  m.dcs.clock = m.clock;
  const agent = testAgent(m.clock, {
    dcs: m.dcs,
    pg: m.pg,
    log: { cycle: () => {}, warn: () => {}, error: () => {} },
  });
  const step = stepAgent(agent, m.clock, m.etcd);
  for (let i = 0; i < 10 && !agent.holdsLock(); i++) await step();
  assert.equal(agent.holdsLock(), true, "pg1 leads");
  await step();
  return { ...m, agent, step };
}

Deno.test("renew-by-cycle: an idle leader renews once per cycle, and its fences count from that refresh's start", async () => {
  const { dcs, agent, step } = await leadingMember();
  for (let i = 0; i < 3; i++) {
    const refreshes = dcs.refreshes.length;
    const updates = dcs.updates.length;
    const r = await step();
    assert.equal(r?.failedAt, -1, JSON.stringify(r?.error));
    assert.equal(r?.decision.actions[0]?.type, "renew_leader");
    assert.equal(dcs.refreshes.length, refreshes + 1, "one keepalive");
    assert.equal(dcs.updates.length, updates, "no renewal call of its own");
    assert.equal(agent.fenceDeadline, fenceDeadline(dcs.refreshes.at(-1)!, 30));
    assert.equal(agent.holdsLock(), true);
  }
});

Deno.test("renew-by-cycle: a refresh answered late does not count: the leader renews by a call of its own", async () => {
  const { dcs, agent, step } = await leadingMember();
  dcs.refreshSlowMs = 1500; // more than 1 s (ttl 30) between the refresh's start and the renewal
  const updates = dcs.updates.length;
  const r = await step();
  assert.equal(r?.failedAt, -1, JSON.stringify(r?.error));
  assert.equal(dcs.updates.length, updates + 1, "renewed again");
  assert.equal(agent.fenceDeadline, fenceDeadline(dcs.updates.at(-1)!, 30), "from the renewal's start");
});

Deno.test("renew-by-cycle: our name on another lease (it was granted anew) is moved by a renewal of its own", async () => {
  const { dcs, etcd, agent, step } = await leadingMember();
  const key = dcs.prefix + KEYS.leader;
  const other = etcd.grant("tester", 30);
  etcd.put("tester", key, "pg1", other); // our name, but not on the lease the member renews
  const updates = dcs.updates.length;
  const r = await step();
  assert.equal(dcs.updates.length, updates + 1, "renewed by a call");
  assert.equal(r?.failedAt, -1, JSON.stringify(r?.error));
  assert.equal(etcd.get("tester", key)?.lease, dcs.leaseId, "the key moved to the member's lease");
  assert.equal(agent.holdsLock(), true);
});

Deno.test("renew-by-cycle: the key deleted after the cycle's read is found by a renewal of its own (the lock is lost)", async () => {
  const { dcs, etcd, agent, step } = await leadingMember();
  const key = dcs.prefix + KEYS.leader;
  dcs.afterRead = () => {
    dcs.afterRead = null;
    etcd.delete("tester", key); // an operator's delete between the read and the renewal, seen by the watch
  };
  const updates = dcs.updates.length;
  const r = await step();
  assert.equal(dcs.updates.length, updates + 1, "renewed by a call");
  assert.equal(r?.decision.actions[r.failedAt]?.type, "renew_leader", JSON.stringify(r));
  assert.equal(agent.holdsLock(), false);
});
