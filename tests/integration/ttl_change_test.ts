/**
 * One TTL, end to end (real etcd, PostgreSQL 15, `hactl agent` processes, at ttl 10 / loop_wait 2 /
 * retry_timeout 4): `hactl edit-config -s ttl=30` while a member leads moves the leader key to a lease that etcd
 * reports with a 30 s TTL (same leader, same term, the old lease revoked), and back to 10 s on the way down; an
 * agent killed and started again with its local `bootstrap.dcs.ttl` (10) smaller than the cluster's (30) keeps its
 * key and puts it back on a 30 s lease.
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { formCluster } from "../helpers/cluster.ts";
import { mainModule, readHealth, waitFor, waitHealthy } from "../../scripts/lib/local_cluster.ts";

const SCOPE = "ttlchange";

async function hactl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The leader key's holder, term and lease, with the TTL etcd reports for that lease (null: the lease is gone). */
interface KeyLease {
  name: string;
  createRevision: string;
  lease: string;
  grantedTtl: number | null;
}

async function keyLease(raw: Etcd3, layout: Parameters<typeof readHealth>[0]): Promise<KeyLease | null> {
  const leader = (await readHealth(layout)).view.leader;
  if (!leader) return null;
  const res = await raw.leaseClient.leaseTimeToLive({ ID: leader.lease });
  const grantedTtl = Number(res.TTL) < 0 ? null : Number(res.grantedTTL);
  return { name: leader.name, createRevision: leader.createRevision, lease: leader.lease, grantedTtl };
}

async function leaseGone(raw: Etcd3, id: string): Promise<boolean> {
  return Number((await raw.leaseClient.leaseTimeToLive({ ID: id })).TTL) < 0;
}

Deno.test({
  name: "ttl change: the leader key follows edit-config's ttl onto a lease etcd reports with the new TTL",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 10, loopWait: 2, retryTimeout: 4 }, SCOPE, {
      etcdMembers: 1,
      members: 2,
    });
    const raw = new Etcd3({ hosts: c.etcd.endpoints });
    try {
      const before = await keyLease(raw, c.layout);
      assert.ok(before, "a leader");
      assert.equal(before.grantedTtl, 10);
      const edit = async (ttl: number) => {
        const r = await hactl([
          "edit-config",
          "-c",
          c.leader.configPath,
          SCOPE,
          "-s",
          `ttl=${ttl}`,
          "--force",
        ]);
        assert.equal(r.code, 0, r.stderr);
      };
      const follows = (ttl: number) =>
        waitFor(`the leader key on a ${ttl} s lease`, 30_000, async () => {
          const k = await keyLease(raw, c.layout);
          return k?.grantedTtl === ttl ? k : { notYet: JSON.stringify(k) };
        });

      await edit(30);
      const up = await follows(30);
      assert.equal(up.name, before.name, "the same leader");
      assert.equal(
        up.createRevision,
        before.createRevision,
        "the same term: the key was moved, not re-created",
      );
      assert.ok(await leaseGone(raw, before.lease), "the old lease was revoked");

      await edit(10);
      const down = await follows(10);
      assert.equal(down.name, before.name);
      assert.equal(down.createRevision, before.createRevision);
      assert.ok(await leaseGone(raw, up.lease));

      // The agent's own bootstrap.dcs.ttl stays 10; the cluster's goes to 30. Kill the leader's agent (Postgres and
      // the key live on) and start it again: it keeps the key and puts it on a 30 s lease.
      await edit(30);
      const third = await follows(30);
      const agent = c.agents.get(before.name)!;
      agent.kill("SIGKILL");
      await agent.status;
      c.agents.delete(before.name);
      await c.spawn(before.name);
      const restarted = await waitFor("the restarted agent renewing its key", 60_000, async () => {
        const k = await keyLease(raw, c.layout);
        const mine = k && k.name === before.name && k.lease !== third.lease;
        return mine && k.grantedTtl === 30 ? k : { notYet: JSON.stringify(k) };
      });
      assert.equal(restarted.createRevision, before.createRevision, "the restarted agent kept the same term");
      const health = await waitHealthy(c.layout, 1, 60_000);
      assert.equal(health.leader, before.name);
    } catch (err) {
      await c.dumpLogs(SCOPE);
      throw err;
    } finally {
      raw.close();
    }
  },
});
