/**
 * `hactl switchover`/`failover` after the request: the topology is read again (not the one from before the
 * switchover), and `--wait` watches etcd until the new leader runs as primary and the old one streams, printing
 * each state change once (a rewritten status line on a terminal), and exits 1 with the last state seen when it
 * runs out of time.
 */
import assert from "node:assert/strict";
import { run, type SwitchoverDeps } from "../../cli/switchover.ts";
import { switchoverProgress } from "../../cli/lib/switchover_wait.ts";
import type { ClusterView, Member } from "../../src/core/types.ts";
import { ctlMember, ctlView } from "../helpers/ctl_cluster.ts";

const BEFORE = ctlView({ members: [ctlMember("pg1"), ctlMember("pg2", { replication_state: "streaming" })] });

/** pg2 leads; pg1 is a replica in `oldState` (`replication_state` given, or none). */
function after(oldState: Partial<Member["data"]>, newState: Partial<Member["data"]> = {}): ClusterView {
  return ctlView({
    leader: { name: "pg2", createRevision: "5", modRevision: "5", lease: "2" },
    members: [
      ctlMember("pg1", { role: "replica", ...oldState }),
      ctlMember("pg2", { role: "primary", state: "running", ...newState }),
    ],
  });
}

/** A world whose etcd shows `views` one after the other (the last one for good) and whose clock moves on sleep. */
function world(views: ClusterView[], opts: { status?: number; tty?: boolean } = {}) {
  const out: string[] = [];
  let t = new Date(2026, 10, 26, 12, 0, 0).getTime();
  let reads = 0;
  const deps: SwitchoverDeps = {
    loadCluster: () => Promise.resolve(views[Math.min(reads++, views.length - 1)]!),
    post: () => Promise.resolve({ status: opts.status ?? 200, text: 'Successfully switched over to "pg2"' }),
    writeFailoverKey: () => Promise.resolve(),
    prompt: (_m, fallback) => fallback,
    confirm: () => true,
    out: (s) => void out.push(s),
    err: (s) => void out.push(s),
    now: () => new Date(t),
    sleep: (ms) => (t += ms, Promise.resolve()),
    isTerminal: () => opts.tty ?? false,
  };
  return { deps, text: () => out.join(""), reads: () => reads };
}

const ARGS = ["--dcs-url", "127.0.0.1:2379", "demo", "--candidate", "pg2", "--force"];

Deno.test("after a switchover the table shown is read again: pg2 leads in it", async () => {
  const w = world([BEFORE, after({ replication_state: "streaming" })]);
  assert.equal(await run("switchover", ARGS, {}, w.deps), 0);
  const [, afterwards] = w.text().split('Successfully switched over to "pg2"\n');
  assert.ok(afterwards, w.text());
  assert.match(afterwards, /\| pg2 +\| 10\.0\.0\.2 \| Leader /);
  assert.match(afterwards, /\| pg1 +\| 10\.0\.0\.1 \| Replica /);
});

Deno.test("switchover --wait prints each step once and ends when pg2 is primary and pg1 streams", async () => {
  const w = world([
    BEFORE, // the topology before
    BEFORE, // pg1 still holds the key
    after({ state: "stopped" }),
    after({ state: "stopped" }),
    after({ state: "running", replication_state: "in archive recovery" }),
    after({ state: "running", replication_state: "streaming" }),
  ]);
  assert.equal(await run("switchover", [...ARGS, "--wait"], {}, w.deps), 0);
  const text = w.text();
  assert.match(text, /Waiting up to 120 s for the switchover: new leader writable, pg1 streaming from it\n/);
  const steps = text.split("\n").filter((l) => /^\d\d:\d\d:\d\d /.test(l));
  assert.deepEqual(steps.map((l) => l.slice(9)), [
    "leader pg1 (waiting for pg2); pg1 primary running",
    "leader pg2; pg2 primary running; pg1 replica stopped",
    "leader pg2; pg2 primary running; pg1 replica running, in archive recovery",
    "leader pg2; pg2 primary running; pg1 replica running, streaming",
  ]);
  assert.match(text, /Switchover completed in 4\.0 s\n/);
  assert.ok(
    text.indexOf("Switchover completed") < text.lastIndexOf("| pg2 "),
    "the table comes after the wait",
  );
});

Deno.test("switchover --wait that runs out of time exits 1 with the last state; 0 with --patroni-compat", async () => {
  const stuck = [BEFORE, after({ state: "stopped" })];
  const w = world(stuck);
  assert.equal(await run("switchover", [...ARGS, "--wait", "--wait-timeout", "5"], {}, w.deps), 1);
  assert.match(
    w.text(),
    /Switchover did not complete within 5 s; last seen: leader pg2; pg2 primary running; pg1 replica stopped\n/,
  );
  assert.ok(w.reads() >= 5 && w.reads() <= 8, `polled about once a second: ${w.reads()} reads`);
  assert.equal(
    await run(
      "switchover",
      [...ARGS, "--wait", "--wait-timeout", "5", "--patroni-compat"],
      {},
      world(stuck).deps,
    ),
    0,
  );
});

Deno.test("switchover --wait on a terminal rewrites one status line and ends each state with a newline", async () => {
  const w = world([BEFORE, after({ state: "stopped" }), after({ replication_state: "streaming" })], {
    tty: true,
  });
  assert.equal(await run("switchover", [...ARGS, "--wait"], {}, w.deps), 0);
  const ESC = String.fromCharCode(27);
  assert.ok(
    w.text().includes(`\r${ESC}[2K12:00:00 leader pg2; pg2 primary running; pg1 replica stopped (0 s)\n`),
    JSON.stringify(w.text()),
  );
});

Deno.test("--wait is refused with --scheduled, and a bad --wait-timeout is a usage error naming it", async () => {
  const w = world([BEFORE]);
  assert.equal(
    await run("switchover", [...ARGS, "--wait", "--scheduled", "2030-01-01T00:00:00+00:00"], {}, w.deps),
    2,
  );
  assert.match(w.text(), /--wait cannot be used with --scheduled/);
  const bad = world([BEFORE]);
  assert.equal(await run("switchover", [...ARGS, "--wait", "--wait-timeout", "soon"], {}, bad.deps), 2);
  assert.match(bad.text(), /Invalid value for '--wait-timeout': 'soon'/);
});

Deno.test("switchoverProgress(): a failover without an old leader is done once the candidate is primary", () => {
  const noLeader = ctlView({ leader: null });
  assert.deepEqual(switchoverProgress(noLeader, null, "pg2"), { done: false, state: "no leader yet" });
  assert.equal(switchoverProgress(after({ state: "stopped" }), null, "pg2").done, true);
  assert.equal(switchoverProgress(after({}, { state: "starting" }), "pg1", "pg2").done, false);
  assert.equal(switchoverProgress(after({ replication_state: "streaming" }), "pg1", "pg3").done, false);
});
