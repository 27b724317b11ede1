/**
 * A replica method with `no_leader` creates a member while no member leads, as Patroni's bootstrap without a
 * leader: a two-member cluster archives its WAL to a pgBackRest repository and is backed up; rows are committed
 * after the backup and archived; both agents stop (the leader key goes) and the replica's data directory is lost.
 * Started again alone, that member restores from the repository with its `no_leader` method (`pgbackrest
 * restore`), replays the archive with `recovery_conf`'s `restore_command`, and takes the leader key with every
 * row. Without `no_leader` it would wait for a leader for good.
 *
 * Runs as the `postgres` OS user (scripts/test.sh), which owns the temp dirs and the repository.
 *
 * @module
 */
import assert from "node:assert/strict";
import { TIMINGS } from "../../scripts/bench/failover.ts";
import { readHealth, waitFor, withSql } from "../../scripts/lib/local_cluster.ts";
import type { MemberLayout } from "../../scripts/lib/local_cluster.ts";
import { formCluster } from "../helpers/cluster.ts";
import { editYaml, pgbackrest, stanzaSection, writeRepoConf } from "../helpers/pgbackrest.ts";
import { stopAgent } from "../helpers/processes.ts";

Deno.test({
  name:
    "no_leader: with no member leading, a member with an empty data directory restores from pgBackRest and leads",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const repo = await Deno.makeTempDir({ prefix: "hactl-noleader-" });
    const conf = await writeRepoConf(repo);
    try {
      const cmd = (m: MemberLayout) => `pgbackrest --config=${conf} --stanza=demo --pg1-path=${m.dataDir}`;
      await using c = await formCluster(TIMINGS.fast, "noleader", {
        members: 2,
        beforeStart: async (members, layout) => {
          await Deno.writeTextFile(conf, stanzaSection("demo", members[0]!, layout.dir), { append: true });
          for (const m of members) {
            await editYaml(m, (d) => {
              d.postgresql.parameters.archive_mode = "on";
              d.postgresql.parameters.archive_command = `${cmd(m)} archive-push %p`;
              // While pg1 leads, the new replica is cloned from it (no backup yet: pg_basebackup).
              d.postgresql.create_replica_methods = ["pgbackrest", "basebackup"];
              d.postgresql.pgbackrest = {
                command: `${cmd(m)} restore --type=standby`,
                no_params: true,
                no_leader: true,
              };
              d.postgresql.recovery_conf = { restore_command: `${cmd(m)} archive-get %f "%p"` };
            });
          }
        },
      });
      try {
        const leader = c.leader;
        const lost = c.replicas[0]!;
        // The stanza names pg1; either member may have won the bootstrap race: point pgBackRest at the leader.
        const at = [`--pg1-path=${leader.dataDir}`, `--pg1-port=${leader.pgPort}`];
        await pgbackrest(conf, "demo", "stanza-create", ...at);
        await withSql(leader, (sql) => sql`CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g`);
        await pgbackrest(conf, "demo", "backup", "--type=full", ...at);
        await withSql(leader, (sql) => sql`INSERT INTO t SELECT g FROM generate_series(101, 150) g`);
        await pgbackrest(conf, "demo", "check", ...at); // switches WAL and waits until it is archived

        // Everything stops; the replica's data directory is lost.
        await stopAgent(c.agents.get(lost.name)!, 30_000);
        c.agents.delete(lost.name);
        await stopAgent(c.agents.get(leader.name)!, 30_000);
        c.agents.delete(leader.name);
        assert.equal((await readHealth(c.layout)).leader, null, "nobody leads once both agents stopped");
        await Deno.remove(lost.dataDir, { recursive: true });

        await c.spawn(lost.name);
        await waitFor(`${lost.name} leading, restored without a leader`, 120_000, async () => {
          const h = await readHealth(c.layout);
          return h.leader === lost.name && h.primaries.includes(lost.name)
            ? true
            : { notYet: `leader=${h.leader} primaries=${h.primaries}` };
        }, 250);
        const log = await Deno.readTextFile(lost.logPath);
        assert.match(log, /trying to bootstrap \(without leader\)/);
        assert.match(log, /replica has been created using pgbackrest/);
        const n = await withSql(lost, async (sql) => (await sql`SELECT count(*)::int AS n FROM t`)[0]!.n);
        assert.equal(n, 150, "the rows of the backup and those replayed from the archive after it");
      } catch (e) {
        await c.dumpLogs("no-leader");
        throw e;
      }
    } finally {
      await Deno.remove(repo, { recursive: true }).catch(() => {});
    }
  },
});
