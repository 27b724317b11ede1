/**
 * The patronictl-style commands against a live cluster (real etcd, real agents and PostgreSQL), run as the real
 * binary with answers on stdin: `dsn`, `query` (leader and replica, autocommit, SQLSTATE rows), `edit-config`
 * (the agents see the change), `topology`, `version`, and `remove` (the three questions; a wrong answer deletes nothing) on
 * a second cluster in the same etcd. One 3-member cluster for the whole file.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { formCluster } from "../helpers/cluster.ts";
import { LOCAL_SECRETS, mainModule, waitFor } from "../../scripts/lib/local_cluster.ts";

async function hactl(
  args: string[],
  opts: { stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(opts.stdin ?? ""));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name: "dsn, query, edit-config, topology, version and remove work against a live cluster",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 20, loopWait: 2, retryTimeout: 5 }, "ctltest");
    const cfg = c.members[0]!.configPath;
    const pgEnv = { PGPASSWORD: LOCAL_SECRETS.superuser.password, PGUSER: LOCAL_SECRETS.superuser.username };
    try {
      // dsn: the leader by default, a replica by role, a member by name.
      const leaderDsn = await hactl(["-c", cfg, "dsn"]);
      assert.deepEqual([leaderDsn.code, leaderDsn.stdout], [0, `host=127.0.0.1 port=${c.leader.pgPort}\n`]);
      const replicaDsn = await hactl(["dsn", "-c", cfg, "-r", "replica"]);
      assert.ok(
        c.replicas.some((r) => replicaDsn.stdout === `host=127.0.0.1 port=${r.pgPort}\n`),
        replicaDsn.stdout,
      );

      // query: on the leader (autocommit: the table exists afterwards), then on a replica.
      const create = await hactl(
        [
          "query",
          "--config-file",
          cfg,
          "-d",
          "postgres",
          "-c",
          "CREATE TABLE ctl_t(x int); INSERT INTO ctl_t VALUES (7)",
        ],
        { env: pgEnv },
      );
      assert.deepEqual([create.code, create.stdout, create.stderr], [0, "", ""]);
      await waitFor("the row replicated", 20_000, async () => {
        const r = await hactl(
          [
            "query",
            "--config-file",
            cfg,
            "-d",
            "postgres",
            "-r",
            "replica",
            "-c",
            "SELECT x, pg_is_in_recovery() FROM ctl_t",
          ],
          { env: pgEnv },
        );
        return r.stdout === "x\tpg_is_in_recovery\n7\tTrue\n" ? r : { notYet: r.stdout + r.stderr };
      });
      const denied = await hactl(["query", "--config-file", cfg, "-U", "nobody", "-c", "SELECT 1"], {
        env: { PGPASSWORD: "wrong" },
      });
      assert.equal(denied.code, 0);
      assert.match(denied.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\tERROR, SQLSTATE: 28P01\n$/);
      assert.ok(!denied.stdout.includes("wrong"));

      // edit-config: a diff, the confirmation answered on stdin, the write; the agents read it.
      const edit = await hactl(["edit-config", "-c", cfg, "-s", "maximum_lag_on_failover=2097152"], {
        stdin: "y\n",
      });
      assert.equal(edit.code, 0, edit.stderr);
      assert.match(edit.stdout, /^--- \n\+\+\+ \n@@ .* @@\n/);
      assert.match(edit.stdout, /-maximum_lag_on_failover: 1048576\n\+maximum_lag_on_failover: 2097152\n/);
      assert.match(edit.stdout, /Apply these changes\? \[y\/N\]: Configuration changed\n$/);
      const seen = await fetch(`http://127.0.0.1:${c.replicas[0]!.apiPort}/config`);
      assert.equal((await seen.json()).maximum_lag_on_failover, 2097152);
      const piped = await hactl(["edit-config", "-c", cfg, "--apply", "-"], {
        stdin: "maximum_lag_on_failover: null\n",
      });
      assert.match(piped.stdout, /Use --force option to apply changes\n$/);
      const forced = await hactl(["edit-config", "-c", cfg, "-q", "--force", "--apply", "-"], {
        stdin: "maximum_lag_on_failover: null\n",
      });
      assert.deepEqual([forced.code, forced.stdout], [0, "Configuration changed\n"]);
      // Without -s/-p/--apply the editor runs on the YAML ($EDITOR may carry arguments); its failure is reported.
      const edited = await hactl(["edit-config", "-c", cfg, "--force"], {
        env: { EDITOR: "sed -i 's/^loop_wait: 2$/loop_wait: 3/'" },
      });
      assert.equal(edited.code, 0, edited.stderr);
      assert.match(edited.stdout, /-loop_wait: 2\n\+loop_wait: 3\n[^]*Configuration changed\n$/);
      const failing = await hactl(["edit-config", "-c", cfg, "--force"], { env: { EDITOR: "false" } });
      assert.deepEqual([failing.code, failing.stderr], [1, "Error: Editor exited with return code 1\n"]);
      const shown = await hactl(["show-config", "-c", cfg]);
      assert.ok(!shown.stdout.includes("maximum_lag_on_failover"), shown.stdout);
      assert.match(shown.stdout, /^loop_wait: 3$/m);

      // topology: the leader first, the replicas indented under it.
      const topo = await hactl(["topology", "-c", cfg]);
      const rows = topo.stdout.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| Member"));
      assert.equal(rows.length, 3, topo.stdout);
      assert.ok(rows[0]!.startsWith(`| ${c.leader.name} `), topo.stdout);
      assert.ok(rows.slice(1).every((r) => r.startsWith("| + pg")), topo.stdout);

      // remove, on a second cluster in the same etcd: a wrong answer deletes nothing, the right ones everything.
      const etcd = new Etcd3({ hosts: c.etcd.endpoints });
      try {
        await etcd.put("/service/gone/leader").value("g1");
        await etcd.put("/service/gone/members/g1").value(
          JSON.stringify({
            conn_url: "postgres://127.0.0.1:1/postgres",
            api_url: "http://127.0.0.1:1/patroni",
            state: "running",
            role: "primary",
          }),
        );
        await etcd.put("/service/gone/config").value("{}");
        await etcd.put("/service/gone2/config").value("{}"); // a neighbour sharing the prefix text
        const wrong = await hactl(["remove", "-c", cfg, "gone"], { stdin: "gone\nYes I am aware\ng2\n" });
        assert.deepEqual([wrong.code, wrong.stderr], [
          1,
          "Error: You did not specify the current leader of the cluster\n",
        ]);
        assert.equal((await etcd.getAll().prefix("/service/gone/").keys()).length, 3);
        const eof = await hactl(["remove", "-c", cfg, "gone"], { stdin: "gone\n" });
        assert.deepEqual([eof.code, eof.stderr], [1, "Aborted!\n"]);
        const ok = await hactl(["remove", "-c", cfg, "gone"], { stdin: "gone\nYes I am aware\ng1\n" });
        assert.equal(ok.code, 0, ok.stderr);
        assert.deepEqual(await etcd.getAll().prefix("/service/gone/").keys(), []);
        assert.equal(await etcd.get("/service/gone2/config").string(), "{}");
      } finally {
        etcd.close();
      }
      // switchover answered on stdin: defaults for leader, candidate and time, then "no".
      const declined = await hactl(["switchover", "-c", cfg], { stdin: "\n\n\nn\n" });
      assert.equal(declined.code, 1, declined.stdout + declined.stderr);
      assert.equal(declined.stderr, "Error: Aborting switchover\n");
      assert.match(
        declined.stdout,
        new RegExp(`Primary \\[${c.leader.name}\\]: Candidate \\['pg\\d', 'pg\\d'\\] \\[\\]: `),
      );
      assert.match(
        declined.stdout,
        /When should the switchover take place \(e\.g\. [0-9T:-]+ \) {2}\[now\]: /,
      );
      assert.match(
        declined.stdout,
        /Are you sure you want to switchover cluster ctltest, demoting current leader pg\d\? \[y\/N\]: $/,
      );

      // version: every member's agent and PostgreSQL version through its REST API.
      const ver = await hactl(["version", "-c", cfg, "ctltest"]);
      const verLines = ver.stdout.split("\n").filter((l) => /^pg\d: /.test(l));
      assert.equal(verLines.length, 3, ver.stdout);
      for (const l of verLines) assert.match(l, /^pg\d: hactl \d+\.\d+\.\d+ PostgreSQL 15\.\d+$/);
      // The live cluster was not touched.
      const list = await hactl(["list", "-c", cfg, "-f", "json"]);
      assert.equal(JSON.parse(list.stdout).length, 3);

      // A real switchover with --wait: the steps as they happen, then the table read after it, exit 0.
      const candidate = c.replicas[0]!.name;
      const moved = await hactl(["switchover", "-c", cfg, "--candidate", candidate, "--force", "--wait"]);
      assert.equal(moved.code, 0, moved.stdout + moved.stderr);
      assert.match(
        moved.stdout,
        /Waiting up to 120 s for the switchover: new leader writable, pg\d streaming from it\n/,
      );
      assert.match(
        moved.stdout,
        new RegExp(`^\\d\\d:\\d\\d:\\d\\d leader ${candidate}; ${candidate} primary running; `, "m"),
      );
      assert.match(moved.stdout, /Switchover completed in \d+\.\d s\n/);
      const after = moved.stdout.slice(moved.stdout.indexOf("Switchover completed"));
      assert.match(after, new RegExp(`\\| ${candidate} +\\| [^|]+\\| Leader `));
      assert.match(after, new RegExp(`\\| ${c.leader.name} +\\| [^|]+\\| Replica `));
    } catch (err) {
      await c.dumpLogs("ctl");
      throw err;
    }
  },
});
