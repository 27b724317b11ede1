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
# Check the result: dist/hactl version (prints the hactl, Deno, V8 and TypeScript versions).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
DENO="$REPO/node_modules/deno/deno"
mkdir -p dist
"$DENO" check main.ts
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
