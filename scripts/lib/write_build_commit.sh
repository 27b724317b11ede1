#!/usr/bin/env bash
# Writes a commit into a copy of src/core/build_commit.ts: `write_build_commit.sh FILE COMMIT` replaces the
# `unknown` of `BUILD_COMMIT` with COMMIT (letters, digits, '.', '_', '-' only) and fails when the file does not
# have the expected line. Used by scripts/build.sh just before `deno compile`; checked by tests/cli/build_commit_test.ts.
set -euo pipefail
file="$1"
commit="$2"
if ! [[ "$commit" =~ ^[A-Za-z0-9._-]+$ ]]; then
  echo "build: the commit must be letters, digits, '.', '_' or '-': '$commit'" >&2
  exit 1
fi
sed -i -E "s/^(export const BUILD_COMMIT: string = )\"unknown\";$/\1\"$commit\";/" "$file"
grep -q "^export const BUILD_COMMIT: string = \"$commit\";$" "$file" || {
  echo "build: could not write the commit into $file" >&2
  exit 1
}
