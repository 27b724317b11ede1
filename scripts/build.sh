#!/usr/bin/env bash
# Builds the single binary: deno compile main.ts -> dist/hactl (`deno task build`). Flags:
#   --allow-net    etcd (gRPC), the REST API listener, peers' REST APIs, Postgres over TCP
#   --allow-read   configuration files, data directory, TLS files, /proc, the binary itself
#   --allow-write  data directory, postgresql.conf & co, pgpass, log.dir, the fence file
#   --allow-run    pg_ctl, initdb, pg_basebackup, pg_rewind, callbacks, `hactl fence-supervisor` (itself)
#   --allow-env    PATRONI_* overrides, PGPASSFILE & co for children, NOTIFY_SOCKET
#   --allow-sys    host name and interface addresses (os module of npm packages)
#   --allow-ffi    libc: the watchdog ioctls (/dev/watchdog) and sd_notify (src/host/sd_notify.ts)
#   --v8-flags=--max-semi-space-size=1   see AGENT_V8_FLAGS in scripts/lib/local_cluster.ts
#   --no-check     the type check runs just before, on the same files
# The import graph is analyzable (static imports, import() of literals: tests/cli/binary_test.ts), so deno
# compile embeds every module; npm packages come
# from deno.lock. deno compile downloads Deno's runtime (denort) from Deno's servers on first use; where they are
# unreachable (this workplace), point DENORT_BIN at a denort binary of the same version (2.9.6).
# The commit: src/core/build_commit.ts says `unknown` in the source tree; the build writes the commit into it
# (`git rev-parse --short=12 HEAD`, `-dirty` when the tree has changes; HACTL_BUILD_COMMIT overrides, e.g. for a
# build from a tarball), compiles, and puts the file back, so `deno compile` embeds an ordinary module (no file
# read or environment at run time) and the tree is left as it was. It shows in `hactl version` and the
# `hactl_build_info` metric.
# Check the result: dist/hactl version (prints the hactl version and commit, Deno, V8 and TypeScript versions).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
DENO="$REPO/node_modules/deno/deno"
mkdir -p dist
"$DENO" check main.ts
COMMIT_FILE=src/core/build_commit.ts
commit="${HACTL_BUILD_COMMIT:-}"
if [ -z "$commit" ]; then
  commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  if [ "$commit" != unknown ] && [ -n "$(git status --porcelain 2>/dev/null)" ]; then commit="$commit-dirty"; fi
fi
cp "$COMMIT_FILE" "$COMMIT_FILE.orig"
trap 'mv -f "$COMMIT_FILE.orig" "$COMMIT_FILE"' EXIT
bash scripts/lib/write_build_commit.sh "$COMMIT_FILE" "$commit"
# V8 flags: a 1 MB young generation (-9 MB resident, no measurable cost).
if ! "$DENO" compile \
  --allow-net --allow-read --allow-write --allow-run --allow-env --allow-sys --allow-ffi \
  --v8-flags=--max-semi-space-size=1 \
  --no-check --output dist/hactl main.ts; then
  echo "build: deno compile failed. It needs Deno's runtime (denort 2.9.6): either network access to Deno's" >&2
  echo "build: download server, or DENORT_BIN=/path/to/denort pointing at a local copy of the same version." >&2
  exit 1
fi
ls -l dist/hactl
dist/hactl version
