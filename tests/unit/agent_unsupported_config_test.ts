/**
 * The agent logs, at error level and every cycle, that the cluster's dynamic config promises what hactl cannot
 * keep (the core's `Decision.error`), beside the cycle's sentence.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fakeMember, stepAgent, testAgent } from "../helpers/agent_fixture.ts";

Deno.test("agent: under standby_cluster the leader logs the error every cycle and keeps leading", async () => {
  const { clock, etcd, dcs, pg } = fakeMember();
  const errors: string[] = [];
  const sentences: string[] = [];
  const agent = testAgent(clock, {
    dcs,
    pg,
    log: { cycle: (m) => sentences.push(m), warn: () => {}, error: (m) => errors.push(m) },
  });
  const step = stepAgent(agent, clock, etcd);
  for (let i = 0; i < 5 && !agent.holdsLock(); i++) await step();
  assert.ok(agent.holdsLock(), `pg1 leads: ${sentences.join(" / ")}`);
  assert.deepEqual(errors, []);
  const config = JSON.parse(etcd.get("test", "/service/t/config")?.value ?? "{}");
  etcd.put(
    "ctl",
    "/service/t/config",
    JSON.stringify({
      ...config,
      standby_cluster: { host: "10.0.0.9", port: 5432, create_replica_methods: ["wal_e"] },
    }),
  );
  await step();
  await step();
  const still =
    "still leading although the cluster's dynamic config sets standby_cluster.create_replica_methods, which hactl does not " +
    "implement yet (releasing the key would only cause an outage)";
  assert.deepEqual(errors, [still, still]);
  assert.ok(agent.holdsLock());
  assert.ok(sentences.at(-1)!.endsWith(`; ${still}`), sentences.at(-1)!);
});
