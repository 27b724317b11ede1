#!/usr/bin/env bash
# Idle footprint benchmark (see footprint.ts): resident memory (RSS, PSS) of agents and fencing supervisors,
# idle CPU per minute and etcd requests per minute of a 3-member cluster. Runs as the 'postgres' OS user when
# started as root.
# Usage: bash scripts/bench/footprint.sh [--runs N] [--window S] [--settle S] [--timing 30,10,5] [--patroni]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/footprint.ts "$@"
