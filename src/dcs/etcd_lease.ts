/**
 * The member's single etcd lease: granted on the first refresh or write that needs it, renewed only when the HA
 * loop calls `refresh` (one keepalive round trip on a short-lived stream, never a library timer), granted anew
 * when etcd says it is gone, replaced when the HA loop moves the keys to a lease of another TTL (`etcd.ts`
 * `moveLease`), and revoked on close unless the lease is to be kept. The TTL etcd granted is kept with it.
 *
 * May import: `etcd3`, `src/core/` (ports), the adapter's endpoints (`etcd_endpoints.ts`).
 *
 * @module
 */
import { castGrpcError, isRecoverableError } from "etcd3";
import { DcsError } from "../core/ports.ts";
import type { HeldLease } from "../core/types.ts";
import type { CallOpts, EtcdEndpoints } from "./etcd_endpoints.ts";

function isLeaseNotFound(err: unknown): boolean {
  return err instanceof Error &&
    (err.name === "EtcdLeaseInvalidError" || /lease not found/.test(err.message));
}

/** The lease of one member, over the adapter's endpoints. */
export class EtcdLease {
  readonly #endpoints: EtcdEndpoints;
  #lease: { id: string } & HeldLease | null = null;
  /** The TTL (seconds) of the next grant: the HA loop's latest `ttl`. */
  ttl: number;
  /**
   * The revision in the header of the last `refresh`'s keepalive answer (src/core/watch_view.ts); null when the
   * last refresh granted a lease instead, failed, or is under way.
   */
  renewalRevision: string | null = null;

  constructor(endpoints: EtcdEndpoints, ttl: number) {
    this.#endpoints = endpoints;
    this.ttl = ttl;
  }

  /** The lease held now, or null before the first grant, after a loss and after `forget`. */
  get held(): { id: string } & HeldLease | null {
    return this.#lease;
  }

  /** Grant a lease of `ttl` and hold it from now on (the one held before is neither revoked nor renewed). */
  async grant(ttl: number): Promise<string> {
    const res = await this.#endpoints.call(
      "lease grant",
      (o) => this.#endpoints.client.leaseClient.leaseGrant({ TTL: ttl }, o),
    );
    this.#lease = { id: String(res.ID), requestedTtl: ttl, ttl: Number(res.TTL) };
    return this.#lease.id;
  }

  /** Hold `lease` again (a move that was refused gives the new lease up for the old one). */
  restore(lease: { id: string } & HeldLease | null): void {
    this.#lease = lease;
  }

  /**
   * One keepalive round trip on a short-lived stream; returns the remaining TTL (<= 0: lease gone). Streams do not
   * go through the client's retry policy, so an unreachable endpoint is skipped here (the pool rotates hosts and
   * its circuit breaker shuts a failing one) until the deadline.
   */
  #keepAlive(id: string): Promise<{ ttl: number; revision: string | null }> {
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

  async #keepAliveOnce(id: string, o: CallOpts): Promise<{ ttl: number; revision: string | null }> {
    const stream = await this.#endpoints.client.leaseClient.leaseKeepAlive(o);
    try {
      const res = await new Promise<{ TTL: string; header?: { revision?: string } }>((resolve, reject) => {
        stream.on("data", resolve);
        stream.on("error", (err) => reject(castGrpcError(err)));
        stream.write({ ID: id });
      });
      // No header (etcd always sends one): no revision, so the cycle reads the prefix.
      const revision = res.header?.revision !== undefined ? String(res.header.revision) : null;
      this.#endpoints.noteRevision(revision);
      return { ttl: Number(res.TTL), revision };
    } finally {
      stream.end();
    }
  }

  /**
   * Keep the lease alive (grant one of `ttl` when there is none); false when etcd had dropped it (then `onLost`
   * runs and a new lease is granted). A lease of another TTL is kept: it may hold the leader key, which only a
   * move (`etcd.ts` `moveLease`) takes to a lease of the new TTL.
   */
  async refresh(onLost: () => void): Promise<boolean> {
    const ttl = this.ttl;
    this.renewalRevision = null;
    if (this.#lease === null) {
      await this.grant(ttl);
      return true;
    }
    const answer = await this.#keepAlive(this.#lease.id);
    if (answer.ttl > 0) {
      this.renewalRevision = answer.revision;
      return true;
    }
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
  forget(): { id: string } & HeldLease | null {
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
