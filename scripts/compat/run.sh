#!/usr/bin/env bash
# Runs Patroni's own acceptance suite (behave, features/ of Patroni's repository) against hactl, one feature file at
# a time, and prints a per-scenario table (docs/compatibility.md#patronis-acceptance-suite).
#
# Usage: scripts/compat/run.sh [--no-tls] [--timeout SEC] [--out DIR] [--keep] [PATRONI_TREE] [FEATURE...]
#   PATRONI_TREE  a directory holding Patroni's source (features/, postgres0.yml, the patroni package the harness
#                 imports); default: HEAD of the git directory $PATRONI_GIT (default /work/patroni-src), exported
#                 with `git archive`. Either way the suite runs in a scratch copy; nothing of Patroni is kept here.
#   FEATURE       feature names (basic_replication or features/basic_replication.feature); default: all of them,
#                 basic_replication and patroni_api first.
#   --no-tls      hide `openssl` from the harness, which then configures no TLS (REST API, PostgreSQL, client
#                 certificates); by default the harness's TLS setup is used, as when Patroni runs its suite.
#   --timeout SEC per feature file (default 600); a feature cut short reports its unfinished scenarios as such.
#   --out DIR     where the results go (default /tmp/hactl-compat-<time>): <feature>.txt (behave's plain output),
#                 <feature>.output/ (the harness's logs: each member's agent and PostgreSQL log), table.md.
#   --keep        keep the scratch tree (printed at the end).
# What it does: copies the harness, applies scripts/compat/patch_harness.py (members run as `hactl agent <yml>`,
# control steps as `hactl <command>`), then runs `python3 -m behave` with DCS=etcd3 (the harness starts its own
# etcd on 127.0.0.1:2379) and PostgreSQL 15's binaries first on PATH. As root, the harness and the agents run as
# the 'postgres' OS user from a staged copy of this repository (PostgreSQL refuses to run as root).
# Needs: scripts/setup.sh (etcd, PostgreSQL 15, python3-behave, python3-psycopg2, python3-etcd, python3-psutil).
# Heavy: run it under the shared lock, e.g. `flock /tmp/hactl-heavy.lock bash scripts/compat/run.sh basic_replication`.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DENO="$REPO/node_modules/deno/deno"
[ -x "$DENO" ] || bash "$REPO/scripts/setup.sh" >&2
# shellcheck source=scripts/lib/as_postgres.sh
source "$REPO/scripts/lib/as_postgres.sh"

say() { printf '[compat] %s\n' "$*" >&2; }

no_tls=0
timeout_s=600
out=""
keep=0
tree_arg=""
features=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-tls) no_tls=1 ;;
    --timeout) timeout_s="$2"; shift ;;
    --out) out="$2"; shift ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) say "unknown option $1"; exit 2 ;;
    *)
      if [ -z "$tree_arg" ] && [ ${#features[@]} -eq 0 ] && [ -d "$1" ]; then tree_arg="$1"; else features+=("$1"); fi
      ;;
  esac
  shift
done

work=$(mktemp -d /tmp/hactl-compat-work.XXXXXX)
chmod 755 "$work"
tree="$work/patroni"
mkdir -p "$tree"
if [ -n "$tree_arg" ]; then
  (cd "$tree_arg" && tar --exclude=./.git --exclude=./features/output -cf - .) | tar -xf - -C "$tree"
  source_desc="$tree_arg"
else
  git_dir="${PATRONI_GIT:-/work/patroni-src}"
  git --git-dir="$git_dir" archive HEAD | tar -x -C "$tree" || { say "cannot export HEAD of $git_dir"; exit 1; }
  source_desc="$git_dir at $(git --git-dir="$git_dir" rev-parse --short HEAD)"
fi
[ -f "$tree/features/environment.py" ] || { say "$tree_arg: no features/environment.py (not a Patroni tree?)"; exit 1; }
patroni_version=$(sed -nE "s/^__version__ = '([^']+)'.*/\1/p" "$tree/patroni/version.py" 2>/dev/null)

# hactl as the agents' user runs it: a staged copy when root (see scripts/lib/as_postgres.sh).
stage_repo "$work/hactl"
hactl_argv=("$RUN_DENO" run --allow-all --quiet "--v8-flags=--max-semi-space-size=1" "$STAGED/main.ts")
/usr/bin/python3 "$REPO/scripts/compat/patch_harness.py" "$tree" "${hactl_argv[@]}" || exit 1
if [ "$no_tls" = 1 ]; then
  # The harness turns TLS on only when `openssl req` succeeds.
  mkdir -p "$work/bin"
  printf '#!/bin/sh\nexit 1\n' >"$work/bin/openssl"
  chmod 755 "$work/bin/openssl"
fi
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$work"

for i in "${!features[@]}"; do
  features[i]=$(basename "${features[i]}" .feature)
  [ -f "$tree/features/${features[i]}.feature" ] || { say "no feature file features/${features[i]}.feature"; exit 2; }
done
if [ ${#features[@]} -eq 0 ]; then
  features=(basic_replication patroni_api)
  for f in "$tree"/features/*.feature; do
    n=$(basename "$f" .feature)
    [ "$n" = basic_replication ] || [ "$n" = patroni_api ] || features+=("$n")
  done
fi

out="${out:-/tmp/hactl-compat-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
chmod 755 "$out"
say "Patroni tree: $source_desc (version ${patroni_version:-?}); hactl: $REPO ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null))"
say "results in $out"
path_extra=""
[ "$no_tls" = 1 ] && path_extra="$work/bin:"
logs=()
for feature in "${features[@]}"; do
  logs+=("$out/$feature.txt")
  cp "$tree/features/$feature.feature" "$out/$feature.feature"
  say "$feature: running (at most ${timeout_s}s)"
  started=$(date +%s)
  # timeout signals its whole process group: behave, the etcd and the agents it started.
  run_as_pg "$tree" env PATH="$path_extra$PG_BIN:/usr/local/bin:/usr/bin:/bin" DCS=etcd3 LANG=C.UTF-8 PYTHONUNBUFFERED=1 \
    timeout -k 30 "$timeout_s" /usr/bin/python3 -m behave --no-color --format plain --no-capture \
    --no-capture-stderr --no-logcapture "features/$feature.feature" >"$out/$feature.txt" 2>&1
  rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "COMPAT-RUNNER: timeout after ${timeout_s}s" >>"$out/$feature.txt"
    # Anything the group kill missed: PostgreSQL started under the scratch tree, by its data directories.
    for pid_file in "$tree"/data/*/postmaster.pid; do
      [ -f "$pid_file" ] && run_as_pg "$tree" pg_ctl stop -D "$(dirname "$pid_file")" -m immediate -w >/dev/null 2>&1
    done
  fi
  say "$feature: behave exited $rc after $(( $(date +%s) - started ))s"
  [ -d "$tree/features/output" ] && cp -r "$tree/features/output" "$out/$feature.output" 2>/dev/null
  rm -rf "$tree/features/output" "$tree/data"
done

"$DENO" run --allow-read --allow-write "$REPO/scripts/compat/report.ts" --title \
  "Patroni ${patroni_version:-?} acceptance suite against hactl $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null), $(date -u +%Y-%m-%d), TLS $([ "$no_tls" = 1 ] && echo off || echo on)" \
  --out "$out/table.md" "${logs[@]}"
if [ "$keep" = 1 ]; then say "scratch tree kept: $tree"; else rm -rf "$work"; fi
