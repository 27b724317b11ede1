#!/usr/bin/env bash
# Restore and clone benchmark (see restore.ts): wall time of a replica by pg_basebackup, a replica by a pgBackRest
# replica method and a new cluster bootstrapped from a pgBackRest backup, for a pgbench database of a few GB, in
# the same run. Needs `pgbackrest` (Debian package) and about 5x the database's size on /tmp. Runs as the
# 'postgres' OS user when started as root.
# Usage: bash scripts/bench/restore.sh [--scale 150] [--process-max 2] [--compress lz4] [--keep]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
bash scripts/setup.sh >&2
DENO="$REPO/node_modules/deno/deno"
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"
STAGE_DIR=$(mktemp -d /tmp/hactl-bench-restore-stage.XXXXXX)
trap 'rm -rf "$STAGE_DIR"' EXIT
stage_repo "$STAGE_DIR"
run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/bench/restore.ts "$@"
