"""Benchmark the web target's site build on 1,000 synthetic posts against a plain markdown-it + Jinja2 floor.

Run: ``.venv/bin/python benchmarks/site_build.py [--posts N] [--repeat R] [--no-pelican] [--quick]``

Measured in one run, each as a whole process (interpreter start included), median of --repeat runs
(wall and CPU time, taking turns so a burst of load hits all alike):
- floor: markdown-it-py (tables, Pygments for fenced code) + one Jinja2 template, writing the same N pages;
- full: ``flywheel site build --full`` from the content store;
- add one: publishing one new post through the web target's ``flywheel_publish`` hook (store, incremental build,
  atomic swap), and ``flywheel site build`` with nothing new;
- the floor of adding one: a process that imports the modules a publish-one process imported and compiles the
  Python lexer (its code blocks'), and nothing else; and the CPU of publishing one post in a warm process;
- Pelican (peer), installed once into benchmarks/.cache/ when it can be, cold and with its cache.
Peak memory of the full build at 1,000 and 10,000 posts (--quick: 100 and 1,000), built on a
tmpfs (/dev/shm) so that storing 10,000 posts takes seconds, not minutes of fsync.
Targets: full <= 1.5x floor (issue 14); publish one <= 10% of full (issue 18).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import statistics
import subprocess
import tempfile
import textwrap
from pathlib import Path

from _bench import FLYWHEEL, PY, ROOT, Report, quick_flag, run, seconds
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
if len(sys.argv) > 5:  # the modules this process imported, in order, for the floor below
    Path(sys.argv[5]).write_text("\\n".join(sys.modules))
'''

# The fixed floor of publishing one post: a process that imports every module a publish-one
# process imported (in the same order) and compiles the lexer its code blocks need, doing nothing else.
IMPORT_FLOOR = '''
import importlib, sys
from pathlib import Path
for name in Path(sys.argv[1]).read_text().split():
    try:
        importlib.import_module(name)
    except Exception:  # __main__, or a module that cannot be imported on its own
        pass
import pygments
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
pygments.highlight("x = 1\\n", get_lexer_by_name("python"), HtmlFormatter(nowrap=True))
'''

# Publishing posts one by one in one process: the CPU of each after the first, whose imports,
# lexers and compiled templates the later ones reuse (what a long-running worker would pay).
PUBLISH_WARM = '''
import hashlib, json, sys, time
from pathlib import Path
from flywheel_core import PublishContext, PublishItem, load_config
from flywheel_publish_web.plugin import flywheel_publish
config = load_config(Path(sys.argv[1]))
cpu = []
for k, path in enumerate(sys.argv[2:]):
    body = Path(path).read_bytes()
    item = PublishItem(id=1, target="web", session_id=f"warm-{k}", session_type="build", kind="blog_post", ext="md",
        sha256=hashlib.sha256(body).hexdigest(), files={"blog_post.md": body},
        meta={"title": f"Warm post {k}", "summary": "One more post.", "tags": ["python", "extra"],
              "date": "2031-01-02T00:00:00Z", "project": "p1", "agent_id": "Agent-1"})
    start = time.process_time()
    [result] = flywheel_publish(target="web", items=[item], config=config.target_config("web"),
                                ctx=PublishContext(config=config, state_dir=config.state_dir))
    cpu.append(time.process_time() - start)
    assert result.ok, result.error
print(json.dumps(cpu[1:]))
'''


def post_text(rng: random.Random, i: int) -> tuple[str, str]:
    title = f"Session {i}: " + " ".join(rng.choice(WORDS) for _ in range(5)).capitalize()
    paras = []
    for _ in range(5):
        paras.append(textwrap.fill(" ".join(rng.choice(WORDS) for _ in range(55)).capitalize() + ".", 90))
    body = f"# {title}\n\n{paras[0]}\n\n## What changed\n\n{paras[1]}\n\n{CODE}\n\n{paras[2]}\n\n" \
           f"| metric | value |\n|---|---|\n| commits | {i % 7} |\n| files | {i % 13} |\n\n{paras[3]}\n\n{CODE}\n\n{paras[4]}\n"
    return title, body


def timed(cmd: list[str], repeat: int, before=None, cwd: Path | None = None) -> tuple[float, float, float]:
    """Median wall and CPU time (user + system) of ``cmd`` over ``repeat`` runs, and its peak
    memory (MiB). ``before`` runs untimed before each run."""
    runs = []
    for _ in range(repeat):
        if before:
            before()
        runs.append(run(cmd, cwd=cwd))
    return (statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
            max(r.peak_mib for r in runs))


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


def pelican(work: Path, plain: Path, repeat: int) -> tuple[tuple[float, float, float], tuple[float, float, float]] | None:
    """Pelican on the same posts (cold, then a no-change rebuild with its cache), or None if it cannot install."""
    venv = ROOT / "benchmarks" / ".cache" / "pelican-venv"
    if not (venv / "bin" / "pelican").exists():
        try:
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([PY, "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "pelican[markdown]"], check=True,
                           capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            print(f"pelican: skipped ({type(exc).__name__}: could not install)")
            shutil.rmtree(venv, ignore_errors=True)
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

    cold = timed(cmd, repeat, before=clean, cwd=work)  # Pelican keeps its cache in ./cache
    warm = timed(cmd, repeat, cwd=work)
    return cold, warm


def memory(n: int) -> float:
    """Peak memory (MiB) of `flywheel site build --full` on ``n`` posts, stored and built on a tmpfs."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="flywheel-site-mem-", dir=shm if shm.is_dir() else None) as tmp:
        _, config = setup(Path(tmp), n)
        return run([FLYWHEEL, "site", "build", "--full", "--config", str(config)]).peak_mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-pelican", action="store_true")
    parser.add_argument("--keep", help=argparse.SUPPRESS)  # a folder to build in and keep (profiling)
    quick_flag(parser)
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat
    small, large = (100, 1_000) if args.quick else (1_000, 10_000)
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
        runs: dict[str, list[tuple[float, float, float]]] = {"floor": [], "plain": [], "full": []}
        for _ in range(repeat):
            runs["floor"].append(timed([PY, str(floor_py), str(plain), str(work / "floor-out"), "1"], 1, clean_floor))
            runs["full"].append(timed([FLYWHEEL, "site", "build", "--full", "--config", str(config)], 1, clean_site))
            runs["plain"].append(timed([PY, str(floor_py), str(plain), str(work / "floor-out"), "0"], 1, clean_floor))
        floor, full, floor_plain = (
            tuple(statistics.median(r[i] for r in runs[k]) for i in range(3)) for k in ("floor", "full", "plain"))
        pages = sum(1 for _ in site.rglob("*.html"))
        first_add = timed([PY, "-c", PUBLISH_ONE, str(config), str(work / "md/post-00001.md"), "first", "First extra"], 1)
        extra = work / "extra.md"
        adds, noops = [], []
        for k in range(repeat):  # a new post each time, with code of its own (no highlighting cached)
            extra.write_text(post_text(random.Random(7 + k), 99999 - k)[1].replace("lease(conn", f"lease_{k}(conn"))
            adds.append(timed([PY, "-c", PUBLISH_ONE, str(config), str(extra), f"extra-{k}", f"Extra post {k}"], 1))
            noops.append(timed([FLYWHEEL, "site", "build", "--config", str(config)], 1))
        add, noop = (tuple(statistics.median(r[i] for r in rs) for i in range(3)) for rs in (adds, noops))
        # The floor of publish-one, measured between publishes like it (the modules a publish imported).
        modules = work / "modules.txt"
        extra.write_text(post_text(random.Random(5), 99990)[1])
        run([PY, "-c", PUBLISH_ONE, str(config), str(extra), "modules", "Modules", str(modules)])
        floor_py_one = work / "import_floor.py"
        floor_py_one.write_text(IMPORT_FLOOR)
        floors = [timed([PY, str(floor_py_one), str(modules)], 1) for _ in range(repeat)]
        import_floor = tuple(statistics.median(r[i] for r in floors) for i in range(3))
        warm_posts = []
        for k in range(repeat + 1):
            path = work / f"warm-{k}.md"
            path.write_text(post_text(random.Random(70 + k), 99900 - k)[1].replace("lease(conn", f"lease_w{k}(conn"))
            warm_posts.append(str(path))
        warm_cpu = statistics.median(json.loads(run([PY, "-c", PUBLISH_WARM, str(config), *warm_posts]).stdout))
        peer = None if args.no_pelican else pelican(work, plain, repeat)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    peaks = {n: memory(n) for n in (1, small, large)}

    def value(v: tuple[float, float, float]) -> str:
        return seconds(v[0], v[1])

    def ratio(v: tuple[float, float, float], ref: tuple[float, float, float], percent: bool = False) -> str:
        if percent:
            return f"{v[0] / ref[0]:.0%} ({v[1] / ref[1]:.0%} CPU)"
        return f"{v[0] / ref[0]:.2f}× ({v[1] / ref[1]:.2f}× CPU)"

    report = Report("site_build", f"Site: the web target on {args.posts:,} posts ({pages:,} HTML pages)",
                    f"`.venv/bin/python benchmarks/site_build.py --repeat {repeat}{' --no-pelican' if args.no_pelican else ''}`:"
                    " synthetic posts of ~300 words and two code blocks, whole processes, median of the runs")
    report.add("floor: markdown-it + Pygments + Jinja2 writing the same pages", value(floor), reference="(reference)",
               ratio="1.00×", peak_mib=floor[2])
    report.add("floor without Pygments", value(floor_plain), reference="floor", ratio=ratio(floor_plain, floor),
               peak_mib=floor_plain[2])
    report.add("`flywheel site build --full`", value(full), reference="floor", ratio=ratio(full, floor),
               target="≤ 1.5×", met=full[1] / floor[1] <= 1.5, peak_mib=full[2])
    report.add("publish one post: store + incremental build + atomic swap", value(add), reference="full build",
               ratio=ratio(add, full, percent=True), target="≤ 10%", met=add[1] / full[1] <= 0.10, peak_mib=add[2])
    report.add("  the first one after a cold build (makes the mirror)", value(first_add), reference="full build",
               ratio=ratio(first_add, full, percent=True), peak_mib=first_add[2])
    report.add("  its floor: a process that only imports what publish-one imports and compiles the Python lexer",
               value(import_floor), reference="full build", ratio=ratio(import_floor, full, percent=True),
               peak_mib=import_floor[2])
    report.add("  publish one post in a warm process (imports, lexers, templates paid; CPU of the call)",
               f"{warm_cpu:.3f} s CPU", reference="full build", ratio=f"{warm_cpu / full[1]:.0%} CPU")
    report.add("`flywheel site build` with nothing new", value(noop), reference="full build",
               ratio=ratio(noop, full, percent=True), peak_mib=noop[2])
    if peer:
        cold, warm = peer
        report.add("Pelican, cold", value(cold), reference="floor", ratio=ratio(cold, floor), peak_mib=cold[2])
        report.add("Pelican, no-change rebuild with its cache", value(warm), reference="floor", ratio=ratio(warm, floor),
                   peak_mib=warm[2])
    report.memory("posts (`site build --full`)", (small, peaks[small]), (large, peaks[large]), base=peaks[1])
    report.note("Targets are judged on CPU time (the process's own work); the wall time on this shared machine "
                "adds the waits for a core and for the disk (`os.sync` before a full build's swap, an fsync of "
                "each changed file before an incremental one's).")
    report.finish()


if __name__ == "__main__":
    main()
