/**
 * `max_timelines_history`: the leader publishes only the last N entries of the `history` key (as Patroni trims
 * it), and a promotion still lands above every timeline number the cluster used: the history files made known to
 * Postgres before `pg_ctl promote` cover every number up to the newest one the (trimmed) key names, since Postgres
 * takes the first number after its own timeline that has no history file.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DYNAMIC_DEFAULTS, normalizeDynamic } from "../../src/config/config.ts";
import { decide } from "../../src/core/decide.ts";
import { withHistoryBeforeRelease } from "../../src/core/history_on_release.ts";
import { type HistoryEntry, INITIAL_MEMORY } from "../../src/core/types.ts";
import { timelineHistoryFiles } from "../../src/pg/status.ts";
import { ctx, obs, PRIMARY, view } from "../helpers/decide_inputs.ts";

const R = "no recovery target specified";
const T0 = "2026-11-01T10:00:00+00:00";

Deno.test("normalizeDynamic() reads max_timelines_history (0 or absent: the whole history)", () => {
  const { settings, warnings } = normalizeDynamic({ max_timelines_history: 2 });
  assert.deepEqual(warnings, []);
  assert.equal(settings.maxTimelinesHistory, 2);
  assert.equal(normalizeDynamic({ max_timelines_history: 0 }).settings.maxTimelinesHistory, undefined);
  assert.equal(normalizeDynamic({}).settings.maxTimelinesHistory, undefined);
  const bad = normalizeDynamic({ max_timelines_history: -3 });
  assert.equal(bad.settings.maxTimelinesHistory, undefined);
  assert.match(bad.warnings.join("\n"), /max_timelines_history/);
});

/** A leader on timeline 4 whose promotion from 3 the key (1 -> 2, 2 -> 3) does not hold yet. */
function onTimeline4(max?: number) {
  const pg = {
    ...PRIMARY,
    timeline: 4,
    timelineHistory: [
      { timeline: 1, switchLsn: 100, reason: R },
      { timeline: 2, switchLsn: 200, reason: R },
      { timeline: 3, switchLsn: 300, reason: R },
    ],
  };
  const known: HistoryEntry[] = [[1, 100, R, T0, "pg2"], [2, 200, R, T0, "pg3"]];
  const dynamic = max === undefined ? DYNAMIC_DEFAULTS : { ...DYNAMIC_DEFAULTS, maxTimelinesHistory: max };
  return { o: obs(pg, view({ history: known })), c: ctx("pg1", { dynamic }) };
}

function written(actions: { type: string }[]): number[] | undefined {
  const w = actions.find((a) => a.type === "write_history") as { history: HistoryEntry[] } | undefined;
  return w?.history.map((e) => e[0]);
}

Deno.test("decide() publishes only the last max_timelines_history entries of the history key", () => {
  const all = onTimeline4();
  assert.deepEqual(written(decide(all.o, INITIAL_MEMORY, all.c).actions), [1, 2, 3]);
  const two = onTimeline4(2);
  assert.deepEqual(written(decide(two.o, INITIAL_MEMORY, two.c).actions), [2, 3]);
  const one = onTimeline4(1);
  assert.deepEqual(written(decide(one.o, INITIAL_MEMORY, one.c).actions), [3]);
});

Deno.test("the history published before a release is trimmed the same way", () => {
  const { o } = onTimeline4();
  const d = withHistoryBeforeRelease(
    { actions: [{ type: "release_leader" }], memory: INITIAL_MEMORY, reason: "r" },
    o,
    "pg1",
    1,
  );
  assert.deepEqual(written(d.actions), [3]);
});

const names = (files: { name: string }[]) => files.map((f) => f.name);

Deno.test("timelineHistoryFiles(): a whole key gives each timeline's file with every switch below it", () => {
  const files = timelineHistoryFiles([[1, 100, R], [2, 0x1000200, R, T0, "pg2"]]);
  assert.deepEqual(names(files), ["00000002.history", "00000003.history"]);
  assert.equal(files[0]!.text, `1\t0/64\t${R}\n`);
  assert.equal(files[1]!.text, `1\t0/64\t${R}\n2\t0/1000200\t${R}\n`);
});

Deno.test("timelineHistoryFiles(): a trimmed key still makes every timeline number up to its newest known", () => {
  // The key kept the switches into 6 and 7 only (max_timelines_history: 2); timelines 2..5 were used too.
  const files = timelineHistoryFiles([[5, 500, R, T0, "pg2"], [6, 600, R, T0, "pg3"]]);
  assert.deepEqual(names(files), [2, 3, 4, 5, 6, 7].map((t) => `0000000${t}.history`));
  assert.deepEqual(files.slice(0, 4).map((f) => f.text), ["", "", "", ""]);
  assert.equal(files[4]!.text, `5\t0/1F4\t${R}\n`);
  assert.equal(files[5]!.text, `5\t0/1F4\t${R}\n6\t0/258\t${R}\n`);
  assert.deepEqual(timelineHistoryFiles([]), []);
});
