"""The JSON Schema fragment of a build session: ``metadata`` counts and ``source_data`` commits."""

from __future__ import annotations

from typing import Any

__all__ = ["BUILD_SCHEMA", "COMMIT_SCHEMA", "NARRATIVE"]

#: A count of commits, files or lines; the ceiling refuses what no session holds (metadata.commits
#: 10**30 was published as "1,000,000,000,000,000,000,000,000,000,000 commits").
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 10**12}
_TEXT: dict[str, Any] = {"type": ["string", "null"]}
_PATHS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
#: Ceilings of the agent's prose, in characters, far past any real session: a 50 MB summary was
#: published as a 50 MB blog post. A line (a title), a paragraph (a highlight), prose (a summary),
#: and how many items a list holds.
LINE, PARAGRAPH, PROSE, ITEMS = 1_000, 10_000, 100_000, 1_000
_LINE: dict[str, Any] = {**_TEXT, "maxLength": LINE}
_PROSE: dict[str, Any] = {**_TEXT, "maxLength": PROSE}

#: One entry of ``source_data.git_commits``; only ``hash`` is required, extra fields are kept.
COMMIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["hash"],
    "properties": {
        "hash": {"type": "string", "pattern": r"\S", "x-error": "must be a non-empty commit hash"},
        "parents": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Parent commit hashes; two or more make a merge. Without them, `merge` says so, "
            "else a 'Merge ...' subject on a commit with no changes is read as a merge (the artifacts say so).",
        },
        "message": {**_TEXT, "description": "The subject line (a longer message's first line is used)."},
        "body": {
            **_TEXT,
            "description": "The message after the subject: what changed and why. `collect build` strips invisible "
            "characters, moves credit trailers to `trailers` and cuts it at 4,000 characters.",
        },
        "trailers": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Credit trailers by key (Co-authored-by, Signed-off-by, Reviewed-by, ...). "
            "Co-authors are credited as authors.",
        },
        "author": _TEXT,
        "email": _TEXT,
        "timestamp": {**_TEXT, "description": "ISO 8601; null when git shows no readable date."},
        "files": _PATHS,
        "insertions": _COUNT,
        "deletions": _COUNT,
        "merge": {"type": "boolean"},
    },
}

_TEXTS: dict[str, Any] = {"type": "array", "maxItems": ITEMS, "items": {"type": "string", "maxLength": PARAGRAPH}}
_PARAGRAPH: dict[str, Any] = {**_TEXT, "maxLength": PARAGRAPH}

#: The agent's own account of the session (``collect build --title/--summary/--highlight/
#: --lesson/--next/--audience`` writes them). Artifacts use these first and fall back to what
#: the commits say; nothing is made up when they are missing.
NARRATIVE: dict[str, Any] = {
    "title": {**_LINE, "description": "The blog post's title (default: the project and its most significant change)."},
    "summary": {
        **_PROSE,
        "description": "What changed for the project's users and why, in prose; the post opens with it "
        "(paragraphs separated by a blank line). Default: the body of the most significant commit.",
    },
    "highlights": {**_TEXTS, "description": "The session's highlights, most important first; the first is the headline of the social posts."},
    "lessons": {
        "type": "array",
        "maxItems": ITEMS,
        "items": {"anyOf": [{"type": "string", "maxLength": PARAGRAPH},
                            {"type": "object", "properties": {"title": _LINE, "description": _PARAGRAPH}}]},
        "description": "What was learned: text, or {title, description}.",
    },
    "next_steps": {**_TEXTS, "description": "What comes next; the post's last section (left out when not given)."},
    "audience": {**_LINE, "description": "Who the post is for, e.g. 'users of the CLI'; shown under the title."},
}


BUILD_SCHEMA: dict[str, Any] = {
    "properties": {
        # The artifacts read the narrative at the top level too, when source_data lacks it.
        # No "type" here: maxLength binds only a string, maxItems only a list (they are read leniently).
        **{key: {"maxLength": LINE if key in ("title", "audience") else PROSE, "maxItems": ITEMS,
                 "items": {"maxLength": PARAGRAPH, "properties": {"title": {"maxLength": LINE},
                                                                 "description": {"maxLength": PARAGRAPH}}}}
           for key in NARRATIVE},
        "metadata": {
            "type": "object",
            "properties": {
                "commits": _COUNT,
                # Agents in the wild write either a count or the list of paths.
                "files_changed": {"anyOf": [_COUNT, _PATHS]},
                "lines_added": _COUNT,
                "lines_removed": _COUNT,
            },
        },
        "source_data": {
            "type": "object",
            "properties": {
                "repo_path": _TEXT,
                "remote_url": _TEXT,
                "project": {
                    "description": "The project's name (and description, and where it was read), from its "
                    "pyproject.toml, package.json, Cargo.toml or setup.cfg, else its remote's name.",
                    "anyOf": [
                        {"type": "string"},
                        {"type": "object", "properties": {"name": {"type": "string"}, "description": _TEXT, "source": _TEXT}},
                    ],
                },
                "git_commits": {"type": "array", "items": COMMIT_SCHEMA},
                "files_changed": {"anyOf": [_COUNT, _PATHS]},
                **NARRATIVE,
            },
        },
    },
}
