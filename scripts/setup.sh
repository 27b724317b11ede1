#!/usr/bin/env bash
# Installs what hactl's demo and tests need on a Debian machine that has Node/npm, skipping what is present:
#   - Deno 2.9.6 from the npm registry (package.json pin, into ./node_modules)
#   - etcd 3.4 (etcd-server, etcd-client), PostgreSQL 15, systemd (for systemd-analyze), strace (for the watchdog
#     FFI test), nftables (the chaos suite) and prometheus (for promtool: the monitoring checks) from Debian's
#     packages
#     (needs root or sudo)
#   - for the interoperability tests (tests/integration/interop_test.ts), also from Debian: Patroni 3.0.2
#     (`patroni`, for its `patronictl`; python3-etcd is its etcd client), HAProxy 2.6 and vip-manager 1.0.2
#   - for scripts/compat/run.sh (Patroni's behave suite against hactl; not part of scripts/test.sh): behave and the
#     modules its harness imports (psycopg2, psutil, python-etcd, dnspython, urllib3, yaml, dateutil), from Debian
# Usage: scripts/setup.sh        (sourced by demo.sh and test.sh; safe to run again)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

say() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -x node_modules/deno/deno ] || ! node_modules/deno/deno --version 2>/dev/null | grep -q '^deno 2\.9\.6'; then
  say "installing Deno 2.9.6 from the npm registry"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
missing=()
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
# systemd-analyze checks the units in scripts/systemd/ (tests/cli/systemd_units_test.ts).
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v patronictl >/dev/null 2>&1 || missing+=(patroni)
# patroni accepts any one DCS client package; patronictl's `etcd3:` support needs python-etcd's.
/usr/bin/python3 -c 'import etcd' >/dev/null 2>&1 || missing+=(python3-etcd)
# Patroni's behave harness (scripts/compat/run.sh) runs under Debian's python3.
for mod in behave:python3-behave psycopg2:python3-psycopg2 psutil:python3-psutil dns:python3-dnspython \
  urllib3:python3-urllib3 yaml:python3-yaml dateutil:python3-dateutil; do
  /usr/bin/python3 -c "import ${mod%%:*}" >/dev/null 2>&1 || missing+=("${mod#*:}")
done
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v vip-manager >/dev/null 2>&1 || missing+=(vip-manager)
# strace checks the watchdog's ioctls from outside the process (tests/integration/watchdog_ffi_test.ts).
command -v strace >/dev/null 2>&1 || missing+=(strace)
# The chaos suite's network faults (nftables rules inside its own network namespaces).
command -v nft >/dev/null 2>&1 || missing+=(nftables)
# promtool checks docs/monitoring/'s alert rules and a live agent's /metrics (tests/cli/monitoring_test.ts).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# pgBackRest is the real backup tool of the restore tests (tests/integration/restore_test.ts).
command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)
# stress-ng saturates the cores and stalls fsync in the short-lease soak (scripts/bench/soak.sh).
command -v stress-ng >/dev/null 2>&1 || missing+=(stress-ng)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} from Debian's packages"
  $SUDO apt-get update -qq >&2
  # Debian starts the packaged services on install; hactl runs its own, so keep them from starting.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi
# Packaged services, if any were started before, would hold the default ports. (Debian's haproxy.cfg has no
# listener, and the tests start their own HAProxy with its own config on free ports.)
for svc in etcd postgresql haproxy vip-manager; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    say "note: the system's $svc service is running; hactl's demo and tests use their own ports"
  fi
done
say "ready: $(node_modules/deno/deno --version | head -n1), $(etcd --version | head -n1), postgres $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}')"
