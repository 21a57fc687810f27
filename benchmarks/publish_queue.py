"""Publication queue and github target throughput, as ratios to plain SQLite and plain git in this run.

Run: .venv/bin/python benchmarks/publish_queue.py [--items N] [--quick]
1. Enqueue N artifacts (2 KB each) through PublicationQueue, then claim and record them,
   against the floor: raw sqlite3 with the same durability (WAL, synchronous=FULL, one
   transaction per row, each content file written and fsynced).
2. Publish N artifacts to a local bare repository with the github target (one batch), against
   plain git in a work tree (write files, add, commit, push once), and against the first
   system's way (one add/commit/push per artifact) for scale.
3. Peak memory of the queue's enqueue + claim + record at 1,000 and 10,000 items (on a tmpfs).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bench import Report, in_child, quick_flag, seconds  # noqa: E402

GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "core.hooksPath=/dev/null"]


def payload(i: int) -> bytes:
    return (f"# Artifact {i}\n\n" + "lorem ipsum dolor sit amet " * 75).encode()[:2048]


def bench_raw_sqlite(root: Path, n: int) -> float:
    start = time.perf_counter()
    db = sqlite3.connect(root / "raw.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, key TEXT UNIQUE, status TEXT, data TEXT)")
    (root / "rawblobs").mkdir()
    for i in range(n):
        path = root / "rawblobs" / str(i)
        with open(path, "wb") as fh:
            fh.write(payload(i))
            fh.flush()
            os.fsync(fh.fileno())
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO items (key, status, data) VALUES (?, 'queued', ?)", (f"k{i}", str(path)))
        db.execute("COMMIT")
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE items SET status = 'published' WHERE key = ?", (f"k{i}",))
        db.execute("COMMIT")
    db.close()
    return time.perf_counter() - start


def bench_queue(root: Path, n: int) -> float:
    from flywheel_core import PublishResult
    from flywheel_core.publishing import PublicationQueue

    start = time.perf_counter()
    with PublicationQueue.in_folder(root / "state") as queue:
        for i in range(n):
            queue.enqueue(target="bench", session_id=f"s{i}", session_type="build", kind="readme", ext="md",
                          files={"readme.md": payload(i)}, meta={"title": str(i)})
        for entry in queue.claim("bench", limit=n):
            queue.item(entry)
            queue.record(PublishResult(entry.id, True, receipt={"ok": True}))
    return time.perf_counter() - start


def _items(n: int):
    from flywheel_core import PublishItem

    return [PublishItem(i + 1, "github", f"s{i}", "build", "readme", "md", "0" * 64, {"readme.md": payload(i)},
                        {"date": "2025-12-02T05:20:00Z"}) for i in range(n)]


def bench_github(root: Path, n: int) -> float:
    from flywheel_core.config import Config
    from flywheel_core.context import PublishContext
    from flywheel_publish_github.publisher import publish

    remote = root / "gh.git"
    subprocess.run([*GIT, "init", "-q", "--bare", str(remote)], check=True)
    config = Config(root, data={"state_dir": "gh-state"})
    ctx = PublishContext(config=config, state_dir=config.state_dir)
    start = time.perf_counter()
    results = publish(_items(n), {"remote": str(remote)}, ctx)
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in results), results[:3]
    return elapsed


def bench_plain_git(root: Path, n: int, per_item: bool) -> float:
    remote = root / ("per.git" if per_item else "plain.git")
    work = root / ("per-work" if per_item else "plain-work")
    subprocess.run([*GIT, "init", "-q", "--bare", str(remote)], check=True)
    start = time.perf_counter()
    subprocess.run([*GIT, "clone", "-q", str(remote), str(work)], check=True, capture_output=True)
    for i in range(n):
        path = work / "sessions" / "build" / "2025-12-02" / f"s{i}" / "readme.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload(i))
        if per_item:
            subprocess.run([*GIT, "-C", str(work), "add", "--", str(path)], check=True)
            subprocess.run([*GIT, "-C", str(work), "commit", "-q", "-m", f"s{i}"], check=True)
            subprocess.run([*GIT, "-C", str(work), "push", "-q", "origin", "HEAD:main"], check=True, capture_output=True)
    if not per_item:
        subprocess.run([*GIT, "-C", str(work), "add", "-A"], check=True)
        subprocess.run([*GIT, "-C", str(work), "commit", "-q", "-m", "batch"], check=True)
        subprocess.run([*GIT, "-C", str(work), "push", "-q", "origin", "HEAD:main"], check=True, capture_output=True)
    return time.perf_counter() - start


MEMORY = r"""
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from publish_queue import bench_queue
with tempfile.TemporaryDirectory(dir=sys.argv[3]) as tmp:
    bench_queue(Path(tmp), int(sys.argv[1]))
print(0)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    quick_flag(parser)
    args = parser.parse_args()
    n = 100 if args.quick else args.items
    small, large = (100, 1_000) if args.quick else (1_000, 10_000)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw = bench_raw_sqlite(root, n)
        queue = bench_queue(root, n)
        plain = bench_plain_git(root, n, per_item=False)
        github = bench_github(root, n)
        per = bench_plain_git(root, min(n, 50), per_item=True) * (n / min(n, 50))
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()
    peaks = {count: in_child(MEMORY, count, Path(__file__).resolve().parent, shm)[1].peak_mib for count in (1, small, large)}
    report = Report("publish_queue", "Publication queue and the github target",
                    f"`.venv/bin/python benchmarks/publish_queue.py{' --quick' if args.quick else ''}`: {n} artifacts "
                    "of 2 KB, in this process (one run each)")
    report.add(f"raw sqlite3, same durability (floor), {n} items", seconds(raw), reference="(reference)", ratio="1.00×")
    report.add("`PublicationQueue`: enqueue + claim + record", seconds(queue), reference="raw sqlite3",
               ratio=f"{queue / raw:.2f}× ({n / queue:,.0f} items/s)")
    report.add("plain `git add/commit/push` of the files", seconds(plain), reference="(reference)", ratio="1.00×")
    report.add("github target, one batch (one `git fast-import`, one push)", seconds(github), reference="plain git",
               ratio=f"{github / plain:.2f}×")
    report.add("one commit + push per artifact (the first system's way, from 50)", seconds(per), reference="plain git",
               ratio=f"{per / plain:.1f}×")
    report.memory("items (enqueue + claim + record, on a tmpfs)", (small, peaks[small]), (large, peaks[large]), base=peaks[1])
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
