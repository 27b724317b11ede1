/**
 * The daemon's shutdown sequence once the HA loop has ended, in this order: the status monitor, the agent's own
 * shutdown (Postgres, watchdog, leader key), the fencing supervisor, the Postgres adapter's connections, the REST
 * listener; then the last log line and the exit code (1 when a fatal condition stopped the loop).
 *
 * May import: every layer of `src/` (this is the daemon's wiring).
 *
 * @module
 */
import type { DaemonNotifier } from "./notify.ts";
import type { DaemonLog } from "./running.ts";
import type { Daemon } from "./start.ts";

/** Stop what `startDaemon` started; returns the exit code. */
export async function stopDaemon(
  d: Pick<Daemon, "agent" | "supervisor" | "pg" | "listener">,
  stopMonitor: () => void,
  notifier: Pick<DaemonNotifier, "close">,
  log: DaemonLog,
): Promise<number> {
  stopMonitor();
  await d.agent.shutdown();
  await d.supervisor?.close();
  await d.pg.close();
  await d.listener.stop();
  if (d.agent.fatal !== null) {
    log.error("hactl agent stopped: {fatal}", { fatal: d.agent.fatal });
    notifier.close();
    return 1;
  }
  log.info("hactl agent stopped");
  notifier.close();
  return 0;
}
