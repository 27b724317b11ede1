/**
 * The two versions hactl shows, in one place: its own (`HACTL_VERSION`, also `deno.json`'s `version`, kept equal
 * by a unit test) and the Patroni version it advertises where Patroni members and tools read one
 * (`PATRONI_COMPATIBLE_VERSION`: member keys, `GET /patroni`'s `patroni.version`, the `patroni_version` metric).
 *
 * Pure data. Imports only `build_commit.ts` (the commit, written at build time).
 *
 * @module
 */

/** The git commit of a built binary (`unknown` when run from the source tree): `hactl version`, `hactl_build_info`. */
export { BUILD_COMMIT as HACTL_COMMIT } from "./build_commit.ts";

/** hactl's own version: `hactl version`, `hactl --version`, `GET /patroni`'s `patroni.hactl_version`. */
export const HACTL_VERSION = "0.1.0";

/**
 * The Patroni version hactl advertises in member keys and `GET /patroni`. Patroni members read other members'
 * versions in three places, and this value puts hactl on the side of each gate whose behaviour it actually has:
 * - the lowest member version is the cluster's; below 2.1.0 the cluster is "legacy" and Patroni leaders also
 *   write the old `optime/leader` key. hactl reads `status` (and `optime/leader`) and writes `status`: >= 2.1.0.
 * - above 1.5.6 a leader's member key is expected to say `checkpoint_after_promote: false` until the checkpoint
 *   after a promotion is done; no version >= 2.1.0 avoids that gate.
 * - from 4.0.0 on, Patroni replicas take every member's slot position from the leader's `status` key (`slots`);
 *   below 4.0.0 they take it from each member's own key (`xlog_location`). hactl's leader writes both: every
 *   managed slot's position in `status` (src/core/retain_slots.ts) and each member's position in its member key,
 *   so a Patroni member reads a right position on either side of that gate.
 * So the newest 3.x release: hactl honours every version-gated behaviour a Patroni 4 member expects of it.
 */
export const PATRONI_COMPATIBLE_VERSION = "3.3.11";
