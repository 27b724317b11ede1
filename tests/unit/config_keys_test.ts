/**
 * The table of every configuration key (src/config/keys.ts) is true: docs/configuration.md shows exactly it, and
 * a configuration with each key set to a value other than its default is either accepted and read (the Config,
 * or the dynamic settings, differ from the baseline's), refused with `not supported by hactl yet` (or, for another
 * DCS, by its section's reader), or warned about by name. No key passes silently.
 *
 * @module
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { ConfigError, normalizeDynamic, parseConfigWithWarnings } from "../../src/config/config.ts";
import { CONFIG_KEYS, type ConfigKey } from "../../src/config/keys.ts";
import { KEY_TABLE_BEGIN, KEY_TABLE_END, keyTableMarkdown } from "../../src/config/key_doc.ts";
import { checkDynamicKeys, unsupportedDynamicProblems } from "../../src/config/key_check.ts";
import { MINIMAL as MINIMAL_YAML } from "../helpers/config_yaml.ts";
import { parse } from "yaml";

type Doc = Record<string, unknown>;

/** The smallest valid configuration, with a `bootstrap.dcs` (so other `bootstrap` keys can be set alone). */
const MINIMAL = `${MINIMAL_YAML}bootstrap:\n  dcs: {ttl: 30}\n`;

/** Values other than the default, for keys the generic rule below cannot guess; `also` sets sibling keys. */
const VALUES: Record<string, { value: unknown; also?: Record<string, unknown> }> = {
  name: { value: "pg9" },
  scope: { value: "robin" },
  namespace: { value: "/other/" },
  // true/on is implemented; the value hactl does not act on yet is quorum commit.
  synchronous_mode: { value: "quorum" },
  // Physical permanent slots are implemented; the value hactl does not act on yet is a logical slot.
  slots: { value: { cdc: { type: "logical", database: "app", plugin: "pgoutput" } } },
  permanent_slots: { value: { cdc: { database: "app", plugin: "pgoutput" } } },
  permanent_replication_slots: { value: { cdc: { database: "app", plugin: "pgoutput" } } },
  ignore_slots: { value: [{ name: "x" }] },
  "log.type": { value: "json" },
  "log.level": { value: "DEBUG" },
  "log.traceback_level": { value: "DEBUG" },
  "log.format": { value: "%(levelname)s %(message)s" },
  "log.dateformat": { value: "%H:%M" },
  "log.mode": { value: 0o600 },
  "log.loggers": { value: { "patroni.ha": "DEBUG" } },
  "ctl.authentication.username": { value: "u", also: { "ctl.authentication.password": "p" } },
  "ctl.authentication.password": { value: "p", also: { "ctl.authentication.username": "u" } },
  "restapi.listen": { value: "127.0.0.1:8009" },
  "restapi.connect_address": { value: "10.0.0.2:8008" },
  "restapi.authentication.username": { value: "u", also: { "restapi.authentication.password": "p" } },
  "restapi.authentication.password": { value: "p", also: { "restapi.authentication.username": "u" } },
  "restapi.keyfile": { value: "/k.pem", also: { "restapi.certfile": "/c.pem" } },
  "restapi.verify_client": { value: "required" },
  "restapi.http_extra_headers": { value: { "X-A": "b" } },
  "restapi.https_extra_headers": { value: { "X-A": "b" } },
  "bootstrap.method": { value: "wal_e", also: { "bootstrap.wal_e": { command: "restore.sh" } } },
  "bootstrap.<method>": { value: { command: "restore.sh" }, also: { "bootstrap.method": "wal_e" } },
  "bootstrap.initdb": { value: ["data-checksums"] },
  "bootstrap.pg_hba": { value: ["host all all 0.0.0.0/0 md5"] },
  "citus.group": { value: 1 },
  "etcd3.host": { value: "10.0.0.8:2379" },
  "etcd3.hosts": { value: ["10.0.0.8:2379"] },
  "etcd3.url": { value: "http://10.0.0.7:2379" },
  "etcd3.protocol": { value: "https" },
  "etcd3.username": { value: "u", also: { "etcd3.password": "p" } },
  "etcd3.password": { value: "p", also: { "etcd3.username": "u" } },
  "etcd3.key": { value: "/k.pem", also: { "etcd3.cert": "/c.pem" } },
  "postgresql.listen": { value: "*:5433" },
  "postgresql.connect_address": { value: "10.0.0.2:5432" },
  "postgresql.proxy_address": { value: "10.0.0.2:6432" },
  "postgresql.authentication.rewind.password": {
    value: "p",
    also: { "postgresql.authentication.rewind.username": "rw" },
  },
  ...Object.fromEntries(["sslmode", "sslcert", "sslkey", "sslrootcert", "sslpassword"].map((f) => [
    `postgresql.authentication.rewind.${f}`,
    {
      value: f === "sslmode" ? "verify-ca" : `/x/${f}`,
      also: { "postgresql.authentication.rewind.username": "rw" },
    },
  ])),
  "postgresql.superuser": { value: { username: "su2" } },
  "postgresql.replication": { value: { username: "rep2" } },
  "postgresql.parameters": { value: { work_mem: "8MB" } },
  "postgresql.pg_hba": { value: ["host all all 0.0.0.0/0 md5"] },
  "postgresql.basebackup": { value: [{ checkpoint: "fast" }] },
  "postgresql.create_replica_methods": { value: ["pgbackrest", "basebackup"] },
  "postgresql.recovery_conf": { value: { restore_command: "cp /archive/%f %p" } },
  "postgresql.<replica_method>": {
    value: { command: "restore.sh" },
    also: { "postgresql.create_replica_methods": ["pgbackrest", "basebackup"] },
  },
  "watchdog.mode": { value: "off" },
  "watchdog.driver": { value: "testing" },
  "tags.replicatefrom": { value: "pg2" },
  loop_wait: { value: 5 },
  retry_timeout: { value: 5 },
  standby_cluster: { value: { host: "10.1.0.1", port: 5432 } },
  // These act only in a standby cluster (with host, port or restore_command), as in Patroni.
  ...Object.fromEntries(
    ["primary_slot_name", "archive_cleanup_command", "recovery_min_apply_delay", "create_replica_methods"]
      .map((
        k,
      ) => [
        `standby_cluster.${k}`,
        {
          value: k === "create_replica_methods" ? ["pgbackrest", "basebackup"] : `x_${k}`,
          also: { "standby_cluster.host": "10.1.0.1" },
        },
      ]),
  ),
  "postgresql.parameters_primary": { value: { work_mem: "8MB" } },
};

/** Keys the table lists as implemented whose reading is wired in separately (see the report of this change). */
const READ_ELSEWHERE = new Set<string>([]);

/** Keys with sub-keys in the table are sections; each sub-key is walked instead. */
function isSection(k: ConfigKey): boolean {
  return CONFIG_KEYS.some((o) => o.where === k.where && o.key.startsWith(`${k.key}.`));
}

/** The concrete path of a key (`<method>` -> `wal_e`, `<replica_method>` -> `pgbackrest`). */
function concrete(key: string): string {
  return key.replace("<method>", "wal_e").replace("<replica_method>", "pgbackrest");
}

function nonDefault(k: ConfigKey): unknown {
  const known = VALUES[k.key];
  if (known) return known.value;
  if (k.default === "false") return true;
  if (k.default === "true") return false;
  if (/^-?\d+$/.test(k.default)) return Number(k.default) + 7;
  if (k.default === "[]" || k.key.endsWith("pg_ident")) return ["x"];
  if (k.open) return { a: "b" };
  return `/x/${k.key.split(".").pop()}`;
}

function setPath(doc: Doc, path: string, value: unknown): void {
  const parts = path.split(".");
  let at = doc;
  for (const part of parts.slice(0, -1)) {
    if (typeof at[part] !== "object" || at[part] === null) at[part] = {};
    at = at[part] as Doc;
  }
  at[parts[parts.length - 1]!] = value;
}

/** The outcome of a local document: the Config as JSON, or the problems; and the warnings. */
function load(doc: Doc): { config?: string; problems: string[]; warnings: string[] } {
  try {
    const { config, warnings } = parseConfigWithWarnings(stringify(doc), "f.yml", {});
    return { config: JSON.stringify(config), problems: [], warnings };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { problems: err.problems, warnings: [] };
  }
}

/** `a.b.c` names `a.b.c`, or a section it lies in (`a`, `a.b`). */
function names(text: string, key: string): boolean {
  const parts = key.split(".");
  return parts.some((_, i) => text.startsWith(`${parts.slice(0, i + 1).join(".")}:`));
}

Deno.test("docs/configuration.md shows exactly the table of every key", async () => {
  const page = await Deno.readTextFile(new URL("../../docs/configuration.md", import.meta.url));
  const begin = page.indexOf(KEY_TABLE_BEGIN);
  const end = page.indexOf(KEY_TABLE_END);
  assert.ok(begin >= 0 && end > begin, "the keys:begin / keys:end markers");
  const rows = (text: string) =>
    text.split("\n").filter((l) => l.startsWith("|") && !/^\|[\s|:-]+\|$/.test(l)).map((l) =>
      l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()).join(" | ")
    );
  assert.deepEqual(
    rows(page.slice(begin + KEY_TABLE_BEGIN.length, end)),
    rows(keyTableMarkdown()),
    "run: bash scripts/deno.sh run -A scripts/config_keys_doc.ts && bash scripts/deno.sh fmt docs/configuration.md",
  );
});

Deno.test("the table names each key once per place, and Patroni's schema keys are all in it", () => {
  const seen = new Set<string>();
  for (const k of CONFIG_KEYS) {
    const id = `${k.where} ${k.key}`;
    assert.ok(!seen.has(id), `${id} listed twice`);
    seen.add(id);
    assert.ok(
      k.status !== "not yet" || k.inert !== undefined || k.onSet === "reader",
      `${id}: which value is inert?`,
    );
  }
  // A sample of Patroni 4's schema (patroni/validator.py) and dynamic keys (patroni/global_config.py).
  for (
    const key of [
      "local restapi.server_tokens",
      "local restapi.request_queue_size",
      "local postgresql.bin_name.pg_rewind",
      "local kubernetes.bootstrap_labels",
      "local raft.leader_fallback_timeout",
      "local consul.service_check_tls_server_name",
      "local postgresql.authentication.superuser.sslnegotiation",
      "dynamic maximum_lag_on_syncnode",
      "dynamic primary_race_backoff",
      "dynamic max_timelines_history",
      "dynamic ignore_slots",
      "dynamic standby_cluster.recovery_min_apply_delay",
      "dynamic member_slots_ttl",
    ]
  ) assert.ok(seen.has(key), key);
});

Deno.test("every local key set to a non-default value is read, refused, or warned about: none passes silently", () => {
  const baseline = load(parse(MINIMAL) as Doc);
  assert.deepEqual(baseline.problems, []);
  const silent: string[] = [];
  for (
    const k of CONFIG_KEYS.filter((k) => k.where === "local" && !isSection(k) && k.key !== "bootstrap.dcs")
  ) {
    const doc = parse(MINIMAL) as Doc;
    const path = concrete(k.key);
    setPath(doc, path, nonDefault(k));
    for (const [p, v] of Object.entries(VALUES[k.key]?.also ?? {})) setPath(doc, p, v);
    const out = load(doc);
    const refused = out.problems.some((p) => names(p.replace(/^f\.yml: /, ""), path));
    const warned = out.warnings.some((w) => names(w, path));
    if (k.status === "implemented") {
      assert.deepEqual(out.problems, [], `${k.key}: accepted`);
      if (READ_ELSEWHERE.has(k.key)) continue;
      // Read into the Config, or (a legacy layout beside the current one) said to be ignored.
      if (out.config === baseline.config && !warned) silent.push(k.key);
    } else if (k.status === "not yet" && k.onSet !== "reader" && k.dependsOn === undefined) {
      assert.ok(
        out.problems.some((p) =>
          names(p.replace(/^f\.yml: /, ""), path) && p.includes("not supported by hactl yet")
        ),
        `${k.key}: refused as not supported yet, got ${JSON.stringify(out.problems)}`,
      );
    } else if (k.onSet === "reader") {
      assert.ok(refused, `${k.key}: refused by its section's reader, got ${JSON.stringify(out.problems)}`);
    } else {
      assert.ok(warned, `${k.key}: warned about, got ${JSON.stringify(out.warnings)}`);
    }
  }
  assert.deepEqual(silent, [], "implemented keys whose value did not reach the Config");
});

Deno.test("every dynamic key set to a non-default value is read, refused, or warned about, in bootstrap.dcs and etcd", () => {
  const baseline = normalizeDynamic({}).settings;
  const silent: string[] = [];
  for (const k of CONFIG_KEYS.filter((k) => k.where === "dynamic" && !isSection(k))) {
    const dcs: Doc = {};
    const alone: Doc = {};
    setPath(dcs, k.key, nonDefault(k));
    for (const [p, v] of Object.entries(VALUES[k.key]?.also ?? {})) {
      setPath(dcs, p, v);
      setPath(alone, p, v);
    }
    // The value must change the settings against the same document without it.
    const before = Object.keys(alone).length > 0 ? normalizeDynamic(alone).settings : baseline;
    const local = load({ ...(parse(MINIMAL) as Doc), bootstrap: { dcs: { ttl: 30, ...dcs } } });
    const label = `bootstrap.dcs.${k.key}`;
    const check = checkDynamicKeys(dcs);
    if (k.status === "implemented") {
      assert.deepEqual(local.problems, [], `${label}: accepted`);
      assert.deepEqual(check.refused, [], `${k.key}: accepted by edit-config`);
      if (JSON.stringify(normalizeDynamic(dcs).settings) === JSON.stringify(before)) silent.push(k.key);
    } else if (k.dependsOn !== undefined) {
      assert.deepEqual(local.problems, [], `${label}: accepted`);
      assert.ok(local.warnings.some((w) => names(w, label)), `${label}: warned about, got ${local.warnings}`);
      assert.ok(
        normalizeDynamic(dcs).warnings.some((w) => names(w, k.key)),
        `${k.key}: warned about in etcd`,
      );
    } else {
      assert.ok(
        local.problems.some((p) =>
          names(p.replace(/^f\.yml: /, ""), label) && p.includes("not supported by hactl yet")
        ),
        `${label}: refused, got ${JSON.stringify(local.problems)}`,
      );
      assert.ok(
        unsupportedDynamicProblems(dcs, "config").some((p) => p.startsWith("config: ")),
        `${k.key}: refused by edit-config and PATCH /config`,
      );
      const guarantee = CONFIG_KEYS.find((g) =>
        g.where === "dynamic" && g.guarantee && names(`${k.key}:`, g.key)
      );
      if (guarantee) {
        assert.ok(
          (normalizeDynamic(dcs).settings.unsupportedGuarantees ?? []).length > 0,
          `${k.key}: no agent takes the leader key under it`,
        );
      }
    }
  }
  assert.deepEqual(silent, [], "implemented dynamic keys whose value did not reach the settings");
});

Deno.test("an unknown key is warned about with the nearest known key, in the file and in the dynamic config", () => {
  const doc = parse(MINIMAL) as Doc;
  setPath(doc, "postgresql.paramters", { work_mem: "8MB" });
  setPath(doc, "bootstrap.dcs.synchronus_mode", true);
  setPath(doc, "wachdog", { mode: "off" });
  const out = load(doc);
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.warnings.sort(), [
    "bootstrap.dcs.synchronus_mode: unknown key, ignored (did you mean bootstrap.dcs.synchronous_mode?)",
    "postgresql.paramters: unknown key, ignored (did you mean postgresql.parameters?)",
    "wachdog: unknown key, ignored (did you mean watchdog?)",
  ]);
  assert.deepEqual(normalizeDynamic({ loop_wiat: 5 }).warnings, [
    "loop_wiat: unknown key, ignored (did you mean loop_wait?)",
  ]);
});
