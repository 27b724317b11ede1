/**
 * systemd notifications of the daemon (`Type=notify`): READY=1 once the REST API listens, STATUS=<the cycle's
 * sentence>, STOPPING=1 on SIGTERM. A failed send is logged once, as a warning, and the daemon carries on.
 *
 * May import: every layer of `src/` (this is the daemon's wiring); uses `src/host/`.
 *
 * @module
 */
import type { SystemdNotifier } from "../host/sd_notify.ts";

/** The notifier as the daemon uses it. */
export interface DaemonNotifier {
  /** `NOTIFY_SOCKET` was set. */
  readonly enabled: boolean;
  send(fields: Record<string, string | number>): void;
  close(): void;
}

/** Wrap `notifier` so that only the first failure is logged (through `warn`). */
export function warnOnceNotifier(notifier: SystemdNotifier, warn: (message: string) => void): DaemonNotifier {
  let failed = false;
  return {
    enabled: notifier.enabled,
    send: (fields) => {
      const problem = notifier.send(fields);
      if (problem && !failed) warn(problem);
      failed ||= problem !== null;
    },
    close: () => notifier.close(),
  };
}
