/**
 * The git commit hactl was built from. `scripts/build.sh` writes the commit into this file just before
 * `deno compile` and puts this version back afterwards, so a compiled binary knows its commit while a run from the
 * source tree says `unknown` (`git rev-parse HEAD` tells). `HACTL_BUILD_COMMIT` set for the build overrides git
 * (a build from a tarball).
 *
 * Pure data. Imports nothing.
 *
 * @module
 */

/** The commit (12 hex digits, `-dirty` when the tree had changes), or `unknown` outside a build. */
export const BUILD_COMMIT: string = "unknown";
