import assert from "node:assert/strict";
import { parseConfigWithWarnings } from "../../src/config/config.ts";
import { postBootstrapArgv, postBootstrapDsn } from "../../src/pg/post_bootstrap.ts";
import { MINIMAL } from "../helpers/config_yaml.ts";

Deno.test("post_bootstrap's argv is the split command plus the superuser's connection string (as Patroni calls it)", () => {
  assert.deepEqual(
    postBootstrapArgv(`psql -w -c "SELECT 1"`, "dbname=postgres user=postgres host=/tmp port=5361"),
    [
      "psql",
      "-w",
      "-c",
      "SELECT 1",
      "dbname=postgres user=postgres host=/tmp port=5361",
    ],
  );
});

Deno.test("postBootstrapDsn() names the local server as hactl reaches it, with the TLS fields and never the password", () => {
  assert.equal(
    postBootstrapDsn({ host: "/tmp", port: 5361 }, {
      username: "postgres",
      password: "secret",
      sslmode: "verify-ca",
      sslrootcert: "/a b.crt",
    }),
    "dbname=postgres user=postgres host=/tmp port=5361 sslmode=verify-ca sslrootcert=/a\\ b.crt",
  );
});

Deno.test("a local file with bootstrap.post_bootstrap (or post_init) is accepted and read", () => {
  for (const key of ["post_bootstrap", "post_init"]) {
    const text = `${MINIMAL}bootstrap:\n  dcs: {ttl: 30}\n  ${key}: /usr/local/bin/setup.sh\n`;
    const { config, warnings } = parseConfigWithWarnings(text, "f.yml", {});
    assert.equal(config.bootstrap.postBootstrap, "/usr/local/bin/setup.sh");
    assert.deepEqual(warnings.filter((w) => w.includes(key)), []);
  }
});
