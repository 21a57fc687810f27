#!/usr/bin/env bash
# Test each distribution installed on its own, in a throwaway virtualenv: flywheel-core alone,
# then each plugin (plugins/*, examples/plugins/*) with only flywheel-core and the packages it
# declares (dependencies + its [test] extra). An undeclared import of another plugin, or of a
# package the distribution does not declare, fails here; so does a template left out of a wheel.
#
#   scripts/test-isolated.sh                               # every distribution
#   scripts/test-isolated.sh core plugins/flywheel_trade   # some of them
#
# Distributions are installed as wheels (not editable), built once per run. Third-party wheels
# come from a wheelhouse (FLYWHEEL_WHEELHOUSE, default ~/.cache/flywheel/wheelhouse) filled from
# PyPI the first time and reused offline afterwards. JOBS (default: the number of cores) venvs
# are tested at once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
WHEELHOUSE=${FLYWHEEL_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/flywheel/wheelhouse}
LOGS=$ROOT/test-artifacts/isolated  # one log per distribution, kept after the run
WORK=$(mktemp -d "${TMPDIR:-/tmp}/flywheel-isolated.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
rm -rf "$LOGS"
mkdir -p "$WHEELHOUSE" "$WORK/src" "$WORK/dists" "$LOGS"
export PIP_DISABLE_PIP_VERSION_CHECK=1
start=$SECONDS

# Commits made by tests need an identity; lend one through the environment when git has none,
# rather than writing to the user's ~/.gitconfig.
git config user.name >/dev/null 2>&1 || export GIT_AUTHOR_NAME="flywheel tests" GIT_COMMITTER_NAME="flywheel tests"
git config user.email >/dev/null 2>&1 || export GIT_AUTHOR_EMAIL="tests@flywheel.invalid" GIT_COMMITTER_EMAIL="tests@flywheel.invalid"

[ $# -gt 0 ] || set -- core plugins/*/ examples/plugins/*/
DISTS=()
for arg in "$@"; do
  arg=${arg%/}
  if [ "$arg" = core ] || [ "$arg" = . ]; then DISTS+=(core); continue; fi
  [ -f "$arg/pyproject.toml" ] || { echo "test-isolated: $arg has no pyproject.toml" >&2; exit 2; }
  DISTS+=("$arg")
done

# A tool venv with pip and a current setuptools builds every wheel without build isolation.
TOOL="$WORK/tool/bin/python"
if "$PYTHON" -m pip --version >/dev/null 2>&1; then
  "$PYTHON" -m venv --without-pip "$WORK/tool"  # seconds faster than ensurepip
  tool_install() { "$PYTHON" -m pip --python "$TOOL" install -q --no-compile --find-links "$WHEELHOUSE" "$@" pip "setuptools>=70.1"; }
else
  "$PYTHON" -m venv "$WORK/tool"
  tool_install() { "$TOOL" -m pip install -q --no-compile --find-links "$WHEELHOUSE" "$@" pip "setuptools>=70.1"; }
fi
tool_install --no-index 2>/dev/null || tool_install
FOLDERS=(.)
for d in "${DISTS[@]}"; do [ "$d" = core ] || FOLDERS+=("$d"); done
"$TOOL" - "${FOLDERS[@]}" >"$WORK/requirements.txt" <<'PY'
import re, sys, tomllib
wanted = {"setuptools>=70.1", "pip"}
for folder in sys.argv[1:]:
    project = tomllib.load(open(f"{folder}/pyproject.toml", "rb"))["project"]
    for req in project.get("dependencies", []) + project.get("optional-dependencies", {}).get("test", []):
        if not re.match(r"flywheel[-_.]", req.lower()):
            wanted.add(req)
print("\n".join(sorted(wanted)))
PY
wheel() { "$TOOL" -m pip wheel -q --find-links "$WHEELHOUSE" --wheel-dir "$WHEELHOUSE" "$@" -r "$WORK/requirements.txt"; }
if ! wheel --no-index >/dev/null 2>&1; then
  echo "test-isolated: filling the wheelhouse $WHEELHOUSE from PyPI (once)"
  wheel >"$LOGS/wheelhouse.log" 2>&1 || { grep -v '^WARNING: Location' "$LOGS/wheelhouse.log" >&2; exit 1; }
fi

# Build each distribution from a clean copy: a stale build/ folder must not leak old files in.
COPIES=()
for folder in "${FOLDERS[@]}"; do
  copy="$WORK/src/$(basename "$(cd "$folder" && pwd)")"
  mkdir -p "$copy"
  tar -C "$folder" --exclude=./.git --exclude=./.venv --exclude=./plugins --exclude=./examples \
      --exclude=./build --exclude=./dist --exclude='*.egg-info' --exclude=__pycache__ \
      --exclude=./demo --exclude=./flywheel-out --exclude=./.flywheel --exclude=./test-artifacts -cf - . \
    | tar -C "$copy" -xf -
  COPIES+=("$copy")
done
"$TOOL" -m pip wheel -q --no-deps --no-build-isolation --no-index --wheel-dir "$WORK/dists" "${COPIES[@]}" \
  >"$LOGS/build.log" 2>&1 || { cat "$LOGS/build.log" >&2; exit 1; }
echo "test-isolated: built ${#FOLDERS[@]} wheels in $((SECONDS - start)) s"

run_one() {
  local dist=$1 slug tests requirement venv begin code
  begin=$SECONDS
  if [ "$dist" = core ]; then
    slug=flywheel-core requirement=() tests=tests
  else
    slug=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$dist/pyproject.toml" | head -1)
    requirement=("$slug[test]")
    tests=$dist/tests; [ -d "$tests" ] || tests=$dist
  fi
  venv="$WORK/venv-$slug"
  {
    "$PYTHON" -m venv --without-pip "$venv"
    # pip itself too: core's tests install generated plugins into venvs of their own.
    PIP_NO_INDEX=1 "$TOOL" -m pip --python "$venv/bin/python" install -q --no-compile --no-index \
      --find-links "$WHEELHOUSE" --find-links "$WORK/dists" pip "flywheel-core[test]" "${requirement[@]}"
    # -P: the source folders must not shadow the installed wheels.
    PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELHOUSE" \
      "$venv/bin/python" -P -m pytest -q -p no:cacheprovider -m "not soak" "$tests"
  } >"$LOGS/$slug.log" 2>&1 && code=0 || code=$?
  [ "$code" -eq 5 ] && echo "pytest collected no tests" >>"$LOGS/$slug.log"
  local summary
  summary=$(grep -E '(passed|failed|error|no tests ran)' "$LOGS/$slug.log" | tail -1 | tr -d '=' | xargs || true)
  if [ "$code" -eq 0 ]; then
    echo "PASS $slug ($((SECONDS - begin)) s): $summary"
  else
    echo "FAIL $slug ($((SECONDS - begin)) s): ${summary:-exit $code}"
    touch "$LOGS/$slug.failed"
  fi
}
export -f run_one
export PYTHON TOOL WORK WHEELHOUSE LOGS
printf '%s\n' "${DISTS[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one "$1"' _ {}

failed=0
for marker in "$LOGS"/*.failed; do
  [ -e "$marker" ] || continue
  failed=1
  log=${marker%.failed}.log
  echo "----- $(basename "$log" .log): last 40 lines (whole log: ${log#"$ROOT"/}) -----"
  tail -40 "$log"
done
echo "test-isolated: ${#DISTS[@]} distributions in $((SECONDS - start)) s"
exit "$failed"
