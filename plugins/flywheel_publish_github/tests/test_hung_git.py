"""A hung local git on flywheel's own cache repository fails the batch; the queue retries it, nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ID_B = "sess-b-2025-12-03"


def _cache(ws) -> Path:
    (found,) = (ws.root / "state" / "targets" / "github" / "cache").glob("*.git")
    return found


def _statuses(ws) -> dict[str, tuple[str, int]]:
    return {e["id"]: (e["status"], e["attempts"]) for e in ws.queue()}


def _publish_first(ws) -> None:
    ws.run(ws.session())
    assert ws.publish().exit_code == 0
    assert len(ws.log()) == 1


def _second_batch_fails_then_publishes_once(ws, trap: Path, expected: str, restore: bytes | None = None) -> None:
    second = ws.session(ID_B, overview="second")
    ws.run(second)
    failed = ws.publish()
    assert failed.exit_code == 1, failed.output
    assert "Traceback" not in failed.output
    line = next(ln for ln in failed.output.splitlines() if ln.startswith("FAILED"))
    assert expected in line, line
    pending = {k: v for k, v in _statuses(ws).items() if v[0] != "published"}
    assert len(pending) == 2 and set(pending.values()) == {("failed", 1)}, pending
    assert len(ws.log()) == 1
    trap.unlink()
    if restore is not None:
        trap.write_bytes(restore)
    assert ws.cli("queue", "retry", "--failed").exit_code == 0
    assert ws.publish().exit_code == 0
    assert {s for s, _ in _statuses(ws).values()} == {"published"}
    assert len(ws.log()) == 2, "one commit for the retried batch, none twice"
    assert ws.publish().output.strip() == "nothing is due"
    records = json.loads(second.read_text())["artifacts"]
    assert {r["status"] for r in records.values()} == {"published"}


@pytest.mark.parametrize("name", ["config", "HEAD", "objects/info/alternates", "info/grafts"])
def test_a_fifo_in_the_cache_repository_is_refused_up_front(ws, name: str) -> None:
    # Before: git waited on the FIFO for ever, and so did `flywheel publish` (and the worker).
    _publish_first(ws)
    trap = _cache(ws) / name
    trap.parent.mkdir(parents=True, exist_ok=True)
    saved = trap.read_bytes() if trap.exists() else None
    trap.unlink(missing_ok=True)
    os.mkfifo(trap)
    _second_batch_fails_then_publishes_once(
        ws, trap, f"{trap}: is a FIFO (named pipe), not a regular file; git would wait on it for ever",
        restore=saved)


def test_a_local_git_that_never_answers_fails_the_batch_after_its_deadline(ws, tmp_path: Path, monkeypatch) -> None:
    # The up-front check cannot see everything: the cache borrows objects from a repository whose
    # own alternates file is a FIFO, so `git cat-file` waits at the first object it looks up.
    # Before: no deadline on local commands, publish hung for ever.
    monkeypatch.setattr("flywheel_publish_github.gitrepo.LOCAL_TIMEOUT", 2.0)
    _publish_first(ws)
    other = tmp_path / "other.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(other)], check=True)
    trap = other / "objects" / "info" / "alternates"
    trap.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(trap)
    (_cache(ws) / "objects" / "info").mkdir(parents=True, exist_ok=True)
    (_cache(ws) / "objects" / "info" / "alternates").write_text(f"{other / 'objects'}\n")
    _second_batch_fails_then_publishes_once(
        ws, trap, f"in the cache repository {_cache(ws)}: no answer within 2 s")


def test_locks_left_by_a_git_killed_at_its_deadline_do_not_fail_every_retry(ws) -> None:
    # Before: the lock files of a killed `git update-ref`/`fast-import` stayed, and every retry
    # failed with "Unable to create '...lock': File exists" until the entries were dead.
    _publish_first(ws)
    for name in ("refs/remotes/origin/main.lock", "refs/flywheel/batch.lock", "packed-refs.lock"):
        (_cache(ws) / name).parent.mkdir(parents=True, exist_ok=True)
        (_cache(ws) / name).write_text("")
    ws.run(ws.session(ID_B, overview="second"))
    assert ws.publish().exit_code == 0
    assert {s for s, _ in _statuses(ws).values()} == {"published"} and len(ws.log()) == 2
