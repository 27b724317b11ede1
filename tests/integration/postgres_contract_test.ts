/**
 * One contract for the `PostgresPort`, run against the real adapter (`LocalPostgres` on PostgreSQL 15) and against
 * the simulator's `FakePostgres`, so the fake cannot drift from what the real thing does: what each operation
 * leaves behind, as seen through `observe()` (also the slots of a standby leader, and the slot a member of a
 * standby cluster streams through from the remote primary).
 *
 * The real half runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root) and is
 * ignored as root; the fake half always runs.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { PostgresError, type PostgresPort } from "../../src/core/ports.ts";
import { LocalPostgres } from "../../src/pg/postgres.ts";
import { slotNameFor } from "../../src/core/slots.ts";
import type { HistoryEntry, PgObservation, Upstream } from "../../src/core/types.ts";
import { FakePostgres, FakePostgresWorld } from "../fakes/memory_pg.ts";
import { connUrlOf, makeTestConfig, TEST_SUPERUSER } from "../helpers/pg_config.ts";
import { freePort } from "../helpers/processes.ts";

/** Two servers under test and what the contract needs to drive them. */
interface Pair {
  primary: PostgresPort;
  replica: PostgresPort;
  /** How the replica reaches the primary. */
  upstream: Upstream;
  /** How the primary reaches the replica (after the roles swap). */
  replicaConnUrl: string;
  replicaName: string;
  /** Client writes on the primary. */
  write(): Promise<void>;
  /** Let time pass: the fake moves WAL to its replicas; the real one just waits a little. */
  settle(): Promise<void>;
}

/** Observe `pg` until `ok` holds; the fake gets a few settles, the real one up to 30 s. */
async function eventually(
  pair: Pair,
  pg: PostgresPort,
  what: string,
  ok: (o: PgObservation) => boolean,
): Promise<PgObservation> {
  const deadline = Date.now() + 30_000;
  let last: PgObservation | null = null;
  while (Date.now() < deadline) {
    last = await pg.observe();
    if (ok(last)) return last;
    await pair.settle();
  }
  throw new Error(`timed out waiting for ${what}; last observation: ${JSON.stringify(last)}`);
}

async function contract(pair: Pair): Promise<void> {
  const { primary, replica, upstream } = pair;

  const empty = await primary.observe();
  assert.equal(empty.dataDir, "empty");
  assert.equal(empty.running, false);
  assert.equal(empty.role, null);

  // bootstrap: a running primary on timeline 1 with a system identifier.
  await primary.bootstrap();
  const p = await primary.observe();
  assert.equal(p.dataDir, "initialized");
  assert.equal(p.running, true);
  assert.equal(p.queryable, true);
  assert.equal(p.role, "primary");
  assert.equal(p.standbySignal, false);
  assert.equal(p.timeline, 1);
  assert.match(p.sysid ?? "", /^[0-9]{10,}$/);
  assert.ok((p.walPosition ?? 0) > 0);
  assert.deepEqual(p.timelineHistory, []);

  // member slots on the primary; a permanent slot is kept beside them and dropped once no longer wanted
  await primary.syncSlots([slotNameFor(pair.replicaName)], { permanent: ["keep_me"] });
  assert.deepEqual((await primary.observe()).slots, ["keep_me", slotNameFor(pair.replicaName)]);
  await primary.syncSlots([slotNameFor(pair.replicaName)], { role: "replica", permanent: ["other"] });
  assert.deepEqual(
    (await primary.observe()).slots,
    ["keep_me", slotNameFor(pair.replicaName)],
    "not a replica",
  );
  await primary.syncSlots([slotNameFor(pair.replicaName)]);
  assert.deepEqual((await primary.observe()).slots, [slotNameFor(pair.replicaName)]);

  // clone: a stopped copy with the same system identifier, set up as a standby
  await replica.createReplica(upstream);
  const cloned = await replica.observe();
  assert.equal(cloned.dataDir, "initialized");
  assert.equal(cloned.running, false);
  assert.equal(cloned.standbySignal, true);
  assert.equal(cloned.sysid, p.sysid);

  // start as replica: streams from the primary on the same timeline
  await replica.start("replica", upstream);
  const r = await eventually(pair, replica, "a streaming replica", (o) => o.replicationState === "streaming");
  assert.equal(r.running, true);
  assert.equal(r.role, "replica");
  assert.equal(r.timeline, 1);
  assert.equal(await replica.follow(upstream), false, "follow() with the same upstream changes nothing");
  await assert.rejects(replica.checkpoint(), PostgresError, "no CHECKPOINT after promotion on a replica");
  const walSenders = await eventually(pair, primary, "one WAL sender", (o) => o.replication.length === 1);
  assert.equal(walSenders.replication[0]!.application_name, pair.replicaName);

  // a replica creates the permanent slots (not the member slots) and drops a slot it does not know
  await replica.syncSlots([slotNameFor("pg9")], { role: "replica", permanent: ["keep_me"] });
  assert.deepEqual((await replica.observe()).slots, ["keep_me"]);
  await replica.syncSlots(["keep_me"], { role: "replica" });
  assert.deepEqual((await replica.observe()).slots, ["keep_me"], "a member slot is kept on a replica");
  await replica.syncSlots([], { role: "replica" });
  assert.deepEqual((await replica.observe()).slots, [], "an unknown slot is dropped on a replica");

  // a standby leader (in recovery) keeps its members' slots; without `inRecovery` a replica's are left alone
  await replica.syncSlots([slotNameFor("pg9")], { inRecovery: true });
  assert.deepEqual((await replica.observe()).slots, [slotNameFor("pg9")], "member slot kept in recovery");
  await replica.syncSlots([]);
  assert.deepEqual((await replica.observe()).slots, [slotNameFor("pg9")], "not a primary");
  await replica.syncSlots([], { role: "replica" });
  assert.deepEqual((await replica.observe()).slots, []);

  // following the remote primary of a standby cluster: the section's slot (none here), not the member's
  const remote: Upstream = { ...upstream, name: "remote primary", recovery: { remote: true } };
  assert.equal(await replica.follow(remote), true, "primary_slot_name changes");
  assert.equal(await replica.follow(remote), false);
  await pair.write();
  const viaRemote = (await primary.observe()).walPosition!;
  await eventually(pair, replica, "streaming without a slot", (o) => (o.walPosition ?? 0) >= viaRemote);
  assert.equal(await replica.follow(upstream), true, "back to the member slot");

  // writes reach the replica
  await pair.write();
  const target = (await primary.observe()).walPosition!;
  await eventually(pair, replica, "the replica to catch up", (o) => (o.walPosition ?? 0) >= target);

  // a fast stop of the primary reaches its safe point once; a second stop is harmless (and safe at once)
  let safepoints = 0;
  await primary.stop("fast", () => safepoints++);
  assert.equal(safepoints, 1, "the safe point is reported once");
  assert.equal((await primary.observe()).running, false);
  await primary.stop("fast", () => safepoints++);
  assert.equal(safepoints, 2);

  // promotion past every timeline the cluster's history names: timeline 3, branching from 1
  const history: HistoryEntry[] = [[
    1,
    target,
    "no recovery target specified",
    "2026-11-26T12:00:00+00:00",
    "pg9",
  ]];
  await replica.promote(history);
  const promoted = await replica.observe();
  assert.equal(promoted.role, "primary");
  assert.equal(promoted.standbySignal, false);
  assert.equal(promoted.timeline, 3);
  assert.deepEqual(promoted.timelineHistory.map((h) => h.timeline), [1]);
  assert.ok(promoted.timelineHistory[0]!.switchLsn >= target);

  // the checkpoint after the promotion: pg_control then names the new timeline (where the adapter reads it; the
  // fake does not model pg_control)
  await replica.checkpoint();
  const checkpointed = (await replica.observe()).checkpointTimeline;
  assert.ok(
    checkpointed === undefined || checkpointed === 3,
    `latest checkpoint on timeline ${checkpointed}`,
  );

  // Divergence and pg_rewind: the old primary comes back and takes writes the new primary never saw (as a cut-off
  // primary would), is stopped uncleanly, then rewound from the new primary and streams from it.
  await primary.start("primary", null);
  await eventually(pair, primary, "the old primary up again", (o) => o.queryable && o.role === "primary");
  await pair.write();
  const diverged = (await primary.observe()).walPosition!;
  assert.ok(diverged > target, "the old primary's WAL went past the switch point");
  await primary.stop("immediate");
  await primary.rewind({ name: "pg2", connUrl: pair.replicaConnUrl });
  const rewound = await primary.observe();
  assert.equal(rewound.running, false);
  await replica.syncSlots([slotNameFor("pg1")]);
  await primary.start("replica", { name: "pg2", connUrl: pair.replicaConnUrl });
  const back = await eventually(
    pair,
    primary,
    "the rewound primary streaming",
    (o) => o.replicationState === "streaming",
  );
  assert.equal(back.timeline, 3);
  assert.equal(back.role, "replica");

  await primary.stop("immediate");
  await replica.stop("immediate");
  assert.equal((await replica.observe()).running, false);
  await assert.rejects(replica.checkpoint(), PostgresError, "no CHECKPOINT on a stopped server");
}

Deno.test("PostgresPort contract: FakePostgres", async () => {
  const world = new FakePostgresWorld({ seed: 7, now: () => 0 });
  const primary = new FakePostgres(world, { name: "pg1", connUrl: "postgres://127.0.0.1:5432/postgres" });
  const replica = new FakePostgres(world, { name: "pg2", connUrl: "postgres://127.0.0.1:5433/postgres" });
  await contract({
    primary,
    replica,
    upstream: { name: "pg1", connUrl: primary.connUrl },
    replicaConnUrl: replica.connUrl,
    replicaName: "pg2",
    write: () => Promise.resolve(void primary.write(100)),
    settle: () => Promise.resolve(world.replicate()),
  });
});

Deno.test({
  name: "PostgresPort contract: LocalPostgres on PostgreSQL 15",
  ignore: Deno.uid() === 0,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "hactl-pg-contract-" });
    const cfg1 = makeTestConfig({
      name: "pg1",
      dataDir: `${tmp}/pg1`,
      pgPort: freePort(),
      apiPort: freePort(),
    });
    const cfg2 = makeTestConfig({
      name: "pg2",
      dataDir: `${tmp}/pg2`,
      pgPort: freePort(),
      apiPort: freePort(),
    });
    const primary = new LocalPostgres({ config: cfg1, dynamicParameters: () => ({}), useSlots: () => true });
    const replica = new LocalPostgres({ config: cfg2, dynamicParameters: () => ({}), useSlots: () => true });
    const write = async () => {
      const sql = postgres({
        host: "127.0.0.1",
        port: cfg1.postgresql.listen.port,
        user: TEST_SUPERUSER.username,
        password: TEST_SUPERUSER.password,
        database: "postgres",
        max: 1,
        onnotice: () => {},
      });
      try {
        await sql`CREATE TABLE IF NOT EXISTS contract (v int)`;
        await sql`INSERT INTO contract SELECT generate_series(1, 100)`;
      } finally {
        await sql.end({ timeout: 1 });
      }
    };
    try {
      await contract({
        primary,
        replica,
        upstream: { name: "pg1", connUrl: connUrlOf(cfg1) },
        replicaConnUrl: connUrlOf(cfg2),
        replicaName: "pg2",
        write,
        settle: () => new Promise((r) => setTimeout(r, 100)),
      });
    } finally {
      for (const pg of [primary, replica]) {
        await pg.stop("immediate").catch(() => {});
        await pg.close();
      }
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      for (const c of [cfg1, cfg2]) await Deno.remove(c.postgresql.pgpass).catch(() => {});
    }
  },
});
