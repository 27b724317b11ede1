/**
 * decide() in a standby cluster (src/core/decide_standby.ts): the key holder is a standby leader that follows the
 * remote primary and never promotes; the other members follow it; without a standby leader the healthiest replica
 * takes the key without promoting; the first member clones from the remote primary; a primary is demoted to the
 * standby leader (pg_rewind from the remote primary first); a change of the section is followed live, and removing
 * it (promote-cluster) promotes the standby leader.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { DYNAMIC_DEFAULTS, normalizeDynamic } from "../../src/config/config.ts";
import {
  type Action,
  type DynamicSettings,
  INITIAL_MEMORY as EMPTY_MEMORY_FOR_TESTS,
} from "../../src/core/types.ts";
import { ctx, EMPTY, member, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";
import { memberRecord } from "../../src/core/member.ts";
import { standbyRoleCallback } from "../../src/core/decide_standby.ts";
import { peersToAsk } from "../../src/core/loop.ts";

const SECTION = { host: "10.0.0.9", port: 5433, primarySlotName: "site_b", restoreCommand: "cp /a/%f %p" };
const STANDBY: DynamicSettings = { ...DYNAMIC_DEFAULTS, standbyCluster: SECTION };
const REMOTE = {
  name: "remote primary 10.0.0.9:5433",
  connUrl: "postgres://10.0.0.9:5433/postgres",
  recovery: { remote: true as const, primarySlotName: "site_b", restoreCommand: "cp /a/%f %p" },
};
const sctx = (name: string, dynamic: DynamicSettings = STANDBY) => ctx(name, { dynamic });
/** pg1 holds the key as the standby leader (its member key says so). */
const standbyView = () =>
  view({ members: [member("pg1", { role: "standby_leader" }), member("pg2"), member("pg3")] });
const follows = (actions: Action[]) =>
  actions.find((a) => a.type === "follow") as
    | Extract<Action, { type: "follow" }>
    | undefined;

Deno.test("decide() keeps the standby leader in recovery, following the remote primary, never promoting", () => {
  const d = decide(obs(pgState(), standbyView()), EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  assert.equal(d.reason, "no action. I am (pg1), the standby leader with the lock");
  assert.ok(!types(d.actions).includes("promote"));
  assert.equal(types(d.actions)[0], "renew_leader");
  assert.deepEqual(follows(d.actions)?.upstream, REMOTE);
  // Its members' slots are kept on it although it is in recovery.
  const slots = d.actions.find((a) => a.type === "sync_slots") as Extract<Action, { type: "sync_slots" }>;
  assert.deepEqual(slots.slots, ["pg2", "pg3"]);
  assert.equal(slots.inRecovery, true);
});

Deno.test("decide() makes the other members of a standby cluster follow the standby leader with the archive commands", () => {
  const d = decide(obs(pgState(), standbyView()), EMPTY_MEMORY_FOR_TESTS, sctx("pg2"));
  assert.deepEqual(follows(d.actions)?.upstream, {
    name: "pg1",
    connUrl: "postgres://127.0.0.1:5432/postgres",
    recovery: { restoreCommand: "cp /a/%f %p" },
  });
  assert.match(d.reason, /a secondary, and following a leader \(pg1\)/);
});

Deno.test("decide() elects a new standby leader without promoting when the key is gone", () => {
  const noLeader = view({ leader: null });
  const peers = [peer("pg1", 0, { reachable: false }), peer("pg3", 4000)];
  const d = decide(obs(pgState(), noLeader, { peers }), EMPTY_MEMORY_FOR_TESTS, sctx("pg2"));
  assert.deepEqual(types(d.actions), ["acquire_leader", "follow"]);
  assert.deepEqual(follows(d.actions)?.upstream, REMOTE);
  assert.equal(d.reason, "promoted self to a standby leader by acquiring session lock");
});

Deno.test("decide() in a standby cluster: a member behind a peer does not take the key and follows the remote primary", () => {
  const peers = [peer("pg3", 6000)];
  const d = decide(obs(pgState(), view({ leader: null }), { peers }), EMPTY_MEMORY_FOR_TESTS, sctx("pg2"));
  assert.deepEqual(types(d.actions), ["follow"]);
  assert.deepEqual(follows(d.actions)?.upstream, REMOTE);
  assert.match(d.reason, /not the healthiest node: Wal position of pg3 is ahead of my wal position/);
});

Deno.test("decide() in a standby cluster ignores check_timeline (the timeline is the remote cluster's)", () => {
  const dynamic = { ...STANDBY, checkTimeline: true };
  const history = view({ leader: null, history: [[1, 100, "no recovery target specified"]] });
  const d = decide(
    obs(pgState({ timeline: 1 }), history, { peers: [] }),
    EMPTY_MEMORY_FOR_TESTS,
    sctx("pg2", dynamic),
  );
  assert.deepEqual(types(d.actions), ["acquire_leader", "follow"]);
});

Deno.test("decide() bootstraps a standby cluster by cloning the first member from the remote primary", () => {
  const fresh = view({ initialize: null, leader: null, members: [], config: null });
  const d = decide(obs(EMPTY, fresh), EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "acquire_initialize" }, {
    type: "start_job",
    // No create_replica_methods in the section: basebackup (the empty list), as Patroni's remote member.
    job: { kind: "clone", upstream: { ...REMOTE, cloneMethods: [] } },
  }]);
  assert.match(d.reason, /trying to bootstrap a new standby leader/);
  // Without a host there is nothing to clone from: no initdb of an independent cluster either.
  const archiveOnly = { ...DYNAMIC_DEFAULTS, standbyCluster: { restoreCommand: "cp /a/%f %p" } };
  const d2 = decide(obs(EMPTY, fresh), EMPTY_MEMORY_FOR_TESTS, sctx("pg1", archiveOnly));
  assert.deepEqual(d2.actions, []);
  assert.match(d2.reason, /names no host to clone from/);
});

Deno.test("decide() in a standby cluster starts the freshly cloned member following the remote primary, then it takes the key", () => {
  const booting = view({ initialize: "", leader: null, members: [], config: null });
  const stopped = pgState({ running: false, queryable: false });
  const d = decide(obs(stopped, booting), EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  assert.deepEqual(d.actions, [{
    type: "start_job",
    job: { kind: "start", role: "replica", upstream: REMOTE },
  }]);
  assert.match(d.reason, /follow a remote member because standby cluster is unhealthy/);
  const d2 = decide(obs(pgState(), booting, { peers: [] }), EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  assert.deepEqual(types(d2.actions), ["acquire_leader", "follow"]);
  // Once it leads, it writes the initialize key with its system ID and the config.
  const led = view({ initialize: "", config: null, members: [member("pg1")] });
  const d3 = decide(obs(pgState(), led), EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  assert.deepEqual(types(d3.actions).slice(0, 4), [
    "renew_leader",
    "write_initialize",
    "write_config",
    "write_status",
  ]);
});

Deno.test("decide() starts a stopped standby leader as a replica of the remote primary under its key", () => {
  const d = decide(
    obs(pgState({ running: false, queryable: false }), standbyView()),
    EMPTY_MEMORY_FOR_TESTS,
    sctx("pg1"),
  );
  assert.deepEqual(d.actions, [{ type: "renew_leader" }, {
    type: "start_job",
    job: { kind: "start", role: "replica", upstream: REMOTE },
  }]);
  assert.equal(d.reason, "starting as a standby leader because i had the session lock");
});

Deno.test("decide() demotes a leading primary to the standby leader (demote-cluster): clean stop, rewind, start", () => {
  const d = decide(obs(PRIMARY, view()), EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  // The shutdown checkpoint's WAL file is archived after the stop, as Patroni's demote-cluster does.
  assert.deepEqual(d.actions, [{ type: "renew_leader" }, {
    type: "start_job",
    job: { kind: "demote", archiveCheckpoint: true },
  }]);
  assert.match(d.reason, /demoting to a standby cluster/);
  // Stopped, no standby.signal, pg_rewind on: rewind from the remote primary, keeping the key.
  const stopped = pgState({ running: false, queryable: false, role: null, standbySignal: false });
  const withRewind = { ...STANDBY, usePgRewind: true };
  const d2 = decide(obs(stopped, view()), EMPTY_MEMORY_FOR_TESTS, sctx("pg1", withRewind));
  assert.deepEqual(d2.actions, [{ type: "renew_leader" }, {
    type: "start_job",
    job: { kind: "rewind", upstream: REMOTE },
  }]);
  // After the rewind: start as the standby leader.
  const rewound = { kind: "rewind" as const, description: "pg_rewind", startedAt: 0, status: "ok" as const };
  const d3 = decide(obs(stopped, view(), { job: rewound }), EMPTY_MEMORY_FOR_TESTS, sctx("pg1", withRewind));
  assert.deepEqual(types(d3.actions), ["renew_leader", "start_job"]);
  assert.equal(d3.reason, "starting as a standby leader because i had the session lock");
  // A rewind that could not start is tried again; one that failed stops here, saying what to do.
  const retry = { ...rewound, status: "failed" as const, error: "no route", retryable: true };
  const d4 = decide(obs(stopped, view(), { job: retry }), EMPTY_MEMORY_FOR_TESTS, sctx("pg1", withRewind));
  assert.deepEqual(d4.actions, d2.actions);
  const failed = { ...rewound, status: "failed" as const, error: "pg_rewind: fatal" };
  const d5 = decide(obs(stopped, view(), { job: failed }), EMPTY_MEMORY_FOR_TESTS, sctx("pg1", withRewind));
  assert.deepEqual(d5.actions, [{ type: "renew_leader" }]);
  assert.match(
    d5.reason,
    /pg_rewind from the remote primary 10\.0\.0\.9:5433 failed \(pg_rewind: fatal\); not starting/,
  );
});

Deno.test("decide() demotes a primary without the key in a standby cluster", () => {
  const d = decide(obs(PRIMARY, standbyView()), EMPTY_MEMORY_FOR_TESTS, sctx("pg2"));
  assert.deepEqual(d.actions, [{ type: "demote", mode: "immediate" }]);
  const d2 = decide(obs(PRIMARY, view({ leader: null })), EMPTY_MEMORY_FOR_TESTS, sctx("pg2"));
  assert.deepEqual(d2.actions, [{ type: "demote", mode: "immediate" }]);
});

Deno.test("decide() follows a changed standby_cluster section live (another remote primary)", () => {
  const moved = { ...DYNAMIC_DEFAULTS, standbyCluster: { host: "10.0.0.10", port: 5432 } };
  const d = decide(obs(pgState(), standbyView()), EMPTY_MEMORY_FOR_TESTS, sctx("pg1", moved));
  assert.deepEqual(follows(d.actions)?.upstream, {
    name: "remote primary 10.0.0.10:5432",
    connUrl: "postgres://10.0.0.10:5432/postgres",
    recovery: { remote: true },
  });
});

Deno.test("decide() promotes the standby leader once the section is removed (promote-cluster)", () => {
  const d = decide(obs(pgState(), standbyView()), EMPTY_MEMORY_FOR_TESTS, ctx("pg1"));
  assert.ok(types(d.actions).includes("promote"));
  assert.equal(d.reason, "promoted self to leader because I had the session lock");
});

Deno.test("decide() keeps the standby leader's key while Postgres runs in recovery (no primary_start_timeout)", () => {
  const dynamic = { ...STANDBY, primaryStartTimeout: 0 };
  let mem = EMPTY_MEMORY_FOR_TESTS;
  for (const now of [1_000_000, 1_100_000, 1_200_000]) {
    const d = decide(obs(pgState(), standbyView(), { now }), mem, sctx("pg1", dynamic));
    assert.ok(!types(d.actions).includes("release_leader"), d.reason);
    mem = d.memory;
  }
});

Deno.test("decide() in pause keeps the standby leader's key", () => {
  const paused = { ...STANDBY, pause: true };
  const d = decide(obs(pgState(), standbyView()), EMPTY_MEMORY_FOR_TESTS, sctx("pg1", paused));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status"]);
  assert.equal(d.reason, "PAUSE: no action. I am (pg1), the standby leader with the lock");
});

Deno.test("decide() hands a standby cluster over to a switchover's candidate: clean stop, then it takes the key", () => {
  const f = { leader: "pg1", member: "pg2", modRevision: "30" } as never;
  const peers = [peer("pg2", 5000, { replicationState: "streaming" }), peer("pg3", 5000)];
  const d = decide(obs(pgState(), view({ failover: f }), { peers }), EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "start_job"]);
  assert.deepEqual(d.actions.at(-1), { type: "start_job", job: { kind: "demote" } });
  assert.equal(d.memory.handover, true);
  assert.match(d.reason, /switching over to 'pg2'/);
  // The key released: the candidate takes it without promoting and follows the remote primary.
  const race = view({ leader: null, failover: f });
  const d2 = decide(
    obs(pgState(), race, { peers: [peer("pg3", 5000)] }),
    EMPTY_MEMORY_FOR_TESTS,
    sctx("pg2"),
  );
  assert.deepEqual(d2.actions, [{ type: "acquire_leader", guard: { config: "2", sync: null } }, {
    type: "follow",
    upstream: REMOTE,
  }, {
    type: "clear_failover",
    modRevision: "30",
  }]);
  assert.match(d2.reason, /promoted self to a standby leader by acquiring session lock: I am the candidate/);
  // Another member waits for the candidate.
  const peers3 = [peer("pg2", 5000, { replicationState: "streaming" })];
  const d3 = decide(obs(pgState(), race, { peers: peers3 }), EMPTY_MEMORY_FOR_TESTS, sctx("pg3"));
  assert.deepEqual(types(d3.actions), ["follow"]);
  assert.match(d3.reason, /waiting for candidate 'pg2'/);
});

Deno.test("the standby leader publishes the role standby_leader; a reload keeps it following the remote primary", () => {
  const o = obs(pgState(), standbyView(), { reloadRequested: "config" });
  const rec = memberRecord({
    obs: o,
    pg: o.pg,
    holdsLock: true,
    connUrl: "postgres://127.0.0.1:5432/postgres",
    apiUrl: "http://127.0.0.1:8008/patroni",
    tags: {},
    scheduledRestart: null,
    paused: false,
    standbyCluster: true,
  });
  assert.equal(rec.role, "standby_leader");
  const d = decide(o, EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  const reload = d.actions.find((a) => a.type === "reload") as Extract<Action, { type: "reload" }>;
  assert.deepEqual(reload, { type: "reload", role: "replica", upstream: REMOTE, force: false });
});

Deno.test("normalizeDynamic() reads standby_cluster only when it names host, port or restore_command", () => {
  const on = normalizeDynamic({
    standby_cluster: {
      host: "10.0.0.9",
      port: "5433",
      primary_slot_name: "site_b",
      restore_command: "cp /a/%f %p",
      archive_cleanup_command: "pg_archivecleanup /a %r",
      recovery_min_apply_delay: "5min",
    },
  });
  assert.deepEqual(on.settings.standbyCluster, {
    host: "10.0.0.9",
    port: 5433,
    primarySlotName: "site_b",
    restoreCommand: "cp /a/%f %p",
    archiveCleanupCommand: "pg_archivecleanup /a %r",
    recoveryMinApplyDelay: "5min",
  });
  assert.deepEqual(on.warnings, []);
  assert.equal(on.settings.unsupportedGuarantees, undefined);
  assert.equal(
    normalizeDynamic({ standby_cluster: { primary_slot_name: "x" } }).settings.standbyCluster,
    undefined,
  );
  const bad = normalizeDynamic({ standby_cluster: { host: "h", port: "nope" } });
  assert.deepEqual(bad.settings.standbyCluster, { host: "h" });
  assert.match(bad.warnings.join("\n"), /standby_cluster\.port: "nope" is not a TCP port/);
  // create_replica_methods is read (tests/unit/standby_clone_methods_test.ts), no longer a refused promise.
  const methods = normalizeDynamic({ standby_cluster: { host: "h", create_replica_methods: ["wal_e"] } });
  assert.equal(methods.settings.unsupportedGuarantees, undefined);
  assert.deepEqual(methods.settings.standbyCluster, { host: "h", createReplicaMethods: ["wal_e"] });
});

Deno.test("standbyRoleCallback() reports on_role_change standby_leader when a member takes the key, replica when it loses it", () => {
  assert.deepEqual(standbyRoleCallback("replica", "standby_leader", false, true), {
    action: "on_role_change",
    role: "standby_leader",
  });
  assert.deepEqual(standbyRoleCallback("standby_leader", "replica", false, true), {
    action: "on_role_change",
    role: "replica",
  });
  assert.equal(standbyRoleCallback("standby_leader", "standby_leader", false, true), null);
  assert.equal(
    standbyRoleCallback("replica", "standby_leader", true, true),
    null,
    "a job reports its own callback",
  );
  assert.equal(standbyRoleCallback(null, "standby_leader", false, true), null, "no role reported yet");
  assert.equal(standbyRoleCallback("replica", "primary", false, true), null, "a promotion reports itself");
  // Stopped by a switchover's demotion: the start that follows reports on_role_change replica (as Patroni's
  // demotion does), not this cycle, which would make that start an on_start.
  assert.equal(standbyRoleCallback("standby_leader", "replica", false, false), null);
});

Deno.test("decide() runs a restart scheduled for the standby_leader role on the standby leader, as a replica of the remote primary", () => {
  const restart = {
    at: Date.UTC(2026, 10, 26, 11, 59, 59),
    schedule: "2026-11-26T11:59:59+00:00",
    postmasterStartTime: null,
    conditions: { role: "standby_leader" as const },
  };
  const d = decide(obs(pgState(), standbyView(), { restart }), EMPTY_MEMORY_FOR_TESTS, sctx("pg1"));
  assert.deepEqual(d.actions, [{ type: "renew_leader" }, {
    type: "start_job",
    job: { kind: "restart", role: "replica", upstream: REMOTE },
  }]);
  // On another member the role does not match: dropped.
  const d2 = decide(obs(pgState(), standbyView(), { restart }), EMPTY_MEMORY_FOR_TESTS, sctx("pg2"));
  assert.equal(types(d2.actions)[0], "drop_restart");
});

Deno.test("peersToAsk(): the standby leader asks a switchover's candidate, as a primary leader does", () => {
  const f = view({ failover: { leader: "pg1", member: "pg2", modRevision: "30" } as never });
  const dcs = { kind: "ok" as const, cluster: f };
  assert.deepEqual(peersToAsk(dcs, pgState(), false, "pg1", { standbyCluster: true }), [
    { name: "pg2", apiUrl: "http://127.0.0.1:8009/patroni" },
  ]);
  assert.equal(peersToAsk(dcs, pgState(), false, "pg1"), null, "a replica leading outside a standby cluster");
});

Deno.test("synchronous_mode is off in a standby cluster, as in Patroni, and in force again once it is promoted", () => {
  const doc = {
    synchronous_mode: true,
    synchronous_mode_strict: true,
    standby_cluster: { host: "10.0.0.9" },
  };
  assert.equal(normalizeDynamic(doc).settings.synchronous, undefined);
  const promoted = normalizeDynamic({ ...doc, standby_cluster: null }).settings.synchronous;
  assert.equal(promoted?.mode, "on");
  assert.equal(promoted?.strict, true);
});
