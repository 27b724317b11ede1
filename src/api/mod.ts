/**
 * The REST API, Patroni-compatible: a plain fetch handler (`Request -> Response`) that answers health checks and
 * status from the agent's snapshot and maps the domain results of control requests to Patroni's status codes and
 * messages; the listener around it; `/metrics`; the allowlist; and the peer client members use to call each
 * other's API during a leader race.
 *
 * May import: `src/core/`, `src/config/`, `src/log/`. It never imports the shell: the agent's requests reach it as
 * functions in its deps.
 *
 * @module
 */
export { type ApiDeps, type ApiServer, type ApiTls, createApiHandler, serveApi } from "./handler.ts";
export { HttpPeerClient } from "./peer_client.ts";
