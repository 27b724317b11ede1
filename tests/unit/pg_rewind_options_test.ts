/**
 * `postgresql.rewind` (pg_rewind's extra options, local and dynamic, the local one winning) and a local
 * `postgresql.use_pg_rewind` (winning over the dynamic one, as Patroni's local `postgresql` keys do).
 *
 * @module
 */
import assert from "node:assert/strict";
import { normalizeDynamic, parseConfigWithWarnings } from "../../src/config/config.ts";
import { readRewindOptions } from "../../src/config/pg_role_config.ts";
import { dynamicSettingsSource } from "../../src/daemon/settings.ts";
import { PgInstance } from "../../src/pg/instance.ts";
import { MINIMAL } from "../helpers/config_yaml.ts";
import { makeTestConfig } from "../helpers/pg_config.ts";

function read(value: unknown): { argv: string[] | undefined; problems: string[] } {
  const problems: string[] = [];
  const argv = readRewindOptions({ rewind: value }, (p, m) => problems.push(`${p}: ${m}`));
  return { argv, problems };
}

Deno.test("readRewindOptions(): Patroni's list and mapping forms become long options", () => {
  assert.deepEqual(read(["progress", { "sync-method": "fsync" }]).argv, [
    "--progress",
    "--sync-method=fsync",
  ]);
  assert.deepEqual(read({ "sync-method": "syncfs" }).argv, ["--sync-method=syncfs"]);
  assert.deepEqual(read([{ "sync-method": '"fsync"' }]).argv, ["--sync-method=fsync"], "quotes are removed");
  assert.equal(read(undefined).argv, undefined);
  assert.deepEqual(read([]).argv, []);
});

Deno.test("readRewindOptions(): the options hactl sets itself are refused, naming the entry", () => {
  const { argv, problems } = read(["progress", { "source-server": "host=x" }, "dry-run", 7]);
  assert.deepEqual(argv, ["--progress"]);
  assert.deepEqual(problems, [
    'postgresql.rewind.1: option "source-server" is set by hactl and not allowed',
    'postgresql.rewind.2: option "dry-run" is set by hactl and not allowed',
    "postgresql.rewind.3: must be an option name or one {option: value}, found a number",
  ]);
});

Deno.test("the local postgresql.rewind and use_pg_rewind are read, not refused", () => {
  const yaml = MINIMAL + "  use_pg_rewind: true\n  rewind: [progress]\n";
  const { config, warnings } = parseConfigWithWarnings(yaml, "f.yml", {});
  assert.deepEqual(warnings.filter((w) => /rewind/.test(w)), []);
  assert.equal(config.postgresql.usePgRewind, true);
  assert.deepEqual(config.postgresql.rewind, ["--progress"]);
  const unset = parseConfigWithWarnings(MINIMAL, "f.yml", {}).config.postgresql;
  assert.equal(unset.usePgRewind, undefined);
  assert.equal(unset.rewind, undefined);
  assert.throws(
    () => parseConfigWithWarnings(MINIMAL + "  rewind: [target-pgdata]\n", "f.yml", {}),
    /f\.yml: postgresql\.rewind\.0: option "target-pgdata" is set by hactl/,
  );
});

Deno.test("normalizeDynamic() reads postgresql.rewind; a bad entry is left out with a warning", () => {
  const ok = normalizeDynamic({ postgresql: { rewind: ["progress"] } });
  assert.deepEqual(ok.warnings, []);
  assert.deepEqual(ok.settings.rewind, ["--progress"]);
  const bad = normalizeDynamic({ postgresql: { rewind: ["progress", "restore-target-wal"] } });
  assert.deepEqual(bad.settings.rewind, ["--progress"]);
  assert.match(bad.warnings.join("\n"), /postgresql\.rewind\.1: option "restore-target-wal" .*; ignoring it/);
});

Deno.test("pg_rewind gets the local postgresql.rewind when set, else the dynamic one", () => {
  const config = makeTestConfig({ name: "pg1", dataDir: "/nonexistent", pgPort: 5432, apiPort: 8008 });
  const inst = new PgInstance(config, () => ({}), () => true);
  assert.deepEqual(inst.rewindOptions(), []);
  inst.dynamicPg = () => ({ rewind: ["--progress"] });
  assert.deepEqual(inst.rewindOptions(), ["--progress"]);
  inst.config = { ...config, postgresql: { ...config.postgresql, rewind: ["--debug"] } };
  assert.deepEqual(inst.rewindOptions(), ["--debug"]);
});

Deno.test("a local postgresql.use_pg_rewind wins over the dynamic one; unset, the dynamic one stands", () => {
  let local: boolean | undefined = false;
  const src = dynamicSettingsSource({ postgresql: { use_pg_rewind: true } }, () => {}, () => {}, () => local);
  assert.equal(src.current().usePgRewind, false);
  local = undefined;
  assert.equal(src.from({ postgresql: { use_pg_rewind: true } }).usePgRewind, true);
  local = true;
  assert.equal(src.from({ postgresql: { use_pg_rewind: false } }).usePgRewind, true);
  assert.equal(src.current().usePgRewind, true);
});
