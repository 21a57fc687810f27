"""One computed fact set for a build session: every template reads ``BuildFacts``, nothing else."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Any

import attrs

from flywheel_build.message import INVISIBLE, clean_body, person_name
from flywheel_build.project import Project, project_from_path, project_from_remote, usable_name
from flywheel_build.prose import clause, is_verb, says_nothing
from flywheel_build.remote import clean_remote, commit_url, is_network_remote, web_base
from flywheel_build.when import parse_when

__all__ = [
    "BuildFacts",
    "CommitFact",
    "Group",
    "Language",
    "Lesson",
    "Project",
    "Stats",
    "build_facts",
    "capitalised",
    "classify",
    "commit_hash",
    "estimate_work_minutes",
    "files_kind",
    "kind_of",
    "most_significant",
    "outside_brackets",
    "language_of",
    "md_code",
    "parse_when",
    "path_kind",
    "short_title",
    "states",
]

# Conventional Commit types in the order a changelog shows them; aliases agents really use.
# The build log's headings: the blog post's sections (story.py) use the same words.
GROUP_TITLES = {
    "feat": "New features",
    "fix": "Fixes",
    "perf": "Performance",
    "refactor": "Under the hood",
    "docs": "Documentation",
    "test": "Tests",
    "build": "Build and packaging",
    "ci": "Continuous integration",
    "chore": "Maintenance",
    "other": "Other changes",
}
_ALIASES = {"feature": "feat", "bugfix": "fix", "hotfix": "fix", "doc": "docs", "tests": "test", "deps": "build"}
# Patterns are compiled on first use (_re), not at import: a run compiles only those its
# session needs, and a session without commits needs few (issue 18: start-up).
_re = cache(re.compile)
_CC = r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\r\n]{1,60})\))?(?P<bang>!)?:[ \t]*(?P<desc>\S.*)$"
_BREAKING = r"(?m)^BREAKING[ -]CHANGE:[ \t]*(?P<note>.+)$"
_MERGE = r"^Merge (?:branch|pull request|remote-tracking branch|tag|commit) "
_SAFE_URL = r"^[A-Za-z0-9@:/._~+-]{1,300}$"
_MAX_SUBJECT = 200
_MAX_DESCRIPTION = 500
_BOTS = {"dependabot", "renovate", "renovate-bot", "github-actions", "pre-commit-ci", "greenkeeper", "snyk-bot", "mergify"}

# Languages by file extension (programming and markup only: docs and data files are not counted).
_LANGUAGES = {
    ".py": "Python", ".pyi": "Python", ".ipynb": "Jupyter Notebook", ".js": "JavaScript", ".mjs": "JavaScript",
    ".cjs": "JavaScript", ".jsx": "JavaScript", ".ts": "TypeScript", ".tsx": "TypeScript", ".go": "Go",
    ".rs": "Rust", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin", ".scala": "Scala", ".rb": "Ruby",
    ".php": "PHP", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".hpp": "C++",
    ".cs": "C#", ".fs": "F#", ".swift": "Swift", ".m": "Objective-C", ".mm": "Objective-C", ".dart": "Dart",
    ".lua": "Lua", ".r": "R", ".jl": "Julia", ".ex": "Elixir", ".exs": "Elixir", ".erl": "Erlang",
    ".hs": "Haskell", ".ml": "OCaml", ".clj": "Clojure", ".zig": "Zig", ".nim": "Nim", ".pl": "Perl",
    ".sh": "Shell", ".bash": "Shell", ".zsh": "Shell", ".ps1": "PowerShell", ".sql": "SQL",
    ".html": "HTML", ".htm": "HTML", ".css": "CSS", ".scss": "SCSS", ".sass": "Sass", ".less": "Less",
    ".vue": "Vue", ".svelte": "Svelte", ".tf": "HCL", ".sol": "Solidity", ".vim": "Vim script",
}
_FILENAMES = {"Dockerfile": "Dockerfile", "Makefile": "Makefile", "CMakeLists.txt": "CMake"}

@attrs.frozen
class Language:
    name: str
    files: int
    percent: int


@attrs.frozen
class Lesson:
    title: str | None
    description: str | None


@attrs.frozen
class CommitFact:
    """One commit as the templates see it; text fields are untrusted (escape them)."""

    hash: str
    short: str
    code: str  # the short hash as a safe Markdown code span
    url: str | None
    subject: str
    body: str
    type: str
    scope: str | None
    description: str
    breaking: bool
    breaking_note: str | None
    author: str | None
    bot: bool
    co_authors: tuple[tuple[str, bool], ...]  # (name, is a bot) from Co-authored-by trailers
    merge: bool
    merge_guessed: bool  # read as a merge from its subject: the session lists no parents
    when: str | None  # ISO 8601 UTC
    files: tuple[str, ...]
    insertions: int | None
    deletions: int | None
    verified: bool | None  # found in the repository; False: looked up and not found; None: not looked up

    @property
    def area(self) -> str | None:
        """The part of the project an "<area>: <text>" subject names ("net/http"); None for a
        Conventional scope (``feat(cli): ...``) or a subject without one."""
        return self.scope if self.type == "other" else None

    @property
    def size(self) -> int:
        return (self.insertions or 0) + (self.deletions or 0)


@attrs.frozen
class Group:
    key: str
    title: str
    commits: tuple[CommitFact, ...]


@attrs.frozen
class Stats:
    """The numbers every artifact quotes, with display text precomputed so they always agree."""

    commits: int | None
    commits_listed: int
    files_changed: int | None
    lines_added: int | None
    lines_removed: int | None
    duration_minutes: float | None
    duration_estimated: bool  # from commit times (git-hours' way), not declared by the session
    merges: int
    merges_guessed: int  # of ``merges``, read from their subjects (no parents listed)
    commits_text: str | None  # "3 commits (2 listed)"
    files_text: str | None  # "8 files changed"
    lines_text: str | None  # "+450 / -120 lines"
    duration_shown: float | None  # the minutes the texts show (an estimate is rounded)
    duration_text: str | None  # "2 h" (declared) or "about 5 h of work" (estimated)
    work_text: str | None  # "2 h of work" or "about 5 h of work (estimated from commit times)"


@attrs.frozen
class BuildFacts:
    """Everything the build templates may show, computed once from the session (and its repo)."""

    session_id: str
    session_code: str  # the id as a Markdown code span
    date: str
    agent_id: str
    agent_name: str | None
    project: Project
    project_from: str | None  # where the name was found, e.g. "source_data.project (from pyproject.toml)"
    declared_metadata: frozenset[str]  # metadata keys the session gives (else counted from commits)
    rev_range: str | None  # the range collected ("v2.3.0..v2.4.0"), if not all of HEAD
    release: str | None  # "2.4.0" when that range ends at a version (without its "v")
    named: bool  # the project's name is known (else project.name is "Build session <id>")
    repo_name: str | None  # the remote's repository name
    remote_url: str | None  # cleaned, shown only when someone else can clone it
    web_url: str | None
    languages: tuple[Language, ...]
    languages_source: str | None  # "repository" | "changes"
    commits: tuple[CommitFact, ...]  # newest first
    groups: tuple[Group, ...]  # breaking first, then by type; bots and merges left out
    breaking: tuple[CommitFact, ...]
    bot_commits: tuple[CommitFact, ...]
    bot_line: str | None
    merges: tuple[CommitFact, ...]
    authors: tuple[tuple[str, int], ...]  # people (not bots), most commits first
    bots: tuple[tuple[str, int], ...]
    credits_text: str | None  # "Ann (7), Bob (3) and 2 bots"
    stats: Stats
    title: str
    headline: str
    summary: str
    overview: str | None  # the session's summary, first paragraph
    summary_paragraphs: tuple[str, ...]  # all of it
    audience: str | None
    narrative: dict[str, str]  # which session field each piece of narrative came from
    top: CommitFact | None  # the commit the headline came from (None: the session's own highlight)
    problem: str | None
    solution: str | None
    key_achievements: tuple[str, ...]
    deliverables: tuple[str, ...]
    lessons: tuple[Lesson, ...]
    next_steps: tuple[str, ...]
    highlights: tuple[str, ...]
    social_highlights: tuple[str, ...]  # clipped, without the headline
    scopes: tuple[str, ...]  # the scopes most commits name ("parser"), most named first
    tags: tuple[str, ...]
    provenance: tuple[dict[str, str], ...]

    @property
    def many_authors(self) -> bool:
        return len(self.authors) + len(self.bots) > 1


# -- small helpers ---------------------------------------------------------------------------


def md_code(text: str) -> str:
    """``text`` as a Markdown code span that no backtick in it can close early."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"



def _text(value: Any) -> str | None:
    """A non-empty stripped string without bidi controls or control characters, or None."""
    if isinstance(value, str):
        value = INVISIBLE.sub("", value).strip()
        if value:
            return value
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value) if value >= 0 else None


def _texts(value: Any) -> tuple[str, ...]:
    """A list of short texts from what agents write: strings, or objects with a title/name."""
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    out = []
    for item in items:
        if isinstance(item, dict):
            head = _text(item.get("title")) or _text(item.get("name")) or _text(item.get("path"))
            desc = _text(item.get("description")) or _text(item.get("summary"))
            item = f"{head}: {desc}" if head and desc else head or desc
        text = _text(item)
        if text:
            out.append(" ".join(text.split()))
    return tuple(out)


def _lessons(value: Any) -> tuple[Lesson, ...]:
    out = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            title, desc = _text(item.get("title")), _text(item.get("description") or item.get("lesson"))
            if title or desc:
                out.append(Lesson(title, desc))
        elif _text(item):
            out.append(Lesson(None, _text(item)))
    return tuple(out)


def _paragraph(value: Any) -> str | None:
    """The first paragraph of a free-text field, on one line."""
    text = _text(value)
    if not text:
        return None
    return " ".join(re.split(r"\n\s*\n", text, maxsplit=1)[0].split())


def _paragraphs(value: Any, limit: int = 5) -> tuple[str, ...]:
    """The paragraphs of a free-text field, each on one line (at most ``limit``)."""
    text = _text(value)
    if not text:
        return ()
    return tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip())[:limit]


def _first(*candidates: tuple[str, Any]) -> tuple[str | None, Any]:
    """The first ``(where, value)`` with a value: which session field an artifact's text came from."""
    for where, value in candidates:
        if value:
            return where, value
    return None, None


def _duration_text(minutes: float | None) -> str | None:
    if minutes is None or minutes <= 0:
        return None
    total = max(1, round(minutes))
    hours, mins = divmod(total, 60)
    if not hours:
        return f"{mins} min"
    return f"{hours:,} h {mins} min" if mins else f"{hours:,} h"  # "1,139,568 h" like every other number


def _project(session: Any, source: dict[str, Any], meta: dict[str, Any]) -> tuple[Project | None, str | None]:
    """The name the session gives, and which field: the agent's ``project`` (top level or
    metadata), else what ``collect build`` read from the project's metadata (``source_data.project``).
    A name longer than ``MAX_NAME`` is no name: the next is used."""
    for where, value in (("project", session.get("project")), ("metadata.project", meta.get("project"))):
        if usable_name(_text(value)):
            return Project(usable_name(_text(value))), where  # type: ignore[arg-type]
    collected = source.get("project")
    if isinstance(collected, str) and usable_name(_text(collected)):
        return Project(usable_name(_text(collected))), "source_data.project"  # type: ignore[arg-type]
    if isinstance(collected, dict) and usable_name(_text(collected.get("name"))):
        desc, origin = _text(collected.get("description")), _text(collected.get("source"))
        where = f"source_data.project (from {origin})" if origin else "source_data.project"
        return Project(usable_name(_text(collected["name"])), " ".join(desc.split()) if desc else None, origin), where  # type: ignore[arg-type]
    return None, None


_NAMED_RANGE = r"^(?P<a>[\w./+-]{1,50})\.\.\.?(?P<b>[\w./+-]{1,50})$"


def _rev_range(source: dict[str, Any]) -> str | None:
    """The collected range when it names something a reader knows (``v2.3.0..v2.4.0``): not
    ``HEAD~30..HEAD``, which moves, nor two bare hashes."""
    collected = source.get("collected")
    value = _text(collected.get("rev_range")) if isinstance(collected, dict) else None
    match = _re(_NAMED_RANGE).match(value or "")
    if not match or "HEAD" in value or all(re.fullmatch(r"[0-9a-fA-F]{7,40}", match[k]) for k in ("a", "b")):  # type: ignore[operator]
        return None
    return value


_RELEASE = re.compile(r"v?\d+(?:\.\d+)+(?:[-.]?(?:a|b|rc|post|dev)\d*)?")


def _release(rev_range: str | None) -> str | None:
    """"3.1.0" when the collected range ends at a version ("3.0.3..3.1.0", "v3.0.3...v3.1.0"),
    without its "v" (Bluesky's app would take "v3.1.0" for a domain name); else None."""
    end = (rev_range or "").partition("..")[2].lstrip(".")
    return end.removeprefix("v") if _RELEASE.fullmatch(end) else None


def _topics(commits: list[CommitFact], limit: int = 3) -> list[str]:
    """The scopes most changes to the code name (``feat(parser): ...`` is about the parser; a
    ``docs(exceptions)`` commit is not what the session is about), as tags."""
    counts = Counter(c.scope.lower() for c in commits
                     if c.scope and re.match(r"^[\w.-]{1,30}$", c.scope) and (c.breaking or c.type in ("feat", "fix", "perf", "refactor")))
    return [scope for scope, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def language_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if name in _FILENAMES:
        return _FILENAMES[name]
    dot = name.rfind(".")
    return _LANGUAGES.get(name[dot:].lower()) if dot > 0 else None


def languages(paths: list[str]) -> tuple[Language, ...]:
    counts = Counter(lang for lang in map(language_of, paths) if lang)
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(Language(name, n, round(100 * n / total)) for name, n in ranked)


# "<area>: <text>" subjects (Linux's "mm/slub: fix ...", Go's "net/http: add ...", "flywheel-build
# pages: ..."): an area is a path- or package-like token, maybe followed by a word or two
# ("flywheel-publish-web pages"); Linux nests them ("ALSA: hda/realtek: Add quirk ...").
_AREA = re.compile(r"^(?P<area>[A-Za-z0-9][\w.+/-]{0,60}(?: [A-Za-z][\w-]{0,20}){0,2}):[ \t]+(?P<rest>\S.*)$")
# Words that label a subject rather than name a part of the project ("Note: ...", "WIP: ...").
_LABELS = set("""note notes nb ps wip todo fixme xxx hack warning important caution tip hint info update updates release
revert style security breaking minor major typo typos tweak tweaks cleanup summary reason why problem solution result
results status question answer edit re fwd fyi tldr also see example merge merged draft temp tmp changes changed added
removed fixed deprecated feature features improvement improvements enhancement enhancements misc bump version rfc
patch hotfix quickfix followup attention reminder disclaimer refactoring formatting linting oops progress done fixup
squash housekeeping maintenance dependencies cleanups optimization optimizations optimisation optimisations workaround
experimental complete completed finished success deployed""".split())
# A prefix that is not a part of the project: an issue ("gh-12345: ...", CPython; "KAFKA-123: ...",
# Jira), said after the text ("Fix ... (gh-12345)"), or the whole tree ("all: ...", Go;
# "treewide: ...", Linux), left out. The text is the description.
_ISSUE_PREFIX = re.compile(r"^(?:(?:gh|bpo|issue)-?\d+|#\d+|[A-Z][A-Z0-9]+-\d+)$", re.I)
_WHOLE_TREE = re.compile(r"^(?:all|treewide|tree-wide|global)$", re.I)
_PROSE = set("the a an this that these those some any all each every no new more less my our your its their it we i "
             "he she they you one two three".split())
_VERSION_TOKEN = re.compile(r"^v?\d+(?:\.\d+)+\w*$", re.I)


def _area_token(token: str, nested: bool = False) -> bool:
    """A folder, package or module name ("net/http", "flywheel-build", "cli", "README", "KVM"),
    not a label ("Note") nor a version ("v2.0"). A capitalised word ("Bluetooth") is an area only
    before a nested one (``nested``)."""
    if token.lower() in _LABELS or _VERSION_TOKEN.match(token) or token.endswith("."):
        return False
    return (bool(re.search(r"[-_/.+\d]", token)) or token.islower() or re.fullmatch(r"[A-Z]{2,8}", token) is not None
            or (nested and re.fullmatch(r"[A-Z][a-z]+", token) is not None))


def _area_of_subject(subject: str) -> tuple[str | None, str] | None:
    """``(area, text)`` of an "<area>: <text>" subject (``area`` None for "gh-123: Fix X", whose
    text is "Fix X (gh-123)", or "all: ..."), None when it is not one."""
    match = _AREA.match(subject)
    if not match:
        return None
    area, rest = match["area"], match["rest"]
    if _ISSUE_PREFIX.match(area):
        return None, f"{rest} ({area})"
    if _WHOLE_TREE.match(area):
        return None, rest
    words = area.split()
    nested = _AREA.match(rest)
    # "flywheel-publish-web pages", "flywheel run" and the like: the first word is code or a
    # lower-case name, not prose ("Release notes", "fix typo", "the parser").
    if len(words) > 1 and not (_area_token(words[0]) and (re.search(r"[-_/.+\d]", words[0]) or (
            len(words) == 2 and words[0].islower() and words[0] not in _PROSE and not is_verb(words[0])))):
        return None
    if len(words) == 1 and not _area_token(area, nested=bool(nested and " " not in nested["area"] and _area_token(nested["area"]))):
        return None
    areas = [area]
    while nested and " " not in nested["area"] and _area_token(nested["area"], nested=True) and len(areas) < 4:
        areas.append(nested["area"])
        rest = nested["rest"]
        nested = _AREA.match(rest)
    return "/".join(dict.fromkeys(areas)), rest


# Decoration before what a subject says: emoji and gitmoji codes ("🐛 ", ":bug: ", "✅ "), an
# agent's tag ("[Agent-7] "). Left in, "🐛 Fixed import error" was quoted rather than told, and
# "✅ COMPLETE: ..." read as an area named "✅ COMPLETE".
_DECORATION = (r"^(?:(?::[a-z0-9_+-]+:|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\uFE0F\u200D])\s*"
               r"|\[[^\]\n]{1,30}\]\s+)+")


def classify(subject: str, body: str = "") -> tuple[str, str | None, str, bool, str | None]:
    """``(type, scope, description, breaking, breaking_note)`` of a Conventional Commit subject;
    of an "<area>: <text>" subject, ``("other", area, text, ...)`` (its kind is what the text's
    first words say, see :func:`kind_of`). Emoji and a bracketed tag before it are left out."""
    subject = _re(_DECORATION).sub("", subject) or subject
    match = _re(_CC).match(subject)
    note_match = _re(_BREAKING).search(body or "")
    note = " ".join(note_match["note"].split()) if note_match else None
    kind = _ALIASES.get(match["type"].lower(), match["type"].lower()) if match else None
    if kind not in GROUP_TITLES:
        area = _area_of_subject(subject)
        if area is not None:
            return "other", area[0], area[1], bool(note), note
        return "other", None, subject, bool(note), note
    assert match is not None
    desc = match["desc"].strip()
    return kind, (match["scope"] or "").strip() or None, desc, bool(match["bang"] or note), note


def _is_bot(author: str | None, email: str | None) -> bool:
    name = (author or "").strip().lower()
    return (name.endswith("[bot]") or name in _BOTS or re.search(r"\bbot\b", name) is not None  # "pytest bot"
            or (email or "").lower().endswith("[bot]@users.noreply.github.com"))


def clip(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 3:
        cut = cut[:space]
    elif re.match(r"https?://", text, re.I):
        return ""
    return cut.rstrip(" ,;:.-") + "…"


# -- the fact set ----------------------------------------------------------------------------


def _short_length(raw_commits: list[Any]) -> int:
    """Like git's abbreviations: 7 hex digits, more when two of the session's hashes share them."""
    hashes = {" ".join(r["hash"].split()).lower() for r in raw_commits if isinstance(r, dict) and isinstance(r.get("hash"), str)}
    hashes = {h for h in hashes if re.match(r"^[0-9a-f]{8,}$", h)}
    length = 7
    while length < 40 and len({h[:length] for h in hashes}) < len(hashes):
        length += 1
    return length


def _is_merge(raw: dict[str, Any], subject: str, files: tuple[str, ...]) -> tuple[bool, bool]:
    """``(merge, guessed)``: from the parents when listed (``git log`` gives them), else from an
    explicit ``merge`` flag; else a "Merge ..." subject on a commit without changes is read as
    a merge, and the artifacts say it was guessed."""
    parents = raw.get("parents")
    if isinstance(parents, list):
        return len(parents) > 1, False
    if isinstance(raw.get("merge"), bool):
        return raw["merge"], False
    if _re(_MERGE).match(subject) and not files and not _int(raw.get("insertions")) and not _int(raw.get("deletions")):
        return True, True
    return False, False


def commit_hash(raw: Any) -> str | None:
    """A listed commit's hash as the artifacts show it (cleaned of invisible characters)."""
    sha = _text(raw.get("hash")) if isinstance(raw, dict) else None
    return " ".join(sha.split()) if sha else None


def _co_authors(listed: Any, found: dict[str, list[str]], author: str | None) -> tuple[tuple[str, bool], ...]:
    """Co-authors from the session's ``trailers`` and those still in the body, once each."""
    values = list(found.get("Co-authored-by", []))
    if isinstance(listed, dict):
        for key, items in listed.items():
            if isinstance(key, str) and key.lower() == "co-authored-by" and isinstance(items, list):
                values += [v for v in items if isinstance(v, str)]
    seen = {(author or "").casefold()}
    out = []
    for value in values:
        name, email = person_name(_text(value) or "")
        name = " ".join(name.split())
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append((name, _is_bot(name, email)))
    return tuple(out)


def _commit_fact(
    raw: dict[str, Any], base: tuple[str, str] | None, short_length: int = 7, missing: frozenset[str] | None = None
) -> CommitFact | None:
    sha = commit_hash(raw)
    if not sha:
        return None
    subject_full = _text(raw.get("message")) or ""
    lines = subject_full.splitlines()
    # A subject is one line; an agent's 100 KB "subject" is clipped so artifacts stay readable.
    subject = clip(lines[0], _MAX_SUBJECT) if lines else ""
    # The description is cut where a post shows it, at a clause (see ``short_title``), not here.
    described = clip(lines[0], _MAX_DESCRIPTION) if lines else ""
    raw_body = raw.get("body") if isinstance(raw.get("body"), str) and raw["body"].strip() else "\n".join(lines[1:])
    body, trailers = clean_body(raw_body)  # collected bodies are clean already; agents' may not be
    kind, scope, desc, breaking, note = classify(described, body)
    author = _text(raw.get("author"))
    when = parse_when(raw.get("timestamp"))
    files = raw.get("files")
    files = tuple(f for f in files if isinstance(f, str) and f) if isinstance(files, list) else ()
    short = sha[:short_length] if re.match(r"^[0-9a-fA-F]{8,}$", sha) else sha[:12]
    verified = None if missing is None else sha not in missing
    merge, guessed = _is_merge(raw, subject, files)
    return CommitFact(
        hash=sha,
        short=short,
        code=md_code(short),
        # A commit the repository does not have would be a dead link.
        url=commit_url(base, sha) if verified is not False else None,
        subject=subject,
        body=body,
        type=kind,
        scope=scope,
        description=desc,
        breaking=breaking,
        breaking_note=note,
        author=author,
        bot=_is_bot(author, _text(raw.get("email"))),
        co_authors=_co_authors(raw.get("trailers"), trailers, author),
        merge=merge,
        merge_guessed=guessed,
        when=when.isoformat().replace("+00:00", "Z") if when else None,
        files=files,
        insertions=_int(raw.get("insertions")),
        deletions=_int(raw.get("deletions")),
        verified=verified,
    )


def _sorted_newest_first(commits: list[CommitFact]) -> list[CommitFact]:
    """Newest first when every commit has a time; otherwise as listed (stable either way)."""
    if commits and all(c.when for c in commits):
        return sorted(commits, key=lambda c: c.when or "", reverse=True)
    return commits


#: git-hours' rule: commits less than 2 h apart are one stretch of work, and each stretch gets
#: 30 minutes before its first commit (the work that led to it).
STRETCH_GAP_MINUTES = 120
FIRST_COMMIT_MINUTES = 30


def estimate_work_minutes(commits: list[CommitFact]) -> float | None:
    """Working time estimated from commit times, per author and summed (None when no commit has
    a time). Bots and merges are left out: neither is someone's working time."""
    by_author: dict[str, list[datetime]] = {}
    for c in commits:
        when = parse_when(c.when) if c.when and not c.bot and not c.merge else None
        if when:
            by_author.setdefault((c.author or "").casefold(), []).append(when)
    if not by_author:
        return None
    total = 0.0
    for times in by_author.values():
        times.sort()
        total += FIRST_COMMIT_MINUTES
        for before, after in zip(times, times[1:]):
            gap = (after - before).total_seconds() / 60
            total += gap if gap < STRETCH_GAP_MINUTES else FIRST_COMMIT_MINUTES
    return total


def _round_estimate(minutes: float) -> float:
    """To 5 minutes under an hour, 15 under ten hours, whole hours beyond."""
    step = 5 if minutes < 60 else 15 if minutes < 600 else 60
    return max(step, round(minutes / step) * step)


def _stats(session: Any, commits: list[CommitFact]) -> Stats:
    meta = session.metadata if isinstance(session.metadata, dict) else {}
    counted = [c for c in commits if not c.merge]
    declared_files = meta.get("files_changed")
    if isinstance(declared_files, list):
        files: int | None = len({f for f in declared_files if isinstance(f, str)})
    else:
        files = _int(declared_files)
    if files is None and any(c.files for c in counted):
        files = len({f for c in counted for f in c.files})

    def summed(key: str, attr: str) -> int | None:
        declared = _int(meta.get(key))
        if declared is not None:
            return declared
        values = [getattr(c, attr) for c in counted]
        return sum(values) if values and all(v is not None for v in values) else None

    added, removed = summed("lines_added", "insertions"), summed("lines_removed", "deletions")
    total = _int(meta.get("commits"))
    if total is None:
        total = len(commits) if commits else None
    duration = meta.get("duration_minutes")
    duration = float(duration) if _int(duration) is not None else None
    estimated = duration is None
    if estimated:
        duration = estimate_work_minutes(commits)
    commits_text = _plural(total, "commit") if total is not None else None
    if commits_text and total != len(commits) and commits:
        commits_text += f" ({len(commits)} listed)"
    lines_text = None
    if added is not None or removed is not None:
        shown = [f"+{added:,}" if added is not None else "", f"-{removed:,}" if removed is not None else ""]
        lines_text = " / ".join(p for p in shown if p) + " lines"
    # An estimate is not precise to the minute: say it in round figures.
    shown = _round_estimate(duration) if estimated and duration is not None else duration
    length = _duration_text(shown)
    return Stats(
        commits=total,
        commits_listed=len(commits),
        files_changed=files,
        lines_added=added,
        lines_removed=removed,
        duration_minutes=duration,
        duration_estimated=estimated and duration is not None,
        duration_shown=shown,
        merges=sum(c.merge for c in commits),
        merges_guessed=sum(c.merge_guessed for c in commits),
        commits_text=commits_text,
        files_text=_plural(files, "file") + " changed" if files is not None else None,
        lines_text=lines_text,
        duration_text=(f"about {length} of work" if estimated else length) if length else None,
        work_text=(f"about {length} of work (estimated from commit times)" if estimated else f"{length} of work") if length else None,
    )


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {plural or word + 's'}"


def build_facts(session: Any, repo_info: dict[str, Any] | None = None) -> BuildFacts:
    """Compute the fact set from a build ``Session`` and, when the repository is on this
    machine, what was read from it (``project``, ``readme_title``, ``paths``, ``remote_url``,
    ``folder``: its path); ``repo_path``: the session's, before local paths were scrubbed from it."""
    repo_info = repo_info or {}
    source = session.source_data if isinstance(session.source_data, dict) else {}
    meta = session.metadata if isinstance(session.metadata, dict) else {}
    remote = clean_remote(_text(source.get("remote_url"))) or repo_info.get("remote_url")
    base = web_base(remote)
    raw_commits = source.get("git_commits") if isinstance(source.get("git_commits"), list) else []
    unique: dict[str, CommitFact] = {}
    short_length = _short_length(raw_commits)
    missing = repo_info.get("missing")
    missing = frozenset(missing) if missing is not None else None
    for fact in (_commit_fact(r, base, short_length, missing) for r in raw_commits if isinstance(r, dict)):
        if fact:
            unique.setdefault(fact.hash, fact)  # a hash listed twice is one commit; validate warns
    commits = _sorted_newest_first(list(unique.values()))

    # The project's name: the session's own, else its metadata as committed, else its README's
    # title, else its remote's name (what others clone it by), else the last part of its folder
    # (what one machine calls it).
    found, project_from = _project(session, source, meta)
    if found is None:
        head = repo_info.get("project")
        candidates = [
            (head, f"{head.source} at HEAD of the repository" if head else ""),
            (repo_info.get("readme_title"), "the title of the repository's README"),
            (project_from_remote(remote), "source_data.remote_url" if source.get("remote_url") else "the repository's remote"),
            # The path as the session wrote it (``repo_info`` has it before local paths were scrubbed):
            # "/home/alice" must read as a home folder, not as a project called "alice".
            (project_from_path(repo_info.get("repo_path", source.get("repo_path"))), "source_data.repo_path (its last part)"),
            (project_from_path(repo_info.get("folder")), "the repository's folder"),
        ]
        found, project_from = next(((p, w) for p, w in candidates if p and usable_name(p.name)), (None, None))
    has_name = found is not None
    project: Project = found or Project(f"Build session {session.session_id}")
    remote_project = project_from_remote(remote)
    repo_name = remote_project.name if remote_project else None

    bots = tuple(c for c in commits if c.bot)
    merges = tuple(c for c in commits if c.merge and not c.bot)
    human = [c for c in commits if not c.bot and not c.merge]
    breaking = tuple(c for c in human if c.breaking)
    groups = [Group("breaking", "Breaking changes", breaking)] if breaking else []
    for key, title in GROUP_TITLES.items():
        members = tuple(c for c in human if c.type == key and not c.breaking)
        if members:
            groups.append(Group(key, title, members))
    bot_line = None
    if bots:
        names = Counter(c.author or "bot" for c in bots)
        who = ", ".join(f"{name} ({n})" if len(names) > 1 else name for name, n in sorted(names.items()))
        bot_line = f"{_plural(len(bots), 'automated commit')} by {who}"
    authors, bot_credits = _credits(commits)

    stats = _stats(session, commits)
    paths = repo_info.get("paths")
    if paths:
        langs, lang_source = languages(paths), "repository"
    else:
        touched = [f for c in commits for f in c.files]
        listed = meta.get("files_changed") if isinstance(meta.get("files_changed"), list) else []
        extra = source.get("files_changed") if isinstance(source.get("files_changed"), list) else []
        touched += [f for f in listed + extra if isinstance(f, str)]
        langs, lang_source = languages(sorted(set(touched))), "changes"

    # The agent's narrative (source_data first; older sessions wrote it at the top level) comes
    # before anything read from the commits: the agent knows why.
    narrative: dict[str, str] = {}
    where, achievements = _first(
        ("source_data.highlights", _texts(source.get("highlights"))), ("highlights", _texts(session.get("highlights"))),
        ("key_achievements", _texts(session.get("key_achievements"))), ("metadata.achievements", _texts(meta.get("achievements"))),
    )
    achievements = achievements or ()
    if where:
        narrative["highlights"] = where
    # A commit the repository does not have is no one's achievement.
    features = [c for c in human if (c.type == "feat" or c.breaking) and c.verified is not False]
    top = most_significant(human)
    if achievements:
        headline = achievements[0]
    elif top is not None:
        headline = _title_of(top)
    else:
        # Not the commit count: the social post says the numbers right after the headline.
        who = _text(meta.get("agent_name")) or session.agent_id
        headline = "merges and automated updates" if merges or bots else f"work session by {who}" if who else "work session"
    headline = short_title(capitalised(headline)).rstrip(" .") or "Work session"
    where, given_title = _first(("source_data.title", _text(source.get("title"))), ("title", _text(session.get("title"))))
    if where:
        narrative["title"] = where
    # A range that ends at a version ("3.0.3..3.1.0") is that release: "Flask 3.1.0: ...".
    release = _release(_rev_range(source))
    named = f"{project.name} {release}" if release and release not in project.name else project.name
    # "<project>: <headline>" while that stays a title's length; a long name leaves the project
    # to the post's first lines.
    prefixed = f"{named}: {headline}" if has_name else headline
    title = " ".join((given_title or (prefixed if len(prefixed) <= TITLE_CHARS else headline)).split())

    where, paragraphs = _first(
        ("source_data.summary", _paragraphs(source.get("summary"))), ("summary", _paragraphs(session.get("summary"))),
        ("overview", _paragraphs(session.get("overview"))), ("work_summary", _paragraphs(session.get("work_summary"))),
        ("metadata.work_summary", _paragraphs(meta.get("work_summary"))),
    )
    paragraphs = paragraphs or ()
    if where:
        narrative["summary"] = where
    overview = paragraphs[0] if paragraphs else None
    where, lessons = _first(("source_data.lessons", _lessons(source.get("lessons"))), ("lessons", _lessons(session.get("lessons"))))
    if where:
        narrative["lessons"] = where
    where, next_steps = _first(
        ("source_data.next_steps", _texts(source.get("next_steps"))), ("next_steps", _texts(session.get("next_steps"))),
        ("next_goals", _texts(session.get("next_goals"))),
    )
    if where:
        narrative["next_steps"] = where
    where, audience = _first(("source_data.audience", _paragraph(source.get("audience"))), ("audience", _paragraph(session.get("audience"))))
    if where:
        narrative["audience"] = where
    credits_text = _credits_text(authors, bot_credits)
    summary = overview or _generated_summary(session, project if has_name else None, stats, human, credits_text)
    highlights = achievements or tuple(
        capitalised(_said(c)) for c in ([c for c in features if c.breaking] + [c for c in features if not c.breaking])[:5]
    )

    # Tags name the project and what the change is about: its languages and most used scopes.
    tags = ["build"]
    if has_name:
        tags.append(project.name.lower())
    tags += [lang.name.lower() for lang in langs[:3]]
    scopes = _topics(human)
    tags += scopes

    return BuildFacts(
        session_id=session.session_id,
        session_code=md_code(session.session_id),
        date=session.date,
        agent_id=session.agent_id,
        agent_name=_text(meta.get("agent_name")),
        project=project,
        project_from=project_from,
        declared_metadata=frozenset(
            k for k in ("commits", "files_changed", "lines_added", "lines_removed", "duration_minutes")
            if _int(meta.get(k)) is not None or (k == "files_changed" and isinstance(meta.get(k), list))
        ),
        named=has_name,
        rev_range=_rev_range(source),
        release=release,
        repo_name=repo_name,
        remote_url=remote if is_network_remote(remote) and _re(_SAFE_URL).match(remote or "") else None,
        web_url=base[1] if base else None,
        languages=langs,
        languages_source=lang_source if langs else None,
        commits=tuple(commits),
        groups=tuple(groups),
        breaking=breaking,
        bot_commits=bots,
        bot_line=bot_line,
        merges=merges,
        authors=authors,
        bots=bot_credits,
        credits_text=credits_text,
        stats=stats,
        title=title,
        headline=headline,
        summary=summary,
        overview=overview,
        summary_paragraphs=paragraphs,
        audience=audience,
        narrative=narrative,
        top=None if achievements else top,
        problem=_paragraph(session.get("problem")),
        solution=_paragraph(session.get("solution")),
        key_achievements=achievements,
        deliverables=_texts(session.get("deliverables")),
        lessons=lessons or (),
        next_steps=next_steps or (),
        highlights=highlights,
        social_highlights=tuple(
            h for h in (clip(x, 100) for x in highlights if clip(capitalised(x), 120).rstrip(" .") != headline) if h
        )[:3],
        scopes=tuple(scopes),
        tags=tuple(dict.fromkeys(t for t in tags if t)),
        provenance=tuple(
            {"hash": c.hash, "message": c.subject, **({"url": c.url} if c.url else {})} for c in commits
        ),
    )


#: A title longer than this is cut at a clause boundary (" (", ": ", "; ", ", ", " - ").
TITLE_CHARS = 90
_CLAUSE = r" \(| [-–—] |[:;,] "
_PR_REFS = r"(?:\s*\((?:#\d{1,7}(?:,\s*)?)+\))+\s*$"


def short_title(text: str, limit: int = TITLE_CHARS) -> str:
    """A commit subject as a title: without its trailing pull request numbers ("(#123)": the
    post cites the commit) and, when longer than ``limit``, cut at the last clause boundary
    outside brackets and code that leaves at least a third of it; "…" at a word only when
    there is none. Asides in brackets go first: "X (fix, wip) are counted" is cut to "X are
    counted", not to the fragment "X"."""
    text = _re(_PR_REFS).sub("", text) or text
    if len(text) <= limit:
        return text
    text = _without_asides(text)
    if len(text) <= limit:
        return text
    cut = 0
    for i in outside_brackets(text, limit):
        if i >= limit // 3 and _re(_CLAUSE).match(text, i):
            cut = i
    return text[:cut] if cut else clip(text, limit)


def _without_asides(text: str) -> str:
    """``text`` without its " (…)" asides outside code spans (innermost brackets only)."""
    kept, last = [], 0
    for m in _re(r" \([^()`]*\)").finditer(text):
        if text.count("`", 0, m.start()) % 2 == 0:
            kept.append(text[last:m.start()])
            last = m.end()
    return "".join(kept) + text[last:] if kept else text


def outside_brackets(text: str, limit: int) -> Iterator[int]:
    """The positions of ``text[:limit + 1]`` outside brackets and code spans: where a title or
    a lead may be cut."""
    depth, code = 0, False
    for i, ch in enumerate(text[: limit + 1]):
        if not depth and not code:
            yield i
        if ch == "`":
            code = not code
        elif not code and ch in "([{":
            depth += 1
        elif not code and ch in ")]}":
            depth = max(0, depth - 1)


def states(c: CommitFact) -> bool:
    """An "area: text" subject whose text says what is so rather than what was done: its first
    word is a plural or a verb's "-s" ("tags leave out ...", "tests follow ...", "keeps ..."),
    which no past tense tells right ("tagged leave out"): it is told as written."""
    first = (c.description or "").split(" ", 1)[0]
    return bool(c.area) and first.endswith("s") and not first.endswith("ss") and is_verb(first)


def _title_of(c: CommitFact) -> str:
    """The title a commit gives a post: what its author did, in the past tense ("Added a website
    publisher"), with its scope when the clause does not name it; its subject as it is when that
    does not start with a verb ("In flywheel-build, the blog post opens with ..." for an
    "area: text" subject: "flywheel-build: the ..." after the project's name said two colons)."""
    if c.area and c.description:
        desc = short_title(c.description, max(TITLE_CHARS // 2, TITLE_CHARS - len(c.area) - 5))
        return (None if states(c) else clause(desc, kind_of(c), c.area)) or f"In {c.area}, {desc}"
    said = clause(c.description, kind_of(c), c.scope) if c.description else None
    # "Added a feature: plants grow ..." as a title says the same as the subject, longer.
    return _said(c) if said is None or said.startswith("added a feature: ") else said


def _said(c: CommitFact) -> str:
    """A commit's description with its scope, which alone ("one") would lose its context."""
    return f"{c.description} ({c.scope})" if c.scope and c.description else c.description


_PLAIN_WORD = r"^[a-z]+(?=\s|$)"


def capitalised(text: str) -> str:
    """``text`` with its first word capitalised only when it is a plain lower-case word:
    ``add()``, ``iOS`` or ``--verbose`` are identifiers and stay as written."""
    return text[:1].upper() + text[1:] if _re(_PLAIN_WORD).match(text) else text


# Conventional types by weight.
_TIER = {"feat": 4, "removal": 3.5, "fix": 3, "perf": 2, "refactor": 2, "other": 2, "docs": 1, "test": 1, "build": 1, "ci": 1, "chore": 1}
# What a plain subject says it is, by its first words ("Fix crash ...", "Add load_many()").
_SAYS = (
    ("chore", (
        r"(?i)^(?:(?:start|prepare|release|bump|cut|tag|update)\b.{0,20}\bversion\b|release\b|v?\d+\.\d+(?:\.\d+)*\b"
        r"|(?:update )?changelog\b)")),
    ("test", r"(?i)^(?:tests?\b|add(?:ed|s)? (?:a |more )?tests?\b)"),
    ("docs", r"(?i)^(?:docs?\b|document(?:s|ed|ation)?\b|update (?:the )?(?:readme|docs?)\b|fix typos?\b)"),
    # Dropping support for a Python, or removing what was deprecated: what users must act on.
    ("removal", (
        r"(?i)^(?:(?:drop(?:s|ped)?|remove[sd]?)\s+(?:support\b|python\b|pypy\b|node\b|(?:the\s+)?deprecated\b)|deprecat\w*\b)")),
    ("feat", (
        r"(?i)^(?:add|adds|added|implement|implements|implemented|introduce|introduces|support|supports|allow|allows|provide|provides|"
        r"expose|exposes)\b")),
    ("fix", r"(?i)^(?:fix|fixes|fixed|repair|repairs|resolve|resolves|correct|corrects|handle|handles|prevent|prevents)\b"),
    ("refactor", r"(?i)^(?:refactor\w*|tidy|clean(?:s|ed)? up|rename[sd]?|simplif\w*|remove unused)\b"),
)


#: Files that are not the project's code, by kind: tests, continuous integration, documentation
#: (and changelog fragments).
_PATH_KINDS = (
    ("test", (
        r"(?i)(?:^|/)(?:tests?|testing|spec|__tests__|benchmarks?|benches)/|(?:^|/)(?:test_[^/]*|[^/]*_test\.\w+|[^/]*\.(?:test|spec)\.\w+|conftest\.py)$")),
    ("ci", (
        r"(?i)^(?:\.github|\.gitlab|\.circleci|\.buildkite)/|^(?:\.gitlab-ci\.yml|azure-pipelines\.yml|\.travis\.yml|appveyor\.yml)$")),
    ("build", (
        r"(?i)(?:^|/)(?:requirements[^/]*\.(?:txt|in)|requirements/.*|[^/]*\.lock|package-lock\.json|pnpm-lock\.yaml|"
        r"\.pre-commit-config\.yaml|renovate\.json5?)$")),
    ("docs", (
        r"(?i)(?:^|/)(?:docs?|documentation|changelog\.d|changelog|changes|news|newsfragments|\.changeset)/|\.(?:md|rst|adoc)$")),
)


def path_kind(path: str) -> str | None:
    """``test``, ``ci``, ``build`` (dependency pins) or ``docs`` for a file that is not the
    project's code, else None."""
    return next((kind for kind, pattern in _PATH_KINDS if _re(pattern).search(path)), None)


def files_kind(files: tuple[str, ...] | list[str]) -> str | None:
    """What a change touching only ``files`` is when none of them is code: ``test`` (tests,
    maybe with docs), ``ci``, ``build`` (dependencies, maybe with CI) or ``docs``; None when one
    is code or no file is known."""
    kinds = {path_kind(f) for f in files}
    if not kinds or None in kinds:
        return None
    if "test" in kinds:
        return "test"
    return "ci" if kinds == {"ci"} else "build" if kinds <= {"ci", "build"} else "docs"


def kind_of(c: CommitFact) -> str:
    """The kind of change: ``breaking``, the Conventional type, else what a plain subject's (or
    an "area: text" subject's text's) first words say ("Fix crash ..." is a fix, "Release 2.0"
    bookkeeping), else ``other``; a plain subject's "Add ..." that touches only tests, docs or
    CI files is a test, docs or CI change."""
    if c.breaking:
        return "breaking"
    if c.type != "other":
        return c.type
    said = next((kind for kind, pattern in _SAYS if _re(pattern).match(c.description or c.subject)), "other")
    if said in ("feat", "fix", "refactor", "other"):  # dropping a Python is done in CI files: still a removal
        return files_kind(c.files) or said
    return said


def _tier(c: CommitFact) -> int:
    kind = kind_of(c)
    return 5 if kind == "breaking" else _TIER[kind]


def most_significant(commits: list[CommitFact]) -> CommitFact | None:
    """The change a reader should hear about first: breaking > feature > fix > the rest, then the
    bigger change, then the newer one (``commits`` are newest first). Never a commit the
    repository does not have, nor one whose subject says nothing ("fix", "wip")."""
    # "fix", "wip": no title a reader learns anything from.
    candidates = [(i, c) for i, c in enumerate(commits) if c.verified is not False and c.description and not says_nothing(c.description)]
    if not candidates:
        return None
    # Size: lines changed, then files touched (sessions written by hand often list only files).
    return max(candidates, key=lambda ic: (_tier(ic[1]), ic[1].size, len(ic[1].files), -ic[0]))[1]


def _credits(commits: list[CommitFact]) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """``(people, bots)`` with their commit counts, most first: who wrote the commits, co-authors
    included (merges left out: merging someone's work is not writing it)."""
    people: Counter[str] = Counter()
    bots: Counter[str] = Counter()
    for c in commits:
        if c.merge:
            continue
        for name, bot in ([(c.author, c.bot)] if c.author else []) + list(c.co_authors):
            (bots if bot else people)[name] += 1
    order = lambda kv: (-kv[1], kv[0].casefold())  # noqa: E731
    return tuple(sorted(people.items(), key=order)), tuple(sorted(bots.items(), key=order))


_NAMED = 5


def _credits_text(people: tuple[tuple[str, int], ...], bots: tuple[tuple[str, int], ...]) -> str | None:
    """"Ann (7), Bob (3) and 2 bots"; one person alone without a count; at most five names."""
    if not people and not bots:
        return None
    counts = len(people) + len(bots) > 1
    named = people[:_NAMED]
    if len(people) > _NAMED:  # a long tail of one-commit names says little: count them
        named = tuple(p for p in named if p[1] > 1) or named[:1]
    parts = [f"{name} ({n:,})" if counts else name for name, n in named]
    if len(people) > len(named):
        parts.append(_plural(len(people) - len(named), "more person", "more people"))
    if bots:
        parts.append(bots[0][0] if not people and len(bots) == 1 else _plural(len(bots), "bot"))
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _generated_summary(
    session: Any, project: Project | None, stats: Stats, human: list[CommitFact], credits_text: str | None
) -> str:
    """A one-sentence summary from the numbers when the session wrote none (``project`` None:
    the project has no name, and "3 commits to Build session s-1" would read oddly). The
    commits' authors are credited, not the agent that collected them."""
    who = _text(session.metadata.get("agent_name")) if isinstance(session.metadata, dict) else None
    who = who or session.agent_id
    to = f" to {project.name}" if project else ""
    if stats.commits:
        text = _plural(stats.commits, "commit") + to
        if credits_text:
            listed = f"{stats.commits_listed:,} listed" if stats.commits_listed != stats.commits else ""
            text += f" ({listed}, by {credits_text})" if listed else f" by {credits_text}"
    else:
        text = f"{who} worked{' on ' + project.name if project else ''}"
    if stats.duration_text and not stats.duration_estimated:
        text += f" in {stats.duration_text}"
    kinds = Counter(c.type for c in human)
    named = [
        _plural(kinds[k], word, plural)
        for k, word, plural in (("feat", "feature", None), ("fix", "fix", "fixes"), ("perf", "performance change", None))
        if kinds[k]
    ]
    if named:
        listing = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
        text += ", including " + listing
    return text[:1].upper() + text[1:] + "."
