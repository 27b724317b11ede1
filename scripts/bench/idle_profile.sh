#!/usr/bin/env bash
# Where an idle agent spends its CPU (see idle_profile.ts): a CPU profile through the V8 inspector.
# Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/idle_profile.sh [--window S] [--timing 30|10|5] [--top N] [--members N]
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
run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/bench/idle_profile.ts "$@"
