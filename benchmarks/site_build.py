"""Benchmark the web target's site build on 1,000 synthetic posts against a plain markdown-it + Jinja2 floor.

Run: ``.venv/bin/python benchmarks/site_build.py [--posts N] [--repeat R] [--no-pelican]``

Measured in one run, each as a whole process (interpreter start included), best of --repeat runs
(the machine is shared: other processes only ever add time), floor and full build interleaved:
- floor: markdown-it-py (tables, Pygments for fenced code) + one Jinja2 template, writing the same N pages;
- full: ``flywheel site build --full`` from the content store;
- add one: publishing one new post through the web target's ``flywheel_publish`` hook (store, incremental build,
  atomic swap), and ``flywheel site build`` with nothing new;
- Pelican (peer), installed into a temporary venv when it can be, cold and with its cache.
Targets: full <= 1.5x floor; add one <= 15% of full.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
FLYWHEEL = str(Path(PY).with_name("flywheel"))
WORDS = ("agent queue publish commit trade session build render page feed index cache lock retry "
         "target branch remote sqlite lease backoff chart metric journal devlog gallery thumbnail "
         "the a of to and in is for on with that it as was by").split()
CODE = '''```python
def lease(conn, seconds: float) -> int:
    """Take the next due item for a while."""
    with conn:  # BEGIN IMMEDIATE
        rows = conn.execute("SELECT id FROM queue WHERE state = 'queued' LIMIT 1").fetchall()
        return len(rows)
```'''

FLOOR = '''
import sys, time
from pathlib import Path
import jinja2
from markdown_it import MarkdownIt
from functools import lru_cache
HIGHLIGHT = sys.argv[3] == "1"
@lru_cache(maxsize=None)
def tools(lang):
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    return get_lexer_by_name(lang or "text"), HtmlFormatter(nowrap=True)
def highlight(code, lang, attrs):
    import pygments
    lexer, formatter = tools(lang)
    return '<pre class="highlight"><code>' + pygments.highlight(code, lexer, formatter) + "</code></pre>"
md = MarkdownIt("commonmark", {"html": False, "highlight": highlight if HIGHLIGHT else None}).enable("table")
env = jinja2.Environment(autoescape=True)
page = env.from_string("""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="/style.css"></head><body><main><h1>{{ title }}</h1>{{ body|safe }}</main></body></html>""")
src, out = Path(sys.argv[1]), Path(sys.argv[2])
for path in sorted(src.glob("*.md")):
    text = path.read_text()
    title = text.splitlines()[0][2:]
    target = out / path.stem / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page.render(title=title, body=md.render(text)))
'''

PUBLISH_ONE = '''
import hashlib, sys
from pathlib import Path
from flywheel_core import PublishContext, PublishItem, load_config
from flywheel_publish_web.plugin import flywheel_publish
config = load_config(Path(sys.argv[1]))
body = Path(sys.argv[2]).read_bytes()
item = PublishItem(id=1, target="web", session_id=sys.argv[3], session_type="build", kind="blog_post", ext="md",
    sha256=hashlib.sha256(body).hexdigest(), files={"blog_post.md": body},
    meta={"title": sys.argv[4], "summary": "One more post.", "tags": ["python", "extra"], "date": "2031-01-01T00:00:00Z",
          "project": "p1", "agent_id": "Agent-1"})
[result] = flywheel_publish(target="web", items=[item], config=config.target_config("web"),
                            ctx=PublishContext(config=config, state_dir=config.state_dir))
assert result.ok, result.error
'''


def post_text(rng: random.Random, i: int) -> tuple[str, str]:
    title = f"Session {i}: " + " ".join(rng.choice(WORDS) for _ in range(5)).capitalize()
    paras = []
    for _ in range(5):
        paras.append(textwrap.fill(" ".join(rng.choice(WORDS) for _ in range(55)).capitalize() + ".", 90))
    body = f"# {title}\n\n{paras[0]}\n\n## What changed\n\n{paras[1]}\n\n{CODE}\n\n{paras[2]}\n\n" \
           f"| metric | value |\n|---|---|\n| commits | {i % 7} |\n| files | {i % 13} |\n\n{paras[3]}\n\n{CODE}\n\n{paras[4]}\n"
    return title, body


def timed(cmd: list[str], repeat: int, before=None) -> tuple[float, float]:
    """Best wall time and best CPU time (user + sys) of ``cmd`` over ``repeat`` runs, as timeit
    reports: other processes share this machine and only ever add time. ``before`` runs untimed.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        if before:
            before()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime)
    return min(walls), min(cpus)


def setup(work: Path, n: int) -> tuple[Path, Path]:
    """Write N posts as plain .md files (for the floor and Pelican) and into the web target's store."""
    from flywheel_core import PublishItem
    from flywheel_publish_web.store import ContentStore

    rng = random.Random(42)
    plain = work / "md"
    plain.mkdir()
    config = work / "flywheel.toml"
    config.write_text('[targets.web]\nbase_url = "https://example.org/"\ntitle = "Bench"\n')
    from flywheel_core import PublishContext, load_config
    from flywheel_publish_web.publish import settings_for

    loaded = load_config(config)
    store = ContentStore(settings_for(loaded.target_config("web"), PublishContext(config=loaded, state_dir=loaded.state_dir)))
    records: list[dict] = []
    for i in range(n):
        title, body = post_text(rng, i)
        (plain / f"post-{i:05d}.md").write_text(body)
        day = f"20{20 + i // 365 % 10:02d}-{1 + i // 28 % 12:02d}-{1 + i % 28:02d}T10:00:00Z"
        data = body.encode()
        item = PublishItem(id=i, target="web", session_id=f"bench-{i:05d}", session_type=("build", "trade", "life_aria")[i % 3],
                           kind=("blog_post", "trade_journal", "devlog")[i % 3], ext="md",
                           sha256=hashlib.sha256(data).hexdigest(), files={f"{('blog_post', 'trade_journal', 'devlog')[i % 3]}.md": data},
                           meta={"title": title, "summary": f"Summary of post {i}.", "tags": [f"t{i % 40}", "python"],
                                 "date": day, "project": f"p{i % 10}", "agent_id": f"Agent-{i % 8}"})
        record, blobs = store.prepare(item)
        store.put(record, blobs)
        records.append(record)
    return plain, config


def pelican(work: Path, plain: Path, repeat: int) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Pelican on the same posts (cold, then a no-change rebuild with its cache), or None if it cannot install."""
    venv = work / "pelican-venv"
    try:
        subprocess.run([PY, "-m", "venv", str(venv)], check=True, capture_output=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "pelican[markdown]"], check=True,
                       capture_output=True, timeout=600)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"pelican: skipped ({type(exc).__name__}: could not install)")
        return None
    content = work / "pelican-content"
    content.mkdir()
    # Tags end in a letter: Pelican names page 2 of tag "t2" t22.html, the page of tag "t22".
    for i, path in enumerate(sorted(plain.glob("*.md"))):
        text = path.read_text()
        title, rest = text.split("\n", 1)
        (content / path.name).write_text(
            f"Title: {title[2:]}\nDate: 2025-01-{1 + i % 28:02d} 10:{i % 60:02d}\nTags: t{i % 40}x, python\n"
            f"Category: c{i % 3}\nSummary: Summary of post {i}.\n{rest}")
    conf = work / "pelicanconf.py"
    conf.write_text("SITENAME = 'Bench'\nSITEURL = ''\nTIMEZONE = 'UTC'\nDEFAULT_PAGINATION = 20\n"
                    "LOAD_CONTENT_CACHE = True\nCACHE_CONTENT = True\nFEED_ALL_ATOM = 'feeds/all.atom.xml'\n")
    out = work / "pelican-out"
    cmd = [str(venv / "bin" / "pelican"), str(content), "-o", str(out), "-s", str(conf), "-q"]

    def clean() -> None:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(work / "cache", ignore_errors=True)

    os.chdir(work)
    cold = timed(cmd, repeat, before=clean)
    warm = timed(cmd, repeat)
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pelican", action="store_true")
    parser.add_argument("--keep", help=argparse.SUPPRESS)  # a folder to build in and keep (profiling)
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="flywheel-site-bench-"))
    try:
        plain, config = setup(work, args.posts)
        floor_py = work / "floor.py"
        floor_py.write_text(FLOOR)
        site = work / "site"

        def clean_floor() -> None:
            shutil.rmtree(work / "floor-out", ignore_errors=True)

        def clean_site() -> None:
            """A build from scratch: no site, no mirror, no manifest, no cached feed bodies. The content
            store's record index and the compiled templates stay, as the floor's Markdown files do."""
            for path in (site, work / "site.staging", work / ".flywheel/targets/web/cache/feed"):
                shutil.rmtree(path, ignore_errors=True)
            (work / ".flywheel/targets/web/manifest.json").unlink(missing_ok=True)

        # Interleaved, so a burst of load from other processes hits the floor and the build alike.
        runs: dict[str, list[tuple[float, float]]] = {"floor": [], "plain": [], "full": []}
        for _ in range(args.repeat):
            runs["floor"].append(timed([PY, str(floor_py), str(plain), str(work / "floor-out"), "1"], 1, clean_floor))
            runs["full"].append(timed([FLYWHEEL, "site", "build", "--full", "--config", str(config)], 1, clean_site))
            runs["plain"].append(timed([PY, str(floor_py), str(plain), str(work / "floor-out"), "0"], 1, clean_floor))
        floor, full, floor_plain = (
            (min(w for w, _ in runs[k]), min(c for _, c in runs[k])) for k in ("floor", "full", "plain"))
        pages = sum(1 for _ in site.rglob("*.html"))
        first_add = timed([PY, "-c", PUBLISH_ONE, str(config), str(work / "md/post-00001.md"), "first", "First extra"], 1)
        noop = timed([FLYWHEEL, "site", "build", "--config", str(config)], args.repeat)
        extra = work / "extra.md"
        extra.write_text(post_text(random.Random(7), 99999)[1])
        adds = [timed([PY, "-c", PUBLISH_ONE, str(config), str(extra), f"extra-{k}", f"Extra post {k}"], 1)
                for k in range(args.repeat)]
        add = (min(a[0] for a in adds), min(a[1] for a in adds))

        def show(label: str, value: tuple[float, float], ref: tuple[float, float] | None = None, unit: str = "",
                 target: str = "") -> None:
            text = f"{label:<58} {value[0]:6.2f} s wall {value[1]:6.2f} s cpu"
            if ref:
                if unit == "%":
                    text += f"   {value[0] / ref[0]:5.0%} / {value[1] / ref[1]:5.0%} of full"
                else:
                    text += f"   {value[0] / ref[0]:5.2f}x / {value[1] / ref[1]:5.2f}x floor"
            print(text + (f"  (target {target})" if target else ""))

        print(f"posts: {args.posts} ({pages} HTML pages in the built site), best of {args.repeat}, whole processes")
        show("floor: markdown-it + Pygments + Jinja2, same pages", floor)
        show("floor without Pygments", floor_plain)
        show("flywheel site build --full (cold)", full, floor, target="<= 1.5x")
        show("publish one post: store + incremental build + swap", add, full, "%", "<= 15%")
        show("  the first one after a cold build (makes the mirror)", first_add, full, "%")
        show("flywheel site build with nothing new", noop, full, "%")
        if not args.no_pelican:
            peer = pelican(work, plain, args.repeat)
            if peer:
                cold, warm = peer
                show("pelican, cold", cold, floor)
                show("pelican, no-change rebuild with its cache", warm, floor)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
