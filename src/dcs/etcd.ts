/**
 * The etcd v3 adapter: implements the `Dcs` port for one member of one cluster over `npm:etcd3` (gRPC).
 *
 * Owns: the `initialize`/`config`/`failover` CAS writes, the member and status writes with change detection, and
 * the composition of its parts: the endpoints with their deadlines (`etcd_endpoints.ts`), the member's single
 * lease, renewed only by the HA loop (`etcd_lease.ts`), the leader-key transactions (`etcd_leader.ts`), the
 * cluster read and the prefix watch that wakes the loop (`etcd_cluster.ts`), the client options with TLS
 * (`etcd_options.ts`). Keys and values are Patroni's (see `codec.ts`).
 *
 * Every call is bounded by a deadline of `retryTimeout` seconds (a gRPC deadline plus a timer race); failures
 * become `DcsError` with the original error as `cause`. Creating the object grants nothing and writes nothing,
 * so `hactl list` can use `createEtcdDcs(...).loadCluster()` read-only.
 *
 * May import: `etcd3`, `src/core/` (ports, types), `src/config/` (types), the other `src/dcs/` files.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { Etcd3 } from "etcd3";
import type { Etcd3Config } from "../config/config.ts";
import type { Dcs } from "../core/ports.ts";
import type { ClusterView, HeldLease, HistoryEntry, MemberRecord } from "../core/types.ts";
import type { WatchViewFacts } from "../core/watch_view.ts";
import type { AcquireGuard } from "../core/acquire_guard.ts";
import {
  clusterPrefix,
  clusterPrefixProblem,
  decodeCluster,
  encodeFailsafe,
  encodeHistory,
  encodeJson,
  encodeStatus,
  encodeSync,
  KEYS,
  memberKey,
  type RawKv,
} from "./codec.ts";
import { ClusterWatch, rangeCluster } from "./etcd_cluster.ts";
import { type CallOpts, EtcdEndpoints } from "./etcd_endpoints.ts";
import { b, rangeEnd } from "./etcd_kv.ts";
import { LeaderKey } from "./etcd_leader.ts";
import { EtcdLease } from "./etcd_lease.ts";
import { clientOptions } from "./etcd_options.ts";
import { secondsToMs } from "../core/settings.ts";

export { decodeCluster } from "./codec.ts";

/** Options of `createEtcdDcs`. `retryTimeout` and `ttl` are in seconds, as in Patroni's configuration. */
export interface EtcdDcsOptions {
  etcd: Etcd3Config;
  /** e.g. `/service/`. */
  namespace: string;
  scope: string;
  /** This member's name. */
  name: string;
  retryTimeout: number;
  ttl: number;
}

/** The real `Dcs` over etcd v3. Construct it with `createEtcdDcs`. */
export class EtcdDcs implements Dcs {
  readonly #endpoints: EtcdEndpoints;
  readonly #prefix: string;
  readonly #name: string;
  readonly #lease: EtcdLease;
  readonly #leader: LeaderKey;
  readonly #watch: ClusterWatch;
  /** Raw JSON and lease of `members/<name>` as last written by us or last read from etcd. */
  #memberCache: { json: string; lease: string } | null = null;
  /** Raw `status` value as last written by us or last read from etcd. */
  #lastStatus: string | null = null;
  /** The lease the last `refreshLease` renewed, until the next `loadCluster`. */
  #renewed: string | null = null;
  /** The lease that `loadCluster` found our leader key on, right after renewing it (`lockReadSinceRenewal`). */
  #lockReadOn: string | null = null;

  constructor(client: Etcd3 | Etcd3[], opts: EtcdDcsOptions) {
    this.#endpoints = new EtcdEndpoints(Array.isArray(client) ? client : [client], opts.retryTimeout, () => {
      this.#memberCache = null;
      this.#lastStatus = null;
    });
    this.#prefix = clusterPrefix(opts.namespace, opts.scope);
    this.#name = opts.name;
    this.#lease = new EtcdLease(this.#endpoints, opts.ttl);
    this.#leader = new LeaderKey(this.#endpoints, this.#prefix, this.#name);
    this.#watch = new ClusterWatch(this.#endpoints, this.#prefix, this.#name);
  }

  /** The cluster prefix, e.g. `/service/pg/`. */
  get prefix(): string {
    return this.#prefix;
  }

  /** The highest cluster revision this member has seen through a load or its watch (diagnostics, tests). */
  get seenRevision(): string | null {
    return this.#watch.lastRevision;
  }

  /** The current lease id ("0" when none has been granted). */
  get leaseId(): string {
    return this.#lease.held?.id ?? "0";
  }

  #key(rel: string): Buffer {
    return b(this.#prefix + rel);
  }

  #call<T>(what: string, fn: (opts: CallOpts) => Promise<T>): Promise<T> {
    return this.#endpoints.call(what, fn);
  }

  setRetryTimeout(seconds: number): void {
    this.#endpoints.setRetryTimeout(seconds);
  }

  /** Be told of every etcd call's duration in seconds (retries included) and outcome, by operation name. */
  observeCalls(observer: (op: string, seconds: number, ok: boolean) => void): void {
    this.#endpoints.onCallDone = observer;
  }

  /**
   * One range over the cluster prefix, decoded, without touching the state the HA loop relies on (caches, the
   * watch's idea of the current leader). For readers beside the loop: the REST API's `/cluster`, `hactl list`.
   */
  async readCluster(): Promise<ClusterView> {
    return (await rangeCluster(this.#endpoints, this.#prefix)).view;
  }

  async loadCluster(): Promise<ClusterView> {
    const renewed = this.#renewed;
    this.#renewed = null;
    this.#lockReadOn = null;
    const { view, kvs } = await rangeCluster(this.#endpoints, this.#prefix);
    this.#watch.cache.loaded(kvs, view.revision);
    return this.#adopt(view, kvs, renewed);
  }

  watchViewFacts(): WatchViewFacts {
    return {
      renewalRevision: this.#lease.renewalRevision,
      viewRevision: this.#watch.cache.completeAt,
      highestSeen: this.#endpoints.highestRevision,
    };
  }

  watchView(): ClusterView {
    const at = this.#watch.cache.completeAt;
    const kvs = this.#watch.cache.kvs();
    if (at === null || kvs === null) {
      throw new Error("watchView: the watch holds no complete copy of the prefix");
    }
    const renewed = this.#renewed;
    this.#renewed = null;
    return this.#adopt(decodeCluster(kvs, this.#prefix, at), kvs, renewed);
  }

  /** What a cycle's view of the prefix tells the adapter's caches (from a range or from the watch's copy). */
  #adopt(view: ClusterView, kvs: RawKv[], renewed: string | null): ClusterView {
    const ours = view.leader !== null && view.leader.name === this.#name;
    this.#lockReadOn = renewed !== null && ours && view.leader?.lease === renewed ? renewed : null;
    this.#watch.lastRevision = view.revision;
    const mine = kvs.find((kv) => kv.key === this.#prefix + memberKey(this.#name));
    this.#memberCache = mine ? { json: mine.value, lease: mine.lease } : null;
    this.#lastStatus = kvs.find((kv) => kv.key === this.#prefix + KEYS.status)?.value ?? null;
    this.#watch.knownLeader = view.leader?.name ?? null;
    return view;
  }

  async refreshLease(ttl: number): Promise<boolean> {
    this.#lease.ttl = ttl;
    this.#renewed = null;
    this.#lockReadOn = null;
    this.#watch.ensure();
    const kept = await this.#lease.refresh(() => {
      this.#memberCache = null;
    });
    this.#renewed = this.#lease.held?.id ?? null;
    return kept;
  }

  lockReadSinceRenewal(): boolean {
    const on = this.#lockReadOn;
    this.#lockReadOn = null;
    return on !== null && on === this.#lease.held?.id && this.#watch.knownLeader === this.#name;
  }

  heldLease(): HeldLease | null {
    const held = this.#lease.held;
    return held ? { requestedTtl: held.requestedTtl, ttl: held.ttl } : null;
  }

  async moveLease(ttl: number, leader: boolean): Promise<boolean> {
    this.#lease.ttl = ttl;
    const old = this.#lease.held;
    const member = this.#memberCache;
    const memberKeyBuf = this.#key(memberKey(this.#name));
    if (!leader) {
      const id = await this.#lease.grant(ttl);
      if (member) {
        await this.#call(
          "put member",
          (o) => this.#endpoints.client.kv.put({ key: memberKeyBuf, value: b(member.json), lease: id }, o),
        );
        this.#memberCache = { json: member.json, lease: id };
      }
      return true;
    }
    const kv = await this.#leader.read();
    this.#watch.knownLeader = kv ? kv.value : null;
    if (kv === null || kv.value !== this.#name) return false;
    // Held from here on: should the move be applied without an answer, the next renewal finds the key on it.
    const id = await this.#lease.grant(ttl);
    const extra = member ? [{ key: memberKeyBuf, value: b(member.json) }] : [];
    if (!await this.#leader.moveTerm(id, kv.createRevision, extra)) {
      this.#lease.restore(old);
      await this.#tryRevoke(id);
      return false;
    }
    if (member) this.#memberCache = { json: member.json, lease: id };
    if (old) await this.#tryRevoke(old.id);
    return true;
  }

  dropLease(): void {
    this.#lease.forget();
    this.#memberCache = null;
  }

  /** Revoke a lease that holds nothing of ours any more; when etcd does not answer, it expires on its own. */
  async #tryRevoke(id: string): Promise<void> {
    try {
      await this.#lease.revoke(id);
    } catch { /* it expires on its own */ }
  }

  async touchMember(data: MemberRecord): Promise<void> {
    const json = encodeJson(data);
    const lease = await this.#lease.id();
    if (this.#memberCache?.json === json && this.#memberCache.lease === lease) return;
    await this.#lease.withLease(async (lease) => {
      await this.#call(
        "put member",
        (o) =>
          this.#endpoints.client.kv.put({ key: this.#key(memberKey(this.#name)), value: b(json), lease }, o),
      );
      this.#memberCache = { json, lease };
    });
  }

  async attemptToAcquireLeader(guard?: AcquireGuard): Promise<boolean> {
    const won = await this.#lease.withLease((lease) => this.#leader.acquire(lease, guard));
    if (won) this.#watch.knownLeader = this.#name;
    return won;
  }

  async updateLeader(): Promise<boolean> {
    await this.refreshLease(this.#lease.ttl);
    const lease = this.#lease.held!.id;
    const kv = await this.#leader.read();
    this.#watch.knownLeader = kv ? kv.value : null;
    if (kv === null || kv.value !== this.#name) return false;
    if (kv.lease === lease) return true;
    // Our name under a dead lease (it was re-granted): move the key to the live lease, only if nobody touched it.
    return await this.#leader.move(lease, kv.modRevision);
  }

  async deleteLeader(): Promise<boolean> {
    const deleted = await this.#leader.release();
    if (deleted) this.#watch.knownLeader = null;
    return deleted;
  }

  async #put(what: string, rel: string, value: string): Promise<void> {
    await this.#call(what, (o) => this.#endpoints.client.kv.put({ key: this.#key(rel), value: b(value) }, o));
  }

  /** Put `value` at `rel`; with `modRevision`, only if the key's mod revision matches ("0" = must not exist). */
  async #casPut(what: string, rel: string, value: string, modRevision?: string): Promise<boolean> {
    if (modRevision === undefined) {
      await this.#put(what, rel, value);
      return true;
    }
    const key = this.#key(rel);
    const compare = modRevision === "0"
      ? { key, target: "Create" as const, result: "Equal" as const, create_revision: 0 }
      : { key, target: "Mod" as const, result: "Equal" as const, mod_revision: modRevision };
    const res = await this.#call(
      what,
      (o) =>
        this.#endpoints.client.kv.txn(
          { compare: [compare], success: [{ request_put: { key, value: b(value) } }] },
          o,
        ),
    );
    return res.succeeded;
  }

  initialize(createNew: boolean, value: string): Promise<boolean> {
    return this.#casPut("initialize", KEYS.initialize, value, createNew ? "0" : undefined);
  }

  async cancelInitialization(): Promise<void> {
    await this.#call(
      "delete initialize",
      (o) => this.#endpoints.client.kv.deleteRange({ key: this.#key(KEYS.initialize) }, o),
    );
  }

  setConfig(value: Record<string, unknown>, modRevision?: string): Promise<boolean> {
    return this.#casPut("put config", KEYS.config, encodeJson(value), modRevision);
  }

  async writeStatus(optime: number, slots?: Record<string, number>, retainSlots?: string[]): Promise<void> {
    const value = encodeStatus(optime, slots, retainSlots);
    if (value === this.#lastStatus) return;
    await this.#put("put status", KEYS.status, value);
    this.#lastStatus = value;
  }

  async setHistory(history: HistoryEntry[]): Promise<void> {
    await this.#put("put history", KEYS.history, encodeHistory(history));
  }

  async writeFailsafe(value: Record<string, string>): Promise<void> {
    await this.#put("put failsafe", KEYS.failsafe, encodeFailsafe(value));
  }

  setFailover(value: Record<string, unknown>, modRevision?: string): Promise<boolean> {
    return this.#casPut("put failover", KEYS.failover, encodeJson(value), modRevision);
  }

  writeSync(
    leader: string,
    standbys: string[],
    quorum: number,
    modRevision: string | null,
  ): Promise<boolean> {
    return this.#casPut("put sync", KEYS.sync, encodeSync(leader, standbys, quorum), modRevision ?? "0");
  }

  async deleteSync(modRevision: string): Promise<boolean> {
    const key = this.#key(KEYS.sync);
    const res = await this.#call(
      "delete sync",
      (o) =>
        this.#endpoints.client.kv.txn(
          {
            compare: [{ key, target: "Mod" as const, result: "Equal" as const, mod_revision: modRevision }],
            success: [{ request_delete_range: { key } }],
          },
          o,
        ),
    );
    return res.succeeded;
  }

  /** Delete every key under the cluster prefix (`hactl remove`); returns how many keys were deleted. */
  async deleteCluster(): Promise<number> {
    const problem = clusterPrefixProblem(this.#prefix);
    if (problem) throw new Error(problem);
    const prefix = b(this.#prefix);
    const res = await this.#call(
      "delete cluster",
      (o) => this.#endpoints.client.kv.deleteRange({ key: prefix, range_end: rangeEnd(prefix) }, o),
    );
    return Number(res.deleted);
  }

  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.#watch.waitForChange(timeoutMs, signal);
  }

  async close(opts: { keepLease?: boolean } = {}): Promise<void> {
    if (this.#endpoints.closed) return;
    const held = this.#lease.forget();
    const lease = opts.keepLease ? null : held;
    try {
      if (lease) await this.#lease.revoke(lease.id);
    } catch {
      // The lease expires on its own within ttl; closing must not fail because etcd is unreachable.
    } finally {
      this.#endpoints.markClosed();
      this.#watch.close();
      this.#endpoints.closeClients();
    }
  }

  /** `await using dcs = createEtcdDcs(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Create the etcd adapter. Connects lazily: no lease, watch or write until a method needs one. */
export function createEtcdDcs(opts: EtcdDcsOptions): EtcdDcs {
  const timeoutMs = secondsToMs(Math.max(1, opts.retryTimeout));
  // One client per endpoint (rather than the library's random pick per call), so a call that one member leaves
  // hanging moves on to the next member, and the calls after it stay there.
  const hosts = opts.etcd.hosts.length > 0 ? opts.etcd.hosts : [""];
  return new EtcdDcs(
    hosts.map((h) => new Etcd3(clientOptions({ ...opts.etcd, hosts: [h] }, timeoutMs))),
    opts,
  );
}
