/**
 * Interoperability with the real tools around Patroni, on one 3-member hactl cluster (real etcd, PostgreSQL 15):
 *
 * - Patroni 3.0.2's own `patronictl` (Debian's `patroni` package) with a minimal `patroni.yml` (scope, namespace,
 *   `etcd3.hosts`): `list` shows every member with its host, role, state, timeline and lag, also `-f json` and
 *   with a member's hactl YAML as its config; `switchover --force --leader --candidate` goes through the leader's
 *   `POST /switchover` (not patronictl's DCS fallback) and moves the leader, also right back to the former primary
 *   and without a candidate; `failover --candidate`; `pause --wait`/`resume --wait`; `dsn`, `topology`, `history`;
 *   `reinit --force --wait`; `edit-config -s synchronous_mode=true`, after which `list` (also `-f json`) shows the
 *   standby the leader's Postgres waits for as `Sync Standby` and `switchover --force` goes to it.
 * - HAProxy 2.6 configured as Patroni's docs recommend (`option httpchk OPTIONS /primary`,
 *   `http-check expect status 200`; `tests/helpers/haproxy.ts`): a client writing through it reaches the primary
 *   before and after the switchover, and every write it had acknowledged is on the new primary.
 * - vip-manager: Debian 12's vip-manager 1.0.2 reads the leader key through etcd's v2 API only, which cannot see
 *   v3 keys (neither Patroni's `etcd3:` keys nor hactl's), so it is not run. vip-manager 2.x reads the key with
 *   the v3 API (get, then watch; it holds the VIP when the value equals its `trigger-value`). This test does that
 *   same read with `etcdctl` (v3): a get of `<namespace>/<scope>/leader` names the leader, and a watch on the key
 *   reports every hand-over.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { formCluster, type LocalCluster } from "../helpers/cluster.ts";
import { type MemberLayout, waitFor, waitHealthy, withSql } from "../../scripts/lib/local_cluster.ts";
import { freePorts } from "../helpers/processes.ts";
import { STATUS_SQL, type StatusRow } from "../../src/pg/status.ts";
import { type Haproxy, startHaproxy, upServers } from "../helpers/haproxy.ts";
import { createWriteTable, longestGap, missingOn, startWriter } from "../helpers/writer.ts";

const SCOPE = "interop";
const NAMESPACE = "/service/";
const LEADER_KEY = `${NAMESPACE}${SCOPE}/leader`;
const PATRONICTL = "/usr/bin/patronictl";
const ETCDCTL = "/usr/bin/etcdctl";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(90_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function patronictl(config: string, ...args: string[]): Promise<Run> {
  // Patroni's own logging stays at WARNING unless asked; keep it that way whatever the environment says.
  return run(PATRONICTL, ["-c", config, ...args], { LOGLEVEL: "WARNING" });
}

function describe(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** One row of patronictl's pretty table, keyed by column title. */
type Row = Record<string, string>;

/**
 * The first member table in patronictl's pretty output: the title (`Cluster: <scope>`) and the rows keyed by the
 * header line's column titles. Lines that are not table lines (messages before or after it) are skipped.
 */
function parseMemberTable(text: string): { title: string; rows: Row[] } {
  const lines = text.split("\n");
  const top = lines.findIndex((l) => l.startsWith("+ Cluster: "));
  if (top < 0) throw new Error(`no member table in:\n${text}`);
  const title = lines[top]!.replace(/^\+ /, "").replace(/[ +-]+$/, "");
  const cells = (l: string) => l.split("|").slice(1, -1).map((c) => c.trim());
  const header = cells(lines[top + 1]!);
  const rows: Row[] = [];
  for (const line of lines.slice(top + 3)) {
    if (!line.startsWith("|")) break;
    const values = cells(line);
    rows.push(Object.fromEntries(header.map((h, i) => [h, values[i] ?? ""])));
  }
  return { title, rows };
}

/** The value of the leader key read the way vip-manager 2.x reads it: an etcd v3 get of the plain key. */
async function leaderKeyValue(endpoints: string[]): Promise<string> {
  const r = await run(ETCDCTL, [
    `--endpoints=${endpoints.join(",")}`,
    "get",
    LEADER_KEY,
    "--print-value-only",
  ], {
    ETCDCTL_API: "3",
  });
  assert.equal(r.code, 0, describe(r));
  return r.stdout.trim();
}

/** A running `etcdctl watch` on the leader key: the events it printed so far. */
interface KeyWatch {
  events(): { type: "PUT" | "DELETE"; value: string }[];
  stop(): Promise<void>;
}

function watchLeaderKey(endpoints: string[]): KeyWatch {
  const child = new Deno.Command(ETCDCTL, {
    args: [`--endpoints=${endpoints.join(",")}`, "watch", LEADER_KEY],
    env: { ETCDCTL_API: "3" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  const copied = (async () => {
    for await (const chunk of child.stdout) text += dec.decode(chunk);
  })().catch(() => {});
  return {
    // etcdctl prints each event as its type, the key, then the value (empty for a delete), one per line.
    events() {
      const lines = text.split("\n");
      const out: { type: "PUT" | "DELETE"; value: string }[] = [];
      for (let i = 0; i < lines.length; i++) {
        const type = lines[i];
        if ((type !== "PUT" && type !== "DELETE") || lines[i + 1] !== LEADER_KEY) continue;
        const value = lines[i + 2] ?? "";
        out.push({ type, value: value === "PUT" || value === "DELETE" ? "" : value });
      }
      return out;
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
      await copied;
    },
  };
}

/** Through a HAProxy listener: whether the server is in recovery and which port it serves. */
function probe(port: number): Promise<{ rec: boolean; port: number }> {
  return withSql({ pgPort: port }, async (sql) => {
    const [row] = await sql`SELECT pg_is_in_recovery() AS rec, inet_server_port() AS port`;
    return { rec: row!.rec as boolean, port: row!.port as number };
  });
}

/** Wait until patronictl lists `leader` as Leader and every other member as a running Replica on its timeline. */
function settledList(
  config: string,
  c: LocalCluster,
  leader: MemberLayout,
): Promise<{ rows: Row[]; raw: string }> {
  return waitFor<{ rows: Row[]; raw: string }>(
    `patronictl list with ${leader.name} leading and every replica caught up`,
    60_000,
    async () => {
      const r = await patronictl(config, "list");
      if (r.code !== 0) return { notYet: describe(r) };
      const { title, rows } = parseMemberTable(r.stdout);
      assert.equal(title, `Cluster: ${SCOPE}`);
      const lead = rows.find((row) => row.Role === "Leader");
      const ok = rows.length === c.members.length && lead?.Member === leader.name &&
        rows.every((row) =>
          row.State === "running" && row.TL === lead.TL &&
          (row === lead ? row["Lag in MB"] === "" : row.Role === "Replica" && row["Lag in MB"] === "0")
        );
      return ok ? { rows, raw: r.stdout } : { notYet: r.stdout };
    },
    500,
  );
}

/** The old primary streams WAL from the new one (asked of its own WAL receiver). */
function streamsFrom(replica: MemberLayout, primary: MemberLayout): Promise<true> {
  return waitFor(
    `${replica.name} streaming from ${primary.name}`,
    60_000,
    () =>
      withSql(replica, async (sql) => {
        const rows = await sql`SELECT status, sender_port FROM pg_stat_wal_receiver`;
        return rows[0]?.status === "streaming" && rows[0]?.sender_port === primary.pgPort ? true as const : {
          notYet: JSON.stringify(rows),
        };
      }),
    200,
  );
}

/** HAProxy shows exactly `leader` UP behind the primary listener and the others UP behind the replica listener. */
function haproxyFollows(h: Haproxy, c: LocalCluster, leader: MemberLayout): Promise<true> {
  const others = c.members.filter((m) => m !== leader).map((m) => m.name).sort();
  return waitFor(`HAProxy: ${leader.name} the only UP primary, ${others} UP replicas`, 30_000, async () => {
    const [p, r] = [await upServers(h.ports.stats, "primary"), await upServers(h.ports.stats, "replicas")];
    return p.join() === leader.name && r.join() === others.join()
      ? true as const
      : { notYet: `primary UP: [${p}], replicas UP: [${r}]` };
  }, 200);
}

/** What the steps share: the cluster, the tools around it, and the leader as the steps move it. */
interface Interop {
  c: LocalCluster;
  /** patronictl's minimal `patroni.yml` (scope, namespace, `etcd3.hosts`). */
  ctlConfig: string;
  haproxy: Haproxy;
  /** The `etcdctl watch` on the leader key, running for the whole test. */
  watch: KeyWatch;
  /** The member leading now (the steps that move the leader update it). */
  leader: MemberLayout;
  /** The leader's timeline before the first switchover. */
  timelineBefore: number;
  /** The leader when the cluster formed, and the candidate of the first switchover. */
  first: MemberLayout;
  candidate: MemberLayout;
}

/** patronictl's configuration: scope, namespace and the etcd hosts, nothing else. */
async function writeCtlConfig(c: LocalCluster): Promise<string> {
  const hosts = c.etcd.endpoints.map((e) => e.replace(/^https?:\/\//, "")).join(",");
  const ctlConfig = `${c.layout.dir}/patronictl.yml`;
  await Deno.writeTextFile(
    ctlConfig,
    `scope: ${SCOPE}\nnamespace: ${NAMESPACE}\netcd3:\n  hosts: ${hosts}\n`,
  );
  return ctlConfig;
}

async function listShowsEveryMember(x: Interop): Promise<void> {
  const { c, ctlConfig, leader } = x;
  const { rows, raw } = await settledList(ctlConfig, c, leader);
  assert.deepEqual(rows.map((r) => r.Member), ["pg1", "pg2", "pg3"], raw);
  for (const m of c.members) {
    const row = rows.find((r) => r.Member === m.name)!;
    assert.equal(row.Host, `127.0.0.1:${m.pgPort}`, raw);
    assert.equal(row.Role, m === leader ? "Leader" : "Replica", raw);
  }
  x.timelineBefore = Number(rows[0]!.TL);
  assert.ok(x.timelineBefore >= 1, raw);

  // The same through `-f json`, and with a member's own hactl YAML as patronictl's config.
  const json = await patronictl(ctlConfig, "list", "-f", "json");
  assert.equal(json.code, 0, describe(json));
  const members = JSON.parse(json.stdout) as Record<string, unknown>[];
  assert.deepEqual(
    members.map((m) => [m.Cluster, m.Member, m.Role, m.State, m.TL]),
    rows.map((r) => [SCOPE, r.Member, r.Role, r.State, Number(r.TL)]),
  );
  const own = await patronictl(leader.configPath, "list");
  assert.equal(own.code, 0, describe(own));
  assert.deepEqual(
    parseMemberTable(own.stdout).rows.map((r) => [r.Member, r.Role]),
    rows.map((r) => [r.Member, r.Role]),
  );
  // `dsn` builds a libpq string from the leader's member key (conn_url).
  const dsn = await patronictl(ctlConfig, "dsn");
  assert.equal(dsn.code, 0, describe(dsn));
  assert.equal(dsn.stdout.trim(), `host=127.0.0.1 port=${leader.pgPort}`);
  const topology = await patronictl(ctlConfig, "topology");
  assert.equal(topology.code, 0, describe(topology));
  assert.deepEqual(
    parseMemberTable(topology.stdout).rows.map((r) => r.Member),
    [leader.name, ...c.replicas.map((r) => `+ ${r.name}`)],
    topology.stdout,
  );
}

async function haproxyRoutes(x: Interop): Promise<void> {
  const { c, haproxy, leader } = x;
  await haproxyFollows(haproxy, c, leader);
  assert.deepEqual(await probe(haproxy.ports.primary), { rec: false, port: leader.pgPort });
  const viaReplicas = await probe(haproxy.ports.replicas);
  assert.equal(viaReplicas.rec, true);
  assert.ok(c.replicas.some((r) => r.pgPort === viaReplicas.port), JSON.stringify(viaReplicas));
}

/** A writable primary through HAProxy's primary listener, on `to`. */
async function writableThroughHaproxy(haproxy: Haproxy, to: MemberLayout): Promise<void> {
  const via = await waitFor("a writable primary through HAProxy", 30_000, async () => {
    const p = await probe(haproxy.ports.primary);
    return !p.rec && p.port === to.pgPort ? p : { notYet: JSON.stringify(p) };
  });
  assert.equal(via.port, to.pgPort);
}

async function switchoverUnderWrites(x: Interop): Promise<void> {
  const { c, ctlConfig, haproxy, candidate, timelineBefore } = x;
  await createWriteTable(x.leader);
  const writer = startWriter([{ name: "haproxy", pgPort: haproxy.ports.primary }]);
  await waitFor("writes through HAProxy", 20_000, () => Promise.resolve(writer.acks.length > 20));
  const t0 = performance.now();
  const r = await patronictl(
    ctlConfig,
    "switchover",
    "--force",
    "--leader",
    x.leader.name,
    "--candidate",
    candidate.name,
  );
  const answeredMs = performance.now() - t0;
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, new RegExp(`Successfully switched over to "${candidate.name}"`), describe(r));
  assert.doesNotMatch(r.stdout, /falling back to DCS|failed, details/, describe(r));
  const old = x.leader;
  x.leader = candidate;
  assert.equal((await waitHealthy(c.layout, 2, 90_000)).leader, candidate.name);
  await streamsFrom(old, candidate);
  // hactl's status query on the former primary: its last checkpoint is still on the old timeline, its WAL
  // files are on the new one (what it reports as its timeline once its receiver is gone).
  const [{ status }] = await withSql(old, (sql) => sql.unsafe(STATUS_SQL)) as [{ status: StatusRow }];
  assert.deepEqual([status.checkpoint_tli, status.wal_tli], [timelineBefore, timelineBefore + 1]);

  // HAProxy: the new primary is the only UP server behind the write listener, and a write through it
  // lands there; the writer kept going through the hand-over and lost nothing it was told was written.
  await haproxyFollows(haproxy, c, candidate);
  await writableThroughHaproxy(haproxy, candidate);
  const afterAnswer = performance.now();
  await waitFor(
    "writes through HAProxy after the switchover",
    30_000,
    () => Promise.resolve(writer.acks.some((a) => a.ackAt > afterAnswer)),
  );
  const acks = await writer.stop();
  assert.ok(acks.some((a) => a.ackAt < t0), "writes acknowledged before the switchover");
  assert.deepEqual(await missingOn(candidate, acks), [], "every write acknowledged through HAProxy");

  const { rows, raw } = await settledList(ctlConfig, c, candidate);
  assert.equal(Number(rows[0]!.TL), timelineBefore + 1, raw);
  // deno-lint-ignore no-console -- figures worth seeing in CI logs; speed is measured, not asserted
  console.log(JSON.stringify({
    patronictl_switchover_answered_ms: Math.round(answeredMs),
    haproxy_write_gap_ms: Math.round(longestGap(acks, t0 - 1000).ms),
    acked_writes_through_haproxy: acks.length,
  }));
}

async function leaderKeyFollows(x: Interop): Promise<void> {
  const { c, candidate, watch } = x;
  assert.equal(await leaderKeyValue(c.etcd.endpoints), candidate.name);
  const events = await waitFor("the watch reporting the new leader", 10_000, () => {
    const e = watch.events();
    return Promise.resolve(e.some((x) => x.type === "PUT" && x.value === candidate.name) ? e : null);
  });
  const puts = events.filter((e) => e.type === "PUT").map((e) => e.value);
  assert.equal(puts.at(-1), candidate.name, JSON.stringify(events));
  assert.ok(puts.every((v) => c.members.some((m) => m.name === v)), JSON.stringify(events));
}

async function historyPauseResume(x: Interop): Promise<void> {
  const { ctlConfig, candidate, timelineBefore } = x;
  const history = await patronictl(ctlConfig, "history");
  assert.equal(history.code, 0, describe(history));
  const last = history.stdout.split("\n").filter((l) => /^\|\s+\d+\s+\|/.test(l)).at(-1) ?? "";
  assert.match(
    last,
    new RegExp(`^\\|\\s+${timelineBefore}\\s+\\|.*\\|\\s+${candidate.name}\\s+\\|$`),
    history.stdout,
  );

  const pause = await patronictl(ctlConfig, "pause", "--wait");
  assert.equal(pause.code, 0, describe(pause));
  assert.match(pause.stdout, /Success: cluster management is paused/, describe(pause));
  const paused = await patronictl(ctlConfig, "list");
  assert.match(paused.stdout, /Maintenance mode: on/, describe(paused));
  const health = await (await fetch(`http://127.0.0.1:${candidate.apiPort}/patroni`)).json();
  assert.equal(health.pause, true, JSON.stringify(health));
  const resume = await patronictl(ctlConfig, "resume", "--wait");
  assert.equal(resume.code, 0, describe(resume));
  assert.match(resume.stdout, /Success: cluster management is resumed/, describe(resume));
  assert.doesNotMatch((await patronictl(ctlConfig, "list")).stdout, /Maintenance mode/);
}

/**
 * Every tool sees the new leader `to`: etcd, HAProxy (only it UP, a client lands on it writable), the leader key
 * as vip-manager reads it, and patronictl's table.
 */
async function everyoneFollows(x: Interop, to: MemberLayout): Promise<void> {
  const { c, haproxy } = x;
  x.leader = to;
  assert.equal((await waitHealthy(c.layout, 2, 90_000)).leader, to.name);
  await haproxyFollows(haproxy, c, to);
  await writableThroughHaproxy(haproxy, to);
  assert.equal(await leaderKeyValue(c.etcd.endpoints), to.name);
  await settledList(x.ctlConfig, c, to);
}

async function switchoverBackToFirst(x: Interop): Promise<void> {
  // The former primary's last checkpoint is still on the old timeline (no restartpoint yet): it must
  // still count as being on the timeline it streamed, or it loses the race to the member it replaces.
  const r = await patronictl(x.ctlConfig, "switchover", "--force", "--candidate", x.first.name);
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, new RegExp(`Successfully switched over to "${x.first.name}"`), describe(r));
  await everyoneFollows(x, x.first);
}

async function switchoverWithoutCandidate(x: Interop): Promise<void> {
  const before = x.leader;
  const r = await patronictl(x.ctlConfig, "switchover", "--force");
  assert.equal(r.code, 0, describe(r));
  const to = /Successfully switched over to "(pg\d)"/.exec(r.stdout)?.[1];
  assert.ok(to && to !== before.name, describe(r));
  await everyoneFollows(x, x.c.byName(to));
}

async function failoverToCandidate(x: Interop): Promise<void> {
  const target = x.c.members.find((m) => m !== x.leader)!;
  const r = await patronictl(x.ctlConfig, "failover", "--candidate", target.name, "--force");
  assert.equal(r.code, 0, describe(r));
  // hactl turns a failover request that names the leader into a switchover (as Patroni >= 3.2 does), so
  // it answers "switched over" where Patroni 3.0.2 says "failed over".
  assert.match(
    r.stdout,
    new RegExp(`Successfully (switched|failed) over to "${target.name}"`),
    describe(r),
  );
  await everyoneFollows(x, target);
}

async function restartAndReload(x: Interop): Promise<void> {
  const { c, ctlConfig, leader } = x;
  const replica = c.members.find((m) => m !== leader)!;
  const before = await (await fetch(`http://127.0.0.1:${replica.apiPort}/patroni`)).json();
  const r = await patronictl(ctlConfig, "restart", SCOPE, replica.name, "--force");
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, new RegExp(`Success: restart on member ${replica.name}`), describe(r));
  const after = await (await fetch(`http://127.0.0.1:${replica.apiPort}/patroni`)).json();
  assert.notEqual(
    after.postmaster_start_time,
    before.postmaster_start_time,
    "Postgres was restarted",
  );
  await streamsFrom(replica, leader);

  const reload = await patronictl(ctlConfig, "reload", SCOPE, "--force");
  assert.equal(reload.code, 0, describe(reload));
  for (const m of c.members) {
    assert.match(
      reload.stdout,
      new RegExp(
        `Reload request received for member ${m.name} and will be processed within \\d+ seconds`,
      ),
      describe(reload),
    );
  }
  assert.equal(
    (await waitHealthy(c.layout, 2, 60_000)).leader,
    leader.name,
    "a reload moves no leader",
  );
}

async function reinitReplica(x: Interop): Promise<void> {
  const { c, ctlConfig, leader } = x;
  const replica = c.members.find((m) => m !== leader)!;
  const before = await (await fetch(`http://127.0.0.1:${replica.apiPort}/patroni`)).json();
  const r = await patronictl(ctlConfig, "reinit", SCOPE, replica.name, "--force", "--wait");
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, new RegExp(`Success: reinitialize for member ${replica.name}`), describe(r));
  assert.match(r.stdout, new RegExp(`Reinitialize is completed on: ${replica.name}`), describe(r));
  await streamsFrom(replica, leader);
  const after = await (await fetch(`http://127.0.0.1:${replica.apiPort}/patroni`)).json();
  assert.notEqual(
    after.postmaster_start_time,
    before.postmaster_start_time,
    "Postgres was started afresh",
  );
  await settledList(ctlConfig, c, leader);
}

/** patronictl list showing the leader, one Sync Standby and one Replica, all running; the Sync Standby's name. */
function listedSyncStandby(ctlConfig: string, leader: MemberLayout): Promise<string> {
  return waitFor("patronictl list showing one Sync Standby", 60_000, async () => {
    const r = await patronictl(ctlConfig, "list");
    if (r.code !== 0) return { notYet: describe(r) };
    const { rows } = parseMemberTable(r.stdout);
    const roles = rows.map((row) => row.Role).sort();
    const ok = roles.join() === "Leader,Replica,Sync Standby" && rows.every((row) =>
      row.State === "running"
    ) &&
      rows.find((row) => row.Role === "Leader")?.Member === leader.name;
    return ok ? rows.find((row) => row.Role === "Sync Standby")!.Member : { notYet: r.stdout };
  }, 500);
}

async function syncStandbyListed(x: Interop): Promise<void> {
  const { c, ctlConfig, leader } = x;
  const edit = await patronictl(
    ctlConfig,
    "edit-config",
    SCOPE,
    "--force",
    "-s",
    "synchronous_mode=true",
  );
  assert.equal(edit.code, 0, describe(edit));
  const standby = await listedSyncStandby(ctlConfig, leader);
  // The member patronictl calls Sync Standby is the one the primary's commits wait for.
  const [pg] = await withSql(
    leader,
    (sql) =>
      sql`SELECT current_setting('synchronous_standby_names') AS ssn,
      (SELECT sync_state FROM pg_stat_replication WHERE application_name = ${standby}) AS state`,
  );
  assert.deepEqual([pg!.ssn, pg!.state], [standby, "sync"]);
  const json = await patronictl(ctlConfig, "list", "-f", "json");
  assert.equal(json.code, 0, describe(json));
  const members = JSON.parse(json.stdout) as { Member: string; Role: string }[];
  assert.equal(members.find((m) => m.Member === standby)?.Role, "Sync Standby", json.stdout);

  // A switchover without a candidate goes to the synchronous standby.
  const r = await patronictl(ctlConfig, "switchover", "--force");
  assert.equal(r.code, 0, describe(r));
  assert.match(r.stdout, new RegExp(`Successfully switched over to "${standby}"`), describe(r));
  assert.equal((await waitHealthy(c.layout, 2, 90_000)).leader, standby);
}

Deno.test({
  name: "patronictl 3.0.2, HAProxy and a vip-manager-style leader-key read work with a hactl cluster",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using c = await formCluster({ ttl: 20, loopWait: 2, retryTimeout: 5 }, SCOPE);
    const ctlConfig = await writeCtlConfig(c);
    const [proxyBase] = await freePorts(1, 3);
    await using haproxy = await startHaproxy(c.layout.dir, c.members, {
      primary: proxyBase!,
      replicas: proxyBase! + 1,
      stats: proxyBase! + 2,
    });
    const x: Interop = {
      c,
      ctlConfig,
      haproxy,
      watch: watchLeaderKey(c.etcd.endpoints),
      leader: c.leader,
      timelineBefore: 0,
      first: c.leader,
      candidate: c.replicas[0]!,
    };
    // A failed step stops the test (later steps build on it) and dumps the logs below.
    const step = async (name: string, fn: (x: Interop) => Promise<void>) => {
      if (!(await t.step(name, () => fn(x)))) throw new Error(`step failed: ${name}`);
    };
    try {
      await step("patronictl list shows every member, role, state, timeline and lag", listShowsEveryMember);
      await step("the leader key names the leader (vip-manager's read)", async () => {
        assert.equal(await leaderKeyValue(c.etcd.endpoints), x.leader.name);
      });
      await step(
        "HAProxy routes the primary listener to the leader, the replica listener to replicas",
        haproxyRoutes,
      );
      await step(
        "patronictl switchover --force moves the leader; HAProxy clients follow",
        switchoverUnderWrites,
      );
      await step(
        "the leader key follows the switchover (get and watch, as vip-manager 2.x)",
        leaderKeyFollows,
      );
      await step("patronictl history, pause --wait and resume --wait", historyPauseResume);
      await step(
        "patronictl switchover --force --candidate <the former primary>, right away",
        switchoverBackToFirst,
      );
      await step("patronictl switchover --force without a candidate", switchoverWithoutCandidate);
      await step(
        "patronictl failover --candidate --force (POST /failover) moves the leader there",
        failoverToCandidate,
      );
      await step(
        "patronictl restart and reload (POST /restart, POST /reload) on a hactl cluster",
        restartAndReload,
      );
      await step("patronictl reinit --force --wait rebuilds a replica, which streams again", reinitReplica);
      await step(
        "synchronous_mode set by patronictl edit-config: list shows the Sync Standby",
        syncStandbyListed,
      );
    } catch (err) {
      // deno-lint-ignore no-console -- failure diagnostics
      console.error(`haproxy output:\n${haproxy.output()}`);
      await c.dumpLogs("interop");
      throw err;
    } finally {
      await x.watch.stop();
    }
  },
});
