/**
 * `postgresql.bin_name.postgres` against real PostgreSQL: the postmaster is started as the configured program
 * (pg_ctl -p), runs under its name, and hactl knows it for its own (it observes it running, answers SQL, stops it).
 *
 * Postgres refuses to run as root: run this file as the `postgres` OS user (scripts/test.sh does).
 *
 * @module
 */
import assert from "node:assert/strict";
import { LocalPostgres } from "../../src/pg/postgres.ts";
import { resolveBinDir } from "../../src/pg/process.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";
import { freePort } from "../helpers/processes.ts";

const NAME = "pg-hactl-main";

Deno.test({
  name: "bin_name.postgres: the postmaster runs as the configured program and hactl knows it",
  ignore: Deno.uid() === 0,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "hactl-binname-it-" });
    // A bin_dir of links to the real programs, with the server also under another name.
    const real = await resolveBinDir("", undefined);
    await Deno.mkdir(`${tmp}/bin`);
    for (const p of ["pg_ctl", "initdb", "pg_controldata", "postgres"]) {
      await Deno.symlink(`${real}/${p}`, `${tmp}/bin/${p}`);
    }
    await Deno.symlink(`${real}/postgres`, `${tmp}/bin/${NAME}`);
    const base = makeTestConfig({
      name: "pg1",
      dataDir: `${tmp}/pg1`,
      pgPort: freePort(),
      apiPort: freePort(),
      binDir: `${tmp}/bin`,
    });
    const config = { ...base, postgresql: { ...base.postgresql, binName: { postgres: NAME } } };
    const pg = new LocalPostgres({ config, dynamicParameters: () => ({}), useSlots: () => true });
    try {
      await pg.bootstrap();
      const o = await pg.observe();
      assert.equal(o.running, true, "the postmaster under its configured name is hactl's");
      assert.equal(o.queryable, true);
      assert.equal(o.role, "primary");
      const pid = Number((await Deno.readTextFile(`${tmp}/pg1/postmaster.pid`)).split("\n")[0]);
      assert.equal((await Deno.readTextFile(`/proc/${pid}/comm`)).trim(), NAME);
      await pg.stop("fast");
      assert.equal((await pg.observe()).running, false);
      // Gone, or exited and not reaped yet (a zombie: state Z).
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => null);
      assert.ok(
        stat === null || /\) [ZX] /.test(stat),
        `the stop waited for the postmaster to exit: ${stat}`,
      );
    } finally {
      await pg.stop("immediate").catch(() => {});
      await pg.close();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      await Deno.remove(config.postgresql.pgpass).catch(() => {});
    }
  },
});
