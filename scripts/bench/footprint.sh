#!/usr/bin/env bash
# Idle footprint benchmark (see footprint.ts): resident memory (RSS, PSS) of agents and fencing supervisors,
# idle CPU per minute and etcd requests per minute of a 3-member cluster. Runs as the 'postgres' OS user when
# started as root.
# Usage: bash scripts/bench/footprint.sh [--runs N] [--window S] [--settle S] [--timing 30,10,5] [--patroni]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
DENO="$REPO/node_modules/deno/deno"
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"
STAGE_DIR=$(mktemp -d /tmp/hactl-bench-stage.XXXXXX)
trap 'rm -rf "$STAGE_DIR"' EXIT
stage_repo "$STAGE_DIR"
run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/bench/footprint.ts "$@"
