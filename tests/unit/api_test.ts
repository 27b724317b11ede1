/**
 * The REST API handler tested in-process with `new Request(...)`: Patroni's health-check rules (§1.3), the
 * `/patroni` document (§1.5), `/cluster` (§1.6), `/history` (§1.7), `/liveness` and `/readiness` (§1.4). Random
 * input (10,000+ requests) is in api_fuzz_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  buildStatus,
  clusterAsJson,
  createApiHandler,
  parseLag,
  SERVER_HEADER,
  STALE_STATUS_MS,
} from "../../src/api/handler.ts";
import type { ApiDeps } from "../../src/api/handler.ts";
import type { ClusterView, Member, NodeSnapshot, PgObservation } from "../../src/core/types.ts";
import { emptyPgObservation, HACTL_VERSION } from "../../src/core/types.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";

const NOW = 1_000_000;
const OPTIME = 0x5000000;

// ---------------------------------------------------------------------------------------------------------------
// Builders

function member(name: string, data: Partial<Member["data"]> = {}): Member {
  return {
    name,
    data: {
      conn_url: `postgres://10.0.0.${name.slice(2)}:5432/postgres`,
      api_url: `http://10.0.0.${name.slice(2)}:8008/patroni`,
      state: "running",
      role: "replica",
      version: HACTL_VERSION,
      ...data,
    },
    modRevision: "10",
    lease: "7",
  };
}

function clusterView(over: Partial<ClusterView> = {}, config: Record<string, unknown> = {}): ClusterView {
  return {
    initialize: "7400000000000000001",
    config: { value: { ttl: 30, loop_wait: 10, ...config }, modRevision: "3" },
    leader: { name: "pg1", createRevision: "5", modRevision: "5", lease: "7" },
    members: [
      member("pg2", {
        replication_state: "streaming",
        xlog_location: OPTIME - 1024,
        receive_lsn: OPTIME - 1024,
      }),
      member("pg1", { role: "primary", xlog_location: OPTIME, timeline: 2 }),
      member("pg3", { state: "stopped" }),
    ],
    status: { optime: OPTIME, slots: {}, retainSlots: [] },
    failover: null,
    sync: null,
    history: [[1, 0x3000060, "no recovery target specified", "2024-08-28T19:39:26.352526+00:00", "pg1"]],
    revision: "42",
    problems: [],
    ...over,
  };
}

function pgPrimary(): PgObservation {
  return {
    ...emptyPgObservation(),
    dataDir: "initialized",
    running: true,
    queryable: true,
    role: "primary",
    sysid: "7400000000000000001",
    timeline: 2,
    walPosition: OPTIME,
    slots: ["pg2"],
    replication: [{
      usename: "replicator",
      application_name: "pg2",
      client_addr: "10.0.0.2",
      state: "streaming",
      sync_state: "async",
      sync_priority: 0,
    }],
    serverVersion: 150008,
    postmasterStartTime: "2024-08-28 19:39:26.352526+00:00",
    pendingRestart: false,
  };
}

function pgReplica(): PgObservation {
  return {
    ...pgPrimary(),
    role: "replica",
    standbySignal: true,
    walPosition: OPTIME - 1024,
    receiveLsn: OPTIME - 1024,
    replayLsn: OPTIME - 2048,
    replayedTimestamp: "2024-08-28 19:40:00.000000+00:00",
    replicationState: "streaming",
    upstream: "10.0.0.1:5432",
    slots: [],
    replication: [],
  };
}

/** pg1: running primary holding the leader lock. */
function primarySnap(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    name: "pg1",
    scope: "demo",
    state: "running",
    role: "primary",
    pg: pgPrimary(),
    pgObservedAt: NOW - 500,
    cluster: clusterView(),
    dcsLastSeen: 1_724_873_966.7,
    isLeader: true,
    leaderExpiresAt: NOW + 25_000,
    dynamic: { ...DYNAMIC_DEFAULTS },
    tags: {},
    nextRunAt: NOW + 5_000,
    watchdogFailed: false,
    ...over,
  };
}

/** pg2: streaming replica, 2 kB of replay lag behind the DCS optime, with a few custom tags. */
function replicaSnap(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return primarySnap({
    name: "pg2",
    role: "replica",
    pg: pgReplica(),
    isLeader: false,
    leaderExpiresAt: 0,
    tags: { dc: "east", fast: true, weight: 1.5, nofailover: false, nosync: false, sync_priority: 1 },
    ...over,
  });
}

/** pg3: Postgres stopped. */
function stoppedSnap(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return replicaSnap({
    name: "pg3",
    state: "stopped",
    pg: { ...pgReplica(), running: false, queryable: false, role: null, replicationState: null },
    tags: {},
    ...over,
  });
}

function staleSnap(): NodeSnapshot {
  return primarySnap({ pgObservedAt: NOW - STALE_STATUS_MS - 1500 });
}

function deps(snapshot: NodeSnapshot, over: Partial<ApiDeps> = {}): ApiDeps {
  return {
    snapshot: () => snapshot,
    now: () => NOW,
    wallNow: () => 1_724_873_970_000,
    loadCluster: () => Promise.resolve(snapshot.cluster ?? clusterView()),
    scope: snapshot.scope,
    name: snapshot.name,
    ...over,
  };
}

async function call(snapshot: NodeSnapshot, path: string, method = "GET", over: Partial<ApiDeps> = {}) {
  const res = await createApiHandler(deps(snapshot, over))(new Request(`http://x${path}`, { method }));
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

async function getJson(snapshot: NodeSnapshot, path: string, over: Partial<ApiDeps> = {}) {
  const r = await call(snapshot, path, "GET", over);
  return { status: r.status, body: JSON.parse(r.text), headers: r.headers };
}

// ---------------------------------------------------------------------------------------------------------------
// Health-check rule table (§1.3)

const syncMode = (mode: unknown, listed: string[]) =>
  clusterView({ sync: { leader: "pg1", syncStandby: listed, quorum: 1, modRevision: "9" } }, {
    synchronous_mode: mode,
  });

const standbyClusterLeader = () =>
  primarySnap({
    role: "standby_leader",
    pg: pgReplica(),
    cluster: clusterView({}, { standby_cluster: { host: "10.1.0.1", port: 5432 } }),
  });

type Row = [string, () => NodeSnapshot, string, string, number];

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

// ---------------------------------------------------------------------------------------------------------------
// GET /patroni (§1.5)

Deno.test("GET /patroni: primary document has exactly Patroni's keys", async () => {
  const { status, body, headers } = await getJson(
    primarySnap({ tags: { nofailover: false, dc: "east" } }),
    "/patroni",
  );
  assert.equal(status, 200);
  assert.equal(headers.get("content-type"), "application/json");
  assert.deepEqual(Object.keys(body).sort(), [
    "database_system_identifier",
    "dcs_last_seen",
    "patroni",
    "postmaster_start_time",
    "replication",
    "role",
    "server_version",
    "state",
    "tags",
    "timeline",
    "xlog",
  ]);
  assert.equal(body.state, "running");
  assert.equal(body.role, "primary");
  assert.equal(body.server_version, 150008);
  assert.deepEqual(body.xlog, { location: OPTIME });
  assert.equal(body.timeline, 2);
  assert.equal(body.dcs_last_seen, 1724873966);
  assert.deepEqual(body.tags, { dc: "east" });
  assert.equal(body.database_system_identifier, "7400000000000000001");
  assert.deepEqual(body.patroni, { version: HACTL_VERSION, scope: "demo", name: "pg1" });
  assert.deepEqual(body.replication, [{
    usename: "replicator",
    application_name: "pg2",
    client_addr: "10.0.0.2",
    state: "streaming",
    sync_state: "async",
    sync_priority: 0,
  }]);
});

Deno.test("GET /patroni: replica document has exactly Patroni's keys", async () => {
  const { body } = await getJson(replicaSnap(), "/patroni");
  assert.deepEqual(Object.keys(body).sort(), [
    "database_system_identifier",
    "dcs_last_seen",
    "patroni",
    "postmaster_start_time",
    "replication_state",
    "role",
    "server_version",
    "state",
    "tags",
    "timeline",
    "xlog",
  ]);
  assert.equal(body.role, "replica");
  assert.deepEqual(body.xlog, {
    received_location: OPTIME - 1024,
    replayed_location: OPTIME - 2048,
    replayed_timestamp: "2024-08-28 19:40:00.000000+00:00",
    paused: false,
  });
  // nofailover/nosync are false: dropped, except nosync stays because sync_priority is set
  assert.deepEqual(body.tags, { dc: "east", fast: true, weight: 1.5, nosync: false, sync_priority: 1 });
});

Deno.test("GET /patroni: nofailover false is kept when failover_priority is set", () => {
  const body = buildStatus(
    replicaSnap({ tags: { nofailover: false, failover_priority: 2, clonefrom: false } }),
    NOW,
  );
  assert.deepEqual(body.tags, { nofailover: false, failover_priority: 2 });
});

Deno.test("GET /patroni: stopped node shrinks to state/role plus cluster and node fields", async () => {
  const { status, body } = await getJson(
    stoppedSnap({ cluster: null, dynamic: { ...DYNAMIC_DEFAULTS, pause: true } }),
    "/patroni",
  );
  assert.equal(status, 200);
  assert.deepEqual(body, {
    state: "stopped",
    role: "replica",
    pause: true,
    cluster_unlocked: true,
    dcs_last_seen: 1724873966,
    database_system_identifier: "7400000000000000001",
    patroni: { version: HACTL_VERSION, scope: "demo", name: "pg3" },
  });
});

Deno.test("GET /patroni: running but not queryable reports state unknown", () => {
  const body = buildStatus(primarySnap({ pg: { ...pgPrimary(), queryable: false } }), NOW);
  assert.equal(body.state, "unknown");
  assert.equal(body.role, "primary");
  assert.equal("xlog" in body, false);
});

Deno.test("GET /patroni: cluster_unlocked, pending_restart, watchdog_failed, standby leader role", () => {
  const s = primarySnap({
    cluster: clusterView({ leader: null }),
    pg: { ...pgPrimary(), pendingRestart: true },
    watchdogFailed: true,
  });
  const body = buildStatus(s, NOW);
  assert.equal(body.cluster_unlocked, true);
  assert.equal(body.pending_restart, true);
  assert.equal(body.watchdog_failed, true);
  assert.equal(buildStatus(standbyClusterLeader(), NOW).role, "standby_leader");
});

Deno.test("GET /patroni/anything is routed to /patroni", async () => {
  const { status, body } = await getJson(replicaSnap(), "/patroni/extra?x=1");
  assert.equal(status, 200);
  assert.equal(body.patroni.name, "pg2");
});

Deno.test("extra headers from restapi.http_extra_headers are added", async () => {
  const r = await call(primarySnap(), "/patroni", "GET", { extraHeaders: { "X-Frame-Options": "DENY" } });
  assert.equal(r.headers.get("x-frame-options"), "DENY");
});

Deno.test("an unexpected exception answers 500 with a short message", async () => {
  const r = await call(primarySnap(), "/primary", "GET", {
    snapshot: () => {
      throw new TypeError("boom");
    },
  });
  assert.equal(r.status, 500);
  assert.equal(r.text.includes("boom"), false);
});

// ---------------------------------------------------------------------------------------------------------------
// GET /cluster (§1.6) and /history (§1.7)

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
  const standby = clusterAsJson(clusterView({}, { standby_cluster: { host: "h" } }), "demo");
  assert.equal((standby.members as Record<string, unknown>[])[0]!.role, "standby_leader");
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

// ---------------------------------------------------------------------------------------------------------------
// /liveness and /readiness (§1.4)

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
