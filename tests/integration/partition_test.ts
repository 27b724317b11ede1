/**
 * The primary cut off from etcd, for real: a 3-member etcd, three `hactl agent` processes with PostgreSQL 15 at
 * ttl 10 / loop_wait 2 / retry_timeout 4, each agent reaching each etcd member only through a TCP proxy of its own
 * (tests/helpers/tcp_proxy.ts). The writer inserts into every member every 20 ms (tests/helpers/writer.ts); then
 * the primary's proxies are cut, while its Postgres stays reachable by clients and replicas. The scenario lives in
 * scripts/bench/failover.ts (`partition`), so the benchmark measures exactly what is tested.
 *
 * Also checks the proxy itself (cut, heal, blackhole) on a loopback echo server.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { figures, partitionScenario } from "../../scripts/bench/failover.ts";
import { formCluster, type LocalCluster, type Timing } from "../helpers/cluster.ts";
import { fenceMarginMs, leaseMs } from "../../src/core/settings.ts";
import { describeOverlaps } from "../helpers/writer.ts";
import { startProxy } from "../helpers/tcp_proxy.ts";

const TIMING: Timing = { ttl: 10, loopWait: 2, retryTimeout: 4 };

/** Form a proxied cluster, run `body`, dump the agent logs when it fails; the cluster is always torn down. */
async function onCluster(label: string, body: (c: LocalCluster) => Promise<void>): Promise<void> {
  await using c = await formCluster(TIMING, label, { proxied: true });
  try {
    await body(c);
  } catch (err) {
    await c.dumpLogs(label);
    throw err;
  }
}

for (const mode of ["refuse", "blackhole"] as const) {
  Deno.test({
    name:
      `partition (${mode}): the primary cut off from etcd stops taking writes before its lease expires, ` +
      "a replica takes over, the old primary rejoins after the heal",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      await onCluster(`partition-${mode}`, async (c) => {
        const r = await partitionScenario(c, { rejoinDeadlineMs: 30_000, mode });
        // deno-lint-ignore no-console -- the measured figures are worth seeing in CI logs
        console.log(`partition-${mode}: ${JSON.stringify(figures(r))}`);
        assert.deepEqual(r.overlaps, [], `two writable primaries: ${describeOverlaps(r.overlaps, r.t0)}`);
        assert.notEqual(r.newLeader, r.oldLeader);
        // Nobody could delete the old leader's key (its agent cannot reach etcd): the delete is the lease expiry.
        assert.notEqual(r.cutToExpiryMs, null, "the leader key's expiry was not seen");
        assert.ok(
          r.cutToExpiryMs! <= (TIMING.ttl + 1) * 1000,
          `the lease outlived its ttl: expiry ${r.cutToExpiryMs} ms after the cut`,
        );
        // The new primary acknowledged no write before the old lease expired, and took the key within a cycle or
        // two of the expiry.
        assert.ok(
          r.expiryToFirstWriteMs! > 0,
          `${r.newLeader} acknowledged a write ${-r.expiryToFirstWriteMs!} ms before the old lease expired`,
        );
        const takeoverBoundMs = (TIMING.loopWait + TIMING.retryTimeout) * 1000 + 10_000;
        assert.ok(
          r.expiryToLeaderMs! <= takeoverBoundMs,
          `${r.newLeader} took the key ${r.expiryToLeaderMs} ms after the old lease expired (bound ${takeoverBoundMs})`,
        );
        // The safety property: the old primary's last acknowledged write came before its lease expired ...
        assert.notEqual(r.lastOldAckToExpiryMs, null, `${r.oldLeader} acknowledged no write at all`);
        assert.ok(
          r.lastOldAckToExpiryMs! > 0,
          `${r.oldLeader} acknowledged a write ${-r.lastOldAckToExpiryMs!} ms after its lease expired`,
        );
        // ... and no later than its fence deadline (last renewal <= the cut, + ttl - margin), plus 1 s to stop.
        const fenceBoundMs = leaseMs(TIMING) - fenceMarginMs(TIMING) + 1000;
        assert.ok(
          r.cutToLastOldAckMs! <= fenceBoundMs,
          `${r.oldLeader} acknowledged writes until ${r.cutToLastOldAckMs} ms after the cut ` +
            `(fence bound ${fenceBoundMs} ms)`,
        );
        assert.notEqual(
          r.oldPrimaryStop,
          "unknown",
          `${r.oldLeader}'s log names neither a demotion nor the fence`,
        );
        assert.ok(
          r.expiryToFirstWriteMs! < 5000,
          `first write on ${r.newLeader} ${r.expiryToFirstWriteMs} ms after the expiry`,
        );
        assert.notEqual(
          r.otherReplicaStreamingMs,
          null,
          `the other replica does not stream from ${r.newLeader}: ${r.otherReplicaState}`,
        );
        assert.notEqual(
          r.healToStreamingMs,
          null,
          `${r.oldLeader} does not stream from ${r.newLeader} within 30 s of the heal: ${r.rejoinState}`,
        );
      });
    },
  });
}

/** An echo server on loopback; `close()` waits for its connections to end. */
function startEcho(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const served: Promise<void>[] = [];
  const loop = (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      conns.add(conn);
      served.push(conn.readable.pipeTo(conn.writable).catch(() => {}).finally(() => conns.delete(conn)));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed by its pipe
        }
      }
      await Promise.all(served);
    },
  };
}

/** Send `text` and read the echo, or "closed"/"timeout". */
async function roundTrip(conn: Deno.Conn, text: string, timeoutMs = 300): Promise<string> {
  const buf = new Uint8Array(64);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await conn.write(new TextEncoder().encode(text));
    const n = await Promise.race([
      conn.read(buf),
      new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), timeoutMs))),
    ]);
    if (n === "timeout") return "timeout";
    return n === null ? "closed" : new TextDecoder().decode(buf.subarray(0, n));
  } catch {
    return "closed";
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("tcp proxy: forwards, cut closes and refuses, blackhole drops, heal restores", async () => {
  const echo = startEcho();
  try {
    await using proxy = await startProxy({ hostname: "127.0.0.1", port: echo.port });
    const open = () => Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    const a = await open();
    assert.equal(await roundTrip(a, "hello"), "hello");
    proxy.cut();
    assert.equal(await roundTrip(a, "x"), "closed", "an open connection is closed by cut()");
    a.close();
    const b = await open();
    assert.equal(await roundTrip(b, "x"), "closed", "a new connection is refused while cut");
    b.close();
    proxy.heal();
    const d = await open();
    assert.equal(await roundTrip(d, "again"), "again");
    proxy.cut({ mode: "blackhole" });
    assert.equal(await roundTrip(d, "lost"), "timeout", "a blackholed connection stays open and silent");
    const e = await open();
    assert.equal(await roundTrip(e, "lost"), "timeout", "a new connection is held silently");
    proxy.heal();
    assert.equal(await roundTrip(d, "x"), "closed", "heal() closes the blackholed connections");
    d.close();
    e.close();
    const f = await open();
    assert.equal(await roundTrip(f, "back"), "back");
    f.close();
    await assert.rejects(() => startProxy({ hostname: "10.0.0.1", port: 1 }), /loopback/);
  } finally {
    await echo.close();
  }
});
