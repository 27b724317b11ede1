/**
 * A 3-member hactl cluster in network namespaces (needs root), for the chaos suite: each member — its etcd member,
 * its `hactl agent` (run as the `postgres` OS user) and the PostgreSQL 15 that agent manages — lives in its own
 * namespace of a `NetLab` (scripts/chaos/netns.ts), so network faults can cut one member off for real. The writer
 * and the observers run in the root namespace and reach every member on its bridge address.
 *
 * Inside its namespace every member uses the standard ports (etcd 2379/2380, Postgres 5432, REST 8008), bound to its
 * own bridge address only; Unix sockets go to a per-member directory (the filesystem is shared).
 *
 * @module
 */
import postgres from "postgres";
import { createNetLab, type NetLab, type NetNode, sh } from "./netns.ts";
import { AGENT_V8_FLAGS, LOCAL_SECRETS, mainModule, readHealth, waitFor } from "../lib/local_cluster.ts";
import type { Timing } from "../bench/failover.ts";
import { type ChaosSync, chaosSyncFromEnv, syncDcsLines } from "./sync.ts";

export const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;
export const PG_PORT = 5432;
const API_PORT = 8008;
const DENO_DIR_PG = "/var/tmp/hactl-deno-postgres";
const PG_BIN = "/usr/lib/postgresql/15/bin";
/** The checkout (where deno.json and its import map are found). */
const REPO = new URL("../../", import.meta.url).pathname;

/** One member of the chaos cluster. */
export interface ChaosMember {
  name: string;
  net: NetNode;
  /** For the writer: name, address and Postgres port. */
  host: string;
  pgPort: number;
  dataDir: string;
  configPath: string;
  logPath: string;
  etcdLogPath: string;
  etcdEndpoint: string;
}

/** A formed chaos cluster. Disposing it kills everything and removes the namespaces. */
export interface ChaosCluster extends AsyncDisposable {
  timing: Timing;
  scope: string;
  /** Synchronous replication (HACTL_CHAOS_SYNC=on|strict|quorum, scripts/chaos/sync.ts); "off": asynchronous. */
  sync: ChaosSync;
  dir: string;
  lab: NetLab;
  members: ChaosMember[];
  /** etcd client URLs (bridge addresses), for observers in the root namespace. */
  etcdEndpoints: string[];
  byName(name: string): ChaosMember;
  /** The running agent's process (its pid is the agent's: no wrapper process stays between). */
  agent(name: string): Deno.ChildProcess | null;
  spawnAgent(name: string): Promise<void>;
  /** SIGKILL the agent alone (its Postgres and fencing supervisor keep running). */
  killAgent(name: string): Promise<void>;
  signalAgent(name: string, signal: "SIGSTOP" | "SIGCONT"): void;
  /**
   * Signal the agent's whole job: every process in the agent's session or process group (the agent, the pg_ctl or
   * callbacks it runs, and its fencing supervisor if that shares them), except Postgres's. Returns the pids.
   */
  signalJob(name: string, signal: "SIGSTOP" | "SIGCONT"): number[];
  /** Signal these processes (those gone are skipped). */
  signalPids(pids: readonly number[], signal: "SIGSTOP" | "SIGCONT"): void;
  killEtcd(name: string): Promise<void>;
  startEtcd(name: string): Promise<void>;
  /** The member whose etcd is the raft leader (asked over HTTP from the root namespace), or null. */
  etcdLeader(): Promise<string | null>;
  /** Copy logs to $HACTL_TEST_LOGS (when set) and print their tails. */
  dumpLogs(label: string): Promise<void>;
  teardown(): Promise<void>;
}

/** Patroni-style YAML for one member in its namespace. */
function memberYaml(o: {
  scope: string;
  dir: string;
  m: ChaosMember;
  etcdHosts: string[];
  subnet: string;
  timing: Timing;
  /** `fencing.supervisor`: false with HACTL_CHAOS_FENCE_SUPERVISOR=off (to measure a host without it). */
  fenceSupervisor: boolean;
  /** `failsafe_mode: true` in bootstrap.dcs with HACTL_CHAOS_FAILSAFE=on (failsafe mode, docs/operations.md). */
  failsafe?: boolean;
  /** `synchronous_mode` (and `_strict`) in bootstrap.dcs with HACTL_CHAOS_SYNC=on|strict|quorum. */
  sync?: ChaosSync;
}): string {
  const { m, timing } = o;
  return `scope: ${o.scope}
namespace: /service/
name: ${m.name}

log:
  level: INFO

restapi:
  listen: ${m.host}:${API_PORT}
  connect_address: ${m.host}:${API_PORT}

etcd3:
  hosts: ${o.etcdHosts.join(",")}

bootstrap:
  dcs:
    ttl: ${timing.ttl}
    loop_wait: ${timing.loopWait}
    retry_timeout: ${timing.retryTimeout}
    maximum_lag_on_failover: 1048576${o.failsafe ? "\n    failsafe_mode: true" : ""}${
    syncDcsLines(o.sync ?? "off")
  }
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 50
        shared_buffers: 32MB
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - data-checksums

postgresql:
  listen: ${m.host}:${PG_PORT}
  connect_address: ${m.host}:${PG_PORT}
  data_dir: ${m.dataDir}
  pgpass: ${o.dir}/${m.name}/pgpass
  authentication:
    superuser:
      username: ${LOCAL_SECRETS.superuser.username}
      password: ${LOCAL_SECRETS.superuser.password}
    replication:
      username: ${LOCAL_SECRETS.replication.username}
      password: ${LOCAL_SECRETS.replication.password}
  parameters:
    unix_socket_directories: '${o.dir}/${m.name}'
  pg_hba:
    - local all all trust
    - host replication ${LOCAL_SECRETS.replication.username} ${o.subnet} md5
    - host all all ${o.subnet} md5

watchdog:
  mode: off

fencing:
  supervisor: ${o.fenceSupervisor}
`;
}

/** pid, comm, process group and session of every process (from /proc). */
function processTable(): { pid: number; comm: string; ppid: number; pgrp: number; session: number }[] {
  const out = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const [, ppid, pgrp, session] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({
        pid: Number(e.name),
        comm,
        ppid: Number(ppid),
        pgrp: Number(pgrp),
        session: Number(session),
      });
    } catch { /* gone */ }
  }
  return out;
}

/** The processes in the session or process group of `agentPid`, Postgres's (a postmaster and its children) excepted. */
export function jobProcesses(agentPid: number): number[] {
  const table = processTable();
  const agent = table.find((p) => p.pid === agentPid);
  if (!agent) return [];
  const postgres = new Set(table.filter((p) => p.comm === "postgres").map((p) => p.pid));
  const inJob = (p: { pgrp: number; session: number }) =>
    p.pgrp === agent.pgrp || p.session === agent.session;
  return table.filter((p) => inJob(p) && !postgres.has(p.pid) && !postgres.has(p.ppid)).map((p) => p.pid);
}

/** Environment the agents keep (TLS trust and proxies for the npm cache, as scripts/lib/as_postgres.sh does). */
function keptEnv(): string[] {
  const keep = [
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "DENO_CERT",
    "DENO_TLS_CA_STORE",
    "NODE_EXTRA_CA_CERTS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "NPM_CONFIG_REGISTRY",
  ];
  return keep.filter((k) => Deno.env.get(k)).map((k) => `${k}=${Deno.env.get(k)}`);
}

/** `env -i ...` arguments running Deno as the postgres user's Deno. */
function agentEnv(home: string): string[] {
  return [
    "env",
    "-i",
    ...keptEnv(),
    `HOME=${home}`,
    `DENO_DIR=${DENO_DIR_PG}`,
    "NO_COLOR=1",
    `PATH=${PG_BIN}:/usr/local/bin:/usr/bin:/bin`,
  ];
}

const AS_POSTGRES = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"];

async function pipeToLog(child: Deno.ChildProcess, path: string): Promise<void> {
  const log = await Deno.open(path, { append: true, create: true });
  const copy = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await log.write(chunk);
  };
  Promise.all([copy(child.stdout), copy(child.stderr)]).finally(() => log.close()).catch(() => {});
}

/** The members' names and their places in the lab and in the run's directory. */
function chaosMembers(lab: NetLab, names: readonly string[], dir: string): ChaosMember[] {
  return names.map((name, i) => {
    const net = lab.nodes[i]!;
    return {
      name,
      net,
      host: net.ip,
      pgPort: PG_PORT,
      dataDir: `${dir}/${name}/data`,
      configPath: `${dir}/${name}/hactl.yml`,
      logPath: `${dir}/${name}.log`,
      etcdLogPath: `${dir}/etcd-${name}.log`,
      etcdEndpoint: `http://${net.ip}:${ETCD_CLIENT_PORT}`,
    };
  });
}

/** The running processes of a chaos cluster and what starting another one needs. */
interface ChaosProcs {
  dir: string;
  members: ChaosMember[];
  agents: Map<string, Deno.ChildProcess>;
  etcds: Map<string, Deno.ChildProcess>;
  /** etcd's `--initial-cluster`: every member's peer URL. */
  initialCluster: string;
  /** etcd's `--initial-cluster-state`: "new" until the cluster first formed. */
  etcdState: "new" | "existing";
}

function memberNamed(members: readonly ChaosMember[], n: string): ChaosMember {
  const m = members.find((x) => x.name === n);
  if (!m) throw new Error(`no member named ${n}`);
  return m;
}

function etcdHealthy(m: ChaosMember): Promise<true> {
  return waitFor(`etcd of ${m.name} healthy`, 30_000, async () => {
    const r = await fetch(`${m.etcdEndpoint}/health`, { signal: AbortSignal.timeout(1000) });
    const body = await r.json() as { health?: string };
    return body.health === "true";
  }, 200);
}

/** `ip netns exec` arguments running `m`'s etcd member. */
function etcdArgs(p: ChaosProcs, m: ChaosMember): string[] {
  return [
    "netns",
    "exec",
    m.net.ns,
    "/usr/bin/etcd",
    `--name=${m.name}`,
    `--data-dir=${p.dir}/etcd-${m.name}.data`,
    `--listen-client-urls=${m.etcdEndpoint}`,
    `--advertise-client-urls=${m.etcdEndpoint}`,
    `--listen-peer-urls=http://${m.host}:${ETCD_PEER_PORT}`,
    `--initial-advertise-peer-urls=http://${m.host}:${ETCD_PEER_PORT}`,
    `--initial-cluster=${p.initialCluster}`,
    `--initial-cluster-state=${p.etcdState}`,
    `--initial-cluster-token=${p.dir.split("/").pop()}`,
    "--heartbeat-interval=100",
    "--election-timeout=1000",
    "--logger=zap",
    "--log-level=warn",
  ];
}

/** `ip netns exec` arguments running `m`'s agent as the postgres user. */
function agentArgs(dir: string, m: ChaosMember): string[] {
  return [
    "netns",
    "exec",
    m.net.ns,
    // A session and process group of its own, as under a terminal's job control or a service manager: the
    // `job-freeze` fault stops the agent's whole job.
    "setsid",
    ...AS_POSTGRES,
    ...agentEnv(dir),
    Deno.execPath(),
    "run",
    "--allow-all",
    `--v8-flags=${AGENT_V8_FLAGS}`,
    mainModule(),
    "agent",
    m.configPath,
  ];
}

async function startEtcdOf(p: ChaosProcs, name: string): Promise<void> {
  const m = memberNamed(p.members, name);
  const child = new Deno.Command("ip", {
    args: etcdArgs(p, m),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await pipeToLog(child, m.etcdLogPath);
  p.etcds.set(name, child);
}

async function spawnAgentOf(p: ChaosProcs, name: string): Promise<void> {
  const m = memberNamed(p.members, name);
  const child = new Deno.Command("ip", {
    args: agentArgs(p.dir, m),
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  await pipeToLog(child, m.logPath);
  p.agents.set(name, child);
}

/** SIGKILL the process `children` holds under `name` (if any), wait for it, forget it. */
async function killChild(children: Map<string, Deno.ChildProcess>, name: string): Promise<void> {
  const child = children.get(name);
  if (!child) return;
  try {
    child.kill("SIGKILL");
  } catch { /* gone */ }
  await child.status;
  children.delete(name);
}

function signalPids(pids: readonly number[], signal: "SIGSTOP" | "SIGCONT"): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch { /* gone */ }
  }
}

/** The member whose etcd is the raft leader, asked over HTTP from the root namespace; null when none answers so. */
async function etcdLeaderOf(members: readonly ChaosMember[]): Promise<string | null> {
  for (const m of members) {
    try {
      const r = await fetch(`${m.etcdEndpoint}/v3/maintenance/status`, {
        method: "POST",
        body: "{}",
        signal: AbortSignal.timeout(1000),
      });
      const s = await r.json() as { header?: { member_id?: string }; leader?: string };
      if (s.leader && s.leader === s.header?.member_id) return m.name;
    } catch { /* try the next */ }
  }
  return null;
}

/** The cluster's handle on its processes; `teardown` stops everything. */
function chaosClusterHandle(
  o: { timing: Timing; scope: string; sync: ChaosSync; lab: NetLab; teardown: () => Promise<void> },
  p: ChaosProcs,
): ChaosCluster {
  const { agents, etcds, members } = p;
  const c: ChaosCluster = {
    timing: o.timing,
    scope: o.scope,
    sync: o.sync,
    dir: p.dir,
    lab: o.lab,
    members,
    etcdEndpoints: members.map((m) => m.etcdEndpoint),
    byName: (n) => memberNamed(members, n),
    agent: (n) => agents.get(n) ?? null,
    spawnAgent: (name) => spawnAgentOf(p, name),
    killAgent: (name) => killChild(agents, name),
    signalAgent(name, signal) {
      agents.get(name)?.kill(signal);
    },
    signalJob(name, signal) {
      const a = agents.get(name);
      const pids = a ? jobProcesses(a.pid) : [];
      c.signalPids(pids, signal);
      return pids;
    },
    signalPids,
    killEtcd: (name) => killChild(etcds, name),
    async startEtcd(name) {
      await startEtcdOf(p, name);
      // A lone member is not healthy until it has a quorum.
      await etcdHealthy(memberNamed(members, name)).catch(() => {});
    },
    etcdLeader: () => etcdLeaderOf(members),
    dumpLogs: (label) => dumpLogs(label, members),
    teardown: o.teardown,
    [Symbol.asyncDispose]: o.teardown,
  };
  return c;
}

/**
 * Fill the postgres user's Deno cache with every module, from the root namespace: the agents run as postgres from
 * that cache, which the namespaces cannot fill (no route to a registry).
 */
async function cacheAgentModules(dir: string): Promise<void> {
  await Deno.mkdir(DENO_DIR_PG, { recursive: true });
  await sh("chown", ["postgres:postgres", DENO_DIR_PG]);
  await sh(
    AS_POSTGRES[0]!,
    [...AS_POSTGRES.slice(1), ...agentEnv(dir), Deno.execPath(), "cache", mainModule()],
    300_000,
    REPO,
  );
}

/** Each member's directory (owned by postgres) and its YAML (its own etcd member first in `etcd3.hosts`). */
async function writeMemberConfigs(
  o: {
    scope: string;
    dir: string;
    members: readonly ChaosMember[];
    subnet: string;
    timing: Timing;
    sync: ChaosSync;
  },
): Promise<void> {
  const { dir, members } = o;
  for (const m of members) {
    await Deno.mkdir(`${dir}/${m.name}`, { recursive: true, mode: 0o700 });
    const etcdHosts = [m, ...members.filter((x) => x !== m)].map((x) => `${x.host}:${ETCD_CLIENT_PORT}`);
    await Deno.writeTextFile(
      m.configPath,
      memberYaml({
        scope: o.scope,
        dir,
        m,
        etcdHosts,
        subnet: o.subnet,
        timing: o.timing,
        fenceSupervisor: Deno.env.get("HACTL_CHAOS_FENCE_SUPERVISOR") !== "off",
        failsafe: Deno.env.get("HACTL_CHAOS_FAILSAFE") === "on",
        sync: o.sync,
      }),
      { mode: 0o600 },
    );
    await sh("chown", ["-R", "postgres:postgres", `${dir}/${m.name}`]);
  }
}

/** Start every etcd member (as a new cluster), wait until each is healthy, then start every agent. */
async function startProcesses(p: ChaosProcs): Promise<void> {
  for (const m of p.members) await startEtcdOf(p, m.name);
  p.etcdState = "existing";
  for (const m of p.members) await etcdHealthy(m);
  for (const m of p.members) await spawnAgentOf(p, m.name);
}

/** Form the cluster: namespaces, etcd, agents; wait for 1 primary + 2 streaming replicas. */
export async function formChaosCluster(timing: Timing, scope = "chaos"): Promise<ChaosCluster> {
  const names = ["pg1", "pg2", "pg3"];
  const sync = chaosSyncFromEnv(Deno.env.get("HACTL_CHAOS_SYNC"));
  const lab = await createNetLab(names);
  // The pid in the name lets a later run's `removeLeftovers` remove it if this process dies first.
  const dir = await Deno.makeTempDir({ prefix: `hactl-chaos-${Deno.pid}-` });
  await Deno.chmod(dir, 0o755);
  const members = chaosMembers(lab, names, dir);
  const p: ChaosProcs = {
    dir,
    members,
    agents: new Map(),
    etcds: new Map(),
    initialCluster: members.map((m) => `${m.name}=http://${m.host}:${ETCD_PEER_PORT}`).join(","),
    etcdState: "new",
  };
  let tornDown = false;
  const teardown = async () => {
    if (tornDown) return;
    tornDown = true;
    await lab.teardown();
    await Promise.all([...p.agents.values(), ...p.etcds.values()].map((c) => c.status.catch(() => {})));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const c = chaosClusterHandle({ timing, scope, sync, lab, teardown }, p);
  try {
    await cacheAgentModules(dir);
    await writeMemberConfigs({ scope, dir, members, subnet: lab.subnet, timing, sync });
    await startProcesses(p);
    await waitConverged(c, 180_000);
    return c;
  } catch (err) {
    await dumpLogs(`${scope}-formation`, members);
    await teardown();
    throw err;
  }
}

async function dumpLogs(label: string, members: ChaosMember[]): Promise<void> {
  const target = Deno.env.get("HACTL_TEST_LOGS");
  for (const m of members) {
    const logs = [["agent", m.logPath], ["etcd", m.etcdLogPath], ["postgres", `${m.dataDir}/postgresql.log`]];
    for (const [kind, path] of logs as [string, string][]) {
      const text = await Deno.readTextFile(path).catch(() => "(no log)");
      if (target) await Deno.writeTextFile(`${target}/${label}-${m.name}-${kind}.log`, text).catch(() => {});
      if (kind !== "etcd") {
        // deno-lint-ignore no-console -- failure diagnostics
        console.error(
          `----- ${label} ${m.name} ${kind} (last 30 lines) -----\n${text.split("\n").slice(-30).join("\n")}`,
        );
      }
    }
  }
}

/** A one-connection SQL client to a member over its bridge address. */
export function sqlTo(m: Pick<ChaosMember, "host" | "pgPort">, timeoutS = 3): postgres.Sql {
  return postgres({
    host: m.host,
    port: m.pgPort,
    database: "postgres",
    username: LOCAL_SECRETS.superuser.username,
    password: LOCAL_SECRETS.superuser.password,
    max: 1,
    connect_timeout: timeoutS,
    idle_timeout: 0,
    onnotice: () => {},
    connection: { statement_timeout: timeoutS * 1000, application_name: "hactl-chaos-observer" },
  });
}

async function withSqlTo<T>(m: ChaosMember, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = sqlTo(m);
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * Converged: the leader key names a member whose Postgres is out of recovery and has 2 streaming WAL senders, and
 * the two others answer as replicas whose WAL receiver streams, as seen over SQL from the root namespace (the
 * member keys alone may be stale). Returns the leader's name.
 */
export function waitConverged(c: ChaosCluster, deadlineMs: number): Promise<string> {
  return waitFor("1 primary + 2 streaming replicas", deadlineMs, async () => {
    const h = await readHealth({ etcdEndpoints: c.etcdEndpoints, scope: c.scope });
    const leader = h.leader ? c.members.find((m) => m.name === h.leader) : undefined;
    if (!leader) return { notYet: `leader=${h.leader ?? "none"}` };
    const states = await Promise.all(c.members.map((m) =>
      withSqlTo(m, async (sql) => {
        const [r] = await sql`SELECT pg_is_in_recovery() AS rec,
          (SELECT count(*)::int FROM pg_stat_replication WHERE state = 'streaming') AS senders,
          (SELECT status FROM pg_stat_wal_receiver) AS receiver`;
        return r as unknown as { rec: boolean; senders: number; receiver: string | null };
      }).catch((err) => ({ error: String(err) }))
    ));
    const ok = c.members.every((m, i) => {
      const s = states[i]!;
      if ("error" in s) return false;
      return m === leader ? !s.rec && s.senders === 2 : s.rec && s.receiver === "streaming";
    });
    return ok ? leader.name : { notYet: `leader=${leader.name} ${JSON.stringify(states)}` };
  }, 250);
}
