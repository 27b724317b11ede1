#!/usr/bin/env bash
# Failover benchmark (see failover.ts): unplanned failover after SIGKILL of the primary's agent and postmaster,
# graceful-stop handover (SIGTERM of the primary's agent) and the write gap of a Postgres crash on the primary,
# one JSON line per run and a summary line with medians. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/failover.sh [--runs N] [--timing 30|10] [--faults kill,term,crash]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
bash scripts/setup.sh >&2
DENO="$REPO/node_modules/deno/deno"
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"
STAGE_DIR=$(mktemp -d /tmp/hactl-bench-failover-stage.XXXXXX)
trap 'rm -rf "$STAGE_DIR"' EXIT
stage_repo "$STAGE_DIR"
run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/bench/failover.ts "$@"
