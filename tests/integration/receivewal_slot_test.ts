/**
 * An external physical consumer, `pg_receivewal`, on a real cluster (3-member etcd, two `hactl agent` processes with
 * PostgreSQL, ttl 10 / loop_wait 2 / retry_timeout 4):
 *
 * - its slot `archiver` is permanent (dynamic `slots`): the primary keeps it, the replica keeps a copy advanced to
 *   the position the leader publishes; after a switchover pg_receivewal, started again against the new primary,
 *   continues from where it was, through the timeline switch, with no segment missing;
 * - a slot matched by `ignore_slots`, `ext_ignored`, which a pg_receivewal used and left, is never dropped nor
 *   moved, while an unmanaged slot created beside it is dropped (proof that the slot rules ran meanwhile).
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { TIMINGS } from "../../scripts/bench/failover.ts";
import { waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";
import type { MemberLayout } from "../../scripts/lib/local_cluster.ts";
import { slotsOn, waitSlots } from "../helpers/slots.ts";
import { formCluster, setConfig } from "../helpers/cluster.ts";
import { startWalReceiver, type WalReceiver } from "../helpers/wal_receiver.ts";

const TIMING = TIMINGS.fast;

/** Write some WAL on `primary` and switch segments, so the receiver completes one more segment. */
function fillSegment(primary: MemberLayout): Promise<unknown> {
  return withSql(primary, async (sql) => {
    await sql`CREATE TABLE IF NOT EXISTS receivewal_rows (v int)`;
    await sql`INSERT INTO receivewal_rows SELECT generate_series(1, 5000)`;
    await sql`SELECT pg_switch_wal()`;
  });
}

/** Wait until the receiver has a completed segment of `timeline` numbered above `after`. */
async function waitSegment(rx: WalReceiver, timeline: number, after: number): Promise<number> {
  let got = 0;
  await waitFor(`a completed segment on timeline ${timeline} after ${after}`, 60_000, async () => {
    const segs = await rx.segments();
    const hit = segs.find(([tli, no]) => tli === timeline && no > after);
    if (hit) got = hit[1];
    return hit ? true : { notYet: JSON.stringify(segs) };
  }, 250);
  return got;
}

Deno.test({
  name:
    "receivewal slot: a permanent slot's pg_receivewal continues on the new primary; an ignored slot is left alone",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "receivewal", { members: 2 });
    const dir = await Deno.makeTempDir({ prefix: "hactl-receivewal-" });
    const ignoredDir = await Deno.makeTempDir({ prefix: "hactl-receivewal-ignored-" });
    let rx: WalReceiver | null = null;
    try {
      const old = c.leader;
      const next = c.replicas[0]!;
      await withSql(old, (sql) => sql`SELECT pg_create_physical_replication_slot('ext_ignored', true)`);
      await setConfig(c, {
        slots: { archiver: { type: "physical" } },
        ignore_slots: [{ name: "ext_ignored" }],
      });
      await waitSlots(old, "archiver created", (s) => "archiver" in s && "ext_ignored" in s);
      await waitSlots(next, "archiver kept on the replica", (s) => "archiver" in s);

      // The ignored slot: a pg_receivewal streams it for a segment, then goes away and leaves it inactive.
      const ignoredRx = await startWalReceiver(c, "ext_ignored", ignoredDir, old);
      await fillSegment(old);
      await waitSegment(ignoredRx, 1, 0);
      await ignoredRx.stop();
      await waitSlots(old, "ext_ignored inactive", (s) => s.ext_ignored?.active === false);
      const ignoredAt = (await slotsOn(old)).ext_ignored!.restart;

      rx = await startWalReceiver(c, "archiver", dir);
      await waitSlots(old, "archiver in use", (s) => s.archiver?.active === true);
      await fillSegment(old);
      const first = await waitSegment(rx, 1, 0);
      await fillSegment(old);
      await waitSegment(rx, 1, first);
      // The leader publishes the slot's position and the replica advances its copy past where it was created.
      const onPrimary = (await slotsOn(old)).archiver!.restart;
      await waitSlots(next, "archiver's copy advanced", (s) => (s.archiver?.restart ?? 0) >= onPrimary);

      // An unmanaged slot is dropped while the ignored one, inactive, stays where it was.
      await withSql(old, (sql) => sql`SELECT pg_create_physical_replication_slot('stray_slot', true)`);
      await waitSlots(old, "stray_slot dropped", (s) => !("stray_slot" in s));
      const kept = (await slotsOn(old)).ext_ignored;
      assert.deepEqual(kept, { active: false, restart: ignoredAt }, "ext_ignored neither dropped nor moved");

      const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: old.name, candidate: next.name }),
      });
      assert.equal(res.status, 200, await res.text());
      assert.equal((await waitHealthy(c.layout, 1, 60_000)).leader, next.name);

      // pg_receivewal reconnects to the new primary, whose copy of the slot still holds the WAL it needs.
      await waitSlots(next, "archiver in use on the new primary", (s) => s.archiver?.active === true);
      const last = Math.max(...(await rx.segments()).map(([, no]) => no));
      await fillSegment(next);
      await waitSegment(rx, 2, 0);
      await fillSegment(next);
      await waitSegment(rx, 2, last);
      assert.ok((await rx.histories()).includes("00000002.history"), "it followed the timeline switch");
      const numbers = [...new Set((await rx.segments()).map(([, no]) => no))].sort((a, b) => a - b);
      for (let i = 1; i < numbers.length; i++) {
        assert.equal(numbers[i], numbers[i - 1]! + 1, `no segment missing: ${JSON.stringify(numbers)}`);
      }
      assert.ok(rx.starts.includes(next.name), `started against the new primary: ${rx.starts}`);
      await waitSlots(old, "ext_ignored still there on the former primary", (s) => "ext_ignored" in s);
    } catch (err) {
      await c.dumpLogs("receivewal");
      throw err;
    } finally {
      await rx?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(ignoredDir, { recursive: true }).catch(() => {});
    }
  },
});
