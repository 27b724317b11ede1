/**
 * The foundation, end to end: a 3-member etcd and three `hactl agent` processes with PostgreSQL 15 bootstrap a
 * cluster by themselves; rows written on the primary reach both replicas; a restarted replica agent rejoins; the
 * keys in etcd have Patroni's formats; `hactl list` shows one Leader and two streaming Replicas.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { Etcd3 } from "etcd3";
import { formCluster } from "../helpers/cluster.ts";
import {
  type LayoutOptions,
  mainModule,
  type MemberLayout,
  readHealth,
  spawnAgent,
  waitFor,
  waitHealthy,
  withSql,
} from "../../scripts/lib/local_cluster.ts";
import { stopAgent } from "../helpers/processes.ts";

const SCOPE = "itest";

Deno.test({
  name: "three agents bootstrap one primary and two streaming replicas that replicate and rejoin",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using c = await formCluster({ ttl: 20, loopWait: 2, retryTimeout: 5 }, SCOPE, {
      formDeadlineMs: 90_000,
      dirPrefix: "hactl-cluster-",
    });
    const { etcd, layout, members, agents } = c;
    const dir = layout.dir;
    try {
      // deno-lint-ignore no-console -- the formation time is a figure worth seeing in CI logs
      console.log(`cluster formed in ${(c.formedMs / 1000).toFixed(1)} s (leader ${c.leader.name})`);
      const primary = c.leader;
      const replicas = c.replicas;

      // Writes on the primary reach both replicas.
      await withSql(primary, async (sql) => {
        await sql`CREATE TABLE foundation (id int PRIMARY KEY, note text)`;
        await sql`INSERT INTO foundation SELECT g, 'row ' || g FROM generate_series(1, 100) g`;
      });
      for (const r of replicas) {
        await waitFor(`100 rows on ${r.name}`, 30_000, () =>
          withSql(r, async (sql) => {
            const [row] = await sql`SELECT count(*)::int AS n FROM foundation`.catch(() => [{ n: 0 }]);
            return row!.n === 100;
          }));
        await withSql(r, async (sql) => {
          const [row] = await sql`SELECT pg_is_in_recovery() AS rec`;
          assert.equal(row!.rec, true, `${r.name} must be a replica`);
        });
      }

      // The real REST listener answers Patroni's health checks from each agent's snapshot.
      await checkRestApi(primary, replicas);

      // A second agent with a live member's name refuses to start (Patroni's unique-name rule).
      const twin = await spawnAgent({ ...primary, logPath: `${dir}/twin.log` });
      const twinStatus = await stopAgentAfter(twin, 30_000);
      assert.equal(twinStatus.code, 1, "a duplicate member name must exit 1");
      // Patroni logs it at CRITICAL (logger.fatal), which Patroni's own acceptance suite checks.
      assert.match(
        await Deno.readTextFile(`${dir}/twin.log`),
        /CRITICAL: Can't start; there is already a node named 'pg\d' running/,
      );

      // Callbacks ran as `<cmd> <action> <role> <scope>`: on_start with each member's role.
      const callbacks = (m: MemberLayout) => Deno.readTextFile(`${dir}/${m.name}.callbacks`).catch(() => "");
      await waitFor(
        "on_start callbacks",
        10_000,
        async () =>
          (await callbacks(primary)).includes(`on_start primary ${SCOPE}`) &&
          (await Promise.all(replicas.map(callbacks))).every((t) => t.includes(`on_start replica ${SCOPE}`)),
      );

      // The keys in etcd have Patroni's formats.
      await checkEtcdKeys(etcd.endpoints, primary.name, members);

      // hactl list --lsn (Patroni 4's layout: State is the replication state) shows two streaming Replicas.
      const listed = await hactl(["list", "-c", primary.configPath, "--format", "json", "--lsn"]);
      assert.equal(listed.code, 0, listed.stderr);
      const rows = JSON.parse(listed.stdout) as Record<string, unknown>[];
      assert.deepEqual(rows.map((r) => r.Member), ["pg1", "pg2", "pg3"]);
      assert.deepEqual(rows.filter((r) => r.Role === "Leader").map((r) => r.Member), [primary.name]);
      assert.equal(rows.filter((r) => r.Role === "Replica" && r.State === "streaming").length, 2);
      for (const r of rows) assert.equal(r.Cluster, SCOPE);
      // ... and from the environment alone, without a config file.
      const fromEnv = await hactl(["list", "--format", "tsv"], {
        PATRONI_SCOPE: SCOPE,
        PATRONI_ETCD3_HOSTS: etcd.endpoints.map((e) => e.replace("http://", "")).join(","),
      });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      const tsv = fromEnv.stdout.trim().split("\n");
      assert.equal(tsv[0]!.split("\t")[0], "Cluster");
      assert.equal(tsv.length, 4, fromEnv.stdout);

      // A replica's agent restarts and rejoins: SIGTERM stops it (and its Postgres), a new agent brings it back.
      const victim = replicas[0]!;
      await stopAgent(agents.get(victim.name)!, 30_000);
      await waitFor(`${victim.name} to leave the member list`, 30_000, async () => {
        const h = await readHealth(layout);
        return !h.view.members.some((m) => m.name === victim.name);
      });
      // Callbacks run beside the agent (fire-and-forget, in their own session): the stopped agent's on_stop may
      // write its line just after the agent has gone.
      await waitFor(
        "SIGTERM fires on_stop",
        10_000,
        async () => (await callbacks(victim)).includes(`on_stop replica ${SCOPE}`),
      );
      agents.set(victim.name, await spawnAgent(victim));
      const again = await waitHealthy(layout, 2, 60_000);
      assert.equal(again.leader, primary.name, "the leader must not change when a replica restarts");
      await withSql(primary, (sql) => sql`INSERT INTO foundation VALUES (101, 'after rejoin')`);
      await waitFor(`row 101 on ${victim.name}`, 30_000, () =>
        withSql(victim, async (sql) => {
          const got = await sql`SELECT note FROM foundation WHERE id = 101`;
          return got.length === 1;
        }));

      await checkReinit(layout, primary, replicas[1]!);
      // Maintenance mode through PATCH /config: `hactl pause --wait`, then `hactl resume --wait`.
      const paused = await hactl(["pause", "-c", primary.configPath, "--wait"]);
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stdout, /Success: cluster management is paused/);
      assert.doesNotMatch(paused.stdout, /didn't recognized/);
      const pausedBody = await (await fetch(`http://127.0.0.1:${primary.apiPort}/patroni`)).json();
      assert.equal(pausedBody.pause, true);
      await waitFor(
        "a PAUSE: cycle line on the leader",
        20_000,
        async () =>
          /INFO: PAUSE: no action\. I am \(pg\d\), the leader with the lock/.test(
            await Deno.readTextFile(primary.logPath),
          ),
      );
      assert.equal(
        (await hactl(["pause", "-c", primary.configPath])).stderr,
        "Error: Cluster is already paused\n",
      );
      const resumed = await hactl(["resume", "-c", primary.configPath, "--wait"]);
      assert.match(resumed.stdout, /Success: cluster management is resumed/);
      assert.doesNotMatch(resumed.stdout, /didn't recognized/);

      const refused = await hactl(["reinit", "-c", primary.configPath, SCOPE, primary.name, "--force"]);
      assert.match(
        refused.stdout,
        /Failed: reinitialize for member pg\d, status code=503, \(I am the leader, can not reinitialize\)/,
      );
    } catch (err) {
      await c.dumpLogs("cluster_test");
      throw err;
    }
  },
});

/**
 * `hactl reinit --force --wait` throws a replica's data away and clones it again. Before, its WAL replay is paused
 * and rows 102..110 are written on the primary: they reach it only through a new clone.
 */
async function checkReinit(layout: LayoutOptions, primary: MemberLayout, other: MemberLayout): Promise<void> {
  const marker = `${other.dataDir}/hactl-test-marker`;
  await Deno.writeTextFile(marker, "this file goes when the data directory is cloned again\n");
  const sysid = async (m: MemberLayout) =>
    await withSql(
      m,
      async (sql) => String((await sql`SELECT system_identifier::text AS s FROM pg_control_system()`)[0]!.s),
    );
  assert.equal(await sysid(other), await sysid(primary), "the replica was cloned from the primary");
  await withSql(other, (sql) => sql`SELECT pg_wal_replay_pause()`);
  await withSql(primary, async (sql) => {
    await sql`INSERT INTO foundation SELECT g, 'while paused' FROM generate_series(102, 110) g`;
  });
  await waitFor(`${other.name} receiving the rows it does not replay`, 30_000, async () => {
    const sent = await withSql(
      primary,
      async (sql) => (await sql`SELECT pg_current_wal_lsn() AS l`)[0]!.l,
    );
    return await withSql(
      other,
      async (sql) => (await sql`SELECT pg_last_wal_receive_lsn() >= ${sent}::pg_lsn AS ok`)[0]!.ok,
    );
  });
  const countOn = (m: MemberLayout) =>
    withSql(m, async (sql) => (await sql`SELECT count(*)::int AS n FROM foundation`)[0]!.n as number);
  assert.equal(await countOn(other), 101, `${other.name} replays nothing while paused`);
  const reinit = await hactl([
    "reinit",
    "-c",
    primary.configPath,
    SCOPE,
    other.name,
    "--force",
    "--wait",
  ]);
  assert.equal(reinit.code, 0, reinit.stderr);
  assert.match(reinit.stdout, new RegExp(`Success: reinitialize for member ${other.name}`));
  assert.match(reinit.stdout, new RegExp(`Reinitialize is completed on: ${other.name}`));
  await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, "the data directory was cloned again");
  await waitHealthy(layout, 2, 60_000);
  assert.equal(await sysid(other), await sysid(primary), "the new clone is the primary's cluster");
  await waitFor(
    `110 rows on ${other.name} after reinit`,
    30_000,
    async () => (await countOn(other)) === 110,
  );
  assert.match(await Deno.readTextFile(other.logPath), /reinitializing: removing the data directory/);
}

/** Wait for a process to exit by itself within the deadline (else stop it and fail). */
async function stopAgentAfter(child: Deno.ChildProcess, deadlineMs: number): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), deadlineMs)));
  const status = await Promise.race([child.status, timeout]);
  clearTimeout(timer);
  if (status) return status;
  await stopAgent(child, 5000);
  throw new Error(`process ${child.pid} did not exit within ${deadlineMs} ms`);
}

async function checkRestApi(primary: MemberLayout, replicas: MemberLayout[]): Promise<void> {
  const status = async (m: MemberLayout, path: string, method = "GET") => {
    const res = await fetch(`http://127.0.0.1:${m.apiPort}${path}`, { method });
    const body = await res.text();
    return { code: res.status, body };
  };
  assert.equal((await status(primary, "/primary")).code, 200);
  assert.equal((await status(primary, "/leader", "HEAD")).code, 200);
  assert.equal((await status(primary, "/replica", "OPTIONS")).code, 503);
  const patroni = JSON.parse((await status(primary, "/patroni")).body);
  assert.equal(patroni.role, "primary");
  assert.equal(patroni.state, "running");
  assert.equal(typeof patroni.xlog.location, "number");
  assert.deepEqual(patroni.patroni.scope, SCOPE);
  for (const r of replicas) {
    assert.equal((await status(r, "/replica")).code, 200, `${r.name} /replica`);
    const options = await status(r, "/primary", "OPTIONS");
    assert.equal(options.code, 503, `${r.name} OPTIONS /primary`);
    assert.equal(options.body, "", "OPTIONS answers with the status alone");
    const body = JSON.parse((await status(r, "/patroni")).body);
    assert.equal(body.role, "replica");
    assert.equal(body.replication_state, "streaming");
  }
  const cluster = JSON.parse((await status(replicas[0]!, "/cluster")).body);
  assert.deepEqual(cluster.members.map((m: { role: string }) => m.role).sort(), [
    "leader",
    "replica",
    "replica",
  ]);
}

async function hactl(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function checkEtcdKeys(endpoints: string[], leader: string, members: MemberLayout[]): Promise<void> {
  const client = new Etcd3({ hosts: endpoints });
  try {
    const base = `/service/${SCOPE}/`;
    const kv = await client.getAll().prefix(base).exec();
    const get = (k: string) => kv.kvs.find((x) => x.key.toString() === base + k);
    // leader: plain text name, leased.
    const leaderKv = get("leader");
    assert.ok(leaderKv, "leader key");
    assert.equal(leaderKv.value.toString(), leader);
    assert.notEqual(leaderKv.lease, "0", "the leader key must carry a lease");
    // initialize: the system identifier, digits only.
    assert.match(get("initialize")!.value.toString(), /^[0-9]{10,}$/);
    // config: compact JSON of bootstrap.dcs.
    const config = get("config")!.value.toString();
    assert.ok(!config.includes(" "), `config must be compact JSON: ${config}`);
    assert.equal(JSON.parse(config).ttl, 20);
    // status: {"optime":<int>...}
    const status = JSON.parse(get("status")!.value.toString());
    assert.equal(typeof status.optime, "number");
    // members/<name>: compact JSON with Patroni's fields, leased.
    for (const m of members) {
      const mk = get(`members/${m.name}`);
      assert.ok(mk, `members/${m.name}`);
      assert.notEqual(mk.lease, "0", "member keys must carry a lease");
      const data = JSON.parse(mk.value.toString());
      assert.equal(data.conn_url, `postgres://127.0.0.1:${m.pgPort}/postgres`);
      assert.equal(data.api_url, `http://127.0.0.1:${m.apiPort}/patroni`);
      assert.equal(data.state, "running");
      assert.equal(data.role, m.name === leader ? "primary" : "replica");
      assert.equal(typeof data.version, "string");
      assert.equal(typeof data.xlog_location, "number");
      assert.equal(typeof data.timeline, "number");
      if (m.name !== leader) assert.equal(data.replication_state, "streaming");
      assert.ok(!mk.value.toString().includes("local-super-pass"), "no secrets in etcd");
    }
  } finally {
    client.close();
  }
}
