#!/usr/bin/env bash
# Runs the whole suite (soak tests excluded: `make soak`). pytest's exit 5 (no tests ran) fails.
# Tests run in one pytest-xdist worker per core (FLYWHEEL_TEST_WORKERS overrides; 0 runs them in
# this process): many of them wait on subprocesses, fsync, servers or Chromium. Each test file
# stays on one worker (--dist loadfile), so module fixtures (a virtualenv, a browser) are made once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
# The Bluesky tests' reference PDS (Node 22 + @atproto/dev-env, cached in .cache/pds). If it cannot be
# installed, those tests fail and say why; the rest of the suite still runs.
bash scripts/install-pds.sh >/dev/null || echo "warning: scripts/install-pds.sh failed: the Bluesky tests will fail" >&2
# Commits made by tests need an identity; lend one through the environment when git has none,
# rather than writing to the user's ~/.gitconfig.
git config user.name >/dev/null 2>&1 || export GIT_AUTHOR_NAME="flywheel tests" GIT_COMMITTER_NAME="flywheel tests"
git config user.email >/dev/null 2>&1 || export GIT_AUTHOR_EMAIL="tests@flywheel.invalid" GIT_COMMITTER_EMAIL="tests@flywheel.invalid"
workers=${FLYWHEEL_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}
[ "$workers" -le 8 ] || workers=8  # each may start PostgreSQL, a PDS and Chromium: more buys little
set +e
.venv/bin/python -m pytest -m "not soak" -q -p no:cacheprovider -n "$workers" --dist loadfile "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$code"
