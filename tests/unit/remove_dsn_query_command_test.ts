/**
 * `hactl remove`, `hactl dsn` and `hactl query` with the world replaced (in-process). The exit codes and messages
 * of the real binary for these commands are in tests/cli/ctl_usage_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type RemoveDeps, run as remove } from "../../cli/remove.ts";
import { type DsnDeps, run as dsn } from "../../cli/dsn.ts";
import { formatRows, type QueryDeps, run as query } from "../../cli/query.ts";
import { scriptedAsker } from "../../cli/lib/prompt.ts";
import type { ClusterView, Member } from "../../src/core/types.ts";
import { HACTL_COMMIT, HACTL_VERSION, PATRONI_COMPATIBLE_VERSION } from "../../src/core/version.ts";

function member(name: string, role: string, port: number): Member {
  return {
    name,
    data: {
      conn_url: `postgres://10.0.0.${name.slice(2)}:${port}/postgres`,
      api_url: `http://10.0.0.${name.slice(2)}:8008/patroni`,
      state: "running",
      role,
      version: "0",
    },
    modRevision: "1",
    lease: "1",
  };
}

function view(leader: string | null = "pg1"): ClusterView {
  return {
    initialize: "7393828465826342947",
    config: null,
    leader: leader ? { name: leader, createRevision: "1", modRevision: "1", lease: "1" } : null,
    members: [member("pg1", "primary", 5432), member("pg2", "replica", 5433), member("pg3", "replica", 5434)],
    status: null,
    failover: null,
    sync: null,
    history: [],
    revision: "1",
    problems: [],
  };
}

const ENV = { PATRONI_SCOPE: "batman", PATRONI_ETCD3_HOSTS: "127.0.0.1:2379" };

// ---------------------------------------------------------------------------------------------------------------
// remove

function removeFake(answers: string[], leader: string | null = "pg1") {
  const out: string[] = [];
  const err: string[] = [];
  const deleted: string[] = [];
  const deps: RemoveDeps = {
    loadCluster: (_s, scope) => Promise.resolve({ ...view(leader), revision: scope }),
    deleteCluster: (_s, scope) => Promise.resolve(deleted.push(scope)),
    asker: () => scriptedAsker(answers, (t) => out.push(t)),
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  };
  return { deps, out, err, deleted };
}

Deno.test("remove asks for the cluster name, 'Yes I am aware' and the leader, then deletes the cluster", async () => {
  const f = removeFake(["batman", "Yes I am aware", "pg1"]);
  assert.equal(await remove(["batman"], ENV, f.deps), 0);
  assert.deepEqual(f.deleted, ["batman"]);
  const text = f.out.join("");
  assert.match(text, /^\+ Cluster: batman -+\+/);
  assert.ok(
    text.endsWith(
      "Please confirm the cluster name to remove: " +
        'You are about to remove all information in DCS for batman, please type: "Yes I am aware": ' +
        "This cluster currently is healthy. Please specify the leader name to continue: ",
    ),
    text,
  );
});

Deno.test("remove without a leader does not ask for one", async () => {
  const f = removeFake(["batman", "Yes I am aware"], null);
  assert.equal(await remove(["batman", "-f", "json"], ENV, f.deps), 0);
  assert.deepEqual(f.deleted, ["batman"]);
  assert.match(f.out.join(""), /^\[\{"Cluster": "batman"/);
});

Deno.test("remove refuses any wrong answer with patronictl's message and deletes nothing", async () => {
  const cases: [string[], string][] = [
    [["robin"], "Error: Cluster names specified do not match\n"],
    [["batman", "yes i am aware"], 'Error: You did not exactly type "Yes I am aware"\n'],
    [["batman", "Yes I am aware", "pg2"], "Error: You did not specify the current leader of the cluster\n"],
    [["batman"], "Aborted!\n"],
  ];
  for (const [answers, message] of cases) {
    const f = removeFake(answers);
    assert.equal(await remove(["batman"], ENV, f.deps), 1, answers.join("/"));
    assert.equal(f.err.join(""), message);
    assert.deepEqual(f.deleted, []);
  }
});

Deno.test("remove needs the cluster name and a known format (usage errors, exit 2)", async () => {
  const f = removeFake([]);
  assert.equal(await remove([], ENV, f.deps), 2);
  assert.match(f.err.join(""), /Error: Missing argument 'CLUSTER_NAME'\.\n$/);
  const g = removeFake([]);
  assert.equal(await remove(["batman", "-f", "xml"], ENV, g.deps), 2);
  assert.match(g.err.join(""), /'xml' is not one of 'pretty', 'tsv', 'json', 'yaml', 'yml'/);
  assert.deepEqual([...f.deleted, ...g.deleted], []);
});

Deno.test("remove refuses an empty cluster name or one with '/' before asking anything (it would name a wider prefix)", async () => {
  for (const name of ["/", "", "a/b", "batman/"]) {
    const f = removeFake([name, "Yes I am aware", "pg1"]);
    assert.equal(await remove([name], ENV, f.deps), 1, name);
    assert.equal(
      f.err.join(""),
      `Error: invalid cluster name '${name}': a cluster name must not be empty or contain '/'\n`,
    );
    assert.deepEqual(f.deleted, []);
    assert.equal(f.out.join(""), "", "nothing listed, nothing asked");
  }
});

// ---------------------------------------------------------------------------------------------------------------
// dsn

function dsnFake(v = view()) {
  const out: string[] = [];
  const err: string[] = [];
  const deps: DsnDeps = {
    loadCluster: () => Promise.resolve(v),
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  };
  return { deps, out, err };
}

Deno.test("dsn prints host and port of the leader, a role or a member", async () => {
  const cases: [string[], string][] = [
    [[], "host=10.0.0.1 port=5432\n"],
    [["-r", "primary"], "host=10.0.0.1 port=5432\n"],
    [["-r", "replica"], "host=10.0.0.2 port=5433\n"],
    [["--role", "any"], "host=10.0.0.1 port=5432\n"],
    [["-m", "pg3"], "host=10.0.0.3 port=5434\n"],
  ];
  for (const [args, expected] of cases) {
    const f = dsnFake();
    assert.equal(await dsn(args, ENV, f.deps), 0, args.join(" "));
    assert.equal(f.out.join(""), expected);
  }
});

Deno.test("dsn errors: no such member or role holder (exit 1), both -r and -m (exit 1), a bad role (exit 2)", async () => {
  const none = dsnFake();
  assert.equal(await dsn(["-m", "pg9"], ENV, none.deps), 1);
  assert.equal(none.err.join(""), "Error: Can not find a suitable member\n");
  const standby = dsnFake();
  assert.equal(await dsn(["-r", "standby-leader"], ENV, standby.deps), 1);
  assert.equal(standby.err.join(""), "Error: Can not find a suitable member\n");
  const leaderless = dsnFake(view(null));
  assert.equal(await dsn([], ENV, leaderless.deps), 1);
  const both = dsnFake();
  assert.equal(await dsn(["-r", "replica", "-m", "pg2"], ENV, both.deps), 1);
  assert.equal(both.err.join(""), "Error: --role and --member are mutually exclusive options\n");
  const bad = dsnFake();
  assert.equal(await dsn(["-r", "boss"], ENV, bad.deps), 2);
  assert.match(
    bad.err.join(""),
    /Invalid value for '--role' \/ '-r': 'boss' is not one of 'leader', 'primary'/,
  );
});

// ---------------------------------------------------------------------------------------------------------------
// query

function queryFake(opts: { inRecovery?: Record<string, boolean>; fail?: Error; password?: string } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const connects: Record<string, unknown>[] = [];
  const statements: string[] = [];
  let closed = 0;
  let sleeps = 0;
  const deps: QueryDeps = {
    loadCluster: () => Promise.resolve(view()),
    connect: (params) => {
      connects.push({ ...params });
      if (opts.fail) return Promise.reject(opts.fail);
      return Promise.resolve({
        query: (text: string) => {
          statements.push(text);
          if (text.includes("pg_is_in_recovery")) {
            return Promise.resolve({
              columns: ["pg_is_in_recovery"],
              rows: [[opts.inRecovery?.[params.host] ?? params.host !== "10.0.0.1"]],
            });
          }
          return Promise.resolve({
            columns: ["name", "on", "n"],
            rows: [["pg", true, null], ["x", false, 2]],
          });
        },
        close: () => Promise.resolve(void closed++),
      });
    },
    readFile: (path) =>
      path === "q.sql" ? Promise.resolve("SELECT 2") : Promise.reject(new Error("No such file")),
    asker: () => scriptedAsker(opts.password !== undefined ? [opts.password] : [], (t) => out.push(t)),
    sleep: () => {
      sleeps++;
      return sleeps >= 2 ? Promise.reject(new Error("stop")) : Promise.resolve();
    },
    now: () => new Date(2024, 0, 2, 3, 4, 5),
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  };
  return { deps, out, err, connects, statements, closed: () => closed };
}

Deno.test("query runs the SQL on the leader and prints tsv with Python's value spelling", async () => {
  const f = queryFake();
  assert.equal(await query(["-c", "SELECT 1", "-U", "alice", "-d", "app"], ENV, f.deps), 0);
  assert.deepEqual(f.connects, [{ host: "10.0.0.1", port: 5432, user: "alice", dbname: "app" }]);
  assert.deepEqual(f.statements, ["SELECT 1"]);
  assert.equal(f.out.join(""), "name\ton\tn\npg\tTrue\tNone\nx\tFalse\t2\n");
  assert.equal(f.closed(), 1);
});

Deno.test("query -r replica checks pg_is_in_recovery(); a member that is not one gives patronictl's row", async () => {
  const ok = queryFake();
  assert.equal(await query(["-r", "replica", "-c", "SELECT 1", "--delimiter", ","], ENV, ok.deps), 0);
  assert.equal(ok.connects[0]!.host, "10.0.0.2");
  assert.deepEqual(ok.statements, ["SELECT pg_catalog.pg_is_in_recovery()", "SELECT 1"]);
  assert.equal(ok.out.join(""), "name,on,n\npg,True,None\nx,False,2\n");

  const promoted = queryFake({ inRecovery: { "10.0.0.2": false } });
  assert.equal(await query(["-r", "replica", "-c", "SELECT 1"], ENV, promoted.deps), 0);
  assert.equal(promoted.out.join(""), "2024-01-02 03:04:05\tNo connection to role replica is available\n");
  assert.deepEqual(promoted.statements, ["SELECT pg_catalog.pg_is_in_recovery()"]);

  const missing = queryFake();
  assert.equal(await query(["-m", "pg9", "-c", "SELECT 1"], ENV, missing.deps), 0);
  assert.equal(missing.out.join(""), "2024-01-02 03:04:05\tNo connection to member pg9 is available\n");
});

Deno.test("query prints an ERROR, SQLSTATE row when Postgres refuses, and keeps watching", async () => {
  const failure = Object.assign(new Error('password authentication failed for user "x"'), { code: "28P01" });
  const f = queryFake({ fail: failure });
  await assert.rejects(query(["-W", "-c", "SELECT 1"], ENV, f.deps), /stop/);
  assert.equal(f.out.join(""), "2024-01-02 03:04:05\tERROR, SQLSTATE: 28P01\n".repeat(2));
  assert.equal(f.connects.length, 2);
});

Deno.test("query -f FILE, --password asks without echo, formats, and the argument errors", async () => {
  const f = queryFake({ password: "s3cret" });
  assert.equal(await query(["-f", "q.sql", "--password", "--format", "json"], ENV, f.deps), 0);
  assert.deepEqual(f.statements, ["SELECT 2"]);
  assert.equal(f.connects[0]!.password, "s3cret");
  assert.equal(
    f.out.join(""),
    'Password: [{"name": "pg", "on": true, "n": null}, {"name": "x", "on": false, "n": 2}]\n',
  );
  const both = queryFake();
  assert.equal(await query(["-f", "q.sql", "-c", "SELECT 1"], ENV, both.deps), 1);
  assert.equal(both.err.join(""), "Error: --file and --command are mutually exclusive options\n");
  const neither = queryFake();
  assert.equal(await query([], ENV, neither.deps), 1);
  assert.equal(neither.err.join(""), "Error: You need to specify either --command or --file\n");
  const nofile = queryFake();
  assert.equal(await query(["-f", "nope.sql"], ENV, nofile.deps), 2);
  assert.match(nofile.err.join(""), /Invalid value for '--file' \/ '-f': 'nope.sql'/);
  assert.deepEqual([...both.connects, ...neither.connects, ...nofile.connects], []);
});

Deno.test("formatRows(): pretty table, yaml, error rows without columns, unknown formats print nothing", () => {
  assert.equal(
    formatRows(["a", "b"], [[1, "x"]], "pretty", "\t"),
    "+---+---+\n| a | b |\n+---+---+\n| 1 | x |\n+---+---+\n",
  );
  assert.equal(formatRows(["a"], [[1]], "yaml", "\t"), "- a: 1\n\n");
  assert.equal(formatRows(null, [["ts", "ERROR"]], "tsv", ";"), "ts;ERROR\n");
  assert.equal(formatRows(null, [["ts", "ERROR"]], "json", "\t"), "[{}]\n");
  assert.equal(formatRows(["a"], [[1]], "html", "\t"), "");
});

Deno.test("global options before the command move behind it, in their long form (patronictl's order)", async () => {
  const { hoistGlobalOptions } = await import("../../main.ts");
  assert.deepEqual(hoistGlobalOptions(["-c", "f.yml", "-k", "query", "-c", "SELECT 1"]), [
    "query",
    "-c",
    "SELECT 1",
    "--config-file",
    "f.yml",
    "--insecure",
  ]);
  assert.deepEqual(hoistGlobalOptions(["--dcs=etcd3://h:1", "list"]), ["list", "--dcs-url", "etcd3://h:1"]);
  assert.deepEqual(hoistGlobalOptions(["list", "-c", "f.yml"]), ["list", "-c", "f.yml"]);
  assert.deepEqual(hoistGlobalOptions(["-c", "f.yml"]), ["-c", "f.yml"]);
});

Deno.test("pgpassLookup() takes the first matching line, with * wildcards and escaped colons", async () => {
  const { pgpassLookup } = await import("../../cli/query.ts");
  const text = [
    "# comment",
    "10.0.0.9:5432:*:alice:other",
    "10.0.0.1:5432:app:alice:a\\:b\\\\c",
    "*:*:*:alice:fallback",
  ].join("\n");
  assert.equal(pgpassLookup(text, { host: "10.0.0.1", port: 5432, dbname: "app", user: "alice" }), "a:b\\c");
  assert.equal(pgpassLookup(text, { host: "10.0.0.2", port: 5433, dbname: "x", user: "alice" }), "fallback");
  assert.equal(pgpassLookup(text, { host: "10.0.0.1", port: 5432, dbname: "app", user: "bob" }), undefined);
});

Deno.test("version prints hactl's version, then each member's agent and PostgreSQL version", async () => {
  const { run: version, formatPgVersion } = await import("../../cli/version.ts");
  const out: string[] = [];
  const code = await version(["batman"], ENV, {
    loadCluster: () => Promise.resolve(view()),
    getStatus: (url) => {
      if (url.includes("10.0.0.3")) return Promise.reject(new Error("connection refused"));
      const hactlNode = url.includes("10.0.0.1");
      return Promise.resolve({
        body: {
          patroni: hactlNode ? { version: "3.3.11", hactl_version: "0.1.0" } : { version: "3.0.2" },
          server_version: hactlNode ? 150008 : 90624,
        },
        server: hactlNode ? "hactl/0.1.0" : "BaseHTTP/0.6 Python/3.11.2",
      });
    },
    out: (t) => out.push(t),
    err: (t) => out.push(t),
  });
  assert.equal(code, 0);
  const lines = out.join("").split("\n");
  assert.equal(
    lines[0],
    `hactl version ${HACTL_VERSION} (commit ${HACTL_COMMIT}, Patroni-compatible ${PATRONI_COMPATIBLE_VERSION})`,
  );
  assert.match(lines[1]!, /^deno \d+\.\d+\.\d+, v8 /);
  assert.deepEqual(lines.slice(2), [
    "",
    "pg1: hactl 0.1.0 PostgreSQL 15.8",
    "pg2: Patroni 3.0.2 PostgreSQL 9.6.24",
    "pg3: failed to get version: connection refused",
    "",
  ]);
  assert.equal(formatPgVersion(100000), "10.0");
});
