/**
 * The etcd adapter's prefix watch (src/dcs/etcd_cluster.ts `ClusterWatch`) feeding its copy of the prefix
 * (src/dcs/watch_cache.ts), on a stub gRPC watch stream: established only once etcd confirms the stream (from its
 * start revision, or the revision after the one it was created at), brought forward by events, incomplete once the
 * stream fails and forgotten when etcd says the history was compacted; a stream given up says nothing any more.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Etcd3 } from "etcd3";
import { ClusterWatch } from "../../src/dcs/etcd_cluster.ts";
import { EtcdEndpoints } from "../../src/dcs/etcd_endpoints.ts";

/** A stub of one raw gRPC watch stream: the test plays etcd's side. */
class StubStream {
  readonly handlers = new Map<string, (arg: unknown) => void>();
  readonly written: unknown[] = [];
  cancelled = false;
  on(event: string, fn: (arg: unknown) => void): this {
    this.handlers.set(event, fn);
    return this;
  }
  write(req: unknown): void {
    this.written.push(req);
  }
  cancel(): void {
    this.cancelled = true;
  }
  data(res: Record<string, unknown>): void {
    this.handlers.get("data")!({ events: [], ...res });
  }
}

function setup(): { watch: ClusterWatch; streams: StubStream[] } {
  const streams: StubStream[] = [];
  const client = {
    watchClient: {
      watch: () => {
        const s = new StubStream();
        streams.push(s);
        return Promise.resolve(s);
      },
    },
  } as unknown as Etcd3;
  const endpoints = new EtcdEndpoints([client], 5, () => {});
  return { watch: new ClusterWatch(endpoints, "/service/pg/", "a"), streams };
}

const put = (key: string, value: string, mod: number) => ({
  type: "Put",
  kv: {
    key: Buffer.from(key),
    value: Buffer.from(value),
    create_revision: String(mod),
    mod_revision: String(mod),
    lease: "0",
  },
});

const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("ClusterWatch: a stream without a start revision covers from the revision after its creation", async () => {
  const { watch, streams } = setup();
  watch.ensure();
  await settle();
  watch.cache.loaded([], "10"); // the cycle's read, while the stream is being created
  assert.equal(watch.cache.completeAt, null, "not confirmed by etcd yet");
  streams[0]!.data({ created: true, header: { revision: "10" } });
  assert.equal(watch.cache.completeAt, "10");
  streams[0]!.data({ header: { revision: "11" }, events: [put("/service/pg/failover", "{}", 11)] });
  assert.equal(watch.cache.completeAt, "11");
  assert.deepEqual(watch.cache.kvs()?.map((kv) => kv.key), ["/service/pg/failover"]);
});

Deno.test("ClusterWatch: a stream created after the read leaves the copy incomplete", async () => {
  const { watch, streams } = setup();
  watch.ensure();
  await settle();
  watch.cache.loaded([], "10");
  streams[0]!.data({ created: true, header: { revision: "12" } }); // 11 and 12 never delivered
  assert.equal(watch.cache.completeAt, null);
});

Deno.test("ClusterWatch: a failed stream makes the copy incomplete; the next starts after the last revision", async () => {
  const { watch, streams } = setup();
  watch.lastRevision = "20";
  watch.cache.loaded([], "20");
  watch.ensure();
  await settle();
  assert.equal(
    (streams[0]!.written[0] as { create_request: { start_revision: string } }).create_request.start_revision,
    "21",
  );
  streams[0]!.data({ created: true, header: { revision: "20" } });
  assert.equal(watch.cache.completeAt, "20");
  streams[0]!.handlers.get("error")!(new Error("stream reset"));
  assert.equal(watch.cache.completeAt, null, "events may be missed");
  streams[0]!.data({ header: { revision: "21" }, events: [put("/service/pg/sync", "{}", 21)] });
  assert.equal(watch.cache.kvs()?.length, 0, "a stream given up says nothing");
  watch.ensure();
  await settle();
  streams[1]!.data({ created: true, header: { revision: "21" } });
  assert.equal(watch.cache.completeAt, "20", "the new stream covers from 21 on");
  streams[0]!.data({ header: { revision: "22" }, events: [put("/service/pg/failover", "{}", 22)] });
  assert.equal(
    watch.cache.completeAt,
    "20",
    "the stream given up still says nothing, with another established",
  );
  streams[1]!.data({ header: { revision: "21" }, events: [put("/service/pg/sync", "{}", 21)] });
  assert.equal(watch.cache.completeAt, "21");
});

Deno.test("ClusterWatch: a compacted start revision forgets the copy", async () => {
  const { watch, streams } = setup();
  watch.lastRevision = "5";
  watch.cache.loaded([], "5");
  watch.ensure();
  await settle();
  streams[0]!.data({ created: true, header: { revision: "40" } });
  streams[0]!.data({ canceled: true, compact_revision: "30", header: { revision: "40" } });
  assert.equal(watch.cache.completeAt, null);
  assert.equal(watch.cache.kvs(), null, "forgotten: the next cycle reads");
  assert.equal(watch.lastRevision, null);
});
