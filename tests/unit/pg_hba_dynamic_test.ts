import assert from "node:assert/strict";
import { normalizeDynamic, parseConfigWithWarnings } from "../../src/config/config.ts";
import { chooseHba } from "../../src/pg/conf.ts";
import { MINIMAL } from "../helpers/config_yaml.ts";

const LINES = ["local all all trust", "host all all 0.0.0.0/0 md5"];

Deno.test("normalizeDynamic() reads postgresql.pg_hba of the dynamic configuration", () => {
  const { settings, warnings } = normalizeDynamic({ postgresql: { pg_hba: LINES } });
  assert.deepEqual(settings.pgHba, LINES);
  assert.deepEqual(warnings, []);
  assert.equal(normalizeDynamic({}).settings.pgHba, undefined);
});

Deno.test("normalizeDynamic() ignores a dynamic pg_hba that is not a list of strings, with a warning", () => {
  const { settings, warnings } = normalizeDynamic({ postgresql: { pg_hba: "local all all trust" } });
  assert.equal(settings.pgHba, undefined);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /postgresql\.pg_hba/);
});

Deno.test("a local file with bootstrap.dcs.postgresql.pg_hba is accepted (Patroni's sample configuration)", () => {
  const text =
    `${MINIMAL}bootstrap:\n  dcs:\n    postgresql:\n      pg_hba:\n        - host all all 0.0.0.0/0 md5\n`;
  const { warnings } = parseConfigWithWarnings(text, "f.yml", {});
  assert.deepEqual(warnings.filter((w) => w.includes("pg_hba")), []);
});

Deno.test("chooseHba(): the local postgresql.pg_hba wins, then the dynamic one, then bootstrap.pg_hba", () => {
  assert.deepEqual(chooseHba(["a"], ["b"], ["c"]), ["a"]);
  assert.deepEqual(chooseHba([], ["b"], ["c"]), ["b"]);
  assert.deepEqual(chooseHba([], undefined, ["c"]), ["c"]);
  assert.equal(chooseHba([], undefined, []), null);
  assert.equal(chooseHba([], [], []), null);
});
