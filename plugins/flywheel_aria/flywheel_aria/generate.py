"""Build the devlog and social post of a life_aria session from one computed fact set."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from flywheel_core import Artifact, Problem, UsageError, scrub_paths, scrub_tree

from flywheel_aria.facts import (
    article,
    built_items,
    conversations,
    duration_text,
    join_words,
    printable,
    text_items,
    trim_sentences,
)
from flywheel_aria.gallery import GalleryImage, Refusal, build_gallery
from flywheel_aria.posts import social_artifact
from flywheel_aria.prose import (
    LEDE_SEARCH,
    plain_text,
    safe_inline,
    safe_markdown,
    split_lede,
    trim_blocks,
)
from flywheel_aria.schema import CONFIG_DEFAULTS, CONFIG_SCHEMA

if TYPE_CHECKING:
    import jsonschema
    from flywheel_core import RunContext, Session

__all__ = ["devlog_facts", "generate_artifacts", "refusal_problems", "settings"]

PLUGIN_NAME = "aria"
SUMMARY_CHARS = 280
#: A dialogue's first words the posts quote, with the speaker, at most (the posts' lede is 200).
QUOTED_CHARS = 190
#: A note longer than this is trimmed (at a block end): it bounds the time to render a devlog.
NOTE_CHARS = 100_000
#: The session's own narrative fields (beyond source_data) that the devlog reads.
NARRATIVE = (
    "title",
    "summary",
    "overview",
    "problem",
    "solution",
    "key_achievements",
    "lessons",
    "next_steps",
    "tags",
)
#: The conversation ``source`` of the author's own notes (``flywheel collect aria`` writes it):
#: they are the devlog's body, not quotes.
NOTES_SOURCE = "notes"
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def settings(ctx: RunContext) -> dict[str, Any]:
    """The ``[plugins.aria]`` table checked against its schema, with defaults filled in."""
    from jsonschema.exceptions import best_match

    table = ctx.plugin_config(PLUGIN_NAME)
    error = best_match(_config_validator().iter_errors(table))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise UsageError(f"[plugins.{PLUGIN_NAME}]{' ' + where if where else ''}: {error.message}")
    return {**CONFIG_DEFAULTS, **table}


@functools.cache
def _config_validator() -> jsonschema.Draft202012Validator:
    """The validator of ``[plugins.aria]``, made once per process (each session is checked twice)."""
    import jsonschema

    return jsonschema.Draft202012Validator(CONFIG_SCHEMA)


def refusal_problems(refused: list[Refusal]) -> list[Problem]:
    """One warning per left-out screenshot, at its JSON path."""
    return [
        Problem.warning(
            f"screenshot {r.name!r} left out: {r.reason}", f"$.source_data.screenshots[{r.index}]"
        )
        for r in refused
    ]


def _subject(
    fields: dict[str, Any], built: list[dict[str, Any]], convs: list[dict[str, Any]], fallback: str
) -> tuple[str, bool]:
    """What the session is about, and whether the session named it itself (its ``title``): its
    title, else what it made, else its conversations' own titles (their topics), else
    ``fallback`` (who and when: all that is known)."""
    explicit = fields.get("title")
    if isinstance(explicit, str) and explicit.strip():
        return " ".join(explicit.split()), True
    # Topics: the author's notes' titles (their own words) first, else the conversations'.
    notes = [c["title"] for c in convs if c["title"] and c["source"] == NOTES_SOURCE]
    topics = notes or [c["title"] for c in convs if c["title"]]
    names = list(dict.fromkeys(b["name"] for b in built)) or list(dict.fromkeys(topics))
    if names:
        shown = names[:3] + ([f"{len(names) - 3} more"] if len(names) > 3 else [])
        return join_words(shown), False
    return fallback, False


def with_aria(convs: list[dict[str, Any]]) -> bool:
    """Whether the session was spent with Aria: a conversation of hers is in it."""
    return any((c["source"] or "").lower() == "aria" for c in convs)


def dialogue(convs: list[dict[str, Any]]) -> bool:
    """Whether the conversations hold two speakers or more (the user and Aria): a user's question
    lifted out as the devlog's opening read as the devlog's own words, its speaker lost."""
    return len({(c["source"] or "").lower() for c in convs if c["content"] and c["source"] != NOTES_SOURCE}) > 1


def _first_turn(convs: list[dict[str, Any]]) -> str:
    """What the posts quote of a dialogue, with its speaker: Aria's first words, else the first
    said (``Aria: “Tomatoes, basil and chillies do well in pots.”``)."""
    said = [c for c in convs if c["content"] and c["source"] != NOTES_SOURCE]
    first = next((c for c in said if (c["source"] or "").lower() == "aria"), said[0])
    who = "Aria" if (first["source"] or "").lower() == "aria" else first["source"]
    # Whole sentences that fit a post's lede with the speaker: a sentence cut from it would
    # leave the quotation open ("Aria: “Sure!").
    text = trim_sentences(plain_text(first["content"][:LEDE_SEARCH]), QUOTED_CHARS - len(who))[0]
    return f"{who}: “{text}”" if text else ""


def _made_opening(built: list[dict[str, Any]], aria: bool) -> tuple[str, str] | None:
    """What the session made, in a sentence of our own (Markdown, plain text), from the
    session's facts alone: ``This session with Aria made SpaceExplorer, a game built with
    React, Three.js and WebSocket.``"""
    from flywheel_core import md_inline

    if not built:
        return None
    head = f"This session{' with Aria' if aria else ''} made"  # its duration is in the byline above

    def name(item: dict[str, Any], markdown: bool) -> str:
        text = md_inline(item["name"]) if markdown else item["name"]
        return f"[{text}]({item['url']})" if markdown and item["url"] else text

    def sentence(markdown: bool) -> str:
        esc = md_inline if markdown else str
        if len(built) == 1:
            item = built[0]
            what = name(item, markdown) + (f", {article(esc(item['type']))}" if item["type"] else "")
            if item["technologies"]:
                what += f"{' built' if item['type'] else ','} with {join_words([esc(t) for t in item['technologies']])}"
            return f"{head} {what}."
        names = [name(b, markdown) + (f" ({esc(b['type'])})" if b["type"] else "") for b in built[:3]]
        more = [f"{len(built) - 3} more"] if len(built) > 3 else []
        return f"{head} {NUMBER_WORDS.get(len(built), str(len(built)))} things: {join_words(names + more)}."

    return sentence(True), sentence(False)


def _block(value: Any, heading_top: int = 3) -> str | None:
    """A prose field as safe Markdown, or None when empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    return safe_markdown(value, heading_top=heading_top) or None


def _items(value: Any) -> list[dict[str, str | None]]:
    """Lessons, next steps or achievements with their text as one safe line of Markdown."""
    return [
        {"title": item["title"], "text": safe_inline(item["text"]) if item["text"] else None}
        for item in text_items(value)
    ]


def _opening(fields: dict[str, Any], convs: list[dict[str, Any]], made: tuple[str, str] | None) -> tuple[str | None, str]:
    """The devlog's opening paragraph (Markdown) and the plain text its summary is cut from.

    The session's ``summary`` first, else the first paragraph of its ``overview`` (which the
    devlog shows whole), else, when things were made in a conversation (not the author's own
    notes), a sentence of what was made (the conversations are then quoted whole, with who
    said them), else the first prose paragraph of the first conversation, which is then taken
    out of that conversation so the devlog says it once.
    """
    summary, overview = fields["summary"], fields["overview"]
    if isinstance(summary, str) and summary.strip():
        return _block(summary), plain_text(summary)
    if isinstance(overview, str) and overview.strip():
        lede = split_lede(overview)
        return None, lede.plain if lede else plain_text(overview)
    if made is not None and not any(c["source"] == NOTES_SOURCE for c in convs):
        return made
    for conv in convs:
        if conv["content"] and conv["source"] != NOTES_SOURCE and dialogue(convs):
            continue  # a turn of a dialogue keeps its speaker: it is quoted, never the devlog's own words
        if conv["content"]:
            lede = split_lede(conv["content"])
            if lede is None:
                break
            conv["content"] = lede.rest
            return _block(lede.markdown), lede.plain
    return None, ""


def _notes(convs: list[dict[str, Any]], titles: set[str]) -> list[dict[str, Any]]:
    """The author's own notes (``source: notes``) as the devlog's sections, each said once.

    A note's heading is left out when it repeats the devlog's title; its own headings nest
    under its section. A note with nothing to show (empty, or its only paragraph taken for
    the opening) makes no section: a heading with nothing under it.
    """
    sections = []
    for conv in convs:
        heading = conv["title"] if conv["title"] and conv["title"] not in titles else None
        text, trimmed = trim_blocks(conv["content"], NOTE_CHARS)
        markdown = _block(text, heading_top=3 if heading else 2)
        if markdown:
            sections.append(
                {
                    "heading": heading,
                    "markdown": markdown,
                    "rule": bool(sections),
                    "trimmed": trimmed,
                    "shown": len(text),
                    "chars": len(conv["content"]),
                }
            )
    return sections


def _quotes(convs: list[dict[str, Any]], titles: set[str], quote_chars: int) -> list[dict[str, Any]]:
    """Conversation highlights: each quoted in Markdown, trimmed at a block end (none if empty)."""
    quotes = []
    for conv in convs:
        text, trimmed = trim_blocks(conv["content"], quote_chars)
        markdown = _block(text, heading_top=4)
        if not markdown:
            continue
        quotes.append(
            {
                "title": conv["title"] if conv["title"] not in titles else None,
                "source": conv["source"],
                "when": conv["when"],
                "lines": markdown.splitlines(),
                "trimmed": trimmed,
                "shown": len(text),
                "chars": len(conv["content"]),
            }
        )
    return quotes


def devlog_facts(session: Session, images: list[GalleryImage], quote_chars: int) -> dict[str, Any]:
    """Everything the devlog and social post say, computed once.

    Every string from the session goes through ``scrub_tree`` first: no local path is published.
    """
    source = scrub_tree(session.source_data if isinstance(session.source_data, dict) else {})
    fields = scrub_tree({key: session.get(key) for key in NARRATIVE})
    agent_id = scrub_paths(session.agent_id)
    built = built_items(source)
    convs = conversations(source)
    only_shots = bool(images) and not built and not any(c["content"] for c in convs)
    subject, explicit = _subject(fields, built, convs, f"screenshots of {session.date}" if only_shots else f"{agent_id}, {session.date}")
    title = subject if explicit else f"Devlog: {subject}"
    duration = duration_text(session.metadata.get("duration_minutes"))
    aria = with_aria(convs)
    made = _made_opening(built, aria)
    opening, summary = _opening(fields, convs, made)
    # What the session says of itself, for the posts: its own words, not our sentence.
    texts = (plain_text(c["content"][:LEDE_SEARCH]) for c in convs)
    said = summary if made is None or summary != made[1] else ""
    summary_given = bool(said)
    if not said and dialogue(convs):
        said = _first_turn(convs)
    said = said or next((text for text in texts if text), "")
    summary = summary or said
    if not opening and not convs and not built and images:
        count = len(images)
        opening = f"{NUMBER_WORDS.get(count, str(count)).capitalize()} screenshot{'s' if count != 1 else ''} from this session."
        summary = opening
    made_told = made is not None and opening == made[0]
    technologies = list(dict.fromkeys(t for b in built for t in b["technologies"]))
    tags = fields["tags"]
    tags = tags.split(",") if isinstance(tags, str) else tags if isinstance(tags, list) else []
    words = [t.strip() for t in [*tags, *technologies] if isinstance(t, str) and t.strip()]
    topics = list(dict.fromkeys(words))
    notes = [c for c in convs if c["source"] == NOTES_SOURCE]
    others = [c for c in convs if c["source"] != NOTES_SOURCE]
    return {
        "title": title,
        "subject": subject,
        "date": session.date,
        "agent_id": agent_id,
        "duration": duration,
        "opening": opening,
        "with_aria": aria,
        # The devlog opens with what was made when the session gives no words of its author's
        # (a summary, an overview, notes): the posts then tell it too. One thing made is told
        # whole by that sentence; several are listed under it.
        "made_opening": made is not None and opening == made[0],
        "titled": explicit,
        "built_told": made is not None and opening == made[0] and len(built) == 1,
        "overview": _block(fields["overview"], heading_top=2),
        "summary": trim_sentences(summary, SUMMARY_CHARS)[0] if summary else "",
        "said": said,
        # ``said`` is a quotation with its speaker: a post tells it whole, never its first sentence.
        "said_quoted": not summary_given and said.endswith("”") and dialogue(convs),
        # What the "What was made" section adds: the opening names the first three things
        # made, their types and links; the section gives their technologies and the rest.
        "built": built,
        "made_list": [{**b, "told": made_told and i < 3} for i, b in enumerate(built)
                      if not (made_told and i < 3 and not b["technologies"])],
        "technologies": technologies,
        "topics": topics,
        "problem": _block(fields["problem"]),
        "solution": _block(fields["solution"]),
        "key_achievements": _items(fields["key_achievements"]),
        # A note titled as the devlog gets no heading; a quote none either when its title is the
        # subject (it sits under "From the conversation": a note's heading is its section's).
        "notes": _notes(notes, {title}),
        "conversations": _quotes(others, {title, subject}, quote_chars),
        "lessons": _items(fields["lessons"]),
        "next_steps": _items(fields["next_steps"]),
        "images": [
            {
                "src": i.src,
                "thumb": i.thumb,
                "caption": printable(scrub_paths(i.caption)),
                "alt": printable(scrub_paths(i.alt)),
                "width": i.width,
                "height": i.height,
                "thumb_width": i.thumb_width,
                "thumb_height": i.thumb_height,
            }
            for i in images
        ],
    }


def generate_artifacts(session: Session, ctx: RunContext) -> list[Artifact]:
    """The ``devlog`` (with its gallery) and ``social_post`` artifacts of one session."""
    conf = settings(ctx)
    source = session.source_data if isinstance(session.source_data, dict) else {}
    images, refused = build_gallery(
        source,
        ctx.allowed_roots,
        ctx.session_dir,
        max_bytes=conf["max_image_bytes"],
        max_pixels=conf["max_pixels"],
        thumbnail_px=conf["thumbnail_px"],
        max_count=conf["max_screenshots"],
    )
    for problem in refusal_problems(refused):
        if problem not in ctx.problems:  # flywheel_validate may have reported it already
            ctx.problems.append(problem)
    facts = devlog_facts(session, images, conf["quote_chars"])
    tags = [*facts["topics"][:10], "life_aria"]  # a tag page each: keep them few
    meta: dict[str, Any] = {"project": facts["built"][0]["name"] if facts["built"] else "life"}
    if images:
        meta["image"] = images[0].src
        meta["images"] = facts["images"]
    listed = [c for c in source.get("conversations") or [] if isinstance(c, dict)]
    meta["provenance"] = {"conversations": len(listed), "screenshots": len(images)}
    attachments: dict[str, str | bytes] = {}
    for image in images:
        attachments[image.src] = image.data
        attachments[image.thumb] = image.thumb_data
    devlog = Artifact(
        kind="devlog",
        content=_tidy(ctx.render("life_aria/devlog.md.j2", **facts)),
        title=facts["title"],
        summary=facts["summary"],
        tags=tags,
        attachments=attachments,
        meta=meta,
    )
    social = social_artifact(
        ctx,
        session,
        facts,
        summary=facts["summary"],
        tags=tags,
        meta={"project": meta["project"], "provenance": meta["provenance"]},
        image=(facts["images"][0], images[0].data) if images else None,
    )
    return [devlog, social]


def _tidy(text: str) -> str:
    """One blank line at most between blocks, one newline at the end."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"

