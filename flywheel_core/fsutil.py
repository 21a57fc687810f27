"""File-system safety: atomic writes, bounded reads of regular files, and confining untrusted paths.

``lock_for`` lives in :mod:`flywheel_core.locks` and is importable from here as before.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import itertools
import os
import re
import stat
import sys
import time
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Iterable

from flywheel_core.errors import FileSystemError
from flywheel_core.locks import PathLock, lock_for

__all__ = [
    "FileTooLarge",
    "PathLock",
    "PathRefused",
    "WriteBatch",
    "atomic_write",
    "atomic_write_many",
    "check_git_dir",
    "confine",
    "lock_for",
    "read_regular_file",
    "refuse_special",
    "remove_stale_temps",
    "remove_stale_temps_of",
    "sha256_bytes",
]

#: A temp file older than this whose writer may still live is taken as abandoned too.
STALE_TEMP_SECONDS = 60.0


class PathRefused(ValueError):
    """An untrusted path that would leave its allowed roots (or is otherwise unsafe)."""


class FileTooLarge(PathRefused):
    """A file over the size limit a reader set."""


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of ``data``: the hash artifacts, queue entries and blobs are known by."""
    return hashlib.sha256(data).hexdigest()


_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; never blocks on a FIFO or a device.

    Raises :class:`PathRefused` for anything but a regular file (after a symlink),
    :class:`FileTooLarge` (a :class:`PathRefused`) over the limit, and OSError when the file
    cannot be opened.
    """
    # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise PathRefused(f"is {kind}, expected a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(f"file is {info.st_size} bytes; the limit is {max_bytes}")
        with open(fd, "rb", closefd=False) as fh:
            # read(n) allocates n bytes before reading: ask for the size fstat gave (one more
            # byte tells a file that grew since), not the limit (64 MiB per file read).
            data = fh.read(info.st_size + 1)
            if len(data) > info.st_size:
                data += fh.read(max_bytes + 1 - len(data))
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise FileTooLarge(f"file is larger than the limit of {max_bytes} bytes")
    return data


def refuse_special(path: Path, why: str = "it would block whoever reads it") -> None:
    """PathRefused naming ``path`` when it exists and is not a regular file (after a symlink):
    a FIFO or a device blocks its reader for ever. Absent or unreadable paths pass."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise PathRefused(f"{path}: is {kind}, not a regular file; {why}")


#: Files of a git dir that git reads whole before it answers (``info/grafts`` and the
#: alternates at the first object): a FIFO at any of them makes every git command wait.
GIT_DIR_FILES = ("HEAD", "config", "commondir", "packed-refs", "shallow", "index",
                 "objects/info/alternates", "info/grafts")


def check_git_dir(git_dir: Path, *also: Path) -> None:
    """PathRefused when a file git reads in ``git_dir`` (or one of ``also``, e.g. a
    ``GIT_INDEX_FILE``) is a FIFO, a device or a folder: git would wait on it for ever."""
    for path in (*(git_dir / name for name in GIT_DIR_FILES), *also):
        refuse_special(path, "git would wait on it for ever")


def _temp_prefix(name: str) -> str:
    # The writer's pid is in the name, so a later run can tell an abandoned temp file from a live one.
    return f".{name[:100]}.{os.getpid()}."


#: Numbers the temp files of this process (with its pid, a name no other live writer uses).
_temp_numbers = itertools.count()
#: The flags mkstemp opens with, write-only: a new file only, never through a symlink.
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _open_temp(path: Path) -> tuple[int, str]:
    """A new empty temp file beside ``path`` (mode 0600, as mkstemp makes it): its descriptor
    and name, ``.<name>.<pid>.<n>.tmp``. The pid and a number this process counts make the
    name unique among live writers, without mkstemp's random letters (a third of the Python
    time of writing a small file); a name a dead process with the same pid left is skipped."""
    prefix = os.path.join(os.path.abspath(path.parent), _temp_prefix(path.name))  # absolute, as mkstemp's
    for _ in range(10_000):  # as mkstemp's TMP_MAX
        tmp = f"{prefix}{next(_temp_numbers)}.tmp"
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temp file name", prefix)


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None, follow_symlinks: bool = False) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix.

    Temp file in the same folder, fsync, ``os.replace``, then fsync of the folder, so a crash
    at any point leaves either version intact. A symlink at ``path`` is replaced by the file,
    unless ``follow_symlinks``: then the file it points to is written (atomically, in its
    own folder) and the link stays. Any OSError becomes a :class:`FileSystemError` that names
    the path and says what to do (a full disk, a read-only folder, a file in the way).
    """
    atomic_write_many({path: data}, mode=mode, follow_symlinks=follow_symlinks)


def atomic_write_many(
    files: dict[Path, bytes | str], *, mode: int | None = None, follow_symlinks: bool = False
) -> None:
    """Write several files as :func:`atomic_write` writes one, each old or new after a crash.

    Every file goes to a temp file that is fsynced; only then are they renamed into place,
    and each folder is fsynced once: one fsync per file and one per folder, where writing
    them one by one costs two per file. A failure leaves the files not renamed yet as they
    were and removes every temp file.
    """
    batch = WriteBatch()
    batch.stage(files, mode=mode, follow_symlinks=follow_symlinks, sync=len(files) < WriteBatch.SYNCFS_FROM)
    batch.commit()


class WriteBatch:
    """Files written as :func:`atomic_write_many` writes them (each old or new after a crash),
    staged call by call and made durable together by :meth:`commit`.

    ``flywheel run`` on many sessions stages every artifact of a batch of sessions, then
    commits once before it records any of them: a crash before the commit leaves every file
    as it was (and no record claims it); after it, every staged file is durably new.
    Use it as a context manager: leaving it without a commit removes the temp files.
    """

    #: From this many files on, one ``syncfs`` of their file system (Linux) makes them durable
    #: instead of an fsync each: about half the CPU time, and one journal commit to wait for.
    SYNCFS_FROM = 16
    SYNCFS_FOLDERS_FROM = 4

    def __init__(self) -> None:
        self._staged: list[tuple[str, Path]] = []  # (temp file, the path it replaces)
        self._unsynced: list[tuple[str, Path]] = []
        self._folders: dict[Path, None] = {}
        #: Bytes staged so far (a caller bounds its batch by them).
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._staged)

    def __enter__(self) -> WriteBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def stage(
        self, files: dict[Path, bytes | str], *, mode: int | None = None, follow_symlinks: bool = False,
        sync: bool = False,
    ) -> None:
        """Write ``files`` to temp files beside them, fsynced now if ``sync``, else at the commit:
        all of them, or (on an error, raised as :class:`FileSystemError`) none, the files staged
        before kept."""
        start, unsynced = len(self._staged), len(self._unsynced)
        try:
            for path, data in files.items():
                data = data.encode("utf-8") if isinstance(data, str) else data
                staged = _stage(path, data, mode, follow_symlinks, self._folders, sync)
                self._staged.append(staged)
                if not sync:
                    self._unsynced.append(staged)
                self.bytes += len(data)
        except BaseException:
            _remove(tmp for tmp, _ in self._staged[start:])
            del self._staged[start:], self._unsynced[unsynced:]
            raise

    def commit(self) -> None:
        """Make every staged file durable, rename each into place, fsync each folder once."""
        staged, unsynced = self._staged, self._unsynced
        self._staged, self._unsynced, self.bytes = [], [], 0
        try:
            _sync_all(unsynced, list(self._folders))
            for i, (tmp, path) in enumerate(staged):
                try:
                    os.replace(tmp, path)
                except OSError as exc:
                    staged = staged[i:]
                    raise FileSystemError(path, exc) from None
        except BaseException:
            _remove(tmp for tmp, _ in staged)
            raise
        folders, self._folders = list(self._folders), {}
        # Many folders (a new one per session's artifacts): one more syncfs makes every rename
        # durable, and the new folders' own entries too, which a folder's fsync does not.
        if not (len(folders) >= WriteBatch.SYNCFS_FOLDERS_FROM and _syncfs(folders)):
            for folder in folders:
                _fsync_dir(folder)

    def discard(self) -> None:
        """Remove every temp file staged and not committed."""
        _remove(tmp for tmp, _ in self._staged)
        self._staged, self._unsynced, self._folders, self.bytes = [], [], {}, 0


def _remove(temps: Iterable[str]) -> None:
    for tmp in temps:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _sync_all(temps: list[tuple[str, Path]], folders: list[Path]) -> None:
    """Each temp file's data on disk: an fsync each, or one ``syncfs`` per file system for many."""
    if len(temps) >= WriteBatch.SYNCFS_FROM and _syncfs(folders):
        return
    for tmp, path in temps:
        try:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise FileSystemError(path, exc) from None


def _syncfs(folders: list[Path]) -> bool:
    """``syncfs(2)`` on the file system of each folder (Linux: every dirty file of it written and
    the journal committed before it returns, errors reported since 5.8); False where it is not
    available, or fails, so the caller fsyncs each file and reports that error."""
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    done: set[int] = set()
    for folder in folders:
        try:
            device = os.stat(folder).st_dev
            if device in done:
                continue
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return False
        try:
            if syncfs(fd) != 0:
                return False
        finally:
            os.close(fd)
        done.add(device)
    return True


@functools.cache
def _libc_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    return getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)


def _stage(
    path: Path, data: bytes, mode: int | None, follow_symlinks: bool, folders: dict[Path, None], sync: bool
) -> tuple[str, Path]:
    """A temp file holding ``data`` with the mode the file will have (fsynced if ``sync``), and
    the path it is to replace (``path``, resolved when ``follow_symlinks``); its folder is added
    to ``folders``."""
    if follow_symlinks:
        path = path.resolve()
    try:
        info = os.lstat(path)
    except OSError:
        info = None  # missing, or a folder on the way is wrong: mkdir below says which
    if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise FileSystemError(path, f"it is {kind}, not a regular file: choose a file path")
    folder = path.parent
    try:
        if folder not in folders:
            folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = _open_temp(path)
    except OSError as exc:
        raise FileSystemError(path, exc) from None
    folders[folder] = None
    try:
        try:
            # Straight to the descriptor: a file object would cost an fstat, an isatty and a seek.
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
            if mode is None and info is not None:
                try:  # the mode of the file replaced (of its target, for a symlink)
                    mode = (info if stat.S_ISREG(info.st_mode) else os.stat(path)).st_mode & 0o7777
                except OSError:
                    mode = None  # a dangling symlink: the new file gets the default
            os.fchmod(fd, mode if mode is not None else 0o644)
        finally:
            os.close(fd)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise FileSystemError(path, exc) from None
        raise
    return tmp, path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, it is just not ours
    return True


# Compiled on first use, not at import (issue 18: start-up): most commands need none of these.
_re = functools.cache(re.compile)
#: What follows ``.<name>.`` in a temp file's name: the writer's pid (older ones have none), then
#: its number (:func:`_open_temp`; mkstemp's letters before).
_TEMP_TAIL = r"(?:(\d+)\.)?[A-Za-z0-9_]+\.tmp"


def remove_stale_temps(path: Path, *, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temp files a killed ``atomic_write`` of ``path`` left beside it; return them.

    Only stale ones go: the writer's pid (in the name) is dead, or the file is older than
    ``older_than`` seconds. Call it while holding ``path``'s lock, so no live writer of this
    path can be mid-write. Errors are ignored: a temp file left is harmless.
    """
    return remove_stale_temps_of([path], older_than=older_than)


def remove_stale_temps_of(paths: Iterable[Path], *, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """:func:`remove_stale_temps` for several paths, holding all their locks: each folder is
    listed once (``flywheel run`` records many session files of one folder at a time)."""
    removed: list[Path] = []
    prefixes: dict[Path, set[str]] = {}
    for path in paths:
        prefixes.setdefault(path.parent, set()).add(f".{path.name[:100]}.")
    now = time.time()
    for folder, wanted in prefixes.items():
        try:
            entries = [e for e in os.scandir(folder) if e.name.startswith(".") and e.name.endswith(".tmp")]
        except OSError:
            continue
        for entry in entries:
            found = next((m for prefix in wanted if entry.name.startswith(prefix)
                          and (m := _re(_TEMP_TAIL).fullmatch(entry.name, len(prefix)))), None)
            if not found:
                continue
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > older_than
                dead = found.group(1) is not None and not _pid_alive(int(found.group(1)))
                if (old or dead) and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed


def confine(name: str, roots: list[Path], *, base: Path | None = None) -> Path:
    """Resolve an untrusted path named in a session and return it only if it stays in ``roots``.

    Relative names resolve against ``base`` (default: the first root). Windows separators are
    understood. Symlinks are followed before the check, so a link that leaves the roots is
    refused. Raises :class:`PathRefused` with a plain reason.
    """
    if not name or "\x00" in name:
        raise PathRefused("empty path or NUL byte")
    win = PureWindowsPath(name)
    if win.drive or name.startswith("\\\\"):
        raise PathRefused(f"{name!r} is a path on another machine (Windows drive)")
    parts = PurePosixPath(name.replace("\\", "/"))
    given = base or roots[0]
    base = given.resolve()
    candidate = Path(parts) if parts.is_absolute() else base / parts
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13), a name too long
        raise PathRefused(f"{name[:200]!r} cannot be resolved ({exc.__class__.__name__})") from None
    for root in roots:
        root = base if root == given else root.resolve()  # the base is most often a root: resolved once
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    raise PathRefused(f"{name!r} is outside the allowed folders")
