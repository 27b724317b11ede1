/**
 * A standby cluster, for real: site A (scope `site-a`, one member) takes writes; site B (scope `site-b`, two
 * members, on the same etcd) is bootstrapped with `standby_cluster` naming A's primary. B's first member clones A
 * and becomes the standby leader (member key role `standby_leader`, in recovery, `GET /standby-leader` 200), B's
 * other member streams from it, and A's writes reach both. B's standby leader is then lost (agent and postmaster
 * killed): the other member takes the key as the new standby leader without a re-clone or a restart of its Postgres
 * (same postmaster start time), follows A, and never becomes writable; the lost member comes back and follows it.
 * A switchover inside B, there and back, moves the standby leader without a promotion.
 * Then `hactl promote-cluster site-b` makes B writable with every row A had written. Finally site A, which took
 * writes B never got, is made a standby cluster of B by `hactl demote-cluster site-a`: its leader keeps the key,
 * runs pg_rewind from B's primary and streams from it, holding exactly B's rows.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { postmasterPid } from "../../scripts/bench/failover.ts";
import { formCluster } from "../helpers/cluster.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "../helpers/processes.ts";
import {
  type LayoutOptions,
  mainModule,
  type MemberLayout,
  readHealth,
  spawnAgent,
  waitFor,
  withSql,
  writeLayout,
} from "../../scripts/lib/local_cluster.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };

async function count(m: MemberLayout): Promise<number> {
  return await withSql(m, async (sql) => (await sql`SELECT count(*)::int AS n FROM site_a`)[0]!.n as number);
}

async function inRecovery(m: MemberLayout): Promise<boolean> {
  return await withSql(m, async (sql) => (await sql`SELECT pg_is_in_recovery() AS r`)[0]!.r as boolean);
}

async function startedAt(m: MemberLayout): Promise<string> {
  return await withSql(
    m,
    async (sql) => String((await sql`SELECT pg_postmaster_start_time()::text AS t`)[0]!.t),
  );
}

/** The port `m`'s walreceiver streams from, or null. */
async function streamsFrom(m: MemberLayout): Promise<number | null> {
  return await withSql(m, async (sql) => {
    const [row] = await sql`SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'`;
    return (row?.sender_port as number | undefined) ?? null;
  });
}

async function hactl(args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** B's leader key holder once it runs as the standby leader (member key role, state running). */
function waitStandbyLeader(layout: LayoutOptions, not: string | null, deadlineMs: number): Promise<string> {
  return waitFor("a running standby leader in site B", deadlineMs, async () => {
    const h = await readHealth(layout);
    const holder = h.view.members.find((m) => m.name === h.leader);
    const seen = `leader=${h.leader} role=${holder?.data.role} state=${holder?.data.state}`;
    if (!holder || holder.name === not) return { notYet: seen };
    return holder.data.role === "standby_leader" && holder.data.state === "running"
      ? holder.name
      : { notYet: seen };
  }, 200);
}

/** Site B's layout on site A's etcd, every member's YAML naming site A's primary in `standby_cluster`. */
async function writeSiteB(
  dir: string,
  primary: MemberLayout,
  etcdEndpoints: string[],
): Promise<{ layout: LayoutOptions; b: MemberLayout[] }> {
  const [pgBase, apiBase] = await freePorts(2, 2);
  const layout: LayoutOptions = {
    dir,
    scope: "site-b",
    members: 2,
    etcdEndpoints,
    basePgPort: pgBase!,
    baseApiPort: apiBase!,
    ...TIMING,
  };
  const b = await writeLayout(layout);
  for (const m of b) {
    const yml = await Deno.readTextFile(m.configPath);
    const section = `  dcs:\n    standby_cluster:\n      host: 127.0.0.1\n      port: ${primary.pgPort}\n`;
    await Deno.writeTextFile(m.configPath, yml.replace("  dcs:\n", section));
  }
  return { layout, b };
}

/** Both sites: site A's primary, site B's layout, members and running agents. */
interface Sites {
  primary: MemberLayout;
  /** Site A's etcd (which site B shares), as `hactl -d` takes it. */
  etcdUrl: string;
  dir: string;
  layout: LayoutOptions;
  b: MemberLayout[];
  agents: Map<string, Deno.ChildProcess>;
}

/**
 * Start site B: one member becomes the standby leader streaming from site A, the other streams from it, both hold
 * A's rows; the REST API and the list say standby leader. The standby leader, the other member, and seconds taken.
 */
async function siteBForms(s: Sites): Promise<{ sl: MemberLayout; other: MemberLayout; formedS: number }> {
  const { primary, layout, b, agents } = s;
  const t0 = performance.now();
  for (const m of b) agents.set(m.name, await spawnAgent(m));
  const first = await waitStandbyLeader(layout, null, 120_000);
  const sl = b.find((m) => m.name === first)!;
  const other = b.find((m) => m.name !== first)!;
  await waitFor(
    `${other.name} streaming from the standby leader`,
    90_000,
    async () => (await streamsFrom(other)) === sl.pgPort,
  );
  const formedS = (performance.now() - t0) / 1000;
  assert.equal(await streamsFrom(sl), primary.pgPort, "the standby leader streams from site A");
  assert.equal(await inRecovery(sl), true);
  for (const m of b) await waitFor(`100 rows on ${m.name}`, 20_000, async () => (await count(m)) === 100);

  // The REST API and the list say standby leader.
  const res = await fetch(`http://127.0.0.1:${sl.apiPort}/standby-leader`);
  await res.body?.cancel();
  assert.equal(res.status, 200);
  const res2 = await fetch(`http://127.0.0.1:${other.apiPort}/standby-leader`);
  await res2.body?.cancel();
  assert.equal(res2.status, 503);
  const list = await hactl(["list", "-d", s.etcdUrl, "site-b"]);
  assert.match(list.out, /Standby Leader/, list.out);
  return { sl, other, formedS };
}

/**
 * Lose B's standby leader `sl` (agent and postmaster): `other` takes the key without a re-clone or a restart, follows
 * site A and is never writable. Seconds from the loss to the new standby leader.
 */
async function standbyLeaderLost(s: Sites, sl: MemberLayout, other: MemberLayout): Promise<number> {
  const { primary, agents } = s;
  const before = await startedAt(other);
  agents.get(sl.name)!.kill("SIGKILL");
  await agents.get(sl.name)!.status;
  agents.delete(sl.name);
  Deno.kill(await postmasterPid(sl), "SIGKILL");
  const tLost = performance.now();
  const next = await waitStandbyLeader(s.layout, sl.name, 60_000);
  const takeoverS = (performance.now() - tLost) / 1000;
  assert.equal(next, other.name);
  await waitFor(
    `${other.name} streaming from site A`,
    30_000,
    async () => (await streamsFrom(other)) === primary.pgPort,
  );
  assert.equal(await startedAt(other), before, "no re-clone, not even a restart of its Postgres");
  await waitFor(
    `${other.name}'s on_role_change standby_leader callback`,
    20_000,
    async () =>
      (await Deno.readTextFile(`${s.dir}/${other.name}.callbacks`).catch(() => "")).includes(
        "on_role_change standby_leader site-b",
      ),
  );
  assert.equal(await inRecovery(other), true, "a standby leader is never writable");
  await withSql(primary, (sql) => sql`INSERT INTO site_a SELECT generate_series(101, 200)`);
  await waitFor(`200 rows on ${other.name}`, 20_000, async () => (await count(other)) === 200);
  return takeoverS;
}

/** A switchover inside site B, there and back: the candidate becomes the standby leader, nobody promotes. */
async function switchoverInsideB(s: Sites, sl: MemberLayout, other: MemberLayout): Promise<number> {
  const tSwitch = performance.now();
  for (const [to, from] of [[sl, other], [other, sl]] as const) {
    const sw = await hactl(["switchover", "-d", s.etcdUrl, "--candidate", to.name, "--force", "site-b"]);
    assert.equal(sw.code, 0, sw.out);
    await waitFor(`${to.name} the standby leader`, 60_000, async () => {
      const h = await readHealth(s.layout);
      const holder = h.view.members.find((m) => m.name === h.leader);
      return holder?.name === to.name && holder.data.role === "standby_leader" &&
        holder.data.state === "running";
    });
    await waitFor(
      `${from.name} streaming from ${to.name}`,
      60_000,
      async () => (await streamsFrom(from)) === to.pgPort,
    );
    assert.equal(await inRecovery(to), true, "the new standby leader is not writable");
    assert.equal(await streamsFrom(to), s.primary.pgPort, "the new standby leader streams from site A");
  }
  return (performance.now() - tSwitch) / 2000;
}

/** Site A is lost; promote site B: its leader `other` is writable with every row; seconds promote-cluster took. */
async function promoteSiteB(s: Sites, sl: MemberLayout, other: MemberLayout): Promise<number> {
  await withSql(s.primary, (sql) => sql`INSERT INTO site_a SELECT generate_series(201, 250)`);
  await waitFor(`250 rows on ${other.name}`, 20_000, async () => (await count(other)) === 250);
  const tPromote = performance.now();
  const promoted = await hactl([
    "promote-cluster",
    "-d",
    s.etcdUrl,
    "--force",
    "site-b",
  ]);
  assert.equal(promoted.code, 0, promoted.out);
  assert.match(promoted.out, /cluster is successfully promoted/);
  const promoteS = (performance.now() - tPromote) / 1000;
  assert.equal(await inRecovery(other), false, "site B's leader is writable");
  assert.equal(await count(other), 250, "with every row site A had written");
  await withSql(other, (sql) => sql`INSERT INTO site_a VALUES (1000)`);
  await waitFor(
    `${sl.name} following the promoted leader`,
    30_000,
    async () => (await count(sl)) === 251,
  );
  const h = await readHealth(s.layout);
  assert.equal(h.view.members.find((m) => m.name === other.name)?.data.role, "primary");
  return promoteS;
}

/**
 * Site A comes back with writes site B never got; demote-cluster makes it a standby of B's leader `other`
 * (pg_rewind), holding exactly B's rows. Seconds demote-cluster took.
 */
async function demoteSiteA(s: Sites, other: MemberLayout): Promise<number> {
  const { primary } = s;
  await withSql(primary, (sql) => sql`INSERT INTO site_a SELECT generate_series(251, 260)`);
  const tDemote = performance.now();
  const demoted = await hactl([
    "demote-cluster",
    "-d",
    s.etcdUrl,
    "--force",
    "--host",
    "127.0.0.1",
    "--port",
    String(other.pgPort),
    "site-a",
  ]);
  assert.equal(demoted.code, 0, demoted.out);
  assert.match(demoted.out, /cluster is successfully demoted/);
  const demoteS = (performance.now() - tDemote) / 1000;
  assert.equal(await inRecovery(primary), true, "site A's leader is a standby leader now");
  await waitFor(
    `${primary.name} streaming from site B`,
    30_000,
    async () => (await streamsFrom(primary)) === other.pgPort,
  );
  await withSql(other, (sql) => sql`INSERT INTO site_a VALUES (1001)`);
  await waitFor(
    `site A holding exactly site B's rows`,
    20_000,
    async () => (await count(primary)) === 252,
  );
  assert.match(
    await Deno.readTextFile(primary.logPath),
    /pg_rewind from/,
    "site A's leader ran pg_rewind",
  );
  return demoteS;
}

Deno.test({
  name:
    "standby cluster: site B follows site A, elects a new standby leader without a re-clone, promote-cluster",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using a = await formCluster(TIMING, "site-a", { members: 1, etcdMembers: 1 });
    const primary = a.leader;
    const etcdUrl = a.etcd.endpoints[0]!.replace(/^https?:\/\//, "");
    await withSql(primary, async (sql) => {
      await sql`CREATE TABLE site_a (id int PRIMARY KEY)`;
      await sql`INSERT INTO site_a SELECT generate_series(1, 100)`;
    });

    const dir = await Deno.makeTempDir({ prefix: "hactl-site-b-" });
    const agents = new Map<string, Deno.ChildProcess>();
    let b: MemberLayout[] = [];
    try {
      const siteB = await writeSiteB(dir, primary, a.etcd.endpoints);
      b = siteB.b;
      const s: Sites = { primary, etcdUrl, dir, layout: siteB.layout, b, agents };
      const { sl, other, formedS } = await siteBForms(s);
      const takeoverS = await standbyLeaderLost(s, sl, other);

      // The lost member comes back and follows the new standby leader.
      agents.set(sl.name, await spawnAgent(sl));
      await waitFor(
        `${sl.name} streaming from ${other.name}`,
        60_000,
        async () => (await streamsFrom(sl)) === other.pgPort,
      );
      await waitFor(`200 rows on ${sl.name}`, 20_000, async () => (await count(sl)) === 200);

      const switchS = await switchoverInsideB(s, sl, other);
      const promoteS = await promoteSiteB(s, sl, other);
      const demoteS = await demoteSiteA(s, other);
      // deno-lint-ignore no-console -- the figures of this run
      console.log(
        `standby cluster: formed in ${formedS.toFixed(1)} s; new standby leader ${takeoverS.toFixed(1)} s ` +
          `after the loss (ttl ${TIMING.ttl}); switchover inside site B ${
            switchS.toFixed(1)
          } s (mean of 2); ` +
          `promote-cluster ${promoteS.toFixed(1)} s; demote-cluster of site A (with pg_rewind) ` +
          `${demoteS.toFixed(1)} s`,
      );
    } catch (err) {
      for (const m of b) {
        const text = await Deno.readTextFile(m.logPath).catch(() => "(no log)");
        // deno-lint-ignore no-console -- failure diagnostics
        console.error(`----- site-b ${m.name} -----\n${text.split("\n").slice(-60).join("\n")}`);
      }
      await a.dumpLogs("site-a");
      throw err;
    } finally {
      await Promise.all([...agents.values()].map((p) => stopAgent(p, 30_000)));
      await stopLeftoverPostgres(b.map((m) => m.dataDir));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
