"""JSON Schemas of the life_aria session fragment and of the ``[plugins.aria]`` config table."""

from __future__ import annotations

from typing import Any

__all__ = ["CONFIG_DEFAULTS", "CONFIG_SCHEMA", "SESSION_SCHEMA"]

#: Ceilings of the session's prose, in characters, far past any real session: a 50 MB overview
#: or conversation was published as a 50 MB devlog. A line (a title), a paragraph (a list item,
#: a caption), prose (an overview, a conversation), and how many items a list holds.
LINE, PARAGRAPH, PROSE, ITEMS = 1_000, 10_000, 100_000, 1_000

_PARAGRAPH = {"type": "string", "maxLength": PARAGRAPH}
_TEXT_ITEMS = {
    "description": "A string, or a list of strings or {title, description} objects.",
    "anyOf": [
        {"type": "string", "maxLength": PROSE},
        {"type": "array", "maxItems": ITEMS, "items": {"anyOf": [
            _PARAGRAPH,
            {"type": "object", "properties": {"title": {"type": "string", "maxLength": LINE}, "description": _PARAGRAPH}},
        ]}},
    ],
}

_CREATED = {
    "type": "object",
    "description": "Something made in the session (a game, a site, a drawing).",
    "properties": {
        "type": {"type": "string"},
        "name": {"type": "string"},
        "path": {"type": ["string", "null"]},
        "technologies": {"type": "array", "items": {"type": "string"}},
        "url": {"type": ["string", "null"]},
    },
}

_CONVERSATION = {
    "type": "object",
    "properties": {
        "source": {"type": "string", "maxLength": LINE, "description": "Who spoke or wrote it (aria, notes, ...)."},
        # A notes file is long (the devlog shows its first NOTE_CHARS, saying it was trimmed): the
        # ceiling is ten times that of other prose.
        "content": {"type": "string", "maxLength": 10 * PROSE},
        "timestamp": {
            "type": "string",
            "format": "flywheel-timestamp",
            "x-error": "must be an ISO 8601 timestamp such as 2025-12-02T03:00:00Z",
        },
        "title": {"type": "string", "maxLength": LINE},
        "artifacts": {"type": "array", "items": _CREATED},
    },
}

_SCREENSHOT = {
    "description": "A path relative to the session file (or inside a media root), or "
    "{path, caption, alt}.",
    "anyOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "required": ["path"],
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "caption": {**_PARAGRAPH, "description": "Shown under the picture."},
                "alt": {
                    **_PARAGRAPH,
                    "description": "What the picture shows, for people who cannot see it "
                    "(`description` is read too); default: the caption, else the file name.",
                },
                "description": _PARAGRAPH,
            },
        },
    ],
}

SESSION_SCHEMA: dict[str, Any] = {
    "properties": {
        "metadata": {
            "type": "object",
            "properties": {
                "artifacts_created": {"type": "integer", "minimum": 0},
                "screenshots_taken": {"type": "integer", "minimum": 0},
            },
        },
        "source_data": {
            "type": "object",
            "properties": {
                "conversations": {"type": "array", "maxItems": 10 * ITEMS, "items": _CONVERSATION},
                "screenshots": {"type": "array", "items": _SCREENSHOT},
            },
        },
        "title": {"type": "string", "maxLength": LINE, "description": "The devlog's title."},
        "summary": {
            "type": "string",
            "maxLength": PROSE,
            "description": "One or two sentences: what the session made (the devlog's opening line).",
        },
        "tags": {
            "description": "Topics: a list of strings, or one string of comma-separated tags.",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "overview": {"type": "string", "maxLength": PROSE},
        "problem": {"type": "string", "maxLength": PROSE},
        "solution": {"type": "string", "maxLength": PROSE},
        "lessons": _TEXT_ITEMS,
        "next_steps": _TEXT_ITEMS,
        "key_achievements": _TEXT_ITEMS,
    },
}

CONFIG_DEFAULTS: dict[str, Any] = {
    "max_image_bytes": 20 * 1024 * 1024,
    "max_pixels": 50_000_000,
    "thumbnail_px": 480,
    "quote_chars": 600,
    "max_screenshots": 100,
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_image_bytes": {
            "type": "integer",
            "minimum": 1,
            "description": "Screenshots larger than this are left out (default 20 MiB).",
        },
        "max_pixels": {
            "type": "integer",
            "minimum": 1,
            # Pillow itself refuses images past about 89 million pixels as decompression bombs.
            "maximum": 89_000_000,
            "description": "Screenshots with more pixels than this are left out (default 50 million).",
        },
        "thumbnail_px": {
            "type": "integer",
            "minimum": 16,
            "maximum": 4096,
            "description": "Longest side of gallery thumbnails (default 480).",
        },
        "max_screenshots": {
            "type": "integer",
            "minimum": 0,
            "description": "Screenshots past this many are left out, bounding memory and time (default 100).",
        },
        "quote_chars": {
            "type": "integer",
            "minimum": 80,
            "description": "Conversation highlights longer than this are trimmed at a block or "
            "sentence end (default 600).",
        },
    },
    "additionalProperties": False,
}
