/**
 * Specification of the `PATRONI_*` environment overrides (src/config/env.ts): variables over the file, a
 * configuration from variables alone, how lists, dicts and booleans are parsed, and `mergeDocs()`, the merge rule
 * shared with a directory of YAML files.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/config.ts";
import { mergeDocs, readEnvOverrides } from "../../src/config/env.ts";
import { MINIMAL, problemsOf } from "../helpers/config_yaml.ts";

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

Deno.test("mergeDocs() merges objects recursively, null deletes, later wins", () => {
  assert.deepEqual(mergeDocs({ a: { b: 1, c: 2 }, d: 1, e: [1] }, { a: { c: 3 }, d: null, e: [2] }), {
    a: { b: 1, c: 3 },
    e: [2],
  });
});
