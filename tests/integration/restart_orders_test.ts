/**
 * A whole real cluster stopped and started again on kept data, with the members started in every order (all 3! =
 * 6), each time converging: one primary holding the key and both other members streaming from it, holding its
 * rows. Before each restart the histories are made to differ: the member that will start first is stopped first
 * and misses the writes taken after it stopped, so when it comes back alone and wins the race it starts a new
 * timeline that the others (ahead of it on the old one) can only follow after pg_rewind (use_pg_rewind is on in
 * the local cluster's YAML), or, when two members promoted to the same timeline number unaware of each other, after
 * a fresh clone (`remove_data_directory_on_diverged_timelines`, set here).
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";
import {
  type MemberLayout,
  readHealth,
  waitFor,
  waitHealthy,
  withSql,
} from "../../scripts/lib/local_cluster.ts";

const ORDERS = [
  ["pg1", "pg2", "pg3"],
  ["pg1", "pg3", "pg2"],
  ["pg2", "pg1", "pg3"],
  ["pg2", "pg3", "pg1"],
  ["pg3", "pg1", "pg2"],
  ["pg3", "pg2", "pg1"],
];

async function stop(c: LocalCluster, name: string): Promise<void> {
  const agent = c.agents.get(name);
  if (!agent) return;
  await stopAgent(agent, 60_000);
  c.agents.delete(name);
}

/** The leader named in etcd once its Postgres takes writes. */
async function writableLeader(c: LocalCluster, not: string[] = []): Promise<MemberLayout> {
  return await waitFor("a writable leader", 90_000, async () => {
    const h = await readHealth(c.layout);
    if (!h.leader || not.includes(h.leader)) return { notYet: `leader=${h.leader}` };
    const m = c.byName(h.leader);
    const writable = await withSql(m, async (sql) => (await sql`SELECT NOT pg_is_in_recovery() AS w`)[0]!.w);
    return writable ? m : { notYet: `${m.name} is not writable yet` };
  });
}

async function rows(m: MemberLayout): Promise<number> {
  return await withSql(
    m,
    async (sql) => (await sql`SELECT count(*)::int AS n FROM restarts`)[0]!.n as number,
  );
}

Deno.test({
  name:
    "restart orders: a whole cluster restarted on kept data converges whichever member starts first and last",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 10, loopWait: 2, retryTimeout: 4 }, "orderstest", {
      // Two members promoted unaware of each other (the last leader stopped before it published its timeline) can
      // end up on one timeline number with two histories, which pg_rewind cannot repair: let them re-clone.
      beforeStart: async (members) => {
        for (const m of members) {
          const yaml = await Deno.readTextFile(m.configPath);
          const edited = yaml.replace(
            "\npostgresql:\n",
            "\npostgresql:\n  remove_data_directory_on_diverged_timelines: true\n",
          );
          if (edited === yaml) throw new Error(`no postgresql section in ${m.configPath}`);
          await Deno.writeTextFile(m.configPath, edited);
        }
      },
    });
    await withSql(c.leader, (sql) => sql`CREATE TABLE restarts (id serial PRIMARY KEY, round int)`);
    try {
      for (const [round, order] of ORDERS.entries()) {
        // The first starter stops first; the others take writes it never sees, then stop too.
        await stop(c, order[0]!);
        const leader = await writableLeader(c, [order[0]!]);
        await withSql(
          leader,
          (sql) => sql`INSERT INTO restarts (round) SELECT ${round} FROM generate_series(1, 50)`,
        );
        await stop(c, order[1]!);
        await stop(c, order[2]!);
        // Start again, one after the other: each next member once the previous one runs its HA loop.
        await c.spawn(order[0]!);
        const first = await writableLeader(c);
        await c.spawn(order[1]!);
        await c.spawn(order[2]!);
        const h = await waitHealthy(c.layout, 2, 180_000);
        const now = c.byName(h.leader!);
        await withSql(now, (sql) => sql`INSERT INTO restarts (round) VALUES (${round})`);
        const want = await rows(now);
        for (const m of c.members) {
          if (m === now) continue;
          await waitFor(
            `${m.name} streaming from ${now.name} with its ${want} rows`,
            60_000,
            () =>
              withSql(m, async (sql) => {
                const [r] = await sql`SELECT status, sender_port FROM pg_stat_wal_receiver`;
                const n = (await sql`SELECT count(*)::int AS n FROM restarts`)[0]!.n as number;
                const ok = r?.status === "streaming" && r?.sender_port === now.pgPort && n === want;
                return ok || { notYet: `${JSON.stringify(r ?? null)} rows=${n}` };
              }),
          );
        }
        // deno-lint-ignore no-console -- the order and who led, for the record
        console.error(
          `round ${round}: started ${order.join(", ")}; ${first.name} led first, ${now.name} leads`,
        );
      }
      assert.equal(c.agents.size, 3);
    } catch (err) {
      await c.dumpLogs("restart-orders");
      for (const m of c.members) {
        const text = await Deno.readTextFile(`${m.dataDir}/postgresql.log`).catch(() => "(no log)");
        // deno-lint-ignore no-console -- failure diagnostics
        console.error(`----- ${m.name} postgresql.log -----\n${text.split("\n").slice(-25).join("\n")}`);
      }
      throw err;
    }
  },
});
