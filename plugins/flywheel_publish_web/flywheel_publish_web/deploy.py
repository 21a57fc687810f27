"""Deploying the built site to a branch of a git remote (e.g. ``gh-pages``), token kept out of argv."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
from pathlib import Path

from flywheel_core import FlywheelError, PathRefused, check_git_dir, redact

from flywheel_publish_web.settings import Settings

__all__ = ["DEFAULT_TIMEOUT", "DeployError", "MANIFEST", "deploy_git", "git_env"]

#: Seconds a fetch or push may take before it is stopped (``deploy.timeout``).
DEFAULT_TIMEOUT = 60.0
#: Seconds a local git command on the deploy repository (``deploy.git`` in the state folder) may
#: take: a FIFO the up-front check cannot see (one an ``[include]`` of its config names), or a
#: hook or helper waiting on a terminal, must not hang publish or the worker. Probes (init,
#: rev-parse, cat-file, hash-object, update-index, write-tree, commit-tree) answer at once;
#: LONG_TIMEOUT is for commands whose work grows with the site (read-tree, add, rm).
LOCAL_TIMEOUT = 60.0
LONG_TIMEOUT = 600.0
_LONG = {"read-tree", "add", "rm"}
#: The file on the branch that lists the files flywheel put there: the only ones it ever removes.
MANIFEST = ".flywheel-deployed"
COMMIT_MESSAGE = "Update site (flywheel)"


class DeployError(FlywheelError):
    """git refused the deploy, or the remote did not answer; the message has every secret redacted."""


_USER_CONFIG = frozenset({"GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"})


def git_env(remote: str, token: str | None) -> dict[str, str]:
    """Environment for git: no prompts, and for https remotes the token as an HTTP header.

    The token travels in ``GIT_CONFIG_*`` variables, so it is never in argv (visible to every
    user in ``ps``), in ``.git/config``, or in a remote URL that git could print. It is
    ``deploy.token`` as core resolved it (from ``{"$env": NAME}``, else the variables the
    schema's ``x-env`` names): the plugin never reads the environment for it.
    """
    # GIT_CONFIG_COUNT/KEY/VALUE/PARAMETERS would add config; the variables naming the user's own
    # config files (a credential helper, url.insteadOf) are kept, as HOME is.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_") or k in _USER_CONFIG}
    env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C", "GIT_LITERAL_PATHSPECS": "1",
                # No login window from Git Credential Manager or an ssh askpass either.
                "GCM_INTERACTIVE": "never", "SSH_ASKPASS_REQUIRE": "never"})
    if token and remote.startswith("https://"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
    return env


def _display(remote: str) -> str:
    """The remote as messages may show it: without any ``user:password@``."""
    return re.sub(r"//[^/@\s]*@", "//", remote)


class _Git:
    """git in a bare repository of the state folder, with the site folder as its work tree and an
    index of its own; a fetch or push still running after ``timeout`` seconds is stopped."""

    def __init__(self, settings: Settings) -> None:
        deploy = settings.deploy
        self.remote = deploy["remote"]
        self.timeout = float(deploy.get("timeout", DEFAULT_TIMEOUT))
        self.gitdir = settings.state_dir / "deploy.git"
        self.site = settings.site_dir
        token = deploy.get("token")
        self.env = git_env(self.remote, token)
        name, email = deploy.get("author_name", "flywheel"), deploy.get("author_email", "flywheel@localhost")
        self.env.update({"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
                         "GIT_COMMITTER_EMAIL": email, "GIT_INDEX_FILE": str(settings.state_dir / "deploy.index")})
        self.secrets = [s for s in (token, self.env.get("GIT_CONFIG_VALUE_0", "").rpartition(" ")[2]) if s]

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return redact(" ".join(text.split())[:500])

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True,
                 network: bool = False) -> subprocess.CompletedProcess[str]:
        # No hooks (a user's global core.hooksPath could hold a pre-push hook that waits on a terminal).
        argv = ["git", f"--git-dir={self.gitdir}", f"--work-tree={self.site}", "-c", "core.autocrlf=false",
                "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "credential.interactive=false",
                *args]
        # A session of its own, so a stalled git and every helper it started (git-remote-https,
        # ssh) are stopped together when the time is up.
        proc = subprocess.Popen(argv, env=self.env, cwd=self.site, text=True, start_new_session=True,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(stdin, timeout=self.timeout if network else
                                        LONG_TIMEOUT if args[0] in _LONG else LOCAL_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            if not network:
                raise DeployError(
                    f"git {args[0]} in the deploy repository {self.gitdir}: no answer within "
                    f"{LONG_TIMEOUT if args[0] in _LONG else LOCAL_TIMEOUT:g} s (does its config include a FIFO, "
                    "or a hook wait on a terminal?); the queue tries again later") from None
            raise DeployError(
                f"git {args[0]} to the deploy remote {self.scrub(_display(self.remote))} got no answer in "
                f"{self.timeout:g} s (deploy.timeout); the queue tries again later") from None
        result = subprocess.CompletedProcess(argv, proc.returncode, out, err)
        if check and result.returncode != 0:
            raise DeployError(f"git {args[0]} failed: {self.scrub(err or out)}")
        return result


def _site_files(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file() or p.is_symlink())


def deploy_git(settings: Settings, *, attempts: int = 5) -> str:
    """Put the site (call it holding the site lock) on ``branch`` of the remote, on top of what is there; return the commit id.

    Each attempt fetches the branch, starts from its tree, removes only the files an earlier
    deploy put there (listed in ``.flywheel-deployed`` on the branch) that the site no longer
    has, adds the site's files, and pushes a commit on top. Files someone else committed (a
    ``CNAME``) stay. Content already there makes no commit; a push that loses a race to
    another pusher starts again from the new tip. The user's own repositories are never touched.
    """
    git = _Git(settings)
    branch = settings.deploy.get("branch", "gh-pages")
    tracking = f"refs/remotes/origin/{branch}"
    try:
        check_git_dir(git.gitdir, Path(git.env["GIT_INDEX_FILE"]))
    except PathRefused as exc:
        raise DeployError(f"the deploy repository is unusable: {exc}; remove that file") from None
    # A git killed at its deadline leaves its lock files behind, and git refuses to start while
    # they exist. Only flywheel runs git here, under the site lock the caller holds: they are stale.
    for lock in (Path(git.env["GIT_INDEX_FILE"] + ".lock"), *git.gitdir.glob("*.lock"),
                 *git.gitdir.glob("refs/**/*.lock")):
        lock.unlink(missing_ok=True)
    if not git.gitdir.exists():
        try:
            subprocess.run(["git", "init", "--quiet", "--bare", str(git.gitdir)], check=True, env=git.env,
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=LOCAL_TIMEOUT)
        except (subprocess.SubprocessError, OSError) as exc:
            reason = (f"no answer within {LOCAL_TIMEOUT:g} s" if isinstance(exc, subprocess.TimeoutExpired)
                      else (getattr(exc, "stderr", None) or b"").decode("utf-8", "replace").strip() or str(exc))
            raise DeployError(f"git init of the deploy repository {git.gitdir} failed: {git.scrub(reason)}") from None
    files = _site_files(settings.site_dir)
    for _attempt in range(attempts):
        fetched = git("fetch", "--quiet", "--no-tags", "--end-of-options", git.remote,
                      f"+refs/heads/{branch}:{tracking}", check=False, network=True)
        missing = fetched.returncode != 0 and "couldn't find remote ref" in fetched.stderr.lower()
        if fetched.returncode != 0 and not missing:
            raise DeployError(f"git fetch from the deploy remote failed: {git.scrub(fetched.stderr)}")
        parent = None if missing else git("rev-parse", "--verify", f"{tracking}^{{commit}}").stdout.strip()
        git("read-tree", *([parent] if parent else ["--empty"]))
        before = git("cat-file", "blob", f"{parent}:{MANIFEST}", check=False).stdout.splitlines() if parent else []
        stale = sorted(set(before) - set(files) - {MANIFEST})
        if stale:
            git("rm", "--cached", "--quiet", "--ignore-unmatch", "--pathspec-from-file=-", "--pathspec-file-nul",
                stdin="\0".join(stale))
        git("add", "--force", "--no-all", "--", ".")  # adds and updates; never removes what it did not write
        listing = git("hash-object", "-w", "--stdin", stdin="".join(f"{f}\n" for f in files)).stdout.strip()
        git("update-index", "--add", "--cacheinfo", f"100644,{listing},{MANIFEST}")
        tree = git("write-tree").stdout.strip()
        if parent and git("rev-parse", f"{parent}^{{tree}}").stdout.strip() == tree:
            return parent
        commit = git("commit-tree", tree, *(["-p", parent] if parent else []), "-m", COMMIT_MESSAGE).stdout.strip()
        pushed = git("push", "--quiet", "--porcelain", "--end-of-options", git.remote,
                     f"{commit}:refs/heads/{branch}", check=False, network=True)
        if pushed.returncode == 0:
            return commit
        # Only a lost race ("[rejected]" ... fetch first / non-fast-forward) is tried again; a
        # "[remote rejected]" (a protected branch, a hook) is the remote's answer, shown as it is.
        text = pushed.stdout.lower()
        if "[rejected]" not in text or ("fetch first" not in text and "non-fast-forward" not in text):
            raise DeployError(f"git push to the deploy remote failed: {git.scrub(pushed.stderr + ' ' + pushed.stdout)}")
    raise DeployError(f"git push kept losing the race to other pushers after {attempts} attempts")
