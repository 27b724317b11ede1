/**
 * Specification of how `parseConfig` refuses a configuration: every problem reported at once as
 * `<file>: <key>: <message>` (required keys, bootstrap.dcs timings, ports, the etcd3 section, database users, YAML
 * syntax), never echoing a secret.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseConfig, parseConfigWithWarnings } from "../../src/config/config.ts";
import { MINIMAL, problemsOf } from "../helpers/config_yaml.ts";

Deno.test("a missing scope is reported with file and key", () => {
  const problems = problemsOf(() => parseConfig(MINIMAL.replace("scope: batman\n", ""), "hactl.yml", {}));
  assert.deepEqual(problems, ["hactl.yml: scope: is required"]);
});

Deno.test("bootstrap.dcs timings that break loop_wait + 2 * retry_timeout <= ttl are adjusted, as Patroni does", () => {
  const text = `${MINIMAL}bootstrap:\n  dcs: {ttl: 20, loop_wait: 10, retry_timeout: 10}\n`;
  const { config, warnings } = parseConfigWithWarnings(text, "hactl.yml", {});
  assert.deepEqual(warnings, [
    "bootstrap.dcs: loop_wait + 2 * retry_timeout <= ttl is violated (10 + 2 * 10 > 20): " +
    "adjusting loop_wait from 10 to 1 and retry_timeout from 10 to 9",
  ]);
  // The document itself is kept as written (it becomes the cluster's `config` key); the agent reads it adjusted.
  assert.equal(config.bootstrap.dcs.loop_wait, 10);
});

Deno.test("Patroni's frozen_patroni configuration (ttl 21, loop_wait 2, retry_timeout 10) starts with a warning", () => {
  const text = `${MINIMAL}bootstrap:\n  dcs: {ttl: 21, loop_wait: 2, retry_timeout: 10}\n`;
  assert.deepEqual(parseConfigWithWarnings(text, "hactl.yml", {}).warnings, [
    "bootstrap.dcs: loop_wait + 2 * retry_timeout <= ttl is violated (2 + 2 * 10 > 21): " +
    "adjusting loop_wait from 2 to 1",
  ]);
});

Deno.test("bootstrap.dcs timings below the minimums are raised with a warning; values not integers are errors", () => {
  const text =
    `${MINIMAL}bootstrap:\n  dcs: {ttl: 60, loop_wait: 0, retry_timeout: "soon", maximum_lag_on_failover: 1.5}\n`;
  assert.deepEqual(problemsOf(() => parseConfig(text, "hactl.yml", {})), [
    "hactl.yml: bootstrap.dcs.retry_timeout: must be an integer, found a string",
    "hactl.yml: bootstrap.dcs.maximum_lag_on_failover: must be an integer, found a fractional number",
  ]);
  const fence = `${MINIMAL}bootstrap:\n  dcs: {isolation_fence_timeout: -2}\n`;
  assert.deepEqual(problemsOf(() => parseConfig(fence, "hactl.yml", {})), [
    "hactl.yml: bootstrap.dcs.isolation_fence_timeout: must be >= 0 (found -2)",
  ]);
  const small = `${MINIMAL}bootstrap:\n  dcs: {ttl: 4, loop_wait: 0, retry_timeout: 2}\n`;
  assert.deepEqual(parseConfigWithWarnings(small, "hactl.yml", {}).warnings, [
    "bootstrap.dcs.ttl: 4 is below the minimum 5; using 5",
    "bootstrap.dcs.loop_wait: 0 is below the minimum 1; using 1",
  ]);
  // The short lease, hactl's floor, is taken as it is.
  const short = `${MINIMAL}bootstrap:\n  dcs: {ttl: 5, loop_wait: 1, retry_timeout: 2}\n`;
  assert.deepEqual(parseConfigWithWarnings(short, "hactl.yml", {}).warnings, []);
  // hactl's fast profile (below Patroni's 20: the fence makes a short lease safe).
  const fast = `${MINIMAL}bootstrap:\n  dcs: {ttl: 10, loop_wait: 2, retry_timeout: 4}\n`;
  const parsed = parseConfigWithWarnings(fast, "hactl.yml", {});
  assert.equal(parsed.config.bootstrap.dcs.ttl, 10);
  assert.deepEqual(parsed.warnings, []);
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

Deno.test("a command that does not split (an unclosed quote, a trailing backslash) is refused, naming its key", () => {
  const text = `${MINIMAL}  callbacks: {on_start: "/bin/cb 'x", on_stop: /bin/cb}
  pre_promote: '/bin/fence "a'
  before_stop: '/bin/stop \\'
  create_replica_methods: [wal_e, "it's"]
  wal_e: {command: "/bin/restore --label 'a b"}
bootstrap:
  dcs: {}
  method: pitr
  pitr: {command: '/bin/pitr "x'}
  post_bootstrap: "/bin/post 'y"
`;
  assert.deepEqual(problemsOf(() => parseConfig(text, "hactl.yml", {})), [
    "hactl.yml: bootstrap.pitr.command: no closing quotation",
    "hactl.yml: bootstrap.post_bootstrap: no closing quotation",
    "hactl.yml: postgresql.callbacks.on_start: no closing quotation",
    "hactl.yml: postgresql.wal_e.command: no closing quotation",
    "hactl.yml: postgresql.it's.command: no closing quotation (the method's name is its command)",
    "hactl.yml: postgresql.pre_promote: no closing quotation",
    "hactl.yml: postgresql.before_stop: no escaped character",
  ]);
});
