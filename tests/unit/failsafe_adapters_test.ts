/**
 * Failsafe mode's adapters: the `failsafe` key in Patroni's JSON format (codec), `GET /failsafe` and
 * `POST /failsafe` (REST), the replica's memory of the calls it accepted and the leader's round (src/shell/failsafe.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { decodeCluster, encodeFailsafe } from "../../src/dcs/codec.ts";
import { createApiHandler } from "../../src/api/handler.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/dynamic.ts";
import { FailsafeState } from "../../src/shell/failsafe.ts";
import type { AgentDeps } from "../../src/shell/deps.ts";
import type { PeerClient } from "../../src/core/ports.ts";
import type { DynamicSettings } from "../../src/core/types.ts";
import { primarySnapshot, stubApiDeps } from "../helpers/api_stub.ts";
import { pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";

const ON: DynamicSettings = { ...DYNAMIC_DEFAULTS, failsafeMode: true };
const kv = (key: string, value: string) => ({
  key,
  value,
  createRevision: "1",
  modRevision: "1",
  lease: "0",
});

Deno.test("codec: the failsafe key round-trips in Patroni's compact JSON; garbage is a problem, not a topology", () => {
  const value = { pg1: "http://10.0.0.1:8008/patroni", pg2: "http://10.0.0.2:8008/patroni" };
  assert.equal(
    encodeFailsafe(value),
    '{"pg1":"http://10.0.0.1:8008/patroni","pg2":"http://10.0.0.2:8008/patroni"}',
  );
  const ok = decodeCluster([kv("/service/pg/failsafe", encodeFailsafe(value))], "/service/pg/", "3");
  assert.deepEqual(ok.failsafe, value);
  assert.equal(decodeCluster([], "/service/pg/", "3").failsafe, undefined);
  const bad = decodeCluster([kv("/service/pg/failsafe", '["pg1"]')], "/service/pg/", "3");
  assert.equal(bad.failsafe, null);
  assert.match(bad.problems[0]!, /^failsafe: expected a JSON object/);
});

function stateFor(name: string, peers: Partial<PeerClient> = {}, clock = { t: 1000 }) {
  const deps = {
    name,
    connUrl: "postgres://10.0.0.1:5432/postgres",
    apiUrl: "http://10.0.0.1:8008/patroni",
    clock: { now: () => clock.t, wallNow: () => clock.t, after: () => () => {} },
    peers: { fetchStatuses: () => Promise.resolve([]), ...peers },
  } as unknown as AgentDeps;
  return new FailsafeState(deps);
}

Deno.test("FailsafeState: a replica accepts its leader's call, answers its WAL position, and reports it active", () => {
  const clock = { t: 1000 };
  const s = stateFor("pg2", {}, clock);
  const replica = pgState({ walPosition: 4242 });
  const v = view();
  assert.deepEqual(s.call({ name: "pg1" }, v, ON, replica), {
    status: 200,
    body: "Accepted",
    ttl: 30,
    lsn: 4242,
  });
  assert.deepEqual(s.accepted, { leader: "pg1", at: 1000, ttl: 30 });
  assert.equal(s.report(v, ON).active, true);
  clock.t += 30_000;
  assert.equal(s.report(v, ON).active, false);
  // Refusals: not from the leader it follows, while it runs a primary, without a name, with failsafe off.
  assert.equal(s.call({ name: "pg3" }, v, ON, replica).status, 500);
  assert.equal(s.call({ name: "pg1" }, v, ON, PRIMARY).status, 500);
  assert.equal(s.call({}, v, ON, replica).status, 400);
  assert.equal(s.call({ name: "pg1" }, v, DYNAMIC_DEFAULTS, replica).status, 502);
  assert.equal(
    s.call({ name: "pg1" }, v, { ...ON, unsupportedGuarantees: ["failsafe_mode"] }, replica).status,
    502,
  );
});

Deno.test("FailsafeState: the leader's round asks every other member of the last key read, and only then", async () => {
  const asked: string[][] = [];
  const s = stateFor("pg1", {
    postFailsafe: (members, body) => {
      asked.push(members.map((m) => m.name));
      assert.equal(body.name, "pg1");
      return Promise.resolve(members.map((m) => ({ name: m.name, accepted: true })));
    },
  });
  const key = { pg1: "http://a/patroni", pg2: "http://b/patroni", pg3: "http://c/patroni" };
  s.dcsAnswered(view({ failsafe: key }));
  const round = await s.round(ON, PRIMARY);
  assert.deepEqual(asked, [["pg2", "pg3"]]);
  assert.equal(round?.answers.length, 2);
  // No round: failsafe off, paused, not a primary, not in the key.
  assert.equal(await s.round(DYNAMIC_DEFAULTS, PRIMARY), undefined);
  assert.equal(await s.round({ ...ON, pause: true }, PRIMARY), undefined);
  assert.equal(await s.round(ON, pgState()), undefined);
  s.dcsAnswered(view({ failsafe: { pg2: "http://b/patroni" } }));
  assert.equal(await s.round(ON, PRIMARY), undefined);
  assert.equal(asked.length, 1);
  // Without a client that can post, no round (the core then demotes).
  const mute = stateFor("pg1");
  mute.dcsAnswered(view({ failsafe: key }));
  assert.equal(await mute.round(ON, PRIMARY), undefined);
});

Deno.test("FailsafeState: a key written (answer lost or not yet read back) is asked too, with the one read", async () => {
  // Found by the simulator: the leader wrote a key naming a member that had come back and lost etcd before reading
  // it back; asking only the members of the key it had read left that member out, and it could race.
  const asked: string[][] = [];
  const s = stateFor("pg1", {
    postFailsafe: (members) => {
      asked.push(members.map((m) => m.name).sort());
      return Promise.resolve(members.map((m) => ({ name: m.name, accepted: true })));
    },
  });
  s.dcsAnswered(view({ failsafe: { pg1: "http://a/patroni", pg3: "http://c/patroni" } }));
  s.writing({ pg1: "http://a/patroni", pg2: "http://b/patroni", pg3: "http://c/patroni" });
  await s.round(ON, PRIMARY);
  assert.deepEqual(asked, [["pg2", "pg3"]]);
  assert.deepEqual(Object.keys(s.key ?? {}).sort(), ["pg1", "pg2", "pg3"]);
});

Deno.test("REST: GET /failsafe serves the key (502 without one); POST /failsafe answers with the lsn header", async () => {
  const key = { pg1: "http://10.0.0.1:8008/patroni" };
  const deps = stubApiDeps("demo", {}, {
    failsafeCall: (body) =>
      (body as { name?: string }).name === "pg1"
        ? { status: 200, body: "Accepted", lsn: 77 }
        : { status: 500, body: "not following" },
  });
  const snap = primarySnapshot("demo", performance.now());
  const handler = createApiHandler({
    ...deps,
    snapshot: () => ({ ...snap, cluster: view({ failsafe: key }) }),
  });
  const got = await handler(new Request("http://x/failsafe"));
  assert.equal(got.status, 200);
  assert.deepEqual(await got.json(), key);
  const none = await createApiHandler(deps)(new Request("http://x/failsafe"));
  assert.equal(none.status, 502);
  await none.body?.cancel();
  const post = (name: string) =>
    handler(new Request("http://x/failsafe", { method: "POST", body: JSON.stringify({ name }) }));
  const yes = await post("pg1");
  assert.equal(yes.status, 200);
  assert.equal(await yes.text(), "Accepted");
  assert.equal(yes.headers.get("lsn"), "77");
  const no = await post("pg3");
  assert.equal(no.status, 500);
  assert.equal(await no.text(), "not following");
});
