"""Where flywheel keeps what it can rebuild: the user's cache folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["private_cache_folder", "user_cache_folder"]


def user_cache_folder() -> Path | None:
    """``platformdirs.user_cache_dir("flywheel")``, or None where there is no home to put it in.

    On Linux it applies platformdirs' XDG rule itself (an absolute ``$XDG_CACHE_HOME``, else
    ``~/.cache``): importing platformdirs was a twentieth of ``flywheel --help``. A test checks
    both agree.
    """
    if sys.platform.startswith("linux"):
        value = os.environ.get("XDG_CACHE_HOME", "")
        base = value if os.path.isabs(value) else os.path.expanduser("~/.cache")
        return Path(base, "flywheel") if os.path.isabs(base) else None
    import platformdirs

    try:
        return Path(platformdirs.user_cache_dir("flywheel"))
    except (OSError, RuntimeError):
        return None


def private_cache_folder(name: str) -> Path | None:
    """``<user cache folder>/<name>``, made if missing, when only this user can write to it and
    to the folder around it; None otherwise (and where there is no cache folder).

    For caches whose files are loaded as code (Jinja2's compiled templates are marshal data):
    a folder someone else made or can write to (``XDG_CACHE_HOME`` pointing at a shared
    folder) could hold a compiled template that runs their code.
    """
    import stat

    base = user_cache_folder()
    if base is None:
        return None
    folder = base / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        uid = os.geteuid()
        around, info = os.lstat(base), os.lstat(folder)
        if not all(stat.S_ISDIR(i.st_mode) and i.st_uid == uid for i in (around, info)):
            return None  # someone else's, or a link to somewhere else
        # Around it: nobody else may swap the folder (a group-writable one only if the group is
        # the user's own, as umask 002 makes them).
        if around.st_mode & 0o002 or (around.st_mode & 0o020 and around.st_gid != os.getegid()):
            return None
        if info.st_mode & 0o077:
            os.chmod(folder, 0o700)  # ours, made before it had to be private: close it
    except (OSError, AttributeError):  # a read-only home; no geteuid (Windows): no such cache
        return None
    return folder
