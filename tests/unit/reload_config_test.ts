/**
 * What a reload of the local configuration applies live and what waits for the next agent start.
 */
import assert from "node:assert/strict";
import { liveApplicable, restartOnlyChanges } from "../../src/config/reload.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";
import type { Config } from "../../src/config/config.ts";

const base = makeTestConfig({ name: "pg1", dataDir: "/var/lib/pg/data", pgPort: 5432, apiPort: 8008 });

Deno.test("a reload applies parameters, tags and REST access rules, and keeps identity, etcd and data_dir", () => {
  const next: Config = {
    ...base,
    name: "pg9",
    etcd3: { hosts: ["http://10.0.0.9:2379"], protocol: "http" },
    tags: { nofailover: true },
    restapi: { ...base.restapi, allowlist: ["10.0.0.0/8"], connectAddress: { host: "10.0.0.1", port: 8008 } },
    postgresql: { ...base.postgresql, dataDir: "/elsewhere", parameters: { work_mem: "8MB" } },
  };
  assert.deepEqual(restartOnlyChanges(base, next), [
    "name",
    "etcd3",
    "postgresql.data_dir",
    "restapi.connect_address",
  ]);
  const applied = liveApplicable(base, next);
  assert.equal(applied.name, "pg1");
  assert.deepEqual(applied.etcd3, base.etcd3);
  assert.equal(applied.postgresql.dataDir, "/var/lib/pg/data");
  assert.deepEqual(applied.restapi.connectAddress, base.restapi.connectAddress);
  assert.deepEqual(applied.postgresql.parameters, { work_mem: "8MB" });
  assert.deepEqual(applied.tags, { nofailover: true });
  assert.deepEqual(applied.restapi.allowlist, ["10.0.0.0/8"]);
});

Deno.test("a reload does not switch HTTPS on or off (the advertised api_url would lie); other TLS changes apply", () => {
  const withTls: Config = { ...base, restapi: { ...base.restapi, certfile: "/etc/ssl/api.pem" } };
  assert.match(restartOnlyChanges(base, withTls).join(), /restapi\.certfile/);
  assert.equal(liveApplicable(base, withTls).restapi.certfile, undefined);
  const rotated: Config = { ...withTls, restapi: { ...withTls.restapi, certfile: "/etc/ssl/api-2026.pem" } };
  assert.deepEqual(restartOnlyChanges(withTls, rotated), []);
  assert.equal(liveApplicable(withTls, rotated).restapi.certfile, "/etc/ssl/api-2026.pem");
});
