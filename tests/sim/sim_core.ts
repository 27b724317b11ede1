/**
 * The simulator's core: N members, each a real `Agent` (src/shell/agent.ts, hence the real `decide`) over its own
 * `MemoryDcs` on one shared `MemoryEtcd`, a `FakePostgres` in one `FakePostgresWorld` and a `FakePeerClient`, all
 * on one virtual clock in ms, and the loop that runs them. Nothing here waits for real time. `Sim` (sim.ts) adds the
 * faults and the checks.
 *
 * Scheduling mirrors `Agent.run()` without its timers: a member runs `runCycle()` every `loop_wait` seconds after
 * the start of its previous cycle, at once when its DCS watch reported a change (`waitForChange(0)` is polled
 * after every step), when a job it started finished, or when a lock action failed. Jobs (bootstrap, clone, start)
 * take the durations given to the world. Each agent is a process (process.ts): with `callPlan` set, every port
 * call of a cycle takes virtual time and may hang or lose its reply, so a cycle spans virtual time while other
 * members act, faults strike and timers fire; without it (the transcripts) a cycle takes no virtual time. A cycle
 * (or a shutdown) runs detached: the loop goes on while it waits on virtual time, and picks up its result when it
 * ends. Members due at the same instant run in name order, or in a seeded random order with `shuffleTies`. Each
 * host has a fencing supervisor (supervisor.ts), a process of its own. Imports `src/` (agent, config, codec,
 * health), the fakes, and the simulator's invariants (the violation), trace, process, supervisor, history.
 *
 * @module
 */
import { Agent, type CycleResult, rerunAtOnce } from "../../src/shell/agent.ts";
import { simDynamic } from "./sim_dynamic.ts";
import { clusterPrefix, KEYS } from "../../src/dcs/codec.ts";
import { buildStatus } from "../../src/api/health.ts";
import type { DynamicSettings, Tags } from "../../src/core/types.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { FakePostgres, FakePostgresWorld, type OpDurations, seededRandom } from "../fakes/memory_pg.ts";
import { FakePeerClient, type PeerDirectory } from "../fakes/fake_peers.ts";
import { SimViolation } from "./invariants.ts";
import { formatTime, formatTraceLine, type TraceLine } from "./trace.ts";
import { AgentProcess, type CallPlan, wrapPorts } from "./process.ts";
import { SimFenceClient, SimSupervisor } from "./supervisor.ts";
import { ClientHistory, type Handover } from "./history.ts";
import { flushMicrotasks, MAX_CYCLES_PER_INSTANT, MAX_STEPS_PER_INSTANT, WALL_EPOCH } from "./sim_limits.ts";
import { SimWatchdogDevice, simWatchdogPart } from "./watchdog.ts";
import { DEFAULT_BOOTSTRAP_DCS, DEFAULT_DURATIONS, type SimMember, type SimOptions } from "./sim_types.ts";

export { DEFAULT_BOOTSTRAP_DCS, DEFAULT_DURATIONS, type SimMember, type SimOptions } from "./sim_types.ts";

/** The client name of reads no partition touches (the invariants' view of etcd). */
export const OBSERVER = "sim-observer";

/** The members, the shared fakes, the virtual clock and the loop; the faults and the checks are `Sim`'s. */
export abstract class SimCore {
  now = 0;
  readonly seed: number;
  readonly etcd: MemoryEtcd;
  readonly world: FakePostgresWorld;
  readonly members: SimMember[] = [];
  readonly trace: TraceLine[] = [];
  /** The dynamic settings in the `config` key now (edit-config changes them). */
  settings: DynamicSettings;
  /** The longest ttl and loop_wait the schedule has used so far (a lease granted before a decrease runs on). */
  livenessSettings: DynamicSettings;
  readonly durations: OpDurations;
  /** Virtual time of the last fault injected or healed (liveness counts from there). */
  lastFaultChange = 0;
  /** Every acknowledged client write (history.ts). */
  readonly history = new ClientHistory();
  /** One-way link cuts `a>b` (a cannot reach b: replication, basebackup, peer status). */
  readonly cuts = new Set<string>();
  /** The handover under way (a switchover or the clean stop of the leader), judged at the next promotion. */
  handover: Handover | null = null;
  /** Failsafe mode: the last `POST /failsafe` each member accepted, from which leader, when (virtual ms). */
  readonly failsafeAccepts = new Map<string, { leader: string; at: number; ttl: number }>();
  #pendingError: unknown = null;
  /** Detached cycles whose result is being taken in (time must not move meanwhile). */
  #finishing = 0;
  readonly #callPlan: SimOptions["callPlan"];
  readonly #tieRandom: (() => number) | null;
  readonly #watchdog: boolean | number;
  protected readonly prefix = clusterPrefix("/service", "demo");
  protected readonly bootstrapDcs: Record<string, unknown>;
  readonly #tags: Record<string, Tags>;
  readonly #onLine: ((line: TraceLine) => void) | undefined;
  protected readonly checkHistories: boolean;
  #events: { at: number; seq: number; run: () => void | Promise<void> }[] = [];
  #eventSeq = 0;

  constructor(opts: SimOptions = {}) {
    this.seed = opts.seed ?? 1;
    this.bootstrapDcs = opts.bootstrapDcs ?? DEFAULT_BOOTSTRAP_DCS;
    this.#tags = opts.tags ?? {};
    this.#onLine = opts.onLine;
    this.checkHistories = opts.checkHistories ?? true;
    this.#callPlan = opts.callPlan;
    this.#watchdog = opts.watchdog ?? false;
    this.#tieRandom = opts.shuffleTies ? seededRandom(this.seed ^ 0x5eed) : null;
    this.settings = simDynamic(this.bootstrapDcs).settings;
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
        supervisor: new SimSupervisor({
          now: () => this.now,
          at: (at, fn) => this.at(at, fn),
          stopPostgres: () => {
            const pg = this.member(name).pg;
            if (!pg.hostUp || !pg.running) return Promise.resolve(false);
            pg.crash(); // SIGQUIT to the postmaster: an immediate stop, no shutdown checkpoint
            return Promise.resolve(true);
          },
          event: (text) => this.event(name, text),
          changed: () => this.noteFault(),
        }),
        proc: null,
        busy: false,
        wallOffset: 0,
        flakyUntil: 0,
        lastReason: "",
        device: new SimWatchdogDevice({
          now: () => this.now,
          at: (at, fn) => this.at(at, fn),
          reset: () => {
            this.event(name, "the watchdog fired: host reset");
            this.hostCrash(name);
            this.at(this.now + 10_000, () => this.hostStart(name));
          },
        }),
        partitioned: false,
        dcsPartitioned: false,
        burst: { at: -1, count: 0 },
      };
      this.members.push(m);
      this.#newAgent(m, m.nextAt);
    }
  }

  /** Every agent has a required watchdog on its host's simulated device. */
  get hasWatchdog(): boolean {
    return this.#watchdog !== false;
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
      // The agent's first lease comes from its local bootstrap.dcs, as the real one's does (not the cluster's).
      ttl: simDynamic(this.bootstrapDcs).settings.ttl,
    });
    const directory: PeerDirectory = {
      statusBody: (asker, apiUrl) => this.#statusBody(asker, apiUrl),
      failsafeCall: (asker, apiUrl, body) => this.#failsafeCall(asker, apiUrl, body),
    };
    const bootstrapDcs = this.bootstrapDcs;
    const plan = this.#callPlan;
    const proc = new AgentProcess({
      sleep: (ms) => this.#sleep(ms),
      plan: (port, method) => {
        const p: CallPlan = plan ? plan(m.name, port, method) : { latencyMs: 0, outcome: "ok" };
        // Calls hang or lose their reply only while the member is flaky (a fault with a start and an end).
        if (m.flakyUntil <= this.now) p.outcome = "ok";
        return p;
      },
      hangMs: (port) => port === "dcs" ? this.settings.retryTimeout * 1000 : 5000,
    });
    const ports = wrapPorts(proc, dcs, m.pg);
    // The agent's client starts its fencing supervisor (and starts it again after an exit) on this process's timers.
    const fenceClient = new SimFenceClient(m.supervisor, {
      now: () => this.now,
      after: (ms, fn) =>
        this.at(this.now + Math.max(0, ms), () => {
          if (m.proc === proc && m.state === "running") proc.timer(fn);
        }),
    });
    const agent = new Agent({
      name: m.name,
      scope: "demo",
      tags: this.#tags[m.name] ?? {},
      connUrl: m.connUrl,
      apiUrl: m.apiUrl,
      bootstrapDcs,
      dynamicFrom: (raw) => simDynamic(raw ?? bootstrapDcs).settings,
      dcs: ports.dcs,
      pg: ports.pg,
      peers: new FakePeerClient(m.name, directory),
      clock: {
        now: () => this.now,
        wallNow: () => WALL_EPOCH + this.now + m.wallOffset,
        // A timer of this agent process: it fires only while this very agent runs (a killed, stopped or crashed
        // agent's timers die with it; a frozen one's fire at SIGCONT); a delayed loop does not hold it back, as a
        // hung etcd call would not.
        after: (ms, fn) => {
          let alive = true;
          this.at(this.now + Math.max(0, ms), () => {
            if (alive && m.agent === agent && m.state === "running") proc.timer(() => alive && fn());
          });
          return () => void (alive = false);
        },
      },
      // The fencing supervisor: a process of its own, so its deadline survives a killed or frozen agent.
      fence: fenceClient.channel,
      ...simWatchdogPart(this.#watchdog, m.device, () => this.now),
      log: {
        cycle: () => {},
        warn: () => {},
        error: (message, fields) => {
          if (message.includes("bug")) this.fail(`${m.name}: ${message} ${JSON.stringify(fields ?? {})}`);
          if (message.includes("fence")) this.event(m.name, message);
        },
      },
    });
    // A supervisor that exits, cannot start or stops answering wakes the loop at once (src/daemon/start.ts).
    fenceClient.whenUnusable(() => {
      if (m.agent !== agent || m.state !== "running") return;
      m.fenceWokenAt = this.now;
      m.nextAt = Math.min(m.nextAt, this.now);
    });
    m.agent = agent;
    m.dcs = dcs;
    m.proc = proc;
    m.busy = false;
    m.state = "running";
    m.nextAt = firstCycleAt;
  }

  /** Resolve after `ms` of virtual time (an event of the loop). */
  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.at(this.now + ms, resolve));
  }

  async #statusBody(asker: string, apiUrl: string): Promise<Record<string, unknown> | null> {
    const target = this.members.find((m) => m.apiUrl === apiUrl);
    if (!target || target.state !== "running" || !target.agent || !target.pg.hostUp) return null;
    if (!this.linked(asker, target.name) || !target.proc?.free) return null;
    const agent = target.agent;
    // The REST API answers within the peer client's timeout (2 s), or not at all.
    const asked = this.#callPlan ? this.member(asker).proc : null;
    if (asked) asked.blocked++;
    try {
      const answered = await Promise.race([
        agent.refreshPostgresStatus().then(() => true),
        this.#callPlan ? this.#sleep(2000).then(() => false) : new Promise<boolean>(() => {}),
      ]);
      return answered ? buildStatus(agent.snapshot(), this.now) : null;
    } finally {
      if (asked) asked.blocked--;
    }
  }

  /** A leader's `POST /failsafe`, answered as a status request is; acceptances go to `failsafeAccepts`. */
  #failsafeCall(
    asker: string,
    apiUrl: string,
    body: Record<string, unknown>,
  ): Promise<{ status: number; body: string; lsn?: number; ttl?: number } | null> {
    const target = this.members.find((m) => m.apiUrl === apiUrl);
    if (!target || target.state !== "running" || !target.agent || !target.pg.hostUp) {
      return Promise.resolve(null);
    }
    if (!this.linked(asker, target.name) || !target.proc?.free) return Promise.resolve(null);
    const reply = target.agent.failsafeCall(body);
    if (reply.status === 200) {
      this.failsafeAccepts.set(target.name, { leader: asker, at: this.now, ttl: target.agent.dynamic.ttl });
    }
    return Promise.resolve(reply);
  }

  /** Can host `a` reach host `b` (peers, replication)? */
  linked(a: string, b: string): boolean {
    const ma = this.members.find((m) => m.name === a);
    const mb = this.members.find((m) => m.name === b);
    if (this.cuts.has(`${a}>${b}`)) return false;
    return !ma?.partitioned && !mb?.partitioned && (ma?.pg.hostUp ?? true) && (mb?.pg.hostUp ?? true);
  }

  /** The member named in the `leader` key right now (read by an observer no partition touches). */
  leaderKey(): string | null {
    return this.etcd.get(OBSERVER, this.prefix + KEYS.leader)?.value ?? null;
  }

  // ------------------------------------------------------------------ the loop

  /** Run until `now + ms`. */
  run(ms: number): Promise<void> {
    return this.runUntil(this.now + ms);
  }

  async runUntil(end: number): Promise<void> {
    // Steps at one instant are bounded: a harness loop that never moves virtual time on fails the run at once.
    let spins = 0;
    let at = this.now;
    for (;;) {
      await this.#drain(); // a cycle that ended may make its member due now
      const t = this.#nextTime();
      if (t === null || t > end) break;
      spins = t === at ? spins + 1 : 0;
      at = t;
      if (spins > MAX_STEPS_PER_INSTANT) this.fail(`virtual time does not move on from ${t} ms`);
      await this.#advance(t);
      await this.#step();
    }
    await this.#advance(end);
    this.#rethrow();
  }

  /** A detached cycle or shutdown failed (an invariant it checked, or a bug): fail the run with it. */
  #rethrow(): void {
    if (this.#pendingError === null) return;
    const err = this.#pendingError;
    this.#pendingError = null;
    throw err;
  }

  /** Schedule `fn` at virtual time `at` (fuzz schedules). */
  at(at: number, fn: () => void | Promise<void>): void {
    // Kept sorted by time, then by order of scheduling: insert after every event due no later.
    const events = this.#events;
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (events[mid]!.at <= at) lo = mid + 1;
      else hi = mid;
    }
    events.splice(lo, 0, { at, seq: this.#eventSeq++, run: fn });
  }

  #dueAt(m: SimMember): number | null {
    if (m.busy || m.proc?.frozen) return null;
    if (m.state === "stopping") return this.#hasPending(m) ? null : this.now;
    if (m.state !== "running") return null;
    return Math.max(m.nextAt, m.blockedUntil);
  }

  /** A job's timed operation or a port call of the agent is under way. */
  #hasPending(m: SimMember): boolean {
    return this.world.hasPendingOps(m.name) || (m.proc?.pending ?? 0) > 0;
  }

  /** Let the detached cycles that ended take their results in before virtual time moves on. */
  async #drain(): Promise<void> {
    for (let i = 0; this.#finishing > 0; i++) {
      if (i > 100) this.fail("a cycle's result is never taken in");
      await flushMicrotasks();
    }
  }

  /** Let a detached cycle (or shutdown) run until it ends or waits on virtual time or SIGCONT. */
  async #settle(m: SimMember, done: () => boolean): Promise<void> {
    for (let i = 0; !done(); i++) {
      await flushMicrotasks();
      if (done() || this.members.some((x) => (x.proc?.blocked ?? 0) > 0)) return;
      if (i > 100) this.fail(`${m.name}: a cycle neither ends nor waits on virtual time`);
    }
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
    await this.#drain();
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
    this.#rethrow();
    this.check();
  }

  async #step(): Promise<void> {
    while (this.#events.length > 0 && this.#events[0]!.at <= this.now) {
      const e = this.#events.shift()!;
      await e.run();
      await flushMicrotasks();
      this.#rethrow();
      this.world.replicate();
      await this.#pollWakes();
      this.check();
    }
    for (const m of this.members) {
      if (m.state === "stopping" && !m.busy && !this.#hasPending(m)) await this.#finishStop(m);
    }
    const due = this.members
      .filter((m) => m.state === "running" && this.#dueAt(m) !== null && this.#dueAt(m)! <= this.now)
      .map((m) => ({ m, tie: this.#tieRandom ? this.#tieRandom() : 0 }))
      .sort((a, b) =>
        this.#dueAt(a.m)! - this.#dueAt(b.m)! || a.tie - b.tie || (a.m.name < b.m.name ? -1 : 1)
      )
      .map((x) => x.m);
    for (const m of due) {
      if (m.state !== "running" || this.#dueAt(m) === null || this.#dueAt(m)! > this.now) continue;
      await this.#cycle(m);
      this.#rethrow();
      this.world.replicate();
      await this.#pollWakes();
      this.check();
    }
  }

  /** Start a cycle of `m` (detached) and let it run until it ends or waits on virtual time. */
  async #cycle(m: SimMember): Promise<void> {
    const agent = m.agent!;
    if (m.burst.at === this.now) {
      if (++m.burst.count > MAX_CYCLES_PER_INSTANT) {
        this.fail(`livelock: ${m.name} ran more than ${MAX_CYCLES_PER_INSTANT} cycles at one instant`);
      }
    } else m.burst = { at: this.now, count: 1 };
    const started = this.now;
    m.busy = true;
    let done = false;
    agent.runCycle()
      .then(async (result) => {
        this.#finishing++;
        await flushMicrotasks();
        if (m.agent !== agent) return; // the process died meanwhile: nothing of it runs on
        // A job that needs no virtual time ends in this instant. With port calls that take time, the loop never
        // waits for a job beyond that (as Agent.run() does not): a job may wait on what only the loop moves on.
        if (!this.#hasPending(m)) {
          await (this.#callPlan ? Promise.race([agent.settleJobs(), flushMicrotasks()]) : agent.settleJobs());
        }
        this.#cycleDone(m, agent, started, result);
      })
      .catch((err) => void (this.#pendingError ??= err))
      .finally(() => {
        done = true;
        this.#finishing = Math.max(0, this.#finishing - 1);
        if (m.agent === agent) m.busy = false;
      });
    await this.#settle(m, () => done);
  }

  #cycleDone(m: SimMember, agent: Agent, started: number, result: CycleResult | null): void {
    m.nextAt = started + agent.dynamic.loopWait * 1000;
    // A cycle the supervisor's report woke (or a later one) has ended with its whole plan carried out and no job
    // of Postgres in flight: the fence gate had its say (a plan that failed, e.g. a demotion refused by Postgres,
    // or a start the gate waits for before it gives the key up, leaves the window open: docs/fencing.md).
    const settled = result?.failedAt === -1 && !this.world.hasPendingOps(m.name);
    if (m.fenceWokenAt !== undefined && started >= m.fenceWokenAt && settled) {
      m.fenceGateCycleEndedAt = this.now;
    }
    if (!result) {
      this.fail(`${m.name}: the HA cycle failed unexpectedly (see the agent's error log)`);
      return;
    }
    m.lastReason = result.decision.reason;
    this.#record(m, result);
    const { actions } = result.decision;
    const ran = result.failedAt < 0 ? actions.length : result.failedAt;
    const jobDone = actions.slice(0, ran).some((a) => a.type === "start_job") &&
      !this.world.hasPendingOps(m.name);
    // As Agent.run(): look again at once after a failed lock action, an etcd failure or a promotion.
    if (rerunAtOnce(result) || jobDone) m.nextAt = this.now;
  }

  #record(m: SimMember, result: CycleResult): void {
    const { actions, reason } = result.decision;
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

  /**
   * A fault was injected or healed now (liveness and convergence count from here); one that touches `member`
   * ends a handover from it (what follows is a failover, judged by its own bound).
   */
  noteFault(member?: string): void {
    this.lastFaultChange = this.now;
    if (member !== undefined && this.handover && "from" in this.handover && this.handover.from === member) {
      this.handover = null;
    }
  }

  /** The stopping agent's shutdown (detached: its calls may take virtual time). */
  async #finishStop(m: SimMember): Promise<void> {
    const agent = m.agent!;
    m.busy = true;
    let done = false;
    agent.shutdown()
      .then((stopped) => {
        if (m.agent !== agent) return;
        const h = this.handover;
        if (h?.kind === "clean-stop" && h.from === m.name) {
          if (stopped) h.finalLsn = m.pg.wal ?? h.finalLsn;
          else this.handover = null;
        }
        m.proc?.kill();
        m.agent = null;
        m.dcs = null;
        m.proc = null;
        m.state = "stopped";
        this.event(m.name, "agent stopped");
        if (m.restartAfterStop) this.startAgent(m.name);
      })
      .catch((err) => void (this.#pendingError ??= err))
      .finally(() => {
        done = true;
        m.busy = false;
      });
    await this.#settle(m, () => done);
  }

  /** Start a fresh agent on a host whose agent is not running; its first cycle runs now. */
  startAgent(name: string): void {
    const m = this.member(name);
    if (m.state !== "stopped" || !m.pg.hostUp) return;
    this.#newAgent(m, this.now);
    this.noteFault();
    this.event(name, "agent started");
  }

  /** Throws SimViolation when an invariant does not hold now (the loop calls it after every step). */
  abstract check(): void;
  /** The host dies (the watchdog resets it). */
  abstract hostCrash(name: string): void;
  /** The host boots. */
  abstract hostStart(name: string): void;

  /** The last `n` trace lines, formatted. */
  traceTail(n = 40): string[] {
    return this.trace.slice(-n).map(formatTraceLine);
  }

  /** Throw the violation with the seed and the trace tail. */
  protected fail(what: string): never {
    throw new SimViolation(
      `invariant violated at ${formatTime(this.now).trim()}s (seed ${this.seed}): ${what}\n` +
        `last trace lines:\n${this.traceTail(40).join("\n")}`,
    );
  }
}
