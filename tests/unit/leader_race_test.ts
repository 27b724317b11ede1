/**
 * The leader race as a specification (src/core/leader_race.ts): with no leader key, the healthiest replica takes it
 * and promotes, as Patroni's `_is_healthiest_node` judges (`healthiestVerdict`): peers ahead, on a newer timeline,
 * with a higher failover_priority or still primary veto; a `failover` key steers the race.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide, healthiestVerdict } from "../../src/core/decide.ts";
import { withAcquireGuard } from "../../src/core/acquire_guard.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { type HistoryEntry, INITIAL_MEMORY, type PeerStatus } from "../../src/core/types.ts";
import { reservation, RESERVED_REASON } from "../../src/core/history_reservation.ts";
import { ctx, obs, peer, pgState, types, view } from "../helpers/decide_inputs.ts";

Deno.test("decide() promotes the healthiest replica after the leader key expired", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), {
    peers: [peer("pg1", 0, { reachable: false }), peer("pg3", 5500)],
  });
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  // The new timeline (2) is reserved in `history` first, at the replay position (src/core/history_reservation.ts).
  const reserved: HistoryEntry = [1, 5000, RESERVED_REASON, "2026-11-26T12:00:00.000+00:00", "pg2"];
  assert.deepEqual(d.actions, [{ type: "acquire_leader", guard: { config: "2", sync: null } }, {
    type: "write_history",
    history: [reserved],
  }, {
    type: "promote",
  }]);
  assert.equal(d.reason, "promoted self to leader by acquiring session lock");
});

Deno.test("decide() does not race when a peer is further ahead", () => {
  const o = obs(pgState({ walPosition: 6000 }), view({ leader: null }), { peers: [peer("pg3", 7000)] });
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, []);
  assert.match(
    d.reason,
    /not the healthiest node: Wal position of pg3 is ahead of my wal position \(7000 > 6000\)/,
  );
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
  assert.match(
    healthiestVerdict(o, ctx("pg2"), view({ leader: null }))!,
    /pg3 has equally tolerable WAL position and priority 5, while this node has priority 1/,
  );
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
  assert.deepEqual(types(d.actions), ["acquire_leader", "write_history", "promote", "clear_failover"]);
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
    /Wal position of pg3 is ahead of my wal position/,
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

Deno.test("decide() lets the switchover candidate take the lock without the health race, and clears the request", () => {
  const v = view({ leader: null, failover: { leader: "pg1", member: "pg2", modRevision: "30" } });
  // pg3 is ahead, which would veto pg2 in a normal race.
  const d = decide(obs(pgState(), v, { peers: [peer("pg3", 9999)] }), INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(d.actions, [
    { type: "acquire_leader", guard: { config: "2", sync: null } },
    { type: "write_history", history: reservation(v, pgState(), obs(pgState(), v).wallNow, "pg2") },
    { type: "promote" },
    { type: "clear_failover", modRevision: "30" },
  ]);
  const other = decide(obs(pgState(), v, { peers: [peer("pg2", 5000)] }), INITIAL_MEMORY, ctx("pg3"));
  assert.deepEqual(other.actions, []);
  assert.equal(other.reason, "waiting for candidate 'pg2' to take the lock");
});

Deno.test("healthiestVerdict(): members the failsafe key leaves out neither can take over nor veto (they cannot race)", () => {
  // Found by the simulator (seed 382354790): the key named only the former leader of a switchover, which stood back
  // for good for members that never raced.
  const KEY = { pg1: "http://127.0.0.1:8008/patroni" };
  const switching = view({
    leader: null,
    failover: { leader: "pg1", modRevision: "40" },
    failsafe: KEY,
    status: { optime: 6000, slots: {}, retainSlots: [] },
  });
  const me = pgState({ walPosition: 6000 });
  assert.equal(
    healthiestVerdict(
      obs(me, switching, { peers: [peer("pg2", 6000), peer("pg3", 6000)] }),
      ctx("pg1"),
      switching,
    ),
    null,
  );
  // No switchover: a peer left out of the key that is ahead does not veto either; one still primary does.
  const none = view({ leader: null, failsafe: KEY });
  assert.equal(healthiestVerdict(obs(me, none, { peers: [peer("pg2", 7000)] }), ctx("pg1"), none), null);
  assert.match(
    healthiestVerdict(obs(me, none, { peers: [peer("pg2", 7000, { role: "primary" })] }), ctx("pg1"), none)!,
    /still running as primary/,
  );
});

Deno.test("healthiestVerdict(): a member whose WAL went past the point where the cluster left its timeline does not race", () => {
  // Found by the simulator (seed 88822721, path 315): two replicas diverged on timeline 2 (waiting for a re-clone,
  // pg_rewind off) and the leader on timeline 3 demoted in an etcd outage; when etcd came back, the one further on
  // timeline 2 won the race and the leader's acknowledged timeline-3 writes were lost. check_timeline is off.
  const history = view({
    leader: null,
    history: [[1, 1000, "no recovery target specified"], [2, 5000, "x"]],
  });
  const on2 = (lsn: number) => pgState({ timeline: 2, walPosition: lsn, replayLsn: lsn });
  assert.match(
    healthiestVerdict(obs(on2(5100), history, { peers: [] }), ctx("pg3"), history)!,
    /my timeline 2 at 0\/13EC went past the point where the cluster left it \(0\/1388\)/,
  );
  // At or before the switch point it holds nothing the cluster does not: it may race (its lag is judged as before).
  assert.equal(healthiestVerdict(obs(on2(5000), history, { peers: [] }), ctx("pg3"), history), null);
  // A timeline the key does not name (trimmed away, or newer than the key) is not judged.
  const trimmed = view({ leader: null, history: [[2, 5000, "x"]] });
  const on1 = pgState({ timeline: 1, walPosition: 9000, replayLsn: 9000 });
  assert.equal(healthiestVerdict(obs(on1, trimmed, { peers: [] }), ctx("pg3"), trimmed), null);
});

Deno.test("withAcquireGuard(): the race names the view's config and sync revisions, except a key the plan writes first", () => {
  // Found by the simulator (seed 502, rule (f)): a member took the key a moment after edit-config set a promise
  // hactl cannot keep, on a view read just before; the transaction compared the leader key alone.
  const v = view({
    leader: null,
    sync: { leader: "pg1", syncStandby: ["pg2"], quorum: 0, modRevision: "30" },
  });
  const o = obs(pgState(), v);
  const race = { memory: INITIAL_MEMORY, reason: "r", actions: [{ type: "acquire_leader" as const }] };
  assert.deepEqual(withAcquireGuard(race, o).actions, [{
    type: "acquire_leader",
    guard: { config: "2", sync: "30" },
  }]);
  const boot = {
    ...race,
    actions: [{ type: "write_config" as const, value: {} }, { type: "acquire_leader" as const }],
  };
  assert.deepEqual(withAcquireGuard(boot, o).actions[1], { type: "acquire_leader", guard: { sync: "30" } });
  assert.equal(withAcquireGuard(race, obs(pgState(), null)), race, "no view: nothing to guard with");
});
