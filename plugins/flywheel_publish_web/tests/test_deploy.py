"""Deploying to a branch of a real git remote (a bare repository in a temp folder)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

CANARY = "ghp_" + "C4nary0123456789abcdefghijklmnopqrstuv"


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "pages.git"
    git("init", "--quiet", "--bare", str(path))
    return path


@pytest.fixture
def git_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``git`` first on PATH that records its argv, then runs the real git."""
    log = tmp_path / "git-argv.log"
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    return log


def test_deploy_pushes_the_site_to_the_branch_once(web, kit, remote, git_log, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    site = web(deploy={"method": "git", "remote": "pages.git", "branch": "gh-pages"})
    first = site.publish([kit.item("a", title="First post")])[0]
    commit = first.receipt["commit"]
    assert git("--git-dir", str(remote), "rev-parse", "gh-pages").strip() == commit
    files = set(git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", "gh-pages").split())
    assert {"index.html", "feed.xml", "sitemap.xml", ".nojekyll"} <= files
    assert "First post" in git("--git-dir", str(remote), "show", "gh-pages:index.html")

    again = site.publish([kit.item("a", title="First post")])[0]
    assert again.receipt == first.receipt  # same content: no new commit
    assert git("--git-dir", str(remote), "rev-list", "--count", "gh-pages").strip() == "1"

    # Someone else pushes to the branch: the next deploy builds on top instead of failing.
    other = tmp_path / "other"
    git("clone", "--quiet", "--branch", "gh-pages", str(remote), str(other))
    (other / "CNAME").write_text("example.org\n")
    git("add", "CNAME", cwd=other)
    git("commit", "--quiet", "-m", "custom domain", cwd=other)
    git("push", "--quiet", "origin", "gh-pages", cwd=other)
    third = site.publish([kit.item("b", title="Second post")])[0]
    assert git("--git-dir", str(remote), "rev-list", "--count", "gh-pages").strip() == "3"
    assert third.receipt["commit"] == git("--git-dir", str(remote), "rev-parse", "gh-pages").strip()
    assert "Second post" in git("--git-dir", str(remote), "show", "gh-pages:index.html")

    # The token is never in a git argument, the state folder or the site.
    assert CANARY not in git_log.read_text()
    for folder in (site.settings.state_dir, site.dir):
        for path in folder.rglob("*"):
            if path.is_file():
                assert CANARY.encode() not in path.read_bytes(), path


def test_token_reaches_git_only_through_its_environment() -> None:
    from flywheel_publish_web.deploy import git_env

    env = git_env("https://github.com/o/r.git", CANARY)
    header = env["GIT_CONFIG_VALUE_0"]
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader" and env["GIT_CONFIG_COUNT"] == "1"
    assert base64.b64decode(header.split()[-1]).decode() == f"x-access-token:{CANARY}"
    assert "GIT_CONFIG_VALUE_0" not in git_env("/srv/pages.git", CANARY)  # never sent to a local path
    assert "GIT_CONFIG_VALUE_0" not in git_env("http://insecure.example/r.git", CANARY)


def test_a_failing_push_is_an_error_without_the_token(web, kit, monkeypatch, tmp_path) -> None:
    from flywheel_publish_web.deploy import DeployError

    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    site = web(deploy={"method": "git", "remote": f"https://{CANARY}@127.0.0.1:9/nothing.git"})
    with pytest.raises(DeployError) as info:
        site.publish([kit.item("a")])
    assert CANARY not in str(info.value) and "deploy remote failed" in str(info.value)
