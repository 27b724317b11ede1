# Sourced by scripts/test.sh and scripts/demo.sh. PostgreSQL refuses to run as root, so when this runs as root
# the agents run as the 'postgres' OS user. `run_as_pg DIR CMD...` runs CMD in DIR as that user (or as the
# current user when not root). When the checkout is not readable by 'postgres' (e.g. under /root), `stage_repo`
# copies it (without node_modules/.git) to a folder that user owns, with the Deno binary beside it.
# Needs: REPO, DENO.

PG_BIN=/usr/lib/postgresql/15/bin

# Set STAGED to a directory holding the project that the agents' user can read, and RUN_DENO to a Deno it can run.
stage_repo() {
  local stage="$1"
  if [ "$(id -u)" != 0 ]; then
    RUN_DENO="$DENO"
    STAGED="$REPO"
    return
  fi
  rm -rf "$stage" && mkdir -p "$stage/.bin"
  (cd "$REPO" && tar --exclude=./node_modules --exclude=./.git --exclude=./.hactl --exclude=./dist -cf - .) |
    tar -xf - -C "$stage"
  cp "$DENO" "$stage/.bin/deno"
  chown -R postgres:postgres "$stage"
  RUN_DENO="$stage/.bin/deno"
  STAGED="$stage"
}

run_as_pg() {
  local dir="$1"
  shift
  if [ "$(id -u)" = 0 ]; then
    local cache=/var/tmp/hactl-deno-postgres var keep=()
    mkdir -p "$cache" && chown postgres:postgres "$cache"
    # The registry may sit behind a TLS proxy with its own CA: keep the trust and proxy settings.
    for var in SSL_CERT_FILE SSL_CERT_DIR DENO_CERT DENO_TLS_CA_STORE NODE_EXTRA_CA_CERTS \
      HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy NPM_CONFIG_REGISTRY HACTL_V8_FLAGS HACTL_BENCH_KEEP; do
      [ -n "${!var:-}" ] && keep+=("$var=${!var}")
    done
    (cd "$dir" && runuser -u postgres -- env -i "${keep[@]}" HOME="$dir" DENO_DIR="$cache" NO_COLOR=1 CI="${CI:-}" \
      PATH="$PG_BIN:/usr/local/bin:/usr/bin:/bin" HACTL_TEST_LOGS="${HACTL_TEST_LOGS:-}" "$@")
  else
    (cd "$dir" && env PATH="$PG_BIN:$PATH" "$@")
  fi
}
