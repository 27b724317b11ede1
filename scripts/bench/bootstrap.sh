#!/usr/bin/env bash
# Bootstrap benchmark (see bootstrap.ts): time from starting three agents to 1 primary + 2 streaming replicas,
# and the agents' resident memory. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/bootstrap.sh [--runs N] [--steady SECONDS] [--patroni]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/bootstrap.ts "$@"
