/**
 * `hactl agent --generate-config` (cli/lib/running_config.ts, cli/lib/running_inputs.ts), as Patroni's
 * `--generate-config`: where each parameter of the running instance goes, the scope from `cluster_name`, the
 * listen and connect addresses, the data directory's pg_hba/pg_ident lines, the superuser from the DSN and the
 * libpq variables, and a result that, with its `#FIXME` values filled in, is a configuration hactl accepts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { formatSampleConfig, NO_VALUE } from "../../cli/lib/sample_config.ts";
import { runningConfig, type RunningFacts } from "../../cli/lib/running_config.ts";
import { GenerateConfigError, parseDsn, superuserFields } from "../../cli/lib/running_inputs.ts";
import { buildConfig, parseYamlText } from "../../src/config/config.ts";

const HOST = { hostname: "db1", ip: "10.0.0.5", env: {} };

const FACTS: RunningFacts = {
  settings: [
    ["data_directory", "/var/lib/pg/data"],
    ["cluster_name", "orders"],
    ["port", "5433"],
    ["listen_addresses", "*"],
    ["max_connections", "200"],
    ["wal_level", "logical"],
    ["shared_buffers", "1GB"],
    ["archive_command", "pgbackrest --stanza=orders archive-push %p"],
    ["hba_file", "/var/lib/pg/data/pg_hba.conf"],
    ["ident_file", "/etc/pg/pg_ident.conf"],
    ["config_file", "/var/lib/pg/data/postgresql.conf"],
  ],
  superuser: { username: "postgres", password: "s3cret", sslmode: "require" },
  hbaLines: [
    "# TYPE DATABASE USER ADDRESS METHOD",
    "",
    "  local all all peer  ",
    "host all all 0.0.0.0/0 md5",
  ],
  identLines: ["map1 root postgres"],
  binDir: "/usr/lib/postgresql/16/bin",
  pgMajor: 160004,
};

/** The value at a dotted path of a document. */
function at(doc: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], doc);
}

Deno.test("generate-config: commands and files stay local, the other parameters go to bootstrap.dcs", () => {
  const doc = runningConfig(HOST, FACTS);
  assert.deepEqual(at(doc, "postgresql.parameters"), {
    archive_command: "pgbackrest --stanza=orders archive-push %p",
    hba_file: "/var/lib/pg/data/pg_hba.conf",
    ident_file: "/etc/pg/pg_ident.conf",
    config_file: "/var/lib/pg/data/postgresql.conf",
  });
  assert.deepEqual(at(doc, "bootstrap.dcs.postgresql.parameters"), {
    max_connections: "200",
    wal_level: "logical",
    shared_buffers: "1GB",
  });
  assert.equal(at(doc, "bootstrap.dcs.postgresql.use_pg_rewind"), undefined, "not the sample's choice");
  assert.equal(at(doc, "scope"), "orders");
  assert.equal(at(doc, "postgresql.data_dir"), "/var/lib/pg/data");
  assert.equal(at(doc, "postgresql.listen"), "*:5433");
  assert.equal(at(doc, "postgresql.connect_address"), "10.0.0.5:5433");
  assert.equal(at(doc, "postgresql.bin_dir"), "/usr/lib/postgresql/16/bin");
  assert.deepEqual(at(doc, "postgresql.authentication"), {
    superuser: { username: "postgres", password: "s3cret", sslmode: "require" },
    replication: { username: NO_VALUE, password: NO_VALUE },
  });
});

Deno.test("generate-config: pg_hba lines of the data directory's file only; pg_ident only from its default path", () => {
  const doc = runningConfig(HOST, FACTS);
  assert.deepEqual(at(doc, "postgresql.pg_hba"), ["local all all peer", "host all all 0.0.0.0/0 md5"]);
  assert.equal(at(doc, "postgresql.pg_ident"), undefined, "ident_file is not the data directory's");
  const own = runningConfig(HOST, {
    ...FACTS,
    settings: FACTS.settings.map(([n, v]) => [n, n === "ident_file" ? "/var/lib/pg/data/pg_ident.conf" : v]),
    identLines: ["# MAPNAME SYSTEM-USERNAME PG-USERNAME", "map1 root postgres", ""],
    connectPort: "6432",
  });
  assert.deepEqual(at(own, "postgresql.pg_ident"), ["map1 root postgres"]);
  assert.equal(at(own, "postgresql.connect_address"), "10.0.0.5:6432", "the port it was reached on");
  const noScope = runningConfig(HOST, {
    ...FACTS,
    settings: FACTS.settings.filter(([n]) => n !== "cluster_name"),
  });
  assert.equal(at(noScope, "scope"), NO_VALUE);
});

Deno.test("generate-config: the result, with its #FIXME values filled in, is a configuration hactl accepts", () => {
  const text = formatSampleConfig(runningConfig(HOST, FACTS))
    .replace('"#FIXME:2379"', "10.0.0.8:2379")
    .replaceAll('"#FIXME"', "repl");
  assert.ok(!text.includes(NO_VALUE), text);
  const { config } = buildConfig(parseYamlText(text, "gen.yml"), "gen.yml", {});
  assert.equal(config.scope, "orders");
  assert.equal(config.postgresql.dataDir, "/var/lib/pg/data");
  assert.equal(config.postgresql.authentication.replication.username, "repl");
});

Deno.test("generate-config: the DSN (key=value or URI) over the libpq variables; the OS user by default", () => {
  assert.deepEqual(parseDsn("host=/run/pg port=5433 user=admin password='a b'"), {
    host: "/run/pg",
    port: "5433",
    user: "admin",
    password: "a b",
  });
  assert.deepEqual(parseDsn("postgresql://admin:p%40ss@db.example:5434/app?sslmode=verify-full"), {
    host: "db.example",
    port: "5434",
    user: "admin",
    password: "p@ss",
    dbname: "app",
    sslmode: "verify-full",
  });
  assert.throws(() => parseDsn("host"), GenerateConfigError);
  const env = { PGUSER: "envuser", PGPASSWORD: "envpass", PGSSLMODE: "require", PGHOST: "ignored" };
  assert.deepEqual(superuserFields({ user: "admin" }, env, "osuser"), {
    username: "admin",
    password: "envpass",
    sslmode: "require",
  });
  assert.deepEqual(superuserFields({}, {}, "osuser"), { username: "osuser" });
});
