/**
 * The etcd v3 adapter: implements the `Dcs` port for one member of one cluster over `npm:etcd3` (gRPC).
 *
 * Owns: the member's single lease (granted on the first `refreshLease`/write, renewed only by the HA loop, never by
 * a library timer), the leader-key transactions (acquire by `create_revision == 0`, keep by a CAS against etcd
 * itself, release by value CAS), the `initialize`/`config`/`failover` CAS writes, the member and status writes
 * with change detection, and one lazily opened watch over the cluster prefix that wakes the loop.
 * Keys and values are Patroni's (see `dcs_codec.ts`).
 *
 * Every call is bounded by a deadline of `retryTimeout` seconds (a gRPC deadline plus a timer race); failures
 * become `DcsError` with the original error as `cause`. Creating the object grants nothing and writes nothing,
 * so `hactl list` can use `createEtcdDcs(...).loadCluster()` read-only.
 *
 * TLS (`protocol: https`, `cacert`, `cert`/`key` client certificates) goes through grpc-js over Deno's `node:tls`;
 * see `allowIpEndpointsOverTls` for the one runtime difference this module papers over.
 *
 * Imports: `etcd3`, `node:tls`, `node:net`, `ports.ts`, `types.ts`, `dcs_codec.ts`, `config.ts` (types only).
 * Never imports `ha.ts`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import tls from "node:tls";
import {
  castGrpcError,
  Etcd3,
  type IDuplexStream,
  type IKeyValue,
  type IOptions,
  isRecoverableError,
  type IWatchRequest,
  type IWatchResponse,
} from "etcd3";
import type { Etcd3Config } from "../config/config.ts";
import { DcsError } from "../core/ports.ts";
import type { Dcs } from "../core/ports.ts";
import type { ClusterView, HistoryEntry, MemberRecord } from "../core/types.ts";
import {
  clusterPrefix,
  clusterPrefixProblem,
  decodeCluster,
  encodeHistory,
  encodeJson,
  encodeStatus,
  KEYS,
  memberKey,
  type RawKv,
} from "./codec.ts";

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

type CallOpts = { deadline: Date };
type WatchState = { stream: IDuplexStream<IWatchRequest, IWatchResponse> | null; created: boolean };

const b = (s: string) => Buffer.from(s, "utf8");

/** The end of a prefix range: the prefix with its last byte incremented. */
function rangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  return end;
}

function rawKv(kv: IKeyValue): RawKv {
  return {
    key: kv.key.toString("utf8"),
    value: kv.value.toString("utf8"),
    createRevision: String(kv.create_revision),
    modRevision: String(kv.mod_revision),
    lease: String(kv.lease || "0"),
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

function isLeaseNotFound(err: unknown): boolean {
  return err instanceof Error &&
    (err.name === "EtcdLeaseInvalidError" || /lease not found/.test(err.message));
}

const IP_SERVERNAME_SHIM = Symbol.for("hactl.tls.ipServernameShim");

/**
 * grpc-js always passes the endpoint's host as the TLS `servername`. For an IP literal (`hosts: 10.0.0.5:2379`,
 * the usual etcd configuration) Deno's `node:tls.connect` throws `ERR_INVALID_ARG_VALUE` (RFC 6066 forbids an IP
 * as SNI) where Node only warns, so no TLS connection to an etcd named by its IP address could be made at all.
 * This wraps `tls.connect` once per process to leave such a `servername` out; the server certificate is then
 * still verified against the IP (`checkServerIdentity(host)`, IP subjectAltNames), exactly as Node does when no
 * servername is given. DNS names are passed through untouched. Installed only when TLS is configured.
 */
function allowIpEndpointsOverTls(): void {
  type Connect = (...args: unknown[]) => tls.TLSSocket;
  const mod = tls as unknown as { connect: Connect & { [IP_SERVERNAME_SHIM]?: true } };
  if (mod.connect[IP_SERVERNAME_SHIM]) return;
  const original = mod.connect;
  const connect = (...args: unknown[]): tls.TLSSocket => {
    const [first, ...rest] = args;
    if (typeof first === "object" && first !== null && "servername" in first) {
      const { servername, ...others } = first as { servername?: unknown };
      if (typeof servername === "string" && isIP(servername) !== 0) return original(others, ...rest);
    }
    return original(...args);
  };
  mod.connect = Object.assign(connect, { [IP_SERVERNAME_SHIM]: true as const });
}

/** Build the `npm:etcd3` client options from the YAML `etcd3` section (reads TLS files once, here). */
function clientOptions(etcd: Etcd3Config, timeoutMs: number): IOptions {
  if (
    etcd.protocol === "https" || etcd.cacert !== undefined || etcd.cert !== undefined ||
    etcd.hosts.some((h) => h.startsWith("https://"))
  ) {
    allowIpEndpointsOverTls();
  }
  const options: IOptions = {
    hosts: etcd.hosts,
    dialTimeout: timeoutMs,
    // Non-stream calls get a deadline even if a caller forgot one; streams are bounded by their callers.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  };
  if (etcd.username !== undefined) {
    options.auth = {
      username: etcd.username,
      password: etcd.password ?? "",
      callOptions: () => ({ deadline: Date.now() + timeoutMs }),
    };
  }
  if (etcd.cacert !== undefined || etcd.cert !== undefined) {
    const read = (what: string, path: string) => {
      try {
        return Buffer.from(Deno.readFileSync(path));
      } catch (err) {
        throw new DcsError(`etcd3.${what}: cannot read ${path}: ${describe(err)}`, { cause: err });
      }
    };
    options.credentials = {
      // Without `cacert`, grpc-js's createSsl() falls back to the system roots when given no root certificate.
      rootCertificate: etcd.cacert !== undefined
        ? read("cacert", etcd.cacert)
        : (undefined as unknown as Buffer),
      ...(etcd.cert !== undefined ? { certChain: read("cert", etcd.cert) } : {}),
      ...(etcd.key !== undefined ? { privateKey: read("key", etcd.key) } : {}),
    };
  }
  return options;
}

/** The real `Dcs` over etcd v3. Construct it with `createEtcdDcs`. */
export class EtcdDcs implements Dcs {
  /** One client per endpoint; calls go to `#current` and move on to the next endpoint when it fails them. */
  readonly #clients: Etcd3[];
  #current = 0;
  readonly #prefix: string;
  readonly #name: string;
  #timeoutMs: number;
  #ttl: number;
  #lease: { id: string; ttl: number } | null = null;
  /** Raw JSON and lease of `members/<name>` as last written by us or last read from etcd. */
  #memberCache: { json: string; lease: string } | null = null;
  /** Raw `status` value as last written by us or last read from etcd. */
  #lastStatus: string | null = null;
  /** The leader key's value as last seen (load, watch or our own transaction); undefined = unknown. */
  #knownLeader: string | null | undefined = undefined;
  #lastRevision: string | null = null;
  #watch: WatchState | null = null;
  #pending = false;
  #wake: (() => void) | null = null;
  #closed = false;

  constructor(client: Etcd3 | Etcd3[], opts: EtcdDcsOptions) {
    this.#clients = Array.isArray(client) ? client : [client];
    if (this.#clients.length === 0) throw new DcsError("etcd3.hosts: no endpoint given");
    this.#prefix = clusterPrefix(opts.namespace, opts.scope);
    this.#name = opts.name;
    this.#timeoutMs = Math.max(1, opts.retryTimeout) * 1000;
    this.#ttl = opts.ttl;
  }

  /** The client of the endpoint calls currently go to. */
  get #client(): Etcd3 {
    return this.#clients[this.#current]!;
  }

  /** The cluster prefix, e.g. `/service/pg/`. */
  get prefix(): string {
    return this.#prefix;
  }

  /** The highest cluster revision this member has seen through a load or its watch (diagnostics, tests). */
  get seenRevision(): string | null {
    return this.#lastRevision;
  }

  /** The current lease id ("0" when none has been granted). */
  get leaseId(): string {
    return this.#lease?.id ?? "0";
  }

  #key(rel: string): Buffer {
    return b(this.#prefix + rel);
  }

  /**
   * Run one etcd operation under the deadline; every failure becomes a `DcsError`.
   *
   * The `retry_timeout` budget is split across the endpoints, as Patroni does: one attempt gets at most
   * `retry_timeout / hosts` (and at least 1 s), and an attempt that timed out or found its endpoint unavailable is
   * tried again on the next endpoint while the budget lasts; later calls stay on the endpoint that answered. Otherwise one etcd member
   * that drops packets (cut off, or rejoining after a partition) would hang a third of the calls for the whole
   * budget and make a healthy leader demote itself although two members answer. A retried write is safe: every
   * write is a CAS or an idempotent put, and a CAS that already went through reads as "not won", which the next
   * cycle corrects from the fresh view.
   */
  async #call<T>(what: string, fn: (opts: CallOpts) => Promise<T>): Promise<T> {
    if (this.#closed) throw new DcsError(`etcd ${what}: the DCS client is closed`);
    const until = Date.now() + this.#timeoutMs;
    const perAttempt = Math.max(1000, Math.floor(this.#timeoutMs / this.#clients.length));
    let lastError: unknown = null;
    try {
      for (;;) {
        const deadline = Math.min(until, Date.now() + perAttempt);
        try {
          return await this.#attempt(what, fn, deadline);
        } catch (err) {
          // A retry the client's circuit breaker refused says nothing new: report the failure that opened it.
          if (!(lastError !== null && isBrokenCircuit(err))) lastError = err;
          if (!retryableDcsFailure(err)) break;
          // This endpoint failed us: later calls (and the watch, when it reopens) go to the next one.
          this.#current = (this.#current + 1) % this.#clients.length;
          if (until - Date.now() < 500) break;
        }
      }
      if (lastError instanceof AttemptTimeout) {
        throw new DcsError(`etcd ${what}: no answer within ${this.#timeoutMs} ms`, { cause: lastError });
      }
      throw lastError;
    } catch (err) {
      // After any failure the caches may lie: the next writes go through.
      this.#memberCache = null;
      this.#lastStatus = null;
      if (err instanceof DcsError) throw err;
      throw new DcsError(`etcd ${what} failed: ${describe(err)}`, { cause: err });
    }
  }

  /** One attempt with its own deadline (a gRPC deadline plus a timer race). */
  async #attempt<T>(what: string, fn: (opts: CallOpts) => Promise<T>, deadline: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AttemptTimeout(what)), Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([fn({ deadline: new Date(deadline) }), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  setRetryTimeout(seconds: number): void {
    this.#timeoutMs = Math.max(1, seconds) * 1000;
  }

  /**
   * One range over the cluster prefix, decoded, without touching the state the HA loop relies on (caches, the
   * watch's idea of the current leader). For readers beside the loop: the REST API's `/cluster`, `hactl list`.
   */
  async readCluster(): Promise<ClusterView> {
    return (await this.#range()).view;
  }

  async #range(): Promise<{ view: ClusterView; kvs: RawKv[] }> {
    const prefix = b(this.#prefix);
    const res = await this.#call(
      "range",
      (o) => this.#client.kv.range({ key: prefix, range_end: rangeEnd(prefix) }, o),
    );
    const kvs = res.kvs.map(rawKv);
    return { view: decodeCluster(kvs, this.#prefix, String(res.header.revision)), kvs };
  }

  async loadCluster(): Promise<ClusterView> {
    const { view, kvs } = await this.#range();
    this.#lastRevision = view.revision;
    const mine = kvs.find((kv) => kv.key === this.#prefix + memberKey(this.#name));
    this.#memberCache = mine ? { json: mine.value, lease: mine.lease } : null;
    this.#lastStatus = kvs.find((kv) => kv.key === this.#prefix + KEYS.status)?.value ?? null;
    this.#knownLeader = view.leader?.name ?? null;
    return view;
  }

  async #grant(ttl: number): Promise<string> {
    const res = await this.#call("lease grant", (o) => this.#client.leaseClient.leaseGrant({ TTL: ttl }, o));
    this.#lease = { id: String(res.ID), ttl };
    return this.#lease.id;
  }

  /**
   * One keepalive round trip on a short-lived stream; returns the remaining TTL (<= 0: lease gone). Streams do not
   * go through the client's retry policy, so an unreachable endpoint is skipped here (the pool rotates hosts and
   * its circuit breaker shuts a failing one) until the deadline.
   */
  #keepAlive(id: string): Promise<number> {
    return this.#call("lease keepalive", async (o) => {
      for (;;) {
        try {
          return await this.#keepAliveOnce(id, o);
        } catch (err) {
          if (!isRecoverableError(err as Error) || Date.now() + 100 > o.deadline.getTime()) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    });
  }

  async #keepAliveOnce(id: string, o: CallOpts): Promise<number> {
    const stream = await this.#client.leaseClient.leaseKeepAlive(o);
    try {
      const res = await new Promise<{ TTL: string }>((resolve, reject) => {
        stream.on("data", resolve);
        stream.on("error", (err) => reject(castGrpcError(err)));
        stream.write({ ID: id });
      });
      return Number(res.TTL);
    } finally {
      stream.end();
    }
  }

  async refreshLease(ttl: number): Promise<boolean> {
    this.#ttl = ttl;
    this.#ensureWatch();
    if (this.#lease === null || this.#lease.ttl !== ttl) {
      // A changed TTL needs a new lease; the old one is left to expire (revoking it would drop the leader key,
      // which `updateLeader` moves to the new lease by CAS instead).
      await this.#grant(ttl);
      return true;
    }
    const remaining = await this.#keepAlive(this.#lease.id);
    if (remaining > 0) return true;
    this.#lease = null;
    this.#memberCache = null;
    await this.#grant(ttl);
    return false;
  }

  async #leaseId(): Promise<string> {
    return this.#lease?.id ?? await this.#grant(this.#ttl);
  }

  /** Run `op` with our lease; when etcd says the lease is gone, grant a new one and try once more. */
  async #withLease<T>(op: (lease: string) => Promise<T>): Promise<T> {
    try {
      return await op(await this.#leaseId());
    } catch (err) {
      if (!isLeaseNotFound(err instanceof DcsError ? err.cause : err)) throw err;
      this.#lease = null;
      return await op(await this.#grant(this.#ttl));
    }
  }

  async touchMember(data: MemberRecord): Promise<void> {
    const json = encodeJson(data);
    const lease = await this.#leaseId();
    if (this.#memberCache?.json === json && this.#memberCache.lease === lease) return;
    await this.#withLease(async (lease) => {
      await this.#call(
        "put member",
        (o) => this.#client.kv.put({ key: this.#key(memberKey(this.#name)), value: b(json), lease }, o),
      );
      this.#memberCache = { json, lease };
    });
  }

  async attemptToAcquireLeader(): Promise<boolean> {
    const won = await this.#withLease((lease) =>
      this.#call("txn acquire leader", (o) =>
        this.#client.kv.txn({
          compare: [{ key: this.#key(KEYS.leader), target: "Create", result: "Equal", create_revision: 0 }],
          success: [{ request_put: { key: this.#key(KEYS.leader), value: b(this.#name), lease } }],
        }, o))
    );
    if (won.succeeded) this.#knownLeader = this.#name;
    return won.succeeded;
  }

  async updateLeader(): Promise<boolean> {
    await this.refreshLease(this.#ttl);
    const lease = this.#lease!.id;
    const res = await this.#call(
      "range leader",
      (o) => this.#client.kv.range({ key: this.#key(KEYS.leader) }, o),
    );
    const kv = res.kvs[0] ? rawKv(res.kvs[0]) : null;
    this.#knownLeader = kv ? kv.value : null;
    if (kv === null || kv.value !== this.#name) return false;
    if (kv.lease === lease) return true;
    // Our name under a dead lease (it was re-granted): move the key to the live lease, only if nobody touched it.
    const moved = await this.#call("txn move leader", (o) =>
      this.#client.kv.txn({
        compare: [
          { key: this.#key(KEYS.leader), target: "Value", result: "Equal", value: b(this.#name) },
          { key: this.#key(KEYS.leader), target: "Mod", result: "Equal", mod_revision: kv.modRevision },
        ],
        success: [{ request_put: { key: this.#key(KEYS.leader), value: b(this.#name), lease } }],
      }, o));
    return moved.succeeded;
  }

  async deleteLeader(): Promise<boolean> {
    const res = await this.#call("txn delete leader", (o) =>
      this.#client.kv.txn({
        compare: [{ key: this.#key(KEYS.leader), target: "Value", result: "Equal", value: b(this.#name) }],
        success: [{ request_delete_range: { key: this.#key(KEYS.leader) } }],
      }, o));
    if (res.succeeded) this.#knownLeader = null;
    return res.succeeded;
  }

  async #put(what: string, rel: string, value: string): Promise<void> {
    await this.#call(what, (o) => this.#client.kv.put({ key: this.#key(rel), value: b(value) }, o));
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
        this.#client.kv.txn({ compare: [compare], success: [{ request_put: { key, value: b(value) } }] }, o),
    );
    return res.succeeded;
  }

  initialize(createNew: boolean, value: string): Promise<boolean> {
    return this.#casPut("initialize", KEYS.initialize, value, createNew ? "0" : undefined);
  }

  async cancelInitialization(): Promise<void> {
    await this.#call(
      "delete initialize",
      (o) => this.#client.kv.deleteRange({ key: this.#key(KEYS.initialize) }, o),
    );
  }

  setConfig(value: Record<string, unknown>, modRevision?: string): Promise<boolean> {
    return this.#casPut("put config", KEYS.config, encodeJson(value), modRevision);
  }

  async writeStatus(optime: number, slots?: Record<string, number>): Promise<void> {
    const value = encodeStatus(optime, slots);
    if (value === this.#lastStatus) return;
    await this.#put("put status", KEYS.status, value);
    this.#lastStatus = value;
  }

  async setHistory(history: HistoryEntry[]): Promise<void> {
    await this.#put("put history", KEYS.history, encodeHistory(history));
  }

  setFailover(value: Record<string, unknown>, modRevision?: string): Promise<boolean> {
    return this.#casPut("put failover", KEYS.failover, encodeJson(value), modRevision);
  }

  /** Delete every key under the cluster prefix (`hactl remove`); returns how many keys were deleted. */
  async deleteCluster(): Promise<number> {
    const problem = clusterPrefixProblem(this.#prefix);
    if (problem) throw new Error(problem);
    const prefix = b(this.#prefix);
    const res = await this.#call(
      "delete cluster",
      (o) => this.#client.kv.deleteRange({ key: prefix, range_end: rangeEnd(prefix) }, o),
    );
    return Number(res.deleted);
  }

  /**
   * Open the prefix watch unless it is open: one raw gRPC stream, no library reconnect timers. When it fails after
   * having been created, the loop is woken (events may have been missed) and the next call opens a new one.
   */
  #ensureWatch(): void {
    if (this.#closed || this.#watch) return;
    const watch: WatchState = { stream: null, created: false };
    this.#watch = watch;
    const prefix = b(this.#prefix);
    const request: IWatchRequest = { create_request: { key: prefix, range_end: rangeEnd(prefix) } };
    if (this.#lastRevision !== null) {
      request.create_request!.start_revision = String(BigInt(this.#lastRevision) + 1n);
    }
    const fail = (compacted: boolean) => {
      if (this.#watch !== watch) return;
      this.#watch = null;
      watch.stream?.cancel();
      if (compacted) this.#lastRevision = null;
      if (watch.created) this.#signal();
    };
    this.#client.watchClient.watch().then(
      (stream) => {
        watch.stream = stream;
        if (this.#watch !== watch) return stream.cancel();
        stream.on("data", (res: IWatchResponse) => {
          if (res.created) watch.created = true;
          for (const event of res.events ?? []) this.#onEvent(rawKv(event.kv), event.type === "Delete");
          if (res.canceled) fail(res.compact_revision !== "0" && res.compact_revision !== "");
        });
        stream.on("error", () => fail(false));
        stream.on("end", () => fail(false));
        stream.write(request);
      },
      () => fail(false),
    );
  }

  #onEvent(kv: RawKv, deleted: boolean): void {
    const rel = kv.key.slice(this.#prefix.length);
    const revision = BigInt(kv.modRevision || "0");
    if (this.#lastRevision === null || revision > BigInt(this.#lastRevision)) {
      this.#lastRevision = String(revision);
    }
    if (rel === KEYS.leader) {
      const value = deleted ? null : kv.value;
      if (value === this.#knownLeader) return;
      this.#knownLeader = value;
      this.#signal();
    } else if (rel === KEYS.config || rel === KEYS.failover || rel === KEYS.sync) {
      this.#signal();
    } else if ((rel === KEYS.status || rel === KEYS.legacyOptime) && !deleted) {
      if (this.#knownLeader !== this.#name) this.#signal();
    }
  }

  #signal(): void {
    this.#pending = true;
    this.#wake?.();
  }

  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    this.#ensureWatch();
    if (this.#pending || this.#closed || signal?.aborted) {
      const woke = this.#pending && !signal?.aborted;
      if (woke) this.#pending = false;
      return Promise.resolve(woke);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
      const onAbort = () => finish(false);
      const finish = (woke: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        // Only the current waiter may reset the shared state (a change seen now is consumed by this call).
        if (this.#wake === onChange) {
          this.#wake = null;
          this.#pending = false;
        }
        resolve(woke);
      };
      const onChange = () => finish(!this.#closed);
      this.#wake = onChange;
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  async close(opts: { keepLease?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    const lease = opts.keepLease ? null : this.#lease;
    this.#lease = null;
    try {
      if (lease) {
        await this.#call("lease revoke", (o) => this.#client.leaseClient.leaseRevoke({ ID: lease.id }, o));
      }
    } catch {
      // The lease expires on its own within ttl; closing must not fail because etcd is unreachable.
    } finally {
      this.#closed = true;
      this.#wake?.();
      const watch = this.#watch;
      this.#watch = null;
      watch?.stream?.cancel();
      for (const c of this.#clients) c.close();
    }
  }

  /** `await using dcs = createEtcdDcs(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** An attempt of one etcd call ran out of its share of the deadline. */
class AttemptTimeout extends Error {
  constructor(what: string) {
    super(`etcd ${what}: no answer in time`);
    this.name = "AttemptTimeout";
  }
}

function isBrokenCircuit(err: unknown): boolean {
  return err instanceof Error && /circuit breaker is open/i.test(err.message);
}

/** A failure worth another attempt on (probably) another endpoint: a timeout or an unreachable member. */
function retryableDcsFailure(err: unknown): boolean {
  if (err instanceof AttemptTimeout) return true;
  if (!(err instanceof Error)) return false;
  if (isRecoverableError(err)) return true;
  const text = `${err.name} ${err.message}`;
  // "circuit breaker is open": the client's breaker shut the endpoint it picked; another pick may be healthy.
  return /DEADLINE_EXCEEDED|DeadlineExceeded|UNAVAILABLE|Unavailable|no leader|circuit breaker is open/i.test(
    text,
  );
}

/** Create the etcd adapter. Connects lazily: no lease, watch or write until a method needs one. */
export function createEtcdDcs(opts: EtcdDcsOptions): EtcdDcs {
  const timeoutMs = Math.max(1, opts.retryTimeout) * 1000;
  // One client per endpoint (rather than the library's random pick per call), so a call that one member leaves
  // hanging moves on to the next member, and the calls after it stay there.
  const hosts = opts.etcd.hosts.length > 0 ? opts.etcd.hosts : [""];
  return new EtcdDcs(
    hosts.map((h) => new Etcd3(clientOptions({ ...opts.etcd, hosts: [h] }, timeoutMs))),
    opts,
  );
}
