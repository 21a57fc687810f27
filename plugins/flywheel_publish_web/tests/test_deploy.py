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


def _tree(remote: Path, branch: str = "gh-pages") -> set[str]:
    return set(git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", branch).split())


def _push_from_elsewhere(remote: Path, work: Path, name: str, text: str, branch: str = "gh-pages") -> None:
    """Someone else commits a file to the branch (a custom domain, a note) and pushes it."""
    if not work.exists():
        git("clone", "--quiet", "--branch", branch, str(remote), str(work))
    git("pull", "--quiet", "origin", branch, cwd=work)
    (work / name).parent.mkdir(parents=True, exist_ok=True)
    (work / name).write_text(text)
    git("add", name, cwd=work)
    git("commit", "--quiet", "-m", f"add {name}", cwd=work)
    git("push", "--quiet", "origin", branch, cwd=work)


def test_deploy_pushes_the_site_to_the_branch_once(web, kit, remote, git_log, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", CANARY)
    site = web(deploy={"method": "git", "remote": "pages.git", "branch": "gh-pages"})
    first = site.publish([kit.item("a", title="First post", tags=["alpha"])])[0]
    commit = first.receipt["commit"]
    assert git("--git-dir", str(remote), "rev-parse", "gh-pages").strip() == commit
    files = _tree(remote)
    assert {"index.html", "feed.xml", "sitemap.xml", ".nojekyll", "tags/alpha/index.html", ".flywheel-deployed"} <= files
    assert "First post" in git("--git-dir", str(remote), "show", "gh-pages:index.html")

    again = site.publish([kit.item("a", title="First post", tags=["alpha"])])[0]
    assert again.receipt == first.receipt  # same content: no new commit
    assert git("--git-dir", str(remote), "rev-list", "--count", "gh-pages").strip() == "1"

    # Someone else commits a custom domain and a note: the next deploy builds on top and keeps them,
    # while a page flywheel wrote and no longer has (the tag page of a dropped tag) goes.
    _push_from_elsewhere(remote, tmp_path / "other", "CNAME", "example.org\n")
    _push_from_elsewhere(remote, tmp_path / "other", "notes/keep.md", "mine\n")
    third = site.publish([kit.item("a", title="First post", tags=["beta"]), kit.item("b", title="Second post")])[0]
    assert git("--git-dir", str(remote), "rev-list", "--count", "gh-pages").strip() == "4"
    assert third.receipt["commit"] == git("--git-dir", str(remote), "rev-parse", "gh-pages").strip()
    files = _tree(remote)
    assert {"CNAME", "notes/keep.md", "tags/beta/index.html"} <= files and "tags/alpha/index.html" not in files
    assert git("--git-dir", str(remote), "show", "gh-pages:CNAME") == "example.org\n"
    assert "Second post" in git("--git-dir", str(remote), "show", "gh-pages:index.html")
    deployed = set(git("--git-dir", str(remote), "show", "gh-pages:.flywheel-deployed").split())
    assert deployed == {str(p.relative_to(site.dir)) for p in site.dir.rglob("*") if p.is_file()}

    # The token is never in a git argument, the state folder or the site.
    assert CANARY not in git_log.read_text()
    for folder in (site.settings.state_dir, site.dir):
        for path in folder.rglob("*"):
            if path.is_file():
                assert CANARY.encode() not in path.read_bytes(), path


def test_a_push_that_loses_a_race_starts_again_from_the_new_tip(web, kit, remote, tmp_path, monkeypatch) -> None:
    """Another pusher wins the race between flywheel's fetch and its push (a real push to the real
    remote, made by a ``git`` on PATH just before flywheel's first push goes out)."""
    site = web(deploy={"method": "git", "remote": "pages.git"})
    site.publish([kit.item("a", title="First post")])
    other = tmp_path / "other"
    git("clone", "--quiet", "--branch", "gh-pages", str(remote), str(other))
    real = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(f"""#!/bin/sh
case " $* " in *" push "*)
  if [ ! -e "{tmp_path}/raced" ]; then
    touch "{tmp_path}/raced"
    unset GIT_INDEX_FILE  # flywheel's own index: not for the other pusher
    cd "{other}" && echo example.org > CNAME && "{real}" add CNAME && "{real}" -c user.name=o -c user.email=o@o commit -qm cname \
      && "{real}" push -q origin gh-pages || exit 99
    cd - >/dev/null
  fi;;
esac
exec "{real}" "$@"
""")
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    [result] = site.publish([kit.item("b", title="Second post")])
    assert (tmp_path / "raced").exists()
    log = git("--git-dir", str(remote), "log", "--format=%s", "gh-pages").split("\n")
    assert log[:3] == ["Update site (flywheel)", "cname", "Update site (flywheel)"]
    assert result.receipt["commit"] == git("--git-dir", str(remote), "rev-parse", "gh-pages").strip()
    assert {"CNAME", "index.html"} <= _tree(remote)
    assert "Second post" in git("--git-dir", str(remote), "show", "gh-pages:index.html")


def test_a_remote_that_never_answers_is_a_clear_failure_after_the_timeout(web, kit, silent_server) -> None:
    from flywheel_publish_web.deploy import DeployError

    site = web(deploy={"method": "git", "remote": silent_server, "timeout": 1})
    with pytest.raises(DeployError) as info:
        site.publish([kit.item("a")])
    message = str(info.value)
    assert message == (f"git fetch to the deploy remote {silent_server} got no answer in 1 s (deploy.timeout); "
                       "the queue tries again later")
    assert "First" not in message and "\n" not in message


def test_deploy_reads_the_users_global_config_named_by_git_config_global(web, kit, remote, monkeypatch, tmp_path) -> None:
    # GIT_CONFIG_GLOBAL names the user's own git config (credential helper, url.insteadOf): it was
    # dropped with the GIT_CONFIG_* variables that add config, so the deploy read ~/.gitconfig.
    config = tmp_path / "my-gitconfig"
    config.write_text(f'[url "{remote.as_uri()}"]\n\tinsteadOf = https://git.example.invalid/me/pages.git\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    site = web(deploy={"method": "git", "remote": "https://git.example.invalid/me/pages.git", "branch": "gh-pages"})
    result = site.publish([kit.item("a", title="First post")])[0]
    assert result.ok, result.error
    assert "index.html" in _tree(remote)


def test_a_deploy_remote_through_an_ssh_host_alias_is_an_address_not_a_local_path(web, kit, remote, monkeypatch, tmp_path) -> None:
    # `pages-host:me/pages.git` is scp-like to git (a colon before any slash); flywheel took it
    # for a folder beside flywheel.toml, so every deploy failed.
    config = tmp_path / "my-gitconfig"
    config.write_text(f'[url "{remote.parent.as_uri()}/"]\n\tinsteadOf = pages-host:me/\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    site = web(deploy={"method": "git", "remote": f"pages-host:me/{remote.name}", "branch": "gh-pages"})
    result = site.publish([kit.item("a", title="First post")])[0]
    assert result.ok, result.error
    assert "index.html" in _tree(remote)


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


def test_a_push_the_remote_refuses_is_reported_as_refused_not_retried_as_a_race(web, kit, remote, tmp_path) -> None:
    # GitHub's answer for a protected branch: the hook declines, git reports "[remote rejected]".
    # That is no lost race (only "[rejected]" with "fetch first" or "non-fast-forward" is): the
    # user must see the remote's reason, not "kept losing the race" after five pushes.
    from flywheel_publish_web.deploy import DeployError

    calls = tmp_path / "hook-calls"
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(f'#!/bin/sh\necho x >> "{calls}"\n'
                    'echo "error: GH006: Protected branch update failed for refs/heads/gh-pages." >&2\nexit 1\n')
    hook.chmod(0o755)
    site = web(deploy={"method": "git", "remote": "pages.git", "branch": "gh-pages"})
    with pytest.raises(DeployError) as info:
        site.publish([kit.item("a")])
    assert "GH006: Protected branch update failed" in str(info.value), str(info.value)
    assert "race" not in str(info.value) and "pre-receive hook declined" in str(info.value)
    assert calls.read_text().count("x") == 1, "pushed once"


@pytest.mark.parametrize("name", ["config", "HEAD", "objects/info/alternates", "info/grafts", "../deploy.index"])
def test_a_fifo_in_the_deploy_repository_is_refused_up_front(web, kit, remote, name: str) -> None:
    # Before: git waited on the FIFO for ever, and so did publish (and the worker).
    from flywheel_publish_web.deploy import DeployError

    site = web(deploy={"method": "git", "remote": "pages.git"})
    site.publish([kit.item("a", title="First post")])
    trap = (site.settings.state_dir / "deploy.git" / name).resolve()
    trap.parent.mkdir(parents=True, exist_ok=True)
    saved = trap.read_bytes() if trap.exists() else None
    trap.unlink(missing_ok=True)
    os.mkfifo(trap)
    with pytest.raises(DeployError) as info:
        site.publish([kit.item("b", title="Second post")])
    assert str(info.value) == (f"the deploy repository is unusable: {trap}: is a FIFO (named pipe), not a regular "
                               "file; git would wait on it for ever; remove that file")
    trap.unlink()
    if saved is not None:
        trap.write_bytes(saved)
    site.publish([kit.item("b", title="Second post")])
    assert git("--git-dir", str(remote), "rev-list", "--count", "gh-pages").strip() == "2"


def test_a_local_git_that_never_answers_fails_after_its_deadline(web, kit, remote, tmp_path, monkeypatch) -> None:
    # What the up-front check cannot see: the deploy repository borrows objects from one whose own
    # alternates file is a FIFO, so git waits at the first object it looks up (here `git add`: the
    # branch does not exist yet, so the fetch finds nothing to negotiate). Before: no deadline, a hang.
    from flywheel_publish_web.deploy import DeployError

    monkeypatch.setattr("flywheel_publish_web.deploy.LOCAL_TIMEOUT", 2.0)
    monkeypatch.setattr("flywheel_publish_web.deploy.LONG_TIMEOUT", 2.0)
    site = web(deploy={"method": "git", "remote": "pages.git"})
    other = tmp_path / "other.git"
    git("init", "--quiet", "--bare", str(other))
    trap = other / "objects" / "info" / "alternates"
    os.mkfifo(trap)
    gitdir = site.settings.state_dir / "deploy.git"
    git("init", "--quiet", "--bare", str(gitdir))
    (gitdir / "objects" / "info" / "alternates").write_text(f"{other / 'objects'}\n")
    with pytest.raises(DeployError) as info:
        site.publish([kit.item("a", title="First post")])
    message = str(info.value)
    assert message.startswith("git add in the deploy repository ") and f"{gitdir}: no answer within 2 s" in message
    assert message.endswith("; the queue tries again later") and "\n" not in message
    trap.unlink()
    site.publish([kit.item("a", title="First post")])
    assert git("--git-dir", str(remote), "rev-list", "--count", "gh-pages").strip() == "1"
