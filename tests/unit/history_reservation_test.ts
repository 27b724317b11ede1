/**
 * A promotion reserves its timeline number in `history` before `pg_ctl promote` (src/core/history_reservation.ts):
 * the number predicted as Postgres picks it, the reservation written right before the promotion in the same plan,
 * replaced by the real switch point in the leader's next cycle (also before a hand-over), and never judged as a
 * switch point or by `check_timeline` while it is one.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DYNAMIC_DEFAULTS } from "../../src/config/config.ts";
import { decide, healthiestVerdict } from "../../src/core/decide.ts";
import { historyToPublish } from "../../src/core/decide_leader.ts";
import {
  confirmedClusterTimeline,
  promotionTimeline,
  RESERVED_REASON,
} from "../../src/core/history_reservation.ts";
import { type HistoryEntry, INITIAL_MEMORY } from "../../src/core/types.ts";
import { ctx, obs, peer, pgState, PRIMARY, types, view } from "../helpers/decide_inputs.ts";

const R = "no recovery target specified";
const T0 = "2026-11-01T10:00:00+00:00";
const NOW = "2026-11-26T12:00:00.000+00:00";

function written(actions: readonly { type: string }[]): HistoryEntry[] | undefined {
  return (actions.find((a) => a.type === "write_history") as { history: HistoryEntry[] } | undefined)
    ?.history;
}

Deno.test("promotionTimeline(): the first number after the own and the key's timelines with no history file", () => {
  const replica = pgState({ timeline: 2 });
  assert.equal(promotionTimeline(view({ history: [] }), replica), 3);
  assert.equal(promotionTimeline(view({ history: [[1, 100, R], [2, 200, R], [3, 300, R]] }), replica), 5);
  // Its own pg_wal holds the history files of 3 and 4 (an abandoned branch it fetched): Postgres skips them too.
  assert.equal(promotionTimeline(view({ history: [] }), { ...replica, historyTimelines: [3, 4, 7] }), 5);
});

Deno.test("decide(): the race winner reserves its new timeline between acquire_leader and promote", () => {
  const known: HistoryEntry[] = [[1, 100, R, T0, "pg1"]];
  const o = obs(
    pgState({ timeline: 2, walPosition: 6000, replayLsn: 5800 }),
    view({ leader: null, history: known }),
    {
      peers: [peer("pg3", 5500, { timeline: 2 })],
    },
  );
  const d = decide(o, INITIAL_MEMORY, ctx("pg2"));
  assert.deepEqual(types(d.actions), ["acquire_leader", "write_history", "promote"]);
  // Timeline 3 reserved at the replay position (the switch point is at or past it); the key's entries kept.
  assert.deepEqual(written(d.actions), [...known, [2, 5800, RESERVED_REASON, NOW, "pg2"]]);
  // max_timelines_history trims the reservation as it trims the published key.
  const one = decide(
    o,
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: { ...DYNAMIC_DEFAULTS, maxTimelinesHistory: 1 } }),
  );
  assert.deepEqual(written(one.actions), [[2, 5800, RESERVED_REASON, NOW, "pg2"]]);
});

Deno.test("decide(): a key holder still in recovery reserves before every promotion attempt", () => {
  // The first attempt failed with its reservation (timeline 2) in the key: the key's files make Postgres skip 2.
  const mine: HistoryEntry[] = [[1, 5000, RESERVED_REASON, T0, "pg1"]];
  const d = decide(obs(pgState({ timeline: 1 }), view({ history: mine })), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_history", "promote"]);
  assert.deepEqual(written(d.actions)?.map((e) => e[0]), [1, 2]);
});

/** The leader pg1 on timeline `tl`, promoted from tl - 1 at 0/5100. */
function promotedTo(tl: number) {
  return {
    ...PRIMARY,
    timeline: tl,
    timelineHistory: [...Array(tl - 1).keys()].map((i) => ({
      timeline: i + 1,
      switchLsn: 5000 + 100 * i,
      reason: R,
    })),
  };
}

Deno.test("historyToPublish(): the leader replaces its own reservation with the real switch point", () => {
  const reserved: HistoryEntry[] = [[1, 5000, RESERVED_REASON, T0, "pg1"]];
  const pg = promotedTo(2);
  assert.deepEqual(historyToPublish(view({ history: reserved }), pg, Date.parse(NOW), "pg1"), [[
    1,
    5000,
    R,
    NOW,
    "pg1",
  ]]);
  // Published already: nothing more to write.
  assert.equal(
    historyToPublish(view({ history: [[1, 5000, R, T0, "pg1"]] }), pg, Date.parse(NOW), "pg1"),
    null,
  );
  // Another member's reservation of my timeline is not mine to confirm.
  const theirs: HistoryEntry[] = [[1, 5000, RESERVED_REASON, T0, "pg3"]];
  assert.equal(historyToPublish(view({ history: theirs }), pg, Date.parse(NOW), "pg1"), null);
});

Deno.test("historyToPublish(): a reservation above the timeline Postgres picked is replaced by the real one", () => {
  // Two attempts reserved 2 and 3; the first one's Postgres promoted after all, to timeline 2.
  const two: HistoryEntry[] = [[1, 5000, RESERVED_REASON, T0, "pg1"], [2, 5000, RESERVED_REASON, T0, "pg1"]];
  assert.deepEqual(historyToPublish(view({ history: two }), promotedTo(2), Date.parse(NOW), "pg1"), [
    [1, 5000, R, NOW, "pg1"],
  ]);
  // Below it (Postgres found a newer history file in the archive): published as any newer timeline.
  const low: HistoryEntry[] = [[1, 5000, RESERVED_REASON, T0, "pg1"]];
  assert.deepEqual(historyToPublish(view({ history: low }), promotedTo(3), Date.parse(NOW), "pg1"), [
    [1, 5000, RESERVED_REASON, T0, "pg1"],
    [2, 5100, R, NOW, "pg1"],
  ]);
});

Deno.test("decide(): a leader asked to hand over right after its promotion confirms its reservation first", () => {
  const v = view({
    failover: { leader: "pg1", member: "pg2", modRevision: "30" },
    history: [[1, 5000, RESERVED_REASON, T0, "pg1"]],
  });
  const streaming = peer("pg2", 5000, { replicationState: "streaming", timeline: 2 });
  const d = decide(obs(promotedTo(2), v, { peers: [streaming] }), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(types(d.actions), ["renew_leader", "write_status", "write_history", "start_job"]);
  assert.deepEqual(written(d.actions), [[1, 5000, R, NOW, "pg1"]]);
});

Deno.test("a reservation is neither a switch point nor a cluster timeline for check_timeline", () => {
  const reserved: HistoryEntry[] = [[1, 100, R, T0, "pg1"], [2, 5000, RESERVED_REASON, T0, "pg3"]];
  const v = view({ leader: null, history: reserved });
  assert.equal(confirmedClusterTimeline(v), 2);
  // pg2 on timeline 2 past the reservation's position (its promotion may never have happened): not refused.
  const me = pgState({ timeline: 2, walPosition: 6000, replayLsn: 6000 });
  const checking = ctx("pg2", { dynamic: { ...DYNAMIC_DEFAULTS, checkTimeline: true } });
  assert.equal(healthiestVerdict(obs(me, v), checking, v), null);
  // Confirmed, the same entry keeps it out on both counts.
  const confirmed = view({ leader: null, history: [[1, 100, R, T0, "pg1"], [2, 5000, R, T0, "pg3"]] });
  assert.match(healthiestVerdict(obs(me, confirmed), checking, confirmed)!, /behind the cluster timeline 3/);
  assert.match(healthiestVerdict(obs(me, confirmed), ctx("pg2"), confirmed)!, /not on the cluster's history/);
});

Deno.test("decide(): a primary without the key stands back for a reservation of a newer timeline", () => {
  // Another member may have promoted under it: taking the key back would discard that promotion.
  const v = view({ leader: null, history: [[1, 5000, RESERVED_REASON, T0, "pg3"]] });
  const d = decide(obs(PRIMARY, v), INITIAL_MEMORY, ctx("pg1"));
  assert.deepEqual(types(d.actions), ["demote"]);
});

Deno.test("decide(): a promotion the pre_promote script refused takes its reservation back before releasing the key", () => {
  const refused = {
    kind: "promote" as const,
    description: "promoting postgres",
    startedAt: 990_000,
    status: "failed" as const,
    error: "pre_promote script /bin/false exited with 1",
    prePromoteRefused: true,
  };
  const known: HistoryEntry[] = [[1, 100, R, T0, "pg1"]];
  const v = view({
    leader: { name: "pg2", createRevision: "30", modRevision: "30", lease: "88" },
    history: [...known, [2, 5000, RESERVED_REASON, T0, "pg2"]],
  });
  const mem = { ...INITIAL_MEMORY, isLeader: true };
  const d = decide(obs(pgState({ timeline: 2 }), v, { job: refused }), mem, ctx("pg2"));
  assert.deepEqual(types(d.actions), ["write_history", "release_leader"]);
  assert.deepEqual(written(d.actions), known);
  // Nothing of mine to take back: the key is left alone.
  const none = decide(
    obs(pgState({ timeline: 2 }), view({ ...v, history: known }), { job: refused }),
    mem,
    ctx("pg2"),
  );
  assert.deepEqual(types(none.actions), ["release_leader"]);
});
