"""The social posts of a build session: what their templates are told, and the artifact."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flywheel_core import Artifact, RunContext, Session

    from flywheel_build.facts import BuildFacts
    from flywheel_build.story import Story

__all__ = ["social_context", "social_artifact", "topics"]

#: Session and commit prose is cut to this before any template sees it (templates cut it further).
PROSE_CHARS = 600
ITEM_CHARS = 160
MAX_ITEMS = 3
#: Build files, not what a project is written in: no hashtag.
_NOT_TOPICS = {"Makefile", "Dockerfile", "CMake"}
#: The kinds of change the posts name beside the headline.
TOLD = ("breaking", "removal", "feat", "fix", "perf")


def _sentence(text: str) -> str:
    """``text`` ending as a sentence does (a clipped text already ends in "…")."""
    text = text.rstrip()
    return text if not text or text.endswith((".", "!", "?", "…", ":")) else text + "."


def social_context(facts: BuildFacts, story: Story) -> dict[str, Any]:
    """What each ``build/social_post.<network>.txt.j2`` template is given, computed once.

    Every string from the session or its commits is already defanged and cut: a template may
    print it as it is. No line counts: the posts say what changed, and for whom."""
    from flywheel_core import clip, defang

    def said(text: str | None, size: int) -> str:
        return defang(_sentence(clip(text, size))) if text else ""

    others = [said(h, ITEM_CHARS) for h in _others(facts, story)]
    # After "The main change in <project>: <headline>" the headline's commit is no other change.
    after_headline = [said(h, ITEM_CHARS) for h in _others(facts, story, skip=facts.top)]
    opening = story.said or ""
    # A small session's posts open with who made what (the blog post's opening, without its
    # citations); a session listing no commit with what is known of it. Neither needs counts.
    told = opening if story.opening and story.overview is None else story.overview if not facts.commits else ""
    commits = facts.stats.commits
    work = ""
    if commits and facts.commits and not story.counts_told:  # else the story already says the counts
        work = f"{commits:,} commit{'' if commits == 1 else 's'}"
        if facts.credits_text and facts.stats.commits_listed == commits:  # else who made the rest is unknown
            work += f" by {facts.credits_text}"
    start, _, end = (story.range or "").partition("..")
    release = facts.release or ""
    return {
        # The blog post's title: the agent's own, else "<project>: <the most significant change>".
        "title": said(facts.title, 200),
        # A post is read alone: a title of the session's own that does not name the project
        # ("Typo") gets it in front ("swarm-brain: Typo").
        "named_title": said(_named(facts), 200),
        "project": defang(facts.project.name) if facts.named else "",  # at most MAX_NAME: never cut
        "headline": said(facts.headline, 160),
        # Who made what (see above); in a big session, who made the title's change ("David Lord
        # added config and docs for limits.").
        "story": said(told, PROSE_CHARS),
        # The opening in short for X and Bluesky: whole when it fits, else telling fewer changes
        # ("..., among other changes."), never cut mid-clause ("committed “🐛 Fixed import…").
        "brief": _fitting([story.brief or "", *story.briefs], 200, said) if told else "",
        "briefs": [said(b, PROSE_CHARS) for b in (story.brief, *story.briefs) if b] if told else [],
        "said": said(opening, 200) if opening and not told else "",
        # Why it matters: the session's summary, else the headline commit's own explanation.
        "why": said(" ".join(story.lede), PROSE_CHARS),
        "others": others,
        "others_after_headline": after_headline,
        # The others are the session's highlights, its own words: they need a label ("Also: ...").
        "others_label": bool(facts.key_achievements),
        "work": defang(work),
        "range": defang(f"{start} to {end.lstrip('.')}") if start and end else "",
        # "3.1.0" when the range ends at a version ("v3.1.0"): "The main change in Flask 3.1.0".
        "release": release,
        # A big session's first line (Bluesky): "The main change in Flask 3.1.0: David Lord added
        # ..."; a change said after a colon ("Ann changed flywheel-build: the ...") is not put
        # after another one: "In flywheel, Ann changed flywheel-build: the ...".
        "main": _main(facts, said(opening, 200), release) if opening and not told else "",
        "lesson": said(_lesson(facts), ITEM_CHARS * 2),
        "next": said(facts.next_steps[0], ITEM_CHARS) if facts.next_steps else "",
        "audience": defang(clip(facts.audience, 100)) if facts.audience else "",
        # The post has a "Who did what" section (several people): the LinkedIn post may say so.
        "who_did_what": len(story.people) > 1,
    }


def _main(facts: BuildFacts, said: str, release: str) -> str:
    """The main change of a big session in a line, with the project's name (see ``main`` above)."""
    from flywheel_core import clip, defang

    if not facts.named:
        return said
    project = defang(clip(facts.project.name, 60)) + (f" {release}" if release else "")
    # The clip keeps "The main change in <project>: " out of the 200 characters the change may use.
    return f"In {project}, {said}" if ": " in said else f"The main change in {project}: {said}"


def _fitting(texts: list[str], size: int, said: Any) -> str:
    """The first of ``texts`` that fits ``size`` characters (as posted), else the last one cut."""
    for text in texts:
        if text and len(said(text, 10 * size)) <= size:
            return said(text, size)
    return said(texts[-1], size) if texts and texts[-1] else ""


def _named(facts: BuildFacts) -> str:
    """The title, with the project's name in front when it is named and the title does not say it."""
    if facts.named and facts.project.name.casefold() not in facts.title.casefold():
        return f"{facts.project.name}: {facts.title}"
    return facts.title


def _others(facts: BuildFacts, story: Story, skip: object = None) -> list[str]:
    """What else changed: the session's other highlights, else the first changes the blog post
    tells of each kind that matters (breaking, removals, features, fixes, performance), each
    as a sentence: "David Lord also dropped support for Python 3.8."."""
    from flywheel_build.story import said_clause, said_sentence

    if facts.key_achievements:
        return list(facts.social_highlights[:MAX_ITEMS])
    told: list[tuple[str, str]] = []  # ("said", a sentence) or ("who", a person whose changes follow)
    # One sentence per person: "Jürgen Müller also committed “A”. Jürgen Müller also committed
    # “B”." read as a list with a name on each line; "... also committed “A” and “B”." does not.
    theirs: dict[str, list[str]] = {}
    for item in (i for s in story.sections if s.key in TOLD for i in (*s.items, *s.listed) if i.commit is not skip):
        # "David Lord also dropped support for Python 3.8."
        if item.commit.area:  # "In net/http, Ann also added ...", "Ann also changed flywheel-build: the ..."
            told.append(("said", _sentence(said_sentence(item.commit, item.who, also=True))))
            continue
        did = said_clause(item.commit) or f"committed “{item.lead}”"
        if not item.who:
            told.append(("said", _sentence(f"Another commit {did}")))
            continue
        if item.who not in theirs:
            told.append(("who", item.who))
        theirs.setdefault(item.who, []).append(did)
    out = []
    for kind, text in told:
        if kind == "who":
            dids = list(dict.fromkeys(theirs[text]))[:MAX_ITEMS]
            # "committed “A” and “B”", not "committed “A” and committed “B”"
            if all(d.startswith("committed “") for d in dids):
                dids = [dids[0], *(d.removeprefix("committed ") for d in dids[1:])]
            text = _sentence(f"{text} also {_join(dids)}")
        out.append(text)
    return list(dict.fromkeys(out))[:MAX_ITEMS]


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _lesson(facts: BuildFacts) -> str | None:
    """The first lesson as ``Title. Description`` (after "Lesson: ", a "Title: description" read
    as a label inside a label)."""
    for lesson in facts.lessons:
        text = " ".join(_sentence(p.rstrip(" :")) for p in (lesson.title, lesson.description) if p)
        if text:
            return text
    return None


#: A project name that makes a hashtag people would use: a word, or two joined by "-" or "."
#: (``Flask``, ``pixel-garden``, ``Three.js``); not an identifier (``Agent_Cellphone_V2_Repository``).
_TAG_NAME = re.compile(r"[^\W_]+(?:[-.][^\W_]+)?")
_TAG_CHARS = 24


def topics(facts: BuildFacts) -> list[str]:
    """Hashtags, most telling first: the project (when its name is a word), its languages, the
    scopes its commits name."""
    name = facts.project.name
    # "Build session <id>" is no name to tag.
    named = [name] if facts.named and len(name) <= _TAG_CHARS and _TAG_NAME.fullmatch(name) else []
    languages = [lang.name for lang in facts.languages if lang.name not in _NOT_TOPICS][:2]
    return [*named, *languages, "build in public", *facts.scopes]


def social_artifact(ctx: RunContext, session: Session, facts: BuildFacts, story: Story, *, tags: list[str],
                    meta: dict[str, Any]) -> Artifact:
    """The ``social_post`` artifact: a post per network linking to the blog post's page."""
    from flywheel_core import compose_social

    posts = compose_social(
        ctx,
        session,
        "build",
        social_context(facts, story),
        title=f"Social posts: {facts.title}",
        page=("blog_post", facts.title),  # exactly the blog post's title: its page's URL
        topics=topics(facts),
    )
    return posts.artifact(summary=facts.summary, tags=tags, meta=meta)
