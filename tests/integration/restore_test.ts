/**
 * Restore and clone with pgBackRest, the real backup tool, configured through hactl's configuration only:
 *
 * - a one-member source cluster archives its WAL to a local pgBackRest repository (`archive_command`) and is
 *   backed up; rows are committed before and after a point in time;
 * - a new two-member cluster bootstraps with a custom `bootstrap.method` (`pgbackrest restore`, `no_params`) and
 *   `recovery_conf` with `recovery_target_time`: it holds exactly the rows committed before the target;
 * - its replica's `create_replica_methods: [pgbackrest, basebackup]`: while the repository has no backup of the new
 *   cluster, pgBackRest fails and pg_basebackup is the fallback; once there is one, `hactl reinit` creates the
 *   replica with pgBackRest (then streaming, with `postgresql.recovery_conf`'s `restore_command` for the WAL the
 *   backup needs); `POST /reinitialize` with `from_leader` uses pg_basebackup only;
 * - a custom bootstrap whose recovery cannot reach its target fails cleanly: the data directory is moved aside to
 *   `<data_dir>.failed`, the `initialize` key is released and no member leads.
 *
 * Runs as the `postgres` OS user (scripts/test.sh), which owns the temp dirs and the repository.
 *
 * @module
 */
import assert from "node:assert/strict";
import { TIMINGS } from "../../scripts/bench/failover.ts";
import { readHealth, spawnAgent, waitFor, withSql, writeLayout } from "../../scripts/lib/local_cluster.ts";
import type { LayoutOptions, MemberLayout } from "../../scripts/lib/local_cluster.ts";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import { startEtcd } from "../helpers/etcd.ts";
import {
  archiveTo as archiveVia,
  editYaml,
  pgbackrest,
  stanzaSection,
  writeRepoConf,
} from "../helpers/pgbackrest.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "../helpers/processes.ts";

const TIMING = TIMINGS.fast;

async function batches(m: MemberLayout): Promise<string> {
  return await withSql(m, async (sql) => {
    const rows = await sql`SELECT batch, count(*)::int AS n FROM t GROUP BY batch ORDER BY batch`;
    return rows.map((r) => `${r.batch}:${r.n}`).join(" ");
  });
}

async function logOf(m: MemberLayout): Promise<string> {
  return await Deno.readTextFile(m.logPath).catch(() => "");
}

/** Wait until `m`'s log has one more line containing `text` than `before`, and the member streams again. */
async function waitReplicaCreated(
  c: LocalCluster,
  m: MemberLayout,
  text: string,
  before: number,
): Promise<void> {
  await waitFor(`${m.name}: "${text}" and streaming`, 90_000, async () => {
    const n = (await logOf(m)).split(text).length - 1;
    const h = await readHealth(c.layout);
    return n > before && h.streaming.includes(m.name)
      ? true
      : { notYet: `${n} lines, streaming ${h.streaming}` };
  }, 250);
}

function count(text: string, what: string): number {
  return text.split(what).length - 1;
}

Deno.test({
  name:
    "restore: a cluster bootstrapped from a pgBackRest backup to a point in time; replicas by pgBackRest, " +
    "with pg_basebackup as the fallback",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const repo = await Deno.makeTempDir({ prefix: "hactl-pgbackrest-" });
    const conf = await writeRepoConf(repo);
    const archiveTo = (stanza: string) => archiveVia(conf, stanza);
    try {
      // The source cluster: archiving, a full backup, rows before and after the target time.
      let target = "";
      {
        await using src = await formCluster(TIMING, "pgbr_src", {
          members: 1,
          beforeStart: async (members: MemberLayout[], layout: LayoutOptions) => {
            await Deno.writeTextFile(conf, stanzaSection("demo", members[0]!, layout.dir), { append: true });
            await editYaml(members[0]!, (d) => Object.assign(d.postgresql.parameters, archiveTo("demo")));
          },
        });
        const p = src.leader;
        await pgbackrest(conf, "demo", "stanza-create");
        await withSql(p, (sql) => sql`CREATE TABLE t (id int, batch text)`);
        await withSql(p, (sql) => sql`INSERT INTO t SELECT g, 'a' FROM generate_series(1, 100) g`);
        await pgbackrest(conf, "demo", "backup", "--type=full");
        await withSql(p, (sql) => sql`INSERT INTO t SELECT g, 'b' FROM generate_series(1, 50) g`);
        // Commit timestamps on either side of the target are apart by the server's own clock.
        target = await withSql(p, async (sql) => {
          await sql`SELECT pg_sleep(0.3)`;
          const [row] = await sql`SELECT clock_timestamp()::text AS at`;
          await sql`SELECT pg_sleep(0.3)`;
          return row!.at as string;
        });
        await withSql(p, (sql) => sql`INSERT INTO t SELECT g, 'c' FROM generate_series(1, 25) g`);
        assert.equal(await batches(p), "a:100 b:50 c:25");
        await pgbackrest(conf, "demo", "check"); // switches WAL and waits until it is archived
      }

      // The new cluster, restored to the target time; its replicas by pgBackRest from its own stanza.
      await using c = await formCluster(TIMING, "pgbr_new", {
        members: 2,
        beforeStart: async (members: MemberLayout[]) => {
          for (const m of members) {
            await editYaml(m, (d) => {
              Object.assign(d.postgresql.parameters, archiveTo("restored"));
              d.bootstrap.method = "pgbackrest";
              d.bootstrap.pgbackrest = {
                command: `pgbackrest --config=${conf} --stanza=demo --pg1-path=${m.dataDir} restore`,
                no_params: true,
                recovery_conf: {
                  // pgBackRest reads the data directory's pg_control: pg1-path names this member's.
                  restore_command: `pgbackrest --config=${conf} --stanza=demo --pg1-path=${m.dataDir} ` +
                    `archive-get %f "%p"`,
                  recovery_target_time: target,
                  recovery_target_action: "promote",
                },
              };
              d.postgresql.create_replica_methods = ["pgbackrest", "basebackup"];
              d.postgresql.pgbackrest = {
                command: `pgbackrest --config=${conf} --stanza=restored --pg1-path=${m.dataDir} --delta ` +
                  "restore --type=standby",
                keep_data: true,
                no_params: true,
              };
              d.postgresql.recovery_conf = {
                restore_command: `pgbackrest --config=${conf} --stanza=restored --pg1-path=${m.dataDir} ` +
                  `archive-get %f "%p"`,
              };
            });
          }
        },
      });
      try {
        const leader = c.leader;
        const replica = c.replicas[0]!;
        assert.equal(await batches(leader), "a:100 b:50", "exactly the rows committed before the target");
        const leaderLog = await logOf(leader);
        assert.ok(leaderLog.includes("running custom bootstrap script"), "the custom bootstrap ran");
        // No stanza for the new cluster yet: pgBackRest fails, pg_basebackup creates the replica.
        let log = await logOf(replica);
        assert.ok(
          log.includes("error creating replica using method pgbackrest"),
          "pgBackRest was tried first",
        );
        assert.ok(
          log.includes("replica has been created using basebackup"),
          "pg_basebackup was the fallback",
        );
        assert.equal(await batches(replica), "a:100 b:50");

        // A backup of the new cluster; then a reinit creates the replica with pgBackRest.
        await Deno.writeTextFile(conf, stanzaSection("restored", leader, c.layout.dir), { append: true });
        await pgbackrest(conf, "restored", "stanza-create");
        await pgbackrest(conf, "restored", "backup", "--type=full");
        await withSql(leader, (sql) => sql`INSERT INTO t SELECT g, 'd' FROM generate_series(1, 10) g`);
        log = await logOf(replica);
        const byPgbackrest = count(log, "replica has been created using pgbackrest");
        await reinitialize(replica, {});
        await waitReplicaCreated(c, replica, "replica has been created using pgbackrest", byPgbackrest);
        await withSql(leader, (sql) => sql`INSERT INTO t SELECT g, 'e' FROM generate_series(1, 5) g`);
        await waitFor(`${replica.name}: every row`, 30_000, async () => {
          const b = await batches(replica).catch((e) => String(e));
          return b === "a:100 b:50 d:10 e:5" ? true : { notYet: b };
        });

        // `from_leader`: pg_basebackup only, although pgBackRest would work.
        log = await logOf(replica);
        const byBasebackup = count(log, "replica has been created using basebackup");
        const triedPgbackrest = count(log, "creating a replica with method pgbackrest");
        await reinitialize(replica, { from_leader: true });
        await waitReplicaCreated(c, replica, "replica has been created using basebackup", byBasebackup);
        assert.equal(
          count(await logOf(replica), "creating a replica with method pgbackrest"),
          triedPgbackrest,
        );
      } catch (e) {
        await c.dumpLogs("restore");
        throw e;
      }
    } finally {
      await Deno.remove(repo, { recursive: true }).catch(() => {});
    }
  },
});

/** `POST /reinitialize` to the member's REST API; throws unless it answers 200. */
async function reinitialize(m: MemberLayout, body: Record<string, unknown>): Promise<void> {
  const r = await fetch(`http://127.0.0.1:${m.apiPort}/reinitialize`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  assert.equal(r.status, 200, `POST /reinitialize: ${text}`);
}

Deno.test({
  name:
    "restore: a custom bootstrap whose recovery target cannot be reached fails cleanly: data directory moved " +
    "aside, initialize released, nobody leads",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const etcd = await startEtcd({ members: 1 });
    const dir = await Deno.makeTempDir({ prefix: "hactl-pitr-fail-" });
    let agent: Deno.ChildProcess | null = null;
    let dataDir = "";
    try {
      const [pgBase, apiBase] = await freePorts(2, 1);
      const layout: LayoutOptions = {
        dir,
        scope: "pitr_fail",
        members: 1,
        etcdEndpoints: etcd.endpoints,
        basePgPort: pgBase!,
        baseApiPort: apiBase!,
        ttl: TIMING.ttl,
        loopWait: TIMING.loopWait,
        retryTimeout: TIMING.retryTimeout,
      };
      const [m] = await writeLayout(layout);
      dataDir = m!.dataDir;
      // The "restore" is an initdb: a valid data directory whose WAL ends long before the target.
      await editYaml(m!, (d) => {
        d.bootstrap.method = "fake_restore";
        d.bootstrap.fake_restore = {
          command: `/usr/lib/postgresql/15/bin/initdb -D ${m!.dataDir} -U postgres`,
          no_params: true,
          recovery_conf: {
            restore_command: "/bin/false",
            recovery_target_time: "2999-01-01 00:00:00+00",
            recovery_target_action: "promote",
          },
        };
      });
      agent = await spawnAgent(m!);
      const failed = `${m!.dataDir}.failed`;
      // The next race starts 2 s later and moves its own failure aside again: read the log inside the wait.
      await waitFor("the bootstrap to fail and release initialize", 90_000, async () => {
        const log = await logOf(m!);
        const pgLog = await Deno.readTextFile(`${failed}/postgresql.log`).catch(() => "");
        return log.includes("bootstrap failed") && log.includes("removed the initialize key") &&
            /recovery ended before configured recovery target was reached/.test(pgLog)
          ? true
          : { notYet: log.split("\n").slice(-3).join(" | ") };
      }, 250);
      assert.match(await logOf(m!), /Postgres stopped during recovery after the custom bootstrap/);
      const h = await readHealth(layout);
      assert.equal(h.leader, null, "nobody leads a cluster whose bootstrap failed");
      assert.ok(h.view.initialize === null || h.view.initialize === "", `initialize: ${h.view.initialize}`);
    } catch (e) {
      for (const f of [`${dir}/pg1.log`, `${dataDir}.failed/postgresql.log`, `${dataDir}/postgresql.log`]) {
        const text = await Deno.readTextFile(f).catch(() => "(none)");
        // deno-lint-ignore no-console -- failure diagnostics
        console.error(`----- ${f} (last 30 lines) -----\n${text.split("\n").slice(-30).join("\n")}`);
      }
      throw e;
    } finally {
      if (agent) await stopAgent(agent, 30_000);
      if (dataDir) await stopLeftoverPostgres([dataDir]);
      await etcd.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
