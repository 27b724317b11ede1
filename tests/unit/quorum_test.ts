/**
 * Quorum commit as a specification (src/core/quorum.ts, quorum_plan.ts): the order of the `sync` key and
 * `synchronous_standby_names` updates when standbys come and go or `synchronous_node_count` changes, the
 * invariant that any set of standbys able to acknowledge a commit overlaps any set able to elect a leader
 * (checked over random runs), what the leader plans each cycle, and the votes a replica needs to promote.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { type QuorumInput, type QuorumTransition, quorumTransitions } from "../../src/core/quorum.ts";
import {
  buildQuorumNames,
  quorumCandidates,
  quorumLeaderStep,
  quorumPrepromote,
  quorumRaceRefusal,
} from "../../src/core/quorum_plan.ts";
import { SYNC_STRICT_PLACEHOLDER } from "../../src/core/sync_names.ts";
import type { SyncConfig } from "../../src/core/sync_types.ts";
import { formatLsn, INITIAL_MEMORY, type ReplicationRow, type SyncState } from "../../src/core/types.ts";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { renderMetrics } from "../../src/api/metrics.ts";
import { clusterView, NOW, replicaSnap } from "../helpers/api_snapshots.ts";
import { ctx, obs, peer, pgState, PRIMARY, view } from "../helpers/decide_inputs.ts";
import { reservation } from "../../src/core/history_reservation.ts";

const QUORUM: SyncConfig = { mode: "quorum", strict: false, nodeCount: 1, maximumLagOnSyncnode: -1 };

function state(over: Partial<QuorumInput>): QuorumInput {
  return {
    leader: "a",
    quorum: 0,
    voters: [],
    numsync: 0,
    sync: [],
    numsyncConfirmed: 0,
    active: [],
    syncWanted: 1,
    leaderWanted: "a",
    ...over,
  };
}

const t = (
  kind: QuorumTransition["kind"],
  leader: string,
  num: number,
  names: string[],
): QuorumTransition => ({
  kind,
  leader,
  num,
  names,
});

Deno.test("quorum: with nobody named yet, Postgres names the standbys first and the key waits for them", () => {
  const r = quorumTransitions(state({ active: ["b", "c"] }));
  assert.deepEqual(r.transitions, [t("sync", "a", 1, ["b", "c"]), t("restart", "a", 0, [])]);
  // Once both caught up, the key names them with a quorum of 1 (ANY 1 of 2: one more than needed to overlap).
  const next = quorumTransitions(
    state({ numsync: 1, sync: ["b", "c"], numsyncConfirmed: 2, active: ["b", "c"] }),
  );
  assert.deepEqual(next.transitions, [t("quorum", "a", 1, ["b", "c"])]);
});

Deno.test("quorum: the steady state changes nothing", () => {
  const r = quorumTransitions(
    state({
      quorum: 1,
      voters: ["b", "c"],
      numsync: 1,
      sync: ["b", "c"],
      numsyncConfirmed: 2,
      active: ["b", "c"],
    }),
  );
  assert.deepEqual(r, { transitions: [], error: null });
});

Deno.test("quorum: a standby that is gone leaves Postgres first, then the key lowers its quorum", () => {
  const r = quorumTransitions(
    state({
      quorum: 1,
      voters: ["b", "c"],
      numsync: 1,
      sync: ["b", "c"],
      numsyncConfirmed: 1,
      active: ["b"],
    }),
  );
  assert.deepEqual(r.transitions, [t("sync", "a", 1, ["b"]), t("quorum", "a", 0, ["b"])]);
});

Deno.test("quorum: when the last standby goes, the key lets go of its voters before Postgres stops waiting", () => {
  const r = quorumTransitions(
    state({ quorum: 1, voters: ["b", "c"], numsync: 1, sync: ["b", "c"], numsyncConfirmed: 0, active: [] }),
  );
  assert.deepEqual(r.transitions, [t("quorum", "a", 0, []), t("sync", "a", 0, [])]);
});

Deno.test("quorum: a new standby enters the key first when Postgres already names one", () => {
  const r = quorumTransitions(
    state({ voters: ["b"], numsync: 1, sync: ["b"], numsyncConfirmed: 1, active: ["b", "c"] }),
  );
  assert.deepEqual(r.transitions, [t("quorum", "a", 1, ["b", "c"]), t("sync", "a", 1, ["b", "c"])]);
});

Deno.test("quorum: a larger synchronous_node_count grows Postgres first; a smaller one grows the quorum first", () => {
  const up = quorumTransitions(
    state({
      quorum: 1,
      voters: ["b", "c"],
      numsync: 1,
      sync: ["b", "c"],
      numsyncConfirmed: 2,
      active: ["b", "c"],
      syncWanted: 2,
    }),
  );
  assert.deepEqual(up.transitions, [t("sync", "a", 2, ["b", "c"]), t("quorum", "a", 0, ["b", "c"])]);
  const down = quorumTransitions(
    state({
      quorum: 0,
      voters: ["b", "c"],
      numsync: 2,
      sync: ["b", "c"],
      numsyncConfirmed: 2,
      active: ["b", "c"],
    }),
  );
  assert.deepEqual(down.transitions, [t("quorum", "a", 1, ["b", "c"]), t("sync", "a", 1, ["b", "c"])]);
});

Deno.test("quorum: after a failover the new leader takes the key and the former leader becomes a voter", () => {
  const failover = {
    quorum: 1,
    voters: ["b", "c"],
    numsync: 1,
    sync: ["a", "c"],
    active: ["c"],
    leaderWanted: "b",
  };
  const r = quorumTransitions(state({ ...failover, numsyncConfirmed: 1 }));
  assert.deepEqual(r.transitions, [
    t("quorum", "b", 1, ["a", "c"]),
    t("sync", "b", 1, ["c"]),
    t("quorum", "b", 0, ["c"]),
  ]);
  // c not known to have caught up with the new leader: it stays a voter that needs a vote (the leader's), so it
  // can not promote alone without a commit only b has. Patroni guesses it caught up (from the key's quorum).
  const unsure = quorumTransitions(state(failover));
  assert.deepEqual(unsure.transitions.at(-1), t("quorum", "b", 1, ["c"]));
  const guessed = quorumTransitions(state({ ...failover, guessConfirmed: true }));
  assert.deepEqual(guessed.transitions.at(-1), t("quorum", "b", 0, ["c"]));
  // Nobody streams yet: only the key changes hands; the standbys get a cycle to reconnect.
  const early = quorumTransitions(
    state({ quorum: 1, voters: ["b", "c"], numsync: 1, sync: ["a", "c"], active: [], leaderWanted: "b" }),
  );
  assert.deepEqual(early.transitions, [t("quorum", "b", 1, ["a", "c"])]);
});

/** A small seeded generator (mulberry32): the runs are reproducible. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function overlapBroken(s: QuorumInput): string | null {
  if (s.voters.length === 0) return null;
  const all = new Set([...s.voters, ...s.sync, s.leader]);
  if (all.size > s.quorum + s.numsync + 1) {
    return `|voters ∪ sync ∪ leader| = ${all.size} > quorum ${s.quorum} + numsync ${s.numsync} + 1`;
  }
  return null;
}

Deno.test("quorum: over random runs, every state the leader passes through keeps commits and elections overlapping", () => {
  const names = ["b", "c", "d", "e"];
  for (let seed = 1; seed <= 300; seed++) {
    const rand = rng(seed);
    let s = state({});
    for (let cycle = 0; cycle < 40; cycle++) {
      if (rand() < 0.3) s = { ...s, active: names.filter(() => rand() < 0.6) };
      if (rand() < 0.1) s = { ...s, syncWanted: 1 + Math.floor(rand() * 3) };
      // Named standbys that stream catch up (or not) between cycles.
      const caught = s.sync.filter((n) => s.active.includes(n) && rand() < 0.8).length;
      s = { ...s, numsyncConfirmed: caught };
      const r = quorumTransitions(s);
      if (r.error !== null) assert.fail(`seed ${seed} cycle ${cycle}: ${r.error} in ${JSON.stringify(s)}`);
      // Carried out as the leader's plan does: a key write and the Postgres change after it, at most.
      let wrote = false;
      for (const tr of r.transitions) {
        if (tr.kind === "restart" || (tr.kind === "quorum" && wrote)) break;
        if (tr.kind === "quorum") s = { ...s, leader: tr.leader, quorum: tr.num, voters: tr.names };
        else {
          s = { ...s, numsync: tr.num, sync: tr.names };
          wrote = true;
        }
        const broken = overlapBroken(s);
        if (broken) assert.fail(`seed ${seed} cycle ${cycle}: ${broken} after ${JSON.stringify(tr)}`);
        if (tr.kind === "sync") break;
      }
    }
  }
});

Deno.test("buildQuorumNames(): ANY k (...) sorted and quoted; empty when nobody is waited for; ANY 1 (placeholder) when strict", () => {
  assert.equal(buildQuorumNames(["pg3", "pg2"], 1), "ANY 1 (pg2,pg3)");
  assert.equal(buildQuorumNames(["pg2"], 1), "ANY 1 (pg2)");
  assert.equal(buildQuorumNames(["node-2"], 1), 'ANY 1 ("node-2")');
  assert.equal(buildQuorumNames([], 0), "");
  assert.equal(buildQuorumNames(["pg2"], 0), "");
  assert.equal(buildQuorumNames([], 1), `ANY 1 (${SYNC_STRICT_PLACEHOLDER})`);
});

function row(name: string, flush: number, syncState = "quorum"): ReplicationRow {
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

function key(standbys: string[], quorum: number, leader = "pg1"): SyncState {
  return { leader, syncStandby: standbys, quorum, modRevision: "30" };
}

function leaderInput(cfg: SyncConfig, rows: ReplicationRow[], names: string, sync: SyncState | null) {
  const pg = { ...PRIMARY, walPosition: 9000, replication: rows, synchronousStandbyNames: names };
  return { me: "pg1", cfg, view: view({ sync }), pg, mem: { syncNamesSeen: { value: names, lsn: 8000 } } };
}

Deno.test("quorumLeaderStep(): claims an empty key, names both standbys ANY 1, then writes the key once they caught up", () => {
  const claim = quorumLeaderStep(leaderInput(QUORUM, [row("pg2", 9000), row("pg3", 9000)], "", null));
  assert.deepEqual(claim.actions, [{
    type: "write_sync",
    leader: "pg1",
    standbys: [],
    quorum: 0,
    modRevision: null,
  }]);
  const rows = [row("pg2", 9000, "async"), row("pg3", 9000, "async")];
  const named = quorumLeaderStep(leaderInput(QUORUM, rows, "", key([], 0)));
  assert.deepEqual(named.actions, [{ type: "set_sync_standby_names", value: "ANY 1 (pg2,pg3)" }]);
  const keyed = quorumLeaderStep(
    leaderInput(QUORUM, [row("pg2", 9000), row("pg3", 9000)], "ANY 1 (pg2,pg3)", key([], 0)),
  );
  assert.deepEqual(keyed.actions, [
    { type: "write_sync", leader: "pg1", standbys: ["pg2", "pg3"], quorum: 1, modRevision: "30" },
  ]);
});

Deno.test("quorumLeaderStep(): a key change due after a Postgres change waits for the next cycle", () => {
  // pg3 is gone: Postgres stops naming it now; the key lowers its quorum only once the server reports that.
  const step = quorumLeaderStep(
    leaderInput(QUORUM, [row("pg2", 9000)], "ANY 1 (pg2,pg3)", key(["pg2", "pg3"], 1)),
  );
  assert.deepEqual(step.actions, [{ type: "set_sync_standby_names", value: "ANY 1 (pg2)" }]);
  const after = quorumLeaderStep(
    leaderInput(QUORUM, [row("pg2", 9000)], "ANY 1 (pg2)", key(["pg2", "pg3"], 1)),
  );
  assert.deepEqual(after.actions, [
    { type: "write_sync", leader: "pg1", standbys: ["pg2"], quorum: 0, modRevision: "30" },
  ]);
});

Deno.test("quorumLeaderStep(): a nosync member is never named; a FIRST value turns into ANY", () => {
  const input = leaderInput(QUORUM, [row("pg2", 9000, "sync"), row("pg3", 9000)], "pg2", key(["pg2"], 0));
  input.view.members[2]!.data.tags = { nosync: true };
  const step = quorumLeaderStep(input);
  assert.deepEqual(step.actions, [{ type: "set_sync_standby_names", value: "ANY 1 (pg2)" }]);
});

Deno.test("quorumLeaderStep(): strict mode without any standby keeps Postgres waiting for the key's voters", () => {
  const strict = { ...QUORUM, strict: true };
  const step = quorumLeaderStep(leaderInput(strict, [], "ANY 1 (pg2,pg3)", key(["pg2", "pg3"], 1)));
  assert.deepEqual(step.actions, [{ type: "set_sync_standby_names", value: "ANY 1 (pg2,pg3)" }]);
  const none = quorumLeaderStep(leaderInput(strict, [], "", key([], 0)));
  assert.deepEqual(none.actions, [{
    type: "set_sync_standby_names",
    value: `ANY 1 (${SYNC_STRICT_PLACEHOLDER})`,
  }]); // Patroni's WARNING, once while commits wait (the acceptance suite's quorum_commit looks for it); then not again
  // until a standby streamed.
  assert.equal(
    step.warning,
    "No active replication connections from Patroni members and synchronous_mode_strict is requested. " +
      'Continue using old value of synchronous_standby_names="ANY 1 (pg2,pg3)". Commits will be delayed.',
  );
  const again = quorumLeaderStep({
    ...leaderInput(strict, [], "ANY 1 (pg2,pg3)", key(["pg2", "pg3"], 1)),
    mem: step.mem,
  });
  assert.equal(again.warning, undefined);
  const streams = quorumLeaderStep({
    ...leaderInput(strict, [row("pg2", 9000)], "ANY 1 (pg2,pg3)", key(["pg2", "pg3"], 1)),
    mem: step.mem,
  });
  assert.equal(streams.mem.strictWarned, undefined);
});

Deno.test("quorumPrepromote(): the new primary waits for the other members of the key from its first commit", () => {
  assert.deepEqual(quorumPrepromote("pg2", QUORUM, key(["pg2", "pg3"], 1)), [
    { type: "set_sync_standby_names", value: "ANY 1 (pg1,pg3)" },
  ]);
  // Not a voter (it won with one vote more): one more standby to wait for.
  assert.deepEqual(quorumPrepromote("pg4", QUORUM, key(["pg2", "pg3"], 1)), [
    { type: "set_sync_standby_names", value: "ANY 2 (pg1,pg2,pg3)" },
  ]);
});

Deno.test("quorumRaceRefusal(): a voter needs `quorum` votes not ahead of it, anyone else one more", () => {
  const k = key(["pg2", "pg3"], 1);
  const me = pgState({ walPosition: 5000 });
  const o = (peers: ReturnType<typeof peer>[]) => obs(me, view({ leader: null, sync: k }), { peers });
  assert.equal(quorumRaceRefusal("pg2", QUORUM, k, o([peer("pg3", 5000)])), null);
  assert.match(quorumRaceRefusal("pg2", QUORUM, k, o([]))!, /needs 1 vote\(s\).*got 0/);
  assert.match(
    quorumRaceRefusal("pg2", QUORUM, k, o([peer("pg3", 6000)]))!,
    /got 0/,
    "a voter ahead is no vote",
  );
  assert.match(
    quorumRaceRefusal("pg2", QUORUM, k, o([peer("pg3", 5000, { reachable: false })]))!,
    /got 0/,
    "an unreachable voter is no vote",
  );
  assert.match(
    quorumRaceRefusal("pg4", QUORUM, k, o([peer("pg3", 5000)]))!,
    /needs 2 vote\(s\).*as I am not a voter/,
  );
  assert.equal(quorumRaceRefusal("pg4", QUORUM, k, o([peer("pg2", 5000), peer("pg3", 4000)])), null);
  assert.equal(
    quorumRaceRefusal("pg2", QUORUM, k, o([peer("pg3", 9000, { timeline: 0 })])),
    null,
    "a voter on an older timeline is behind whatever its position says",
  );
  assert.match(quorumRaceRefusal("pg2", QUORUM, k, o([peer("pg3", 10, { timeline: 2 })]))!, /got 0/);
  assert.equal(quorumRaceRefusal("pg2", QUORUM, key(["pg2"], 0), o([])), null, "quorum 0: the voter alone");
  // Unlike Patroni, the key's former leader needs its votes too (another member may have promoted since).
  assert.match(quorumRaceRefusal("pg1", QUORUM, k, o([]))!, /needs 1 vote\(s\).*got 0/);
  assert.equal(quorumRaceRefusal("pg1", QUORUM, k, o([peer("pg2", 5000)])), null);
  const on: SyncConfig = { ...QUORUM, mode: "on" };
  assert.match(
    quorumRaceRefusal("pg2", on, k, o([]))!,
    /got 0/,
    "a key still carrying a quorum counts in mode on",
  );
});

Deno.test("decide(): in quorum mode a replica promotes only with the votes its quorum needs", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: QUORUM };
  const v = view({ leader: null, sync: key(["pg2", "pg3"], 1) });
  const lone = decide(
    obs(pgState({ walPosition: 5000 }), v, { peers: [] }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: dyn }),
  );
  assert.deepEqual(lone.actions, []);
  assert.match(lone.reason, /not the healthiest node: quorum commit needs 1 vote/);
  const voted = decide(
    obs(pgState({ walPosition: 5000 }), v, { peers: [peer("pg3", 5000)] }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: dyn }),
  );
  assert.deepEqual(voted.actions, [
    { type: "acquire_leader", guard: { config: "2", sync: "30" } },
    { type: "set_sync_standby_names", value: "ANY 1 (pg1,pg3)" },
    {
      type: "write_history",
      history: reservation(v, pgState({ walPosition: 5000 }), obs(pgState(), v).wallNow, "pg2"),
    },
    { type: "promote" },
  ]);
});

Deno.test("decide(): in quorum mode the named candidate without votes refuses and clears the failover key", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: QUORUM };
  const v = view({
    leader: null,
    sync: key(["pg2", "pg3"], 1),
    failover: { member: "pg2", modRevision: "40" },
  });
  const d = decide(
    obs(pgState({ walPosition: 5000 }), v, { peers: [] }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: dyn }),
  );
  assert.deepEqual(d.actions, [{ type: "clear_failover", modRevision: "40" }]);
  assert.match(d.reason, /quorum commit needs 1 vote/);
});

Deno.test("decide(): in quorum mode the leader hands over only when the candidate can gather its votes", () => {
  const dyn = { ...DYNAMIC_DEFAULTS, synchronous: QUORUM };
  const failover = { leader: "pg1", member: "pg2", modRevision: "40" };
  const v = view({ sync: key(["pg2", "pg3"], 1), failover });
  const streaming = { replicationState: "streaming" };
  const alone = decide(
    obs(PRIMARY, v, { peers: [peer("pg2", 5000, streaming), peer("pg3", 5000, { reachable: false })] }),
    { ...INITIAL_MEMORY, isLeader: true },
    ctx("pg1", { dynamic: dyn }),
  );
  assert.match(alone.reason, /cleared the failover key: quorum commit: candidate 'pg2' would need 1 vote/);
  const ok = decide(
    obs(PRIMARY, v, { peers: [peer("pg2", 5000, streaming), peer("pg3", 5000, streaming)] }),
    { ...INITIAL_MEMORY, isLeader: true },
    ctx("pg1", { dynamic: dyn }),
  );
  assert.match(ok.reason, /switching over to 'pg2'/);
});

Deno.test("quorumCandidates(): maximum_lag_on_syncnode drops a lagging standby; nofailover only to reach the count", () => {
  const lagging = leaderInput(
    { ...QUORUM, maximumLagOnSyncnode: 1000 },
    [row("pg2", 9000), row("pg3", 5000)],
    "ANY 1 (pg2,pg3)",
    key(["pg2", "pg3"], 1),
  );
  assert.deepEqual(quorumCandidates(lagging, 8000), { active: ["pg2"], confirmed: ["pg2"] });
  const input = leaderInput(QUORUM, [row("pg2", 9000), row("pg3", 9000)], "ANY 1 (pg2,pg3)", key(["pg2"], 0));
  input.view.members[2]!.data.tags = { nofailover: true };
  assert.deepEqual(quorumCandidates(input, 8000).active, ["pg2"]);
  input.view.members[1]!.data.tags = { nosync: true };
  assert.deepEqual(quorumCandidates(input, 8000).active, ["pg3"], "nofailover named while fewer are named");
});

Deno.test("metrics: patroni_quorum_standby is 1 on a voter of the current leader's key in quorum mode only", () => {
  const sync = { leader: "pg1", syncStandby: ["pg2"], quorum: 0, modRevision: "9" };
  const text = (mode: unknown) =>
    renderMetrics(replicaSnap({ cluster: clusterView({ sync }, { ttl: 30, synchronous_mode: mode }) }), NOW);
  assert.match(text("quorum"), /\npatroni_quorum_standby\{[^}]*\} 1\n/);
  assert.match(text("quorum"), /\npatroni_sync_standby\{[^}]*\} 0\n/);
  assert.match(text(true), /\npatroni_quorum_standby\{[^}]*\} 0\n/);
});
