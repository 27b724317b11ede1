/**
 * An honest in-memory etcd for the simulator. `MemoryEtcd` is the shared store: keys with create/mod revisions, a
 * global revision counter, leases whose expiry follows a virtual clock, an event log for watches, and per-member
 * partitions. `MemoryDcs` is one member's `Dcs` on top of it, with the same rules as `src/dcs/etcd.ts`: the same
 * transactions and CAS conditions, the same change detection for `touchMember`/`writeStatus`, the same watch
 * filter; and decoding through the same `decodeCluster`. The contract suite in
 * `tests/integration/dcs_contract_test.ts` runs against both.
 *
 * Time never passes by itself: `waitForChange` answers at once (true when a relevant change is pending).
 *
 * @module
 */
import { DcsError } from "../../src/core/ports.ts";
import type { Dcs } from "../../src/core/ports.ts";
import type { ClusterView, HistoryEntry, MemberRecord } from "../../src/core/types.ts";
import {
  clusterPrefix,
  decodeCluster,
  encodeHistory,
  encodeJson,
  encodeStatus,
  KEYS,
  memberKey,
  type RawKv,
} from "../../src/dcs/codec.ts";

/** One entry of the store's event log. */
export interface MemoryEvent {
  kv: RawKv;
  deleted: boolean;
  revision: number;
}

/** A transaction condition: `create`/`mod` compare revisions, `value` compares the value (key absent != any). */
export interface Compare {
  key: string;
  target: "create" | "mod" | "value";
  equals: string;
}

/** A transaction operation. */
export type TxnOp = { put: { key: string; value: string; lease?: string } } | { delete: { key: string } };

interface StoredKv {
  value: string;
  createRevision: number;
  modRevision: number;
  lease: string;
}

interface Watch {
  client: string;
  onEvent: (e: MemoryEvent) => void;
  onBroken: () => void;
}

/** Thrown (wrapped in a DcsError) when a put names a lease that does not exist, as etcd does. */
export class LeaseNotFoundError extends Error {
  constructor(id: string) {
    super(`etcdserver: requested lease not found (${id})`);
    this.name = "EtcdLeaseInvalidError";
  }
}

/** The shared in-memory store. Every operation names the calling client so partitions can refuse it. */
export class MemoryEtcd {
  readonly #now: (() => number) | null;
  #clock = 0;
  #revision = 1;
  #nextLease = 0x7a4b_0000;
  readonly #kv = new Map<string, StoredKv>();
  readonly #leases = new Map<string, { ttl: number; expiresAt: number; keys: Set<string> }>();
  readonly #partitioned = new Set<string>();
  readonly #log: MemoryEvent[] = [];
  readonly #watches = new Set<Watch>();

  /** `now` is the virtual clock in ms; without it the store keeps its own, moved by `advance(ms)`. */
  constructor(opts: { now?: () => number } = {}) {
    this.#now = opts.now ?? null;
  }

  /** The current virtual time in ms. */
  now(): number {
    return this.#now ? this.#now() : this.#clock;
  }

  /** The global revision (the revision of the last write). */
  get revision(): number {
    return this.#revision;
  }

  /**
   * Apply lease expiry at the current time. With the store's own clock, first move it forward by `ms`;
   * with an external clock, move that clock instead and call `advance()` with no argument.
   */
  advance(ms = 0): void {
    if (ms !== 0) {
      if (this.#now) {
        throw new Error("MemoryEtcd.advance(ms): the clock is external; move it and call advance()");
      }
      this.#clock += ms;
    }
    const now = this.now();
    for (const [id, lease] of this.#leases) if (lease.expiresAt <= now) this.#dropLease(id);
  }

  /** Expire a lease now (its keys disappear), as if its TTL had run out. */
  expireLease(id: string): void {
    if (this.#leases.has(id)) this.#dropLease(id);
  }

  /**
   * When the lease that holds `key` expires (virtual ms), as the store sees it now; null when the key is absent or
   * holds no lease. Read by the simulator's invariants, never by a member.
   */
  leaseExpiryOf(key: string): number | null {
    this.advance();
    const kv = this.#kv.get(key);
    if (!kv || kv.lease === "0") return null;
    return this.#leases.get(kv.lease)?.expiresAt ?? null;
  }

  /** The TTL (s) of the lease that holds `key`, or null (absent key, or no lease). Read by the invariants only. */
  leaseTtlOf(key: string): number | null {
    this.advance();
    const kv = this.#kv.get(key);
    if (!kv || kv.lease === "0") return null;
    return this.#leases.get(kv.lease)?.ttl ?? null;
  }

  /** Ids of the live leases. */
  leases(): string[] {
    this.advance();
    return [...this.#leases.keys()];
  }

  /** Cut (`true`) or heal (`false`) the link between client `name` and the store. Its watches break. */
  partition(name: string, cut: boolean): void {
    if (!cut) {
      this.#partitioned.delete(name);
      return;
    }
    this.#partitioned.add(name);
    for (const w of [...this.#watches]) {
      if (w.client !== name) continue;
      this.#watches.delete(w);
      w.onBroken();
    }
  }

  isPartitioned(name: string): boolean {
    return this.#partitioned.has(name);
  }

  #enter(client: string, what: string): void {
    if (this.#partitioned.has(client)) {
      throw new DcsError(`etcd ${what}: no answer (member ${client} is partitioned)`);
    }
    this.advance();
  }

  #raw(key: string, kv: StoredKv): RawKv {
    return {
      key,
      value: kv.value,
      createRevision: String(kv.createRevision),
      modRevision: String(kv.modRevision),
      lease: kv.lease,
    };
  }

  #emit(event: MemoryEvent): void {
    this.#log.push(event);
    for (const w of [...this.#watches]) w.onEvent(event);
  }

  #applyPut(key: string, value: string, lease: string | undefined, revision: number): void {
    const id = lease && lease !== "0" ? lease : "0";
    const old = this.#kv.get(key);
    if (old && old.lease !== "0") this.#leases.get(old.lease)?.keys.delete(key);
    const kv: StoredKv = {
      value,
      createRevision: old ? old.createRevision : revision,
      modRevision: revision,
      lease: id,
    };
    this.#kv.set(key, kv);
    if (id !== "0") this.#leases.get(id)!.keys.add(key);
    this.#emit({ kv: this.#raw(key, kv), deleted: false, revision });
  }

  #applyDelete(key: string, revision: number): boolean {
    const old = this.#kv.get(key);
    if (!old) return false;
    this.#kv.delete(key);
    if (old.lease !== "0") this.#leases.get(old.lease)?.keys.delete(key);
    this.#emit({
      kv: { ...this.#raw(key, old), value: "", modRevision: String(revision) },
      deleted: true,
      revision,
    });
    return true;
  }

  #dropLease(id: string): void {
    const lease = this.#leases.get(id)!;
    this.#leases.delete(id);
    if (lease.keys.size === 0) return;
    const revision = ++this.#revision;
    for (const key of [...lease.keys].sort()) this.#applyDelete(key, revision);
  }

  #checkLease(lease: string | undefined): void {
    if (lease && lease !== "0" && !this.#leases.has(lease)) throw new LeaseNotFoundError(lease);
  }

  /** All keys starting with `prefix`, sorted, and the store revision. */
  range(client: string, prefix: string): { kvs: RawKv[]; revision: string } {
    this.#enter(client, "range");
    const kvs = [...this.#kv.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, kv]) => this.#raw(key, kv));
    return { kvs, revision: String(this.#revision) };
  }

  get(client: string, key: string): RawKv | null {
    this.#enter(client, "range");
    const kv = this.#kv.get(key);
    return kv ? this.#raw(key, kv) : null;
  }

  put(client: string, key: string, value: string, lease?: string): void {
    this.#enter(client, "put");
    this.#checkLease(lease);
    this.#applyPut(key, value, lease, ++this.#revision);
  }

  delete(client: string, key: string): void {
    this.#enter(client, "delete");
    if (this.#kv.has(key)) this.#applyDelete(key, ++this.#revision);
  }

  /** All compares must hold; then every op runs at one new revision. */
  txn(client: string, compares: Compare[], ops: TxnOp[]): boolean {
    this.#enter(client, "txn");
    const holds = compares.every((c) => {
      const kv = this.#kv.get(c.key);
      if (c.target === "create") return String(kv ? kv.createRevision : 0) === c.equals;
      if (c.target === "mod") return String(kv ? kv.modRevision : 0) === c.equals;
      return kv !== undefined && kv.value === c.equals;
    });
    if (!holds) return false;
    for (const op of ops) if ("put" in op) this.#checkLease(op.put.lease);
    if (ops.length === 0) return true;
    const revision = ++this.#revision;
    for (const op of ops) {
      if ("put" in op) this.#applyPut(op.put.key, op.put.value, op.put.lease, revision);
      else this.#applyDelete(op.delete.key, revision);
    }
    return true;
  }

  grant(client: string, ttl: number): string {
    this.#enter(client, "lease grant");
    const id = String(++this.#nextLease);
    this.#leases.set(id, { ttl, expiresAt: this.now() + ttl * 1000, keys: new Set() });
    return id;
  }

  /** Renew a lease; returns its TTL, or 0 when it no longer exists. */
  keepAlive(client: string, id: string): number {
    this.#enter(client, "lease keepalive");
    const lease = this.#leases.get(id);
    if (!lease) return 0;
    lease.expiresAt = this.now() + lease.ttl * 1000;
    return lease.ttl;
  }

  revoke(client: string, id: string): void {
    this.#enter(client, "lease revoke");
    if (this.#leases.has(id)) this.#dropLease(id);
  }

  /** Watch every key: replays logged events from `fromRevision`, then live ones, until `cancel` or a partition. */
  watch(
    client: string,
    fromRevision: number,
    onEvent: (e: MemoryEvent) => void,
    onBroken: () => void,
  ): () => void {
    this.#enter(client, "watch");
    for (const e of this.#log) if (e.revision >= fromRevision) onEvent(e);
    const w: Watch = { client, onEvent, onBroken };
    this.#watches.add(w);
    return () => this.#watches.delete(w);
  }
}

/** One member's `Dcs` on a `MemoryEtcd`; same rules as `EtcdDcs` (src/dcs/etcd.ts). */
export class MemoryDcs implements Dcs {
  readonly #etcd: MemoryEtcd;
  readonly #prefix: string;
  readonly #name: string;
  #ttl: number;
  #lease: { id: string; ttl: number } | null = null;
  #memberCache: { json: string; lease: string } | null = null;
  #lastStatus: string | null = null;
  #knownLeader: string | null | undefined = undefined;
  #lastRevision: number | null = null;
  #unwatch: (() => void) | null = null;
  #pending = false;
  #closed = false;

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
      return fn();
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
    return this.#async(() => {
      const { kvs, revision } = this.#call("range", () => this.#etcd.range(this.#name, this.#prefix));
      const view = decodeCluster(kvs, this.#prefix, revision);
      this.#lastRevision = Number(revision);
      const mine = kvs.find((kv) => kv.key === this.#prefix + memberKey(this.#name));
      this.#memberCache = mine ? { json: mine.value, lease: mine.lease } : null;
      this.#lastStatus = kvs.find((kv) => kv.key === this.#prefix + KEYS.status)?.value ?? null;
      this.#knownLeader = view.leader?.name ?? null;
      return view;
    });
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
    this.#lease = { id, ttl };
    return id;
  }

  #refresh(ttl: number): boolean {
    this.#ttl = ttl;
    this.#ensureWatch();
    if (this.#lease === null || this.#lease.ttl !== ttl) {
      this.#grant(ttl);
      return true;
    }
    const id = this.#lease.id;
    if (this.#call("lease keepalive", () => this.#etcd.keepAlive(this.#name, id)) > 0) return true;
    this.#lease = null;
    this.#memberCache = null;
    this.#grant(ttl);
    return false;
  }

  refreshLease(ttl: number): Promise<boolean> {
    return this.#async(() => this.#refresh(ttl));
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

  attemptToAcquireLeader(): Promise<boolean> {
    return this.#async(() => {
      const key = this.#prefix + KEYS.leader;
      const won = this.#withLease((lease) =>
        this.#call(
          "txn acquire leader",
          () =>
            this.#etcd.txn(this.#name, [{ key, target: "create", equals: "0" }], [{
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

  writeStatus(optime: number, slots?: Record<string, number>): Promise<void> {
    return this.#async(() => {
      const value = encodeStatus(optime, slots);
      if (value === this.#lastStatus) return;
      this.#casPut("put status", KEYS.status, value);
      this.#lastStatus = value;
    });
  }

  setHistory(history: HistoryEntry[]): Promise<void> {
    return this.#async(() => void this.#casPut("put history", KEYS.history, encodeHistory(history)));
  }

  setFailover(value: Record<string, unknown>, modRevision?: string): Promise<boolean> {
    return this.#async(() => this.#casPut("put failover", KEYS.failover, encodeJson(value), modRevision));
  }

  #ensureWatch(): void {
    if (this.#closed || this.#unwatch || this.#etcd.isPartitioned(this.#name)) return;
    const from = this.#lastRevision !== null ? this.#lastRevision + 1 : this.#etcd.revision + 1;
    let broken = false;
    const unwatch = this.#etcd.watch(this.#name, from, (e) => this.#onEvent(e), () => {
      broken = true;
      if (this.#unwatch === unwatch) this.#unwatch = null;
      this.#pending = true;
    });
    if (!broken) this.#unwatch = unwatch;
  }

  #onEvent(e: MemoryEvent): void {
    if (!e.kv.key.startsWith(this.#prefix)) return;
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
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
