#!/usr/bin/env bash
# Run the project's Deno (2.9.6 from the npm registry, installed into node_modules by scripts/setup.sh), or the
# one on PATH. deno.json's tasks go through here: inside `deno task`, a bare `deno` would resolve to the npm
# package's launcher script, which needs a platform package this install layout does not have.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$REPO/node_modules/deno/deno" ]; then exec "$REPO/node_modules/deno/deno" "$@"; fi
if command -v deno >/dev/null 2>&1; then exec deno "$@"; fi
bash "$REPO/scripts/setup.sh" >&2
exec "$REPO/node_modules/deno/deno" "$@"
