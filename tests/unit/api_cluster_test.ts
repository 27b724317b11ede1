/**
 * The REST handler's `GET /cluster` (members, roles, LSNs and lags, sync roles, pause, a scheduled switchover, read
 * afresh from the DCS) and `GET /history`, tested in-process and through `clusterAsJson()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { clusterAsJson } from "../../src/api/handler.ts";
import {
  call,
  clusterView,
  getJson,
  member,
  OPTIME,
  primarySnap,
  syncMode,
} from "../helpers/api_snapshots.ts";

Deno.test("GET /cluster: members sorted, roles, LSNs as %X/%X, lags in bytes or unknown", async () => {
  const { status, body } = await getJson(primarySnap(), "/cluster");
  assert.equal(status, 200);
  assert.deepEqual(body, {
    scope: "demo",
    members: [
      {
        name: "pg1",
        role: "leader",
        state: "running",
        api_url: "http://10.0.0.1:8008/patroni",
        host: "10.0.0.1",
        port: 5432,
        timeline: 2,
      },
      {
        name: "pg2",
        role: "replica",
        state: "streaming",
        api_url: "http://10.0.0.2:8008/patroni",
        host: "10.0.0.2",
        port: 5432,
        receive_lsn: "0/4FFFC00",
        receive_lag: 1024,
        replay_lsn: "unknown",
        replay_lag: "unknown",
        lsn: "0/4FFFC00",
        lag: 1024,
      },
      {
        name: "pg3",
        role: "replica",
        state: "stopped",
        api_url: "http://10.0.0.3:8008/patroni",
        host: "10.0.0.3",
        port: 5432,
        receive_lsn: "unknown",
        receive_lag: "unknown",
        replay_lsn: "unknown",
        replay_lag: "unknown",
        lsn: "unknown",
        lag: "unknown",
      },
    ],
  });
});

Deno.test("GET /cluster: sync roles, pause, scheduled switchover, lag clamped at 0", () => {
  const view = syncMode(true, ["pg2"]);
  view.config!.value.pause = true;
  view.failover = {
    leader: "pg1",
    member: "pg2",
    scheduledAt: "2030-01-01T00:00:00+00:00",
    modRevision: "11",
  };
  view.members.push(member("pg4", { xlog_location: OPTIME + 4096, tags: { nofailover: true } }));
  const body = clusterAsJson(view, "demo");
  const members = body.members as Record<string, unknown>[];
  assert.deepEqual(members.map((m) => m.role), ["leader", "sync_standby", "replica", "replica"]);
  assert.equal(members[3]!.lag, 0);
  assert.equal(members[3]!.lsn, "0/5001000");
  assert.deepEqual(members[3]!.tags, { nofailover: true });
  assert.equal(body.pause, true);
  assert.deepEqual(body.scheduled_switchover, { at: "2030-01-01T00:00:00+00:00", from: "pg1", to: "pg2" });
  const quorum = clusterAsJson(syncMode("quorum", ["pg2", "pg3"]), "demo").members as Record<
    string,
    unknown
  >[];
  assert.deepEqual(quorum.map((m) => m.role), ["leader", "quorum_standby", "quorum_standby"]);
  // A standby leader (its member key says so) is shown as one; a leader whose Postgres is a primary (a cluster
  // being demoted) is the leader until it has stopped.
  const standbyView = clusterView({}, { standby_cluster: { host: "h" } });
  const standby = clusterAsJson(standbyView, "demo").members as Record<string, unknown>[];
  assert.equal(standby.find((m) => m.name === "pg1")!.role, "leader");
  standbyView.members = standbyView.members.map((m) =>
    m.name === "pg1" ? { ...m, data: { ...m.data, role: "standby_leader" } } : m
  );
  const patroniStandby = clusterAsJson(standbyView, "demo").members as Record<string, unknown>[];
  assert.equal(patroniStandby.find((m) => m.name === "pg1")!.role, "standby_leader");
});

Deno.test("GET /cluster: reads the DCS afresh and answers 503 when it cannot", async () => {
  let reads = 0;
  const ok = await getJson(primarySnap(), "/cluster", {
    loadCluster: () => {
      reads++;
      return Promise.resolve(clusterView({ members: [] }));
    },
  });
  assert.equal(reads, 1);
  assert.deepEqual(ok.body, { members: [], scope: "demo" });
  const down = await call(primarySnap(), "/cluster", "GET", {
    loadCluster: () => Promise.reject(new Error("etcd down")),
  });
  assert.equal(down.status, 503);
  assert.equal(down.text.includes("etcd down"), false);
});

Deno.test("GET /history: the DCS history list, empty when absent", async () => {
  const { status, body } = await getJson(primarySnap(), "/history");
  assert.equal(status, 200);
  assert.deepEqual(body, [[
    1,
    0x3000060,
    "no recovery target specified",
    "2024-08-28T19:39:26.352526+00:00",
    "pg1",
  ]]);
  const empty = await getJson(primarySnap({ cluster: clusterView({ history: null }) }), "/history");
  assert.deepEqual(empty.body, []);
  const fresh = await getJson(primarySnap({ cluster: null }), "/history", {
    loadCluster: () => Promise.resolve(clusterView({ history: [[1, 100, "x"]] })),
  });
  assert.deepEqual(fresh.body, [[1, 100, "x"]]);
});
