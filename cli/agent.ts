/**
 * `hactl agent <config.yml>`: the composition root of the daemon. Loads and checks the configuration, wires the
 * etcd adapter, the Postgres adapter, the peer client, the REST API and the HA loop together, runs the status
 * monitor, and handles signals (SIGTERM/SIGINT: stop Postgres, release the lock, exit 0).
 *
 * @module
 */
import { Agent, type FenceChannel, REAL_CLOCK } from "../src/agent.ts";
import { createApiHandler, serveApi } from "../src/api.ts";
import { ProcessCallbackRunner } from "../src/callbacks.ts";
import { type Config, ConfigError, normalizeDynamic } from "../src/config.ts";
import { createEtcdDcs } from "../src/dcs.ts";
import { agentLog, configSecrets, moduleLogger, setupLogging } from "../src/log.ts";
import { HttpPeerClient } from "../src/peers.ts";
import { LocalPostgres } from "../src/postgres.ts";
import { systemdNotifier } from "../src/sd_notify.ts";
import { type ClusterView, HACTL_VERSION } from "../src/types.ts";
import { createWatchdog, type WatchdogLog, watchdogPlatformProblem } from "../src/watchdog.ts";
import { checkConfigEnvironment, loadConfigFile } from "./validate_config.ts";
import { writeErr, writeOut } from "./io.ts";

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
  return await runDaemon(config, env);
}

async function runDaemon(config: Config, env: Record<string, string>): Promise<number> {
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
  const peers = new HttpPeerClient({
    auth: config.ctl.authentication ?? config.restapi.authentication,
    ...(tlsFiles.client ? { httpClient: tlsFiles.client } : {}),
  });
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
        if (notifier.enabled) notify({ STATUS: reason });
      },
    },
    callbacks: new ProcessCallbackRunner(config.postgresql.callbacks, config.scope, (m) => log.warn(m)),
  });

  const abort = new AbortController();
  const handler = createApiHandler({
    snapshot: () => agent!.snapshot(),
    now: () => performance.now(),
    wallNow: () => Date.now(),
    loadCluster: () => dcs.readCluster(),
    scope: config.scope,
    name: config.name,
    extraHeaders: config.restapi.httpExtraHeaders,
    roleChangeHistogram: () => agent!.roleChangeHistogram,
    ...(config.restapi.authentication ? { auth: config.restapi.authentication } : {}),
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
    },
  });
  const listen = config.restapi.listen;
  const hostname = listen.host === "" || listen.host === "*" ? "0.0.0.0" : listen.host;
  let server: Deno.HttpServer;
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
  serve: { cert: string; key: string } | null;
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
  let serve: { cert: string; key: string } | null = null;
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
