"""Cross-process locks that die with their holder and say who holds them."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from flywheel_core.cachedir import user_cache_folder
from flywheel_core.errors import FileSystemError, LockTimeout
from flywheel_core.redaction import redact, redaction_state

__all__ = ["LOCK_NOTICE", "LOCK_TIMEOUT", "PathLock", "lock_all", "lock_for"]

#: Seconds a lock is waited for before giving up (``FLYWHEEL_LOCK_TIMEOUT`` overrides).
LOCK_TIMEOUT = 120.0
#: Seconds of waiting after which one line says what is being waited for.
LOCK_NOTICE = 2.0
#: The lock folder is swept (see :func:`_sweep`) at most once in this many seconds, by the first
#: lock a process takes, for at most ``SWEEP_BUDGET`` seconds (again by the next process, until
#: a sweep gets through the whole folder).
SWEEP_EVERY = 600.0
SWEEP_BUDGET = 0.05
#: Seconds after which a :func:`lock_all` holder record is taken for one a killed batch left.
SHARED_RECORD_AGE = 86400.0


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
    return _lock_in(_lock_folder(), path, timeout)


def _lock_in(folder: Path, path: Path, timeout: float | None) -> PathLock:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return PathLock(path, folder / f"{key}.lock", _lock_timeout(timeout))


#: The lock folders this process has considered sweeping (by its first lock in each).
_swept: set[Path] = set()


def _lock_folder() -> Path:
    folder = _cache_folder() / "locks"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileSystemError(folder, exc, "create the lock folder") from None
    if folder not in _swept:
        _swept.add(folder)
        _sweep_now_and_then(folder)
    return folder


def _sweep_now_and_then(folder: Path) -> None:
    """Sweep ``folder`` if nobody did for ``SWEEP_EVERY`` seconds; a stamp file's time says when."""
    stamp = folder / "swept"
    try:
        if time.time() - stamp.stat().st_mtime < SWEEP_EVERY:
            return
    except FileNotFoundError:
        pass
    except OSError:
        return
    try:
        stamp.touch()  # first: the processes starting meanwhile leave it to this one
        if not _sweep(folder, SWEEP_BUDGET):
            os.utime(stamp, (0, 0))  # more is left: the next process goes on with it
    except OSError:
        pass


def _sweep(folder: Path, budget: float) -> bool:
    """Remove from ``folder`` what no holder uses, for up to ``budget`` seconds; True if it got
    through all of it.

    A release removes its lock file and holder record, but a holder that is killed leaves both,
    and flywheel before this kept every lock file. Each such lock is taken without waiting
    (skipped while anyone holds it) and removed while held, as a release does. A :func:`lock_all`
    record a day old is one a killed batch left (a batch that lost its record while running
    would write a record per lock instead).
    """
    deadline = time.monotonic() + budget
    with os.scandir(folder) as entries:
        for entry in entries:
            if time.monotonic() > deadline:
                return False
            name = entry.name
            if name.startswith("shared-") and name.endswith(".holder"):
                with contextlib.suppress(OSError):
                    if time.time() - entry.stat().st_mtime > SHARED_RECORD_AGE:
                        os.unlink(entry.path)
            elif name.endswith(".lock"):
                _remove_if_free(entry.path)
            elif name.endswith(".lock.holder") and not os.path.lexists(lock_file := entry.path[:-7]):
                _remove_if_free(lock_file)  # a record without its lock file
    return True


def _remove_if_free(lock_file: str) -> None:
    """Remove a lock file and its holder record if nobody holds the lock: taken without waiting
    (by filelock's own flock, a tenth of the cost of a ``FileLock``), and removed while held."""
    import filelock

    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        return
    try:
        free = filelock.lock_descriptor(fd, blocking=False)
        if free and os.path.samestat(os.fstat(fd), os.lstat(lock_file)):
            for file in (lock_file + ".holder", lock_file):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(file)
    except OSError:
        pass
    finally:
        os.close(fd)  # and with it the flock


_shared_records = itertools.count()


@contextlib.contextmanager
def lock_all(paths: Iterable[Path], timeout: float | None = None) -> Iterator[list[PathLock]]:
    """The locks of ``paths`` (as :func:`lock_for`), held together: taken in one order (of their
    lock files), so two processes locking overlapping sets never wait for each other in a
    circle, and released together.

    One holder record is written for all of them and hard-linked as each lock's holder file:
    ``flywheel run`` on many files takes a lock per file, and a new file cost about ten times
    what a link does (where links fail, each lock writes its own record, as :func:`lock_for`).
    """
    folder = _lock_folder()
    locks = {str(lock.lock_file): lock for lock in (_lock_in(folder, path, timeout) for path in paths)}
    shared = folder / f"shared-{os.getpid()}-{next(_shared_records)}.holder"
    ordered = [locks[name] for name in sorted(locks)]
    _write_record(shared, [str(lock.path) for lock in ordered])
    try:
        with contextlib.ExitStack() as held:
            for lock in ordered:
                lock.acquire(record=shared)
                held.callback(lock.release)
            yield ordered
    finally:
        try:
            shared.unlink()
        except OSError:
            pass


def _cache_folder() -> Path:
    cache = user_cache_folder()
    if cache is None:  # no home: platformdirs' answer, whatever it is, as ever
        import platformdirs

        cache = Path(platformdirs.user_cache_dir("flywheel"))
    return cache


#: The last command line shown to waiters: (argv, what redact made of it then, the secrets it knew).
_shown_command: tuple[list[str], str, object] | None = None


def _command() -> str:
    """This process's command line, redacted and cut short, for the holder record.

    Redacting it is worth keeping once: ``flywheel run`` on a thousand files takes a lock per
    file, and redacting their names each time cost 3 ms a file. Computed afresh when the
    command line or the secrets ``redact`` knows have changed.
    """
    global _shown_command
    known = redaction_state()
    if _shown_command is None or _shown_command[0] != sys.argv or _shown_command[2] != known:
        _shown_command = (list(sys.argv), redact(" ".join(sys.argv))[:300], known)
    return _shown_command[1]


class PathLock:
    """An exclusive lock on one path across processes, that tells a waiter who holds it.

    It is an ``flock`` on a lock file (through filelock): the system releases it the moment its
    holder dies, however it dies, so a crashed process never leaves a lock behind. The holder
    writes its pid, host and command beside the lock file (``<lock>.holder``), so a process
    that waits says what for (after ``LOCK_NOTICE`` seconds, once, on stderr) and a timeout is
    one line naming the locked path and its holder. Both files are removed on release, so the
    lock folder holds only the locks in use (and what killed holders left, until a sweep).
    Use it as a context manager.
    """

    def __init__(self, path: Path, lock_file: Path, timeout: float) -> None:
        import filelock

        self.path = path
        self.lock_file = lock_file
        self.holder_file = lock_file.with_name(lock_file.name + ".holder")
        self.timeout = timeout
        self._lock = filelock.FileLock(str(lock_file), timeout=timeout, on_acquired=self._pin)
        self._locked: os.stat_result | None = None  # the file whose flock was taken last
        self._depth = 0

    @property
    def is_locked(self) -> bool:
        return self._depth > 0

    def acquire(self, timeout: float | None = None, *, record: Path | None = None) -> PathLock:
        """Take the lock, waiting up to ``timeout`` seconds (default: the lock's own).
        ``record``: a holder record already written (:func:`lock_all`), linked, not rewritten."""
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
        self._write_holder(record)
        return self

    def _try(self, timeout: float) -> bool:
        """Take the lock within ``timeout`` seconds (-1: for ever); False if it could not.

        A release removes the lock file while still holding it. A waiter that opened the file
        before then may get its flock afterwards, on a file no longer in the folder, while a
        newcomer creates a new lock file and locks that: both would hold the lock. So the lock
        is held only once the file locked is the one its name leads to; else it is taken again.
        """
        import filelock

        deadline = time.monotonic() + timeout
        while True:
            self._locked = None
            try:
                self._lock.acquire(timeout=timeout)
            except filelock.Timeout:
                return False
            except OSError as exc:
                raise FileSystemError(self.lock_file, exc, "lock") from None
            try:
                named = os.lstat(self.lock_file)
                if self._locked is not None and os.path.samestat(self._locked, named):
                    return True
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._lock.release()
                raise FileSystemError(self.lock_file, exc, "lock") from None
            self._lock.release()
            if timeout >= 0:
                timeout = max(0.0, deadline - time.monotonic())

    def _pin(self, fd: int) -> None:
        self._locked = os.fstat(fd)

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
        # The holder record goes first (the next holder writes its own), then the lock file,
        # while the lock is still held: only a holder removes a lock file (see _try).
        for file in (self.holder_file, self.lock_file):
            with contextlib.suppress(OSError):
                file.unlink()
        self._lock.release()

    def __enter__(self) -> PathLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _write_holder(self, shared: Path | None = None) -> None:
        if shared is not None:
            for _ in range(2):
                try:
                    os.link(shared, self.holder_file)
                    return
                except FileExistsError:  # left by a holder that was killed
                    with contextlib.suppress(OSError):
                        self.holder_file.unlink()
                except OSError:
                    break
        _write_record(self.holder_file, str(self.path))

    def holder(self) -> str:
        """Who holds the lock, as recorded by its holder: ``pid N on HOST (COMMAND) since T``."""
        try:
            record: dict[str, Any] = json.loads(self.holder_file.read_text(encoding="utf-8"))
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return "an unknown process"
        text = f"pid {pid}"
        local = record.get("host") == _hostname()
        if not local:
            text += f" on {record.get('host')}"
        text += f" ({record.get('command') or '?'}) since {record.get('since', '?')}"
        if local and _process_state(pid) == "T":
            text += f"; it is stopped: resume it (kill -CONT {pid}) or end it"
        return text


def _hostname() -> str:
    """``socket.gethostname()``: on POSIX it is the kernel's node name, read without importing
    socket (~1.5 ms of a `flywheel run`, issue 18)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def _write_record(holder_file: Path, paths: str | list[str]) -> None:
    """The holder record: who holds the lock of ``paths`` (one path, or the paths of :func:`lock_all`)."""
    record = {
        "pid": os.getpid(),
        "host": _hostname(),
        "command": _command(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "path" if isinstance(paths, str) else "paths": paths,
    }
    try:  # advisory: a waiter that cannot read it says "an unknown process"
        holder_file.write_text(json.dumps(record), encoding="utf-8")
    except OSError:
        pass


def _process_state(pid: int) -> str | None:
    """The one-letter state of a local process (``T`` is stopped), where /proc tells it."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None
