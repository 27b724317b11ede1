/**
 * The race's guard (src/core/acquire_guard.ts), one contract for the real etcd adapter and MemoryDcs: taking the
 * leader key fails when `config` or `sync` changed since the view the race was decided on, and succeeds when the
 * view is current.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createEtcdDcs } from "../../src/dcs/etcd.ts";
import type { Dcs } from "../../src/core/ports.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { startEtcd } from "../helpers/etcd.ts";

/** The `config` and `sync` revisions of a view, as the race's guard carries them. */
async function guardOf(m: Dcs): Promise<{ config: string | null; sync: string | null }> {
  const view = await m.loadCluster();
  return { config: view.config?.modRevision ?? null, sync: view.sync?.modRevision ?? null };
}

async function acquireGuardContract(member: (name: string) => Dcs): Promise<void> {
  const [a, b] = [member("pg1"), member("pg2")];
  try {
    await Promise.all([a.refreshLease(30), b.refreshLease(30)]);
    assert.equal(await b.setConfig({ ttl: 30 }, "0"), true);
    const seen = await guardOf(a);
    assert.equal(seen.sync, null);
    assert.equal(
      await b.setConfig({ ttl: 30, loop_wait: 5 }, seen.config!),
      true,
      "edit-config after the view",
    );
    assert.equal(await a.attemptToAcquireLeader(seen), false, "config changed since the view");
    assert.equal((await a.loadCluster()).leader, null);
    const fresh = await guardOf(a);
    assert.equal(await b.writeSync("pg2", [], 0, null), true, "a sync key appears after the view");
    assert.equal(await a.attemptToAcquireLeader(fresh), false, "sync changed since the view");
    assert.equal(await a.attemptToAcquireLeader(await guardOf(a)), true, "the view is current");
    assert.equal((await b.loadCluster()).leader?.name, "pg1");
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

Deno.test("acquire guard contract: MemoryDcs", async () => {
  const etcd = new MemoryEtcd({ now: () => 0 });
  await acquireGuardContract((name) =>
    new MemoryDcs(etcd, { namespace: "/service/", scope: "ag", ttl: 30, name })
  );
});

Deno.test("acquire guard contract: EtcdDcs on a real etcd", async () => {
  const cluster = await startEtcd({ members: 1 });
  try {
    await acquireGuardContract((name) =>
      createEtcdDcs({
        etcd: { hosts: cluster.endpoints, protocol: "http" },
        namespace: "/service/",
        scope: "ag",
        name,
        retryTimeout: 5,
        ttl: 30,
      })
    );
  } finally {
    await cluster.stop();
  }
});
