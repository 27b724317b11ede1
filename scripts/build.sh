#!/usr/bin/env bash
# Builds the single binary: deno compile main.ts -> dist/hactl, with the permissions the daemon and the CLI need
# (network for etcd/REST/peers, files for data dirs and configs, running Postgres binaries, env for PATRONI_*,
# FFI for the watchdog ioctls). deno compile downloads Deno's runtime (denort) from Deno's servers on first use;
# where they are unreachable (this workplace), point DENORT_BIN at a denort binary of the same version.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
DENO="$REPO/node_modules/deno/deno"
mkdir -p dist
"$DENO" check main.ts
# V8 flags: see AGENT_V8_FLAGS in scripts/lib/local_cluster.ts (a 1 MB young generation: -9 MB resident, no cost).
if ! "$DENO" compile \
  --allow-net --allow-read --allow-write --allow-run --allow-env --allow-sys --allow-ffi \
  --v8-flags=--max-semi-space-size=1 \
  --no-check --output dist/hactl main.ts; then
  echo "build: deno compile failed. It needs Deno's runtime (denort 2.9.6): either network access to Deno's" >&2
  echo "build: download server, or DENORT_BIN=/path/to/denort pointing at a local copy of the same version." >&2
  exit 1
fi
ls -l dist/hactl
