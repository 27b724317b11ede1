/**
 * The rule that lets a cycle decide on its watch's copy of the prefix instead of a range (src/core/watch_view.ts),
 * and the copy's own bookkeeping (src/dcs/watch_cache.ts): complete only from a read at a known revision onwards,
 * with a stream established from no later than the revision after it, and every event since applied.
 *
 * @module
 */
import assert from "node:assert/strict";
import { mayUseWatchView } from "../../src/core/watch_view.ts";
import type { RawKv } from "../../src/dcs/codec.ts";
import { WatchCache } from "../../src/dcs/watch_cache.ts";

Deno.test("mayUseWatchView(): only a copy complete at exactly the keepalive's revision, not below one seen", () => {
  const facts = (renewal: string | null, view: string | null, seen: string | null) => ({
    renewalRevision: renewal,
    viewRevision: view,
    highestSeen: seen,
  });
  assert.equal(mayUseWatchView(facts("12", "12", "12")), true);
  assert.equal(mayUseWatchView(facts("12", "12", null)), true, "nothing seen before");
  assert.equal(mayUseWatchView(facts("12", "11", "12")), false, "a write the watch has not delivered");
  assert.equal(mayUseWatchView(facts("11", "12", "12")), false, "the keepalive's member is behind the watch");
  assert.equal(mayUseWatchView(facts("12", "12", "13")), false, "an answer seen before was newer");
  assert.equal(mayUseWatchView(facts(null, "12", "12")), false, "a lease granted, no keepalive");
  assert.equal(mayUseWatchView(facts("12", null, "12")), false, "no complete copy");
  assert.equal(mayUseWatchView(facts("0012", "12", null)), false, "not a revision");
  assert.equal(mayUseWatchView(null), false, "an adapter without a watch view");
  assert.equal(
    mayUseWatchView(facts("90071992547409930", "90071992547409930", null)),
    true,
    "as big integers",
  );
  assert.equal(mayUseWatchView(facts("90071992547409931", "90071992547409930", null)), false);
});

const kv = (key: string, value: string, mod: number): RawKv => ({
  key,
  value,
  createRevision: String(mod),
  modRevision: String(mod),
  lease: "0",
});

Deno.test("WatchCache: complete from a read at a known revision while the stream covers the revision after it", () => {
  const c = new WatchCache();
  assert.equal(c.completeAt, null, "nothing read");
  c.loaded([kv("/s/a", "1", 5)], "7");
  assert.equal(c.completeAt, null, "no stream established");
  c.streamEstablished("8");
  assert.equal(c.completeAt, "7");
  c.apply(kv("/s/b", "2", 9), false);
  assert.equal(c.completeAt, "9");
  c.apply({ ...kv("/s/a", "", 10) }, true);
  assert.deepEqual(c.kvs(), [kv("/s/b", "2", 9)]);
  assert.equal(c.completeAt, "10");
  c.streamLost();
  assert.equal(c.completeAt, null, "events may be missed");
  c.apply(kv("/s/c", "3", 11), false);
  assert.equal(c.completeAt, null);
  c.streamEstablished("11");
  assert.equal(c.completeAt, "10", "a new stream from the revision after the copy's");
});

Deno.test("WatchCache: events already in the read are skipped; one of the same revision applies again unchanged", () => {
  const c = new WatchCache();
  c.streamEstablished("3"); // a stream behind the read
  c.loaded([kv("/s/a", "new", 6), kv("/s/z", "z", 8)], "8");
  c.apply(kv("/s/a", "old", 4), false);
  assert.deepEqual(
    c.kvs(),
    [kv("/s/a", "new", 6), kv("/s/z", "z", 8)],
    "the older event does not overwrite the read",
  );
  c.apply(kv("/s/a", "new", 6), false);
  c.apply(kv("/s/z", "z", 8), false);
  assert.equal(c.completeAt, "8");
  assert.deepEqual(
    c.kvs(),
    [kv("/s/a", "new", 6), kv("/s/z", "z", 8)],
    "the read's own revision again: unchanged",
  );
  c.apply(kv("/s/b", "b", 12), false);
  assert.equal(c.completeAt, "12");
  assert.deepEqual(c.kvs()?.map((x) => x.key), ["/s/a", "/s/b", "/s/z"], "in etcd's key order");
});

Deno.test("WatchCache: a stream that starts after the read leaves a gap: no complete copy until the next read", () => {
  const c = new WatchCache();
  c.loaded([], "5");
  c.streamEstablished("9"); // created at revision 8: 6..8 were never delivered
  assert.equal(c.completeAt, null);
  c.apply(kv("/s/a", "1", 9), false);
  assert.equal(c.completeAt, null);
  c.loaded([kv("/s/a", "1", 9)], "9");
  assert.equal(c.completeAt, "9");
});

Deno.test("WatchCache: a read older than an event the stream delivered meanwhile gives no copy", () => {
  const c = new WatchCache();
  c.streamEstablished("1");
  c.apply(kv("/s/a", "1", 12), false); // arrived while the read was under way
  c.loaded([], "11");
  assert.equal(c.completeAt, null, "the copy would lack revision 12");
  c.loaded([kv("/s/a", "1", 12)], "12");
  assert.equal(c.completeAt, "12");
  c.forget();
  assert.equal(c.completeAt, null, "compacted away");
});
