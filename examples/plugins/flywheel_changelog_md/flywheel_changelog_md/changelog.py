"""Conventional Commits to Keep a Changelog sections, and inserting an entry below a marker."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MARKER", "SECTIONS", "parse_commit", "sections_of", "insert_entry"]

MARKER = "<!-- changelog:insert -->"

#: Keep a Changelog's sections, in its order.
SECTIONS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")

#: Conventional Commit type -> section. Types not here (docs, test, chore, ci, build, style)
#: are internal and left out of a changelog written for users.
TYPE_SECTION = {
    "feat": "Added",
    "perf": "Changed",
    "refactor": "Changed",
    "revert": "Changed",
    "deprecate": "Deprecated",
    "remove": "Removed",
    "fix": "Fixed",
    "security": "Security",
    "sec": "Security",
}

_HEADER = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\r\n]*)\))?(?P<breaking>!)?: *(?P<description>\S.*)$")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE: ", re.MULTILINE)
_HASH = re.compile(r"^[0-9a-fA-F]{7,64}$")


def parse_commit(commit: Any) -> dict[str, Any] | None:
    """One change from a ``git_commits`` item, or None when it is not a user-facing Conventional Commit."""
    if not isinstance(commit, dict) or not isinstance(commit.get("message"), str):
        return None
    header, _, body = commit["message"].strip().partition("\n")
    match = _HEADER.match(header.strip())
    if match is None:
        return None
    kind = match["type"].lower()
    scope = (match["scope"] or "").strip()
    section = "Security" if scope.lower() == "security" else TYPE_SECTION.get(kind)
    if section is None:
        return None
    sha = commit.get("hash")
    return {
        "section": section,
        "scope": "" if scope.lower() == "security" else scope,
        "description": match["description"].strip(),
        "breaking": bool(match["breaking"]) or bool(_BREAKING_FOOTER.search(body)),
        "hash": sha[:7].lower() if isinstance(sha, str) and _HASH.match(sha) else "",
    }


def sections_of(commits: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    """``[(section, changes)]`` in Keep a Changelog order, empty sections left out, duplicates once."""
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS}
    seen: set[tuple[str, str, str]] = set()
    for commit in commits if isinstance(commits, list) else []:
        change = parse_commit(commit)
        if change is None:
            continue
        key = (change["section"], change["scope"], change["description"])
        if key not in seen:  # a cherry-picked or re-applied commit is one change
            seen.add(key)
            grouped[change["section"]].append(change)
    return [(name, changes) for name, changes in grouped.items() if changes]


def insert_entry(text: str, session_id: str, entry: str) -> str:
    """``text`` with ``entry`` right below the marker, or replacing this session's earlier entry.

    Each entry sits between comments naming its session, so running a session again
    replaces its entry instead of adding a second one. Raises ValueError without a marker.
    """
    begin, end = f"<!-- changelog:session {session_id} -->", f"<!-- changelog:end {session_id} -->"
    block = f"{begin}\n{entry.strip()}\n{end}\n"
    start = text.find(begin)
    stop = text.find(end, start) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        stop += len(end)
        if text.startswith("\n", stop):
            stop += 1
        return text[:start] + block + text[stop:]
    at = text.find(MARKER)
    if at < 0:
        raise ValueError(f"has no {MARKER} line to insert entries below")
    head, rest = text[: at + len(MARKER)], text[at + len(MARKER) :].lstrip("\n")
    return f"{head}\n\n{block}" + (f"\n{rest}" if rest else "")
