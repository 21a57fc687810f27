"""The facts of a life_aria session that every template shares: pure functions, no I/O."""

from __future__ import annotations

import re
from typing import Any, Iterable
from urllib.parse import urlsplit

from flywheel_core import parse_timestamp

__all__ = [
    "article",
    "built_items",
    "conversations",
    "count_created",
    "duration_text",
    "join_words",
    "printable",
    "safe_url",
    "text_items",
    "trim_sentences",
]

# A sentence ends at . ! ? or an ellipsis followed by space or the end; a blank line ends a paragraph.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)|\n\s*\n")
_URL = re.compile(r"https?://[^\s<>()\[\]{}\\\"'`]+", re.IGNORECASE)


def trim_sentences(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` characters at a sentence end; (text, whether it was cut).

    When even the first sentence is too long, cut at the last space before the limit and
    add an ellipsis, so a word is never split.
    """
    text = text.strip()
    if len(text) <= limit:
        return text, False
    cut = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end() if match.group().strip() else match.start()
        if end > limit:
            break
        cut = end
    if cut:
        return text[:cut].rstrip(), True
    space = text.rfind(" ", 0, limit)
    head = text[: space if space > 0 else limit].rstrip()
    return head + "…", True


def printable(text: str) -> str:
    """A file name fit to show: control characters (NUL, escapes) become U+FFFD."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def safe_url(value: Any) -> str | None:
    """An http(s) URL that can stand in a Markdown link as is, else None (then it is not a link)."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not _URL.fullmatch(value) or not urlsplit(value).netloc:
        return None
    return value


def article(word: str) -> str:
    """``a game``, ``an app``: a noun from the session with its indefinite article."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def join_words(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def duration_text(minutes: Any) -> str | None:
    """``45 min``, ``1 h 30 min``, ``2 h``: one unit style for the byline whatever the length
    ("35 minutes" beside another devlog's "1 h 30 min" read as two styles); None when unknown or zero."""
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
        return None
    total = round(minutes)
    if total < 1:
        return None
    if total < 60:
        return f"{total} min"
    hours, rest = divmod(total, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _clean(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def text_items(value: Any) -> list[dict[str, str | None]]:
    """Lessons, next steps or achievements as ``[{title, text}]``, from a string or a list.

    List items may be strings or objects with ``title`` and ``description`` (or ``text``).
    """
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    items: list[dict[str, str | None]] = []
    for item in value:
        if isinstance(item, dict):
            title = _clean(item.get("title")) or None
            text = _clean(item.get("description")) or _clean(item.get("text")) or None
            if title or text:
                items.append({"title": title, "text": text})
        elif (
            isinstance(item, (str, int, float)) and not isinstance(item, bool) and str(item).strip()
        ):
            items.append({"title": None, "text": str(item).strip()})
    return items


def _when(value: Any) -> Any:
    try:
        return parse_timestamp(value)[0]
    except ValueError:
        return None


def conversations(source_data: dict[str, Any]) -> list[dict[str, Any]]:
    """Conversation entries in time order (document order unless every one has a timestamp).

    Each: ``index``, ``source``, ``title``, ``when`` (``YYYY-MM-DD HH:MM UTC`` or None) and
    ``content`` (Markdown).
    """
    raw = [c for c in source_data.get("conversations") or [] if isinstance(c, dict)]
    times = [_when(c.get("timestamp")) for c in raw]
    order = list(range(len(raw)))
    if raw and all(t is not None for t in times):
        order.sort(key=lambda i: times[i])  # stable: equal times keep document order
    out = []
    for i in order:
        entry = raw[i]
        content = _clean(entry.get("content"))
        source, title = _clean(entry.get("source")) or None, _clean(entry.get("title")) or None
        if not (content or source or title or times[i]):
            continue  # nothing to show
        out.append(
            {
                "index": i,
                "source": source,
                "title": title,
                "when": times[i].strftime("%Y-%m-%d %H:%M UTC") if times[i] else None,
                "content": content,
            }
        )
    return out


def _created(source_data: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for conv in source_data.get("conversations") or []:
        if isinstance(conv, dict) and isinstance(conv.get("artifacts"), list):
            yield from (a for a in conv["artifacts"] if isinstance(a, dict))


def count_created(source_data: dict[str, Any]) -> int:
    """How many created artifacts the conversations list."""
    return sum(1 for _ in _created(source_data))


def built_items(source_data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each created artifact: ``name``, ``type``, ``technologies``, ``url`` (http(s) only).

    Its local ``path`` is left out: it means nothing to a reader and names the author's folders.
    """
    items = []
    for art in _created(source_data):
        techs = art.get("technologies") if isinstance(art.get("technologies"), list) else []
        items.append(
            {
                "name": _clean(art.get("name")) or "untitled",
                "type": _clean(art.get("type")) or None,
                "technologies": [t.strip() for t in techs if isinstance(t, str) and t.strip()],
                "url": safe_url(art.get("url")),
            }
        )
    return items
