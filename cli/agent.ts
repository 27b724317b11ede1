/**
 * `hactl agent <config.yml>`: the composition root of the daemon. Loads and checks the configuration, wires the
 * etcd adapter, the Postgres adapter, the peer client, the REST API and the HA loop together, runs the status
 * monitor, and handles signals (SIGTERM/SIGINT: stop Postgres, release the lock, exit 0).
 *
 * @module
 */
import { Agent } from "../src/shell/agent.ts";
import type { FenceChannel } from "../src/core/ports.ts";
import { REAL_CLOCK } from "../src/host/clock.ts";
import {
  type ApiSecurity,
  type ApiServer,
  type ApiTls,
  createApiHandler,
  serveApi,
} from "../src/api/handler.ts";
import { ProcessCallbackRunner } from "../src/pg/callbacks.ts";
import { type Config, ConfigError, normalizeDynamic } from "../src/config/config.ts";
import { createEtcdDcs } from "../src/dcs/etcd.ts";
import { agentLog, configSecrets, moduleLogger, redactLikeLog, setupLogging } from "../src/log/log.ts";
import { HttpPeerClient } from "../src/api/peer_client.ts";
import type { PeerClient } from "../src/core/ports.ts";
import { LocalPostgres } from "../src/pg/postgres.ts";
import { systemdNotifier } from "../src/host/sd_notify.ts";
import { type ClusterView, HACTL_VERSION } from "../src/core/types.ts";
import { createWatchdog, type WatchdogLog, watchdogPlatformProblem } from "../src/host/watchdog.ts";
import { checkConfigEnvironment, loadConfigFile } from "./validate_config.ts";
import { liveApplicable, restartOnlyChanges } from "../src/config/reload.ts";
import { lookup } from "node:dns/promises";
import { writeErr, writeOut } from "./lib/io.ts";

const HELP = `Usage: hactl agent [CONFIG_FILE] [--validate-config] [--help]

Run the hactl daemon on this database host: the HA loop, the REST API and the watchdog keepalive.

Arguments:
  CONFIG_FILE         Patroni-compatible YAML file (or a directory of *.yml files merged in order).
                      Without it the configuration comes from PATRONI_CONFIGURATION or PATRONI_* variables.
Options:
  --validate-config   Check the configuration, print problems and exit (0 = valid, 1 = invalid).
  -h, --help          Show this help.

Signals: SIGTERM/SIGINT stop Postgres (fast), close the watchdog, release the leader key and exit 0; in pause
  (maintenance mode) Postgres keeps running and the leader key stays. A second signal is ignored.
  SIGHUP (or POST /reload) re-reads the configuration and applies it live (an invalid one is logged and
  the running one kept; scope, name, etcd3, data_dir, log and watchdog changes wait for a restart).
systemd: with NOTIFY_SOCKET set (Type=notify, scripts/systemd/hactl.service) it reports READY=1 once the
REST API listens, STATUS=<the HA cycle's sentence> every cycle and STOPPING=1 on SIGTERM.
Logging: the log section (level, format, type: json, dir with rotation, ...); see the README, "Logging".
Exit codes: 0 clean shutdown; 1 configuration error or fatal start-up error: another agent with this name is
  running ("Can't start; there is already a node named '<name>' running"), the REST API cannot listen,
  watchdog.mode is required on a host that cannot run a watchdog, or (not paused) the data directory belongs
  to another cluster ("system ID mismatch, node <name> belongs to a different cluster: <dcs> != <local>").
`;

export async function run(args: string[], env: Record<string, string>): Promise<number> {
  if (args.includes("-h") || args.includes("--help")) {
    writeOut(HELP);
    return 0;
  }
  const positional = args.filter((a) => !a.startsWith("-"));
  const unknown = args.filter((a) => a.startsWith("-") && a !== "--validate-config");
  if (unknown.length > 0 || positional.length > 1) {
    writeErr(`Error: unexpected arguments: ${[...unknown, ...positional.slice(1)].join(" ")}\n\n${HELP}`);
    return 2;
  }
  let config: Config;
  try {
    config = await loadConfigFile(positional[0], env);
    const problems = await checkConfigEnvironment(config);
    if (problems.length > 0) throw new ConfigError(problems);
  } catch (err) {
    if (err instanceof ConfigError) {
      writeErr(err.problems.map((p) => p + "\n").join(""));
      return 1;
    }
    throw err;
  }
  if (args.includes("--validate-config")) {
    writeOut(`${config.source}: configuration is valid\n`);
    return 0;
  }
  return await runDaemon(config, positional[0], env);
}

/** Resolve a hostname the way the system does (/etc/hosts included), to every address it has. */
async function resolveHost(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
}

async function runDaemon(
  startConfig: Config,
  configPath: string | undefined,
  env: Record<string, string>,
): Promise<number> {
  let config = startConfig;
  try {
    setupLogging({ ...config.log, secrets: configSecrets(config) });
  } catch (err) {
    writeErr(`${config.source}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const log = moduleLogger("agent");
  // systemd Type=notify: READY=1 once the REST API listens, STATUS=<cycle sentence>, STOPPING=1 on SIGTERM.
  const notifier = systemdNotifier(env);
  // Postgres (built with systemd support) would notify too, and systemd rejects and logs that (NotifyAccess=main).
  if (notifier.enabled) Deno.env.delete("NOTIFY_SOCKET");
  let notifyFailed = false;
  const notify = (fields: Record<string, string | number>) => {
    const problem = notifier.send(fields);
    if (problem && !notifyFailed) log.warn(problem);
    notifyFailed ||= problem !== null;
  };
  const cycleLog = agentLog();
  const bootstrapDcs = config.bootstrap.dcs;
  const dynamicFrom = (raw: Record<string, unknown> | null) => {
    const { settings, warnings } = normalizeDynamic(raw ?? bootstrapDcs);
    for (const w of warnings) log.debug(w);
    return settings;
  };
  const initial = dynamicFrom(null);
  const dcs = createEtcdDcs({
    etcd: config.etcd3,
    namespace: config.namespace,
    scope: config.scope,
    name: config.name,
    retryTimeout: initial.retryTimeout,
    ttl: initial.ttl,
  });
  let agent: Agent | null = null;
  const pg = new LocalPostgres({
    config,
    dynamicParameters: () => agent?.dynamic.parameters ?? initial.parameters,
    useSlots: () => agent?.dynamic.useSlots ?? initial.useSlots,
  });
  let tlsFiles: Awaited<ReturnType<typeof readTlsFiles>>;
  try {
    tlsFiles = await readTlsFiles(config);
  } catch (err) {
    log.error("{error}", { error: err instanceof Error ? err.message : String(err) });
    return 1;
  }
  const ca = config.postgresql.connectAddress;
  const ra = config.restapi.connectAddress;
  const scheme = tlsFiles.serve ? "https" : "http";
  // Before anything touches this data directory (the fencing supervisor adopts the deadline of the one it finds):
  // a second agent with a live member's name must leave the first one's fence alone.
  const duplicate = await liveMemberWithMyName(dcs, config.name, tlsFiles.client);
  if (duplicate) {
    log.error("Can't start; there is already a node named '{name}' running ({url})", {
      name: config.name,
      url: duplicate,
    });
    await dcs.close();
    return 1;
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
    return 1;
  }
  const watchdog = config.watchdog.mode === "off"
    ? undefined
    : createWatchdog(config.watchdog, watchdogLog());
  const supervisor = startFenceSupervisor(config.postgresql.dataDir, (m) => log.warn(m));
  // Members call each other with the `ctl` credentials and TLS files; a reload replaces the client.
  const peerClientFor = (c: Config, client: Deno.HttpClient | undefined) =>
    new HttpPeerClient({
      auth: c.ctl.authentication ?? c.restapi.authentication,
      ...(client ? { httpClient: client } : {}),
    });
  let peerClient = peerClientFor(config, tlsFiles.client);
  const peers: PeerClient = {
    fetchStatuses: (members, timeoutMs) => peerClient.fetchStatuses(members, timeoutMs),
  };
  agent = new Agent({
    name: config.name,
    scope: config.scope,
    tags: config.tags,
    connUrl: `postgres://${ca.host}:${ca.port}/postgres`,
    apiUrl: `${scheme}://${ra.host}:${ra.port}/patroni`,
    bootstrapDcs,
    removeDataOnRewindFailure: config.postgresql.removeDataDirectoryOnRewindFailure,
    removeDataOnDivergedTimelines: config.postgresql.removeDataDirectoryOnDivergedTimelines,
    fence: supervisor.channel,
    ...(watchdog ? { watchdog } : {}),
    dynamicFrom,
    dcs,
    pg,
    peers,
    clock: REAL_CLOCK,
    log: {
      ...cycleLog,
      cycle: (reason, fields) => {
        cycleLog.cycle(reason, fields);
        // The cycle sentence can quote an error (a DSN, a conninfo): redacted like the log line.
        if (notifier.enabled) notify({ STATUS: redactLikeLog(reason) });
      },
    },
    callbacks: new ProcessCallbackRunner(config.postgresql.callbacks, config.scope, (m) => log.warn(m)),
  });
  const pgCtlSeconds = () => (config.postgresql.pgCtlTimeout > 0 ? config.postgresql.pgCtlTimeout : 60);

  let abort = new AbortController();
  const security = (): ApiSecurity => {
    const api = config.restapi;
    return {
      ...(api.authentication ? { auth: api.authentication } : {}),
      allowlist: api.allowlist,
      allowlistIncludeMembers: api.allowlistIncludeMembers,
      verifyClient: tlsFiles.serve ? api.verifyClient : "none",
      extraHeaders: { ...api.httpExtraHeaders, ...(tlsFiles.serve ? api.httpsExtraHeaders : {}) },
    };
  };
  const handler = createApiHandler({
    snapshot: () => agent!.snapshot(),
    now: () => performance.now(),
    wallNow: () => Date.now(),
    loadCluster: () => dcs.readCluster(),
    scope: config.scope,
    name: config.name,
    security,
    resolveHost,
    roleChangeHistogram: () => agent!.roleChangeHistogram,
    control: {
      readCluster: () => dcs.readCluster(),
      setFailover: (value, modRevision) => dcs.setFailover(value, modRevision),
      fetchStatuses: (members, timeoutMs) => peers.fetchStatuses(members, timeoutMs),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      wallNow: () => Date.now(),
      paused: () => agent!.dynamic.pause,
      loopWait: () => agent!.dynamic.loopWait,
      warn: (message) => log.warn(message),
      reinit: (force) => agent!.requestReinit(force),
      setConfig: (value, modRevision) => dcs.setConfig(value, modRevision),
      wake: () => agent!.wake(),
      // Patroni waits for the restart in the request; bounded by stop + start (pg_ctl timeouts) and two cycles.
      restartNow: (conditions) =>
        agent!.restartNow(conditions, (2 * pgCtlSeconds() + 2 * agent!.dynamic.loopWait + 10) * 1000),
      scheduleRestart: (conditions, schedule, at) => agent!.scheduleRestart(conditions, schedule, at),
      deleteScheduledRestart: () => agent!.deleteScheduledRestart(),
      reload: () => reload(),
    },
  });
  const listenOn = (c: Config) => {
    const listen = c.restapi.listen;
    return {
      hostname: listen.host === "" || listen.host === "*" ? "0.0.0.0" : listen.host,
      port: listen.port,
    };
  };
  const { hostname, port: apiPort } = listenOn(config);
  const listen = { port: apiPort };
  let server: ApiServer;
  try {
    server = await serveApi(handler, {
      hostname,
      port: listen.port,
      signal: abort.signal,
      ...(tlsFiles.serve ? { tls: tlsFiles.serve } : {}),
    });
  } catch (err) {
    log.error("could not start the REST API on {address}: {error}", {
      address: `${hostname}:${listen.port}`,
      error: String(err),
    });
    return 1;
  }

  /**
   * SIGHUP / `POST /reload`: read the local configuration again and apply what can change live: Postgres
   * parameters, pg_hba and callbacks (then Postgres is reloaded), tags, the REST API's access rules and headers, and
   * its listener when `listen` or TLS changed. An invalid configuration is logged with every problem and the
   * running one kept. Reloads run one after another.
   */
  let reloading: Promise<void> = Promise.resolve();
  const reload = (): void => {
    reloading = reloading.then(applyReload).catch((err) => {
      log.error("reload failed: {error}", { error: err instanceof Error ? err.message : String(err) });
    });
  };
  const applyReload = async (): Promise<void> => {
    let next: Config;
    try {
      next = await loadConfigFile(configPath, env);
      const problems = await checkConfigEnvironment(next);
      if (problems.length > 0) throw new ConfigError(problems);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      log.error("reload: the configuration is invalid, keeping the running one: {problems}", {
        problems: err.problems.join("; "),
      });
      return;
    }
    if (JSON.stringify(next) === JSON.stringify(config)) {
      log.info("No local configuration items changed.");
      agent!.requestReload("forced");
      return;
    }
    const fixed = restartOnlyChanges(config, next);
    if (fixed.length > 0) {
      log.warn("reload: {keys} changed; that takes effect when the agent restarts", {
        keys: fixed.join(", "),
      });
    }
    const applied = liveApplicable(config, next);
    let nextTls: typeof tlsFiles;
    try {
      nextTls = await readTlsFiles(applied);
    } catch (err) {
      log.error("reload: {error}; keeping the running configuration", {
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    const listenerChanged = JSON.stringify(listenOn(applied)) !== JSON.stringify(listenOn(config)) ||
      JSON.stringify(nextTls.serve) !== JSON.stringify(tlsFiles.serve);
    const previous = config;
    config = applied;
    // Passwords the new file introduces are redacted from now on (log settings change at the next start).
    setupLogging({
      ...applied.log,
      secrets: [...new Set([...configSecrets(previous), ...configSecrets(next), ...configSecrets(applied)])],
    });
    tlsFiles = nextTls;
    pg.setConfig(applied);
    peerClient = peerClientFor(applied, tlsFiles.client);
    agent!.setTags(applied.tags);
    agent!.setCallbacks(
      new ProcessCallbackRunner(applied.postgresql.callbacks, applied.scope, (m) => log.warn(m)),
    );
    if (listenerChanged) {
      const target = listenOn(applied);
      abort.abort();
      await server.finished.catch(() => {});
      abort = new AbortController();
      try {
        server = await serveApi(handler, {
          ...target,
          signal: abort.signal,
          ...(tlsFiles.serve ? { tls: tlsFiles.serve } : {}),
        });
        log.info("REST API now on {address}", { address: `${target.hostname}:${target.port}` });
      } catch (err) {
        log.error(
          "reload: could not start the REST API on {address}: {error}; back on the previous listener",
          {
            address: `${target.hostname}:${target.port}`,
            error: String(err),
          },
        );
        config = { ...applied, restapi: previous.restapi };
        tlsFiles = await readTlsFiles(config);
        abort = new AbortController();
        server = await serveApi(handler, {
          ...listenOn(config),
          signal: abort.signal,
          ...(tlsFiles.serve ? { tls: tlsFiles.serve } : {}),
        });
      }
    }
    log.info("reloaded the local configuration");
    agent!.requestReload("forced");
  };
  log.info("hactl {version} agent {name} of cluster {scope} started; REST API on {address}", {
    version: HACTL_VERSION,
    name: config.name,
    scope: config.scope,
    address: `${hostname}:${listen.port}`,
  });
  notify({ READY: 1, STATUS: `agent ${config.name} of cluster ${config.scope} started` });

  // The status monitor keeps the health-check snapshot fresh between cycles (no SQL per API request).
  let monitorBusy = false;
  const monitor = setInterval(() => {
    if (monitorBusy) return;
    monitorBusy = true;
    agent!.refreshPostgresStatus().catch(() => {}).finally(() => (monitorBusy = false));
  }, 1000);

  let shuttingDown = false;
  const onSignal = (sig: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info("received {signal}, shutting down", { signal: sig });
    notify({ STOPPING: 1 });
    agent!.stop();
  };
  Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
  Deno.addSignalListener("SIGHUP", () => {
    log.info("received SIGHUP, reloading the configuration");
    reload();
  });

  await agent.run();
  clearInterval(monitor);
  await agent.shutdown();
  await supervisor.close();
  await pg.close();
  abort.abort();
  await server.finished.catch(() => {});
  if (agent.fatal !== null) {
    log.error("hactl agent stopped: {fatal}", { fatal: agent.fatal });
    notifier.close();
    return 1;
  }
  log.info("hactl agent stopped");
  notifier.close();
  return 0;
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

/**
 * Patroni's unique-name rule: when `members/<name>` exists and its REST API answers `/liveness`, another agent with
 * this name is alive, so this one must not start. An unreachable etcd or peer is not a reason to refuse.
 */
async function liveMemberWithMyName(
  dcs: { loadCluster(): Promise<ClusterView> },
  name: string,
  client: Deno.HttpClient | undefined,
): Promise<string | null> {
  let view: ClusterView;
  try {
    view = await dcs.loadCluster();
  } catch {
    return null;
  }
  const me = view.members.find((m) => m.name === name);
  if (!me?.data.api_url) return null;
  const url = new URL("/liveness", me.data.api_url).toString();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000), ...(client ? { client } : {}) });
    await res.body?.cancel();
    return res.status === 200 ? me.data.api_url : null;
  } catch {
    return null;
  }
}

/**
 * The REST API's TLS material: the certificate and key it serves with (`restapi.certfile`/`keyfile`), and the
 * HTTP client members use to call each other (`ctl.cacert`, else `restapi.cafile`; `ctl.certfile`/`keyfile` as a
 * client certificate). Errors name the key.
 */
async function readTlsFiles(config: Config): Promise<{
  serve: ApiTls | null;
  client: Deno.HttpClient | undefined;
}> {
  const read = async (key: string, path: string) => {
    try {
      return await Deno.readTextFile(path);
    } catch (err) {
      throw new Error(
        `${config.source}: ${key}: cannot read ${path}: ${err instanceof Error ? err.message : err}`,
      );
    }
  };
  const { restapi, ctl } = config;
  let serve: ApiTls | null = null;
  if (restapi.certfile) {
    if (restapi.keyfilePassword) {
      throw new Error(`${config.source}: restapi.keyfile_password: encrypted keys are not supported yet`);
    }
    serve = {
      cert: await read("restapi.certfile", restapi.certfile),
      key: await read(
        restapi.keyfile ? "restapi.keyfile" : "restapi.certfile",
        restapi.keyfile ?? restapi.certfile,
      ),
    };
    if (restapi.verifyClient !== "none") {
      if (!restapi.cafile) {
        throw new Error(
          `${config.source}: restapi.cafile: is required with verify_client ${restapi.verifyClient}`,
        );
      }
      serve.ca = await read("restapi.cafile", restapi.cafile);
      serve.verifyClient = restapi.verifyClient;
    }
  }
  const caPath = ctl.cacert ?? restapi.cafile;
  const caCerts = caPath ? [await read(ctl.cacert ? "ctl.cacert" : "restapi.cafile", caPath)] : undefined;
  const clientCert = ctl.certfile && ctl.keyfile
    ? { cert: await read("ctl.certfile", ctl.certfile), key: await read("ctl.keyfile", ctl.keyfile) }
    : null;
  const client = caCerts || clientCert
    ? Deno.createHttpClient({ ...(caCerts ? { caCerts } : {}), ...(clientCert ?? {}) })
    : undefined;
  return { serve, client };
}

/**
 * Start `hactl fence-supervisor` for this data directory (the same binary; under `deno run`, the same main.ts),
 * and return the line the agent talks to it through. A supervisor that cannot be started or has died is logged;
 * the agent's in-process fence timer still works.
 */
function startFenceSupervisor(dataDir: string, warn: (m: string) => void): {
  channel: FenceChannel;
  close(): Promise<void>;
} {
  const exe = Deno.execPath();
  const underDeno = /(^|\/)deno$/.test(exe);
  const args = [
    ...(underDeno ? ["run", "--allow-all", new URL("../main.ts", import.meta.url).pathname] : []),
    "fence-supervisor",
    "--data-dir",
    dataDir,
  ];
  let writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  let child: Deno.ChildProcess | null = null;
  try {
    child = new Deno.Command(exe, { args, stdin: "piped", stdout: "null", stderr: "inherit" }).spawn();
    writer = child.stdin.getWriter();
    child.status.then((s) => {
      if (!s.success) warn(`the fencing supervisor exited with code ${s.code}`);
      writer = null;
    });
  } catch (err) {
    warn(`could not start the fencing supervisor: ${err instanceof Error ? err.message : err}`);
  }
  const enc = new TextEncoder();
  const send = (line: string) => {
    writer?.write(enc.encode(line + "\n")).catch(() => {
      warn("the fencing supervisor is gone");
      writer = null;
    });
  };
  return {
    channel: { arm: (ms) => send(`arm ${ms}`), disarm: () => send("disarm") },
    close: async () => {
      await writer?.close().catch(() => {});
      await child?.status.catch(() => {});
    },
  };
}
