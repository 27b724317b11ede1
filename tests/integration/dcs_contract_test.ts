/**
 * One contract for the `Dcs` port, run against a real etcd (via `EtcdDcs`) and against `MemoryDcs`, so the fake the
 * simulator relies on cannot drift from the adapter. Raw values are checked byte for byte: they are Patroni's.
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { createEtcdDcs } from "../../src/dcs/etcd.ts";
import { type Dcs, DcsError } from "../../src/core/ports.ts";
import type { MemberRecord } from "../../src/core/types.ts";
import { MemoryDcs, MemoryEtcd } from "../fakes/memory_dcs.ts";
import { startEtcd } from "../helpers/etcd.ts";

/** What the contract needs from a backend; one `Scope` is a fresh cluster prefix. */
interface Backend {
  scope(): Scope;
  close(): Promise<void>;
}

interface Scope {
  prefix: string;
  member(name: string, ttl?: number): Member;
  rawGet(rel: string): Promise<string | null>;
  rawPut(rel: string, value: string): Promise<void>;
  /** The TTL etcd granted the lease `id` (seconds), or null when the lease does not exist. */
  leaseTtl(id: string): Promise<number | null>;
  /** Let time pass until `check` holds, at most about `ttl` seconds plus a margin (virtual time for the fake). */
  passTime(ttl: number, check: () => Promise<boolean>): Promise<void>;
  close(): Promise<void>;
}

/** A member's Dcs plus the revision it has seen (to wait for watch delivery without fixed sleeps). */
type Member = Dcs & { readonly seenRevision: string | null };

const NAMESPACE = "/service/";

/** Wait until `watcher` has seen every write made so far (real etcd delivers watch events asynchronously). */
async function settle(watcher: Member, reader: Member): Promise<void> {
  const view = await reader.loadCluster();
  const revisions = [view.config, view.failover, view.leader, view.sync, ...view.members]
    .map((x) => BigInt(x?.modRevision ?? "0"));
  const target = revisions.reduce((a, b) => (a > b ? a : b), 0n);
  const until = Date.now() + 5000;
  while (BigInt(watcher.seenRevision ?? "0") < target) {
    if (Date.now() > until) throw new Error(`watch did not reach revision ${target} within 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
let scopeCounter = 0;

async function realBackend(): Promise<Backend> {
  const etcd = await startEtcd({ members: 1 });
  const raw = new Etcd3({ hosts: etcd.endpoints });
  return {
    scope() {
      const scope = `c${++scopeCounter}`;
      const prefix = `${NAMESPACE}${scope}/`;
      const members: Member[] = [];
      return {
        prefix,
        member(name, ttl = 30) {
          const dcs = createEtcdDcs({
            etcd: { hosts: etcd.endpoints, protocol: "http" },
            namespace: NAMESPACE,
            scope,
            name,
            retryTimeout: 5,
            ttl,
          });
          members.push(dcs);
          return dcs;
        },
        rawGet: (rel) => raw.get(prefix + rel).string(),
        rawPut: async (rel, value) => void await raw.put(prefix + rel).value(value),
        async leaseTtl(id) {
          const res = await raw.leaseClient.leaseTimeToLive({ ID: id });
          return Number(res.TTL) < 0 ? null : Number(res.grantedTTL);
        },
        async passTime(ttl, check) {
          const until = Date.now() + (ttl + 5) * 1000;
          while (!(await check())) {
            if (Date.now() > until) throw new Error(`condition not met within ${ttl + 5} s`);
            await new Promise((r) => setTimeout(r, 100));
          }
        },
        close: async () => void await Promise.all(members.map((m) => m.close())),
      };
    },
    async close() {
      raw.close();
      await etcd.stop();
    },
  };
}

function memoryBackend(): Promise<Backend> {
  let clock = 0;
  const etcd = new MemoryEtcd({ now: () => clock });
  return Promise.resolve({
    scope() {
      const scope = `c${++scopeCounter}`;
      const prefix = `${NAMESPACE}${scope}/`;
      const members: Member[] = [];
      return {
        prefix,
        member(name, ttl = 30) {
          const dcs = new MemoryDcs(etcd, { namespace: NAMESPACE, scope, name, ttl });
          members.push(dcs);
          return dcs;
        },
        rawGet: (rel) => Promise.resolve(etcd.get("test", prefix + rel)?.value ?? null),
        rawPut: (rel, value) => Promise.resolve(etcd.put("test", prefix + rel, value)),
        leaseTtl: (id) => Promise.resolve(etcd.leaseInfo(id)?.ttl ?? null),
        async passTime(ttl, check) {
          clock += (ttl + 1) * 1000;
          etcd.advance();
          assert.ok(await check(), `condition not met after ${ttl + 1} virtual seconds`);
        },
        close: async () => void await Promise.all(members.map((m) => m.close())),
      };
    },
    close: () => Promise.resolve(),
  });
}

const replica: MemberRecord = {
  conn_url: "postgres://10.0.0.12:5432/postgres",
  api_url: "http://10.0.0.12:8008/patroni",
  state: "running",
  role: "replica",
  version: "0.1.0",
  xlog_location: 83886176,
  replay_lsn: 83886176,
  receive_lsn: 83886176,
  replication_state: "streaming",
  timeline: 2,
};

type Case = [string, (s: Scope) => Promise<void>];

const cases: Case[] = [
  ["exactly one of two racing members takes the leader key", async (s) => {
    const [a, b] = [s.member("pg1"), s.member("pg2")];
    await Promise.all([a.refreshLease(30), b.refreshLease(30)]);
    const won = await Promise.all([a.attemptToAcquireLeader(), b.attemptToAcquireLeader()]);
    assert.equal(won.filter(Boolean).length, 1);
    const winner = won[0] ? "pg1" : "pg2";
    assert.equal(await s.rawGet("leader"), winner);
    const view = await a.loadCluster();
    assert.equal(view.leader?.name, winner);
    assert.equal(await (won[0] ? b : a).attemptToAcquireLeader(), false);
  }],
  ["updateLeader is true for the holder and false for the other member", async (s) => {
    const [a, b] = [s.member("pg1"), s.member("pg2")];
    await a.refreshLease(30);
    await b.refreshLease(30);
    assert.equal(await a.attemptToAcquireLeader(), true);
    assert.equal(await a.updateLeader(), true);
    assert.equal(await b.updateLeader(), false);
    assert.equal(await s.rawGet("leader"), "pg1");
  }],
  ["only the holder can delete the leader key", async (s) => {
    const [a, b] = [s.member("pg1"), s.member("pg2")];
    assert.equal(await a.attemptToAcquireLeader(), true);
    assert.equal(await b.deleteLeader(), false);
    assert.equal(await s.rawGet("leader"), "pg1");
    assert.equal(await a.deleteLeader(), true);
    assert.equal(await s.rawGet("leader"), null);
    assert.equal(await b.attemptToAcquireLeader(), true);
  }],
  ["the leader key disappears when the holder stops renewing its lease", async (s) => {
    const a = s.member("pg1", 2);
    const b = s.member("pg2", 2);
    assert.equal(await a.refreshLease(2), true);
    assert.equal(await a.attemptToAcquireLeader(), true);
    await a.touchMember(replica);
    await s.passTime(2, async () => (await b.loadCluster()).leader === null);
    const view = await b.loadCluster();
    assert.deepEqual(view.members, []);
    assert.equal(await b.attemptToAcquireLeader(), true);
    // The old holder learns it lost the lock and that its lease had expired.
    assert.equal(await a.updateLeader(), false);
    assert.equal(await a.refreshLease(2), true);
  }],
  ["refreshLease reports an expired lease and grants a new one", async (s) => {
    const a = s.member("pg1", 2);
    const b = s.member("pg2", 2);
    await a.refreshLease(2);
    await a.attemptToAcquireLeader();
    await s.passTime(2, async () => (await b.loadCluster()).leader === null);
    assert.equal(await a.refreshLease(2), false);
    assert.equal(await a.refreshLease(2), true);
  }],
  ["a leader key under our name but a dead lease moves to the live lease by CAS", async (s) => {
    await s.rawPut("leader", "pg1"); // no lease: as left by an earlier incarnation
    const a = s.member("pg1");
    const b = s.member("pg2");
    assert.equal(await b.updateLeader(), false);
    assert.equal(await a.updateLeader(), true);
    const view = await a.loadCluster();
    assert.equal(view.leader?.name, "pg1");
    assert.notEqual(view.leader?.lease, "0");
    assert.equal(await a.updateLeader(), true);
  }],
  [
    "moveLease(ttl, leader) moves the leader key and the member key to a lease of the new ttl, then revokes the old one",
    async (s) => {
      const [a, b] = [s.member("pg1", 10), s.member("pg2", 10)];
      await a.refreshLease(10);
      await a.touchMember(replica);
      assert.equal(await a.attemptToAcquireLeader(), true);
      assert.deepEqual(a.heldLease(), { requestedTtl: 10, ttl: 10 });
      const before = (await b.loadCluster()).leader!;
      // A refresh with another ttl keeps the lease that holds the key.
      assert.equal(await a.refreshLease(30), true);
      assert.deepEqual(a.heldLease(), { requestedTtl: 10, ttl: 10 });
      assert.equal(await b.moveLease(30, true), false, "not pg2's key: nothing moves");
      assert.equal(await a.moveLease(30, true), true);
      assert.deepEqual(a.heldLease(), { requestedTtl: 30, ttl: 30 });
      const after = await b.loadCluster();
      assert.equal(after.leader?.name, "pg1");
      assert.equal(after.leader?.createRevision, before.createRevision, "the same term");
      assert.notEqual(after.leader?.lease, before.lease);
      assert.equal(after.members[0]!.lease, after.leader?.lease, "the member key moved with it");
      assert.equal(await s.leaseTtl(after.leader!.lease), 30, "the key's lease, as etcd granted it");
      assert.equal(await s.leaseTtl(before.lease), null, "the old lease was revoked");
      assert.equal(await a.updateLeader(), true);
    },
  ],
  ["moveLease(ttl, leader) is refused for a key of another term and keeps the lease held", async (s) => {
    const a = s.member("pg1", 10);
    await a.refreshLease(10);
    assert.equal(await a.attemptToAcquireLeader(), true);
    await s.rawPut("leader", "pg9"); // taken over in between (as by an operator's hand)
    assert.equal(await a.moveLease(30, true), false);
    assert.deepEqual(a.heldLease(), { requestedTtl: 10, ttl: 10 });
    assert.equal(await s.rawGet("leader"), "pg9");
    // Without the leader key, only the member key moves.
    await a.touchMember(replica);
    assert.equal(await a.moveLease(30, false), true);
    assert.deepEqual(a.heldLease(), { requestedTtl: 30, ttl: 30 });
    const view = await a.loadCluster();
    assert.equal(view.members[0]!.name, "pg1");
  }],
  [
    "dropLease() stops renewing the lease: a leader key left on it expires, the member key moves to a new lease",
    async (s) => {
      const a = s.member("pg1", 2);
      const b = s.member("pg2", 2);
      await a.refreshLease(2);
      await a.touchMember(replica);
      assert.equal(await a.attemptToAcquireLeader(), true);
      const before = (await b.loadCluster()).leader!;
      a.dropLease();
      assert.equal(a.heldLease(), null);
      // The member goes on with its cycles: each renewal now keeps a new lease, never the one the key hangs on.
      await s.passTime(2, async () => {
        await a.refreshLease(2);
        await a.touchMember(replica);
        return (await b.loadCluster()).leader === null;
      });
      const view = await b.loadCluster();
      assert.equal(view.leader, null, "the key expired with the dropped lease");
      assert.equal(view.members[0]?.name, "pg1", "the member key lives on the new lease");
      assert.notEqual(view.members[0]?.lease, before.lease);
    },
  ],
  ["exactly one member wins the initialize race", async (s) => {
    const [a, b] = [s.member("pg1"), s.member("pg2")];
    const won = await Promise.all([a.initialize(true, ""), b.initialize(true, "")]);
    assert.equal(won.filter(Boolean).length, 1);
    assert.equal(await s.rawGet("initialize"), "");
    assert.equal(await a.initialize(false, "7393828465826342947"), true);
    assert.equal(await s.rawGet("initialize"), "7393828465826342947");
    assert.equal((await b.loadCluster()).initialize, "7393828465826342947");
    await b.cancelInitialization();
    assert.equal((await b.loadCluster()).initialize, null);
  }],
  ["setConfig with a stale mod revision loses", async (s) => {
    const a = s.member("pg1");
    assert.equal(await a.setConfig({ ttl: 30, loop_wait: 10 }, "0"), true);
    assert.equal(await a.setConfig({ ttl: 31 }, "0"), false);
    const first = (await a.loadCluster()).config!;
    assert.deepEqual(first.value, { ttl: 30, loop_wait: 10 });
    assert.equal(await a.setConfig({ ttl: 40, loop_wait: 10 }, first.modRevision), true);
    assert.equal(await a.setConfig({ ttl: 50, loop_wait: 10 }, first.modRevision), false);
    assert.equal(await s.rawGet("config"), '{"ttl":40,"loop_wait":10}');
    assert.equal(await a.setConfig({ ttl: 60 }), true);
    assert.equal(await s.rawGet("config"), '{"ttl":60}');
  }],
  ["setFailover honours its CAS and writes Patroni's JSON", async (s) => {
    const a = s.member("pg1");
    assert.equal(await a.setFailover({ leader: "pg1", member: "pg2" }, "0"), true);
    assert.equal(await s.rawGet("failover"), '{"leader":"pg1","member":"pg2"}');
    const f = (await a.loadCluster()).failover!;
    assert.equal(f.leader, "pg1");
    assert.equal(f.member, "pg2");
    assert.equal(await a.setFailover({}, "1"), false);
    assert.equal(await a.setFailover({}, f.modRevision), true);
    assert.equal((await a.loadCluster()).failover, null);
  }],
  ["writeSync/deleteSync honour their CAS and write Patroni's JSON", async (s) => {
    const a = s.member("pg1");
    assert.equal(await a.writeSync("pg1", [], 0, null), true);
    assert.equal(await s.rawGet("sync"), '{"leader":"pg1","quorum":0,"sync_standby":null}');
    assert.equal(await a.writeSync("pg1", ["pg2"], 0, null), false, "the key exists");
    const first = (await a.loadCluster()).sync!;
    assert.equal(await a.writeSync("pg1", ["pg3", "pg2"], 0, first.modRevision), true);
    assert.equal(await s.rawGet("sync"), '{"leader":"pg1","quorum":0,"sync_standby":"pg2,pg3"}');
    assert.equal(await a.writeSync("pg1", [], 0, first.modRevision), false, "stale revision");
    const second = (await a.loadCluster()).sync!;
    assert.deepEqual(second.syncStandby, ["pg2", "pg3"]);
    assert.equal(await a.deleteSync(first.modRevision), false, "stale revision");
    assert.equal(await a.deleteSync(second.modRevision), true);
    assert.equal((await a.loadCluster()).sync, null);
  }],
  ["member keys round-trip with exactly Patroni's JSON and carry the lease", async (s) => {
    const a = s.member("pg1");
    await a.refreshLease(30);
    await a.touchMember(replica);
    assert.equal(
      await s.rawGet("members/pg1"),
      '{"conn_url":"postgres://10.0.0.12:5432/postgres","api_url":"http://10.0.0.12:8008/patroni",' +
        '"state":"running","role":"replica","version":"0.1.0","xlog_location":83886176,"replay_lsn":83886176,' +
        '"receive_lsn":83886176,"replication_state":"streaming","timeline":2}',
    );
    const view = await a.loadCluster();
    assert.equal(view.members.length, 1);
    assert.equal(view.members[0]!.name, "pg1");
    assert.deepEqual(view.members[0]!.data, replica);
    assert.notEqual(view.members[0]!.lease, "0");
    // Unchanged data and lease: no write (the mod revision stays).
    await a.touchMember({ ...replica });
    assert.equal((await a.loadCluster()).members[0]!.modRevision, view.members[0]!.modRevision);
    await a.touchMember({ ...replica, xlog_location: 83886200 });
    assert.notEqual((await a.loadCluster()).members[0]!.modRevision, view.members[0]!.modRevision);
  }],
  ["status and history are written in Patroni's formats, status only when changed", async (s) => {
    const a = s.member("pg1");
    await a.writeStatus(123);
    assert.equal(await s.rawGet("status"), '{"optime":123}');
    await a.writeStatus(456, { pg2: 400 });
    assert.equal(await s.rawGet("status"), '{"optime":456,"slots":{"pg2":400}}');
    const rev = (await a.loadCluster()).revision;
    await a.writeStatus(456, { pg2: 400 });
    assert.equal((await a.loadCluster()).revision, rev);
    await a.setHistory([[
      1,
      25165984,
      "no recovery target specified",
      "2024-06-01T10:00:00.123+00:00",
      "pg2",
    ]]);
    assert.equal(
      await s.rawGet("history"),
      '[[1,25165984,"no recovery target specified","2024-06-01T10:00:00.123+00:00","pg2"]]',
    );
    const view = await a.loadCluster();
    assert.deepEqual(view.status, { optime: 456, slots: { pg2: 400 }, retainSlots: [] });
    assert.equal(view.history?.length, 1);
  }],
  ["the leader key holds the plain member name", async (s) => {
    const a = s.member("pg1");
    await a.refreshLease(30);
    await a.attemptToAcquireLeader();
    assert.equal(await s.rawGet("leader"), "pg1");
  }],
  ["garbage in config and a member key yields problems, not an exception", async (s) => {
    const a = s.member("pg1");
    await s.rawPut("config", "{not json");
    await s.rawPut("members/pg9", "{not json");
    await s.rawPut("members/pg9/extra", "{}");
    await a.touchMember(replica);
    const view = await a.loadCluster();
    assert.ok(view.problems.some((p) => p.startsWith("config:")), view.problems.join("; "));
    assert.ok(view.problems.some((p) => p.startsWith("members/pg9:")), view.problems.join("; "));
    assert.deepEqual(view.config?.value, {});
    assert.deepEqual(view.members.map((m) => m.name), ["pg1"]);
  }],
  ["waitForChange wakes on a leader change and times out otherwise", async (s) => {
    const [a, b] = [s.member("pg1"), s.member("pg2")];
    await b.loadCluster();
    await b.refreshLease(30); // opens the watch
    assert.equal(await b.waitForChange(200), false);
    await a.refreshLease(30);
    assert.equal(await a.attemptToAcquireLeader(), true);
    assert.equal(await b.waitForChange(5000), true);
    assert.equal(await b.waitForChange(200), false);
    // Two changes before a wait are one wake.
    await a.setConfig({ ttl: 30 });
    await a.setFailover({ leader: "pg1", member: "pg2" });
    await settle(b, a);
    assert.equal(await b.waitForChange(5000), true);
    assert.equal(await b.waitForChange(200), false);
  }],
  ["an aborted waitForChange ends at once with false; a later change wakes the next wait", async (s) => {
    const [a, b] = [s.member("pg1"), s.member("pg2")];
    await b.loadCluster();
    await b.refreshLease(30); // opens the watch
    const interrupt = new AbortController();
    const waiting = b.waitForChange(60_000, interrupt.signal);
    interrupt.abort();
    assert.equal(await waiting, false);
    await a.refreshLease(30);
    assert.equal(await a.attemptToAcquireLeader(), true);
    await settle(b, a);
    assert.equal(await b.waitForChange(5000), true);
    assert.equal(await b.waitForChange(200), false);
  }],
  ["close revokes the lease, dropping the member and leader keys", async (s) => {
    const a = s.member("pg1");
    const b = s.member("pg2");
    await a.refreshLease(30);
    await a.touchMember(replica);
    await a.attemptToAcquireLeader();
    await a.close();
    const view = await b.loadCluster();
    assert.equal(view.leader, null);
    assert.deepEqual(view.members, []);
  }],
];

function contract(
  label: string,
  backend: () => Promise<Backend>,
  options: Partial<Deno.TestDefinition> = {},
) {
  Deno.test({
    name: `Dcs contract (${label})`,
    ...options,
    async fn(t) {
      const b = await backend();
      try {
        for (const [name, body] of cases) {
          await t.step(name, async () => {
            const scope = b.scope();
            try {
              await body(scope);
            } finally {
              await scope.close();
            }
          });
        }
      } finally {
        await b.close();
      }
    },
  });
}

contract("MemoryDcs", memoryBackend);
contract("EtcdDcs on a real etcd", realBackend);

Deno.test("EtcdDcs fails with a DcsError within retry_timeout when etcd is unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const dcs = createEtcdDcs({
    etcd: { hosts: [`http://127.0.0.1:${port}`], protocol: "http", username: "root", password: "s3cret-pw" },
    namespace: NAMESPACE,
    scope: "down",
    name: "pg1",
    retryTimeout: 1,
    ttl: 30,
  });
  const started = Date.now();
  const err = await dcs.loadCluster().then(() => null, (e: unknown) => e);
  assert.ok(err instanceof DcsError, String(err));
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  assert.ok(!err.message.includes("s3cret-pw"));
  await assert.rejects(dcs.refreshLease(30), DcsError);
  assert.equal(await dcs.waitForChange(50), false);
  await dcs.close();
});

Deno.test("EtcdDcs calls are bounded by retry_timeout when etcd accepts connections but never answers", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  const dcs = createEtcdDcs({
    etcd: { hosts: [`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`], protocol: "http" },
    namespace: NAMESPACE,
    scope: "silent",
    name: "pg1",
    retryTimeout: 1,
    ttl: 30,
  });
  try {
    for (
      const call of [() => dcs.loadCluster(), () => dcs.refreshLease(30), () => dcs.attemptToAcquireLeader()]
    ) {
      const started = Date.now();
      await assert.rejects(call(), DcsError);
      const took = Date.now() - started;
      assert.ok(took < 2500, `took ${took} ms`);
    }
  } finally {
    await dcs.close();
    listener.close();
    for (const conn of conns) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test("MemoryDcs: a partitioned member gets DcsError and its lease expires; healing restores it", async () => {
  let clock = 0;
  const etcd = new MemoryEtcd({ now: () => clock });
  const a = new MemoryDcs(etcd, { namespace: NAMESPACE, scope: "p", name: "pg1", ttl: 30 });
  const b = new MemoryDcs(etcd, { namespace: NAMESPACE, scope: "p", name: "pg2", ttl: 30 });
  await a.refreshLease(30);
  assert.equal(await a.attemptToAcquireLeader(), true);
  await b.loadCluster();
  await b.refreshLease(30);
  etcd.partition("pg1", true);
  await assert.rejects(a.updateLeader(), DcsError);
  await assert.rejects(a.loadCluster(), DcsError);
  clock += 31_000;
  await b.refreshLease(30);
  assert.equal(await b.waitForChange(1000), true);
  assert.equal((await b.loadCluster()).leader, null);
  assert.equal(await b.attemptToAcquireLeader(), true);
  etcd.partition("pg1", false);
  assert.equal(await a.updateLeader(), false);
  assert.equal(await a.waitForChange(0), true);
  await a.close();
  await b.close();
});

Deno.test("startEtcd({members: 3}) runs a cluster that EtcdDcs keeps using when one member dies", async () => {
  const etcd = await startEtcd({ members: 3 });
  const dcs = createEtcdDcs({
    etcd: { hosts: etcd.endpoints, protocol: "http" },
    namespace: NAMESPACE,
    scope: "three",
    name: "pg1",
    retryTimeout: 5,
    ttl: 30,
  });
  try {
    assert.equal(etcd.endpoints.length, 3);
    await dcs.refreshLease(30);
    assert.equal(await dcs.attemptToAcquireLeader(), true);
    await etcd.kill(0);
    for (let i = 0; i < 5; i++) {
      assert.equal(await dcs.updateLeader(), true);
      assert.equal((await dcs.loadCluster()).leader?.name, "pg1");
    }
    await etcd.restart(0);
    assert.equal(await dcs.updateLeader(), true);
  } finally {
    await dcs.close();
    await etcd.stop();
  }
  assert.equal(await Deno.stat(etcd.dir).then(() => true, () => false), false);
});

Deno.test("EtcdDcs authenticates with username/password and keeps the password out of errors", async () => {
  await using etcd = await startEtcd({ members: 1 });
  const etcdctl = async (...args: string[]) => {
    const out = await new Deno.Command("etcdctl", {
      args: [`--endpoints=${etcd.endpoints[0]}`, ...args],
      env: { ETCDCTL_API: "3" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  };
  await etcdctl("user", "add", "root:r00t-pw");
  await etcdctl("auth", "enable");
  const make = (password: string) =>
    createEtcdDcs({
      etcd: { hosts: etcd.endpoints, protocol: "http", username: "root", password },
      namespace: NAMESPACE,
      scope: "auth",
      name: "pg1",
      retryTimeout: 3,
      ttl: 30,
    });
  const good = make("r00t-pw");
  const bad = make("wr0ng-pw");
  try {
    await good.refreshLease(30);
    assert.equal(await good.attemptToAcquireLeader(), true);
    assert.equal((await good.loadCluster()).leader?.name, "pg1");
    const err = await bad.loadCluster().then(() => null, (e: unknown) => e);
    assert.ok(err instanceof DcsError, String(err));
    assert.ok(!err.message.includes("wr0ng-pw"), err.message);
  } finally {
    await good.close();
    await bad.close();
  }
});
