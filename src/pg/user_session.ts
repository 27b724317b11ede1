/**
 * A short SQL session as one of the configured database users (the superuser, to another member or to the local
 * server): one connection, 5 s to connect, TLS as the user's fields say (`tls.ts`; none over a Unix socket), no
 * prepared statements, notices dropped. The caller ends it.
 *
 * I/O: opens a connection when the first query runs; reads the user's certificate files. May import: `src/pg/`,
 * `src/config/` (types).
 *
 * @module
 */
import postgres from "postgres";
import type { PgUser } from "../config/config.ts";
import { pgSslOption } from "./tls.ts";

/** What differs between the sessions hactl opens. */
export interface SessionOptions {
  /** Default `postgres`. */
  database?: string;
  /** Seconds an idle connection stays open. */
  idleTimeoutS?: number;
  /** False: do not read the server's types at connect (a session of plain queries). */
  fetchTypes?: boolean;
  /** Run-time parameters of the session (`application_name`, `statement_timeout`). */
  connection?: Record<string, string | number>;
}

/** A session as `user` at `host` (a name, an address or a socket directory) and `port`. Throws on unreadable TLS files. */
export function userSession(
  user: PgUser,
  host: string,
  port: number,
  opts: SessionOptions = {},
): postgres.Sql {
  const ssl = host.startsWith("/") ? undefined : pgSslOption(user);
  return postgres({
    host,
    port,
    ...(ssl !== undefined ? { ssl } : {}),
    database: opts.database ?? "postgres",
    username: user.username,
    ...(user.password !== undefined ? { password: user.password } : {}),
    max: 1,
    connect_timeout: 5,
    ...(opts.idleTimeoutS !== undefined ? { idle_timeout: opts.idleTimeoutS } : {}),
    prepare: false,
    ...(opts.fetchTypes === false ? { fetch_types: false } : {}),
    onnotice: () => {},
    ...(opts.connection !== undefined ? { connection: opts.connection } : {}),
  });
}
