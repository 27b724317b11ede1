/**
 * The multi-member simulator: N members, each a real `Agent` (src/shell/agent.ts, hence the real `decide`) over its own
 * `MemoryDcs` on one shared `MemoryEtcd`, a `FakePostgres` in one `FakePostgresWorld` and a `FakePeerClient`, all
 * on one virtual clock in ms. Nothing here waits for real time.
 *
 * Scheduling mirrors `Agent.run()` without its timers: a member runs `runCycle()` every `loop_wait` seconds after
 * the start of its previous cycle, at once when its DCS watch reported a change (`waitForChange(0)` is polled
 * after every step), when a job it started finished, or when a lock action failed. A cycle takes no virtual time;
 * jobs (bootstrap, clone, start) take the durations given to the world. After every cycle the harness flushes the
 * job's promise chain and awaits `settleJobs()` when no timed operation is pending.
 *
 * Faults: `partition` (the host loses etcd, peers and replication), `partitionDcs` (etcd only), `crashPostgres`,
 * `stopAgent`/`startAgent`/`restartAgent` (graceful `shutdown()`, then a fresh Agent that adopts whatever Postgres
 * it finds), `killAgent` (the agent process dies, Postgres keeps running), `hostCrash`/`hostStart`, `delay`
 * (the member's cycles are held back), `lag` (a replica stops receiving WAL), `write` (client writes),
 * `supervisorFault` (the fencing supervisor missing, dead, frozen or back), `editConfig` (what `hactl edit-config`
 * writes: a change of ttl, loop_wait or retry_timeout mid-schedule).
 *
 * Each agent's watchdog only records its deadline, for invariant (g) (sim_ttl.ts).
 *
 * The invariants (invariants.ts: one primary, promotion under the lock, honest streaming, liveness, every fence
 * deadline within the lease that holds the leader key) are checked
 * after every step (a cycle, a timer, a fault); a violation throws `SimViolation` with the seed and the last 40
 * trace lines (trace.ts).
 *
 * Imports `src/` (agent, config, codec, health), the fakes, and the simulator's invariants and trace.
 *
 * @module
 */
import { Agent, type CycleResult, rerunAtOnce } from "../../src/shell/agent.ts";
import { normalizeDynamic } from "../../src/config/config.ts";
import { clusterPrefix, KEYS } from "../../src/dcs/codec.ts";
import { buildStatus } from "../../src/api/health.ts";
import type { DynamicSettings, Tags } from "../../src/core/types.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { FakePostgres, FakePostgresWorld, type OpDurations } from "../fakes/memory_pg.ts";
import { FakePeerClient, type PeerDirectory } from "../fakes/fake_peers.ts";
import {
  brokenInvariant,
  DivergenceWatch,
  faultActive,
  livenessWindow,
  type SimView,
  SimViolation,
} from "./invariants.ts";
import { formatTime, formatTraceLine, type TraceLine } from "./trace.ts";
import { type SupervisorMode, supervisorProblem } from "./fake_supervisor.ts";
import { editedConfig, recordingWatchdog } from "./sim_ttl.ts";

/** Patroni's defaults, as a `bootstrap.dcs` section. */
export const DEFAULT_BOOTSTRAP_DCS: Record<string, unknown> = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  maximum_lag_on_failover: 1048576,
  postgresql: { use_slots: true },
};

/** Job durations used unless a test says otherwise (ms of virtual time). */
export const DEFAULT_DURATIONS: OpDurations = {
  bootstrap: 2000,
  createReplica: 3000,
  rewind: 1000,
  start: 1000,
};

export interface SimOptions {
  members?: number;
  /** Seeds the fake Postgres world (system identifiers); reported with every violation. */
  seed?: number;
  bootstrapDcs?: Record<string, unknown>;
  durations?: Partial<OpDurations>;
  /** When each member's first cycle runs (ms); default all at 0, in name order. */
  startOffsets?: number[];
  tags?: Record<string, Tags>;
  /** Called for every trace line (cycles and events). */
  onLine?: (line: TraceLine) => void;
  /**
   * Also fail when a replica streams a history that is not its own although timeline numbers and switch points
   * match (invariant c, strict form). Default true. See the module comment of fuzz_test.ts for why CI's fuzzer
   * turns it off for now.
   */
  checkHistories?: boolean;
}

type AgentState = "running" | "stopping" | "stopped" | "down";

/** One simulated host. */
export interface SimMember {
  readonly name: string;
  readonly connUrl: string;
  readonly apiUrl: string;
  readonly pg: FakePostgres;
  agent: Agent | null;
  dcs: MemoryDcs | null;
  state: AgentState;
  restartAfterStop: boolean;
  nextAt: number;
  blockedUntil: number;
  partitioned: boolean;
  dcsPartitioned: boolean;
  /** Cycles run at the current virtual instant (livelock guard). */
  burst: { at: number; count: number };
  /** The fencing supervisor's deadline (virtual ms): it outlives the agent process, not the host. */
  fenceDeadline: number | null;
  /**
   * The fencing supervisor process: `ok`, `missing` (it could not start), `dead` (it exited; its deadline file
   * stays) or `frozen` (stopped: it neither answers nor fires), since `supervisorSince`.
   */
  supervisor: SupervisorMode;
  supervisorSince: number;
  /** When the watchdog would fire (virtual ms; null while closed): it outlives the agent process, not the host. */
  watchdogDeadline: number | null;
}

const WALL_EPOCH = 1_700_000_000_000;
const MAX_CYCLES_PER_INSTANT = 50;
const OBSERVER = "sim-observer";

/** Let settled promises run their continuations (job completion chains are a few dozen ticks deep). */
async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 64; i++) await null;
}

export class Sim implements SimView {
  now = 0;
  readonly seed: number;
  readonly etcd: MemoryEtcd;
  readonly world: FakePostgresWorld;
  readonly members: SimMember[] = [];
  readonly trace: TraceLine[] = [];
  /** The dynamic settings in the `config` key now (`editConfig` changes them). */
  settings: DynamicSettings;
  /** The longest ttl and loop_wait the schedule has used so far (a lease granted before a decrease runs on). */
  livenessSettings: DynamicSettings;
  readonly durations: OpDurations;
  /** Virtual time of the last fault injected or healed (liveness counts from there). */
  lastFaultChange = 0;
  /** Set while the `config` key promises what hactl cannot keep: those keys, and who held the leader key then. */
  refusedConfig: { keys: readonly string[]; leader: string | null } | null = null;
  readonly #prefix = clusterPrefix("/service", "demo");
  readonly #bootstrapDcs: Record<string, unknown>;
  readonly #tags: Record<string, Tags>;
  readonly #onLine: ((line: TraceLine) => void) | undefined;
  readonly #checkHistories: boolean;
  #events: { at: number; seq: number; run: () => void | Promise<void> }[] = [];
  readonly #divergence = new DivergenceWatch();
  readonly #lastReason = new Map<string, string>();
  #eventSeq = 0;

  constructor(opts: SimOptions = {}) {
    this.seed = opts.seed ?? 1;
    this.#bootstrapDcs = opts.bootstrapDcs ?? DEFAULT_BOOTSTRAP_DCS;
    this.#tags = opts.tags ?? {};
    this.#onLine = opts.onLine;
    this.#checkHistories = opts.checkHistories ?? true;
    this.settings = normalizeDynamic(this.#bootstrapDcs).settings;
    this.livenessSettings = this.settings;
    this.durations = { ...DEFAULT_DURATIONS, ...opts.durations };
    this.etcd = new MemoryEtcd({ now: () => this.now });
    this.world = new FakePostgresWorld({
      seed: this.seed,
      now: () => this.now,
      wallNow: () => WALL_EPOCH + this.now,
      durations: this.durations,
    });
    this.world.holdsLock = (name) => this.leaderKey() === name;
    this.world.linked = (a, b) => this.linked(a, b);
    const n = opts.members ?? 3;
    for (let i = 0; i < n; i++) {
      const name = `pg${i + 1}`;
      const connUrl = `postgres://${name}:5432/postgres`;
      const m: SimMember = {
        name,
        connUrl,
        apiUrl: `http://${name}:8008/patroni`,
        pg: new FakePostgres(this.world, { name, connUrl, useSlots: () => this.settings.useSlots }),
        agent: null,
        dcs: null,
        state: "stopped",
        restartAfterStop: false,
        nextAt: opts.startOffsets?.[i] ?? 0,
        blockedUntil: 0,
        fenceDeadline: null,
        supervisor: "ok",
        supervisorSince: 0,
        watchdogDeadline: null,
        partitioned: false,
        dcsPartitioned: false,
        burst: { at: -1, count: 0 },
      };
      this.members.push(m);
      this.#newAgent(m, m.nextAt);
    }
  }

  member(name: string): SimMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) {
      throw new Error(`no member ${name}: expected one of ${this.members.map((x) => x.name).join(", ")}`);
    }
    return m;
  }

  // ------------------------------------------------------------------ wiring

  #newAgent(m: SimMember, firstCycleAt: number): void {
    const dcs = new MemoryDcs(this.etcd, {
      namespace: "/service",
      scope: "demo",
      name: m.name,
      ttl: normalizeDynamic(this.#bootstrapDcs).settings.ttl,
    });
    const directory: PeerDirectory = { statusBody: (asker, apiUrl) => this.#statusBody(asker, apiUrl) };
    const bootstrapDcs = this.#bootstrapDcs;
    const agent = new Agent({
      name: m.name,
      scope: "demo",
      tags: this.#tags[m.name] ?? {},
      connUrl: m.connUrl,
      apiUrl: m.apiUrl,
      bootstrapDcs,
      dynamicFrom: (raw) => normalizeDynamic(raw ?? bootstrapDcs).settings,
      dcs,
      pg: m.pg,
      peers: new FakePeerClient(m.name, directory),
      clock: {
        now: () => this.now,
        wallNow: () => WALL_EPOCH + this.now,
        // A timer of this agent process: it fires only while this very agent runs (a killed, stopped or crashed
        // agent's timers die with it); a delayed loop does not hold it back, as a hung etcd call would not.
        after: (ms, fn) => {
          let alive = true;
          this.at(this.now + Math.max(0, ms), () => {
            if (alive && m.agent === agent && m.state === "running") fn();
          });
          return () => void (alive = false);
        },
      },
      // The fencing supervisor: a process of its own, so its deadline survives a killed or frozen agent.
      fence: {
        arm: (ms) => {
          if (m.supervisor !== "ok") return; // nobody reads the line (dead, missing) or answers it (frozen)
          m.fenceDeadline = this.now + ms;
          this.#scheduleFence(m, m.fenceDeadline);
        },
        disarm: () => {
          if (m.supervisor === "ok") m.fenceDeadline = null;
        },
        unusable: () => supervisorProblem(m, this.now),
      },
      watchdog: recordingWatchdog(() => this.now, m),
      log: {
        cycle: () => {},
        warn: () => {},
        error: (message, fields) => {
          if (message.includes("bug")) this.#fail(`${m.name}: ${message} ${JSON.stringify(fields ?? {})}`);
          if (message.includes("fence")) this.event(m.name, message);
        },
      },
    });
    m.agent = agent;
    m.dcs = dcs;
    m.state = "running";
    m.nextAt = firstCycleAt;
  }

  /** The supervisor's deadline fires at `at` unless re-armed, disarmed, frozen or dead by then. */
  #scheduleFence(m: SimMember, at: number): void {
    this.at(at, async () => {
      if (m.fenceDeadline !== at || !m.pg.hostUp || m.supervisor !== "ok") return;
      m.fenceDeadline = null;
      if (!m.pg.running) return;
      await m.pg.stop("immediate");
      this.event(m.name, "fence-supervisor: deadline passed without a renewal; stopped postgres (immediate)");
    });
  }

  /**
   * The member's fencing supervisor goes `missing`, `dead` or `frozen`, or is back (`ok`): started again, it
   * adopts the deadline its file holds (firing at once when it has passed), as the real one does.
   */
  supervisorFault(name: string, mode: SupervisorMode): void {
    const m = this.member(name);
    m.supervisor = mode;
    m.supervisorSince = this.now;
    this.#fault();
    this.event(name, `fencing supervisor ${mode === "ok" ? "running again" : mode}`);
    if (mode === "ok" && m.fenceDeadline !== null) {
      this.#scheduleFence(m, Math.max(this.now, m.fenceDeadline));
    }
  }

  async #statusBody(asker: string, apiUrl: string): Promise<Record<string, unknown> | null> {
    const target = this.members.find((m) => m.apiUrl === apiUrl);
    if (!target || target.state !== "running" || !target.agent || !target.pg.hostUp) return null;
    if (!this.linked(asker, target.name)) return null;
    await target.agent.refreshPostgresStatus();
    return buildStatus(target.agent.snapshot(), this.now);
  }

  /** Can host `a` reach host `b` (peers, replication)? */
  linked(a: string, b: string): boolean {
    const ma = this.members.find((m) => m.name === a);
    const mb = this.members.find((m) => m.name === b);
    return !ma?.partitioned && !mb?.partitioned && (ma?.pg.hostUp ?? true) && (mb?.pg.hostUp ?? true);
  }

  /** The member named in the `leader` key right now (read by an observer no partition touches). */
  leaderKey(): string | null {
    return this.etcd.get(OBSERVER, this.#prefix + KEYS.leader)?.value ?? null;
  }

  // ------------------------------------------------------------------ the loop

  /** Run until `now + ms`. */
  run(ms: number): Promise<void> {
    return this.runUntil(this.now + ms);
  }

  async runUntil(end: number): Promise<void> {
    for (;;) {
      const t = this.#nextTime();
      if (t === null || t > end) break;
      await this.#advance(t);
      await this.#step();
    }
    await this.#advance(end);
  }

  /** Schedule `fn` at virtual time `at` (fuzz schedules). */
  at(at: number, fn: () => void | Promise<void>): void {
    this.#events.push({ at, seq: this.#eventSeq++, run: fn });
    this.#events.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }

  #dueAt(m: SimMember): number | null {
    if (m.state === "stopping") return this.world.hasPendingOps(m.name) ? null : this.now;
    if (m.state !== "running") return null;
    return Math.max(m.nextAt, m.blockedUntil);
  }

  #nextTime(): number | null {
    const times: number[] = [];
    for (const m of this.members) {
      const t = this.#dueAt(m);
      if (t !== null) times.push(t);
    }
    const timer = this.world.nextTimerAt();
    if (timer !== null) times.push(timer);
    if (this.#events.length > 0) times.push(this.#events[0]!.at);
    return times.length === 0 ? null : Math.max(this.now, Math.min(...times));
  }

  async #advance(t: number): Promise<void> {
    if (t < this.now) return;
    this.now = t;
    this.etcd.advance();
    const resumed = this.world.fireDue();
    if (resumed.length > 0) {
      await flushMicrotasks();
      // A finished job wakes its agent at once (JobRunner's wake).
      for (const name of resumed) {
        const m = this.member(name);
        if (m.state === "running") m.nextAt = Math.min(m.nextAt, this.now);
      }
    }
    this.world.replicate();
    this.check();
  }

  async #step(): Promise<void> {
    while (this.#events.length > 0 && this.#events[0]!.at <= this.now) {
      const e = this.#events.shift()!;
      await e.run();
      this.world.replicate();
      await this.#pollWakes();
      this.check();
    }
    for (const m of this.members) {
      if (m.state === "stopping" && !this.world.hasPendingOps(m.name)) await this.#finishStop(m);
    }
    const due = this.members
      .filter((m) => m.state === "running" && this.#dueAt(m)! <= this.now)
      .sort((a, b) => this.#dueAt(a)! - this.#dueAt(b)! || (a.name < b.name ? -1 : 1));
    for (const m of due) {
      if (m.state !== "running" || this.#dueAt(m)! > this.now) continue;
      await this.#cycle(m);
      this.world.replicate();
      await this.#pollWakes();
      this.check();
    }
  }

  async #cycle(m: SimMember): Promise<void> {
    const agent = m.agent!;
    if (m.burst.at === this.now) {
      if (++m.burst.count > MAX_CYCLES_PER_INSTANT) {
        this.#fail(`livelock: ${m.name} ran more than ${MAX_CYCLES_PER_INSTANT} cycles at one instant`);
      }
    } else m.burst = { at: this.now, count: 1 };
    const started = this.now;
    const result = await agent.runCycle();
    await flushMicrotasks();
    if (!this.world.hasPendingOps(m.name)) await agent.settleJobs();
    m.nextAt = started + agent.dynamic.loopWait * 1000;
    if (!result) {
      this.#fail(`${m.name}: the HA cycle failed unexpectedly (see the agent's error log)`);
      return;
    }
    this.#record(m, result);
    const { actions } = result.decision;
    const ran = result.failedAt < 0 ? actions.length : result.failedAt;
    const jobDone = actions.slice(0, ran).some((a) => a.type === "start_job") &&
      !this.world.hasPendingOps(m.name);
    // As Agent.run(): look again at once after a failed lock action, an etcd failure or a promotion.
    if (rerunAtOnce(result) || jobDone) m.nextAt = this.now;
  }

  /** The sentence of the member's last cycle. */
  lastReason(name: string): string | undefined {
    return this.#lastReason.get(name);
  }

  #record(m: SimMember, result: CycleResult): void {
    const { actions, reason } = result.decision;
    this.#lastReason.set(m.name, reason);
    const failed = result.failedAt >= 0
      ? `${actions[result.failedAt]!.type} failed: ${result.error ?? "refused"}`
      : null;
    this.#line({
      at: this.now,
      member: m.name,
      kind: "cycle",
      text: reason,
      actions: actions.map((a) => a.type),
      failed,
    });
  }

  #line(line: TraceLine): void {
    this.trace.push(line);
    if (this.trace.length > 400) this.trace.splice(0, this.trace.length - 200);
    this.#onLine?.(line);
  }

  /** Record a fault or event in the trace. */
  event(member: string, text: string): void {
    this.#line({ at: this.now, member, kind: "event", text, actions: [], failed: null });
  }

  async #pollWakes(): Promise<void> {
    for (const m of this.members) {
      if (m.state !== "running" || !m.dcs) continue;
      if (await m.dcs.waitForChange(0)) m.nextAt = Math.min(m.nextAt, this.now);
    }
  }

  // ------------------------------------------------------------------ faults

  #fault(): void {
    this.lastFaultChange = this.now;
  }

  /** Cut (or heal) the host from etcd, its peers and replication. */
  partition(name: string, cut: boolean): void {
    const m = this.member(name);
    m.partitioned = cut;
    this.etcd.partition(name, cut || m.dcsPartitioned);
    this.#fault();
    this.event(name, cut ? "partitioned from etcd and the other hosts" : "partition healed");
  }

  /** Cut (or heal) only the link between the member and etcd. */
  partitionDcs(name: string, cut: boolean): void {
    const m = this.member(name);
    m.dcsPartitioned = cut;
    this.etcd.partition(name, cut || m.partitioned);
    this.#fault();
    this.event(name, cut ? "cut from etcd" : "etcd link healed");
  }

  crashPostgres(name: string): void {
    const m = this.member(name);
    if (!m.pg.hostUp) return;
    m.pg.crash();
    this.#fault();
    this.event(name, "postgres crashed");
  }

  /** Graceful stop: the agent waits for its job, stops Postgres, releases the lock, revokes its lease. */
  stopAgent(name: string, restart = false): void {
    const m = this.member(name);
    if (m.state !== "running") return;
    m.state = "stopping";
    m.restartAfterStop = restart;
    m.agent!.stop();
    this.#fault();
    this.event(name, restart ? "agent restarting" : "agent stopping");
  }

  restartAgent(name: string): void {
    this.stopAgent(name, true);
  }

  async #finishStop(m: SimMember): Promise<void> {
    await m.agent!.shutdown();
    m.agent = null;
    m.dcs = null;
    m.state = "stopped";
    this.event(m.name, "agent stopped");
    if (m.restartAfterStop) this.startAgent(m.name);
  }

  /** Start a fresh agent on a host whose agent is not running; its first cycle runs now. */
  startAgent(name: string): void {
    const m = this.member(name);
    if (m.state !== "stopped" || !m.pg.hostUp) return;
    this.#newAgent(m, this.now);
    this.#fault();
    this.event(name, "agent started");
  }

  /** The agent process dies (SIGKILL): no cleanup, Postgres keeps running, the lease expires on its own. */
  killAgent(name: string): void {
    const m = this.member(name);
    if (m.state !== "running") return;
    m.agent!.stop();
    m.agent = null;
    m.dcs = null;
    m.state = "stopped";
    this.#fault();
    this.event(name, "agent killed");
  }

  /** The host dies: agent and Postgres stop at once, jobs in flight fail, the lease expires on its own. */
  hostCrash(name: string): void {
    const m = this.member(name);
    if (!m.pg.hostUp) return;
    m.agent?.stop();
    m.agent = null;
    m.dcs = null;
    m.state = "down";
    m.fenceDeadline = null; // the supervisor dies with the host
    m.watchdogDeadline = null; // and the host's reset ends the watchdog's count
    m.pg.hostCrash();
    this.#fault();
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
    const json = JSON.stringify(value);
    this.etcd.put("ctl", "/service/demo/failover", json);
    this.#fault(); // a handover leaves the cluster briefly without a leader: liveness counts from here
    this.event("ctl", `failover key set to ${json}`);
  }

  /**
   * What `hactl edit-config` (or a Patroni member, or a direct etcd write) does: merge `patch` into the `config`
   * key. While the result sets a promise hactl cannot keep (`synchronous_mode`, ...), invariant (f) watches that
   * nobody takes the leader key from the holder of this moment.
   */
  setConfig(patch: Record<string, unknown>): void {
    const key = this.#prefix + KEYS.config;
    const current = JSON.parse(this.etcd.get(OBSERVER, key)?.value ?? "{}") as Record<string, unknown>;
    const next = { ...current, ...patch };
    this.etcd.put("ctl", key, JSON.stringify(next));
    const refused = normalizeDynamic(next).settings.unsupportedGuarantees ?? [];
    this.refusedConfig = refused.length === 0
      ? null
      : { keys: refused, leader: this.refusedConfig?.leader ?? this.leaderKey() };
    this.event("ctl", `config set to ${JSON.stringify(next)}`);
  }

  /**
   * What `hactl edit-config` does: merge `patch` (Patroni's keys, e.g. `{ ttl: 30 }`) into the `config` key, by a
   * compare-and-set on its mod revision.
   */
  editConfig(patch: Record<string, unknown>): void {
    const key = this.#prefix + KEYS.config;
    const kv = this.etcd.get("ctl", key);
    const edit = editedConfig(kv?.value ?? null, this.#bootstrapDcs, patch, this.livenessSettings);
    const put = { put: { key, value: edit.json } };
    if (!this.etcd.txn("ctl", [{ key, target: "mod", equals: kv?.modRevision ?? "0" }], [put])) {
      throw new Error("editConfig: the config key changed under the simulator");
    }
    [this.settings, this.livenessSettings] = [edit.settings, edit.longest];
    this.#fault();
    this.event("ctl", `edit-config: ${JSON.stringify(patch)}`);
  }

  /** When the lease that holds the leader key expires, as the etcd model sees it (virtual ms), or null. */
  leaderLeaseExpiry(): number | null {
    const kv = this.etcd.get(OBSERVER, this.#prefix + KEYS.leader);
    if (!kv || kv.lease === "0") return null;
    return this.etcd.leaseInfo(kv.lease)?.expiresAt ?? null;
  }

  /** Hold back the member's cycles for `ms` (a slow or stalled loop). */
  delay(name: string, ms: number): void {
    const m = this.member(name);
    m.blockedUntil = Math.max(m.blockedUntil, this.now + ms);
    this.#fault();
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
    this.event(name, on ? "WAL receiver stopped" : "WAL receiver started");
  }

  /** Clients write `bytes` to every running primary that accepts them. */
  write(bytes: number): void {
    for (const m of this.members) if (m.pg.write(bytes)) this.event(m.name, `clients wrote ${bytes} bytes`);
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

  /** Throws SimViolation when an invariant does not hold now. */
  check(): void {
    const broken = brokenInvariant(this, this.#checkHistories) ?? this.#divergence.broken(this);
    if (broken !== null) this.#fail(broken);
  }

  /** The last `n` trace lines, formatted. */
  traceTail(n = 40): string[] {
    return this.trace.slice(-n).map(formatTraceLine);
  }

  #fail(what: string): never {
    throw new SimViolation(
      `invariant violated at ${formatTime(this.now).trim()}s (seed ${this.seed}): ${what}\n` +
        `last trace lines:\n${this.traceTail(40).join("\n")}`,
    );
  }
}
