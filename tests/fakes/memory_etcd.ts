/**
 * The shared in-memory etcd store of the simulator and the fakes: keys with create/mod revisions, a global revision
 * counter, leases whose expiry follows a virtual clock, an event log for watches, and per-member partitions. One
 * member's `Dcs` on top of it is `MemoryDcs` (memory_dcs.ts).
 *
 * Time never passes by itself: the store reads the clock it is given.
 *
 * Imports the `DcsError` of src/core/ports.ts and the codec's raw key type only.
 *
 * @module
 */
import { DcsError } from "../../src/core/ports.ts";
import type { RawKv } from "../../src/dcs/codec.ts";

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
  /** Events held back while the client's watch lags (`delayWatch`), delivered in order once it no longer does. */
  held: MemoryEvent[];
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
  /** Until when (virtual ms) each client's watches deliver late (`delayWatch`). */
  readonly #watchLagUntil = new Map<string, number>();

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
    this.#deliverHeld();
  }

  /**
   * The watches of `client` deliver nothing until `untilMs` (virtual time), then every event held back, in order,
   * at the first store operation after it: a watch that lags behind the store (a slow etcd member, a busy stream).
   */
  delayWatch(client: string, untilMs: number): void {
    this.#watchLagUntil.set(client, Math.max(untilMs, this.#watchLagUntil.get(client) ?? 0));
  }

  #lagging(client: string): boolean {
    return (this.#watchLagUntil.get(client) ?? 0) > this.now();
  }

  #deliverHeld(): void {
    for (const w of [...this.#watches]) {
      if (w.held.length === 0 || this.#lagging(w.client)) continue;
      for (const e of w.held.splice(0)) if (this.#watches.has(w)) w.onEvent(e);
    }
  }

  /** The keys under `prefix` as the store holds them now, whoever asks (the simulator's invariants only). */
  snapshot(prefix: string): RawKv[] {
    return [...this.#kv.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, kv]) => this.#raw(key, kv));
  }

  /** Expire a lease now (its keys disappear), as if its TTL had run out. */
  expireLease(id: string): void {
    if (this.#leases.has(id)) this.#dropLease(id);
  }

  /** When the live lease `id` expires (virtual ms) and its TTL as granted, or null when it does not exist. */
  leaseInfo(id: string): { ttl: number; expiresAt: number } | null {
    const lease = this.#leases.get(id);
    return lease ? { ttl: lease.ttl, expiresAt: lease.expiresAt } : null;
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
    for (const w of [...this.#watches]) {
      if (w.held.length > 0 || this.#lagging(w.client)) w.held.push(event);
      else w.onEvent(event);
    }
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
    return { kvs: this.snapshot(prefix), revision: String(this.#revision) };
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
    const w: Watch = { client, onEvent, onBroken, held: [] };
    const replay = this.#log.filter((e) => e.revision >= fromRevision);
    if (this.#lagging(client)) w.held.push(...replay);
    else for (const e of replay) onEvent(e);
    this.#watches.add(w);
    return () => this.#watches.delete(w);
  }
}
