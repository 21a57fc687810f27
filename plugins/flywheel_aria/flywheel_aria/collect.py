"""``flywheel collect aria`` and the life_aria collector (``flywheel_collect_session``): a session from Markdown notes and a folder of screenshots.

Each Markdown file is one conversation entry, or, when it has ``## `` headings, each heading
is one. YAML front matter gives ``timestamp`` (or ``date``), ``source``, ``title``, ``summary``
and ``tags``; without a timestamp the file's modification time is used (UTC).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from flywheel_core import RunContext

__all__ = ["IMAGE_SUFFIXES", "NOTE_SUFFIXES", "build_session", "collect_aria", "collect_from_options", "parse_note"]

NOTE_SUFFIXES = (".md", ".markdown")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _usage(message: str) -> Exception:
    from flywheel_core import UsageError

    return UsageError(message)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _front_matter(path: Path, text: str, warnings: list[str]) -> tuple[dict[str, Any], str]:
    """Split a leading YAML front matter block from the body (python-frontmatter, safe loader).

    Front matter that is not valid YAML, or not a mapping, is left out with a warning naming
    the note: a typo must not stop the collection, nor be published as text.
    """
    import frontmatter
    import yaml

    handler = frontmatter.YAMLHandler()
    if not handler.detect(text):
        return {}, text
    try:
        block, body = handler.split(text)
    except ValueError:
        return {}, text  # no closing line: it was a thematic break, not front matter
    try:
        meta = handler.load(block)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        warnings.append(f"{path}: front matter is not valid YAML{where}: ignored")
        return {}, body
    except (ValueError, OverflowError) as exc:  # YAML-shaped dates no calendar has: 2025-02-30, +25:00
        warnings.append(f"{path}: front matter holds a date that cannot be read ({str(exc)[:80]}): ignored")
        return {}, body
    if meta is None:
        return {}, body
    if not isinstance(meta, dict):
        warnings.append(f"{path}: front matter is not a list of 'key: value' lines: ignored")
        return {}, body
    return {str(key).strip().lower(): value for key, value in meta.items()}, body


def _when(path: Path, value: Any) -> datetime:
    """A front matter ``timestamp``/``date``: YAML gives datetimes and dates, or a string."""
    from flywheel_core import parse_timestamp

    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), timezone.utc)
    else:
        try:
            moment = parse_timestamp(str(value))[0]
        except ValueError as exc:
            raise _usage(f"{path}: front matter timestamp: {exc}") from None
    try:
        moment.astimezone(timezone.utc)  # 0001-01-01T00:00+05:00 is before the year 1 in UTC
    except OverflowError:
        raise _usage(f"{path}: front matter timestamp: {str(value)[:40]!r} is out of range") from None
    return moment


def _text(value: Any) -> str | None:
    """A front matter scalar as one line of text (``title: 1984`` is a number in YAML)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return " ".join(str(value).split()) or None
    return None


def _tags(value: Any) -> list[str]:
    """``tags: [a, b]``, a YAML list, or ``tags: a, b`` as a string."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return []
    return [tag for tag in (_text(item) for item in value) if tag]


def _sections(body: str) -> list[tuple[str | None, str]]:
    """``(heading, text)`` for each ``## `` section; text before the first is a section of its own."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    fenced = False
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((line[3:].strip().rstrip("#").strip() or None, []))
        else:
            sections[-1][1].append(line)
    return [(title, "\n".join(lines).strip()) for title, lines in sections]


def parse_note(path: Path, text: str, mtime: float, warnings: list[str]) -> dict[str, Any]:
    """One Markdown note: its conversation ``entries``, and its ``title``, ``summary`` and ``tags``.

    The title is the front matter ``title``, else the note's leading ``# `` heading.
    """
    meta, body = _front_matter(path, text, warnings)
    stamp = meta.get("timestamp") or meta.get("date")
    when = _when(path, stamp) if stamp else datetime.fromtimestamp(mtime, timezone.utc)
    source = _text(meta.get("source")) or "notes"
    heading = None
    entries = []
    for title, content in _sections(body):
        if title is None:
            # Text before the first heading: a leading "# Title" line names the note.
            first, _, rest = content.partition("\n")
            if first.startswith("# "):
                heading, content = first[2:].strip().rstrip("#").strip() or None, rest.strip()
            title = heading or _text(meta.get("title"))
        if not content and title is None:
            continue
        entry: dict[str, Any] = {"source": source}
        if title:
            entry["title"] = title
        entry["content"] = content
        entry["timestamp"] = _iso(when)
        entry["artifacts"] = []
        entries.append(entry)
    return {
        "entries": entries,
        "title": _text(meta.get("title")) or heading,
        "summary": _text(meta.get("summary")),
        "tags": _tags(meta.get("tags")),
    }


def _files(
    folder: Path, suffixes: tuple[str, ...], warnings: list[str] | None = None, others: list[Path] | None = None
) -> list[Path]:
    """Regular, non-hidden files under ``folder`` with one of ``suffixes``, in a stable order.

    Symlinked folders are not entered. With ``warnings``, a file symlinked from outside ``folder``
    is left out (what it holds is published: a link must not smuggle in a file from elsewhere).
    """
    root = folder.resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in suffixes or not path.is_file():
                if others is not None and not name.startswith(".") and path.suffix.lower() not in suffixes:
                    others.append(path)
                continue
            if warnings is not None and not path.resolve().is_relative_to(root):
                warnings.append(f"{path}: left out: a symlink to a file outside {folder}")
                continue
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when it lies inside it, else absolute (needs media_roots)."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(resolved)


def _changed_since(files: list[Path], since: datetime | None) -> list[Path]:
    """The files modified at or after ``since`` (all of them without it)."""
    if since is None:
        return files
    limit = since.timestamp()
    return [path for path in files if path.stat().st_mtime >= limit]


def build_session(
    notes: Path,
    screenshots: Path | None,
    agent_id: str,
    base: Path,
    title: str | None = None,
    since: datetime | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """A life_aria session document, and warnings for the user (paths flywheel run will refuse).

    The session's ``title`` is ``title`` if given, else the first note's that has one; its
    ``summary`` the first front matter ``summary``; its ``tags`` every note's, once each.
    ``since``: only notes and screenshots modified since then (NothingToCollect when none was;
    new screenshots alone make a session).
    """
    warnings: list[str] = []
    if notes.is_dir():
        files = _files(notes, NOTE_SUFFIXES, warnings)
    elif notes.is_file():
        files = [notes]
    elif notes.exists():  # a FIFO or a device: reading it would wait, or never end
        raise _usage(f"{notes}: not a regular file or a folder; expected Markdown notes")
    else:
        raise _usage(f"{notes}: notes file or folder not found")
    if screenshots is not None and not screenshots.is_dir():
        raise _usage(f"{screenshots}: screenshots folder not found")
    if since is not None:
        files = _changed_since(files, since)
        # New screenshots alone are new work too (a level drawn, a game played): only with no
        # changed note and no changed screenshot is there nothing to collect.
        if not files and not (screenshots is not None and _changed_since(_files(screenshots, IMAGE_SUFFIXES), since)):
            from flywheel_core import NothingToCollect

            what = "note" if screenshots is None else "note or screenshot"
            raise NothingToCollect(f"{notes}: no {what} changed since {_iso(since)}")
    conversations: list[dict[str, Any]] = []
    parsed = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise _usage(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise _usage(f"{path}: cannot be read: {exc.strerror}") from None
        note = parse_note(path, text, path.stat().st_mtime, warnings)
        conversations.extend(note["entries"])
        parsed.append(note)
    if not conversations and since is None:
        raise _usage(f"{notes}: no notes found (Markdown files with text)")
    narrative: dict[str, Any] = {}
    title = title or next((n["title"] for n in parsed if n["title"]), None)
    summary = next((n["summary"] for n in parsed if n["summary"]), None)
    tags = list(dict.fromkeys(tag for n in parsed for tag in n["tags"]))
    for key, value in (("title", title), ("summary", summary), ("tags", tags)):
        if value:
            narrative[key] = value
    images: list[str] = []
    shot_times: list[str] = []
    if screenshots is not None:
        # As for notes: a link named shot.png to ~/.ssh/id_rsa or ../.env is not a screenshot, and
        # its target's name is not written into the session.
        others: list[Path] = []
        shots = _files(screenshots, IMAGE_SUFFIXES, warnings, others)
        others = _changed_since(others, since)
        if others:  # an iPhone's .HEIC, a screen recording: say so rather than drop them unseen
            names = sorted(p.relative_to(screenshots).as_posix() for p in others)
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            warnings.append(f"{screenshots}: {len(names)} file(s) left out, not PNG, JPEG, WebP or GIF: {shown}")
        for path in _changed_since(shots, since):
            name = _relative(path, base)
            if os.path.isabs(name):
                warnings.append(
                    f"{name} is outside {base}: add its folder to media_roots in flywheel.toml "
                    "or flywheel run will leave it out"
                )
            images.append(name)
            shot_times.append(_iso(datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)))
    if not conversations and not images:
        raise _usage(f"{notes}: no notes found (Markdown files with text)")
    # The latest note, else (only screenshots changed) the latest screenshot.
    latest = max((c["timestamp"] for c in conversations), default=None) or max(shot_times)
    digest = hashlib.sha256(
        json.dumps(
            [agent_id, narrative, conversations, images], sort_keys=True, ensure_ascii=False
        ).encode()
    ).hexdigest()[:10]
    session = {
        "session_id": f"aria-{latest[:10]}-{digest}",
        "session_type": "life_aria",
        "timestamp": latest,
        "agent_id": agent_id,
        **narrative,
        "metadata": {"artifacts_created": 0, "screenshots_taken": len(images)},
        "source_data": {"conversations": conversations, "screenshots": images},
        "artifacts": {},
        "pipeline_status": {"life_aria_artifact": "pending"},
    }
    return session, warnings


def collect_aria(
    notes: Annotated[
        Path,
        typer.Option(
            "--notes",
            help="A Markdown file, or a folder of them (each file or '## ' heading is an entry).",
            show_default=False,
        ),
    ],
    screenshots: Annotated[
        Optional[Path],
        typer.Option("--screenshots", help="A folder of PNG/JPEG/WebP/GIF screenshots."),
    ] = None,
    agent_id: Annotated[
        str, typer.Option("--agent-id", help="The agent_id of the session.")
    ] = "aria",
    title: Annotated[
        Optional[str],
        typer.Option(
            "--title", help="The devlog's title (default: the first note's title or '# ' heading)."
        ),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", help="Write the session here (default: print it).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Write a life_aria work_session.json from Markdown notes and a folder of screenshots."""
    from flywheel_core import collect_session, emit_session

    options = {"notes": str(notes), "screenshots": str(screenshots) if screenshots is not None else None,
               "agent_id": agent_id, "title": title}
    collected = collect_session("life_aria", options, session_path=output)
    for problem in collected.problems:
        print(f"flywheel: warning: {problem.message}", file=sys.stderr)
    session = collected.document
    emit_session(session, output)
    if output is None:
        return
    entries = len(session["source_data"]["conversations"])
    shots = len(session["source_data"]["screenshots"])
    print(
        f"wrote {output} ({entries} entr{'y' if entries == 1 else 'ies'}, {shots} screenshot{'s' if shots != 1 else ''})"
    )


#: ``flywheel end`` options kept at the top of a life_aria session, under these names.
_NARRATIVE = {"summary": "summary", "lessons": "lessons", "next_steps": "next_steps", "highlights": "key_achievements"}


def collect_from_options(options: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """A life_aria session from ``flywheel_collect_session`` options: ``notes`` (required),
    ``screenshots``, ``agent_id`` (default ``aria``), ``title``, ``since`` (ISO 8601: only notes
    and screenshots changed since), and ``summary``, ``lessons``, ``next_steps``, ``highlights``
    (kept as ``key_achievements``). Screenshot paths are relative to ``ctx.session_dir``."""
    from flywheel_core import parse_timestamp

    if not options.get("notes"):
        raise _usage("a life_aria session is collected from notes: pass --notes FILE_OR_FOLDER")
    agent_id = options.get("agent_id")
    agent_id = "aria" if agent_id is None else str(agent_id)
    if not agent_id.strip():
        raise _usage("--agent-id must not be empty")
    title = options.get("title")
    title = " ".join(str(title).split()) if title else None
    since = None
    if options.get("since"):
        try:
            since = parse_timestamp(str(options["since"]))[0]
        except ValueError:
            raise _usage(f"--since {options['since']!r}: a life_aria session takes an ISO 8601 time "
                         "(e.g. 2025-12-02T05:20:00Z)") from None
    shots = Path(str(options["screenshots"])) if options.get("screenshots") else None
    session, warnings = build_session(Path(str(options["notes"])), shots, agent_id.strip(), ctx.session_dir, title, since)
    for warning in warnings:
        ctx.warn(warning)
    for key, field in _NARRATIVE.items():
        value = options.get(key)
        if isinstance(value, str) and value.strip():
            session[field] = value.strip()
        elif isinstance(value, (list, tuple)) and any(str(v).strip() for v in value):
            session[field] = [str(v).strip() for v in value if str(v).strip()]
    return session
