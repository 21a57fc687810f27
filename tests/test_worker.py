"""``flywheel worker`` on both backends: drains what is due, waits for more, stops cleanly on signals."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from core_support import FLYWHEEL, SHELF
from flywheel_core.testing import QueueBackend


class Fleet:
    """A project whose ``shelf`` target a real ``flywheel`` process can load (an installed-looking plugin)."""

    def __init__(self, root: Path, env: dict[str, str], backend: QueueBackend) -> None:
        self.root = root
        self.env = env
        self.config = root / "flywheel.toml"
        self.config.write_text(f'out_dir = "out"\nstate_dir = "state"\n[queue]\nbackoff_seconds = 0\n{backend.toml}'
                               '[targets.shelf]\ndir = "shelf"\npause_when = "PAUSE"\nfail_when = "FAIL"\n')

    def artifact(self, session: str, text: str = "hello") -> Path:
        path = self.root / "out" / "build" / session / "readme.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {session}\n\n{text}\n")
        return path

    def flywheel(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(FLYWHEEL), *args, "--config", str(self.config)], env=self.env, cwd=self.root,
                              capture_output=True, text=True, timeout=300)

    def enqueue(self, *sessions: str) -> None:
        for session in sessions:
            done = self.flywheel("queue", "add", str(self.artifact(session)), "--kind", "readme", "--targets", "shelf")
            assert done.returncode == 0, done.stderr

    def worker(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(FLYWHEEL), "worker", *args, "--config", str(self.config)], env=self.env,
                                cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def entries(self) -> list[dict]:
        return json.loads(self.flywheel("queue", "list", "--json").stdout)

    def logged(self) -> list[int]:
        path = self.root / "shelf" / "log.jsonl"
        return [json.loads(line)["id"] for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def fleet(tmp_path: Path, fake_dist, queue_backend: QueueBackend) -> Fleet:
    return Fleet(tmp_path, fake_dist("shelf-target", SHELF), queue_backend)


def _wait_for(condition, what: str, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_once_with_several_threads_publishes_everything_due_exactly_once(fleet: Fleet) -> None:
    fleet.enqueue(*(f"s-{i:02}" for i in range(12)))
    done = fleet.flywheel("worker", "--once", "--concurrency", "4")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sorted(lines) == [f"published readme of s-{i:02} -> shelf: path s-{i:02}/readme.md" for i in range(12)]
    assert "worker stopped after" in done.stderr and "12 published, 0 failed, 0 dead" in done.stderr
    assert sorted(fleet.logged()) == sorted(e["id"] for e in fleet.entries()), "each entry published once"
    assert {e["status"] for e in fleet.entries()} == {"published"}


def test_once_reports_failures_and_exits_1(fleet: Fleet) -> None:
    fleet.enqueue("s-1")
    (fleet.root / "FAIL").write_text("the shelf is full")
    done = fleet.flywheel("worker", "--once", "--json")
    assert done.returncode == 1
    assert "FAILED readme of s-1 -> shelf (attempt 1" not in done.stdout, "--json prints only the summary"
    summary = json.loads(done.stdout)
    assert (summary["published"], summary["failed"], summary["dead"]) == (0, 1, 0)


def test_a_waiting_worker_takes_new_work_as_it_comes_and_stops_on_sigterm(fleet: Fleet) -> None:
    worker = fleet.worker()
    try:
        fleet.enqueue("s-1")
        _wait_for(lambda: fleet.logged(), "the worker to publish the first entry")
        fleet.enqueue("s-2", "s-3")
        _wait_for(lambda: len(fleet.logged()) == 3, "the worker to publish the next two")
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = _finish(worker)
    assert worker.returncode == 0, err
    assert sorted(out.splitlines()) == [f"published readme of s-{i} -> shelf: path s-{i}/readme.md" for i in (1, 2, 3)]
    assert "3 published, 0 failed, 0 dead" in err


@contextlib.contextmanager
def _holding(fleet: Fleet) -> Iterator[subprocess.Popen[str]]:
    """A worker whose target holds the batch of ``s-1`` (until PAUSE goes); killed if left running."""
    fleet.enqueue("s-1")
    (fleet.root / "PAUSE").write_text("")
    worker = fleet.worker()
    try:
        _wait_for(lambda: (fleet.root / "shelf" / "paused").exists(), "the target to hold the batch")
        yield worker
    finally:
        if worker.poll() is None:
            worker.kill()


def _stop(worker: subprocess.Popen[str], sig: int, *, now: bool = False) -> None:
    """Send ``sig`` and wait for the worker to say it is stopping; with ``now``, send it again."""
    worker.send_signal(sig)
    _wait_for(lambda: "finishing the batches in hand" in _peek(worker), "the worker to say it is stopping")
    if now:
        worker.send_signal(sig)


def test_sigterm_lets_the_batch_in_hand_finish(fleet: Fleet) -> None:
    with _holding(fleet) as worker:
        _stop(worker, signal.SIGTERM)
        (fleet.root / "PAUSE").unlink()
        out, err = _finish(worker)
    assert worker.returncode == 0, err
    assert out == "published readme of s-1 -> shelf: path s-1/readme.md\n"
    [entry] = fleet.entries()
    assert entry["status"] == "published" and entry["attempts"] == 1


def test_a_second_signal_gives_the_batch_back_unspent_and_stops_at_once(fleet: Fleet) -> None:
    with _holding(fleet) as worker:
        _stop(worker, signal.SIGINT, now=True)
        out, err = _finish(worker)
    assert worker.returncode == 130, err
    assert "1 given back unpublished" in err
    [entry] = fleet.entries()
    assert (entry["status"], entry["attempts"]) == ("queued", 0), "the given-back try is not spent"
    (fleet.root / "PAUSE").unlink()
    assert fleet.flywheel("worker", "--once").returncode == 0
    assert fleet.entries()[0]["status"] == "published"


def test_a_queue_that_does_not_answer_cannot_keep_a_worker_told_to_stop_now(fleet: Fleet, queue_backend: QueueBackend) -> None:
    if queue_backend.url is None:
        pytest.skip("another session's row locks: PostgreSQL")
    import psycopg

    with _holding(fleet) as worker:
        # Another machine holds the row in a transaction that does not end: giving it back waits.
        with psycopg.connect(queue_backend.url) as other:
            other.execute("SELECT id FROM items FOR UPDATE")
            _stop(worker, signal.SIGINT, now=True)
            out, err = _finish(worker)
    assert worker.returncode == 130, err
    assert "did not take back the batches in hand within 15 s" in err
    (fleet.root / "PAUSE").unlink()
    # The holder is gone: the next worker takes the entry at once, the interrupted try not counted.
    assert fleet.flywheel("worker", "--once").returncode == 0
    [entry] = fleet.entries()
    assert (entry["status"], entry["attempts"]) == ("published", 1)


# Once given back, the batch's thread still in the target meets a closed pool when the target
# returns (the worker's process has exited by then; here the test lets that thread end).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_second_signal_needs_no_lock_the_interrupted_main_thread_may_hold(
        tmp_path: Path, fake_dist, postgres_url: str, empty_host) -> None:
    # A signal handler runs between two steps of the main thread, which may be inside the
    # connection pool holding its lock (not re-entrant). The handler of a second SIGINT used to
    # give the batch back from there: it waited for that lock for ever, and the worker hung.
    import types

    from flywheel_core.config import load_config
    from flywheel_core.publishing.worker import Worker

    fleet = Fleet(tmp_path, fake_dist("shelf-target", SHELF), QueueBackend("postgres", postgres_url))
    fleet.enqueue("s-1")
    (fleet.root / "PAUSE").write_text("")
    shelf = types.ModuleType("shelf_target")
    exec(compile(SHELF, "shelf_target.py", "exec"), shelf.__dict__)
    empty_host.register(shelf, name="shelf", distribution="flywheel-shelf", version="1")
    worker = Worker(load_config(fleet.config), empty_host)
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    try:
        _wait_for(lambda: (fleet.root / "shelf" / "paused").exists(), "the target to hold the batch")
        with worker._storage._pool._lock:  # what the main thread may hold when the signal comes
            handler = threading.Thread(target=worker.stop, kwargs={"release": True}, daemon=True)
            handler.start()
            handler.join(60)
            assert not handler.is_alive(), "stop(release=True) waited for the connection pool's lock"
        runner.join(120)
        assert not runner.is_alive(), "run() returns once the batch is given back"
    finally:
        (fleet.root / "PAUSE").unlink(missing_ok=True)
        runner.join(120)
        for thread in threading.enumerate():
            if thread.name.startswith("flywheel-worker-"):
                thread.join(120)
    assert worker.report.released == 1
    [entry] = fleet.entries()
    assert (entry["status"], entry["attempts"]) == ("queued", 0), "the given-back try is not spent"


_seen: dict[int, str] = {}


def _finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    """The process's output once it ends; if it does not, fail with where its threads are (SIGUSR1)."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the worker did not stop within {timeout} s; its threads:\n{_seen.get(proc.pid, '')}{err}")


def _peek(proc: subprocess.Popen[str]) -> str:
    """What a running process has written to stderr so far (read without blocking)."""
    import fcntl

    fd = proc.stderr.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        chunk = b""
    _seen[proc.pid] = _seen.get(proc.pid, "") + chunk.decode(errors="replace")
    return _seen[proc.pid]


def test_a_signal_that_comes_while_stop_runs_cannot_hang_it(tmp_path: Path, empty_host) -> None:
    # Regression (make test hung on PostgreSQL): the second SIGINT's handler ran while the first
    # one was inside threading.Event.set, holding the Event's lock; setting it again waited for
    # ever. Here a "signal" (a nested stop) comes between every two lines stop runs.
    import sys
    import types

    from flywheel_core.config import load_config
    from flywheel_core.publishing.worker import Worker

    shelf = types.ModuleType("shelf_target")
    exec(compile(SHELF, "shelf_target.py", "exec"), shelf.__dict__)
    empty_host.register(shelf, name="shelf", distribution="flywheel-shelf", version="1")
    config = tmp_path / "flywheel.toml"
    config.write_text('state_dir = "state"\n[targets.shelf]\ndir = "shelf"\n')
    worker = Worker(load_config(config), empty_host)

    def signal_between_lines(frame, event, arg):
        if event == "line":
            worker.stop(release=True)  # runs untraced: a handler's own lines are not interrupted here
        return signal_between_lines

    def first_handler() -> None:
        sys.settrace(signal_between_lines)
        try:
            worker.stop()
        finally:
            sys.settrace(None)

    handler = threading.Thread(target=first_handler, daemon=True)
    handler.start()
    handler.join(30)
    assert not handler.is_alive(), "a second stop() during the first waited for a lock the first holds"
    assert worker.stopping


def test_notify_wakes_a_waiting_postgres_worker(tmp_path: Path, postgres_url: str) -> None:
    # An idle worker on PostgreSQL sleeps in LISTEN until an enqueue anywhere sends NOTIFY.
    backend = QueueBackend("postgres", postgres_url)
    waiter = backend.open(tmp_path / "a")
    other = backend.open(tmp_path / "b")
    waiter.storage.wait(0)  # listening
    woke = threading.Event()

    def wait() -> None:
        waiter.storage.wait(600)
        woke.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    other.enqueue(target="shelf", session_id="s", session_type="build", kind="readme", ext="md",
                  files={"readme.md": b"x"}, meta={})
    assert woke.wait(120), "the enqueue did not wake the waiting worker"
    waiter.close()
    other.close()
