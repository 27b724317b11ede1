/**
 * The REST API, Patroni-compatible: a plain fetch handler (`Request -> Response`, `handler.ts`) that routes by
 * (method, first path segment) (`routes.ts`), answers health checks and the status documents from the agent's
 * snapshot (`health.ts`, `status.ts`), checks access to the unsafe methods (`access.ts`, `allowlist.ts`) and maps
 * the domain results of control requests to Patroni's status codes and messages (`control.ts`); the listener
 * around it (`listener.ts`); `/metrics`; and the peer client members use to call each other's API during a
 * leader race.
 *
 * May import: `src/core/`, `src/config/`, `src/log/`. It never imports the shell: the agent's requests reach it as
 * functions in its deps.
 *
 * @module
 */
export { createApiHandler } from "./handler.ts";
export type { ApiDeps } from "./deps.ts";
export { type ApiServer, type ApiTls, serveApi } from "./listener.ts";
export { HttpPeerClient } from "./peer_client.ts";
