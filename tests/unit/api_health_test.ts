/**
 * The REST handler's health checks as Patroni answers them, tested in-process with `new Request(...)`: the rule
 * table of paths, methods, roles and tag filters (`/primary`, `/replica`, `/read-only`, `/sync`, `?lag=` ...), the
 * status document a health check returns, `parseLag()`, and `/liveness` and `/readiness`. Random input (10,000+
 * requests) is in api_fuzz_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseLag, SERVER_HEADER, STALE_STATUS_MS } from "../../src/api/handler.ts";
import type { NodeSnapshot } from "../../src/core/types.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import {
  call,
  clusterView,
  getJson,
  NOW,
  pgReplica,
  primarySnap,
  replicaSnap,
  staleSnap,
  standbyClusterLeader,
  stoppedSnap,
  syncMode,
} from "../helpers/api_snapshots.ts";

type Row = [string, () => NodeSnapshot, string, string, number];

/** The leader holds the lock as a primary while the config names a standby cluster (a cluster being demoted: it answers as the primary until it stopped). */
const standbyConfigPrimary = () =>
  primarySnap({ cluster: clusterView({}, { standby_cluster: { host: "10.1.0.1" } }) });
/** synchronous_mode on, pg2 listed, but by a `sync` key a former leader (pg3) wrote. */
const staleSync = () => {
  const view = syncMode(true, ["pg2"]);
  view.sync = { ...view.sync!, leader: "pg3" };
  return view;
};

const TABLE: Row[] = [
  // primary holding the lock
  ["primary /", primarySnap, "GET", "/", 200],
  ["primary /primary", primarySnap, "GET", "/primary", 200],
  ["primary /read-write", primarySnap, "GET", "/read-write", 200],
  ["primary /master", primarySnap, "GET", "/master", 200],
  ["primary /leader", primarySnap, "GET", "/leader", 200],
  ["primary /standby-leader", primarySnap, "GET", "/standby-leader", 503],
  ["primary /standby_leader", primarySnap, "GET", "/standby_leader", 503],
  ["primary /replica", primarySnap, "GET", "/replica", 503],
  ["primary /read-only", primarySnap, "GET", "/read-only", 200],
  ["primary /health", primarySnap, "GET", "/health", 200],
  ["primary /sync", primarySnap, "GET", "/sync", 503],
  ["primary /async", primarySnap, "GET", "/async", 503],
  ["primary /read-only-sync", primarySnap, "GET", "/read-only-sync", 200],
  ["primary /read-only-quorum", primarySnap, "GET", "/read-only-quorum", 200],
  ["primary unknown path", primarySnap, "GET", "/nonsense", 503],
  ["primary substring match /xprimaryx", primarySnap, "GET", "/xprimaryx/deep", 200],
  ["primary tag filters ignored on /primary", primarySnap, "GET", "/primary?tag_dc=nowhere", 200],
  ["primary tag filters ignored on /leader", primarySnap, "GET", "/leader?tag_dc=nowhere", 200],
  ["primary tag filter applies to /read-only", primarySnap, "GET", "/read-only?tag_dc=nowhere", 503],
  ["primary tag filter applies to /health", primarySnap, "GET", "/health?tag_dc=x", 503],
  ["primary HEAD /primary", primarySnap, "HEAD", "/primary", 200],
  ["primary OPTIONS /primary", primarySnap, "OPTIONS", "/primary", 200],
  ["primary OPTIONS /replica", primarySnap, "OPTIONS", "/replica", 503],
  ["primary HEAD /patroni falls back to health", primarySnap, "HEAD", "/patroni", 503],
  // expired lock: no longer the leader
  ["expired lock /primary", () => primarySnap({ leaderExpiresAt: NOW - 1 }), "GET", "/primary", 503],
  ["expired lock /leader", () => primarySnap({ leaderExpiresAt: NOW }), "GET", "/leader", 503],
  ["not leader /read-only on a primary", () => primarySnap({ isLeader: false }), "GET", "/read-only", 503],
  // replica
  ["replica /replica", replicaSnap, "GET", "/replica", 200],
  ["replica /replica/x", replicaSnap, "GET", "/replica/x", 200],
  ["replica /primary", replicaSnap, "GET", "/primary", 503],
  ["replica /", replicaSnap, "GET", "/", 503],
  ["replica /leader", replicaSnap, "GET", "/leader", 503],
  ["replica /read-only", replicaSnap, "GET", "/read-only", 200],
  ["replica /health", replicaSnap, "GET", "/health", 200],
  ["replica /async (no sync mode)", replicaSnap, "GET", "/async", 200],
  ["replica /asynchronous", replicaSnap, "GET", "/asynchronous", 200],
  ["replica /sync (no sync mode)", replicaSnap, "GET", "/sync", 503],
  ["replica /read-only-sync (no sync mode)", replicaSnap, "GET", "/read-only-sync", 503],
  // lag: leader optime (DCS status) is 2048 bytes ahead of replayed_location
  ["lag 2048 ok", replicaSnap, "GET", "/replica?lag=2048", 200],
  ["lag 2047 lagging", replicaSnap, "GET", "/replica?lag=2047", 503],
  ["lag 2kB ok", replicaSnap, "GET", "/replica?lag=2kB", 200],
  ["lag 1kB lagging", replicaSnap, "GET", "/replica?lag=1kB", 503],
  ["lag 1MB ok", replicaSnap, "GET", "/replica?lag=1MB", 200],
  ["lag 1GB ok", replicaSnap, "GET", "/replica?lag=1GB", 200],
  ["lag 1TB ok", replicaSnap, "GET", "/replica?lag=1TB", 200],
  ["lag 2048B ok", replicaSnap, "GET", "/replica?lag=2048B", 200],
  ["lag hex 0x800 ok", replicaSnap, "GET", "/replica?lag=0x800", 200],
  ["lag hex 0x7ff lagging", replicaSnap, "GET", "/replica?lag=0x7FF", 503],
  ["lag octal 04000 ok", replicaSnap, "GET", "/replica?lag=04000", 200],
  ["lag octal 03777 lagging", replicaSnap, "GET", "/replica?lag=03777", 503],
  ["lag 0 lagging", replicaSnap, "GET", "/replica?lag=0", 503],
  ["lag unit is case-sensitive (1kb = no limit)", replicaSnap, "GET", "/replica?lag=1kb", 200],
  ["lag garbage = no limit", replicaSnap, "GET", "/replica?lag=soon", 200],
  ["lag also applies to /async", replicaSnap, "GET", "/async?lag=1kB", 503],
  ["lag also applies to /read-only", replicaSnap, "GET", "/read-only?lag=1kB", 503],
  [
    "replica lagging behind received WAL",
    () => {
      const s = replicaSnap();
      return { ...s, cluster: { ...s.cluster!, status: null } };
    },
    "GET",
    "/replica?lag=1023",
    503,
  ],
  // replication_state
  ["replication_state=streaming", replicaSnap, "GET", "/replica?replication_state=streaming", 200],
  [
    "replication_state=in archive recovery",
    replicaSnap,
    "GET",
    "/replica?replication_state=in%20archive%20recovery",
    503,
  ],
  [
    "archive recovery replica",
    () => replicaSnap({ pg: { ...pgReplica(), replicationState: "in archive recovery" } }),
    "GET",
    "/replica?replication_state=in+archive+recovery",
    200,
  ],
  // tags
  ["tag string matches", replicaSnap, "GET", "/replica?tag_dc=east", 200],
  ["tag string differs", replicaSnap, "GET", "/replica?tag_dc=west", 503],
  ["tag bool matches lower-case", replicaSnap, "GET", "/replica?tag_fast=true", 200],
  ["tag bool is lower-cased (True differs)", replicaSnap, "GET", "/replica?tag_fast=True", 503],
  ["tag number stringified", replicaSnap, "GET", "/replica?tag_weight=1.5", 200],
  ["tag missing", replicaSnap, "GET", "/replica?tag_rack=r1", 503],
  ["two tags, both match", replicaSnap, "GET", "/replica?tag_dc=east&tag_fast=true", 200],
  ["two tags, one differs", replicaSnap, "GET", "/replica?tag_dc=east&tag_fast=false", 503],
  ["tags on /health", replicaSnap, "GET", "/health?tag_dc=east", 200],
  ["blank tag value is dropped (parse_qs)", replicaSnap, "GET", "/replica?tag_rack=", 200],
  ["blank lag is dropped", replicaSnap, "GET", "/replica?lag=", 200],
  ["blank replication_state is dropped", replicaSnap, "GET", "/replica?replication_state=", 200],
  ["repeated tag: the first value counts", replicaSnap, "GET", "/replica?tag_dc=east&tag_dc=west", 200],
  ["repeated tag: the first value counts (503)", replicaSnap, "GET", "/replica?tag_dc=west&tag_dc=east", 503],
  ["noloadbalance /replica", () => replicaSnap({ tags: { noloadbalance: true } }), "GET", "/replica", 503],
  [
    "noloadbalance /read-only",
    () => replicaSnap({ tags: { noloadbalance: true } }),
    "GET",
    "/read-only",
    503,
  ],
  [
    "noloadbalance /health still ok",
    () => replicaSnap({ tags: { noloadbalance: true } }),
    "GET",
    "/health",
    200,
  ],
  // synchronous and quorum modes
  ["sync: /sync", () => replicaSnap({ cluster: syncMode(true, ["pg2"]) }), "GET", "/sync", 200],
  ["sync: /synchronous", () => replicaSnap({ cluster: syncMode("on", ["PG2"]) }), "GET", "/synchronous", 200],
  ["sync: /async", () => replicaSnap({ cluster: syncMode(true, ["pg2"]) }), "GET", "/async", 503],
  ["sync: /quorum", () => replicaSnap({ cluster: syncMode(true, ["pg2"]) }), "GET", "/quorum", 503],
  [
    "sync: /read-only-sync",
    () => replicaSnap({ cluster: syncMode(true, ["pg2"]) }),
    "GET",
    "/read-only-sync",
    200,
  ],
  [
    "sync: /read-only-synchronous",
    () => replicaSnap({ cluster: syncMode(true, ["pg2"]) }),
    "GET",
    "/read-only-synchronous",
    200,
  ],
  [
    "sync: lagging sync standby",
    () => replicaSnap({ cluster: syncMode(true, ["pg2"]) }),
    "GET",
    "/sync?lag=1kB",
    503,
  ],
  [
    "sync: tag filter",
    () => replicaSnap({ cluster: syncMode(true, ["pg2"]) }),
    "GET",
    "/sync?tag_dc=west",
    503,
  ],
  ["sync: not listed /sync", () => replicaSnap({ cluster: syncMode(true, ["pg3"]) }), "GET", "/sync", 503],
  ["sync: not listed /async", () => replicaSnap({ cluster: syncMode(true, ["pg3"]) }), "GET", "/async", 200],
  [
    "sync: not listed /read-only-sync",
    () => replicaSnap({ cluster: syncMode(true, ["pg3"]) }),
    "GET",
    "/read-only-sync",
    503,
  ],
  [
    "sync mode off: listed is not sync",
    () => replicaSnap({ cluster: syncMode(false, ["pg2"]) }),
    "GET",
    "/sync",
    503,
  ],
  ["quorum: /quorum", () => replicaSnap({ cluster: syncMode("quorum", ["pg2"]) }), "GET", "/quorum", 200],
  [
    "quorum: /read-only-quorum",
    () => replicaSnap({ cluster: syncMode("quorum", ["pg2"]) }),
    "GET",
    "/read-only-quorum",
    200,
  ],
  ["quorum: /sync", () => replicaSnap({ cluster: syncMode("quorum", ["pg2"]) }), "GET", "/sync", 503],
  ["quorum: /async", () => replicaSnap({ cluster: syncMode("quorum", ["pg2"]) }), "GET", "/async", 503],
  [
    "quorum: not listed /read-only-quorum",
    () => replicaSnap({ cluster: syncMode("quorum", []) }),
    "GET",
    "/read-only-quorum",
    503,
  ],
  ["no DCS view: /async", () => replicaSnap({ cluster: null }), "GET", "/async", 503],
  ["no DCS view: /replica still answers", () => replicaSnap({ cluster: null }), "GET", "/replica", 200],
  // stopped node
  ["stopped /health", stoppedSnap, "GET", "/health", 503],
  ["stopped /replica", stoppedSnap, "GET", "/replica", 503],
  ["stopped /read-only", stoppedSnap, "GET", "/read-only", 503],
  ["stopped /primary", stoppedSnap, "GET", "/primary", 503],
  // stale snapshot
  ["stale /primary", staleSnap, "GET", "/primary", 503],
  ["stale /leader", staleSnap, "GET", "/leader", 503],
  ["stale /health", staleSnap, "GET", "/health", 503],
  ["stale OPTIONS /primary", staleSnap, "OPTIONS", "/primary", 503],
  ["stale /patroni still 200", staleSnap, "GET", "/patroni", 200],
  // standby cluster leader
  // a primary holding the lock (a cluster being demoted) is the primary until it has stopped
  ["standby_cluster set, primary leader: /primary", standbyConfigPrimary, "GET", "/primary", 200],
  [
    "standby_cluster set, primary leader: /standby-leader",
    standbyConfigPrimary,
    "GET",
    "/standby-leader",
    503,
  ],
  // a sync key left by a former leader claims nothing
  ["stale sync key: /sync", () => replicaSnap({ cluster: staleSync() }), "GET", "/sync", 503],
  ["stale sync key: /async", () => replicaSnap({ cluster: staleSync() }), "GET", "/async", 200],
  ["standby cluster /standby-leader", standbyClusterLeader, "GET", "/standby-leader", 200],
  ["standby cluster /standby_leader", standbyClusterLeader, "GET", "/standby_leader", 200],
  ["standby cluster /leader", standbyClusterLeader, "GET", "/leader", 200],
  ["standby cluster /primary", standbyClusterLeader, "GET", "/primary", 503],
  ["standby cluster /replica forced 503", standbyClusterLeader, "GET", "/replica", 503],
  ["standby cluster /read-only", standbyClusterLeader, "GET", "/read-only", 200],
  [
    "standby cluster replica /replica",
    () => replicaSnap({ cluster: standbyClusterLeader().cluster }),
    "GET",
    "/replica",
    200,
  ],
  // DCS unreachable while paused: answer from the Postgres role
  [
    "paused, no DCS: /primary",
    () => primarySnap({ cluster: null, isLeader: false, dynamic: { ...DYNAMIC_DEFAULTS, pause: true } }),
    "GET",
    "/primary",
    200,
  ],
  [
    "paused, no DCS: /leader",
    () => primarySnap({ cluster: null, isLeader: false, dynamic: { ...DYNAMIC_DEFAULTS, pause: true } }),
    "GET",
    "/leader",
    200,
  ],
  [
    "not paused, no DCS, not leader: /primary",
    () => primarySnap({ cluster: null, isLeader: false }),
    "GET",
    "/primary",
    503,
  ],
  // unsafe and unknown methods
  ["POST /", primarySnap, "POST", "/", 501],
  ["POST /switchover", primarySnap, "POST", "/switchover", 501],
  ["PATCH /config", primarySnap, "PATCH", "/config", 501],
  ["PUT /config", primarySnap, "PUT", "/config", 501],
  ["DELETE /restart", primarySnap, "DELETE", "/restart", 501],
  ["unknown method", primarySnap, "BREW", "/primary", 501],
];

for (const [name, snap, method, path, expected] of TABLE) {
  Deno.test(`health: ${name} -> ${method} ${path} = ${expected}`, async () => {
    const r = await call(snap(), path, method);
    assert.equal(r.status, expected);
    assert.equal(r.headers.get("server"), SERVER_HEADER);
    if (method === "HEAD" || method === "OPTIONS") assert.equal(r.text, "");
    if (method === "GET" && expected !== 501 && !path.startsWith("/patroni")) {
      const body = JSON.parse(r.text);
      assert.equal(r.headers.get("content-type"), "application/json");
      assert.equal(body.patroni.name, snap().name);
    }
  });
}

Deno.test("health: GET returns the full status document with its code", async () => {
  const { status, body } = await getJson(replicaSnap(), "/primary");
  assert.equal(status, 503);
  assert.equal(body.role, "replica");
  assert.equal(body.replication_state, "streaming");
});

Deno.test("health: a stale snapshot reports its age in the body", async () => {
  const { status, body } = await getJson(staleSnap(), "/primary");
  assert.equal(status, 503);
  assert.equal(body.stale_status_ms, STALE_STATUS_MS + 1500);
  const patroni = await getJson(staleSnap(), "/patroni");
  assert.equal(patroni.status, 200);
  assert.equal(patroni.body.stale_status_ms, STALE_STATUS_MS + 1500);
  const fresh = await getJson(primarySnap(), "/primary");
  assert.equal("stale_status_ms" in fresh.body, false);
});

Deno.test("health: sync and quorum flags appear in the status document", async () => {
  const sync = await getJson(replicaSnap({ cluster: syncMode(true, ["pg2"]) }), "/patroni");
  assert.equal(sync.body.sync_standby, true);
  assert.equal("quorum_standby" in sync.body, false);
  const quorum = await getJson(replicaSnap({ cluster: syncMode("quorum", ["pg2"]) }), "/patroni");
  assert.equal(quorum.body.quorum_standby, true);
  assert.equal("sync_standby" in quorum.body, false);
});

Deno.test("parseLag(): units, hex, octal, reals, garbage", () => {
  const cases: [string, number | null][] = [
    ["1048576", 1048576],
    ["1024kB", 1048576],
    ["10MB", 10485760],
    ["1GB", 1073741824],
    ["1TB", 1024 ** 4],
    ["5B", 5],
    [" 7 kB ", 7168],
    ["0x10", 16],
    ["0X1f", 31],
    ["010", 8],
    ["0", 0],
    ["1.5MB", 1572864],
    ["-1", -1],
    ["1e3", 1000],
    ["08", null],
    ["1kb", null],
    ["1mb", null],
    ["", null],
    ["MB", null],
    ["0x", null],
    ["abc", null],
    ["12 34", null],
    ["1toString", null],
    ["1constructor", null],
  ];
  for (const [text, expected] of cases) {
    assert.equal(parseLag(text), expected, `parseLag(${JSON.stringify(text)})`);
  }
});

Deno.test("GET /liveness: 200 while the HA loop is within its threshold, status only", async () => {
  const r = await call(primarySnap(), "/liveness");
  assert.equal(r.status, 200);
  assert.equal(r.text, "");
  // running primary: threshold = ttl (30 s)
  assert.equal((await call(primarySnap({ nextRunAt: NOW - 29_000 }), "/liveness")).status, 200);
  assert.equal((await call(primarySnap({ nextRunAt: NOW - 31_000 }), "/liveness")).status, 503);
  // anything else: 2 * ttl
  assert.equal((await call(replicaSnap({ nextRunAt: NOW - 31_000 }), "/liveness")).status, 200);
  assert.equal((await call(replicaSnap({ nextRunAt: NOW - 61_000 }), "/liveness")).status, 503);
  // paused: always alive
  const paused = primarySnap({ nextRunAt: NOW - 600_000, dynamic: { ...DYNAMIC_DEFAULTS, pause: true } });
  assert.equal((await call(paused, "/liveness")).status, 200);
});

Deno.test("GET /readiness: leader, or a streaming replica within lag", async () => {
  assert.equal((await call(primarySnap(), "/readiness")).status, 200);
  const r = await call(replicaSnap(), "/readiness");
  assert.equal(r.status, 200);
  assert.equal(r.text, "");
  assert.equal((await call(replicaSnap(), "/readiness?lag=1kB")).status, 503);
  assert.equal((await call(replicaSnap(), "/readiness?lag=1kB&mode=write")).status, 200);
  assert.equal((await call(replicaSnap(), "/readiness?lag=1023&mode=write")).status, 503);
  const archive = replicaSnap({ pg: { ...pgReplica(), replicationState: "in archive recovery" } });
  assert.equal((await call(archive, "/readiness")).status, 503);
  assert.equal((await call(stoppedSnap(), "/readiness")).status, 503);
  assert.equal((await call(replicaSnap({ cluster: null }), "/readiness")).status, 503);
  const far = replicaSnap({ dynamic: { ...DYNAMIC_DEFAULTS, maximumLagOnFailover: 1000 } });
  assert.equal((await call(far, "/readiness")).status, 503);
});
