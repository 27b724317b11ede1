/**
 * The simulator's invariants, checked after every step (a cycle, a timer, a fault):
 *
 * - (a) at most one running writable primary;
 * - (b) promotion only while holding the leader key (from the fake Postgres world's record);
 * - (c) no replica streams from an upstream with another system identifier, a lower timeline, or a history that is
 *   not really its own (the last one only with `checkHistories`);
 * - (d) liveness: once no fault has been active for `ttl + 3 * loop_wait` plus the job durations, some member holds
 *   the leader key and runs as a queryable primary (not while the `config` key promises what hactl cannot keep, nor
 *   while a fencing supervisor is down);
 * - (e) no member keeps the leader key for longer than `ttl + loop_wait + 3 s` (the ttl of the lease that holds the
 *   key, when edit-config lowered it since) while its fencing supervisor is not usable (it gives the key up, or the
 *   lease runs out, as a required watchdog makes it);
 * - (f) while the `config` key promises what hactl cannot keep (`synchronous_mode`, `standby_cluster`,
 *   ...), nobody but the member that held the leader key then holds it;
 * - (g) every fence deadline of the member that holds the leader key is at or before the expiry of the lease that
 *   holds the key, as the etcd model sees it, whatever its Postgres runs as (a promotion under way too): its
 *   agent's own timer, the deadline the agent asked its fencing supervisor for (half a margin after that timer),
 *   the deadline the supervisor holds, and the watchdog device's when the simulation has watchdogs. The member
 *   stops being a writable primary before another can take the key. In failsafe mode a deadline past the expiry
 *   is covered when every other member of the `failsafe` key accepted a `POST /failsafe` from the holder no more
 *   than ttl before it (none of them races until then);
 * - (h) failsafe: a primary that keeps running without etcd (its host cut from etcd, and no live lease of its own
 *   on the leader key) has a confirmation from every other member listed in the `failsafe` key within the last
 *   ttl, each member's own as it read it when it accepted (not in pause, where a primary keeps running without
 *   the DCS).
 * - (a) in a standby cluster too: while the `config` key holds a `standby_cluster` section, no member runs as a
 *   writable primary (the remote primary may be in the world); liveness (d) then asks for a leader running in
 *   recovery (the standby leader).
 *
 * Every rule, these and the further ones, has an entry in the registry `RULES` (its text, and the known finding
 * that keeps it disabled until its fix lands); the further ones are checked by `brokenRule`:
 *
 * - the client-history rules (history.ts): nothing acknowledged lost on a switchover; on a clean stop or a failover
 *   at most what `maximum_lag_on_failover` allows; at quiescence the leader holds every acknowledged write; in
 *   synchronous_mode every acknowledged commit is on the member that is promoted next;
 * - `watchView` (watch_view_rule.ts): a cycle that decides on its watch's copy of the prefix instead of a range
 *   gets the prefix exactly as the store held it at the cycle's keepalive;
 * - `convergence`: once no fault has been active for the convergence window, every member whose host and agent
 *   are up streams the leader's history (directly or through a cascade), or sits in a declared terminal state
 *   (its agent stopped itself, or waits for `hactl reinit` after a failed pg_rewind).
 *
 * Every rule counts how often it was actually evaluated (`evaluations`), for the fuzzer's coverage table.
 *
 * The checks read the simulator through `SimView` and return the first broken invariant as text; the simulator
 * throws it as a `SimViolation` with the seed and the trace tail.
 *
 * Imports `src/core/types.ts`, the fake Postgres and the client history only.
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
import type { ClientHistory, HistoryBreak } from "./history.ts";
import { staleWatchView, type WatchViewHost } from "./watch_view_rule.ts";

/** An invariant broke. The message holds the seed and the trace tail. */
export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SimViolation";
  }
}

/** A simulated host, as the invariants read it. */
export interface HostView extends WatchViewHost {
  readonly name: string;
  readonly pg: FakePostgres;
  /** The agent's state: "running", "stopping", "stopped" or "down". */
  readonly state: string;
  readonly partitioned: boolean;
  readonly dcsPartitioned: boolean;
  readonly blockedUntil: number;
  /** The agent, while one runs: its own fence timer's deadline (ms), or null when not armed. */
  readonly agent?: { readonly fenceDeadline: number | null } | null;
  /** The agent process: frozen (SIGSTOP) or not; null while no agent runs. */
  readonly proc?: { readonly frozen: boolean } | null;
  /** The host's watchdog device: when it fires unless kept alive (null while closed). */
  readonly device?: { readonly deadline: number | null };
  /** Until when the member's calls are flaky (virtual ms). */
  readonly flakyUntil?: number;
  /**
   * The fencing supervisor: its deadlines (as the agent asked for it, and as the supervisor holds it), and since
   * when it has been down (dead, missing or frozen; null while it runs), and whether it is frozen.
   */
  readonly supervisor?: {
    readonly requested: number | null;
    readonly deadline: number | null;
    readonly downSince: number | null;
    readonly state: string;
  };
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
  /** When the `failover` key was last written (a switchover or failover request), if ever. */
  readonly lastFailoverRequest?: number;
  /** Set while the `config` key promises what hactl cannot keep: those keys, and who held the leader key then. */
  readonly refusedConfig?: { keys: readonly string[]; leader: string | null } | null;
  /** The member named in the `leader` key right now. */
  leaderKey(): string | null;
  /** The expiry of the lease that holds the leader key, as etcd sees it (null: no key or no lease). */
  leaderLeaseExpiry?(): number | null;
  /** The TTL (s) of the lease that holds the leader key (an older ttl than `settings` after edit-config). */
  leaderLeaseTtl?(): number | null;
  /** The timings liveness allows for (the longest ttl and loop_wait the schedule has used), after edit-config. */
  readonly livenessSettings?: DynamicSettings;
  /** One-way link cuts in force. */
  readonly cuts?: ReadonlySet<string>;
  /** Every acknowledged client write not yet judged. */
  readonly history?: ClientHistory;
  /** Is the member in a declared terminal state? */
  terminal?(name: string): boolean;
  /** Failsafe mode: the `failsafe` key as etcd holds it. */
  failsafeKey?(): Record<string, string> | null;
  /** Failsafe mode: the last `POST /failsafe` each member accepted (from which leader, when). */
  readonly failsafeAccepts?: ReadonlyMap<string, { leader: string; at: number; ttl: number }>;
}

/** A bug found by a rule or a fault kind and not fixed yet: the rule (or fault) stays off unless enabled. */
export type FindingId = never;

/** What each known finding is (the coverage table prints it next to what it disables). */
export const FINDINGS: Record<FindingId, string> = {};

/**
 * Which findings run: `HACTL_SIM_FINDINGS=1` (all), a comma-separated list of ids (`history,fence-stale`), or
 * none. A rule or fault kind marked with a finding that is not enabled is skipped and printed as "known finding,
 * disabled".
 */
export function enabledFindings(env = Deno.env.get("HACTL_SIM_FINDINGS") ?? ""): Set<FindingId> {
  const all = Object.keys(FINDINGS) as FindingId[];
  if (env === "1") return new Set(all);
  return new Set(all.filter((id) => env.split(",").map((x) => x.trim()).includes(id)));
}
const ENABLED = enabledFindings();

/** Is the finding `id` (or no finding) enabled in this run? */
export function findingEnabled(id: FindingId | undefined): boolean {
  return id === undefined || ENABLED.has(id);
}

/** Every rule, (a)-(f) and beyond: their text and the known finding that disables them until its fix lands. */
export const RULES: Record<string, { what: string; finding?: FindingId }> = {
  a: { what: "at most one running writable primary (none among the members of a standby cluster)" },
  b: { what: "promotion only while holding the leader key" },
  c: { what: "no replica streams a foreign system, a lower timeline or a foreign history" },
  d: { what: "liveness: a leader running as primary once faults are healed" },
  e: {
    what:
      "no member keeps the leader key for longer than ttl + loop_wait + 3 s while its fencing supervisor " +
      "is not usable",
  },
  f: {
    what:
      "while the config key promises what hactl cannot keep, nobody but the member that held the leader " +
      "key then holds it",
  },
  g: {
    what:
      "every fence deadline of the key holder (agent timer, supervisor as asked and as held, watchdog) at or " +
      "before the expiry of the lease that holds the key",
  },
  h: {
    what:
      "a primary that keeps running without etcd has confirmation from every member listed in the failsafe key " +
      "within the last ttl",
  },
  ackedKeptOnSwitchover: { what: "nothing acknowledged lost on a switchover" },
  ackedKeptOnCleanStop: {
    what: "a clean stop loses at most maximum_lag_on_failover below its last position",
  },
  ackedLossWithinFailoverBound: {
    what: "a failover loses at most maximum_lag_on_failover below the last optime",
  },
  ackedKeptAtQuiescence: { what: "the leader holds every acknowledged write at quiescence" },
  ackedKeptInSyncMode: {
    what: "in synchronous_mode every acknowledged commit is on the member that is promoted next",
  },
  convergence: { what: "every member that is up streams the leader's history" },
  timelineOnce: { what: "no two promotions of a system land on one timeline number (timeline_rule.ts)" },
  watchView: {
    what:
      "a cycle that decides on its watch's copy of the prefix gets the prefix as etcd held it at its keepalive",
  },
};

/** How often each rule was evaluated (checked with something to check), over the whole run. */
export const evaluations = new Map<string, number>();

/** Count one evaluation of `rule` (a rule disabled by a known finding is not counted). */
export function evaluated(rule: string, n = 1): void {
  if (!findingEnabled(RULES[rule]?.finding)) return;
  evaluations.set(rule, (evaluations.get(rule) ?? 0) + n);
}

/**
 * The first broken rule of the registry, as text, or null. With `history`, a break the client-history checker
 * found at a promotion (it is reported unless its rule is disabled by a known finding).
 */
export function brokenRule(sim: SimView, history?: HistoryBreak): string | null {
  if (history) {
    return findingEnabled(RULES[history.rule]?.finding) ? `(${history.rule}) ${history.message}` : null;
  }
  return staleWatchView(sim.members, evaluated) ?? convergence(sim);
}

/** The window after the last fault change within which every member that is up must stream the leader. */
export function convergenceWindow(settings: DynamicSettings, d: OpDurations): number {
  return livenessWindow(settings, d) + 2 * settings.loopWait * 1000 + d.rewind + d.createReplica + d.start;
}

/** `convergence` (and the history at quiescence): every member that is up streams the leader's history. */
function convergence(sim: SimView): string | null {
  if (faultActive(sim) || sim.now - sim.lastFaultChange < convergenceWindow(sim.settings, sim.durations)) {
    return null;
  }
  const leader = sim.leaderKey();
  const lpg = leader ? sim.members.find((m) => m.name === leader)?.pg : undefined;
  if (!lpg || !lpg.isRunningPrimary()) return null; // (d) reports it
  if (sim.history) {
    evaluated("ackedKeptAtQuiescence");
    const broken = sim.history.atQuiescence(lpg);
    if (broken !== null) return `(${broken.rule}) ${broken.message}`;
  }
  if (!findingEnabled(RULES.convergence!.finding)) return null;
  for (const m of sim.members) {
    if (m.name === leader || m.state !== "running" || !m.pg.hostUp) continue;
    evaluated("convergence");
    if (streamsLeader(m.pg, lpg) || sim.terminal?.(m.name)) continue;
    const state = !m.pg.initialized
      ? "no data directory"
      : !m.pg.running
      ? "postgres stopped"
      : m.pg.isRunningPrimary()
      ? "running as a primary"
      : `a replica on timeline ${m.pg.timeline} at ${m.pg.wal}, not streaming the leader's history`;
    return `(convergence) ${m.name} is up but does not follow leader ${leader} (timeline ${lpg.timeline}, ` +
      `at ${lpg.wal}) ${(sim.now - sim.lastFaultChange) / 1000}s after the last fault: ${state}`;
  }
  return null;
}

/** Does `pg` stream (directly or through a cascade) from `leader`, on the leader's history and not past its end? */
function streamsLeader(pg: FakePostgres, leader: FakePostgres): boolean {
  let up = pg.streamSource();
  for (let hops = 0; up && up !== leader && hops < 4; hops++) up = up.streamSource();
  const wal = pg.wal ?? 0;
  return up === leader && wal <= (leader.wal ?? 0) &&
    sameHistoryBelow([...pg.segments], [...leader.segments], wal);
}

/** Is some fault active now (an agent not running, a partition, held-back cycles, a WAL receiver down, ...)? */
export function faultActive(sim: SimView): boolean {
  return sim.members.some((m) =>
    m.state !== "running" || m.partitioned || m.dcsPartitioned || m.blockedUntil >= sim.now ||
    (m.proc?.frozen ?? false) || (m.flakyUntil ?? 0) >= sim.now ||
    (m.supervisor?.downSince ?? null) !== null ||
    m.pg.receiverStopped
  ) || (sim.cuts?.size ?? 0) > 0 || (sim.refusedConfig ?? null) !== null;
}

/** How long after the last fault change the cluster must have a leader running as primary. */
export function livenessWindow(settings: DynamicSettings, d: OpDurations): number {
  return (settings.ttl + 3 * settings.loopWait) * 1000 + d.bootstrap + d.createReplica + d.start;
}

/** The first invariant that does not hold now, as the violation's text, or null when all hold. */
export function brokenInvariant(sim: SimView, checkHistories: boolean): string | null {
  evaluated("a");
  evaluated("b");
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
  const broken = unguardedLeader(sim) ?? refusedConfigHolder(sim) ?? fenceAfterLease(sim) ??
    failsafePrimary(sim) ?? standbyWriter(sim);
  if (broken !== null) return broken;
  // Not while the `config` key promises what hactl cannot keep (faultActive): nobody may take the key then.
  const timing = sim.livenessSettings ?? sim.settings;
  // A switchover candidate waits for the former leader's final position up to the switchover wait
  // (src/core/handover_wait.ts: 2 * max(10, loop_wait) s) before it clears the request and the others race.
  const handoverWait = 2 * Math.max(10, timing.loopWait) * 1000;
  const sinceRequest = sim.now - (sim.lastFailoverRequest ?? -Infinity);
  const waiting = sinceRequest < livenessWindow(timing, sim.durations) + handoverWait;
  if (
    !faultActive(sim) && !waiting && sim.now - sim.lastFaultChange >= livenessWindow(timing, sim.durations)
  ) {
    evaluated("d");
    const leader = sim.leaderKey();
    const pg = leader ? sim.members.find((m) => m.name === leader)?.pg : undefined;
    // In a standby cluster the leader is a standby leader: running, in recovery.
    const standby = sim.settings.standbyCluster !== undefined;
    if (!leader || !pg || !(standby ? pg.running && !pg.isRunningPrimary() : pg.isRunningPrimary())) {
      return `(d) no fault for ${(sim.now - sim.lastFaultChange) / 1000}s, yet ` +
        (leader
          ? `leader ${leader} does not run as ${standby ? "standby leader" : "primary"}`
          : "nobody holds " +
            "the leader key");
    }
  }
  return null;
}

/** The answer timeout of the agent's fencing supervisor client plus its ping interval (src/host/fence_client.ts). */
const FROZEN_NOTICED_MS = 2000 + 1000;

/** Invariant (e): the key holder's fencing supervisor has not been unusable for longer than the bound. */
function unguardedLeader(sim: SimView): string | null {
  const leader = sim.leaderKey();
  const m = leader ? sim.members.find((x) => x.name === leader) : undefined;
  const down = m?.supervisor?.downSince ?? null;
  if (!m || down === null) return null;
  evaluated("e");
  // A frozen supervisor is noticed once a ping has waited past the answer timeout (about 3 s).
  const since = down + (m.supervisor!.state === "frozen" ? FROZEN_NOTICED_MS : 0);
  // The ttl is the one in force, or the older one of the lease that still holds the key (after edit-config).
  const ttl = Math.max(sim.settings.ttl, sim.leaderLeaseTtl?.() ?? 0);
  const bound = (ttl + sim.settings.loopWait + 3) * 1000;
  if (sim.now - since <= bound) return null;
  return `(e) ${m.name} holds the leader key ${
    (sim.now - since) / 1000
  }s after its fencing supervisor went ` +
    `${m.supervisor!.state} (bound ${bound / 1000}s)`;
}

/** Invariant (f): while the `config` key promises what hactl cannot keep, only the holder of then holds the key. */
function refusedConfigHolder(sim: SimView): string | null {
  const refused = sim.refusedConfig;
  if (!refused) return null;
  evaluated("f");
  const holder = sim.leaderKey();
  if (holder === null || holder === refused.leader) return null;
  return `(f) ${holder} holds the leader key while the cluster's config sets ${refused.keys.join(", ")}`;
}

/** Invariant (g): a fence deadline of the key holder later than the expiry of the lease that holds the key. */
function fenceAfterLease(sim: SimView): string | null {
  const holder = sim.leaderKey();
  const expiry = sim.leaderLeaseExpiry?.() ?? null;
  const m = holder === null ? undefined : sim.members.find((x) => x.name === holder);
  if (!m || expiry === null) return null;
  const deadlines: [string, number | null | undefined][] = [
    ["agent's fence timer", m.agent?.fenceDeadline],
    ["deadline the agent asked its fencing supervisor for", m.supervisor?.requested],
    ["fencing supervisor's deadline", m.supervisor?.deadline],
    ["watchdog's deadline", m.device?.deadline],
  ];
  for (const [what, at] of deadlines) {
    if (at === null || at === undefined) continue;
    evaluated("g");
    if (at > expiry && !failsafeCovers(sim, m.name, at)) {
      return `(g) ${m.name}: the ${what} (${at / 1000}s) lies after the expiry of the lease that holds the ` +
        `leader key (${expiry / 1000}s): another member may promote before this one fences`;
    }
  }
  return null;
}

/**
 * Failsafe mode: every other member of the `failsafe` key accepted a call from `leader` at or after `until - ttl`,
 * so none of them takes part in a race before `until`; null (no key naming `leader`) is not a cover.
 */
function failsafeUnconfirmed(sim: SimView, leader: string, until: number): string[] | null {
  const key = sim.failsafeKey?.() ?? null;
  if (!key || !(leader in key)) return null;
  // Each member stays out of a race for its own ttl (as it read it when it accepted) after accepting.
  return Object.keys(key).filter((n) => {
    if (n === leader) return false;
    const a = sim.failsafeAccepts?.get(n);
    return !a || a.leader !== leader || a.at + a.ttl * 1000 < until;
  });
}

function failsafeCovers(sim: SimView, leader: string, until: number): boolean {
  return failsafeUnconfirmed(sim, leader, until)?.length === 0;
}

/** Invariant (h): a primary running without etcd and without a live lease on the key is covered by failsafe. */
function failsafePrimary(sim: SimView): string | null {
  if (sim.settings.pause) return null;
  const holder = sim.leaderKey();
  const expiry = sim.leaderLeaseExpiry?.() ?? null;
  for (const m of sim.members) {
    if (!(m.dcsPartitioned || m.partitioned) || !m.pg.isRunningPrimary()) continue;
    if (holder === m.name && expiry !== null && expiry > sim.now) continue;
    evaluated("h");
    const missing = failsafeUnconfirmed(sim, m.name, sim.now);
    if (missing !== null && missing.length === 0) continue;
    return `(h) ${m.name} runs as a primary without etcd and without a live lease, ` +
      (missing === null ? "and no failsafe key names it" : `unconfirmed by ${missing.join(", ")} within ttl`);
  }
  return null;
}

/** Invariant (c) for one member: what is wrong with the upstream it streams from, or null. */
function brokenStream(pg: FakePostgres, checkHistories: boolean): string | null {
  const up = pg.streamSource();
  if (!up) return null;
  evaluated("c");
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
 * Invariant (a), standby cluster: while the `config` key makes this a standby cluster, no member is a writable
 * primary (the standby leader never promotes). A cluster demoted live runs its primary until the clean stop; the
 * schedules that rely on this set the section before any member starts.
 */
function standbyWriter(sim: SimView): string | null {
  if (sim.settings.standbyCluster === undefined) return null;
  const writers = sim.members.filter((m) => m.pg.isRunningPrimary()).map((m) => m.name);
  return writers.length === 0
    ? null
    : `(a) ${writers.join(", ")} runs as a writable primary in a standby cluster`;
}
