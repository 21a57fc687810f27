"""A session's social posts: one template per network, rendered with one context, fitted by core."""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import attrs

from flywheel_core.social import PLATFORMS, clip, defang, fit_post, hashtags_for, plain
from flywheel_core.types import Artifact

if TYPE_CHECKING:
    from flywheel_core.context import RunContext
    from flywheel_core.models import Session

__all__ = ["NETWORK_NAMES", "SocialPosts", "compose_social"]

NETWORK_NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon", "linkedin": "LinkedIn"}
# Compiled on first use, not at import (issue 18: start-up): most commands need none of these.
_re = functools.cache(re.compile)
#: A link a post can carry as it is: http(s), nothing a network or Markdown would cut it at.
_LINK = r"https?://[^\s<>\"'`\\]{1,2000}\Z"
#: Alt text is cut here: X takes 1,000 characters, Mastodon 1,500, Bluesky 2,000.
ALT_CHARS = 1000


@attrs.frozen
class SocialPosts:
    """What :func:`compose_social` made: the posts, their ``meta["social"]`` and a readable copy."""

    title: str
    variants: dict[str, list[str]]
    meta: dict[str, Any]
    markdown: str

    def json(self) -> str:
        """The ``social_post.json`` attachment: ``{"x": [parts...], "bluesky": [...], ...}``."""
        return json.dumps(self.variants, indent=2, ensure_ascii=False) + "\n"

    def artifact(
        self,
        *,
        summary: str = "",
        tags: Iterable[str] = (),
        meta: Mapping[str, Any] | None = None,
        attachments: Mapping[str, str | bytes] | None = None,
    ) -> Artifact:
        """The ``social_post`` artifact: the Markdown copy, ``social_post.json`` beside it and
        ``meta["social"]`` added to ``meta``."""
        return Artifact(
            "social_post",
            self.markdown,
            title=self.title,
            summary=summary,
            tags=list(tags),
            attachments={**(attachments or {}), "social_post.json": self.json()},
            meta={**(meta or {}), "social": self.meta},
        )


def compose_social(
    ctx: RunContext,
    session: Session,
    templates: str,
    context: Mapping[str, Any],
    *,
    title: str,
    page: tuple[str, str] | None = None,
    topics: Iterable[object] = (),
    content_warning: str = "",
    image: Mapping[str, str] | None = None,
) -> SocialPosts:
    """Render ``<templates>/social_post.<network>.txt.j2`` for each network and fit each post.

    Each template gets ``context`` plus ``network`` (``"x"``, ...) and ``link``: the URL of the
    session's page, ``ctx.page_url(session, *page)`` for ``page = (kind, title)`` (the kind of
    the session's main artifact and exactly the title it carries), or None when no website
    gives it a page. Session text in ``context`` is not defanged for you: pass it through
    :func:`~flywheel_core.social.defang` (or the ``defang`` filter); ``optional`` parts are
    dropped, last first, until a post fits (:func:`~flywheel_core.social.fit_post`); the link
    ends any post that does not place it. Hashtags come from ``topics`` (CamelCase, as many as
    each network takes) and end each post. ``title`` heads ``<templates>/social_post.md.j2``,
    the readable copy. ``content_warning`` (Mastodon) and ``image`` (``{"src", "alt"}``, an
    attachment of the artifact) travel in ``meta["social"]``.
    """
    topics = list(topics)
    link = ctx.page_url(session, *page) if page else None
    if link is not None and not _re(_LINK).match(link):
        ctx.warn(f"social posts: page URL {link[:200]!r} is not a plain http(s) URL; posts go without a link")
        link = None
    variants: dict[str, list[str]] = {}
    tags: dict[str, list[str]] = {}
    for network in PLATFORMS:
        tags[network] = hashtags_for(topics, network)
        text = ctx.render(f"{templates}/social_post.{network}.txt.j2", **{**context, "network": network, "link": link})
        variants[network] = fit_post(text, network, link=link, hashtags=tags[network])
    meta: dict[str, Any] = {}
    if link and page:
        meta["link"] = link
        meta["link_title"] = plain(page[1])
        meta["link_kind"] = page[0]  # the queue holds the posts until this artifact's page is published
    if content_warning.strip():
        meta["content_warning"] = defang(clip(content_warning, 200))  # Mastodon shows it as a post's first line
    if image:
        meta["image"] = {"src": image["src"], "alt": clip(plain(image.get("alt") or ""), ALT_CHARS)}
    meta["hashtags"] = {n: [t for t in tags[n] if t in _closing_tags(variants[n][-1])] for n in PLATFORMS}
    markdown = ctx.render(
        f"{templates}/social_post.md.j2",
        title=title,
        link=link,
        content_warning=meta.get("content_warning", ""),
        image=meta.get("image"),
        networks=[{"id": n, "name": NETWORK_NAMES[n], "posts": variants[n]} for n in PLATFORMS],
    )
    return SocialPosts(title=title, variants=variants, meta=meta, markdown=_tidy(markdown))


def _closing_tags(post: str) -> set[str]:
    """The hashtags on a post's last line (session text cannot make one: it is defanged)."""
    return set(re.findall(r"(?<!\S)#(\w+)", post.rsplit("\n", 1)[-1]))


def _tidy(text: str) -> str:
    """One blank line at most between blocks, no trailing spaces, one final newline."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"
