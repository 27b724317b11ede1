/**
 * Two sites, for real, with continuous writes to site A: site A (scope `two-site-a`, two members) is reached
 * through a real HAProxy that routes to its current primary (`OPTIONS /primary`, as Patroni's documentation
 * recommends); site B (scope `two-site-b`, two members, on the same etcd) is a standby cluster whose
 * `standby_cluster` names HAProxy's primary listener and clones with `create_replica_methods: [broken_method,
 * script_clone, basebackup]`: the first method fails, the second (a script of the test, with its own `--site=b`
 * option from the member's local `postgresql.script_clone` section) clones, for the standby leader from site A
 * (`--connstring` naming HAProxy) and for B's other member from the standby leader. Then site A's primary is
 * killed (agent and postmaster): A fails over to its replica, HAProxy sends B's standby leader to A's new primary,
 * and B follows it (timeline 2) without a re-clone: no further clone, the same postmasters, every write A's new
 * primary acknowledged reaches both of B's members. The times are printed.
 *
 * Runs as a non-root user (scripts/test.sh uses the `postgres` OS user when started as root).
 */
import assert from "node:assert/strict";
import { postmasterPid } from "../../scripts/bench/failover.ts";
import { formCluster } from "../helpers/cluster.ts";
import { startHaproxy } from "../helpers/haproxy.ts";
import { freePort, freePorts, stopAgent, stopLeftoverPostgres } from "../helpers/processes.ts";
import { createWriteTable, firstAckAfter, missingOn, startWriter } from "../helpers/writer.ts";
import {
  type LayoutOptions,
  type MemberLayout,
  readHealth,
  spawnAgent,
  waitFor,
  withSql,
  writeLayout,
} from "../../scripts/lib/local_cluster.ts";

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 4 };
const PG_BASEBACKUP = "/usr/lib/postgresql/15/bin/pg_basebackup";

/** A replica creation method as an operator would write one: logs its arguments, then pg_basebackup. */
function cloneScript(logPath: string): string {
  return `#!/bin/sh
echo "$*" >> '${logPath}'
for a in "$@"; do
  case "$a" in
    --datadir=*) D="\${a#--datadir=}" ;;
    --connstring=*) C="\${a#--connstring=}" ;;
  esac
done
exec ${PG_BASEBACKUP} -D "$D" -X stream -d "$C"
`;
}

async function pgStart(m: MemberLayout): Promise<string> {
  return await withSql(
    m,
    async (sql) => String((await sql`SELECT pg_postmaster_start_time()::text AS t`)[0]!.t),
  );
}

/** The timeline `m`'s walreceiver streams on (0 when it does not stream). */
async function streamingTimeline(m: MemberLayout): Promise<number> {
  return await withSql(m, async (sql) => {
    const [row] = await sql`SELECT received_tli FROM pg_stat_wal_receiver WHERE status = 'streaming'`;
    return Number(row?.received_tli ?? 0);
  });
}

async function cloneLines(path: string): Promise<string[]> {
  return (await Deno.readTextFile(path).catch(() => "")).split("\n").filter((l) => l.trim() !== "");
}

Deno.test({
  name:
    "two sites: B clones with standby_cluster.create_replica_methods; A fails over and B follows its new " +
    "primary without a re-clone",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using a = await formCluster(TIMING, "two-site-a", { members: 2, etcdMembers: 1 });
    const dir = await Deno.makeTempDir({ prefix: "hactl-two-site-b-" });
    await Deno.chmod(dir, 0o755);
    const ports = { primary: freePort(), replicas: freePort(), stats: freePort() };
    await using _haproxy = await startHaproxy(dir, a.members, ports);
    const oldPrimary = a.leader;
    const newPrimary = a.replicas[0]!;
    await createWriteTable(oldPrimary);
    const writer = startWriter(a.members);
    const agents = new Map<string, Deno.ChildProcess>();
    let b: MemberLayout[] = [];
    const cloneLog = `${dir}/clone.log`;
    try {
      await waitFor("writes on site A", 15_000, () => Promise.resolve(writer.acks.length >= 25));
      await Deno.writeTextFile(`${dir}/clone.sh`, cloneScript(cloneLog), { mode: 0o755 });
      const [pgBase, apiBase] = await freePorts(2, 2);
      const layout: LayoutOptions = {
        dir,
        scope: "two-site-b",
        members: 2,
        etcdEndpoints: a.etcd.endpoints,
        basePgPort: pgBase!,
        baseApiPort: apiBase!,
        ...TIMING,
      };
      b = await writeLayout(layout);
      for (const m of b) {
        const yml = await Deno.readTextFile(m.configPath);
        const section = "  dcs:\n    standby_cluster:\n      host: 127.0.0.1\n" +
          `      port: ${ports.primary}\n` +
          "      create_replica_methods: [broken_method, script_clone, basebackup]\n";
        const methods = "\npostgresql:\n  broken_method:\n    command: /bin/false\n" +
          `  script_clone:\n    command: /bin/sh ${dir}/clone.sh\n    site: b\n`;
        assert.ok(yml.includes("\npostgresql:\n"));
        await Deno.writeTextFile(
          m.configPath,
          yml.replace("  dcs:\n", section).replace("\npostgresql:\n", methods),
        );
      }
      const t0 = performance.now();
      for (const m of b) agents.set(m.name, await spawnAgent(m));
      const sl = await waitFor("site B's standby leader", 120_000, async () => {
        const h = await readHealth(layout);
        const holder = h.view.members.find((m) => m.name === h.leader);
        return holder?.data.role === "standby_leader" && holder.data.state === "running"
          ? b.find((m) => m.name === holder.name)
          : { notYet: `leader=${h.leader} role=${holder?.data.role}` };
      }, 200);
      const other = b.find((m) => m !== sl)!;
      await waitFor(`${other.name} streaming`, 90_000, async () => (await streamingTimeline(other)) > 0);
      const formedS = (performance.now() - t0) / 1000;

      // Each member was cloned once, by script_clone (broken_method failed first), from site A or the standby leader.
      const lines = await cloneLines(cloneLog);
      assert.equal(lines.length, 2, lines.join("\n"));
      const [first, second] = lines as [string, string];
      for (const l of lines) assert.match(l, /--site=b --scope=two-site-b --role=replica --datadir=/);
      assert.ok(first.includes(`--datadir=${sl.dataDir} `), first);
      assert.ok(first.includes(`port=${ports.primary}`), `the standby leader cloned from site A: ${first}`);
      assert.ok(second.includes(`--datadir=${other.dataDir} `), second);
      assert.ok(
        second.includes(`port=${sl.pgPort}`),
        `the other member cloned from the standby leader: ${second}`,
      );
      for (const m of b) {
        const log = await Deno.readTextFile(m.logPath);
        assert.match(log, /error creating replica using method broken_method/);
        assert.match(log, /replica has been created using script_clone/);
        assert.doesNotMatch(log, /pg_basebackup from/, "the basebackup method was not needed");
      }
      const started = await Promise.all(b.map(pgStart));
      assert.equal(await streamingTimeline(sl), 1);

      // Site A's primary is lost: agent and postmaster.
      const pid = await postmasterPid(oldPrimary);
      a.agents.get(oldPrimary.name)!.kill("SIGKILL");
      await a.agents.get(oldPrimary.name)!.status;
      a.agents.delete(oldPrimary.name);
      Deno.kill(pid, "SIGKILL");
      const tKill = performance.now();
      const firstNew = await waitFor(
        `writes on ${newPrimary.name}`,
        60_000,
        () => Promise.resolve(firstAckAfter(writer.acks, tKill, newPrimary.name)),
        100,
      );
      const failoverS = (firstNew.ackAt - tKill) / 1000;
      await waitFor(`${sl.name} streaming timeline 2 through HAProxy`, 90_000, async () => {
        const tli = await streamingTimeline(sl);
        return tli >= 2 || { notYet: `timeline ${tli}` };
      }, 200);
      await waitFor(`${sl.name} holding site A's writes after the failover`, 60_000, async () => {
        const missing = await missingOn(sl, [firstNew]);
        return missing.length === 0;
      }, 100);
      const followS = (performance.now() - tKill) / 1000;

      // Writes go on on the new primary for a while (200 of them) before they are counted on site B.
      await waitFor(
        `200 writes on ${newPrimary.name}`,
        60_000,
        () => Promise.resolve(writer.acks.filter((r) => r.node === newPrimary.name).length >= 200),
        100,
      );
      const acks = await writer.stop();
      const onNew = acks.filter((r) => r.node === newPrimary.name);
      for (const m of b) {
        await waitFor(`every write of ${newPrimary.name} on ${m.name}`, 60_000, async () => {
          const missing = await missingOn(m, onNew);
          return missing.length === 0 || { notYet: `${missing.length} missing` };
        });
      }
      assert.deepEqual(
        await Promise.all(b.map(pgStart)),
        started,
        "the same postmasters: no re-clone, no restart",
      );
      assert.equal((await cloneLines(cloneLog)).length, 2, "no further clone");
      const h = await readHealth(layout);
      assert.equal(h.leader, sl.name, "the standby leader is unchanged");
      assert.deepEqual(h.primaries, [], "site B has no writable primary");
      // deno-lint-ignore no-console -- the figures of this run
      console.log(
        `two sites: site B formed (2 clones by script_clone after broken_method) in ${
          formedS.toFixed(1)
        } s; ` +
          `site A failed over in ${failoverS.toFixed(1)} s (kill to the first write on ${newPrimary.name}, ` +
          `ttl ${TIMING.ttl}); site B's standby leader on timeline 2 with that write ${
            followS.toFixed(1)
          } s ` +
          `after the kill; ${onNew.length} writes on the new primary, all on both of B's members`,
      );
    } catch (err) {
      await writer.stop().catch(() => {});
      for (const m of b) {
        const text = await Deno.readTextFile(m.logPath).catch(() => "(no log)");
        // deno-lint-ignore no-console -- failure diagnostics
        console.error(`----- two-site-b ${m.name} -----\n${text.split("\n").slice(-80).join("\n")}`);
      }
      await a.dumpLogs("two-site-a");
      throw err;
    } finally {
      await Promise.all([...agents.values()].map((p) => stopAgent(p, 30_000)));
      await stopLeftoverPostgres(b.map((m) => m.dataDir));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
