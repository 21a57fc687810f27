#!/usr/bin/env bash
# The demo: validate and run every bundled example session into ./demo, from a clean slate.
set -euo pipefail
cd "$(dirname "$0")/.."
FW="$PWD/.venv/bin/flywheel"
rm -rf demo && mkdir -p demo/sessions
cp examples/*.json demo/sessions/
cd demo
echo "== flywheel plugins"; "$FW" plugins
echo; echo "== flywheel validate"; "$FW" validate sessions/*.json
echo; echo "== flywheel run"; "$FW" run sessions/*.json --out out
echo; echo "Artifacts are in $PWD/out; the session files in $PWD/sessions now record them."
