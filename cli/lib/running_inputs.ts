/**
 * What `hactl agent --generate-config` reads from a running PostgreSQL instance, as Patroni's `--generate-config`:
 * it connects with the DSN given (`--dsn`, libpq key=value or a `postgres://` URI) and the libpq environment
 * variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE, ...), asks for the password when neither gives one,
 * requires a superuser, reads the parameters (`SETTINGS_QUERY`), the data directory's `pg_hba.conf` and
 * `pg_ident.conf`, and the binaries' directory from the postmaster's process (`postmaster.pid`, `/proc/<pid>/exe`).
 *
 * I/O: the network, files, /proc. May import `src/pg/`, `cli/lib/`.
 *
 * @module
 */
import postgres from "postgres";
import { parseConninfo } from "../../src/pg/conf.ts";
import { REQUIRED_PARAMETERS, type RunningFacts, SETTINGS_QUERY } from "./running_config.ts";

/** libpq connection fields and the environment variables that stand in for them (the superuser's section). */
const AUTH_FIELDS: Record<string, string> = {
  user: "PGUSER",
  password: "PGPASSWORD",
  sslmode: "PGSSLMODE",
  sslcert: "PGSSLCERT",
  sslkey: "PGSSLKEY",
  sslpassword: "",
  sslrootcert: "PGSSLROOTCERT",
  sslcrl: "PGSSLCRL",
  sslcrldir: "PGSSLCRLDIR",
  gssencmode: "PGGSSENCMODE",
  channel_binding: "PGCHANNELBINDING",
  sslnegotiation: "PGSSLNEGOTIATION",
};

/** A failure that ends the command with its message, as Patroni's generator exits with one. */
export class GenerateConfigError extends Error {}

/** A libpq DSN as fields: key=value, or a `postgres://user:password@host:port/dbname?key=value` URI. */
export function parseDsn(dsn: string): Record<string, string> {
  try {
    if (!/^postgres(ql)?:\/\//.test(dsn)) return parseConninfo(dsn);
    const url = new URL(dsn);
    const out: Record<string, string> = {};
    if (url.hostname) out.host = decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, "$1");
    if (url.port) out.port = url.port;
    if (url.username) out.user = decodeURIComponent(url.username);
    if (url.password) out.password = decodeURIComponent(url.password);
    const db = decodeURIComponent(url.pathname.replace(/^\//, ""));
    if (db) out.dbname = db;
    for (const [k, v] of url.searchParams) out[k] = v;
    return out;
  } catch {
    throw new GenerateConfigError("Failed to parse DSN string");
  }
}

/** The superuser's section: the DSN's fields, else the environment's; the user name defaults to the OS user's. */
export function superuserFields(
  dsn: Record<string, string>,
  env: Record<string, string>,
  osUser: string,
): Record<string, string> {
  const su: Record<string, string> = {};
  for (const [field, variable] of Object.entries(AUTH_FIELDS)) {
    const value = dsn[field] ?? (variable ? env[variable] : undefined);
    if (value) su[field] = value;
  }
  const { user, ...rest } = su;
  return { username: user || osUser, ...rest };
}

/** Read the facts from the instance; `askPassword` is called when neither the DSN nor PGPASSWORD gives one. */
export async function gatherRunningFacts(
  dsnText: string | undefined,
  env: Record<string, string>,
  askPassword: () => string | null,
): Promise<RunningFacts> {
  const dsn = dsnText ? parseDsn(dsnText) : {};
  const superuser = superuserFields(dsn, env, env.USER ?? env.LOGNAME ?? "postgres");
  if (!superuser.password) superuser.password = askPassword() ?? "";
  const host = dsn.host ?? env.PGHOST ?? await defaultHost();
  const port = Number(dsn.port ?? env.PGPORT ?? 5432);
  const sql = postgres({
    ...(host.startsWith("/") ? { path: `${host}/.s.PGSQL.${port}` } : { host, port }),
    username: superuser.username,
    ...(superuser.password ? { password: superuser.password } : {}),
    database: dsn.dbname ?? env.PGDATABASE ?? "postgres",
    ...(superuser.sslmode && !["disable", "allow", "prefer"].includes(superuser.sslmode)
      ? { ssl: "require" }
      : {}),
    max: 1,
    connect_timeout: 5,
    onnotice: () => {},
  });
  try {
    let rows: { name: string; value: string }[];
    let pgMajor: number;
    try {
      const [su] = await sql`SELECT current_setting('is_superuser') AS su,
        current_setting('server_version_num')::int AS v`;
      if (su!.su !== "on") {
        throw new GenerateConfigError("The provided user does not have superuser privilege");
      }
      pgMajor = su!.v as number;
      rows = await sql.unsafe(SETTINGS_QUERY, [REQUIRED_PARAMETERS]) as unknown as typeof rows;
    } catch (e) {
      if (e instanceof GenerateConfigError) throw e;
      throw new GenerateConfigError(`Failed to establish PostgreSQL connection: ${(e as Error).message}`);
    }
    const settings = rows.map((r) => [r.name, r.value] as [string, string]);
    const setting = (name: string) => settings.find(([n]) => n === name)?.[1] ?? "";
    const dataDir = setting("data_directory");
    const port = dsn.port ?? env.PGPORT;
    // Only the data directory's own files: others may be out of hactl's reach (as Patroni).
    const own = async (name: string, file: string) =>
      setting(name) === `${dataDir}/${file}` ? await readLines(`${dataDir}/${file}`, file) : null;
    return {
      settings,
      superuser,
      ...(port ? { connectPort: port } : {}),
      hbaLines: await own("hba_file", "pg_hba.conf"),
      identLines: await own("ident_file", "pg_ident.conf"),
      binDir: await binDirOf(dataDir),
      pgMajor,
    };
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** libpq's default: the Unix socket in /var/run/postgresql (Debian's) or /tmp, else localhost. */
async function defaultHost(): Promise<string> {
  for (const dir of ["/var/run/postgresql", "/tmp"]) {
    if (await Deno.stat(dir).then((s) => s.isDirectory, () => false)) return dir;
  }
  return "localhost";
}

async function readLines(path: string, what: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n");
  } catch (e) {
    throw new GenerateConfigError(`Failed to read ${what}: ${(e as Error).message}`);
  }
}

/** The directory of the postmaster's executable, from `postmaster.pid`. */
async function binDirOf(dataDir: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dataDir}/postmaster.pid`);
  } catch (e) {
    throw new GenerateConfigError(`Error while reading postmaster.pid file: ${(e as Error).message}`);
  }
  const pid = Number(text.split("\n")[0]?.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    throw new GenerateConfigError("Failed to obtain postmaster pid from postmaster.pid file");
  }
  try {
    const exe = await Deno.readLink(`/proc/${pid}/exe`);
    return exe.slice(0, exe.lastIndexOf("/"));
  } catch {
    throw new GenerateConfigError("Obtained postmaster pid doesn't exist.");
  }
}
