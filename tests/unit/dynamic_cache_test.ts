/**
 * The local copy of the dynamic configuration, `<data_dir>/patroni.dynamic.json` (src/pg/dynamic_cache.ts), and how
 * the daemon's settings source uses it (src/daemon/settings.ts): read at start, written when etcd's document
 * changes, standing in for bootstrap.dcs while etcd holds no `config` key, and never changing what the agent decides
 * before etcd answers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { withTempDir } from "../helpers/temp_dir.ts";
import { DYNAMIC_CACHE_FILE, DynamicCacheFile, parseDynamicCache } from "../../src/pg/dynamic_cache.ts";
import { type DynamicCopy, dynamicSettingsSource } from "../../src/daemon/settings.ts";

const BOOTSTRAP = { ttl: 30, loop_wait: 10, retry_timeout: 10 };
const CACHED = {
  ttl: 40,
  loop_wait: 5,
  retry_timeout: 10,
  pause: true,
  postgresql: { parameters: { max_connections: 300 } },
};

/** A copy held in memory: its document at start, and the documents offered to it. */
function memoryCopy(
  doc: Record<string, unknown> | null,
): DynamicCopy & { offered: Record<string, unknown>[] } {
  const offered: Record<string, unknown>[] = [];
  return { doc, offered, offer: (d) => offered.push(d) };
}

/** A recording log. */
function recordingLog() {
  const lines: string[] = [];
  return {
    lines,
    warn: (m: string) => lines.push(`warn ${m}`),
    info: (m: string) => lines.push(`info ${m}`),
    debug: (m: string) => lines.push(`debug ${m}`),
  };
}

Deno.test("parseDynamicCache() takes a JSON object and names what else it found", () => {
  assert.deepEqual(parseDynamicCache('{"ttl":30}'), { doc: { ttl: 30 } });
  assert.match((parseDynamicCache("{ttl") as { error: string }).error, /^not JSON/);
  assert.deepEqual(parseDynamicCache("[1]"), { error: "not a JSON object" });
  assert.deepEqual(parseDynamicCache("null"), { error: "not a JSON object" });
});

Deno.test("the local copy: the adapters read it until etcd answers; the agent still decides by bootstrap.dcs", () => {
  const copy = memoryCopy(CACHED);
  const source = dynamicSettingsSource(BOOTSTRAP, () => {}, () => {}, () => undefined, copy);
  // Before etcd answers: the Postgres adapter's parameters are the cluster's (max_connections must not drop below
  // the primary's on a replica), the timing of the etcd client bootstrap.dcs's.
  assert.deepEqual(source.current().parameters, { max_connections: 300 });
  assert.equal(source.atStart.ttl, 30);
  // The agent's first settings (etcd not read yet): bootstrap.dcs, so a copied pause cannot keep a primary running
  // without etcd; the adapters keep the copy's meanwhile.
  const beforeDcs = source.from(undefined);
  assert.equal(beforeDcs.pause, false);
  assert.equal(beforeDcs.ttl, 30);
  assert.deepEqual(source.current().parameters, { max_connections: 300 });
  assert.deepEqual(copy.offered, [], "nothing read from etcd yet, nothing to write");
});

Deno.test("the local copy: etcd's config key wins once read, and each document read is offered to the copy", () => {
  const copy = memoryCopy(CACHED);
  const source = dynamicSettingsSource(BOOTSTRAP, () => {}, () => {}, () => undefined, copy);
  source.from(undefined);
  const etcd = {
    ttl: 20,
    loop_wait: 2,
    retry_timeout: 5,
    postgresql: { parameters: { max_connections: 200 } },
  };
  const read = source.from(etcd);
  assert.equal(read.ttl, 20);
  assert.equal(read.pause, false);
  assert.equal(source.current(), read);
  assert.deepEqual(copy.offered, [etcd]);
  assert.equal(source.restoreDoc(), etcd);
});

Deno.test("the local copy: while etcd holds no config key, the last document known stands in and is written back", () => {
  const copy = memoryCopy(CACHED);
  const source = dynamicSettingsSource(BOOTSTRAP, () => {}, () => {}, () => undefined, copy);
  source.from(undefined);
  // etcd answered without a config key (its keys were lost): the copy's document, as Patroni restores it.
  const wiped = source.from(null);
  assert.equal(wiped.ttl, 40);
  assert.equal(wiped.pause, true);
  assert.deepEqual(source.restoreDoc(), CACHED);
  // A document read later in this run is the one known from then on.
  const later = { ttl: 25, loop_wait: 5, retry_timeout: 10 };
  source.from(later);
  assert.equal(source.from(null).ttl, 25);
  assert.equal(source.restoreDoc(), later);
});

Deno.test("without a local copy, a missing config key means bootstrap.dcs, written back as such", () => {
  const source = dynamicSettingsSource(BOOTSTRAP, () => {}, () => {}, () => undefined, memoryCopy(null));
  assert.equal(source.current().ttl, 30);
  assert.equal(source.from(null).ttl, 30);
  assert.equal(source.restoreDoc(), BOOTSTRAP);
});

Deno.test("the copy file: written atomically with mode 0600 when the document changes, read back at start", async () => {
  await withTempDir("hactl-dyncache-", async (dir) => {
    await Deno.writeTextFile(`${dir}/PG_VERSION`, "16\n");
    const log = recordingLog();
    const file = new DynamicCacheFile(dir, log);
    assert.equal(file.load(), null, "no file yet");
    file.offer(CACHED);
    const path = `${dir}/${DYNAMIC_CACHE_FILE}`;
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), CACHED);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["PG_VERSION", DYNAMIC_CACHE_FILE], "no temporary file left behind");
    // The same document again: nothing written (the file's time stays).
    const before = (await Deno.stat(path)).mtime!.getTime();
    await Deno.chmod(path, 0o400); // a rewrite would replace it with a file of mode 0600
    file.offer(structuredClone(CACHED));
    assert.equal((await Deno.stat(path)).mtime!.getTime(), before);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o400, "not rewritten");
    // The next start reads it back.
    assert.deepEqual(new DynamicCacheFile(dir, log).load(), CACHED);
    assert.deepEqual(log.lines, []);
  });
});

Deno.test("the copy file: nothing is written into a data directory without a cluster (initdb wants it empty)", async () => {
  await withTempDir("hactl-dyncache-", async (dir) => {
    const file = new DynamicCacheFile(dir, recordingLog());
    file.offer(CACHED);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // Once there is a cluster, the next offer writes it.
    await Deno.writeTextFile(`${dir}/PG_VERSION`, "16\n");
    file.offer(CACHED);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/${DYNAMIC_CACHE_FILE}`)), CACHED);
  });
});

Deno.test("the copy file: nothing is written while a job may be emptying the directory (a reinit, a clone)", async () => {
  await withTempDir("hactl-dyncache-", async (dir) => {
    await Deno.writeTextFile(`${dir}/PG_VERSION`, "16\n");
    let jobRunning = true;
    const file = new DynamicCacheFile(dir, recordingLog(), () => !jobRunning);
    file.offer(CACHED);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["PG_VERSION"]);
    jobRunning = false;
    file.offer(CACHED);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/${DYNAMIC_CACHE_FILE}`)), CACHED);
  });
});

Deno.test("the copy file: a garbage file is ignored with a warning naming it", async () => {
  await withTempDir("hactl-dyncache-", async (dir) => {
    const log = recordingLog();
    await Deno.writeTextFile(`${dir}/${DYNAMIC_CACHE_FILE}`, "{not json");
    assert.equal(new DynamicCacheFile(dir, log).load(), null);
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!, new RegExp(`^warn ignoring ${dir}/${DYNAMIC_CACHE_FILE}: not JSON`));
  });
});

Deno.test("the copy file: a failed write is logged once at warning, never thrown, and retried", async () => {
  await withTempDir("hactl-dyncache-", async (dir) => {
    await Deno.writeTextFile(`${dir}/PG_VERSION`, "16\n");
    const log = recordingLog();
    const file = new DynamicCacheFile(dir, log);
    // The data directory's entry is a directory where the file should be: rename fails.
    await Deno.mkdir(`${dir}/${DYNAMIC_CACHE_FILE}/x`, { recursive: true });
    file.offer(CACHED);
    file.offer({ ...CACHED, ttl: 41 });
    assert.deepEqual(log.lines.map((l) => l.split(" ")[0]), ["warn", "debug"]);
    assert.match(log.lines[0]!, /cannot write .*patroni\.dynamic\.json/);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, ["PG_VERSION", DYNAMIC_CACHE_FILE], "the temporary files are removed");
    await Deno.remove(`${dir}/${DYNAMIC_CACHE_FILE}`, { recursive: true });
    file.offer(CACHED);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/${DYNAMIC_CACHE_FILE}`)), CACHED);
    assert.match(log.lines[2]!, /^info wrote .* again$/);
  });
});
