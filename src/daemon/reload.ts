/**
 * SIGHUP / `POST /reload`: read the local configuration again and apply what can change live: Postgres
 * parameters, pg_hba and callbacks (then Postgres is reloaded), tags, the REST API's access rules and headers, and
 * its listener when `listen` or TLS changed. An invalid configuration is logged with every problem and the running
 * one kept; settings that only a restart can change are named in a warning. Reloads run one after another.
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/config/`, `src/log/`, `src/pg/`,
 * `src/shell/`.
 *
 * @module
 */
import { type Config, ConfigError } from "../config/config.ts";
import { checkConfigEnvironment, loadConfigFileWithWarnings } from "../config/file.ts";
import { liveApplicable, restartOnlyChanges } from "../config/reload.ts";
import { configSecrets, setupLogging } from "../log/log.ts";
import type { LocalPostgres } from "../pg/postgres.ts";
import type { Agent } from "../shell/agent.ts";
import { listenOn, type RestListener } from "./listener.ts";
import { callbacksFor, type DaemonLog, peerClientFor, type Running } from "./running.ts";
import { readTlsFiles, type TlsFiles } from "./tls.ts";

/** What a reload reads and changes. */
export interface ReloadWiring {
  /** The configuration file (or directory) the agent was started with; undefined: the environment. */
  configPath: string | undefined;
  env: Record<string, string>;
  running: Running;
  agent: Pick<Agent, "requestReload" | "setTags" | "setCallbacks">;
  pg: Pick<LocalPostgres, "setConfig">;
  listener: Pick<RestListener, "restart">;
  log: DaemonLog;
}

/**
 * The reload SIGHUP and `POST /reload` ask for: queued behind the one running; a failure is logged. The promise it
 * returns (callers need not wait) settles when this reload is done, and never rejects.
 */
export function createReload(w: ReloadWiring): () => Promise<void> {
  let reloading: Promise<void> = Promise.resolve();
  return () => {
    reloading = reloading.then(() => applyReload(w)).catch((err) => {
      w.log.error("reload failed: {error}", { error: err instanceof Error ? err.message : String(err) });
    });
    return reloading;
  };
}

/** The configuration as it reads now, or null when it is invalid (logged: the running one stays). */
async function readValidConfig(w: ReloadWiring): Promise<Config | null> {
  try {
    const { config: next, warnings } = await loadConfigFileWithWarnings(w.configPath, w.env);
    const problems = await checkConfigEnvironment(next);
    if (problems.length > 0) throw new ConfigError(problems);
    for (const warning of warnings) {
      w.log.warn("reload: {source}: {warning}", { source: next.source, warning });
    }
    return next;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    w.log.error("reload: the configuration is invalid, keeping the running one: {problems}", {
      problems: err.problems.join("; "),
    });
    return null;
  }
}

/** One reload, start to end. */
async function applyReload(w: ReloadWiring): Promise<void> {
  const { running, log } = w;
  const next = await readValidConfig(w);
  if (next === null) return;
  const current = running.config;
  if (JSON.stringify(next) === JSON.stringify(current)) {
    log.info("No local configuration items changed.");
    w.agent.requestReload("forced");
    return;
  }
  const fixed = restartOnlyChanges(current, next);
  if (fixed.length > 0) {
    log.warn("reload: {keys} changed; that takes effect when the agent restarts", { keys: fixed.join(", ") });
  }
  const applied = liveApplicable(current, next);
  let nextTls: TlsFiles;
  try {
    nextTls = await readTlsFiles(applied);
  } catch (err) {
    log.error("reload: {error}; keeping the running configuration", {
      error: err instanceof Error ? err.message : String(err),
    });
    return;
  }
  const listenerChanged = JSON.stringify(listenOn(applied)) !== JSON.stringify(listenOn(current)) ||
    JSON.stringify(nextTls.serve) !== JSON.stringify(running.tls.serve);
  applyLive(w, { previous: current, next, applied, tls: nextTls });
  if (listenerChanged) {
    await w.listener.restart(listenOn(applied), nextTls.serve, async () => {
      // Back on the previous listener: its settings are in effect again, the rest of the reload stays.
      running.config = { ...applied, restapi: current.restapi };
      running.tls = await readTlsFiles(running.config);
      return { target: listenOn(running.config), tls: running.tls.serve };
    });
  }
  log.info("reloaded the local configuration");
  w.agent.requestReload("forced");
}

/** Put `applied` in effect: log secrets, TLS material, Postgres' settings, the peer client, tags, callbacks. */
function applyLive(
  w: ReloadWiring,
  c: { previous: Config; next: Config; applied: Config; tls: TlsFiles },
): void {
  const { running } = w;
  running.config = c.applied;
  // Passwords the new file introduces are redacted from now on (log settings change at the next start).
  setupLogging({
    ...c.applied.log,
    secrets: [
      ...new Set([...configSecrets(c.previous), ...configSecrets(c.next), ...configSecrets(c.applied)]),
    ],
  });
  running.tls = c.tls;
  w.pg.setConfig(c.applied);
  running.peerClient = peerClientFor(c.applied, running.tls.client, running.tls.insecureGet);
  w.agent.setTags(c.applied.tags);
  w.agent.setCallbacks(callbacksFor(c.applied, w.log));
}
