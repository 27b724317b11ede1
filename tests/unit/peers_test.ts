/**
 * HttpPeerClient against a real local `Deno.serve` (port 0) serving canned Patroni `GET /patroni` bodies:
 * primary, replica, a body without `xlog`, the newer `wal` key, garbage, a refused connection and a hung server;
 * and once against a real hactl listener (`serveApi`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { failoverTags, HttpPeerClient, parsePeerStatus } from "../../src/api/peer_client.ts";
import type { NodeSnapshot } from "../../src/core/types.ts";
import { HACTL_VERSION } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

const PRIMARY_BODY = {
  state: "running",
  postmaster_start_time: "2024-08-28 19:39:26.352526+00:00",
  role: "primary",
  server_version: 150008,
  xlog: { location: 83886080 },
  timeline: 3,
  dcs_last_seen: 1724873966,
  tags: { failover_priority: 2 },
  database_system_identifier: "7400000000000000001",
  patroni: { version: "4.1.4", scope: "demo", name: "pg1" },
};

const REPLICA_BODY = {
  state: "running",
  role: "replica",
  server_version: 150008,
  xlog: { received_location: 83885056, replayed_location: 83884032, replayed_timestamp: null, paused: false },
  timeline: 3,
  replication_state: "streaming",
  tags: { nofailover: true },
  watchdog_failed: true,
  patroni: { version: "4.1.4", scope: "demo", name: "pg2" },
};

const STOPPED_BODY = {
  state: "stopped",
  role: "replica",
  dcs_last_seen: 1724873966,
  patroni: { name: "pg3" },
};

const WAL_BODY = {
  state: "running",
  role: "replica",
  wal: { received_location: 100, replayed_location: 200, paused: false },
  timeline: 4,
  tags: { failover_priority: 0 },
};

/** A local Patroni look-alike; `/hang` never answers until the test releases it. */
async function withServer(fn: (base: string, auth: string[]) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  let release = () => {};
  const hung = new Promise<void>((resolve) => (release = resolve));
  const seenAuth: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      seenAuth.push(req.headers.get("authorization") ?? "");
      const json = (body: unknown, status = 200) =>
        new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
      switch (path) {
        case "/primary/patroni":
          return json(PRIMARY_BODY);
        case "/replica/patroni":
          return json(REPLICA_BODY);
        case "/replica503/patroni":
          return json(REPLICA_BODY, 503);
        case "/stopped/patroni":
          return json(STOPPED_BODY);
        case "/wal/patroni":
          return json(WAL_BODY);
        case "/garbage/patroni":
          return new Response("<html>not json</html>");
        case "/hang/patroni":
          await hung;
          return json(PRIMARY_BODY);
        default:
          return new Response("not found", { status: 404 });
      }
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    await fn(base, seenAuth);
  } finally {
    release();
    controller.abort();
    await server.finished;
  }
}

Deno.test("HttpPeerClient reads primary, replica, wal and stopped bodies in one parallel call", async () => {
  await withServer(async (base) => {
    const client = new HttpPeerClient();
    const statuses = await client.fetchStatuses([
      { name: "pg1", apiUrl: `${base}/primary/patroni` },
      { name: "pg2", apiUrl: `${base}/replica/patroni` },
      { name: "pg3", apiUrl: `${base}/stopped/patroni` },
      { name: "pg4", apiUrl: `${base}/wal/patroni` },
      { name: "pg5", apiUrl: `${base}/replica503/patroni` },
    ], 2000);
    assert.deepEqual(statuses, [
      {
        name: "pg1",
        reachable: true,
        role: "primary",
        walPosition: 83886080,
        timeline: 3,
        nofailover: false,
        failoverPriority: 2,
        watchdogFailed: false,
      },
      {
        name: "pg2",
        reachable: true,
        role: "replica",
        walPosition: 83885056,
        timeline: 3,
        nofailover: true,
        failoverPriority: 0,
        watchdogFailed: true,
        replicationState: "streaming",
      },
      { name: "pg3", reachable: false },
      {
        name: "pg4",
        reachable: true,
        role: "replica",
        walPosition: 200,
        timeline: 4,
        nofailover: true,
        failoverPriority: 0,
        watchdogFailed: false,
      },
      {
        name: "pg5",
        reachable: true,
        role: "replica",
        walPosition: 83885056,
        timeline: 3,
        nofailover: true,
        failoverPriority: 0,
        watchdogFailed: true,
        replicationState: "streaming",
      },
    ]);
  });
});

Deno.test("HttpPeerClient: a hung server is unreachable within the timeout, others still answer", async () => {
  await withServer(async (base) => {
    const client = new HttpPeerClient();
    const started = performance.now();
    const statuses = await client.fetchStatuses([
      { name: "pg1", apiUrl: `${base}/hang/patroni` },
      { name: "pg2", apiUrl: `${base}/replica/patroni` },
    ], 300);
    const elapsed = performance.now() - started;
    assert.deepEqual(statuses[0], { name: "pg1", reachable: false });
    assert.equal(statuses[1]!.reachable, true);
    assert.ok(elapsed >= 250 && elapsed < 1500, `took ${elapsed} ms`);
  });
});

Deno.test("HttpPeerClient: garbage, 404, refused connections and bad URLs are unreachable, never thrown", async () => {
  // a port that was just free: bind, remember, close
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await withServer(async (base) => {
    const statuses = await new HttpPeerClient().fetchStatuses([
      { name: "a", apiUrl: `${base}/garbage/patroni` },
      { name: "b", apiUrl: `${base}/missing/patroni` },
      { name: "c", apiUrl: `http://127.0.0.1:${closedPort}/patroni` },
      { name: "d", apiUrl: "not a url" },
      { name: "e", apiUrl: "" },
    ], 1000);
    assert.deepEqual(statuses.map((s) => s.reachable), [false, false, false, false, false]);
  });
  assert.deepEqual(await new HttpPeerClient().fetchStatuses([], 100), []);
});

Deno.test("HttpPeerClient sends Basic auth when configured", async () => {
  await withServer(async (base, seen) => {
    await new HttpPeerClient({ auth: { username: "patroni", password: "sécret" } })
      .fetchStatuses([{ name: "pg1", apiUrl: `${base}/primary/patroni` }], 1000);
    await new HttpPeerClient().fetchStatuses([{ name: "pg1", apiUrl: `${base}/primary/patroni` }], 1000);
    const expected = "Basic " + btoa(String.fromCharCode(...new TextEncoder().encode("patroni:sécret")));
    assert.deepEqual(seen, [expected, ""]);
  });
});

Deno.test("failoverTags(): explicit nofailover wins, else failover_priority <= 0 means nofailover", () => {
  assert.deepEqual(failoverTags(undefined), { nofailover: false, failoverPriority: 1 });
  assert.deepEqual(failoverTags({}), { nofailover: false, failoverPriority: 1 });
  assert.deepEqual(failoverTags({ nofailover: true }), { nofailover: true, failoverPriority: 0 });
  assert.deepEqual(failoverTags({ nofailover: true, failover_priority: 5 }), {
    nofailover: true,
    failoverPriority: 0,
  });
  assert.deepEqual(failoverTags({ nofailover: false, failover_priority: 0 }), {
    nofailover: false,
    failoverPriority: 0,
  });
  assert.deepEqual(failoverTags({ failover_priority: 0 }), { nofailover: true, failoverPriority: 0 });
  assert.deepEqual(failoverTags({ failover_priority: -3 }), { nofailover: true, failoverPriority: 0 });
  assert.deepEqual(failoverTags({ failover_priority: "7" }), { nofailover: false, failoverPriority: 7 });
  assert.deepEqual(failoverTags({ nofailover: null, failover_priority: 3 }), {
    nofailover: false,
    failoverPriority: 3,
  });
});

Deno.test("parsePeerStatus(): legacy master role, primary without location, odd bodies", () => {
  assert.equal(parsePeerStatus("x", { role: "master", xlog: { location: 5 } }).role, "primary");
  assert.equal(parsePeerStatus("x", { role: "master", xlog: { location: 5 } }).walPosition, 5);
  assert.equal(
    parsePeerStatus("x", { role: "replica", xlog: { received_location: null, replayed_location: 9 } })
      .walPosition,
    9,
  );
  assert.deepEqual(parsePeerStatus("x", { role: "primary", xlog: "0/5" }), { name: "x", reachable: false });
  assert.deepEqual(parsePeerStatus("x", [1, 2]), { name: "x", reachable: false });
  assert.deepEqual(parsePeerStatus("x", null), { name: "x", reachable: false });
});

Deno.test("HttpPeerClient reads a hactl node served by serveApi (real listener, remote address passed)", async () => {
  const { createApiHandler, serveApi } = await import("../../src/api/handler.ts");
  const { DYNAMIC_DEFAULTS } = await import("../../src/config/config.ts");
  const now = performance.now();
  const snapshot: NodeSnapshot = {
    name: "pg1",
    scope: "demo",
    state: "running",
    role: "primary",
    pg: {
      ...emptyPgObservation(),
      dataDir: "initialized",
      running: true,
      queryable: true,
      role: "primary",
      sysid: "1",
      timeline: 5,
      walPosition: 4096,
      serverVersion: 150008,
    },
    pgObservedAt: now,
    cluster: null,
    dcsLastSeen: 0,
    isLeader: true,
    leaderExpiresAt: now + 30_000,
    dynamic: { ...DYNAMIC_DEFAULTS },
    tags: { failover_priority: 3 },
    nextRunAt: now,
    watchdogFailed: false,
  };
  const remotes: (string | undefined)[] = [];
  const handler = createApiHandler({
    snapshot: () => snapshot,
    now: () => performance.now(),
    wallNow: () => Date.now(),
    loadCluster: () => Promise.reject(new Error("no DCS in this test")),
    scope: "demo",
    name: "pg1",
  });
  const controller = new AbortController();
  const server = await serveApi((req, info) => {
    remotes.push(info?.remoteAddr);
    return handler(req, info);
  }, { hostname: "127.0.0.1", port: 0, signal: controller.signal });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/patroni`;
    const [status] = await new HttpPeerClient().fetchStatuses([{ name: "pg1", apiUrl: url }], 2000);
    assert.deepEqual(status, {
      name: "pg1",
      reachable: true,
      role: "primary",
      walPosition: 4096,
      timeline: 5,
      nofailover: false,
      failoverPriority: 3,
      watchdogFailed: false,
    });
    const options = await fetch(`http://127.0.0.1:${server.addr.port}/primary`, { method: "OPTIONS" });
    assert.equal(options.status, 200);
    assert.equal(await options.text(), "");
    assert.equal(options.headers.get("server"), "hactl/" + HACTL_VERSION);
    assert.deepEqual(remotes, ["127.0.0.1", "127.0.0.1"]);
  } finally {
    controller.abort();
    await server.finished;
  }
});
