/**
 * Start-up of the daemon, in dependency order and without forward references: the dynamic settings source, the
 * etcd adapter, the Postgres adapter, the TLS material, the refusals (a live member with this name, a required
 * watchdog the platform cannot run), the watchdog, the fencing supervisor, the peer client, the HA loop, then the
 * reload and the REST API that act on it, and finally the listener.
 *
 * May import: every layer of `src/` (this is the daemon's wiring).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import type { PeerClient, WatchdogPort } from "../core/ports.ts";
import { createEtcdDcs, type EtcdDcs } from "../dcs/etcd.ts";
import { REAL_CLOCK } from "../host/clock.ts";
import {
  type FenceClientLog,
  type FenceSupervisorClient,
  startFenceSupervisor,
  supervisorCommandFromEnv,
} from "../host/fence_client.ts";
import { createWatchdog, type WatchdogLog, watchdogPlatformProblem } from "../host/watchdog.ts";
import { agentLog, moduleLogger, redactLikeLog } from "../log/log.ts";
import { DynamicCacheFile } from "../pg/dynamic_cache.ts";
import { LocalPostgres } from "../pg/postgres.ts";
import { methodsWithoutLeader } from "../pg/replica_methods.ts";
import { Agent } from "../shell/agent.ts";
import { buildApiHandler } from "./api.ts";
import { listenOn, RestListener } from "./listener.ts";
import type { DaemonNotifier } from "./notify.ts";
import { createReload } from "./reload.ts";
import { callbacksFor, type DaemonLog, peerClientFor, type Running, runningPeers } from "./running.ts";
import { type DynamicCopy, type DynamicSettingsSource, dynamicSettingsSource } from "./settings.ts";
import { readTlsFiles, type TlsFiles } from "./tls.ts";
import { liveMemberWithMyName } from "./unique_name.ts";

/** A started daemon: what runs, and what the shutdown sequence stops. */
export interface Daemon {
  agent: Agent;
  pg: LocalPostgres;
  /** Absent with `fencing.supervisor: false`. */
  supervisor: FenceSupervisorClient | undefined;
  listener: RestListener;
  /** SIGHUP's reload (the same one `POST /reload` asks for). */
  reload: () => void;
  /** Where the REST API listens, `host:port`. */
  address: string;
}

/** What start-up is given. */
export interface StartOptions {
  config: Config;
  /** The configuration file (or directory) to read again on a reload; undefined: the environment. */
  configPath: string | undefined;
  env: Record<string, string>;
  log: DaemonLog;
  notifier: DaemonNotifier;
}

/** Build and start everything; null after an error that is logged (the agent then exits 1). */
export async function startDaemon(o: StartOptions): Promise<Daemon | null> {
  const { config, log } = o;
  // The local postgresql section in force: the start's, then the running one (a reload replaces it).
  let localPg = () => config.postgresql;
  // The agent, once built: the local copy of the dynamic configuration is not written while one of its jobs runs.
  const built: { agent?: Agent } = {};
  const settings = dynamicSettingsSource(
    config.bootstrap.dcs,
    (w) => log.debug(literalText(w)),
    (w) => log.warn(literalText(w)),
    () => localPg().usePgRewind,
    dynamicCopy(config.postgresql.dataDir, () => built.agent !== undefined && !built.agent.jobRunning),
  );
  // The etcd client's timing before etcd answers: bootstrap.dcs's, as the agent's decisions (never the local copy's).
  const initial = settings.atStart;
  const dcs = createEtcdDcs({
    etcd: config.etcd3,
    namespace: config.namespace,
    scope: config.scope,
    name: config.name,
    retryTimeout: initial.retryTimeout,
    ttl: initial.ttl,
  });
  let decidedHotStandbyFeedback = (): boolean => false;
  const pg = new LocalPostgres({
    config,
    dynamicParameters: () => settings.current().parameters,
    useSlots: () => settings.current().useSlots,
    dynamicPgHba: () => settings.current().pgHba,
    dynamicPgIdent: () => settings.current().pgIdent,
    dynamicPg: () => settings.current(),
    // Decided by the HA core each cycle (src/core/hot_standby_feedback.ts); the adapter applies it.
    hotStandbyFeedback: () => decidedHotStandbyFeedback(),
  });
  let tls: TlsFiles;
  try {
    tls = await readTlsFiles(config);
  } catch (err) {
    log.error("{error}", { error: err instanceof Error ? err.message : String(err) });
    return null;
  }
  if (await refusesToStart(config, dcs, tls, log)) return null;
  const watchdog = config.watchdog.mode === "off"
    ? undefined
    : createWatchdog(config.watchdog, watchdogLog());
  const supervisor = await startSupervisor(config, o.env, log);
  const running: Running = { config, tls, peerClient: peerClientFor(config, tls.client, tls.insecureGet) };
  localPg = () => running.config.postgresql;
  const peers = runningPeers(running);
  const agent = buildAgent({ ...o, settings, dcs, pg, peers, running, supervisor, watchdog });
  built.agent = agent;
  decidedHotStandbyFeedback = () => agent.hotStandbyFeedback;
  // A supervisor that exits or stops answering wakes the loop: a leader gives the key up (demoting first) in the
  // cycle that runs now, not up to loop_wait later while nothing outside the agent would stop its Postgres.
  supervisor?.whenUnusable(() => agent.wake());
  const listener = new RestListener(log);
  const reload = createReload({ configPath: o.configPath, env: o.env, running, agent, pg, listener, log });
  const handler = buildApiHandler({
    config,
    running,
    agent,
    dcs,
    peers,
    reload,
    log,
    supervisor,
    ...(watchdog ? { watchdog } : {}),
  });
  const target = listenOn(config);
  if (!await listener.start(handler, target, tls.serve)) return null;
  return { agent, pg, supervisor, listener, reload, address: `${target.hostname}:${target.port}` };
}

/**
 * The start-up refusals, each logged (and etcd closed) when it applies. Checked before anything touches this data
 * directory (the fencing supervisor adopts the deadline of the one it finds): a second agent with a live member's
 * name must leave the first one's fence alone.
 */
async function refusesToStart(config: Config, dcs: EtcdDcs, tls: TlsFiles, log: DaemonLog): Promise<boolean> {
  const duplicate = await liveMemberWithMyName(dcs, config.name, tls.client, tls.insecureGet);
  if (duplicate) {
    log.fatal("Can't start; there is already a node named '{name}' running ({url})", {
      name: config.name,
      url: duplicate,
    });
    await dcs.close();
    return true;
  }
  const platformProblem = config.watchdog.mode === "required"
    ? watchdogPlatformProblem(config.watchdog)
    : null;
  if (platformProblem) {
    log.error(
      "Configuration requires a watchdog, but watchdog is not supported on this platform: {problem}",
      {
        problem: platformProblem,
      },
    );
    await dcs.close();
    return true;
  }
  return false;
}

/** The HA loop of this member, over the adapters built before it. */
function buildAgent(
  o: StartOptions & {
    settings: DynamicSettingsSource;
    dcs: EtcdDcs;
    pg: LocalPostgres;
    peers: PeerClient;
    running: Running;
    supervisor: FenceSupervisorClient | undefined;
    watchdog: WatchdogPort | undefined;
  },
): Agent {
  const { config, notifier } = o;
  const ca = config.postgresql.connectAddress;
  const pa = config.postgresql.proxyAddress;
  const ra = config.restapi.connectAddress;
  const scheme = o.running.tls.serve ? "https" : "http";
  const cycleLog = agentLog();
  return new Agent({
    name: config.name,
    scope: config.scope,
    tags: config.tags,
    connUrl: `postgres://${ca.host}:${ca.port}/postgres`,
    ...(pa ? { proxyUrl: `postgres://${pa.host}:${pa.port}/postgres` } : {}),
    apiUrl: `${scheme}://${ra.host}:${ra.port}/patroni`,
    bootstrapDcs: config.bootstrap.dcs,
    removeDataOnRewindFailure: config.postgresql.removeDataDirectoryOnRewindFailure,
    removeDataOnDivergedTimelines: config.postgresql.removeDataDirectoryOnDivergedTimelines,
    // Read each cycle from the configuration in effect (create_replica_methods reloads).
    noLeaderReplicaMethod: () => {
      const pg = o.running.config.postgresql;
      return methodsWithoutLeader(pg.createReplicaMethods, pg.replicaMethods).length > 0;
    },
    ...(o.supervisor ? { fence: o.supervisor.channel } : {}),
    ...(o.watchdog ? { watchdog: o.watchdog } : {}),
    dynamicFrom: o.settings.from,
    configToRestore: o.settings.restoreDoc,
    dcs: o.dcs,
    pg: o.pg,
    peers: o.peers,
    clock: REAL_CLOCK,
    log: {
      ...cycleLog,
      cycle: (reason, fields) => {
        cycleLog.cycle(reason, fields);
        // The cycle sentence can quote an error (a DSN, a conninfo): redacted like the log line.
        if (notifier.enabled) notifier.send({ STATUS: redactLikeLog(reason) });
      },
    },
    callbacks: callbacksFor(config, o.log),
  });
}

/** How long start-up waits for the fencing supervisor's `ready` before the HA loop starts (it then waits on). */
const SUPERVISOR_READY_MS = 15_000;

/**
 * Start the fencing supervisor (`fencing.supervisor`, default true) and wait for it to say it is ready, so the
 * first cycle does not find it still starting; with the switch off, say at start that none runs.
 */
async function startSupervisor(
  config: Config,
  env: Record<string, string>,
  log: DaemonLog,
): Promise<FenceSupervisorClient | undefined> {
  if (!config.fencing.supervisor) {
    log.warn(
      "fencing.supervisor is false: no fencing supervisor runs; a frozen or killed agent's primary is stopped only " +
        "by the watchdog ({mode})",
      { mode: `watchdog.mode ${config.watchdog.mode}` },
    );
    return undefined;
  }
  const command = supervisorCommandFromEnv(env);
  const supervisor = startFenceSupervisor({
    dataDir: config.postgresql.dataDir,
    log: fenceLog(),
    ...(command ? { command } : {}),
  });
  if (!await supervisor.ready(SUPERVISOR_READY_MS)) {
    log.error(
      "the fencing supervisor did not say it is ready within {s} s; this member will not lead until it does",
      {
        s: SUPERVISOR_READY_MS / 1000,
      },
    );
  }
  return supervisor;
}

/** The local copy of the dynamic configuration, `<data_dir>/patroni.dynamic.json`, read now (src/pg/dynamic_cache.ts). */
function dynamicCopy(dataDir: string, mayWrite: () => boolean): DynamicCopy {
  const log = moduleLogger("config");
  const file = new DynamicCacheFile(dataDir, {
    warn: (m) => log.warn(literalText(m)),
    info: (m) => log.info(literalText(m)),
    debug: (m) => log.debug(literalText(m)),
  }, mayWrite);
  const doc = file.load();
  if (doc) log.info(literalText(`read the dynamic configuration last seen from ${file.path}`));
  return { doc, offer: (d) => file.offer(d) };
}

/** A message as literal text for the logger (braces are not template fields). */
function literalText(m: string): string {
  return m.replaceAll("{", "{{").replaceAll("}", "}}");
}

/** The fencing supervisor client's log lines, under the `fence` category (literal text). */
function fenceLog(): FenceClientLog {
  const log = moduleLogger("fence");
  const literal = (m: string) => m.replaceAll("{", "{{").replaceAll("}", "}}");
  return { info: (m) => log.info(literal(m)), error: (m) => log.error(literal(m)) };
}

/** The watchdog's log lines, under the `watchdog` category (messages are literal text, not templates). */
function watchdogLog(): WatchdogLog {
  const log = moduleLogger("watchdog");
  const literal = (m: string) => m.replaceAll("{", "{{").replaceAll("}", "}}");
  return {
    info: (m) => log.info(literal(m)),
    warn: (m) => log.warn(literal(m)),
    error: (m) => log.error(literal(m)),
  };
}
