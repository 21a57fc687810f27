"""Every recipe of docs/agents.md, run as written in a temporary repository: git hooks, a Claude
Code hook, a cron line, a GitHub Actions job and the Python API."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "agents.md"
BIN = Path(sys.executable).parent  # where `flywheel` is installed beside this Python
ZERO = "0" * 40


def recipe(name: str) -> str:
    """The fenced block under ``<!-- recipe: NAME -->`` in docs/agents.md, exactly as written."""
    found = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```[a-z]*\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)
    assert found, f"docs/agents.md has no recipe {name!r}"
    return found.group(1)


def _now(minutes: int = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def project(git_repo, monkeypatch: pytest.MonkeyPatch):
    """A repository whose history began two days ago, ignoring what flywheel writes, and a PATH
    that finds `flywheel` (as an installed one would be)."""
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FLYWHEEL_LOAD_PLUGINS", "build")
    repo = git_repo()
    repo.commit("chore: start", {".gitignore": "/sessions/\n/flywheel-out/\n/.flywheel/\nflywheel-end.json\n"},
                when=_now(-2 * 24 * 60))
    return repo


def _sessions(repo) -> list[dict]:
    folder = repo.path / "sessions"
    files = sorted(folder.glob("*_build.json"), key=lambda p: p.stat().st_mtime_ns) if folder.is_dir() else []
    return [json.loads(p.read_text()) for p in files]


def _messages(doc: dict) -> list[str]:
    return [c["message"] for c in doc["source_data"]["git_commits"]]


def _hook(repo, name: str) -> Path:
    path = repo.path / ".git" / "hooks" / name
    path.write_text(recipe(name))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def test_pre_push_hook_ends_a_session_per_push(project, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    project.git("remote", "add", "origin", str(remote))
    _hook(project, "pre-push")

    def push() -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=project.path, capture_output=True, text=True,
                              env=project.env(_now(), "Ann Example", "ann@example.com"), check=False)
        assert done.returncode == 0, done.stderr
        return done

    project.commit("feat: parser", {"p.py": "1\n"}, when=_now())
    first = push()
    assert "session sessions/" in first.stdout + first.stderr
    [one] = _sessions(project)
    assert _messages(one) == ["feat: parser"], "the last day's commits: not the two-day-old one"

    project.commit("fix: lexer", {"l.py": "2\n"}, when=_now())
    push()
    assert [_messages(d) for d in _sessions(project)] == [["feat: parser"], ["fix: lexer"]]

    again = subprocess.run([str(project.path / ".git" / "hooks" / "pre-push")], cwd=project.path, capture_output=True,
                           text=True, check=False)
    assert again.returncode == 0 and "nothing new since the last end" in again.stdout
    assert len(_sessions(project)) == 2


def test_post_commit_hook_makes_a_session_of_every_commit(project) -> None:
    _hook(project, "post-commit")
    project.commit("feat: one", {"one.py": "1\n"}, when=_now())
    project.commit("feat: two", {"two.py": "2\n"}, when=_now())
    assert [_messages(d) for d in _sessions(project)] == [["feat: one"], ["feat: two"]]


def test_claude_code_hooks_start_and_end_the_session(project, tmp_path: Path) -> None:
    settings = json.loads(recipe("claude-settings"))
    [[start]] = [group["hooks"] for group in settings["hooks"]["SessionStart"]]
    [[stop]] = [group["hooks"] for group in settings["hooks"]["Stop"]]
    assert start["type"] == stop["type"] == "command"

    def fire(hook: dict, event: str, project_dir: Path = project.path) -> subprocess.CompletedProcess[str]:
        # As Claude Code runs a command hook: a shell, the event as JSON on stdin, the project in
        # CLAUDE_PROJECT_DIR, from wherever the agent happens to be.
        payload = {"session_id": "abc123", "hook_event_name": event, "cwd": str(tmp_path), "stop_hook_active": False}
        return subprocess.run(["bash", "-c", hook["command"]], input=json.dumps(payload), capture_output=True,
                              text=True, cwd=tmp_path, env={**os.environ, "CLAUDE_PROJECT_DIR": str(project_dir)},
                              timeout=hook.get("timeout", 60), check=False)

    started = fire(start, "SessionStart")
    assert started.returncode == 0 and started.stdout == "", started.stderr
    idle = fire(stop, "Stop")
    assert idle.returncode == 0 and "nothing new since the session started" in idle.stdout, idle.stderr
    project.commit("feat: what the agent did", {"a.py": "a\n"}, when=_now())
    ended = fire(stop, "Stop")
    assert ended.returncode == 0, ended.stderr
    assert ended.stdout.startswith("session repo/sessions/"), "the repository's own config and sessions folder"
    [doc] = _sessions(project)
    assert _messages(doc) == ["feat: what the agent did"] and doc["agent_id"] == "claude-code"
    assert "duration_minutes" in doc["metadata"]
    broken = fire(stop, "Stop", project_dir=tmp_path / "gone")
    assert broken.returncode == 1, "a failure is shown, not fed back to the agent (exit 2 would)"
    assert "no such folder" in broken.stderr


def test_cron_line_ends_the_session_every_half_hour(project, tmp_path: Path) -> None:
    line = recipe("cron").strip()
    minute, hour, day, month, weekday, command = line.split(None, 5)
    assert (minute, hour, day, month, weekday) == ("*/30", "*", "*", "*", "*")
    command = command.replace("/path/to/repo", str(project.path)).replace("/path/to/bin", str(BIN))
    assert "/path/to" not in command
    # cron's own environment: a bare PATH, a HOME, nothing else of ours but the test isolation.
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"], "SHELL": "/bin/sh",
           **{k: os.environ[k] for k in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "FLYWHEEL_LOAD_PLUGINS") if k in os.environ}}
    project.commit("feat: cron saw this", {"c.py": "c\n"}, when=_now())
    for _ in range(2):
        done = subprocess.run(["/bin/sh", "-c", command], cwd="/", env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    [doc] = _sessions(project)
    assert _messages(doc) == ["feat: cron saw this"]
    log = (Path(os.environ["HOME"]) / "flywheel-end.log").read_text()
    assert "session sessions/" in log and "nothing new since the last end" in log


def _expand(value: str, context: dict[str, str]) -> str:
    """``${{ expr }}`` as GitHub Actions evaluates it, for the expressions the recipe uses."""
    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        assert expr in context, f"the recipe uses ${{{{ {expr} }}}}, which this test does not model"
        return context[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def test_github_actions_job_ends_a_session_per_push_to_main(project, tmp_path: Path) -> None:
    import yaml

    workflow = yaml.safe_load(recipe("github-actions"))
    trigger = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert trigger == {"push": {"branches": ["main"]}}
    [job] = workflow["jobs"].values()
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "pip").write_text('#!/bin/sh\necho "pip $*" >> "$PIP_LOG"\n')  # flywheel is installed already
    (shims / "pip").chmod(0o755)

    def run_job(before: str, after: str) -> dict:
        context = {"github.event.before": before, "github.sha": after, "github.actor": "octocat",
                   "github.run_id": "42", "secrets.FLYWHEEL_GITHUB_TOKEN": ""}
        for step in job["steps"]:
            if "uses" in step:
                continue  # checkout, cache, setup-python: the test repository already is the checkout
            env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "PIP_LOG": str(tmp_path / "pip.log"),
                   "GITHUB_SHA": after, "CI": "true",
                   **{k: _expand(str(v), context) for k, v in step.get("env", {}).items()}}
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _expand(step["run"], context)],
                                  cwd=project.path, env=env, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"step {step.get('name')!r}: {done.stderr}"
        return json.loads((project.path / "flywheel-end.json").read_text())

    project.commit("feat: first push", {"f.py": "1\n"}, when=_now())
    first_push = project.head()
    shown = run_job(ZERO, first_push)
    assert shown["status"] == "complete" and shown["exit_code"] == 0
    assert _messages(_sessions(project)[0]) == ["feat: first push", "chore: start"], "a new branch: all of it"
    assert (tmp_path / "pip.log").read_text().startswith("pip install flywheel-core flywheel-build")

    project.commit("feat: second push", {"s.py": "2\n"}, when=_now())
    second = run_job(first_push, project.head())
    assert second["status"] == "complete"
    assert _messages(json.loads(Path(second["session_file"]).read_text())) == ["feat: second push"]
    assert _sessions(project)[-1]["agent_id"] == "octocat"

    rerun = run_job(first_push, project.head())
    assert rerun["status"] == "nothing-new" and rerun["exit_code"] == 0, "a re-run of the job ends nothing twice"
    assert len(_sessions(project)) == 2


def test_python_api_script_wraps_an_agent_command(project) -> None:
    script = project.path / "end_of_session.py"
    script.write_text(recipe("python-api"))
    agent = ["sh", "-c", "echo work > work.txt && git add work.txt && git commit -q -m 'feat: the agent did this'"]
    env = project.env(_now(), "Agent Seven", "a7@example.com")
    done = subprocess.run([sys.executable, script, "--", *agent], cwd=project.path, env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("session file: ") and lines[0].endswith("_build.json")
    assert any(line.startswith("blog_post: ") and line.endswith("blog_post.md") for line in lines)
    [doc] = _sessions(project)
    assert _messages(doc) == ["feat: the agent did this"] and doc["agent_id"] == "Agent-7"
    assert doc["source_data"]["summary"].startswith("Ran sh -c echo work")

    idle = subprocess.run([sys.executable, script, "--", "true"], cwd=project.path, env=env, capture_output=True,
                          text=True, check=False)
    assert idle.returncode == 0 and idle.stdout.startswith("nothing new since the session started"), idle.stderr
    failing = subprocess.run([sys.executable, script, "--", "sh", "-c", "exit 3"], cwd=project.path, env=env,
                             capture_output=True, text=True, check=False)
    assert failing.returncode == 3, "the agent's own exit code is kept"
