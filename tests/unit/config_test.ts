/**
 * Specification of `src/config/config.ts`: Patroni's YAML and `PATRONI_*` variables -> a validated Config, every
 * problem reported at once as `<file>: <key>: <message>`, plus the run-time rule for the dynamic config.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ConfigError,
  DYNAMIC_DEFAULTS,
  normalizeDynamic,
  parseConfig,
  parseConfigWithWarnings,
  parseDcsUrl,
  redactConfig,
} from "../../src/config/config.ts";
import { mergeDocs, readEnvOverrides } from "../../src/config/env.ts";

/** A postgres0.yml in the style of Patroni's docs, with etcd3. */
const PATRONI_YML = `
scope: batman
namespace: /service/
name: postgresql0

restapi:
  listen: 127.0.0.1:8008
  connect_address: 127.0.0.1:8008
  authentication:
    username: patroni
    password: 'rest-secret'

ctl:
  insecure: false

etcd3:
  host: 127.0.0.1:2379

log:
  level: INFO

bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: hot_standby
        hot_standby: "on"
        max_connections: 100
        max_wal_senders: 10
        wal_keep_size: 128MB
  initdb:
  - encoding: UTF8
  - data-checksums
  pg_hba:
  - host replication replicator 127.0.0.1/32 md5
  - host all all 0.0.0.0/0 md5

postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: data/postgresql0
  pgpass: /tmp/pgpass0
  authentication:
    replication:
      username: replicator
      password: rep-pass
    superuser:
      username: postgres
      password: zalando
    rewind:
      username: rewind_user
      password: rewind_password
  parameters:
    unix_socket_directories: '..'
    max_connections: 500
    port: 5433
    work_mem: 8MB
  pg_hba:
  - local all all trust
  basebackup:
  - checkpoint: fast
  - verbose

watchdog:
  mode: automatic
  device: /dev/watchdog
  safety_margin: 5

tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
  datacenter: east
`;

/** The smallest valid configuration, for tests that change one thing. */
const MINIMAL = `
scope: batman
name: pg1
restapi: {listen: "0.0.0.0:8008", connect_address: "10.0.0.1:8008"}
etcd3: {host: "10.0.0.9:2379"}
postgresql:
  listen: "*:5432"
  connect_address: 10.0.0.1:5432
  data_dir: /var/lib/postgresql/15/main
  authentication:
    superuser: {username: postgres, password: secret}
    replication: {username: replicator, password: rsecret}
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("parseConfig() loads Patroni's documented postgres0.yml for etcd3 unchanged", () => {
  const { config, warnings } = parseConfigWithWarnings(PATRONI_YML, "postgres0.yml", {});
  assert.deepEqual(warnings, []);
  assert.equal(config.source, "postgres0.yml");
  assert.equal(config.scope, "batman");
  assert.equal(config.name, "postgresql0");
  assert.equal(config.namespace, "/service/");
  assert.deepEqual(config.restapi.listen, { host: "127.0.0.1", port: 8008 });
  assert.deepEqual(config.restapi.authentication, { username: "patroni", password: "rest-secret" });
  assert.deepEqual(
    config.ctl.authentication,
    config.restapi.authentication,
    "ctl falls back to restapi auth",
  );
  assert.deepEqual(config.etcd3, { hosts: ["http://127.0.0.1:2379"], protocol: "http" });
  assert.equal(config.log.level, "INFO");
  assert.deepEqual(config.bootstrap.initdb, ["--encoding=UTF8", "--data-checksums"]);
  assert.equal(config.bootstrap.method, "initdb");
  assert.equal(config.bootstrap.pgHba.length, 2);
  assert.equal((config.bootstrap.dcs.postgresql as Record<string, unknown>).use_pg_rewind, true);
  assert.deepEqual(config.postgresql.listen, { hosts: ["127.0.0.1"], port: 5432 });
  assert.deepEqual(config.postgresql.connectAddress, { host: "127.0.0.1", port: 5432 });
  assert.equal(config.postgresql.dataDir, "data/postgresql0");
  assert.equal(config.postgresql.configDir, "data/postgresql0");
  assert.equal(config.postgresql.pgpass, "/tmp/pgpass0");
  assert.equal(config.postgresql.authentication.superuser.username, "postgres");
  assert.equal(config.postgresql.authentication.replication.password, "rep-pass");
  assert.equal(config.postgresql.authentication.rewind?.username, "rewind_user");
  assert.deepEqual(config.postgresql.basebackup, ["--checkpoint=fast", "--verbose"]);
  assert.deepEqual(config.postgresql.createReplicaMethods, ["basebackup"]);
  assert.deepEqual(config.postgresql.pgHba, ["local all all trust"]);
  assert.deepEqual(config.watchdog, {
    mode: "automatic",
    device: "/dev/watchdog",
    safetyMargin: 5,
    driver: "default",
  });
  assert.deepEqual(config.tags, {
    nofailover: false,
    noloadbalance: false,
    clonefrom: false,
    nosync: false,
    datacenter: "east",
  });
});

Deno.test("parseConfig() silently drops protected GUCs from local postgresql.parameters", () => {
  const config = parseConfig(PATRONI_YML, "postgres0.yml", {});
  assert.deepEqual(config.postgresql.parameters, { unix_socket_directories: "..", work_mem: "8MB" });
});

Deno.test("parseConfig() applies Patroni's defaults to a minimal file", () => {
  const config = parseConfig(MINIMAL, "hactl.yml", { HOME: "/home/pg" });
  assert.equal(config.namespace, "/service/");
  assert.deepEqual(config.log, {
    level: "INFO",
    type: "plain",
    tracebackLevel: "ERROR",
    format: "%(asctime)s %(levelname)s: %(message)s",
    jsonKeys: [],
    staticFields: {},
    fileNum: 4,
    fileSize: 25000000,
    loggers: {},
    deduplicateHeartbeatLogs: false,
    maxQueueSize: 1000,
  });
  assert.deepEqual(config.restapi.listen, { host: "0.0.0.0", port: 8008 });
  assert.equal(config.restapi.verifyClient, "none");
  assert.deepEqual(config.restapi.allowlist, []);
  assert.equal(config.ctl.insecure, false);
  assert.equal(config.postgresql.binDir, "");
  assert.equal(config.postgresql.pgpass, "/home/pg/pgpass");
  assert.equal(config.postgresql.pgCtlTimeout, 60);
  assert.deepEqual(config.postgresql.listen, { hosts: ["*"], port: 5432 });
  assert.deepEqual(config.bootstrap, { dcs: {}, method: "initdb", initdb: [], pgHba: [] });
  assert.deepEqual(config.watchdog, {
    mode: "automatic",
    device: "/dev/watchdog",
    safetyMargin: 5,
    driver: "default",
  });
  assert.deepEqual(config.tags, {});
});

Deno.test("parseConfig() returns a deeply frozen Config", () => {
  const config = parseConfig(MINIMAL, "hactl.yml", {});
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.postgresql.authentication.superuser));
  assert.throws(() => {
    (config.restapi.listen as { port: number }).port = 1;
  });
});

Deno.test("connect addresses default to restapi.listen and to postgresql.listen's first host", () => {
  const config = parseConfig(
    `
scope: s
name: n
restapi: {listen: "10.0.0.1:8009"}
etcd3: {host: "e:2379"}
postgresql:
  listen: "10.0.0.1,127.0.0.1:5433"
  data_dir: /d
  authentication: {superuser: {username: postgres}, replication: {username: rep}}
`,
    "hactl.yml",
    {},
  );
  assert.deepEqual(config.restapi.connectAddress, { host: "10.0.0.1", port: 8009 });
  assert.deepEqual(config.postgresql.listen, { hosts: ["10.0.0.1", "127.0.0.1"], port: 5433 });
  assert.deepEqual(config.postgresql.connectAddress, { host: "10.0.0.1", port: 5433 });
});

Deno.test("a wildcard listen address without a connect_address is accepted with a warning", () => {
  const text = MINIMAL.replace(/, connect_address: "10.0.0.1:8008"/, "").replace(
    / {2}connect_address: 10.0.0.1:5432\n/,
    "",
  );
  const { config, warnings } = parseConfigWithWarnings(text, "hactl.yml", {});
  assert.deepEqual(config.restapi.connectAddress, { host: "0.0.0.0", port: 8008 });
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /^restapi\.connect_address: /);
  assert.match(warnings[1], /^postgresql\.connect_address: /);
});

Deno.test("PATRONI_* variables override the file", () => {
  const config = parseConfig(MINIMAL, "hactl.yml", {
    PATRONI_NAME: "pg9",
    PATRONI_SCOPE: "robin",
    PATRONI_NAMESPACE: "db",
    PATRONI_LOG_LEVEL: "debug",
    PATRONI_RESTAPI_LISTEN: "10.0.0.2:8010",
    PATRONI_RESTAPI_CONNECT_ADDRESS: "10.0.0.2:8010",
    PATRONI_RESTAPI_USERNAME: "admin",
    PATRONI_RESTAPI_PASSWORD: "pw",
    PATRONI_RESTAPI_VERIFY_CLIENT: "optional",
    PATRONI_RESTAPI_ALLOWLIST: "10.0.0.0/8, 127.0.0.1",
    PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS: "Yes",
    PATRONI_CTL_INSECURE: "on",
    PATRONI_POSTGRESQL_LISTEN: "0.0.0.0:5433",
    PATRONI_POSTGRESQL_CONNECT_ADDRESS: "10.0.0.2:5433",
    PATRONI_POSTGRESQL_DATA_DIR: "/data/pg",
    PATRONI_POSTGRESQL_BIN_DIR: "/usr/lib/postgresql/15/bin",
    PATRONI_SUPERUSER_USERNAME: "admin",
    PATRONI_SUPERUSER_PASSWORD: "adminpw",
    PATRONI_REPLICATION_SSLMODE: "require",
    PATRONI_REWIND_USERNAME: "rewinder",
    PATRONI_ETCD3_HOSTS: "'e1:2379','e2:2379'",
    PATRONI_ETCD3_PROTOCOL: "https",
    PATRONI_ETCD3_CACERT: "/etc/ca.pem",
    PATRONI_ETCD3_USERNAME: "root",
    PATRONI_ETCD3_PASSWORD: "etcdpw",
    UNRELATED: "x",
  });
  assert.equal(config.name, "pg9");
  assert.equal(config.scope, "robin");
  assert.equal(config.namespace, "/db/");
  assert.equal(config.log.level, "DEBUG");
  assert.deepEqual(config.restapi.listen, { host: "10.0.0.2", port: 8010 });
  assert.deepEqual(config.restapi.authentication, { username: "admin", password: "pw" });
  assert.equal(config.restapi.verifyClient, "optional");
  assert.deepEqual(config.restapi.allowlist, ["10.0.0.0/8", "127.0.0.1"]);
  assert.equal(config.restapi.allowlistIncludeMembers, true);
  assert.equal(config.ctl.insecure, true);
  assert.deepEqual(config.postgresql.listen, { hosts: ["0.0.0.0"], port: 5433 });
  assert.equal(config.postgresql.dataDir, "/data/pg");
  assert.equal(config.postgresql.binDir, "/usr/lib/postgresql/15/bin");
  assert.deepEqual(config.postgresql.authentication.superuser, { username: "admin", password: "adminpw" });
  assert.equal(config.postgresql.authentication.replication.username, "replicator", "file values are kept");
  assert.equal(config.postgresql.authentication.replication.sslmode, "require");
  assert.equal(config.postgresql.authentication.rewind?.username, "rewinder");
  assert.deepEqual(config.etcd3, {
    hosts: ["https://e1:2379", "https://e2:2379"],
    protocol: "https",
    cacert: "/etc/ca.pem",
    username: "root",
    password: "etcdpw",
  });
});

Deno.test("the legacy PATRONI_LOGLEVEL applies only when PATRONI_LOG_LEVEL is unset", () => {
  assert.equal(parseConfig(MINIMAL, "f", { PATRONI_LOGLEVEL: "WARNING" }).log.level, "WARNING");
  assert.equal(
    parseConfig(MINIMAL, "f", { PATRONI_LOGLEVEL: "WARNING", PATRONI_LOG_LEVEL: "ERROR" }).log.level,
    "ERROR",
  );
});

Deno.test("a configuration built from PATRONI_* variables alone is valid", () => {
  const config = parseConfig("", "environment", {
    PATRONI_NAME: "pg1",
    PATRONI_SCOPE: "batman",
    PATRONI_RESTAPI_LISTEN: "10.0.0.1:8008",
    PATRONI_POSTGRESQL_LISTEN: "10.0.0.1:5432",
    PATRONI_POSTGRESQL_DATA_DIR: "/data",
    PATRONI_SUPERUSER_USERNAME: "postgres",
    PATRONI_REPLICATION_USERNAME: "replicator",
    PATRONI_ETCD3_HOST: "127.0.0.1:2379",
  });
  assert.equal(config.source, "environment");
  assert.deepEqual(config.etcd3.hosts, ["http://127.0.0.1:2379"]);
});

Deno.test("readEnvOverrides() parses lists, dicts and booleans as Patroni does", () => {
  const { doc, problems } = readEnvOverrides({
    PATRONI_ETCD3_HOSTS: "- a:1\n- b:2",
    PATRONI_RESTAPI_ALLOWLIST: "[x, y]",
    PATRONI_RESTAPI_HTTP_EXTRA_HEADERS: "X-A: 1, X-B: two",
    PATRONI_LOG_STATIC_FIELDS: "{app: hactl}",
    PATRONI_CTL_INSECURE: "OFF",
    PATRONI_LOG_FILE_SIZE: "10MB",
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(doc, {
    etcd3: { hosts: ["a:1", "b:2"] },
    restapi: { allowlist: ["x", "y"], http_extra_headers: { "X-A": 1, "X-B": "two" } },
    log: { static_fields: { app: "hactl" }, file_size: 10 * 1024 * 1024 },
    ctl: { insecure: false },
  });
});

Deno.test("an unparsable PATRONI_* boolean is an error naming the variable and the key, not the value", () => {
  const problems = problemsOf(() =>
    parseConfig(MINIMAL, "hactl.yml", { PATRONI_CTL_INSECURE: "maybe-secret" })
  );
  assert.deepEqual(problems, [
    "hactl.yml: ctl.insecure: PATRONI_CTL_INSECURE must be a boolean (on/true/yes/1 or off/false/no/0)",
  ]);
});

Deno.test("a missing scope is reported with file and key", () => {
  const problems = problemsOf(() => parseConfig(MINIMAL.replace("scope: batman\n", ""), "hactl.yml", {}));
  assert.deepEqual(problems, ["hactl.yml: scope: is required"]);
});

Deno.test("bootstrap.dcs.ttl smaller than loop_wait + 2 * retry_timeout is an error", () => {
  const text = `${MINIMAL}bootstrap:\n  dcs: {ttl: 20, loop_wait: 10, retry_timeout: 10}\n`;
  assert.deepEqual(problemsOf(() => parseConfig(text, "hactl.yml", {})), [
    "hactl.yml: bootstrap.dcs.ttl: must be >= loop_wait + 2 * retry_timeout (10 + 2*10 > 20)",
  ]);
});

Deno.test("bootstrap.dcs timings below the minimums or not integers are errors (stricter than Patroni)", () => {
  const text =
    `${MINIMAL}bootstrap:\n  dcs: {ttl: 60, loop_wait: 0, retry_timeout: "soon", maximum_lag_on_failover: 1.5}\n`;
  assert.deepEqual(problemsOf(() => parseConfig(text, "hactl.yml", {})), [
    "hactl.yml: bootstrap.dcs.loop_wait: must be >= 1 (found 0)",
    "hactl.yml: bootstrap.dcs.retry_timeout: must be an integer, found a string",
    "hactl.yml: bootstrap.dcs.maximum_lag_on_failover: must be an integer, found a fractional number",
  ]);
  const fence = `${MINIMAL}bootstrap:\n  dcs: {isolation_fence_timeout: -2}\n`;
  assert.deepEqual(problemsOf(() => parseConfig(fence, "hactl.yml", {})), [
    "hactl.yml: bootstrap.dcs.isolation_fence_timeout: must be >= 0 (found -2)",
  ]);
  const small = `${MINIMAL}bootstrap:\n  dcs: {ttl: 9, loop_wait: 1, retry_timeout: 3}\n`;
  assert.deepEqual(problemsOf(() => parseConfig(small, "hactl.yml", {})), [
    "hactl.yml: bootstrap.dcs.ttl: must be >= 10 (found 9)",
  ]);
  // hactl's fast profile (below Patroni's 20: the fence makes a short lease safe).
  const fast = `${MINIMAL}bootstrap:\n  dcs: {ttl: 10, loop_wait: 2, retry_timeout: 4}\n`;
  assert.equal(parseConfig(fast, "hactl.yml", {}).bootstrap.dcs.ttl, 10);
});

Deno.test("a non-numeric port is an error that shows the port and the expected form", () => {
  const text = MINIMAL.replace('listen: "0.0.0.0:8008"', 'listen: "0.0.0.0:http"');
  assert.deepEqual(problemsOf(() => parseConfig(text, "hactl.yml", {})), [
    'hactl.yml: restapi.listen: port "http" is not a number between 1 and 65535 (expected host:port)',
  ]);
  const noPort = MINIMAL.replace("connect_address: 10.0.0.1:5432", "connect_address: 10.0.0.1");
  assert.deepEqual(problemsOf(() => parseConfig(noPort, "hactl.yml", {})), [
    'hactl.yml: postgresql.connect_address: must be host:port, found "10.0.0.1" (no port)',
  ]);
});

Deno.test("a missing etcd3 section is an error; another DCS section is named as unsupported", () => {
  const without = MINIMAL.replace('etcd3: {host: "10.0.0.9:2379"}\n', "");
  assert.deepEqual(problemsOf(() => parseConfig(without, "hactl.yml", {})), [
    "hactl.yml: etcd3: is required (hactl keeps the cluster state in etcd v3)",
  ]);
  const etcd2 = MINIMAL.replace("etcd3:", "etcd:");
  assert.deepEqual(problemsOf(() => parseConfig(etcd2, "hactl.yml", {})), [
    "hactl.yml: etcd: hactl supports etcd3 only; if your etcd speaks the v3 API, rename the section to etcd3",
  ]);
  const both = `${MINIMAL}consul: {host: "c:8500"}\n`;
  assert.deepEqual(problemsOf(() => parseConfig(both, "hactl.yml", {})), [
    "hactl.yml: consul: hactl supports etcd3 only (give exactly one DCS section)",
  ]);
});

Deno.test("all problems are reported at once, each with file and key", () => {
  const text = MINIMAL.replace("scope: batman\n", "").replace("10.0.0.9:2379", "10.0.0.9:etcd") +
    "watchdog: {mode: sometimes}\nlog: {level: LOUD}\n";
  assert.deepEqual(problemsOf(() => parseConfig(text, "/etc/hactl.yml", {})), [
    "/etc/hactl.yml: scope: is required",
    '/etc/hactl.yml: log.level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, found "LOUD"',
    '/etc/hactl.yml: etcd3.host: port "etcd" is not a number between 1 and 65535 (expected host:port)',
    '/etc/hactl.yml: watchdog.mode: must be one of off, automatic, required, found "sometimes"',
  ]);
});

Deno.test("every required key is named when the file is empty", () => {
  assert.deepEqual(problemsOf(() => parseConfig("", "hactl.yml", {})), [
    "hactl.yml: scope: is required",
    "hactl.yml: name: is required",
    "hactl.yml: restapi.listen: is required",
    "hactl.yml: etcd3: is required (hactl keeps the cluster state in etcd v3)",
    "hactl.yml: postgresql.listen: is required",
    "hactl.yml: postgresql.data_dir: is required",
    "hactl.yml: postgresql.authentication: is required (superuser.username and replication.username)",
  ]);
});

Deno.test("database users need a username; a non-string password is named by key and never echoed", () => {
  const text = MINIMAL.replace(
    "replication: {username: replicator, password: rsecret}",
    "replication: {password: 12345}",
  )
    .replace("password: secret", "password: [s3cr3t]");
  const problems = problemsOf(() => parseConfig(text, "hactl.yml", {}));
  assert.deepEqual(problems, [
    "hactl.yml: postgresql.authentication.superuser.password: must be a string, found a list",
    "hactl.yml: postgresql.authentication.replication.username: is required",
    "hactl.yml: postgresql.authentication.replication.password: must be a string, found a number (quote it in YAML)",
  ]);
  assert.ok(!problems.join("\n").includes("s3cr3t") && !problems.join("\n").includes("12345"));
});

Deno.test("YAML syntax errors name the line but never echo the text", () => {
  const problems = problemsOf(() => parseConfig("scope: x\npassword: [hunter2\n", "hactl.yml", {}));
  assert.ok(problems.length >= 1);
  assert.match(problems[0], /^hactl\.yml: line \d+, column \d+: /);
  assert.ok(!problems.join("\n").includes("hunter2"));
  assert.deepEqual(problemsOf(() => parseConfig("- a\n- b\n", "hactl.yml", {})), [
    "hactl.yml: the configuration must be a YAML mapping, found a list",
  ]);
});

Deno.test("YAML 1.1 booleans are read as Patroni (PyYAML) reads them: watchdog mode off, hot_standby on", () => {
  const config = parseConfig(`${MINIMAL}watchdog:\n  mode: off\n`, "hactl.yml", {});
  assert.equal(config.watchdog.mode, "off");
  assert.equal(parseConfig(`${MINIMAL}watchdog: {mode: false}\n`, "f", {}).watchdog.mode, "off");
  assert.equal(parseConfig(`${MINIMAL}watchdog: {mode: require}\n`, "f", {}).watchdog.mode, "required");
  const yn = parseConfig(MINIMAL.replace("name: pg1", "name: n") + "tags: {replicatefrom: y}\n", "f", {});
  assert.equal(yn.name, "n", "unlike yaml's 1.1 schema, PyYAML keeps y/n as strings");
  assert.equal(yn.tags.replicatefrom, "y");
});

Deno.test("initdb and basebackup options are flattened to argv; options hactl sets itself are errors", () => {
  const text = `${MINIMAL}bootstrap:
  dcs: {}
  initdb: [{encoding: UTF8}, {locale: en_US.UTF-8}, data-checksums, {pgdata: /x}, nosync]
`;
  assert.deepEqual(problemsOf(() => parseConfig(text, "hactl.yml", {})), [
    'hactl.yml: bootstrap.initdb.3: option "pgdata" is set by hactl and not allowed',
    'hactl.yml: bootstrap.initdb.4: option "nosync" is set by hactl and not allowed',
  ]);
  const ok = parseConfig(
    `${MINIMAL}bootstrap:\n  dcs: {}\n  initdb: {encoding: UTF8, data-checksums: null}\n`,
    "f",
    {},
  );
  assert.deepEqual(ok.bootstrap.initdb, ["--encoding=UTF8", "--data-checksums"]);
  const bb = MINIMAL.replace(
    "  data_dir:",
    "  basebackup: [{max-rate: 100M}, {wal-method: fetch}]\n  data_dir:",
  );
  assert.deepEqual(problemsOf(() => parseConfig(bb, "hactl.yml", {})), [
    'hactl.yml: postgresql.basebackup.1: option "wal-method" is set by hactl and not allowed',
  ]);
});

Deno.test("the nofailover / failover_priority conflict warns in Patroni's exact words and the boolean wins", () => {
  const { config, warnings } = parseConfigWithWarnings(
    `${MINIMAL}tags: {nofailover: true, failover_priority: 1, nosync: false, sync_priority: 0}\n`,
    "hactl.yml",
    {},
  );
  assert.deepEqual(warnings, [
    "Conflicting configuration between nofailover: True and failover_priority: 1. Defaulting to nofailover: True",
    "Conflicting configuration between nosync: False and sync_priority: 0. Defaulting to nosync: False",
  ]);
  assert.equal(config.tags.nofailover, true);
  const agree = parseConfigWithWarnings(
    `${MINIMAL}tags: {nofailover: true, failover_priority: 0}\n`,
    "f",
    {},
  );
  assert.deepEqual(agree.warnings, []);
});

Deno.test("tags: priorities must be integers >= 0 and custom tags must be scalars", () => {
  const text = `${MINIMAL}tags: {failover_priority: -1, rack: [a, b], zone: 3}\n`;
  assert.deepEqual(problemsOf(() => parseConfig(text, "hactl.yml", {})), [
    "hactl.yml: tags.failover_priority: must be >= 0 (found -1)",
    "hactl.yml: tags.rack: must be a scalar, found a list",
  ]);
});

Deno.test("etcd3 accepts hosts as a list or a comma string, a url, IPv6 and a default port", () => {
  const hosts = (etcd3: string) =>
    parseConfig(MINIMAL.replace('etcd3: {host: "10.0.0.9:2379"}', etcd3), "f", {}).etcd3;
  assert.deepEqual(hosts("etcd3: {hosts: [a:2379, 'b:2380']}").hosts, ["http://a:2379", "http://b:2380"]);
  assert.deepEqual(hosts('etcd3: {hosts: "a:2379, b"}').hosts, ["http://a:2379", "http://b:2379"]);
  assert.deepEqual(hosts("etcd3: {url: 'https://e:2379'}").hosts, ["https://e:2379"]);
  assert.deepEqual(hosts('etcd3: {host: "[::1]:2379", protocol: https}').hosts, ["https://[::1]:2379"]);
  const problems = problemsOf(() => hosts("etcd3: {srv: example.com, username: root}"));
  assert.deepEqual(problems, [
    "f: etcd3.srv: is not supported by hactl; list the endpoints in etcd3.hosts",
    "f: etcd3.password: is required when the other is set",
  ]);
});

Deno.test("namespace is normalized to a leading and trailing slash", () => {
  assert.equal(parseConfig(`${MINIMAL}namespace: service\n`, "f", {}).namespace, "/service/");
  assert.equal(parseConfig(`${MINIMAL}namespace: /a/b\n`, "f", {}).namespace, "/a/b/");
});

Deno.test("the reserved sync placeholder cannot be a member name", () => {
  const text = MINIMAL.replace("name: pg1", "name: __patroni_strict_sync_replica_placeholder__");
  assert.deepEqual(problemsOf(() => parseConfig(text, "f", {})), [
    'f: name: "__patroni_strict_sync_replica_placeholder__" is reserved',
  ]);
});

Deno.test("a custom bootstrap method and replica method need a command", () => {
  const text = `${MINIMAL}bootstrap:\n  dcs: {}\n  method: wal_e\n  wal_e: {no_params: true}\n`
    .replace("  data_dir:", "  create_replica_methods: [pgbackrest, basebackup]\n  data_dir:");
  assert.deepEqual(problemsOf(() => parseConfig(text, "f", {})), [
    "f: bootstrap.wal_e.command: is required",
    "f: postgresql.pgbackrest.command: is required",
  ]);
});

Deno.test("the legacy postgresql.superuser layout is converted with a warning", () => {
  const text = MINIMAL.replace("  authentication:\n", "  legacy:\n").replace("    superuser:", "  superuser:")
    .replace("    replication:", "  replication:");
  const { config, warnings } = parseConfigWithWarnings(text, "f", {});
  assert.equal(config.postgresql.authentication.superuser.username, "postgres");
  assert.equal(warnings.length, 2);
});

Deno.test("unknown top-level keys (ctl extras, citus, thread_pool_size) are ignored", () => {
  const config = parseConfig(`${MINIMAL}thread_pool_size: 7\nsomething_else: {a: 1}\n`, "f", {});
  assert.equal(config.scope, "batman");
});

Deno.test("redactConfig() replaces every password and leaves the rest", () => {
  const config = parseConfig(PATRONI_YML, "f", {
    PATRONI_ETCD3_USERNAME: "u",
    PATRONI_ETCD3_PASSWORD: "etcdpw",
  });
  const safe = redactConfig(config);
  const text = JSON.stringify(safe);
  for (const secret of ["rest-secret", "rep-pass", "zalando", "rewind_password", "etcdpw"]) {
    assert.ok(!text.includes(secret), secret);
  }
  assert.equal(safe.postgresql.authentication.superuser.password, "******");
  assert.equal(safe.postgresql.authentication.superuser.username, "postgres");
  assert.equal(config.postgresql.authentication.superuser.password, "zalando", "the original is untouched");
});

Deno.test("parseDcsUrl() reads [etcd3://]host[:port][/namespace]", () => {
  assert.deepEqual(parseDcsUrl("etcd3://10.0.0.9:2379"), { hosts: ["http://10.0.0.9:2379"] });
  assert.deepEqual(parseDcsUrl("10.0.0.9"), { hosts: ["http://10.0.0.9:2379"] });
  assert.deepEqual(parseDcsUrl("etcd3://a:1,b:2/db"), {
    hosts: ["http://a:1", "http://b:2"],
    namespace: "/db/",
  });
  assert.deepEqual(parseDcsUrl("https://a:2379/"), { hosts: ["https://a:2379"] });
  assert.deepEqual(problemsOf(() => parseDcsUrl("consul://a:8500")), [
    "--dcs-url: consul:// is not supported; hactl supports etcd3 only (etcd3://host:port)",
  ]);
  assert.deepEqual(problemsOf(() => parseDcsUrl("etcd3://a:b")), [
    '--dcs-url: host 1: port "b" is not a number between 1 and 65535 (expected host:port)',
  ]);
});

Deno.test("normalizeDynamic() gives Patroni's defaults for an empty document", () => {
  assert.deepEqual(normalizeDynamic({}), { settings: DYNAMIC_DEFAULTS, warnings: [] });
});

Deno.test("normalizeDynamic() reads every field, including legacy master_start_timeout", () => {
  const { settings, warnings } = normalizeDynamic({
    ttl: 40,
    loop_wait: 5,
    retry_timeout: "15",
    maximum_lag_on_failover: "2MB",
    check_timeline: true,
    master_start_timeout: 100,
    pause: "on",
    isolation_fence_timeout: 5,
    postgresql: {
      use_slots: false,
      use_pg_rewind: true,
      parameters: { work_mem: "8MB", max_connections: 200 },
    },
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(settings, {
    ttl: 40,
    loopWait: 5,
    retryTimeout: 15,
    maximumLagOnFailover: 2 * 1024 * 1024,
    checkTimeline: true,
    primaryStartTimeout: 100,
    pause: true,
    useSlots: false,
    usePgRewind: true,
    memberSlotsTtl: 1800,
    isolationFenceTimeout: 5,
    parameters: { work_mem: "8MB", max_connections: 200 },
  });
});

Deno.test("normalizeDynamic() raises values below the minimums with a warning", () => {
  const { settings, warnings } = normalizeDynamic({ ttl: 5, loop_wait: 0, retry_timeout: 1 });
  assert.deepEqual([settings.ttl, settings.loopWait, settings.retryTimeout], [10, 1, 3]);
  assert.deepEqual(warnings, [
    "ttl: 5 is below the minimum 10; using 10",
    "loop_wait: 0 is below the minimum 1; using 1",
    "retry_timeout: 1 is below the minimum 3; using 3",
  ]);
});

Deno.test("normalizeDynamic() reduces loop_wait when loop_wait + 2*retry_timeout > ttl", () => {
  const { settings, warnings } = normalizeDynamic({ ttl: 30, loop_wait: 15, retry_timeout: 10 });
  assert.deepEqual([settings.ttl, settings.loopWait, settings.retryTimeout], [30, 10, 10]);
  assert.deepEqual(warnings, [
    "loop_wait 15 + 2 * retry_timeout 10 > ttl 30: using loop_wait 10 and retry_timeout 10",
  ]);
});

Deno.test("normalizeDynamic() lowers retry_timeout to (ttl-1)//2 when loop_wait is already 1", () => {
  const { settings } = normalizeDynamic({ ttl: 20, loop_wait: 1, retry_timeout: 12 });
  assert.deepEqual([settings.loopWait, settings.retryTimeout], [1, 9]);
  const both = normalizeDynamic({ ttl: 20, loop_wait: 10, retry_timeout: 10 }).settings;
  assert.deepEqual([both.loopWait, both.retryTimeout], [1, 9]);
});

Deno.test("normalizeDynamic() falls back to defaults for garbage, with a warning naming the key", () => {
  const { settings, warnings } = normalizeDynamic({
    ttl: "soon",
    pause: "perhaps",
    maximum_lag_on_failover: { a: 1 },
    postgresql: { use_slots: [1], parameters: "x" },
  });
  assert.equal(settings.ttl, 30);
  assert.equal(settings.pause, false);
  assert.equal(settings.maximumLagOnFailover, 1048576);
  assert.equal(settings.useSlots, true);
  assert.deepEqual(settings.parameters, {});
  assert.deepEqual(warnings.map((w) => w.split(":")[0]), [
    "ttl",
    "postgresql.parameters",
    "maximum_lag_on_failover",
    "pause",
    "postgresql.use_slots",
  ]);
  assert.doesNotThrow(() => normalizeDynamic(null as unknown as Record<string, unknown>));
});

Deno.test("normalizeDynamic() drops listen_addresses/port/cluster_name and resets invalid reserved GUCs", () => {
  const { settings, warnings } = normalizeDynamic({
    postgresql: {
      parameters: {
        port: 5433,
        max_connections: 10,
        wal_level: "minimal",
        hot_standby: "off",
        max_wal_senders: "5",
      },
    },
  });
  assert.deepEqual(settings.parameters, {
    max_connections: 100,
    wal_level: "hot_standby",
    hot_standby: "on",
    max_wal_senders: 5,
  });
  assert.equal(warnings.length, 4);
  assert.match(
    warnings[1],
    /^postgresql\.parameters\.max_connections: 10 is below the minimum 25; using the default 100$/,
  );
});

Deno.test("mergeDocs() merges objects recursively, null deletes, later wins", () => {
  assert.deepEqual(mergeDocs({ a: { b: 1, c: 2 }, d: 1, e: [1] }, { a: { c: 3 }, d: null, e: [2] }), {
    a: { b: 1, c: 3 },
    e: [2],
  });
});
