"""Local paths out of published text: any absolute path of any system becomes its file name.

An artifact is published, a local path is not: ``D:/games/SpaceExplorer`` names a machine's
folders and ``/home/alice/...`` its user. Session text is untrusted and may hold such paths
anywhere (prose, code, commit messages, file lists, link targets), so the session plugins
render from ``scrub_session(session)``, or pass each string through ``scrub_paths``. A path
becomes its last part (``SpaceExplorer``), which is what a reader can use; a home folder
itself becomes ``~``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from flywheel_core.models import Session

__all__ = ["display_name", "scrub_paths", "scrub_session", "scrub_tree"]

# What may follow in a path: not space, quotes, brackets or Markdown link syntax.
_PART = r"[^\s\"'`<>()\[\]{}|*?,;]"
# Each alternative says what may come before it only where a URL or a word must be told
# apart from a path: whatever else precedes a path (a backslash, a colon, a bracket) does not
# make it any less local.
_LOCAL_PATH = re.compile(
    "|".join(
        [
            rf"file:[\\/]{_PART}*",  # file:///home/a/b, file://server/share/x
            rf"[A-Za-z]:\\{_PART}*",  # C:\Users\a
            rf"(?<![A-Za-z])[A-Za-z]:/(?!/){_PART}*",  # D:/games/x (not the "s:/" of "https://")
            # \\?\UNC\server\share, \\?\C:\Users\a: Win32's long-path forms of the two below
            rf"(?:\\\\|//)\?[\\/](?:UNC[\\/])?{_PART}*",
            rf"(?<![:/])(?:\\\\|//)[\w.$-]+[\\/]{_PART}*",  # \\server\share, //server/share
            rf"~(?:[A-Za-z][\w.-]*)?[\\/]{_PART}*",  # ~/notes, ~alice/x (not ~5/10)
            # /a/b (two parts or more: "km/h" and "and/or" are preceded by a letter, "./a/b"
            # is relative), and a single part when it is a system root (/home, /tmp, ...).
            rf"(?<![\w./~])/(?!/){_PART}+?/{_PART}*",
            r"(?<![\w./~])/(?:home|Users|root|tmp|var|etc|opt|srv|mnt|media|usr|Volumes|private)\b",
        ]
    ),
    re.IGNORECASE,
)
_HOME = re.compile(
    r"^(?:file:/*)?(?:/home/[^/]+|/Users/[^/]+|/root|/var/home/[^/]+|~[\w.-]*"
    r"|[A-Za-z]:[\\/](?:Users|Documents and Settings)[\\/][^\\/]+)[\\/]*$",
    re.IGNORECASE,
)
_TRAILING = ".:!?"  # sentence punctuation after a path is not part of it


def display_name(path: str) -> str:
    """The last part of a path, whichever separator it uses (``~`` for a home folder)."""
    if _HOME.match(path):
        return "~"
    parts = [p for p in re.split(r"[\\/]+", path) if p]
    name = parts[-1] if parts else ""
    return "" if re.fullmatch(r"[A-Za-z]:|file:", name, re.IGNORECASE) else name


def _replace(match: re.Match[str]) -> str:
    path = match.group()
    kept = len(path.rstrip(_TRAILING))
    return display_name(path[:kept]) + path[kept:]


def scrub_paths(text: str) -> str:
    """``text`` with every absolute local path replaced by its display name."""
    if "/" not in text and "\\" not in text:
        return text  # every form of path above has a separator: most strings of a session have none
    # Twice: a replacement may complete a path with what followed ("/a/~/b" -> "~/b").
    for _ in range(2):
        text = _LOCAL_PATH.sub(_replace, text)
    return text


def scrub_tree(value: Any) -> Any:
    """A copy of JSON-like data with ``scrub_paths`` applied to every string in it (keys too)."""
    if isinstance(value, str):
        return scrub_paths(value)
    if isinstance(value, dict):
        return {scrub_tree(k): scrub_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_tree(v) for v in value]
    return value


def scrub_session(session: Session) -> Session:
    """A copy of ``session`` to render from: ``scrub_tree`` applied to every field a generator
    may show (``agent_id``, ``metadata``, ``source_data`` and the unknown top-level fields).

    Read what a path points at (a repository, an image) from the original session."""
    return attrs.evolve(
        session,
        agent_id=scrub_paths(session.agent_id),
        metadata=scrub_tree(session.metadata),
        source_data=scrub_tree(session.source_data),
        extra=scrub_tree(session.extra),
    )
