/**
 * Synchronous replication as a specification (src/core/sync.ts, sync_names.ts, sync_plan.ts): the value of
 * `synchronous_standby_names`, the standbys the leader picks, the order of the `sync` key and Postgres updates
 * (a standby leaves the key before Postgres stops waiting for it, and enters it only once Postgres waits for it
 * and it caught up), strict mode, and who may race for the leader key while the key is active.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import {
  buildSyncNames,
  parseSyncNames,
  sameSyncNames,
  SYNC_STRICT_PLACEHOLDER,
} from "../../src/core/sync_names.ts";
import {
  syncCandidates,
  syncLeaderStep,
  syncPrepromote,
  syncRaceRefusal,
  syncSwitchoverRefusal,
} from "../../src/core/sync.ts";
import type { SyncConfig } from "../../src/core/sync_types.ts";
import { formatLsn, INITIAL_MEMORY, type ReplicationRow, type SyncState } from "../../src/core/types.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { normalizeDynamic } from "../../src/config/dynamic.ts";
import { ctx, member, obs, peer, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";
import { reservation } from "../../src/core/history_reservation.ts";

const ON: SyncConfig = { mode: "on", strict: false, nodeCount: 1, maximumLagOnSyncnode: -1 };
const STRICT: SyncConfig = { ...ON, strict: true };
/** Set every cycle, changed or not (the adapter keeps it for its later rewrites of postgresql.conf). */
const SET_PG2 = { type: "set_sync_standby_names", value: "pg2" } as const;

function row(name: string, flush: number, syncState = "async"): ReplicationRow {
  return {
    usename: "replicator",
    application_name: name,
    client_addr: null,
    state: "streaming",
    sync_state: syncState,
    sync_priority: 0,
    flush_lsn: formatLsn(flush),
  };
}

function key(standbys: string[], leader = "pg1", modRevision = "30"): SyncState {
  return { leader, syncStandby: standbys, quorum: 0, modRevision };
}

function leaderInput(
  cfg: SyncConfig,
  rows: ReplicationRow[],
  opts: { names?: string; sync?: SyncState | null; seen?: number; members?: ReturnType<typeof member>[] } =
    {},
) {
  const v = view({
    sync: opts.sync ?? null,
    ...(opts.members ? { members: opts.members } : {}),
  });
  const pg = { ...PRIMARY, walPosition: 9000, replication: rows, synchronousStandbyNames: opts.names ?? "" };
  const mem = opts.seen === undefined ? {} : { syncNamesSeen: { value: opts.names ?? "", lsn: opts.seen } };
  return { me: "pg1", cfg, view: v, pg, mem };
}

Deno.test("synchronous_standby_names is built as Patroni builds it: sorted, quoted when needed, FIRST n or ANY k", () => {
  assert.equal(buildSyncNames([]), "");
  assert.equal(buildSyncNames(["pg2"]), "pg2");
  assert.equal(buildSyncNames(["pg3", "pg2"]), "2 (pg2,pg3)");
  assert.equal(buildSyncNames(["pg3", "pg2"], 1, true), "ANY 1 (pg2,pg3)");
  assert.equal(buildSyncNames(["node-2", "first"]), '2 ("first","node-2")');
  assert.equal(buildSyncNames([], 1), SYNC_STRICT_PLACEHOLDER);
});

Deno.test("parseSyncNames() reads FIRST, ANY, n (...), plain lists, quoted names and *; refuses garbage", () => {
  assert.deepEqual(parseSyncNames(""), { kind: "off", num: 0, names: [] });
  assert.deepEqual(parseSyncNames("FIRST 2 (pg2, PG3)"), { kind: "priority", num: 2, names: ["pg2", "pg3"] });
  assert.deepEqual(parseSyncNames("any 1 (a,b)"), { kind: "quorum", num: 1, names: ["a", "b"] });
  assert.deepEqual(parseSyncNames('2 ("node-2",x)'), { kind: "priority", num: 2, names: ["node-2", "x"] });
  assert.deepEqual(parseSyncNames("pg2, pg3"), { kind: "priority", num: 1, names: ["pg2", "pg3"] });
  assert.deepEqual(parseSyncNames("*"), { kind: "priority", num: 1, names: ["*"] });
  assert.equal(parseSyncNames("FIRST (a"), null);
  assert.equal(parseSyncNames("a,,b"), null);
  assert.ok(sameSyncNames("FIRST 2 (pg3, pg2)", "2 (pg2,pg3)"));
  assert.ok(!sameSyncNames("pg2", "pg3"));
});

Deno.test("syncCandidates(): sync_priority, then already sync, then position; nosync and stopped members never", () => {
  const members = [
    member("pg1", { role: "primary" }),
    member("pg2", { tags: { sync_priority: 1 } }),
    member("pg3", { tags: { sync_priority: 5 } }),
    member("pg4", { tags: { nosync: true } }),
    member("pg5", { state: "stopped" }),
  ];
  const rows = [row("pg2", 9000, "sync"), row("pg3", 8000), row("pg4", 9000), row("pg5", 9000)];
  const c = syncCandidates(leaderInput({ ...ON, nodeCount: 3 }, rows, { members }), 0);
  assert.deepEqual(c.active, ["pg3", "pg2"]);
  assert.deepEqual(c.confirmed, ["pg2"]);
});

Deno.test("syncCandidates(): a standby lagging more than maximum_lag_on_syncnode is not picked", () => {
  const rows = [row("pg2", 1000, "sync"), row("pg3", 9000)];
  const c = syncCandidates(leaderInput({ ...ON, maximumLagOnSyncnode: 4000 }, rows), 0);
  assert.deepEqual(c.active, ["pg3"]);
  const unlimited = syncCandidates(leaderInput(ON, rows), 0);
  assert.deepEqual(unlimited.active, ["pg2"]);
});

Deno.test("a newly named standby is confirmed only once it flushed past the primary's position when named", () => {
  const input = leaderInput(ON, [row("pg2", 8999, "sync")], { names: "pg2", sync: key([]), seen: 9000 });
  assert.deepEqual(syncCandidates(input, 9000).confirmed, []);
  assert.deepEqual(syncCandidates(input, 8999).confirmed, ["pg2"]);
  // A standby the key names already counts.
  assert.deepEqual(syncCandidates({ ...input, view: view({ sync: key(["pg2"]) }) }, 9000).confirmed, ["pg2"]);
});

Deno.test("syncLeaderStep(): the leader claims the key, names the standby in postgres, and in the key only later", () => {
  const first = syncLeaderStep(leaderInput(ON, [row("pg2", 9000)]));
  assert.deepEqual(first.actions, [
    { type: "write_sync", leader: "pg1", standbys: [], quorum: 0, modRevision: null },
    { type: "set_sync_standby_names", value: "pg2" },
  ]);
  // Next cycle: postgres reports pg2 sync, but it has not flushed past the position seen when it was named.
  const seenAt = { syncNamesSeen: { value: "pg2", lsn: 9000 } };
  const waiting = syncLeaderStep({
    ...leaderInput(ON, [row("pg2", 8000, "sync")], { names: "pg2", sync: key([]) }),
    mem: seenAt,
  });
  assert.deepEqual(waiting.actions, [SET_PG2]);
  assert.equal(waiting.note, null);
  const caughtUp = syncLeaderStep({
    ...leaderInput(ON, [row("pg2", 9000, "sync")], { names: "pg2", sync: key([]) }),
    mem: seenAt,
  });
  assert.deepEqual(caughtUp.actions, [
    { type: "write_sync", leader: "pg1", standbys: ["pg2"], quorum: 0, modRevision: "30" },
    SET_PG2,
  ]);
});

Deno.test("syncLeaderStep(): the first sight of a value remembers the primary's flush position", () => {
  const step = syncLeaderStep(leaderInput(ON, [row("pg2", 9000, "sync")], { names: "pg2", sync: key([]) }));
  assert.deepEqual(step.mem.syncNamesSeen, { value: "pg2", lsn: 9000 });
});

Deno.test("syncLeaderStep(): a standby that is gone leaves the key before it leaves synchronous_standby_names", () => {
  const step = syncLeaderStep(
    leaderInput(ON, [row("pg3", 9000)], { names: "pg2", sync: key(["pg2"]), seen: 100 }),
  );
  assert.deepEqual(step.actions, [
    { type: "write_sync", leader: "pg1", standbys: [], quorum: 0, modRevision: "30" },
    { type: "set_sync_standby_names", value: "pg3" },
  ]);
});

Deno.test("syncLeaderStep(): a second standby (synchronous_node_count 2) is added to postgres first, then the key", () => {
  const cfg = { ...ON, nodeCount: 2 };
  const rows = [row("pg2", 9000, "sync"), row("pg3", 9000)];
  const add = syncLeaderStep(leaderInput(cfg, rows, { names: "pg2", sync: key(["pg2"]), seen: 100 }));
  assert.deepEqual(add.actions, [{ type: "set_sync_standby_names", value: "2 (pg2,pg3)" }]);
  const rows2 = [row("pg2", 9000, "sync"), row("pg3", 9000, "sync")];
  const confirm = syncLeaderStep(
    leaderInput(cfg, rows2, { names: "2 (pg2,pg3)", sync: key(["pg2"]), seen: 9000 }),
  );
  assert.deepEqual(confirm.actions, [
    { type: "write_sync", leader: "pg1", standbys: ["pg2", "pg3"], quorum: 0, modRevision: "30" },
    { type: "set_sync_standby_names", value: "2 (pg2,pg3)" },
  ]);
});

Deno.test("syncLeaderStep(): steady state changes nothing (the value is only set again)", () => {
  const step = syncLeaderStep(
    leaderInput(ON, [row("pg2", 9000, "sync"), row("pg3", 9000)], {
      names: "pg2",
      sync: key(["pg2"]),
      seen: 1,
    }),
  );
  assert.deepEqual(step.actions, [SET_PG2]);
  assert.equal(step.note, null);
});

Deno.test("syncLeaderStep(): without any standby, non-strict mode runs asynchronously with an empty key", () => {
  const step = syncLeaderStep(leaderInput(ON, [], { names: "pg2", sync: key(["pg2"]), seen: 1 }));
  assert.deepEqual(step.actions, [
    { type: "write_sync", leader: "pg1", standbys: [], quorum: 0, modRevision: "30" },
    { type: "set_sync_standby_names", value: "" },
  ]);
});

Deno.test("syncLeaderStep(): strict mode without any standby keeps waiting for the key's standby", () => {
  const step = syncLeaderStep(leaderInput(STRICT, [], { names: "pg2", sync: key(["pg2"]), seen: 1 }));
  assert.deepEqual(step.actions, [SET_PG2]);
  assert.match(step.note!, /commits wait for pg2/);
});

Deno.test("syncLeaderStep(): strict mode with nobody named sets the placeholder, so commits wait", () => {
  const step = syncLeaderStep(leaderInput(STRICT, [], { names: "", sync: null }));
  assert.deepEqual(step.actions, [
    { type: "write_sync", leader: "pg1", standbys: [], quorum: 0, modRevision: null },
    { type: "set_sync_standby_names", value: SYNC_STRICT_PLACEHOLDER },
  ]);
});

Deno.test("syncLeaderStep(): a key left by another leader is claimed with no standby before any is named", () => {
  const step = syncLeaderStep(
    leaderInput(ON, [row("pg2", 8000, "sync")], { names: "pg2", sync: key(["pg3"], "pg3") }),
  );
  assert.deepEqual(step.actions[0], {
    type: "write_sync",
    leader: "pg1",
    standbys: [],
    quorum: 0,
    modRevision: "30",
  });
});

Deno.test("syncPrepromote(): the key names the new leader before it promotes; strict mode keeps the other standbys", () => {
  const v = view({ leader: null, sync: key(["pg2", "pg3"]) });
  assert.deepEqual(syncPrepromote("pg2", ON, v), [
    { type: "write_sync", leader: "pg2", standbys: [], quorum: 0, modRevision: "30" },
    { type: "set_sync_standby_names", value: "" },
  ]);
  // Strict mode keeps the key's members (its former leader too, as Patroni's `SyncState.members`) but itself.
  assert.deepEqual(syncPrepromote("pg2", STRICT, v), [
    { type: "write_sync", leader: "pg2", standbys: ["pg1", "pg3"], quorum: 0, modRevision: "30" },
    { type: "set_sync_standby_names", value: buildSyncNames(["pg1", "pg3"], 2) },
  ]);
});

Deno.test("syncRaceRefusal(): under an active key only its leader and standbys may race", () => {
  assert.equal(syncRaceRefusal("pg3", ON, key(["pg2"])) !== null, true);
  assert.equal(syncRaceRefusal("pg2", ON, key(["pg2"])), null);
  assert.equal(syncRaceRefusal("pg1", ON, key(["pg2"])), null);
  assert.equal(syncRaceRefusal("pg3", ON, key([], "")), null, "an empty key does not restrict");
  assert.equal(syncRaceRefusal("pg3", undefined, key(["pg2"])), null, "mode off: the key is ignored");
});

Deno.test("decide(): a replica not named in an active sync key does not take the leader key", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: ON };
  const v = view({ leader: null, sync: key(["pg2"]) });
  const d = decide(
    obs(pgState({ walPosition: 9000 }), v, { peers: [peer("pg2", 5000)] }),
    INITIAL_MEMORY,
    ctx("pg3", { dynamic: dyn }),
  );
  assert.deepEqual(d.actions, []);
  assert.match(
    d.reason,
    /not taking the leader key: synchronous_mode is on and I am not a synchronous standby/,
  );
});

Deno.test("decide(): the sync standby takes the key, writes the sync key, then promotes; peers outside it do not veto", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: ON };
  const v = view({ leader: null, sync: key(["pg2"]) });
  const d = decide(
    obs(pgState({ walPosition: 5000 }), v, { peers: [peer("pg3", 9000)] }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: dyn }),
  );
  assert.deepEqual(d.actions, [
    { type: "acquire_leader", guard: { config: "2", sync: "30" } },
    { type: "write_sync", leader: "pg2", standbys: [], quorum: 0, modRevision: "30" },
    { type: "set_sync_standby_names", value: "" },
    {
      type: "write_history",
      history: reservation(v, pgState({ walPosition: 5000 }), obs(pgState(), v).wallNow, "pg2"),
    },
    { type: "promote" },
  ]);
});

Deno.test("decide(): the named candidate of a manual failover outside the sync key refuses and clears it", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: ON };
  const v = view({ leader: null, sync: key(["pg2"]), failover: { member: "pg3", modRevision: "40" } });
  const d = decide(obs(pgState(), v, { peers: [] }), INITIAL_MEMORY, ctx("pg3", { dynamic: dyn }));
  assert.deepEqual(d.actions, [{ type: "clear_failover", modRevision: "40" }]);
  assert.match(d.reason, /I am not a synchronous standby .*; cleared the failover key/);
});

Deno.test("decide(): the leader in sync mode names its streaming standby", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: ON };
  const pg = { ...PRIMARY, replication: [row("pg2", 5000)], synchronousStandbyNames: "" };
  const d = decide(obs(pg, view()), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1", { dynamic: dyn }));
  const sync = d.actions.filter((a) => a.type === "write_sync" || a.type === "set_sync_standby_names");
  assert.deepEqual(sync, [
    { type: "write_sync", leader: "pg1", standbys: [], quorum: 0, modRevision: null },
    { type: "set_sync_standby_names", value: "pg2" },
  ]);
});

Deno.test("decide(): in maintenance mode the leader still keeps synchronous replication (as Patroni does)", () => {
  // Patroni's paused leader runs its sync step every cycle: a standby that falls behind is replaced in pause too
  // (its acceptance suite's "stuck sync replica" scenario pauses the cluster first).
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: ON, pause: true };
  const pg = { ...PRIMARY, replication: [row("pg2", 5000)], synchronousStandbyNames: "" };
  const d = decide(obs(pg, view()), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1", { dynamic: dyn }));
  const sync = d.actions.filter((a) => a.type === "write_sync" || a.type === "set_sync_standby_names");
  assert.deepEqual(sync, [
    { type: "write_sync", leader: "pg1", standbys: [], quorum: 0, modRevision: null },
    { type: "set_sync_standby_names", value: "pg2" },
  ]);
  assert.ok(d.actions.some((a) => a.type === "renew_leader"));
  assert.match(d.reason, /^PAUSE: /);
});

Deno.test("decide(): synchronous mode turned off deletes the key, then hands the parameter back", () => {
  const pg = { ...PRIMARY, synchronousStandbyNames: "pg2" };
  const d = decide(obs(pg, view({ sync: key(["pg2"]) })), { ...INITIAL_MEMORY, isLeader: true }, ctx("pg1"));
  const sync = d.actions.filter((a) => a.type === "delete_sync" || a.type === "set_sync_standby_names");
  assert.deepEqual(sync, [{ type: "delete_sync", modRevision: "30" }, {
    type: "set_sync_standby_names",
    value: null,
  }]);
});

Deno.test("syncSwitchoverRefusal(): a switchover or a failover goes only to a sync standby", () => {
  assert.equal(
    syncSwitchoverRefusal(ON, key(["pg2"]), "pg3", "switchover"),
    "candidate name does not match with sync_standby",
  );
  assert.equal(syncSwitchoverRefusal(ON, key(["pg2"]), "pg2", "switchover"), null);
  assert.equal(
    syncSwitchoverRefusal(ON, key(["pg2"]), "pg3", "failover"),
    "candidate name does not match with sync_standby",
  );
  assert.equal(
    syncSwitchoverRefusal(ON, key([]), undefined, "switchover"),
    "switchover is not possible: can not find sync_standby",
  );
  assert.equal(syncSwitchoverRefusal(undefined, key([]), undefined, "switchover"), null);
});

Deno.test("normalizeDynamic() reads synchronous_mode true/on/quorum with its companions; off adds nothing", () => {
  const on = normalizeDynamic({
    synchronous_mode: "on",
    synchronous_mode_strict: true,
    synchronous_node_count: 2,
    maximum_lag_on_syncnode: "1MB",
  });
  assert.deepEqual(on.settings.synchronous, {
    mode: "on",
    strict: true,
    nodeCount: 2,
    maximumLagOnSyncnode: 1048576,
  });
  assert.equal(normalizeDynamic({ synchronous_mode: "quorum" }).settings.synchronous?.mode, "quorum");
  assert.equal(normalizeDynamic({ synchronous_mode: false }).settings.synchronous, undefined);
  assert.equal(normalizeDynamic({}).settings.synchronous, undefined);
});

Deno.test("decide(): in sync mode the leader hands over only to a synchronous standby", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: ON };
  const failover = { leader: "pg1", member: "pg3", modRevision: "40" };
  const v = view({ sync: key(["pg2"]), failover });
  const peers = [
    peer("pg2", 5000, { replicationState: "streaming" }),
    peer("pg3", 5000, { replicationState: "streaming" }),
  ];
  const d = decide(
    obs(PRIMARY, v, { peers }),
    { ...INITIAL_MEMORY, isLeader: true },
    ctx("pg1", { dynamic: dyn }),
  );
  assert.ok(d.actions.some((a) => a.type === "clear_failover"), d.reason);
  assert.match(d.reason, /candidate 'pg3' is not a synchronous standby/);
  const toSync = view({ sync: key(["pg2"]), failover: { ...failover, member: "pg2" } });
  const ok = decide(
    obs(PRIMARY, toSync, { peers }),
    { ...INITIAL_MEMORY, isLeader: true },
    ctx("pg1", { dynamic: dyn }),
  );
  assert.match(ok.reason, /switching over to 'pg2'/);
});

Deno.test("decide(): a leader starting its stopped Postgres in strict mode starts it waiting for the key's standby", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: STRICT };
  const stopped = { ...PRIMARY, running: false, queryable: false, role: null, walPosition: null };
  const d = decide(obs(stopped, view({ sync: key(["pg2"]) })), INITIAL_MEMORY, ctx("pg1", { dynamic: dyn }));
  assert.deepEqual(d.actions.slice(0, 3), [
    { type: "renew_leader" },
    SET_PG2,
    { type: "start_job", job: { kind: "start", role: "primary", upstream: null } },
  ]);
  const empty = decide(obs(stopped, view({ sync: key([]) })), INITIAL_MEMORY, ctx("pg1", { dynamic: dyn }));
  assert.deepEqual(empty.actions[1], { type: "set_sync_standby_names", value: SYNC_STRICT_PLACEHOLDER });
});
