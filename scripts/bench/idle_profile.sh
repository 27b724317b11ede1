#!/usr/bin/env bash
# Where an idle agent spends its CPU (see idle_profile.ts): a CPU profile through the V8 inspector.
# Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/idle_profile.sh [--window S] [--timing 30|10|5] [--top N] [--members N]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/idle_profile.ts "$@"
