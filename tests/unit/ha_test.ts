/**
 * decide() as a specification: each test builds one observation and asserts the planned actions and the cycle's
 * sentence.
 */
import assert from "node:assert/strict";
import {
  decide,
  type HaContext,
  healthiestVerdict,
  isNoFailover,
  memberRole,
  postgresStateName,
} from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import {
  type Action,
  type ClusterView,
  emptyPgObservation,
  INITIAL_MEMORY,
  type JobState,
  type Member,
  type Observation,
  type PeerStatus,
  type PgObservation,
} from "../../src/core/types.ts";

const SYSID = "7393828465826342947";

function pgState(over: Partial<PgObservation> = {}): PgObservation {
  return {
    dataDir: "initialized",
    running: true,
    queryable: true,
    role: "replica",
    standbySignal: true,
    sysid: SYSID,
    timeline: 1,
    walPosition: 5000,
    receiveLsn: 5000,
    replayLsn: 5000,
    replayedTimestamp: null,
    replayPaused: false,
    replicationState: "streaming",
    upstream: "127.0.0.1:5432",
    slots: [],
    replication: [],
    serverVersion: 150004,
    postmasterStartTime: null,
    pendingRestart: false,
    pendingRestartReason: {},
    timelineHistory: [],
    ...over,
  };
}

const PRIMARY = pgState({ role: "primary", standbySignal: false, replicationState: null, upstream: null });
const EMPTY = emptyPgObservation();

function member(name: string, extra: Partial<Member["data"]> = {}): Member {
  const port = 5432 + Number(name.replace(/\D/g, "")) - 1;
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:${port}/postgres`,
      api_url: `http://127.0.0.1:${8008 + port - 5432}/patroni`,
      state: "running",
      role: "replica",
      version: "0.1.0",
      ...extra,
    },
    modRevision: "5",
    lease: "77",
  };
}

function view(over: Partial<ClusterView> = {}): ClusterView {
  return {
    initialize: SYSID,
    config: { value: { ttl: 30 }, modRevision: "2" },
    leader: { name: "pg1", createRevision: "10", modRevision: "10", lease: "77" },
    members: [member("pg1", { role: "primary" }), member("pg2"), member("pg3")],
    status: { optime: 5000, slots: {}, retainSlots: [] },
    failover: null,
    sync: null,
    history: [],
    revision: "20",
    problems: [],
    ...over,
  };
}

function obs(pg: PgObservation, cluster: ClusterView | null, over: Partial<Observation> = {}): Observation {
  return {
    now: 1_000_000,
    wallNow: Date.UTC(2026, 10, 26, 12, 0, 0),
    dcs: cluster ? { kind: "ok", cluster } : { kind: "unreachable", since: 990_000, error: "timeout" },
    pg,
    job: null,
    peers: null,
    ...over,
  };
}

function ctx(name: string, over: Partial<HaContext> = {}): HaContext {
  return { name, tags: {}, dynamic: DYNAMIC_DEFAULTS, bootstrapDcs: { ttl: 30, loop_wait: 10 }, ...over };
}

const types = (actions: Action[]) => actions.map((a) => a.type);

function peer(name: string, walPosition: number, over: Partial<PeerStatus> = {}): PeerStatus {
  return { name, reachable: true, role: "replica", walPosition, timeline: 1, ...over };
}

Deno.test("decide() keeps the lock, publishes the optime and keeps member slots when it is the leader", () => {
  const d = decide(obs(PRIMARY, view()), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "sync_slots"]);
  assert.deepEqual(d.actions[2], { type: "sync_slots", slots: ["pg2", "pg3"] });
  assert.equal(d.reason, "no action. I am (pg1), the leader with the lock");
  assert.equal(d.memory.isLeader, true);
});

Deno.test("decide() makes a replica follow the leader", () => {
  const d = decide(obs(pgState(), view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{
    type: "follow",
    upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" },
  }]);
  assert.equal(d.reason, "no action. I am (pg2), a secondary, and following a leader (pg1)");
});

Deno.test("decide() follows the replicatefrom member when it exists", () => {
  const d = decide(obs(pgState(), view()), INITIAL_MEMORY, ctx("pg3", { tags: { replicatefrom: "pg2" } }));
  assert.deepEqual(d.actions, [{
    type: "follow",
    upstream: { name: "pg2", connUrl: "postgres://127.0.0.1:5433/postgres" },
  }]);
});

Deno.test("decide() demotes a primary that does not hold the lock", () => {
  const d = decide(obs(PRIMARY, view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.match(d.reason, /^demoting self because I do not have the lock/);
});

Deno.test("decide() races for initialize and bootstraps when the cluster was never initialised", () => {
  const d = decide(
    obs(EMPTY, view({ initialize: null, leader: null, config: null, members: [] })),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(d.actions, [{ type: "acquire_initialize" }, {
    type: "start_job",
    job: { kind: "bootstrap" },
  }]);
  assert.equal(d.reason, "trying to bootstrap a new cluster");
});

Deno.test("decide() never bootstraps a member tagged nofailover", () => {
  const d = decide(
    obs(EMPTY, view({ initialize: null, leader: null, members: [] })),
    INITIAL_MEMORY,
    ctx("pg1", { tags: { nofailover: true } }),
  );
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, "waiting for leader to bootstrap");
});

Deno.test("decide() waits while another member bootstraps (initialize is empty)", () => {
  const d = decide(obs(EMPTY, view({ initialize: "", leader: null })), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.equal(d.reason, "waiting for leader to bootstrap");
});

Deno.test("decide() clones from the leader when its data directory is empty", () => {
  const d = decide(obs(EMPTY, view()), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(d.actions, [{
    type: "start_job",
    job: { kind: "clone", upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" } },
  }]);
  assert.equal(d.reason, "trying to bootstrap from leader 'pg1'");
});

Deno.test("decide() publishes the new cluster and takes the lock after a successful bootstrap", () => {
  const job: JobState = { kind: "bootstrap", description: "bootstrap", startedAt: 0, status: "ok" };
  const d = decide(
    obs(PRIMARY, view({ initialize: "", leader: null, config: null, members: [] }), { job }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(d.actions), ["write_initialize", "write_config", "acquire_leader", "write_status"]);
  assert.deepEqual(d.actions[0], { type: "write_initialize", sysid: SYSID });
  assert.deepEqual(d.actions[1], { type: "write_config", value: { ttl: 30, loop_wait: 10 } });
});

Deno.test("decide() removes the initialize key when the bootstrap failed", () => {
  const job: JobState = {
    kind: "bootstrap",
    description: "bootstrap",
    startedAt: 0,
    status: "failed",
    error: "x",
  };
  const d = decide(obs(EMPTY, view({ initialize: "", leader: null }), { job }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "cancel_initialize" }]);
});

Deno.test("decide() keeps renewing the lock while a job runs", () => {
  const job: JobState = {
    kind: "start",
    description: "starting primary after failure",
    startedAt: 0,
    status: "running",
  };
  const d = decide(
    obs(pgState({ running: false, queryable: false }), view(), { job }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(d.actions), ["renew_leader"]);
  assert.equal(d.reason, "starting primary after failure in progress");
});

Deno.test("decide() restarts a crashed primary in place while it holds the lock", () => {
  const crashed = { ...PRIMARY, running: false, queryable: false };
  const d = decide(obs(crashed, view()), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [
    { type: "renew_leader" },
    { type: "start_job", job: { kind: "start", role: "primary", upstream: null } },
  ]);
});

Deno.test("decide() starts a stopped replica following the leader", () => {
  const d = decide(obs(pgState({ running: false, queryable: false }), view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{
    type: "start_job",
    job: {
      kind: "start",
      role: "replica",
      upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" },
    },
  }]);
});

Deno.test("decide() refuses to join a cluster with another system identifier", () => {
  const d = decide(obs(pgState({ sysid: "1111111111111" }), view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.match(d.reason, /belongs to another cluster/);
  // Fatal, as in Patroni: the agent exits 1 with its message.
  assert.equal(
    d.fatal,
    `system ID mismatch, node pg2 belongs to a different cluster: ${SYSID} != 1111111111111`,
  );
  assert.equal(decide(obs(pgState(), view()), INITIAL_MEMORY, ctx("pg2")).fatal, undefined);
});

Deno.test("decide() demotes a primary when etcd cannot be reached: fast with streaming replicas, else immediate", () => {
  // Fast, as Patroni's 'offline' demotion: the shutdown checkpoint reaches every streaming replica, so a replica
  // promoted later holds every acknowledged write. An immediate stop lost the last one (chaos suite, cut-etcd);
  // a fast stop that hangs on an unreachable replica accepts no writes meanwhile, and the fence deadline ends it.
  const streaming = {
    usename: "replicator",
    application_name: "pg2",
    client_addr: "10.0.0.2",
    state: "streaming",
    sync_state: "async",
    sync_priority: 0,
  };
  const withReplica = decide(obs({ ...PRIMARY, replication: [streaming] }, null), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(withReplica.actions, [{ type: "demote", mode: "fast" }]);
  // No replica to send a shutdown checkpoint to: it would only diverge this server's history.
  const d = decide(obs({ ...PRIMARY, replication: [] }, null), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.equal(d.reason, "demoting self because DCS is not accessible and I was a leader");
});

Deno.test("decide() leaves a replica alone when etcd cannot be reached", () => {
  const d = decide(obs(pgState(), null), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.match(d.reason, /^DCS is not accessible/);
});

Deno.test("decide() promotes the healthiest replica after the leader key expired", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), {
    peers: [peer("pg1", 0, { reachable: false }), peer("pg3", 5500)],
  });
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "acquire_leader" }, { type: "promote" }]);
  assert.equal(d.reason, "promoted self to leader by acquiring session lock");
});

Deno.test("decide() does not race when a peer is further ahead", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), { peers: [peer("pg3", 7000)] });
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.match(d.reason, /not the healthiest node: member pg3 is ahead/);
});

Deno.test("decide() never promotes while another member still answers as primary", () => {
  const o = obs(pgState(), view({ leader: null }), { peers: [peer("pg1", 100, { role: "primary" })] });
  assert.match(decide(o, INITIAL_MEMORY, ctx("pg2")).reason, /pg1 is still running as primary/);
});

Deno.test("healthiestVerdict() refuses a replica lagging more than maximum_lag_on_failover behind /status", () => {
  const o = obs(
    pgState({ walPosition: 1000 }),
    view({ leader: null, status: { optime: 5_000_000, slots: {}, retainSlots: [] } }),
  );
  assert.match(
    healthiestVerdict(o, ctx("pg2"), view({ status: { optime: 5_000_000, slots: {}, retainSlots: [] } }))!,
    /lags/,
  );
});

Deno.test("healthiestVerdict() lets an equal peer with a higher failover_priority win", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), {
    peers: [peer("pg3", 6000, { failoverPriority: 5 })],
  });
  assert.match(healthiestVerdict(o, ctx("pg2"), view({ leader: null }))!, /higher failover_priority/);
  // Ignored peers: unreachable, nofailover, watchdog failed.
  const ignored = obs(pgState({ walPosition: 6000 }), view({ leader: null }), {
    peers: [
      peer("pg1", 9000, { reachable: false }),
      peer("pg3", 9000, { nofailover: true }),
      peer("pg4", 9000, { watchdogFailed: true }),
    ],
  });
  assert.equal(healthiestVerdict(ignored, ctx("pg2"), view({ leader: null })), null);
});

Deno.test("isNoFailover() follows Patroni's tag rules", () => {
  assert.equal(isNoFailover({}), false);
  assert.equal(isNoFailover({ nofailover: true }), true);
  assert.equal(isNoFailover({ failover_priority: 0 }), true);
  assert.equal(isNoFailover({ nofailover: false, failover_priority: 0 }), false);
});

Deno.test("memberRole() and postgresStateName() describe the member for its key", () => {
  const o = obs(EMPTY, view());
  assert.equal(memberRole(o, false), "uninitialized");
  assert.equal(postgresStateName(o), "stopped");
  const cloning = obs(EMPTY, view(), {
    job: { kind: "clone", description: "x", startedAt: 0, status: "running" },
  });
  assert.equal(postgresStateName(cloning), "creating replica");
  assert.equal(memberRole(obs(PRIMARY, view()), true), "primary");
  assert.equal(postgresStateName(obs(pgState(), view())), "running");
});

Deno.test("healthiestVerdict() lets a peer on a newer timeline veto a replica that looks further ahead", () => {
  // Regression (sim finding): positions on different timelines are not comparable.
  const o = obs(pgState({ walPosition: 50331690, timeline: 1 }), view({ leader: null }), {
    peers: [peer("pg2", 50331689, { timeline: 2 })],
  });
  assert.match(healthiestVerdict(o, ctx("pg3"), view({ leader: null }))!, /newer timeline \(2 > 1\)/);
});

Deno.test("decide(): in a switchover without a candidate, the former leader's stale 'primary' does not veto", () => {
  // Found with patronictl 3.0.2 (`switchover --force`): the former leader stopped Postgres and released the key,
  // but its REST snapshot still said primary for a moment; every replica stood back and it won the race back.
  const switching = view({ leader: null, failover: { leader: "pg1", modRevision: "40" } });
  const peers = [peer("pg1", 6000, { role: "primary" }), peer("pg3", 6000)];
  const d = decide(obs(pgState({ walPosition: 6000 }), switching, { peers }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(d.actions), ["acquire_leader", "promote", "clear_failover"]);
  assert.equal(d.reason, "promoted self to leader by acquiring session lock");
  // Without the failover key the same reachable primary vetoes (Patroni: "Primary is still alive").
  assert.match(
    healthiestVerdict(
      obs(pgState({ walPosition: 6000 }), view({ leader: null }), { peers }),
      ctx("pg2"),
      view(),
    )!,
    /member pg1 is still running as primary/,
  );
  // A peer ahead still vetoes during the switchover.
  const ahead = [peer("pg1", 6000), peer("pg3", 7000)];
  assert.match(
    healthiestVerdict(
      obs(pgState({ walPosition: 6000 }), switching, { peers: ahead }),
      ctx("pg2"),
      switching,
    )!,
    /member pg3 is ahead/,
  );
});

Deno.test("healthiestVerdict(): the former leader of a switchover stands back while another member can take over", () => {
  const switching = view({
    leader: null,
    failover: { leader: "pg1", modRevision: "40" },
    status: { optime: 6000, slots: {}, retainSlots: [] },
  });
  const me = pgState({ walPosition: 6000 });
  const withPeers = (peers: PeerStatus[]) =>
    healthiestVerdict(obs(me, switching, { peers }), ctx("pg1"), switching);
  assert.match(
    withPeers([peer("pg2", 5000), peer("pg3", 6000)])!,
    /former leader of a manual switchover and pg2 can take over/,
  );
  // Nobody else can: unreachable, nofailover, watchdog failed, too far behind /status, or an older timeline.
  const unfit = [
    peer("pg2", 6000, { reachable: false }),
    peer("pg3", 6000, { nofailover: true }),
    peer("pg4", 6000, { watchdogFailed: true }),
    peer("pg5", 6000 - DYNAMIC_DEFAULTS.maximumLagOnFailover - 1),
  ];
  assert.equal(withPeers(unfit), null);
  assert.equal(
    healthiestVerdict(
      obs(pgState({ walPosition: 6000, timeline: 2 }), { ...switching, history: [[1, 100, "r"]] }, {
        peers: [peer("pg2", 6000, { timeline: 1 })],
      }),
      ctx("pg1", { dynamic: { ...DYNAMIC_DEFAULTS, checkTimeline: true } }),
      { ...switching, history: [[1, 100, "r"]] },
    ),
    null,
  );
  // The lag check is Patroni's "without the lag check" for a manual switchover: a lagging member may still race.
  const lagging = healthiestVerdict(
    obs(pgState({ walPosition: 10 }), switching, { peers: [peer("pg1", 6000), peer("pg3", 10)] }),
    ctx("pg2"),
    switching,
  );
  assert.equal(lagging, null);
});

Deno.test("healthiestVerdict() does not let a peer on an older timeline veto me, whatever its position", () => {
  const o = obs(pgState({ walPosition: 50331689, timeline: 2 }), view({ leader: null }), {
    peers: [peer("pg3", 50331690, { timeline: 1 })],
  });
  assert.equal(healthiestVerdict(o, ctx("pg2"), view({ leader: null })), null);
});

Deno.test("decide() publishes the timeline history when the leader's timeline is newer than the cluster's", () => {
  const pg = {
    ...PRIMARY,
    timeline: 3,
    timelineHistory: [
      { timeline: 1, switchLsn: 25165984, reason: "no recovery target specified" },
      { timeline: 2, switchLsn: 50331808, reason: "no recovery target specified" },
    ],
  };
  const known: ClusterView["history"] = [[
    1,
    25165984,
    "no recovery target specified",
    "2026-11-01T10:00:00+00:00",
    "pg2",
  ]];
  const d = decide(obs(pg, view({ history: known })), INITIAL_MEMORY, ctx("pg1"));
  const write = d.actions.find((a) => a.type === "write_history");
  assert.deepEqual(write, {
    type: "write_history",
    history: [
      [1, 25165984, "no recovery target specified", "2026-11-01T10:00:00+00:00", "pg2"],
      [2, 50331808, "no recovery target specified", "2026-11-26T12:00:00.000+00:00", "pg1"],
    ],
  });
  // Once published, the cluster timeline matches and nothing is written again.
  const again = decide(
    obs(pg, view({ history: write!.type === "write_history" ? write!.history : [] })),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.ok(!again.actions.some((a) => a.type === "write_history"));
});

Deno.test("decide() records a promotion that skipped a timeline number another member had used", () => {
  // pg1 was on timeline 1 and promoted past the cluster's timeline 2 (seeded history files): timeline 3 branches
  // from 1. The published entry still carries 2 -> 3 so that the cluster's timeline reads 3.
  const pg = {
    ...PRIMARY,
    timeline: 3,
    timelineHistory: [{ timeline: 1, switchLsn: 9000, reason: "no recovery target specified" }],
  };
  const known: ClusterView["history"] = [[
    1,
    8000,
    "no recovery target specified",
    "2026-11-01T10:00:00+00:00",
    "pg9",
  ]];
  const d = decide(obs(pg, view({ history: known })), INITIAL_MEMORY, ctx("pg1"));
  const write = d.actions.find((a) => a.type === "write_history");
  assert.deepEqual(write, {
    type: "write_history",
    history: [
      [1, 8000, "no recovery target specified", "2026-11-01T10:00:00+00:00", "pg9"],
      [2, 9000, "no recovery target specified", "2026-11-26T12:00:00.000+00:00", "pg1"],
    ],
  });
});

Deno.test("decide() demotes a Postgres that does not answer, has no standby.signal and another member leads", () => {
  const silent = pgState({ queryable: false, role: null, standbySignal: false, replicationState: null });
  const d = decide(obs(silent, view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  assert.match(d.reason, /does not answer, may be a primary, and 'pg1' has the lock/);
  // A silent replica (standby.signal present) is left to come up.
  const replica = pgState({ queryable: false, role: null, replicationState: null });
  assert.deepEqual(decide(obs(replica, view()), INITIAL_MEMORY, ctx("pg2")).actions, []);
});

Deno.test("decide() demotes a possibly-writable silent Postgres when etcd cannot be reached", () => {
  const silent = pgState({ queryable: false, role: null, standbySignal: false, replicationState: null });
  assert.deepEqual(decide(obs(silent, null), INITIAL_MEMORY, ctx("pg1")).actions, [{
    type: "demote",
    mode: "immediate",
  }]);
});

const paused = (name: string, over: Partial<HaContext> = {}) =>
  ctx(name, { dynamic: { ...DYNAMIC_DEFAULTS, pause: true }, ...over });

Deno.test("decide() in pause: the leader keeps its key and says PAUSE", () => {
  const d = decide(obs(PRIMARY, view()), INITIAL_MEMORY, paused("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status"]);
  assert.equal(d.reason, "PAUSE: no action. I am (pg1), the leader with the lock");
});

Deno.test("decide() in pause: no leader race, no demotion, no start, no bootstrap", () => {
  // A replica does not race for a vanished leader key.
  const race = decide(obs(pgState(), view({ leader: null }), { peers: [] }), INITIAL_MEMORY, paused("pg2"));
  assert.ok(!race.actions.some((a) => a.type === "acquire_leader" || a.type === "promote"), race.reason);
  // A primary without the lock keeps running.
  const other = decide(obs(PRIMARY, view()), INITIAL_MEMORY, paused("pg2"));
  assert.deepEqual(other.actions, []);
  assert.equal(other.reason, "PAUSE: continue to run as primary without lock");
  // A stopped Postgres is left stopped, an empty data directory is left empty, etcd trouble demotes nothing.
  assert.deepEqual(
    decide(obs(pgState({ running: false, queryable: false }), view()), INITIAL_MEMORY, paused("pg2")).actions,
    [],
  );
  assert.deepEqual(
    decide(obs(EMPTY, view({ initialize: null, leader: null })), INITIAL_MEMORY, paused("pg1")).actions,
    [],
  );
  assert.deepEqual(decide(obs(PRIMARY, null), INITIAL_MEMORY, paused("pg1")).actions, []);
});

Deno.test("decide() in pause: a running primary takes a free lock; a leader whose Postgres is down gives it up", () => {
  const take = decide(obs(PRIMARY, view({ leader: null })), INITIAL_MEMORY, paused("pg1"));
  assert.deepEqual(take.actions, [{ type: "acquire_leader" }]);
  const down = decide(
    obs({ ...PRIMARY, running: false, queryable: false }, view()),
    INITIAL_MEMORY,
    paused("pg1"),
  );
  assert.deepEqual(down.actions, [{ type: "release_leader" }]);
});

Deno.test("decide() releases the lock when the leader's Postgres stays down past primary_start_timeout", () => {
  const crashed = { ...PRIMARY, running: false, queryable: false };
  const dynamic = { ...DYNAMIC_DEFAULTS, primaryStartTimeout: 60 };
  const first = decide(obs(crashed, view(), { now: 1_000_000 }), INITIAL_MEMORY, ctx("pg1", { dynamic }));
  assert.deepEqual(types(first.actions), ["renew_leader", "start_job"]);
  assert.equal(first.memory.primaryDownSince, 1_000_000);
  const later = decide(obs(crashed, view(), { now: 1_030_000 }), first.memory, ctx("pg1", { dynamic }));
  assert.deepEqual(types(later.actions), ["renew_leader", "start_job"], "still within the timeout");
  const expired = decide(obs(crashed, view(), { now: 1_061_000 }), later.memory, ctx("pg1", { dynamic }));
  assert.deepEqual(types(expired.actions), ["demote", "release_leader"]);
  assert.match(expired.reason, /not been up for 61 s \(primary_start_timeout 60 s\)/);
  // Back up and answering: the clock resets.
  const up = decide(obs(PRIMARY, view(), { now: 1_062_000 }), later.memory, ctx("pg1", { dynamic }));
  assert.equal(up.memory.primaryDownSince, null);
});

Deno.test("decide() hands over on a switchover: stop cleanly, then release the lock", () => {
  const v = view({ failover: { leader: "pg1", member: "pg2", modRevision: "30" } });
  const d = decide(obs(PRIMARY, v), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "demote", "release_leader"]);
  assert.deepEqual(d.actions[2], { type: "demote", mode: "fast" });
});

Deno.test("decide() lets the switchover candidate take the lock without the health race, and clears the request", () => {
  const v = view({ leader: null, failover: { leader: "pg1", member: "pg2", modRevision: "30" } });
  // pg3 is ahead, which would veto pg2 in a normal race.
  const d = decide(obs(pgState(), v, { peers: [peer("pg3", 9999)] }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "acquire_leader" }, { type: "promote" }, {
    type: "clear_failover",
    modRevision: "30",
  }]);
  const other = decide(obs(pgState(), v, { peers: [peer("pg2", 5000)] }), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(other.actions, []);
  assert.equal(other.reason, "waiting for candidate 'pg2' to take the lock");
});

Deno.test("decide() keeps the slot of a member that left for member_slots_ttl, then drops it", () => {
  const seen = { pg2: 1_000_000, pg3: 1_000_000 };
  const gone = view({ members: [member("pg1", { role: "primary" }), member("pg3")] });
  const soon = decide(
    obs(PRIMARY, gone, { now: 1_100_000 }),
    { ...INITIAL_MEMORY, membersSeen: seen },
    ctx("pg1"),
  );
  assert.deepEqual(soon.actions.find((a) => a.type === "sync_slots"), {
    type: "sync_slots",
    slots: ["pg2", "pg3"],
  });
  const late = decide(obs(PRIMARY, gone, { now: 1_000_000 + 1801_000 }), soon.memory, ctx("pg1"));
  assert.deepEqual(late.actions.find((a) => a.type === "sync_slots"), { type: "sync_slots", slots: ["pg3"] });
});

Deno.test("decide() reinitializes a replica on request: stop, then clone from the leader", () => {
  const d = decide(obs(pgState(), view(), { reinitRequested: true }), {
    ...INITIAL_MEMORY,
    rewindFailed: true,
  }, ctx("pg2"));
  assert.deepEqual(d.actions, [
    { type: "demote", mode: "immediate" },
    {
      type: "start_job",
      job: { kind: "clone", upstream: { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" } },
    },
  ]);
  assert.equal(d.memory.rewindFailed, false);
  // The leader never throws its data away.
  assert.ok(
    !decide(obs(PRIMARY, view(), { reinitRequested: true }), INITIAL_MEMORY, ctx("pg1")).actions.some((a) =>
      a.type === "start_job"
    ),
  );
});

Deno.test("decide() rejoins a stopped former primary by pg_rewind, by re-cloning, or directly, as configured", () => {
  const formerPrimary = { ...PRIMARY, running: false, queryable: false };
  const up = { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" };
  const rewind = { ...DYNAMIC_DEFAULTS, usePgRewind: true };
  assert.deepEqual(
    decide(obs(formerPrimary, view()), INITIAL_MEMORY, ctx("pg2", { dynamic: rewind })).actions,
    [
      { type: "start_job", job: { kind: "rewind", upstream: up } },
    ],
  );
  // After the rewind: start as a replica.
  const done = { kind: "rewind" as const, description: "x", startedAt: 0, status: "ok" as const };
  assert.deepEqual(
    decide(obs(formerPrimary, view(), { job: done }), INITIAL_MEMORY, ctx("pg2", { dynamic: rewind }))
      .actions,
    [{ type: "start_job", job: { kind: "start", role: "replica", upstream: up } }],
  );
  // A failed rewind: stay down, or re-clone when allowed.
  const failed = { ...done, status: "failed" as const, error: "boom" };
  const stay = decide(
    obs(formerPrimary, view(), { job: failed }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: rewind }),
  );
  assert.deepEqual(stay.actions, []);
  assert.equal(stay.memory.rewindFailed, true);
  assert.deepEqual(
    decide(
      obs(formerPrimary, view(), { job: failed }),
      INITIAL_MEMORY,
      ctx("pg2", {
        dynamic: rewind,
        removeDataOnRewindFailure: true,
      }),
    ).actions,
    [{ type: "start_job", job: { kind: "clone", upstream: up } }],
  );
  // Without pg_rewind: re-clone when remove_data_directory_on_diverged_timelines, else start directly.
  assert.deepEqual(
    decide(obs(formerPrimary, view()), INITIAL_MEMORY, ctx("pg2", { removeDataOnDivergedTimelines: true }))
      .actions,
    [{ type: "start_job", job: { kind: "clone", upstream: up } }],
  );
  assert.deepEqual(decide(obs(formerPrimary, view()), INITIAL_MEMORY, ctx("pg2")).actions, [
    { type: "start_job", job: { kind: "start", role: "replica", upstream: up } },
  ]);
});

const NO_WATCHDOG = "/dev/watchdog: No such file or directory (errno 2)";

Deno.test("decide() with a required but unusable watchdog: a healthy replica does not take the vanished key", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), {
    peers: [peer("pg3", 5500)],
    watchdogUnusable: NO_WATCHDOG,
  });
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.equal(
    d.reason,
    `not taking the leader key because the watchdog is required but not usable: ${NO_WATCHDOG}`,
  );
  // The same member with a usable watchdog would have taken it.
  const usable = decide({ ...o, watchdogUnusable: undefined }, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(usable.actions), ["acquire_leader", "promote"]);
});

Deno.test("decide() with a required but unusable watchdog: the leader demotes and gives the key up", () => {
  const d = decide(obs(PRIMARY, view(), { watchdogUnusable: NO_WATCHDOG }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  assert.equal(d.reason, `demoting self because the watchdog is required but not usable: ${NO_WATCHDOG}`);
  assert.equal(d.memory.isLeader, false);
  // A member that took the key as a replica (its activation failed before promoting) only gives it back.
  const fresh = decide(
    obs(pgState(), view({ leader: { ...view().leader!, name: "pg2" } }), {
      watchdogUnusable: NO_WATCHDOG,
    }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.deepEqual(fresh.actions, [{ type: "release_leader" }]);
  assert.match(fresh.reason, /^released the leader key because the watchdog is required but not usable/);
});

Deno.test("decide() with a required but unusable watchdog: no bootstrap, and a lockless primary demotes", () => {
  const empty = decide(
    obs(EMPTY, view({ initialize: null, leader: null, config: null, members: [] }), {
      watchdogUnusable: NO_WATCHDOG,
    }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(empty.actions, []);
  assert.match(empty.reason, /^not bootstrapping a new cluster because the watchdog is required/);
  const lockless = decide(
    obs(PRIMARY, view({ leader: null }), { watchdogUnusable: NO_WATCHDOG }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(lockless.actions, [{ type: "demote", mode: "immediate" }]);
  // A finished bootstrap is not published: Postgres stops and the initialize key goes.
  const job: JobState = { kind: "bootstrap", description: "bootstrap", startedAt: 0, status: "ok" };
  const booted = decide(
    obs(PRIMARY, view({ initialize: "", leader: null, config: null, members: [] }), {
      job,
      watchdogUnusable: NO_WATCHDOG,
    }),
    INITIAL_MEMORY,
    ctx("pg1"),
  );
  assert.deepEqual(types(booted.actions), ["demote", "cancel_initialize"]);
  // Replicas still clone and follow: only leadership needs the watchdog.
  const clone = decide(obs(EMPTY, view(), { watchdogUnusable: NO_WATCHDOG }), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(types(clone.actions), ["start_job"]);
  const follow = decide(
    obs(pgState(), view(), { watchdogUnusable: NO_WATCHDOG }),
    INITIAL_MEMORY,
    ctx("pg2"),
  );
  assert.deepEqual(types(follow.actions), ["follow"]);
});

Deno.test("decide() in pause ignores the watchdog: the leader keeps its key", () => {
  const d = decide(
    obs(PRIMARY, view(), { watchdogUnusable: NO_WATCHDOG }),
    INITIAL_MEMORY,
    ctx("pg1", { dynamic: { ...DYNAMIC_DEFAULTS, pause: true } }),
  );
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status"]);
});

Deno.test("decide() never releases the key beside a running job (required watchdog unusable, primary_start_timeout)", () => {
  const job: JobState = {
    kind: "start",
    description: "starting primary after failure",
    startedAt: 0,
    status: "running",
  };
  const down = pgState({ running: false, queryable: false });
  // The watchdog became unusable while a start job runs: `demote` would find no postmaster yet and the job would
  // then start a primary without the key. Neither released nor renewed (a renewal needs the watchdog): the fence
  // stops postgres before the lease can run out, and the key goes once the job has ended.
  const wd = decide(obs(down, view(), { job, watchdogUnusable: NO_WATCHDOG }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(wd.actions, []);
  assert.match(
    wd.reason,
    /^starting primary after failure in progress; .*watchdog is required but not usable/,
  );
  const ended = decide(
    obs(PRIMARY, view(), { job: { ...job, status: "ok" }, watchdogUnusable: NO_WATCHDOG }),
    wd.memory,
    ctx("pg1"),
  );
  assert.deepEqual(ended.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  // primary_start_timeout passing while the start job still runs: keep renewing, decide once it has ended.
  const dynamic = { ...DYNAMIC_DEFAULTS, primaryStartTimeout: 60 };
  const first = decide(obs(down, view(), { now: 1_000_000 }), INITIAL_MEMORY, ctx("pg1", { dynamic }));
  const late = decide(obs(down, view(), { now: 1_061_000, job }), first.memory, ctx("pg1", { dynamic }));
  assert.deepEqual(types(late.actions), ["renew_leader"]);
  const failed = decide(
    obs(down, view(), { now: 1_062_000, job: { ...job, status: "failed", error: "x" } }),
    late.memory,
    ctx("pg1", { dynamic }),
  );
  assert.deepEqual(types(failed.actions), ["demote", "release_leader"]);
});

Deno.test("decide() stops a Postgres running without a data directory before it releases the key", () => {
  const running = { ...EMPTY, running: true };
  const d = decide(obs(running, view()), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }, { type: "release_leader" }]);
  // Without the key there is nothing to release: the stop may run as a job.
  const other = decide(obs(running, view()), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(other.actions, [{ type: "start_job", job: { kind: "stop", mode: "immediate" } }]);
});

Deno.test("decide() retries a pg_rewind that could not reach its source instead of giving up for good", () => {
  // Found by the chaos suite: the new leader restarted just as the former primary asked it for a CHECKPOINT; the
  // former primary then refused to start until an operator ran 'hactl reinit'.
  const formerPrimary = { ...PRIMARY, running: false, queryable: false };
  const up = { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" };
  const rewind = { ...DYNAMIC_DEFAULTS, usePgRewind: true };
  const unreachable = {
    kind: "rewind" as const,
    description: "x",
    startedAt: 0,
    status: "failed" as const,
    error: "CHECKPOINT on pg1 before pg_rewind failed: connect ECONNREFUSED",
    retryable: true,
  };
  const d = decide(
    obs(formerPrimary, view(), { job: unreachable }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: rewind }),
  );
  assert.equal(d.memory.rewindFailed, false);
  assert.match(d.reason, /pg_rewind could not start.*ECONNREFUSED.*retrying/);
  assert.deepEqual(d.actions, []);
  // The next cycle (the job consumed) tries again.
  assert.deepEqual(
    decide(obs(formerPrimary, view()), d.memory, ctx("pg2", { dynamic: rewind })).actions,
    [{ type: "start_job", job: { kind: "rewind", upstream: up } }],
  );
});
