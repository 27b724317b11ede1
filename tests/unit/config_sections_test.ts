/**
 * Specification of `parseConfig` section by section: YAML 1.1 booleans as PyYAML reads them, initdb and basebackup
 * options, tags, etcd3 hosts, namespace, member name, custom bootstrap and replica methods, the legacy superuser
 * layout, and the top-level keys hactl ignores.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, parseConfigWithWarnings } from "../../src/config/config.ts";
import { methodsWithoutLeader } from "../../src/pg/replica_methods.ts";
import { MINIMAL, problemsOf } from "../helpers/config_yaml.ts";

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

Deno.test("a custom bootstrap method and replica methods are read with their sections", () => {
  const text =
    `${MINIMAL}bootstrap:\n  dcs: {}\n  method: wal_e\n  wal_e: {command: restore.sh, no_params: true}\n`
      .replace(
        "  data_dir:",
        "  create_replica_methods: [pgbackrest, basebackup]\n  pgbackrest: {command: x, keep_data: true}\n" +
          "  recovery_conf: {restore_command: 'cp /a/%f %p', recovery_target_time: 2026-12-07 10:37:41.5+00}\n" +
          "  data_dir:",
      );
  const config = parseConfig(text, "f", {});
  assert.equal(config.bootstrap.method, "wal_e");
  assert.deepEqual(config.bootstrap.methodConfig, { command: "restore.sh", no_params: true });
  assert.deepEqual(config.postgresql.createReplicaMethods, ["pgbackrest", "basebackup"]);
  assert.deepEqual(config.postgresql.replicaMethods, { pgbackrest: { command: "x", keep_data: true } });
  assert.deepEqual(config.postgresql.recoveryConf, {
    restore_command: "cp /a/%f %p",
    // An unquoted YAML timestamp is a date, as for PyYAML: written as Python's str() writes it, in UTC.
    recovery_target_time: "2026-12-07 10:37:41.500000+00:00",
  });
  const initdb = `${MINIMAL}bootstrap:\n  dcs: {}\n  method: initdb\n`
    .replace("  data_dir:", "  create_replica_methods: [basebackup]\n  data_dir:");
  assert.equal(parseConfig(initdb, "f", {}).bootstrap.method, "initdb");
});

Deno.test("a custom bootstrap method without a command is refused; a replica method's no_leader is read", () => {
  // Patroni would silently run initdb instead of the named method.
  const text = `${MINIMAL}bootstrap:\n  dcs: {}\n  method: wal_e\n  wal_e: {no_params: true}\n`
    .replace(
      "  data_dir:",
      "  create_replica_methods: [pgbackrest]\n  pgbackrest: {no_leader: true}\n  data_dir:",
    );
  assert.deepEqual(problemsOf(() => parseConfig(text, "f", {})), ["f: bootstrap.wal_e.command: is required"]);
  const ok = MINIMAL.replace(
    "  data_dir:",
    "  create_replica_methods: [pgbackrest, basebackup]\n  pgbackrest: {command: restore, no_leader: '1'}\n  data_dir:",
  );
  const pg = parseConfig(ok, "f", {}).postgresql;
  assert.deepEqual(methodsWithoutLeader(pg.createReplicaMethods, pg.replicaMethods), ["pgbackrest"]);
  const bad = ok.replace("no_leader: '1'", "no_leader: maybe");
  assert.deepEqual(problemsOf(() => parseConfig(bad, "f", {})), [
    "f: postgresql.pgbackrest.no_leader: must be a boolean (true/false), found a string",
  ]);
});

Deno.test("the legacy postgresql.superuser layout is converted with a warning", () => {
  const text = MINIMAL.replace("  authentication:\n", "  legacy:\n").replace("    superuser:", "  superuser:")
    .replace("    replication:", "  replication:");
  const { config, warnings } = parseConfigWithWarnings(text, "f", {});
  assert.equal(config.postgresql.authentication.superuser.username, "postgres");
  assert.deepEqual(warnings, [
    "postgresql.legacy: unknown key, ignored",
    "postgresql.superuser: legacy layout; move it to postgresql.authentication.superuser",
    "postgresql.replication: legacy layout; move it to postgresql.authentication.replication",
  ]);
});

Deno.test("unknown keys and keys with no meaning in hactl are warned about, never fatal", () => {
  const { config, warnings } = parseConfigWithWarnings(
    `${MINIMAL}thread_pool_size: 7\nsomething_else: {a: 1}\nsynchronous_mode: true\n`,
    "f",
    {},
  );
  assert.equal(config.scope, "batman");
  assert.deepEqual(warnings, [
    "thread_pool_size: has no effect in hactl (a Python runtime setting)",
    "something_else: unknown key, ignored",
    "synchronous_mode: is dynamic configuration, ignored here: set it under bootstrap.dcs (or with hactl edit-config)",
  ]);
});

Deno.test("fencing.supervisor: on by default, off with false, anything but a boolean is an error naming the key", () => {
  assert.equal(parseConfig(MINIMAL, "f", {}).fencing.supervisor, true);
  assert.equal(parseConfig(`${MINIMAL}fencing:\n  supervisor: false\n`, "f", {}).fencing.supervisor, false);
  assert.equal(parseConfig(`${MINIMAL}fencing: {supervisor: off}\n`, "f", {}).fencing.supervisor, false);
  const problems = problemsOf(() =>
    parseConfig(`${MINIMAL}fencing: {supervisor: sometimes}\n`, "hactl.yml", {})
  );
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^hactl\.yml: fencing\.supervisor: /);
});
