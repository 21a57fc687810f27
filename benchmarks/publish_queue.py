"""Publication queue and github target throughput, as ratios to plain SQLite and plain git in this run.

Run: .venv/bin/python benchmarks/queue.py [--items N]
1. Enqueue N artifacts (2 KB each) through PublicationQueue, then claim and record them,
   against the floor: raw sqlite3 with the same durability (WAL, synchronous=FULL, one
   transaction per row, each content file written and fsynced).
2. Publish N artifacts to a local bare repository with the github target (one batch), against
   plain git in a work tree (write files, add, commit, push once), and against the first
   system's way (one add/commit/push per artifact) for scale.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=300)
    args = parser.parse_args()
    n = args.items
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw = bench_raw_sqlite(root, n)
        queue = bench_queue(root, n)
        print(f"queue, {n} items enqueued + claimed + recorded")
        print(f"  raw sqlite3 (floor)          {raw:7.3f} s  1.00x")
        print(f"  PublicationQueue             {queue:7.3f} s  {queue / raw:4.2f}x  ({n / queue:,.0f} items/s)")
        plain = bench_plain_git(root, n, per_item=False)
        github = bench_github(root, n)
        per = bench_plain_git(root, min(n, 50), per_item=True) * (n / min(n, 50))
        print(f"github target, {n} artifacts to a local bare repository")
        print(f"  plain git add/commit/push    {plain:7.3f} s  1.00x")
        print(f"  github target (one batch)    {github:7.3f} s  {github / plain:4.2f}x")
        print(f"  one commit+push per artifact {per:7.3f} s  {per / plain:4.2f}x  (first system's way, extrapolated from 50)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
