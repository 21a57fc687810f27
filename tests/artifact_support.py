"""Sessions of every type made the way people make them, and what a reader sees of an artifact."""

from __future__ import annotations

import collections
import html.parser
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from core_support import EXAMPLES, FLYWHEEL

#: The session plugins and the web target: what `flywheel run` and `publish` load here.
PLUGINS = "build,trade,aria,web"


def flywheel(root: Path, *args: Any) -> subprocess.CompletedProcess[str]:
    """``flywheel ARGS`` as a real process in ``root``, with only the session plugins and the web
    target loaded and no user config; fails the test on an exit code other than 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "GIT_"))}
    env.update(FLYWHEEL_LOAD_PLUGINS=PLUGINS, XDG_CONFIG_HOME=str(root / ".config"), XDG_CACHE_HOME=str(root / ".cache"))
    proc = subprocess.run([str(FLYWHEEL), *map(str, args)], cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"flywheel {' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
    return proc


def git(repo: Path, *args: str, when: str | None = None, author: tuple[str, str] = ("Ann Lee", "ann@example.org")) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1], GIT_COMMITTER_NAME=author[0],
               GIT_COMMITTER_EMAIL=author[1], GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    if when:
        env.update(GIT_AUTHOR_DATE=when, GIT_COMMITTER_DATE=when)
    subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True)


#: (path, text, subject and body, author, time) of each commit of a small project's history.
HISTORY = [
    ("src/garden/core.py", "PLOTS = 16\n", "Initial layout", None, "2025-12-01T09:00:00Z"),
    ("src/garden/core.py", "PLOTS = 16\n\ndef grow(plant, hours):\n    return plant\n",
     "feat: plants grow over real hours\n\nSeeds planted with a click now grow while the game is closed, so the\n"
     "garden is different each time you come back. Growth is computed from the saved\ntimestamp, not from a running "
     "timer.", None, "2025-12-01T10:00:00Z"),
    ("tests/test_core.py", "def test_grow():\n    pass\n",
     "fix: watering no longer resets the growth timer\n\nA plant watered twice in a row lost its progress because the "
     "timer was\nreset on every watering. The timer is now kept and only the water level\nchanges.\n\nFixes #12",
     ("Bo Chen", "bo@example.org"), "2025-12-01T11:00:00Z"),
    ("docs/index.md", "# Pixel garden\n", "docs: explain the day and night palette", None, "2025-12-01T12:00:00Z"),
    ("src/garden/render.py", "def draw():\n    pass\n", "refactor: split the renderer from the game state\n\n"
     "The renderer read the game state directly, so every change to one broke\nthe other. It now gets a snapshot.",
     None, "2025-12-01T13:00:00Z"),
    ("src/garden/core.py", "PLOTS = 24\n", "perf: draw only the plots that changed", ("Bo Chen", "bo@example.org"),
     "2025-12-01T14:00:00Z"),
]


def make_history(repo: Path, history: list[tuple[str, str, str, Any, str]] = HISTORY) -> Path:
    """A git repository at ``repo`` (a Python project, pixel-garden) with ``history`` committed."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text('[project]\nname = "pixel-garden"\ndescription = "A calm garden game."\n')
    git(repo, "add", "pyproject.toml")
    for path, text, message, author, when in history:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text, encoding="utf-8")
        git(repo, "add", path)
        git(repo, "commit", "-q", "-m", message, when=when, author=author or ("Ann Lee", "ann@example.org"))
    return repo


NOTES = """---
title: Pixel Garden
timestamp: 2026-11-29T10:00:00Z
tags: [games, pixel art]
---
# Pixel Garden

Aria and I made a small garden game in the browser. Seeds are planted with a click and
grow over real hours, so the page is different each time you come back.

**Date**: 2026-11-29
**Mood**: curious

## Why

I wanted something calm to open between tasks, with no score and no timer at all.

## How it looks

- 16x16 sprites, four colours per plant, drawn by hand in one evening
- A day/night palette swap every ten minutes of real time

## Next

1. Watering with the mouse wheel
2. Save the garden in `localStorage`
"""


def screenshots(folder: Path, *names: str) -> Path:
    """``folder`` with a small PNG (a different picture each) for each of ``names``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.new("RGB", (64, 48), (20 + 60 * i, 120, 40 + 30 * i)).save(folder / name)
    return folder


#: A trader's own words, added to the session `collect trade` makes of examples/exports/ibkr_trades.csv:
#: notes per trade (by index) and the journal's narrative fields.
TRADE_NOTES = {
    0: "Bought the open in two fills after the gap held; sold into the 55 level.",
    1: "Faded the first push above 5,000; covered at the prior low.",
    3: "Took a partial at 405 and kept the rest for the afternoon.",
}
TRADE_NARRATIVE = {
    "market_analysis": "A quiet open after the holiday, then index futures sold off into lunch.",
    "what_worked": ["Waiting for the first pullback before adding", "Trading smaller size on futures"],
    "lessons": [{"title": "Scale out", "description": "Taking a partial at the first target kept me in the MSFT trade."}],
    "next_goals": "Write the stop on every order ticket before sending it.",
}


def build_session(root: Path, history: list[tuple[str, str, str, Any, str]] = HISTORY, *options: str) -> Path:
    """``root/build.json``: `flywheel collect build` of ``history`` committed to ``root/garden``."""
    repo = make_history(root / "garden", history)
    flywheel(root, "collect", "build", "--repo", repo, "--agent", "Ann Lee", "-o", root / "build.json", *options)
    return root / "build.json"


def aria_session(root: Path, notes: str = NOTES, shots: Path | None = None) -> Path:
    """``root/aria.json``: `flywheel collect aria` of ``notes`` and two screenshots (in ``shots``,
    default ``root/shots``)."""
    (root / "notes.md").write_text(notes, encoding="utf-8")
    folder = screenshots(shots or root / "shots", "garden-day.png", "garden-night.png")
    flywheel(root, "collect", "aria", "--notes", root / "notes.md", "--screenshots", folder, "-o", root / "aria.json")
    return root / "aria.json"


def trade_session(root: Path, notes: dict[int, str] = TRADE_NOTES, narrative: dict[str, Any] = TRADE_NARRATIVE,
                  **metadata: Any) -> Path:
    """``root/trade.json``: `flywheel collect trade` of the IBKR export (AAPL, ESH5 futures, MSFT,
    one position left open), with the trader's ``notes`` and ``narrative`` added."""
    flywheel(root, "collect", "trade", "--csv", EXAMPLES / "exports" / "ibkr_trades.csv", "-f", "ibkr",
             "--agent-id", "desk-1", "-o", root / "trade.json")
    session = json.loads((root / "trade.json").read_text(encoding="utf-8"))
    for index, note in notes.items():
        session["source_data"]["trades"][index]["notes"] = note
    session.update(narrative)
    session["metadata"].update(metadata)
    (root / "trade.json").write_text(json.dumps(session, indent=2), encoding="utf-8")
    return root / "trade.json"


def examples(folder: Path) -> list[Path]:
    """Copies of the bundled example sessions in ``folder``."""
    out = []
    for source in sorted(EXAMPLES.glob("*.json")):
        out.append(folder / source.name)
        out[-1].write_bytes(source.read_bytes())
    return out


# -- what a reader sees -------------------------------------------------------------------------

_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th", "pre", "blockquote", "tr", "ul", "ol",
           "br", "hr", "table", "div", "dl", "dt", "dd", "figure", "figcaption", "header", "footer", "nav", "main",
           "article", "section", "title"}


class _Text(html.parser.HTMLParser):
    """The text of each block of an HTML fragment, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _BLOCKS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.flush()

    def handle_data(self, data: str) -> None:
        self.words.append(data)

    def flush(self) -> None:
        if text := " ".join("".join(self.words).split()):
            self.blocks.append(text)
        self.words = []


def markdown_blocks(markdown: str) -> list[str]:
    """The text of each block (paragraph, list item, heading, table cell...) a reader sees when
    ``markdown`` is rendered: escapes and markup gone, as on GitHub or the site."""
    from markdown_it import MarkdownIt

    parser = _Text()
    parser.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    parser.flush()
    return parser.blocks


def page_blocks(page: str) -> list[str]:
    """The text of each block a reader sees in the body of an HTML page."""
    parser = _Text()
    parser.feed(page.partition("</head>")[2])
    parser.flush()
    return parser.blocks


def page_preview(page: str) -> list[str]:
    """What a link to an HTML page shows before it is opened: its title and description."""
    import html as html_module

    head = page.partition("</head>")[0]
    found = [re.search(r"<title>(.*?)</title>", head, re.DOTALL),
             re.search(r'<meta name="description" content="([^"]*)"', head)]
    return [" ".join(html_module.unescape(m.group(1)).split()) for m in found if m]


def sentences(blocks: list[str]) -> list[str]:
    return [s.strip() for block in blocks for s in re.split(r"(?<=[.!?])\s+", block) if s.strip()]


def repeated_sentences(blocks: list[str], shortest: int = 40) -> list[str]:
    """Sentences of ``shortest`` characters or more said twice or more in ``blocks``."""
    counts = collections.Counter(s for s in sentences(blocks) if len(s) >= shortest)
    return sorted(s for s, n in counts.items() if n > 1)


def readable_parts(name: str, data: bytes) -> dict[str, list[str]]:
    """What a reader reads of one file named ``name`` (a path), as {part: text blocks}: a Markdown
    file or a site page is one part; a social post file is one part per post (each is read on
    its own network). Other files (images, metrics, feeds) give none."""
    base = name.rsplit("/", 1)[-1]
    if not base.endswith((".md", ".html")) and base != "social_post.json":
        return {}
    text = data.decode("utf-8")
    if base == "social_post.json":
        return {f"{name} {network} {i}": post.split("\n\n")
                for network, posts in json.loads(text).items() for i, post in enumerate(posts)}
    if base == "social_post.md":
        head, *posts = re.split(r"^## ", text, flags=re.MULTILINE)
        return {f"{name} {post.split(chr(10), 1)[0]}": markdown_blocks("## " + post) for post in posts} | {
            f"{name} head": markdown_blocks(head)}
    if base.endswith(".html"):
        return {name: page_blocks(text), f"{name} preview": page_preview(text)}
    return {name: markdown_blocks(text)}


def written_parts(*folders: Path) -> dict[str, list[str]]:
    """``readable_parts`` of every file under ``folders``, named by their paths below each folder's parent."""
    parts: dict[str, list[str]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                parts |= readable_parts(path.relative_to(folder.parent).as_posix(), path.read_bytes())
    return parts
