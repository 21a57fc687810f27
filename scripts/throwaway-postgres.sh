#!/usr/bin/env bash
# A throwaway PostgreSQL server for trying a fleet by hand (the tests start their own):
#   scripts/throwaway-postgres.sh start [FOLDER]   # prints its URL; data in FOLDER (default .cache/postgres)
#   scripts/throwaway-postgres.sh stop [FOLDER]
# initdb in FOLDER, a free port on 127.0.0.1, no password (it is a test server), fsync off. As root
# the server runs as the 'postgres' user of Debian's postgresql package (initdb refuses root).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,3p' "$0" >&2; exit 2; }
bash scripts/install-system-deps.sh >/dev/null
exec .venv/bin/python -m flywheel_core.throwaway_postgres "$1" "${2:-.cache/postgres}"
