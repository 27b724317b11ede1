/**
 * A promotion reserves its timeline number in the `history` key before `pg_ctl promote`, for real (3 agents, real
 * etcd and PostgreSQL): a member promoted whose agent dies before any later cycle leaves its timeline known, and
 * the next failover lands on a higher timeline, never on the same number with another history.
 *
 * The candidate's `pre_promote` script waits while a `hold` file exists. A switchover to it: the former leader
 * stops, the candidate takes the key, and while its script waits (Postgres still in recovery) the `history` key
 * already names timeline 2 with the candidate as its new leader. The two other agents are stopped (SIGTERM stops
 * their Postgres), so nobody can receive timeline 2; the candidate's agent is killed (SIGKILL) and the test runs
 * `pg_ctl promote` itself, as if the agent had died the instant after it: its Postgres is on timeline 2, which no
 * leader cycle ever published. Its Postgres then crashes (immediate stop). The two others start again and, once
 * the dead member's lease has expired, one of them is promoted: to timeline 3, and the key names 2 and 3.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";
import { type MemberLayout, readHealth, waitFor, withSql } from "../../scripts/lib/local_cluster.ts";

const BIN = "/usr/lib/postgresql/15/bin";
const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };
const RESERVED = "promotion under way (switch point not known yet)";

type Entry = [number, number, string, string?, string?];

/** The `history` key as etcd holds it (null when absent). */
async function historyKey(c: LocalCluster): Promise<Entry[] | null> {
  const etcd = new Etcd3({ hosts: c.etcd.endpoints });
  try {
    const raw = await etcd.get(`/service/${c.layout.scope}/history`).string();
    return raw === null ? null : JSON.parse(raw) as Entry[];
  } finally {
    etcd.close();
  }
}

/** The timeline a primary writes on, from the name of its current WAL file. */
async function timelineOf(m: MemberLayout): Promise<number> {
  return await withSql(m, async (sql) => {
    const [row] = await sql`SELECT pg_walfile_name(pg_current_wal_lsn()) AS f`;
    return parseInt((row!.f as string).slice(0, 8), 16);
  });
}

async function pgCtl(m: MemberLayout, args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(`${BIN}/pg_ctl`, {
    args: ["-D", m.dataDir, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
}

async function stop(c: LocalCluster, m: MemberLayout): Promise<void> {
  const status = await stopAgent(c.agents.get(m.name)!, 30_000);
  c.agents.delete(m.name);
  assert.equal(status.code, 0, `${m.name}'s agent stopped cleanly`);
}

Deno.test({
  name: "timeline reservation: a member promoted whose agent died at once leaves its timeline in history; " +
    "the next failover lands above it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let dir = "";
    await using c = await formCluster(TIMING, "tlreserve", {
      etcdMembers: 1,
      beforeStart: async (members, layout) => {
        dir = layout.dir;
        for (const m of members) {
          const d = `${dir}/${m.name}`;
          // Waits (at most 120 s) while the hold file exists; says when it started.
          const pre = `/bin/sh -c 'touch ${d}.pre_promote; i=0; ` +
            `while [ -e ${d}.hold ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done'`;
          const yaml = await Deno.readTextFile(m.configPath);
          const edited = yaml.replace("\npostgresql:\n", `\npostgresql:\n  pre_promote: "${pre}"\n`);
          if (edited === yaml) throw new Error(`no postgresql section in ${m.configPath}`);
          await Deno.writeTextFile(m.configPath, edited);
        }
      },
    });
    const old = c.leader;
    const candidate = c.replicas[0]!;
    const other = c.replicas[1]!;
    const file = (m: MemberLayout, what: string) => `${dir}/${m.name}.${what}`;
    try {
      assert.equal(await timelineOf(old), 1);
      await withSql(old, (sql) => sql`CREATE TABLE tl_rows (id int PRIMARY KEY)`);
      await withSql(old, (sql) => sql`INSERT INTO tl_rows VALUES (1)`);
      await Deno.writeTextFile(file(candidate, "hold"), "");
      await waitFor(`${candidate.name} streaming`, 30_000, async () => {
        const body = await (await fetch(`http://127.0.0.1:${candidate.apiPort}/patroni`)).json();
        return body.replication_state === "streaming" ? body : { notYet: JSON.stringify(body) };
      });
      const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
      });
      const answer = `${res.status} ${await res.text()}`;

      // The candidate runs its pre_promote script: Postgres is still in recovery, timeline 2 is already reserved.
      await waitFor(`${candidate.name}'s pre_promote script (switchover: ${answer})`, 60_000, async () => {
        try {
          await Deno.stat(file(candidate, "pre_promote"));
          return true;
        } catch {
          return null;
        }
      });
      const inRecovery = await withSql(
        candidate,
        async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r,
      );
      assert.equal(inRecovery, true, "not promoted yet");
      const reserved = await historyKey(c);
      assert.equal(reserved?.length, 1, `history before the promotion: ${JSON.stringify(reserved)}`);
      assert.equal(reserved![0]![0], 1, "the switch from timeline 1: timeline 2 is the cluster's");
      assert.equal(reserved![0]![2], RESERVED);
      assert.equal(reserved![0]![4], candidate.name);

      // Nobody else may receive timeline 2: the others stop. The candidate's agent dies; its Postgres is promoted
      // as if the agent had died the instant after `pg_ctl promote`, then crashes.
      await stop(c, old);
      await stop(c, other);
      const agent = c.agents.get(candidate.name)!;
      agent.kill("SIGKILL");
      await agent.status;
      c.agents.delete(candidate.name);
      await Deno.remove(file(candidate, "hold"));
      const promoted = await pgCtl(candidate, ["promote", "-w", "-t", "60"]);
      assert.equal(promoted.code, 0, new TextDecoder().decode(promoted.stderr));
      assert.equal(await timelineOf(candidate), 2, "the dead member's Postgres is on timeline 2");
      await pgCtl(candidate, ["stop", "-m", "immediate", "-w"]);

      // The others come back; once the dead member's lease expired, one of them takes over: on timeline 3.
      await c.spawn(old.name);
      await c.spawn(other.name);
      const leader = await waitFor("a writable leader other than the dead member", 90_000, async () => {
        const h = await readHealth(c.layout);
        if (!h.leader || h.leader === candidate.name) return { notYet: `leader=${h.leader}` };
        const m = c.byName(h.leader);
        const w = await withSql(m, async (sql) => (await sql`SELECT NOT pg_is_in_recovery() AS w`)[0]!.w);
        return w ? m : { notYet: `${m.name} is not writable yet` };
      });
      assert.equal(await timelineOf(leader), 3, `${leader.name} landed above the reserved timeline 2`);
      const published = await waitFor("the new leader's timeline in history", 30_000, async () => {
        const h = await historyKey(c);
        return h && h.length === 2 ? h : { notYet: JSON.stringify(h) };
      });
      assert.deepEqual(published.map((e) => e[0]), [1, 2], JSON.stringify(published));
      assert.equal(published[0]![4], candidate.name, "timeline 2 stays the dead member's");
      assert.equal(published[1]![4], leader.name);
      await withSql(leader, (sql) => sql`INSERT INTO tl_rows VALUES (2)`);
    } catch (err) {
      await c.dumpLogs("tlreserve");
      throw err;
    }
  },
});
