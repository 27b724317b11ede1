#!/usr/bin/env bash
# Logging benchmark (see log.ts): lines per second through the log pipeline (format, JSON, redaction, file
# rotation), one JSON line per case. Usage: bash scripts/bench/log.sh [--lines N]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
bash scripts/setup.sh >&2
exec "$REPO/node_modules/deno/deno" run --allow-all scripts/bench/log.ts "$@"
