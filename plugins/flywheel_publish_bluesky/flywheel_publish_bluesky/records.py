"""Record keys made from the queue entry, so that writing a post again writes the same record.

``app.bsky.feed.post`` records are keyed by a TID: 13 characters of base32-sortable
(``234567abcdefghijklmnopqrstuvwxyz``) holding a 64-bit number whose top bit is 0, then 53 bits
of microseconds since 1970, then a 10-bit clock id. flywheel derives it from the entry:

- microseconds: the session's time (whole seconds), plus a position inside that second taken
  from the entry key's hash (so two versions of one session's post rarely share a time), plus
  the part's index (parts get consecutive microseconds, in thread order);
- clock id: the low 10 bits of the key's hash.

The same entry and part always give the same key, so ``com.atproto.repo.putRecord`` after a lost
answer, a crash or a retry rewrites that one record instead of making a second post.
"""

from __future__ import annotations

import hashlib

__all__ = ["S32", "decode_tid", "record_key"]

S32 = "234567abcdefghijklmnopqrstuvwxyz"
#: Room for the parts of a thread after a version's position inside its second.
_PART_ROOM = 10_000


def _encode(value: int) -> str:
    return "".join(S32[(value >> (5 * shift)) & 31] for shift in range(12, -1, -1))


def record_key(entry_key: str, session_seconds: int, index: int) -> str:
    """The TID of part ``index`` of the entry with idempotency key ``entry_key``."""
    if not 0 <= index < _PART_ROOM:
        raise ValueError(f"part index {index} out of range")
    digest = int.from_bytes(hashlib.sha256(entry_key.encode()).digest(), "big")
    clock = digest & 0x3FF
    offset = (digest >> 10) % (1_000_000 - _PART_ROOM)
    micros = session_seconds * 1_000_000 + offset + index
    if not 0 <= micros < 1 << 53:
        raise ValueError(f"session time {session_seconds} does not fit a TID")
    return _encode(micros << 10 | clock)


def decode_tid(tid: str) -> tuple[int, int]:
    """(microseconds, clock id) of a TID."""
    value = 0
    for char in tid:
        value = value << 5 | S32.index(char)
    return value >> 10, value & 0x3FF
