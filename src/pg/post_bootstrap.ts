/**
 * `bootstrap.post_bootstrap` (or `post_init`), as Patroni runs it: once, after the new cluster's first start as
 * primary and the roles, as `<command...> <connection string>`, where the connection string names the local server
 * as hactl reaches it (the unix socket with `use_unix_socket`) as the superuser, with the superuser's TLS fields
 * and without the password, which the script finds in the pgpass file (`PGPASSFILE`, a `localhost` line, which
 * libpq also matches for a unix socket). A script that cannot start or exits non-zero fails the bootstrap (the
 * caller moves the data directory aside).
 *
 * I/O: writes the pgpass file, runs the script. May import: `src/core/`, `src/config/` (types), `src/pg/`.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { PgUser } from "../config/config.ts";
import { PostgresError } from "../core/ports.ts";
import { splitCommand } from "./callbacks.ts";
import { pgpassLine } from "./conf.ts";
import type { PgInstance } from "./instance.ts";
import { localConnectAddress } from "./local_address.ts";
import { childEnv, tail, writePrivateFile } from "./process.ts";
import { userConninfoPairs } from "./tls.ts";

const log = getLogger(["hactl", "postgres"]);

/** The script's argv: the command split as a shell would, then the connection string. */
export function postBootstrapArgv(command: string, dsn: string): string[] {
  return [...splitCommand(command), dsn];
}

/** Patroni's `format_dsn` of the local superuser connection: `key=value` pairs, spaces, quotes, `\` escaped. */
export function postBootstrapDsn(addr: { host: string; port: number }, su: PgUser): string {
  const escape = (v: string) => v.replace(/(['\\ ])/g, "\\$1");
  const pairs: [string, string][] = [
    ["dbname", "postgres"],
    ["user", su.username],
    ["host", addr.host],
    ["port", String(addr.port)],
    ...userConninfoPairs(su),
  ];
  return pairs.map(([k, v]) => `${k}=${escape(v)}`).join(" ");
}

/** Run the configured script, if any; throws PostgresError when it cannot start or exits non-zero. */
export async function runPostBootstrap(inst: PgInstance): Promise<void> {
  const command = inst.config.bootstrap.postBootstrap;
  if (command === undefined || command.trim() === "") return;
  const su = inst.pg.authentication.superuser;
  const addr = localConnectAddress(inst.pg.listen, inst.pg.useUnixSocket, inst.unixSocketDirectories());
  if (su.password !== undefined) {
    await writePrivateFile(inst.pgpass, pgpassLine("localhost", addr.port, su.username, su.password) + "\n");
  }
  const argv = postBootstrapArgv(command, postBootstrapDsn(addr, su));
  log.info("running post_bootstrap script {command}", { command });
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      env: childEnv({
        PGPASSFILE: inst.pgpass,
        PGOPTIONS: "-c synchronous_commit=local -c statement_timeout=0",
      }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new PostgresError(
      `post_bootstrap script ${command} failed: ${e instanceof Error ? e.message : e}`,
      {
        cause: e,
      },
    );
  }
  const dec = new TextDecoder();
  const output = tail(dec.decode(out.stdout) + dec.decode(out.stderr)).trim();
  if (!out.success) {
    throw new PostgresError(`post_bootstrap script ${command} returned non-zero code ${out.code}: ${output}`);
  }
  log.info("post_bootstrap script done{output}", { output: output ? `: ${output}` : "" });
}
