/**
 * Builders for the REST handler's unit tests (tests/unit/api_*_test.ts): a three-member cluster view with pg1 as
 * leader (`member`, `clusterView`, `syncMode`), the local Postgres of a primary and a replica (`pgPrimary`,
 * `pgReplica`), the node snapshots the handler serves (`primarySnap` holding the lock, `replicaSnap`,
 * `stoppedSnap`, `staleSnap`, `standbyClusterLeader`), and in-process requests to `createApiHandler` at the
 * fixed time `NOW` (`call`, `getJson`).
 *
 * May import src/api/, src/core/ and src/config/ (the dynamic defaults).
 *
 * @module
 */
import { createApiHandler, STALE_STATUS_MS } from "../../src/api/handler.ts";
import type { ApiDeps } from "../../src/api/handler.ts";
import type { ClusterView, Member, NodeSnapshot, PgObservation } from "../../src/core/types.ts";
import { HACTL_VERSION } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";

export const NOW = 1_000_000;
export const OPTIME = 0x5000000;

export function member(name: string, data: Partial<Member["data"]> = {}): Member {
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

export function clusterView(
  over: Partial<ClusterView> = {},
  config: Record<string, unknown> = {},
): ClusterView {
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

export function pgPrimary(): PgObservation {
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

export function pgReplica(): PgObservation {
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
export function primarySnap(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
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
export function replicaSnap(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
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
export function stoppedSnap(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return replicaSnap({
    name: "pg3",
    state: "stopped",
    pg: { ...pgReplica(), running: false, queryable: false, role: null, replicationState: null },
    tags: {},
    ...over,
  });
}

export function staleSnap(): NodeSnapshot {
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

export async function call(
  snapshot: NodeSnapshot,
  path: string,
  method = "GET",
  over: Partial<ApiDeps> = {},
) {
  const res = await createApiHandler(deps(snapshot, over))(new Request(`http://x${path}`, { method }));
  const text = await res.text();
  return { status: res.status, text, headers: res.headers };
}

export async function getJson(snapshot: NodeSnapshot, path: string, over: Partial<ApiDeps> = {}) {
  const r = await call(snapshot, path, "GET", over);
  return { status: r.status, body: JSON.parse(r.text), headers: r.headers };
}
export const syncMode = (mode: unknown, listed: string[]) =>
  clusterView({ sync: { leader: "pg1", syncStandby: listed, quorum: 1, modRevision: "9" } }, {
    synchronous_mode: mode,
  });

export const standbyClusterLeader = () =>
  primarySnap({
    role: "standby_leader",
    pg: pgReplica(),
    cluster: clusterView({}, { standby_cluster: { host: "10.1.0.1", port: 5432 } }),
  });
