/**
 * The daemon's signals: SIGTERM/SIGINT stop the agent (once: a second signal is ignored) after STOPPING=1 is
 * sent to systemd; SIGHUP reloads the configuration.
 *
 * May import: every layer of `src/` (this is the daemon's wiring).
 *
 * @module
 */
import type { DaemonNotifier } from "./notify.ts";
import type { DaemonLog } from "./running.ts";

/** What the signals act on. */
export interface SignalWiring {
  log: DaemonLog;
  notifier: Pick<DaemonNotifier, "send">;
  /** Stop the HA loop (the shutdown sequence follows when it ends). */
  stop: () => void;
  reload: () => void;
}

/** The reactions to the signals, without the listeners (what `installSignalHandlers` registers). */
export function signalReactions(w: SignalWiring): { stop(signal: string): void; hangup(): void } {
  let shuttingDown = false;
  return {
    stop: (signal) => {
      if (shuttingDown) return;
      shuttingDown = true;
      w.log.info("received {signal}, shutting down", { signal });
      w.notifier.send({ STOPPING: 1 });
      w.stop();
    },
    hangup: () => {
      w.log.info("received SIGHUP, reloading the configuration");
      w.reload();
    },
  };
}

/** Listen for SIGTERM, SIGINT and SIGHUP for the rest of the process's life. */
export function installSignalHandlers(w: SignalWiring): void {
  const react = signalReactions(w);
  Deno.addSignalListener("SIGTERM", () => react.stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => react.stop("SIGINT"));
  Deno.addSignalListener("SIGHUP", () => react.hangup());
}
