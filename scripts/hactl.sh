#!/usr/bin/env bash
# Run hactl from this checkout without building the binary: bash scripts/hactl.sh <command> [options]
# (the same main.ts that `deno task build` compiles into dist/hactl).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DENO="$REPO/node_modules/deno/deno"
[ -x "$DENO" ] || bash "$REPO/scripts/setup.sh" >&2
exec "$DENO" run --allow-all --quiet "$REPO/main.ts" "$@"
