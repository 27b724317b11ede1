/**
 * The REST API's handler wired to the running agent, the etcd adapter and the peer client: health and status from
 * the agent's snapshot, the control endpoints as the agent's requests, and the access rules of the configuration
 * in effect (a reload changes them).
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/api/`, `src/dcs/`, `src/shell/`.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { type ApiHandler, type ApiSecurity, createApiHandler } from "../api/handler.ts";
import { postmasterAliveSync } from "../pg/process.ts";
import type { Config } from "../config/config.ts";
import type { PeerClient } from "../core/ports.ts";
import { restartWaitMs } from "../core/settings.ts";
import type { EtcdDcs } from "../dcs/etcd.ts";
import type { Agent } from "../shell/agent.ts";
import type { NodeSnapshot } from "../core/types.ts";
import type { FenceSupervisorClient } from "../host/fence_client.ts";
import type { DaemonLog, Running } from "./running.ts";
import type { WatchdogPort } from "../core/ports.ts";
import { LabeledDurations } from "../core/histogram.ts";
import { HACTL_COMMIT, HACTL_VERSION, PATRONI_COMPATIBLE_VERSION } from "../core/version.ts";
import type { RuntimeMetrics } from "../api/runtime_metrics.ts";

/** What the handler is wired to. */
export interface ApiWiring {
  /** The configuration the agent started with (scope and name never change while it runs). */
  config: Config;
  running: Running;
  agent: Agent;
  dcs: EtcdDcs;
  peers: PeerClient;
  /** SIGHUP's reload, for `POST /reload`. */
  reload: () => void;
  log: DaemonLog;
  /** The fencing supervisor, or undefined with `fencing.supervisor: false`. */
  supervisor: FenceSupervisorClient | undefined;
  /** The watchdog, or undefined with `watchdog.mode: off` (for `hactl_watchdog_armed`). */
  watchdog?: WatchdogPort;
}

/**
 * hactl's runtime metrics, gathered when `/metrics` is read: the agent's cycle histogram and fence, the etcd call
 * latencies (from here on: the adapter reports each call to the returned reader's histograms), the watchdog, the
 * build and the process' memory.
 */
export function runtimeMetricsOf(w: ApiWiring): () => RuntimeMetrics {
  const dcsCalls = new LabeledDurations();
  w.dcs.observeCalls((op, seconds, ok) => dcsCalls.observe(op, seconds, ok));
  return () => {
    const mem = Deno.memoryUsage();
    return {
      haCycle: w.agent.cycleDurations,
      loopWaitSeconds: w.agent.dynamic.loopWait,
      dcsCalls,
      fenceArmed: w.agent.fenceDeadline !== null,
      watchdog: { mode: w.config.watchdog.mode, armed: w.watchdog?.running ?? false },
      build: {
        version: HACTL_VERSION,
        commit: HACTL_COMMIT,
        patroniVersion: PATRONI_COMPATIBLE_VERSION,
        deno: Deno.version.deno,
      },
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
    };
  };
}

/** The agent's snapshot with the fencing supervisor's process details (or `off`) for `GET /patroni` and `/metrics`. */
export function withSupervisor(
  snapshot: NodeSnapshot,
  supervisor: FenceSupervisorClient | undefined,
): NodeSnapshot {
  if (!supervisor) return { ...snapshot, fenceSupervisor: { state: "off", usable: true } };
  const s = supervisor.status();
  return {
    ...snapshot,
    fenceSupervisor: {
      state: s.state,
      usable: s.problem === null,
      pid: s.pid,
      restarts: s.restarts,
      ...(s.problem !== null ? { problem: s.problem } : {}),
    },
  };
}

/** Resolve a hostname the way the system does (/etc/hosts included), to every address it has. */
async function resolveHost(host: string): Promise<string[]> {
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
}

/** The REST API's access rules from the configuration and TLS material in effect. */
export function apiSecurity(running: Running): ApiSecurity {
  const api = running.config.restapi;
  const tls = running.tls.serve !== null;
  return {
    ...(api.authentication ? { auth: api.authentication } : {}),
    allowlist: api.allowlist,
    allowlistIncludeMembers: api.allowlistIncludeMembers,
    verifyClient: tls ? api.verifyClient : "none",
    extraHeaders: { ...api.httpExtraHeaders, ...(tls ? api.httpsExtraHeaders : {}) },
  };
}

/** `pg_ctl_timeout` in seconds (60 when unset or not positive). */
export function pgCtlSeconds(c: Config): number {
  return c.postgresql.pgCtlTimeout > 0 ? c.postgresql.pgCtlTimeout : 60;
}

/** The REST API's request handler for this member. */
export function buildApiHandler(w: ApiWiring): ApiHandler {
  const { agent, dcs, running } = w;
  return createApiHandler({
    snapshot: () => withSupervisor(agent.snapshot(), w.supervisor),
    postmasterAlive: () => {
      const pg = running.config.postgresql;
      return postmasterAliveSync(pg.dataDir, pg.binName?.["postgres"] ? [pg.binName["postgres"]] : []);
    },
    now: () => performance.now(),
    wallNow: () => Date.now(),
    loadCluster: () => dcs.readCluster(),
    scope: w.config.scope,
    name: w.config.name,
    security: () => apiSecurity(running),
    resolveHost,
    roleChangeHistogram: () => agent.roleChangeHistogram,
    runtimeMetrics: runtimeMetricsOf(w),
    control: {
      readCluster: () => dcs.readCluster(),
      setFailover: (value, modRevision) => dcs.setFailover(value, modRevision),
      fetchStatuses: (members, timeoutMs) => w.peers.fetchStatuses(members, timeoutMs),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      wallNow: () => Date.now(),
      paused: () => agent.dynamic.pause,
      loopWait: () => agent.dynamic.loopWait,
      warn: (message) => w.log.warn(message),
      info: (message) => w.log.info(message),
      reinit: (force, fromLeader) => agent.requestReinit(force, fromLeader),
      setConfig: (value, modRevision) => dcs.setConfig(value, modRevision),
      wake: () => agent.wake(),
      restartNow: (conditions) =>
        agent.restartNow(conditions, restartWaitMs(agent.dynamic, pgCtlSeconds(running.config))),
      scheduleRestart: (conditions, schedule, at) => agent.scheduleRestart(conditions, schedule, at),
      deleteScheduledRestart: () => agent.deleteScheduledRestart(),
      reload: () => w.reload(),
      failsafeCall: (body) => agent.failsafeCall(body),
    },
  });
}
