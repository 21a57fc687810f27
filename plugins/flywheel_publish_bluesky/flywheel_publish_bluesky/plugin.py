"""The hookimpls of the ``bluesky`` target (light: the HTTP work is imported on use)."""

from __future__ import annotations

from typing import Any

from flywheel_core import hookimpl

__all__ = ["CONFIG_SCHEMA", "flywheel_publish", "flywheel_targets"]

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["handle", "app_password"],
    "properties": {
        "service": {
            "type": "string",
            "pattern": r"^https?://[^/?#@\s]+/?$",
            "default": "https://bsky.social",
            "x-error": "must be the PDS's address, e.g. https://bsky.social",
        },
        "handle": {
            "type": "string",
            "pattern": r"^\S{1,253}$",
            "x-error": "must be your handle (you.bsky.social), your DID or your account's e-mail address",
        },
        # Kept free of patterns: a validation message must never quote the password.
        "app_password": {"type": "string", "minLength": 1,
                         "description": 'An app password: {"$env" = "BLUESKY_APP_PASSWORD"}.'},
        "language": {"type": "string", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                     "x-error": "must be a BCP 47 language code such as en or pt-BR"},
        "link_card": {"type": "boolean", "default": True,
                      "description": "Show the post's page as a link card (app.bsky.embed.external)."},
        "app_url": {"type": "string", "pattern": "^https?://", "default": "https://bsky.app",
                    "description": "Where receipts link to: {app_url}/profile/{did}/post/{rkey}."},
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "default": 30},
    },
    "additionalProperties": False,
}


@hookimpl
def flywheel_targets():
    from flywheel_core import Target

    return [
        Target(
            "bluesky",
            "Post each session's social post to Bluesky (facets, link card, images, threads), exactly once.",
            CONFIG_SCHEMA,
            kinds=("social_post",),
        )
    ]


@hookimpl
def flywheel_publish(target, items, config, ctx):
    if target != "bluesky":
        return None
    from flywheel_publish_bluesky.publisher import publish

    return publish(items, config, ctx)
