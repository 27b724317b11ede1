import assert from "node:assert/strict";
import fc from "fast-check";
import {
  clusterPrefix,
  clusterPrefixProblem,
  decodeCluster,
  encodeHistory,
  encodeStatus,
  type RawKv,
} from "../../src/dcs/codec.ts";

const P = "/service/pg/";
let rev = 10;

function kv(rel: string, value: string, lease = "0"): RawKv {
  rev++;
  return { key: P + rel, value, createRevision: String(rev), modRevision: String(rev), lease };
}

const member = (name: string, extra: Record<string, unknown> = {}) =>
  kv(
    `members/${name}`,
    JSON.stringify({
      conn_url: `postgres://${name}:5432/postgres`,
      api_url: `http://${name}:8008/patroni`,
      state: "running",
      role: "replica",
      version: "4.1.4",
      ...extra,
    }),
    "77",
  );

Deno.test("clusterPrefix() collapses runs of slashes as Patroni does", () => {
  assert.equal(clusterPrefix("/service/", "pg"), "/service/pg/");
  assert.equal(clusterPrefix("service", "pg"), "/service/pg/");
  assert.equal(clusterPrefix("//a//", "b"), "/a/b/");
});

Deno.test("decodeCluster() of an empty prefix is an empty view", () => {
  const view = decodeCluster([], P, "5");
  assert.deepEqual(view, {
    initialize: null,
    config: null,
    leader: null,
    members: [],
    status: null,
    failover: null,
    sync: null,
    history: null,
    revision: "5",
    problems: [],
  });
});

Deno.test("decodeCluster() reads a healthy Patroni cluster", () => {
  const leader = kv("leader", "pg1", "77");
  const view = decodeCluster(
    [
      kv("initialize", "7393828465826342947"),
      kv("config", '{"ttl":30,"loop_wait":10}'),
      leader,
      member("pg1", { role: "primary", xlog_location: 100 }),
      member("pg2"),
      kv("status", '{"optime":123,"slots":{"pg2":120},"retain_slots":["pg1","pg2"]}'),
      kv(
        "history",
        '[[1,25165984,"no recovery target specified","2024-06-01T10:00:00.123+00:00","pg2"],[2,3,"x"]]',
      ),
      kv("sync", '{"leader":"pg1","quorum":0,"sync_standby":"pg2,pg3"}'),
      kv("failover", '{"leader":"pg1","member":"pg2","scheduled_at":"2024-06-01T10:00:00+00:00"}'),
      { key: "/service/other/leader", value: "x", createRevision: "1", modRevision: "1", lease: "0" },
    ],
    P,
    "99",
  );
  assert.deepEqual(view.problems, []);
  assert.equal(view.initialize, "7393828465826342947");
  assert.deepEqual(view.config?.value, { ttl: 30, loop_wait: 10 });
  assert.deepEqual(view.leader, {
    name: "pg1",
    createRevision: leader.createRevision,
    modRevision: leader.modRevision,
    lease: "77",
  });
  assert.deepEqual(view.members.map((m) => [m.name, m.data.role, m.lease]), [
    ["pg1", "primary", "77"],
    ["pg2", "replica", "77"],
  ]);
  assert.equal(view.members[0]!.data.xlog_location, 100);
  assert.deepEqual(view.status, { optime: 123, slots: { pg2: 120 }, retainSlots: ["pg1", "pg2"] });
  assert.deepEqual(view.history, [
    [1, 25165984, "no recovery target specified", "2024-06-01T10:00:00.123+00:00", "pg2"],
    [2, 3, "x"],
  ]);
  assert.deepEqual(view.sync?.syncStandby, ["pg2", "pg3"]);
  assert.equal(view.sync?.leader, "pg1");
  assert.equal(view.failover?.member, "pg2");
  assert.equal(view.failover?.scheduledAt, "2024-06-01T10:00:00+00:00");
  assert.equal(view.revision, "99");
});

Deno.test("decodeCluster() takes members only from members/<name> with exactly one slash", () => {
  const view = decodeCluster([member("pg1"), kv("members/pg2/extra", "{}"), kv("members/", "{}")], P, "1");
  assert.deepEqual(view.members.map((m) => m.name), ["pg1"]);
});

Deno.test("decodeCluster() accepts legacy forms: optime/leader, bare status number, leader:candidate, master", () => {
  let view = decodeCluster(
    [kv("optime/leader", "4242"), kv("failover", "pg1:pg2"), member("pg1", { role: "master" })],
    P,
    "1",
  );
  assert.deepEqual(view.status, { optime: 4242, slots: {}, retainSlots: [] });
  assert.equal(view.failover?.leader, "pg1");
  assert.equal(view.failover?.member, "pg2");
  assert.equal(view.members[0]!.data.role, "primary");
  view = decodeCluster([kv("status", "777"), kv("optime/leader", "1")], P, "1");
  assert.equal(view.status?.optime, 777);
  view = decodeCluster([kv("members/old", "postgres://u:p@10.0.0.1:5432/postgres")], P, "1");
  assert.equal(view.members[0]!.data.conn_url, "postgres://u:p@10.0.0.1:5432/postgres");
});

Deno.test("decodeCluster() treats an empty failover and an empty sync leader as none", () => {
  let view = decodeCluster([kv("failover", "{}"), kv("sync", '{"leader":null,"sync_standby":null}')], P, "1");
  assert.equal(view.failover, null);
  assert.equal(view.sync?.leader, null);
  assert.deepEqual(view.sync?.syncStandby, []);
  view = decodeCluster([kv("failover", "null")], P, "1");
  assert.equal(view.failover, null);
  assert.deepEqual(view.problems, []);
});

Deno.test("decodeCluster() turns garbage into problems and never throws", () => {
  const view = decodeCluster(
    [
      kv("config", "{not json"),
      kv("status", "[1,2"),
      kv("optime/leader", "abc"),
      kv("failover", "garbage"),
      kv("sync", "nope"),
      kv("history", '{"a":1}'),
      kv("members/pg9", "{not json"),
      kv("members/pg8", "[1,2,3]"),
      member("pg1"),
    ],
    P,
    "1",
  );
  assert.deepEqual(view.config?.value, {});
  assert.equal(view.status, null);
  assert.equal(view.failover, null);
  assert.equal(view.sync?.leader, null);
  assert.equal(view.history, null);
  assert.deepEqual(view.members.map((m) => m.name), ["pg1"]);
  const keys = view.problems.map((p) => p.split(":")[0]).sort();
  assert.deepEqual(keys, [
    "config",
    "failover",
    "history",
    "members/pg8",
    "members/pg9",
    "optime/leader",
    "status",
    "sync",
  ]);
});

Deno.test("decodeCluster() never throws on arbitrary values in any key", () => {
  const rels = [
    "initialize",
    "config",
    "leader",
    "failover",
    "history",
    "status",
    "optime/leader",
    "sync",
    "members/x",
  ];
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom(...rels), fc.oneof(fc.string(), fc.json()))), (pairs) => {
      const view = decodeCluster(pairs.map(([rel, value]) => kv(rel, value)), P, "1");
      assert.ok(Array.isArray(view.problems));
      for (const m of view.members) assert.equal(typeof m.data.conn_url, "string");
    }),
  );
});

Deno.test("encodeStatus() writes compact JSON and omits empty slots", () => {
  assert.equal(encodeStatus(123), '{"optime":123}');
  assert.equal(encodeStatus(123, {}), '{"optime":123}');
  assert.equal(encodeStatus(5, { a: 1, b: 2 }), '{"optime":5,"slots":{"a":1,"b":2}}');
});

Deno.test("encodeHistory() writes compact JSON lists and round-trips through decodeCluster()", () => {
  const text = encodeHistory([[1, 100, "no recovery target specified"], [
    2,
    200,
    "x",
    "2024-06-01T10:00:00+00:00",
    "pg2",
  ]]);
  assert.equal(
    text,
    '[[1,100,"no recovery target specified"],[2,200,"x","2024-06-01T10:00:00+00:00","pg2"]]',
  );
  assert.deepEqual(decodeCluster([kv("history", text)], P, "1").history, [
    [1, 100, "no recovery target specified"],
    [2, 200, "x", "2024-06-01T10:00:00+00:00", "pg2"],
  ]);
  assert.equal(encodeHistory([]), "[]");
});

Deno.test("clusterPrefixProblem() refuses a prefix of fewer than two segments (namespace and scope)", () => {
  assert.equal(clusterPrefixProblem("/service/batman/"), null);
  assert.equal(clusterPrefixProblem("/a/b/c/"), null);
  for (const prefix of ["/", "//", "/service/", "/batman/", ""]) {
    assert.match(
      clusterPrefixProblem(prefix) ?? "",
      /refusing to delete .*namespace and a cluster name/,
      prefix,
    );
  }
});
