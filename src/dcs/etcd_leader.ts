/**
 * The leader-key transactions: acquire by `create_revision == 0` under the member's lease, read the key, move
 * it to a re-granted lease by a CAS on value and mod revision, release by value CAS. What to make of the results
 * (the known leader, the lease to use) is the adapter's.
 *
 * May import: `src/core/acquire_guard.ts` (types), `src/dcs/codec.ts`, the adapter's endpoints (`etcd_endpoints.ts`, `etcd_kv.ts`).
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { AcquireGuard } from "../core/acquire_guard.ts";
import { KEYS, type RawKv } from "./codec.ts";
import type { EtcdEndpoints } from "./etcd_endpoints.ts";
import { b, rawKv } from "./etcd_kv.ts";

/** The leader key of one cluster, written in the name of one member. */
export class LeaderKey {
  readonly #endpoints: EtcdEndpoints;
  readonly #prefix: string;
  readonly #name: string;

  constructor(endpoints: EtcdEndpoints, prefix: string, name: string) {
    this.#endpoints = endpoints;
    this.#prefix = prefix;
    this.#name = name;
  }

  #key(): Buffer {
    return b(this.#prefix + KEYS.leader);
  }

  /**
   * Create the key with our name under `lease` unless it exists, and with `guard` only while `config` and `sync`
   * are at the mod revisions the race's view saw (src/core/acquire_guard.ts); true when we won.
   */
  async acquire(lease: string, guard?: AcquireGuard): Promise<boolean> {
    const kept = (rel: string, rev: string | null) => ({
      key: b(this.#prefix + rel),
      target: "Mod" as const,
      result: "Equal" as const,
      mod_revision: rev ?? "0",
    });
    const guards = [
      ...(guard?.config !== undefined ? [kept(KEYS.config, guard.config)] : []),
      ...(guard?.sync !== undefined ? [kept(KEYS.sync, guard.sync)] : []),
    ];
    const won = await this.#endpoints.call("txn acquire leader", (o) =>
      this.#endpoints.client.kv.txn({
        compare: [{ key: this.#key(), target: "Create", result: "Equal", create_revision: 0 }, ...guards],
        success: [{ request_put: { key: this.#key(), value: b(this.#name), lease } }],
      }, o));
    return won.succeeded;
  }

  /** The key as etcd holds it now, or null when there is none. */
  async read(): Promise<RawKv | null> {
    const res = await this.#endpoints.call(
      "range leader",
      (o) => this.#endpoints.client.kv.range({ key: this.#key() }, o),
    );
    return res.kvs[0] ? rawKv(res.kvs[0]) : null;
  }

  /** Put our name under `lease`, only if the key still holds our name at `modRevision`; true when moved. */
  async move(lease: string, modRevision: string): Promise<boolean> {
    const moved = await this.#endpoints.call("txn move leader", (o) =>
      this.#endpoints.client.kv.txn({
        compare: [
          { key: this.#key(), target: "Value", result: "Equal", value: b(this.#name) },
          { key: this.#key(), target: "Mod", result: "Equal", mod_revision: modRevision },
        ],
        success: [{ request_put: { key: this.#key(), value: b(this.#name), lease } }],
      }, o));
    return moved.succeeded;
  }

  /**
   * Put our name under `lease` (and `extra` puts, e.g. the member key under the same lease), only if the key still
   * holds our name at `createRevision` (the same term); true when moved.
   */
  async moveTerm(
    lease: string,
    createRevision: string,
    extra: { key: Buffer; value: Buffer }[] = [],
  ): Promise<boolean> {
    const moved = await this.#endpoints.call("txn move leader", (o) =>
      this.#endpoints.client.kv.txn({
        compare: [
          { key: this.#key(), target: "Value", result: "Equal", value: b(this.#name) },
          { key: this.#key(), target: "Create", result: "Equal", create_revision: createRevision },
        ],
        success: [
          { request_put: { key: this.#key(), value: b(this.#name), lease } },
          ...extra.map((kv) => ({ request_put: { key: kv.key, value: kv.value, lease } })),
        ],
      }, o));
    return moved.succeeded;
  }

  /** Delete the key only if it holds our name; true when deleted. */
  async release(): Promise<boolean> {
    const res = await this.#endpoints.call("txn delete leader", (o) =>
      this.#endpoints.client.kv.txn({
        compare: [{ key: this.#key(), target: "Value", result: "Equal", value: b(this.#name) }],
        success: [{ request_delete_range: { key: this.#key() } }],
      }, o));
    return res.succeeded;
  }
}
