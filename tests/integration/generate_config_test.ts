/**
 * `hactl agent --generate-config` against a real running PostgreSQL (initdb + pg_ctl, no agent), as Patroni's
 * `--generate-config`: the file written holds the instance's scope (`cluster_name`), data directory, listen
 * address, parameters (local and dynamic), pg_hba lines, binaries' directory and superuser, and is a configuration
 * hactl accepts once its `#FIXME` values are filled in; a user that is not a superuser is refused.
 *
 * Runs as the `postgres` OS user (scripts/test.sh).
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { buildConfig, parseYamlText } from "../../src/config/config.ts";
import { freePort } from "../helpers/processes.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const BIN = "/usr/lib/postgresql/15/bin";

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped", stdin: "null" })
    .output();
  return {
    code: o.code,
    stdout: new TextDecoder().decode(o.stdout),
    stderr: new TextDecoder().decode(o.stderr),
  };
}

function agent(args: string[]) {
  const main = new URL("../../main.ts", import.meta.url).pathname;
  return run(Deno.execPath(), ["run", "-A", main, "agent", ...args]);
}

Deno.test({
  name:
    "generate-config: the configuration of a running PostgreSQL, accepted by hactl; a non-superuser is refused",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir("hactl-genconf-", async (dir) => {
      const data = `${dir}/data`;
      const port = freePort();
      const init = await run(`${BIN}/initdb`, ["-D", data, "-U", "postgres", "--auth=trust"]);
      assert.equal(init.code, 0, init.stderr);
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c cluster_name=orders ` +
        "-c max_connections=42 -c archive_mode=on -c archive_command=/bin/true";
      const start = await run(`${BIN}/pg_ctl`, [
        "-D",
        data,
        "-o",
        opts,
        "-l",
        `${dir}/pg.log`,
        "-w",
        "start",
      ]);
      assert.equal(start.code, 0, start.stderr);
      try {
        const out = `${dir}/gen/hactl.yml`;
        const r = await agent([
          out,
          "--generate-config",
          "--dsn",
          `host=${dir} port=${port} user=postgres password=pw`,
        ]);
        assert.equal(r.code, 0, r.stderr);
        const text = await Deno.readTextFile(out);
        const doc = parse(text);
        assert.equal(doc.scope, "orders");
        assert.equal(doc.postgresql.data_dir, data);
        assert.equal(doc.postgresql.listen, `127.0.0.1:${port}`);
        assert.equal(doc.postgresql.connect_address.split(":")[1], String(port));
        assert.equal(doc.postgresql.bin_dir, BIN);
        assert.deepEqual(doc.postgresql.authentication.superuser, { username: "postgres", password: "pw" });
        assert.equal(doc.postgresql.parameters.archive_command, "/bin/true");
        assert.equal(doc.postgresql.parameters.hba_file, `${data}/pg_hba.conf`);
        assert.equal(doc.bootstrap.dcs.postgresql.parameters.max_connections, "42");
        assert.equal(doc.bootstrap.dcs.postgresql.parameters.archive_mode, "on");
        assert.ok(
          doc.postgresql.pg_hba.includes(
            "local   all             all                                     trust",
          ),
        );
        const filled = text.replace('"#FIXME:2379"', "127.0.0.1:2379").replaceAll('"#FIXME"', "repl");
        assert.equal(buildConfig(parseYamlText(filled, out), out, {}).config.scope, "orders");

        const psql = await run(`${BIN}/psql`, [
          "-h",
          dir,
          "-p",
          String(port),
          "-U",
          "postgres",
          "-c",
          "CREATE ROLE app LOGIN",
        ]);
        assert.equal(psql.code, 0, psql.stderr);
        const refused = await agent([
          "--generate-config",
          "--dsn",
          `host=${dir} port=${port} user=app password=x`,
        ]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /The provided user does not have superuser privilege/);
      } finally {
        await run(`${BIN}/pg_ctl`, ["-D", data, "-m", "immediate", "stop"]);
      }
    });
  },
});
