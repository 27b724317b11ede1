/**
 * The daemon: the agent's wiring (its composition root). From a loaded configuration it builds the adapters (etcd,
 * Postgres, watchdog, fencing supervisor client, peer client), the HA loop and the REST API in dependency order,
 * runs the status monitor, handles signals and reloads (SIGHUP, `POST /reload`), restarts the REST listener when a
 * reload moves it, and runs the shutdown sequence. It decides nothing: the core decides, the shell acts.
 *
 * May import: every layer of `src/` (core, log, config, host, dcs, pg, api, shell); only `cli/` imports it.
 *
 * @module
 */
export { runDaemon } from "./daemon.ts";
export { readTlsFiles, type TlsFiles } from "./tls.ts";
export { liveMemberWithMyName } from "./unique_name.ts";
