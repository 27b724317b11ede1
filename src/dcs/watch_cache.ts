/**
 * The copy of the cluster prefix that one member's watch keeps (src/core/watch_view.ts says when a cycle may use
 * it instead of a `Range`): loaded by a `Range` at a known revision, and brought forward by the watch's events.
 * It says it is complete at revision R only when it holds exactly the prefix's keys at R: its base is a `Range`
 * at some revision B <= R, the watch stream in force is established and delivers every event from a revision
 * <= B + 1 on, and every event it delivered so far, up to R, was applied (events arrive in revision order, all
 * events of one revision in one response). A lost stream, a stream that starts after the base, or a compaction
 * makes it incomplete until the next `Range`.
 *
 * No I/O: used by the etcd adapter (`etcd_cluster.ts`) and by the in-memory etcd of the simulator alike.
 *
 * May import: `src/dcs/codec.ts` (types).
 *
 * @module
 */
import type { RawKv } from "./codec.ts";

const utf8 = new TextEncoder();

/** Keys in etcd's order (by their UTF-8 bytes), as a `Range` returns them. */
function byKeyBytes(a: RawKv, b: RawKv): number {
  const x = utf8.encode(a.key);
  const y = utf8.encode(b.key);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** One member's watch-fed copy of the cluster prefix. */
export class WatchCache {
  #kvs: Map<string, RawKv> | null = null;
  /** The revision the copy holds the prefix at (its base, or the last event applied since). */
  #revision = 0n;
  /** The first revision the established stream delivers; null while no stream is established. */
  #streamFrom: bigint | null = null;
  /** The highest revision of an event the established stream has delivered. */
  #delivered = 0n;

  /**
   * A `Range` of the prefix at `revision` returned `kvs`: the copy becomes that, unless the stream has already
   * delivered a later event (it arrived while the read was under way): the copy would lack it, so there is none.
   */
  loaded(kvs: readonly RawKv[], revision: string): void {
    const at = BigInt(revision);
    this.#kvs = this.#streamFrom !== null && this.#delivered > at
      ? null
      : new Map(kvs.map((kv) => [kv.key, kv]));
    this.#revision = at;
  }

  /** A watch stream is established (etcd confirmed it) and delivers every event from revision `from` on. */
  streamEstablished(from: string): void {
    this.#streamFrom = BigInt(from);
    this.#delivered = this.#streamFrom - 1n;
  }

  /** The stream in force ended (error, end, cancel): events may be missed until another is established. */
  streamLost(): void {
    this.#streamFrom = null;
  }

  /** Forget the copy (history compacted away, the adapter closed): the next cycle reads. */
  forget(): void {
    this.#kvs = null;
  }

  /** One event of the established stream: a put (`kv` as it is now) or a delete (`kv.modRevision`: the delete's). */
  apply(kv: RawKv, deleted: boolean): void {
    if (this.#streamFrom === null) return;
    const revision = BigInt(kv.modRevision || "0");
    if (revision > this.#delivered) this.#delivered = revision;
    if (this.#kvs === null || revision < this.#revision) return; // no copy, or in the base already
    if (this.#streamFrom > this.#revision + 1n) {
      // The stream started after the base: what happened in between is unknown.
      this.#kvs = null;
      return;
    }
    if (deleted) this.#kvs.delete(kv.key);
    else this.#kvs.set(kv.key, kv);
    this.#revision = revision;
  }

  /** The revision the copy is complete at (see the module comment); null when it is not complete. */
  get completeAt(): string | null {
    if (this.#kvs === null || this.#streamFrom === null) return null;
    return this.#streamFrom <= this.#revision + 1n ? String(this.#revision) : null;
  }

  /** The copy's keys in etcd's order; null when there is no copy. */
  kvs(): RawKv[] | null {
    return this.#kvs === null ? null : [...this.#kvs.values()].sort(byKeyBytes);
  }
}
