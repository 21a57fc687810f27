"""Reading a session's timestamps: ISO 8601 or git's ``--date=iso`` form (small: validation imports it)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

__all__ = ["parse_when"]

_GIT_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?) ?([+-]\d{2}):?(\d{2})Z?$")


def parse_when(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (naive = UTC) or git's ``--date=iso`` form; else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    from flywheel_core import parse_timestamp

    try:
        return parse_timestamp(value)[0]
    except ValueError:
        pass
    match = _GIT_ISO.match(value.strip())
    if match:
        try:
            return parse_timestamp(f"{match[1]}T{match[2]}{match[3]}:{match[4]}")[0]
        except ValueError:
            return None
    return None
