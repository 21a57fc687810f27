"""kill -9 of a real ``flywheel publish`` at each step, then a restart: every artifact lands exactly once."""

from __future__ import annotations

import json
import signal

import pytest

ID_A = "sess-a-2025-12-02"
ID_B = "sess-b-2025-12-03"


@pytest.mark.parametrize("step", ["after_commit", "after_push", "before_queue_update"])
def test_publisher_killed_at_each_step_recovers_without_duplicates(ws, step: str) -> None:
    ws.run(ws.session(ID_A), ws.session(ID_B, timestamp="2025-12-03T10:00:00Z"))
    crashed = ws.subprocess("publish", env={"FLYWHEEL_TEST_CRASH_AT": step})
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert {e["status"] for e in ws.queue()} == {"publishing"}, "the dead publisher's lease is still recorded"
    pushed = (ws.remote / "refs" / "heads" / "main").exists() or "main" in ws.git(f"--git-dir={ws.remote}", "branch")
    assert pushed == (step != "after_commit")

    restarted = ws.subprocess("publish")
    assert restarted.returncode == 0, restarted.stderr
    assert len(ws.log()) == 1, "exactly one commit on the branch"
    files = ws.tree()
    assert len(files) == 6
    for path in files:
        assert len(ws.log(path)) == 1, f"{path} was committed more than once"
    entries = ws.queue()
    assert {e["status"] for e in entries} == {"published"}
    assert {e["receipt"]["commit"] for e in entries} == set(ws.log())
    for session_id in (ID_A, ID_B):
        artifacts = json.loads((ws.root / f"{session_id}.json").read_text())["artifacts"]
        assert {a["status"] for a in artifacts.values()} == {"published"}

    again = ws.subprocess("publish")
    assert again.returncode == 0 and "nothing is due" in again.stdout
    assert len(ws.log()) == 1
