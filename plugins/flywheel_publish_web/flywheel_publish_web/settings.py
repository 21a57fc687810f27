"""The ``[targets.web]`` table: its JSON Schema and the resolved settings a build uses."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from flywheel_core import Config

__all__ = ["CONFIG_SCHEMA", "DOWNLOAD_KINDS", "KINDS", "PAGE_KINDS", "Settings", "settings_from_config", "warn_if_unaddressed"]

#: Markdown kinds that make a page, in order of preference: a session's first kind in this list
#: is its page (in the index, feeds and tags); its other kinds are companion pages linked from
#: it. ``readme`` and ``social_post`` are not here: a reader wants the story, not the
#: repository's front page or a tweet.
PAGE_KINDS = ("blog_post", "devlog", "trade_journal", "build_log")
#: Kinds whose files are offered for download on their session's page.
DOWNLOAD_KINDS = ("trade_metrics",)
#: Every kind the site shows: the web target declares these, so only they are enqueued for it.
KINDS = PAGE_KINDS + DOWNLOAD_KINDS
#: The address ``flywheel site serve`` previews at; set ``base_url`` to where the site is hosted.
DEFAULT_BASE_URL = "http://127.0.0.1:8000/"
DEFAULT_TITLE = "Flywheel"
DEFAULT_DESCRIPTION = "What the agents built, traded and made, session by session."

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "site_dir": {"type": "string", "minLength": 1},
        "base_url": {"type": "string", "pattern": "^https?://[^\\s]+$"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "author": {"type": "string"},
        "language": {"type": "string", "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 1000},
        "feed_size": {"type": "integer", "minimum": 1, "maximum": 1000},
        "deploy": {
            "type": "object",
            "properties": {
                "method": {"enum": ["dir", "git"]},
                "remote": {"type": "string", "minLength": 1, "pattern": "^(?!-)(?!(ext|fd)::)",  # as github's remote
                           "x-error": "must be a URL or a path, not starting with '-' nor a command transport (ext::, fd::)"},
                "branch": {"type": "string", "pattern": "^[A-Za-z0-9._/-]{1,100}$"},
                # Unset: core reads the first of these variables (and registers it with the redactor).
                "token": {"type": "string", "x-env": ["FLYWHEEL_GITHUB_TOKEN", "GITHUB_TOKEN"]},
                "author_name": {"type": "string", "minLength": 1},
                "author_email": {"type": "string", "minLength": 1},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
            },
            "additionalProperties": False,
            "if": {"properties": {"method": {"const": "git"}}, "required": ["method"]},
            "then": {"required": ["remote"]},
        },
    },
    "additionalProperties": False,
}


@attrs.frozen
class Settings:
    """What a build needs to know, with every default filled in and paths resolved."""

    site_dir: Path
    state_dir: Path
    base_url: str = DEFAULT_BASE_URL
    title: str = DEFAULT_TITLE
    description: str = DEFAULT_DESCRIPTION
    author: str = ""
    language: str = "en"
    per_page: int = 20
    feed_size: int = 20
    deploy: dict[str, Any] = attrs.field(factory=dict)
    templates_dir: Path | None = None
    #: False when ``base_url`` is not in the config: links point at the preview address.
    base_url_set: bool = True
    #: The config file, to name in messages.
    source: str = "the config"
    #: The loaded configuration: where the shared content store is (the queue's backend).
    config: Any = attrs.field(default=None, eq=False, repr=False)

    def url(self, path: str) -> str:
        """The absolute URL of a site path such as ``build/2025/12/x/``."""
        return self.base_url + path


_warned: set[str] = set()


def warn_if_unaddressed(settings: Settings) -> None:
    """Say once per process that the site's links point at the preview address (base_url unset)."""
    if settings.base_url_set or settings.source in _warned:
        return
    _warned.add(settings.source)
    import logging

    logging.getLogger("flywheel.web").warning(
        "targets.web.base_url is not set in %s: canonical links, feeds and the sitemap point at %s "
        "(the preview address); set base_url to where the site is hosted", settings.source, settings.base_url)


def validate_table(table: dict[str, Any], where: str = "targets.web") -> None:
    """Raise UsageError naming the first key of ``table`` that breaks the schema."""
    from flywheel_core import UsageError, matches_schema

    if matches_schema(CONFIG_SCHEMA, table):  # no jsonschema import (a tenth of a publish) for a good table
        return
    import jsonschema

    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    for error in sorted(validator.iter_errors(table), key=lambda e: list(e.absolute_path)):
        path = ".".join([where, *map(str, error.absolute_path)])
        custom = error.schema.get("x-error") if isinstance(error.schema, dict) else None  # clearer than a regex
        raise UsageError(f"{path}: {custom} (got {error.instance!r})" if custom else f"{path}: {error.message}")


def base_url_of(table: dict[str, Any]) -> str:
    """The site's address, ending in ``/``."""
    base_url = table.get("base_url", DEFAULT_BASE_URL)
    return base_url if base_url.endswith("/") else base_url + "/"


def settings_from_config(table: dict[str, Any], config: Config, state_dir: Path) -> Settings:
    """Resolve a (validated) ``[targets.web]`` table against the config's base folder."""
    base_url = base_url_of(table)
    # A symlink is followed: the folder it names is the one swapped whole (swapping the link
    # itself would leave what it points at, the folder a web server serves, edited in place).
    site_dir = Path(os.path.realpath(config.base_dir / table.get("site_dir", "site")))
    if site_dir.parent == site_dir or config.base_dir.resolve().is_relative_to(site_dir.resolve()):
        from flywheel_core import UsageError

        # The site folder is replaced as a whole: it cannot be a root or hold the project itself.
        raise UsageError(f"targets.web.site_dir: {site_dir} is a root or contains {config.base_dir}; "
                         "name a folder of its own, such as \"site\"")
    deploy = dict(table.get("deploy", {}))
    remote = deploy.get("remote")
    # Not a URL, nor scp-like by git's rule (a colon before any slash: git@host:o/r.git, alias:o/r.git).
    if isinstance(remote, str) and "://" not in remote and not re.match(r"^[^/]+:", remote):
        deploy["remote"] = os.path.abspath(config.base_dir / remote)  # a local repository
    return Settings(
        site_dir=site_dir,
        state_dir=state_dir,
        base_url=base_url,
        title=table.get("title", DEFAULT_TITLE),
        description=table.get("description", DEFAULT_DESCRIPTION),
        author=table.get("author", ""),
        language=table.get("language", "en"),
        per_page=int(table.get("per_page", 20)),
        feed_size=int(table.get("feed_size", 20)),
        deploy=deploy,
        templates_dir=config.templates_dir,
        base_url_set="base_url" in table,
        source=str(config.source),
        config=config,
    )
