"""Facets for a post's text: links, mentions and hashtags, at UTF-8 byte offsets as the AT Protocol requires.

Detection follows the reference client's (``@atproto/api`` rich-text ``detectFacets``): links are
``http(s)://`` URLs minus one trailing mark of ``.,;:!?`` (and a closing parenthesis that opens
nowhere in them); mentions are ``@handle`` after a space, a parenthesis or the start, and become
facets only when the handle resolves to a DID; hashtags start after a space or the start, hold
at least one character that is neither a digit nor punctuation, lose trailing punctuation and
are at most 64 characters long.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import regex

__all__ = ["facets", "first_link"]

_LINK = regex.compile(r"(?:^|(?<=[\s(]))(https?://\S+)", regex.IGNORECASE)
_MENTION = regex.compile(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?\.[a-zA-Z][a-zA-Z0-9-]*)\b")
_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    rf"(?:^|(?<=\s))[#＃]((?!\ufe0f)[^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}]+[^\s{_INVISIBLE}]*)"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
MAX_TAG = 64


def _links(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _LINK.finditer(text):
        start, uri = match.start(1), match.group(1)
        if uri[-1] in ".,;:!?":
            uri = uri[:-1]
        if uri.endswith(")") and "(" not in uri:
            uri = uri[:-1]
        found.append((start, start + len(uri), uri))
    return found


def first_link(text: str) -> str | None:
    """The first http(s) link of ``text``, as a facet would carry it."""
    links = _links(text)
    return links[0][2] if links else None


def facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """``app.bsky.richtext.facet`` objects for ``text``; ``resolve_handle(handle)`` gives a DID or None."""
    spans: list[tuple[int, int, dict[str, Any]]] = []
    for start, end, uri in _links(text):
        spans.append((start, end, {"$type": "app.bsky.richtext.facet#link", "uri": uri}))
    for match in _MENTION.finditer(text):
        did = resolve_handle(match.group(1).lower())
        if did:
            spans.append((match.start(), match.end(), {"$type": "app.bsky.richtext.facet#mention", "did": did}))
    for match in _TAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1))
        if tag and len(regex.findall(r"\X", tag)) <= MAX_TAG:
            start = match.start()
            spans.append((start, start + 1 + len(tag), {"$type": "app.bsky.richtext.facet#tag", "tag": tag}))
    out: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    for start, end, feature in sorted(spans, key=lambda s: s[0]):
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue  # a "#fragment" or "@name" inside a link stays part of the link
        taken.append((start, end))
        out.append({
            "index": {"byteStart": len(text[:start].encode()), "byteEnd": len(text[:end].encode())},
            "features": [feature],
        })
    return out
