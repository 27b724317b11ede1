#!/usr/bin/env bash
# Synchronous replication benchmark (see sync.ts): pgbench TPS and commit latency p50/p99 on the primary, and the
# write gap of a switchover, for asynchronous replication and each synchronous mode in the same run; one JSON line
# per mode and a line of ratios against async. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/sync.sh [--modes async,on,strict,quorum] [--seconds 20] [--clients 4]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/sync.ts "$@"
