/**
 * TLS for hactl's own connections as a database user (`postgresql.authentication.superuser` / `rewind`), with
 * libpq's meaning of the user's fields: `pgSslOption` turns `sslmode`, `sslrootcert`, `sslcert`, `sslkey` and
 * `sslpassword` into npm:postgres's `ssl` option (the files are read, a few KB, when the connection opens), and
 * `userConninfoPairs` passes the same fields to a libpq program (pg_rewind's `--source-server`).
 * - `disable`: no TLS; `allow`/`prefer` (libpq's default when only certificate files are set): TLS when the server
 *   offers it, without sending a client certificate; `require`: TLS without verification, unless `sslrootcert` is
 *   set (then as `verify-ca`, as libpq does); `verify-ca`: the chain is checked against `sslrootcert` (the system's
 *   roots when unset), not the host name; `verify-full`: the host name too.
 * `sslcrl`, `sslcrldir`, `gssencmode` and `channel_binding` have no npm:postgres equivalent: refused for these
 * users by the configuration's key table.
 *
 * I/O: reads the certificate files named by the configuration. May import: `src/config/` (types).
 *
 * @module
 */
import type { PgUser } from "../config/config.ts";

/** npm:postgres's `ssl` option (node:tls options when an object). */
export type PgSsl = false | "prefer" | {
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  rejectUnauthorized: boolean;
  checkServerIdentity?: (host: string, cert: unknown) => undefined;
};

const TLS_FIELDS = ["sslmode", "sslcert", "sslkey", "sslrootcert", "sslpassword"] as const;

function readNamed(read: (path: string) => string, field: string, path: string): string {
  try {
    return read(path);
  } catch (e) {
    throw new Error(`cannot read ${field} ${path}: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
}

/** The `ssl` option for a connection as `user`; undefined when the user sets no TLS field (a plain connection). */
export function pgSslOption(
  user: PgUser,
  read: (path: string) => string = Deno.readTextFileSync,
): PgSsl | undefined {
  const anyFile = user.sslcert !== undefined || user.sslkey !== undefined || user.sslrootcert !== undefined;
  const mode = user.sslmode ?? (anyFile ? "prefer" : undefined);
  if (mode === undefined) return undefined;
  if (mode === "disable") return false;
  if (mode === "allow" || mode === "prefer") return "prefer";
  const verify = mode === "verify-ca" || mode === "verify-full" ||
    (mode === "require" && user.sslrootcert !== undefined);
  const out: Exclude<PgSsl, false | "prefer"> = { rejectUnauthorized: verify };
  if (verify && user.sslrootcert !== undefined && user.sslrootcert !== "system") {
    out.ca = readNamed(read, "sslrootcert", user.sslrootcert);
  }
  if (user.sslcert !== undefined) out.cert = readNamed(read, "sslcert", user.sslcert);
  if (user.sslkey !== undefined) out.key = readNamed(read, "sslkey", user.sslkey);
  if (user.sslpassword !== undefined) out.passphrase = user.sslpassword;
  if (mode !== "verify-full") out.checkServerIdentity = () => undefined;
  return out;
}

/** The user's TLS fields as libpq conninfo pairs (the password never: libpq reads it from the environment). */
export function userConninfoPairs(user: PgUser): [string, string][] {
  const pairs: [string, string][] = [];
  for (const f of TLS_FIELDS) {
    if (f === "sslpassword") continue;
    const v = user[f];
    if (v !== undefined) pairs.push([f, v]);
  }
  return pairs;
}
