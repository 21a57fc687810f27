"""No absolute local path reaches anything published, for every session type, through the real CLI.

Sessions made the way people make them (`flywheel collect build` of a git history, `collect
aria` of notes and screenshots, `collect trade` of a broker export) whose text is full of the
author's paths: commit messages and the session's narrative, notes, screenshot paths and
captions, trade notes, the account. `flywheel run` then `flywheel publish` (web target) into a
temporary folder; every file written (artifacts, attachments, site pages, feeds, sitemap) is
read whole. (``scrub_paths`` itself: tests/test_localpaths.py.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from artifact_support import HISTORY, NOTES, aria_session, build_session, flywheel, screenshots, trade_session
from core_support import ROOT

# The bundled session plugins and the web target make what these tests read: skipped when
# flywheel-core is tested alone (scripts/test-isolated.sh); make test has them all.
for _plugin in ("flywheel_build", "flywheel_trade", "flywheel_aria", "flywheel_publish_web"):
    pytest.importorskip(_plugin)

USER = "zzleak"
#: Paths as an author writes them, on every system, each naming USER.
SAID = (f"Logs went to /tmp/{USER}-garden/run.log and /home/{USER}/.config/garden.toml; on the Mac "
        f"/Users/{USER}/Library/Garden, on Windows C:\\Users\\{USER}\\AppData\\Garden\\save.json.")
HISTORY_WITH_PATHS = [*HISTORY[:-1], (
    "src/garden/save.py", "def save():\n    pass\n",
    f"fix: save to the user's folder, not /home/{USER}/garden\n\n{SAID}", None, "2025-12-01T14:00:00Z")]
NOTES_WITH_PATHS = NOTES.replace("## Why", f"The page lives in /home/{USER}/sites/garden/index.html for now.\n\n"
                                 f"![A sprite](/Users/{USER}/Pictures/sprite.png)\n\n## Why") + f"\n{SAID}\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(f"{USER}-home")
    elsewhere = screenshots(root / f"{USER}-pictures", "night.png")
    (root / "flywheel.toml").write_text(f'media_roots = ["{elsewhere.name}"]\n\n[targets.web]\n'
                                        'base_url = "https://journal.example.org/"\nsite_dir = "site"\n', encoding="utf-8")
    (root / "b").mkdir()
    build = build_session(root / "b", HISTORY_WITH_PATHS, "--summary", f"Saves now go to the user's folder. {SAID}",
                          "--highlight", f"No more /home/{USER} in the code", "--lesson", SAID)
    aria = aria_session(root, NOTES_WITH_PATHS)
    session = json.loads(aria.read_text(encoding="utf-8"))
    session["source_data"]["screenshots"] += [
        {"path": str(elsewhere / "night.png"), "caption": f"At night, from /Users/{USER}/Desktop/night.png",
         "alt": f"C:\\Users\\{USER}\\night.png"},
        f"/home/{USER}/missing.png"]
    aria.write_text(json.dumps(session), encoding="utf-8")
    trade = trade_session(root, {0: f"Chart saved as /Users/{USER}/charts/aapl.png", 3: SAID},
                          {"lessons": SAID, "market_analysis": f"Levels from C:\\Users\\{USER}\\levels.xlsx"},
                          account=f"/home/{USER}/broker/U1234567")
    flywheel(root, "run", build, aria, trade)
    flywheel(root, "publish")
    return root


def _leaks(root: Path) -> list[re.Pattern[str]]:
    where = {str(root), str(root.resolve()), str(ROOT), USER, str(Path.home())}
    return [re.compile(re.escape(w), re.IGNORECASE) for w in where if len(w) > 1] + [
        re.compile(r"(?<![\w.:/-])/(home|Users|tmp|root|private|var/folders)/", re.IGNORECASE),
        re.compile(r"(?<![A-Za-z])[A-Za-z]:\\{1,2}(Users|Documents and Settings)\b", re.IGNORECASE),
        re.compile(r"\bfile:/", re.IGNORECASE),
    ]


def test_every_file_written_is_free_of_local_paths(root):
    out, site = root / "flywheel-out", root / "site"
    files = sorted(p for folder in (out, site) for p in folder.rglob("*") if p.is_file())
    kinds = {p.name for p in files}
    assert {"blog_post.md", "build_log.md", "readme.md", "devlog.md", "trade_journal.md", "trade_metrics.json",
            "social_post.json", "index.html", "feed.xml", "rss.xml", "sitemap.xml"} <= kinds, kinds
    assert len(list(out.glob("life_aria/*/media/*.png"))) >= 4, "the screenshots, from both folders, are published"
    found = []
    for path in files:
        text = path.read_bytes().decode("latin-1")  # images and all: a path in PNG metadata counts too
        for pattern in _leaks(root):
            if m := pattern.search(text):
                found.append(f"{path.relative_to(root)}: {text[max(0, m.start() - 60):m.end() + 60]!r}")
    assert not found, "local paths published:\n" + "\n".join(found)


def test_what_the_paths_named_is_still_said(root):
    """The paths are reduced to their last part, not the sentences around them cut out."""
    (blog,) = (root / "flywheel-out" / "build").glob("*/blog_post.md")
    (devlog,) = (root / "flywheel-out" / "life_aria").glob("*/devlog.md")
    (journal,) = (root / "flywheel-out" / "trade").glob("*/trade_journal.md")
    for path in (blog, devlog, journal):
        text = path.read_text(encoding="utf-8")
        assert "garden.toml" in text and "save.json" in text, path.name
    assert "index.html for now" in devlog.read_text(encoding="utf-8")
    assert "aapl.png" in journal.read_text(encoding="utf-8")
