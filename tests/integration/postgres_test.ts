/**
 * LocalPostgres against real PostgreSQL binaries: bootstrap a primary, clone a streaming replica with slots,
 * replicate a row, then stop the primary and promote the replica past the timelines a trimmed history key names.
 *
 * Postgres refuses to run as root: run this file as the `postgres` OS user (see the module brief / scripts/test.sh).
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { LocalPostgres } from "../../src/pg/postgres.ts";
import type { PgObservation } from "../../src/core/types.ts";
import { connUrlOf, makeTestConfig, TEST_REPLICATION, TEST_SUPERUSER } from "../helpers/pg_config.ts";
import { freePort } from "../helpers/processes.ts";

/** Poll `probe` until it returns a value `ok` accepts, or fail with the last value seen. */
async function waitUntil<T>(
  what: string,
  probe: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown = null;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)} ${lastError ?? ""}`);
}

/** SIGKILL whatever postmaster still owns `dataDir` (cleanup after a failed test). */
async function killPostmaster(dataDir: string): Promise<void> {
  try {
    const pid = Number((await Deno.readTextFile(`${dataDir}/postmaster.pid`)).split("\n")[0]);
    if (pid > 0) Deno.kill(pid, "SIGKILL");
  } catch {
    // not running
  }
}

function sqlTo(port: number) {
  return postgres({
    host: "127.0.0.1",
    port,
    user: TEST_SUPERUSER.username,
    password: TEST_SUPERUSER.password,
    database: "postgres",
    max: 1,
    connect_timeout: 2,
    prepare: false,
    fetch_types: false,
    onnotice: () => {},
  });
}

const isRoot = Deno.uid() === 0;

Deno.test({
  name:
    "LocalPostgres bootstraps a primary, clones a streaming replica and promotes it past the cluster's timelines",
  ignore: isRoot,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "hactl-pg-it-" });
    const [port1, port2] = [freePort(), freePort()];
    const cfg1 = makeTestConfig({ name: "pg1", dataDir: `${tmp}/pg1`, pgPort: port1, apiPort: freePort() });
    const cfg2 = makeTestConfig({ name: "pg2", dataDir: `${tmp}/pg2`, pgPort: port2, apiPort: freePort() });
    // log_statement=all: the role set-up must still keep every password out of the server log.
    const dynamic = { max_connections: 50, wal_keep_size: "64MB", log_statement: "all" };
    const pg1 = new LocalPostgres({ config: cfg1, dynamicParameters: () => dynamic, useSlots: () => true });
    let replicaSlots = true;
    const pg2 = new LocalPostgres({
      config: cfg2,
      dynamicParameters: () => dynamic,
      useSlots: () => replicaSlots,
      // Role-specific parameters (Patroni 4.1): the replica's while it replicates, the primary's once promoted.
      dynamicPg: () => ({
        roleConfig: {
          replica: { parameters: { work_mem: "8MB" } },
          primary: { parameters: { work_mem: "64MB" } },
        },
      }),
    });
    const clients: ReturnType<typeof sqlTo>[] = [];
    try {
      const before = await pg1.observe();
      assert.equal(before.dataDir, "empty");
      assert.equal(before.running, false);

      // --- bootstrap the primary
      await pg1.bootstrap();
      const p = await pg1.observe();
      assert.equal(p.dataDir, "initialized");
      assert.equal(p.running, true);
      assert.equal(p.queryable, true);
      assert.equal(p.role, "primary");
      assert.equal(p.standbySignal, false);
      const serverLog = await Deno.readTextFile(`${tmp}/pg1/postgresql.log`);
      assert.match(serverLog, /statement: /, "log_statement=all is in effect");
      for (const secret of [TEST_SUPERUSER.password, TEST_REPLICATION.password]) {
        assert.ok(!serverLog.includes(secret!), "no password in the Postgres log");
      }
      assert.match(p.sysid ?? "", /^\d{10,}$/);
      assert.equal(p.timeline, 1);
      assert.ok((p.walPosition ?? 0) > 0);
      assert.ok((p.serverVersion ?? 0) >= 150000);
      const conf1 = await Deno.readTextFile(`${tmp}/pg1/postgresql.conf`);
      assert.equal(conf1.split("\n")[0], "include 'postgresql.base.conf'");
      assert.match(conf1, /^max_connections = '50'$/m);
      assert.match(conf1, /^cluster_name = 'hactl-test'$/m);

      await pg1.syncSlots(["pg2"]);
      assert.deepEqual((await pg1.observe()).slots, ["pg2"]);

      // --- clone and start the replica
      const upstream = { name: "pg1", connUrl: connUrlOf(cfg1) };
      await pg2.createReplica(upstream);
      const cloned = await pg2.observe();
      assert.equal(cloned.dataDir, "initialized");
      assert.equal(cloned.running, false);
      assert.equal(cloned.standbySignal, true);
      assert.equal(cloned.sysid, p.sysid);

      await pg2.start("replica", upstream);
      const r = await waitUntil(
        "the replica to stream",
        () => pg2.observe(),
        (o: PgObservation) => o.role === "replica" && o.replicationState === "streaming",
      );
      assert.equal(r.upstream, `127.0.0.1:${port1}`);
      assert.equal(r.timeline, 1);
      assert.equal(await pg2.follow(upstream), false, "same upstream: nothing to change");

      const conf2 = await Deno.readTextFile(`${tmp}/pg2/postgresql.conf`);
      assert.match(conf2, /^primary_slot_name = 'pg2'$/m);
      assert.match(conf2, /^recovery_target_timeline = 'latest'$/m);
      assert.ok(!conf2.includes(TEST_REPLICATION.password), "no password in postgresql.conf");
      assert.ok(!conf2.includes(TEST_SUPERUSER.password), "no password in postgresql.conf");
      const pgpass = await Deno.stat(cfg2.postgresql.pgpass);
      assert.equal(pgpass.mode! & 0o777, 0o600);

      const onPrimary = await waitUntil(
        "the primary to see the replica",
        () => pg1.observe(),
        (o: PgObservation) => o.replication.some((row) => row.application_name === "pg2"),
      );
      assert.equal(onPrimary.replication[0]!.state, "streaming");

      // --- follow() rewrites primary_conninfo/primary_slot_name and reloads only when they change
      replicaSlots = false;
      assert.equal(await pg2.follow(upstream), true, "slot dropped from the recovery settings");
      assert.ok(!(await Deno.readTextFile(`${tmp}/pg2/postgresql.conf`)).includes("primary_slot_name"));
      replicaSlots = true;
      assert.equal(await pg2.follow(upstream), true, "slot back");
      await waitUntil(
        "the replica to stream again",
        () => pg2.observe(),
        (o: PgObservation) => o.replicationState === "streaming",
      );

      // --- a row written on the primary shows up on the replica
      const sql1 = sqlTo(port1);
      const sql2 = sqlTo(port2);
      clients.push(sql1, sql2);
      assert.equal(
        (await sql2`SHOW work_mem`)[0]!["work_mem"],
        "8MB",
        "the replica runs with parameters_replica",
      );
      await sql1`CREATE TABLE t (v text)`;
      await sql1`INSERT INTO t VALUES ('hello')`;
      await waitUntil(
        "the row on the replica",
        async () => (await sql2`SELECT v FROM t`).map((row) => row["v"]),
        (vs: unknown[]) => vs.includes("hello"),
      );
      await Promise.all(clients.splice(0).map((c) => c.end({ timeout: 1 })));

      // --- stop the primary, promote the replica
      await pg1.stop("fast");
      assert.equal((await pg1.observe()).running, false);
      await pg1.stop("fast"); // already stopped: no error

      // The cluster's history says other members already promoted to timelines 2 and 3 (histories pg2 never saw),
      // in a key trimmed to its last entry (max_timelines_history: 1) that names only the switch 2 -> 3: pg2 must
      // reuse neither number, so it lands on timeline 4 and its history file says so.
      const switchAt = r.walPosition ?? 0;
      await pg2.promote([[2, switchAt, "no recovery target specified", "2026-11-26T12:00:00+00:00", "pg9"]]);
      const promoted = await pg2.observe();
      assert.equal(promoted.role, "primary");
      assert.equal(promoted.timeline, 4);
      assert.equal(promoted.standbySignal, false);
      assert.ok((promoted.walPosition ?? 0) >= (r.walPosition ?? 0));
      // Timeline 4 branches from timeline 1 (pg2's own parent) at pg2's position.
      assert.deepEqual(promoted.timelineHistory.map((h) => h.timeline), [1]);
      // The role changed: the primary's parameters replace the replica's, by a reload.
      const sql2p = sqlTo(port2);
      clients.push(sql2p);
      await waitUntil(
        "parameters_primary in force after the promotion",
        async () => (await sql2p`SHOW work_mem`)[0]!["work_mem"],
        (v: unknown) => v === "64MB",
      );
      await Promise.all(clients.splice(0).map((c) => c.end({ timeout: 1 })));

      await pg2.stop("fast");
      assert.equal((await pg2.observe()).running, false);
    } finally {
      await Promise.all(clients.map((c) => c.end({ timeout: 0 }).catch(() => {})));
      await pg1.stop("immediate").catch(() => {});
      await pg2.stop("immediate").catch(() => {});
      await pg1.close();
      await pg2.close();
      await killPostmaster(`${tmp}/pg1`);
      await killPostmaster(`${tmp}/pg2`);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      await Deno.remove(cfg1.postgresql.pgpass).catch(() => {});
      await Deno.remove(cfg2.postgresql.pgpass).catch(() => {});
    }
  },
});

Deno.test({
  name: "LocalPostgres moves a half-built data directory aside when the bootstrap fails",
  ignore: isRoot,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "hactl-pg-bad-" });
    const cfg = makeTestConfig({
      name: "pg1",
      dataDir: `${tmp}/pg1`,
      pgPort: freePort(),
      apiPort: freePort(),
    });
    // initdb succeeds, then the server refuses to start with this value.
    const pg = new LocalPostgres({
      config: cfg,
      dynamicParameters: () => ({ shared_buffers: "plenty" }),
      useSlots: () => true,
    });
    try {
      await assert.rejects(pg.bootstrap());
      assert.equal((await pg.observe()).dataDir, "empty", "the next bootstrap race can start from scratch");
      const failed = await Deno.stat(`${tmp}/pg1.failed/PG_VERSION`);
      assert.ok(failed.isFile, "the half-built cluster is kept for inspection");
    } finally {
      await pg.stop("immediate").catch(() => {});
      await pg.close();
      await killPostmaster(`${tmp}/pg1`);
      await killPostmaster(`${tmp}/pg1.failed`);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      await Deno.remove(cfg.postgresql.pgpass).catch(() => {});
    }
  },
});

Deno.test({
  name: "LocalPostgres's demote-cluster stop archives the WAL file of the shutdown checkpoint (archiving on)",
  ignore: isRoot,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "hactl-pg-archive-" });
    const cfg = makeTestConfig({
      name: "pg1",
      dataDir: `${tmp}/pg1`,
      pgPort: freePort(),
      apiPort: freePort(),
    });
    await Deno.mkdir(`${tmp}/archive`);
    const params = { archive_mode: "on", archive_command: `cp %p ${tmp}/archive/%f` };
    const pg = new LocalPostgres({ config: cfg, dynamicParameters: () => params, useSlots: () => true });
    try {
      await pg.bootstrap();
      await pg.stop("fast", undefined, { archiveShutdownCheckpoint: true });
      const control = new TextDecoder().decode(
        (await new Deno.Command("pg_controldata", { args: [`${tmp}/pg1`], env: { LC_ALL: "C" } }).output())
          .stdout,
      );
      const file = /^Latest checkpoint's REDO WAL file:\s+(\S+)$/m.exec(control)?.[1];
      assert.ok(file, control);
      // Postgres archives only completed WAL files: this one, still being written at the shutdown, is there only
      // because the stop archived it.
      const archived = await Deno.readFile(`${tmp}/archive/${file}`);
      assert.deepEqual(archived, await Deno.readFile(`${tmp}/pg1/pg_wal/${file}`));
    } finally {
      await pg.stop("immediate").catch(() => {});
      await pg.close();
      await killPostmaster(`${tmp}/pg1`);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      await Deno.remove(cfg.postgresql.pgpass).catch(() => {});
    }
  },
});
