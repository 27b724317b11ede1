#!/usr/bin/env bash
# Bootstrap benchmark (see bootstrap.ts): time from starting three agents to 1 primary + 2 streaming replicas,
# and the agents' resident memory. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/bootstrap.sh [--runs N] [--steady SECONDS] [--patroni]
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
run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/bench/bootstrap.ts "$@"
