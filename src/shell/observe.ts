/**
 * `observe`: one snapshot per cycle of the DCS (or `unreachable since T`), the local Postgres, the job in flight,
 * the peers' statuses when a leader race needs them, the leader's timeline history when this member may have left
 * it, the watchdog's usability and the pending requests; and the
 * world as last seen (cluster view, Postgres reading, dynamic settings) that the REST API's snapshot answers from.
 *
 * May import: `src/core/` only.
 *
 * @module
 */
import { configChangeReloads, peersToAsk } from "../core/loop.ts";
import { divergenceCheckTarget, walProbe } from "../core/divergence.ts";
import { DcsError } from "../core/ports.ts";
import type {
  ClusterView,
  DcsObservation,
  DynamicSettings,
  Member,
  Observation,
  PgObservation,
} from "../core/types.ts";
import { emptyPgObservation } from "../core/pg_empty.ts";
import type { AgentDeps } from "./deps.ts";
import type { FailsafeState } from "./failsafe.ts";
import { failsafeEnabled } from "../core/failsafe.ts";
import { mayUseWatchView } from "../core/watch_view.ts";
import type { LeaseFence } from "./fence.ts";
import type { IsolationMonitor } from "./isolation.ts";
import type { JobRunner } from "./jobs.ts";
import type { Requests } from "./requests.ts";

/** The parts of the agent an observation reads or updates. */
export interface ObserverParts {
  jobs: JobRunner;
  requests: Requests;
  lease: LeaseFence;
  isolation: IsolationMonitor;
  failsafe: FailsafeState;
}

/** Takes the cycle's observation and keeps the world as last seen. */
export class Observer {
  #view: ClusterView | null = null;
  #viewFromWatch = false;
  /** The members of the view before the last one (Patroni's `old_cluster`), asked too in a leader race. */
  #previousMembers: readonly Member[] = [];
  /** Wall-clock ms of the last successful DCS read. */
  #dcsLastSeen = 0;
  #dcsUnreachableSince: number | null = null;
  /** The `config` key's mod revision last seen (a change asks Postgres to reload its parameters). */
  #configRevision: string | null | undefined = undefined;
  #pg: PgObservation = emptyPgObservation();
  #pgObservedAt = 0;
  #dynamic: DynamicSettings;
  /** Why the required watchdog is unusable, as last observed (null when usable or not required). */
  #watchdogUnusable: string | null = null;
  /** Why the fencing supervisor is not usable, as last observed (null when usable or when there is none). */
  #fenceUnusable: string | null = null;

  constructor(private readonly deps: AgentDeps, private readonly parts: ObserverParts) {
    this.#dynamic = deps.dynamicFrom(undefined); // etcd not read yet: bootstrap.dcs
  }

  /** The last cluster view read from etcd, or null. */
  get view(): ClusterView | null {
    return this.#view;
  }

  /** Wall-clock ms of the last successful DCS read. */
  get dcsLastSeen(): number {
    return this.#dcsLastSeen;
  }

  /** The dynamic settings in effect (the `config` key, or bootstrap.dcs before it exists). */
  get dynamic(): DynamicSettings {
    return this.#dynamic;
  }

  /** The latest reading of Postgres, and when it was taken (monotonic ms). */
  get pg(): PgObservation {
    return this.#pg;
  }

  get pgObservedAt(): number {
    return this.#pgObservedAt;
  }

  get watchdogUnusable(): string | null {
    return this.#watchdogUnusable;
  }

  get fenceUnusable(): string | null {
    return this.#fenceUnusable;
  }

  /** A fresh reading of Postgres (a cycle's, or the status monitor's). */
  notePg(pg: PgObservation): void {
    this.#pg = pg;
    this.#pgObservedAt = this.deps.clock.now();
  }

  /** One consistent observation for `decide`. Throws only what is not etcd's failure (a bug, a tool not spawned). */
  async observe(): Promise<Observation> {
    const { clock, dcs } = this.deps;
    const refreshStarted = clock.now();
    this.parts.isolation.callStarted(refreshStarted);
    this.#viewFromWatch = false; // a refresh that fails leaves no view, the copy's included
    const dcsObs = await this.#dcsCall(async () => {
      await dcs.refreshLease(this.#dynamic.ttl);
      // The watch's copy when it is as new as the keepalive's answer (src/core/watch_view.ts), else a range.
      this.#viewFromWatch = dcs.watchView !== undefined && mayUseWatchView(dcs.watchViewFacts?.());
      return this.#viewFromWatch ? dcs.watchView!() : await dcs.loadCluster();
    });
    return await this.#complete(dcsObs, refreshStarted);
  }

  /**
   * `obs` checked against a `Range` (no second keepalive), for a decision that must not rest on the watch's copy
   * alone (src/core/watch_view.ts `routineDecision`): the same observation when the read finds the store at the
   * copy's revision (the copy was the store); otherwise, or when etcd does not answer, the rest of the observation
   * made again with the read's outcome (the peers to ask and the divergence check depend on the view), the
   * finished job it carried included.
   */
  async reread(obs: Observation): Promise<Observation> {
    this.#viewFromWatch = false;
    this.parts.isolation.callStarted(this.deps.clock.now());
    const previous = this.#previousMembers; // still the last cycle's: the copy was this cycle's view
    const dcsObs = await this.#dcsCall(() => this.deps.dcs.loadCluster());
    this.#previousMembers = previous;
    const copy = obs.dcs.kind === "ok" ? obs.dcs.cluster.revision : null;
    if (dcsObs.kind === "ok" && dcsObs.cluster.revision === copy) return obs;
    if (obs.job && obs.job.status !== "running") this.parts.jobs.giveBack(obs.job);
    return await this.#complete(dcsObs, obs.leaseRenewedFrom ?? this.deps.clock.now());
  }

  /** The outcome of etcd calls that end in a cluster view; a `DcsError` makes it "unreachable". */
  async #dcsCall(call: () => Promise<ClusterView>): Promise<DcsObservation> {
    const { isolation, lease } = this.parts;
    try {
      const cluster = await call();
      isolation.answered();
      this.#noteCluster(cluster);
      return { kind: "ok", cluster };
    } catch (err) {
      if (!(err instanceof DcsError)) {
        isolation.answered(); // not etcd's failure
        throw err;
      }
      this.#dcsUnreachableSince ??= this.deps.clock.now();
      lease.forget();
      return { kind: "unreachable", since: this.#dcsUnreachableSince, error: err.message };
    }
  }

  /** The rest of an observation, around etcd's outcome `dcsObs` of a cycle whose lease refresh began then. */
  async #complete(dcsObs: DcsObservation, refreshStarted: number): Promise<Observation> {
    const { clock, pg } = this.deps;
    const { jobs, requests } = this.parts;
    // The job before Postgres: a job that finishes in between is seen as running (and Postgres as it is now), never
    // as finished beside a stale picture of Postgres. A finished job is handed to decide only with a DCS view, so
    // its follow-up (publishing a bootstrap, or cancelling it) is not lost to a cycle without etcd.
    const job = dcsObs.kind === "ok" ? jobs.take() : jobs.peek();
    const pgObs = await pg.observe();
    this.notePg(pgObs);
    const others = peersToAsk(dcsObs, pgObs, jobs.busy, this.deps.name, {
      previousMembers: this.#previousMembers,
      wallNow: clock.wallNow(),
      // Also with failsafe mode off: a primary kept by failsafe rounds that lost etcd (its member key gone) still
      // vetoes a race.
      failsafe: this.#view?.failsafe ?? null,
      standbyCluster: this.#dynamic.standbyCluster !== undefined,
    });
    const peers = others ? await this.deps.peers.fetchStatuses(others, 2000) : null;
    // The leader's timeline history, only when this member may have left it (src/core/divergence.ts).
    const checkAgainst = divergenceCheckTarget(dcsObs, pgObs, jobs.busy, this.deps.name, this.#dynamic.pause);
    const leaderTimeline = checkAgainst ? await pg.leaderTimeline(checkAgainst, walProbe(pgObs)) : null;
    // Failsafe mode: the leader without etcd asks every member of the failsafe key (src/shell/failsafe.ts).
    const failsafe = this.parts.failsafe;
    const round = dcsObs.kind === "unreachable"
      ? await failsafe.round(this.#dynamic, pgObs, this.#view ?? null)
      : undefined;
    this.#noteWatchdog();
    this.#noteFence();
    const restart = requests.pendingRestart;
    return {
      now: clock.now(),
      wallNow: clock.wallNow(),
      dcs: dcsObs,
      pg: pgObs,
      job,
      peers,
      ...(requests.reinitRequested ? { reinitRequested: true } : {}),
      ...(requests.reinitRequested && requests.reinitFromLeader ? { reinitFromLeader: true } : {}),
      ...(this.#watchdogUnusable !== null ? { watchdogUnusable: this.#watchdogUnusable } : {}),
      ...(this.#fenceUnusable !== null ? { fenceUnusable: this.#fenceUnusable } : {}),
      ...(restart ? { restart } : {}),
      ...(requests.reloadRequested ? { reloadRequested: requests.reloadRequested } : {}),
      ...(dcsObs.kind === "ok" ? { lease: this.deps.dcs.heldLease(), leaseRenewedFrom: refreshStarted } : {}),
      fences: { ttl: this.parts.lease.armedTtl, acknowledged: this.deps.fence?.answered?.() ?? true },
      ...(leaderTimeline ? { leaderTimeline } : {}),
      // The key as etcd may hold it (the round asked its members); the acceptance also with failsafe mode off: a
      // promise made to the leader holds for its ttl.
      ...(failsafeEnabled(this.#dynamic) || failsafe.accepted
        ? {
          failsafe: {
            key: failsafe.key,
            accepted: failsafe.accepted,
            ...(round ? { round } : {}),
          },
        }
        : {}),
    };
  }

  /** Whether the last observation's cluster view came from the watch's copy rather than a `Range`. */
  get viewFromWatch(): boolean {
    return this.#viewFromWatch;
  }

  /** etcd answered with `cluster`: take its dynamic settings and `retry_timeout`, and check our lock belief. */
  #noteCluster(cluster: ClusterView): void {
    const { clock, dcs } = this.deps;
    this.#previousMembers = this.#view?.members ?? [];
    this.#view = cluster;
    this.#dcsLastSeen = clock.wallNow();
    this.#dcsUnreachableSince = null;
    this.#dynamic = this.deps.dynamicFrom(cluster.config?.value ?? null);
    const revision = cluster.config?.modRevision ?? null;
    if (configChangeReloads(this.#configRevision, revision)) this.parts.requests.configChanged();
    this.#configRevision = revision;
    dcs.setRetryTimeout(this.#dynamic.retryTimeout);
    // Believe in our lock only while etcd itself names us (the API's /leader and /primary read this belief).
    if (cluster.leader?.name !== this.deps.name) this.parts.lease.forget();
    this.parts.failsafe.dcsAnswered(cluster);
  }

  /** Whether a required watchdog is usable; a change either way is logged once. */
  #noteWatchdog(): void {
    const unusable = this.deps.watchdog?.unusable(this.#dynamic.ttl, this.#dynamic.loopWait) ?? null;
    if (unusable !== null && this.#watchdogUnusable === null) {
      this.deps.log.warn(`the watchdog is required but not usable: ${unusable}; this member will not lead`);
    } else if (unusable === null && this.#watchdogUnusable !== null) {
      this.deps.log.info?.("the required watchdog is usable again");
    }
    this.#watchdogUnusable = unusable;
  }

  /** Whether the fencing supervisor is usable; a change either way is logged once. */
  #noteFence(): void {
    const unusable = this.deps.fence?.unusable() ?? null;
    if (unusable !== null && this.#fenceUnusable === null) {
      this.deps.log.warn(`the fencing supervisor is not running (${unusable}); this member will not lead`);
    } else if (unusable === null && this.#fenceUnusable !== null) {
      this.deps.log.info?.("the fencing supervisor is running and answering again");
    }
    this.#fenceUnusable = unusable;
  }
}
