#!/usr/bin/env bash
# Restore and clone benchmark (see restore.ts): wall time of a replica by pg_basebackup, a replica by a pgBackRest
# replica method and a new cluster bootstrapped from a pgBackRest backup, for a pgbench database of a few GB, in
# the same run. Needs `pgbackrest` (Debian package) and about 5x the database's size on /tmp. Runs as the
# 'postgres' OS user when started as root.
# Usage: bash scripts/bench/restore.sh [--scale 150] [--process-max 2] [--compress lz4] [--keep]
set -euo pipefail
# shellcheck source=scripts/lib/staged_bench.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)/staged_bench.sh"
run_staged_bench scripts/bench/restore.ts "$@"
