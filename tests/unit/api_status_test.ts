/**
 * The REST handler's `GET /patroni` document, tested in-process: exactly Patroni's keys for a primary, a replica and
 * a stopped node, and the flags it carries (cluster_unlocked, pending_restart, watchdog_failed, standby leader).
 *
 * @module
 */
import assert from "node:assert/strict";
import { buildStatus } from "../../src/api/handler.ts";
import { HACTL_VERSION, PATRONI_COMPATIBLE_VERSION } from "../../src/core/types.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import {
  clusterView,
  getJson,
  NOW,
  OPTIME,
  pgPrimary,
  primarySnap,
  replicaSnap,
  standbyClusterLeader,
  stoppedSnap,
} from "../helpers/api_snapshots.ts";

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
  assert.deepEqual(body.patroni, {
    version: PATRONI_COMPATIBLE_VERSION,
    scope: "demo",
    name: "pg1",
    hactl_version: HACTL_VERSION,
  });
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
    patroni: {
      version: PATRONI_COMPATIBLE_VERSION,
      scope: "demo",
      name: "pg3",
      hactl_version: HACTL_VERSION,
    },
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

Deno.test("GET /patroni: failsafe_mode_is_active while failsafe mode is active, absent otherwise (as Patroni)", () => {
  const base = primarySnap({ cluster: clusterView({ leader: null }) });
  assert.equal("failsafe_mode_is_active" in buildStatus(base, NOW), false);
  const active = { ...base, failsafe: { ...base.failsafe!, enabled: true, active: true } };
  assert.equal(buildStatus(active, NOW).failsafe_mode_is_active, true);
});
