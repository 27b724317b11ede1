/**
 * Replication slots on a real cluster (3-member etcd, two `hactl agent` processes with PostgreSQL, ttl 10 /
 * loop_wait 2 / retry_timeout 4), once the `config` key sets a permanent physical slot and `ignore_slots`:
 *
 * - the permanent slot is created on the primary and on the replica; the leader publishes its position in the
 *   `status` key and the replica advances its copy to it;
 * - a slot matched by `ignore_slots` is left alone; an inactive slot that is neither a member's, permanent nor
 *   ignored is dropped (as Patroni drops an unknown replication slot);
 * - after a switchover the permanent slot exists on the new primary (and is still kept on the former one, now a
 *   replica); both drop an unknown slot and leave an ignored one.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { TIMINGS } from "../../scripts/bench/failover.ts";
import { readHealth, waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";
import type { MemberLayout } from "../../scripts/lib/local_cluster.ts";
import { formCluster, setConfig } from "../helpers/cluster.ts";
import { parseLsn } from "../../src/core/lsn.ts";

const TIMING = TIMINGS.fast;

/** The member's slots: name -> restart_lsn (0 when none). */
function slotsOn(m: MemberLayout): Promise<Record<string, number>> {
  return withSql(m, async (sql) => {
    const rows = await sql`SELECT slot_name::text AS n, restart_lsn::text AS l FROM pg_replication_slots`;
    return Object.fromEntries(rows.map((r) => [r.n as string, r.l ? parseLsn(r.l as string) : 0]));
  });
}

function createSlot(m: MemberLayout, name: string): Promise<unknown> {
  return withSql(m, (sql) => sql`SELECT pg_create_physical_replication_slot(${name}, true)`);
}

async function waitSlots(
  m: MemberLayout,
  what: string,
  ok: (s: Record<string, number>) => boolean,
): Promise<void> {
  await waitFor(`${m.name}: ${what}`, 30_000, async () => {
    const s = await slotsOn(m).catch((e) => ({ error: String(e) }) as unknown as Record<string, number>);
    return ok(s) ? true : { notYet: JSON.stringify(s) };
  }, 200);
}

Deno.test({
  name:
    "slots: a permanent physical slot survives a switchover; ignored slots stay, unknown ones are dropped",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "slots", { members: 2 });
    try {
      const old = c.leader;
      const replica = c.replicas[0]!;
      await createSlot(old, "ignored_one");
      await setConfig(c, {
        slots: { keep_me: { type: "physical" } },
        ignore_slots: [{ name: "ignored_one" }],
      });
      await waitSlots(old, "keep_me created", (s) => "keep_me" in s && "ignored_one" in s);
      await waitSlots(replica, "keep_me created on the replica", (s) => "keep_me" in s);

      // An unmanaged slot is dropped once inactive, as Patroni drops an unknown slot; the ignored one stays.
      await createSlot(old, "stray_one");
      await waitSlots(
        old,
        "stray_one dropped",
        (s) => !("stray_one" in s) && "ignored_one" in s && "keep_me" in s,
      );

      // Move the primary's permanent slot forward: the leader publishes it and the replica advances its copy.
      await withSql(old, async (sql) => {
        await sql`CREATE TABLE IF NOT EXISTS slot_filler (v int)`;
        await sql`INSERT INTO slot_filler SELECT generate_series(1, 20000)`;
        await sql`SELECT pg_switch_wal()`;
        await sql`INSERT INTO slot_filler SELECT generate_series(1, 100)`;
        await sql`SELECT pg_replication_slot_advance('keep_me', pg_current_wal_flush_lsn())`;
      });
      const target = (await slotsOn(old)).keep_me!;
      await waitFor("the status key to publish keep_me", 30_000, async () => {
        const published = (await readHealth(c.layout)).view.status?.slots.keep_me ?? 0;
        return published >= target ? true : { notYet: `published ${published}, want ${target}` };
      });
      await waitSlots(
        replica,
        "keep_me advanced to the primary's position",
        (s) => (s.keep_me ?? 0) >= target,
      );

      const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: old.name, candidate: replica.name }),
      });
      assert.equal(res.status, 200, await res.text());
      assert.equal((await waitHealthy(c.layout, 1, 60_000)).leader, replica.name);

      const after = await slotsOn(replica);
      assert.ok("keep_me" in after, `keep_me on the new primary: ${JSON.stringify(after)}`);
      await waitSlots(old, "keep_me kept on the former primary, now a replica", (s) => "keep_me" in s);
      // On a replica too, an unknown inactive slot is dropped and an ignored one stays, as Patroni does.
      await createSlot(old, "stray_three");
      await waitSlots(
        old,
        "stray_three dropped on the replica",
        (s) => !("stray_three" in s) && "ignored_one" in s,
      );

      await createSlot(replica, "ignored_one");
      await createSlot(replica, "stray_two");
      await waitSlots(
        replica,
        "stray_two dropped on the new primary",
        (s) => !("stray_two" in s) && "keep_me" in s,
      );
      assert.ok("ignored_one" in (await slotsOn(replica)), "the ignored slot stays on the new primary");
    } catch (err) {
      await c.dumpLogs("slots");
      throw err;
    }
  },
});
