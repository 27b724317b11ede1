/**
 * The multi-member simulator (`Sim`): the core of sim_core.ts (members, fakes, virtual clock, loop) with the faults a
 * test or the fuzzer injects and the checks run after every step.
 *
 * Faults: `partition` (the host loses etcd, peers and replication), `partitionDcs` (etcd only), `crashPostgres`,
 * `stopAgent`/`startAgent`/`restartAgent` (graceful `shutdown()`, then a fresh Agent that adopts whatever Postgres
 * it finds), `killAgent` (the agent process dies, Postgres keeps running), `hostCrash`/`hostStart`, `delay`
 * (the member's cycles are held back), `lag` (a replica stops receiving WAL), `write` (client writes, recorded by
 * the client-history checker, history.ts), `stopReceiver` (a replica's WAL receiver goes down while Postgres runs),
 * `setConfig` (a write of the `config` key), `editConfig` (what `hactl edit-config` writes: a change of ttl,
 * loop_wait or retry_timeout mid-schedule); more in sim_faults.ts (SIGSTOP/SIGCONT of the agent and of its fencing
 * supervisor, a supervisor missing or dead, one-way link cuts, Postgres operation failures, flaky calls, wall-clock
 * steps, a whole-cluster stop and start).
 *
 * The invariants (invariants.ts: one primary, promotion under the lock, honest streaming, liveness, and the
 * fence deadlines before the lease's expiry, and the registry of further rules: acknowledged writes, convergence) are
 * checked after every step (a cycle, a timer, a fault); a violation throws `SimViolation` with the seed and the
 * last 40 trace lines (trace.ts).
 *
 * Imports the codec's key names and the config reader, the simulator's core, invariants, client history and the
 * edit-config merge (sim_ttl.ts).
 *
 * @module
 */
import { KEYS } from "../../src/dcs/codec.ts";
import { simDynamic } from "./sim_dynamic.ts";
import {
  brokenInvariant,
  brokenRule,
  convergenceWindow,
  evaluated,
  faultActive,
  livenessWindow,
  type SimView,
} from "./invariants.ts";
import { OBSERVER, SimCore } from "./sim_core.ts";
import { editedConfig } from "./sim_ttl.ts";
import { TimelineNumbers } from "./timeline_rule.ts";
import type { SimOptions } from "./sim_types.ts";

export { DEFAULT_BOOTSTRAP_DCS, DEFAULT_DURATIONS, type SimMember, type SimOptions } from "./sim_core.ts";

export class Sim extends SimCore implements SimView {
  #seenPromotions = 0;
  /** The timeline numbers promotions used (rule `timelineOnce`). */
  readonly #timelines = new TimelineNumbers();
  /** Set while the `config` key promises what hactl cannot keep: those keys, and who held the leader key then. */
  refusedConfig: { keys: readonly string[]; leader: string | null } | null = null;
  /** When the `failover` key was last written by `requestFailover`, if ever. */
  lastFailoverRequest?: number;

  constructor(opts: SimOptions = {}) {
    super(opts);
    // A Postgres failure injected earlier (`failNext`) that bites now is a fault change: liveness counts from it
    // (found by the fuzzer, seed 8101: a promotion failed by a failure armed 265 s before, then retried).
    this.world.onInjected = () => this.noteFault();
  }

  /** The expiry (virtual ms) of the lease that holds the leader key, as etcd sees it, or null. */
  leaderLeaseExpiry(): number | null {
    return this.etcd.leaseExpiryOf(this.prefix + KEYS.leader);
  }

  /** The `failsafe` key as etcd holds it (null: not set or not an object). */
  failsafeKey(): Record<string, string> | null {
    const raw = this.etcd.get(OBSERVER, this.prefix + "failsafe")?.value;
    try {
      const v = raw ? JSON.parse(raw) : null;
      return v && typeof v === "object" && !Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  }

  /** The TTL (s) of the lease that holds the leader key, or null. */
  leaderLeaseTtl(): number | null {
    return this.etcd.leaseTtlOf(this.prefix + KEYS.leader);
  }

  /** The `optime` of the `status` key (the leader's last published position), or 0. */
  lastOptime(): number {
    const raw = this.etcd.get(OBSERVER, this.prefix + KEYS.status)?.value;
    try {
      return raw ? Number(JSON.parse(raw).optime) || 0 : 0;
    } catch {
      return 0;
    }
  }

  /** The cluster's timeline as the `history` key tells it (newest entry + 1), or 1. */
  historyTimeline(): number {
    const raw = this.etcd.get(OBSERVER, this.prefix + KEYS.history)?.value;
    try {
      const entries = raw ? JSON.parse(raw) as [number][] : [];
      return entries.reduce((max, e) => Math.max(max, Number(e[0]) + 1), 1);
    } catch {
      return 1;
    }
  }

  /** The `failover` key is set. */
  failoverKeySet(): boolean {
    return this.etcd.get(OBSERVER, this.prefix + KEYS.failover) !== null;
  }

  /**
   * Does the agent on `name` sit in a declared terminal state (it stopped itself, or waits for `hactl reinit`: after
   * a failed pg_rewind, or diverged with neither pg_rewind nor removing the data directory allowed)?
   */
  terminal(name: string): boolean {
    const m = this.member(name);
    return (m.agent?.fatal ?? null) !== null || /run 'hactl reinit'/.test(m.lastReason);
  }

  // ------------------------------------------------------------------ faults

  /** Cut (or heal) the host from etcd, its peers and replication. */
  partition(name: string, cut: boolean): void {
    const m = this.member(name);
    m.partitioned = cut;
    this.etcd.partition(name, cut || m.dcsPartitioned);
    this.noteFault(name);
    this.event(name, cut ? "partitioned from etcd and the other hosts" : "partition healed");
  }

  /** Cut (or heal) only the link between the member and etcd. */
  partitionDcs(name: string, cut: boolean): void {
    const m = this.member(name);
    m.dcsPartitioned = cut;
    this.etcd.partition(name, cut || m.partitioned);
    this.noteFault(name);
    this.event(name, cut ? "cut from etcd" : "etcd link healed");
  }

  crashPostgres(name: string): void {
    const m = this.member(name);
    if (!m.pg.hostUp) return;
    m.pg.crash();
    this.noteFault(name);
    this.event(name, "postgres crashed");
  }

  /** Graceful stop: the agent waits for its job, stops Postgres, releases the lock, revokes its lease. */
  stopAgent(name: string, restart = false): void {
    const m = this.member(name);
    if (m.state !== "running") return;
    if (this.leaderKey() === name && m.pg.isRunningPrimary() && m.proc?.free) {
      this.handover = { kind: "clean-stop", from: name, at: this.now, finalLsn: m.pg.wal ?? 0 };
    } else this.noteFault(name);
    m.state = "stopping";
    m.restartAfterStop = restart;
    m.agent!.stop();
    this.noteFault();
    this.event(name, restart ? "agent restarting" : "agent stopping");
  }

  restartAgent(name: string): void {
    this.stopAgent(name, true);
  }

  /** The agent process dies (SIGKILL): no cleanup, Postgres keeps running, the lease expires on its own. */
  killAgent(name: string): void {
    const m = this.member(name);
    if (m.state !== "running") return;
    m.agent!.stop();
    m.proc?.kill();
    m.agent = null;
    m.dcs = null;
    m.proc = null;
    m.busy = false;
    m.state = "stopped";
    this.noteFault(name);
    this.event(name, "agent killed");
  }

  /** The host dies: agent and Postgres stop at once, jobs in flight fail, the lease expires on its own. */
  hostCrash(name: string): void {
    const m = this.member(name);
    if (!m.pg.hostUp) return;
    m.agent?.stop();
    m.proc?.kill();
    m.agent = null;
    m.dcs = null;
    m.proc = null;
    m.busy = false;
    m.state = "down";
    m.supervisor.hostDown(); // the supervisor dies with the host
    m.pg.hostCrash();
    this.noteFault(name);
    this.event(name, "host crashed");
  }

  /** The host boots: Postgres stays stopped until the fresh agent starts it. */
  hostStart(name: string): void {
    const m = this.member(name);
    if (m.state !== "down") return;
    m.pg.hostStart();
    m.state = "stopped";
    this.event(name, "host started");
    this.startAgent(name);
  }

  /** What `hactl switchover`/`failover` (or the REST API) does: write the `failover` key. */
  requestFailover(value: { leader?: string; member?: string }): void {
    const from = value.leader;
    const m = from ? this.members.find((x) => x.name === from) : undefined;
    if (m && this.leaderKey() === from && m.pg.isRunningPrimary() && m.proc?.free && !m.partitioned) {
      this.handover = { kind: "switchover", from: m.name, at: this.now };
    }
    const json = JSON.stringify(value);
    this.etcd.put("ctl", "/service/demo/failover", json);
    this.noteFault(); // a handover leaves the cluster briefly without a leader: liveness counts from here
    this.lastFailoverRequest = this.now; // ... plus the switchover wait of a candidate (invariants.ts)
    this.event("ctl", `failover key set to ${json}`);
  }

  /**
   * What `hactl edit-config` (or a Patroni member, or a direct etcd write) does: merge `patch` into the `config`
   * key. While the result sets a promise hactl cannot keep (`synchronous_mode`, ...), invariant (f) watches that
   * nobody takes the leader key from the holder of this moment.
   */
  setConfig(patch: Record<string, unknown>): void {
    const key = this.prefix + KEYS.config;
    const current = JSON.parse(this.etcd.get(OBSERVER, key)?.value ?? "{}") as Record<string, unknown>;
    const next = { ...current, ...patch };
    this.etcd.put("ctl", key, JSON.stringify(next));
    this.settings = simDynamic(next).settings;
    // Synchronous replication turned off: what it acknowledged is judged by the asynchronous rules from now on.
    if ((this.settings.synchronous?.mode ?? "off") === "off") this.history.syncEnded();
    const refused = this.settings.unsupportedGuarantees ?? [];
    this.refusedConfig = refused.length === 0
      ? null
      : { keys: refused, leader: this.refusedConfig?.leader ?? this.leaderKey() };
    this.noteFault();
    this.event("ctl", `config set to ${JSON.stringify(next)}`);
  }

  /**
   * What `hactl edit-config` does: merge `patch` (Patroni's keys, e.g. `{ ttl: 30 }`) into the `config` key (the
   * local `bootstrap.dcs` before the cluster has one), by a compare-and-set on its mod revision.
   */
  editConfig(patch: Record<string, unknown>): void {
    const key = this.prefix + KEYS.config;
    const kv = this.etcd.get("ctl", key);
    const edit = editedConfig(kv?.value ?? null, this.bootstrapDcs, patch, this.livenessSettings);
    const put = { put: { key, value: edit.json } };
    if (!this.etcd.txn("ctl", [{ key, target: "mod", equals: kv?.modRevision ?? "0" }], [put])) {
      throw new Error("editConfig: the config key changed under the simulator");
    }
    [this.settings, this.livenessSettings] = [edit.settings, edit.longest];
    this.noteFault();
    this.event("ctl", `edit-config: ${JSON.stringify(patch)}`);
  }

  /** Hold back the member's cycles for `ms` (a slow or stalled loop). */
  delay(name: string, ms: number): void {
    const m = this.member(name);
    m.blockedUntil = Math.max(m.blockedUntil, this.now + ms);
    this.noteFault(name);
    // The loop resumes then: liveness and convergence count from there.
    this.at(m.blockedUntil, () => this.noteFault());
    this.event(name, `cycles delayed by ${ms / 1000}s`);
  }

  /** A replica stops (or resumes) receiving WAL. */
  lag(name: string, on: boolean): void {
    this.member(name).pg.lagging = on;
    this.event(name, on ? "replication lagging" : "replication caught up");
  }

  /** A replica's WAL receiver goes down (or comes back): Postgres runs and answers, in archive recovery. */
  stopReceiver(name: string, on: boolean): void {
    this.member(name).pg.receiverStopped = on;
    this.noteFault();
    this.event(name, on ? "WAL receiver stopped" : "WAL receiver started");
  }

  /**
   * Clients write `bytes` to every running primary that accepts them; each acknowledged write is recorded (as
   * written under synchronous_mode when the `sync` key names the writer its leader).
   */
  write(bytes: number): void {
    const syncLeader = (this.settings.synchronous?.mode ?? "off") !== "off" ? this.syncKeyLeader() : null;
    for (const m of this.members) {
      if (this.history.write(m.pg, bytes, this.now, syncLeader === m.name)) {
        this.event(m.name, `clients wrote ${bytes} bytes`);
      }
    }
  }

  /** The member the `sync` key names its leader, or null. */
  syncKeyLeader(): string | null {
    const raw = this.etcd.get(OBSERVER, this.prefix + KEYS.sync)?.value;
    if (!raw) return null;
    try {
      const leader = (JSON.parse(raw) as { leader?: unknown }).leader;
      return typeof leader === "string" ? leader : null;
    } catch {
      return null;
    }
  }

  // ------------------------------------------------------------------ invariants

  /** Is some fault active now (an agent not running, a partition, held-back cycles)? */
  faultActive(): boolean {
    return faultActive(this);
  }

  /** How long after the last fault change the cluster must have a leader running as primary. */
  livenessWindow(): number {
    return livenessWindow(this.livenessSettings, this.durations);
  }

  /** How long after the last fault change every member that is up must stream the leader's history. */
  convergenceWindow(): number {
    return convergenceWindow(this.livenessSettings, this.durations);
  }

  /** Throws SimViolation when an invariant does not hold now. */
  check(): void {
    const broken = brokenInvariant(this, this.checkHistories) ?? this.#checkPromotions() ?? brokenRule(this);
    if (broken !== null) this.fail(broken);
  }

  /** Judge the acknowledged writes at every new promotion (history.ts). */
  #checkPromotions(): string | null {
    const h = this.handover;
    // A switchover that ended without a handover (refused, or the leader kept its key) is over.
    if (h?.kind === "switchover" && !this.failoverKeySet() && this.leaderKey() === h.from) {
      this.handover = null;
    }
    while (this.#seenPromotions < this.world.promotions.length) {
      const p = this.world.promotions[this.#seenPromotions++]!;
      const reused = this.#timelines.check(p, this.member(p.member).pg.sysid);
      if (reused !== null) return reused;
      const handover = this.handover;
      this.handover = null;
      const broken = this.history.atPromotion(
        this.member(p.member).pg,
        this.settings.maximumLagOnFailover,
        (w) =>
          handover && "from" in handover && handover.from === w
            ? handover
            : { kind: "failover", lastOptime: this.lastOptime() },
        evaluated,
      );
      if (broken !== null) return brokenRule(this, broken);
    }
    return null;
  }
}
