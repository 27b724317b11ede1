import assert from "node:assert/strict";
import {
  type IsolationInput,
  isolationVerdict,
  ReplicaConfirmations,
  shouldProbe,
} from "../../src/core/isolation.ts";

function input(over: Partial<IsolationInput> = {}): IsolationInput {
  return {
    now: 10_000,
    timeoutMs: 3000,
    pause: false,
    writablePrimary: true,
    failoverCandidates: 2,
    unconfirmedSince: 6000,
    dcsLastSuccess: 6000,
    dcsUnansweredSince: 6500,
    ...over,
  };
}

Deno.test("ReplicaConfirmations: the oldest write no replica confirmed, and when the primary first had it", () => {
  const c = new ReplicaConfirmations();
  c.observe({ at: 1000, primaryLsn: 100, confirmedLsn: 100, timeline: 1 });
  assert.equal(c.unconfirmedSince, null, "everything confirmed");
  c.observe({ at: 2000, primaryLsn: 200, confirmedLsn: 150, timeline: 1 });
  c.observe({ at: 3000, primaryLsn: 300, confirmedLsn: 150, timeline: 1 });
  assert.equal(c.unconfirmedSince, 2000);
  // The replica reaches 200 (the 2 s sample): the oldest unconfirmed WAL is now the one seen at 3 s.
  c.observe({ at: 4000, primaryLsn: 300, confirmedLsn: 200, timeline: 1 });
  assert.equal(c.unconfirmedSince, 3000);
  // The WAL sender disappears (connection dropped): what it confirmed before still counts.
  c.observe({ at: 5000, primaryLsn: 300, confirmedLsn: null, timeline: 1 });
  assert.equal(c.unconfirmedSince, 3000);
  c.observe({ at: 6000, primaryLsn: 300, confirmedLsn: 300, timeline: 1 });
  assert.equal(c.unconfirmedSince, null);
  // An idle primary with no replica at all has nothing unconfirmed once the replica had it all.
  c.observe({ at: 60_000, primaryLsn: 300, confirmedLsn: null, timeline: 1 });
  assert.equal(c.unconfirmedSince, null);
  // A new timeline starts afresh (positions of the old one confirm nothing).
  c.observe({ at: 61_000, primaryLsn: 400, confirmedLsn: null, timeline: 2 });
  assert.equal(c.unconfirmedSince, 61_000);
});

Deno.test("isolationVerdict() fences a primary that heard from neither etcd nor a replica for the timeout", () => {
  assert.match(
    isolationVerdict(input())!,
    /no replica has confirmed WAL for 4\.0 s and etcd has not answered/,
  );
});

Deno.test("isolationVerdict() does not fence when either side answers, nor in the cases it does not apply to", () => {
  const cases: [string, Partial<IsolationInput>][] = [
    ["a replica confirms everything", { unconfirmedSince: null }],
    ["replicas silent for less than the timeout", { unconfirmedSince: 7500 }],
    ["etcd asked less than the timeout ago", { dcsUnansweredSince: 7500 }],
    [
      "no etcd call pending or failed (the loop just waits, however long ago the last answer)",
      { dcsUnansweredSince: null, dcsLastSuccess: 0 },
    ],
    ["etcd never answered yet (starting up)", { dcsLastSuccess: null }],
    ["timeout 0 disables it", { timeoutMs: 0 }],
    ["pause mode", { pause: true }],
    ["not a primary", { writablePrimary: false }],
    ["no other member could take over", { failoverCandidates: 0 }],
  ];
  for (const [why, over] of cases) assert.equal(isolationVerdict(input(over)), null, why);
});

Deno.test("shouldProbe() asks etcd at once when the replicas went quiet and the loop is waiting", () => {
  const quiet = input({ dcsUnansweredSince: null, unconfirmedSince: 8500, dcsLastSuccess: 8500 });
  assert.equal(shouldProbe(quiet), true);
  assert.equal(shouldProbe({ ...quiet, dcsUnansweredSince: 9800 }), false, "a call is already under way");
  assert.equal(shouldProbe({ ...quiet, unconfirmedSince: 9500 }), false, "quiet for less than a third of it");
  assert.equal(shouldProbe({ ...quiet, dcsLastSuccess: 9500 }), false, "etcd answered just now");
  assert.equal(shouldProbe({ ...quiet, pause: true }), false);
});
