#!/usr/bin/env bash
# Synchronous replication benchmark (see sync.ts): pgbench TPS and commit latency p50/p99 on the primary, and the
# write gap of a switchover, for asynchronous replication and each synchronous mode in the same run; one JSON line
# per mode and a line of ratios against async. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/sync.sh [--modes async,on,strict,quorum] [--seconds 20] [--clients 4]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
bash scripts/setup.sh >&2
DENO="$REPO/node_modules/deno/deno"
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"
STAGE_DIR=$(mktemp -d /tmp/hactl-bench-sync-stage.XXXXXX)
trap 'rm -rf "$STAGE_DIR"' EXIT
stage_repo "$STAGE_DIR"
run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/bench/sync.ts "$@"
