/**
 * The adapter's one SQL connection: a single pooled npm:postgres client to the local server as the superuser (over
 * TCP to the first listen address, or through the unix socket with `use_unix_socket`: see local_address.ts), with short timeouts and no open transactions. Every statement has a client-side deadline; on a
 * timeout or a lost connection the client is dropped and the next statement connects afresh.
 *
 * I/O: the network. May import: `src/core/` (errors), `src/config/` (types), `src/pg/` helpers.
 *
 * @module
 */
import postgres from "postgres";
import type { PostgresqlConfig } from "../config/config.ts";
import { PostgresError } from "../core/ports.ts";
import { localConnectAddress } from "./local_address.ts";
import { pgSslOption } from "./tls.ts";
import { delay } from "./process.ts";

/** How long one status query may take before the connection is dropped. */
export const QUERY_TIMEOUT_MS = 5_000;

/** The lazily opened superuser connection to the local server. */
export class SqlClient {
  readonly #settings: () => PostgresqlConfig;
  readonly #socketDirs: () => string | undefined;
  #sql: postgres.Sql | null = null;

  /**
   * `settings` (and `socketDirs`, the `unix_socket_directories` in effect) are read when the connection opens, so
   * a reloaded configuration applies to the next one.
   */
  constructor(settings: () => PostgresqlConfig, socketDirs: () => string | undefined = () => undefined) {
    this.#settings = settings;
    this.#socketDirs = socketDirs;
  }

  #client(): postgres.Sql {
    if (this.#sql) return this.#sql;
    const pg = this.#settings();
    const su = pg.authentication.superuser;
    const { host, port } = localConnectAddress(pg.listen, pg.useUnixSocket, this.#socketDirs());
    // Over TCP with the superuser's TLS fields (libpq ignores them on a unix socket, and so does hactl).
    const ssl = host.startsWith("/") ? undefined : pgSslOption(su);
    this.#sql = postgres({
      host,
      port,
      ...(ssl !== undefined ? { ssl } : {}),
      user: su.username,
      ...(su.password !== undefined ? { password: su.password } : {}),
      database: "postgres",
      max: 1,
      idle_timeout: 30,
      connect_timeout: 2,
      prepare: false,
      fetch_types: false,
      onnotice: () => {},
      connection: { application_name: "hactl", statement_timeout: QUERY_TIMEOUT_MS },
    });
    return this.#sql;
  }

  /** Close the connection (at once, without waiting for queries); the next statement opens a new one. */
  async close(): Promise<void> {
    const sql = this.#sql;
    this.#sql = null;
    if (sql) await sql.end({ timeout: 0 }).catch(() => {});
  }

  /** Run one statement with a client-side deadline; on timeout or connection loss the client is dropped. */
  async query<T>(fn: (sql: postgres.Sql) => PromiseLike<T>, timeoutMs = QUERY_TIMEOUT_MS): Promise<T> {
    const sql = this.#client();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PostgresError(`query timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([fn(sql), timeout]);
    } catch (e) {
      if (!(e instanceof Error && "severity" in e)) await this.close(); // not a server-side SQL error
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Poll until a trivial query answers (and, if given, `check` holds), or throw at the deadline. */
  async waitFor(
    what: string,
    deadline: number,
    check?: (sql: postgres.Sql) => Promise<boolean>,
  ): Promise<void> {
    let last = "";
    while (Date.now() < deadline) {
      try {
        const ok = check ? await this.query(check) : (await this.query((sql) => sql`SELECT 1`), true);
        if (ok) return;
        last = "condition not met yet";
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      await delay(200);
    }
    throw new PostgresError(`timed out waiting for ${what}: ${last}`);
  }
}
