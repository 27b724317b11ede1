/**
 * `hactl list` / `hactl topology` driven in-process with fake dependencies (no etcd): argument handling,
 * exit codes, error wording, the watch loop and the timestamp line.
 *
 * @module
 */
import assert from "node:assert/strict";
import { run, runTopology } from "../../cli/list.ts";
import type { ListDeps } from "../../cli/list.ts";
import { CtlError } from "../../cli/lib/config.ts";
import type { ClusterView } from "../../src/core/types.ts";

function clusterOf(scope: string): ClusterView {
  return {
    initialize: "7000000000000000001",
    config: { value: {}, modRevision: "1" },
    leader: { name: `${scope}-1`, createRevision: "2", modRevision: "2", lease: "7" },
    members: [{
      name: `${scope}-1`,
      data: {
        conn_url: "postgres://127.0.0.1:5432/postgres",
        api_url: "http://127.0.0.1:8008/patroni",
        state: "running",
        role: "primary",
        version: "0.1.0",
        timeline: 1,
      },
      modRevision: "3",
      lease: "7",
    }],
    status: null,
    failover: null,
    sync: null,
    history: null,
    revision: "9",
    problems: [],
  };
}

function fakeDeps(overrides: Partial<ListDeps> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const loaded: string[] = [];
  const sleeps: number[] = [];
  const deps: ListDeps = {
    loadCluster: (settings, scope) => {
      loaded.push(`${settings.etcd3?.hosts.join(",")}${settings.namespace}${scope}`);
      return Promise.resolve(clusterOf(scope));
    },
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    sleep: (ms) => {
      sleeps.push(ms);
      return sleeps.length >= 2 ? Promise.reject(new CtlError("interrupted")) : Promise.resolve();
    },
    now: () => new Date(2024, 4, 1, 9, 8, 7, 65),
    isTerminal: () => true,
    ...overrides,
  };
  return { deps, out, err, loaded, sleeps };
}

const ENV = { PATRONI_SCOPE: "batman", PATRONI_ETCD3_HOSTS: "127.0.0.1:2379" };

Deno.test("list prints the scope's table from the environment's etcd and exits 0", async () => {
  const f = fakeDeps();
  assert.equal(await run([], ENV, f.deps), 0);
  assert.deepEqual(f.loaded, ["http://127.0.0.1:2379/service/batman"]);
  assert.match(f.out.join(""), /^\+ Cluster: batman -/);
  assert.deepEqual(f.err, []);
  const lsn = fakeDeps();
  assert.equal(await run(["--lsn"], ENV, lsn.deps), 0);
  assert.match(lsn.out.join(""), /^\+ Cluster: batman \(7000000000000000001\) /);
});

Deno.test("list CLUSTER_NAME... lists each named cluster; --dcs-url picks etcd and namespace", async () => {
  const f = fakeDeps();
  assert.equal(await run(["a", "b", "--dcs-url", "etcd3://e:2400/ns", "-f", "tsv"], {}, f.deps), 0);
  assert.deepEqual(f.loaded, ["http://e:2400/ns/a", "http://e:2400/ns/b"]);
  const lines = f.out.join("").split("\n");
  assert.equal(lines[1], "a\ta-1\t127.0.0.1\tLeader\trunning\t1\t");
  assert.equal(lines[3], "b\tb-1\t127.0.0.1\tLeader\trunning\t1\t");
});

Deno.test("list without any cluster name warns and exits 0", async () => {
  const f = fakeDeps();
  assert.equal(await run([], { PATRONI_ETCD3_HOSTS: "h:2379" }, f.deps), 0);
  assert.equal(
    f.err.join(""),
    "2024-05-01 09:08:07,065 - WARNING - Listing members: No cluster names were provided\n",
  );
});

Deno.test("usage errors exit 2 with click's wording", async () => {
  const f = fakeDeps();
  assert.equal(await run(["--bogus"], ENV, f.deps), 2);
  assert.match(f.err.join(""), /Try 'hactl list --help' for help\.\n\nError: No such option: --bogus\n$/);
  const g = fakeDeps();
  assert.equal(await run(["-f", "xml"], ENV, g.deps), 2);
  assert.match(g.err.join(""), /'xml' is not one of 'pretty', 'tsv', 'json', 'yaml', 'yml'/);
  const h = fakeDeps();
  assert.equal(await run(["-w", "soon"], ENV, h.deps), 2);
  assert.equal(await runTopology(["-e"], ENV, fakeDeps().deps), 2);
});

Deno.test("failures print Error: <message> and exit 1", async () => {
  const f = fakeDeps({
    loadCluster: () => Promise.reject(new CtlError("cannot reach etcd at http://127.0.0.1:2379: timeout")),
  });
  assert.equal(await run([], ENV, f.deps), 1);
  assert.equal(f.err.join(""), "Error: cannot reach etcd at http://127.0.0.1:2379: timeout\n");
  const g = fakeDeps();
  assert.equal(await run(["-c", "/nonexistent.yml"], {}, g.deps), 1);
  assert.match(g.err.join(""), /^Error: Provided config file \/nonexistent\.yml not existing/);
  const h = fakeDeps();
  assert.equal(await run([], { PATRONI_SCOPE: "x" }, h.deps), 1);
  assert.match(
    h.err.join(""),
    /^Error: Can not find suitable configuration of distributed configuration store/,
  );
});

Deno.test("-W refreshes every 2 s, clearing the screen, with a timestamp line when -t", async () => {
  const f = fakeDeps();
  assert.equal(await run(["-W", "-t", "-f", "json"], ENV, f.deps), 1);
  assert.deepEqual(f.sleeps, [2000, 2000]);
  assert.deepEqual(f.out.filter((t) => t === "\x1b[2J\x1b[1;1H").length, 2);
  const tables = f.out.filter((t) => t.startsWith("2024-05-01 09:08:07\n[{"));
  assert.equal(tables.length, 2);
  const g = fakeDeps();
  await run(["-w", "0.5"], ENV, g.deps);
  assert.deepEqual(g.sleeps, [500, 500]);
});

Deno.test("topology uses the pretty table; --help documents every option", async () => {
  const f = fakeDeps();
  assert.equal(await runTopology([], ENV, f.deps), 0);
  assert.match(f.out.join(""), /\| batman-1 \| 127\.0\.0\.1 \| Leader \|/);
  const h = fakeDeps();
  assert.equal(await run(["--help"], {}, h.deps), 0);
  for (
    const opt of ["--config-file", "--dcs-url", "--extended", "--timestamp", "--format", "-W", "--watch"]
  ) {
    assert.equal(h.out.join("").includes(opt), true, opt);
  }
});
