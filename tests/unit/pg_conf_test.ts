import assert from "node:assert/strict";
import {
  applyControlDataMinimums,
  basebackupArgv,
  buildConninfo,
  buildHba,
  buildPostgresqlConf,
  cmdlineOptions,
  defaultPgHba,
  type EffectiveInput,
  effectiveParameters,
  initdbArgv,
  localConnectHost,
  parseConninfo,
  parseConnUrl,
  parseControlData,
  pgpassLine,
  quoteConfValue,
  quoteConninfoValue,
  quoteLiteral,
  replicationConninfo,
  shellQuote,
} from "../../src/pg/conf.ts";

function input(over: Partial<EffectiveInput> = {}): EffectiveInput {
  return {
    dynamic: {},
    local: {},
    scope: "demo",
    listen: { hosts: ["127.0.0.1"], port: 5432 },
    hbaFile: "/data/pg_hba.conf",
    identFile: "/data/pg_ident.conf",
    defaultSocketDir: "/tmp",
    ...over,
  };
}

Deno.test("effectiveParameters() fills the protected defaults, listen, port, cluster_name and the hba file", () => {
  const { params, warnings } = effectiveParameters(input());
  assert.deepEqual(warnings, []);
  assert.equal(params["wal_level"], "replica");
  assert.equal(params["hot_standby"], "on");
  assert.equal(params["max_connections"], "100");
  assert.equal(params["max_wal_senders"], "10");
  assert.equal(params["max_replication_slots"], "10");
  assert.equal(params["max_worker_processes"], "8");
  assert.equal(params["max_prepared_transactions"], "0");
  assert.equal(params["max_locks_per_transaction"], "64");
  assert.equal(params["track_commit_timestamp"], "off");
  assert.equal(params["wal_keep_size"], "128MB");
  assert.equal(params["wal_log_hints"], "on");
  assert.equal(params["cluster_name"], "demo");
  assert.equal(params["listen_addresses"], "127.0.0.1");
  assert.equal(params["port"], "5432");
  assert.equal(params["hba_file"], "/data/pg_hba.conf");
  assert.equal(params["unix_socket_directories"], "/tmp");
});

Deno.test("effectiveParameters() lets local parameters beat dynamic ones, but never protected GUCs", () => {
  const { params, warnings } = effectiveParameters(input({
    dynamic: { work_mem: "4MB", max_connections: 200, shared_buffers: "128MB" },
    local: {
      work_mem: "8MB",
      max_connections: 500,
      port: 1234,
      cluster_name: "x",
      log_min_messages: "debug1",
    },
  }));
  assert.equal(params["work_mem"], "8MB");
  assert.equal(params["shared_buffers"], "128MB");
  assert.equal(params["log_min_messages"], "debug1");
  assert.equal(params["max_connections"], "200", "protected: the dynamic value wins");
  assert.equal(params["port"], "5432");
  assert.equal(params["cluster_name"], "demo");
  assert.equal(warnings.length, 3);
});

Deno.test("effectiveParameters() replaces invalid protected values by their defaults and normalizes aliases", () => {
  const { params, warnings } = effectiveParameters(input({
    dynamic: {
      wal_level: "hot_standby",
      max_connections: 10,
      max_wal_senders: "abc",
      hot_standby: false,
      wal_log_hints: true,
      wal_keep_size: "1GB",
      track_commit_timestamp: "yes",
    },
  }));
  assert.equal(params["wal_level"], "replica");
  assert.equal(params["max_connections"], "100");
  assert.equal(params["max_wal_senders"], "10");
  assert.equal(params["hot_standby"], "on");
  assert.equal(params["wal_log_hints"], "on");
  assert.equal(params["wal_keep_size"], "1024MB");
  assert.equal(params["track_commit_timestamp"], "on");
  assert.equal(warnings.length, 3);
  assert.equal(
    effectiveParameters(input({ dynamic: { wal_level: "logical" } })).params["wal_level"],
    "logical",
  );
  assert.equal(
    effectiveParameters(input({ dynamic: { wal_keep_size: "8MB" } })).params["wal_keep_size"],
    "128MB",
  );
  assert.equal(
    effectiveParameters(input({ dynamic: { wal_keep_segments: 32 } })).params["wal_keep_size"],
    "512MB",
  );
});

Deno.test("effectiveParameters() ignores recovery and file-location parameters from the configuration", () => {
  const { params } = effectiveParameters(input({
    local: { primary_conninfo: "host=evil", hba_file: "/etc/x", unix_socket_directories: "/run/pg" },
  }));
  assert.equal(params["primary_conninfo"], undefined);
  assert.equal(params["hba_file"], "/data/pg_hba.conf");
  assert.equal(params["unix_socket_directories"], "/run/pg");
});

Deno.test("buildPostgresqlConf() writes the include line first, then parameters sorted by name", () => {
  const text = buildPostgresqlConf({
    params: { wal_level: "replica", archive_command: "cp %p '/x y'", max_connections: "100" },
    includeBase: true,
    recovery: null,
  });
  const lines = text.split("\n");
  assert.equal(lines[0], "include 'postgresql.base.conf'");
  const settings = lines.filter((l) => / = /.test(l));
  assert.deepEqual(settings, [
    "archive_command = 'cp %p ''/x y'''",
    "max_connections = '100'",
    "wal_level = 'replica'",
  ]);
  assert.ok(text.endsWith("\n"));
  assert.ok(!buildPostgresqlConf({ params: {}, includeBase: false, recovery: null }).includes("include"));
});

Deno.test("buildPostgresqlConf() appends the recovery section for a replica", () => {
  const text = buildPostgresqlConf({
    params: { port: "5432" },
    includeBase: true,
    recovery: { recovery_target_timeline: "latest", primary_slot_name: "pg2", primary_conninfo: "host=a" },
  });
  const tailLines = text.trim().split("\n").slice(-3);
  assert.deepEqual(tailLines, [
    "primary_conninfo = 'host=a'",
    "primary_slot_name = 'pg2'",
    "recovery_target_timeline = 'latest'",
  ]);
});

Deno.test("quoteConfValue() escapes backslashes and single quotes", () => {
  assert.equal(quoteConfValue(String.raw`a\b'c`), String.raw`'a\\b''c'`);
});

Deno.test("cmdlineOptions() carries the protected GUCs and listen/port/cluster_name, not wal_keep_size", () => {
  const { params } = effectiveParameters(input({ local: { work_mem: "8MB" } }));
  const opts = cmdlineOptions(params);
  assert.ok(opts.includes("--max_connections=100"));
  assert.ok(opts.includes("--listen_addresses=127.0.0.1"));
  assert.ok(opts.includes("--port=5432"));
  assert.ok(opts.includes("--cluster_name=demo"));
  assert.ok(opts.includes("--hot_standby=on"));
  assert.ok(!opts.some((o) => o.startsWith("--wal_keep_size")));
  assert.ok(!opts.some((o) => o.startsWith("--work_mem")));
  assert.deepEqual(opts, [...opts].sort());
});

Deno.test("applyControlDataMinimums() raises GUCs a hot standby needs to the primary's values", () => {
  const params: Record<string, string> = { max_connections: "100", max_worker_processes: "8" };
  const raised = applyControlDataMinimums(params, {
    "max_connections setting": "200",
    "max_worker_processes setting": "4",
  });
  assert.deepEqual(raised, ["max_connections"]);
  assert.equal(params["max_connections"], "200");
  assert.equal(params["max_worker_processes"], "8");
});

Deno.test("replicationConninfo() builds a libpq string with passfile and application_name, no password", () => {
  const ci = replicationConninfo({
    connUrl: "postgres://10.0.0.1:5433/postgres",
    user: "replicator",
    passfile: "/var/lib/pg/.pgpass",
    applicationName: "pg2",
  });
  assert.equal(
    ci,
    "dbname=postgres user=replicator passfile=/var/lib/pg/.pgpass host=10.0.0.1 port=5433 sslmode=prefer " +
      "application_name=pg2 gssencmode=prefer channel_binding=prefer",
  );
  assert.ok(!ci.includes("password="));
});

Deno.test("conninfo values with spaces, quotes and backslashes are escaped and round-trip", () => {
  const user = String.raw`rep l'i\cator`;
  const app = "my node";
  const ci = buildConninfo([["user", user], ["application_name", app], ["host", "h"], ["empty", ""]]);
  assert.equal(ci, String.raw`user='rep l\'i\\cator' application_name='my node' host=h empty=''`);
  assert.deepEqual(parseConninfo(ci), { user, application_name: app, host: "h", empty: "" });
  assert.equal(quoteConninfoValue("plain-value_1.2"), "plain-value_1.2");
  const full = replicationConninfo({
    connUrl: "postgres://[::1]:5432/postgres",
    user,
    passfile: "/p ass",
    applicationName: app,
  });
  const parsed = parseConninfo(full);
  assert.equal(parsed["user"], user);
  assert.equal(parsed["host"], "::1");
  assert.equal(parsed["passfile"], "/p ass");
});

Deno.test("parseConnUrl() reads host, port and dbname; rejects other schemes", () => {
  assert.deepEqual(parseConnUrl("postgres://10.0.0.1:5432/postgres"), {
    host: "10.0.0.1",
    port: 5432,
    dbname: "postgres",
  });
  assert.deepEqual(parseConnUrl("postgresql://db1"), { host: "db1", port: 5432, dbname: undefined });
  assert.throws(() => parseConnUrl("http://x:1/"), /postgres:\/\//);
  assert.throws(() => parseConnUrl("not a url"), /conn_url/);
});

Deno.test("pgpassLine() escapes colons and backslashes", () => {
  assert.equal(pgpassLine("::1", 5432, "rep", String.raw`p:a\ss`), String.raw`\:\:1:5432:*:rep:p\:a\\ss`);
});

Deno.test("defaultPgHba() allows local peer, password logins and replication for the replication user", () => {
  const lines = defaultPgHba("replicator");
  assert.ok(lines.includes("local all all peer"));
  assert.ok(lines.includes("host replication replicator 127.0.0.1/32 md5"));
  assert.ok(defaultPgHba("odd user").some((l) => l.includes(`"odd user"`)));
  const text = buildHba(["local all all trust"]);
  assert.ok(text.endsWith("local all all trust\n"));
  assert.ok(text.startsWith("#"));
});

Deno.test("initdbArgv() puts hactl's options first and drops the ones hactl owns", () => {
  const { argv, dropped } = initdbArgv({
    dataDir: "/d",
    superuser: "postgres",
    pwfile: "/tmp/pw",
    extra: ["--encoding=UTF8", "--data-checksums", "--pgdata=/other", "--nosync", "-U", "--username=x"],
  });
  assert.deepEqual(argv, [
    "--pgdata=/d",
    "--username=postgres",
    "--pwfile=/tmp/pw",
    "--encoding=UTF8",
    "--data-checksums",
  ]);
  assert.deepEqual(dropped, ["--pgdata", "--nosync", "-U", "--username"]);
  assert.deepEqual(initdbArgv({ dataDir: "/d", superuser: "s", pwfile: null, extra: [] }).argv, [
    "--pgdata=/d",
    "--username=s",
  ]);
});

Deno.test("basebackupArgv() streams WAL and drops options hactl owns", () => {
  const { argv, dropped } = basebackupArgv({
    dataDir: "/d",
    conninfo: "host=a",
    extra: ["--checkpoint=fast", "--format=tar", "--max-rate=10M", "-Ft"],
  });
  assert.deepEqual(argv, [
    "--pgdata=/d",
    "-X",
    "stream",
    "--dbname=host=a",
    "--checkpoint=fast",
    "--max-rate=10M",
  ]);
  assert.deepEqual(dropped, ["--format", "-Ft"]);
});

Deno.test("parseControlData() reads `field: value` lines", () => {
  const cd = parseControlData(
    "pg_control version number:            1300\nDatabase system identifier:           7312\n" +
      "Database cluster state:               in production\n",
  );
  assert.equal(cd["Database system identifier"], "7312");
  assert.equal(cd["Database cluster state"], "in production");
});

Deno.test("quoteLiteral() and shellQuote() make values safe for SQL and /bin/sh", () => {
  assert.equal(quoteLiteral("it's"), "'it''s'");
  assert.equal(quoteLiteral(String.raw`a\b`), String.raw`E'a\\b'`);
  assert.equal(shellQuote("--port=5432"), "--port=5432");
  assert.equal(shellQuote("--cluster_name=my scope's"), `'--cluster_name=my scope'\\''s'`);
});

Deno.test("localConnectHost() maps wildcard listen addresses to loopback", () => {
  assert.equal(localConnectHost(["*"]), "127.0.0.1");
  assert.equal(localConnectHost(["0.0.0.0"]), "127.0.0.1");
  assert.equal(localConnectHost(["::"]), "::1");
  assert.equal(localConnectHost(["10.0.0.5", "127.0.0.1"]), "10.0.0.5");
  assert.equal(localConnectHost([]), "127.0.0.1");
});

Deno.test("effectiveParameters() retries a replica's streaming every second unless a configuration says otherwise", () => {
  // Measured (synchronous_mode_strict, scripts/bench/sync.sh's switchover): after a switchover the replicas whose
  // upstream changed waited out PostgreSQL's default 5 s before streaming from the new primary, whose commits wait
  // for a standby meanwhile: a 6.3-7.0 s write gap, 2.4 s with 1 s.
  assert.equal(effectiveParameters(input()).params["wal_retrieve_retry_interval"], "1s");
  const dynamic = effectiveParameters(input({ dynamic: { wal_retrieve_retry_interval: "5s" } }));
  assert.equal(dynamic.params["wal_retrieve_retry_interval"], "5s");
  const local = effectiveParameters(input({ local: { wal_retrieve_retry_interval: 2000 } }));
  assert.equal(local.params["wal_retrieve_retry_interval"], "2000");
});

Deno.test("buildPostgresqlConf() includes postgresql.custom_conf first, instead of postgresql.base.conf", () => {
  const text = buildPostgresqlConf({
    params: { port: "5432" },
    includeBase: true,
    customConf: "/etc/postgresql/it's.conf",
    recovery: null,
  });
  const lines = text.split("\n");
  assert.equal(lines[0], "include '/etc/postgresql/it''s.conf'");
  assert.equal(lines.filter((l) => l.startsWith("include")).length, 1);
});
