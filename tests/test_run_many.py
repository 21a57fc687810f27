"""`flywheel run` on many files in one call: artifacts written a batch at a time, then recorded."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path

from core_support import FLYWHEEL
from flywheel_core import hookimpl, pipeline
from flywheel_core.fsutil import WriteBatch
from flywheel_core.testing import run_cli

PLUGIN = '''
from flywheel_core import Artifact, SessionType, hookimpl

@hookimpl
def flywheel_session_types():
    return [SessionType("build")]

@hookimpl
def flywheel_generate(session, ctx):
    return [Artifact("one", f"# one {session.session_id}\\n", attachments={"data.json": "{}\\n"}),
            Artifact("two", f"# two {session.session_id}\\n")]
'''


def sessions(folder: Path, example, count: int) -> list[Path]:
    """``count`` copies of the build example, each its own session id and file."""
    seed = json.loads(example().read_text())
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"s{i:03d}.json"
        path.write_text(json.dumps({**seed, "session_id": f"many-{i:03d}"}), encoding="utf-8")
        paths.append(path)
    return paths


def temp_files(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob(".*.tmp")]


def test_more_files_than_a_batch_are_each_written_and_recorded(tmp_path: Path, echo_host, example) -> None:
    count = pipeline.BATCH_SESSIONS + 6  # two batches, each past WriteBatch.SYNCFS_FROM files
    assert count * 2 > WriteBatch.SYNCFS_FROM
    files = sessions(tmp_path / "many", example, count)
    out = tmp_path / "out"
    result = run_cli(["run", *map(str, files), "--out", out], host=echo_host)
    assert result.exit_code == 0, result.output
    for i, path in enumerate(files):
        data = json.loads(path.read_text())
        assert data["pipeline_status"]["build_artifact"] == "complete", path
        for kind, record in data["artifacts"].items():
            written = Path(record["path"])
            assert written.parent == out / "build" / f"many-{i:03d}", (kind, written)
            assert hashlib.sha256(written.read_bytes()).hexdigest() == record["sha256"], "the record names what is on disk"
            assert all(Path(f).is_file() for f in record["files"])
    assert not temp_files(out, tmp_path / "many"), "no temp file left behind"

    # The same bytes as running each file on its own.
    alone = sessions(tmp_path / "alone", example, 3)
    for path in alone:
        assert run_cli(["run", str(path), "--out", tmp_path / "out-alone"], host=echo_host).exit_code == 0
    for i in range(3):
        a, b = out / "build" / f"many-{i:03d}", tmp_path / "out-alone" / "build" / f"many-{i:03d}"
        assert {p.name: p.read_bytes() for p in a.iterdir()} == {p.name: p.read_bytes() for p in b.iterdir()}


def test_a_file_given_twice_is_run_twice(tmp_path: Path, echo_host, example) -> None:
    path = example()
    result = run_cli(["run", str(path), str(path), "--json", "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in json.loads(result.stdout)] == ["complete", "complete"]
    assert json.loads(path.read_text())["pipeline_status"]["build_artifact"] == "complete"


def test_a_session_that_cannot_be_written_keeps_the_ones_before_it(tmp_path: Path, echo_host, example) -> None:
    files = sessions(tmp_path / "many", example, 5)
    before = {p: p.read_bytes() for p in files}
    out = tmp_path / "out"
    (out / "build").mkdir(parents=True)
    (out / "build" / "many-003").write_text("a file in the way of session 3's folder")
    result = run_cli(["run", *map(str, files), "--out", out], host=echo_host)
    assert result.exit_code == 1
    assert f"cannot write {out / 'build' / 'many-003'}" in result.output
    for path in files[:3]:
        data = json.loads(path.read_text())
        assert data["pipeline_status"]["build_artifact"] == "complete", "written and recorded before the failure"
        assert all(Path(r["path"]).is_file() for r in data["artifacts"].values())
    for path in files[3:]:
        assert path.read_bytes() == before[path], "not recorded"
    assert not (out / "build" / "many-004").exists(), "the run stopped at the file it could not write"
    assert not temp_files(out, tmp_path / "many")


def test_a_crash_after_a_batch_is_written_leaves_no_record_claiming_it(tmp_path: Path, fake_dist, example) -> None:
    env = {**fake_dist("flywheel-fakebuild", PLUGIN), "FLYWHEEL_TEST_CRASH_AT": "after_write"}
    files = sessions(tmp_path / "many", example, 8)
    before = {p: p.read_bytes() for p in files}
    out = tmp_path / "out"
    crashed = subprocess.run([FLYWHEEL, "run", *files, "--out", out], env=env, capture_output=True, text=True)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    for i, path in enumerate(files):
        folder = out / "build" / f"many-{i:03d}"
        assert (folder / "one.md").read_text() == f"# one many-{i:03d}\n", "every file of the batch is whole"
        assert (folder / "data.json").read_text() == "{}\n"
        assert path.read_bytes() == before[path], "no session recorded yet"
    env.pop("FLYWHEEL_TEST_CRASH_AT")
    again = subprocess.run([FLYWHEEL, "run", *files, "--out", out], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert all(json.loads(p.read_text())["pipeline_status"]["build_artifact"] == "complete" for p in files)


def test_a_write_batch_is_all_old_until_it_commits(tmp_path: Path) -> None:
    old = tmp_path / "old.txt"
    old.write_text("old")
    os.chmod(old, 0o600)
    batch = WriteBatch()
    batch.stage({old: "new", tmp_path / "sub" / "fresh.txt": b"fresh"})
    batch.stage({tmp_path / f"f{i}": str(i) for i in range(WriteBatch.SYNCFS_FROM)})
    assert old.read_text() == "old" and not (tmp_path / "sub" / "fresh.txt").exists() and not (tmp_path / "f0").exists()
    assert len(batch) == WriteBatch.SYNCFS_FROM + 2 and batch.bytes > 0
    batch.commit()
    assert old.read_text() == "new" and old.stat().st_mode & 0o777 == 0o600, "the replaced file's mode is kept"
    assert (tmp_path / "sub" / "fresh.txt").read_bytes() == b"fresh"
    assert [(tmp_path / f"f{i}").read_text() for i in range(3)] == ["0", "1", "2"]
    assert not temp_files(tmp_path)

    with WriteBatch() as dropped:
        dropped.stage({old: "never"})
    assert old.read_text() == "new" and not temp_files(tmp_path), "leaving without a commit removes its temp files"


def test_temp_files_killed_writers_left_are_removed_once_per_folder(tmp_path: Path, echo_host, example) -> None:
    files = sessions(tmp_path / "many", example, 3)
    dead = files[0].parent / f".{files[0].name}.999999999.k1ll3d.tmp"  # no such pid: its writer is gone
    live = files[1].parent / f".{files[1].name}.{os.getpid()}.w0rk1n.tmp"  # a live writer's, and recent
    other = files[1].parent / ".notes.txt.999999999.k1ll3d.tmp"  # not a session file of this run
    for path in (dead, live, other):
        path.write_text("partial")
    result = run_cli(["run", *map(str, files), "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 0, result.output
    assert not dead.exists(), "a dead writer's temp file is removed"
    assert live.exists() and other.exists(), "a live writer's, and another file's, are left alone"


class Spoiler:
    """Breaks one session file while the run generates it, as an editor saving it half-typed might."""

    @hookimpl
    def flywheel_generate(self, session, ctx):
        if session.session_id == "many-001":
            ctx.session_path.write_text("{ half", encoding="utf-8")


def test_a_session_file_that_cannot_be_recorded_keeps_the_records_before_it(tmp_path: Path, echo_host, example) -> None:
    echo_host.register(Spoiler(), name="spoiler", distribution="flywheel-spoiler", version="1.0")
    files = sessions(tmp_path / "many", example, 3)
    before = {p: p.read_bytes() for p in files}
    result = run_cli(["run", *map(str, files), "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 2, result.output
    assert str(files[1]) in result.output
    assert json.loads(files[0].read_text())["pipeline_status"]["build_artifact"] == "complete", "recorded as ever"
    assert files[1].read_text() == "{ half", "left as its editor wrote it"
    assert files[2].read_bytes() == before[files[2]]
    assert not temp_files(tmp_path / "many", tmp_path / "out")
