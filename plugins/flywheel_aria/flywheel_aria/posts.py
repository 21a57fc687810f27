"""The social posts of a life_aria session: what their templates are told, and the artifact."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flywheel_core import scrub_tree

from flywheel_aria.facts import article, join_words, text_items
from flywheel_aria.prose import plain_text

if TYPE_CHECKING:
    from flywheel_core import Artifact, RunContext, Session

__all__ = ["social_context", "social_artifact"]

#: The opening text is cut to this before any template sees it (templates cut it further).
SAID_CHARS = 1500
#: The first sentence alone, for the shortest posts.
LEDE_CHARS = 200
ITEM_CHARS = 300
WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
MAX_ITEMS = 5


def _duration(minutes: Any) -> str:
    """``45 minutes``, ``2 hours``, ``1 hour 30 minutes``; empty when unknown."""
    if not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or not 0 < minutes < 100_000:
        return ""
    hours, rest = divmod(round(minutes), 60)
    words = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((hours, "hour"), (rest, "minute")) if n]
    return " ".join(words)


def first_sentence(text: str, limit: int) -> str:
    """The first sentence of ``text`` (cut with "…" when longer than ``limit``)."""
    from flywheel_core import clip

    head = re.split(r"(?<=[.!?…])\s", clip(text, limit * 4), maxsplit=1)[0]
    return clip(head, limit)


def _items(session: Session, field: str) -> list[str]:
    """A narrative list (lessons, next steps) as defanged plain sentences, ``Title: text.``"""
    from flywheel_core import clip, defang

    out = []
    for item in text_items(scrub_tree(session.get(field)))[:MAX_ITEMS]:
        text = ": ".join(plain_text(clip(p, ITEM_CHARS * 2)) for p in (item["title"], item["text"]) if p)
        if text.strip():
            text = defang(clip(text, ITEM_CHARS))
            out.append(text if text.endswith((".", "!", "?", "…")) else f"{text}.")
    return out


#: A sentence that tells what was made ("Built a new game using React."): the post's own
#: sentence says it already, from the session's facts.
_MAKING = re.compile(r"(built|made|created|wrote|designed|developed|coded|programmed|drew|painted|composed)\b", re.IGNORECASE)


def made_line(built: list[dict[str, Any]], duration: str, aria: bool) -> str:
    """What was made, told as a person tells it: ``Built a game with Aria in 1 hour 30 minutes:
    SpaceExplorer, made with React, Three.js and WebSocket.`` Empty when nothing was made."""
    if not built:
        return ""
    where = f"{' with Aria' if aria else ''}{' in ' + duration if duration else ''}"
    if len(built) > 1:
        names = [b["name"] for b in built[:3]] + ([f"{len(built) - 3} more"] if len(built) > 3 else [])
        return f"Built {WORDS.get(len(built), len(built))} things{where}: {join_words(names)}."
    item = built[0]
    tools = f", made with {join_words(item['technologies'][:5])}" if item["technologies"] else ""
    if item["type"]:
        return f"Built {article(item['type'])}{where}: {item['name']}{tools}."
    return f"Built {item['name']}{where}{tools}."


def _after_made(text: str) -> str:
    """``text`` without its leading sentences that tell what was made (the post said it)."""
    while _MAKING.match(text):
        text = (re.split(r"(?<=[.!?…])\s+", text, maxsplit=1) + [""])[1]
    return text


def social_context(session: Session, facts: dict[str, Any]) -> dict[str, Any]:
    """What each ``life_aria/social_post.<network>.txt.j2`` template is given.

    Every string from the session is already defanged (and scrubbed of local paths, as the
    devlog's facts are): a template may print it as it is, and cut it with ``clip``.
    """
    from flywheel_core import clip, defang

    built = facts["built"]
    lede = facts["said"] if facts.get("said_quoted") else first_sentence(facts["said"], LEDE_CHARS)
    techs = facts["technologies"]
    shown = techs[:5] + ([f"{len(techs) - 5} more"] if len(techs) > 5 else [])
    duration = _duration(session.metadata.get("duration_minutes"))
    made = made_line(built, duration, facts["with_aria"]) if facts["made_opening"] else ""
    told = _after_made(facts["said"]) if made else facts["said"]
    shots = len(facts["images"])
    # A session of screenshots alone (`flywheel end` after a game was played): they are the news.
    shots_line = ""
    if shots and not made and not facts["said"]:
        when = session.when
        shots_line = (f"{str(WORDS.get(shots, shots)).capitalize()} screenshot{'s' if shots != 1 else ''} from "
                      f"{when.day} {when:%b %Y}" + (f": {defang(clip(facts['subject'], 100))}." if facts["titled"] else "."))
    return {
        "devlog_title": facts["title"],
        "shots_line": shots_line,
        "made_line": defang(clip(made, 400)),
        # The session's own words after what the post's sentence told (all of them without one).
        "told": defang(clip(told, SAID_CHARS)),
        "tools_told": bool(made) and len(built) == 1,
        "subject": defang(clip(facts["subject"], 100)),
        "said": defang(clip(facts["said"], SAID_CHARS)),
        "lede": defang(lede),
        "said_quoted": bool(facts.get("said_quoted")),
        "more": defang(clip(facts["said"][len(lede):], SAID_CHARS)) if not lede.endswith("…") else "",
        "made": defang(clip(join_words([b["name"] for b in built[:3]]), 120)),
        "kind": defang(clip(built[0]["type"], 40)) if len(built) == 1 and built[0]["type"] else "",
        "technologies": defang(clip(join_words(shown), 200)),
        "duration": duration,
        "achievements": _items(session, "key_achievements"),
        "lessons": _items(session, "lessons"),
        "next_steps": _items(session, "next_steps"),
        "screenshots": len(facts["images"]),
    }


def social_artifact(ctx: RunContext, session: Session, facts: dict[str, Any], *, summary: str, tags: list[str],
                    meta: dict[str, Any], image: tuple[dict[str, Any], bytes] | None) -> Artifact:
    """The ``social_post`` artifact: a post per network linking to the devlog's page."""
    from flywheel_core import compose_social

    context = social_context(session, facts)
    attachments: dict[str, str | bytes] = {}
    shown = None
    if image is not None:
        picture, data = image
        attachments[picture["src"]] = data
        shown = {"src": picture["src"], "alt": picture["alt"] or picture["caption"] or ""}
    posts = compose_social(
        ctx,
        session,
        "life_aria",
        context,
        title=f"Social posts: {facts['title']}",
        page=("devlog", facts["title"]),
        topics=["devlog", *facts["topics"]],
        image=shown,
    )
    return posts.artifact(summary=summary, tags=tags, meta={**meta, **({"image": shown["src"]} if shown else {})},
                          attachments=attachments)
