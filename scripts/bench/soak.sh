#!/usr/bin/env bash
# Short-lease soak (see soak.ts): a 3-member cluster left alone for --minutes at --timing ttl/loop_wait/retry_timeout
# with both cores saturated and fsync stalled by stress-ng; prints false failovers, the leader's cycle time, renewal
# latency, timer lateness and fsync latency as one JSON line. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/soak.sh [--timing 5/1/2] [--minutes 5] [--stress on|off] [--sample-ms 500]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/soak.ts "$@"
