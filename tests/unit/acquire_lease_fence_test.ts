/**
 * A leader key taken by `acquire_leader` sits on the member's lease as the cycle's observation last renewed it
 * (the keepalive at the start of the cycle), not as of the acquisition: the fences armed on the acquisition count
 * from that renewal, so none lies past the expiry of the lease that holds the key, however long the cycle took
 * between its observation and the acquisition.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fakeMember, stepAgent, testAgent } from "../helpers/agent_fixture.ts";

Deno.test("acquire-lease: the fences armed on taking the key count from the last renewal of the lease that holds it", async () => {
  const { clock, etcd, dcs, pg } = fakeMember();
  const supervisorArms: number[] = [];
  const agent = testAgent(clock, {
    dcs,
    pg,
    fence: {
      // The supervisor's deadline as an instant on the agent's clock.
      arm: (ms, from) => void supervisorArms.push((from ?? clock.now) + ms),
      disarm: () => {},
      unusable: () => null,
    },
    log: { cycle: () => {}, warn: () => {}, error: () => {} },
  });
  // Reading Postgres takes 6 s: the acquisition comes 6 s after the cycle's lease renewal.
  const observe = pg.observe.bind(pg);
  pg.observe = async () => {
    const r = await observe();
    clock.now += 6000;
    return r;
  };
  const step = stepAgent(agent, clock, etcd);
  const reasons: string[] = [];
  for (let i = 0; i < 10 && !agent.holdsLock(); i++) reasons.push((await step())?.decision.reason ?? "");
  assert.equal(agent.holdsLock(), true, reasons.join(" | "));
  const kv = etcd.get("test", "/service/t/leader");
  assert.ok(kv?.lease, "the key is on a lease");
  const expiry = etcd.leaseInfo(kv.lease)!.expiresAt;
  assert.ok(
    agent.fenceDeadline !== null && agent.fenceDeadline <= expiry,
    `agent timer at ${agent.fenceDeadline}, the key's lease expires at ${expiry} (${reasons.join(" | ")})`,
  );
  assert.ok(supervisorArms.length > 0 && supervisorArms.at(-1)! <= expiry, `supervisor at ${supervisorArms}`);
});
