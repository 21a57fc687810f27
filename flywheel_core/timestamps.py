"""ISO 8601 timestamps as session files hold them: ``parse_timestamp``.

Its own module, below the models: collectors parse dates without loading cattrs.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timezone

__all__ = ["parse_timestamp"]

# Compiled on first use, not at import (issue 18: start-up): most commands need none of these.
_re = functools.cache(re.compile)
_TS_RE = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"

#: The years (UTC) a timestamp may fall in. Python's datetime stops at the years 1 and 9999, and
#: flywheel does arithmetic on times (a chart's margins around the first and last trade, a feed's
#: dates): a time in either of those years ended a run with "OverflowError: date value out of
#: range", or published a page dated "1-01-01". No session, commit or trade is dated there.
YEARS = range(1000, 9999)

_PLAIN_TS = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
).fullmatch


def parse_timestamp(value: str) -> tuple[datetime, bool]:
    """Parse an ISO 8601 timestamp; return (aware UTC datetime, whether it was naive).

    Accepts a date alone, ``T`` or space, fractions up to nanoseconds, ``Z`` or an offset.
    Raises ValueError with a plain message otherwise.
    """
    if isinstance(value, str) and _PLAIN_TS(value):
        # The usual form, read by Python as the general path below reads it (which only turns
        # a final Z into +00:00, the same to Python 3.11); a bad date falls through for its message.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return _in_utc(parsed, value)
    if not isinstance(value, str) or not _re(_TS_RE).match(value.strip()):
        raise ValueError(f"{value!r} is not an ISO 8601 timestamp (e.g. 2025-12-02T05:20:00Z)")
    text = value.strip().replace(",", ".")
    if len(text) == 10:
        try:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid timestamp: {exc}") from None
    else:
        # Python parses at most microseconds: cut longer fractions instead of refusing them.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
        text = re.sub(r"[zZ]$", "+00:00", text)
        text = re.sub(r"([+-]\d{2})$", r"\1:00", text)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid timestamp: {exc}") from None
    return _in_utc(parsed, value)


def _in_utc(parsed: datetime, value: str) -> tuple[datetime, bool]:
    naive = parsed.tzinfo is None
    try:
        moment = (parsed.replace(tzinfo=timezone.utc) if naive else parsed).astimezone(timezone.utc)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the year 9999 in UTC
        moment = None
    if moment is None or moment.year not in YEARS:
        raise ValueError(f"{value!r} is out of range (flywheel reads times from the year {YEARS.start} "
                         f"to {YEARS.stop - 1}, in UTC)") from None
    return moment, naive
