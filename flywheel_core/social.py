"""Social posts that fit each platform: length rules, and splitting long text into threads.

Shared by every session-type plugin, so X, Bluesky, Mastodon and LinkedIn rules live in one
place. Lengths follow each platform's own counting:

- ``x``: 280, twitter-text v3 weighting (URLs count 23, CJK and emoji weigh 2), via
  ``twitter-text-parser``;
- ``bluesky``: 300 graphemes (user-perceived characters);
- ``mastodon``: 500 characters, every URL counts 23;
- ``linkedin``: 3000 characters.

Splitting happens at sentence boundaries, then word boundaries, and never inside a URL, a
word (unless a single word is longer than a post) or a grapheme. Threads get ``n/N`` counters.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable, Iterable

__all__ = ["PLATFORMS", "LIMITS", "post_length", "fits", "split_post", "social_variants"]

LIMITS = {"x": 280, "bluesky": 300, "mastodon": 500, "linkedin": 3000}
MAX_POSTS = 12
PLATFORMS = tuple(LIMITS)

_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'’]", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def _graphemes(text: str) -> list[str]:
    import regex

    return regex.findall(r"\X", text)


def _x_length(text: str) -> int:
    return _parse_tweet()(text).weightedLength


@lru_cache(maxsize=1)
def _parse_tweet() -> Callable:
    """Import twitter-text's parser. It reads one data file through ``pkg_resources``, which new
    environments lack (and which is slow to import): lend it a two-line stand-in while it loads."""
    import sys
    import types
    from pathlib import Path

    saved = sys.modules.get("pkg_resources")
    if saved is None:
        shim = types.ModuleType("pkg_resources")
        shim.resource_string = lambda module, name: (Path(sys.modules[module].__file__).parent / name).read_bytes()
        sys.modules["pkg_resources"] = shim
    try:
        from twitter_text import parse_tweet
    finally:
        if saved is None:
            del sys.modules["pkg_resources"]
    return parse_tweet


def _bluesky_length(text: str) -> int:
    return len(_graphemes(text))


def _mastodon_length(text: str) -> int:
    return len(_URL.sub("x" * 23, text))


def _plain_length(text: str) -> int:
    return len(text)


_COUNTERS: dict[str, Callable[[str], int]] = {
    "x": _x_length,
    "bluesky": _bluesky_length,
    "mastodon": _mastodon_length,
    "linkedin": _plain_length,
}


def post_length(text: str, platform: str) -> int:
    """The length of ``text`` as ``platform`` counts it (after NFC normalisation)."""
    return _COUNTERS[platform](unicodedata.normalize("NFC", text))


def fits(text: str, platform: str) -> bool:
    return post_length(text, platform) <= LIMITS[platform]


def _tokens(text: str) -> list[str]:
    """Words, keeping each URL whole (a URL never gets split)."""
    return [t for t in re.split(r"\s+", text) if t]


def _pieces(text: str, limit: int, platform: str) -> list[str]:
    """Break text into units that each fit ``limit``: sentences, else words, else graphemes."""
    out: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        if not sentence:
            continue
        if post_length(sentence, platform) <= limit:
            out.append(sentence)
            continue
        for word in _tokens(sentence):
            if post_length(word, platform) <= limit or _URL.fullmatch(word):
                out.append(word)
            else:
                out.extend(_cut(word, limit, platform))
    return out


def _cut(word: str, limit: int, platform: str) -> list[str]:
    """Cut one over-long word into chunks that fit, at grapheme boundaries.

    Each chunk is found by bisection over at most ``limit`` graphemes (every grapheme counts at
    least 1), so a 100,000-character word costs O(n log limit) length checks, not O(n^2).
    """
    graphemes = _graphemes(word)
    chunks = []
    while graphemes:
        lo, hi = 1, min(limit, len(graphemes))
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if post_length("".join(graphemes[:mid]), platform) <= limit:
                lo = mid
            else:
                hi = mid - 1
        chunks.append("".join(graphemes[:lo]))
        graphemes = graphemes[lo:]
    return chunks


def _pack(pieces: list[str], limit: int, platform: str) -> list[str]:
    posts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}" if current else piece
        if current and post_length(candidate, platform) > limit:
            posts.append(current)
            current = piece
        else:
            current = candidate
    if current:
        posts.append(current)
    return posts


def split_post(
    text: str, platform: str, *, hashtags: Iterable[str] = (), max_posts: int = MAX_POSTS
) -> list[str]:
    """Return ``text`` (plus hashtags) as one post, or as a numbered thread that fits ``platform``.

    Hashtags (with or without ``#``) count towards the limit; they close the last post, or get a
    post of their own when they do not fit there. Text longer than ``max_posts`` posts could
    hold ends with "…" after the last post that fits: nobody reads a 200-post thread,
    and untrusted text must not make this slow.
    """
    if platform not in LIMITS:
        raise ValueError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    limit = LIMITS[platform]
    text = unicodedata.normalize("NFC", " ".join(text.split()) if "\n" not in text else text.strip())
    text = _truncate(text, limit * max_posts * 2)  # cheap first cut; URLs weigh less than they are long
    tags = " ".join(t if t.startswith("#") else f"#{t}" for t in hashtags if t)
    tags = _truncate(tags, limit // 2)
    whole = f"{text}\n\n{tags}" if tags and text else (text or tags)
    if post_length(whole, platform) <= limit:
        return [whole]
    total = 2
    while True:
        reserve = len(f" {total}/{total}")
        posts = _pack(_pieces(text, limit - reserve, platform), limit - reserve, platform)
        if tags:
            last = f"{posts[-1]} {tags}" if posts else tags
            if posts and post_length(last, platform) <= limit - reserve:
                posts[-1] = last
            else:
                posts.extend(_pack(_pieces(tags, limit - reserve, platform), limit - reserve, platform))
        if len(posts) > max_posts:
            posts = posts[:max_posts]
            while posts[-1] and post_length(posts[-1] + " …", platform) > limit - reserve:
                posts[-1] = posts[-1].rsplit(" ", 1)[0] if " " in posts[-1] else posts[-1][:-1]
            posts[-1] += " …"
        if len(posts) <= total:
            break
        total = len(posts)
    n = len(posts)
    if n == 1:
        return posts
    return [f"{post} {i}/{n}" for i, post in enumerate(posts, 1)]


def _truncate(text: str, size: int) -> str:
    """At most ``size`` characters, cut at a space when there is one, marked with "…"."""
    if len(text) <= size:
        return text
    cut = text[: size - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > size // 2 else cut).rstrip() + "…"


def social_variants(text: str, *, hashtags: Iterable[str] = ()) -> dict[str, list[str]]:
    """``{"x": [...], "bluesky": [...], "mastodon": [...], "linkedin": [...]}`` for one text."""
    tags = list(hashtags)
    return {platform: split_post(text, platform, hashtags=tags) for platform in PLATFORMS}
