/**
 * The Postgres adapter: implements the `PostgresPort` for the local server: programs (pg_ctl, initdb,
 * pg_basebackup, pg_rewind, pg_controldata), configuration files, the one-round-trip status query, roles, slots,
 * and Patroni's `postgresql.callbacks`.
 *
 * May import: `src/core/` (ports, types), `src/config/` (the `postgresql` section), `src/log/`.
 *
 * @module
 */
export { LocalPostgres, type LocalPostgresOptions } from "./postgres.ts";
export { postmasterAliveSync } from "./process.ts";
export { ProcessCallbackRunner } from "./callbacks.ts";
