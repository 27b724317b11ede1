/**
 * Hand-overs with real etcd and PostgreSQL, asserted on what an operator and a client see:
 * - a switchover to a candidate that runs but does not stream (its primary_conninfo points nowhere, so its WAL
 *   receiver is down) is refused: `POST /switchover` answers 412 saying why, a scheduled one is cleared by the
 *   leader with the reason in its log, the leader keeps leading and keeps every acknowledged write;
 * - a promotion whose replay backlog outlasts the ttl (replay held by a conflicting query on the candidate) completes
 *   under the key: the candidate renews it while `pg_ctl promote` waits, and its own fence never fires.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 *
 * @module
 */
import assert from "node:assert/strict";
import { formCluster } from "../helpers/cluster.ts";
import { readHealth, waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

Deno.test({
  name: "switchover to a candidate that runs but does not stream is refused and the leader stays",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "swnostream", { members: 2, etcdMembers: 1 });
    const old = c.leader;
    const candidate = c.replicas[0]!;
    try {
      await withSql(old, (sql) => sql`CREATE TABLE handover_rows (id int PRIMARY KEY)`);
      await withSql(old, (sql) => sql`INSERT INTO handover_rows VALUES (1)`);
      // Break the candidate's replication: primary_conninfo to a closed port (postgresql.auto.conf wins over the
      // agent's postgresql.conf), so its WAL receiver goes away while Postgres keeps running and answering.
      await withSql(candidate, async (sql) => {
        await sql`ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 connect_timeout=1'`;
        await sql`SELECT pg_reload_conf()`;
      });
      await waitFor(`${candidate.name} not streaming`, 30_000, async () => {
        const body = await (await fetch(`http://127.0.0.1:${candidate.apiPort}/patroni`)).json();
        return body.state === "running" && body.role === "replica" && body.replication_state !== "streaming"
          ? body
          : { notYet: JSON.stringify(body) };
      });
      await withSql(old, (sql) => sql`INSERT INTO handover_rows VALUES (2)`);

      // Asked now: refused before the failover key is written, saying why.
      const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
      });
      assert.equal(res.status, 412);
      assert.equal(
        await res.text(),
        "switchover is not possible: no good candidates have been found",
      );

      // Scheduled (no pre-check): the leader checks the candidate when it is due, clears the request, stays.
      const at = new Date(Date.now() + 3000).toISOString();
      const scheduled = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: old.name, candidate: candidate.name, scheduled_at: at }),
      });
      assert.equal(scheduled.status, 202, await scheduled.text());
      await waitFor("the leader clearing the failover key", 30_000, async () => {
        const h = await readHealth(c.layout);
        return h.view.failover === null ? h : { notYet: JSON.stringify(h.view.failover) };
      });
      // The leader logs why at the end of the cycle that deleted the key (after writing its member key), and the
      // line reaches the log file through a pipe: wait for it instead of reading the file once.
      const cleared = new RegExp(
        `cleared the failover key: candidate '${candidate.name}' is not streaming \\(in archive recovery\\)`,
      );
      const log = await waitFor("the leader logging why it cleared the failover key", 15_000, async () => {
        const text = await Deno.readTextFile(old.logPath);
        return cleared.test(text) ? text : { notYet: `no line matching ${cleared}` };
      });
      assert.doesNotMatch(log, /switching over to/);
      const h = await readHealth(c.layout);
      assert.equal(h.leader, old.name);
      const rows = await withSql(old, async (sql) => {
        const [r] = await sql`SELECT pg_is_in_recovery() AS rec, count(*)::int AS n FROM handover_rows`;
        return r!;
      });
      assert.deepEqual(
        { rec: rows.rec, n: rows.n },
        { rec: false, n: 2 },
        "still the writable primary, both rows",
      );
      await withSql(old, (sql) => sql`INSERT INTO handover_rows VALUES (3)`);
      const inRecovery = await withSql(
        candidate,
        async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r,
      );
      assert.equal(inRecovery, true, "the candidate was not promoted");
    } catch (err) {
      await c.dumpLogs("swnostream");
      throw err;
    }
  },
});

Deno.test({
  name: "a promotion replaying a backlog longer than the ttl completes without the member fencing itself",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "swbacklog", { members: 2, etcdMembers: 1 });
    const old = c.leader;
    const candidate = c.replicas[0]!;
    try {
      // Replay on the candidate waits for conflicting queries for as long as they run.
      await withSql(candidate, async (sql) => {
        await sql`ALTER SYSTEM SET max_standby_streaming_delay = -1`;
        await sql`SELECT pg_reload_conf()`;
      });
      await withSql(old, (sql) => sql`CREATE TABLE backlog_rows (id int PRIMARY KEY)`);
      await withSql(old, (sql) => sql`INSERT INTO backlog_rows VALUES (1)`);
      await waitFor(
        "the table on the candidate",
        30_000,
        () =>
          withSql(
            candidate,
            async (sql) => (await sql`SELECT count(*)::int AS n FROM backlog_rows`)[0]!.n === 1,
          ),
      );
      // A query on the candidate holds a lock on the table; the primary then takes an exclusive lock on it, whose
      // replay waits behind that query: everything written after it is received but not replayed.
      let release = () => {};
      const released = new Promise<void>((r) => (release = r));
      let holding = false;
      const blocker = withSql(candidate, (sql) =>
        sql.begin(async (tx) => {
          await tx`SELECT count(*) FROM backlog_rows`;
          holding = true;
          await released;
        })).catch((err) => err);
      await waitFor("the blocking query on the candidate", 10_000, () => Promise.resolve(holding));
      await withSql(old, (sql) => sql.begin((tx) => tx`LOCK TABLE backlog_rows IN ACCESS EXCLUSIVE MODE`));
      await withSql(old, (sql) => sql`INSERT INTO backlog_rows SELECT generate_series(2, 1000)`);

      const switched = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
      });
      assert.equal(switched.status, 200, await switched.text());
      const tookKey = Date.now();
      // Hold the replay for longer than the ttl after the candidate took the key: it must keep the key and its
      // Postgres all along (the promotion waits, the loop renews).
      while (Date.now() - tookKey < (TIMING.ttl + 5) * 1000) {
        const h = await readHealth(c.layout);
        assert.equal(h.leader, candidate.name, "the candidate keeps the key while it promotes");
        const rec = await withSql(
          candidate,
          async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r,
        );
        assert.equal(rec, true, "replay is still held, the promotion still waits");
        await new Promise((r) => setTimeout(r, 500));
      }
      release();
      await blocker;
      await waitFor(
        `${candidate.name} writable`,
        60_000,
        () => withSql(candidate, async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r === false),
      );
      const n = await withSql(
        candidate,
        async (sql) => (await sql`SELECT count(*)::int AS n FROM backlog_rows`)[0]!.n,
      );
      assert.equal(n, 1000, "every acknowledged row is on the new primary");
      const log = await Deno.readTextFile(candidate.logPath);
      assert.doesNotMatch(log, /fence deadline passed/);
      assert.match(log, /promoting postgres in progress/);
      // The former primary rejoins and streams (the new primary already holds its slot, kept while a replica).
      assert.equal((await waitHealthy(c.layout, 1, 60_000)).leader, candidate.name);
    } catch (err) {
      await c.dumpLogs("swbacklog");
      throw err;
    }
  },
});
