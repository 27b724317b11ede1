/**
 * Failsafe mode for real: a 3-member etcd, three `hactl agent` processes with PostgreSQL at ttl 10 / loop_wait 2 /
 * retry_timeout 4, `failsafe_mode: true` set through `PATCH /config`. Every etcd member is SIGKILLed for ttl + 5 s
 * while a writer inserts into the primary every 20 ms:
 * - every member answers the primary's `POST /failsafe`: the primary keeps taking writes through the whole outage
 *   (no gap longer than the bound below; Patroni 3.0.2 with failsafe mode shows 0 s unavailable here), and once etcd
 *   is back the cluster converges with the same leader and nothing lost;
 * - one replica's agent is also stopped during the outage: the primary cannot confirm every member of the failsafe
 *   key and stops taking writes no later than its fence deadline after that stop.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { formCluster, type LocalCluster, type Timing } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";
import { createWriteTable, longestGap, missingOn, startWriter } from "../helpers/writer.ts";
import { readHealth, waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";
import { fenceMarginMs, leaseMs } from "../../src/core/settings.ts";

const TIMING: Timing = { ttl: 10, loopWait: 2, retryTimeout: 4 };
const OUTAGE_MS = (TIMING.ttl + 5) * 1000;
/** The longest pause in the primary's acknowledged writes the outage may cause (scheduling noise on 2 busy cores). */
const MAX_GAP_MS = 2000;

async function onCluster(label: string, body: (c: LocalCluster) => Promise<void>): Promise<void> {
  await using c = await formCluster(TIMING, label);
  try {
    await body(c);
  } catch (err) {
    await c.dumpLogs(label);
    throw err;
  }
}

/** Turn failsafe mode on through the leader's REST API and wait until the leader published all three members. */
async function enableFailsafe(c: LocalCluster): Promise<void> {
  const api = `http://127.0.0.1:${c.leader.apiPort}`;
  const res = await fetch(`${api}/config`, {
    method: "PATCH",
    body: JSON.stringify({ failsafe_mode: true }),
  });
  assert.equal(res.status, 200, await res.text());
  await waitFor("the failsafe key with every member", 30_000, async () => {
    const r = await fetch(`${api}/failsafe`);
    const body = await r.text();
    if (r.status !== 200) return { notYet: `${r.status} ${body}` };
    const key = JSON.parse(body) as Record<string, string>;
    return Object.keys(key).length === c.members.length ? key : { notYet: body };
  });
}

async function killEtcd(c: LocalCluster): Promise<void> {
  await Promise.all(c.etcd.endpoints.map((_, i) => c.etcd.kill(i)));
}

async function restartEtcd(c: LocalCluster): Promise<void> {
  await Promise.all(c.etcd.endpoints.map((_, i) => c.etcd.restart(i)));
}

async function logOf(c: LocalCluster, name: string): Promise<string> {
  return await Deno.readTextFile(c.byName(name).logPath);
}

Deno.test({
  name:
    "failsafe mode: with every etcd member down for ttl + 5 s the primary keeps taking writes, then converges",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("failsafe-outage", async (c) => {
      await enableFailsafe(c);
      const P = c.leader;
      await createWriteTable(P);
      const writer = startWriter([P]);
      await waitFor("first acknowledged write", 10_000, () => Promise.resolve(writer.acks.length > 0));
      const t0 = performance.now();
      await killEtcd(c);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      const t1 = performance.now();
      await restartEtcd(c);
      const health = await waitHealthy(c.layout, c.members.length - 1, 60_000);
      const records = await writer.stop();
      const gap = longestGap(records, t0, t1);
      // deno-lint-ignore no-console -- the measured figure is worth seeing in CI logs
      console.log(
        `failsafe-outage: longest gap in ${P.name}'s writes during the outage: ${Math.round(gap.ms)} ms`,
      );
      assert.ok(gap.ms <= MAX_GAP_MS, `the primary stopped taking writes for ${Math.round(gap.ms)} ms`);
      assert.ok(records.some((r) => r.ackAt > t1 - 1000), "no write acknowledged at the end of the outage");
      assert.equal(health.leader, P.name, "the leader changed");
      assert.match(
        await logOf(c, P.name),
        /continue to run as a leader because failsafe mode is enabled and all members are accessible/,
      );
      assert.deepEqual(await missingOn(P, records), []);
    });
  },
});

Deno.test({
  name:
    "failsafe mode: etcd down and one replica's agent stopped: the primary stops taking writes by its fence deadline",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("failsafe-lost-replica", async (c) => {
      await enableFailsafe(c);
      const P = c.leader;
      const R = c.replicas[1]!;
      await createWriteTable(P);
      const writer = startWriter([P]);
      await waitFor("first acknowledged write", 10_000, () => Promise.resolve(writer.acks.length > 0));
      await killEtcd(c);
      // The primary keeps running on its failsafe rounds first ...
      await waitFor(`${P.name} kept running on a failsafe round`, 20_000, async () => {
        const log = await logOf(c, P.name);
        return /continue to run as a leader because failsafe mode is enabled/.test(log);
      });
      // ... until a member of the failsafe key stops answering.
      const stoppedAt = performance.now();
      await stopAgent(c.agents.get(R.name)!, 30_000);
      c.agents.delete(R.name);
      const boundMs = leaseMs(TIMING) - fenceMarginMs(TIMING) + 1000;
      await new Promise((r) => setTimeout(r, boundMs + 3000));
      const records = [...writer.acks];
      const lastAck = Math.max(...records.filter((r) => r.node === P.name).map((r) => r.ackAt));
      // deno-lint-ignore no-console -- the measured figure is worth seeing in CI logs
      console.log(
        `failsafe-lost-replica: last write on ${P.name} ${Math.round(lastAck - stoppedAt)} ms after the stop`,
      );
      assert.ok(
        lastAck - stoppedAt <= boundMs,
        `${P.name} acknowledged writes ${
          Math.round(lastAck - stoppedAt)
        } ms after ${R.name} stopped (bound ${boundMs})`,
      );
      assert.match(await logOf(c, P.name), new RegExp(`failsafe mode: not confirmed by ${R.name}`));
      await restartEtcd(c);
      await writer.stop();
      // With etcd back, a leader again (among the members still running) that takes writes and holds every
      // acknowledged one. etcd restores the keys and their leases as they were: wait for a primary that answers.
      const leader = await waitFor("a leader taking writes after etcd is back", 90_000, async () => {
        const h = await readHealth(c.layout);
        if (h.leader === null || h.leader === R.name) return { notYet: `leader ${h.leader}` };
        const m = c.byName(h.leader);
        await withSql(
          m,
          (sql) =>
            sql`INSERT INTO hactl_writes (seq, node, at) VALUES (-1, 'probe', now()) ON CONFLICT DO NOTHING`,
        );
        return m;
      });
      assert.deepEqual(await missingOn(leader, records), []);
    });
  },
});

Deno.test({
  name:
    "failsafe mode: turned off, the leader empties the failsafe key, so it keeps no member out of a leader race",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await onCluster("failsafe-off", async (c) => {
      await enableFailsafe(c);
      const res = await fetch(`http://127.0.0.1:${c.leader.apiPort}/config`, {
        method: "PATCH",
        body: JSON.stringify({ failsafe_mode: false }),
      });
      assert.equal(res.status, 200, await res.text());
      // Every member reads the key from etcd: each sees it emptied (an empty key names nobody to keep out).
      for (const m of c.members) {
        await waitFor(`${m.name} reads an empty failsafe key`, 30_000, async () => {
          const r = await fetch(`http://127.0.0.1:${m.apiPort}/failsafe`);
          const body = await r.text();
          return r.status === 200 && body.trim() === "{}" ? true : { notYet: `${r.status} ${body}` };
        });
      }
    });
  },
});

/** `restart_lsn` of the physical slot `name` on `m` as a number (null: missing, or reserves no WAL). */
async function slotLsn(m: Parameters<typeof withSql>[0], name: string): Promise<bigint | null> {
  const rows = await withSql(
    m,
    (sql) =>
      sql`SELECT (restart_lsn - '0/0'::pg_lsn)::text AS lsn FROM pg_replication_slots WHERE slot_name = ${name}`,
  );
  const lsn = rows[0]?.lsn;
  return lsn === undefined || lsn === null ? null : BigInt(String(lsn));
}

Deno.test({
  name:
    "failsafe mode: with etcd down the replicas advance their permanent slot copies to the leader's position",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await onCluster("failsafe-slots", async (c) => {
      await enableFailsafe(c);
      const P = c.leader;
      const res = await fetch(`http://127.0.0.1:${P.apiPort}/config`, {
        method: "PATCH",
        body: JSON.stringify({ slots: { fs_slot: null } }),
      });
      assert.equal(res.status, 200, await res.text());
      for (const m of c.members) {
        await waitFor(
          `fs_slot on ${m.name}`,
          30_000,
          async () => (await slotLsn(m, "fs_slot")) ?? { notYet: "" },
        );
      }
      await createWriteTable(P);
      await killEtcd(c);
      try {
        await waitFor(`${P.name} kept running on a failsafe round`, 20_000, async () => {
          const log = await logOf(c, P.name);
          return /continue to run as a leader because failsafe mode is enabled/.test(log);
        });
        // The consumer of the slot on the primary confirms new WAL while etcd is down.
        const target = await withSql(P, async (sql) => {
          await sql`INSERT INTO hactl_writes (seq, node, at) SELECT g, 'fs', now() FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING`;
          await sql`SELECT pg_switch_wal()`;
          await sql`SELECT pg_replication_slot_advance('fs_slot', pg_current_wal_lsn())`;
          return await slotLsn(P, "fs_slot");
        });
        assert.ok(target !== null);
        for (const m of c.replicas) {
          await waitFor(`${m.name}'s fs_slot at ${target} while etcd is down`, 20_000, async () => {
            const at = await slotLsn(m, "fs_slot");
            return at !== null && at >= target ? at : { notYet: `at ${at}` };
          });
        }
      } finally {
        await restartEtcd(c);
      }
    });
  },
});
