/**
 * The rule `timelineOnce`: a timeline number is one history. Every promotion of a system (one system identifier)
 * lands on a timeline number no earlier promotion of that system used, whoever promoted, whenever. Two promotions
 * on one number are two histories Postgres cannot tell apart by number (pg_rewind sees "the same timeline", a
 * replica may stream across them); the `history` key and the history files a promotion seeds from it exist to
 * prevent it.
 *
 * Imports the fake Postgres world's promotion record (type only) and the invariants' evaluation counter.
 *
 * @module
 */
import type { Promotion } from "../fakes/memory_pg_world.ts";
import { evaluated } from "./invariants.ts";

/** The timeline numbers each system's promotions used so far, and by whom. */
export class TimelineNumbers {
  readonly #used = new Map<string, Promotion>();

  /** Record promotion `p` of the system `sysid`; the broken rule as text when its number was used before. */
  check(p: Promotion, sysid: string | null): string | null {
    evaluated("timelineOnce");
    const key = `${sysid ?? "?"}/${p.timeline}`;
    const before = this.#used.get(key);
    if (before) {
      return `(timelineOnce) ${p.member} was promoted to timeline ${p.timeline} at ${p.at} ms (switch at ${p.lsn}), ` +
        `a number ${before.member} was promoted to at ${before.at} ms (switch at ${before.lsn}): two histories, ` +
        `one timeline`;
    }
    this.#used.set(key, p);
    return null;
  }
}
