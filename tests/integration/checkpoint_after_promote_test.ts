/**
 * The checkpoint after a promotion, for real. `checkpoint_timeout` is an hour, so the checkpoint Postgres asks for
 * itself at the end of recovery is spread over most of it (its replica's buffers hold a table's worth of replayed
 * pages); without hactl's CHECKPOINT the new primary's pg_control would keep the old timeline for minutes, and a
 * former primary could not be rewound from it. The leader's agent is stopped (its Postgres with it), the replica
 * takes over: within a deadline far shorter than that spread checkpoint, its latest checkpoint
 * (`pg_control_checkpoint()`) is on the timeline it writes, and its member key no longer says
 * `checkpoint_after_promote: false`. Its agent log tells of the checkpoint, run beside the HA loop (not as a job).
 * The former leader's agent comes back and its member streams from the new primary on the new timeline.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { formCluster } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";
import { type MemberLayout, waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";

/** The timeline `m` writes on and the timeline of its latest checkpoint. */
async function timelines(m: MemberLayout): Promise<{ writes: number; checkpoint: number }> {
  return await withSql(m, async (sql) => {
    const [row] = await sql`SELECT pg_walfile_name(pg_current_wal_lsn()) AS f,
      (SELECT timeline_id FROM pg_control_checkpoint()) AS c`;
    return { writes: parseInt((row!.f as string).slice(0, 8), 16), checkpoint: row!.c as number };
  });
}

Deno.test({
  name:
    "a new primary checkpoints on its new timeline at once after its promotion, and says so in its member key",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 10, loopWait: 2, retryTimeout: 4 }, "cpafter", {
      members: 2,
      etcdMembers: 1,
      beforeStart: async (members) => {
        for (const m of members) {
          const yaml = await Deno.readTextFile(m.configPath);
          const edited = yaml.replace(
            "        shared_buffers: 32MB\n",
            "        shared_buffers: 32MB\n        checkpoint_timeout: 1h\n",
          );
          if (edited === yaml) throw new Error(`no shared_buffers line in ${m.configPath}`);
          await Deno.writeTextFile(m.configPath, edited);
        }
      },
    });
    const [old, next] = [c.leader, c.replicas[0]!];
    try {
      // About 3000 pages the replica replays into its buffers, which only a checkpoint writes out.
      await withSql(old, async (sql) => {
        await sql`CREATE TABLE pages (id int, pad text)`;
        await sql`INSERT INTO pages SELECT g, repeat('x', 800) FROM generate_series(1, 25000) g`;
      });
      await waitFor(`${next.name} replaying the table`, 60_000, () =>
        withSql(next, async (sql) => {
          const n = (await sql`SELECT count(*)::int AS n FROM pages`)[0]!.n as number;
          return n === 25000 || { notYet: `${n} rows` };
        }));
      await stopAgent(c.agents.get(old.name)!, 60_000);
      c.agents.delete(old.name);
      const promoted = await waitFor(`${next.name} writable on a new timeline`, 60_000, async () => {
        const t = await timelines(next);
        return t.writes > 1 ? t : { notYet: `timeline ${t.writes}` };
      });
      const started = Date.now();
      const done = await waitFor(`${next.name}'s latest checkpoint on its timeline`, 30_000, async () => {
        const t = await timelines(next);
        return t.checkpoint === t.writes ? t : { notYet: JSON.stringify(t) };
      });
      assert.equal(done.writes, promoted.writes);
      const etcd = new Etcd3({ hosts: c.etcd.endpoints });
      try {
        await waitFor(
          `${next.name}'s member key without checkpoint_after_promote: false`,
          15_000,
          async () => {
            const data = JSON.parse(
              await etcd.get(`/service/${c.layout.scope}/members/${next.name}`).string() ?? "{}",
            );
            return (data.role === "primary" && data.checkpoint_after_promote === undefined) ||
              { notYet: JSON.stringify(data) };
          },
        );
      } finally {
        etcd.close();
      }
      const log = await Deno.readTextFile(next.logPath);
      assert.match(
        log,
        /checkpoint after promotion \(the latest checkpoint is on timeline 1, the primary writes/,
      );
      assert.match(log, /CHECKPOINT after promotion started \(the loop carries on meanwhile\)/);
      assert.doesNotMatch(log, /checkpoint after promotion in progress/, "no cycle waited for it as a job");
      // deno-lint-ignore no-console -- the figure, for the record
      console.error(
        `latest checkpoint on timeline ${done.writes} ${Date.now() - started} ms after the check began`,
      );
      // The former leader comes back and follows the new timeline.
      await c.spawn(old.name);
      await waitHealthy(c.layout, 1, 120_000);
      await waitFor(
        `${old.name} streaming on timeline ${done.writes}`,
        60_000,
        () =>
          withSql(old, async (sql) => {
            const [r] = await sql`SELECT status, received_tli FROM pg_stat_wal_receiver`;
            return (r?.status === "streaming" && r?.received_tli === done.writes) ||
              { notYet: JSON.stringify(r) };
          }),
      );
    } catch (err) {
      await c.dumpLogs("checkpoint-after-promote");
      throw err;
    }
  },
});
