"""A long range is read by several git processes at once: the session must be the same, byte for
byte, as the one a single ``git log`` gives (``FLYWHEEL_GIT_JOBS`` forces the split on small
repositories)."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest


@pytest.fixture
def tangled(git_repo):
    """Merges (one of an unrelated history: two roots), renames, binary files, bodies with
    trailers and with text that looks like numstat, odd dates that reorder git's walk, unicode
    names and paths, an empty commit, and a .mailmap that renames an author."""
    repo = git_repo()
    zoe = ("Zoë 山田", "zoe@example.com")
    old = ("Old Name", "old@example.com")
    repo.commit("feat: initial import\n\nWhy it exists.\n\nCo-authored-by: Bob <bob@example.com>\n",
                {"app.py": "print('hi')\n" * 5, "docs/guide.md": "# Guide\n", "naïve file.txt": "a\nb\n"},
                when="2025-12-01T03:00:00Z")
    (repo.path / "src").mkdir()
    repo.git("mv", "app.py", "src/app.py")
    repo.commit("refactor: move app into src", {"src/app.py": "print('hi')\n" * 5 + "more\n"}, when="2025-12-01T03:30:00Z")
    repo.commit("feat: add logo", {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00binary\x00data"}, when="2025-12-01T04:00:00Z", author=zoe)
    repo.commit("chore: empty marker", when="2025-12-01T04:10:00Z", allow_empty=True, author=old)
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("fix: odd body\n\n\x1e1\t2\tfake-numstat-line\n\tindented\r\n\nSigned-off-by: Ann <ann@example.com>\n",
                {"docs/guide.md": "# Guide\n\nFixed.\n"}, when="2025-12-01T04:20:00Z", author=old)
    repo.commit("feat: topic binary", {"assets/icon.bin": bytes(range(256))}, when="2025-12-01T04:25:00Z")
    repo.git("checkout", "-q", "main")
    repo.commit("docs: readme ✓", {"README.md": "# Demo\n"}, when="2025-12-01T04:30:00Z", author=zoe)
    env = repo.env("2025-12-01T04:40:00Z", "Ann Example", "ann@example.com")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'topic'\n\nBrings the fix.", "topic", env=env)
    # A date from the future and one git cannot read: the walk shows them out of order.
    repo.raw_commit("fix: from the future", date="1893456000 +051800", files={"future.py": "x = 1\n"})
    repo.raw_commit("fix: no zone", date="1764651600", files={"nozone.py": "x = 2\n"})
    repo.git("checkout", "-q", "--orphan", "other")
    repo.git("rm", "-rq", "--cached", ".")
    for path in list(repo.path.iterdir()):
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    repo.commit("feat: other root", {"other/a.txt": "1\n2\n"}, when="2025-11-30T01:00:00Z")
    repo.commit("feat: other second", {"other/a.txt": "1\n2\n3\n"}, when="2025-11-30T02:00:00Z")
    repo.git("checkout", "-q", "-f", "main")
    repo.git("merge", "-q", "--no-ff", "--allow-unrelated-histories", "-m", "Merge the other history", "other",
             env=repo.env("2025-12-01T05:00:00Z", "Ann Example", "ann@example.com"))
    for n in range(6):
        repo.commit(f"feat: step {n}\n\nStep {n} of the plan.", {f"steps/s{n}.py": f"n = {n}\n" * (n + 1)},
                    when=f"2025-12-01T06:{n:02d}:00Z", author=(zoe, old)[n % 2])
    repo.git("mv", "steps/s0.py", "steps/zero.py")
    repo.commit("refactor: rename step zero", when="2025-12-01T07:00:00Z")
    repo.write(".mailmap", "New Name <new@example.com> <old@example.com>\n")
    repo.commit("chore: mailmap", when="2025-12-01T07:10:00Z")
    return repo


RANGES = [
    (),
    ("--rev-range", "HEAD~12..HEAD"),
    ("--rev-range", "topic...main"),
    ("--rev-range", "other"),
    ("--since", "2025-12-01T04:05:00Z", "--until", "2025-12-01T06:03:00Z"),
    ("--author", "New Name"),  # .mailmap: git log matches the mapped name, as the listing must
]


@pytest.fixture
def git_commands(tmp_path, monkeypatch):
    """A ``git`` first on PATH that records each command line, then runs the real git; calling
    the fixture's value gives the ``git log`` lines recorded since the last call."""
    real = shutil.which("git")
    folder = tmp_path / "bin"
    folder.mkdir()
    record = tmp_path / "git-commands.txt"
    shim = folder / "git"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{record}"\nexec "{real}" "$@"\n', encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    def logs() -> list[str]:
        lines = record.read_text(encoding="utf-8").splitlines() if record.exists() else []
        record.unlink(missing_ok=True)
        return [line for line in lines if " log " in f" {line} "]

    return logs


@pytest.mark.parametrize("args", RANGES, ids=["all", "a..b", "a...b", "branch", "dates", "author"])
def test_parallel_session_equals_sequential(fw, tangled, monkeypatch, git_commands, args):
    outputs = {}
    for jobs in ("1", "2", "3", "5", "64"):
        monkeypatch.setenv("FLYWHEEL_GIT_JOBS", jobs)
        git_commands()
        result = fw("collect", "build", "--repo", tangled.path, *args)
        assert result.exit_code == 0, result.output
        outputs[jobs] = (result.stdout, result.stderr)
        diffs = [line for line in git_commands() if "--numstat" in line]
        if jobs == "1":
            assert len(diffs) == 1 and "--max-count" not in diffs[0] and "--no-walk" not in diffs[0]
        else:  # in parts, never a whole walk (which a failed check of the parts falls back to)
            assert all("--max-count=" in line or "--no-walk=unsorted" in line for line in diffs), diffs
    sequential = outputs.pop("1")
    for jobs, output in outputs.items():
        assert output == sequential, f"FLYWHEEL_GIT_JOBS={jobs} differs from one git process"
    commits = json.loads(sequential[0])["source_data"]["git_commits"]
    assert len(commits) >= 2
    if not args:
        assert [c["hash"] for c in commits] == tangled.git("log", "--format=%H").split()
        assert sum(1 for c in commits if c.get("merge")) == 2 and any(c.get("trailers") for c in commits)
        assert "has no readable date" in sequential[1] and "impossible time zone" in sequential[1]


def test_parallel_shallow_clone_equals_sequential(fw, tangled, tmp_path, monkeypatch, git_commands):
    """A shallow clone's boundary commits (their parents are missing) in the middle of a part."""
    clone = tmp_path / "shallow"
    tangled.git("clone", "-q", "--depth", "9", "--no-single-branch", f"file://{tangled.path}", str(clone))
    outputs = []
    for jobs in ("1", "2"):
        monkeypatch.setenv("FLYWHEEL_GIT_JOBS", jobs)
        result = fw("collect", "build", "--repo", clone)
        assert result.exit_code == 0 and "shallow clone" in result.stderr, result.output
        outputs.append((result.stdout, result.stderr))
    assert outputs[0] == outputs[1]
    assert any("--no-walk=unsorted" in line for line in git_commands())
    commits = json.loads(outputs[0][0])["source_data"]["git_commits"]
    assert sum(bool(c.get("shallow_boundary")) for c in commits) == 1 and len(commits) > 4


@pytest.mark.parametrize("jobs", [2, 3])
def test_range_is_split_into_parts_read_at_once(fw, tangled, monkeypatch, git_commands, jobs):
    total = int(tangled.git("rev-list", "--count", "HEAD").strip())
    monkeypatch.setenv("FLYWHEEL_GIT_JOBS", str(jobs))
    git_commands()
    result = fw("collect", "build", "--repo", tangled.path)
    assert result.exit_code == 0, result.output
    logs = git_commands()
    diffs = [line for line in logs if "--numstat" in line]
    # The first `jobs` commits by `git log --max-count`, the rest in two lists per process; no
    # whole walk.
    assert total - jobs >= 2 * jobs
    assert sum(f"--max-count={jobs} " in line for line in diffs) == 1
    assert sum("--no-walk=unsorted --stdin" in line for line in diffs) == 2 * jobs
    assert len(diffs) == 2 * jobs + 1
    assert sum("--format=%H" in line for line in logs) == 1 and len(logs) == 2 * jobs + 2
    assert len(json.loads(result.stdout)["source_data"]["git_commits"]) == total


def test_small_range_is_one_git_log_alone(fw, tangled, monkeypatch, git_commands):
    """By default a short range is read by one ``git log --max-count``, which is already the
    whole answer: no listing starts beside it (issue 13: `collect` of the last 100 commits ran a
    listing of them too, one more git process)."""
    from flywheel_build.gitlog import git_jobs

    monkeypatch.delenv("FLYWHEEL_GIT_JOBS", raising=False)
    git_commands()
    result = fw("collect", "build", "--repo", tangled.path)
    assert result.exit_code == 0
    logs = git_commands()
    assert len(logs) == 1 and "--numstat" in logs[0] and "--format=%H" not in logs[0]
    assert ("--max-count=" in logs[0]) == (git_jobs()[0] > 1)  # one core: the plain walk
    monkeypatch.setenv("FLYWHEEL_GIT_JOBS", "1")
    assert fw("collect", "build", "--repo", tangled.path).stdout == result.stdout


@pytest.mark.parametrize("extra", [-3, 0, 1])
def test_range_about_as_long_as_the_first_log_is_read_whole(fw, tangled, monkeypatch, git_commands, extra):
    """A range shorter than, as long as, or one commit longer than the first ``git log``'s
    --max-count: the listing (started once that log printed more commits than it could end on)
    finds the rest, or that there is none. (A body beginning with \\x1e, as this repository has,
    may count as one commit more: the listing would only start sooner, so "shorter" is by 3.)"""
    jobs = int(tangled.git("rev-list", "--count", "HEAD").strip()) - extra
    monkeypatch.setenv("FLYWHEEL_GIT_JOBS", "1")
    sequential = fw("collect", "build", "--repo", tangled.path)
    monkeypatch.setenv("FLYWHEEL_GIT_JOBS", str(jobs))
    git_commands()
    split = fw("collect", "build", "--repo", tangled.path)
    assert split.exit_code == 0 and (split.stdout, split.stderr) == (sequential.stdout, sequential.stderr)
    listings = sum("--format=%H" in line for line in git_commands())
    assert listings == (0 if extra < 0 else 1)


def test_git_jobs_setting(monkeypatch):
    from flywheel_build.gitlog import PARALLEL_MIN, git_jobs

    monkeypatch.setenv("FLYWHEEL_GIT_JOBS", "3")
    assert git_jobs() == (3, 3)
    for ignored in ("", "0", "-2", "two", "1e3", "65"):
        monkeypatch.setenv("FLYWHEEL_GIT_JOBS", ignored)
        jobs, least = git_jobs()
        assert 1 <= jobs <= 8 and least == PARALLEL_MIN
