/**
 * The agent logs, at error level and every cycle, that the cluster's dynamic config promises what hactl cannot
 * keep (the core's `Decision.error`), beside the cycle's sentence. Every promise of Patroni's dynamic keys is
 * implemented today, so the config reader given to the agent names one (`future_promise`) as the reader names a
 * refused one.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fakeMember, stepAgent, testAgent } from "../helpers/agent_fixture.ts";
import { normalizeDynamic } from "../../src/config/config.ts";
import type { DynamicSettings } from "../../src/core/types.ts";

const PROMISE = "future_promise";

/** `normalizeDynamic`, naming PROMISE as unkept when the document sets it. */
function readWithPromise(raw: Record<string, unknown> | null): DynamicSettings {
  const settings = normalizeDynamic(raw ?? {}).settings;
  return raw && raw[PROMISE] !== undefined ? { ...settings, unsupportedGuarantees: [PROMISE] } : settings;
}

Deno.test("agent: under a promise hactl cannot keep the leader logs the error every cycle and keeps leading", async () => {
  const { clock, etcd, dcs, pg } = fakeMember();
  const errors: string[] = [];
  const sentences: string[] = [];
  const agent = testAgent(clock, {
    dcs,
    pg,
    log: { cycle: (m) => sentences.push(m), warn: () => {}, error: (m) => errors.push(m) },
    dynamicFrom: readWithPromise,
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
      [PROMISE]: true,
    }),
  );
  await step();
  await step();
  const still = `still leading although the cluster's dynamic config sets ${PROMISE}, which hactl does not ` +
    "implement yet (releasing the key would only cause an outage)";
  assert.deepEqual(errors, [still, still]);
  assert.ok(agent.holdsLock());
  assert.ok(sentences.at(-1)!.endsWith(`; ${still}`), sentences.at(-1)!);
});
