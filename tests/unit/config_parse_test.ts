/**
 * Specification of `parseConfig` (src/config/config.ts) on whole documents: Patroni's documented postgres0.yml read
 * unchanged, Patroni's defaults for a minimal file, a deeply frozen Config, default connect addresses; and the
 * config's other faces, `redactConfig()` and `parseDcsUrl()` (the CLI's `--dcs-url`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, parseConfigWithWarnings, parseDcsUrl, redactConfig } from "../../src/config/config.ts";
import { MINIMAL, problemsOf } from "../helpers/config_yaml.ts";

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
