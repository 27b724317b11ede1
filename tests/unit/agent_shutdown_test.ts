/**
 * What the REST API says while the agent shuts down as the leader: once Postgres has stopped and the leader key is
 * being released, the members racing for the key ask this one's status; a snapshot still saying "running primary"
 * (the last observation, from before the stop) makes them wait a loop for nothing.
 */
import assert from "node:assert/strict";
import type { AgentLog } from "../../src/core/ports.ts";
import { parsePeerStatus } from "../../src/api/peer_client.ts";
import { buildStatus } from "../../src/api/status.ts";
import { fakeMember, stepAgent, testAgent } from "../helpers/agent_fixture.ts";

const QUIET: AgentLog = { cycle: () => {}, info: () => {}, warn: () => {}, error: () => {} };

Deno.test("Agent shutdown: the status the API answers says stopped, not primary, when the leader key is released", async () => {
  const { clock, etcd, dcs, pg } = fakeMember();
  const agent = testAgent(clock, { dcs, pg, log: QUIET });
  const step = stepAgent(agent, clock, etcd);
  for (let i = 0; i < 6 && !agent.holdsLock(); i++) await step();
  assert.ok(agent.holdsLock());
  assert.equal(agent.snapshot().state, "running");
  const seen: { state: string; peerSees: ReturnType<typeof parsePeerStatus> }[] = [];
  const realDelete = dcs.deleteLeader.bind(dcs);
  dcs.deleteLeader = () => {
    const s = agent.snapshot();
    // What a member racing for the key reads from this one's GET /patroni at that moment.
    seen.push({ state: s.state, peerSees: parsePeerStatus("pg1", buildStatus(s, clock.now)) });
    return realDelete();
  };
  assert.equal(await agent.shutdown(), true);
  assert.equal(seen.length, 1, "the key was released once");
  assert.equal(seen[0]!.state, "stopped", "Postgres has stopped before the key is released");
  assert.equal(
    seen[0]!.peerSees.reachable,
    false,
    "a racing member does not count it (no WAL position to veto with)",
  );
  const after = agent.snapshot();
  assert.equal(after.isLeader, false, "no longer the leader once the key is released");
  assert.notEqual(after.role, "primary");
});
