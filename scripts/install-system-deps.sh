#!/usr/bin/env bash
# System packages the tests need that pip cannot provide: Debian's Chromium for browser tests,
# PostgreSQL for the queue tests on the shared backend (the tests start a throwaway server from
# its programs; they fail, saying why, without it). Runs as root in CI (and on a fresh machine);
# skips what is already there.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v git >/dev/null 2>&1 || need+=(git)
command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "warning: missing ${need[*]} (browser tests will be skipped, PostgreSQL tests will fail); install them as root" >&2
  fi
fi
