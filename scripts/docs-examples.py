#!/usr/bin/env python3
"""Rewrite the generated blocks of docs/examples.md (and docs/images/) from real `flywheel run` output.

Each block sits between ``<!-- example:NAME/WHAT -->`` and ``<!-- /example:NAME/WHAT -->``, where
NAME is a session file of examples/ and WHAT is ``run`` (the commands and what they print), a file
the run writes (``blog_post.md``, ``trade_metrics.json``...; ``social_post.json`` as one block of
text per network; an ``.svg`` chart as an image copied under docs/images/) or ``page`` (what the
website page adds around the artifact). Everything else in the page is written by hand.

    .venv/bin/python scripts/docs-examples.py           # rewrite the blocks, then read the diff
    .venv/bin/python scripts/docs-examples.py --check   # exit 1 naming each stale block

tests/test_docs_examples.py runs the same generation in a temporary folder and fails when a block
is stale. Every run is of a copy of the example in a fresh folder with its own flywheel.toml, no
user config, and only the bundled session plugins and web target loaded: what a new user gets.
"""

from __future__ import annotations

import concurrent.futures
import html
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "examples.md"
IMAGES = "images"  # under docs/
FLYWHEEL = Path(sys.executable).parent / "flywheel"
PLUGINS = "build,trade,aria,web"
#: The website each example's posts link to (its `[targets.web] base_url`).
BASE_URLS = {"life_aria_session.json": "https://devlog.example.org/"}
BASE_URL = "https://journal.example.org/"
NETWORKS = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon", "linkedin": "LinkedIn"}
BLOCK = re.compile(r"(<!-- example:(?P<id>[\w.-]+/[\w.-]+) -->\n)(?P<body>.*?)(<!-- /example:(?P=id) -->)", re.DOTALL)


def block_ids(doc: str) -> list[str]:
    """``NAME/WHAT`` of each generated block of ``doc``, in order."""
    return [m.group("id") for m in BLOCK.finditer(doc)]


def _flywheel(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "GIT_"))}
    env.update(FLYWHEEL_LOAD_PLUGINS=PLUGINS, XDG_CONFIG_HOME=str(folder / ".config"),
               XDG_CACHE_HOME=str(folder / ".cache"), NO_COLOR="1", TERM="dumb", COLUMNS="200")
    proc = subprocess.run([str(FLYWHEEL), *args], cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"flywheel {' '.join(args)} in {folder}: exit {proc.returncode}\n{proc.stderr}")
    return proc


def _run(name: str, work: Path) -> dict[str, str | bytes]:
    """Run and publish one example in ``work/<its stem>``: {WHAT: content} for its blocks."""
    folder = work / Path(name).stem
    (folder / "examples").mkdir(parents=True)
    (folder / "examples" / name).write_bytes((ROOT / "examples" / name).read_bytes())
    (folder / "flywheel.toml").write_text(f'[targets.web]\nbase_url = "{BASE_URLS.get(name, BASE_URL)}"\n',
                                          encoding="utf-8")
    run = _flywheel(folder, "run", f"examples/{name}")
    publish = _flywheel(folder, "publish")
    # In a terminal the warnings (stderr) come first: they are found before anything is written.
    out: dict[str, str | bytes] = {
        "run": f"$ flywheel run examples/{name}\n{run.stderr}{run.stdout}$ flywheel publish\n{publish.stdout}"}
    (session,) = [p for p in (folder / "flywheel-out").glob("*/*") if p.is_dir()]
    for path in sorted(session.rglob("*")):
        if path.is_file():
            out[path.relative_to(session).as_posix()] = path.read_bytes()
    pages = re.findall(r"^published (\w+) of .* -> web: url (\S+/)$", publish.stdout, re.MULTILINE)
    if pages:
        kind, url = pages[-1] if len(pages) == 1 else next(p for p in pages if p[0] != "build_log")
        page = folder / "site" / url.removeprefix(BASE_URLS.get(name, BASE_URL)) / "index.html"
        out["page"] = _page_excerpt(url, kind, page.read_text(encoding="utf-8"))
    return out


class _Blocks:
    """The text of each block of an HTML fragment, whitespace collapsed."""

    TAGS = ("p", "li", "h1", "h2", "dt", "dd", "ul", "section", "header", "dl")

    def __init__(self, fragment: str) -> None:
        text = re.sub(r"</?(%s)\b[^>]*>" % "|".join(self.TAGS), "\n", fragment)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
        self.lines = [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def _page_excerpt(url: str, kind: str, page: str) -> str:
    """What the page at ``url`` shows around the artifact: its header, then its sections."""
    header = re.search(r'<header class="post-header">(.*?)</header>', page, re.DOTALL)
    after = re.search(r'<div class="prose">.*?\n  </div>\n(.*?)</article>', page, re.DOTALL)
    lines = [url, ""]
    # The type is a badge on the page, apart from the date: "Build · 2 Dec 2025", not "Build 2 Dec 2025".
    head = _Blocks(re.sub(r"</(span|a)> <time", r"</\1> · <time", header.group(1) if header else "")).lines
    tags = [line for line in head if line.startswith("#")]
    lines += [line for line in head if not line.startswith("#")] + ([" ".join(tags)] if tags else [])
    lines.append(f"[the {kind.replace('_', ' ')} above, as HTML]")
    for section in re.findall(r"<section[^>]*>(.*?)</section>", after.group(1) if after else "", re.DOTALL):
        title, *items = _Blocks(section).lines
        if "<dl>" in section:
            items = [f"{items[i]} {items[i + 1]}" for i in range(0, len(items) - 1, 2)]
        lines.append(f"{title}: {', '.join(items) if '<dl>' not in section else ' · '.join(items)}")
    return "\n".join(lines) + "\n"


def _fence(text: str, info: str) -> str:
    ticks = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{ticks}{info}\n{text.rstrip(chr(10))}\n{ticks}\n"


def render(name: str, what: str, outputs: dict[str, str | bytes]) -> tuple[str, dict[str, bytes]]:
    """Block ``NAME/WHAT``'s Markdown, and the image files it needs ({path under docs/: bytes})."""
    if what not in outputs:
        raise SystemExit(f"docs/examples.md: block example:{name}/{what}: the run of examples/{name} wrote no {what}"
                         f" (it wrote {', '.join(sorted(outputs))})")
    value = outputs[what]
    if what in ("run", "page"):
        return _fence(str(value), "console" if what == "run" else "text"), {}
    data = value if isinstance(value, bytes) else value.encode()
    if what.endswith(".svg"):
        image = f"{IMAGES}/{Path(name).stem}/{what}"
        return f"![{what} of examples/{name}]({image})\n", {image: data}
    text = data.decode("utf-8")
    if what == "social_post.json":
        posts = json.loads(text)
        return "\n".join(f"#### {NETWORKS.get(network, network)}\n\n" + "\n".join(_fence(p, "text") for p in parts)
                         for network, parts in posts.items()), {}
    return _fence(text, "markdown" if what.endswith(".md") else "json" if what.endswith(".json") else "text"), {}


def generate(doc: str, work: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    """Every block of ``doc`` made afresh (running each example once, in ``work``), and the images."""
    ids = block_ids(doc)
    names = list(dict.fromkeys(i.split("/", 1)[0] for i in ids))
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = dict(zip(names, pool.map(lambda n: _run(n, work), names)))
    blocks: dict[str, str] = {}
    images: dict[str, bytes] = {}
    for block in ids:
        name, what = block.split("/", 1)
        blocks[block], files = render(name, what, runs[name])
        images.update(files)
    return blocks, images


def fill(doc: str, blocks: dict[str, str]) -> str:
    """``doc`` with each generated block's body replaced by ``blocks[its id]``."""
    return BLOCK.sub(lambda m: m.group(1) + blocks[m.group("id")] + m.group(4), doc)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    doc = DOC.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as work:
        blocks, images = generate(doc, Path(work))
    stale = [m.group("id") for m in BLOCK.finditer(doc) if m.group("body") != blocks[m.group("id")]]
    stale += [path for path, data in images.items() if not (DOC.parent / path).is_file() or (DOC.parent / path).read_bytes() != data]
    if check:
        for block in stale:
            print(f"docs/examples.md: {block} is stale", file=sys.stderr)
        return 1 if stale else 0
    for path, data in images.items():
        (DOC.parent / path).parent.mkdir(parents=True, exist_ok=True)
        (DOC.parent / path).write_bytes(data)
    DOC.write_text(fill(doc, blocks), encoding="utf-8")
    print(f"docs/examples.md: {len(blocks)} blocks, {len(stale)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
