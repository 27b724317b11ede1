/**
 * removeStaleSocketLocks (src/pg/lifecycle.ts): before a start, a unix socket lock file whose postmaster is gone
 * is removed (Postgres refuses to start while the PID in it lives: a restart right after a crash failed on a
 * killed postmaster not yet reaped, and the leader gave its key up); a live process's lock stays.
 *
 * @module
 */
import assert from "node:assert/strict";
import { removeStaleSocketLocks } from "../../src/pg/lifecycle.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("removeStaleSocketLocks() removes the lock of a postmaster that is gone, keeps a live one's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hactl-socklock-" });
  const other = await Deno.makeTempDir({ prefix: "hactl-socklock-" });
  try {
    const gone = new Deno.Command("true").spawn();
    await gone.status; // exited and reaped: its PID names no process now
    await Deno.writeTextFile(`${dir}/.s.PGSQL.5432.lock`, `${gone.pid}\n/data\n`);
    await Deno.writeTextFile(`${other}/.s.PGSQL.5432.lock`, `${Deno.pid}\n/data\n`);
    await Deno.writeTextFile(`${dir}/.s.PGSQL.5433.lock`, `${gone.pid}\n/data\n`);
    await removeStaleSocketLocks(`${dir}, ${other}, relative/dir`, 5432);
    assert.equal(await exists(`${dir}/.s.PGSQL.5432.lock`), false, "a dead postmaster's lock is removed");
    assert.equal(await exists(`${other}/.s.PGSQL.5432.lock`), true, "a live process's lock stays");
    assert.equal(await exists(`${dir}/.s.PGSQL.5433.lock`), true, "another port's lock is not ours");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});
