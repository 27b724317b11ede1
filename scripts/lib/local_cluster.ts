/**
 * A local hactl cluster on loopback: per-member Patroni-style YAML, agent processes, and the wait for
 * "1 primary + N streaming replicas". Shared by the demo (`scripts/demo.ts`), the integration tests
 * (`tests/integration/`) and the bootstrap benchmark (`scripts/bench/`), so all three run the same set-up.
 *
 * Agents run `main.ts agent <config>` with the Deno that runs this module (`Deno.execPath()`).
 *
 * @module
 */
import postgres from "postgres";
import { createEtcdDcs } from "../../src/dcs/etcd.ts";
import type { ClusterView } from "../../src/core/types.ts";

export interface MemberLayout {
  name: string;
  pgPort: number;
  apiPort: number;
  dataDir: string;
  configPath: string;
  logPath: string;
}

export interface LayoutOptions {
  dir: string;
  scope: string;
  members: number;
  etcdEndpoints: string[];
  /**
   * Per member (by index), the etcd endpoints its YAML names instead of `etcdEndpoints` (e.g. proxies in front of
   * etcd for network-fault tests). `etcdEndpoints` stays what observers (`readHealth`, `waitHealthy`) use.
   */
  memberEtcdEndpoints?: string[][];
  /** First Postgres port; member i gets basePgPort + i. */
  basePgPort: number;
  /** First REST API port; member i gets baseApiPort + i. */
  baseApiPort: number;
  namespace?: string;
  ttl?: number;
  loopWait?: number;
  retryTimeout?: number;
}

/** Passwords used by local test and demo clusters (never production values). */
export const LOCAL_SECRETS = {
  superuser: { username: "postgres", password: "local-super-pass" },
  replication: { username: "replicator", password: "local-repl-pass" },
} as const;

/** `maximum_lag_on_failover` of every local cluster (bytes): a replica further behind does not race. */
export const LOCAL_MAXIMUM_LAG_ON_FAILOVER = 1048576;

/** A Patroni-compatible YAML configuration for one local member. */
export function memberConfigYaml(
  o: LayoutOptions,
  m: MemberLayout,
  etcdEndpoints: string[] = o.etcdEndpoints,
): string {
  const ttl = o.ttl ?? 30;
  const loopWait = o.loopWait ?? 10;
  const retryTimeout = o.retryTimeout ?? 10;
  return `scope: ${o.scope}
namespace: ${o.namespace ?? "/service/"}
name: ${m.name}

log:
  level: INFO

restapi:
  listen: 127.0.0.1:${m.apiPort}
  connect_address: 127.0.0.1:${m.apiPort}

etcd3:
  hosts: ${etcdEndpoints.map((e) => e.replace(/^https?:\/\//, "")).join(",")}

bootstrap:
  dcs:
    ttl: ${ttl}
    loop_wait: ${loopWait}
    retry_timeout: ${retryTimeout}
    maximum_lag_on_failover: ${LOCAL_MAXIMUM_LAG_ON_FAILOVER}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 50
        shared_buffers: 32MB
  initdb:
    - encoding: UTF8
    - data-checksums
  pg_hba:
    - host replication ${LOCAL_SECRETS.replication.username} 127.0.0.1/32 md5
    - host all all 127.0.0.1/32 md5

postgresql:
  listen: 127.0.0.1:${m.pgPort}
  connect_address: 127.0.0.1:${m.pgPort}
  data_dir: ${m.dataDir}
  pgpass: ${o.dir}/${m.name}.pgpass
  authentication:
    superuser:
      username: ${LOCAL_SECRETS.superuser.username}
      password: ${LOCAL_SECRETS.superuser.password}
    replication:
      username: ${LOCAL_SECRETS.replication.username}
      password: ${LOCAL_SECRETS.replication.password}
  parameters:
    unix_socket_directories: '${o.dir}'
  callbacks:
    on_start: /bin/sh ${o.dir}/callback.sh ${m.name}
    on_stop: /bin/sh ${o.dir}/callback.sh ${m.name}
    on_role_change: /bin/sh ${o.dir}/callback.sh ${m.name}
  pg_hba:
    - local all all trust
    - host replication ${LOCAL_SECRETS.replication.username} 127.0.0.1/32 md5
    - host all all 127.0.0.1/32 md5

tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false

watchdog:
  mode: off
`;
}

/**
 * The callback script every local member calls as `callback.sh <member> <action> <role> <scope>`: it appends
 * `<action> <role> <scope>` to `<dir>/<member>.callbacks`, so tests can see which callbacks ran.
 */
const CALLBACK_SCRIPT = `#!/bin/sh
echo "$2 $3 $4" >> "$(dirname "$0")/$1.callbacks"
`;

/** Lay out N members under `dir` and write their configuration files. */
export async function writeLayout(o: LayoutOptions): Promise<MemberLayout[]> {
  await Deno.mkdir(o.dir, { recursive: true });
  await Deno.writeTextFile(`${o.dir}/callback.sh`, CALLBACK_SCRIPT, { mode: 0o755 });
  const members: MemberLayout[] = [];
  for (let i = 0; i < o.members; i++) {
    const name = `pg${i + 1}`;
    const m: MemberLayout = {
      name,
      pgPort: o.basePgPort + i,
      apiPort: o.baseApiPort + i,
      dataDir: `${o.dir}/${name}/data`,
      configPath: `${o.dir}/${name}.yml`,
      logPath: `${o.dir}/${name}.log`,
    };
    await Deno.mkdir(`${o.dir}/${name}`, { recursive: true, mode: 0o700 });
    const endpoints = o.memberEtcdEndpoints?.[i] ?? o.etcdEndpoints;
    await Deno.writeTextFile(m.configPath, memberConfigYaml(o, m, endpoints), { mode: 0o600 });
    members.push(m);
  }
  return members;
}

/** The path of `main.ts` next to this script. */
export function mainModule(): string {
  return new URL("../../main.ts", import.meta.url).pathname;
}

/**
 * V8 flags for the agent (keep in line with scripts/build.sh). A 1 MB young generation takes the idle agent from
 * 91 to 82 MB resident with no measurable cost (REST handler: 50,000 requests in 447 vs 472 ms); `--lite-mode`
 * would save 12 MB more but makes the handler 5x slower, so it is not used.
 */
export const AGENT_V8_FLAGS = "--max-semi-space-size=1";

/** Spawn `hactl agent <config>` with output appended to the member's log file. */
export async function spawnAgent(
  m: MemberLayout,
  opts: { detached?: boolean } = {},
): Promise<Deno.ChildProcess> {
  const log = await Deno.open(m.logPath, { append: true, create: true });
  // The V8 flags `scripts/build.sh` bakes into the binary, so local clusters measure what users run;
  // HACTL_V8_FLAGS overrides them to compare settings.
  const v8 = Deno.env.get("HACTL_V8_FLAGS") ?? AGENT_V8_FLAGS;
  const args = [
    "run",
    "--allow-all",
    ...(v8 ? [`--v8-flags=${v8}`] : []),
    mainModule(),
    "agent",
    m.configPath,
  ];
  const cmd = opts.detached
    ? new Deno.Command("setsid", {
      args: [Deno.execPath(), ...args],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    })
    : new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped", stdin: "null" });
  const child = cmd.spawn();
  // Copy output to the log; the promise resolves when the process closes its pipes.
  const copy = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await log.write(chunk);
  };
  Promise.all([copy(child.stdout), copy(child.stderr)]).finally(() => log.close()).catch(() => {});
  return child;
}

/** Summary of a cluster's health as read from etcd. */
export interface ClusterHealth {
  leader: string | null;
  primaries: string[];
  streaming: string[];
  view: ClusterView;
}

/** Read the cluster from etcd and summarise it. */
export async function readHealth(o: Pick<LayoutOptions, "etcdEndpoints" | "scope" | "namespace">): Promise<
  ClusterHealth
> {
  const dcs = createEtcdDcs({
    etcd: { hosts: o.etcdEndpoints, protocol: "http" },
    namespace: o.namespace ?? "/service/",
    scope: o.scope,
    name: "observer",
    retryTimeout: 5,
    ttl: 30,
  });
  try {
    const view = await dcs.loadCluster();
    const leader = view.leader?.name ?? null;
    const primaries = view.members.filter((m) => m.data.role === "primary" && m.data.state === "running")
      .map((m) => m.name);
    const streaming = view.members.filter((m) =>
      m.name !== leader && m.data.role === "replica" && m.data.replication_state === "streaming"
    ).map((m) => m.name);
    return { leader, primaries, streaming, view };
  } finally {
    await dcs.close();
  }
}

/**
 * Poll until `check` returns a value or the deadline passes (then throw with the last state). `check` may return
 * `{ notYet: "<what it saw>" }` to explain why it is not done, which ends up in the timeout message.
 */
export async function waitFor<T>(
  what: string,
  deadlineMs: number,
  check: () => Promise<T | null | undefined | false | { notYet: string }>,
  intervalMs = 200,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v && !(typeof v === "object" && "notYet" in v)) return v as T;
      last = v && typeof v === "object" && "notYet" in v ? v.notYet : v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) {
      throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}; last: ${String(last)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Wait until the cluster has exactly one running primary holding the lock and `replicas` streaming replicas. */
export function waitHealthy(
  o: Pick<LayoutOptions, "etcdEndpoints" | "scope" | "namespace">,
  replicas: number,
  deadlineMs: number,
): Promise<ClusterHealth> {
  return waitFor(`1 primary + ${replicas} streaming replicas`, deadlineMs, async () => {
    const h = await readHealth(o);
    const ok = h.leader !== null && h.primaries.length === 1 && h.primaries[0] === h.leader &&
      h.streaming.length === replicas;
    return ok ? h : { notYet: describeHealth(h) };
  });
}

function describeHealth(h: ClusterHealth): string {
  const members = h.view.members.map((m) =>
    `${m.name}:${m.data.role}/${m.data.state}/${m.data.replication_state ?? "-"}`
  );
  return `leader=${h.leader ?? "none"} initialize=${JSON.stringify(h.view.initialize)} members=[${
    members.join(" ")
  }]`;
}

/**
 * Daemon-neutral health: the `leader` key names a member whose Postgres is out of recovery and shows `replicas`
 * streaming WAL senders in pg_stat_replication, and at least `replicas` other members are in recovery with their
 * own walreceiver streaming (pg_stat_wal_receiver). Used to compare hactl and Patroni by the same yardstick
 * (Patroni 3.0.2 does not publish `replication_state` in its member keys).
 */
export function waitHealthyBySql(
  o: Pick<LayoutOptions, "etcdEndpoints" | "scope" | "namespace">,
  members: MemberLayout[],
  replicas: number,
  deadlineMs: number,
): Promise<string> {
  return waitFor(`1 primary + ${replicas} streaming replicas (SQL)`, deadlineMs, async () => {
    const { leader } = await readHealth(o);
    const m = members.find((x) => x.name === leader);
    if (!m) return { notYet: `leader=${leader ?? "none"}` };
    const primary = await withSql(m, async (sql) => {
      const [row] = await sql`SELECT pg_is_in_recovery() AS rec,
        (SELECT count(*)::int FROM pg_stat_replication WHERE state = 'streaming') AS streaming`;
      return !row!.rec && row!.streaming >= replicas ? null : `${m.name}: ${JSON.stringify(row)}`;
    });
    if (primary) return { notYet: primary };
    // A replica counts once its own walreceiver streams: pg_basebackup's WAL stream also shows as 'streaming'
    // in the primary's pg_stat_replication (under the member's application_name) while it is still cloning.
    let streaming = 0;
    for (const r of members) {
      if (r === m) continue;
      const ok = await withSql(r, async (sql) => {
        const [row] = await sql`SELECT pg_is_in_recovery() AS rec,
          (SELECT count(*)::int FROM pg_stat_wal_receiver WHERE status = 'streaming') AS wr`;
        return row!.rec && row!.wr === 1;
      }).catch(() => false);
      if (ok) streaming++;
    }
    return streaming >= replicas ? m.name : { notYet: `${streaming} of ${replicas} replicas streaming` };
  }, 100);
}

/** Run `fn` with a one-connection SQL client to a member's Postgres as the local superuser, then close it. */
export async function withSql<T>(
  m: Pick<MemberLayout, "pgPort">,
  fn: (sql: postgres.Sql) => Promise<T>,
): Promise<T> {
  const sql = postgres({
    host: "127.0.0.1",
    port: m.pgPort,
    database: "postgres",
    username: LOCAL_SECRETS.superuser.username,
    password: LOCAL_SECRETS.superuser.password,
    max: 1,
    connect_timeout: 3,
    onnotice: () => {},
  });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}
