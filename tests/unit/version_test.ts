/**
 * The versions: hactl's own is the one in `deno.json`; the Patroni version it advertises is one Patroni does not
 * treat as legacy (>= 2.1.0) and whose leader-side slot behaviour hactl has (below 4.0.0), and it is what member
 * keys, `GET /patroni` and the `patroni_version` metric show, with hactl's own version beside it in `GET /patroni`.
 * The metrics claim no feature hactl does not run (failsafe mode, synchronous standbys it did not make).
 *
 * @module
 */
import assert from "node:assert/strict";
import { HACTL_VERSION, PATRONI_COMPATIBLE_VERSION } from "../../src/core/version.ts";
import { renderMetrics, versionNumber } from "../../src/api/metrics.ts";
import { clusterView, NOW, replicaSnap } from "../helpers/api_snapshots.ts";

const parse = (v: string) => v.split(".").map(Number);
const below = (a: number[], b: number[]) => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
};

Deno.test("hactl's version is deno.json's version", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(HACTL_VERSION, denoJson.version);
});

Deno.test("the advertised Patroni version is in [2.1.0, 4.0.0): not legacy, and a 3.x leader's slot behaviour", () => {
  const v = parse(PATRONI_COMPATIBLE_VERSION);
  assert.equal(v.length, 3);
  assert.ok(!below(v, [2, 1, 0]), `${PATRONI_COMPATIBLE_VERSION} is below 2.1.0 (legacy for Patroni)`);
  assert.ok(below(v, [4, 0, 0]), `${PATRONI_COMPATIBLE_VERSION} is 4.0.0 or later`);
  assert.equal(versionNumber(PATRONI_COMPATIBLE_VERSION), v[0]! * 10000 + v[1]! * 100 + v[2]!);
});

Deno.test("metrics claim no feature hactl does not run: patroni_version is the advertised one; failsafe and sync are 0", () => {
  const config = { ttl: 30, failsafe_mode: true, synchronous_mode: true };
  const cluster = clusterView(
    { sync: { leader: "pg9", syncStandby: ["pg2"], quorum: 1, modRevision: "9" } },
    config,
  );
  const text = renderMetrics(replicaSnap({ cluster }), NOW);
  const value = (name: string) =>
    new RegExp(`\\n${name}\\{scope="demo",name="pg2"\\} (\\S+)\\n`).exec(text)?.[1];
  assert.equal(value("patroni_version"), String(versionNumber(PATRONI_COMPATIBLE_VERSION)));
  assert.equal(value("patroni_failsafe_mode_enabled"), "0");
  assert.equal(value("patroni_failsafe_mode_is_active"), "0");
  assert.equal(value("patroni_sync_standby"), "0", "a sync key written by a former leader claims nothing");
  // The same listing by the current leader (a Patroni leader running synchronous_mode) is shown.
  const current = clusterView(
    { sync: { leader: "pg1", syncStandby: ["pg2"], quorum: 1, modRevision: "9" } },
    config,
  );
  assert.match(renderMetrics(replicaSnap({ cluster: current }), NOW), /\npatroni_sync_standby\{[^}]*\} 1\n/);
});
