"""The publication queue on SQLite and on PostgreSQL: enqueue and claim throughput with 1, 4 and 8 workers.

Run: .venv/bin/python benchmarks/queue.py [--items N] [--quick]

Each backend is measured against a floor on the same database in the same run, with the same
number of worker processes taking the same share of the items:
- enqueue: ``PublicationQueue.enqueue`` (content stored, version checks, one transaction per
  artifact) against a bare ``INSERT`` loop (one transaction per row);
- claim: ``claim(limit=1)`` then ``record`` per entry (the publisher's bookkeeping, every claim
  racing the other workers') against a bare ``UPDATE`` loop over each worker's own rows.
SQLite: WAL, synchronous=FULL, in a temporary folder. PostgreSQL: a throwaway server started for
the run (fsync off, as the tests run it: durability costs are not what is compared). Workers
are processes that start, connect, then wait for the same signal: start-up is not timed. Peak
memory is the largest resident set of one worker process.
"""

from __future__ import annotations

import sys

if __name__ != "__main__":
    # This file is named like the standard library's queue module, and a program run from this
    # folder (another benchmark) has the folder first on its path: whoever imports "queue" then
    # gets this file. Hand them the real module instead.
    import importlib.util
    import sysconfig

    _spec = importlib.util.spec_from_file_location("queue", f"{sysconfig.get_paths()['stdlib']}/queue.py")
    _real = importlib.util.module_from_spec(_spec)
    sys.modules["queue"] = _real
    _spec.loader.exec_module(_real)

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __name__ == "__main__":
    # Named like the standard library's queue module, which psycopg imports: this folder goes
    # after the standard library on the path, not before it (still there for _bench).
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
    sys.path.insert(0, str(HERE.parent))

try:
    from _bench import Report, quick_flag, seconds
except ModuleNotFoundError:  # a checkout without the shared benchmark helpers: print the same table
    class Report:  # type: ignore[no-redef]
        def __init__(self, name: str, title: str, command: str) -> None:
            self.title, self.command, self.rows, self.notes = title, command, [], []

        def add(self, figure, value, *, reference="", ratio="", target="", met=None, peak_mib=None) -> None:
            self.rows.append((figure, value, reference, ratio, f"{peak_mib:.0f} MiB" if peak_mib else ""))

        def note(self, text: str) -> None:
            self.notes.append(text)

        def finish(self) -> None:
            print(f"\n{self.title}\n{self.command}\n| figure | value | reference | ratio | peak memory |")
            print("|---|---:|---|---:|---:|")
            for row in self.rows:
                print("| " + " | ".join(row) + " |")
            for text in self.notes:
                print(f"- {text}")

    def quick_flag(parser) -> None:  # type: ignore[no-redef]
        parser.add_argument("--quick", action="store_true", help="fewer items")

    def seconds(value: float, cpu: float | None = None) -> str:  # type: ignore[no-redef]
        return f"{value:.3f} s"


WORKERS = (1, 4, 8)

# One worker process: set up, say "ready", wait for "go", do its share, print what it measured.
CHILD = r'''
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
job = json.loads(sys.argv[2])
backend, url, state, task, first, count = (job[k] for k in ("backend", "url", "state", "task", "first", "count"))

def payload(i):
    return (f"# Artifact {i}\n\n" + "lorem ipsum dolor sit amet " * 75).encode()[:2048]

if task.startswith("bare"):
    if backend == "sqlite":
        import sqlite3
        db = sqlite3.connect(Path(state) / "bare.sqlite3", isolation_level=None, timeout=600)
        db.execute("PRAGMA synchronous = FULL")
        mark = "?"
        def one(sql, args):
            db.execute("BEGIN IMMEDIATE"); db.execute(sql, args); db.execute("COMMIT")
    else:
        from flywheel_core.publishing.postgres import admin_execute
        import psycopg
        db = psycopg.connect(url, autocommit=True)
        mark = "%s"
        def one(sql, args):
            with db.transaction():
                db.execute(sql, args)
    sql = (f"INSERT INTO bare (key, status, data) VALUES ({mark}, 'queued', {mark})" if task == "bare-insert"
           else f"UPDATE bare SET status = 'published' WHERE key = {mark}")
    rows = [(f"k{i}", payload(i)) if task == "bare-insert" else (f"k{i}",) for i in range(first, first + count)]
else:
    from flywheel_core import PublishResult
    from flywheel_core.config import Config
    from flywheel_core.publishing import open_queue
    queue = open_queue(Config(Path(state), data={"state_dir": state, **({"queue": {"url": url}} if url else {})}))
    queue.entries("queued")  # connected, schema checked
print("ready", flush=True)
sys.stdin.readline()
start = time.perf_counter()
done = 0
if task.startswith("bare"):
    for args in rows:
        one(sql, args)
        done += 1
elif task == "enqueue":
    for i in range(first, first + count):
        queue.enqueue(target="bench", session_id=f"s{i}", session_type="build", kind="readme", ext="md",
                      files={"readme.md": payload(i)}, meta={"title": str(i)})
        done += 1
else:
    # Every worker claims until nothing is pending: one that finds the rest locked by others
    # (or leased to them) looks again until they are done.
    while True:
        claimed = queue.claim("bench", limit=1)
        if not claimed:
            if queue.next_due(["bench"]) is None:
                break
            time.sleep(0.001)
            continue
        queue.record(PublishResult(claimed[0].id, True, receipt={"ok": True}))
        done += 1
print(json.dumps({"seconds": time.perf_counter() - start, "done": done,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
'''


def _setup(backend: str, url: str | None, state: Path) -> None:
    """An empty queue and an empty bare table on the backend."""
    from flywheel_core.config import Config
    from flywheel_core.publishing import open_queue

    if backend == "sqlite":
        import shutil
        import sqlite3

        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        db = sqlite3.connect(state / "bare.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE bare (id INTEGER PRIMARY KEY, key TEXT UNIQUE, status TEXT, data BLOB)")
        db.close()
    else:
        from flywheel_core.publishing.postgres import admin_execute

        for table in ("items", "session_files", "documents", "blobs", "flywheel_schema", "bare"):
            admin_execute(url, f"DROP TABLE IF EXISTS {table} CASCADE")
        admin_execute(url, "DROP SEQUENCE IF EXISTS documents_revision")
        admin_execute(url, "CREATE TABLE bare (id bigserial PRIMARY KEY, key text UNIQUE, status text, data bytea)")
        state.mkdir(parents=True, exist_ok=True)
    with open_queue(Config(state, data={"state_dir": str(state), **({"queue": {"url": url}} if url else {})})) as queue:
        queue.storage.migrate()


def _measure(backend: str, url: str | None, state: Path, task: str, workers: int, items: int) -> tuple[float, float]:
    """Items per second over all ``workers`` (timed from "go" to the last one done), and the peak MiB of one."""
    share = -(-items // workers)
    procs = []
    for w in range(workers):
        job = {"backend": backend, "url": url, "state": str(state), "task": task, "first": w * share,
               "count": max(0, min(share, items - w * share))}
        procs.append(subprocess.Popen([sys.executable, "-c", CHILD, str(HERE.parent), json.dumps(job)], cwd=state,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=3600)
        assert proc.returncode == 0, f"a {task} worker failed"
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - start
    done = sum(r["done"] for r in results)
    assert done == items, f"{backend} {task} with {workers} workers: {done} of {items} done: {results}"
    return items / wall, max(r["peak_mib"] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000, help="artifacts per measurement (default 2000)")
    quick_flag(parser)
    args = parser.parse_args()
    items = 400 if args.quick else args.items
    report = Report("queue", "The publication queue on SQLite and PostgreSQL",
                    f"`.venv/bin/python benchmarks/queue.py{' --quick' if args.quick else ''}`: {items:,} artifacts "
                    "(2 KB) per figure; items per second over all worker processes")
    from flywheel_core.throwaway_postgres import ThrowawayPostgres

    server = ThrowawayPostgres()
    try:
        url = server.start()
        with tempfile.TemporaryDirectory(prefix="flywheel-bench-queue-") as tmp:
            for backend, where in (("sqlite", None), ("postgres", url)):
                for workers in WORKERS:
                    state = Path(tmp) / f"{backend}-{workers}"
                    _setup(backend, where, state)
                    insert, _ = _measure(backend, where, state, "bare-insert", workers, items)
                    enqueue, peak_enqueue = _measure(backend, where, state, "enqueue", workers, items)
                    update, _ = _measure(backend, where, state, "bare-update", workers, items)
                    claim, peak_claim = _measure(backend, where, state, "claim", workers, items)
                    name = "SQLite" if backend == "sqlite" else "PostgreSQL"
                    report.add(f"{name}, {workers} worker{'s' if workers > 1 else ''}: bare INSERT loop",
                               f"{insert:,.0f} items/s", reference="(reference)", ratio="1.00×")
                    report.add(f"{name}, {workers} worker{'s' if workers > 1 else ''}: enqueue",
                               f"{enqueue:,.0f} items/s", reference="bare INSERT", ratio=f"{enqueue / insert:.2f}×",
                               peak_mib=peak_enqueue)
                    report.add(f"{name}, {workers} worker{'s' if workers > 1 else ''}: bare UPDATE loop",
                               f"{update:,.0f} items/s", reference="(reference)", ratio="1.00×")
                    report.add(f"{name}, {workers} worker{'s' if workers > 1 else ''}: claim + record",
                               f"{claim:,.0f} items/s", reference="bare UPDATE", ratio=f"{claim / update:.2f}×",
                               peak_mib=peak_claim)
    finally:
        server.stop()
    report.note("Ratios are throughputs (higher is better): 0.25× means a quarter of the bare loop's rate.")
    report.note("SQLite takes one writer at a time, so more workers share one write lock; PostgreSQL claims "
                "with FOR UPDATE SKIP LOCKED and row locks, so workers claim side by side (2 cores here).")
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
