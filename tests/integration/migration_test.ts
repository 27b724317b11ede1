/**
 * Migrating a live Patroni cluster to hactl, member by member, as an operator would (real etcd, PostgreSQL 15,
 * Patroni 3.0.2 from Debian's `patroni` package): three Patroni daemons form a cluster from one YAML per member;
 * a client writes to every member all along. Then, replica by replica, Patroni is stopped (SIGTERM: it stops its
 * Postgres) and `hactl agent` starts with the same YAML on the same data directory, and has to stream from the
 * Patroni leader; `hactl switchover` moves the leader from Patroni to a hactl member (through the Patroni leader's
 * REST API); last, the former leader is replaced too. Checked at each step: the member runs under hactl (its
 * `GET /patroni` names hactl's version) and streams; at the end 1 primary and 2 streaming replicas under hactl,
 * every acknowledged write on the new primary, and never two members acknowledging writes at the same time.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import {
  mainModule,
  type MemberLayout,
  readHealth,
  spawnAgent,
  waitFor,
  waitHealthyBySql,
  withSql,
  writeLayout,
} from "../../scripts/lib/local_cluster.ts";
import { startEtcd } from "../helpers/etcd.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "../helpers/processes.ts";
import {
  createWriteTable,
  describeOverlaps,
  missingOn,
  overlappingWindows,
  startWriter,
} from "../helpers/writer.ts";

const SCOPE = "migrate";

async function hactl(args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", mainModule(), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** Start Patroni 3.0.2 on a member's YAML, its output appended to the member's log. */
async function spawnPatroni(m: MemberLayout): Promise<Deno.ChildProcess> {
  const log = await Deno.open(m.logPath, { append: true, create: true });
  const child = new Deno.Command("/usr/bin/patroni", {
    args: [m.configPath],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const copy = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) await log.write(chunk);
  };
  Promise.all([copy(child.stdout), copy(child.stderr)]).finally(() => log.close()).catch(() => {});
  return child;
}

/** What answers on the member's REST port: `hactl` (its `/patroni` names hactl's version) or `patroni`. */
async function daemonOf(m: MemberLayout): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${m.apiPort}/patroni`, { signal: AbortSignal.timeout(2000) });
  const body = await res.json() as { patroni?: { hactl_version?: string } };
  return body.patroni?.hactl_version ? "hactl" : "patroni";
}

/** Until the member runs under hactl, in recovery, its WAL receiver streaming from `leader`'s Postgres. */
async function waitStreamingUnderHactl(m: MemberLayout, leader: MemberLayout): Promise<void> {
  await waitFor(`${m.name} to stream from ${leader.name} under hactl`, 120_000, async () => {
    const daemon = await daemonOf(m).catch((e) => `no answer (${e})`);
    if (daemon !== "hactl") return { notYet: `REST port: ${daemon}` };
    const row = await withSql(m, async (sql) =>
      (await sql`SELECT pg_is_in_recovery() AS rec,
        (SELECT status || ' ' || coalesce(sender_port::text, '') FROM pg_stat_wal_receiver) AS wr`)[0]!);
    return row.rec && row.wr === `streaming ${leader.pgPort}` ? true : { notYet: JSON.stringify(row) };
  });
}

async function dumpLogs(members: MemberLayout[]): Promise<void> {
  for (const m of members) {
    const text = await Deno.readTextFile(m.logPath).catch(() => "(no log)");
    // deno-lint-ignore no-console
    console.error(`----- ${m.name} (last 60 lines)\n${text.split("\n").slice(-60).join("\n")}`);
  }
}

Deno.test({
  name:
    "migration: a live Patroni 3.0.2 cluster is replaced by hactl member by member, losing no acknowledged write",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using etcd = await startEtcd({ members: 3 });
    const dir = await Deno.makeTempDir({ prefix: "hactl-migrate-" });
    const [pgBase, apiBase] = await freePorts(2, 3);
    const layout = {
      dir,
      scope: SCOPE,
      members: 3,
      etcdEndpoints: etcd.endpoints,
      basePgPort: pgBase!,
      baseApiPort: apiBase!,
      ttl: 10,
      loopWait: 2,
      retryTimeout: 4,
    };
    const members = await writeLayout(layout);
    const procs = new Map<string, Deno.ChildProcess>();
    const byName = (name: string) => members.find((m) => m.name === name)!;
    try {
      for (const m of members) procs.set(m.name, await spawnPatroni(m));
      const first = byName(await waitHealthyBySql(layout, members, 2, 180_000));
      assert.equal(await daemonOf(first), "patroni");
      await createWriteTable(first);
      const writer = startWriter(members);

      // 1. The replicas, one at a time: Patroni stops (and stops its Postgres), hactl takes the same YAML.
      for (const m of members.filter((x) => x !== first)) {
        const status = await stopAgent(procs.get(m.name)!, 60_000);
        assert.equal(status.signal, null, `Patroni on ${m.name} exits on SIGTERM by itself`);
        procs.set(m.name, await spawnAgent(m));
        await waitStreamingUnderHactl(m, first);
      }

      // 2. The leader moves from Patroni to a hactl member, through the Patroni leader's POST /switchover.
      const candidate = members.find((x) => x !== first)!;
      const sw = await hactl([
        "switchover",
        "-c",
        candidate.configPath,
        "--leader",
        first.name,
        "--candidate",
        candidate.name,
        "--force",
      ]);
      assert.equal(sw.code, 0, sw.out);
      await waitFor(`${candidate.name} to hold the leader key as a primary`, 60_000, async () => {
        const h = await readHealth(layout);
        return h.leader === candidate.name && h.primaries.includes(candidate.name)
          ? true
          : { notYet: h.leader };
      });

      // 3. The former leader, now a Patroni replica, is replaced last.
      await stopAgent(procs.get(first.name)!, 60_000);
      procs.set(first.name, await spawnAgent(first));
      await waitStreamingUnderHactl(first, candidate);
      for (const m of members) assert.equal(await daemonOf(m), "hactl", m.name);
      assert.equal(await waitHealthyBySql(layout, members, 2, 60_000), candidate.name);

      const acks = await writer.stop();
      assert.ok(acks.some((a) => a.node === first.name) && acks.some((a) => a.node === candidate.name));
      const missing = await missingOn(candidate, acks);
      assert.deepEqual(missing, [], "every acknowledged write is on the new primary");
      const overlaps = overlappingWindows(acks);
      assert.equal(overlaps.length, 0, describeOverlaps(overlaps));
    } catch (err) {
      await dumpLogs(members);
      throw err;
    } finally {
      await Promise.all([...procs.values()].map((p) => stopAgent(p, 30_000)));
      await stopLeftoverPostgres(members.map((m) => m.dataDir));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
