"""flywheel-publish-web hooks: the ``web`` target and the ``flywheel site`` commands (imports stay light)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel_core import hookimpl

if TYPE_CHECKING:
    import typer

    from flywheel_core import Config, PublishContext, PublishItem, PublishResult, Session, Target

__all__ = ["flywheel_targets", "flywheel_publish", "flywheel_page_url", "flywheel_register_commands"]


@hookimpl
def flywheel_targets() -> list[Target]:
    from flywheel_core import Target
    from flywheel_publish_web.settings import CONFIG_SCHEMA, KINDS

    return [Target("web", "A static website: index, post pages, tags, archive, Atom/RSS feeds, sitemap.",
                   CONFIG_SCHEMA, kinds=KINDS)]


@hookimpl
def flywheel_publish(
    target: str, items: list[PublishItem], config: dict[str, Any], ctx: PublishContext
) -> list[PublishResult] | None:
    if target != "web":
        return None
    from flywheel_publish_web.publish import publish

    return publish(items, config, ctx)


@hookimpl
def flywheel_page_url(session: Session, kind: str, title: str, config: Config) -> str | None:
    """The URL the site will give the page of ``session``'s ``kind`` artifact titled ``title``."""
    if "web" not in config.enabled_targets():
        return None
    from flywheel_publish_web.settings import PAGE_KINDS, base_url_of
    from flywheel_publish_web.store import permalink_for

    if kind not in PAGE_KINDS:
        return None
    path = permalink_for(session.session_type, session.session_id, kind, title, session.when.isoformat())
    return base_url_of(config.targets["web"]) + path  # the raw table: no secret is needed here


@hookimpl
def flywheel_register_commands(cli: typer.Typer, collect: typer.Typer) -> None:
    from flywheel_core import lazy_group

    lazy_group(cli, "flywheel_publish_web.cli:site_app", name="site",
               help="Build and preview the static website of the 'web' target.")
