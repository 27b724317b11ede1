/**
 * The versions: hactl's own is the one in `deno.json`; the Patroni version it advertises is one Patroni does not
 * treat as legacy (>= 2.1.0) and whose leader-side slot behaviour hactl has (below 4.0.0), and it is what member
 * keys, `GET /patroni` and the `patroni_version` metric show, with hactl's own version beside it in `GET /patroni`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HACTL_VERSION, PATRONI_COMPATIBLE_VERSION } from "../../src/core/version.ts";
import { versionNumber } from "../../src/api/metrics.ts";

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
