"""A full disk, read-only folders, files in the way: one line naming the path and what to do.

Read-only and full file systems are real ones: a tmpfs mounted in a private user and mount
namespace (``unshare -r -m``), which fails writes for root as well, where chmod would not.
"""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from core_support import EXAMPLES, FLYWHEEL

PLUGIN = """
from flywheel_core import Artifact, PublishResult, SessionType, Target, hookimpl

@hookimpl
def flywheel_session_types():
    return [SessionType("build", "test")]

@hookimpl
def flywheel_targets():
    return [Target("shelf", "test target")]

@hookimpl
def flywheel_generate(session, ctx):
    return [Artifact("summary", "# " + session.session_id + "\\n" + "x" * 4000)]

@hookimpl
def flywheel_publish(target, items, config, ctx):
    if target == "shelf":
        return [PublishResult(item.id, True, receipt={"ok": 1}) for item in items]
"""


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-r", "-m", "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs tmpfs \"$HOME\""], capture_output=True)
    return probe.returncode == 0


needs_namespace = pytest.mark.skipif(
    not _unshare_works(), reason="needs `unshare -r -m` (user + mount namespaces) to mount a small tmpfs"
)


@pytest.fixture
def project(tmp_path: Path, fake_dist):
    """A project folder: config, sessions/, out/, state/, and an env that loads the test plugin."""
    (tmp_path / "flywheel.toml").write_text('out_dir = "out"\nstate_dir = "state"\n[targets.shelf]\n')
    for name in ("sessions", "out", "state"):
        (tmp_path / name).mkdir()
    shutil.copy(EXAMPLES / "build_session.json", tmp_path / "sessions" / "s.json")
    env = fake_dist("flywheel-shelf", PLUGIN)
    return tmp_path, env


def _in_namespace(folder: Path, mounts: str, *args: object, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``flywheel ARGS`` in ``folder`` after ``mounts`` (shell) in a private mount namespace."""
    command = " ".join(shlex.quote(str(a)) for a in (FLYWHEEL, *args))
    return subprocess.run(["unshare", "-r", "-m", "sh", "-c", f"set -e; {mounts}; exec {command}"],
                          cwd=folder, capture_output=True, text=True, env=env, timeout=120)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "internal error" not in lines[0] and "--debug" not in lines[0]
    return lines[0]


FULL = "mount -t tmpfs -o size=64k tmpfs {0}; dd if=/dev/zero of={0}/fill bs=1k count=200 2>/dev/null || true"
READ_ONLY = "mount -t tmpfs -o ro tmpfs {0}"


@needs_namespace
def test_a_full_disk_under_out_is_one_line(project) -> None:
    folder, env = project
    proc = _in_namespace(folder, FULL.format("out"), "run", "sessions/s.json", env=env)
    assert proc.returncode == 1
    line = _one_error_line(proc)
    assert line.startswith(f"flywheel: error: cannot write {folder / 'out'}/build/")
    assert line.endswith("No space left on device (the disk is full: free some space, then run again)")


@needs_namespace
def test_a_full_disk_under_the_sessions_keeps_the_session_intact(project) -> None:
    folder, env = project
    before = (folder / "sessions" / "s.json").read_bytes()
    mounts = ("cp sessions/s.json s.copy; mount -t tmpfs -o size=64k tmpfs sessions; cp s.copy sessions/s.json; "
              "dd if=/dev/zero of=sessions/fill bs=1k count=200 2>/dev/null || true")
    proc = _in_namespace(folder, mounts, "run", "sessions/s.json", env=env)
    assert proc.returncode == 1
    assert "No space left on device (the disk is full" in _one_error_line(proc)
    assert (folder / "sessions" / "s.json").read_bytes() == before


@pytest.mark.parametrize("where", ["out", "state", "sessions"])
@needs_namespace
def test_a_read_only_folder_is_one_line(project, where: str) -> None:
    folder, env = project
    if where == "sessions":
        mounts = "cp sessions/s.json s.copy; mount -t tmpfs tmpfs sessions; cp s.copy sessions/s.json; " \
                 "mount -o remount,ro sessions"
    else:
        mounts = READ_ONLY.format(where)
    proc = _in_namespace(folder, mounts, "run", "sessions/s.json", env=env)
    assert proc.returncode == 1
    line = _one_error_line(proc)
    assert line.startswith(f"flywheel: error: cannot write {folder / where}"), line
    assert line.endswith("Read-only file system (the file system is read-only: choose a writable folder)")


def test_a_file_in_the_way_of_the_out_folder(project) -> None:
    folder, env = project
    (folder / "out").rmdir()
    (folder / "out").write_text("not a folder")
    proc = subprocess.run([FLYWHEEL, "run", "sessions/s.json"], cwd=folder, capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    line = _one_error_line(proc)
    assert f"cannot write {folder / 'out'}" in line
    assert "a file is in the way of a folder on that path: move the file away" in line


def test_a_lock_folder_that_is_a_file(project) -> None:
    folder, env = project
    cache = folder / "cache"
    (cache / "flywheel").mkdir(parents=True)
    (cache / "flywheel" / "locks").write_text("")
    proc = subprocess.run([FLYWHEEL, "run", "sessions/s.json"], cwd=folder, capture_output=True, text=True,
                          env=dict(env, XDG_CACHE_HOME=str(cache)))
    assert proc.returncode == 1
    line = _one_error_line(proc)
    assert line.startswith(f"flywheel: error: cannot create the lock folder {cache / 'flywheel' / 'locks'}: ")
    assert "move the file away" in line


def _small_files() -> None:
    # The size limit a full quota or `ulimit -f` sets: writes past it fail with EFBIG.
    resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))


def test_a_file_size_limit_is_one_line(project) -> None:
    folder, env = project
    proc = subprocess.run([FLYWHEEL, "run", "sessions/s.json"], cwd=folder, capture_output=True, text=True,
                          env=env, preexec_fn=_small_files)
    assert proc.returncode == 1
    line = _one_error_line(proc)
    assert line.startswith(f"flywheel: error: cannot write {folder / 'out'}/build/")
    assert "File too large (the file size limit was reached" in line


def test_a_device_is_never_replaced_by_collect_output(tmp_path: Path) -> None:
    # `collect -o` writes through symlinks; a device (or FIFO) at the path must stay what it is.
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    from flywheel_core import FlywheelError
    from flywheel_core.store import emit_session

    with pytest.raises(FlywheelError, match=r"is a FIFO \(named pipe\), not a regular file"):
        emit_session({"a": 1}, fifo)
    assert fifo.exists() and not fifo.is_file()
