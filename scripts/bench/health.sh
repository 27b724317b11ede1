#!/usr/bin/env bash
# Health-check throughput benchmark (see health.ts): req/s and p50/p99 latency of GET /primary and GET /replica
# at 4 and 32 connections, new connection per request and keep-alive, against a real local cluster; one JSON
# line per case. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/health.sh [--duration SECONDS] [--connections 4,32] [--patroni] [--no-ceiling]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
bash scripts/setup.sh >&2
DENO="$REPO/node_modules/deno/deno"
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"
STAGE_DIR=$(mktemp -d /tmp/hactl-bench-stage.XXXXXX)
trap 'rm -rf "$STAGE_DIR"' EXIT
stage_repo "$STAGE_DIR"
run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/bench/health.ts "$@"
