"""``flywheel collect aria``: a life_aria session from Markdown notes and a folder of screenshots.

Each Markdown file is one conversation entry, or, when it has ``## `` headings, each heading
is one. A front matter block (``---`` lines around ``key: value`` lines) gives ``timestamp``
(or ``date``), ``source`` and ``title``; without a timestamp the file's modification time is
used (UTC).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

__all__ = ["IMAGE_SUFFIXES", "NOTE_SUFFIXES", "build_session", "collect_aria", "parse_note"]

NOTE_SUFFIXES = (".md", ".markdown")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _usage(message: str) -> Exception:
    from flywheel_core import UsageError

    return UsageError(message)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split a leading ``---`` block of ``key: value`` lines from the body."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return {}, text  # no closing line: it was a thematic break, not front matter
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "#")):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            meta[key.strip().lower()] = value
    return meta, "\n".join(lines[end + 1 :])


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


def parse_note(path: Path, text: str, mtime: float) -> list[dict[str, Any]]:
    """The conversation entries of one Markdown note."""
    from flywheel_core import parse_timestamp

    meta, body = _front_matter(text)
    stamp = meta.get("timestamp") or meta.get("date")
    if stamp:
        try:
            when = parse_timestamp(stamp)[0]
        except ValueError as exc:
            raise _usage(f"{path}: front matter timestamp: {exc}") from None
    else:
        when = datetime.fromtimestamp(mtime, timezone.utc)
    source = meta.get("source") or "notes"
    entries = []
    for title, content in _sections(body):
        if title is None:
            # Text before the first heading: a leading "# Title" line names the note.
            first, _, rest = content.partition("\n")
            if first.startswith("# "):
                title, content = first[2:].strip() or None, rest.strip()
            title = title or meta.get("title") or None
        if not content and title is None:
            continue
        entry: dict[str, Any] = {"source": source}
        if title:
            entry["title"] = title
        entry["content"] = content
        entry["timestamp"] = _iso(when)
        entry["artifacts"] = []
        entries.append(entry)
    return entries


def _files(folder: Path, suffixes: tuple[str, ...], warnings: list[str] | None = None) -> list[Path]:
    """Regular, non-hidden files under ``folder`` with one of ``suffixes``, in a stable order.

    Symlinked folders are not entered. With ``warnings``, a file symlinked from outside ``folder``
    is left out (a note is published: a link must not smuggle in a file from elsewhere).
    """
    root = folder.resolve()
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in suffixes or not path.is_file():
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


def build_session(
    notes: Path, screenshots: Path | None, agent_id: str, base: Path
) -> tuple[dict[str, Any], list[str]]:
    """A life_aria session document, and warnings for the user (paths flywheel run will refuse)."""
    warnings: list[str] = []
    if notes.is_dir():
        files = _files(notes, NOTE_SUFFIXES, warnings)
    elif notes.is_file():
        files = [notes]
    else:
        raise _usage(f"{notes}: notes file or folder not found")
    conversations: list[dict[str, Any]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise _usage(f"{path}: not UTF-8 text") from None
        except OSError as exc:
            raise _usage(f"{path}: cannot be read: {exc.strerror}") from None
        conversations.extend(parse_note(path, text, path.stat().st_mtime))
    if not conversations:
        raise _usage(f"{notes}: no notes found (Markdown files with text)")
    images: list[str] = []
    if screenshots is not None:
        if not screenshots.is_dir():
            raise _usage(f"{screenshots}: screenshots folder not found")
        for path in _files(screenshots, IMAGE_SUFFIXES):
            name = _relative(path, base)
            if os.path.isabs(name):
                warnings.append(
                    f"{name} is outside {base}: add its folder to media_roots in flywheel.toml "
                    "or flywheel run will leave it out"
                )
            images.append(name)
    latest = max(conversations, key=lambda c: c["timestamp"])["timestamp"]
    digest = hashlib.sha256(
        json.dumps([agent_id, conversations, images], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:10]
    session = {
        "session_id": f"aria-{latest[:10]}-{digest}",
        "session_type": "life_aria",
        "timestamp": latest,
        "agent_id": agent_id,
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
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", help="Write the session here (default: print it).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Write a life_aria work_session.json from Markdown notes and a folder of screenshots."""
    from flywheel_core import emit_session

    if not agent_id.strip():
        raise _usage("--agent-id must not be empty")
    base = (output.parent if output is not None else Path.cwd()).resolve()
    session, warnings = build_session(notes, screenshots, agent_id.strip(), base)
    for warning in warnings:
        print(f"flywheel: warning: {warning}", file=sys.stderr)
    emit_session(session, output)
    if output is None:
        return
    entries = len(session["source_data"]["conversations"])
    shots = len(session["source_data"]["screenshots"])
    print(
        f"wrote {output} ({entries} entr{'y' if entries == 1 else 'ies'}, {shots} screenshot{'s' if shots != 1 else ''})"
    )
