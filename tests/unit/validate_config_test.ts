/**
 * Specification of `src/config/file.ts` (loading a configuration from a file, a directory or the environment, and
 * the file-system checks the agent also runs) and of `run()` in `cli/validate_config.ts`. The command's output and
 * exit codes as a subprocess are in tests/cli/validate_config_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { configWithDataDir } from "../helpers/config_yaml.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { ConfigError } from "../../src/config/config.ts";
import { checkConfigEnvironment, loadConfigFile, loadConfigFileWithWarnings } from "../../src/config/file.ts";
import { run } from "../../cli/validate_config.ts";

async function problemsOf(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

async function makeBinDir(dir: string, binaries: string[]): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  for (const name of binaries) {
    await Deno.writeTextFile(`${bin}/${name}`, "#!/bin/sh\n");
    await Deno.chmod(`${bin}/${name}`, 0o755);
  }
  return bin;
}

Deno.test("loadConfigFile() reads a YAML file and applies PATRONI_* variables on top", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    await Deno.writeTextFile(`${dir}/hactl.yml`, configWithDataDir(`${dir}/data`));
    const config = await loadConfigFile(`${dir}/hactl.yml`, { PATRONI_NAME: "pg2" });
    assert.equal(config.source, `${dir}/hactl.yml`);
    assert.equal(config.name, "pg2");
    assert.equal(config.scope, "batman");
  });
});

Deno.test("loadConfigFile() merges a directory of *.yml files in sorted order, later files winning", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    await Deno.mkdir(`${dir}/conf.d`);
    await Deno.writeTextFile(`${dir}/conf.d/10-base.yml`, configWithDataDir(`${dir}/data`));
    await Deno.writeTextFile(`${dir}/conf.d/20-local.yaml`, "name: pg3\ntags: {nofailover: true}\n");
    await Deno.writeTextFile(`${dir}/conf.d/README.txt`, "not yaml: [");
    const config = await loadConfigFile(`${dir}/conf.d`, {});
    assert.equal(config.name, "pg3");
    assert.equal(config.tags.nofailover, true);
    assert.equal(config.source, `${dir}/conf.d`);
  });
});

Deno.test("loadConfigFile() without a path takes PATRONI_CONFIGURATION and ignores other PATRONI_* variables", async () => {
  const config = await loadConfigFile(undefined, {
    PATRONI_CONFIGURATION: configWithDataDir("/nonexistent/data"),
    PATRONI_NAME: "ignored",
  });
  assert.equal(config.source, "PATRONI_CONFIGURATION");
  assert.equal(config.name, "pg1");
});

Deno.test("loadConfigFile() without a path or PATRONI_CONFIGURATION builds the config from PATRONI_* alone", async () => {
  const problems = await problemsOf(loadConfigFile(undefined, { PATRONI_NAME: "pg1" }));
  assert.equal(problems[0], "environment: scope: is required");
});

Deno.test("loadConfigFile() names a missing or unreadable file", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    assert.deepEqual(await problemsOf(loadConfigFile(`${dir}/nope.yml`, {})), [
      `${dir}/nope.yml: cannot read the configuration file: not found`,
    ]);
    await Deno.writeTextFile(`${dir}/list.yml`, "- a\n");
    assert.deepEqual(await problemsOf(loadConfigFile(`${dir}/list.yml`, {})), [
      `${dir}/list.yml: the configuration must be a YAML mapping, found a list`,
    ]);
  });
});

Deno.test("loadConfigFileWithWarnings() returns the tag conflict warning", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    await Deno.writeTextFile(
      `${dir}/h.yml`,
      `${configWithDataDir(`${dir}/data`)}tags: {nofailover: true, failover_priority: 1}\n`,
    );
    const { warnings } = await loadConfigFileWithWarnings(`${dir}/h.yml`, {});
    assert.deepEqual(warnings, [
      "Conflicting configuration between nofailover: True and failover_priority: 1. Defaulting to nofailover: True",
    ]);
  });
});

Deno.test("checkConfigEnvironment() accepts an absent, an empty and an initialised data_dir", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    const load = async () => {
      await Deno.writeTextFile(`${dir}/h.yml`, configWithDataDir(`${dir}/data`));
      return await loadConfigFile(`${dir}/h.yml`, {});
    };
    assert.deepEqual(await checkConfigEnvironment(await load()), []);
    await Deno.mkdir(`${dir}/data`);
    assert.deepEqual(await checkConfigEnvironment(await load()), []);
    await Deno.writeTextFile(`${dir}/data/PG_VERSION`, "15\n");
    await Deno.writeTextFile(`${dir}/data/postgresql.conf`, "");
    assert.deepEqual(await checkConfigEnvironment(await load()), []);
  });
});

Deno.test("checkConfigEnvironment() rejects a data_dir that is a regular file, naming the key", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    await Deno.writeTextFile(`${dir}/data`, "");
    await Deno.writeTextFile(`${dir}/h.yml`, configWithDataDir(`${dir}/data`));
    const config = await loadConfigFile(`${dir}/h.yml`, {});
    assert.deepEqual(await checkConfigEnvironment(config), [
      `${dir}/h.yml: postgresql.data_dir: ${dir}/data exists but is not a directory`,
    ]);
  });
});

Deno.test("checkConfigEnvironment() rejects a non-empty data_dir without PG_VERSION", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    await Deno.mkdir(`${dir}/data`);
    await Deno.writeTextFile(`${dir}/data/notes.txt`, "x");
    await Deno.writeTextFile(`${dir}/h.yml`, configWithDataDir(`${dir}/data`));
    const problems = await checkConfigEnvironment(await loadConfigFile(`${dir}/h.yml`, {}));
    assert.equal(problems.length, 1);
    assert.match(
      problems[0],
      /postgresql\.data_dir: .* is not a PostgreSQL data directory \(no PG_VERSION\)$/,
    );
  });
});

Deno.test("checkConfigEnvironment() names postgresql.bin_dir and the binaries it lacks", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    const bin = await makeBinDir(dir, ["pg_ctl", "postgres", "pg_controldata"]);
    await Deno.writeTextFile(`${bin}/initdb`, "not executable");
    await Deno.writeTextFile(`${dir}/h.yml`, configWithDataDir(`${dir}/data`));
    const config = await loadConfigFile(`${dir}/h.yml`, { PATRONI_POSTGRESQL_BIN_DIR: bin });
    assert.deepEqual(await checkConfigEnvironment(config), [
      `${dir}/h.yml: postgresql.bin_dir: ${bin} has no executable initdb, pg_basebackup`,
    ]);
    const missing = await loadConfigFile(`${dir}/h.yml`, { PATRONI_POSTGRESQL_BIN_DIR: `${dir}/nobin` });
    assert.deepEqual(await checkConfigEnvironment(missing), [
      `${dir}/h.yml: postgresql.bin_dir: ${dir}/nobin is not an accessible directory`,
    ]);
  });
});

Deno.test("checkConfigEnvironment() accepts a complete bin_dir and names unreadable TLS files by key", async () => {
  await withTempDir("hactl-config-", async (dir) => {
    const bin = await makeBinDir(dir, ["pg_ctl", "initdb", "postgres", "pg_basebackup", "pg_controldata"]);
    await Deno.writeTextFile(`${dir}/h.yml`, configWithDataDir(`${dir}/data`));
    const config = await loadConfigFile(`${dir}/h.yml`, {
      PATRONI_POSTGRESQL_BIN_DIR: bin,
      PATRONI_ETCD3_CACERT: `${dir}/ca.pem`,
    });
    assert.deepEqual(await checkConfigEnvironment(config), [
      `${dir}/h.yml: etcd3.cacert: ${dir}/ca.pem cannot be read: not found`,
    ]);
  });
});

Deno.test("run() returns 78 (EX_CONFIG) for a file that does not exist", async () => {
  assert.equal(await run(["/nonexistent/hactl.yml"]), 78);
});
