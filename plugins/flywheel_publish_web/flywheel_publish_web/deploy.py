"""Deploying the built site to a branch of a git remote (e.g. ``gh-pages``), token kept out of argv."""

from __future__ import annotations

import base64
import os
import subprocess

from flywheel_core import FlywheelError, redact

from flywheel_publish_web.settings import Settings

__all__ = ["DeployError", "deploy_git", "git_env"]

TOKEN_VARS = ("FLYWHEEL_GITHUB_TOKEN", "GITHUB_TOKEN")


class DeployError(FlywheelError):
    """git refused the deploy; the message has every secret redacted."""


def git_env(remote: str, token: str | None) -> dict[str, str]:
    """Environment for git: no prompts, and for https remotes the token as an HTTP header.

    The token travels in ``GIT_CONFIG_*`` variables, so it is never in argv (visible to every
    user in ``ps``), in ``.git/config``, or in a remote URL that git could print.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"})
    token = token or next((os.environ[v] for v in TOKEN_VARS if os.environ.get(v)), None)
    if token and remote.startswith("https://"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
    return env


def deploy_git(settings: Settings, *, attempts: int = 3) -> str:
    """Commit the site folder as the whole tree of ``branch`` and push it; return the commit id.

    Works in a bare repository in the state folder with the site as its work tree, so the
    user's own repositories are never touched. Content already on the branch makes no commit.
    A push that loses a race fetches the new tip and commits on top of it.
    """
    deploy = settings.deploy
    remote, branch = deploy["remote"], deploy.get("branch", "gh-pages")
    gitdir = settings.state_dir / "deploy.git"
    env = git_env(remote, deploy.get("token"))
    env.update({
        "GIT_AUTHOR_NAME": deploy.get("author_name", "flywheel"),
        "GIT_AUTHOR_EMAIL": deploy.get("author_email", "flywheel@localhost"),
    })
    env["GIT_COMMITTER_NAME"], env["GIT_COMMITTER_EMAIL"] = env["GIT_AUTHOR_NAME"], env["GIT_AUTHOR_EMAIL"]

    def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", f"--git-dir={gitdir}", f"--work-tree={settings.site_dir}", *args],
            env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=settings.site_dir,
        )
        if check and proc.returncode != 0:
            raise DeployError(redact(f"git {args[0]} failed: {(proc.stderr or proc.stdout).strip()[:500]}"))
        return proc

    if not gitdir.exists():
        subprocess.run(["git", "init", "--quiet", "--bare", str(gitdir)], check=True, env=env, capture_output=True)
    tracking = f"refs/remotes/origin/{branch}"
    for attempt in range(attempts):
        fetched = git("fetch", "--quiet", "--no-tags", "--end-of-options", remote,
                      f"+refs/heads/{branch}:{tracking}", check=False)
        missing = fetched.returncode != 0 and "couldn't find remote ref" in fetched.stderr.lower()
        if fetched.returncode != 0 and not missing:
            raise DeployError(redact(f"git fetch from the deploy remote failed: {fetched.stderr.strip()[:500]}"))
        git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
        if missing:
            git("update-ref", "-d", f"refs/heads/{branch}", check=False)
            git("read-tree", "--empty")
        else:
            git("update-ref", f"refs/heads/{branch}", tracking)
            git("read-tree", tracking)
        git("add", "--all", "--", ".")
        has_head = not missing
        if has_head and git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return git("rev-parse", "HEAD").stdout.strip()
        git("commit", "--quiet", "--no-verify", "-m", "Update site (flywheel)")
        pushed = git("push", "--quiet", "--porcelain", "--end-of-options", remote,
                     f"HEAD:refs/heads/{branch}", check=False)
        if pushed.returncode == 0:
            return git("rev-parse", "HEAD").stdout.strip()
        text = (pushed.stderr + pushed.stdout).lower()
        if "rejected" not in text and "fetch first" not in text and "non-fast-forward" not in text:
            raise DeployError(redact(f"git push to the deploy remote failed: {pushed.stderr.strip()[:500]}"))
    raise DeployError(f"git push kept losing the race to other pushers after {attempts} attempts")

