#!/usr/bin/env bash
# The chaos suite with repetitions (see run.ts): a 3-member cluster with each member (etcd, agent, PostgreSQL) in
# its own network namespace, faults injected into the leader's namespace or into etcd, one JSON line per run on
# stdout and a markdown table (min–max per fault) at the end. Needs root (namespaces, nftables); the agents run as
# the 'postgres' OS user from a staged copy of the checkout.
# Usage: bash scripts/chaos/run.sh [--reps N] [--faults freeze,agent-kill,...] [--ttl 10|30] [--soak MINUTES]
# Environment: HACTL_CHAOS_SYNC=on|strict|quorum (synchronous_mode, scripts/chaos/sync.ts), HACTL_CHAOS_FAILSAFE=on,
# HACTL_CHAOS_FENCE_SUPERVISOR=off.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
if [ "$(id -u)" != 0 ]; then
  echo "scripts/chaos/run.sh needs root (it creates network namespaces and a bridge)" >&2
  exit 2
fi
bash scripts/setup.sh >&2
DENO="$REPO/node_modules/deno/deno"
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"
STAGE_DIR=$(mktemp -d /tmp/hactl-chaos-stage.XXXXXX)
trap 'rm -rf "$STAGE_DIR"' EXIT
stage_repo "$STAGE_DIR"
cd "$STAGED" && NO_COLOR=1 "$RUN_DENO" run --allow-all scripts/chaos/run.ts "$@"
