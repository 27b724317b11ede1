/**
 * The member's single etcd lease: granted on the first refresh or write that needs it, renewed only when the HA
 * loop calls `refresh` (one keepalive round trip on a short-lived stream, never a library timer), granted anew
 * when etcd says it is gone or the TTL changed, and revoked on close unless the lease is to be kept.
 *
 * May import: `etcd3`, `src/core/` (ports), the adapter's endpoints (`etcd_endpoints.ts`).
 *
 * @module
 */
import { castGrpcError, isRecoverableError } from "etcd3";
import { DcsError } from "../core/ports.ts";
import type { CallOpts, EtcdEndpoints } from "./etcd_endpoints.ts";

function isLeaseNotFound(err: unknown): boolean {
  return err instanceof Error &&
    (err.name === "EtcdLeaseInvalidError" || /lease not found/.test(err.message));
}

/** The lease of one member, over the adapter's endpoints. */
export class EtcdLease {
  readonly #endpoints: EtcdEndpoints;
  #lease: { id: string; ttl: number } | null = null;
  /** The TTL (seconds) of the next grant: the HA loop's latest `ttl`. */
  ttl: number;

  constructor(endpoints: EtcdEndpoints, ttl: number) {
    this.#endpoints = endpoints;
    this.ttl = ttl;
  }

  /** The lease held now, or null before the first grant, after a loss and after `forget`. */
  get held(): { id: string; ttl: number } | null {
    return this.#lease;
  }

  async grant(ttl: number): Promise<string> {
    const res = await this.#endpoints.call(
      "lease grant",
      (o) => this.#endpoints.client.leaseClient.leaseGrant({ TTL: ttl }, o),
    );
    this.#lease = { id: String(res.ID), ttl };
    return this.#lease.id;
  }

  /**
   * One keepalive round trip on a short-lived stream; returns the remaining TTL (<= 0: lease gone). Streams do not
   * go through the client's retry policy, so an unreachable endpoint is skipped here (the pool rotates hosts and
   * its circuit breaker shuts a failing one) until the deadline.
   */
  #keepAlive(id: string): Promise<number> {
    return this.#endpoints.call("lease keepalive", async (o) => {
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
    const stream = await this.#endpoints.client.leaseClient.leaseKeepAlive(o);
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

  /**
   * Keep the lease alive with the TTL `ttl` (grant one when there is none or the TTL changed); false when etcd
   * had dropped it (then `onLost` runs and a new lease is granted).
   */
  async refresh(onLost: () => void): Promise<boolean> {
    const ttl = this.ttl;
    if (this.#lease === null || this.#lease.ttl !== ttl) {
      // A changed TTL needs a new lease; the old one is left to expire (revoking it would drop the leader key,
      // which `updateLeader` moves to the new lease by CAS instead).
      await this.grant(ttl);
      return true;
    }
    const remaining = await this.#keepAlive(this.#lease.id);
    if (remaining > 0) return true;
    this.#lease = null;
    onLost();
    await this.grant(ttl);
    return false;
  }

  /** The id of the lease held, granting one first when there is none. */
  async id(): Promise<string> {
    return this.#lease?.id ?? await this.grant(this.ttl);
  }

  /** Run `op` with our lease; when etcd says the lease is gone, grant a new one and try once more. */
  async withLease<T>(op: (lease: string) => Promise<T>): Promise<T> {
    try {
      return await op(await this.id());
    } catch (err) {
      if (!isLeaseNotFound(err instanceof DcsError ? err.cause : err)) throw err;
      this.#lease = null;
      return await op(await this.grant(this.ttl));
    }
  }

  /** Drop the lease held (it expires on its own unless revoked); returns it. */
  forget(): { id: string; ttl: number } | null {
    const lease = this.#lease;
    this.#lease = null;
    return lease;
  }

  async revoke(id: string): Promise<void> {
    await this.#endpoints.call(
      "lease revoke",
      (o) => this.#endpoints.client.leaseClient.leaseRevoke({ ID: id }, o),
    );
  }
}
