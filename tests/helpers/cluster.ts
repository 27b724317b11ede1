/**
 * The one real-cluster fixture of the integration tests and the failover benchmark: a fresh etcd (3 members, or
 * 1), N `hactl agent` processes with PostgreSQL on loopback (`scripts/lib/local_cluster.ts` writes their YAML and
 * spawns them), and the wait for 1 primary holding the leader key + N-1 streaming replicas. Disposing the cluster
 * (`await using`) stops every agent (SIGTERM, SIGKILL after 30 s), any Postgres left running, the proxies and etcd,
 * and removes the temp dir. When formation fails, the agents' logs are printed and everything is cleaned up
 * before the error is thrown.
 *
 * May import scripts/lib/local_cluster.ts and tests/helpers/ (etcd, processes, tcp_proxy).
 *
 * @example
 * ```ts
 * await using c = await formCluster({ ttl: 20, loopWait: 2, retryTimeout: 5 }, "itest");
 * await withSql(c.leader, (sql) => sql`SELECT 1`);
 * ```
 *
 * @module
 */
import { Etcd3 } from "etcd3";
import { type EtcdCluster, startEtcd } from "./etcd.ts";
import { freePorts, stopAgent, stopLeftoverPostgres } from "./processes.ts";
import { startProxy, type TcpProxy } from "./tcp_proxy.ts";
import {
  type LayoutOptions,
  type MemberLayout,
  spawnAgent,
  waitHealthy,
  writeLayout,
} from "../../scripts/lib/local_cluster.ts";

/** The DCS timings a cluster runs with (seconds). */
export interface Timing {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

/** Options of `formCluster`; the defaults are the 3 + 3 cluster of the fault tests and the benchmark. */
export interface ClusterOptions {
  /**
   * Each agent reaches each etcd member through a TCP proxy of its own (`LocalCluster.proxies`), so one agent can
   * be cut off from etcd; observers (`readHealth`, the leader watch) use the real endpoints. Needs 3 members.
   */
  proxied?: boolean;
  /** etcd members (default 3). */
  etcdMembers?: 1 | 3;
  /** Agents pg1..pgN (default 3). */
  members?: number;
  /** How long formation may take (default 120 s). */
  formDeadlineMs?: number;
  /** Prefix of the temp dir (default `hactl-<scope>-`). */
  dirPrefix?: string;
  /**
   * Runs once the layout is written, before any agent starts: where a test edits a member's YAML
   * (`MemberLayout.configPath`) or creates what that YAML names. When it throws, formation fails.
   */
  beforeStart?: (members: MemberLayout[], layout: LayoutOptions) => Promise<void>;
  /**
   * Runs when the cluster is disposed (also after a failed formation), once the agents and any Postgres left
   * have stopped and before etcd stops: for what must outlive the agents (a watchdog device they hold open).
   */
  afterStop?: () => Promise<void>;
}

/** A formed local cluster: 1 primary + N-1 streaming replicas. Disposing it stops and removes everything. */
export interface LocalCluster extends AsyncDisposable {
  timing: Timing;
  etcd: EtcdCluster;
  layout: LayoutOptions;
  members: MemberLayout[];
  /** Running agents by member name (a killed or stopped agent is removed). */
  agents: Map<string, Deno.ChildProcess>;
  /** The leader when formation finished, and the others. */
  leader: MemberLayout;
  replicas: MemberLayout[];
  /** With `proxied`: per member name, its proxies to etcd (one per etcd member); otherwise empty. */
  proxies: Map<string, TcpProxy[]>;
  /** From spawning the first agent to 1 primary + N-1 streaming replicas. */
  formedMs: number;
  byName(name: string): MemberLayout;
  /** Start the member's agent (again). */
  spawn(name: string): Promise<void>;
  /** Print the tail of every agent log on stderr (and copy the logs to $HACTL_TEST_LOGS when set). */
  dumpLogs(label: string): Promise<void>;
}

/**
 * Form a cluster of `members` agents (default 3) on a fresh etcd named `scope`; everything is cleaned up when
 * formation fails.
 */
export async function formCluster(
  timing: Timing,
  scope: string,
  opts: ClusterOptions = {},
): Promise<LocalCluster> {
  const size = opts.members ?? 3;
  const etcd = await startEtcd({ members: opts.etcdMembers ?? 3 });
  const dir = await Deno.makeTempDir({ prefix: opts.dirPrefix ?? `hactl-${scope}-` });
  const agents = new Map<string, Deno.ChildProcess>();
  const proxies = new Map<string, TcpProxy[]>();
  let members: MemberLayout[] = [];
  const dispose = async () => {
    await Promise.all([...agents.values()].map((a) => stopAgent(a, 30_000)));
    agents.clear();
    await stopLeftoverPostgres(members.map((m) => m.dataDir));
    await opts.afterStop?.();
    await Promise.all([...proxies.values()].flat().map((p) => p.close()));
    await etcd.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const [pgBase, apiBase] = await freePorts(2, size);
    const memberEtcdEndpoints = opts.proxied ? await proxyEveryMember(etcd, proxies) : undefined;
    const layout: LayoutOptions = {
      dir,
      scope,
      members: size,
      etcdEndpoints: etcd.endpoints,
      ...(memberEtcdEndpoints ? { memberEtcdEndpoints } : {}),
      basePgPort: pgBase!,
      baseApiPort: apiBase!,
      ttl: timing.ttl,
      loopWait: timing.loopWait,
      retryTimeout: timing.retryTimeout,
    };
    members = await writeLayout(layout);
    if (opts.proxied && members.some((m) => !proxies.has(m.name))) {
      throw new Error(`proxies are set up for pg1..pg3, the layout names ${members.map((m) => m.name)}`);
    }
    await opts.beforeStart?.(members, layout);
    const t0 = performance.now();
    for (const m of members) agents.set(m.name, await spawnAgent(m));
    const health = await waitHealthy(layout, size - 1, opts.formDeadlineMs ?? 120_000);
    const formedMs = performance.now() - t0;
    const byName = (n: string) => {
      const m = members.find((x) => x.name === n);
      if (!m) throw new Error(`no member named ${n}`);
      return m;
    };
    const leader = byName(health.leader!);
    return {
      timing,
      etcd,
      layout,
      members,
      agents,
      leader,
      replicas: members.filter((m) => m !== leader),
      proxies,
      formedMs,
      byName,
      async spawn(name) {
        agents.set(name, await spawnAgent(byName(name)));
      },
      dumpLogs: (label) => dumpLogs(label, members),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dumpLogs(`${scope}-formation`, members);
    await dispose();
    throw err;
  }
}

/** For pg1..pg3, one TCP proxy per etcd member (recorded in `proxies`); returns each member's etcd endpoints. */
async function proxyEveryMember(etcd: EtcdCluster, proxies: Map<string, TcpProxy[]>): Promise<string[][]> {
  const endpoints: string[][] = [];
  for (let i = 1; i <= 3; i++) {
    const mine: TcpProxy[] = [];
    proxies.set(`pg${i}`, mine);
    for (const e of etcd.endpoints) {
      const url = new URL(e);
      mine.push(await startProxy({ hostname: url.hostname, port: Number(url.port) }));
    }
    endpoints.push(mine.map((p) => `http://${p.address}`));
  }
  return endpoints;
}

async function dumpLogs(label: string, members: MemberLayout[]): Promise<void> {
  const target = Deno.env.get("HACTL_TEST_LOGS");
  for (const m of members) {
    const text = await Deno.readTextFile(m.logPath).catch(() => "(no log)");
    if (target) await Deno.writeTextFile(`${target}/${label}-${m.name}.log`, text).catch(() => {});
    // Postgres's own log too (the reason of a failed start is there), for the files kept.
    const pgLog = await Deno.readTextFile(`${m.dataDir}/postgresql.log`).catch(() => null);
    if (target && pgLog !== null) {
      await Deno.writeTextFile(`${target}/${label}-${m.name}-postgresql.log`, pgLog).catch(() => {});
    }
    // deno-lint-ignore no-console -- failure diagnostics
    console.error(
      `----- ${label} ${m.name} (last 40 lines) -----\n${text.split("\n").slice(-40).join("\n")}`,
    );
  }
}

/** Merge `patch` into the cluster's `config` key (shallowly, as a test's edit-config; no CAS). */
export async function setConfig(c: LocalCluster, patch: Record<string, unknown>): Promise<void> {
  const etcd = new Etcd3({ hosts: c.etcd.endpoints });
  try {
    const key = `/service/${c.layout.scope}/config`;
    const current = JSON.parse((await etcd.get(key).string()) ?? "{}") as Record<string, unknown>;
    await etcd.put(key).value(JSON.stringify({ ...current, ...patch }));
  } finally {
    etcd.close();
  }
}
