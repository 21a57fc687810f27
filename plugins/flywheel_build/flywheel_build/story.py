"""The blog post's story: a lede, sections by theme, who did what; every sentence traced to the session."""

from __future__ import annotations

import os
import re
from collections import Counter
from functools import cache
from typing import Any

import attrs

from flywheel_build.facts import (
    GROUP_TITLES,
    BuildFacts,
    CommitFact,
    capitalised,
    kind_of,
    language_of,
    outside_brackets,
    path_kind,
    short_title,
    states,
)
from flywheel_build.prose import clause, duration_words, says_nothing, scope_phrase, span_words, things_in

__all__ = ["Item", "Section", "Person", "Story", "build_story", "common_folder", "explain", "area_of", "top_area", "said_clause", "said_sentence",
           "written"]

#: A session this small is told commit by commit; a bigger one by its few most significant
#: changes per section, the rest summed up by area.
SMALL = 8
#: A session of up to this many changes opens with who made what, and gives no counts (the
#: footer has them); a bigger one opens with its title's change, then counts by kind.
MEDIUM = 15
#: How many changes the opening names at most.
OPENING = 4
PER_SECTION = 3
#: In a big session, changes of a told kind whose body says nothing are listed by their subject,
#: this many per section; the rest are counted.
LISTED = 8
LISTED_OTHER = 5
#: How many areas the summary of the rest names.
AREAS = 5

# Kinds of change in the order a reader cares about, with the words for one and for many; a
# section's heading is the build log's for the same kind (GROUP_TITLES), so the two agree.
_KINDS = {
    "breaking": ("Breaking changes", "breaking change", "breaking changes"),
    "removal": ("Removed and deprecated", "removal or deprecation", "removals and deprecations"),
    "feat": (GROUP_TITLES["feat"], "new feature", "new features"),
    "fix": (GROUP_TITLES["fix"], "fix", "fixes"),
    "perf": (GROUP_TITLES["perf"], "performance improvement", "performance improvements"),
    "refactor": (GROUP_TITLES["refactor"], "internal change", "internal changes"),
    "docs": (GROUP_TITLES["docs"], "documentation change", "documentation changes"),
    "test": (GROUP_TITLES["test"], "test change", "test changes"),
    "build": (GROUP_TITLES["build"], "build change", "build changes"),
    "ci": (GROUP_TITLES["ci"], "CI change", "CI changes"),
    "chore": (GROUP_TITLES["chore"], "maintenance change", "maintenance changes"),
    "other": (GROUP_TITLES["other"], "other change", "other changes"),
}

# Patterns are compiled on first use (_re), not at import: a session without commit bodies
# needs none of them (issue 18: start-up).
_re = cache(re.compile)
# Paragraphs of a body that are not prose about the change.
_NOISE = (
    r"(?i)^(?:[>#|]|```|~~~|this reverts commit|bumps \[|updates the requirements|signed-off-by|"
    r"co-authored-by|(?:(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?|refs?|see)\s*:?\s*(?:[\w.-]+/[\w.-]+)?#\d+[\s,.;]*(?:and\s+)?)+$|"
    r"https?://\S+\s*$|\(cherry picked|release notes|changelog|commits\b|-{3,}|={3,}|\[skip)"
)
_SENTENCE_END = r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])"
_BULLET = r"^\s*(?:[-*+]|\d+[.)])\s+"
#: A list item says why only when it is a sentence, not "* fix typo" of a squashed branch.
_LIST_ITEM_WORDS = 8
_ISSUE = r"(?i)\b(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?)\s*:?\s+(#\d{1,7})\b"
_GENERIC_DIRS = {"src", "lib", "libs", "pkg", "pkgs", "app", "source", "sources", "internal", "cmd", "packages", "main", "java", "python"}
_AREA_NAMES = {"tests": "tests", "test": "tests", "testing": "tests", "docs": "docs", "doc": "docs", ".github": "CI"}
_CODE = r"^[\w.+/-]{1,40}$"
_FRAGMENTS = r"(?i)(?:^|/)(?:changelog\.d|changelog|changes|news|newsfragments|\.changeset)/"
#: Folders that hold packages: their children are the areas ("plugins/flywheel_trade").
_CONTAINERS = {"src", "lib", "libs", "pkg", "pkgs", "packages", "plugins", "apps", "crates", "modules", "cmd", "internal",
               "components", "services"}


#: A body paragraph that goes on from the subject ("on a fixture that ...") is no sentence alone.
_CONTINUATION = (
    r"^(?:on|in|of|for|to|with|and|or|but|when|if|by|from|at|as|so|which|that|than|instead|without|because|after|"
    r"before|into|via|unless|while)\b"
)


def explain(body: str, limit: int = 320) -> str | None:
    """The first prose paragraph of a commit body, as whole sentences up to ``limit`` characters
    (one longer sentence whole, up to twice that): never cut mid-sentence. A sentence ending
    in ":" introduces what the post does not show (a list, a command) and ends the text."""
    for para in re.split(r"\n\s*\n", body or ""):
        if not para.strip() or _re(_NOISE).match(para.lstrip()):
            continue
        if _re(_BULLET).match(para):  # a list: its first item, when that is a sentence
            para = re.split(r"\n(?=\s*(?:[-*+]|\d+[.)])\s)", para)[0]
            para = _re(_BULLET).sub("", para, count=1)
            if len(para.split()) < _LIST_ITEM_WORDS:
                continue
        text = " ".join(para.split())
        if len(text.split()) < 4 or _re(_CONTINUATION).match(text):
            continue
        out = ""
        for sentence in _re(_SENTENCE_END).split(text):
            if sentence.endswith(":") or (out and len(out) + len(sentence) + 1 > limit) or len(sentence) > 2 * limit:
                break
            out = f"{out} {sentence}".strip()
        if len(out.split()) < 4:
            continue
        return out if out.endswith((".", "!", "?")) else out + "."
    return None


def _issues(body: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group(1) for m in _re(_ISSUE).finditer(body or "")))


def area_of(c: CommitFact, package: str | None = None) -> str | None:
    """What part of the project a commit is about: its scope, else the folder (or module) most of
    its files are in, past generic folders such as ``src/`` and the package's own."""
    scope = c.area.split()[0] if c.area else c.scope  # "flywheel-publish-web pages": the package
    if scope and _re(_CODE).match(scope):
        return scope
    areas: Counter[str] = Counter()
    # The code a change is about, not its changelog fragment or the tests beside it.
    code = [f for f in c.files if path_kind(f) is None]
    for path in code or [f for f in c.files if not _re(_FRAGMENTS).search(f)]:
        parts = path.split("/")
        dirs = [d for d in parts[:-1] if d.lower() not in _GENERIC_DIRS | _CONTAINERS and _norm(d) != package]
        if dirs:
            name = _AREA_NAMES.get(dirs[0].lower(), dirs[0])
        elif len(parts) > 1:  # a module right in the package: the module is the area
            name = parts[-1].rsplit(".", 1)[0]
        else:
            continue  # README.md, pyproject.toml: the project as a whole
        if _re(_CODE).match(name):
            areas[name] += 1
    return areas.most_common(1)[0][0] if areas else None


def top_area(path: str) -> str:
    """The top-level folder (or package: ``plugins/flywheel_trade``, ``src/flask``) a file is
    in; "top-level files" for a file at the top."""
    parts = path.split("/")
    if len(parts) == 1:
        return "top-level files"
    if parts[0].lower() in _CONTAINERS and len(parts) > 2:
        return f"{parts[0]}/{parts[1]}"
    return parts[0]


def _by_area(commits: list[CommitFact]) -> dict[str, list[str]]:
    """Each top-level area and the commits that touch it (a commit may touch several), most first."""
    areas: dict[str, list[str]] = {}
    for c in commits:
        for area in dict.fromkeys(top_area(f) for f in c.files):
            areas.setdefault(area, []).append(c.hash)
    return dict(sorted(areas.items(), key=lambda kv: (-len(kv[1]), kv[0].casefold())))


def _areas_text(areas: dict[str, list[str]], unknown: int) -> str | None:
    """"By area: src/flask (12 changes), docs (9), tests (6), 4 more areas and 3 changes that list no file."""
    if not areas and not unknown:
        return None
    shown = list(areas.items())[:AREAS]
    parts = [f"{name} ({_plural(len(hashes), 'change', 'changes') if i == 0 else f'{len(hashes):,}'})"
             for i, (name, hashes) in enumerate(shown)]
    rest = list(areas)[AREAS:]
    if rest:
        parts.append(_plural(len(rest), "more area", "more areas"))
    if unknown:
        parts.append(_plural(unknown, "change that lists no file", "changes that list no file"))
    return f"By area: {_listing(parts)}." if areas else None


def _touches_code(c: CommitFact) -> bool:
    """A change to the project's code (not only to its tests, docs, CI or metadata files);
    a commit whose files are not listed may be."""
    return not c.files or any(path_kind(f) is None and language_of(f) for f in c.files)


def _distinct(commits: list[CommitFact]) -> list[CommitFact]:
    """One commit per subject: "Fix mypy finding" three times is listed once (the rest are counted)."""
    seen: set[str] = set()
    out = []
    for c in commits:
        key = (c.description or c.subject).casefold()
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _listing(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@attrs.frozen
class Item:
    """One change told in the post: what it is, why (from its body), whose, which commit."""

    commit: CommitFact
    lead: str  # untrusted text: escape it
    detail: str | None  # untrusted text from the body
    issues: tuple[str, ...]  # "#12" as the body says "Fixes #12"
    who: str | None  # untrusted names
    scope: str | None = None  # a Conventional scope, said after the lead ("(cli)"); an area is in the lead


@attrs.frozen
class Section:
    key: str
    title: str  # may hold an area name: escape it
    intro: str | None  # plain text, may hold area names
    items: tuple[Item, ...]
    rest: str | None  # "Also 12 more fixes, mostly in parser and cli."; "By area: ..."
    counted: tuple[CommitFact, ...] = ()  # the commits ``rest`` (or ``intro``) counts
    listed: tuple[Item, ...] = ()  # told by their subject alone, one line each
    areas: dict[str, list[str]] = attrs.field(factory=dict)  # area -> the counted commits touching it


@attrs.frozen
class Person:
    name: str
    commits: int
    did: str  # "2 new features and 1 fix, mostly in parser"
    bot: bool


@attrs.frozen
class Story:
    # Who made what, in one sentence: (text, the commit it tells or None, its issues) pieces, the
    # commit cited after its text (untrusted text).
    opening: tuple[tuple[str, CommitFact | None, tuple[str, ...]], ...]
    brief: str | None  # the opening in short, without citations or the things made (for X); or what is known
    said: str | None  # the opening as the social posts tell it: without citations, nor the folder (plain text)
    project_told: bool  # the opening names the project ("In a two-hour session on gadget, ...")
    lede: tuple[str, ...]  # paragraphs (untrusted text): the session's summary, else why the title's change was made
    overview: str | None  # "7 commits by ...: 2 new features and 1 fix." (plain text)
    range: str | None  # "v2.3.0..v2.4.0", as collected
    highlights: tuple[str, ...]  # the session's own
    sections: tuple[Section, ...]
    people: tuple[Person, ...]
    others: str | None  # "and 22 more people (30 commits)"
    provenance: dict[str, Any]
    counts_told: bool = False  # the opening counts the commits ("Agent-3 made 7 commits ..."): the posts need not
    briefs: tuple[str, ...] = ()  # ``brief`` telling fewer changes, longest first ("..., among other changes.")


def _people_of(c: CommitFact) -> str | None:
    """The people who wrote a commit, its author and co-authors, bots left out."""
    names = ([c.author] if c.author and not c.bot else []) + [name for name, bot in c.co_authors if not bot]
    return _listing(names) if names else None


def _who(c: CommitFact) -> str | None:
    names = ([c.author] if c.author else []) + [name for name, _ in c.co_authors]
    return _listing(names) if names else None


#: Kinds a reader hears about change by change; the others are counted (in a long post,
#: changes of no known kind are told when their body says why).
_TOLD = ("breaking", "removal", "feat", "fix", "perf")


def _rank(c: CommitFact, index: int) -> tuple[int, int, int, int, int]:
    """Within a section: explained first, then closing an issue, then bigger, then newer."""
    return (1 if explain(c.body) else 0, 1 if _issues(c.body) else 0, c.size, len(c.files), -index)


def _mostly(commits: list[CommitFact], package: str | None) -> str:
    """", mostly in parser, cli and docs": the areas most of ``commits`` touch."""
    areas = Counter(a for a in (area_of(c, package) for c in commits) if a)
    if len(areas) == 1 and len(commits) > 1 and sum(areas.values()) == len(commits):
        return f", all in {next(iter(areas))}"
    top = [name for name, n in areas.most_common(3) if n > 1]
    return f", mostly in {_listing(top)}" if top else ""


def build_story(facts: BuildFacts) -> Story:
    """The post's parts from the fact set. Nothing is invented: each sentence is the session's
    own text, a commit's own text, or a count of commits, and ``provenance`` says which."""
    human = [c for c in facts.commits if not c.bot and not c.merge]
    package = _norm(facts.project.name) if facts.named else None
    sentences: list[dict[str, str]] = []
    small = len(human) <= SMALL

    # The lede: the session's summary, else who made what (the opening) and why the title's
    # change was made (its body).
    lede: tuple[str, ...] = facts.summary_paragraphs
    top = None  # the title's commit
    opened: list[CommitFact] = []  # the commits the opening tells: the sections leave them out
    opening: tuple[tuple[str, CommitFact | None, tuple[str, ...]], ...] = ()
    posted = None
    briefs: tuple[str, ...] = ()
    brief = None if facts.commits or not facts.stats.commits else _nothing_listed(facts, brief=True)
    # Commits whose subject says nothing ("fix", "wip"): counted with what they say, never told
    # as a change ("Agent-3 fixed, fixed and updated") nor listed as one ("- Wip").
    silent = [c for c in human if _silent(c)]
    if lede:
        sentences += [{"text": p, "from": facts.narrative.get("summary", "summary")} for p in lede]
    elif facts.top is not None:
        top = facts.top
        opened = _to_open(top, human, small)
        if len(human) > MEDIUM:
            opening = _main_change(top, sentences)
            brief = posted = "".join(text for text, _, _ in opening)
        else:
            opening = _opening(facts, opened, sentences)
            brief = "".join(text for text, _, _ in _opening(facts, opened, [], things=False, where=False))
            # Shorter openings for a post with little room: whole clauses, never a cut one.
            briefs = tuple("".join(t for t, _, _ in _opening(facts, opened[:k], [], things=False, where=False))[:-1]
                           + ", among other changes." for k in range(len(opened) - 1, 0, -1))
            posted = "".join(text for text, _, _ in _opening(facts, opened, [], where=False))
        why = [x for x in (explain(top.body), f"Breaking: {top.breaking_note}" if top.breaking_note else None) if x]
        if why:
            lede = (" ".join(w if w.endswith((".", "!", "?", "…")) else w + "." for w in why),)
            sentences.append({"text": lede[0], "from": f"commit {top.hash} body"})
    elif silent:  # no commit says what it changed: who made how many, where, and what they say
        opened = silent
        opening = _silent_opening(facts, silent, sentences)
        brief = posted = "".join(text for text, _, _ in _silent_opening(facts, silent, [], where=False))

    by_kind: dict[str, list[CommitFact]] = {}
    for c in human:
        by_kind.setdefault(kind_of(c), []).append(c)
    # A small session's opening said who made what: the counts are the footer's.
    # One commit, one section: "1 commit by Ann: 1 fix." above it would only count it.
    one = len(human) == 1 == facts.stats.commits and not facts.merges and not facts.bot_commits
    overview = None if (opening and len(human) <= MEDIUM) or one else _overview(facts, by_kind)
    counted_in: dict[str, dict[str, list[str]]] = {}  # "areas" and "branches" the overview names: their commits
    if overview and opening:  # a big session: what the rest was about, and the branches it came in
        overview = " ".join(x for x in (overview, _about(human, top, package, sentences, counted_in),
                                        _branches(facts, sentences, counted_in)) if x)

    sections: list[Section] = []
    counted: list[str] = []
    counted_commits: list[CommitFact] = []
    for key, (title, one, many) in _KINDS.items():
        members = [c for c in by_kind.get(key, []) if c not in silent]
        if not members:
            continue
        if not small and key not in _TOLD and key != "other":
            counted.append(_plural(len(members), one, many))
            counted_commits += members
            continue
        limit = len(members) if small else (5 if key == "breaking" else PER_SECTION)
        if key == "other" and not small:  # changes to the code told (or listed), the rest counted
            code = [c for c in members if _touches_code(c)]
            items, unexplained = _items(code, limit, opened, sentences, explained_only=True)
            listed = _items(_distinct(unexplained), LISTED_OTHER, opened, [])[0]
            if items or listed:
                sections.append(Section(key, "Other notable changes", None, items, None, listed=listed))
            shown = {i.commit for i in (*items, *listed)}
            rest = [c for c in members if c not in opened and c not in shown]
            if rest:
                counted.append(_plural(len(rest), "other change", "other changes"))
                counted_commits += rest
            continue
        items, rest = _items(members, limit, opened, sentences, explained_only=not small and key != "breaking")
        # A big session names the rest of its features and fixes by their subjects, then counts.
        listed = _items(_distinct(rest), LISTED, opened, [])[0] if not small else ()
        rest = [c for c in rest if c not in {i.commit for i in listed}]
        more = None
        if rest:
            # "more" than the changes told here, or than the title's one: else there is none before.
            said = items or listed or any(c in opened for c in members)
            if not any(c.description or c.subject for c in rest):  # why they are not told
                one, many, said = "commit without a message", "commits without a message", False
            if said:  # "2 more changes", not "2 more other changes"
                one, many = "more " + one.removeprefix("other "), "more " + many.removeprefix("other ")
            more = _plural(len(rest), one, many) + _mostly(rest, package) + "."
            more = f"Also {more}" if items or listed else more[:1].upper() + more[1:]
        if items or listed or more:  # a section whose one change the lede told has nothing left to say
            sections.append(Section(key, title, None, items, more, tuple(rest), listed))
    unsaid = [c for c in silent if c not in opened]
    if unsaid and not small:
        counted.append(_silent_count(unsaid))
        counted_commits += unsaid
    elif unsaid:  # after the other changes: "Also 1 commit whose message says no more than “WIP”."
        other = next((i for i, x in enumerate(sections) if x.key == "other" and not x.rest), None)
        if other is None:
            text = _silent_count(unsaid)
            sections.append(Section("other", _KINDS["other"][0], text[:1].upper() + text[1:] + ".", (), None, tuple(unsaid)))
        else:
            sections[other] = attrs.evolve(sections[other], rest=f"Also {_silent_count(unsaid)}.",
                                           counted=(*sections[other].counted, *unsaid))
    if counted:
        areas = _by_area(counted_commits)
        unknown = sum(1 for c in counted_commits if not c.files)
        sections.append(Section("counted", "Also in this session", _listing(counted) + ".", (), _areas_text(areas, unknown),
                                tuple(counted_commits), areas=areas))
    bots = [c for c in facts.commits if c.bot]
    if bots:
        names = Counter(c.author or "bot" for c in bots)
        said = _listing([f"{name} ({n:,})" for name, n in names.most_common()])
        sections.append(Section("bots", "Automated updates", f"{_plural(len(bots), 'automated commit', 'automated commits')} by {said}.", (), None, tuple(bots)))

    # Each change the post tells (0) or lists (1).
    told = {i.commit.hash: rank for section in sections for rank, items in enumerate((section.items, section.listed)) for i in items}
    told.update({c.hash: 0 for c in opened if c is not top})
    people, others = _people(facts, package, told, top)
    return Story(
        opening=opening,
        brief=brief,
        said=posted,
        project_told=bool(opening) and _project_told(facts),
        lede=lede,
        overview=overview,
        range=facts.rev_range,
        # With no title given, the first highlight is the title: listed again, it says it twice.
        highlights=facts.key_achievements if "title" in facts.narrative else facts.key_achievements[1:],
        sections=tuple(sections),
        people=people,
        others=others[0] if others else None,
        provenance=_provenance(facts, sentences, people, by_kind, sections, others, counted_in),
        counts_told=bool(opening) and top is None and facts.stats.commits == len(silent),
        briefs=briefs,
    )


def said_clause(c: CommitFact) -> str | None:
    """What the commit's author did, as a past-tense clause ("added a website publisher"), or
    None when its subject does not start with a verb."""
    return None if states(c) else clause(short_title(c.description or c.subject), kind_of(c), c.scope)


def written(c: CommitFact) -> str:
    """A commit's change as its author wrote it, without a Conventional prefix or an issue
    number: "flywheel-build: tests follow ..." keeps its area, which alone says where."""
    return f"{c.area}: {c.description}" if c.area else c.description or c.subject


#: A lead longer than this is cut at its last sentence or clause that fits; never mid-clause.
LEAD = 160
# Where a lead may end: before "; ", ": ", a dash, an aside in brackets, or after a sentence.
_LEAD_CUT = re.compile(r"[;:] | [-–—] | \(|(?<=[.!?]) (?=[A-Z`\"'])")


def _lead(c: CommitFact) -> str:
    """A told change's lead: what its author wrote (see :func:`written`), up to the end of its
    last sentence or clause (before "; ", ": ", " - " or an aside in brackets) within ``LEAD``
    characters, outside brackets and code; whole when it has none (a long clause is better
    than half of one: a list's ", " is no clause boundary)."""
    text = written(c)
    text = text if c.area else capitalised(text)
    if len(text) <= LEAD:
        return text
    cut = strong = 0
    for i in outside_brackets(text, LEAD):
        end = _LEAD_CUT.match(text, i) if i >= 20 else None
        if end and end[0].startswith((";", " ")) and not end[0].startswith((" -", " –", " —", " (")):
            strong = i  # a sentence's or a "; " clause's end
        elif end and i >= LEAD // 3:  # an aside or ": " leaving a third at least
            cut = i
    return text[: strong or cut] if strong or cut else text


def said_sentence(c: CommitFact, who: str | None, also: bool = False) -> str:
    """What a commit did, as a sentence that stays true however its subject is written, without
    its final stop: "David Lord added config and docs for limits", "In net/http, Ann added
    Server.Shutdown", "Ann made cmd/go not panic on ..."; a subject that is no verb phrase is
    said after a colon, as written: "Ann changed flywheel-build: the blog post opens with ..."
    (``also``: "Ann also ...")."""
    desc = short_title(c.description or c.subject)
    who = f"{who or 'a commit'}{' also' if also else ''}"
    where = c.area or c.scope
    phrase = scope_phrase(where) or where if where else None
    if c.area and c.description and not states(c):
        # What the code does now ("do not panic", "accept ..."): "made cmd/go not panic ...".
        said = clause(desc, kind_of(c), c.area)
        if said and said.startswith(f"made {phrase} "):
            return capitalised(f"{who} {said}")
        said = clause(desc, kind_of(c), None)
        if said:
            return f"In {phrase}, {who} {said}"
    elif not c.area and c.description and (said := clause(desc, kind_of(c), c.scope)):
        return capitalised(f"{who} {said}")
    if phrase:  # "changed the cli: ...", "changed flywheel-build: ..."
        return capitalised(f"{who} changed {phrase}: {desc}")
    return capitalised(f"{who} made {'another' if also else 'the main'} change: {desc}")


def _main_change(top: CommitFact, sentences: list[dict[str, str]]) -> tuple[tuple[str, CommitFact | None, tuple[str, ...]], ...]:
    """A big session's opening: who made the title's change and what it did, in a sentence that
    stays true (see :func:`said_sentence`), the commit cited."""
    text = said_sentence(top, _people_of(top))
    sentences.append({"text": text, "from": f"commit {top.hash} subject and author"})
    return ((text, top, _issues(top.body)), (".", None, ()))


def _about(human: list[CommitFact], top: CommitFact | None, package: str | None, sentences: list[dict[str, str]],
           counted_in: dict[str, dict[str, list[str]]]) -> str | None:
    """"Besides the main change, the work was mostly in flywheel-publish-web (8 changes),
    flywheel_core (6) and flywheel-build (6)." ("the areas with the most changes were ..." when
    those are not most of it): where the rest of a big session's work was, by the areas its
    subjects name, else its files' folders (spellings of one name counted together); the
    commits of each area named go to ``counted_in["areas"]``."""
    rest = [c for c in human if c is not top]
    spelled: dict[str, Counter[str]] = {}
    hashes: dict[str, list[str]] = {}
    for c in rest:
        area = area_of(c, package)
        if area:
            spelled.setdefault(_norm(area) or area, Counter())[area] += 1
            hashes.setdefault(_norm(area) or area, []).append(c.hash)
    counts = sorted(((sum(n.values()), n.most_common(1)[0][0], key) for key, n in spelled.items()),
                    key=lambda nn: (-nn[0], nn[1].casefold()))
    named = [(n, name) for n, name, _ in counts if n > 1][:3]
    if not named:
        return None
    counted_in["areas"] = {name: hashes[key] for n, name, key in counts[: len(named)]}
    parts = [f"{name} ({_plural(n, 'change', 'changes') if i == 0 else f'{n:,}'})" for i, (n, name) in enumerate(named)]
    if len(named) == 1 and named[0][0] == len(rest):
        text = f"Besides the main change, the work was all in {named[0][1]}."
    elif 2 * sum(n for n, _ in named) > len(rest):
        text = f"Besides the main change, the work was mostly in {_listing(parts)}."
    else:  # "mostly" would overstate it
        text = f"Besides the main change, the areas with the most changes were {_listing(parts)}."
    sentences.append({"text": text, "from": "numbers.areas: source_data.git_commits by their subjects' area or scope, else their "
                                            "files' folders"})
    return text


_BRANCH = re.compile(r"^Merge (?:(?:remote-tracking )?branch '(?P<b>[^'\s]{1,60})'|pull request #\d+ from (?:[^/\s]+/)?(?P<pr>\S{1,60}))")
#: At most this many branches are named.
BRANCHES = 6


def _branches(facts: BuildFacts, sentences: list[dict[str, str]], counted_in: dict[str, dict[str, list[str]]]) -> str | None:
    """"The 5 merges brought in the branches lean, gitsafe, prose2, sitefast and story.": when
    every merge's subject names its branch, and they are few."""
    branches: dict[str, list[str]] = {}
    for c in reversed(facts.merges):  # in the order they were merged
        match = _BRANCH.match(c.subject)
        if not match:
            return None
        branches.setdefault((match["b"] or match["pr"]).removeprefix("origin/"), []).append(c.hash)
    if not branches or len(branches) > BRANCHES:
        return None
    names = [h for hs in branches.values() for h in hs]
    counted_in["branches"] = branches
    merges = "The merge" if len(names) == 1 else f"The {len(names):,} merges"
    text = f"{merges} brought in the branch{'es' if len(branches) > 1 else ''} {_listing(list(branches))}."
    sentences.append({"text": text, "from": "numbers.branches: the subjects of the merges"})
    return text


#: Clauses whose object the commit's files may name: "added X: a queue manager and a publisher".
_MAKING = ("added", "implemented", "introduced", "created", "built", "wrote")


def _to_open(top: CommitFact, human: list[CommitFact], small: bool) -> list[CommitFact]:
    """The title's commit, then (in a session of up to ``MEDIUM`` changes) the most significant
    others whose body says no why (those keep their section, with it), oldest first."""
    if len(human) > MEDIUM:
        return [top]
    order = list(_KINDS)
    others = [c for c in human if c is not top and c.description and not _silent(c) and c.verified is not False and not explain(c.body)
              and not c.breaking_note and (small or kind_of(c) in _TOLD)]
    index = {c.hash: i for i, c in enumerate(human)}  # newest first
    chosen = sorted(others, key=lambda c: (order.index(kind_of(c)), -c.size, index[c.hash]))[: OPENING - 1]
    return [top, *sorted(chosen, key=lambda c: -index[c.hash])]


def _things(c: CommitFact, said: str) -> list[str]:
    """What an "added ..." commit's code files are, by their names, less what the clause says."""
    if not said.startswith(_MAKING):
        return []
    code = [f for f in c.files if path_kind(f) is None and language_of(f)]
    if not 1 <= len(code) <= 3:
        return []
    words = set(re.findall(r"\w+", said.lower()))
    return [t for t in things_in(code) if not set(re.findall(r"\w+", t.lower())) - {"a", "an"} <= words]


#: A folder path the opening may name: plain folder names, not too long to read.
_FOLDER_PART = re.compile(r"[\w@+-][\w.@+-]*")
_FOLDER_CHARS = 80


def common_folder(commits: tuple[CommitFact, ...] | list[CommitFact]) -> str | None:
    """The folder every file of ``commits`` is in (``systems/output_flywheel/publication``), when
    it is two folders deep or more; None when a commit (merges aside) lists no file, when the
    files are at the top or spread out (``src`` alone says little), or its name reads badly."""
    folders = []
    for c in commits:
        if c.merge:
            continue
        if not c.files:
            return None  # where that commit's changes are is unknown
        folders += [f.split("/")[:-1] for f in c.files]
    common = os.path.commonprefix(folders) if folders else []  # of lists: folder by folder, not letter by letter
    path = "/".join(common)
    if len(common) < 2 or len(path) > _FOLDER_CHARS or not all(_FOLDER_PART.fullmatch(p) for p in common):
        return None
    return path


def _project_told(facts: BuildFacts) -> bool:
    """The opening names the project: it has a name, and the session is small enough for the
    opening to tell it (a big session's opening is its title's change alone)."""
    return facts.named and sum(1 for c in facts.commits if not c.bot and not c.merge) <= MEDIUM


def _opening(
    facts: BuildFacts, opened: list[CommitFact], sentences: list[dict[str, str]], things: bool = True, where: bool = True
) -> tuple[tuple[str, CommitFact | None, tuple[str, ...]], ...]:
    """"In a two-hour session on Agent_Cellphone_V2_Repository, Agent-7 added a Phase 3
    publication system: a publish queue manager and a GitHub publisher (`abc123d`), then a
    website publisher (`def456g`), both in systems/output_flywheel/publication." as pieces, each
    commit cited after what it did. Every clause is a commit's subject in the past tense (or
    quoted, when it does not start with a verb), the things named are its files, the duration
    the session's, the project's name the one the artifacts give, the folder the one all the
    listed commits' files are in (``where``)."""
    by_who: dict[str | None, list[CommitFact]] = {}
    for c in opened:  # each person once, in the order their first change is told
        by_who.setdefault(_people_of(c), []).append(c)
    groups = list(by_who.items())
    order = {c.hash: i for i, c in enumerate(facts.commits)}  # newest first
    # A big session's hours are not its title's change's.
    human = sum(1 for c in facts.commits if not c.bot and not c.merge)
    when = duration_words(facts.stats.duration_shown, facts.stats.duration_estimated) if human <= MEDIUM else None
    # Which project, said once: a post or a page read alone (a social post, a feed) names it.
    on = facts.project.name if _project_told(facts) else None
    if when:
        text = f"{when} on {on}, " if on else f"{when}, "
    else:
        text = (f"Working on {on}, " if groups[0][0] else f"In {on}, ") if on else ""
    # Where the changes told are, after them: the session's commits that are not listed may be
    # elsewhere. One change: "added a CSV exporter in src/shop (`abc1234`)".
    folder = common_folder(facts.commits) if where and human <= MEDIUM else None
    pieces: list[tuple[str, CommitFact | None, tuple[str, ...]]] = []
    for g, (who, commits) in enumerate(groups):
        if g:
            text += ", and " if len(groups) == 2 else ("; and " if g == len(groups) - 1 else "; ")
        text += who or ("a commit" if len(commits) == 1 else "the session's commits")
        verb = None
        for i, c in enumerate(commits):
            if i:
                newer = order[c.hash] < order[commits[i - 1].hash]
                text += ", then " if newer and len(commits) == 2 else " and " if i == len(commits) - 1 else ", "
            else:
                text += " "
            said = said_clause(c) or f"committed “{short_title(written(c))}”"
            made = _things(c, said) if things else []
            first, _, rest = said.partition(" ")
            if i and first == verb and rest:  # "added X, then Y"
                said = rest
            verb = first
            inside = f" in {folder}" if folder and len(opened) == 1 else ""
            text += said + inside + (": " + _listing(made) if made else "")
            if not pieces:
                text = text[:1].upper() + text[1:]
            source = f"commit {c.hash} subject" + (" and files" if made else "")
            if inside:
                source += "; the folder of source_data.git_commits[].files"
            if not pieces and when:
                source += "; " + ("estimate from source_data.git_commits[].timestamp" if facts.stats.duration_estimated
                                  else "metadata.duration_minutes")
            if not pieces and on:
                source += f"; project: {facts.project_from}"
            sentences.append({"text": text, "from": source})
            pieces.append((text, c, _issues(c.body)))
            text = ""
    if folder and len(opened) > 1:
        text = f", {'both' if len(opened) == 2 else 'all'} in {folder}"
        sentences.append({"text": text, "from": "the folder every file of source_data.git_commits[].files is in"})
        pieces.append((text, None, ()))
    pieces.append((".", None, ()))
    return tuple(pieces)


def _silent(c: CommitFact) -> bool:
    """A commit whose subject says nothing of what changed ("fix", "wip", "update")."""
    text = c.description or c.subject
    return bool(text) and says_nothing(text)


def _what_they_say(commits: list[CommitFact]) -> str:
    """"“fix”, “wip” and “update”": what ``commits`` say, each subject once, as written."""
    said = list(dict.fromkeys(" ".join((c.subject or c.description).split()) for c in commits))
    quoted = [f"“{short_title(x, 40)}”" for x in said[:3]]
    return _listing(quoted) if len(said) <= 3 else ", ".join(quoted) + " and the like"


def _silent_count(commits: list[CommitFact]) -> str:
    """"3 commits whose messages say no more than “wip” and “fix”"."""
    verb = "message says" if len(commits) == 1 else "messages say"
    return f"{_plural(len(commits), 'commit', 'commits')} whose {verb} no more than {_what_they_say(commits)}"


def _silent_opening(
    facts: BuildFacts, commits: list[CommitFact], sentences: list[dict[str, str]], where: bool = True
) -> tuple[tuple[str, CommitFact | None, tuple[str, ...]], ...]:
    """"In a seven-hour session on dream-os, Agent-3 made 7 commits to auth.py, cache.py and api.py
    in src/services; their messages say no more than “fix”, “wip” and “update”.": the opening of
    a session none of whose commits says what it changed. Every part is the session's: its
    duration, the project's name, the commits' authors, files and subjects."""
    human = sum(1 for c in facts.commits if not c.bot and not c.merge)
    when = duration_words(facts.stats.duration_shown, facts.stats.duration_estimated) if human <= MEDIUM else None
    on = facts.project.name if _project_told(facts) else None
    text = f"{when} on {on}, " if when and on else f"{when}, " if when else f"In {on}, " if on else ""
    people = list(dict.fromkeys(p for p in (_people_of(c) for c in commits) if p))
    text += _listing(people) if people else (facts.agent_name or facts.agent_id)
    text += f" made {_plural(len(commits), 'commit', 'commits')}"
    files = list(dict.fromkeys(f for c in commits for f in c.files))
    names = list(dict.fromkeys(f.rsplit("/", 1)[-1] for f in files))
    if files:
        text += f" to {_listing(names)}" if len(names) <= 3 else f" to {_plural(len(files), 'file', 'files')}"
    folder = common_folder(commits) if where else None
    if folder:
        text += f" in {folder}"
    verb = "its message says" if len(commits) == 1 else "their messages say"
    text = f"{text[:1].upper()}{text[1:]}; {verb} no more than {_what_they_say(commits)}"
    sentences.append({"text": text, "from": "source_data.git_commits[] subjects, authors and files; metadata.duration_minutes"})
    return ((text, None, ()), (".", None, ()))


def _nothing_listed(facts: BuildFacts, brief: bool = False) -> str:
    """"Agent-X worked for an hour and made 2 commits touching 5 files; the session lists none of
    them, so this post can't say what changed.": all a session without its commits tells
    (``brief``: "..., none of them listed.")."""
    st = facts.stats
    text = facts.agent_name or facts.agent_id
    span = span_words(st.duration_minutes) if not st.duration_estimated else None
    text += f" worked for {span} and made " if span else " made "
    text += _plural(st.commits or 0, "commit", "commits")
    if st.files_changed:
        text += " touching " + _plural(st.files_changed, "file", "files")
    if brief:
        return text + ", none of them listed."
    return text + "; the session lists none of them, so this post can't say what changed."


def _overview(facts: BuildFacts, by_kind: dict[str, list[CommitFact]]) -> str | None:
    """"145 commits by Ann (22), ... and 2 bots: 1 breaking change, 4 new features, 30 fixes and 80
    other changes, 8 merges and 17 automated updates." The parts add up to the commits listed."""
    if not facts.stats.commits:
        return None
    text = _plural(facts.stats.commits, "commit", "commits")
    if not facts.commits:  # a bare "2 commits." told a reader nothing of what they were
        return _nothing_listed(facts)
    if facts.stats.commits != len(facts.commits):
        # Only the listed commits are known: credit and count those, and say so.
        text = f"The session counts {text} and lists {len(facts.commits):,} of them"
    if facts.credits_text:
        text += f"{',' if text.startswith('The session') else ''} by {facts.credits_text}"
    parts = [_plural(len(by_kind[k]), _KINDS[k][1], _KINDS[k][2]) for k in _TOLD if by_kind.get(k)]
    rest = sum(len(cs) for k, cs in by_kind.items() if k not in _TOLD)
    if rest and (parts or facts.merges or facts.bot_commits):  # "30 commits: 30 changes" says nothing
        parts.append(_plural(rest, "other change" if parts else "change", "other changes" if parts else "changes"))
    if facts.merges:
        parts.append(_plural(len(facts.merges), "merge", "merges"))
    if facts.bot_commits:
        parts.append(_plural(len(facts.bot_commits), "automated update", "automated updates"))
    if parts:
        text += ": " + _listing(parts)
    return text + "."


def _items(
    members: list[CommitFact], limit: int, opened: list[CommitFact], sentences: list[dict[str, str]], explained_only: bool = False
) -> tuple[tuple[Item, ...], list[CommitFact]]:
    """The ``limit`` most telling commits as items (not those the opening told), and the rest.
    In a long post an item must say why (``explained_only``): a bare subject is counted."""
    ranked = sorted(enumerate(members), key=lambda ic: _rank(ic[1], ic[0]), reverse=True)
    # A commit without a subject (git allows an empty message) has no lead to tell: it is counted.
    chosen = [c for _, c in ranked if c not in opened and (c.description or c.subject) and (explain(c.body) or not explained_only)][:limit]
    order = {c.hash: i for i, c in enumerate(members)}
    chosen.sort(key=lambda c: order[c.hash], reverse=True)  # oldest first reads as a story
    items = []
    for c in chosen:
        detail = explain(c.body)
        if c.breaking_note and c.breaking_note not in (detail or ""):
            detail = f"{detail} Breaking: {c.breaking_note}" if detail else f"Breaking: {c.breaking_note}"
        if detail:
            detail = detail if detail.endswith((".", "!", "?", "…")) else detail + "."
            sentences.append({"text": detail, "from": f"commit {c.hash} body"})
        items.append(Item(c, _lead(c), detail, _issues(c.body), _who(c), None if c.area else c.scope))
    rest = [c for c in members if c not in chosen and c not in opened]
    return tuple(items), rest


def _people(
    facts: BuildFacts, package: str | None, told: dict[str, int], top: CommitFact | None, shown: int = 8
) -> tuple[tuple[Person, ...], str | None]:
    """Who did what: each person's (co-authors too) commits, the changes of theirs the post tells,
    and where they worked. Bots have their own section."""
    work: dict[str, list[CommitFact]] = {}
    for c in facts.commits:
        if c.merge:  # as facts' credits count them: a person's commits, co-authored ones too
            continue
        for name, bot in ([(c.author, c.bot)] if c.author else []) + list(c.co_authors):
            if not bot:
                work.setdefault(name, []).append(c)
    ranked = sorted(work.items(), key=lambda kv: (-len(kv[1]), kv[0].casefold()))

    def tells(commits: list[CommitFact]) -> bool:
        return len(commits) > 1 or any(c.hash in told or c is top for c in commits)

    named = ranked[:shown]
    if len(ranked) > shown:  # many people: one-commit names whose change the post does not tell are counted
        named = [kv for kv in ranked if tells(kv[1])][:shown] or named
    people = []
    for name, commits in named:
        # The title's change first, then those told with their why, then those listed.
        mine = sorted((c for c in commits if c.hash in told or c is top), key=lambda c: (c is not top, told.get(c.hash, 0)))
        theirs = [f"“{short_title(written(c))}”" for c in mine][:3]
        did = _plural(len(commits), "commit", "commits")
        if theirs:
            did += ", including " + _listing(theirs)
        areas = [a for a, _ in Counter(a for a in (area_of(c, package) for c in commits) if a).most_common(3)]
        if areas:
            did += ("; mostly in " if len(areas) > 1 else "; in ") + _listing(areas)
        people.append(Person(name, len(commits), did, False))
    named_names = {name for name, _ in named}
    rest = [kv for kv in ranked if kv[0] not in named_names]
    others = None
    if rest:
        count = len({c.hash for _, cs in rest for c in cs})
        others = (f"{_plural(len(rest), 'more person', 'more people')} ({_plural(count, 'commit', 'commits')})", [n for n, _ in rest])
    return tuple(people), others


def _provenance(
    facts: BuildFacts,
    sentences: list[dict[str, str]],
    people: tuple[Person, ...],
    by_kind: dict[str, list[CommitFact]],
    sections: list[Section],
    others: tuple[str, list[str]] | None,
    counted_in: dict[str, dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    """Where each number, name and sentence of the post comes from, for a checker to prove."""
    st = facts.stats

    def number(value: Any, source: str) -> dict[str, Any]:
        return {"value": value, "from": source}

    declared = facts.declared_metadata
    numbers: dict[str, Any] = {}
    if st.commits is not None:
        numbers["commits"] = number(st.commits, "metadata.commits" if "commits" in declared else "source_data.git_commits (count)")
    if st.files_changed is not None:
        numbers["files_changed"] = number(
            st.files_changed, "metadata.files_changed" if "files_changed" in declared else "distinct files of source_data.git_commits"
        )
    for key, attr in (("lines_added", "insertions"), ("lines_removed", "deletions")):
        value = getattr(st, key)
        if value is not None:
            numbers[key] = number(value, f"metadata.{key}" if key in declared else f"sum of source_data.git_commits[].{attr}")
    if st.duration_minutes is not None and st.duration_shown is not None:
        numbers["work_minutes"] = number(
            round(st.duration_shown),
            "estimate from source_data.git_commits[].timestamp (git-hours: 120 min gap, 30 min per stretch), rounded"
            if st.duration_estimated else "metadata.duration_minutes",
        )
    # Counts by kind: the commits each count is made of (kind from the Conventional type, else
    # the subject's first words, see facts.kind_of).
    numbers["kinds"] = {k: [c.hash for c in cs] for k, cs in by_kind.items()}
    numbers["merges"] = [c.hash for c in facts.merges]
    # A big session's overview: the areas it names with their commits, the branches with their merges.
    numbers.update(counted_in or {})
    numbers["automated"] = [c.hash for c in facts.bot_commits]
    names: dict[str, Any] = {}
    if facts.named:
        names["project"] = {"value": facts.project.name, "from": facts.project_from}
    authored: dict[str, list[str]] = {}
    automated: dict[str, list[str]] = {}
    for c in facts.commits:
        if c.merge:
            continue
        for name, bot in ([(c.author, c.bot)] if c.author else []) + list(c.co_authors):
            (automated if bot else authored).setdefault(name, []).append(c.hash)
    names["people"] = authored
    names["bots"] = automated
    names["people_named"] = [p.name for p in people]
    if others:
        names["people_not_named"] = others[1]
    return {
        "session": facts.session_id,
        "commits": list(facts.provenance),
        "numbers": numbers,
        "names": names,
        "narrative": dict(facts.narrative),
        "sentences": sentences,
        "sections": [
            {"key": s.key, "told": [i.commit.hash for i in s.items], "listed": [i.commit.hash for i in s.listed],
             "counted": [c.hash for c in s.counted], **({"areas": s.areas} if s.areas else {})}
            for s in sections
        ],
    }
