/**
 * The simulator's invariants, checked after every step (a cycle, a timer, a fault):
 *
 * - (a) at most one running writable primary;
 * - (b) promotion only while holding the leader key (from the fake Postgres world's record);
 * - (c) no replica streams from an upstream with another system identifier, a lower timeline, or a history that is
 *   not really its own (the last one only with `checkHistories`);
 * - (e) no member keeps the leader key for longer than `ttl + loop_wait + 3 s` while its fencing supervisor is not
 *   usable (it gives the key up, or the lease runs out, as a required watchdog makes it);
 * - (d) liveness: once no fault has been active for `ttl + 3 * loop_wait` plus the job durations, some member holds
 *   the leader key and runs as a queryable primary (not while the `config` key promises what hactl cannot keep);
 * - (f) while the `config` key promises what hactl cannot keep (`synchronous_mode`, `standby_cluster`,
 *   `failsafe_mode`, ...), nobody but the member that held the leader key then holds it.
 * - (g) every fence deadline of the member that holds the leader key (its agent's timer, its fencing supervisor,
 *   its watchdog) is at or before the expiry of the lease that holds the key, as the etcd model sees it: the
 *   member stops being a writable primary before another can take the key.
 * - (h) convergence (`DivergenceWatch`): no member whose agent runs streams or waits as a replica on a history that
 *   is not the leader's (its WAL past the point where the leader's history left it) for longer than
 *   `divergenceWindow()` without a fault, unless its agent declares the terminal state ("run 'hactl reinit'").
 *
 * The checks read the simulator through `SimView` and return the first broken invariant as text; the simulator
 * throws it as a `SimViolation` with the seed and the trace tail.
 *
 * Imports `src/core/types.ts` and the fake Postgres only.
 *
 * @module
 */
import type { DynamicSettings } from "../../src/core/types.ts";
import {
  type FakePostgres,
  type FakePostgresWorld,
  type OpDurations,
  sameHistoryBelow,
} from "../fakes/memory_pg.ts";

/** An invariant broke. The message holds the seed and the trace tail. */
export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SimViolation";
  }
}

/** A simulated host, as the invariants read it. */
export interface HostView {
  readonly name: string;
  readonly pg: FakePostgres;
  /** The agent's state: "running", "stopping", "stopped" or "down". */
  readonly state: string;
  readonly partitioned: boolean;
  readonly dcsPartitioned: boolean;
  readonly blockedUntil: number;
  /** The fencing supervisor: `ok`, `missing`, `dead` or `frozen` since `supervisorSince` (absent: always ok). */
  readonly supervisor?: string;
  readonly supervisorSince?: number;
  /** The agent process, when it runs: its fence timer's deadline (ms), or null when not armed. */
  readonly agent?: { readonly fenceDeadline: number | null } | null;
  /** The fencing supervisor's deadline (ms), or null when disarmed. */
  readonly fenceDeadline?: number | null;
  /** When the watchdog would fire (ms), or null when closed. */
  readonly watchdogDeadline?: number | null;
}

/** What the invariants read of the simulator. */
export interface SimView {
  readonly now: number;
  readonly world: FakePostgresWorld;
  readonly members: readonly HostView[];
  readonly settings: DynamicSettings;
  readonly durations: OpDurations;
  /** Virtual time of the last fault injected or healed (liveness counts from there). */
  readonly lastFaultChange: number;
  /** Set while the `config` key promises what hactl cannot keep: those keys, and who held the leader key then. */
  readonly refusedConfig?: { keys: readonly string[]; leader: string | null } | null;
  /** The member named in the `leader` key right now. */
  leaderKey(): string | null;
  /** When the lease that holds the leader key expires, as the etcd model sees it (ms), or null. */
  leaderLeaseExpiry?(): number | null;
  /** The timings liveness allows for (the longest the schedule has used), when they changed mid-schedule. */
  readonly livenessSettings?: DynamicSettings;
  /** The sentence of the member's last cycle, when it ran one. */
  lastReason?(name: string): string | undefined;
}

/** Is some fault active now (an agent not running, a partition, held-back cycles)? */
export function faultActive(sim: SimView): boolean {
  return sim.members.some((m) =>
    m.state !== "running" || m.partitioned || m.dcsPartitioned || m.blockedUntil > sim.now ||
    (m.supervisor !== undefined && m.supervisor !== "ok")
  );
}

/** How long after the last fault change the cluster must have a leader running as primary. */
export function livenessWindow(settings: DynamicSettings, d: OpDurations): number {
  return (settings.ttl + 3 * settings.loopWait) * 1000 + d.bootstrap + d.createReplica + d.start;
}

/** The first invariant that does not hold now, as the violation's text, or null when all hold. */
export function brokenInvariant(sim: SimView, checkHistories: boolean): string | null {
  const primaries = sim.world.runningPrimaries();
  if (primaries.length > 1) return `(a) two running writable primaries: ${primaries.join(", ")}`;
  if (sim.world.violations.length > 0) return `(b) ${sim.world.violations.join("; ")}`;
  if (checkHistories && sim.world.foreignStreams.length > 0) {
    return `(c) ${sim.world.foreignStreams.join("; ")}`;
  }
  for (const m of sim.members) {
    const broken = brokenStream(m.pg, checkHistories);
    if (broken !== null) return broken;
  }
  const unguarded = unguardedLeader(sim);
  if (unguarded !== null) return unguarded;
  const fence = brokenFence(sim);
  if (fence !== null) return fence;
  const refused = sim.refusedConfig;
  if (refused) {
    const holder = sim.leaderKey();
    if (holder !== null && holder !== refused.leader) {
      return `(f) ${holder} holds the leader key while the cluster's config sets ${refused.keys.join(", ")}`;
    }
  }
  const timing = sim.livenessSettings ?? sim.settings;
  if (
    !refused && !faultActive(sim) && sim.now - sim.lastFaultChange >= livenessWindow(timing, sim.durations)
  ) {
    const leader = sim.leaderKey();
    const pg = leader ? sim.members.find((m) => m.name === leader)?.pg : undefined;
    if (!leader || !pg || !pg.isRunningPrimary()) {
      return `(d) no fault for ${(sim.now - sim.lastFaultChange) / 1000}s, yet ` +
        (leader ? `leader ${leader} does not run as primary` : "nobody holds the leader key");
    }
  }
  return null;
}

/** Invariant (e): the key holder's fencing supervisor has not been unusable for longer than the bound. */
function unguardedLeader(sim: SimView): string | null {
  const leader = sim.leaderKey();
  const m = leader ? sim.members.find((x) => x.name === leader) : undefined;
  if (!m || m.supervisor === undefined || m.supervisor === "ok") return null;
  // A frozen supervisor is noticed once a ping has waited past the answer timeout (about 3 s).
  const since = (m.supervisorSince ?? 0) + (m.supervisor === "frozen" ? 3000 : 0);
  const bound = (sim.settings.ttl + sim.settings.loopWait + 3) * 1000;
  if (sim.now - since <= bound) return null;
  return `(e) ${m.name} holds the leader key ${
    (sim.now - since) / 1000
  }s after its fencing supervisor went ` +
    `${m.supervisor} (bound ${bound / 1000}s)`;
}

/** Invariant (g): a fence deadline of the key holder later than the expiry of the lease that holds the key. */
function brokenFence(sim: SimView): string | null {
  const holder = sim.leaderKey();
  const expiry = sim.leaderLeaseExpiry?.() ?? null;
  const m = holder === null ? undefined : sim.members.find((x) => x.name === holder);
  if (!m || expiry === null) return null;
  const deadlines: [string, number | null | undefined][] = [
    ["agent timer", m.agent?.fenceDeadline],
    ["supervisor", m.fenceDeadline],
    ["watchdog", m.watchdogDeadline],
  ];
  for (const [what, at] of deadlines) {
    if (at != null && at > expiry) {
      return `(g) ${m.name}'s ${what} fences at ${at / 1000}s, after its leader key's lease expires at ` +
        `${expiry / 1000}s`;
    }
  }
  return null;
}

/** Invariant (c) for one member: what is wrong with the upstream it streams from, or null. */
function brokenStream(pg: FakePostgres, checkHistories: boolean): string | null {
  const up = pg.streamSource();
  if (!up) return null;
  if (up.sysid !== pg.sysid) {
    return `(c) ${pg.name} streams from ${up.name} with another system id (${up.sysid} != ${pg.sysid})`;
  }
  if ((up.timeline ?? 0) < (pg.timeline ?? 0)) {
    return `(c) ${pg.name} on timeline ${pg.timeline} streams from ${up.name} on ${up.timeline}`;
  }
  if (checkHistories && !sameHistoryBelow([...pg.segments], [...up.segments], pg.wal ?? 0)) {
    return `(c) ${pg.name} streams from ${up.name} whose history below ${pg.wal} is not its own`;
  }
  return null;
}

/**
 * How long a member may stay on a history that is not the leader's once no fault is active: a few cycles to notice
 * (the leader's timeline is read at the next cycle), then pg_rewind or a fresh clone and a start.
 */
export function divergenceWindow(settings: DynamicSettings, d: OpDurations): number {
  return livenessWindow(settings, d) + 3 * settings.loopWait * 1000 + d.rewind + d.createReplica + d.start;
}

/** Is `pg` a replica whose WAL is not (a prefix of) `leader`'s history? */
export function onForeignHistory(pg: FakePostgres, leader: FakePostgres): boolean {
  if (!pg.isRunningReplica() || pg.sysid !== leader.sysid) return false;
  const wal = pg.wal ?? 0;
  return !sameHistoryBelow([...pg.segments], [...leader.segments], wal) || wal > (leader.wal ?? 0);
}

/** Invariant (e): since when each member has been on a foreign history, counted only while no fault is active. */
export class DivergenceWatch {
  readonly #since = new Map<string, number>();

  /** The member that stayed on a foreign history too long, as the violation's text, or null. */
  broken(sim: SimView): string | null {
    const leaderName = sim.leaderKey();
    const leader = sim.members.find((m) => m.name === leaderName)?.pg;
    if (faultActive(sim) || !leader || !leader.isRunningPrimary()) {
      this.#since.clear();
      return null;
    }
    const window = divergenceWindow(sim.settings, sim.durations);
    for (const m of sim.members) {
      const stuck = m.state === "running" && m.pg.hostUp && m.name !== leaderName &&
        onForeignHistory(m.pg, leader);
      if (!stuck || sim.lastReason?.(m.name)?.includes("run 'hactl reinit'")) {
        this.#since.delete(m.name);
        continue;
      }
      const since = Math.max(this.#since.get(m.name) ?? sim.now, sim.lastFaultChange);
      this.#since.set(m.name, since);
      if (sim.now - since > window) {
        return `(h) ${m.name} (timeline ${m.pg.timeline}, WAL ${m.pg.wal}) has waited on a history that is not ` +
          `leader ${leaderName}'s (timeline ${leader.timeline}) for ${(sim.now - since) / 1000}s`;
      }
    }
    return null;
  }
}
