"""Who holds a lease, and whether it still binds: expiry for everyone, and a dead local process frees it at once."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from flywheel_core.publishing.storage import LOCAL_HOST

__all__ = ["LOCAL_HOST", "new_owner", "owner_alive"]


def new_owner() -> str:
    """A lease owner for one publisher: ``host:pid:random``.

    The random part makes each publisher distinct even when a pid is reused; host and pid let
    a publisher on the same machine see at once that the holder has died.
    """
    return f"{LOCAL_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_alive(owner: str | None) -> bool:
    """Whether the publisher holding a lease may still be running.

    Only a process on this machine can be asked; a lease of another machine binds until it
    expires (its holder renews it while it works).
    """
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != LOCAL_HOST or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(int(pid))


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but not been reaped yet (kill(pid, 0) still succeeds on it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): trust kill()
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
