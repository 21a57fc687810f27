"""Hostile session files: FIFOs and devices, huge strings, unportable numbers and text, symlinks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core_support import FLYWHEEL, load
from flywheel_core import Artifact, SessionType, hookimpl
from flywheel_core.jsonload import _depth, dumps_strict, loads_strict
from flywheel_core.testing import build_session, run_cli

# A plugin as a third party would ship it: one small artifact for type "build".
SMALL_PLUGIN = """
from flywheel_core import Artifact, SessionType, hookimpl

@hookimpl
def flywheel_session_types():
    return [SessionType("build", "test")]

@hookimpl
def flywheel_generate(session, ctx):
    return [Artifact("summary", "# " + session.session_id + "\\n")]
"""


def _flywheel(*args: object, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([FLYWHEEL, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout)


# -- item 7: only regular files are read ------------------------------------------------------


def test_a_fifo_is_refused_at_once_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "work_session.json"
    os.mkfifo(fifo)
    for command in ("validate", "run"):
        # Before the fix both blocked for ever in open(); the timeout turns that into a failure.
        proc = _flywheel(command, fifo, "--out", tmp_path / "out", timeout=60) if command == "run" else _flywheel(
            command, fifo, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [f"{fifo}: $: is a FIFO (named pipe), expected a regular file"]


def test_a_device_is_refused(tmp_path: Path) -> None:
    proc = _flywheel("validate", "/dev/zero", timeout=60)
    assert proc.returncode == 2
    assert "/dev/zero: $: is a character device, expected a regular file" in proc.stderr


def test_a_session_file_in_a_symlink_loop_is_one_line_and_the_others_still_run(tmp_path: Path, fake_dist) -> None:
    # `ln -s b.json a.json; ln -s a.json b.json`: run crashed with "internal error: RuntimeError:
    # Symlink loop from ..." (exit 1) before reading anything, where validate said one line.
    (tmp_path / "a.json").symlink_to(tmp_path / "b.json")
    (tmp_path / "b.json").symlink_to(tmp_path / "a.json")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(build_session("build")))
    proc = _flywheel("run", tmp_path / "a.json", good, "--out", tmp_path / "out", env=fake_dist("flywheel-small", SMALL_PLUGIN),
                     timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"{tmp_path / 'a.json'}: $: cannot read: Too many levels of symbolic links" in proc.stderr
    assert "internal error" not in proc.stderr
    assert json.loads(good.read_text())["artifacts"]["summary"]["generated"], "the good session still ran"


def test_a_config_path_in_a_symlink_loop_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    config = tmp_path / "flywheel.toml"
    config.write_text('out_dir = "a/out"\n')
    session = tmp_path / "s.json"
    session.write_text(json.dumps(build_session("build")))
    for args in (("run", session, "--config", config), ("run", session, "--config", tmp_path / "a")):
        proc = _flywheel(*args, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].endswith(": Too many levels of symbolic links"), proc.stderr
        assert "internal error" not in proc.stderr


def test_a_fifo_config_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "flywheel.toml"
    os.mkfifo(fifo)
    session = tmp_path / "s.json"
    session.write_text(json.dumps(build_session("build")))
    proc = _flywheel("validate", session, "--config", fifo, timeout=60)
    assert proc.returncode == 2
    assert f"{fifo}: is a FIFO (named pipe), expected a regular file" in proc.stderr


# -- item 8: memory stays within a small multiple of the input --------------------------------

_PEAK = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True)
sys.stderr.buffer.write(proc.stderr[-2000:])
print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def _peak(*args: object, env: dict[str, str] | None = None) -> tuple[int, int, str]:
    """Exit code and peak resident memory (bytes) of ``flywheel ARGS`` in its own process."""
    proc = subprocess.run([sys.executable, "-c", _PEAK, str(FLYWHEEL), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)
    code, peak = proc.stdout.split()
    return int(code), int(peak), proc.stderr


FIFTY_MB = 50 * 1024 * 1024


@pytest.mark.parametrize(
    "field,expected_code",
    [("source_data", 0), ("session_id", 2), ("session_type", 2), ("metadata", 2)],
)
def test_a_50_mb_string_costs_a_small_multiple_of_the_input(tmp_path: Path, fake_dist, field, expected_code) -> None:
    # Before: validate took 6.3 GB (the string regex in jsonload._depth 6.2 GB of it), and an
    # unknown 50 MB session_type another 2 GB in difflib.
    text = "a b\\" * (FIFTY_MB // 4)
    doc = build_session("build")
    if field == "source_data":
        doc["source_data"] = {"notes": text}
    else:
        doc[field] = text
    path = tmp_path / "work_session.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    size = path.stat().st_size
    env = fake_dist("flywheel-small", SMALL_PLUGIN)
    for command in (["validate", path], ["run", path, "--out", tmp_path / "out"]):
        code, peak, stderr = _peak(*command, env=env)
        assert code == expected_code, stderr
        assert peak < 8 * size, f"{command[0]} on {field}: peak {peak / 2**20:.0f} MB for a {size / 2**20:.0f} MB file"
        assert all(len(line) < 1000 for line in stderr.splitlines()), "error lines stay short"
    if expected_code == 0:
        assert load(path)["source_data"]["notes"] == text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": "' + b'[{\\"' * 1000 + b'"}',  # brackets and escaped quotes inside a string
        b'{"a": "\\\\", "b": [[["]]]"]]]}',  # an escaped backslash right before a closing quote
        b'["[", ["{"], [["}"]], "]]]"]',
        b'{"": [], "\\"": {"[": "]"}}',
    ],
)
def test_depth_ignores_brackets_in_strings(raw: bytes) -> None:
    def reference(value):
        if isinstance(value, dict):
            return 1 + max(map(reference, value.values()), default=0)
        if isinstance(value, list):
            return 1 + max(map(reference, value), default=0)
        return 0

    assert _depth(raw) == reference(json.loads(raw))


# -- items 2 and 11: refused at load by validate and run alike; nothing unreadable written ---------


def test_portable_escapes_and_numbers_still_load() -> None:
    raw = b'{"emoji": "\\ud83d\\ude00", "escaped": "\\\\ud800", "big": 1e308, "long": ' + b"9" * 4000 + b"}"
    value = loads_strict(raw)
    assert value["emoji"] == "\U0001f600" and value["escaped"] == "\\ud800"
    assert json.loads(dumps_strict(value)) == value


def test_dumps_strict_names_the_path_of_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError, match=r"^\$\.a\[1\]\.b: NaN or infinity is not JSON"):
        dumps_strict({"a": [1, {"b": float("inf")}]})
    with pytest.raises(ValueError, match=r"^\$\.n: integer too long to write"):
        dumps_strict({"n": 10**5000})


class NanCollector:
    """A collector that puts a value in source_data JSON cannot hold."""

    @hookimpl
    def flywheel_session_types(self):
        return [SessionType("build", "test")]

    @hookimpl
    def flywheel_collect(self, session, ctx):
        session.source_data["ratio"] = float("nan")

    @hookimpl
    def flywheel_generate(self, session, ctx):
        return [Artifact("summary", "# x\n")]


def test_a_collector_cannot_make_the_session_file_unreadable(tmp_path: Path, empty_host) -> None:
    empty_host.register(NanCollector(), name="nan", distribution="flywheel-nan")
    path = tmp_path / "work_session.json"
    path.write_text(json.dumps(build_session("build", source_data={"kept": 1})), encoding="utf-8")
    result = run_cli(["run", path, "--out", tmp_path / "out"], host=empty_host)
    assert result.exit_code == 1, result.output
    assert "plugin nan (flywheel-nan) failed in flywheel_collect: left the session malformed ($.source_data" in result.stderr
    data = loads_strict(path.read_bytes())  # strict: a bare NaN would be refused here
    assert data["source_data"] == {"kept": 1}


def test_reading_a_small_file_does_not_allocate_the_limit(tmp_path: Path) -> None:
    # read(n) allocates n bytes up front: reading with the 64 MiB limit as n cost 64 MiB (and
    # an mmap) per session file read, whatever its size.
    import tracemalloc

    from flywheel_core.fsutil import read_regular_file

    path = tmp_path / "small.json"
    path.write_bytes(b"{}" * 500)
    tracemalloc.start()
    try:
        assert read_regular_file(path, 64 * 2**20) == b"{}" * 500
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20

