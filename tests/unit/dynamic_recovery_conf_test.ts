/**
 * The dynamic `postgresql.recovery_conf` (as Patroni's dynamic `postgresql` section): read from the `config` key,
 * written into a replica's postgresql.conf, and a local `postgresql.recovery_conf` wins over it; garbage is warned
 * about and ignored, and a primary's configuration holds no recovery parameter.
 *
 * @module
 */
import assert from "node:assert/strict";
import { normalizeDynamic } from "../../src/config/config.ts";
import { writeConfig } from "../../src/pg/config_files.ts";
import { PgInstance } from "../../src/pg/instance.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

Deno.test("normalizeDynamic() reads postgresql.recovery_conf; a value that is not a mapping of scalars is ignored", () => {
  const { settings, warnings } = normalizeDynamic({
    postgresql: { recovery_conf: { restore_command: "cp /a/%f %p", recovery_min_apply_delay: 0 } },
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(settings.recoveryConf, { restore_command: "cp /a/%f %p", recovery_min_apply_delay: 0 });
  for (const bad of ["restore_command=cp", { restore_command: ["cp"] }]) {
    const r = normalizeDynamic({ postgresql: { recovery_conf: bad } });
    assert.equal(r.settings.recoveryConf, undefined);
    assert.match(r.warnings.join("\n"), /postgresql\.recovery_conf: .* ignoring it/);
  }
});

Deno.test("a replica's postgresql.conf holds the dynamic recovery_conf, unless a local one is set", async () => {
  await withTempDir("hactl-recovery-conf-", async (dir) => {
    // A replica's conf raises parameters to pg_controldata's values: a pg_controldata that knows nothing.
    await Deno.mkdir(`${dir}/bin`);
    for (const p of ["pg_ctl", "pg_controldata"]) {
      await Deno.writeTextFile(`${dir}/bin/${p}`, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    }
    await Deno.mkdir(`${dir}/data`);
    const config = makeTestConfig({
      name: "pg1",
      dataDir: `${dir}/data`,
      pgPort: 5432,
      apiPort: 8008,
      binDir: `${dir}/bin`,
    });
    const upstream = { name: "pg2", connUrl: "postgres://127.0.0.1:5433/postgres" };
    const conf = () => Deno.readTextFile(`${dir}/data/postgresql.conf`);

    const inst = new PgInstance(config, () => ({}), () => true);
    inst.dynamicPg = () => ({ recoveryConf: { restore_command: "cp /dyn/%f %p" } });
    await writeConfig(inst, "replica", upstream);
    assert.match(await conf(), /restore_command = 'cp \/dyn\/%f %p'/);
    await writeConfig(inst, "primary", null);
    assert.doesNotMatch(await conf(), /restore_command/);

    const local = new PgInstance(
      {
        ...config,
        postgresql: { ...config.postgresql, recoveryConf: { restore_command: "cp /local/%f %p" } },
      },
      () => ({}),
      () => true,
    );
    local.dynamicPg = inst.dynamicPg;
    await writeConfig(local, "replica", upstream);
    assert.match(await conf(), /restore_command = 'cp \/local\/%f %p'/);
    assert.doesNotMatch(await conf(), /\/dyn\//);
  });
});
