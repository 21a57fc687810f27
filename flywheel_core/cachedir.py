"""Where flywheel keeps what it can rebuild: the user's cache folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["user_cache_folder"]


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
