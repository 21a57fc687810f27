"""The session store: symlinked session files are written through; killed writers' temp files go."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core_support import load
from flywheel_core.fsutil import atomic_write, remove_stale_temps
from flywheel_core.testing import run_cli


def test_run_writes_through_a_symlinked_session_file(tmp_path: Path, echo_host, example) -> None:
    real = example("build_session.json")
    links = tmp_path / "links"
    links.mkdir()
    link = links / "work_session.json"
    link.symlink_to(real)
    result = run_cli(["run", link, "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 0, result.output
    # Before: the link was replaced by a regular file and the real file never got the results.
    assert link.is_symlink() and link.resolve() == real
    assert load(real)["artifacts"]["summary"]["status"] == "ready"
    assert load(real)["pipeline_status"]["build_artifact"] == "complete"
    assert not list(links.glob(".*.tmp")) and not list(real.parent.glob(".*.tmp"))


def test_a_chain_of_relative_links_is_followed_to_the_file(tmp_path: Path, echo_host, example) -> None:
    real = example("build_session.json")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.json").symlink_to(Path("..") / real.name)
    (tmp_path / "two.json").symlink_to(Path("a") / "one.json")
    result = run_cli(["run", tmp_path / "two.json", "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "two.json").is_symlink() and (tmp_path / "a" / "one.json").is_symlink()
    assert load(real)["pipeline_status"]["build_artifact"] == "complete"


def test_a_dangling_link_is_bad_input(tmp_path: Path, echo_host) -> None:
    link = tmp_path / "work_session.json"
    link.symlink_to(tmp_path / "gone.json")
    result = run_cli(["run", link, "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 2
    assert f"{link}: $: no such file" in result.stderr
    assert link.is_symlink() and not (tmp_path / "gone.json").exists()


_KILLED_WRITER = """
import os, sys
from pathlib import Path
from flywheel_core.fsutil import _open_temp
path = Path(sys.argv[1])
fd, tmp = _open_temp(path)
os.write(fd, b'{"half": ')
print(tmp, flush=True)
os.kill(os.getpid(), 9)
"""


def _killed_writer_temp(path: Path) -> Path:
    """A temp file exactly as atomic_write leaves it when its process is SIGKILLed mid-write."""
    proc = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], capture_output=True, text=True)
    assert proc.returncode == -9
    return Path(proc.stdout.strip())


def test_the_next_run_removes_temp_files_of_killed_writers(tmp_path: Path, echo_host, example) -> None:
    session = example("build_session.json")
    dead = _killed_writer_temp(session)
    old = session.parent / f".{session.name}.abcd1234.tmp"  # the name before pids were recorded
    old.write_text("{")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    live = session.parent / f".{session.name}.{os.getpid()}.zz99zz99.tmp"  # a writer still running
    live.write_text("{")
    other = session.parent / ".other.json.1.abc.tmp"  # another file's, left to that file's writes
    other.write_text("{")
    assert dead.exists()
    result = run_cli(["run", session, "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 0, result.output
    assert not dead.exists() and not old.exists()
    assert live.exists() and other.exists()


def test_remove_stale_temps_honours_the_age_of_files_of_live_writers(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    atomic_write(path, "{}\n")
    live = tmp_path / f".s.json.{os.getpid()}.abcdefgh.tmp"
    live.write_text("{")
    assert remove_stale_temps(path) == []
    os.utime(live, (time.time() - 120, time.time() - 120))
    assert remove_stale_temps(path) == [live]


def test_atomic_write_names_its_temp_file_after_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    temp = _killed_writer_temp(path)
    assert temp.name.startswith(".s.json.") and temp.name.endswith(".tmp")
    pid = int(temp.name.split(".")[3])
    assert pid != os.getpid()
    assert remove_stale_temps(path) == [temp]


def test_a_temp_name_a_dead_writer_with_this_pid_left_is_skipped(tmp_path: Path, monkeypatch) -> None:
    import itertools

    from flywheel_core import fsutil

    path = tmp_path / "s.json"
    # A process with this pid, killed long ago, left the temp files this one would name next.
    left = [tmp_path / f".s.json.{os.getpid()}.{n}.tmp" for n in range(2)]
    for file in left:
        file.write_text("{")
    monkeypatch.setattr(fsutil, "_temp_numbers", itertools.count())
    atomic_write(path, "{}\n")
    assert path.read_text() == "{}\n" and path.stat().st_mode & 0o777 == 0o644
    assert all(file.read_text() == "{" for file in left), "another writer's file is never overwritten"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s.json", *(f.name for f in left)])


def test_several_files_are_written_with_one_fsync_each_and_one_per_folder(tmp_path: Path, monkeypatch) -> None:
    from flywheel_core.fsutil import atomic_write_many

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.md").write_text("old")
    os.chmod(tmp_path / "a" / "one.md", 0o600)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    atomic_write_many({tmp_path / "a" / "one.md": "new", tmp_path / "a" / "two.png": b"\x89PNG",
                       tmp_path / "b" / "three.json": "{}"})
    assert len(synced) == 3 + 2, "a file each, then each folder once (artifacts were two each)"
    assert (tmp_path / "a" / "one.md").read_text() == "new" and (tmp_path / "b" / "three.json").read_text() == "{}"
    assert (tmp_path / "a" / "one.md").stat().st_mode & 0o777 == 0o600, "a replaced file keeps its mode"
    assert (tmp_path / "a" / "two.png").stat().st_mode & 0o777 == 0o644
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_file_that_cannot_be_written_leaves_the_others_as_they_were(tmp_path: Path) -> None:
    from flywheel_core.errors import FileSystemError
    from flywheel_core.fsutil import atomic_write_many

    (tmp_path / "one.md").write_text("old")
    (tmp_path / "two.md").mkdir()  # a folder in the way of the second file
    with pytest.raises(FileSystemError, match="two.md"):
        atomic_write_many({tmp_path / "one.md": "new", tmp_path / "two.md": "new"})
    assert (tmp_path / "one.md").read_text() == "old", "nothing renamed before every file was written"
    assert not list(tmp_path.glob(".*.tmp"))
