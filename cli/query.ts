/**
 * `hactl query [CLUSTER] [-r ROLE | -m MEMBER] [-d DB] [-U USER] [--password] (-c SQL | -f FILE)
 * [--format F] [--delimiter D] [-W | -w S]`: run SQL on a member chosen as patronictl does (the leader by
 * default), connecting to the `conn_url` its agent publishes. For `primary`,
 * `replica`, `standby` and `standby-leader` the choice is confirmed with `pg_is_in_recovery()`. Output: column
 * names, then rows, as tsv (default), pretty, json or yaml. A failed connection or statement prints a row
 * `<timestamp>\tERROR, SQLSTATE: <code>` and the watch goes on.
 *
 * Differs from patronictl on purpose: statements run in autocommit mode (patronictl closes its connection
 * without committing, so a write through it is rolled back), and a statement without a result set prints
 * nothing instead of an error row. Passwords come from `--password`, `PGPASSWORD` or the password file
 * (`PGPASSFILE`, `~/.pgpass`), never from arguments.
 *
 * @module
 */
import postgres from "postgres";
import type { ClusterView } from "../src/core/types.ts";
import { pythonJson, renderTable, yamlOf } from "./lib/cluster_table.ts";
import { CtlError, ctlOptionsFrom, type CtlSettings, loadCtlConfig } from "./lib/config.ts";
import { CtlUsageError, globalHelpFor, runCtl } from "./lib/command.ts";
import { anyMember, type CtlRole, memberConnParams, parseRole } from "./lib/members.ts";
import { formatLocalTimestamp, loadClusterFromEtcd } from "./lib/cluster.ts";
import { type Asker, stdinAsker } from "./lib/prompt.ts";
import { writeErr, writeOut } from "./lib/io.ts";

/** Where and as whom to connect. */
export interface ConnectParams {
  host: string;
  port: number;
  user?: string;
  password?: string;
  dbname?: string;
}

/** The result of one SQL text: the last statement's columns (null without a result set) and rows. */
export interface QueryResult {
  columns: string[] | null;
  rows: unknown[][];
}

/** One open connection. `query` rejects with an error carrying `code` (SQLSTATE) when Postgres refused. */
export interface SqlSession {
  query(text: string): Promise<QueryResult>;
  close(): Promise<void>;
}

export interface QueryDeps {
  loadCluster(settings: CtlSettings, scope: string): Promise<ClusterView>;
  connect(params: ConnectParams): Promise<SqlSession>;
  readFile(path: string): Promise<string>;
  asker(): Asker;
  sleep(ms: number): Promise<void>;
  now(): Date;
  out(text: string): void;
  err(text: string): void;
}

/** Keep dates and times as Postgres prints them (psycopg would print Python datetimes, close to this). */
const TEXT_TYPES = {
  temporal: {
    to: 1184,
    from: [1082, 1083, 1114, 1184, 1266],
    serialize: (x: unknown) => String(x),
    parse: (x: string) => x,
  },
};

/**
 * The password libpq would take from a password file (`PGPASSFILE`, else `~/.pgpass`) for these parameters:
 * the first `host:port:database:user:password` line matching, `*` matching anything, `\:` and `\\` escaped.
 * Pure apart from the text given.
 */
export function pgpassLookup(
  text: string,
  want: { host: string; port: number; dbname: string; user: string },
): string | undefined {
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const fields: string[] = [];
    let cur = "";
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (ch === "\\" && i + 1 < line.length) cur += line[++i];
      else if (ch === ":" && fields.length < 4) {
        fields.push(cur);
        cur = "";
      } else cur += ch;
    }
    fields.push(cur.replace(/\r$/, ""));
    if (fields.length !== 5) continue;
    const [host, port, db, user, password] = fields as [string, string, string, string, string];
    const match = (pattern: string, value: string) => pattern === "*" || pattern === value;
    if (
      match(host, want.host) && match(port, String(want.port)) && match(db, want.dbname) &&
      match(user, want.user)
    ) return password;
  }
  return undefined;
}

/** Connect with npm:postgres: one connection, 5 s connect timeout, `application_name=Patroni ctl`. */
export async function connectPostgres(params: ConnectParams): Promise<SqlSession> {
  const env = Deno.env.toObject();
  if (params.password === undefined && !env.PGPASSWORD) {
    // libpq reads the password file; npm:postgres does not, so look it up here.
    const user = params.user ?? env.PGUSER ?? env.USER ?? "";
    const file = env.PGPASSFILE || (env.HOME ? `${env.HOME}/.pgpass` : "");
    const text = file ? await Deno.readTextFile(file).catch(() => "") : "";
    const found = text
      ? pgpassLookup(text, {
        host: params.host,
        port: params.port,
        dbname: params.dbname ?? env.PGDATABASE ?? user,
        user,
      })
      : undefined;
    if (found !== undefined) params = { ...params, password: found };
  }
  const sql = postgres({
    host: params.host,
    port: params.port,
    ...(params.user !== undefined ? { username: params.user } : {}),
    ...(params.password !== undefined ? { password: params.password } : {}),
    ...(params.dbname !== undefined ? { database: params.dbname } : {}),
    max: 1,
    connect_timeout: 5,
    fetch_types: false,
    prepare: false,
    types: TEXT_TYPES,
    connection: { application_name: "Patroni ctl" },
    onnotice: () => {},
  });
  try {
    await sql`SELECT 1`;
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw err;
  }
  return {
    query: async (text) => {
      const raw = await sql.unsafe(text).values() as unknown;
      // Several statements give one result per statement: psycopg shows the last one.
      const results = Array.isArray(raw) && raw.length > 0 && Array.isArray(raw[0]) && "columns" in raw[0]
        ? raw as unknown[]
        : [raw];
      const last = results[results.length - 1] as unknown[] & { columns?: { name: string }[] };
      const columns = last?.columns && last.columns.length > 0 ? last.columns.map((c) => c.name) : null;
      return { columns, rows: columns ? [...last].map((r) => [...(r as unknown[])]) : [] };
    },
    close: () => sql.end({ timeout: 1 }),
  };
}

const REAL_DEPS: QueryDeps = {
  loadCluster: loadClusterFromEtcd,
  connect: connectPostgres,
  readFile: (path) => Deno.readTextFile(path),
  asker: stdinAsker,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: () => new Date(),
  out: writeOut,
  err: writeErr,
};

/** `--format` values (`yml` is `yaml`); anything else is a usage error. */
const QUERY_FORMATS = ["tsv", "pretty", "json", "yaml", "yml"];

const QUERY_OPTIONS = {
  command: { type: "string", short: "c" },
  file: { type: "string", short: "f" },
  role: { type: "string", short: "r" },
  member: { type: "string", short: "m" },
  username: { type: "string", short: "U" },
  password: { type: "boolean" },
  dbname: { type: "string", short: "d" },
  format: { type: "string" },
  delimiter: { type: "string" },
  W: { type: "boolean", short: "W" },
  watch: { type: "string", short: "w" },
} as const;

const HELP = [
  "Usage: hactl query [OPTIONS] [CLUSTER_NAME]",
  "",
  "  Run SQL on a member (by default the leader), connecting to the address in its member key.",
  "",
  "Options:",
  ...globalHelpFor(QUERY_OPTIONS),
  "  -c, --command SQL        The SQL to run",
  "  -f, --file FILE          Run the SQL in FILE ('-' = stdin; not together with --command)",
  "  -r, --role ROLE          Run it on a member with this role: leader (default), primary, standby-leader,",
  "                           replica, standby, any (primary/replica/standby roles are checked with",
  "                           pg_is_in_recovery())",
  "  -m, --member NAME        Run it on this member (not together with --role)",
  "  -U, --username USER      Database user (default: $PGUSER, else the OS user)",
  "  --password               Ask for the password (else $PGPASSWORD, else ~/.pgpass or $PGPASSFILE)",
  "  -d, --dbname DB          Database (default: the user name)",
  "  --format FORMAT          tsv (default), pretty, json, yaml",
  "  --delimiter TEXT         Column delimiter for tsv (default: a tab)",
  "  -W                       Run again every 2 seconds until interrupted (Ctrl-C)",
  "  -w, --watch SECONDS      Run again every SECONDS seconds until interrupted (Ctrl-C)",
  "  -h, --help               Show this message and exit",
  "",
].join("\n");

/** Python's `str()` of a query value, as patronictl prints cells. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (v instanceof Uint8Array) return `b'${[...v].map((b) => String.fromCharCode(b)).join("")}'`;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** patronictl's `print_output` without a title: tsv, pretty, json or yaml (`run` refuses any other format). */
export function formatRows(
  columns: string[] | null,
  rows: unknown[][],
  format: string,
  delimiter: string,
): string {
  if (format === "json" || format === "yaml" || format === "yml") {
    const objects = rows.map((r) => Object.fromEntries((columns ?? []).map((c, i) => [c, r[i] ?? null])));
    return format === "json" ? pythonJson(objects) + "\n" : yamlOf(objects, false) + "\n";
  }
  if (format === "tsv") {
    return [...(columns ? [columns] : []), ...rows].map((r) => r.map(cell).join(delimiter) + "\n").join("");
  }
  if (format === "pretty") {
    const width = Math.max(columns?.length ?? 0, ...rows.map((r) => r.length));
    const names = columns ?? Array.from({ length: width }, (_, i) => `Field ${i + 1}`);
    return renderTable(names, rows.map((r) => r.map(cell))) + "\n";
  }
  return "";
}

function sqlstateOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\n/g, " ");
}

async function queryOnce(
  view: ClusterView,
  role: CtlRole | undefined,
  member: string | undefined,
  sqlText: string,
  auth: { user?: string; password?: string; dbname?: string },
  deps: QueryDeps,
): Promise<QueryResult> {
  const errorRow = (message: string): QueryResult => ({
    columns: null,
    rows: [[formatLocalTimestamp(deps.now()), message]],
  });
  const m = anyMember(view, role, member);
  const params = m ? memberConnParams(m) : null;
  const unavailable = () =>
    errorRow(
      member !== undefined
        ? `No connection to member ${member} is available`
        : role !== undefined
        ? `No connection to role ${role} is available`
        : "No connection is available",
    );
  if (!params) return unavailable();
  let session: SqlSession | null = null;
  try {
    session = await deps.connect({ host: params.host, port: params.port, ...auth });
    if (role !== undefined && role !== "any" && role !== "leader") {
      const r = await session.query("SELECT pg_catalog.pg_is_in_recovery()");
      const inRecovery = r.rows.length === 0 || r.rows[0]![0] !== false;
      const fits = inRecovery ? role !== "primary" : role === "primary";
      if (!fits) return unavailable();
    }
    return await session.query(sqlText);
  } catch (err) {
    return errorRow(`ERROR, SQLSTATE: ${sqlstateOf(err)}`);
  } finally {
    await session?.close().catch(() => {});
  }
}

export async function run(
  args: string[],
  env: Record<string, string>,
  deps: QueryDeps = REAL_DEPS,
): Promise<number> {
  return await runCtl({
    usage: "Usage: hactl query [OPTIONS] [CLUSTER_NAME]\nTry 'hactl query --help' for help.",
    help: HELP,
    args,
    options: QUERY_OPTIONS,
    out: deps.out,
    err: deps.err,
    body: async (values, positionals) => {
      if (typeof values.format === "string" && !QUERY_FORMATS.includes(values.format)) {
        throw new CtlUsageError(
          `Invalid value for '--format': '${values.format}' is not one of ${
            QUERY_FORMATS.map((f) => `'${f}'`).join(", ")
          }.`,
        );
      }
      const role = parseRole(values.role);
      let watchSeconds = 0;
      if (typeof values.watch === "string") {
        const n = Number(values.watch);
        if (values.watch.trim() === "" || !Number.isFinite(n)) {
          throw new CtlUsageError(
            `Invalid value for '-w' / '--watch': '${values.watch}' is not a valid float.`,
          );
        }
        watchSeconds = n;
      }
      if (values.W && !watchSeconds) watchSeconds = 2;
      const settings = await loadCtlConfig(ctlOptionsFrom(values), env);
      if (positionals.length > 1) throw new CtlError(`Got unexpected extra argument (${positionals[1]})`);
      let sqlText: string;
      if (typeof values.file === "string") {
        if (values.command !== undefined) {
          throw new CtlError("--file and --command are mutually exclusive options");
        }
        try {
          sqlText = values.file === "-"
            ? new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer())
            : await deps.readFile(values.file);
        } catch (err) {
          throw new CtlUsageError(
            `Invalid value for '--file' / '-f': '${values.file}': ${
              err instanceof Error ? err.message : err
            }`,
          );
        }
      } else if (typeof values.command === "string") sqlText = values.command;
      else throw new CtlError("You need to specify either --command or --file");
      const member = values.member as string | undefined;
      if (member !== undefined && role !== undefined) {
        throw new CtlError("--role and --member are mutually exclusive options");
      }
      const auth: { user?: string; password?: string; dbname?: string } = {};
      if (typeof values.username === "string" && values.username !== "") auth.user = values.username;
      if (values.password) auth.password = deps.asker().prompt("Password", { hidden: true });
      if (typeof values.dbname === "string" && values.dbname !== "") auth.dbname = values.dbname;
      const scope = positionals[0] ?? settings.scope;
      if (!scope) throw new CtlError("no cluster name given and no scope in the configuration");
      const format = typeof values.format === "string" ? values.format : "tsv";
      const delimiter = typeof values.delimiter === "string" ? values.delimiter : "\t";

      const view = await deps.loadCluster(settings, scope);
      for (;;) {
        const started = deps.now().getTime();
        const result = await queryOnce(view, role, member, sqlText, auth, deps);
        deps.out(formatRows(result.columns, result.rows, format, delimiter));
        if (!watchSeconds) return 0;
        await deps.sleep(Math.max(0, watchSeconds * 1000 - (deps.now().getTime() - started)));
      }
    },
  });
}
