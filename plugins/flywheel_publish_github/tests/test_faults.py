"""Crashes, dead entries and silent remotes with real processes, real SIGKILLs and a real git remote."""

from __future__ import annotations

import json
import signal
import socket
import threading
from pathlib import Path

import pytest

CRASH = "FLYWHEEL_TEST_CRASH_AT"
IDS = ["sess-a-2025-12-02", "sess-b-2025-12-03", "sess-c-2025-12-04"]


@pytest.fixture
def ws(ws, queue_backend):
    """The workspace, its queue on SQLite or PostgreSQL: every fault here is tried on both."""
    ws.queue_url = queue_backend.url
    ws.configure()
    return ws


def _sessions(ws) -> list[Path]:
    return [ws.session(sid, timestamp=f"{sid[-10:]}T10:00:00Z", overview=f"work of {sid}") for sid in IDS]


def _records(path: Path) -> dict:
    return json.loads(path.read_text())["artifacts"]


@pytest.mark.parametrize("step", ["after_claim", "before_queue_update"])
def test_nine_publishers_killed_after_claiming_lose_nothing(ws, step: str) -> None:
    # The adversarial run: nine publishers SIGKILLed right after claiming put every entry in
    # `dead` ("publisher stopped before finishing, 8 times"), the next publish said nothing and
    # exited 0, and the files never reached the repository.
    sessions = _sessions(ws)
    ws.run(*sessions)
    for _ in range(9):
        crashed = ws.subprocess("publish", env={CRASH: step})
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    entries = ws.queue()
    assert {e["status"] for e in entries} == {"publishing"}, "a killed publisher is not evidence the item is bad"
    assert {e["attempts"] for e in entries} == {1}, "interrupted tries are not spent attempts"
    assert sum(e["interruptions"] for e in entries) >= 8 + len(entries) - 1
    final = ws.subprocess("publish")
    assert final.returncode == 0, final.stderr
    assert {e["status"] for e in ws.queue()} == {"published"}
    assert len(ws.tree()) == 3 * 3, "every file reached the repository"
    for path in ws.tree():
        assert len(ws.log(path)) == 1, f"{path} was committed more than once"
    if step == "before_queue_update":
        assert len(ws.log()) == 1, "content already pushed by a killed publisher is not committed again"
    for session in sessions:
        assert {r["status"] for r in _records(session).values()} == {"published"}


def test_a_dead_entry_is_reported_by_every_publish_until_it_is_retried(ws, tmp_path: Path) -> None:
    missing = tmp_path / "not-a-repository"
    ws.configure(remote=str(missing), queue="max_attempts = 1")
    session = ws.session()
    ws.run(session)
    first = ws.publish()
    assert first.exit_code == 1
    for attempt in range(2):  # the run that killed them, and every later one
        again = ws.subprocess("publish")
        assert again.returncode == 1, "dead entries are never silent"
        dead = [line for line in again.stderr.splitlines() if line.startswith("DEAD ")]
        assert len(dead) == 2, again.stderr
        for line in dead:
            entry_id = line.split("(entry ", 1)[1].split(";")[0]
            assert "1 failed attempt): target 'github' failed: git ls-remote failed" in line
            assert line.endswith(f"; once the cause is fixed: flywheel queue retry {entry_id}")
        assert again.stdout == "nothing is due\n"
    listed = ws.cli("queue", "list", "--status", "dead").stdout
    assert listed.count("git ls-remote failed") == 2 and "retry: flywheel queue retry " in listed
    assert {r["published_to"]["github"]["status"] for r in _records(session).values()} == {"dead"}
    ws.git("init", "--quiet", "--bare", "--initial-branch=main", str(missing))
    assert ws.cli("queue", "retry", "--failed").exit_code == 0
    assert ws.publish().exit_code == 0
    assert {r["status"] for r in _records(session).values()} == {"published"}


def test_session_file_left_behind_by_a_crash_is_mended_by_the_next_publish(ws) -> None:
    session = ws.session()
    ws.run(session)
    crashed = ws.subprocess("publish", env={CRASH: "after_queue_update"})
    assert crashed.returncode == -signal.SIGKILL
    assert {e["status"] for e in ws.queue()} == {"published"}
    assert {r["status"] for r in _records(session).values()} == {"queued"}, "the crash came before the file"
    mended = ws.subprocess("publish")
    assert mended.returncode == 0 and mended.stdout == "nothing is due\n", mended.stderr
    records = _records(session)
    assert {r["status"] for r in records.values()} == {"published"}
    assert {r["published_to"]["github"]["commit"] for r in records.values()} == set(ws.log())


def test_session_file_reverted_to_an_older_state_is_mended_by_publish_and_by_run(ws) -> None:
    # A session file that shows `queued` while the queue says published (131 records in the
    # adversarial run) was never mended by later runs.
    session = ws.session()
    ws.run(session)
    stale = session.read_text()
    assert ws.publish().exit_code == 0
    published = session.read_text()
    session.write_text(stale)
    assert ws.publish().stdout == "nothing is due\n"
    assert session.read_text() == published
    session.write_text(stale)
    ws.run(session)
    assert {r["status"] for r in _records(session).values()} == {"published"}


@pytest.mark.parametrize("step", ["after_write", "after_enqueue"])
def test_a_run_killed_between_writing_enqueueing_and_recording_never_disagrees(ws, subprocess_env, step) -> None:
    session = ws.session()
    crashed = ws.subprocess("run", str(session), env={**subprocess_env, CRASH: step})
    assert crashed.returncode == -signal.SIGKILL
    doc = json.loads(session.read_text())
    assert doc["artifacts"] == {} and doc["pipeline_status"]["build_artifact"] == "pending", \
        "the session file never says complete for what was not enqueued"
    published = ws.subprocess("publish", env=subprocess_env)
    assert published.returncode == 0, published.stderr
    if step == "after_write":
        assert published.stdout == "nothing is due\n"
        return
    # Enqueued before the kill: published, and the session file mended to show it.
    assert published.stdout.count("published ") == 2
    records = _records(session)
    assert set(records) == {"readme", "build_log"}
    assert {r["status"] for r in records.values()} == {"published"}
    readme = records["readme"]
    assert Path(readme["path"]).read_bytes() == ws.show(f"sessions/build/2025-12-02/{IDS[0]}/readme.md")
    assert readme["files"] == [str(Path(readme["path"]).parent / "media" / "logo.svg")]


@pytest.fixture
def silent_remote():
    """A TCP server on 127.0.0.1 that accepts connections and never answers; yields its URL."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)  # read nothing, answer nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/repo.git"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_remote_that_never_answers_fails_the_batch_after_the_timeout(ws, subprocess_env, silent_remote) -> None:
    ws.configure(remote=silent_remote, timeout=2)
    session = ws.session()
    proc = ws.subprocess("run", "--publish", str(session), env=subprocess_env)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    line = next(line for line in proc.stderr.splitlines() if line.startswith("FAILED"))
    assert line == (f"FAILED 2 entries -> github: target 'github' failed: git ls-remote of {silent_remote}: "
                    "no answer within 2 s (targets.github.timeout); the queue tries again later")
    entries = ws.queue()
    assert {e["status"] for e in entries} == {"failed"} and all(e["next_attempt_at"] for e in entries)
