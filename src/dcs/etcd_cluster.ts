/**
 * The cluster as one member sees it in etcd: one range over the cluster prefix, decoded, and one lazily opened
 * watch over the prefix that wakes the HA loop when something it acts on changes (the leader key, `config`,
 * `failover`, `sync`, and the leader's `status` unless this member is the leader). The watch is one raw gRPC
 * stream, never reconnected by a library timer: when it fails, the loop is woken and the next call opens a new
 * one from the last revision seen. The watch also keeps the copy of the prefix (`watch_cache.ts`) that a cycle may
 * decide on instead of a range (src/core/watch_view.ts): each stream tells it when etcd confirmed the stream and
 * from which revision it delivers, each event, and the stream's end.
 *
 * May import: `etcd3`, `src/core/` (types), `src/dcs/codec.ts`, `src/dcs/watch_cache.ts`, the adapter's endpoints
 * (`etcd_endpoints.ts`).
 *
 * @module
 */
import type { IDuplexStream, IWatchRequest, IWatchResponse } from "etcd3";
import type { ClusterView } from "../core/types.ts";
import { decodeCluster, KEYS, type RawKv } from "./codec.ts";
import type { EtcdEndpoints } from "./etcd_endpoints.ts";
import { b, rangeEnd, rawKv } from "./etcd_kv.ts";
import { WatchCache } from "./watch_cache.ts";

type WatchState = { stream: IDuplexStream<IWatchRequest, IWatchResponse> | null; created: boolean };

/** One range over `prefix`: the decoded view and the raw key-value pairs it was decoded from. */
export async function rangeCluster(
  endpoints: EtcdEndpoints,
  prefixText: string,
): Promise<{ view: ClusterView; kvs: RawKv[] }> {
  const prefix = b(prefixText);
  const res = await endpoints.call(
    "range",
    (o) => endpoints.client.kv.range({ key: prefix, range_end: rangeEnd(prefix) }, o),
  );
  const kvs = res.kvs.map(rawKv);
  return { view: decodeCluster(kvs, prefixText, String(res.header.revision)), kvs };
}

/** The prefix watch of one member and what it has seen. */
export class ClusterWatch {
  readonly #endpoints: EtcdEndpoints;
  readonly #prefix: string;
  readonly #name: string;
  /** The leader key's value as last seen (load, watch or our own transaction); undefined = unknown. */
  knownLeader: string | null | undefined = undefined;
  /** The highest cluster revision seen through a load or the watch; null: none, or compacted away. */
  lastRevision: string | null = null;
  /** The prefix as the last load and the watch's events since make it (src/core/watch_view.ts). */
  readonly cache: WatchCache = new WatchCache();
  #watch: WatchState | null = null;
  #pending = false;
  #wake: (() => void) | null = null;

  constructor(endpoints: EtcdEndpoints, prefix: string, name: string) {
    this.#endpoints = endpoints;
    this.#prefix = prefix;
    this.#name = name;
  }

  /**
   * Open the prefix watch unless it is open: one raw gRPC stream, no library reconnect timers. When it fails after
   * having been created, the loop is woken (events may have been missed) and the next call opens a new one.
   */
  ensure(): void {
    if (this.#endpoints.closed || this.#watch) return;
    const watch: WatchState = { stream: null, created: false };
    this.#watch = watch;
    const prefix = b(this.#prefix);
    const request: IWatchRequest = { create_request: { key: prefix, range_end: rangeEnd(prefix) } };
    const start = this.lastRevision === null ? null : String(BigInt(this.lastRevision) + 1n);
    if (start !== null) request.create_request!.start_revision = start;
    const fail = (compacted: boolean) => {
      if (this.#watch !== watch) return;
      this.#watch = null;
      watch.stream?.cancel();
      this.cache.streamLost();
      if (compacted) {
        this.lastRevision = null;
        this.cache.forget();
      }
      if (watch.created) this.#signal();
    };
    this.#endpoints.client.watchClient.watch().then(
      (stream) => {
        watch.stream = stream;
        if (this.#watch !== watch) return stream.cancel();
        stream.on("data", (res: IWatchResponse) => {
          if (this.#watch !== watch) return; // a stream given up: what it still says is not this watch's
          if (res.created && !watch.created) {
            // Without a start revision, the stream delivers what comes after the revision it was created at (no
            // header, which etcd always sends: the copy stays incomplete and every cycle reads).
            const created = res.header?.revision;
            const from = start ??
              (/^[0-9]+$/.test(String(created)) ? String(BigInt(String(created)) + 1n) : null);
            if (from !== null) this.cache.streamEstablished(from);
          }
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
    this.cache.apply(kv, deleted);
    const rel = kv.key.slice(this.#prefix.length);
    const revision = BigInt(kv.modRevision || "0");
    if (this.lastRevision === null || revision > BigInt(this.lastRevision)) {
      this.lastRevision = String(revision);
    }
    if (rel === KEYS.leader) {
      const value = deleted ? null : kv.value;
      if (value === this.knownLeader) return;
      this.knownLeader = value;
      this.#signal();
    } else if (rel === KEYS.config || rel === KEYS.failover || rel === KEYS.sync) {
      this.#signal();
    } else if ((rel === KEYS.status || rel === KEYS.legacyOptime) && !deleted) {
      if (this.knownLeader !== this.#name) this.#signal();
    }
  }

  #signal(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** The `Dcs` port's `waitForChange`: true when a change woke the wait, false on timeout, abort or close. */
  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    this.ensure();
    if (this.#pending || this.#endpoints.closed || signal?.aborted) {
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
      const onChange = () => finish(!this.#endpoints.closed);
      this.#wake = onChange;
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Wake the waiter (the endpoints are closed by now, so it answers false) and cancel the stream. */
  close(): void {
    this.#wake?.();
    const watch = this.#watch;
    this.#watch = null;
    watch?.stream?.cancel();
    this.cache.streamLost();
    this.cache.forget();
  }
}
