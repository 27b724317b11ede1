/**
 * Role-specific Postgres configuration (Patroni 4.1's `postgresql.parameters_<role>`, `pg_hba_<role>`,
 * `pg_ident_<role>`): read from the local file and the dynamic configuration, the local key winning over the
 * dynamic one; `parameters_<role>` merged over `parameters` (protected ones excepted), `pg_hba_<role>` and
 * `pg_ident_<role>` replacing `pg_hba` and `pg_ident`; the set of the role the server is written for applies.
 *
 * @module
 */
import assert from "node:assert/strict";
import { normalizeDynamic, parseConfigWithWarnings } from "../../src/config/config.ts";
import { effectiveParameters } from "../../src/pg/conf.ts";
import { writeConfig } from "../../src/pg/config_files.ts";
import { PgInstance } from "../../src/pg/instance.ts";
import { configRoleFor, hbaLinesFor, roleSetFor } from "../../src/pg/role_config.ts";
import { MINIMAL } from "../helpers/config_yaml.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const LOCAL_ROLE_KEYS = `
  parameters_primary: {work_mem: 64MB}
  pg_hba_replica: [local all all peer]
  pg_ident_standby_leader: [map1 os_alice db_alice]
`;

Deno.test("the local role-specific keys are read, not refused", () => {
  const { config, warnings } = parseConfigWithWarnings(MINIMAL + LOCAL_ROLE_KEYS, "f.yml", {});
  assert.deepEqual(warnings.filter((w) => /parameters_|pg_hba_|pg_ident_/.test(w)), []);
  assert.deepEqual(config.postgresql.roleConfig, {
    primary: { parameters: { work_mem: "64MB" } },
    replica: { pgHba: ["local all all peer"] },
    standby_leader: { pgIdent: ["map1 os_alice db_alice"] },
  });
});

Deno.test("a local role-specific key of the wrong shape is a problem naming it", () => {
  assert.throws(
    () => parseConfigWithWarnings(MINIMAL + "  pg_hba_primary: {a: b}\n", "f.yml", {}),
    /f\.yml: postgresql\.pg_hba_primary: must be a list of lines/,
  );
});

Deno.test("normalizeDynamic() reads the dynamic role-specific keys without a warning", () => {
  const { settings, warnings } = normalizeDynamic({
    postgresql: { parameters_replica: { work_mem: "8MB" }, pg_hba_primary: ["host all all all md5"] },
  });
  assert.deepEqual(warnings, []);
  assert.deepEqual(settings.roleConfig, {
    primary: { pgHba: ["host all all all md5"] },
    replica: { parameters: { work_mem: "8MB" } },
  });
  const bad = normalizeDynamic({ postgresql: { parameters_primary: "work_mem=1MB" } });
  assert.equal(bad.settings.roleConfig, undefined);
  assert.match(bad.warnings.join("\n"), /postgresql\.parameters_primary: must be a mapping.*ignoring it/);
});

Deno.test("configRoleFor(): a replica of a standby cluster's remote primary is the standby_leader", () => {
  assert.equal(configRoleFor("primary", null), "primary");
  assert.equal(configRoleFor("replica", null), "replica");
  assert.equal(configRoleFor("replica", { name: "pg1", connUrl: "postgres://h:5432/postgres" }), "replica");
  const remote = {
    name: "remote",
    connUrl: "postgres://h:5432/postgres",
    recovery: { remote: true as const },
  };
  assert.equal(configRoleFor("replica", remote), "standby_leader");
});

Deno.test("roleSetFor(): each local role-specific key wins over the same dynamic key, key by key", () => {
  const local = { primary: { parameters: { a: 1 } } };
  const dynamic = { primary: { parameters: { a: 2, b: 3 }, pgHba: ["x"] }, replica: { pgIdent: ["y"] } };
  assert.deepEqual(roleSetFor("primary", local, dynamic), { parameters: { a: 1 }, pgHba: ["x"] });
  assert.deepEqual(roleSetFor("replica", local, dynamic), { pgIdent: ["y"] });
  assert.deepEqual(roleSetFor("standby_leader", local, dynamic), {});
});

Deno.test("hbaLinesFor(): a role's pg_hba replaces pg_hba; an empty one writes nothing", () => {
  assert.deepEqual(hbaLinesFor({ pgHba: ["r"] }, ["l"], ["d"]), ["r"]);
  assert.deepEqual(hbaLinesFor({}, ["l"], ["d"]), ["l"]);
  assert.equal(hbaLinesFor({ pgHba: [] }, ["l"], ["d"]), null);
});

Deno.test("effectiveParameters(): a role's parameters win over both, except the protected and owned ones", () => {
  const base = {
    scope: "s",
    listen: { hosts: ["127.0.0.1"], port: 5432 },
    hbaFile: "/h",
    identFile: "/i",
    defaultSocketDir: "/tmp",
  };
  const { params, warnings } = effectiveParameters({
    ...base,
    dynamic: { work_mem: "4MB", max_connections: 200 },
    local: { work_mem: "8MB", shared_buffers: "1GB" },
    role: { work_mem: "64MB", max_connections: 50, port: 1 },
    roleName: "primary",
  });
  assert.equal(params["work_mem"], "64MB");
  assert.equal(params["shared_buffers"], "1GB");
  assert.equal(params["max_connections"], "200");
  assert.equal(params["port"], "5432");
  assert.match(warnings.join("\n"), /parameters_primary sets max_connections.*ignored/);
  assert.match(warnings.join("\n"), /parameters_primary port is ignored/);
});

function confLines(text: string): string[] {
  return text.split("\n").filter((l) => l && !l.startsWith("#"));
}

Deno.test("the files written for each role hold that role's parameters, pg_hba and pg_ident", async () => {
  await withTempDir("hactl-role-", async (dir) => {
    // A replica's conf raises parameters to pg_controldata's values: a pg_controldata that knows nothing.
    await Deno.mkdir(`${dir}/bin`);
    for (const p of ["pg_ctl", "pg_controldata"]) {
      await Deno.writeTextFile(`${dir}/bin/${p}`, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    }
    const base = makeTestConfig({
      name: "pg1",
      dataDir: `${dir}/data`,
      pgPort: 5432,
      apiPort: 8008,
      binDir: `${dir}/bin`,
    });
    await Deno.mkdir(`${dir}/data`);
    const config = {
      ...base,
      postgresql: {
        ...base.postgresql,
        pgIdent: ["base a b"],
        roleConfig: {
          primary: { parameters: { work_mem: "64MB" }, pgHba: ["local all all trust"] },
          standby_leader: { pgIdent: ["standby c d"] },
        },
      },
    };
    const inst = new PgInstance(config, () => ({ work_mem: "4MB" }), () => true);
    inst.dynamicPg = () => ({ roleConfig: { replica: { parameters: { work_mem: "8MB" } } } });
    const read = (f: string) => Deno.readTextFile(`${dir}/data/${f}`);

    await writeConfig(inst, "primary", null);
    assert.ok((await read("postgresql.conf")).includes("work_mem = '64MB'"));
    assert.deepEqual(confLines(await read("pg_hba.conf")), ["local all all trust"]);
    assert.deepEqual(confLines(await read("pg_ident.conf")), ["base a b"]);

    await writeConfig(inst, "replica", { name: "pg2", connUrl: "postgres://127.0.0.1:5433/postgres" });
    assert.ok((await read("postgresql.conf")).includes("work_mem = '8MB'"));
    assert.deepEqual(confLines(await read("pg_hba.conf")), base.postgresql.pgHba);
    assert.deepEqual(confLines(await read("pg_ident.conf")), ["base a b"]);

    const remote = {
      name: "remote",
      connUrl: "postgres://127.0.0.1:5499/postgres",
      recovery: { remote: true as const },
    };
    await writeConfig(inst, "replica", remote);
    assert.ok((await read("postgresql.conf")).includes("work_mem = '4MB'"));
    assert.deepEqual(confLines(await read("pg_ident.conf")), ["standby c d"]);
  });
});
