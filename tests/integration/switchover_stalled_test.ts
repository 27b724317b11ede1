/**
 * A switchover under a steady write load to a candidate whose WAL receiver stalled while it still reports
 * `streaming` (its replication runs through an in-test TCP proxy that then drops every byte): the leader hands
 * over (the candidate's lag looks small), its clean shutdown cannot deliver the last WAL there, and it publishes
 * its shutdown checkpoint as it releases the key. The candidate must not promote without those writes: it waits
 * for that position (its cycle line says so), gives up after the switchover wait and clears the request; the
 * former leader, which holds everything, leads again. Asserted: 0 acknowledged writes lost, never two writable
 * primaries, the candidate never promoted, and once its link heals it streams again.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 *
 * @module
 */
import assert from "node:assert/strict";
import { formCluster } from "../helpers/cluster.ts";
import { startProxy } from "../helpers/tcp_proxy.ts";
import {
  createWriteTable,
  describeOverlaps,
  missingOn,
  overlappingWindows,
  startWriter,
} from "../helpers/writer.ts";
import { LOCAL_SECRETS, readHealth, waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

/** The agent's log lines matching `re`, as text (for assertions with the log in the message). */
async function logMatches(path: string, re: RegExp): Promise<string | null> {
  const log = await Deno.readTextFile(path);
  return re.test(log) ? log : null;
}

Deno.test({
  name: "switchover under load to a candidate whose WAL receiver stalled loses no acknowledged write",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster(TIMING, "swstall", { members: 2, etcdMembers: 1 });
    await using proxy = await startProxy({ hostname: "127.0.0.1", port: c.leader.pgPort });
    const old = c.leader;
    const candidate = c.replicas[0]!;
    try {
      // The former leader's walsenders give up on a silent replica after 15 s (the switchover is asked well before),
      // so its shutdown ends in bounded time.
      await withSql(old, async (sql) => {
        await sql`ALTER SYSTEM SET wal_sender_timeout = '15s'`;
        await sql`SELECT pg_reload_conf()`;
      });
      // The candidate replicates through the proxy (postgresql.auto.conf wins over the agent's postgresql.conf).
      await withSql(candidate, async (sql) => {
        const [row] = await sql`SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'`;
        // libpq finds the password in the passfile by host and port: through the proxy it is given here.
        const conninfo = String(row!.setting).replace(/\bport=\d+/, `port=${proxy.port}`) +
          ` password=${LOCAL_SECRETS.replication.password}`;
        assert.match(conninfo, new RegExp(`port=${proxy.port}`), "primary_conninfo names a port");
        await sql.unsafe(`ALTER SYSTEM SET primary_conninfo = '${conninfo.replaceAll("'", "''")}'`);
        await sql`SELECT pg_reload_conf()`;
      });
      await waitFor(
        `${candidate.name} streaming through the proxy`,
        30_000,
        () =>
          withSql(candidate, async (sql) => {
            const rows = await sql`SELECT status, sender_port FROM pg_stat_wal_receiver`;
            return rows[0]?.status === "streaming" && rows[0]?.sender_port === proxy.port
              ? true
              : { notYet: `${JSON.stringify(rows[0] ?? null)}, ${proxy.openConnections} through the proxy` };
          }),
      );

      await createWriteTable(old);
      const writer = startWriter(c.members);
      await waitFor("writes acknowledged", 10_000, () => Promise.resolve(writer.acks.length > 20));
      // The receiver stalls: the connection stays open, nothing passes; it still reports `streaming`.
      proxy.cut({ mode: "blackhole" });
      const stalledAt = writer.acks.length;
      await waitFor(
        "writes acknowledged after the stall",
        10_000,
        () => Promise.resolve(writer.acks.length > stalledAt + 20),
      );

      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${old.apiPort}/switchover`, {
        method: "POST",
        body: JSON.stringify({ leader: old.name, candidate: candidate.name }),
      });
      const answer = `${res.status} ${await res.text()}`;
      // The leader handed over (the candidate's lag looked small) and the candidate waits for the final position.
      await waitFor("the candidate waiting for the former leader's final position", 60_000, () =>
        logMatches(
          candidate.logPath,
          new RegExp(`waiting before taking the leader key for the switchover from '${old.name}'`),
        ));
      assert.match(await Deno.readTextFile(old.logPath), /released the leader key after a clean shutdown/);
      await waitFor(
        "the candidate giving up and clearing the request",
        60_000,
        () =>
          logMatches(
            candidate.logPath,
            /not taking the leader key for the switchover .* cleared the failover key/,
          ),
      );
      const back = await waitFor("the former leader leading again", 60_000, async () => {
        const h = await readHealth(c.layout);
        return h.leader === old.name && h.primaries.length === 1 && h.primaries[0] === old.name
          ? h
          : { notYet: `leader=${h.leader} primaries=${h.primaries}` };
      });
      await waitFor(
        "writes on the former leader again",
        20_000,
        () => Promise.resolve(writer.acks.some((a) => a.node === old.name && a.ackAt > t0)),
      );
      proxy.heal();
      await waitHealthy(c.layout, 1, 60_000);
      const acks = await writer.stop();

      const overlaps = overlappingWindows(acks);
      assert.deepEqual(overlaps, [], `two writable primaries: ${describeOverlaps(overlaps, t0)}`);
      assert.deepEqual(await missingOn(old, acks), [], "every acknowledged write is on the leader");
      assert.ok(acks.every((a) => a.node === old.name), "the candidate never accepted a write");
      assert.doesNotMatch(await Deno.readTextFile(candidate.logPath), /promoted self to leader/);
      assert.equal(back.view.failover, null, "the request was cleared");
      // deno-lint-ignore no-console -- what the API answered (not asserted: the outcome is decided after it returns)
      console.log(JSON.stringify({ switchover_answer: answer, acked_writes: acks.length }));
    } catch (err) {
      await c.dumpLogs("swstall");
      throw err;
    }
  },
});
