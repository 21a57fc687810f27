"""The hookimpls of the ``github`` target (light: the git and HTTP work is imported on use)."""

from __future__ import annotations

from typing import Any

from flywheel_core import hookimpl

__all__ = ["CONFIG_SCHEMA", "flywheel_publish", "flywheel_targets"]

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["remote"],
    "properties": {
        "remote": {
            "type": "string",
            "minLength": 1,
            # Not an option to git, nor a transport that runs a command (git refuses ext:: and fd::
            # by default: the target would fail on every retry, never publish).
            "pattern": "^(?!-)(?!(ext|fd)::)",
            "x-error": "must be a URL or a path, not starting with '-' nor a command transport (ext::, fd::)",
            "description": "https://github.com/owner/repo.git, an ssh URL, or a local path to a git repository.",
        },
        "branch": {
            "type": "string",
            "pattern": r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)(?!/)(?!.*\.lock$)[A-Za-z0-9._/-]{1,200}(?<![/.])$",
            "default": "main",
            "x-error": "must be a git branch name (letters, digits, '.', '_', '/', '-'; not starting with '-')",
        },
        "path_template": {
            "type": "string",
            "minLength": 1,
            "default": "sessions/{session_type}/{date}/{session_id}/{kind}.{ext}",
        },
        "readme_path": {"type": "string", "minLength": 1},
        "commit_message": {"type": "string", "minLength": 1},
        "author_name": {"type": "string", "pattern": r"^[^<>\n]+$", "x-error": "must be a name without '<', '>'"},
        "author_email": {"type": "string", "pattern": r"^[^<>\s]+$", "x-error": "must be an address without '<', '>', spaces"},
        "release": {"type": "boolean", "default": False},
        "release_kind": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$", "default": "build_log"},
        "tag_template": {"type": "string", "minLength": 1, "default": "flywheel-{session_id}"},
        "repository": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", "x-error": "must be owner/name"},
        "api_url": {"type": "string", "pattern": "^https?://", "default": "https://api.github.com",
                    "x-error": "must be an http(s) URL"},
        "rate_limit_max_wait": {"type": "number", "minimum": 0, "default": 60},
        "token": {
            "type": "string",
            "minLength": 1,
            "x-env": ["FLYWHEEL_GITHUB_TOKEN", "GITHUB_TOKEN"],
            "description": 'A token that may push (and create releases): {"$env" = "GITHUB_TOKEN"}. Unset: flywheel '
                           "reads FLYWHEEL_GITHUB_TOKEN, else GITHUB_TOKEN.",
        },
        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 60,
                    "description": "Seconds a git network command (ls-remote, fetch, push) may take before the batch "
                                   "fails and is retried later."},
    },
    "additionalProperties": False,
}


@hookimpl
def flywheel_targets():
    from flywheel_core import Target

    return [
        Target(
            "github",
            "Commit artifacts to a git repository (GitHub or any remote); optionally a GitHub Release per build.",
            CONFIG_SCHEMA,
        )
    ]


@hookimpl
def flywheel_publish(target, items, config, ctx):
    if target != "github":
        return None
    from flywheel_publish_github.publisher import publish

    return publish(items, config, ctx)
