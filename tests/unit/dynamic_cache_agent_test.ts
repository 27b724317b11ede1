/**
 * The agent with the daemon's settings source and a local copy of the dynamic configuration
 * (src/daemon/settings.ts): a leader writes the last document known back to an etcd that lost its `config` key (as
 * Patroni restores it from `patroni.dynamic.json`), and a copied `pause` never keeps a primary running while etcd
 * cannot be reached at start (the decisions without etcd stay those of bootstrap.dcs).
 *
 * @module
 */
import assert from "node:assert/strict";
import { fakeMember, PG1_DCS, stepAgent, testAgent } from "../helpers/agent_fixture.ts";
import { MemoryDcs } from "../fakes/memory_dcs.ts";
import { type DynamicCopy, dynamicSettingsSource } from "../../src/daemon/settings.ts";

const BOOTSTRAP = { ttl: 30, loop_wait: 10, retry_timeout: 10 };
const CONFIG_KEY = "/service/t/config";
const quiet = { cycle: () => {}, warn: () => {}, error: () => {} };

function sourceWith(doc: Record<string, unknown> | null) {
  const offered: Record<string, unknown>[] = [];
  const copy: DynamicCopy = { doc, offer: (d) => offered.push(d) };
  return { offered, source: dynamicSettingsSource(BOOTSTRAP, () => {}, () => {}, () => undefined, copy) };
}

Deno.test("agent: the config key lost from etcd is written back as last read, not as bootstrap.dcs", async () => {
  const { clock, etcd, dcs, pg } = fakeMember();
  const { offered, source } = sourceWith(null);
  const agent = testAgent(clock, {
    dcs,
    pg,
    log: quiet,
    bootstrapDcs: BOOTSTRAP,
    dynamicFrom: source.from,
    configToRestore: source.restoreDoc,
  });
  const step = stepAgent(agent, clock, etcd);
  for (let i = 0; i < 5 && !agent.holdsLock(); i++) await step();
  assert.ok(agent.holdsLock());
  assert.deepEqual(
    JSON.parse(etcd.get("test", CONFIG_KEY)!.value),
    BOOTSTRAP,
    "a new cluster: bootstrap.dcs",
  );
  const edited = { ...BOOTSTRAP, postgresql: { parameters: { max_connections: 500 } } };
  etcd.put("ctl", CONFIG_KEY, JSON.stringify(edited));
  await step();
  assert.deepEqual(offered.at(-1), edited, "the document read is offered to the local copy");
  etcd.delete("ctl", CONFIG_KEY);
  await step();
  assert.deepEqual(JSON.parse(etcd.get("test", CONFIG_KEY)!.value), edited);
  assert.equal(agent.dynamic.parameters["max_connections"], 500);
});

Deno.test("agent: a copied pause does not keep a primary running while etcd cannot be reached at start", async () => {
  const { clock, etcd, dcs, pg } = fakeMember();
  const first = testAgent(clock, { dcs, pg, log: quiet, bootstrapDcs: BOOTSTRAP });
  const step = stepAgent(first, clock, etcd);
  for (let i = 0; i < 5 && !first.holdsLock(); i++) await step();
  assert.ok(first.holdsLock());
  assert.equal((await pg.observe()).role, "primary");
  // The agent restarts while etcd is out of reach; its local copy says the cluster was paused.
  etcd.partition("pg1", true);
  const { source } = sourceWith({ ...BOOTSTRAP, pause: true });
  const again = testAgent(clock, {
    dcs: new MemoryDcs(etcd, PG1_DCS),
    pg,
    log: quiet,
    bootstrapDcs: BOOTSTRAP,
    dynamicFrom: source.from,
    configToRestore: source.restoreDoc,
  });
  const r = await again.runCycle();
  await again.settleJobs();
  assert.equal(again.dynamic.pause, false);
  assert.equal(r?.decision.reason, "demoting self because DCS is not accessible and I was a leader");
  assert.ok(r?.decision.actions.some((a) => a.type === "demote"));
});
