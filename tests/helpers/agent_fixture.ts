/**
 * The one `Agent` fixture of the unit tests: member pg1 of scope `t` on the in-memory fakes (tests/fakes/), on a
 * virtual clock the test moves by hand. `fakeMember()` builds the world (MemoryEtcd, pg1's MemoryDcs, a seeded
 * FakePostgresWorld and pg1's FakePostgres), `testAgent()` the agent with the defaults every test shares and the
 * test's ports and overrides on top, `stepAgent()` the usual way to drive it one cycle at a time. The simulator
 * (tests/sim/sim.ts) builds its agents itself.
 *
 * May import src/ (the agent, config's `normalizeDynamic`, the ports) and tests/fakes/.
 *
 * @example
 * ```ts
 * const { clock, etcd, dcs, pg } = fakeMember();
 * const agent = testAgent(clock, { dcs, pg, log: { cycle: () => {}, warn: () => {}, error: () => {} } });
 * const step = stepAgent(agent, clock, etcd);
 * await step(); // bootstraps the cluster
 * ```
 *
 * @module
 */
import { Agent, type AgentDeps, type CycleResult } from "../../src/shell/agent.ts";
import { normalizeDynamic } from "../../src/config/config.ts";
import type { PeerClient } from "../../src/core/ports.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { FakePostgres, FakePostgresWorld, type OpDurations } from "../fakes/memory_pg.ts";

/** Virtual time in ms, moved by the test (`clock.now += 1000`). */
export interface TestClock {
  now: number;
}

/** pg1's place in the DCS, as `MemoryDcs` takes it. */
export const PG1_DCS = { namespace: "/service/", scope: "t", name: "pg1", ttl: 30 };

/** pg1's Postgres connection URL. */
export const PG1_CONN_URL = "postgres://127.0.0.1:5432/postgres";

/** A peer client that knows no peers. */
export const NO_PEERS: PeerClient = { fetchStatuses: () => Promise.resolve([]) };

/**
 * pg1's fake world at virtual time 0: a MemoryEtcd and a FakePostgresWorld (seed 1) on one clock, pg1's DCS
 * (a `MemoryDcs`, or what `makeDcs` builds on that etcd) and pg1's FakePostgres.
 */
export function fakeMember<D extends MemoryDcs = MemoryDcs>(opts: {
  durations?: Partial<OpDurations>;
  makeDcs?: (etcd: MemoryEtcd, identity: typeof PG1_DCS) => D;
} = {}): { clock: TestClock; etcd: MemoryEtcd; world: FakePostgresWorld; dcs: D; pg: FakePostgres } {
  const clock: TestClock = { now: 0 };
  const etcd = new MemoryEtcd({ now: () => clock.now });
  const world = new FakePostgresWorld({
    seed: 1,
    now: () => clock.now,
    ...(opts.durations ? { durations: opts.durations } : {}),
  });
  const dcs = opts.makeDcs ? opts.makeDcs(etcd, PG1_DCS) : new MemoryDcs(etcd, PG1_DCS) as D;
  const pg = new FakePostgres(world, { name: "pg1", connUrl: PG1_CONN_URL });
  return { clock, etcd, world, dcs, pg };
}

/**
 * An Agent for pg1 of scope `t` with no tags and no peers, bootstrap.dcs ttl 30 / loop_wait 10 / retry_timeout 10
 * read through `normalizeDynamic`, and `clock` as its monotonic time (wall time 1,800,000,000,000 + now; timers
 * never fire). `deps` supplies the DCS, Postgres and log, and overrides any default.
 */
export function testAgent(
  clock: TestClock,
  deps: Pick<AgentDeps, "dcs" | "pg" | "log"> & Partial<AgentDeps>,
): Agent {
  return new Agent({
    name: "pg1",
    scope: "t",
    tags: {},
    connUrl: PG1_CONN_URL,
    apiUrl: "http://127.0.0.1:8008/patroni",
    bootstrapDcs: { ttl: 30, loop_wait: 10, retry_timeout: 10 },
    dynamicFrom: (raw) => normalizeDynamic(raw ?? {}).settings,
    peers: NO_PEERS,
    clock: { now: () => clock.now, wallNow: () => 1_800_000_000_000 + clock.now, after: () => () => {} },
    ...deps,
  });
}

/** One step: run a cycle, let the jobs it started settle, then move the clock 1 s and let etcd expire leases. */
export function stepAgent(
  agent: Agent,
  clock: TestClock,
  etcd: MemoryEtcd,
): () => Promise<CycleResult | null> {
  return async () => {
    const r = await agent.runCycle();
    await agent.settleJobs();
    clock.now += 1000;
    etcd.advance();
    return r;
  };
}
