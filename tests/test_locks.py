"""Cross-process locks: freed when the holder dies, waits say what for, time-outs name the holder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core_support import FLYWHEEL
from flywheel_core import LockTimeout, lock_for
from flywheel_core.testing import build_session

HOLDER = """
import sys, time
from pathlib import Path
from flywheel_core import lock_for
with lock_for(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder():
    """Start a process that takes the lock of a path and keeps it; it is killed afterwards."""
    procs: list[subprocess.Popen] = []

    def start(path: Path) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), "--marker-arg"],
                                stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait()


def test_a_lock_of_a_killed_process_is_free_at_once(tmp_path: Path, holder) -> None:
    path = tmp_path / "work_session.json"
    proc = holder(path)
    with pytest.raises(LockTimeout):
        lock_for(path, timeout=0).acquire()
    proc.kill()
    proc.wait()
    with lock_for(path, timeout=0):  # no waiting at all: the system dropped the dead holder's flock
        pass


def test_a_timeout_names_the_path_and_the_holder(tmp_path: Path, holder) -> None:
    path = tmp_path / "work_session.json"
    proc = holder(path)
    with pytest.raises(LockTimeout) as caught:
        lock_for(path, timeout=0).acquire()
    message = str(caught.value)
    assert f"the lock on {path} (lock file " in message
    assert f"held by pid {proc.pid} (" in message and "--marker-arg" in message
    assert "if that process is stuck, end it and run again" in message


def test_a_waiting_run_says_what_it_waits_for_and_gives_up_in_one_line(tmp_path: Path, holder, fake_dist) -> None:
    env = fake_dist("flywheel-small", """
from flywheel_core import Artifact, SessionType, hookimpl

@hookimpl
def flywheel_session_types():
    return [SessionType("build", "test")]

@hookimpl
def flywheel_generate(session, ctx):
    return [Artifact("summary", "# x\\n")]
""")
    session = tmp_path / "work_session.json"
    session.write_text(__import__("json").dumps(build_session("build")))
    proc = holder(session)
    run = subprocess.run([FLYWHEEL, "run", session, "--out", tmp_path / "out"], capture_output=True, text=True,
                         env=dict(env, FLYWHEEL_LOCK_TIMEOUT="3"), timeout=120)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    # Before: 120 s of silence, then "internal error: Timeout".
    assert lines[0].startswith(f"flywheel: waiting for the lock on {session} held by pid {proc.pid} (")
    assert lines[-1].startswith(f"flywheel: error: gave up after 3 s waiting for the lock on {session}")
    assert f"held by pid {proc.pid}" in lines[-1] and "internal error" not in run.stderr
    assert len(lines) == 2, run.stderr


def test_a_stopped_holder_is_named_as_stopped(tmp_path: Path, holder) -> None:
    path = tmp_path / "site.lock"
    proc = holder(path)
    proc.send_signal(signal.SIGSTOP)
    os.waitpid(proc.pid, os.WUNTRACED)  # returns once it is stopped (the signal is asynchronous)
    try:
        with pytest.raises(LockTimeout, match=rf"it is stopped: resume it \(kill -CONT {proc.pid}\) or end it"):
            lock_for(path, timeout=0).acquire()
    finally:
        proc.send_signal(signal.SIGCONT)


def test_the_holder_record_goes_with_the_lock(tmp_path: Path) -> None:
    lock = lock_for(tmp_path / "x")
    with lock:
        assert lock.holder().startswith(f"pid {os.getpid()} (")
        with lock:  # re-entrant in one process
            pass
        assert lock.holder_file.exists()
    assert not lock.holder_file.exists()
    assert lock.holder() == "an unknown process"


LATE_SECRET = """
import json, sys
from pathlib import Path
from flywheel_core import lock_for
from flywheel_core.redaction import register_secret

folder, secret, shown = Path(sys.argv[1]), sys.argv[2], []
for step in ("before", "registered", "argv changed"):
    if step == "registered":
        register_secret(secret)
    if step == "argv changed":
        sys.argv.append("--another-arg")
    with lock_for(folder / step) as lock:
        shown.append(json.loads(lock.holder_file.read_text())["command"])
print(json.dumps(shown))
"""


def test_the_holder_record_shows_the_command_as_redaction_stands_at_each_lock(tmp_path: Path) -> None:
    """The redacted command line is kept between locks (redacting a thousand file names per lock
    was 3 ms a file): a secret registered since, or a changed command line, is still seen."""
    secret = "late-secret-" + "7" * 16
    out = subprocess.run([sys.executable, "-c", LATE_SECRET, str(tmp_path), secret], capture_output=True, text=True,
                         check=True).stdout
    before, registered, changed = json.loads(out)
    assert secret in before, "not a secret yet"
    assert secret not in registered and "***" in registered
    assert secret not in changed and changed.endswith("--another-arg")


def test_the_holder_record_names_this_host_as_socket_does(tmp_path: Path) -> None:
    """The host is read without importing socket (issue 18: start-up), and is the same name, so
    a waiter running an older flywheel still sees the holder as local."""
    import socket

    with lock_for(tmp_path / "work_session.json") as lock:
        record = json.loads(lock.holder_file.read_text(encoding="utf-8"))
    assert record["host"] == socket.gethostname() and record["pid"] == os.getpid()


WAITER = """
import sys
from pathlib import Path
from flywheel_core import LockTimeout, lock_for
for name in sys.argv[1:]:
    try:
        lock_for(Path(name), timeout=0).acquire()
    except LockTimeout as exc:
        print(exc)
"""


def test_locks_taken_together_share_one_holder_record(tmp_path: Path) -> None:
    """`flywheel run` on many files locks each: one record is written and linked as each lock's
    holder file (a new file per lock cost ten times a link); a waiter still names the holder,
    and nothing is left behind, not even a holder file a killed process left."""
    from flywheel_core.locks import lock_all

    paths = [tmp_path / f"s{i}.json" for i in range(3)]
    stale = lock_for(paths[1]).holder_file
    stale.write_text('{"pid": 1, "command": "killed long ago"}', encoding="utf-8")
    with lock_all(reversed(paths)) as locks:
        assert sorted(lock.path for lock in locks) == paths
        assert [str(lock.lock_file) for lock in locks] == sorted(str(lock.lock_file) for lock in locks), "one order"
        inodes = {os.stat(lock.holder_file).st_ino for lock in locks}
        assert len(inodes) == 1, "one record, linked"
        record = json.loads(locks[0].holder_file.read_text(encoding="utf-8"))
        assert sorted(record["paths"]) == sorted(map(str, paths)) and record["pid"] == os.getpid()
        out = subprocess.run([sys.executable, "-c", WAITER, *map(str, paths)], capture_output=True, text=True,
                             check=True).stdout.splitlines()
        assert len(out) == 3 and all(f"held by pid {os.getpid()} (" in line for line in out), out
    folder = locks[0].lock_file.parent
    assert not any(lock.holder_file.exists() for lock in locks)
    assert not list(folder.glob(f"shared-{os.getpid()}-*.holder"))
    with lock_all(paths):  # free again, and taken again
        pass


CONTENDER = """
import os, sys, time
from pathlib import Path
from flywheel_core.locks import lock_all, lock_for

work, rounds = Path(sys.argv[1]), int(sys.argv[2])
counter, inside, other = work / "counter", work / "inside", work / "other.json"
print("ready", flush=True)
while not (work / "go").exists():
    time.sleep(0.001)
for i in range(rounds):
    # every third round locks two paths together, as `flywheel run` on many files does
    with lock_all([counter, other]) if i % 3 == 2 else lock_for(counter):
        os.close(os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # fails while another holds it too
        count = int(counter.read_text())
        os.sched_yield()
        counter.write_text(str(count + 1))
        os.unlink(inside)
"""

SWEEPER = """
import sys, time
from pathlib import Path
from flywheel_core.locks import _lock_folder, _sweep

work, folder = Path(sys.argv[1]), _lock_folder()
print("ready", flush=True)
while not (work / "stop").exists():
    _sweep(folder, 1.0)
    time.sleep(0.0005)
"""


def contend(tmp_path: Path, processes: int, rounds: int) -> None:
    """``processes`` processes add 1 to a counter ``rounds`` times each under the counter's lock,
    while every release removes the lock file and a sweeper removes whatever lock is free."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "counter").write_text("0")
    contenders = [subprocess.Popen([sys.executable, "-c", CONTENDER, str(work), str(rounds)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for _ in range(processes)]
    sweeper = subprocess.Popen([sys.executable, "-c", SWEEPER, str(work)], stdout=subprocess.PIPE, text=True)
    try:
        for proc in [*contenders, sweeper]:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        (work / "go").touch()
        for proc in contenders:
            _, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
    finally:
        (work / "stop").touch()
        sweeper.wait(timeout=60)
        for proc in contenders:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert int((work / "counter").read_text()) == processes * rounds
    folder = lock_for(work / "counter").lock_file.parent
    assert sorted(os.listdir(folder)) == ["swept"], "every lock file went with its release"


def test_processes_contending_while_lock_files_are_removed_never_hold_a_lock_twice(tmp_path: Path) -> None:
    """A release removes its lock file: a waiter that opened it just before still gets its flock,
    on a file gone from the folder, while a newcomer locks a new one; the waiter must see that and
    lock again (before: nothing removed lock files, and the folder grew by one per path, forever)."""
    contend(tmp_path, processes=4, rounds=150)


@pytest.mark.soak
def test_many_processes_contending_for_long_never_hold_a_lock_twice(tmp_path: Path) -> None:
    contend(tmp_path, processes=12, rounds=2000)


def test_the_lock_folder_does_not_grow_with_the_paths_locked(tmp_path: Path) -> None:
    """A year of sessions, or a swarm of agents, locks ever new paths: 58,566 files had piled up
    in one user's lock folder, one per path ever locked (and a holder record per killed holder)."""
    from flywheel_core.locks import lock_all

    paths = [tmp_path / f"session-{i}.json" for i in range(1000)]
    for path in paths:
        with lock_for(path):
            pass
    folder = lock_for(paths[0]).lock_file.parent
    assert os.listdir(folder) == ["swept"]
    with lock_all(paths) as locks:
        assert len(os.listdir(folder)) == 2 * len(paths) + 2  # lock files, holder links, the record, the stamp
        assert all(lock.lock_file.exists() for lock in locks)
    assert os.listdir(folder) == ["swept"]


def test_a_lock_a_killed_holder_left_is_taken_by_the_next_process_and_then_removed(tmp_path: Path, holder) -> None:
    path = tmp_path / "work_session.json"
    proc = holder(path)
    lock = lock_for(path, timeout=0)
    assert f"pid {proc.pid} (" in lock.holder()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lock.lock_file.exists() and lock.holder_file.exists(), "a killed holder removes nothing"
    with lock:  # no waiting: the system dropped the dead holder's flock
        assert lock.holder().startswith(f"pid {os.getpid()} (")
    assert sorted(os.listdir(lock.lock_file.parent)) == ["swept"]


def test_a_sweep_removes_what_killed_holders_and_earlier_versions_left_and_no_lock_held(tmp_path: Path, holder) -> None:
    """The backlog: an earlier flywheel left a lock file per path ever locked, and a killed
    holder its lock file and holder record (and a batch its shared record)."""
    from flywheel_core.locks import SHARED_RECORD_AGE, _sweep

    held = tmp_path / "held.json"
    proc = holder(held)
    killed = holder(tmp_path / "killed.json")
    killed.kill()
    killed.wait()
    folder = lock_for(held).lock_file.parent
    for i in range(300):  # as the earlier version left them: empty, named by a hash of the path
        (folder / f"{i:032x}.lock").touch()
    for i in range(300, 310):  # a record without its lock file
        (folder / f"{i:032x}.lock.holder").write_text('{"pid": 1}', encoding="utf-8")
    old_batch, batch = folder / "shared-1-0.holder", folder / f"shared-{proc.pid}-0.holder"
    old_batch.write_text('{"pid": 1}', encoding="utf-8")
    os.utime(old_batch, (0, os.stat(old_batch).st_mtime - SHARED_RECORD_AGE - 60))
    batch.write_text('{"pid": 2}', encoding="utf-8")
    assert _sweep(folder, budget=600) is True
    kept = lock_for(held)
    assert sorted(os.listdir(folder)) == sorted([kept.lock_file.name, kept.holder_file.name, batch.name, "swept"])
    with pytest.raises(LockTimeout, match=f"held by pid {proc.pid} "):
        kept.acquire(timeout=0)


SWEEPING_RUN = """
import sys
from pathlib import Path
from flywheel_core import lock_for
with lock_for(Path(sys.argv[1])):
    pass
"""


def test_the_first_lock_of_a_process_sweeps_a_bounded_while_and_the_next_goes_on(tmp_path: Path) -> None:
    """The sweep runs when a process takes its first lock, at most once in SWEEP_EVERY seconds
    on a machine, for at most SWEEP_BUDGET seconds; a backlog larger than that is swept on by
    the next processes until one gets through it all."""
    from flywheel_core.locks import _lock_folder

    folder = _lock_folder()
    os.unlink(folder / "swept")
    for i in range(5000):
        (folder / f"{i:032x}.lock").touch()
    runs = 0
    while len(os.listdir(folder)) > 1 and runs < 200:
        subprocess.run([sys.executable, "-c", SWEEPING_RUN, str(tmp_path / "x.json")], check=True)
        runs += 1
    assert os.listdir(folder) == ["swept"], f"{runs} runs"
    (folder / f"{0:032x}.lock").touch()
    subprocess.run([sys.executable, "-c", SWEEPING_RUN, str(tmp_path / "x.json")], check=True)
    assert (folder / f"{0:032x}.lock").exists(), "swept a moment ago: not again"
