/**
 * The `Dcs` port's watch-fed view (`watchViewFacts`, `watchView`; the rule is src/core/watch_view.ts), against a
 * real etcd (`EtcdDcs`) and against `MemoryDcs`, so the fake the simulator relies on says the same as the adapter:
 * with nothing written since the cycle's read, the next cycle may use the watch's copy and it equals what a range
 * returns; a write by another client inside the prefix, once the watch delivered it, is in the copy; a write by
 * another client outside the prefix (which the prefix watch never delivers) makes the next cycle read; and whenever
 * the rule lets a cycle use the copy (writes racing the watch included), the copy equals a range at that moment.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { createEtcdDcs } from "../../src/dcs/etcd.ts";
import type { Dcs } from "../../src/core/ports.ts";
import { mayUseWatchView } from "../../src/core/watch_view.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { startEtcd } from "../helpers/etcd.ts";

type Member = Dcs & { readonly seenRevision: string | null; readonly prefix: string };

/** A backend: members of one cluster, and raw writes by another client (returning the revision written). */
interface Backend {
  member(name: string): Member;
  rawPut(key: string, value: string): Promise<string>;
}

/** Wait until `m`'s watch has seen `revision` (real etcd delivers events asynchronously). */
async function seen(m: Member, revision: string): Promise<void> {
  const until = Date.now() + 5000;
  while (BigInt(m.seenRevision ?? "0") < BigInt(revision)) {
    if (Date.now() > until) throw new Error(`the watch did not reach revision ${revision} within 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A cycle's start: the refresh, then whether the rule lets it use the watch's copy. */
async function refresh(m: Member): Promise<boolean> {
  await m.refreshLease(30);
  return mayUseWatchView(m.watchViewFacts?.());
}

/** Refresh and read until the watch's copy is complete (the first stream may be created after the first read). */
async function established(m: Member): Promise<void> {
  const until = Date.now() + 5000;
  for (;;) {
    await m.refreshLease(30);
    await m.loadCluster();
    if (m.watchViewFacts?.().viewRevision !== null) return;
    if (Date.now() > until) throw new Error("the watch's copy was not complete within 5 s");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function watchViewContract(b: Backend): Promise<void> {
  const a = b.member("a");
  await a.refreshLease(30);
  await a.touchMember({
    conn_url: "postgres://a:5432/postgres",
    api_url: "http://a:8008/patroni",
    state: "running",
    role: "replica",
    version: "3.3.11",
  });
  await established(a);
  assert.equal(await refresh(a), true, "nothing written since the read: the copy is as new as the keepalive");
  const copy = a.watchView!();
  assert.deepEqual(copy, await a.loadCluster(), "the copy equals a range");
  // Another client writes inside the prefix; once the watch delivered it, the copy holds it.
  await seen(a, await b.rawPut(a.prefix + "failover", '{"leader":"a","member":"b"}'));
  assert.equal(await refresh(a), true, "the watch delivered the write the keepalive's revision counts");
  const withFailover = a.watchView!();
  assert.equal(withFailover.failover?.member, "b");
  assert.deepEqual(withFailover, await a.loadCluster());
  // Another client writes outside the prefix: the watch never delivers it, so the next cycle reads.
  await b.rawPut("/elsewhere/key", "x");
  assert.equal(await refresh(a), false, "a revision the prefix watch cannot have: read");
  await a.loadCluster();
  assert.equal(await refresh(a), true, "after that read, the copy is as new as the keepalive again");
  // Writes racing the watch (another client's and our own): whenever the rule lets a cycle use the copy, the copy
  // equals a range made right after it.
  let used = 0;
  for (let i = 0; i < 20; i++) {
    if (i % 2 === 0) await b.rawPut(a.prefix + "failover", `{"leader":"a","member":"m${i}"}`);
    else await a.setConfig({ loop_wait: i });
    if (i % 3 === 0) await new Promise((r) => setTimeout(r, 30));
    if (!await refresh(a)) {
      await a.loadCluster();
      continue;
    }
    used++;
    const view = a.watchView!();
    assert.deepEqual(view, await a.loadCluster(), `the copy at revision ${view.revision} equals a range`);
  }
  assert.ok(used > 0, "some cycle used the copy");
  await a.close();
}

Deno.test("watch view contract: MemoryDcs", async () => {
  const etcd = new MemoryEtcd({ now: () => 0 });
  await watchViewContract({
    member: (name) => new MemoryDcs(etcd, { namespace: "/service/", scope: "wv", ttl: 30, name }),
    rawPut: (key, value) => Promise.resolve((etcd.put("t", key, value), String(etcd.revision))),
  });
});

Deno.test("watch view contract: EtcdDcs on a real etcd", async () => {
  const cluster = await startEtcd({ members: 1 });
  const raw = new Etcd3({ hosts: cluster.endpoints });
  try {
    await watchViewContract({
      member: (name) =>
        createEtcdDcs({
          etcd: { hosts: cluster.endpoints, protocol: "http" },
          namespace: "/service/",
          scope: "wv",
          name,
          retryTimeout: 5,
          ttl: 30,
        }),
      rawPut: async (key, value) => String((await raw.put(key).value(value).exec()).header.revision),
    });
  } finally {
    raw.close();
    await cluster.stop();
  }
});
