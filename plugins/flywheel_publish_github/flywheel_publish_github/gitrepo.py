"""A bare cache repository driven by the ``git`` command: fetch, build a commit without a work tree, push."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

from flywheel_core import FlywheelError, PathRefused, check_git_dir, redact

__all__ = ["CacheRepo", "GitError", "PushRejected", "auth_env", "git_env"]

#: Inherited GIT_* variables that are safe to keep (transport settings); every other one, such as
#: GIT_DIR or GIT_INDEX_FILE set by a hook that runs flywheel, could point git at the user's repo.
_KEEP_GIT_ENV = {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_PROXY_COMMAND",
                 # which config files are the user's (a credential helper, url.insteadOf live there)
                 "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"}
#: Seconds a network command (ls-remote, fetch, push) may take before it is stopped and the batch
#: fails, to be retried later by the queue: ``[targets.github] timeout``. A remote that accepts the
#: connection and never answers must not block a publisher.
NETWORK_TIMEOUT = 60.0
#: Seconds a local git command on the cache repository may take: a FIFO the up-front check cannot
#: see (one named by an ``[include]`` in the cache's config), or a hook or helper that waits on a
#: terminal, must not hang the publisher. Probes (rev-parse, cat-file -e, update-ref, init) answer
#: at once on any repository; LONG_TIMEOUT is for commands whose work grows with the batch or the
#: history (fast-import of the batch's files, log, ls-tree), the build plugin's default too.
LOCAL_TIMEOUT = 60.0
LONG_TIMEOUT = 600.0
#: Commands given LONG_TIMEOUT; every other local command gets LOCAL_TIMEOUT.
_LONG = {"fast-import", "log", "ls-tree"}
_CONFIG = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "gc.auto=0",
    "-c", "maintenance.auto=false",
    "-c", "commit.gpgSign=false",
    "-c", "core.fsmonitor=false",
    "-c", "credential.interactive=false",
)


class GitError(FlywheelError):
    """A git command failed; the message is redacted and names the command."""


class PushRejected(GitError):
    """The remote moved on (non-fast-forward): fetch, rebuild the commit on the new tip, retry."""


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEEP_GIT_ENV}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="true",  # beats core.askPass and SSH_ASKPASS: an empty answer, never a dialog
        GCM_INTERACTIVE="never",  # Git Credential Manager: no window asking for a login
        SSH_ASKPASS_REQUIRE="never",
        GIT_LITERAL_PATHSPECS="1",  # paths are file names, never glob patterns
        LC_ALL="C",
    )
    env.update(extra or {})
    return env


def auth_env(url: str, token: str | None) -> dict[str, str]:
    """Environment that makes git send ``token`` to the remote's host only, and to no other.

    The header travels in ``GIT_CONFIG_*`` variables: never in argv, a config file or a URL.
    Plain http gets a token only on the loopback interface (local test servers).
    """
    parts = urlsplit(url)
    if not token or parts.scheme not in ("https", "http"):
        return {}
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": f"http.{parts.scheme}://{netloc}/.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        # No credential helper may store or offer anything for this remote.
        "GIT_CONFIG_KEY_1": "credential.helper",
        "GIT_CONFIG_VALUE_1": "",
    }


class CacheRepo:
    """flywheel's own bare clone of the remote: the user's work tree and index are never involved."""

    def __init__(
        self, path: Path, remote: str, branch: str, network_env: dict[str, str], *,
        timeout: float = NETWORK_TIMEOUT, display: str | None = None,
    ) -> None:
        self.path = path
        self.remote = remote
        self.branch = branch
        self.network_env = network_env
        self.timeout = timeout
        self.display = display or redact(remote)
        self.tracking = f"refs/remotes/origin/{branch}"

    def git(
        self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None, network: bool = False,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        extra = dict(env or {})
        if network:
            extra.update(self.network_env)
        argv = ["git", *_CONFIG, f"--git-dir={self.path}", *args]
        # Its own process group: on a timeout, git's helpers (git-remote-https, ssh) are stopped too.
        child = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=git_env(extra),
                                 start_new_session=True)
        try:
            out, err = child.communicate(input, timeout=self.timeout if network else
                                         LONG_TIMEOUT if args[0] in _LONG else LOCAL_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            if network:
                raise GitError(
                    f"git {args[0]} of {self.display}: no answer within {self.timeout:g} s (targets.github.timeout); "
                    "the queue tries again later"
                ) from None
            raise GitError(
                f"git {args[0]} in the cache repository {self.path}: no answer within "
                f"{LONG_TIMEOUT if args[0] in _LONG else LOCAL_TIMEOUT:g} s (does its config include a FIFO, or a hook "
                "wait on a terminal?); the queue tries again later"
            ) from None
        except BaseException:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise
        proc = subprocess.CompletedProcess(argv, child.returncode, out, err)
        if check and proc.returncode != 0:
            raise GitError(f"git {args[0]} failed: {redact(_text(proc.stderr) or _text(proc.stdout))}")
        return proc

    def ensure(self) -> None:
        """Create the cache when missing, clear stale locks (call it holding the cache's lock);
        GitError when a file git reads there is a FIFO or a device."""
        try:
            check_git_dir(self.path)
        except PathRefused as exc:
            raise GitError(f"the cache repository is unusable: {exc}; remove {self.path} (flywheel clones it "
                           "again)") from None
        # A git killed at its deadline leaves its lock files behind, and git refuses to start while
        # they exist. Only flywheel runs git here, holding the cache's lock: they are stale.
        for lock in (*self.path.glob("*.lock"), *self.path.glob("refs/**/*.lock")):
            lock.unlink(missing_ok=True)
        if not (self.path / "HEAD").is_file():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                subprocess.run(["git", *_CONFIG, "init", "--quiet", "--bare", "--object-format=sha1", str(self.path)],
                               capture_output=True, env=git_env(), check=True, stdin=subprocess.DEVNULL,
                               timeout=LOCAL_TIMEOUT)
            except (subprocess.SubprocessError, OSError) as exc:
                reason = (f"no answer within {LOCAL_TIMEOUT:g} s" if isinstance(exc, subprocess.TimeoutExpired)
                          else _text(getattr(exc, "stderr", None) or b"").strip() or str(exc))
                raise GitError(f"git init of the cache repository {self.path} failed: {redact(reason)}") from None

    def fetch(self) -> str | None:
        """Bring the remote branch's tip into the cache; return it (None: the branch does not exist)."""
        listed = self.git("ls-remote", "--heads", "--end-of-options", self.remote, f"refs/heads/{self.branch}",
                          network=True)
        tip = next((line.split()[0] for line in _text(listed.stdout).splitlines()
                    if line.endswith(f"\trefs/heads/{self.branch}")), None)
        if tip is None:
            return None
        if self.git("cat-file", "-e", f"{tip}^{{commit}}", check=False).returncode != 0:
            self.git("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--end-of-options", self.remote,
                     f"+refs/heads/{self.branch}:{self.tracking}", network=True)
            tip = _text(self.git("rev-parse", "--verify", "--end-of-options", f"{self.tracking}^{{commit}}").stdout).strip()
        self.git("update-ref", self.tracking, tip)
        return tip

    @staticmethod
    def blob_id(data: bytes) -> str:
        """The object id git gives ``data`` as a blob (the cache is always a SHA-1 repository)."""
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def tree_entries(self, base: str | None, paths: list[str]) -> dict[str, tuple[str, str]]:
        """``{path: (mode, object id)}`` at ``base`` for those of ``paths`` that exist there."""
        found: dict[str, tuple[str, str]] = {}
        if base is None or not paths:
            return found
        for start in range(0, len(paths), 500):
            out = self.git("ls-tree", "-r", "-z", "--full-tree", "--end-of-options", base, "--", *paths[start:start + 500])
            for record in out.stdout.split(b"\0"):
                if not record:
                    continue
                head, _, name = record.partition(b"\t")
                mode, _, oid = head.decode().split(" ")
                found[name.decode("utf-8", "surrogateescape")] = (mode, oid)
        return found

    def last_commit_touching(self, base: str, path: str) -> str:
        out = self.git("log", "-1", "--format=%H", "--end-of-options", base, "--", path)
        return _text(out.stdout).strip() or base

    def commit(
        self, base: str | None, writes: dict[str, bytes], deletes: set[str], message: str, author: tuple[str, str]
    ) -> str:
        """A commit on ``base`` writing ``writes`` (path -> bytes) and removing ``deletes``.

        One ``git fast-import`` process builds blobs, tree and commit into a pack: no work tree,
        no index, no hooks. The stream ends with ``done``, so a truncated one is refused.
        """
        name, email = author
        stamp = f"{int(time.time())} +0000"
        ref = "refs/flywheel/batch"
        chunks = [b"feature done\n"]
        marks = {}
        for i, (path, data) in enumerate(sorted(writes.items()), start=1):
            marks[path] = i
            chunks.append(b"blob\nmark :%d\ndata %d\n%s\n" % (i, len(data), data))
        text = message.encode()
        chunks.append(f"reset {ref}\ncommit {ref}\n".encode())
        chunks.append(f"author {name} <{email}> {stamp}\ncommitter {name} <{email}> {stamp}\n".encode())
        chunks.append(b"data %d\n%s\n" % (len(text), text))
        if base:
            chunks.append(f"from {base}\n".encode())
        chunks += [f"M 100644 :{marks[path]} {path}\n".encode() for path in sorted(writes)]
        chunks += [f"D {path}\n".encode() for path in sorted(deletes)]
        chunks.append(b"\ndone\n")
        self.git("fast-import", "--quiet", "--force", input=b"".join(chunks))  # the ref is scratch
        return _text(self.git("rev-parse", "--verify", f"{ref}^{{commit}}").stdout).strip()

    def push(self, commit: str) -> None:
        """Fast-forward the remote branch to ``commit``; PushRejected when the remote moved on."""
        proc = self.git("push", "--porcelain", "--quiet", "--end-of-options", self.remote,
                        f"{commit}:refs/heads/{self.branch}", network=True, check=False)
        report = _text(proc.stdout)
        if proc.returncode == 0:
            self.git("update-ref", self.tracking, commit)
            return
        detail = redact(" ".join((_text(proc.stderr) + " " + report).split()))
        if "[rejected]" in report and ("non-fast-forward" in report or "fetch first" in report):
            raise PushRejected(f"push to {self.branch!r} rejected as non-fast-forward: {detail}")
        if "checked out" in detail or "denyCurrentBranch" in detail:
            raise GitError(
                f"the remote has branch {self.branch!r} checked out in its work tree, so git refuses the push; "
                "publish to another branch, or use a bare repository"
            )
        raise GitError(f"git push failed: {detail}")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")
