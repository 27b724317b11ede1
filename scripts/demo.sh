#!/usr/bin/env bash
# The demo: installs what is missing (Deno, etcd, PostgreSQL 15), starts a 3-member etcd and three hactl agents on
# loopback (etcd 2379/2389/2399, Postgres 5432-5434, REST API 8008-8010), waits until the cluster has one primary
# and two streaming replicas, and prints 'hactl list'.
# Usage: bash scripts/demo.sh [start|stop]      (data and logs in .hactl/demo, or /var/tmp/hactl-demo as root)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
action="${1:-start}"
bash scripts/setup.sh
DENO="$REPO/node_modules/deno/deno"
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"
if [ "$(id -u)" = 0 ]; then
  DEMO_DIR=/var/tmp/hactl-demo
  CODE=/var/tmp/hactl-demo-code
else
  DEMO_DIR="$REPO/.hactl/demo"
  CODE=""
fi
mkdir -p "$DEMO_DIR"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$DEMO_DIR"
case "$action" in
  start)
    if [ -n "$CODE" ] && [ -e "$DEMO_DIR/pids" ]; then
      STAGED="$CODE"; RUN_DENO="$CODE/.bin/deno"
    else
      stage_repo "${CODE:-/unused}"
    fi
    run_as_pg "$STAGED" "$RUN_DENO" run --allow-all scripts/demo.ts up "$DEMO_DIR"
    ;;
  stop)
    dir="${CODE:-$REPO}"
    RUN_DENO="$DENO"; [ -n "$CODE" ] && RUN_DENO="$CODE/.bin/deno"
    run_as_pg "$dir" "$RUN_DENO" run --allow-all scripts/demo.ts down "$DEMO_DIR"
    ;;
  *) echo "usage: bash scripts/demo.sh [start|stop]" >&2; exit 2 ;;
esac
