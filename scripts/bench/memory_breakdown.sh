#!/usr/bin/env bash
# Where the memory of an agent and of its fencing supervisor goes (see memory_breakdown.ts): one `deno run`
# process per stage (bare runtime, the supervisor as the agent spawns it, npm packages, the agent's module graph,
# etcd clients), RSS / PSS and V8 heap / external. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/memory_breakdown.sh [--runs N] [--settle S] [--v8-flags=FLAGS] [--stages a,b]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/memory_breakdown.ts "$@"
