"""Malformed session files through `flywheel validate` and `flywheel run`, as real processes.

Thousands of files made by mutating the bundled examples (a field removed or given a value of
another type, an unknown field, hostile strings and numbers, bytes cut, flipped or inserted,
deep nesting, other encodings) must each end in a one-line answer per problem, exit 0, 1 or 2,
no traceback, no internal error, no hang, and a session file that is still JSON afterwards.
``make soak`` runs 2,400 files; ``make test`` runs a short version.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from core_support import EXAMPLES

FLYWHEEL = Path(sys.executable).parent / "flywheel"
BATCH = 60  # files per flywheel process
HANG_SECONDS = 300

HOSTILE_VALUES: list[Any] = [
    None, True, 0, -1, 2**70, 1.5e308, -0.0, "", " ", "x" * 5000, "\u202e\u2066evil", "<script>alert(1)</script>",
    "../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "--upload-pack=touch /tmp/pwned", "\x00\x01",
    "2025-13-45T99:99:99Z", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-12:00", "NaN", "1e400", "$175.50",
    [], {}, [None], {"": ""}, [[[[[]]]]], {"a": {"b": {"c": {}}}}, "ghp_" + "A" * 36, "😀" * 100,
]
#: Raw JSON texts json.dumps cannot make: each replaces one value in the file's text.
RAW_VALUES = ["1e400", "-1e400", "NaN", "Infinity", '"\\ud800"', '"\\udfff x"', "1" * 5000, "0.1e-400", "[" * 500 + "]" * 500]


@attrs.define
class Tally:
    files: int = 0
    valid: int = 0
    tracebacks: int = 0
    internal_errors: int = 0
    bad_exit: int = 0
    hangs: int = 0
    corrupted: int = 0
    unlabelled_lines: int = 0
    problems: list[str] = attrs.field(factory=list)

    def note(self, counter: str, what: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        self.problems.append(f"{counter}: {what}")

    def line(self) -> str:
        return (f"fuzz: {self.files} files ({self.valid} valid after mutation): {self.tracebacks} tracebacks, "
                f"{self.internal_errors} internal errors, {self.bad_exit} other exit codes, {self.hangs} hangs, "
                f"{self.corrupted} corrupted, {self.unlabelled_lines} lines naming no file")

    @property
    def clean(self) -> bool:
        return not (self.tracebacks or self.internal_errors or self.bad_exit or self.hangs or self.corrupted
                    or self.unlabelled_lines)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple) -> Any:
    if not path:
        return doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return doc


def mutate(rng: random.Random, base: dict[str, Any]) -> bytes:
    """One malformed (or, now and then, still valid) session file made from ``base``."""
    doc = copy.deepcopy(base)
    paths = _paths(doc)
    how = rng.randrange(12)
    if how == 0:
        doc = _delete(doc, rng.choice(paths[1:]))
    elif how in (1, 2, 3):
        doc = _set(doc, rng.choice(paths), copy.deepcopy(rng.choice(HOSTILE_VALUES)))
    elif how == 4:
        target = rng.choice([p for p in paths if isinstance(_get(doc, p), dict)])
        _get(doc, target)[rng.choice(["extra", "", "__proto__", "a" * 300, "\u0000"])] = rng.choice(HOSTILE_VALUES)
    elif how == 5:  # a raw JSON value json.dumps would not write
        marker = "\u0000FUZZ\u0000"
        doc = _set(doc, rng.choice(paths[1:]), marker)
        return json.dumps(doc).replace(json.dumps(marker), rng.choice(RAW_VALUES)).encode()
    elif how == 6:  # duplicate key
        text = json.dumps(doc)
        return text.replace('"session_id":', '"session_id": "dup", "session_id":', 1).encode()
    elif how == 7:  # deep nesting
        depth = rng.choice([150, 250, 5000])
        return ("[" * depth + json.dumps(doc) + "]" * depth).encode()
    data = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()
    if how == 8:
        return data[: rng.randrange(len(data))]
    if how == 9:
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1:]
    if how == 10:
        i = rng.randrange(len(data))
        return data[:i] + rng.randbytes(rng.randrange(1, 8)) + data[i:]
    if how == 11:
        return rng.choice([b"", b"   ", b"\xef\xbb\xbf" + data, data.decode().encode("utf-16"), b"null", b"[]", b"42"])
    return data


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _strict_json(data: bytes) -> bool:
    def refuse(name: str) -> None:
        raise ValueError(name)

    try:
        json.loads(data.decode("utf-8"), parse_constant=refuse)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return True


def fuzz(tmp_path: Path, count: int, seed: int) -> Tally:
    rng = random.Random(seed)
    bases = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*.json"))]
    folder = tmp_path / "sessions"
    folder.mkdir()
    (tmp_path / "flywheel.toml").write_text('out_dir = "out"\nstate_dir = "state"\n', encoding="utf-8")
    files = []
    for i in range(count):
        path = folder / f"f{i:05d}.json"
        path.write_bytes(mutate(rng, rng.choice(bases)))
        files.append(path)
    before = {p: _strict_json(p.read_bytes()) for p in files}
    tally = Tally(files=count)
    env = {**os.environ, "FLYWHEEL_HOOK_TIMEOUT": "60"}
    for command in ("validate", "run"):
        for start in range(0, count, BATCH):
            batch = files[start:start + BATCH]
            _one(tally, command, batch, tmp_path, env)
    for path in files:
        data = path.read_bytes()
        if before[path] and not _strict_json(data):
            tally.note("corrupted", f"{path.name} was JSON and is not after `flywheel run`")
    return tally


def _one(tally: Tally, command: str, batch: list[Path], cwd: Path, env: dict[str, str]) -> None:
    extra = ["--json"] if command == "validate" else []
    try:
        proc = subprocess.run([str(FLYWHEEL), command, *extra, *map(str, batch)], cwd=cwd, env=env,
                              capture_output=True, text=True, errors="replace", timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        tally.note("hangs", f"{command} of {batch[0].name}..{batch[-1].name}")
        return
    where = f"{command} {batch[0].name}..{batch[-1].name}"
    if "Traceback" in proc.stderr:
        tally.note("tracebacks", f"{where}: {proc.stderr[-400:]}")
    if "internal error" in proc.stderr:
        tally.note("internal_errors", f"{where}: {proc.stderr.strip().splitlines()[-1][:300]}")
    if proc.returncode not in (0, 1, 2):
        tally.note("bad_exit", f"{where}: exit {proc.returncode}")
    if command == "validate" and proc.returncode in (0, 2):
        tally.valid += sum(1 for r in json.loads(proc.stdout) if r["exit_code"] == 0)
    names = tuple(str(p) for p in batch)
    for line in proc.stderr.splitlines():
        if line and not line.startswith(names) and not line.startswith(("flywheel: note:", "flywheel: warning:")):
            tally.note("unlabelled_lines", f"{where}: {line[:200]}")


def _check(tally: Tally) -> None:
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{tally.line()}; peak memory of a flywheel process {peak:.0f} MiB")
    assert tally.clean, "\n".join(tally.problems[:20])
    assert tally.files >= 1


def test_fuzz_short(tmp_path: Path) -> None:
    tally = fuzz(tmp_path, 180, seed=20261129)
    _check(tally)
    assert 0 < tally.valid < tally.files, "the mutations make both valid and invalid files"


@pytest.mark.soak
def test_fuzz_soak(tmp_path: Path) -> None:
    _check(fuzz(tmp_path, 2400, seed=int(os.environ.get("FLYWHEEL_FUZZ_SEED", "7"))))
