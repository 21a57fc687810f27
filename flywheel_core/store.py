"""The session store: reads session files strictly and rewrites them atomically under a lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from flywheel_core.fsutil import atomic_write, lock_for
from flywheel_core.jsonload import MAX_BYTES, load_json_file
from flywheel_core.models import Session, converter

__all__ = ["SessionStore", "dumps_session", "emit_session"]


def dumps_session(data: dict[str, Any]) -> str:
    """The on-disk form: 2-space indent, UTF-8 kept readable, trailing newline."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def emit_session(doc: dict[str, Any], output: Path | None) -> None:
    """Write a collected session to ``output`` atomically, or to stdout when it is None."""
    import sys

    text = dumps_session(doc)
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(output, text)


class SessionStore:
    """Loads and saves ``work_session.json`` files; every save is atomic and locked.

    Concurrent ``flywheel run`` processes on one file serialise their read-modify-write through
    a cross-process lock and re-read the file inside it, so no update is lost.
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
            atomic_write(path, dumps_session(converter.unstructure(session)))

    def update(self, path: Path, change: Callable[[Session], None]) -> Session:
        """Re-read ``path`` under its lock, apply ``change`` to it, write it back atomically."""
        with lock_for(path):
            session = self.load(path)
            change(session)
            atomic_write(path, dumps_session(converter.unstructure(session)))
            return session
