/**
 * The daemon's life from a loaded, checked configuration (logging already set up) to its exit code: start, the
 * start-up line and READY=1, the status monitor and the signals, the HA loop until it is stopped, the shutdown
 * sequence.
 *
 * May import: every layer of `src/` (this is the daemon's wiring).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { HACTL_VERSION } from "../core/types.ts";
import { systemdNotifier } from "../host/sd_notify.ts";
import { moduleLogger } from "../log/log.ts";
import { startStatusMonitor } from "./monitor.ts";
import { warnOnceNotifier } from "./notify.ts";
import { installSignalHandlers } from "./signals.ts";
import { startDaemon } from "./start.ts";
import { stopDaemon } from "./stop.ts";

/**
 * Run the agent until SIGTERM/SIGINT (or a fatal condition) stops it; returns the exit code: 0 after a clean
 * shutdown, 1 when it could not start or a fatal condition stopped it.
 */
export async function runDaemon(
  config: Config,
  configPath: string | undefined,
  env: Record<string, string>,
): Promise<number> {
  const log = moduleLogger("agent");
  // systemd Type=notify: READY=1 once the REST API listens, STATUS=<cycle sentence>, STOPPING=1 on SIGTERM.
  const systemd = systemdNotifier(env);
  // Postgres (built with systemd support) would notify too, and systemd rejects and logs that (NotifyAccess=main).
  if (systemd.enabled) Deno.env.delete("NOTIFY_SOCKET");
  const notifier = warnOnceNotifier(systemd, (m) => log.warn(m));
  const daemon = await startDaemon({ config, configPath, env, log, notifier });
  if (daemon === null) return 1;
  log.info("hactl {version} agent {name} of cluster {scope} started; REST API on {address}", {
    version: HACTL_VERSION,
    name: config.name,
    scope: config.scope,
    address: daemon.address,
  });
  notifier.send({ READY: 1, STATUS: `agent ${config.name} of cluster ${config.scope} started` });
  const stopMonitor = startStatusMonitor(daemon.agent);
  installSignalHandlers({ log, notifier, stop: () => daemon.agent.stop(), reload: daemon.reload });
  await daemon.agent.run();
  return await stopDaemon(daemon, stopMonitor, notifier, log);
}
