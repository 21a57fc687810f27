"""File-system safety: atomic writes, cross-process locks, and confining untrusted paths."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

__all__ = ["atomic_write", "confine", "lock_for", "sha256_bytes", "PathRefused"]


class PathRefused(ValueError):
    """An untrusted path that would leave its allowed roots (or is otherwise unsafe)."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix.

    Temp file in the same folder, fsync, ``os.replace``, then fsync of the folder, so a crash
    at any point leaves either version intact.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is None and path.exists():
            mode = path.stat().st_mode & 0o7777
        os.chmod(tmp, mode if mode is not None else 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
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


def lock_for(path: Path, timeout: float = 120.0):  # -> filelock.FileLock
    """A cross-process lock for ``path``, kept in the user's cache folder, not beside the file.

    Every flywheel process on the machine agrees on the lock of a file whatever its config,
    because the lock's name is a hash of the file's resolved path.
    """
    import filelock
    import platformdirs

    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    folder = Path(platformdirs.user_cache_dir("flywheel")) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(str(folder / f"{key}.lock"), timeout=timeout)


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
