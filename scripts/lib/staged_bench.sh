# Runs one of scripts/bench/*.ts as the benchmarks do: after scripts/setup.sh (its output on stderr, so stdout holds
# only the benchmark's figures), from a staged copy of the checkout that the 'postgres' OS user can read when started
# as root (PostgreSQL refuses to run as root), the copy removed on exit.
# Usage (from a scripts/bench/*.sh): source this file, then `run_staged_bench scripts/bench/<name>.ts "$@"`.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DENO="$REPO/node_modules/deno/deno"

run_staged_bench() {
  local script=$1
  shift
  cd "$REPO"
  bash scripts/setup.sh >&2
  # shellcheck source=scripts/lib/as_postgres.sh
  source "$REPO/scripts/lib/as_postgres.sh"
  STAGE_DIR=$(mktemp -d /tmp/hactl-bench-stage.XXXXXX)
  trap 'rm -rf "$STAGE_DIR"' EXIT
  stage_repo "$STAGE_DIR"
  run_as_pg "$STAGED" "$RUN_DENO" run --allow-all "$script" "$@"
}
