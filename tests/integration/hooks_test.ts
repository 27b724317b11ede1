/**
 * `postgresql.pre_promote` and `postgresql.before_stop` on a real cluster (3 agents, real etcd and PostgreSQL):
 * a switchover to a member whose pre_promote script exits 1 does not promote it: it runs the script, releases the
 * leader key, and another member takes over with every committed row while the refusing member keeps following as
 * a replica; the former leader's before_stop script ran before its Postgres was stopped for the switchover.
 *
 * Each member's scripts append a line to a file of their own; the pre_promote script refuses while a `refuse` file
 * of the member exists. Every member also names a `custom_conf` file, which its Postgres (bootstrapped, or cloned and
 * started as a replica) reads instead of `postgresql.base.conf`.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { formCluster } from "../helpers/cluster.ts";
import { type MemberLayout, readHealth, waitFor, withSql } from "../../scripts/lib/local_cluster.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

/** Lines of a marker file (none when it does not exist). */
async function lines(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

Deno.test({
  name:
    "hooks: a failing pre_promote script blocks its member's promotion and another member takes over; before_stop runs; custom_conf is read",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let hooksDir = "";
    await using c = await formCluster(TIMING, "hookstest", {
      etcdMembers: 1,
      beforeStart: async (members, layout) => {
        hooksDir = `${layout.dir}/hooks`;
        await Deno.mkdir(hooksDir, { recursive: true });
        await Deno.writeTextFile(`${hooksDir}/custom.conf`, "hactl.custom_marker = 'from-custom-conf'\n");
        for (const m of members) {
          const d = `${hooksDir}/${m.name}`;
          const pre = `/bin/sh -c 'date +%s.%N >> ${d}.pre_promote; test ! -e ${d}.refuse'`;
          const stop = `/bin/sh -c 'date +%s.%N >> ${d}.before_stop'`;
          const yaml = await Deno.readTextFile(m.configPath);
          const edited = yaml.replace(
            "\npostgresql:\n",
            `\npostgresql:\n  pre_promote: "${pre}"\n  before_stop: "${stop}"\n  custom_conf: ${hooksDir}/custom.conf\n`,
          );
          if (edited === yaml) throw new Error(`no postgresql section in ${m.configPath}`);
          await Deno.writeTextFile(m.configPath, edited);
        }
      },
    });
    const old = c.leader;
    const refusing = c.replicas[0]!;
    const other = c.replicas[1]!;
    const file = (m: MemberLayout, what: string) => `${hooksDir}/${m.name}.${what}`;
    try {
      assert.deepEqual(await lines(file(old, "pre_promote")), [], "a bootstrap is no promotion");
      for (const m of c.members) {
        const marker = await withSql(
          m,
          async (sql) => (await sql`SHOW hactl.custom_marker`)[0]!["hactl.custom_marker"],
        );
        assert.equal(marker, "from-custom-conf", `${m.name} read custom_conf`);
      }
      await withSql(old, (sql) => sql`CREATE TABLE hook_rows (id int PRIMARY KEY)`);
      await withSql(old, (sql) => sql`INSERT INTO hook_rows VALUES (1)`);
      await Deno.writeTextFile(file(refusing, "refuse"), "");
      await waitFor(`${refusing.name} streaming`, 30_000, async () => {
        const body = await (await fetch(`http://127.0.0.1:${refusing.apiPort}/patroni`)).json();
        return body.replication_state === "streaming" ? body : { notYet: JSON.stringify(body) };
      });

      const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: old.name, candidate: refusing.name }),
      });
      const answer = `${res.status} ${await res.text()}`;

      // Another member leads and takes writes; the refusing member ran its script once and was never promoted.
      const leader = await waitFor("a writable leader other than the refusing member", 90_000, async () => {
        const h = await readHealth(c.layout);
        if (!h.leader || h.leader === refusing.name) return { notYet: `leader=${h.leader}` };
        const m = c.byName(h.leader);
        const w = await withSql(m, async (sql) => (await sql`SELECT NOT pg_is_in_recovery() AS w`)[0]!.w);
        return w ? m : { notYet: `${m.name} is not writable yet` };
      });
      assert.ok(leader.name === old.name || leader.name === other.name);
      const ran = await lines(file(refusing, "pre_promote"));
      assert.ok(
        ran.length >= 1,
        `the pre_promote script ran on ${refusing.name} (switchover answered ${answer})`,
      );
      const log = await Deno.readTextFile(refusing.logPath);
      assert.match(log, /promotion cancelled because the pre_promote script failed/);
      assert.match(log, /backoff: skip leader race after pre_promote script failure/);
      assert.doesNotMatch(log, /promoting Postgres/, "pg_ctl promote never ran on the refusing member");

      // The former leader's before_stop script ran when it was stopped for the switchover.
      assert.ok((await lines(file(old, "before_stop"))).length >= 1, "before_stop ran on the former leader");

      await withSql(leader, (sql) => sql`INSERT INTO hook_rows VALUES (2)`);
      await waitFor(`${refusing.name} replicating from ${leader.name}`, 60_000, async () => {
        const r = await withSql(refusing, async (sql) => {
          const [x] = await sql`SELECT pg_is_in_recovery() AS rec, count(*)::int AS n FROM hook_rows`;
          return x!;
        });
        return r.rec === true && r.n === 2 ? r : { notYet: JSON.stringify(r) };
      });
    } catch (err) {
      await c.dumpLogs("hooks");
      throw err;
    }
  },
});
