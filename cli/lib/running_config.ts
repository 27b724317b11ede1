/**
 * `hactl agent --generate-config`, as Patroni's `--generate-config`: a configuration file for a PostgreSQL
 * instance that already runs, from the sample's template (host name and address, `PATRONI_*` variables) and what
 * the instance says: its parameters set in a configuration file, on the command line or in the environment, and
 * those hactl always needs (the local ones — commands, `hba_file`, `ident_file`, `config_file` — under
 * `postgresql.parameters`, the others under `bootstrap.dcs.postgresql.parameters`), `data_directory`, `cluster_name`
 * as the scope, `listen_addresses` and `port` as `postgresql.listen`, the superuser it was reached as, the
 * `pg_hba.conf` and `pg_ident.conf` lines when those files are the data directory's, and the binaries' directory.
 *
 * Pure (the caller supplies the facts read from the instance). May import `src/config/`, `cli/lib/`.
 *
 * @module
 */
import type { Doc } from "../../src/config/env.ts";
import { NO_VALUE, sampleConfig, type SampleInputs } from "./sample_config.ts";

/** The parameters always read, whatever their source (Patroni's command-line options and the files). */
export const REQUIRED_PARAMETERS = [
  "hba_file",
  "ident_file",
  "config_file",
  "data_directory",
  "listen_addresses",
  "port",
  "cluster_name",
  "wal_level",
  "hot_standby",
  "max_connections",
  "max_wal_senders",
  "wal_keep_segments",
  "wal_keep_size",
  "max_prepared_transactions",
  "max_locks_per_transaction",
  "track_commit_timestamp",
  "max_replication_slots",
  "max_worker_processes",
  "wal_log_hints",
];

/** The query for the parameters (the required names are its one argument). */
export const SETTINGS_QUERY =
  "SELECT name, pg_catalog.current_setting(name) AS value FROM pg_catalog.pg_settings " +
  "WHERE context <> 'internal' AND source IN ('configuration file', 'command line', 'environment variable') " +
  "AND category <> 'Write-Ahead Log / Recovery Target' AND setting <> '(disabled)' OR name = ANY($1)";

/** Parameters kept in the local configuration (commands, for their security implications, and the files). */
const LOCAL_PARAMETERS = new Set([
  "archive_command",
  "restore_command",
  "archive_cleanup_command",
  "recovery_end_command",
  "ssl_passphrase_command",
  "hba_file",
  "ident_file",
  "config_file",
]);

/** What the running instance told. */
export interface RunningFacts {
  /** `[name, value]` rows of `SETTINGS_QUERY`. */
  settings: [string, string][];
  /** The superuser's connection fields (`username`, `password`, `sslmode`, ...). */
  superuser: Record<string, string>;
  /** The port the instance was reached on (the DSN's or PGPORT), when given. */
  connectPort?: string;
  /** The lines of `<data_dir>/pg_hba.conf` and `<data_dir>/pg_ident.conf`, when `hba_file`/`ident_file` name them. */
  hbaLines: string[] | null;
  identLines: string[] | null;
  /** The directory of the running postmaster's executable. */
  binDir: string;
  /** `server_version_num`. */
  pgMajor: number;
}

/** The pg_hba.conf entry types PostgreSQL reads (with the `include` directives from 16). */
function hbaTypes(pgMajor: number): string[] {
  const types = ["local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"];
  return pgMajor >= 160000 ? [...types, "include", "include_if_exists", "include_dir"] : types;
}

/** The configuration of the running instance, as a document. */
export function runningConfig(host: Omit<SampleInputs, "pgMajor">, f: RunningFacts): Doc {
  const doc = sampleConfig({ ...host, pgMajor: f.pgMajor });
  const pg = doc.postgresql as Doc;
  // The sample's own choices (password encryption, pg_hba, a rewind user) are not the instance's.
  delete pg.parameters;
  delete pg.pg_hba;
  const dcsPg = ((doc.bootstrap as Doc).dcs as Doc).postgresql as Doc;
  const dcsParams: Doc = {};
  const local: Doc = {};
  const seen: Record<string, string> = {};
  for (const [name, value] of f.settings) {
    if (name === "data_directory") pg.data_dir = value;
    else if (name === "cluster_name") {
      if (value) doc.scope = value;
    } else if (LOCAL_PARAMETERS.has(name)) local[name] = value;
    else if (name === "port" || name === "listen_addresses") seen[name] = value;
    else dcsParams[name] = value;
  }
  dcsPg.parameters = dcsParams;
  delete dcsPg.use_pg_rewind;
  pg.parameters = local;
  const ip = String(pg.connect_address).split(":")[0];
  pg.connect_address = `${ip}:${f.connectPort ?? seen.port}`;
  pg.listen = `${seen.listen_addresses}:${seen.port}`;
  pg.authentication = {
    superuser: f.superuser,
    replication: { username: NO_VALUE, password: NO_VALUE },
  };
  const dataDir = String(pg.data_dir);
  if (f.hbaLines && local.hba_file === `${dataDir}/pg_hba.conf`) {
    const types = hbaTypes(f.pgMajor);
    pg.pg_hba = stripped(f.hbaLines).filter((l) => types.includes(l.split(/\s+/)[0]!));
  }
  if (f.identLines && local.ident_file === `${dataDir}/pg_ident.conf`) {
    const ident = stripped(f.identLines).filter((l) => !l.startsWith("#"));
    if (ident.length > 0) pg.pg_ident = ident;
  }
  pg.bin_dir = f.binDir;
  return doc;
}

/** Lines without surrounding white space, empty ones dropped. */
function stripped(lines: string[]): string[] {
  return lines.map((l) => l.trim()).filter((l) => l !== "");
}
