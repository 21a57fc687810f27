#!/usr/bin/env bash
# The demo: from a clean folder, collect sessions, validate and run the bundled examples,
# publish every artifact to a local git repository and a static website, and show the results.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
FW="$ROOT/.venv/bin/flywheel"
say() { printf '\n== %s\n' "$*"; }

rm -rf demo && mkdir -p demo/sessions/screenshots
cp examples/*.json demo/sessions/
# The life_aria example names three screenshots that are not shipped: draw stand-ins, so the
# devlog has a gallery (EXIF stripped, thumbnails made, as for real screenshots).
"$ROOT/.venv/bin/python" - <<'PY'
from PIL import Image, ImageDraw
for i, colour in enumerate([(30, 60, 120), (120, 40, 90), (20, 110, 70)], 1):
    image = Image.new("RGB", (1280, 720), colour)
    ImageDraw.Draw(image).text((40, 40), f"SpaceExplorer gameplay {i}", fill="white")
    image.save(f"demo/sessions/screenshots/gameplay_{i:03d}.png")
PY
cd demo
git init --quiet --bare --initial-branch=main published.git
cat > flywheel.toml <<'TOML'
# The demo's config: artifacts into out/, state (queue, caches, site content) into .flywheel/.
out_dir = "out"
state_dir = ".flywheel"

[targets.github]          # a local bare repository stands in for GitHub
remote = "published.git"

[targets.web]             # a static site with feeds, built into site/
site_dir = "site"
title = "flywheel demo"
TOML

say "flywheel plugins"
"$FW" plugins

say "flywheel collect: sessions from real sources"
if git -C "$ROOT" rev-parse -q --verify 'HEAD~12' >/dev/null; then
  "$FW" collect build --repo "$ROOT" --rev-range 'HEAD~12..HEAD' --agent-id demo -o sessions/flywheel_repo_build.json
  echo "sessions/flywheel_repo_build.json: the last 12 commits of this repository"
fi
"$FW" collect trade --csv "$ROOT/examples/exports/ibkr_trades.csv" --format ibkr --agent-id demo -o sessions/ibkr_trade.json
echo "sessions/ibkr_trade.json: from an Interactive Brokers Flex export"

say "flywheel validate sessions/*.json"
echo "(the bundled examples contain the mistakes agents make: declared totals that disagree with"
echo " the data, paths from another machine. flywheel warns, says why, and carries on.)"
"$FW" validate sessions/*.json

say "flywheel run sessions/*.json --publish"
"$FW" run sessions/*.json --publish

say "What landed in the repository (git log of published.git)"
git --git-dir=published.git log --stat=100 --format='%h %s%n%n%b' main | head -60

say "The website"
echo "index: $PWD/site/index.html"
echo "browse it: cd $PWD && $FW site serve   # then open http://127.0.0.1:8000/"
echo
echo "Artifacts: $PWD/out   Session files (now recording what was made and published): $PWD/sessions"
