/**
 * An honest in-memory etcd for the simulator. `MemoryEtcd` (memory_etcd.ts, re-exported here) is the shared store;
 * `MemoryDcs` is one member's `Dcs` on top of it, with the same rules as `src/dcs/etcd.ts`: the same
 * transactions and CAS conditions, the same change detection for `touchMember`/`writeStatus`, the same watch
 * filter; and decoding through the same `decodeCluster`. The contract suite in
 * `tests/integration/dcs_contract_test.ts` runs against both.
 *
 * Time never passes by itself: `waitForChange` answers at once (true when a relevant change is pending).
 *
 * @module
 */
import { DcsError } from "../../src/core/ports.ts";
import type { AcquireGuard } from "../../src/core/acquire_guard.ts";
import type { Dcs } from "../../src/core/ports.ts";
import type { ClusterView, HeldLease, HistoryEntry, MemberRecord } from "../../src/core/types.ts";
import type { WatchViewFacts } from "../../src/core/watch_view.ts";
import { WatchCache } from "../../src/dcs/watch_cache.ts";
import {
  clusterPrefix,
  decodeCluster,
  encodeFailsafe,
  encodeHistory,
  encodeJson,
  encodeStatus,
  encodeSync,
  KEYS,
  memberKey,
  type RawKv,
} from "../../src/dcs/codec.ts";
import {
  type Compare,
  LeaseNotFoundError,
  type MemoryEtcd,
  type MemoryEvent,
  type TxnOp,
} from "./memory_etcd.ts";

export { type Compare, LeaseNotFoundError, MemoryEtcd, type MemoryEvent, type TxnOp } from "./memory_etcd.ts";

/**
 * A cycle's view served from the watch's copy (`watchView`): what it held, and the prefix as the store held it
 * when the cycle's keepalive was answered (read by the simulator's invariant only).
 */
export interface WatchViewRead {
  revision: string;
  served: RawKv[];
  truth: RawKv[];
}

/** One member's `Dcs` on a `MemoryEtcd`; same rules as `EtcdDcs` (src/dcs/etcd.ts). */
export class MemoryDcs implements Dcs {
  readonly #etcd: MemoryEtcd;
  readonly #prefix: string;
  readonly #name: string;
  #ttl: number;
  #lease: { id: string } & HeldLease | null = null;
  #memberCache: { json: string; lease: string } | null = null;
  #lastStatus: string | null = null;
  #knownLeader: string | null | undefined = undefined;
  #lastRevision: number | null = null;
  #unwatch: (() => void) | null = null;
  #pending = false;
  #closed = false;
  /** As `EtcdDcs`: the lease the last `refreshLease` renewed, and the lease the read after it found our key on. */
  #renewed: string | null = null;
  #lockReadOn: string | null = null;
  /** As `EtcdDcs`: the watch's copy of the prefix, the keepalive's answer revision, the highest revision seen. */
  readonly #cache = new WatchCache();
  #renewalRevision: string | null = null;
  #highestSeen = 0;
  /** The prefix as the store held it when the last keepalive was answered (for `watchViewReads`). */
  #truthAtRenewal: RawKv[] = [];
  /** Every view served from the watch's copy, until the simulator's invariant has checked it. */
  readonly watchViewReads: WatchViewRead[] = [];
  /** How many views were served from the watch's copy, and how many by a range. */
  watchViewCount = 0;
  rangeCount = 0;

  constructor(etcd: MemoryEtcd, opts: { namespace: string; scope: string; name: string; ttl: number }) {
    this.#etcd = etcd;
    this.#prefix = clusterPrefix(opts.namespace, opts.scope);
    this.#name = opts.name;
    this.#ttl = opts.ttl;
  }

  get prefix(): string {
    return this.#prefix;
  }

  /** The highest cluster revision this member has seen through a load or its watch (diagnostics, tests). */
  get seenRevision(): string | null {
    return this.#lastRevision === null ? null : String(this.#lastRevision);
  }

  /** The current lease id ("0" when none). */
  get leaseId(): string {
    return this.#lease?.id ?? "0";
  }

  /** Run a store operation; errors (partition, missing lease) become DcsError and reset the caches. */
  #call<T>(what: string, fn: () => T): T {
    if (this.#closed) throw new DcsError(`etcd ${what}: the DCS client is closed`);
    try {
      const result = fn();
      // Every answer carries the store's revision in its header, as etcd's do.
      this.#highestSeen = Math.max(this.#highestSeen, this.#etcd.revision);
      return result;
    } catch (err) {
      this.#memberCache = null;
      this.#lastStatus = null;
      if (err instanceof DcsError) throw err;
      throw new DcsError(`etcd ${what} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Calls of the fake answer at once (or fail at once when partitioned); there is no deadline to set. */
  setRetryTimeout(_seconds: number): void {}

  loadCluster(): Promise<ClusterView> {
    const renewed = this.#renewed;
    this.#renewed = null;
    this.#lockReadOn = null;
    return this.#async(() => {
      const { kvs, revision } = this.#call("range", () => this.#etcd.range(this.#name, this.#prefix));
      this.rangeCount++;
      this.#cache.loaded(kvs, revision);
      return this.#adopt(decodeCluster(kvs, this.#prefix, revision), kvs, renewed);
    });
  }

  watchViewFacts(): WatchViewFacts {
    return {
      renewalRevision: this.#renewalRevision,
      viewRevision: this.#cache.completeAt,
      highestSeen: this.#highestSeen > 0 ? String(this.#highestSeen) : null,
    };
  }

  watchView(): ClusterView {
    const at = this.#cache.completeAt;
    const kvs = this.#cache.kvs();
    if (at === null || kvs === null) {
      throw new Error("watchView: the watch holds no complete copy of the prefix");
    }
    const renewed = this.#renewed;
    this.#renewed = null;
    this.watchViewCount++;
    this.watchViewReads.push({ revision: at, served: kvs, truth: this.#truthAtRenewal });
    return this.#adopt(decodeCluster(kvs, this.#prefix, at), kvs, renewed);
  }

  /** As `EtcdDcs`: what a cycle's view tells the caches (from a range or from the watch's copy). */
  #adopt(view: ClusterView, kvs: RawKv[], renewed: string | null): ClusterView {
    const ours = view.leader !== null && view.leader.name === this.#name;
    this.#lockReadOn = renewed !== null && ours && view.leader?.lease === renewed ? renewed : null;
    this.#lastRevision = Number(view.revision);
    const mine = kvs.find((kv) => kv.key === this.#prefix + memberKey(this.#name));
    this.#memberCache = mine ? { json: mine.value, lease: mine.lease } : null;
    this.#lastStatus = kvs.find((kv) => kv.key === this.#prefix + KEYS.status)?.value ?? null;
    this.#knownLeader = view.leader?.name ?? null;
    return view;
  }

  /** Methods are async like the real adapter's: errors reject instead of throwing synchronously. */
  #async<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #grant(ttl: number): string {
    const id = this.#call("lease grant", () => this.#etcd.grant(this.#name, ttl));
    this.#lease = { id, requestedTtl: ttl, ttl: this.#etcd.leaseInfo(id)!.ttl };
    return id;
  }

  #refresh(ttl: number): boolean {
    this.#ttl = ttl;
    this.#renewalRevision = null;
    this.#ensureWatch();
    if (this.#lease === null) {
      this.#grant(ttl);
      return true;
    }
    const id = this.#lease.id;
    if (this.#call("lease keepalive", () => this.#etcd.keepAlive(this.#name, id)) > 0) {
      // The one store is etcd's leader: its answer's header holds the store's revision at the renewal.
      this.#renewalRevision = String(this.#etcd.revision);
      this.#truthAtRenewal = this.#etcd.snapshot(this.#prefix);
      return true;
    }
    this.#lease = null;
    this.#memberCache = null;
    this.#grant(ttl);
    return false;
  }

  refreshLease(ttl: number): Promise<boolean> {
    this.#renewed = null;
    this.#lockReadOn = null;
    return this.#async(() => {
      const kept = this.#refresh(ttl);
      this.#renewed = this.#lease?.id ?? null;
      return kept;
    });
  }

  lockReadSinceRenewal(): boolean {
    const on = this.#lockReadOn;
    this.#lockReadOn = null;
    return on !== null && on === this.#lease?.id && this.#knownLeader === this.#name;
  }

  heldLease(): HeldLease | null {
    return this.#lease ? { requestedTtl: this.#lease.requestedTtl, ttl: this.#lease.ttl } : null;
  }

  moveLease(ttl: number, leader: boolean): Promise<boolean> {
    return this.#async(() => {
      this.#ttl = ttl;
      const old = this.#lease;
      const memberKeyPath = this.#prefix + memberKey(this.#name);
      const member = this.#memberCache;
      if (!leader) {
        const id = this.#grant(ttl);
        if (member) {
          this.#call("put member", () => this.#etcd.put(this.#name, memberKeyPath, member.json, id));
        }
        if (member) this.#memberCache = { json: member.json, lease: id };
        return true;
      }
      const key = this.#prefix + KEYS.leader;
      const kv = this.#call("range leader", () => this.#etcd.get(this.#name, key));
      this.#knownLeader = kv ? kv.value : null;
      if (kv === null || kv.value !== this.#name) return false;
      // Held from here on: should the move be applied without an answer, the next renewal finds the key on it.
      const id = this.#grant(ttl);
      const ops: TxnOp[] = [{ put: { key, value: this.#name, lease: id } }];
      if (member) ops.push({ put: { key: memberKeyPath, value: member.json, lease: id } });
      const moved = this.#call("txn move leader", () =>
        this.#etcd.txn(this.#name, [
          { key, target: "value", equals: this.#name },
          { key, target: "create", equals: kv.createRevision },
        ], ops));
      if (!moved) this.#lease = old;
      else if (member) this.#memberCache = { json: member.json, lease: id };
      const revoke = moved ? old?.id : id;
      try {
        if (revoke) this.#etcd.revoke(this.#name, revoke);
      } catch { /* it expires on its own */ }
      return moved;
    });
  }

  dropLease(): void {
    this.#lease = null;
    this.#memberCache = null;
  }

  #withLease<T>(op: (lease: string) => T): T {
    try {
      return op(this.#lease?.id ?? this.#grant(this.#ttl));
    } catch (err) {
      if (!(err instanceof DcsError && err.cause instanceof LeaseNotFoundError)) throw err;
      this.#lease = null;
      return op(this.#grant(this.#ttl));
    }
  }

  touchMember(data: MemberRecord): Promise<void> {
    return this.#async(() => {
      const json = encodeJson(data);
      const lease = this.#lease?.id ?? this.#grant(this.#ttl);
      if (this.#memberCache?.json === json && this.#memberCache.lease === lease) return;
      this.#withLease((lease) => {
        this.#call(
          "put member",
          () => this.#etcd.put(this.#name, this.#prefix + memberKey(this.#name), json, lease),
        );
        this.#memberCache = { json, lease };
      });
    });
  }

  attemptToAcquireLeader(guard?: AcquireGuard): Promise<boolean> {
    return this.#async(() => {
      const key = this.#prefix + KEYS.leader;
      const kept = (rel: string, rev: string | null) => ({
        key: this.#prefix + rel,
        target: "mod" as const,
        equals: rev ?? "0",
      });
      const guards = [
        ...(guard?.config !== undefined ? [kept(KEYS.config, guard.config)] : []),
        ...(guard?.sync !== undefined ? [kept(KEYS.sync, guard.sync)] : []),
      ];
      const won = this.#withLease((lease) =>
        this.#call(
          "txn acquire leader",
          () =>
            this.#etcd.txn(this.#name, [{ key, target: "create", equals: "0" }, ...guards], [{
              put: { key, value: this.#name, lease },
            }]),
        )
      );
      if (won) this.#knownLeader = this.#name;
      return won;
    });
  }

  updateLeader(): Promise<boolean> {
    return this.#async(() => {
      this.#refresh(this.#ttl);
      const lease = this.#lease!.id;
      const key = this.#prefix + KEYS.leader;
      const kv = this.#call("range leader", () => this.#etcd.get(this.#name, key));
      this.#knownLeader = kv ? kv.value : null;
      if (kv === null || kv.value !== this.#name) return false;
      if (kv.lease === lease) return true;
      return this.#call("txn move leader", () =>
        this.#etcd.txn(this.#name, [
          { key, target: "value", equals: this.#name },
          { key, target: "mod", equals: kv.modRevision },
        ], [{ put: { key, value: this.#name, lease } }]));
    });
  }

  deleteLeader(): Promise<boolean> {
    return this.#async(() => {
      const key = this.#prefix + KEYS.leader;
      const done = this.#call(
        "txn delete leader",
        () =>
          this.#etcd.txn(this.#name, [{ key, target: "value", equals: this.#name }], [{ delete: { key } }]),
      );
      if (done) this.#knownLeader = null;
      return done;
    });
  }

  #casPut(what: string, rel: string, value: string, modRevision?: string): boolean {
    const key = this.#prefix + rel;
    if (modRevision === undefined) {
      this.#call(what, () => this.#etcd.put(this.#name, key, value));
      return true;
    }
    const compare: Compare = modRevision === "0"
      ? { key, target: "create", equals: "0" }
      : { key, target: "mod", equals: modRevision };
    return this.#call(what, () => this.#etcd.txn(this.#name, [compare], [{ put: { key, value } }]));
  }

  initialize(createNew: boolean, value: string): Promise<boolean> {
    return this.#async(() => this.#casPut("initialize", KEYS.initialize, value, createNew ? "0" : undefined));
  }

  cancelInitialization(): Promise<void> {
    return this.#async(() =>
      this.#call("delete initialize", () => this.#etcd.delete(this.#name, this.#prefix + KEYS.initialize))
    );
  }

  setConfig(value: Record<string, unknown>, modRevision?: string): Promise<boolean> {
    return this.#async(() => this.#casPut("put config", KEYS.config, encodeJson(value), modRevision));
  }

  writeStatus(optime: number, slots?: Record<string, number>, retainSlots?: string[]): Promise<void> {
    return this.#async(() => {
      const value = encodeStatus(optime, slots, retainSlots);
      if (value === this.#lastStatus) return;
      this.#casPut("put status", KEYS.status, value);
      this.#lastStatus = value;
    });
  }

  setHistory(history: HistoryEntry[]): Promise<void> {
    return this.#async(() => void this.#casPut("put history", KEYS.history, encodeHistory(history)));
  }

  writeFailsafe(value: Record<string, string>): Promise<void> {
    return this.#async(() => void this.#casPut("put failsafe", KEYS.failsafe, encodeFailsafe(value)));
  }

  setFailover(value: Record<string, unknown>, modRevision?: string): Promise<boolean> {
    return this.#async(() => this.#casPut("put failover", KEYS.failover, encodeJson(value), modRevision));
  }

  writeSync(
    leader: string,
    standbys: string[],
    quorum: number,
    modRevision: string | null,
  ): Promise<boolean> {
    return this.#async(() =>
      this.#casPut("put sync", KEYS.sync, encodeSync(leader, standbys, quorum), modRevision ?? "0")
    );
  }

  deleteSync(modRevision: string): Promise<boolean> {
    const key = this.#prefix + KEYS.sync;
    return this.#async(() =>
      this.#call(
        "delete sync",
        () =>
          this.#etcd.txn(this.#name, [{ key, target: "mod", equals: modRevision }], [{ delete: { key } }]),
      )
    );
  }

  #ensureWatch(): void {
    if (this.#closed || this.#unwatch || this.#etcd.isPartitioned(this.#name)) return;
    const from = this.#lastRevision !== null ? this.#lastRevision + 1 : this.#etcd.revision + 1;
    let broken = false;
    // The store's watch is established at once and replays from `from` before it returns.
    this.#cache.streamEstablished(String(from));
    const unwatch = this.#etcd.watch(this.#name, from, (e) => this.#onEvent(e), () => {
      broken = true;
      if (this.#unwatch === unwatch) this.#unwatch = null;
      this.#cache.streamLost();
      this.#pending = true;
    });
    if (!broken) this.#unwatch = unwatch;
  }

  #onEvent(e: MemoryEvent): void {
    if (!e.kv.key.startsWith(this.#prefix)) return;
    this.#cache.apply(e.kv, e.deleted);
    if (this.#lastRevision === null || e.revision > this.#lastRevision) this.#lastRevision = e.revision;
    const rel = e.kv.key.slice(this.#prefix.length);
    if (rel === KEYS.leader) {
      const value = e.deleted ? null : e.kv.value;
      if (value === this.#knownLeader) return;
      this.#knownLeader = value;
      this.#pending = true;
    } else if (rel === KEYS.config || rel === KEYS.failover || rel === KEYS.sync) {
      this.#pending = true;
    } else if ((rel === KEYS.status || rel === KEYS.legacyOptime) && !e.deleted) {
      if (this.#knownLeader !== this.#name) this.#pending = true;
    }
  }

  /** Never sleeps (virtual time): true when a relevant change happened since the last call, else false at once. */
  waitForChange(_timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    this.#ensureWatch();
    if (signal?.aborted) return Promise.resolve(false);
    const woke = this.#pending && !this.#closed;
    this.#pending = false;
    return Promise.resolve(woke);
  }

  close(opts: { keepLease?: boolean } = {}): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const lease = opts.keepLease ? null : this.#lease;
    this.#lease = null;
    try {
      if (lease) this.#etcd.revoke(this.#name, lease.id);
    } catch {
      // Partitioned: the lease expires on its own.
    }
    this.#closed = true;
    this.#unwatch?.();
    this.#unwatch = null;
    this.#cache.streamLost();
    this.#cache.forget();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
