#!/usr/bin/env bash
# Where the memory of an agent and of its fencing supervisor goes (see memory_breakdown.ts): one `deno run`
# process per stage (bare runtime, the supervisor as the agent spawns it, npm packages, the agent's module graph,
# etcd clients), RSS / PSS and V8 heap / external. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/memory_breakdown.sh [--runs N] [--settle S] [--v8-flags=FLAGS] [--stages a,b]
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
run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/bench/memory_breakdown.ts "$@"
