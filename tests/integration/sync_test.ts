/**
 * Synchronous replication on a real cluster (3-member etcd, three `hactl agent` processes with PostgreSQL 15,
 * ttl 10 / loop_wait 2 / retry_timeout 4), once the `config` key sets `synchronous_mode: true`:
 *
 * - the leader names one streaming replica in `synchronous_standby_names` and, once Postgres reports it `sync`,
 *   in the `sync` key; a SIGKILL of the primary's agent and postmaster while a client writes to every member
 *   loses no acknowledged write, the promoted member is the one the key named, and the other replica does not
 *   take over;
 * - with `synchronous_mode_strict`, stopping both replicas (agents and Postgres) blocks commits on the primary
 *   (nothing is acknowledged), and they go on once a replica is back.
 *
 * The writer runs without a server-side statement timeout: a commit whose wait for the standby is cancelled is
 * reported as successful by Postgres, which would count an unreplicated write as acknowledged.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { postmasterPid, TIMINGS } from "../../scripts/bench/failover.ts";
import { readHealth, waitFor, withSql } from "../../scripts/lib/local_cluster.ts";
import { formCluster, type LocalCluster, setConfig } from "../helpers/cluster.ts";
import { stopAgent, stopLeftoverPostgres } from "../helpers/processes.ts";
import {
  createWriteTable,
  describeOverlaps,
  firstAckAfter,
  missingOn,
  overlappingWindows,
  startWriter,
} from "../helpers/writer.ts";

const TIMING = TIMINGS.fast;

/** Wait until the leader's `sync` key names one standby and the leader's Postgres waits for it; its name. */
async function waitSyncStandby(c: LocalCluster, leader: string): Promise<string> {
  return await waitFor("the sync key to name a standby the primary waits for", 60_000, async () => {
    const sync = (await readHealth(c.layout)).view.sync;
    if (sync?.leader !== leader || sync.syncStandby.length !== 1) return { notYet: JSON.stringify(sync) };
    const name = sync.syncStandby[0]!;
    const ok = await withSql(c.byName(leader), async (sql) => {
      const rows = await sql`SELECT current_setting('synchronous_standby_names') AS ssn,
        (SELECT sync_state FROM pg_stat_replication WHERE application_name = ${name}) AS state`;
      return rows[0]!["ssn"] === name && rows[0]!["state"] === "sync"
        ? true
        : `ssn=${rows[0]!["ssn"]} state=${rows[0]!["state"]}`;
    });
    return ok === true ? name : { notYet: ok };
  });
}

async function onCluster(label: string, body: (c: LocalCluster) => Promise<void>): Promise<void> {
  await using c = await formCluster(TIMING, label);
  try {
    await body(c);
  } catch (err) {
    await c.dumpLogs(label);
    throw err;
  }
}

Deno.test({
  name: "sync: SIGKILL of the primary while writing loses no acknowledged write; the sync standby takes over",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("sync-kill", async (c) => {
      const old = c.leader;
      await setConfig(c, { synchronous_mode: true });
      const standby = await waitSyncStandby(c, old.name);
      await createWriteTable(old);
      const writer = startWriter(c.members, { timeoutMs: 2000, statementTimeoutMs: 0 });
      try {
        await waitFor("300 acknowledged writes on the primary", 30_000, () => {
          const n = writer.acks.filter((a) => a.node === old.name).length;
          return Promise.resolve(n >= 300 ? true : { notYet: `${n} acks` });
        }, 50);
        const agent = c.agents.get(old.name)!;
        const pid = await postmasterPid(old);
        const t0 = performance.now();
        agent.kill("SIGKILL");
        Deno.kill(pid, "SIGKILL");
        c.agents.delete(old.name);
        await agent.status;
        const newLeader = await waitFor("a replica to lead and acknowledge a write", 60_000, async () => {
          const h = await readHealth(c.layout);
          const first = h.leader && h.leader !== old.name ? firstAckAfter(writer.acks, t0, h.leader) : null;
          return first ? h.leader! : { notYet: `leader=${h.leader}` };
        }, 100);
        const records = await writer.stop();
        const lost = await missingOn(c.byName(newLeader), records);
        // deno-lint-ignore no-console -- the figures are worth seeing in CI logs
        console.log(
          `sync-kill: ${JSON.stringify({ acked: records.length, lost: lost.length, standby, newLeader })}`,
        );
        assert.deepEqual(lost, [], `acknowledged writes missing on ${newLeader}`);
        assert.equal(newLeader, standby, `the promoted member is the one the sync key named`);
        const overlaps = overlappingWindows(records);
        assert.deepEqual(overlaps, [], `two writable primaries: ${describeOverlaps(overlaps, t0)}`);
        const other = c.replicas.find((m) => m.name !== standby)!;
        const log = await Deno.readTextFile(other.logPath);
        assert.match(
          log,
          /not taking the leader key: synchronous_mode is on and I am not a synchronous standby/,
        );
      } finally {
        await writer.stop();
      }
    });
  },
});

Deno.test({
  name: "sync: strict mode with both replicas stopped blocks commits; they complete once a replica is back",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("sync-strict", async (c) => {
      const leader = c.leader;
      await setConfig(c, { synchronous_mode: true, synchronous_mode_strict: true });
      const standby = await waitSyncStandby(c, leader.name);
      await createWriteTable(leader);
      for (const r of c.replicas) {
        await stopAgent(c.agents.get(r.name)!, 30_000);
        c.agents.delete(r.name);
      }
      await stopLeftoverPostgres(c.replicas.map((r) => r.dataDir));
      await waitFor("the primary to see no replica", 20_000, () =>
        withSql(leader, async (sql) => {
          const rows = await sql`SELECT count(*)::int AS n FROM pg_stat_replication`;
          return rows[0]!["n"] === 0 ? true : { notYet: `${rows[0]!["n"]} walsenders` };
        }));
      const writer = startWriter([leader], { timeoutMs: 3000, statementTimeoutMs: 0 });
      try {
        // An absence is observed over a window: several cycles of the leader, polled.
        const until = Date.now() + 5 * TIMING.loopWait * 1000;
        while (Date.now() < until) {
          assert.equal(writer.acks.length, 0, "a commit was acknowledged with no synchronous standby");
          await new Promise((r) => setTimeout(r, 250));
        }
        const ssn = await withSql(leader, async (sql) => {
          const rows = await sql`SELECT current_setting('synchronous_standby_names') AS v`;
          return String(rows[0]!["v"]);
        });
        assert.equal(ssn, standby, "the primary keeps waiting for the standby the sync key names");
        const sync = (await readHealth(c.layout)).view.sync;
        assert.equal(sync?.leader, leader.name);
        assert.deepEqual(sync?.syncStandby, [standby]);

        await c.spawn(standby);
        await waitFor("commits to be acknowledged again", 90_000, () =>
          Promise.resolve(
            writer.acks.length >= 5
              ? true
              : { notYet: `${writer.acks.length} acks; ${JSON.stringify(writer.lastErrors)}` },
          ));
        const records = await writer.stop();
        // The standby flushed every acknowledged commit (synchronous_commit on); it replays them soon after.
        await waitFor(`${standby} to hold every acknowledged write`, 30_000, async () => {
          const lost = await missingOn(c.byName(standby), records);
          return lost.length === 0 ? true : { notYet: `missing ${lost.join(",")}` };
        });
      } finally {
        await writer.stop();
      }
    });
  },
});
