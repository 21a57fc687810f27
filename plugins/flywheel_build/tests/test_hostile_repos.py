"""A repository holding a FIFO or a device where git reads a file: refused at once, never waited on."""

from __future__ import annotations

import json
import os

import pytest

SESSION = {
    "session_id": "fifo-repo", "session_type": "build", "timestamp": "2025-12-02T05:20:00Z", "agent_id": "A",
    "metadata": {"duration_minutes": 120}, "source_data": {"repo_path": "repo"},
}


@pytest.fixture(autouse=True)
def _short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should the refusal break, a test fails on the deadline's message (a few seconds) instead
    # of waiting for the FIFO's writer for ever (or for the 10 minutes of the real deadline).
    monkeypatch.setattr("flywheel_build.git.PROBE_TIMEOUT", 5.0)
    monkeypatch.setattr("flywheel_build.gitlog.PROBE_TIMEOUT", 5.0)
    monkeypatch.setattr("flywheel_build.git.GIT_TIMEOUT", 5.0)



@pytest.mark.parametrize("where", [".git/HEAD", ".git/config", ".git/objects/info/alternates", ".git/packed-refs",
                                   ".git/info/grafts", ".git", "commondir"])
def test_a_fifo_where_git_reads_a_file_is_one_error_naming_it(fw, git_repo, run_session, tmp_path, where):
    repo = git_repo()
    repo.commit("feat: one", {"a.py": "1\n"})
    session = dict(SESSION)
    if where == "commondir":  # a linked worktree: its git dir names the main one's in `commondir`
        repo.git("worktree", "add", "-q", str(tmp_path / "wt"))
        fifo = repo.path / ".git" / "worktrees" / "wt" / "commondir"
        session["source_data"] = {"repo_path": "wt"}
    elif where == ".git":
        fifo = repo.path / ".git"
        os.rename(fifo, tmp_path / "moved.git")
    else:
        fifo = repo.path / where
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)

    result, arts, written = run_session(session)
    assert result.exit_code == 2, result.output
    line = (f"work_session.json: $.source_data.repo_path: repo_path {session['source_data']['repo_path']!r}: "
            f"{fifo}: is a FIFO (named pipe), not a regular file")
    assert line in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert arts == {} and written == session  # nothing generated, the session file untouched

    collected = fw("collect", "build", "--repo", fifo.parent if where != "commondir" else tmp_path / "wt")
    assert collected.exit_code == 2, collected.output
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in collected.stderr and collected.stderr.count("\n") == 1


def test_a_fifo_git_reads_later_hits_the_deadline_not_a_hang(git_repo, run_session):
    # A commit's own object is read when git parses it, after every check flywheel makes: the
    # deadline on every git command is what ends the wait.
    repo = git_repo()
    repo.commit("feat: one", {"a.py": "1\n"})
    head = repo.git("rev-parse", "HEAD").strip()
    loose = repo.path / ".git" / "objects" / head[:2] / head[2:]
    loose.unlink()
    os.mkfifo(loose)
    result, arts, _ = run_session(SESSION)
    assert result.exit_code == 2, result.output
    assert ("work_session.json: $.source_data.repo_path: repo_path 'repo': git did not answer within 5 s"
            in result.stderr), result.stderr
    assert arts == {}


def test_a_regular_alternates_file_still_works(git_repo, run_session, tmp_path):
    other = git_repo("other")
    other.commit("feat: shared", {"a.py": "1\n"})
    other.git("clone", "-q", "--shared", str(other.path), str(tmp_path / "repo"))  # objects/info/alternates
    assert (tmp_path / "repo" / ".git" / "objects" / "info" / "alternates").is_file()
    result, arts, written = run_session(SESSION)
    assert result.exit_code == 0, result.output
    assert json.dumps(written["source_data"]["git_commits"]).count("feat: shared") == 1
