#!/usr/bin/env bash
# Failover benchmark (see failover.ts): unplanned failover after SIGKILL of the primary's agent and postmaster,
# graceful-stop handover (SIGTERM of the primary's agent) and the write gap of a Postgres crash on the primary,
# one JSON line per run and a summary line with medians. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/failover.sh [--runs N] [--timing 30|10|5] [--faults kill,host,term,crash,partition,switchover]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/failover.ts "$@"
