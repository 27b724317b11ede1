/**
 * `standby_cluster.create_replica_methods`, as Patroni's standby cluster uses it: read from the dynamic section,
 * carried by every clone job of a standby cluster (the standby leader's bootstrap from the remote primary, a new
 * replica's clone from the standby leader, a reinit) so that the clone tries these methods in order in place of
 * `postgresql.create_replica_methods` (none: `basebackup`); outside a standby cluster the local methods stand. The
 * local `postgresql.<method>` section of a method only the standby section names is read and checked too.
 *
 * @module
 */
import assert from "node:assert/strict";
import { decide } from "../../src/core/decide.ts";
import { normalizeDynamic, parseConfig, parseConfigWithWarnings } from "../../src/config/config.ts";
import { type Action, type DynamicSettings, INITIAL_MEMORY } from "../../src/core/types.ts";
import { replicaMethodsToTry } from "../../src/pg/clone.ts";
import { ctx, EMPTY, obs, pgState, view } from "../helpers/decide_inputs.ts";
import { MINIMAL } from "../helpers/config_yaml.ts";

const SECTION = { host: "10.0.0.9", port: 5433, create_replica_methods: ["pgbackrest", "basebackup"] };
const standby = (section: Record<string, unknown> = SECTION): DynamicSettings =>
  normalizeDynamic({ standby_cluster: section }).settings;
const cloneJobs = (actions: Action[]) =>
  actions.flatMap((a) => a.type === "start_job" && a.job.kind === "clone" ? [a.job] : []);

Deno.test("standby_cluster.create_replica_methods is read from the section and is no longer refused", () => {
  const { settings, warnings } = normalizeDynamic({ standby_cluster: SECTION });
  assert.deepEqual(warnings, []);
  assert.equal(settings.unsupportedGuarantees, undefined);
  assert.deepEqual(settings.standbyCluster?.createReplicaMethods, ["pgbackrest", "basebackup"]);
  // A single name is a list of one; a value that is not a list of names is warned about, leaving basebackup.
  assert.deepEqual(standby({ host: "h", create_replica_methods: "pgbackrest" }).standbyCluster, {
    host: "h",
    createReplicaMethods: ["pgbackrest"],
  });
  const bad = normalizeDynamic({ standby_cluster: { host: "h", create_replica_methods: [1] } });
  assert.deepEqual(bad.settings.standbyCluster, { host: "h" });
  assert.deepEqual(bad.warnings, [
    "standby_cluster.create_replica_methods: [1] is not a list of method names; using basebackup",
  ]);
});

Deno.test("decide(): the standby leader's bootstrap clones from the remote primary with the section's methods", () => {
  const fresh = view({ initialize: null, leader: null, members: [], config: null });
  const d = decide(obs(EMPTY, fresh), INITIAL_MEMORY, ctx("pg1", { dynamic: standby() }));
  assert.match(
    d.reason,
    /trying to bootstrap a new standby leader: clone from the remote primary 10\.0\.0\.9:5433/,
  );
  const [job] = cloneJobs(d.actions);
  assert.equal(job?.upstream?.connUrl, "postgres://10.0.0.9:5433/postgres");
  assert.deepEqual(job?.upstream?.cloneMethods, ["pgbackrest", "basebackup"]);
  // Without methods in the section: basebackup (the empty list), never postgresql.create_replica_methods.
  const plain = decide(
    obs(EMPTY, fresh),
    INITIAL_MEMORY,
    ctx("pg1", { dynamic: standby({ host: "10.0.0.9" }) }),
  );
  assert.deepEqual(cloneJobs(plain.actions)[0]?.upstream?.cloneMethods, []);
});

Deno.test("decide(): a new replica of a standby cluster clones from the standby leader with the section's methods", () => {
  const d = decide(obs(EMPTY, view()), INITIAL_MEMORY, ctx("pg2", { dynamic: standby() }));
  assert.match(d.reason, /trying to bootstrap from leader 'pg1'/);
  const [job] = cloneJobs(d.actions);
  assert.equal(job?.upstream?.name, "pg1");
  assert.deepEqual(job?.upstream?.cloneMethods, ["pgbackrest", "basebackup"]);
  // A reinit too (pg_basebackup only with --from-leader, which the clone itself enforces).
  const reinit = decide(
    obs(pgState(), view(), { reinitRequested: true }),
    INITIAL_MEMORY,
    ctx("pg2", { dynamic: standby() }),
  );
  assert.deepEqual(cloneJobs(reinit.actions)[0]?.upstream?.cloneMethods, ["pgbackrest", "basebackup"]);
});

Deno.test("decide(): outside a standby cluster a clone carries no methods of its own (postgresql's apply)", () => {
  const d = decide(obs(EMPTY, view()), INITIAL_MEMORY, ctx("pg2"));
  const [job] = cloneJobs(d.actions);
  assert.equal(job?.upstream?.name, "pg1");
  assert.equal(job?.upstream?.cloneMethods, undefined);
  // A section with create_replica_methods alone does not make a standby cluster (as Patroni's is_standby_cluster).
  const inert = standby({ create_replica_methods: ["pgbackrest"] });
  assert.equal(inert.standbyCluster, undefined);
  const d2 = decide(obs(EMPTY, view()), INITIAL_MEMORY, ctx("pg2", { dynamic: inert }));
  assert.equal(cloneJobs(d2.actions)[0]?.upstream?.cloneMethods, undefined);
});

Deno.test("the clone tries the upstream's methods before the local ones; --from-leader is pg_basebackup only", () => {
  const local = ["wal_g", "basebackup"];
  const remote = { connUrl: "postgres://10.0.0.9:5433/postgres", cloneMethods: ["pgbackrest", "basebackup"] };
  assert.deepEqual(replicaMethodsToTry(local, false, remote), ["pgbackrest", "basebackup"]);
  assert.deepEqual(replicaMethodsToTry(local, false, { ...remote, cloneMethods: [] }), ["basebackup"]);
  assert.deepEqual(replicaMethodsToTry(local, false, { connUrl: remote.connUrl }), local);
  assert.deepEqual(replicaMethodsToTry(local, true, remote), ["basebackup"]);
  // Without an address only the methods that set no_leader can work, as in Patroni.
  const archive = { connUrl: "", cloneMethods: ["pgbackrest", "wal_g", "basebackup"] };
  assert.deepEqual(replicaMethodsToTry([], false, archive, { wal_g: { no_leader: true } }), ["wal_g"]);
  assert.deepEqual(replicaMethodsToTry([], false, archive), []);
});

Deno.test("the local section of a method a standby cluster may name is read and checked, named or not", () => {
  const text = MINIMAL.replace(
    "  data_dir:",
    "  pgbackrest: {command: 'pgbackrest --stanza=a restore', keep_data: true}\n  data_dir:",
  ) +
    "bootstrap:\n  dcs:\n    standby_cluster: {host: 10.0.0.9, create_replica_methods: [pgbackrest, basebackup]}\n";
  const { config, warnings } = parseConfigWithWarnings(text, "f", {});
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.postgresql.createReplicaMethods, ["basebackup"]);
  assert.deepEqual(config.postgresql.replicaMethods, {
    pgbackrest: { command: "pgbackrest --stanza=a restore", keep_data: true },
  });
  // Named by nothing in this file, a section with a command is still read: the cluster's dynamic standby_cluster
  // (another member's bootstrap.dcs, edit-config) may name it, and Patroni reads a method's local section then.
  const unnamed = text.replace("[pgbackrest, basebackup]", "[basebackup]");
  assert.deepEqual(parseConfigWithWarnings(unnamed, "f", {}).warnings, []);
  assert.deepEqual(parseConfig(unnamed, "f", {}).postgresql.replicaMethods, {
    pgbackrest: { command: "pgbackrest --stanza=a restore", keep_data: true },
  });
  // A mapping without a command is no method: an unknown key, warned about.
  const noCommand = unnamed.replace("command: 'pgbackrest --stanza=a restore', ", "");
  assert.match(
    parseConfigWithWarnings(noCommand, "f", {}).warnings.join("\n"),
    /postgresql\.pgbackrest: unknown key, ignored/,
  );
});
