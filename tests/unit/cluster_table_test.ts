/**
 * Golden tests for `cli/lib/cluster_table.ts`: patronictl's `list` layout and the
 * `/cluster` member objects (§1.6). Expected outputs are written out by hand from the spec.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  clusterAsJson,
  clusterMembers,
  parseConnUrl,
  pythonJson,
  renderList,
  renderTable,
  roundHalfEven,
} from "../../cli/lib/cluster_table.ts";
import type { ClusterView, Member, MemberRecord } from "../../src/core/types.ts";

const MIB = 1024 * 1024;

function member(name: string, data: Partial<MemberRecord>): Member {
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:5432/postgres`,
      api_url: `http://127.0.0.1:8008/patroni`,
      state: "running",
      role: "replica",
      version: "0.1.0",
      ...data,
    },
    modRevision: "1",
    lease: "0",
  };
}

function view(members: Member[], extra: Partial<ClusterView> = {}): ClusterView {
  return {
    initialize: "7277694203142172922",
    config: { value: {}, modRevision: "1" },
    leader: null,
    members,
    status: null,
    failover: null,
    sync: null,
    history: null,
    revision: "10",
    problems: [],
    ...extra,
  };
}

function leaderKey(name: string): ClusterView["leader"] {
  return { name, createRevision: "5", modRevision: "5", lease: "1" };
}

/** The spec's example: postgresql0 leads on port 5432, postgresql1 streams on 5433, both on timeline 5. */
function batman(extra: Partial<ClusterView> = {}, replicaData: Partial<MemberRecord> = {}): ClusterView {
  return view([
    member("postgresql0", {
      conn_url: "postgres://127.0.0.1:5432/postgres",
      api_url: "http://127.0.0.1:8008/patroni",
      role: "primary",
      state: "running",
      timeline: 5,
      xlog_location: 0x40004E8,
    }),
    member("postgresql1", {
      conn_url: "postgres://127.0.0.1:5433/postgres",
      api_url: "http://127.0.0.1:8009/patroni",
      role: "replica",
      state: "running",
      replication_state: "streaming",
      timeline: 5,
      xlog_location: 0x40004E8,
      receive_lsn: 0x40004E8,
      replay_lsn: 0x40004E8,
      ...replicaData,
    }),
  ], {
    leader: leaderKey("postgresql0"),
    status: { optime: 0x40004E8, slots: {}, retainSlots: [] },
    ...extra,
  });
}

/** Three members on three hosts on the default port: pg1 leads, pg2 and pg3 stream. */
function demo(extra: Partial<ClusterView> = {}): ClusterView {
  const optime = 0x6000000;
  return view([
    member("pg3", {
      conn_url: "postgres://10.0.0.3:5432/postgres",
      replication_state: "streaming",
      timeline: 3,
      receive_lsn: optime - 2.5 * MIB,
      replay_lsn: optime - 3 * MIB,
      xlog_location: optime - 2.5 * MIB,
    }),
    member("pg1", { conn_url: "postgres://10.0.0.1:5432/postgres", role: "primary", timeline: 3 }),
    member("pg2", {
      conn_url: "postgres://10.0.0.2:5432/postgres",
      replication_state: "streaming",
      timeline: 3,
      receive_lsn: optime,
      replay_lsn: optime - 1.5 * MIB,
      xlog_location: optime,
    }),
  ], {
    initialize: "7300000000000000001",
    leader: leaderKey("pg1"),
    status: { optime, slots: {}, retainSlots: [] },
    ...extra,
  });
}

const pretty = { format: "pretty", extended: false, layout: "lsn" } as const;

Deno.test("renderList() reproduces the spec's pretty example byte for byte", () => {
  assert.equal(
    renderList(batman(), "batman", pretty),
    [
      "+ Cluster: batman (7277694203142172922) -+-----------+----+-------------+-----+------------+-----+",
      "| Member      | Host           | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag |",
      "+-------------+----------------+---------+-----------+----+-------------+-----+------------+-----+",
      "| postgresql0 | 127.0.0.1:5432 | Leader  | running   |  5 |             |     |            |     |",
      "| postgresql1 | 127.0.0.1:5433 | Replica | streaming |  5 |   0/40004E8 |   0 |  0/40004E8 |   0 |",
      "+-------------+----------------+---------+-----------+----+-------------+-----+------------+-----+",
      "",
    ].join("\n"),
  );
});

Deno.test("renderList() pretty: three members on distinct hosts on 5432 show the host without port", () => {
  assert.equal(
    renderList(demo(), "demo", pretty),
    [
      "+ Cluster: demo (7300000000000000001) ----+----+-------------+-----+------------+-----+",
      "| Member | Host     | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag |",
      "+--------+----------+---------+-----------+----+-------------+-----+------------+-----+",
      "| pg1    | 10.0.0.1 | Leader  | running   |  3 |             |     |            |     |",
      "| pg2    | 10.0.0.2 | Replica | streaming |  3 |   0/6000000 |   0 |  0/5E80000 |   2 |",
      "| pg3    | 10.0.0.3 | Replica | streaming |  3 |   0/5D80000 |   2 |  0/5D00000 |   3 |",
      "+--------+----------+---------+-----------+----+-------------+-----+------------+-----+",
      "",
    ].join("\n"),
  );
});

Deno.test("renderList() tsv keeps Cluster and the full lag names, blank cells for the leader", () => {
  assert.equal(
    renderList(demo(), "demo", { format: "tsv", extended: false, layout: "lsn" }),
    [
      "Cluster\tMember\tHost\tRole\tState\tTL\tReceive LSN\tReceive Lag\tReplay LSN\tReplay Lag",
      "demo\tpg1\t10.0.0.1\tLeader\trunning\t3\t\t\t\t",
      "demo\tpg2\t10.0.0.2\tReplica\tstreaming\t3\t0/6000000\t0\t0/5E80000\t2",
      "demo\tpg3\t10.0.0.3\tReplica\tstreaming\t3\t0/5D80000\t2\t0/5D00000\t3",
      "",
    ].join("\n"),
  );
});

Deno.test("renderList() json is one Python-style line and omits blank values", () => {
  assert.equal(
    renderList(demo(), "demo", { format: "json", extended: false, layout: "lsn" }),
    "[" + [
      '{"Cluster": "demo", "Member": "pg1", "Host": "10.0.0.1", "Role": "Leader", "State": "running", "TL": 3}',
      '{"Cluster": "demo", "Member": "pg2", "Host": "10.0.0.2", "Role": "Replica", "State": "streaming", ' +
      '"TL": 3, "Receive LSN": "0/6000000", "Receive Lag": 0, "Replay LSN": "0/5E80000", "Replay Lag": 2}',
      '{"Cluster": "demo", "Member": "pg3", "Host": "10.0.0.3", "Role": "Replica", "State": "streaming", ' +
      '"TL": 3, "Receive LSN": "0/5D80000", "Receive Lag": 2, "Replay LSN": "0/5D00000", "Replay Lag": 3}',
    ].join(", ") + "]\n",
  );
});

Deno.test("renderList() yaml is block style with sorted keys, the leader has no LSN keys", () => {
  assert.equal(
    renderList(demo(), "demo", { format: "yaml", extended: false, layout: "lsn" }),
    [
      "- Cluster: demo",
      "  Host: 10.0.0.1",
      "  Member: pg1",
      "  Role: Leader",
      "  State: running",
      "  TL: 3",
      "- Cluster: demo",
      "  Host: 10.0.0.2",
      "  Member: pg2",
      "  Receive LSN: 0/6000000",
      "  Receive Lag: 0",
      "  Replay LSN: 0/5E80000",
      "  Replay Lag: 2",
      "  Role: Replica",
      "  State: streaming",
      "  TL: 3",
      "- Cluster: demo",
      "  Host: 10.0.0.3",
      "  Member: pg3",
      "  Receive LSN: 0/5D80000",
      "  Receive Lag: 2",
      "  Replay LSN: 0/5D00000",
      "  Replay Lag: 3",
      "  Role: Replica",
      "  State: streaming",
      "  TL: 3",
      "",
      "",
    ].join("\n"),
  );
});

Deno.test("renderList() title says uninitialized without the initialize key and initializing when empty", () => {
  const empty = renderList(view([], { initialize: null }), "batman", pretty).split("\n");
  const rule = "+--------+------+------+-------+----+-------------+-----+------------+-----+";
  assert.deepEqual(empty, [
    "+ Cluster: batman (uninitialized) --+-------------+-----+------------+-----+",
    "| Member | Host | Role | State | TL | Receive LSN | Lag | Replay LSN | Lag |",
    rule,
    rule,
    "",
  ]);
  const top = renderList(batman({ initialize: "" }), "batman", pretty).split("\n")[0];
  assert.equal(
    top,
    "+ Cluster: batman (initializing) --------+-----------+----+-------------+-----+------------+-----+",
  );
});

Deno.test("renderTable() cuts a title longer than the table to fit, keeping the last corner", () => {
  const text = renderTable(["A"], [["x"]], { title: " a very long title " });
  assert.equal(text.split("\n")[0], "+ a +");
});

Deno.test("lag in MB rounds half to even as Python does, blank when the LSN is unknown", () => {
  assert.deepEqual([0.5, 1.5, 2.5, 0.49, 3.5000001].map(roundHalfEven), [0, 2, 2, 0, 4]);
  const optime = 0x10000000;
  const v = view([
    member("a", { role: "primary" }),
    member("b", {
      conn_url: "postgres://h2:5432/x",
      receive_lsn: optime - MIB / 2,
      replay_lsn: optime - MIB / 2 - 1,
    }),
    member("c", { conn_url: "postgres://h3:5432/x", replication_state: "streaming" }),
    member("d", {
      conn_url: "postgres://h4:5432/x",
      receive_lsn: optime + 100,
      replay_lsn: optime - 5 * MIB,
    }),
  ], { leader: leaderKey("a"), status: { optime, slots: {}, retainSlots: [] } });
  const lines = renderList(v, "x", { format: "tsv", extended: false, layout: "lsn" }).split("\n");
  assert.equal(lines[2], "x\tb\th2\tReplica\trunning\t\t0/FF80000\t0\t0/FF7FFFF\t1");
  assert.equal(lines[3], "x\tc\th3\tReplica\tstreaming\t\tunknown\t\tunknown\t");
  assert.equal(lines[4], "x\td\th4\tReplica\trunning\t\t0/10000064\t0\t0/FB00000\t5");
});

Deno.test("a member reporting only xlog_location shows it under Receive when streaming, else Replay", () => {
  const v = view([
    member("a", { role: "primary" }),
    member("b", { conn_url: "postgres://h2/x", replication_state: "streaming", xlog_location: 0x3000000 }),
    member("c", { conn_url: "postgres://h3/x", xlog_location: 0x3000000 - 2 * MIB }),
  ], { leader: leaderKey("a"), status: { optime: 0x3000000, slots: {}, retainSlots: [] } });
  const lines = renderList(v, "x", { format: "tsv", extended: false, layout: "lsn" }).split("\n");
  assert.equal(lines[2], "x\tb\th2\tReplica\tstreaming\t\t0/3000000\t0\t\t");
  assert.equal(lines[3], "x\tc\th3\tReplica\trunning\t\t\t\t0/2E00000\t2");
});

Deno.test("renderList() -e appends the optional columns even when empty", () => {
  const lines = renderList(batman(), "batman", { format: "pretty", extended: true, layout: "lsn" }).split(
    "\n",
  );
  assert.equal(
    lines[1],
    "| Member      | Host           | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag " +
      "| Pending restart | Pending restart reason | Scheduled restart | Tags |",
  );
  assert.equal(
    lines[3],
    "| postgresql0 | 127.0.0.1:5432 | Leader  | running   |  5 |             |     |            |     " +
      "|                 |                        |                   |      |",
  );
  assert.equal(lines.length, 7);
  const tsvHeader =
    renderList(batman(), "batman", { format: "tsv", extended: true, layout: "lsn" }).split("\n")[0];
  assert.equal(
    tsvHeader?.endsWith("Replay Lag\tPending restart\tPending restart reason\tScheduled restart\tTags"),
    true,
  );
});

Deno.test("tags add the Tags column: YAML block in pretty (rules between rows), flow in tsv, raw in json", () => {
  const v = batman({}, { tags: { nofailover: true, clonefrom: true } });
  const rule =
    "+-------------+----------------+---------+-----------+----+-------------+-----+------------+-----+" +
    "------------------+";
  assert.equal(
    renderList(v, "batman", pretty),
    [
      "+ Cluster: batman (7277694203142172922) -+-----------+----+-------------+-----+------------+-----+" +
      "------------------+",
      "| Member      | Host           | Role    | State     | TL | Receive LSN | Lag | Replay LSN | Lag " +
      "| Tags             |",
      rule,
      "| postgresql0 | 127.0.0.1:5432 | Leader  | running   |  5 |             |     |            |     " +
      "|                  |",
      rule,
      "| postgresql1 | 127.0.0.1:5433 | Replica | streaming |  5 |   0/40004E8 |   0 |  0/40004E8 |   0 " +
      "| clonefrom: true  |",
      "|             |                |         |           |    |             |     |            |     " +
      "| nofailover: true |",
      rule,
      "",
    ].join("\n"),
  );
  const tsv = renderList(v, "batman", { format: "tsv", extended: false, layout: "lsn" }).split("\n");
  assert.equal(tsv[2]?.split("\t").at(-1), "{clonefrom: true, nofailover: true}");
  const json = JSON.parse(renderList(v, "batman", { format: "json", extended: false, layout: "lsn" }));
  assert.deepEqual(json[1].Tags, { nofailover: true, clonefrom: true });
  assert.equal("Tags" in json[0], false);
});

Deno.test("pending restart columns: '*', reasons one per line, long ones hidden in pretty only", () => {
  const longValue = "x".repeat(60);
  const v = batman({}, {
    pending_restart: true,
    pending_restart_reason: {
      max_connections: { old_value: "100", new_value: "200" },
      shared_preload_libraries: { old_value: "", new_value: longValue },
    },
    scheduled_restart: { schedule: "2024-05-01T10:00:00+00:00", postgres_version: "16.1" },
  });
  const lines = renderList(v, "batman", pretty).split("\n");
  assert.match(lines[1]!, /\| Pending restart \| Pending restart reason +\| Scheduled restart +\|$/);
  assert.match(
    lines[5]!,
    /\| \* +\| max_connections: 100->200 +\| 2024-05-01T10:00:00\+00:00 if version < 16\.1 \|$/,
  );
  assert.match(lines[6]!, /\| +\| shared_preload_libraries: \[hidden - too long\] \| +\|$/);
  const tsv = renderList(v, "batman", { format: "tsv", extended: false, layout: "lsn" });
  assert.equal(tsv.includes(`shared_preload_libraries: ->${longValue}`), true);
});

Deno.test("pretty footer: maintenance mode and a scheduled switchover with aligned from/to", () => {
  const v = batman({
    config: { value: { pause: true }, modRevision: "2" },
    failover: {
      leader: "postgresql0",
      member: "postgresql1",
      scheduledAt: "2024-05-01T10:00:00+00:00",
      modRevision: "3",
    },
  });
  const lines = renderList(v, "batman", pretty).split("\n");
  assert.deepEqual(lines.slice(6), [
    " Maintenance mode: on",
    " Switchover scheduled at: 2024-05-01T10:00:00+00:00",
    "                    from: postgresql0",
    "                      to: postgresql1",
    "",
  ]);
  assert.equal(
    renderList(v, "batman", { format: "tsv", extended: false, layout: "lsn" }).includes("Maintenance"),
    false,
  );
});

Deno.test("roles: sync and quorum standbys need synchronous_mode; standby_leader in a standby cluster", () => {
  const sync = { leader: "pg1", syncStandby: ["PG2"], quorum: 0, modRevision: "4" };
  assert.deepEqual(clusterMembers(demo({ sync })).map((m) => m.role), ["leader", "replica", "replica"]);
  const syncOn = demo({ sync, config: { value: { synchronous_mode: true }, modRevision: "1" } });
  assert.deepEqual(clusterMembers(syncOn).map((m) => m.role), ["leader", "sync_standby", "replica"]);
  assert.match(renderList(syncOn, "demo", pretty), /\| pg2 +\| 10\.0\.0\.2 \| Sync Standby \| streaming \|/);
  const quorum = demo({ sync, config: { value: { synchronous_mode: "quorum" }, modRevision: "1" } });
  assert.equal(clusterMembers(quorum)[1]?.role, "quorum_standby");
  const staleSync = demo({
    sync: { ...sync, leader: "pg3" },
    config: { value: { synchronous_mode: true }, modRevision: "1" },
  });
  assert.equal(
    clusterMembers(staleSync)[1]?.role,
    "replica",
    "a sync key written by a former leader claims nothing",
  );
  // A leader whose Postgres is a primary (a cluster being demoted) is the leader until it has stopped.
  const standby = demo({ config: { value: { standby_cluster: { host: "x" } }, modRevision: "1" } });
  assert.equal(clusterMembers(standby)[0]?.role, "leader");
  standby.members = standby.members.map((m) =>
    m.name === "pg1" ? { ...m, data: { ...m.data, role: "standby_leader" } } : m
  );
  assert.equal(clusterMembers(standby)[0]?.role, "standby_leader");
  assert.match(renderList(standby, "demo", pretty), /\| Standby Leader \|/);
});

Deno.test("clusterMembers() builds /cluster objects: sorted, host/port, state, LSNs and byte lags", () => {
  const rows = clusterMembers(batman());
  assert.deepEqual(rows, [
    {
      name: "postgresql0",
      role: "leader",
      state: "running",
      api_url: "http://127.0.0.1:8008/patroni",
      host: "127.0.0.1",
      port: 5432,
      timeline: 5,
    },
    {
      name: "postgresql1",
      role: "replica",
      state: "streaming",
      api_url: "http://127.0.0.1:8009/patroni",
      host: "127.0.0.1",
      port: 5433,
      timeline: 5,
      receive_lsn: "0/40004E8",
      receive_lag: 0,
      replay_lsn: "0/40004E8",
      replay_lag: 0,
      lsn: "0/40004E8",
      lag: 0,
    },
  ]);
  const doc = clusterAsJson(batman({ config: { value: { pause: true }, modRevision: "1" } }), "batman");
  assert.equal(doc.scope, "batman");
  assert.equal(doc.pause, true);
  assert.equal(doc.scheduled_switchover, undefined);
});

Deno.test("parseConnUrl() takes host and port, strips IPv6 brackets, leaves port out when absent", () => {
  assert.deepEqual(parseConnUrl("postgres://127.0.0.1:5433/postgres"), { host: "127.0.0.1", port: 5433 });
  assert.deepEqual(parseConnUrl("postgresql://u@[::1]:5432/db"), { host: "::1", port: 5432 });
  assert.deepEqual(parseConnUrl("postgres://db1/postgres"), { host: "db1" });
  assert.deepEqual(parseConnUrl(undefined), {});
});

Deno.test("hosts repeat on 5432 -> host:port for every member", () => {
  const v = view([member("a", { role: "primary" }), member("b", {})], { leader: leaderKey("a") });
  const lines = renderList(v, "x", { format: "tsv", extended: false, layout: "lsn" }).split("\n");
  assert.equal(lines[1]?.split("\t")[2], "127.0.0.1:5432");
});

Deno.test("topology orders the tree by replicatefrom and indents names", () => {
  const v = view([
    member("pg1", { role: "primary", conn_url: "postgres://h1:5432/p" }),
    member("pg2", { conn_url: "postgres://h2:5432/p", replication_state: "streaming" }),
    member("pg3", { conn_url: "postgres://h3:5432/p", tags: { replicatefrom: "pg2" } }),
    member("pg4", { conn_url: "postgres://h4:5432/p" }),
  ], { leader: leaderKey("pg1"), status: { optime: 0, slots: {}, retainSlots: [] } });
  const lines = renderList(v, "x", { format: "topology", extended: false, layout: "lsn" }).split("\n");
  assert.deepEqual(lines.slice(3, 7).map((l) => l.split("|")[1]), [
    " pg1     ",
    " + pg2   ",
    "   + pg3 ",
    " + pg4   ",
  ]);
  assert.match(lines[5]!, /\| \{replicatefrom: pg2\} \|$/);
});

Deno.test("pythonJson() matches json.dumps separators and ensure_ascii", () => {
  assert.equal(pythonJson([{ a: "é", b: [1, true, null] }]), '[{"a": "\\u00e9", "b": [1, true, null]}]');
});

Deno.test("renderList() default layout is Patroni 3.0's: TL and a right-aligned 'Lag in MB'", () => {
  const text = renderList(demo(), "demo", { format: "pretty", extended: false });
  const lines = text.split("\n");
  assert.match(lines[1]!, /^\| Member +\| Host +\| Role +\| State +\| TL \| Lag in MB \|$/);
  assert.ok(lines[0]!.startsWith("+ Cluster: demo -"), lines[0]);
  const leader = lines.find((l) => l.includes("| Leader "))!;
  assert.match(leader, /\|\s+\|$/, "the leader's lag is blank");
  const replica = lines.find((l) => l.includes("| Replica "))!;
  assert.match(replica, /\| +\d+ \|$/, "a replica's lag is a right-aligned number");
  const json = JSON.parse(renderList(demo(), "demo", { format: "json", extended: false }));
  assert.deepEqual(Object.keys(json[1]).sort(), [
    "Cluster",
    "Host",
    "Lag in MB",
    "Member",
    "Role",
    "State",
    "TL",
  ]);
  assert.ok(!("Lag in MB" in json.find((r: Record<string, unknown>) => r.Role === "Leader")));
});

Deno.test("renderList() default layout prints what Debian's patronictl 3.0.2 printed for the same cluster", () => {
  // Captured from `patronictl -c pg1.yml list` / `list -e` / `topology` against a hactl cluster (3 members).
  const optime = 0x3000060;
  const m = (n: number, data: Partial<MemberRecord>) =>
    member(`pg${n}`, { conn_url: `postgres://127.0.0.1:${28174 + n}/postgres`, timeline: 1, ...data });
  const v = view([
    m(1, { role: "primary", xlog_location: optime }),
    m(2, { replication_state: "streaming", xlog_location: optime, receive_lsn: optime, replay_lsn: optime }),
    m(3, { replication_state: "streaming", xlog_location: optime, receive_lsn: optime, replay_lsn: optime }),
  ], {
    leader: leaderKey("pg1"),
    initialize: "7712492601064360792",
    status: { optime, slots: {}, retainSlots: [] },
  });
  assert.equal(
    renderList(v, "cmp", { format: "pretty", extended: false }),
    [
      "+ Cluster: cmp ------------+---------+---------+----+-----------+",
      "| Member | Host            | Role    | State   | TL | Lag in MB |",
      "+--------+-----------------+---------+---------+----+-----------+",
      "| pg1    | 127.0.0.1:28175 | Leader  | running |  1 |           |",
      "| pg2    | 127.0.0.1:28176 | Replica | running |  1 |         0 |",
      "| pg3    | 127.0.0.1:28177 | Replica | running |  1 |         0 |",
      "+--------+-----------------+---------+---------+----+-----------+",
      "",
    ].join("\n"),
  );
  assert.equal(
    renderList(v, "cmp", { format: "pretty", extended: true }).split("\n")[1],
    "| Member | Host            | Role    | State   | TL | Lag in MB | Pending restart | Scheduled restart | Tags |",
  );
  assert.equal(
    renderList(v, "cmp", { format: "topology", extended: false }).split("\n").slice(3, 6).join("\n"),
    [
      "| pg1    | 127.0.0.1:28175 | Leader  | running |  1 |           |",
      "| + pg2  | 127.0.0.1:28176 | Replica | running |  1 |         0 |",
      "| + pg3  | 127.0.0.1:28177 | Replica | running |  1 |         0 |",
    ].join("\n"),
  );
  assert.equal(
    renderList(v, "cmp", { format: "tsv", extended: false }).split("\n")[2],
    "cmp\tpg2\t127.0.0.1:28176\tReplica\trunning\t1\t0",
  );
});
