/**
 * An honest in-memory PostgreSQL for the simulator: `FakePostgres` is one member's `PostgresPort`, the server
 * process and its recovery, following what `src/pg/postgres.ts` does with the real programs. The members' servers
 * share a `FakePostgresWorld` (memory_pg_world.ts, re-exported here): the registry, the virtual-time timers, the
 * record of promotions, and the WAL/timeline model that decides who may stream from whom.
 *
 * - `bootstrap()` = initdb (refused on a non-empty data dir) + start as primary on timeline 1.
 * - `createReplica(up)` = wipe + pg_basebackup from a running, reachable `up` (primary or replica): copies the
 *   system identifier, the timeline history and the WAL position; leaves the server stopped with
 *   `standby.signal`, `primary_conninfo` and (with slots) `primary_slot_name` written.
 * - `start(role, up)` writes the config for the role (a no-op when already running), the postmaster is up at
 *   once and accepts connections after the `start` duration. `stop(mode)`: a fast stop of a primary writes a
 *   shutdown checkpoint that its streaming replicas still receive; an immediate stop writes nothing.
 * - `promote()` ends recovery: a new timeline (newest known + 1, as Postgres picks it: the own timeline or the
 *   newest one in the cluster's `history` key, whose files the real adapter writes into pg_wal first) starting at the
 *   current WAL position, plus an end-of-recovery record. If `holdsLock(me)` is false at that moment the world
 *   records a safety violation.
 * - `follow(up)` rewrites primary_conninfo (false when nothing changed or the server is not a running replica),
 *   `syncSlots(names, fields)` applies src/core/slot_rules.ts `planSlotSync` to its physical slots (role-checked).
 *
 * A running replica streams from the server its `primary_conninfo` names when Postgres's own rules allow it
 * (`streamSource()`); when the world knows the history it takes is not really its own, `receiveFrom()` records it
 * in the world's `foreignStreams`.
 * Faults: `crash()` (the postmaster dies), `hostCrash()`/`hostStart()` (also cancels running operations),
 * `failNext(op)` (the next call of `op` throws `PostgresError`), `write(bytes)` (client writes on a primary),
 * `commit(bytes)` (the same, acknowledged only as `synchronous_standby_names` allows: `setSyncStandbyNames`).
 * Timelines and divergence are modelled: `rewind(up)` takes the source's history back to the divergence point
 * (nothing when the histories did not diverge), `leaderTimeline(up)` answers the leader's timeline and history as
 * its server reports them, and a stopped server's observation carries its pg_controldata position.
 *
 * Differences from the real adapter, on purpose: no files, no SQL, no pg_control (`checkpoint()` only checks the
 * server); an interrupted initdb or pg_basebackup leaves an empty data directory; pg_basebackup is tried once (the
 * adapter retries once after 5 s). `tests/integration/postgres_contract_test.ts` runs one contract against this
 * fake and the real adapter. Imports `src/core/`, memory_pg_world.ts, memory_pg_checkpoint.ts, standby_slot.ts.
 *
 * @module
 */
import { PostgresError, type PostgresPort } from "../../src/core/ports.ts";
import { activeSlotPositions, fakePrimarySlot, slotsInRecovery } from "./standby_slot.ts";
import { fakeCheckpoint } from "./memory_pg_checkpoint.ts";
import {
  formatLsn,
  type HistoryEntry,
  type LeaderTimeline,
  type PgObservation,
  type ReplicationRow,
  type TimelineSwitch,
  type Upstream,
} from "../../src/core/types.ts";
import { emptyPgObservation } from "../../src/core/pg_empty.ts";
import { parseSyncNames } from "../../src/core/sync_names.ts";
import { planSlotSync, type SlotSyncFields } from "../../src/core/slot_rules.ts";
import {
  type DataDir,
  describeSegments,
  type FakePostgresWorld,
  INITIAL_WAL,
  lastTimeline,
  postgresAllowsStreaming,
  RECORD_BYTES,
  sameHistoryBelow,
  type Segment,
} from "./memory_pg_world.ts";

export {
  FakePostgresWorld,
  INITIAL_WAL,
  type OpDurations,
  type Promotion,
  RECORD_BYTES,
  sameHistoryBelow,
  seededRandom,
  type Segment,
} from "./memory_pg_world.ts";

/** The server_version_num the fake reports. */
export const FAKE_SERVER_VERSION = 150008;

/** Operations whose next call can be made to fail. */
export type FakeOp =
  | "bootstrap"
  | "createReplica"
  | "rewind"
  | "start"
  | "stop"
  | "promote"
  | "follow"
  | "syncSlots"
  | "setSyncStandbyNames";
/** One member's Postgres. */
export class FakePostgres implements PostgresPort {
  readonly name: string;
  readonly connUrl: string;
  readonly world: FakePostgresWorld;
  checkpoint = (): Promise<void> => fakeCheckpoint(this);
  /** While true, this replica's WAL receiver stays connected but nothing new arrives (slow network/disk). */
  lagging = false;
  /**
   * While true, this replica's WAL receiver is down (primary_conninfo broken, receiver stopped): Postgres runs and
   * answers, in archive recovery, receiving nothing.
   */
  receiverStopped = false;
  #useSlots: () => boolean;
  #data: DataDir | null = null;
  #running = false;
  #queryable = false;
  #startTime: string | null = null;
  #hostUp = true;
  /** Bumped whenever the postmaster goes away, so a start in flight notices. */
  #epoch = 0;
  #failNext = new Set<FakeOp>();
  /** `synchronous_standby_names` as the agent set it (kept across restarts like the file it writes). */
  #syncNames: string | null = null;

  constructor(
    world: FakePostgresWorld,
    opts: { name: string; connUrl: string; useSlots?: () => boolean },
  ) {
    this.world = world;
    this.name = opts.name;
    this.connUrl = opts.connUrl;
    this.#useSlots = opts.useSlots ?? (() => true);
    world.register(this);
  }

  // ------------------------------------------------------------ introspection for the simulator

  get hostUp(): boolean {
    return this.#hostUp;
  }
  get running(): boolean {
    return this.#running;
  }
  get initialized(): boolean {
    return this.#data !== null;
  }
  get sysid(): string | null {
    return this.#data?.sysid ?? null;
  }
  get wal(): number | null {
    return this.#data?.wal ?? null;
  }
  get timeline(): number | null {
    return this.#data ? lastTimeline(this.#data) : null;
  }
  get segments(): readonly Segment[] {
    return this.#data?.segments ?? [];
  }
  get slotName(): string | null {
    return this.#data?.slotName ?? null;
  }
  get conninfo(): string | null {
    return this.#data?.conninfo ?? null;
  }

  isRunningPrimary(): boolean {
    return this.#running && this.#data !== null && !this.#data.standbySignal;
  }

  isRunningReplica(): boolean {
    return this.#running && this.#data !== null && this.#data.standbySignal;
  }

  /** The server this replica streams from right now (Postgres's own rules), or null. */
  streamSource(): FakePostgres | null {
    const d = this.#data;
    if (!this.#running || !this.#queryable || !d || !d.standbySignal || !d.conninfo) return null;
    if (this.receiverStopped) return null;
    const up = this.world.byConnUrl(d.conninfo);
    if (!up || up === this || !up.#hostUp || !up.#running || !up.#queryable || !up.#data) return null;
    if (!this.world.linked(this.name, up.name)) return null;
    if (d.slotName !== null && !up.#data.slots.has(d.slotName)) return null; // "replication slot does not exist"
    return postgresAllowsStreaming(d, up.#data) ? up : null;
  }

  /** Take the upstream's WAL; records a violation when its history is not really ours. True when data moved. */
  receiveFrom(up: FakePostgres): boolean {
    const d = this.#data!;
    const u = up.#data!;
    if (!sameHistoryBelow(d.segments, u.segments, d.wal)) {
      this.world.violation(
        `${this.name} (timeline ${lastTimeline(d)}, ${
          describeSegments(d.segments)
        }) streams a foreign history from ` +
          `${up.name} (timeline ${lastTimeline(u)}, ${describeSegments(u.segments)}) at WAL ${d.wal}`,
        this.world.foreignStreams,
      );
    }
    if (u.wal === d.wal && lastTimeline(u) === lastTimeline(d)) return false;
    d.segments = u.segments.map((s) => ({ ...s }));
    d.wal = u.wal;
    return true;
  }

  // ------------------------------------------------------------ faults and client load

  /** The postmaster dies (no shutdown checkpoint). */
  crash(): void {
    this.#running = false;
    this.#queryable = false;
    this.#epoch++;
  }

  /** The whole host goes down: Postgres dies and operations in flight fail. */
  hostCrash(): void {
    this.crash();
    this.#hostUp = false;
    this.world.cancelOps(this.name, `host ${this.name} went down`);
  }

  hostStart(): void {
    this.#hostUp = true;
  }

  /** The next call of `op` throws a PostgresError. */
  failNext(op: FakeOp): void {
    this.#failNext.add(op);
  }

  /** Clients write `bytes` of WAL; only a running, queryable primary accepts. True when written. */
  write(bytes: number): boolean {
    if (!this.isRunningPrimary() || !this.#queryable) return false;
    this.#data!.wal += bytes;
    return true;
  }

  /**
   * A client's commit of `bytes` (synchronous_commit on): written locally, and acknowledged only when
   * `synchronous_standby_names` asks for nothing or enough of the standbys it names stream from this server and
   * flush it (they take the WAL at once; a `lagging` one cannot). False when not acknowledged (the commit waits).
   */
  commit(bytes: number): boolean {
    if (!this.write(bytes)) return false;
    const req = this.syncRequirement();
    if (req.num === 0) return true;
    const standbys = [...this.world.servers.values()].filter((s) =>
      !s.lagging && s.streamSource() === this &&
      (req.names.includes(s.name.toLowerCase()) || req.names.includes("*"))
    );
    if (standbys.length < req.num) return false;
    for (const s of standbys) s.receiveFrom(this);
    return true;
  }

  /**
   * `#check` for a method that is not `async`: its failure as a rejected promise, as the real adapter's (async)
   * methods fail, never as a synchronous throw.
   */
  #rejected(op: FakeOp): Promise<never> | null {
    try {
      this.#check(op);
      return null;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #check(op: FakeOp): void {
    if (!this.#hostUp) throw new PostgresError(`${op} on ${this.name}: the host is down`);
    if (this.#failNext.delete(op)) throw this.world.injected(`${op} on ${this.name}: injected failure`);
  }

  // ------------------------------------------------------------ PostgresPort

  observe(): Promise<PgObservation> {
    const d = this.#data;
    const obs: PgObservation = {
      ...emptyPgObservation(),
      dataDir: d ? "initialized" : "empty",
      running: d !== null && this.#running,
      standbySignal: d?.standbySignal ?? false,
      sysid: d?.sysid ?? null,
    };
    if (d && !this.#running) {
      // pg_controldata: a replica shut down in recovery records where its WAL ends (the minimum recovery ending
      // location, here its whole WAL); a former primary where its last record (the shutdown checkpoint) starts.
      const lsn = d.standbySignal ? d.wal : Math.max(0, d.wal - RECORD_BYTES);
      obs.controlPosition = { inRecovery: d.standbySignal, timeline: lastTimeline(d), lsn };
      obs.positionHistory = historyOf(d);
    }
    if (!d || !this.#running || !this.#queryable) return Promise.resolve(obs);
    obs.queryable = true;
    obs.serverVersion = FAKE_SERVER_VERSION;
    obs.postmasterStartTime = this.#startTime;
    obs.slots = [...d.slots].sort();
    obs.slotPositions = activeSlotPositions(this, this.world.servers.values());
    obs.timeline = lastTimeline(d);
    obs.walPosition = d.wal;
    obs.replication = this.#replicationRows();
    obs.synchronousStandbyNames = this.#syncNames ?? "";
    if (!d.standbySignal) {
      obs.role = "primary";
      // What pg_wal/<TLI>.history says: the parent timeline and the switch position of every segment after the first.
      obs.timelineHistory = historyOf(d);
      return Promise.resolve(obs);
    }
    obs.role = "replica";
    obs.positionHistory = historyOf(d);
    obs.receiveLsn = d.wal;
    obs.replayLsn = d.wal;
    obs.replicationState = this.streamSource() ? "streaming" : "in archive recovery";
    obs.upstream = d.conninfo ? hostPort(d.conninfo) : null;
    return Promise.resolve(obs);
  }

  #replicationRows(): ReplicationRow[] {
    return [...this.world.servers.values()]
      .filter((s) => s.streamSource() === this)
      .map((s) => ({
        usename: "replicator",
        application_name: s.name,
        client_addr: null,
        state: "streaming",
        sync_state: syncStateOf(this.#syncNames, s.name),
        sync_priority: 0,
        flush_lsn: s.#data ? formatLsn(s.#data.wal) : null,
      }))
      .sort((a, b) => (a.application_name < b.application_name ? -1 : 1));
  }

  async bootstrap(): Promise<void> {
    this.#check("bootstrap");
    if (this.#data) throw new PostgresError(`initdb: directory of ${this.name} exists but is not empty`);
    await this.world.sleep(this.name, this.world.durations.bootstrap);
    this.#data = {
      sysid: this.world.newSysid(),
      segments: [{ id: this.world.newSegmentId(), timeline: 1, start: 0 }],
      wal: INITIAL_WAL,
      standbySignal: false,
      conninfo: null,
      slotName: null,
      slots: new Set(),
    };
    this.#up();
    this.#queryable = true;
  }

  async createReplica(upstream: Upstream): Promise<void> {
    this.#check("createReplica");
    if (this.#running) {
      throw new PostgresError(
        `cannot create a replica in ${this.name}'s data dir: Postgres is running there`,
      );
    }
    this.#data = null;
    this.#source(upstream);
    await this.world.sleep(this.name, this.world.durations.createReplica);
    const src = this.#source(upstream);
    const useSlots = this.#useSlots();
    this.#data = {
      sysid: src.sysid,
      segments: src.segments.map((s) => ({ ...s })),
      wal: src.wal,
      standbySignal: true,
      conninfo: upstream.name !== this.name ? upstream.connUrl : null,
      slotName: upstream.name !== this.name ? fakePrimarySlot(upstream, this.name, useSlots) : null,
      slots: new Set(),
    };
  }

  /**
   * pg_rewind: needs a stopped, initialized data dir and a reachable running source with the same system id.
   * When the histories diverged, the data dir takes the source's history and goes back to the divergence point
   * (streaming brings it forward); otherwise nothing changes ("no rewind required").
   */
  async rewind(upstream: Upstream): Promise<void> {
    this.#check("rewind");
    const d = this.#data;
    if (this.#running || !d) {
      throw new PostgresError(`pg_rewind on ${this.name}: needs a stopped data directory`);
    }
    await this.world.sleep(this.name, this.world.durations.rewind);
    const src = this.#source(upstream);
    if (src.sysid !== d.sysid) {
      throw new PostgresError(`pg_rewind on ${this.name}: different system identifier`);
    }
    let i = 0;
    while (i < d.segments.length && i < src.segments.length && d.segments[i]!.id === src.segments[i]!.id) i++;
    // Our history is a prefix of the source's: diverged only when our WAL went past the source's switch point.
    if (i === d.segments.length && (i === src.segments.length || d.wal <= src.segments[i]!.start)) return;
    const diverged = Math.min(d.segments[i]?.start ?? Infinity, src.segments[i]?.start ?? Infinity);
    d.segments = src.segments.map((s) => ({ ...s }));
    d.wal = Math.min(d.wal, diverged);
  }

  /** The basebackup source's data, or throw like a failed pg_basebackup. */
  #source(upstream: Upstream): DataDir {
    const up = this.world.byConnUrl(upstream.connUrl);
    if (
      !up || up === this || !up.#hostUp || !up.#running || !up.#queryable || !up.#data ||
      !this.world.linked(this.name, up.name)
    ) {
      throw new PostgresError(`pg_basebackup from ${upstream.name} failed: could not connect to server`);
    }
    return up.#data;
  }

  async start(role: "primary" | "replica", upstream: Upstream | null): Promise<void> {
    this.#check("start");
    if (this.#running) return;
    const d = this.#data;
    if (!d) {
      throw new PostgresError(`cannot start Postgres: ${this.name} holds no initialized data directory`);
    }
    if (role === "replica") {
      d.standbySignal = true;
      const follows = upstream !== null && upstream.name !== this.name;
      d.conninfo = follows ? upstream.connUrl : null;
      d.slotName = follows ? fakePrimarySlot(upstream, this.name, this.#useSlots()) : null;
    } else {
      d.standbySignal = false;
      d.conninfo = null;
      d.slotName = null;
    }
    const epoch = this.#up();
    await this.world.sleep(this.name, this.world.durations.start);
    if (this.#epoch !== epoch || !this.#running) {
      throw new PostgresError(`pg_ctl start failed: the postmaster of ${this.name} exited during startup`);
    }
    this.#queryable = true;
  }

  #up(): number {
    this.#running = true;
    this.#queryable = false;
    this.#startTime = new Date(this.world.wallNow()).toISOString();
    return ++this.#epoch;
  }

  stop(mode: "fast" | "immediate", onSafepoint?: () => void): Promise<void> {
    const failed = this.#rejected("stop");
    if (failed) return failed;
    if (!this.#running) {
      onSafepoint?.();
      return Promise.resolve();
    }
    // The shutdown request reached the postmaster and the (modelled-away) client backends are gone: the safe
    // point comes before the shutdown checkpoint, as in the real server.
    onSafepoint?.();
    if (mode === "fast" && this.isRunningPrimary() && this.#queryable) {
      // The shutdown checkpoint: walsenders send it to connected replicas before the postmaster exits.
      this.#data!.wal += RECORD_BYTES;
      for (const s of this.world.servers.values()) {
        if (!s.lagging && s.streamSource() === this) s.receiveFrom(this);
      }
    }
    this.crash();
    return Promise.resolve();
  }

  async promote(clusterHistory: readonly HistoryEntry[] = []): Promise<void> {
    this.#check("promote");
    const d = this.#data;
    if (!d || !this.#running) {
      throw new PostgresError(`pg_ctl promote on ${this.name}: server is not running`);
    }
    if (!d.standbySignal) {
      throw new PostgresError(`pg_ctl promote on ${this.name}: server is not in standby mode`);
    }
    const replay = this.world.durations.promote ?? 0;
    if (replay > 0) {
      // Replaying the backlog before the end of recovery; the server must still be up (and the same one) after.
      const epoch = this.#epoch;
      await this.world.sleep(this.name, replay);
      if (!this.#running || this.#epoch !== epoch) {
        throw new PostgresError(
          `pg_ctl promote on ${this.name}: the server stopped before the end of recovery`,
        );
      }
    }
    const heldLock = this.world.holdsLock(this.name);
    // Postgres picks newest-known + 1; the adapter makes the cluster's history files known first.
    const clusterNewest = clusterHistory.reduce((max, e) => Math.max(max, e[0] + 1), 1);
    const timeline = Math.max(lastTimeline(d), clusterNewest) + 1;
    this.world.promotions.push({ member: this.name, at: this.world.now(), timeline, lsn: d.wal, heldLock });
    if (!heldLock) {
      this.world.violation(
        `${this.name} was promoted to timeline ${timeline} at ${this.world.now()} ms without holding the leader lock`,
      );
    }
    d.segments = [...d.segments, { id: this.world.newSegmentId(), timeline, start: d.wal }];
    d.wal += RECORD_BYTES;
    d.standbySignal = false;
    this.#queryable = true;
  }

  follow(upstream: Upstream): Promise<boolean> {
    const failed = this.#rejected("follow");
    if (failed) return failed;
    const d = this.#data;
    if (!d || !this.#running || !d.standbySignal) return Promise.resolve(false);
    const follows = upstream.name !== this.name;
    const conninfo = follows ? upstream.connUrl : null;
    const slotName = follows ? fakePrimarySlot(upstream, this.name, this.#useSlots()) : null;
    if (d.conninfo === conninfo && d.slotName === slotName) return Promise.resolve(false);
    d.conninfo = conninfo;
    d.slotName = slotName;
    return Promise.resolve(true);
  }

  /** The fake has no configuration files: a forced reload "happens", nothing else changes. */
  reload(_role: "primary" | "replica", _upstream: Upstream | null, force: boolean): Promise<boolean> {
    const d = this.#data;
    return Promise.resolve(force && d !== null && this.#running);
  }

  /** Keep the value for this server (as the adapter writes postgresql.conf and reloads). */
  setSyncStandbyNames(value: string | null): Promise<void> {
    const failed = this.#rejected("setSyncStandbyNames");
    if (failed) return failed;
    this.#syncNames = value;
    return Promise.resolve();
  }

  /** The standbys a commit on this primary waits for, and how many of them must confirm (none: asynchronous). */
  syncRequirement(): { names: string[]; num: number } {
    const parsed = parseSyncNames(this.#syncNames ?? "");
    if (parsed === null || parsed.kind === "off") return { names: [], num: 0 };
    return { names: parsed.names, num: parsed.num };
  }

  syncSlots(names: string[], fields: SlotSyncFields = {}): Promise<void> {
    const failed = this.#rejected("syncSlots");
    if (failed) return failed;
    const d = this.#data;
    if (!d || !this.#running || !this.#queryable) {
      return Promise.reject(new PostgresError(`${this.name}: could not connect to server`));
    }
    if (d.standbySignal !== slotsInRecovery(fields)) return Promise.resolve();
    const active = new Set(Object.keys(activeSlotPositions(this, this.world.servers.values())));
    // The fake's slots are physical, reserve WAL from creation and have no xmin; inactive ones have no position.
    const existing = [...d.slots].map((name) => ({
      name,
      type: "physical" as const,
      active: active.has(name),
      restartLsn: 1,
      xmin: null,
      database: null,
      plugin: null,
      walStatus: null,
      failover: false,
    }));
    for (const op of planSlotSync(existing, names, fields, this.name)) {
      if (op.op === "create") d.slots.add(op.name);
      if (op.op === "drop") d.slots.delete(op.name);
    }
    return Promise.resolve();
  }

  /** The leader's timeline and history as its own server reports them (unreachable or in recovery: an error). */
  leaderTimeline(leader: Upstream): Promise<LeaderTimeline> {
    const up = this.world.byConnUrl(leader.connUrl);
    if (
      !up || up === this || !this.#hostUp || !up.#hostUp || !up.#running || !up.#queryable || !up.#data ||
      !this.world.linked(this.name, up.name)
    ) {
      return Promise.resolve({ member: leader.name, error: `${leader.name}: could not connect to server` });
    }
    if (up.#data.standbySignal) {
      return Promise.resolve({ member: leader.name, error: `${leader.name} is still in recovery` });
    }
    const d = up.#data;
    return Promise.resolve({
      member: leader.name,
      inRecovery: false,
      timeline: lastTimeline(d),
      history: historyOf(d),
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** What pg_wal/<TLI>.history says: the parent timeline and the switch position of every segment after the first. */
function historyOf(d: DataDir): TimelineSwitch[] {
  return d.segments.slice(1).map((s, i) => ({
    timeline: d.segments[i]!.timeline,
    switchLsn: s.start,
    reason: "no recovery target specified",
  }));
}

function hostPort(connUrl: string): string | null {
  try {
    const u = new URL(connUrl);
    return `${u.hostname}:${u.port || "5432"}`;
  } catch {
    return null;
  }
}

/** `sync_state` of standby `name` under `value`: named: `sync` (`quorum` under `ANY k`, as Postgres); else `async`. */
function syncStateOf(value: string | null, name: string): string {
  const parsed = parseSyncNames(value ?? "");
  if (parsed === null || parsed.kind === "off") return "async";
  const named = parsed.names.includes(name.toLowerCase()) || parsed.names.includes("*");
  return !named ? "async" : parsed.kind === "quorum" ? "quorum" : "sync";
}
