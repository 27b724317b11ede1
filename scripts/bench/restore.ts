/**
 * Restore and clone benchmark: how long a database of a few GB takes to get a new replica by pg_basebackup from
 * the primary, a new replica by a pgBackRest replica method (a restore from the repository), and a new cluster
 * bootstrapped from the pgBackRest backup (custom `bootstrap.method`), all three in the same run on the same data.
 *
 * One etcd member; a source cluster `bench_src` of three members configured through hactl's YAML only:
 * - pg1 starts alone, archives its WAL to a local pgBackRest repository (`archive_command`), is loaded with
 *   `pgbench -i -s <scale>` (server-side generation) and backed up in full (`pgbackrest backup`);
 * - (a) pg2 is started with `create_replica_methods: [basebackup]` (and `basebackup: [{checkpoint: fast}]`);
 * - (b) then pg3 with `create_replica_methods: [pgbackrest]` (`pgbackrest restore --type=standby`, then
 *   streaming from pg1, with `recovery_conf`'s `restore_command` for the WAL the backup needs);
 * - (c) then a new one-member cluster `bench_restored` whose `bootstrap.method` restores the same backup and
 *   recovers to the end of the archive.
 * Each figure is the wall time from starting that agent to: (a, b) the replica in recovery with its own WAL
 * receiver streaming, (c) the member holding the leader key with Postgres out of recovery; and the part of it the
 * copy itself took, from the agent's log (a: from `pg_basebackup from` to `replica has been created`; b: from
 * `creating a replica with method pgbackrest` to `replica has been created`; c: from `running custom bootstrap
 * script` to the end of recovery). Every member's `pgbench_branches` must hold `scale` rows.
 *
 * Prints one JSON object per step on stdout, then a summary line. Usage (as a non-root user; see restore.sh):
 *   deno run -A scripts/bench/restore.ts [--scale 150] [--process-max 2] [--compress lz4] [--keep]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startEtcd } from "../../tests/helpers/etcd.ts";
import {
  archiveTo,
  editYaml,
  pgbackrest,
  stanzaSection,
  writeRepoConf,
} from "../../tests/helpers/pgbackrest.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "../../tests/helpers/processes.ts";
import {
  type LayoutOptions,
  LOCAL_SECRETS,
  type MemberLayout,
  readHealth,
  spawnAgent,
  waitFor,
  waitHealthy,
  withSql,
  writeLayout,
} from "../lib/local_cluster.ts";
import { TIMINGS } from "./failover_scenarios.ts";

const STEP_DEADLINE_MS = 900_000;
const out = (o: Record<string, unknown>) =>
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
const round = (s: number) => Math.round(s * 100) / 100;

function pgBin(name: string): string {
  const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((e) => e.name).sort((a, b) => +b - +a);
  return `/usr/lib/postgresql/${versions[0]}/bin/${name}`;
}

async function run(bin: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const o = await new Deno.Command(bin, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  if (!o.success) throw new Error(`${bin} ${args.join(" ")} exited ${o.code}: ${text}`);
  return text;
}

/** Seconds between the first log line containing `from` and the first later one containing `to`. */
async function logSpan(m: MemberLayout, from: string, to: string): Promise<number | null> {
  const lines = (await Deno.readTextFile(m.logPath)).split("\n");
  const at = (line: string) => {
    const t = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})/.exec(line);
    return t ? new Date(`${t[1]}T${t[2]}.${t[3]}`).getTime() : NaN;
  };
  const i = lines.findIndex((l) => l.includes(from));
  const j = lines.findIndex((l, k) => k > i && l.includes(to));
  return i < 0 || j < 0 ? null : round((at(lines[j]!) - at(lines[i]!)) / 1000);
}

async function branches(m: MemberLayout): Promise<number> {
  return await withSql(m, async (sql) => (await sql`SELECT count(*)::int AS n FROM pgbench_branches`)[0]!.n);
}

/** Start `m`'s agent and wait until it is a replica whose own WAL receiver streams; seconds. */
async function timeReplica(m: MemberLayout, agents: Deno.ChildProcess[]): Promise<number> {
  const t0 = performance.now();
  agents.push(await spawnAgent(m));
  await waitFor(`${m.name} streaming`, STEP_DEADLINE_MS, async () => {
    const [row] = await withSql(m, (sql) =>
      sql`SELECT pg_is_in_recovery() AS rec,
        (SELECT count(*)::int FROM pg_stat_wal_receiver WHERE status = 'streaming') AS wr`);
    return row!.rec && row!.wr === 1 ? true : { notYet: JSON.stringify(row) };
  }, 100);
  return round((performance.now() - t0) / 1000);
}

/** Start the restored cluster's agent and wait until it leads with Postgres out of recovery; seconds. */
async function timeRestoredPrimary(layout: LayoutOptions, m: MemberLayout, agents: Deno.ChildProcess[]) {
  const t0 = performance.now();
  agents.push(await spawnAgent(m));
  await waitFor(`${m.name} leading out of recovery`, STEP_DEADLINE_MS, async () => {
    if ((await readHealth(layout)).leader !== m.name) return { notYet: "no leader key" };
    const [row] = await withSql(m, (sql) => sql`SELECT pg_is_in_recovery() AS rec`);
    return row!.rec ? { notYet: "in recovery" } : true;
  }, 100);
  return round((performance.now() - t0) / 1000);
}

interface Layouts {
  src: LayoutOptions;
  srcMembers: MemberLayout[];
  restored: LayoutOptions;
  restoredMember: MemberLayout;
}

/** Both clusters' YAML: archiving on pg1, the replica methods of pg2 and pg3, the custom bootstrap. */
async function writeLayouts(dir: string, conf: string, endpoints: string[]): Promise<Layouts> {
  const [pgBase, apiBase] = await freePorts(2, 4);
  const timing = {
    ttl: TIMINGS.fast.ttl,
    loopWait: TIMINGS.fast.loopWait,
    retryTimeout: TIMINGS.fast.retryTimeout,
  };
  const src = {
    dir,
    scope: "bench_src",
    members: 3,
    etcdEndpoints: endpoints,
    ...timing,
    basePgPort: pgBase!,
    baseApiPort: apiBase!,
  };
  const srcMembers = await writeLayout(src);
  const [p1, p2, p3] = srcMembers as [MemberLayout, MemberLayout, MemberLayout];
  await Deno.writeTextFile(conf, stanzaSection("src", p1, dir), { append: true });
  const restoreCmd = (m: MemberLayout) => `pgbackrest --config=${conf} --stanza=src --pg1-path=${m.dataDir}`;
  await editYaml(p1, (d) => Object.assign(d.postgresql.parameters, archiveTo(conf, "src")));
  await editYaml(p2, (d) => {
    d.postgresql.create_replica_methods = ["basebackup"];
    d.postgresql.basebackup = [{ checkpoint: "fast" }];
  });
  await editYaml(p3, (d) => {
    d.postgresql.create_replica_methods = ["pgbackrest"];
    d.postgresql.pgbackrest = { command: `${restoreCmd(p3)} restore --type=standby`, no_params: true };
    d.postgresql.recovery_conf = { restore_command: `${restoreCmd(p3)} archive-get %f "%p"` };
  });
  const restored = {
    ...src,
    dir: `${dir}/restored`,
    scope: "bench_restored",
    members: 1,
    basePgPort: pgBase! + 3,
    baseApiPort: apiBase! + 3,
  };
  const [r1] = await writeLayout(restored);
  await editYaml(r1!, (d) => {
    d.postgresql.parameters.archive_mode = "off";
    d.bootstrap.method = "pgbackrest";
    d.bootstrap.pgbackrest = {
      command: `${restoreCmd(r1!)} restore`,
      no_params: true,
      recovery_conf: { restore_command: `${restoreCmd(r1!)} archive-get %f "%p"` },
    };
  });
  return { src, srcMembers, restored, restoredMember: r1! };
}

/** `pgbench -i -s <scale>` on `p1` (server-side generation); prints the `load` step; the databases' size in bytes. */
async function loadPgbench(p1: MemberLayout, scale: number): Promise<number> {
  const t = performance.now();
  const conn = [
    "-h",
    "127.0.0.1",
    "-p",
    String(p1.pgPort),
    "-U",
    LOCAL_SECRETS.superuser.username,
    "postgres",
  ];
  await run(pgBin("pgbench"), ["-i", "-s", String(scale), "-q", "-I", "dtGvp", ...conn], {
    PGPASSWORD: LOCAL_SECRETS.superuser.password,
  });
  const dbBytes = await withSql(
    p1,
    async (sql) =>
      Number((await sql`SELECT sum(pg_database_size(datname))::bigint AS b FROM pg_database`)[0]!.b),
  );
  out({ step: "load", scale, database_gb: round(dbBytes / 1e9), s: round((performance.now() - t) / 1000) });
  return dbBytes;
}

/** A full pgBackRest backup of the source cluster; prints the `backup` step. */
async function backupFull(conf: string): Promise<void> {
  const t = performance.now();
  await pgbackrest(conf, "src", "backup", "--type=full");
  const info = JSON.parse(await pgbackrest(conf, "src", "info", "--output=json"));
  const repoBytes = Number(info[0]?.backup?.at(-1)?.info?.repository?.size ?? NaN);
  out({ step: "backup", repository_gb: round(repoBytes / 1e9), s: round((performance.now() - t) / 1000) });
}

/** One way to get a new member: its wall time and the part of it the copy took (from the agent's log). */
interface CopyTiming {
  how: string;
  wall_s: number;
  copy_s: number | null;
}

/** The three copies, one after the other: a replica by pg_basebackup, one by pgBackRest, the restored cluster. */
async function timeCopies(l: Layouts, agents: Deno.ChildProcess[]): Promise<CopyTiming[]> {
  const [, p2, p3] = l.srcMembers as [MemberLayout, MemberLayout, MemberLayout];
  const results: CopyTiming[] = [];
  const basebackup = await timeReplica(p2, agents);
  results.push({
    how: "replica_pg_basebackup",
    wall_s: basebackup,
    copy_s: await logSpan(p2, "pg_basebackup from", "replica has been created using basebackup"),
  });
  const viaRepo = await timeReplica(p3, agents);
  results.push({
    how: "replica_pgbackrest",
    wall_s: viaRepo,
    copy_s: await logSpan(p3, "creating a replica with method pgbackrest", "replica has been created using"),
  });
  const m = l.restoredMember;
  const restored = await timeRestoredPrimary(l.restored, m, agents);
  results.push({
    how: "new_cluster_pgbackrest_bootstrap",
    wall_s: restored,
    copy_s: await logSpan(
      m,
      "running custom bootstrap script",
      "roles for superuser, replication and rewind",
    ),
  });
  return results;
}

async function bench(
  scale: number,
  dir: string,
  endpoints: string[],
  repoOpts: string[],
  agents: Deno.ChildProcess[],
) {
  await Deno.mkdir(`${dir}/pgbackrest`);
  const conf = await writeRepoConf(`${dir}/pgbackrest`, repoOpts);
  const l = await writeLayouts(dir, conf, endpoints);
  const [p1, p2, p3] = l.srcMembers as [MemberLayout, MemberLayout, MemberLayout];
  agents.push(await spawnAgent(p1));
  await waitHealthy(l.src, 0, 120_000);
  await pgbackrest(conf, "src", "stanza-create");
  const dbBytes = await loadPgbench(p1, scale);
  await backupFull(conf);
  const results = await timeCopies(l, agents);
  for (const r of results) out({ ...r });
  for (const x of [p1, p2, p3, l.restoredMember]) {
    const n = await branches(x);
    if (n !== scale) throw new Error(`${x.name}: pgbench_branches has ${n} rows, not ${scale}`);
  }
  const [base, viaRepo, restored] = results.map((r) => r.wall_s) as [number, number, number];
  out({
    summary: "restore",
    scale,
    database_gb: round(dbBytes / 1e9),
    pgbackrest_options: repoOpts.join(" "),
    ...Object.fromEntries(results.map((r) => [`${r.how}_s`, r.wall_s])),
    ratio_pgbackrest_replica_to_basebackup: round(viaRepo / base),
    ratio_pgbackrest_bootstrap_to_basebackup: round(restored / base),
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      scale: { type: "string", default: "150" },
      "process-max": { type: "string", default: "2" },
      compress: { type: "string", default: "lz4" },
      keep: { type: "boolean", default: false },
    },
  });
  const etcd = await startEtcd({ members: 1 });
  const dir = await Deno.makeTempDir({ prefix: "hactl-bench-restore-" });
  const agents: Deno.ChildProcess[] = [];
  try {
    const repoOpts = [`compress-type=${values.compress}`, `process-max=${values["process-max"]}`];
    await bench(Number(values.scale), dir, etcd.endpoints, repoOpts, agents);
  } finally {
    await Promise.all(agents.map((a) => stopAgent(a, 60_000)));
    const dataDirs = ["pg1", "pg2", "pg3", "restored/pg1"].map((n) => `${dir}/${n}/data`);
    await stopLeftoverPostgres(dataDirs);
    await etcd.stop();
    // deno-lint-ignore no-console
    if (values.keep) console.error(`kept ${dir}`);
    else await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
