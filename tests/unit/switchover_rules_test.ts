/**
 * The `failover` key's rules: what the leader does with a request and what members do in the race that follows.
 */
import assert from "node:assert/strict";
import { type HandoverCheck, leaderStep, raceStep } from "../../src/core/switchover.ts";
import type { ClusterView, FailoverIntent, Member, PeerStatus } from "../../src/core/types.ts";

const NOW = Date.parse("2026-11-26T12:00:00Z");

/** Every other member answers, streams and is up to date: only the request itself decides. */
const HEALTHY: HandoverCheck = {
  peers: ["pg2", "pg3"].map((name) => ({
    name,
    reachable: true,
    role: "replica",
    walPosition: 100,
    timeline: 1,
    replicationState: "streaming",
  })),
  position: 100,
  timeline: 1,
  maximumLagOnFailover: 1048576,
};
const SELF = { nofailover: false, position: 100, timeline: 1 };
const RACE = { maximumLagOnFailover: 1048576, checkTimeline: false };

function member(name: string, state = "running", tags: Member["data"]["tags"] = undefined): Member {
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:5432/${name}`,
      api_url: "http://x/patroni",
      state,
      role: "replica",
      version: "0",
      ...(tags ? { tags } : {}),
    },
    modRevision: "1",
    lease: "1",
  };
}

function view(
  failover: Omit<FailoverIntent, "modRevision"> | null,
  members = [member("pg1"), member("pg2"), member("pg3")],
): ClusterView {
  return {
    initialize: "7393828465826342947",
    config: null,
    leader: { name: "pg1", createRevision: "1", modRevision: "1", lease: "1" },
    members,
    status: null,
    failover: failover ? { ...failover, modRevision: "9" } : null,
    sync: null,
    history: [],
    revision: "10",
    problems: [],
  };
}

Deno.test("leaderStep(): no request, nothing to do", () => {
  assert.deepEqual(leaderStep(view(null), "pg1", NOW, 10, HEALTHY), { kind: "none" });
});

Deno.test("leaderStep(): hands over to a named healthy candidate, or to anyone for a plain switchover", () => {
  assert.deepEqual(leaderStep(view({ leader: "pg1", member: "pg3" }), "pg1", NOW, 10, HEALTHY), {
    kind: "handover",
    candidate: "pg3",
    reason: "switching over to 'pg3': stopping postgres and releasing the lock",
  });
  assert.equal(leaderStep(view({ leader: "pg1" }), "pg1", NOW, 10, HEALTHY).kind, "handover");
  assert.equal(
    leaderStep(view({ member: "pg2" }), "pg1", NOW, 10, HEALTHY).kind,
    "handover",
    "a failover request too",
  );
});

Deno.test("leaderStep(): clears requests it must not act on", () => {
  const cases: [Omit<FailoverIntent, "modRevision">, RegExp, Member[]?][] = [
    [{ leader: "pg2", member: "pg3" }, /names leader 'pg2'/],
    [{ leader: "pg1", member: "pg1" }, /already the leader/],
    [{ leader: "pg1", member: "pg9" }, /candidate 'pg9' is not a healthy member/],
    [{ leader: "pg1", member: "pg2" }, /candidate 'pg2' is not a healthy member/, [
      member("pg1"),
      member("pg2", "stopped"),
    ]],
    [{ leader: "pg1" }, /no healthy members/, [
      member("pg1"),
      member("pg2", "running", { nofailover: true }),
    ]],
    [{ leader: "pg1", scheduledAt: "2026-11-26T11:59:00+00:00" }, /too old/],
    [{ leader: "pg1", scheduledAt: "tomorrow-ish" }, /unparsable/],
  ];
  for (const [request, reason, members] of cases) {
    const step = leaderStep(view(request, members), "pg1", NOW, 10, HEALTHY);
    assert.equal(step.kind, "clear", JSON.stringify(request));
    assert.match((step as { reason: string }).reason, reason);
  }
});

Deno.test("leaderStep(): waits for a scheduled time, acts within 1.5 * loop_wait after it", () => {
  assert.equal(
    leaderStep(view({ leader: "pg1", scheduledAt: "2026-11-26T12:05:00+00:00" }), "pg1", NOW, 10, HEALTHY)
      .kind,
    "wait",
  );
  assert.equal(
    leaderStep(view({ leader: "pg1", scheduledAt: "2026-11-26T11:59:50+00:00" }), "pg1", NOW, 10, HEALTHY)
      .kind,
    "handover",
  );
});

Deno.test("raceStep(): the candidate takes the lock; others defer to a reachable candidate, race when it is gone", () => {
  const v = view({ leader: "pg1", member: "pg3" });
  assert.equal(raceStep(v, "pg3", [], SELF, RACE).kind, "take");
  const reachable: PeerStatus[] = [{ name: "pg3", reachable: true, role: "replica", walPosition: 1 }];
  assert.equal(raceStep(v, "pg2", reachable, SELF, RACE).kind, "defer");
  assert.equal(raceStep(v, "pg2", [{ name: "pg3", reachable: false }], SELF, RACE).kind, "none");
  assert.equal(
    raceStep(view({ leader: "pg1" }), "pg2", reachable, SELF, RACE).kind,
    "none",
    "no candidate: a normal race",
  );
});
