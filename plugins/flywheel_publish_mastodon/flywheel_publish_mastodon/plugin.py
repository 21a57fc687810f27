"""The hookimpls of the ``mastodon`` target (light: the HTTP work is imported on use)."""

from __future__ import annotations

from typing import Any

from flywheel_core import hookimpl

__all__ = ["CONFIG_SCHEMA", "flywheel_publish", "flywheel_targets"]

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["instance", "token"],
    "properties": {
        "instance": {
            "type": "string",
            "pattern": r"^https?://[^/?#@\s]+/?$",
            "x-error": "must be the server's address, e.g. https://mastodon.social",
            "description": "The Mastodon server the account lives on.",
        },
        # Kept free of patterns: a validation message must never quote the token.
        "token": {"type": "string", "minLength": 1, "description": 'An access token: {"$env" = "MASTODON_TOKEN"}.'},
        "visibility": {"enum": ["public", "unlisted", "private", "direct"], "default": "public"},
        "language": {"type": "string", "pattern": "^[a-z]{2,3}$", "x-error": "must be an ISO 639 code such as en"},
        "spoiler_text": {"type": "string", "maxLength": 500, "description": "A content warning shown before every post."},
        "sensitive": {"type": "boolean", "default": False, "description": "Mark images as sensitive."},
        "max_characters": {"type": "integer", "minimum": 1, "default": 500},
        "media_wait_seconds": {"type": "number", "minimum": 0, "default": 60},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "default": 30},
    },
    "additionalProperties": False,
}


@hookimpl
def flywheel_targets():
    from flywheel_core import Target

    return [
        Target(
            "mastodon",
            "Post each session's social post to a Mastodon account (threads and images), exactly once.",
            CONFIG_SCHEMA,
            kinds=("social_post",),
        )
    ]


@hookimpl
def flywheel_publish(target, items, config, ctx):
    if target != "mastodon":
        return None
    from flywheel_publish_mastodon.publisher import publish

    return publish(items, config, ctx)
