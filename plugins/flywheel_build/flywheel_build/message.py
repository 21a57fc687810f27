"""Commit message bodies: cleaned for publishing, capped, their credit trailers kept apart."""

from __future__ import annotations

import re

__all__ = ["INVISIBLE", "MAX_BODY", "TRAILER_KEYS", "clean_body", "person_name"]

# Bidi overrides/isolates can make published text read differently from what it says ("Trojan
# Source"); control characters have no business in prose. Zero-width joiners stay (emoji need
# them); tab, newline and carriage return stay (bodies have lines). A terminal's colour code
# (ESC [ 31 m, in test output pasted into a body) goes whole, not leaving "[31m" behind.
INVISIBLE = re.compile("\x1b\\[[0-?]*[ -/]*[@-~]|[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

#: A body longer than this is cut at a line or word (a squash merge of 300 commits, release
#: notes pasted by a bot): a post quotes a few sentences, never pages.
MAX_BODY = 4000

#: Trailers kept apart from the body (``trailers``), by their usual spelling. Others ("Fixes:",
#: "Refs:", "BREAKING CHANGE:") say what the change is about and stay in the body.
TRAILER_KEYS = {
    key.lower(): key
    for key in (
        "Signed-off-by", "Co-authored-by", "Reviewed-by", "Acked-by", "Tested-by", "Reported-by",
        "Suggested-by", "Helped-by", "Cc", "Change-Id", "Reviewed-on",
    )
}
_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*|BREAKING CHANGE)[ \t]*:[ \t]*(\S.*)$")
_PERSON = re.compile(r"^(?P<name>[^<>]*?)\s*(?:<(?P<email>[^<>]*)>)?\s*$")


def clean_body(body: str) -> tuple[str, dict[str, list[str]]]:
    """``(body, trailers)``: the body without invisible characters, its credit trailers (a last
    paragraph made only of ``Key: value`` lines, as git reads them) moved to ``trailers``, cut
    to ``MAX_BODY`` characters."""
    if not body:
        return "", {}
    if ":" not in body and "\r" not in body and len(body) <= MAX_BODY and not INVISIBLE.search(body):
        return body.strip(), {}  # most bodies: nothing to clean, no trailer
    if "\r" in body:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    text = INVISIBLE.sub("", body).strip()
    trailers: dict[str, list[str]] = {}
    cut = text.rfind("\n\n")
    block = text[cut + 2 :] if cut >= 0 else text
    if ":" in block:
        kept: list[str] = []  # trailers that say what the change is about stay in the body
        owner: str | None = None  # the trailer an indented line continues ("" for a kept one)
        for line in block.split("\n"):
            match = _TRAILER.match(line)
            if match:
                owner = TRAILER_KEYS.get(match[1].lower(), "")
                if owner:
                    trailers.setdefault(owner, []).append(match[2].strip())
                else:
                    kept.append(line)
            elif owner is not None and line[:1] in (" ", "\t") and line.strip():
                if owner:
                    trailers[owner][-1] += " " + line.strip()
                else:
                    kept.append(line)
            else:  # a line that is no trailer: the paragraph is prose, leave it whole
                trailers = {}
                break
        if trailers:
            rest = text[:cut].rstrip() if cut >= 0 else ""
            text = (rest + "\n\n" + "\n".join(kept)).strip() if kept else rest
    if len(text) > MAX_BODY:
        head = text[:MAX_BODY]
        stop = max(head.rfind("\n"), head.rfind(" "))
        text = (head[:stop] if stop > MAX_BODY // 2 else head).rstrip() + " …"
    return text, trailers


def person_name(value: str) -> tuple[str, str | None]:
    """``("Ann Example", "ann@example.com")`` from ``Ann Example <ann@example.com>``."""
    match = _PERSON.match(value.strip())
    if not match or not match["name"]:
        return value.strip(), None
    return match["name"], match["email"]
