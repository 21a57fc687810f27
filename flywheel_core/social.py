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

Session text inside a post goes through :func:`defang` (no unintended mention, hashtag or
link); templates mark what may be left out with :func:`optional`, and :func:`fit_post` drops
those parts, last first, until a post fits its network, before it would make a thread.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from typing import Callable, Iterable

__all__ = [
    "PLATFORMS",
    "LIMITS",
    "HASHTAG_LIMITS",
    "post_length",
    "fits",
    "split_post",
    "social_variants",
    "defang",
    "plain",
    "clip",
    "optional",
    "sentences",
    "hashtag",
    "hashtags_for",
    "fit_post",
]

#: The most one post may hold on each network, counted as the network counts (:func:`post_length`).
LIMITS = {"x": 280, "bluesky": 300, "mastodon": 500, "linkedin": 3000}
#: How many hashtags end a post: few where they crowd a short post, none as a wall on LinkedIn.
HASHTAG_LIMITS = {"x": 2, "bluesky": 2, "mastodon": 5, "linkedin": 3}
MAX_POSTS = 12
#: The networks flywheel writes a post for, in the order it shows them.
PLATFORMS = tuple(LIMITS)

_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'’]", re.I)
# Compiled on first use, not at import (issue 18: start-up): most commands need none of these.
_re = cache(re.compile)
_SENTENCE_END = r"(?<=[.!?…])\s+|\n+"


# Code points that are a grapheme of their own next to any other of them (no combining mark,
# joiner, emoji or Hangul among them): text made only of these needs no `regex` to split.
_SINGLE_GRAPHEMES = re.compile("[\x00-\u02ff\u2010-\u2027\u2030-\u205e\u2060]*")


def _graphemes(text: str) -> list[str]:
    if "\r\n" not in text and _SINGLE_GRAPHEMES.fullmatch(text):  # most posts: importing `regex` is 10 ms
        return list(text)
    import regex

    return regex.findall(r"\X", text)


def _x_length(text: str) -> int:
    fast = _x_length_plain(text)
    return fast if fast is not None else _parse_tweet()(text).weightedLength


# twitter-text v3 weighs a code point 1 in these ranges and 2 elsewhere; an emoji weighs 2 and a
# URL 23. Importing twitter-text compiles its emoji and URL expressions (0.3-0.5 s, most of a
# small `flywheel run`), so text that holds no emoji and no URL but plain http(s) links to
# pages is counted here: every code point is in the ranges (but (c) and (R), which can be
# emoji) or is one of a few symbols known to be neither emoji nor URL.
_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_HEAVY_SAFE = frozenset("\u2060\u2026\u2022\u00b7")  # word joiner (defang), ellipsis, bullet, middle dot
# A link whose host ends in a common top-level domain twitter-text surely knows, each label of it
# without a "-" at either end (twitter-text takes no "x.io-.de" for a link); others go to it.
# Its last character is one twitter-text lets end a link ("%" and "~" it leaves out).
_X_LINK = re.compile(
    r"(?<!\S)https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:com|org|net|io|dev|app|me|co|de|uk|fr|page|blog|site)"
    r"(?:/(?:[A-Za-z0-9._~%/-]*[A-Za-z0-9_/-])?)?(?=[\s.,;:!?]*(?:\s|$))"
)
# A dot before a letter may start a top-level domain; before a digit (a price, a version) it
# cannot: no top-level domain begins with one.
_X_DOMAINISH = re.compile(r"\.[^\W\d_]|@|www", re.I)


def _x_length_plain(text: str) -> int | None:
    """Weighted X length of plain text as twitter-text counts it, or None when only it can tell."""
    import unicodedata

    if "\r" in text or "\u00a9" in text or "\u00ae" in text or not unicodedata.is_normalized("NFC", text):
        return None
    links = list(_X_LINK.finditer(text))
    rest = _X_LINK.sub(" ", text)
    if "://" in rest or _X_DOMAINISH.search(rest):
        return None
    total = 23 * len(links)
    for char in rest:
        code = ord(char)
        if code < 4352 or any(lo <= code <= hi for lo, hi in _X_LIGHT[1:]):
            total += 1
        elif char in _X_HEAVY_SAFE:
            total += 2
        else:
            return None
    return total - len(links)  # each link was replaced by one space, counted above


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
    """Whether ``text`` is one post on ``platform``: :func:`post_length` within :data:`LIMITS`."""
    return post_length(text, platform) <= LIMITS[platform]


def _tokens(text: str) -> list[str]:
    """Words, keeping each URL whole (a URL never gets split)."""
    return [t for t in re.split(r"\s+", text) if t]


def _pieces(text: str, limit: int, platform: str) -> list[str]:
    """Break text into units that each fit ``limit``: sentences, else words, else graphemes."""
    out: list[str] = []
    for sentence in (s.strip() for s in _re(_SENTENCE_END).split(text)):
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


# -- session text made inert, and what a template may leave out ---------------------------------

#: U+2060 WORD JOINER: invisible, not a space, and not a character any network accepts inside a
#: mention, hashtag, cashtag or domain name, so ``@\u2060everyone`` shows as "@everyone" and pings
#: nobody. (A zero-width *joiner*, U+200D, would not do: X allows it inside hashtags.)
WORD_JOINER = "\u2060"
#: Unicode noncharacters (reserved for a program's internal use) marking an optional part.
OPEN, CLOSE = "\ufdd0", "\ufdd1"
_MARKERS = re.compile(f"[{OPEN}{CLOSE}]")
# Bidirectional overrides, embeddings and isolates can reorder what a reader sees.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: The control characters (Unicode category Cc, a set Unicode promises never to change) that
#: are not whitespace: dropped, where whitespace is folded. One pattern, not a test per character.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]")
_TRIGGER = re.compile(r"([@＠#＃﹟])(?=\w)|([$＄])(?=[^\W\d_])")
_DOMAIN_DOT = re.compile(r"(?<=\w)([.。．｡])(?=[^\W\d_])")
_SCHEME = re.compile(r"(?<=\w):(?=//)")
_DOUBLE_STOP = re.compile(r"([…!?])\.(?=\s|$)")
_SENTENCE = r"(?<=[.!?…])\s+(?=\S)"


def defang(text: object) -> str:
    """Session text for a social post: one line, shown as written, but inert.

    Networks turn ``@name`` into a mention (a notification), ``#word`` into a hashtag, ``$ABC``
    into a cashtag, and ``https://…``, ``evil.com`` or even ``README.md`` into a link. A word
    joiner after the ``@``/``#``/``$``, after each dot followed by a letter and after a URL's
    ``:`` breaks each of these on X, Bluesky, Mastodon and LinkedIn while the text still reads
    the same. Control characters, bidirectional overrides and :func:`optional`'s markers are
    dropped; whitespace, newlines included, becomes single spaces. Nothing is escaped: the
    networks show plain text.
    """
    text = _TRIGGER.sub(lambda m: (m.group(1) or m.group(2)) + WORD_JOINER, plain(text))
    text = _DOMAIN_DOT.sub(lambda m: (m.group(1) or m.group(2)) + WORD_JOINER, text)
    text = _DOMAIN_DOT.sub(lambda m: m.group(1) + WORD_JOINER, text)
    return _SCHEME.sub(":" + WORD_JOINER, text)


def plain(text: object) -> str:
    """One line of text as a reader should see it: NFC, whitespace folded to single spaces,
    control characters, bidirectional overrides and :func:`optional`'s markers dropped (format
    characters such as the joiners inside emoji stay). Alt text and :func:`defang` use it."""
    text = _BIDI.sub("", _MARKERS.sub("", unicodedata.normalize("NFC", str(text))))
    return " ".join(_CONTROL.sub("", text).split())


def clip(text: object, size: int) -> str:
    """At most ``size`` characters of ``text`` on one line: cut at the last sentence end in its
    second half, else at a space with "…", never inside a grapheme."""
    text = " ".join(str(text).split())
    if len(text) <= size:
        return text
    graphemes = _graphemes(text[: size * 2])
    head = ""
    for g in graphemes:
        if len(head) + len(g) > size:
            break
        head += g
    ends = [m.end() for m in re.finditer(r"[.!?…](?=\s)", head + " ")]
    if ends and ends[-1] > size // 2:
        return head[: ends[-1]]
    head = "".join(_graphemes(head)[:-1])  # room for the ellipsis
    space = head.rfind(" ")
    return (head[:space] if space > size // 2 else head).rstrip(" ,;:") + "…"


def optional(text: object = None, *, caller: Callable[[], str] | None = None) -> str:
    """Mark a part of a post that :func:`fit_post` may drop to make the post fit.

    In a template: ``{{ sentence | optional }}`` or ``{% call optional() %}...{% endcall %}``.
    Empty text gives nothing. Optional parts do not nest.
    """
    body = _MARKERS.sub("", str(caller() if caller is not None else text or ""))
    return f"{OPEN}{body}{CLOSE}" if body.strip() else ""


def sentences(text: object, keep: int = 1) -> str:
    """``text`` with every sentence after the first ``keep`` marked :func:`optional`."""
    parts = _re(_SENTENCE).split(" ".join(str(text).split()))
    head = " ".join(parts[:keep])
    return head + "".join(optional(" " + p) for p in parts[keep:])


def hashtag(word: object) -> str | None:
    """``machine learning`` -> ``MachineLearning``, ``Three.js`` -> ``ThreeJs``, ``iOS`` stays.

    CamelCase, so screen readers say the words; letters, marks and digits only; None when no
    letter is left or the tag would be longer than 40 characters.
    """
    return _hashtag(str(word))


_ASCII_WORD, _ASCII_LETTER = re.compile("[A-Za-z0-9]+"), re.compile("[A-Za-z]")


@lru_cache(maxsize=4096)  # every network's posts ask for the same topics' tags
def _hashtag(word: str) -> str | None:
    if word.isascii():  # the letters, marks and digits of ASCII: no need to import `regex`
        parts, letter = _ASCII_WORD.findall(word), _ASCII_LETTER
    else:
        import regex

        parts, letter = regex.findall(r"[\p{L}\p{M}\p{N}]+", word), regex.compile(r"\p{L}")
    tag = "".join(p if any(c.isupper() for c in p) else p[:1].upper() + p[1:] for p in parts)
    if not tag or len(tag) > 40 or not letter.search(tag):
        return None
    return tag


def hashtags_for(topics: Iterable[object], platform: str) -> list[str]:
    """The first distinct hashtags (case-insensitive) made from ``topics``, as many as
    ``platform`` takes (:data:`HASHTAG_LIMITS`), without ``#``."""
    tags: dict[str, str] = {}
    for topic in topics:
        tag = hashtag(topic)
        if tag and tag.casefold() not in tags:
            tags[tag.casefold()] = tag
    return list(tags.values())[: HASHTAG_LIMITS[platform]]


def _parts(text: str) -> list[tuple[str, bool]]:
    """``text`` as (piece, optional) pieces, in order."""
    pieces = re.split(f"{OPEN}(.*?){CLOSE}", text, flags=re.S)
    out = [(_MARKERS.sub("", p), i % 2 == 1) for i, p in enumerate(pieces)]
    return [(p, opt) for p, opt in out if p]


def _assemble(parts: list[tuple[str, bool]], dropped: int) -> str:
    """The text with the last ``dropped`` optional parts left out: paragraphs (blank-line
    separated) kept, whitespace inside each folded to single spaces, and a full stop right after
    "…", "!" or "?" dropped."""
    optional_seen = sum(opt for _, opt in parts)
    keep_optional = optional_seen - dropped
    kept, seen = [], 0
    for piece, opt in parts:
        if opt:
            seen += 1
            if seen > keep_optional:
                continue
        kept.append(piece)
    paragraphs = re.split(r"\n[ \t]*\n", "".join(kept))
    # A template's full stop after a value that already ends a sentence ("clipped…", "Why?").
    paragraphs = [_DOUBLE_STOP.sub(r"\1", " ".join(para.split())) for para in paragraphs]
    return "\n\n".join(p for p in paragraphs if p)


def fit_post(text: str, platform: str, *, link: str | None = None, hashtags: Iterable[str] = ()) -> list[str]:
    """A rendered post made to fit ``platform``: one post when it can be, else a thread.

    Optional parts (:func:`optional`) are dropped, the last first, until the text and its
    hashtags fit one post; then hashtags, the last first; only then is the text (with all its
    hashtags) split into a numbered thread by :func:`split_post`. ``link`` is added as a last
    paragraph when the text does not contain it, so no variant goes without it.
    """
    if platform not in LIMITS:
        raise ValueError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    parts = _parts(text)
    tags = [t.lstrip("#") for t in hashtags if t and t.lstrip("#")]

    def body(dropped: int) -> str:
        text = _assemble(parts, dropped)
        return f"{text}\n\n{link}" if link and link not in text else text

    def whole(text: str, count: int) -> str:
        shown = " ".join(f"#{t}" for t in tags[:count])
        return f"{text}\n\n{shown}" if shown and text else text or shown

    # Dropping more never makes a post longer: bisect for the fewest parts to drop that fit.
    optional_count = sum(opt for _, opt in parts)
    lo, hi = 0, optional_count + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(whole(body(mid), len(tags)), platform):
            hi = mid
        else:
            lo = mid + 1
    if lo <= optional_count:
        return [whole(body(lo), len(tags))]
    required = body(optional_count)
    for count in range(len(tags) - 1, -1, -1):
        if fits(whole(required, count), platform):
            return [whole(required, count)]
    return split_post(required, platform, hashtags=tags)
