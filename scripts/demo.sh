#!/usr/bin/env bash
# The demo: from a clean folder, collect sessions, validate and run the bundled examples,
# publish every artifact to a local git repository and a static website, and show the results.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
FW="$ROOT/.venv/bin/flywheel"
say() { printf '\n== %s\n' "$*"; }
STEPS=12  # main-line commits of this repository to collect: enough for a real build log, quick to run

echo "flywheel demo, in $ROOT/demo (made afresh each time). Nothing leaves this machine: a local"
echo "bare git repository stands in for GitHub and the website is a folder of static files."

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
base_url = "http://127.0.0.1:8000/"   # where `flywheel site serve` shows it; your site's address goes here
TOML

say "flywheel plugins: what is installed"
"$FW" plugins
echo "(this demo publishes to github and web; bluesky and mastodon need an account, so they sit idle)"

say "flywheel collect: sessions from real sources"
RANGE="HEAD~$STEPS..HEAD"
if git -C "$ROOT" rev-parse -q --verify "HEAD~$STEPS" >/dev/null 2>&1; then
  # A range A..B is every commit B reaches and A does not: a merge brings its branch's commits.
  all=$(git -C "$ROOT" rev-list --count "$RANGE")
  merges=$(git -C "$ROOT" rev-list --count --first-parent --merges "$RANGE")
  "$FW" collect build --repo "$ROOT" --rev-range "$RANGE" --agent-id demo -o sessions/flywheel_repo_build.json
  echo "  range $RANGE of this repository: its last $STEPS commits on the main line ($merges of them"
  echo "  merges) and the $((all - STEPS)) commits those merges brought in from their branches, $all in all"
else
  echo "(skipped the build session of this repository: $ROOT has no commit $STEPS steps back"
  echo " on its main line; a shallow clone or a copy without .git. The bundled examples still run.)"
fi
# Interactive Brokers writes times in the account's zone without naming it: --tz names it.
"$FW" collect trade --csv "$ROOT/examples/exports/ibkr_trades.csv" --format ibkr --tz America/New_York \
  --agent-id demo -o sessions/ibkr_trade.json
echo "  from examples/exports/ibkr_trades.csv, an Interactive Brokers Flex export (New York times)"

say "flywheel validate sessions/*.json"
echo "(the bundled examples hold the mistakes agents make: totals that disagree with the data,"
echo " paths from another machine. flywheel warns, says why, and carries on; \`run\` warns again.)"
"$FW" validate sessions/*.json

say "flywheel run sessions/*.json --publish"
"$FW" run sessions/*.json --publish

say "What landed in the repository (git log of demo/published.git)"
git --git-dir=published.git log --stat=140 --stat-graph-width=20 --format='%h %s%n%n%b' main

say "The website (demo/site)"
echo "browse it:  (cd demo && ../.venv/bin/flywheel site serve)   then open http://127.0.0.1:8000/"
echo "            (its links need that server: opened as files, folders show instead of pages)"
echo
echo "artifacts:     demo/out/<session type>/<session id>/"
echo "session files: demo/sessions/ (each now records what was made from it and where it was published)"

say "Next: your own work"
echo "put flywheel on your PATH:  . .venv/bin/activate"
echo "then, in a repository of yours:"
echo "  flywheel init                                  # a commented flywheel.toml: add your targets there"
echo "  flywheel start --agent me                      # when the work begins"
echo "  flywheel end --summary \"What changed and why\"  # collect, write, publish"
echo "more: README.md (\"Using it\"), docs/agents.md (hooks, cron, CI)"
