/**
 * The `Dcs` port's `lockReadSinceRenewal` (a leader's renewal kept by the cycle's own refresh and read,
 * src/core/cycle_renewal.ts), against a real etcd (`EtcdDcs`) and against `MemoryDcs`, so the fake the simulator
 * relies on says true exactly when the adapter does: the read after a refresh found our name on the lease just
 * renewed, nothing changed since, and only once per read.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { createEtcdDcs } from "../../src/dcs/etcd.ts";
import type { Dcs } from "../../src/core/ports.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { startEtcd } from "../helpers/etcd.ts";

type Member = Dcs & { readonly seenRevision: string | null; readonly prefix: string };

/** A backend: members of one cluster, and raw writes beside them (returning the revision written). */
interface Backend {
  member(name: string): Member;
  rawDelete(key: string): Promise<string>;
  /** Put `value` at `key` on a lease of its own. */
  rawPutOnOtherLease(key: string, value: string): Promise<string>;
}

/** Wait until `m`'s watch has seen `revision` (real etcd delivers events asynchronously). */
async function seen(m: Member, revision: string): Promise<void> {
  const until = Date.now() + 5000;
  while (BigInt(m.seenRevision ?? "0") < BigInt(revision)) {
    if (Date.now() > until) throw new Error(`the watch did not reach revision ${revision} within 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function lockReadContract(b: Backend): Promise<void> {
  const a = b.member("a");
  const other = b.member("b");
  const renewThenRead = async (m: Member) => (await m.refreshLease(30), await m.loadCluster());
  await a.refreshLease(30);
  assert.equal(await a.attemptToAcquireLeader(), true);
  await renewThenRead(a);
  assert.equal(a.lockReadSinceRenewal?.(), true, "renewed, then read the key ours on that lease");
  assert.equal(a.lockReadSinceRenewal?.(), false, "once per read");
  await a.refreshLease(30);
  assert.equal(a.lockReadSinceRenewal?.(), false, "renewed, not read since");
  await a.loadCluster();
  assert.equal(a.lockReadSinceRenewal?.(), true, "the read after the refresh");
  await a.loadCluster();
  assert.equal(a.lockReadSinceRenewal?.(), false, "a read with no refresh before it");
  await renewThenRead(other);
  assert.equal(other.lockReadSinceRenewal?.(), false, "not the leader");
  // Changed after the read, seen by the watch.
  await renewThenRead(a);
  await seen(a, await b.rawDelete(a.prefix + "leader"));
  assert.equal(a.lockReadSinceRenewal?.(), false, "the key was deleted after the read");
  // Our name on a lease that is not the one renewed.
  await seen(a, await b.rawPutOnOtherLease(a.prefix + "leader", "a"));
  await renewThenRead(a);
  assert.equal(a.lockReadSinceRenewal?.(), false, "our name on another lease");
  assert.equal(await a.updateLeader(), true, "the renewal by calls moves it");
  await renewThenRead(a);
  assert.equal(a.lockReadSinceRenewal?.(), true, "on the renewed lease again");
  await a.close();
  await other.close();
}

Deno.test("lockReadSinceRenewal contract: MemoryDcs", async () => {
  const etcd = new MemoryEtcd({ now: () => 0 });
  const opts = { namespace: "/service/", scope: "lr", ttl: 30 };
  await lockReadContract({
    member: (name) => new MemoryDcs(etcd, { ...opts, name }),
    rawDelete: (key) => Promise.resolve((etcd.delete("t", key), etcd.range("t", "/").revision)),
    rawPutOnOtherLease: (key, value) =>
      Promise.resolve((etcd.put("t", key, value, etcd.grant("t", 30)), etcd.range("t", "/").revision)),
  });
});

Deno.test("lockReadSinceRenewal contract: EtcdDcs on a real etcd", async () => {
  const cluster = await startEtcd({ members: 1 });
  const raw = new Etcd3({ hosts: cluster.endpoints });
  try {
    await lockReadContract({
      member: (name) =>
        createEtcdDcs({
          etcd: { hosts: cluster.endpoints, protocol: "http" },
          namespace: "/service/",
          scope: "lr",
          name,
          retryTimeout: 5,
          ttl: 30,
        }),
      rawDelete: async (key) => String((await raw.delete().key(key)).header.revision),
      rawPutOnOtherLease: async (key, value) => {
        const lease = raw.lease(30, { autoKeepAlive: false });
        return String((await lease.put(key).value(value).exec()).header.revision);
      },
    });
  } finally {
    raw.close();
    await cluster.stop();
  }
});
