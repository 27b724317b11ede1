/**
 * Between the codec's strings and `npm:etcd3`'s buffers: key bytes, the end of a prefix range, and a key-value
 * pair as the codec reads it (`RawKv`, revisions and lease as decimal strings).
 *
 * May import: `etcd3` (types), `src/dcs/codec.ts` (types).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { IKeyValue } from "etcd3";
import type { RawKv } from "./codec.ts";

/** UTF-8 bytes of a key or value. */
export const b = (s: string): Buffer => Buffer.from(s, "utf8");

/** The end of a prefix range: the prefix with its last byte incremented. */
export function rangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  return end;
}

/** An etcd key-value pair as the codec reads it. */
export function rawKv(kv: IKeyValue): RawKv {
  return {
    key: kv.key.toString("utf8"),
    value: kv.value.toString("utf8"),
    createRevision: String(kv.create_revision),
    modRevision: String(kv.mod_revision),
    lease: String(kv.lease || "0"),
  };
}
