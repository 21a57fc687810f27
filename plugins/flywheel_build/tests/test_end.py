"""``flywheel start`` / ``flywheel end`` on real repositories: the commits of every branch that moved, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def repo(git_repo):
    repo = git_repo()
    repo.commit("chore: initial", {"README.md": "# demo\n", ".gitignore": "/sessions/\n/flywheel-out/\n/.flywheel/\n"},
                when="2025-12-01T09:00:00Z")
    repo.git("branch", "old-topic")  # a branch nobody touches in the session
    repo.git("checkout", "-q", "old-topic")
    repo.commit("feat: work from last week", {"old.txt": "old\n"}, when="2025-12-01T10:00:00Z")
    repo.git("checkout", "-q", "main")
    return repo


def _end(fw, repo, *args):
    return fw("end", "--repo", repo.path, *args)


def _session(result) -> dict:
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    return json.loads(Path(shown["session_file"]).read_text())


def _hashes(doc: dict) -> list[str]:
    return [c["hash"] for c in doc["source_data"]["git_commits"]]


def test_end_collects_the_commits_of_every_branch_that_moved_since_start(fw, repo) -> None:
    before = repo.head()
    assert fw("start", "--repo", repo.path, "--agent", "Agent-7").exit_code == 0
    a = repo.commit("feat: parser", {"p.py": "x = 1\n"}, when="2025-12-02T05:00:00Z")
    repo.git("checkout", "-q", "-b", "topic")
    b = repo.commit("fix: lexer on a new branch", {"l.py": "y = 2\n"}, when="2025-12-02T05:10:00Z")
    repo.git("checkout", "-q", "old-topic")
    c = repo.commit("docs: a moved old branch", {"old.txt": "newer\n"}, when="2025-12-02T05:20:00Z")
    repo.git("checkout", "-q", "main")

    doc = _session(_end(fw, repo, "--summary", "Parser and lexer", "--lesson", "small commits", "--no-publish", "--json"))
    assert sorted(_hashes(doc)) == sorted([a, b, c])
    assert sorted(_hashes(doc)) == sorted(repo.git("rev-list", "--all", "--not", before, "old-topic@{1}").split())
    assert doc["agent_id"] == "Agent-7" and doc["metadata"]["commits"] == 3
    assert doc["source_data"]["summary"] == "Parser and lexer" and doc["source_data"]["lessons"] == ["small commits"]
    moved = doc["source_data"]["collected"]["branches"]
    assert moved == {"main": f"{before[:12]}..{a[:12]}", "topic": f"new at {b[:12]}",
                     "old-topic": f"{repo.git('rev-parse', 'old-topic@{1}').strip()[:12]}..{c[:12]}"}
    assert "duration_minutes" in doc["metadata"] and doc["metadata"]["started_at"]


def test_without_a_start_the_next_end_takes_what_came_since_the_last_one(fw, repo) -> None:
    repo.commit("feat: one", {"one.py": "1\n"}, when="2025-12-02T05:00:00Z")
    first = _session(_end(fw, repo, "--since", "2025-12-02T00:00:00Z", "--no-publish", "--json"))
    assert len(_hashes(first)) == 1 and "started_at" not in first["metadata"]
    two = repo.commit("feat: two", {"two.py": "2\n"}, when="2025-12-02T06:00:00Z")
    second = _session(_end(fw, repo, "--no-publish", "--json"))
    assert _hashes(second) == [two], "since the previous end, not the --since of the first"
    again = _end(fw, repo, "--no-publish")
    assert again.exit_code == 0 and again.stdout.startswith("nothing new since the last end at ")
    assert "no branch moved" in again.stdout


def test_nothing_committed_keeps_the_start_open(fw, repo, tmp_path) -> None:
    assert fw("start", "--repo", repo.path).exit_code == 0
    quiet = _end(fw, repo, "--no-publish")
    assert quiet.exit_code == 0 and quiet.stdout.startswith("nothing new since the session started at ")
    assert not (repo.path / "sessions").exists()
    later = repo.commit("feat: later", {"later.py": "3\n"}, when="2025-12-02T07:00:00Z")
    doc = _session(_end(fw, repo, "--no-publish", "--json"))
    assert _hashes(doc) == [later] and doc["metadata"]["started_at"], "still measured from the first start"


def test_end_with_no_start_no_end_and_no_since_says_what_to_do(fw, repo) -> None:
    result = _end(fw, repo, "--no-publish")
    assert result.exit_code == 2
    assert result.stderr.startswith("flywheel: error: ") and len(result.stderr.splitlines()) == 1
    assert "--since" in result.stderr and "flywheel start" in result.stderr


def test_a_subfolder_is_its_repository_and_a_rebased_branch_counts_its_new_commits(fw, repo) -> None:
    (repo.path / "sub").mkdir()
    assert fw("start", "--repo", repo.path / "sub").exit_code == 0
    again = fw("start", "--repo", repo.path)
    assert "is already open" in again.stdout, "one open session per repository, whatever folder names it"
    fix = repo.commit("fix: on main", {"fix.py": "f\n"}, when="2025-12-02T05:00:00Z")
    repo.git("checkout", "-q", "old-topic")
    repo.git("rebase", "-q", "main", env=repo.env("2025-12-02T05:30:00Z", "Ann Example", "ann@example.com"))
    rebased = repo.head()
    repo.git("checkout", "-q", "main")
    doc = _session(_end(fw, repo, "--no-publish", "--json"))
    assert sorted(_hashes(doc)) == sorted([fix, rebased]), "the rebased copy is new work; the original is not"


def test_a_deleted_branch_does_not_stop_the_end(fw, repo) -> None:
    assert fw("start", "--repo", repo.path).exit_code == 0
    repo.git("branch", "-D", "old-topic")
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "-q", "--prune=now")
    new = repo.commit("feat: after the cleanup", {"n.py": "n\n"}, when="2025-12-02T08:00:00Z")
    doc = _session(_end(fw, repo, "--no-publish", "--json"))
    assert _hashes(doc) == [new]


def test_a_tampered_state_file_never_reaches_git_as_an_option(fw, repo, tmp_path) -> None:
    assert fw("start", "--repo", repo.path).exit_code == 0
    [state] = (repo.path / ".flywheel" / "sessions").iterdir()
    data = json.loads(state.read_text())
    sentinel = tmp_path / "written-by-git"
    data["open"]["refs"]["branches"]["refs/heads/main"] = f"--output={sentinel}"
    data["open"]["refs"]["head"] = "--all"
    state.write_text(json.dumps(data))
    new = repo.commit("feat: x", {"x.py": "x\n"}, when="2025-12-02T08:00:00Z")
    result = _end(fw, repo, "--no-publish", "--json")
    assert not sentinel.exists()
    assert new in _hashes(_session(result))


def test_collect_build_and_the_hook_give_the_same_session(fw, repo, build_host) -> None:
    import flywheel_core as fw_api

    repo.commit("feat: same", {"s.py": "s\n"}, when="2025-12-02T05:00:00Z")
    by_cli = fw("collect", "build", "--repo", repo.path, "--since", "2025-12-02T00:00:00Z", "--agent", "A")
    by_hook = fw_api.collect_session("build", {"repo": str(repo.path), "since": "2025-12-02T00:00:00Z", "agent_id": "A"},
                                     host=build_host)
    assert json.loads(by_cli.stdout) == by_hook.document


def test_collect_build_draws_a_bar_only_on_a_terminal(repo, monkeypatch) -> None:
    import os
    import subprocess
    import sys

    from flywheel_core.testing import run_on_terminal

    flywheel = Path(sys.executable).parent / "flywheel"
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env.update(TERM="xterm-256color", FLYWHEEL_LOAD_PLUGINS="build")
    shown = run_on_terminal([flywheel, "collect", "build", "--repo", repo.path, "--agent", "A"], env=env)
    assert shown.exit_code == 0, shown.terminal
    assert "collecting a build session" in shown.terminal
    assert json.loads(shown.stdout)["metadata"]["commits"] == 1, "stdout carries the session alone"
    piped = subprocess.run([flywheel, "collect", "build", "--repo", repo.path, "--agent", "A"], env=env,
                           capture_output=True, text=True, check=False)
    assert piped.returncode == 0 and piped.stderr == ""
