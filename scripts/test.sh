#!/usr/bin/env bash
# The full test suite: installs what is missing (scripts/setup.sh), then runs the tiers (tests/README.md says
# which test goes where):
#   unit        tests/unit/   hactl's code in the test's own process: pure modules, the agent and the commands on
#               fakes, the REST handler (also on a real local listener); no etcd, no PostgreSQL (current user)
#   cli         tests/cli/    hactl run as a child process (main.ts, a command's run() under `deno eval`, or a
#               tool reading what hactl ships): exit codes and output; no etcd, no PostgreSQL (current user)
#   sim         tests/sim/    multi-member simulation of the real Agent on fakes, in virtual time (current user)
#   integration tests/integration/  real etcd and PostgreSQL 15 processes (and HAProxy, Patroni, strace) started
#               by the tests themselves, plus the contract suites that hold the fakes to the real thing
#               (as the 'postgres' OS user when run as root: PostgreSQL refuses to run as root)
#   chaos       tests/chaos/  each member in its own network namespace, one run per fault (needs root: the tests
#               run as root and start the agents as 'postgres'; as another user they are only loaded, and
#               reported as ignored, so the tally counts them as skipped)
# and ends with 'skipped: N' (deno test's ignored tests, including a tier skipped for lack of root) and then the one
# closing line CI reads: 'tests: N passed, N failed'. Exit code 0 only when nothing failed.
# Usage: scripts/test.sh [all|unit|cli|sim|integration|chaos] [extra deno test args...]
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh || { echo "setup failed"; echo "tests: 0 passed, 1 failed"; exit 1; }
DENO="$REPO/node_modules/deno/deno"
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"
which="${1:-all}"
shift || true
LOGDIR="$(mktemp -d /tmp/hactl-test-logs.XXXXXX)"
chmod 755 "$LOGDIR"
# Integration tests run as postgres and copy agent logs here (HACTL_TEST_LOGS).
[ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && chown postgres "$LOGDIR"
passed=0
failed=0
skipped=0
started=$(date +%s)

# Parse deno test's closing line ("ok | 12 passed | 0 failed | 1 ignored (3s)") from a log; ignored tests count as
# skipped (tests left out by --filter do not count at all); no line counts as one failure.
tally() {
  local log="$1" line p f i
  line=$(grep -aE '^(ok|FAILED) \| [0-9]+ passed.* \| [0-9]+ failed' "$log" | tail -n1 || true)
  if [ -z "$line" ]; then
    echo "[test] $(basename "$log" .log): no test summary (crash or compile error), counted as 1 failure" >&2
    failed=$((failed + 1))
    return
  fi
  p=$(sed -E 's/^.*\| ([0-9]+) passed.*$/\1/' <<<"$line")
  f=$(sed -E 's/^.*\| ([0-9]+) failed.*$/\1/' <<<"$line")
  i=0
  if [[ "$line" =~ \|\ ([0-9]+)\ ignored ]]; then i="${BASH_REMATCH[1]}"; fi
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + i))
}

run_local() { # name dir
  local name="$1" dir="$2"
  echo "[test] $name: $dir" >&2
  timeout 900 "$DENO" test --allow-all "$dir" "${EXTRA[@]}" 2>&1 | tee "$LOGDIR/$name.log"
  tally "$LOGDIR/$name.log"
}

run_integration() {
  echo "[test] integration: tests/integration/" >&2
  # A stage of its own per run: two runs at once must not clobber each other's copy.
  STAGE_DIR=$(mktemp -d /tmp/hactl-test-stage.XXXXXX)
  trap 'rm -rf "$STAGE_DIR"' EXIT
  stage_repo "$STAGE_DIR"
  HACTL_TEST_LOGS="$LOGDIR" run_as_pg "$STAGED" timeout 1500 "$RUN_DENO" test --allow-all tests/integration/ \
    "${EXTRA[@]}" 2>&1 | tee "$LOGDIR/integration.log"
  tally "$LOGDIR/integration.log"
}

run_chaos() {
  if [ "$(id -u)" != 0 ]; then
    # The tests mark themselves ignored without root: loading them counts what was skipped.
    echo "[test] chaos: skipped (needs root for network namespaces; run scripts/test.sh chaos as root)" >&2
    timeout 300 "$DENO" test --allow-all tests/chaos/ "${EXTRA[@]}" >"$LOGDIR/chaos.log" 2>&1
    tally "$LOGDIR/chaos.log"
    return
  fi
  echo "[test] chaos: tests/chaos/" >&2
  # The agents run as 'postgres' from a staged copy it can read; the test itself stays root (namespaces).
  CHAOS_STAGE=$(mktemp -d /tmp/hactl-chaos-stage.XXXXXX)
  stage_repo "$CHAOS_STAGE"
  (cd "$STAGED" && HACTL_TEST_LOGS="$LOGDIR" timeout 900 "$RUN_DENO" test --allow-all tests/chaos/ "${EXTRA[@]}") 2>&1 |
    tee "$LOGDIR/chaos.log"
  rm -rf "$CHAOS_STAGE"
  tally "$LOGDIR/chaos.log"
}

EXTRA=("$@")
export NO_COLOR=1
case "$which" in
  unit) run_local unit tests/unit/ ;;
  sim) run_local sim tests/sim/ ;;
  cli) run_local cli tests/cli/ ;;
  integration) run_integration ;;
  chaos) run_chaos ;;
  all)
    run_local unit tests/unit/
    run_local cli tests/cli/
    run_local sim tests/sim/
    run_integration
    run_chaos
    ;;
  *) echo "usage: scripts/test.sh [all|unit|cli|sim|integration|chaos]" >&2; exit 2 ;;
esac
echo "[test] logs in $LOGDIR; took $(( $(date +%s) - started ))s" >&2
echo "skipped: $skipped"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
