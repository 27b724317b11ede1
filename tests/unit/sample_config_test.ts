/**
 * `hactl agent --generate-sample-config` (cli/lib/sample_config.ts, cli/lib/sample_inputs.ts): Patroni's sample
 * layout and version-specific defaults, `PATRONI_*` variables over the template, and a sample that, once its
 * `#FIXME` values are filled in, is a configuration hactl accepts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { formatSampleConfig, NO_VALUE, sampleConfig } from "../../cli/lib/sample_config.ts";
import { majorVersionNum } from "../../cli/lib/sample_inputs.ts";
import { buildConfig, parseYamlText } from "../../src/config/config.ts";

const HOST = { hostname: "db1", ip: "10.0.0.5", env: {} };

/** The value at a dotted path of a document. */
function at(doc: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], doc);
}

Deno.test("the sample follows the PostgreSQL version: scram from 10, wal_keep_size from 13, a rewind user from 11", () => {
  const v16 = sampleConfig({ ...HOST, pgMajor: 160000 });
  assert.equal(at(v16, "postgresql.parameters.password_encryption"), "scram-sha-256");
  assert.equal(at(v16, "bootstrap.dcs.postgresql.parameters.wal_keep_size"), "128MB");
  assert.equal(at(v16, "postgresql.authentication.rewind.username"), "rewind_user");
  assert.deepEqual(at(v16, "postgresql.pg_hba"), [
    "host all all all scram-sha-256",
    "host replication replicator all scram-sha-256",
  ]);
  const v96 = sampleConfig({ ...HOST, pgMajor: 90600 });
  assert.equal(at(v96, "postgresql.parameters.password_encryption"), "md5");
  assert.equal(at(v96, "bootstrap.dcs.postgresql.parameters.wal_keep_segments"), 8);
  assert.equal(at(v96, "postgresql.authentication.rewind"), undefined);
  assert.equal(at(v16, "restapi.listen"), "10.0.0.5:8008");
  assert.equal(at(v16, "postgresql.connect_address"), "10.0.0.5:5432");
});

Deno.test("PATRONI_* variables are taken over the template (the replication user into pg_hba too)", () => {
  const doc = sampleConfig({
    ...HOST,
    pgMajor: 160000,
    env: { PATRONI_SCOPE: "batman", PATRONI_REPLICATION_USERNAME: "repl", PATRONI_POSTGRESQL_DATA_DIR: "/d" },
  });
  assert.equal(at(doc, "scope"), "batman");
  assert.equal(at(doc, "postgresql.data_dir"), "/d");
  assert.equal(at(doc, "postgresql.authentication.replication.username"), "repl");
  assert.equal((at(doc, "postgresql.pg_hba") as string[])[1], "host replication repl all scram-sha-256");
});

Deno.test("the sample, with its #FIXME values filled in, is a configuration hactl accepts", () => {
  const text = formatSampleConfig(sampleConfig({ ...HOST, pgMajor: 160000 }));
  assert.match(
    text,
    /^# The bootstrap configuration\. Works only when the cluster is not yet initialized\.$/m,
  );
  assert.ok(text.indexOf("\nbootstrap:") < text.indexOf("\npostgresql:"), "Patroni's section order");
  assert.ok(text.includes(NO_VALUE));
  const filled = text.replace('scope: "#FIXME"', "scope: batman")
    .replace('"#FIXME:2379"', "10.0.0.8:2379")
    .replace('data_dir: "#FIXME"', "data_dir: /var/lib/postgresql/data")
    .replaceAll('password: "#FIXME"', "password: secret");
  assert.ok(!filled.includes(NO_VALUE), filled);
  const { config, warnings } = buildConfig(parseYamlText(filled, "sample.yml"), "sample.yml", {});
  assert.deepEqual(warnings, []);
  assert.equal(config.scope, "batman");
  assert.equal(config.postgresql.authentication.rewind?.username, "rewind_user");
});

Deno.test("majorVersionNum reads postgres --version", () => {
  assert.equal(majorVersionNum("postgres (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+2)\n"), 160000);
  assert.equal(majorVersionNum("postgres (PostgreSQL) 9.6.24\n"), 90600);
  assert.equal(majorVersionNum("garbage"), 0);
});
