/**
 * A permanent logical slot on a real cluster (3-member etcd, two `hactl agent` processes with PostgreSQL 15 at
 * `wal_level = logical`, ttl 10 / loop_wait 2 / retry_timeout 4): the `config` key names slot `cdc` (database
 * postgres, plugin test_decoding). A consumer (`pg_recvlogical`) reads it from the leader while a writer commits
 * one row per transaction; then
 *
 * - the replica holds a copy (copied from the primary, installed by a restart) that advances to the primary's
 *   confirmed position as published in the `status` key, never past it, and it runs with `hot_standby_feedback`;
 * - the consumer stops while rows are still written (it lags, as a CDC tool that is down does), then the primary
 *   is killed (agent and postmaster, SIGKILL): the replica takes over with the slot and the consumer, started
 *   again, reads from it; the former primary comes back (rewound) and gets its copy again;
 * - the consumer stops again, a switchover moves the primary back, the consumer starts again;
 * - at the end every row in the table (every committed change, all made after the slot was created) has reached
 *   the consumer: none skipped (some may arrive twice, the ones after the last position published before a
 *   failover).
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { TIMINGS } from "../../scripts/bench/failover.ts";
import { postmasterPid } from "../../scripts/bench/failover_scenarios.ts";
import { readHealth, waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";
import type { MemberLayout } from "../../scripts/lib/local_cluster.ts";
import { formCluster, type LocalCluster, setConfig } from "../helpers/cluster.ts";
import {
  committedIds,
  type Consumer,
  type RowWriter,
  startConsumer,
  startRowWriter,
} from "../helpers/logical_consumer.ts";
import { parseLsn } from "../../src/core/lsn.ts";

const TIMING = TIMINGS.fast;
const TABLE = "cdc_rows";

/** The member's logical slot `cdc`: its confirmed_flush_lsn (null when it has no such slot). */
function cdcOn(m: MemberLayout): Promise<number | null> {
  return withSql(m, async (sql) => {
    const rows = await sql`SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots
                           WHERE slot_name = 'cdc' AND slot_type = 'logical' AND database = 'postgres'
                             AND plugin = 'test_decoding'`;
    return rows.length ? parseLsn(String(rows[0]!.l ?? "0/0")) : null;
  });
}

function waitCdc(m: MemberLayout, what: string, ok: (lsn: number | null) => boolean, ms = 60_000) {
  return waitFor(`${m.name}: ${what}`, ms, async () => {
    const lsn = await cdcOn(m);
    return ok(lsn) ? true : { notYet: `cdc at ${lsn}` };
  }, 250);
}

/**
 * Stop the consumer and let the writer go on for `rows` more rows (several HA loops): the slot's confirmed position
 * stays where the consumer left it while the replicas replay further, as when a CDC tool lags or is down.
 */
async function lagBehind(consumer: Consumer, writer: RowWriter, rows: number): Promise<void> {
  await consumer.stop();
  const from = writer.acked();
  await waitFor(`${rows} rows written while the consumer is down`, 60_000, () => {
    const n = writer.acked() - from;
    return Promise.resolve(n >= rows ? true : { notYet: `${n} rows` });
  }, 100);
}

/** Kill the member's agent and postmaster together (SIGKILL). */
async function killMember(c: LocalCluster, m: MemberLayout): Promise<void> {
  const pid = await postmasterPid(m);
  const agent = c.agents.get(m.name)!;
  agent.kill("SIGKILL");
  Deno.kill(pid, "SIGKILL");
  c.agents.delete(m.name);
  await agent.status;
}

/** Wait until the consumer has received `n` more rows than `from`. */
function waitReceiving(consumer: { received(): Promise<number[]> }, from: number, n: number, what: string) {
  return waitFor(what, 60_000, async () => {
    const got = (await consumer.received()).length;
    return got >= from + n ? got : { notYet: `${got} rows received` };
  }, 250);
}

Deno.test({
  name: "logical slots: a consumer misses no committed change across a kill failover and a switchover",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "logical", {
      members: 2,
      beforeStart: async (members) => {
        for (const m of members) {
          const text = await Deno.readTextFile(m.configPath);
          await Deno.writeTextFile(
            m.configPath,
            text.replace("shared_buffers: 32MB", "shared_buffers: 32MB\n        wal_level: logical"),
          );
        }
      },
    });
    const out = `${c.layout.dir}/cdc.out`;
    const first = c.leader;
    const second = c.replicas[0]!;
    const starts = { count: 0 };
    let consumer: Consumer | null = null;
    let writer: RowWriter | null = null;
    try {
      await withSql(first, (sql) => sql.unsafe(`CREATE TABLE ${TABLE} (id int PRIMARY KEY)`));
      await setConfig(c, {
        slots: { cdc: { type: "logical", database: "postgres", plugin: "test_decoding" } },
      });
      await waitCdc(first, "cdc created on the primary", (l) => l !== null);
      await waitCdc(second, "cdc copied to the replica", (l) => l !== null, 90_000);
      const feedback = await withSql(
        second,
        (sql) => sql`SELECT current_setting('hot_standby_feedback') AS v`,
      );
      assert.equal(feedback[0]!.v, "on", "a replica with copies of logical slots sends hot_standby_feedback");

      consumer = await startConsumer(c, "cdc", out, TABLE, starts);
      writer = startRowWriter(c, TABLE);
      await waitReceiving(consumer, 0, 200, "the consumer to receive rows");
      // The replica's copy follows what the consumer confirmed on the primary (published in `status`).
      const confirmed = (await cdcOn(first))!;
      await waitFor("status to publish cdc", 30_000, async () => {
        const p = (await readHealth(c.layout)).view.status?.slots.cdc ?? 0;
        return p >= confirmed ? true : { notYet: `published ${p}, confirmed ${confirmed}` };
      });
      await waitCdc(second, "the copy advanced", (l) => (l ?? 0) >= confirmed);

      // The consumer is down while rows are written: the copy must not move past what it confirmed.
      await lagBehind(consumer, writer, 300);
      const [onPrimary, onReplica] = [(await cdcOn(first))!, (await cdcOn(second))!];
      assert.ok(onReplica <= onPrimary, `the copy (${onReplica}) is ahead of the slot (${onPrimary})`);

      // Kill the primary; the consumer starts again once the replica leads.
      const before = (await consumer.received()).length;
      await killMember(c, first);
      await waitFor("the replica to lead", 60_000, async () => {
        const h = await readHealth(c.layout);
        return h.leader === second.name && h.primaries.includes(second.name) ? true : { notYet: h.leader };
      });
      consumer = await startConsumer(c, "cdc", out, TABLE, starts);
      await waitReceiving(consumer, before, 300, "the consumer to receive rows from the new primary");

      // The former primary comes back (rewound) and gets its copy again; the consumer stops, and a switchover
      // moves the primary back.
      await c.spawn(first.name);
      await waitHealthy(c.layout, 1, 90_000);
      await waitCdc(first, "cdc copied to the former primary", (l) => l !== null, 90_000);
      await lagBehind(consumer, writer, 300);
      const res = await fetch(`http://127.0.0.1:${second.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: second.name, candidate: first.name }),
      });
      assert.equal(res.status, 200, await res.text());
      assert.equal((await waitHealthy(c.layout, 1, 90_000)).leader, first.name);
      const mid = (await consumer.received()).length;
      consumer = await startConsumer(c, "cdc", out, TABLE, starts);
      await waitReceiving(consumer, mid, 300, "the consumer to receive rows after the switchover");
      await writer.stop();

      const committed = await committedIds(first, TABLE);
      const reader = consumer;
      const got = await waitFor("every committed row to reach the consumer", 60_000, async () => {
        const ids = new Set(await reader.received());
        const missing = committed.filter((id) => !ids.has(id));
        return missing.length === 0 ? ids : { notYet: `missing ${missing.length}: ${missing.slice(0, 10)}` };
      }, 500);
      const twice = (await reader.received()).length - got.size;
      // deno-lint-ignore no-console -- the consumer counts are worth seeing in CI logs
      console.error(
        `logical consumer: ${committed.length} committed rows, all received (${got.size} distinct), ${twice} ` +
          `sent twice, ${writer.acked()} acknowledged, ${starts.count} starts of pg_recvlogical`,
      );
      assert.ok(committed.length >= 1000, `too few rows to say anything: ${committed.length}`);
    } catch (err) {
      await c.dumpLogs("logical");
      throw err;
    } finally {
      await writer?.stop();
      await consumer?.stop();
    }
  },
});
