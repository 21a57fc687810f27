"""Exceptions that the CLI turns into one clear line and an exit code, never a traceback."""

from __future__ import annotations

import errno

__all__ = [
    "FileSystemError",
    "FlywheelError",
    "InputError",
    "LockTimeout",
    "NothingToCollect",
    "PluginError",
    "UsageError",
    "describe_exception",
    "describe_os_error",
]


class FlywheelError(Exception):
    """Base class: ``exit_code`` is what the CLI exits with; ``str()`` is the message."""

    exit_code = 1


class UsageError(FlywheelError):
    """Bad command-line usage or configuration (exit 2)."""

    exit_code = 2


class InputError(FlywheelError):
    """A bad input file: names the file and the JSON path of the problem (exit 2)."""

    exit_code = 2

    def __init__(self, file: str, path: str, message: str) -> None:
        super().__init__(f"{file}: {path}: {message}")
        self.file = file
        self.path = path
        self.message = message


class NothingToCollect(UsageError):
    """A collector found nothing in the window it was given (no commit, no new note): exit 2 for
    ``flywheel collect``; ``flywheel end`` reports "nothing new" and exits 0."""


class PluginError(FlywheelError):
    """A plugin failed (import or hook); names its distribution (exit 1)."""

    exit_code = 1


class FileSystemError(FlywheelError):
    """A file or folder flywheel must read, write or lock is unusable: names it and what to do (exit 1)."""

    exit_code = 1

    def __init__(self, path: object, error: OSError | str, doing: str = "write") -> None:
        self.path = str(getattr(error, "filename", None) or path)
        self.errno = error.errno if isinstance(error, OSError) else None
        reason = describe_os_error(error, with_path=False) if isinstance(error, OSError) else error
        super().__init__(f"cannot {doing} {self.path}: {reason}")


class LockTimeout(FlywheelError):
    """Another process held a lock for longer than the wait allowed; names the lock and its holder."""

    exit_code = 1


# What to do about the errors a full, read-only or misarranged file system gives.
_HINTS = {
    errno.ENOSPC: "the disk is full: free some space, then run again",
    errno.EDQUOT: "the disk quota is used up: free some space, then run again",
    errno.EFBIG: "the file size limit was reached (disk full or `ulimit -f`): free space or raise the limit",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "permission denied: make it writable for this user, or choose another folder",
    errno.EPERM: "operation not permitted: make it writable for this user, or choose another folder",
    errno.ENOTDIR: "a file is in the way of a folder on that path: move the file away",
    errno.EEXIST: "a file is in the way of a folder on that path: move the file away",
    errno.EISDIR: "a folder is in the way of a file on that path: move the folder away",
    errno.ENAMETOOLONG: "the name is too long for the file system: use a shorter path",
    errno.ELOOP: "symbolic links loop on that path: fix the links",
}


def describe_os_error(error: OSError, *, with_path: bool = True) -> str:
    """One line: the path (when known), the system's words for the error, and what to do."""
    reason = error.strerror or type(error).__name__
    hint = _HINTS.get(error.errno or 0)
    text = f"{reason} ({hint})" if hint else reason
    where = getattr(error, "filename", None)
    return f"{where}: {text}" if with_path and where else text


def describe_exception(error: BaseException) -> str:
    """A failure in one line: a FlywheelError's own message, else ``Type: message``."""
    text = str(error) if isinstance(error, FlywheelError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())
