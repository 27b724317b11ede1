/**
 * The watchdog end to end, with Patroni's testing driver: two agents in `watchdog.mode: required`, pg1 with a
 * FIFO the test reads (src/host/watchdog.ts `TestingWatchdogDevice`, tests/helpers/watchdog_fifo.ts) and pg2 with a
 * device that does not exist. In one cluster, in order:
 *
 * 1. pg1 leads; its watchdog is pinged with timeout ttl 12 - safety_margin 5 = 7; pg2 follows and reports
 *    `watchdog_failed: true` in GET /patroni.
 * 2. `PATCH /config {"ttl": 11}`: the timeout becomes 6.
 * 3. pause closes the watchdog (`V`); SIGTERM in pause leaves Postgres running and the leader key in place, and
 *    a new agent takes them over; resume opens the watchdog again and pings.
 * 4. SIGTERM of pg1's agent closes it; pg2 does not take the free key; a new pg1 agent leads again.
 * 5. SIGSTOP of pg1's agent: the pings stop and the device fires before the leader key expires; pg2 never takes
 *    the key, even after it expired. After SIGCONT pg1's log says the watchdog fired.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { formCluster } from "../helpers/cluster.ts";
import { stopAgent } from "../helpers/processes.ts";
import { FifoWatchdog } from "../helpers/watchdog_fifo.ts";
import { type LeaderWatch, watchLeaderKey } from "../helpers/writer.ts";
import {
  type MemberLayout,
  readHealth,
  waitFor,
  waitHealthy,
  withSql,
} from "../../scripts/lib/local_cluster.ts";

const SCOPE = "wdtest";

async function patroni(m: MemberLayout): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${m.apiPort}/patroni`, { signal: AbortSignal.timeout(3000) });
  return await res.json();
}

/** One series' value in a member's `GET /metrics` (the metric's only series, whatever its labels), or null. */
async function metric(m: MemberLayout, name: string): Promise<number | null> {
  const text = await (await fetch(`http://127.0.0.1:${m.apiPort}/metrics`)).text();
  const line = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return line ? Number(line[1]) : null;
}

async function patchConfig(m: MemberLayout, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${m.apiPort}/config`, {
    method: "PATCH",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, text);
}

/** Replace the layout's `watchdog: {mode: off}` section of a member's YAML. */
async function setWatchdog(m: MemberLayout, yaml: string): Promise<void> {
  const text = await Deno.readTextFile(m.configPath);
  const old = "watchdog:\n  mode: off\n";
  assert.ok(text.includes(old), "the layout writes watchdog mode off");
  await Deno.writeTextFile(m.configPath, text.replace(old, yaml));
}

const countIn = async (path: string, re: RegExp) =>
  ((await Deno.readTextFile(path).catch(() => "")).match(new RegExp(re.source, "g")) ?? []).length;

Deno.test({
  name:
    "watchdog: pinged by the leader, follows ttl, closed in pause and at shutdown, fires when the agent freezes",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // pg1's watchdog FIFO and the leader watch: made before the agents start, closed once they have stopped.
    const made: { fifo?: FifoWatchdog; watch?: LeaderWatch } = {};
    // 1. pg1 leads (pg2 cannot: it neither bootstraps nor races), pings with timeout 12 - 5.
    await using c = await formCluster({ ttl: 12, loopWait: 2, retryTimeout: 4 }, SCOPE, {
      etcdMembers: 1,
      members: 2,
      dirPrefix: "hactl-wd-",
      formDeadlineMs: 90_000,
      beforeStart: async ([pg1, pg2], layout) => {
        made.fifo = await FifoWatchdog.create(`${layout.dir}/pg1.watchdog`);
        await setWatchdog(
          pg1!,
          `watchdog:\n  mode: required\n  driver: testing\n  device: ${made.fifo.path}\n`,
        );
        await setWatchdog(
          pg2!,
          `watchdog:\n  mode: required\n  driver: testing\n  device: ${layout.dir}/no-such-device\n`,
        );
        made.watch = await watchLeaderKey(layout.etcdEndpoints, SCOPE);
      },
      afterStop: async () => {
        await made.watch?.close();
        await made.fifo?.[Symbol.asyncDispose]();
      },
    });
    const [pg1, pg2] = c.members as [MemberLayout, MemberLayout];
    const { agents, layout } = c;
    const fifo = made.fifo!;
    const watch = made.watch!;
    let frozen = false;
    try {
      assert.equal(c.leader.name, "pg1");
      await waitFor("a watchdog ping", 10_000, () => Promise.resolve(fifo.count("ping") > 0));
      assert.equal(fifo.timeout, 7, fifo.describe());
      assert.ok(!fifo.closed);
      assert.equal((await patroni(pg2)).watchdog_failed, true);
      assert.equal((await patroni(pg1)).watchdog_failed, undefined);
      assert.match(
        await Deno.readTextFile(pg2.logPath),
        /WARNING: the watchdog is required but not usable: .*no-such-device.*; this member will not lead/,
      );
      // /metrics says what runs: the leader's watchdog and fence timer are armed, pg2's watchdog is not.
      assert.deepEqual(
        await Promise.all(
          ["hactl_watchdog_required", "hactl_watchdog_armed", "hactl_fence_armed"].map((n) => metric(pg1, n)),
        ),
        [1, 1, 1],
      );
      assert.deepEqual(
        await Promise.all(["hactl_watchdog_armed", "hactl_fence_armed"].map((n) => metric(pg2, n))),
        [0, 0],
      );
      assert.ok(
        (await metric(pg1, 'hactl_dcs_call_duration_seconds_count\\{[^}]*op="lease keepalive"[^}]*\\}'))! > 0,
      );
      assert.ok((await metric(pg1, "hactl_ha_cycle_duration_seconds_count"))! > 0);

      // 2. The timeout follows a ttl change made through PATCH /config (applied at the next keepalive).
      await patchConfig(pg1, { ttl: 11 });
      await waitFor("the watchdog timeout 6", 15_000, () => Promise.resolve(fifo.timeout === 6));

      // 3. Pause closes the watchdog. SIGTERM in pause leaves Postgres running and the leader key in place; a new
      //    agent takes both over. Resume opens the watchdog again and pings it.
      await patchConfig(pg1, { pause: true });
      await waitFor("the magic close on pause", 15_000, () => Promise.resolve(fifo.closed));
      // In pause neither the watchdog nor the fence timer is armed, and /metrics says so.
      await waitFor(
        "hactl_watchdog_armed 0 and hactl_fence_armed 0 in pause",
        10_000,
        async () =>
          (await metric(pg1, "hactl_watchdog_armed")) === 0 && (await metric(pg1, "hactl_fence_armed")) === 0,
      );
      assert.equal((await stopAgent(agents.get("pg1")!, 30_000)).code, 0);
      agents.delete("pg1");
      assert.match(
        await Deno.readTextFile(pg1.logPath),
        /Leader key is not deleted and Postgresql is not shutdown/,
      );
      assert.equal((await readHealth(layout)).leader, "pg1", "the paused leader's key outlives its agent");
      assert.equal(
        await withSql(pg1, async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r),
        false,
      );
      await c.spawn("pg1");
      await waitFor(
        "the new agent holding the key in pause",
        20_000,
        async () =>
          /PAUSE: no action\. I am \(pg1\), the leader with the lock/.test(
            (await Deno.readTextFile(pg1.logPath)).split("hactl agent stopped").at(-1)!,
          ),
      );
      const resumed = performance.now();
      await patchConfig(pg1, { pause: null });
      await waitFor("pings after resume", 15_000, () => Promise.resolve(fifo.count("ping", resumed) > 0));
      assert.ok(fifo.count("timeout", resumed) > 0, "the timeout is set again on activation");
      assert.equal(fifo.timeout, 6);

      // 4. A graceful shutdown closes it; pg2 does not take the key; a new agent on pg1 leads again.
      const shutdownAt = performance.now();
      assert.equal((await stopAgent(agents.get("pg1")!, 30_000)).code, 0);
      agents.delete("pg1");
      await waitFor(
        "the magic close on shutdown",
        5_000,
        () => Promise.resolve(fifo.count("close", shutdownAt) > 0),
      );
      const refusals = await countIn(
        pg2.logPath,
        /not taking the leader key because the watchdog is required/,
      );
      await waitFor(
        "pg2 refusing the free key",
        20_000,
        async () =>
          await countIn(pg2.logPath, /not taking the leader key because the watchdog is required/) > refusals,
      );
      assert.equal((await readHealth(layout)).leader, null);
      const restarted = performance.now();
      await c.spawn("pg1");
      await waitHealthy(layout, 1, 60_000);
      await waitFor(
        "pings from the new agent",
        10_000,
        () => Promise.resolve(fifo.count("ping", restarted) > 0),
      );

      // 5. Freeze pg1's agent: the pings stop and the device fires before the lease runs out.
      const agent = agents.get("pg1")!;
      const frozenAt = performance.now();
      agent.kill("SIGSTOP");
      frozen = true;
      const firedAt = await waitFor("the watchdog to fire", 30_000, () => Promise.resolve(fifo.firedAt()));
      const heldWhenFired = (await readHealth(layout)).leader;
      assert.equal(heldWhenFired, "pg1", "the leader key is still pg1's when the watchdog fires");
      const expiry = await waitFor(
        "the frozen leader's key to expire",
        30_000,
        () => Promise.resolve(watch.firstAfter(frozenAt, (e) => e.type === "delete")),
      );
      assert.ok(firedAt < expiry.at, `fired ${((expiry.at - firedAt) / 1000).toFixed(1)} s before expiry`);
      // pg2 keeps refusing the free key for a few cycles after the expiry.
      const before = await countIn(pg2.logPath, /not taking the leader key because the watchdog is required/);
      await waitFor(
        "pg2 refusing the expired key",
        20_000,
        async () =>
          await countIn(pg2.logPath, /not taking the leader key because the watchdog is required/) >=
            before + 2,
      );
      assert.ok(
        !watch.events.some((e) => e.type === "put" && e.value === "pg2"),
        "pg2 never took the leader key",
      );

      // Thawed, pg1 notices the keepalive gap and says the watchdog fired, then closes it.
      agent.kill("SIGCONT");
      frozen = false;
      await waitFor(
        "pg1 to log that the watchdog fired",
        20_000,
        async () => /past the 6 s timeout: the watchdog fired/.test(await Deno.readTextFile(pg1.logPath)),
      );
      // deno-lint-ignore no-console -- figures for the closing note
      console.log(JSON.stringify({
        freeze_to_watchdog_fired_s: +((firedAt - frozenAt) / 1000).toFixed(2),
        watchdog_fired_before_expiry_s: +((expiry.at - firedAt) / 1000).toFixed(2),
      }));
    } catch (err) {
      // deno-lint-ignore no-console -- what the FIFO saw, for the failure report
      console.log(`watchdog FIFO: ${fifo.describe()}`);
      for (const m of [pg1, pg2]) {
        // deno-lint-ignore no-console -- the agents' logs, for the failure report
        console.log(
          `--- ${m.name} ---\n${(await Deno.readTextFile(m.logPath).catch(() => "")).slice(-6000)}`,
        );
      }
      throw err;
    } finally {
      // Thawed before the cluster is disposed, so that SIGTERM stops it.
      if (frozen) agents.get("pg1")?.kill("SIGCONT");
    }
  },
});
