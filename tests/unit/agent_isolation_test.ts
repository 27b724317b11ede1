/**
 * The early isolation fence as wired into the loop shell (`Agent.refreshPostgresStatus`): a leader whose etcd
 * calls hang and whose replicas confirm no new WAL stops Postgres (immediate) once both have been silent for
 * `isolation_fence_timeout`, beside a cycle that is still stuck; it does not while a replica keeps confirming,
 * in pause mode, or with the timeout at 0. On the in-memory DCS with a scripted Postgres and a manual clock.
 */
import assert from "node:assert/strict";
import type { AgentLog } from "../../src/core/ports.ts";
import { normalizeDynamic } from "../../src/config/config.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { type Dcs, DcsError, type PostgresPort } from "../../src/core/ports.ts";
import { testAgent } from "../helpers/agent_fixture.ts";
import { formatLsn, type PgObservation } from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";

/** A leader on the fakes with a second member registered; etcd calls hang while `hang` is set. */
async function isolatedLeader(dynamic: Record<string, unknown>, replicasConfirm: boolean) {
  const clock = { now: 0 };
  const etcd = new MemoryEtcd({ now: () => clock.now });
  const other = new MemoryDcs(etcd, { namespace: "/service/", scope: "t", name: "pg2", ttl: 30 });
  await other.touchMember({
    conn_url: "postgres://10.0.0.2:5432/postgres",
    api_url: "http://10.0.0.2:8008/patroni",
    state: "running",
    role: "replica",
    version: "0.1.0",
  });
  const inner = new MemoryDcs(etcd, { namespace: "/service/", scope: "t", name: "pg1", ttl: 30 });
  const hung: ((e: Error) => void)[] = [];
  let hang = false;
  // Every method goes to the memory DCS, or never answers while `hang` (the cut primary's calls).
  const dcs = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) =>
        hang && prop !== "waitForChange" && prop !== "close"
          ? new Promise((_, reject) => hung.push(reject))
          : (v as (...a: unknown[]) => unknown).apply(target, args);
    },
  }) as Dcs;
  let lsn = 0x3000000;
  const stops: string[] = [];
  let running = true;
  const observe = (): PgObservation => {
    if (!running) return { ...emptyPgObservation(), dataDir: "initialized", sysid: "7393828465826342947" };
    return {
      ...emptyPgObservation(),
      dataDir: "initialized",
      running: true,
      queryable: true,
      role: "primary",
      sysid: "7393828465826342947",
      timeline: 1,
      walPosition: lsn,
      replication: [{
        usename: "replicator",
        application_name: "pg2",
        client_addr: "10.0.0.2",
        state: "streaming",
        sync_state: "async",
        sync_priority: 0,
        flush_lsn: formatLsn(replicasConfirm ? lsn : 0x3000000),
      }],
    };
  };
  const pg: PostgresPort = {
    observe: () => Promise.resolve(observe()),
    bootstrap: () => Promise.reject(new Error("not here")),
    createReplica: () => Promise.reject(new Error("not here")),
    rewind: () => Promise.reject(new Error("not here")),
    start: () => Promise.reject(new Error("not here")),
    stop: (mode) => {
      stops.push(mode);
      running = false;
      return Promise.resolve();
    },
    promote: () => Promise.resolve(),
    checkpoint: () => Promise.resolve(),
    follow: () => Promise.resolve(false),
    reload: () => Promise.resolve(false),
    syncSlots: () => Promise.resolve(),
    setSyncStandbyNames: () => Promise.resolve(),
    leaderTimeline: (l) => Promise.resolve({ member: l.name, error: "not here" }),
    close: () => Promise.resolve(),
  };
  const errors: string[] = [];
  const log: AgentLog = { cycle: () => {}, warn: () => {}, error: (m) => void errors.push(m) };
  const agent = testAgent(clock, {
    connUrl: "postgres://10.0.0.1:5432/postgres",
    apiUrl: "http://10.0.0.1:8008/patroni",
    bootstrapDcs: { ttl: 30, loop_wait: 10, retry_timeout: 10, ...dynamic },
    dynamicFrom: (raw) =>
      normalizeDynamic(raw ?? { ttl: 30, loop_wait: 10, retry_timeout: 10, ...dynamic }).settings,
    dcs,
    pg,
    log,
  });
  // Take the lock while etcd answers (the running primary acquires it), then cut etcd.
  for (let i = 0; i < 3 && !agent.holdsLock(); i++) await agent.runCycle();
  assert.ok(agent.holdsLock(), "the primary took the lock");
  await agent.refreshPostgresStatus();
  hang = true;
  const stuck = agent.runCycle(); // hangs in its first etcd call
  /** Advance one second of writes (WAL grows) and run the status monitor once. */
  const tick = async () => {
    clock.now += 1000;
    lsn += 8192;
    await agent.refreshPostgresStatus();
  };
  const release = async () => {
    for (const reject of hung) reject(new DcsError("etcd: test over"));
    await stuck;
  };
  return { tick, stops, errors, release, now: () => clock.now };
}

Deno.test("isolation fence: etcd hangs and no replica confirms WAL -> Postgres stops after the timeout", async () => {
  const t = await isolatedLeader({ isolation_fence_timeout: 3 }, false);
  try {
    let firedAt: number | null = null;
    for (let i = 0; i < 8 && firedAt === null; i++) {
      await t.tick();
      if (t.stops.length > 0) firedAt = t.now();
    }
    assert.deepEqual(t.stops, ["immediate"]);
    // Silent since the cut (t=0): not before 3 s, and within a status refresh after.
    assert.ok(firedAt! >= 3000 && firedAt! <= 4000, `fired at ${firedAt} ms`);
    assert.match(
      t.errors.join("\n"),
      /isolation fence: no replica has confirmed WAL for .*\(isolation_fence_timeout 3 s\)/,
    );
  } finally {
    await t.release();
  }
});

Deno.test("isolation fence: not while a replica confirms WAL, not in pause, not with timeout 0", async () => {
  for (
    const [what, dynamic, confirm] of [
      ["a replica keeps confirming", { isolation_fence_timeout: 3 }, true],
      ["pause mode", { isolation_fence_timeout: 3, pause: true }, false],
      ["timeout 0", { isolation_fence_timeout: 0 }, false],
    ] as const
  ) {
    const t = await isolatedLeader(dynamic, confirm);
    try {
      for (let i = 0; i < 10; i++) await t.tick();
      assert.deepEqual(t.stops, [], what);
    } finally {
      await t.release();
    }
  }
});
