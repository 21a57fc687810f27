"""Running git on repositories we do not trust: no hooks, no fsmonitor, no external programs."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import attrs

from flywheel_core import PathRefused, check_git_dir, refuse_special

__all__ = ["GitError", "RepositoryRefused", "Repo", "open_repo", "run_git", "start_git", "finish_git", "git_deadline",
           "SAFE_CONFIG", "PROBE_TIMEOUT", "GIT_TIMEOUT"]

#: Overrides given on every git command line (they beat any repository or user config).
#: A hostile repository can name programs in its config: hooks, an fsmonitor, a gpg program run
#: to show signatures, a transport run to lazy-fetch missing objects, textconv and external diff
#: drivers (those two are also refused per command with --no-textconv/--no-ext-diff). It can
#: also name files git reads whole while walking the log: an order file, a mailmap, an
#: attributes file set to /dev/zero or a FIFO hang git, so those read /dev/null instead (the
#: repository's own .mailmap and .gitattributes still apply).
SAFE_CONFIG: tuple[str, ...] = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "diff.orderFile=/dev/null",
    "-c", "mailmap.file=/dev/null",
    "-c", "core.attributesFile=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.pager=cat",
    "-c", "log.showSignature=false",
    "-c", "protocol.allow=never",
    "-c", "color.ui=false",
    "-c", "i18n.logOutputEncoding=UTF-8",
    "-c", "maintenance.auto=false",
    "-c", "gc.auto=0",
)


class GitError(Exception):
    """git failed or is missing; ``str()`` is git's own one-line reason."""


class RepositoryRefused(GitError):
    """The repository holds a FIFO or a device where git reads a file, or git did not answer in
    time: bad input to refuse, unlike a repository that is merely missing or unreadable."""


#: GIT_* variables kept: they choose which of the user's own config files git reads, as HOME
#: does (a user who points GIT_CONFIG_GLOBAL at a file means that file, not ~/.gitconfig).
KEEP_GIT_ENV = frozenset({"GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"})


def _env() -> dict[str, str]:
    # Variables such as GIT_DIR or GIT_CONFIG_PARAMETERS would point git elsewhere or add config.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in KEEP_GIT_ENV}
    # GIT_FLUSH=0: git log writes in full buffers instead of once per commit into a pipe; every
    # caller here reads a command's whole output, and on a long history that halves the work
    # of moving it (20,000 commits: 0.3 s of CPU less).
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", GIT_PAGER="cat", GIT_ASKPASS="true", GIT_FLUSH="0")
    return env


def start_git(cwd: Path, *args: str, stdin: bool = False) -> subprocess.Popen:
    """Start ``git <SAFE_CONFIG> ARGS`` in ``cwd`` without waiting (finish with ``finish_git``)."""
    cmd = ["git", "--no-pager", *SAFE_CONFIG, *args]
    try:
        return subprocess.Popen(
            cmd, cwd=cwd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        )
    except FileNotFoundError:
        raise GitError("git is not installed (no `git` on PATH)") from None
    except NotADirectoryError:
        raise GitError(f"{cwd}: not a directory") from None


#: Seconds the first git command on a repository (``rev-parse``, instant on any repository) may
#: take. A repository's config can include a FIFO (``[include] path = evil``, a tarball can hold
#: one): every git command there waits for a writer that never comes.
PROBE_TIMEOUT = 60.0
#: Seconds any other git command may take: a FIFO the probe does not touch (one named by
#: objects/info/alternates is read at the first object) must not hang a run for ever either.
#: Ten minutes is far more than ``git log --numstat`` of a 100,000-commit history takes.
GIT_TIMEOUT = 600.0


def _no_answer(seconds: float) -> RepositoryRefused:
    return RepositoryRefused(f"git did not answer within {seconds:g} s: does the repository's config (an [include] "
                             "path) or objects/info/alternates name a FIFO or a device?")


def finish_git(proc: subprocess.Popen, input: bytes | None = None, check: bool = True, timeout: float | None = None) -> bytes:
    timeout = GIT_TIMEOUT if timeout is None else timeout
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise _no_answer(timeout) from None
    if check and proc.returncode != 0:
        name = proc.args[len(SAFE_CONFIG) + 2] if isinstance(proc.args, list) else "git"
        raise GitError(_reason(err) or f"git {name} exited with {proc.returncode}")
    return out


def run_git(cwd: Path, *args: str, input: bytes | None = None, check: bool = True, timeout: float | None = None) -> bytes:
    """Run ``git <SAFE_CONFIG> ARGS`` in ``cwd``; return stdout bytes (GitError on failure)."""
    return finish_git(start_git(cwd, *args, stdin=input is not None), input, check, timeout)


class git_deadline:  # noqa: N801 (used as a context manager, like a function)
    """``with git_deadline(proc):`` kills ``proc`` when it runs past ``GIT_TIMEOUT`` while its
    output is read line by line (``communicate`` cannot time that); RepositoryRefused then."""

    def __init__(self, proc: subprocess.Popen, timeout: float | None = None) -> None:
        self.proc, self.timeout = proc, GIT_TIMEOUT if timeout is None else timeout
        self.fired = threading.Event()
        self.timer = threading.Timer(self.timeout, self._kill)
        self.timer.daemon = True

    def _kill(self) -> None:
        self.fired.set()
        self.proc.kill()

    def __enter__(self) -> git_deadline:
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()
        if self.fired.is_set():
            raise _no_answer(self.timeout)


def _reason(stderr: bytes) -> str:
    """git's last ``fatal:``/``error:`` line, else its first line."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip()
    return lines[0] if lines else ""


@attrs.frozen
class Repo:
    """A repository found on this machine: its work tree (None when bare) and git dir."""

    root: Path | None
    git_dir: Path
    shallow: bool

    @property
    def cwd(self) -> Path:
        return self.root or self.git_dir

    @property
    def name(self) -> str:
        if self.root:
            return self.root.name
        # A bare "demo.git" is named "demo"; the ".git" folder of a work tree is named after its parent.
        name = self.git_dir.name
        if name == ".git":
            return self.git_dir.parent.name
        return name[:-4] if name.endswith(".git") and len(name) > 4 else name

    def git(self, *args: str, input: bytes | None = None) -> bytes:
        return run_git(self.cwd, *args, input=input)

    def remote_url(self) -> str | None:
        """``remote.origin.url`` as configured (not yet cleaned of credentials)."""
        return self.remote_url_later()()

    def remote_url_later(self):
        """Start reading ``remote.origin.url`` now; the returned function waits for it, so the
        lookup runs while another git process works."""
        proc = start_git(self.cwd, "config", "-z", "--get", "remote.origin.url")

        def result() -> str | None:
            out = finish_git(proc, check=False)
            return out.split(b"\0", 1)[0].decode("utf-8", "replace").strip() or None

        return result

    def config_later(self, *keys: str):
        """Start reading the config ``keys`` (lower case) now; the returned function waits and
        gives ``{key: value}`` for those set (the last value wins, as it does for git)."""
        pattern = "^(" + "|".join(re.escape(k) for k in keys) + ")$"
        proc = start_git(self.cwd, "config", "-z", "--get-regexp", pattern)

        def result() -> dict[str, str]:
            values: dict[str, str] = {}
            for entry in finish_git(proc, check=False).split(b"\0"):
                key, _, value = entry.decode("utf-8", "replace").partition("\n")
                if key and value.strip():
                    values[key] = value.strip()
            return values

        return result

    def shallow_commits(self) -> set[str]:
        """The boundary commits of a shallow clone (their parents are missing here)."""
        if not self.shallow:
            return set()
        try:
            # Not git_dir/shallow: a linked worktree's git dir has none, the common dir holds it.
            where = self.cwd / self.git("rev-parse", "--git-path", "shallow").decode("utf-8", "surrogateescape").strip()
            _refuse_special(where)
            return set(where.read_text(encoding="ascii").split())
        except (GitError, OSError, UnicodeDecodeError):
            return set()


def _refuse_special(path: Path, git_dir: bool = False) -> None:
    """RepositoryRefused when ``path`` (or, with ``git_dir``, a file git reads whole in that git
    dir) exists and is not a regular file: a FIFO blocks its reader, git first of all."""
    try:
        if git_dir:
            check_git_dir(path)
        else:
            refuse_special(path, _WAITS)
    except PathRefused as exc:
        raise RepositoryRefused(str(exc).replace("git would wait on it for ever", _WAITS)) from None


_WAITS = "git would wait on it for ever, so this repository is not read"


def _pointer(path: Path) -> Path | None:
    """The folder a small text file of git's names (``.git`` file ``gitdir: X``, ``commondir``)."""
    _refuse_special(path)
    try:
        with path.open("rb") as handle:
            text = handle.read(4096).decode("utf-8", "surrogateescape").strip()
    except OSError:
        return None
    text = text.removeprefix("gitdir:").strip() if path.name == ".git" else text
    return (path.parent / text) if text else None


def check_git_files(path: Path) -> None:
    """Refuse the repository git would find from ``path`` (searched upward, as git does) when a
    file git reads there is a FIFO or a device: git would block on it before answering."""
    for folder in (path, *path.parents):
        dot = folder / ".git"
        if dot.exists() or dot.is_symlink():
            git_dir = dot if dot.is_dir() else _pointer(dot)
            break
        if (folder / "HEAD").exists() and (folder / "objects").is_dir():  # a bare repository
            git_dir = folder
            break
    else:
        return
    if git_dir is None:
        return
    _refuse_special(git_dir, git_dir=True)
    common = _pointer(git_dir / "commondir") if (git_dir / "commondir").exists() else None
    if common is not None:
        _refuse_special(common, git_dir=True)


def open_repo(path: Path) -> Repo:
    """The repository at (or above) ``path``; GitError with a plain reason otherwise
    (RepositoryRefused for a FIFO or a device where git reads a file, or no answer in time)."""
    if not path.exists():
        raise GitError(f"{path}: no such directory")
    if not path.is_dir():
        raise GitError(f"{path}: not a directory")
    check_git_files(path)
    try:
        out = run_git(path, "rev-parse", "--absolute-git-dir", "--is-shallow-repository", "--show-toplevel",
                      timeout=PROBE_TIMEOUT)
    except RepositoryRefused as exc:
        raise RepositoryRefused(f"{path}: {exc}") from None
    except GitError as exc:
        text = str(exc)
        if "not a git repository" in text:
            raise GitError(f"{path}: not a git repository") from None
        if "dubious ownership" in text:  # another user's clone
            raise GitError(f"{path}: {text} (to trust it: git config --global --add safe.directory "
                           f"{path.resolve()})") from None
        if "work tree" not in text:
            raise GitError(f"{path}: {text}") from None
        out = run_git(path, "rev-parse", "--absolute-git-dir", "--is-shallow-repository")
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    root = Path(lines[2]) if len(lines) > 2 and lines[2] else None
    return Repo(root=root, git_dir=Path(lines[0]), shallow=lines[1] == "true")
