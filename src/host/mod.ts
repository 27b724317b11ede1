/**
 * Host integration: the real clock, the C library over FFI, the watchdog device (`/dev/watchdog` ioctls, or
 * Patroni's testing driver), systemd's notify socket, the fencing supervisor's logic (`hactl fence-supervisor`, a
 * process beside the agent that stops Postgres when the fence deadline passes) and the agent's client of it.
 *
 * May import: `src/core/` (ports), `src/config/` (the `watchdog` section), `src/log/`.
 *
 * @module
 */
export { REAL_CLOCK } from "./clock.ts";
export { createWatchdog, watchdogPlatformProblem } from "./watchdog.ts";
export { systemdNotifier } from "./sd_notify.ts";
export { FenceSupervisor, parseFenceCommand } from "./fence_supervisor.ts";
export { type FenceSupervisorClient, startFenceSupervisor } from "./fence_client.ts";
