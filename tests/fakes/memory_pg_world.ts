/**
 * What the fake Postgres servers of one simulated cluster share, and the WAL/timeline model they are built on.
 *
 * `FakePostgresWorld` is the shared part: a seeded PRNG (system identifiers), the registry of every member's server,
 * the timers of operations that take virtual time, the record of promotions, and two hooks the simulator supplies:
 * `holdsLock(name)` (does the member hold the leader key right now?) and `linked(a, b)` (can host `a` reach host
 * `b`?).
 *
 * A data directory (`DataDir`) holds a system identifier, a history of timeline segments and a WAL position. Every
 * segment has a world-wide id: the truth Postgres cannot see. Replication: a running replica streams from the
 * server its `primary_conninfo` names when that server is up, reachable, has the same system identifier, holds the
 * replica's slot (when it uses one) and passes Postgres's own timeline check (`postgresAllowsStreaming`), which
 * looks at timeline *numbers* and switch points only: the upstream's timeline must not be lower, and the replica's
 * position must not be past the point where the upstream's history left the replica's timeline. So when two
 * promotions produce the same timeline number on different histories and a replica streams across them (which
 * Postgres allows), the world records it in `foreignStreams`. `replicate()` moves WAL from upstreams to their
 * streaming replicas (except replicas set `lagging`); the simulator calls it after every step.
 *
 * Imports `src/core/ports.ts` and, for its type only, `FakePostgres` (memory_pg.ts, which re-exports this module).
 *
 * @module
 */
import { PostgresError } from "../../src/core/ports.ts";
import type { FakePostgres } from "./memory_pg.ts";

/** WAL position right after initdb and the first start (0/3000000). */
export const INITIAL_WAL = 0x3000000;
/** Size of the end-of-recovery record a promotion writes and of a shutdown checkpoint. */
export const RECORD_BYTES = 40;

/** One stretch of WAL written on one timeline; `id` is unique in the world (the truth Postgres cannot see). */
export interface Segment {
  id: number;
  timeline: number;
  start: number;
}

/** Virtual-time durations (ms) of the operations the agent runs as jobs. */
export interface OpDurations {
  bootstrap: number;
  createReplica: number;
  rewind: number;
  start: number;
  /** `pg_ctl promote` until the end of recovery (replaying a backlog); 0 when not given. */
  promote?: number;
}

/** A promotion as the world saw it. */
export interface Promotion {
  member: string;
  at: number;
  timeline: number;
  lsn: number;
  heldLock: boolean;
}

/** A data directory: what initdb or pg_basebackup leave, and what the server writes into it. */
export interface DataDir {
  sysid: string;
  segments: Segment[];
  wal: number;
  standbySignal: boolean;
  /** `primary_conninfo` target (the upstream's conn_url) or null. */
  conninfo: string | null;
  slotName: string | null;
  slots: Set<string>;
}

interface Timer {
  at: number;
  seq: number;
  member: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** mulberry32: small, fast, good enough for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The timeline the data directory is on (its newest segment's). */
export function lastTimeline(d: DataDir): number {
  return d.segments.at(-1)!.timeline;
}

/** Postgres's own check (numbers and switch points only): may a replica at `r` stream from `u`? */
export function postgresAllowsStreaming(r: DataDir, u: DataDir): boolean {
  if (r.sysid !== u.sysid) return false;
  const rt = lastTimeline(r);
  const ut = lastTimeline(u);
  if (ut < rt) return false; // "highest timeline of the primary is behind recovery timeline"
  if (ut === rt) return r.wal <= u.wal; // else "requested starting point is ahead of the WAL flush position"
  const idx = u.segments.findIndex((s) => s.timeline === rt);
  if (idx < 0 || idx === u.segments.length - 1) return false; // "requested timeline is not in this server's history"
  return r.wal <= u.segments[idx + 1]!.start; // else "forked off ... before current recovery point"
}

/** The truth: do `a` and `b` hold the same WAL below `upto`? */
export function sameHistoryBelow(a: Segment[], b: Segment[], upto: number): boolean {
  const pa = a.filter((s) => s.start < upto);
  const pb = b.filter((s) => s.start < upto);
  return pa.length === pb.length && pa.every((s, i) => s.id === pb[i]!.id && s.start === pb[i]!.start);
}

/** `tl1#1@0 tl2#3@50331688` (timeline, world-wide id and start of every segment), for violation messages. */
export function describeSegments(segments: readonly Segment[]): string {
  return segments.map((s) => `tl${s.timeline}#${s.id}@${s.start}`).join(" ");
}

/** The shared part: PRNG, registry, timers, promotions, violations and the simulator's hooks. */
export class FakePostgresWorld {
  readonly now: () => number;
  readonly wallNow: () => number;
  readonly random: () => number;
  /** Does `name` hold the leader key right now? Supplied by the simulator. */
  holdsLock: (name: string) => boolean = () => true;
  /** Can host `a` reach host `b` (replication, basebackup)? Supplied by the simulator. */
  linked: (a: string, b: string) => boolean = () => true;
  durations: OpDurations;
  readonly servers = new Map<string, FakePostgres>();
  readonly promotions: Promotion[] = [];
  /** Safety violations seen by the fake itself (a promotion without the lock). */
  readonly violations: string[] = [];
  /** Replicas that streamed WAL of a history that is not theirs (Postgres cannot tell; the world can). */
  readonly foreignStreams: string[] = [];
  readonly #seen = new Set<string>();
  #timers: Timer[] = [];
  #timerSeq = 0;
  #nextSegment = 1;

  constructor(opts: {
    seed: number;
    now: () => number;
    wallNow?: () => number;
    durations?: Partial<OpDurations>;
  }) {
    this.now = opts.now;
    this.wallNow = opts.wallNow ?? (() => 1_700_000_000_000 + opts.now());
    this.random = seededRandom(opts.seed);
    this.durations = { bootstrap: 0, createReplica: 0, rewind: 0, start: 0, ...opts.durations };
  }

  /** Called when a failure injected with `failNext` bites (the simulator counts it as a fault change then). */
  onInjected: () => void = () => {};

  /** An injected failure bites now: report it, and give back the error to throw. */
  injected(message: string): PostgresError {
    this.onInjected();
    return new PostgresError(message);
  }

  /** A 19-digit system identifier like initdb's. */
  newSysid(): string {
    let s = "7";
    for (let i = 0; i < 18; i++) s += Math.floor(this.random() * 10);
    return s;
  }

  newSegmentId(): number {
    return this.#nextSegment++;
  }

  /** Record a violation once (the simulator throws on it). */
  violation(message: string, into: string[] = this.violations): void {
    if (this.#seen.has(message)) return;
    this.#seen.add(message);
    into.push(message);
  }

  register(pg: FakePostgres): void {
    this.servers.set(pg.name, pg);
  }

  byConnUrl(connUrl: string): FakePostgres | undefined {
    for (const pg of this.servers.values()) if (pg.connUrl === connUrl) return pg;
    return undefined;
  }

  /** Resolve after `ms` of virtual time; rejects when the member's host crashes meanwhile. */
  sleep(member: string, ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#timers.push({ at: this.now() + ms, seq: this.#timerSeq++, member, resolve, reject });
    });
  }

  nextTimerAt(): number | null {
    let at: number | null = null;
    for (const t of this.#timers) if (at === null || t.at < at) at = t.at;
    return at;
  }

  /** Resolve the timers that are due; returns the members whose operations resumed. */
  fireDue(): string[] {
    const now = this.now();
    const due = this.#timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    if (due.length === 0) return [];
    this.#timers = this.#timers.filter((t) => t.at > now);
    for (const t of due) t.resolve();
    return [...new Set(due.map((t) => t.member))];
  }

  hasPendingOps(member: string): boolean {
    return this.#timers.some((t) => t.member === member);
  }

  cancelOps(member: string, reason: string): void {
    const mine = this.#timers.filter((t) => t.member === member);
    this.#timers = this.#timers.filter((t) => t.member !== member);
    for (const t of mine) t.reject(new PostgresError(reason));
  }

  /** Names of the servers running as writable primaries. */
  runningPrimaries(): string[] {
    return [...this.servers.values()].filter((s) => s.isRunningPrimary()).map((s) => s.name);
  }

  /** Move WAL from upstreams to the replicas that stream from them (cascades in a few passes). */
  replicate(): void {
    for (let pass = 0; pass < this.servers.size; pass++) {
      let moved = false;
      for (const s of [...this.servers.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
        if (s.lagging) continue;
        const up = s.streamSource();
        if (up && s.receiveFrom(up)) moved = true;
      }
      if (!moved) return;
    }
  }
}
