"""The session store: reads session files strictly and rewrites them atomically under a lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from flywheel_core.errors import FlywheelError
from flywheel_core.fsutil import WriteBatch, atomic_write, lock_for, remove_stale_temps
from flywheel_core.jsonload import MAX_BYTES, dumps_strict, load_json_file
from flywheel_core.models import Session, converter

__all__ = ["SessionStore", "dumps_session", "emit_session"]


def dumps_session(data: dict[str, Any]) -> str:
    """The on-disk form: 2-space indent, UTF-8 kept readable, trailing newline, strict JSON."""
    return dumps_strict(data, indent=2) + "\n"


def emit_session(doc: dict[str, Any], output: Path | None) -> None:
    """Write a collected session to ``output`` atomically (through a symlink), or to stdout.

    As flywheel writes every session file: 2-space JSON, UTF-8, a final newline. A value JSON
    cannot hold (NaN, a huge integer) raises :class:`FlywheelError` naming its path, and
    nothing is written.
    """
    import sys

    try:
        text = dumps_session(doc)
    except ValueError as exc:  # NaN or a huge integer from a collector: write nothing unreadable
        raise FlywheelError(f"{output or '<stdout>'}: {exc}; nothing was written") from None
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(output, text, follow_symlinks=True)


class SessionStore:
    """Loads and saves ``work_session.json`` files; every save is atomic and locked.

    Concurrent ``flywheel run`` processes on one file serialise their read-modify-write through
    a cross-process lock and re-read the file inside it, so no update is lost. A session path
    that is a symlink is written through: the file it points to gets the new content (replaced
    atomically in its own folder, locked by its real path) and the link stays a link. Temp
    files a killed writer left beside the file are removed on the next write.
    """

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def read_raw(self, path: Path) -> Any:
        """The parsed JSON document (InputError on anything unreadable)."""
        return load_json_file(path, max_bytes=self.max_bytes)

    def load(self, path: Path) -> Session:
        return converter.structure(self.read_raw(path), Session)

    def save(self, path: Path, session: Session) -> None:
        with lock_for(path):
            self._write(path, session)

    def update(self, path: Path, change: Callable[[Session], None]) -> Session:
        """Re-read ``path`` under its lock, apply ``change`` to it, write it back atomically."""
        with lock_for(path):
            batch = WriteBatch()
            session = self.stage_update(path, change, batch)
            batch.commit()
            return session

    def stage_update(
        self, path: Path, change: Callable[[Session], None], batch: WriteBatch, *, clean: bool = True
    ) -> Session:
        """:meth:`update` for a caller that holds ``lock_for(path)`` until it commits ``batch``
        (``flywheel run`` records many sessions with one sync): the new file is staged in it.
        ``clean=False``: the caller removed the stale temp files (``remove_stale_temps_of``)."""
        session = self.load(path)
        change(session)
        self._write(path, session, batch, clean=clean)
        return session

    @staticmethod
    def _write(path: Path, session: Session, batch: WriteBatch | None = None, *, clean: bool = True) -> None:
        try:
            text = dumps_session(converter.unstructure(session))
        except ValueError as exc:  # a plugin put NaN or a huge integer in it: keep the old file
            raise FlywheelError(f"{path}: {exc}; the session file was not rewritten") from None
        real = path.resolve()  # a symlinked session file is written through, in its own folder
        if clean:
            remove_stale_temps(real)
        if batch is None:
            atomic_write(real, text)
        else:
            batch.stage({real: text})
