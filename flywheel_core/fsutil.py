"""File-system safety: atomic writes, cross-process locks, and confining untrusted paths."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import stat
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from flywheel_core.errors import FileSystemError, LockTimeout

__all__ = [
    "FileTooLarge",
    "PathLock",
    "PathRefused",
    "atomic_write",
    "confine",
    "lock_for",
    "read_regular_file",
    "remove_stale_temps",
    "sha256_bytes",
]

#: Seconds a lock is waited for before giving up (``FLYWHEEL_LOCK_TIMEOUT`` overrides).
LOCK_TIMEOUT = 120.0
#: Seconds of waiting after which one line says what is being waited for.
LOCK_NOTICE = 2.0
#: A temp file older than this whose writer may still live is taken as abandoned too.
STALE_TEMP_SECONDS = 60.0


class PathRefused(ValueError):
    """An untrusted path that would leave its allowed roots (or is otherwise unsafe)."""


class FileTooLarge(PathRefused):
    """A file over the size limit a reader set."""


def sha256_bytes(data: bytes) -> str:
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
    :class:`FileTooLarge` over the limit, and OSError when the file cannot be opened.
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
            data = fh.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise FileTooLarge(f"file is larger than the limit of {max_bytes} bytes")
    return data


def _temp_prefix(name: str) -> str:
    # The writer's pid is in the name, so a later run can tell an abandoned temp file from a live one.
    return f".{name[:100]}.{os.getpid()}."


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None, follow_symlinks: bool = False) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix.

    Temp file in the same folder, fsync, ``os.replace``, then fsync of the folder, so a crash
    at any point leaves either version intact. A symlink at ``path`` is replaced by the file,
    unless ``follow_symlinks``: then the file it points to is written (atomically, in its
    own folder) and the link stays. Any OSError becomes a :class:`FileSystemError` that names
    the path and says what to do (a full disk, a read-only folder, a file in the way).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if follow_symlinks:
        path = path.resolve()
    try:
        info = os.lstat(path)
    except OSError:
        info = None  # missing, or a folder on the way is wrong: mkdir below says which
    if info is not None and not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise FileSystemError(path, f"it is {kind}, not a regular file: choose a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise FileSystemError(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is None and path.exists():
            mode = path.stat().st_mode & 0o7777
        os.chmod(tmp, mode if mode is not None else 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise FileSystemError(path, exc) from None
        raise
    _fsync_dir(path.parent)


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


def remove_stale_temps(path: Path, *, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temp files a killed ``atomic_write`` of ``path`` left beside it; return them.

    Only stale ones go: the writer's pid (in the name) is dead, or the file is older than
    ``older_than`` seconds. Call it while holding ``path``'s lock, so no live writer of this
    path can be mid-write. Errors are ignored: a temp file left is harmless.
    """
    removed: list[Path] = []
    prefix = f".{path.name[:100]}."
    pattern = re.compile(re.escape(prefix) + r"(?:(\d+)\.)?[A-Za-z0-9_]+\.tmp")
    now = time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        found = pattern.fullmatch(entry.name)
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


def _lock_timeout(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    try:
        return float(os.environ.get("FLYWHEEL_LOCK_TIMEOUT", LOCK_TIMEOUT))
    except ValueError:
        return LOCK_TIMEOUT


def lock_for(path: Path, timeout: float | None = None) -> PathLock:
    """A cross-process lock for ``path``, kept in the user's cache folder, not beside the file.

    Every flywheel process on the machine agrees on the lock of a file whatever its config,
    because the lock's name is a hash of the file's resolved path. ``timeout`` seconds
    (default 120, ``FLYWHEEL_LOCK_TIMEOUT``; -1 waits for ever) before a :class:`LockTimeout`.
    """
    import platformdirs

    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    folder = Path(platformdirs.user_cache_dir("flywheel")) / "locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileSystemError(folder, exc, "create the lock folder") from None
    return PathLock(path, folder / f"{key}.lock", _lock_timeout(timeout))


class PathLock:
    """An exclusive lock on one path across processes, that tells a waiter who holds it.

    It is an ``flock`` on a lock file (through filelock): the system releases it the moment its
    holder dies, however it dies, so a crashed process never leaves a lock behind. The holder
    writes its pid, host and command beside the lock file (``<lock>.holder``), so a process
    that waits says what for (after ``LOCK_NOTICE`` seconds, once, on stderr) and a timeout is
    one line naming the locked path and its holder. Use it as a context manager.
    """

    def __init__(self, path: Path, lock_file: Path, timeout: float) -> None:
        import filelock

        self.path = path
        self.lock_file = lock_file
        self.holder_file = lock_file.with_name(lock_file.name + ".holder")
        self.timeout = timeout
        self._lock = filelock.FileLock(str(lock_file), timeout=timeout)
        self._depth = 0

    @property
    def is_locked(self) -> bool:
        return self._depth > 0

    def acquire(self, timeout: float | None = None) -> PathLock:
        """Take the lock, waiting up to ``timeout`` seconds (default: the lock's own)."""
        if self._depth:
            self._depth += 1
            return self
        timeout = self.timeout if timeout is None else timeout
        first = LOCK_NOTICE if timeout < 0 else min(LOCK_NOTICE, timeout)
        if not self._try(first):
            if timeout >= 0 and timeout <= LOCK_NOTICE:
                self._give_up(timeout)
            print(f"flywheel: waiting for the lock on {self.path} held by {self.holder()}", file=sys.stderr, flush=True)
            if not self._try(-1 if timeout < 0 else timeout - first):
                self._give_up(timeout)
        self._depth = 1
        self._write_holder()
        return self

    def _try(self, timeout: float) -> bool:
        import filelock

        try:
            self._lock.acquire(timeout=timeout)
        except filelock.Timeout:
            return False
        except OSError as exc:
            raise FileSystemError(self.lock_file, exc, "lock") from None
        return True

    def _give_up(self, timeout: float) -> None:
        raise LockTimeout(
            f"gave up after {timeout:g} s waiting for the lock on {self.path} (lock file {self.lock_file}), "
            f"held by {self.holder()}; if that process is stuck, end it and run again"
        )

    def release(self) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if self._depth:
            return
        try:
            self.holder_file.unlink()  # before the lock goes: the next holder writes its own
        except OSError:
            pass
        self._lock.release()

    def __enter__(self) -> PathLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _write_holder(self) -> None:
        from flywheel_core.redaction import redact

        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": redact(" ".join(sys.argv))[:300],
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "path": str(self.path),
        }
        try:  # advisory: a waiter that cannot read it says "an unknown process"
            self.holder_file.write_text(json.dumps(record), encoding="utf-8")
        except OSError:
            pass

    def holder(self) -> str:
        """Who holds the lock, as recorded by its holder: ``pid N on HOST (COMMAND) since T``."""
        try:
            record: dict[str, Any] = json.loads(self.holder_file.read_text(encoding="utf-8"))
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return "an unknown process"
        text = f"pid {pid}"
        local = record.get("host") == socket.gethostname()
        if not local:
            text += f" on {record.get('host')}"
        text += f" ({record.get('command') or '?'}) since {record.get('since', '?')}"
        if local and _process_state(pid) == "T":
            text += f"; it is stopped: resume it (kill -CONT {pid}) or end it"
        return text


def _process_state(pid: int) -> str | None:
    """The one-letter state of a local process (``T`` is stopped), where /proc tells it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


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
    base = (base or roots[0]).resolve()
    candidate = Path(parts) if parts.is_absolute() else base / parts
    try:
        resolved = candidate.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop (RuntimeError before 3.13), a name too long
        raise PathRefused(f"{name[:200]!r} cannot be resolved ({exc.__class__.__name__})") from None
    for root in roots:
        root = root.resolve()
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    raise PathRefused(f"{name!r} is outside the allowed folders")
