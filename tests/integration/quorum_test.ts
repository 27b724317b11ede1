/**
 * Quorum commit on a real cluster (3-member etcd, three `hactl agent` processes with PostgreSQL 15, ttl 10 /
 * loop_wait 2 / retry_timeout 4), once the `config` key sets `synchronous_mode: quorum`: the leader names both
 * replicas in `synchronous_standby_names` as `ANY 1 (...)` and the `sync` key names them with a quorum of 1; each
 * answers `GET /quorum` with 200; a SIGKILL of the primary's agent and postmaster while a client writes to every
 * member loses no acknowledged write, one replica takes over with the other's vote, and its `sync` key names it.
 *
 * The writer runs without a server-side statement timeout: a commit whose wait for the standbys is cancelled is
 * reported as successful by Postgres, which would count an unreplicated write as acknowledged.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { postmasterPid, TIMINGS } from "../../scripts/bench/failover.ts";
import { readHealth, waitFor, withSql } from "../../scripts/lib/local_cluster.ts";
import { formCluster, type LocalCluster, setConfig } from "../helpers/cluster.ts";
import {
  createWriteTable,
  describeOverlaps,
  firstAckAfter,
  missingOn,
  overlappingWindows,
  startWriter,
} from "../helpers/writer.ts";

const TIMING = TIMINGS.fast;
const SCOPE = "quorum-kill";

/** Wait until the key names both replicas with a quorum of 1 and the primary waits for ANY 1 of them. */
async function waitQuorum(c: LocalCluster, leader: string, replicas: string[]): Promise<void> {
  const wanted = `ANY 1 (${[...replicas].sort().join(",")})`;
  await waitFor("the sync key and the primary to run quorum commit over both replicas", 60_000, async () => {
    const sync = (await readHealth(c.layout)).view.sync;
    const keyed = sync?.leader === leader && sync.quorum === 1 &&
      [...sync.syncStandby].sort().join(",") === [...replicas].sort().join(",");
    if (!keyed) return { notYet: JSON.stringify(sync) };
    const ok = await withSql(c.byName(leader), async (sql) => {
      const rows = await sql`SELECT current_setting('synchronous_standby_names') AS ssn,
        (SELECT string_agg(sync_state, ',') FROM pg_stat_replication) AS states`;
      return rows[0]!["ssn"] === wanted && rows[0]!["states"] === "quorum,quorum"
        ? true
        : `ssn=${rows[0]!["ssn"]} states=${rows[0]!["states"]}`;
    });
    return ok === true ? true : { notYet: ok };
  });
}

Deno.test({
  name: "quorum: SIGKILL of the primary while writing loses no acknowledged write; a voter takes over",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, SCOPE);
    try {
      const old = c.leader;
      const replicas = c.replicas.map((r) => r.name);
      await setConfig(c, { synchronous_mode: "quorum" });
      await waitQuorum(c, old.name, replicas);
      for (const r of c.replicas) {
        // The REST API answers from a snapshot of the cluster refreshed about every second.
        await waitFor(`${r.name} to answer GET /quorum with 200`, 15_000, async () => {
          const res = await fetch(`http://127.0.0.1:${r.apiPort}/quorum`);
          await res.body?.cancel();
          return res.status === 200 ? true : { notYet: `status ${res.status}` };
        });
      }
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
          `quorum-kill: ${JSON.stringify({ acked: records.length, lost: lost.length, newLeader })}`,
        );
        assert.deepEqual(lost, [], `acknowledged writes missing on ${newLeader}`);
        assert.ok(replicas.includes(newLeader), `${newLeader} is one of the former replicas`);
        const overlaps = overlappingWindows(records);
        assert.deepEqual(overlaps, [], `two writable primaries: ${describeOverlaps(overlaps, t0)}`);
        await waitFor("the new leader to own the sync key", 30_000, async () => {
          const sync = (await readHealth(c.layout)).view.sync;
          return sync?.leader === newLeader ? true : { notYet: JSON.stringify(sync) };
        });
      } finally {
        await writer.stop();
      }
    } catch (err) {
      await c.dumpLogs(SCOPE);
      throw err;
    }
  },
});
