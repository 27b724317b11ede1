/**
 * Where hactl opens its own superuser connection to the local server, as Patroni does: with
 * `postgresql.use_unix_socket`, the first absolute directory of the `unix_socket_directories` in effect (TCP when
 * none is absolute: only an absolute path names a socket directory); otherwise TCP to the first listen host.
 *
 * Pure. May import: `src/pg/conf.ts`.
 *
 * @module
 */
import { localConnectHost } from "./conf.ts";

/** `unix_socket_directories` when neither configuration sets it (hactl always sets it in postgresql.conf). */
export const DEFAULT_SOCKET_DIR = "/tmp";

/** `host` is a directory (npm:postgres connects to `<host>/.s.PGSQL.<port>`) or a TCP address. */
export function localConnectAddress(
  listen: { hosts: string[]; port: number },
  useUnixSocket: boolean,
  unixSocketDirectories: string | undefined,
): { host: string; port: number } {
  if (useUnixSocket) {
    const dir = (unixSocketDirectories ?? "").split(",").map((d) => d.trim()).find((d) => d.startsWith("/"));
    if (dir !== undefined) return { host: dir, port: listen.port };
  }
  return { host: localConnectHost(listen.hosts), port: listen.port };
}
