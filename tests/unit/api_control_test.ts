/**
 * POST /switchover, POST /failover and DELETE /switchover: Patroni's validation order, messages and codes, and
 * the outcome watched in etcd, driven through the handler with in-memory deps.
 */
import assert from "node:assert/strict";
import { createApiHandler } from "../../src/api/handler.ts";
import type { ControlDeps } from "../../src/api/control.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import type { ClusterView, Member, NodeSnapshot, PeerStatus } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

const NOW = Date.parse("2026-11-26T12:00:00Z");

function member(name: string): Member {
  return {
    name,
    data: {
      conn_url: `postgres://h/${name}`,
      api_url: `http://${name}/patroni`,
      state: "running",
      role: "replica",
      version: "0",
    },
    modRevision: "1",
    lease: "1",
  };
}

/** A tiny etcd: the view, and a scripted leader change once the failover key is written. */
function world(
  opts: { handover?: string | null; paused?: boolean; peers?: PeerStatus[]; peersOverTime?: PeerStatus[][] } =
    {},
) {
  let fetches = 0;
  let view: ClusterView = {
    initialize: "7393828465826342947",
    config: null,
    leader: { name: "pg1", createRevision: "1", modRevision: "1", lease: "1" },
    members: [member("pg1"), member("pg2"), member("pg3")],
    status: null,
    failover: null,
    sync: null,
    history: [],
    revision: "5",
    problems: [],
  };
  const writes: { value: Record<string, unknown>; modRevision?: string }[] = [];
  let wakes = 0;
  let polls = 0;
  const infos: string[] = [];
  const deps: ControlDeps = {
    readCluster: () => {
      if (view.failover && opts.handover !== undefined && ++polls >= 2) {
        view = {
          ...view,
          failover: null,
          leader: opts.handover
            ? { name: opts.handover, createRevision: "9", modRevision: "9", lease: "2" }
            : view.leader,
        };
      }
      return Promise.resolve(view);
    },
    setFailover: (value, modRevision) => {
      writes.push({ value, ...(modRevision ? { modRevision } : {}) });
      const empty = Object.keys(value).length === 0;
      const f = value as { leader?: string; member?: string; scheduled_at?: string };
      view = {
        ...view,
        failover: empty ? null : {
          ...(f.leader ? { leader: f.leader } : {}),
          ...(f.member ? { member: f.member } : {}),
          ...(f.scheduled_at ? { scheduledAt: f.scheduled_at } : {}),
          modRevision: "7",
        },
      };
      return Promise.resolve(true);
    },
    fetchStatuses: (members) =>
      Promise.resolve(
        opts.peersOverTime?.[Math.min(fetches++, opts.peersOverTime.length - 1)] ??
          opts.peers ??
          members.map((m) => ({
            name: m.name,
            reachable: true,
            role: "replica",
            walPosition: 1,
            timeline: 1,
            replicationState: "streaming",
          })),
      ),
    sleep: () => Promise.resolve(),
    wallNow: () => NOW,
    paused: () => opts.paused ?? false,
    loopWait: () => 10,
    warn: () => {},
    info: (m) => void infos.push(m),
    setConfig: (value, modRevision) => {
      if (modRevision !== undefined && modRevision !== (view.config?.modRevision ?? "0")) {
        return Promise.resolve(false);
      }
      view = { ...view, config: { value, modRevision: String(Number(view.config?.modRevision ?? 0) + 1) } };
      return Promise.resolve(true);
    },
    wake: () => void wakes++,
  };
  const snapshot: NodeSnapshot = {
    name: "pg1",
    scope: "demo",
    state: "running",
    role: "primary",
    pg: emptyPgObservation(),
    pgObservedAt: 0,
    cluster: null,
    dcsLastSeen: 0,
    isLeader: true,
    leaderExpiresAt: 1e12,
    dynamic: { ...DYNAMIC_DEFAULTS },
    tags: {},
    nextRunAt: 0,
    watchdogFailed: false,
  };
  const handler = createApiHandler({
    snapshot: () => snapshot,
    now: () => 0,
    wallNow: () => NOW,
    loadCluster: () => deps.readCluster(),
    scope: "demo",
    name: "pg1",
    control: deps,
    auth: { username: "admin", password: "s3cret" },
  });
  return {
    handler,
    writes,
    view: () => view,
    wakes: () => wakes,
    infos,
    setView: (v: Partial<ClusterView>) => void (view = { ...view, ...v }),
  };
}

const AUTH = { authorization: `Basic ${btoa("admin:s3cret")}` };

async function call(
  h: (r: Request) => Promise<Response>,
  method: string,
  path: string,
  body?: unknown,
  headers = AUTH,
) {
  const res = await h(
    new Request(`http://x${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    }),
  );
  return { status: res.status, text: await res.text() };
}

Deno.test("POST /switchover validates in Patroni's order with Patroni's messages", async () => {
  const { handler } = world();
  const cases: [string, unknown, number, string][] = [
    ["/failover", {}, 400, "Failover could be performed only to a specific candidate"],
    ["/switchover", { candidate: "pg2" }, 400, "Switchover could be performed only from a specific leader"],
    [
      "/failover",
      { candidate: "pg2", scheduled_at: "2026-11-26T13:00:00+00:00" },
      400,
      "Failover can't be scheduled",
    ],
    [
      "/switchover",
      { leader: "pg1", scheduled_at: "2026-11-26T13:00:00" },
      400,
      "Timezone information is mandatory for the scheduled switchover",
    ],
    [
      "/switchover",
      { leader: "pg1", scheduled_at: "next week" },
      422,
      "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601",
    ],
    [
      "/switchover",
      { leader: "pg1", scheduled_at: "2026-11-26T11:00:00+00:00" },
      422,
      "Cannot schedule switchover in the past",
    ],
    ["/switchover", { leader: "pg1", candidate: "pg1" }, 400, "Switchover target and source are the same"],
    ["/switchover", { leader: "pg2", candidate: "pg3" }, 412, "leader name does not match"],
    ["/switchover", { leader: "pg1", candidate: "pg9" }, 412, "candidate does not exists"],
  ];
  for (const [path, body, status, text] of cases) {
    assert.deepEqual(
      await call(handler, "POST", path, body),
      { status, text },
      `${path} ${JSON.stringify(body)}`,
    );
  }
});

Deno.test("POST /switchover writes the failover key and reports the new leader", async () => {
  const { handler, writes } = world({ handover: "pg2" });
  assert.deepEqual(await call(handler, "POST", "/switchover", { leader: "pg1", candidate: "pg2" }), {
    status: 200,
    text: 'Successfully switched over to "pg2"',
  });
  assert.deepEqual(writes[0], { value: { leader: "pg1", member: "pg2" } });
  const other = world({ handover: "pg3" });
  assert.deepEqual(await call(other.handler, "POST", "/switchover", { leader: "pg1", candidate: "pg2" }), {
    status: 200,
    text: 'Switched over to "pg3" instead of "pg2"',
  });
  const failed = world({ handover: null });
  assert.deepEqual(await call(failed.handler, "POST", "/failover", { candidate: "pg2" }), {
    status: 503,
    text: "Failover failed",
  });
});

Deno.test("POST /switchover refuses when no candidate answers, schedules for later, and DELETE removes it", async () => {
  const { handler, infos } = world({
    peers: [{ name: "pg2", reachable: false }, { name: "pg3", reachable: true, nofailover: true }],
  });
  assert.deepEqual(await call(handler, "POST", "/switchover", { leader: "pg1" }), {
    status: 412,
    text: "switchover is not possible: no good candidates have been found",
  });
  assert.deepEqual(infos.slice(-1), [
    "switchover refused: candidate 'pg2' did not answer over its REST API; candidate 'pg3' is tagged nofailover",
  ]);
  const w = world();
  assert.deepEqual(
    await call(w.handler, "POST", "/switchover", {
      leader: "pg1",
      scheduled_at: "2026-11-26T13:00:00+02:00",
    }),
    {
      status: 422,
      text: "Cannot schedule switchover in the past",
    },
  );
  assert.deepEqual(
    await call(w.handler, "POST", "/switchover", { leader: "pg1", scheduled_at: "2026-11-26T13:00:00Z" }),
    {
      status: 202,
      text: "Switchover scheduled",
    },
  );
  assert.equal(w.view().failover?.scheduledAt, "2026-11-26T13:00:00Z");
  assert.deepEqual(await call(w.handler, "DELETE", "/switchover"), {
    status: 200,
    text: "scheduled switchover deleted",
  });
  assert.deepEqual(await call(w.handler, "DELETE", "/switchover"), {
    status: 404,
    text: "no switchover is scheduled",
  });
});

Deno.test("control endpoints need the REST credentials and a JSON object body", async () => {
  const { handler, writes } = world();
  assert.deepEqual(await call(handler, "POST", "/switchover", { leader: "pg1" }, {} as typeof AUTH), {
    status: 401,
    text: "no auth header received",
  });
  const wrong = { authorization: `Basic ${btoa("admin:nope")}` };
  assert.equal((await call(handler, "POST", "/switchover", { leader: "pg1" }, wrong)).status, 401);
  assert.equal((await call(handler, "POST", "/switchover", "{not json")).status, 400);
  assert.equal((await call(handler, "POST", "/switchover", "[1,2]")).status, 400);
  assert.equal((await call(handler, "POST", "/switchover", "")).status, 411);
  assert.equal((await call(handler, "POST", "/switchover", "x".repeat(70_000))).status, 400);
  assert.equal(writes.length, 0, "nothing written for refused requests");
  const paused = world({ paused: true });
  assert.deepEqual(await call(paused.handler, "POST", "/switchover", { leader: "pg1" }), {
    status: 400,
    text: "Switchover is possible only to a specific candidate in a paused state",
  });
});

Deno.test("POST /reinitialize answers Patroni's messages", async () => {
  const { handler } = world();
  // The default world has no reinit hook: not available.
  assert.equal((await call(handler, "POST", "/reinitialize", {})).status, 501);
  const asks: boolean[] = [];
  const leader = createApiHandler({
    snapshot: () => ({} as NodeSnapshot),
    now: () => 0,
    wallNow: () => NOW,
    loadCluster: () => Promise.reject(new Error("unused")),
    scope: "demo",
    name: "pg2",
    control: {
      ...({} as ControlDeps),
      reinit: (force) => (asks.push(force), force ? null : "I am the leader, can not reinitialize"),
    },
  });
  assert.deepEqual(await call(leader, "POST", "/reinitialize", {}), {
    status: 503,
    text: "I am the leader, can not reinitialize",
  });
  assert.deepEqual(await call(leader, "POST", "/reinitialize", { force: true }), {
    status: 200,
    text: "reinitialize started",
  });
  assert.deepEqual(await call(leader, "POST", "/reinitialize"), {
    status: 503,
    text: "I am the leader, can not reinitialize",
  }, "no body at all is fine");
  assert.deepEqual(asks, [false, true, false]);
});

Deno.test("POST /reinitialize passes from_leader on, as Patroni's", async () => {
  const asks: [boolean, boolean][] = [];
  const handler = createApiHandler({
    snapshot: () => ({} as NodeSnapshot),
    now: () => 0,
    wallNow: () => NOW,
    loadCluster: () => Promise.reject(new Error("unused")),
    scope: "demo",
    name: "pg2",
    control: {
      ...({} as ControlDeps),
      reinit: (force, fromLeader) => (asks.push([force, fromLeader]), null),
    },
  });
  assert.equal((await call(handler, "POST", "/reinitialize", { from_leader: true })).status, 200);
  assert.equal((await call(handler, "POST", "/reinitialize", { force: true })).status, 200);
  assert.deepEqual(asks, [[false, true], [true, false]]);
});

Deno.test("GET /config returns the stored document; PATCH merges with null deleting and CAS; PUT replaces", async () => {
  const w = world();
  const json = async (method: string, body?: unknown) => {
    const res = await w.handler(
      new Request("http://x/config", {
        method,
        headers: AUTH,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    return { status: res.status, body: await res.text() };
  };
  assert.equal((await json("GET")).status, 502, "no config key yet");
  w.setView({
    config: { value: { ttl: 30, postgresql: { parameters: { work_mem: "4MB", a: 1 } } }, modRevision: "3" },
  });
  assert.deepEqual(JSON.parse((await json("GET")).body), {
    ttl: 30,
    postgresql: { parameters: { work_mem: "4MB", a: 1 } },
  });
  const patched = await json("PATCH", {
    pause: true,
    postgresql: { parameters: { a: null, work_mem: "8MB" } },
  });
  assert.equal(patched.status, 200);
  assert.deepEqual(JSON.parse(patched.body), {
    ttl: 30,
    postgresql: { parameters: { work_mem: "8MB" } },
    pause: true,
  });
  assert.equal(w.view().config!.value.pause, true);
  assert.equal(w.wakes(), 1, "the HA loop is woken");
  assert.equal((await json("PATCH", {})).status, 400, "an empty patch is refused");
  const put = await json("PUT", { ttl: 20 });
  assert.equal(put.status, 200);
  assert.deepEqual(w.view().config!.value, { ttl: 20 });
  assert.equal((await call(w.handler, "PATCH", "/config", { pause: null }, {} as typeof AUTH)).status, 401);
});

Deno.test("PATCH and PUT /config refuse a key hactl does not support yet, naming every one; turning it off is allowed", async () => {
  const w = world();
  const send = async (method: string, body: unknown) => {
    const res = await w.handler(
      new Request("http://x/config", { method, headers: AUTH, body: JSON.stringify(body) }),
    );
    return { status: res.status, body: await res.text() };
  };
  // A dynamic key hactl refuses (set in the local file instead); standby_cluster.create_replica_methods, the
  // example before, is implemented.
  const REFUSED = "config: postgresql.pg_ctl_timeout: not supported by hactl yet " +
    "(set postgresql.pg_ctl_timeout in the local file instead)";
  const refused = { pg_ctl_timeout: 30 };
  w.setView({ config: { value: { ttl: 30, postgresql: refused }, modRevision: "3" } });
  const patched = await send("PATCH", {
    failsafe_mode: true,
    slots: { s: { type: "logical", database: "app", plugin: "pgoutput" } },
    standby_cluster: { host: "10.0.0.9", create_replica_methods: ["wal_e"] },
  });
  assert.equal(patched.status, 400);
  // failsafe_mode, logical permanent slots and the standby cluster's methods are implemented: only the keys that
  // are not are named.
  assert.equal(patched.body, REFUSED);
  assert.deepEqual(
    w.view().config!.value,
    { ttl: 30, postgresql: refused },
    "nothing written",
  );
  const off = await send("PATCH", { postgresql: { pg_ctl_timeout: null }, ttl: 40 });
  assert.equal(off.status, 200, off.body);
  assert.deepEqual(w.view().config!.value, { ttl: 40, postgresql: {} });
  const put = await send("PUT", { ttl: 30, postgresql: { pg_ctl_timeout: 5 } });
  assert.equal(put.status, 400);
  assert.equal(put.body, REFUSED);
  assert.deepEqual(w.view().config!.value, { ttl: 40, postgresql: {} }, "nothing written");
  const standby = { host: "10.1.0.1", port: 5432, create_replica_methods: ["wal_e"] };
  const accepted = await send("PUT", { ttl: 30, standby_cluster: standby });
  assert.equal(accepted.status, 200, accepted.body);
  assert.deepEqual(w.view().config!.value, { ttl: 30, standby_cluster: standby });
});

Deno.test("PATCH /config answers 409 when the key changed between the read and the CAS write", async () => {
  const view: ClusterView = {
    initialize: null,
    config: { value: { ttl: 30 }, modRevision: "3" },
    leader: null,
    members: [],
    status: null,
    failover: null,
    sync: null,
    history: [],
    revision: "5",
    problems: [],
  };
  const handler = createApiHandler({
    snapshot: () => ({} as NodeSnapshot),
    now: () => 0,
    wallNow: () => NOW,
    loadCluster: () => Promise.resolve(view),
    scope: "demo",
    name: "pg1",
    control: {
      ...({} as ControlDeps),
      readCluster: () => Promise.resolve(view),
      setConfig: () => Promise.resolve(false), // someone else wrote revision 4 meanwhile
      wake: () => {},
    },
  });
  const res = await call(handler, "PATCH", "/config", { pause: true });
  assert.equal(res.status, 409);
});

Deno.test("POST /switchover refuses a candidate that runs but does not stream, or lags, saying why", async () => {
  const replica = { reachable: true, role: "replica", walPosition: 1, timeline: 1 };
  const idle = world({ peers: [{ name: "pg2", ...replica, replicationState: "in archive recovery" }] });
  assert.deepEqual(await call(idle.handler, "POST", "/switchover", { leader: "pg1", candidate: "pg2" }), {
    status: 412,
    text: "switchover is not possible: no good candidates have been found",
  });
  assert.deepEqual(idle.infos, [
    "switchover refused: candidate 'pg2' is not streaming (in archive recovery)",
  ]);
  assert.equal(idle.writes.length, 0, "the failover key is not written");
  const behind = world({ peers: [{ name: "pg2", ...replica, replicationState: "streaming" }] });
  behind.setView({
    members: [
      {
        ...member("pg1"),
        data: { ...member("pg1").data, role: "primary", xlog_location: 50_000_000, timeline: 1 },
      },
      member("pg2"),
      member("pg3"),
    ],
  });
  assert.deepEqual(await call(behind.handler, "POST", "/switchover", { leader: "pg1", candidate: "pg2" }), {
    status: 412,
    text: "switchover is not possible: no good candidates have been found",
  });
  assert.deepEqual(behind.infos, [
    "switchover refused: candidate 'pg2' lags 49999999 bytes behind the leader (maximum_lag_on_failover 1048576)",
  ]);
});

Deno.test("POST /switchover in synchronous mode: only to a sync standby (412 with Patroni's reason otherwise)", async () => {
  const w = world();
  w.setView({
    config: { value: { synchronous_mode: true }, modRevision: "3" },
    sync: { leader: "pg1", syncStandby: ["pg2"], quorum: 0, modRevision: "4" },
  });
  assert.deepEqual(await call(w.handler, "POST", "/switchover", { leader: "pg1", candidate: "pg3" }), {
    status: 412,
    text: "candidate name does not match with sync_standby",
  });
  w.setView({ sync: { leader: "pg1", syncStandby: [], quorum: 0, modRevision: "5" } });
  assert.deepEqual(await call(w.handler, "POST", "/switchover", { leader: "pg1" }), {
    status: 412,
    text: "switchover is not possible: can not find sync_standby",
  });
  w.setView({ sync: { leader: "pg1", syncStandby: ["pg2"], quorum: 0, modRevision: "6" } });
  assert.equal(
    (await call(w.handler, "POST", "/switchover", { leader: "pg1", candidate: "pg2" })).status,
    503,
  );
  assert.deepEqual(w.writes.at(-1)?.value, { leader: "pg1", member: "pg2" });
});

Deno.test("POST /switchover waits a few seconds for a named candidate that is about to stream again", async () => {
  // Right after the leader restarted, its replica reads the archive until its WAL receiver reconnects (Patroni
  // goes ahead at once; hactl needs a streaming candidate, so it waits for that, bounded).
  const replica = { name: "pg2", reachable: true, role: "replica", walPosition: 1, timeline: 1 };
  const archive = { ...replica, replicationState: "in archive recovery" };
  const w = world({
    handover: "pg2",
    peersOverTime: [[archive], [archive], [{ ...replica, replicationState: "streaming" }]],
  });
  assert.deepEqual(await call(w.handler, "POST", "/switchover", { leader: "pg1", candidate: "pg2" }), {
    status: 200,
    text: 'Successfully switched over to "pg2"',
  });
});
