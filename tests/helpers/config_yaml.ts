/**
 * Shared by the configuration's unit tests (tests/unit/config_*_test.ts): `MINIMAL`, the smallest valid hactl.yml
 * for tests that change one thing, and `problemsOf`, the problems of the `ConfigError` a call throws (the test
 * fails when it throws none).
 *
 * May import src/config/.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/config.ts";

/** The smallest valid configuration, for tests that change one thing. */
export const MINIMAL = `
scope: batman
name: pg1
restapi: {listen: "0.0.0.0:8008", connect_address: "10.0.0.1:8008"}
etcd3: {host: "10.0.0.9:2379"}
postgresql:
  listen: "*:5432"
  connect_address: 10.0.0.1:5432
  data_dir: /var/lib/postgresql/15/main
  authentication:
    superuser: {username: postgres, password: secret}
    replication: {username: replicator, password: rsecret}
`;

export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail("expected a ConfigError");
}
