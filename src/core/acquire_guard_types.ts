/**
 * The guard of the race for the leader key (src/core/acquire_guard.ts), as a type the action union can name.
 *
 * Pure: imports nothing.
 *
 * @module
 */

/**
 * The mod revisions of `config` and `sync` the race's view saw; null: the key was absent; left out: not compared
 * (the plan writes that key itself before it races, as a bootstrap writes `config`).
 */
export interface AcquireGuard {
  config?: string | null;
  sync?: string | null;
}
