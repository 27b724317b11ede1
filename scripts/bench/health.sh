#!/usr/bin/env bash
# Health-check throughput benchmark (see health.ts): req/s and p50/p99 latency of GET /primary and GET /replica
# at 4 and 32 connections, new connection per request and keep-alive, against a real local cluster; one JSON
# line per case. Runs as the 'postgres' OS user when started as root.
# Usage: bash scripts/bench/health.sh [--duration SECONDS] [--connections 4,32] [--patroni] [--no-ceiling]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/health.ts "$@"
