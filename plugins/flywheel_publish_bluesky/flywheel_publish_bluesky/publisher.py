"""A social post as a Bluesky thread of ``app.bsky.feed.post`` records, each one written exactly once by construction.

Each part's record key is a TID derived from the queue entry (:mod:`records`) and written with
``com.atproto.repo.putRecord``: a repeat (a lost answer, a crash, a retry) rewrites the same
record instead of making a second post. The thread's ``createdAt`` is checkpointed before the
first write, and each part's ``uri``/``cid`` as it is confirmed, so a repeated part is the same
record byte for byte and the next part replies to it by a reference that still holds.
"""

from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flywheel_core import PublishContext, PublishItem, PublishResult, post_length

from flywheel_publish_bluesky.client import (
    BlueskyClient,
    BlueskyError,
    Permanent,
    RateLimited,
    Transient,
    Unauthorized,
    check_service,
)
from flywheel_publish_bluesky.post import Image, Post, PostError, read_post
from flywheel_publish_bluesky.records import record_key
from flywheel_publish_bluesky.richtext import facets, first_link

__all__ = ["COLLECTION", "MAX_GRAPHEMES", "MAX_IMAGES", "MAX_IMAGE_BYTES", "Settings", "ThreadPoster", "publish"]

log = logging.getLogger("flywheel.publish.bluesky")

COLLECTION = "app.bsky.feed.post"
# The app.bsky.feed.post and app.bsky.embed.images lexicons' limits.
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000


@dataclass(frozen=True)
class Settings:
    service: str
    handle: str
    app_password: str
    language: str | None = None
    link_card: bool = True
    app_url: str = "https://bsky.app"
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        return cls(
            service=str(config.get("service", "https://bsky.social")).rstrip("/"),
            handle=config["handle"],
            app_password=config["app_password"],
            language=config.get("language"),
            link_card=bool(config.get("link_card", True)),
            app_url=str(config.get("app_url", "https://bsky.app")).rstrip("/"),
            timeout=float(config.get("timeout_seconds", 30)),
        )

    def __repr__(self) -> str:  # never show the password in a traceback or a log line
        return f"Settings(service={self.service!r}, handle={self.handle!r})"


def _name(item: PublishItem) -> str:
    return f"{item.kind} of session {item.session_id}"


def publish(items: list[PublishItem], config: dict[str, Any], ctx: PublishContext) -> list[PublishResult]:
    """Post each item; one result per item. A rate limit or a refused login stops the batch:
    the items not tried get the same answer (deferred, or dead) without a request each."""
    settings = Settings.from_config(config)
    if ctx.dry_run:
        return [_dry_run(item, settings) for item in items]
    try:
        client = BlueskyClient(settings.service, settings.handle, settings.app_password, timeout=settings.timeout)
    except Permanent as exc:
        return [_failure(item, exc, f"{_name(item)}: ") for item in items]
    results: list[PublishResult] = []
    stop: BlueskyError | None = None
    with client:
        poster = ThreadPoster(client, settings, ctx)
        for item in items:
            if stop is not None:
                results.append(_failure(item, stop, f"{_name(item)}: not tried: "))
                continue
            try:
                receipt = poster.post(item)
            except PostError as exc:
                results.append(PublishResult(item.id, False, error=f"{_name(item)}: {exc}", permanent=True))
            except BlueskyError as exc:
                log.debug("%s: %s", _name(item), exc)
                results.append(_failure(item, exc, f"{_name(item)}: "))
                if isinstance(exc, (RateLimited, Unauthorized)):
                    stop = exc
            else:
                results.append(PublishResult(item.id, True, receipt=receipt))
    return results


def _failure(item: PublishItem, exc: BlueskyError, prefix: str) -> PublishResult:
    error = prefix + str(exc)
    if isinstance(exc, RateLimited):
        return PublishResult(item.id, False, error=error, retry_after=exc.retry_after)
    return PublishResult(item.id, False, error=error, permanent=isinstance(exc, Permanent))


def check(post: Post) -> None:
    """Refuse before sending anything what Bluesky would refuse: no thread is cut half-way."""
    total = len(post.parts)
    for number, part in enumerate(post.parts, 1):
        graphemes = post_length(part, "bluesky")
        if graphemes > MAX_GRAPHEMES:
            raise PostError(f"post {number} of {total} is {graphemes} graphemes; Bluesky takes {MAX_GRAPHEMES}")
        if len(part.encode()) > MAX_TEXT_BYTES:
            raise PostError(f"post {number} of {total} is {len(part.encode())} bytes in UTF-8; "
                            f"Bluesky takes {MAX_TEXT_BYTES}")
    if len(post.images) > MAX_IMAGES:
        raise PostError(f"has {len(post.images)} images; a Bluesky post takes at most {MAX_IMAGES}")
    for image in post.images:
        if len(image.data) > MAX_IMAGE_BYTES:
            raise PostError(f"image {image.name} is {len(image.data):,} bytes; "
                            f"Bluesky takes images of at most {MAX_IMAGE_BYTES:,} bytes")


def _session_seconds(item: PublishItem) -> int | None:
    """The session's time (whole seconds), the base of its posts' record keys."""
    value = item.meta.get("date")
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dry_run(item: PublishItem, settings: Settings) -> PublishResult:
    try:
        check_service(settings.service)
        post = read_post(item, "bluesky")
        check(post)
    except (PostError, Permanent) as exc:
        return PublishResult(item.id, False, error=f"{_name(item)}: {exc}", permanent=True)
    receipt: dict[str, Any] = {"dry_run": True, "service": settings.service, "parts": len(post.parts),
                               "images": [image.name for image in post.images]}
    seconds = _session_seconds(item)
    if seconds is not None:
        receipt["rkeys"] = [record_key(item.key, seconds, i) for i in range(len(post.parts))]
    return PublishResult(item.id, True, receipt=receipt)


def _aspect_ratio(image: Image) -> dict[str, int]:
    """Width and height of a PNG (its IHDR chunk), so clients lay the image out before loading it."""
    if image.mime == "image/png" and len(image.data) >= 24 and image.data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", image.data[16:24])
        if width and height:
            return {"aspectRatio": {"width": width, "height": height}}
    return {}


class ThreadPoster:
    """Posts items through one logged-in client; resolves each mentioned handle once."""

    def __init__(self, client: BlueskyClient, settings: Settings, ctx: PublishContext) -> None:
        self.client = client
        self.settings = settings
        self.ctx = ctx
        self._handles: dict[str, str | None] = {}

    def post(self, item: PublishItem) -> dict[str, Any]:
        post = read_post(item, "bluesky")
        check(post)
        state: dict[str, Any] = dict(item.progress)
        if not isinstance(state.get("created_at"), (int, float)):
            # Fixed before the first write: a repeated record must be the same record.
            state["created_at"] = round(time.time(), 3)
            self.ctx.checkpoint(item, state)
        created = float(state["created_at"])
        seconds = _session_seconds(item)
        if seconds is None:
            seconds = int(created)
        done = [p for p in state.get("parts") or [] if isinstance(p, dict) and p.get("uri") and p.get("cid")]
        state["parts"] = done
        for index in range(len(done), len(post.parts)):
            rkey = record_key(item.key, seconds, index)
            answer = self.client.put_record(COLLECTION, rkey, self._record(item, post, index, done, created))
            if not answer.get("uri") or not answer.get("cid"):
                raise Transient("putRecord answered without a uri and cid")
            did = answer["uri"].removeprefix("at://").split("/", 1)[0]
            done.append({"uri": answer["uri"], "cid": answer["cid"],
                         "url": f"{self.settings.app_url}/profile/{did}/post/{rkey}"})
            self.ctx.checkpoint(item, state)
        return {"url": done[0]["url"], "uri": done[0]["uri"], "cid": done[0]["cid"], "parts": done}

    def _record(self, item: PublishItem, post: Post, index: int, done: list[dict[str, Any]],
                created: float) -> dict[str, Any]:
        text = post.parts[index]
        # Parts a millisecond apart: clients order a thread's replies by createdAt.
        record: dict[str, Any] = {"$type": COLLECTION, "text": text, "createdAt": _iso(created + index / 1000)}
        found = facets(text, self._resolve)
        if found:
            record["facets"] = found
        if self.settings.language:
            record["langs"] = [self.settings.language]
        if index > 0:
            record["reply"] = {"root": {"uri": done[0]["uri"], "cid": done[0]["cid"]},
                               "parent": {"uri": done[-1]["uri"], "cid": done[-1]["cid"]}}
        elif (embed := self._embed(item, post)) is not None:
            record["embed"] = embed
        return record

    def _embed(self, item: PublishItem, post: Post) -> dict[str, Any] | None:
        """The images with their alt text; without images, a link card for the post's page."""
        if post.images:
            return {"$type": "app.bsky.embed.images", "images": [
                {"alt": image.alt, "image": self.client.upload_blob(image.data, image.mime), **_aspect_ratio(image)}
                for image in post.images
            ]}
        page = item.meta.get("url")
        link = page if isinstance(page, str) and page.startswith(("https://", "http://")) else first_link(post.parts[0])
        if not self.settings.link_card or not link:
            return None
        title = str(item.meta.get("page_title") or item.meta.get("title") or "")
        for prefix in ("Social posts: ", "Social post: "):
            title = title.removeprefix(prefix)
        return {"$type": "app.bsky.embed.external", "external": {
            "uri": link, "title": title[:300], "description": str(item.meta.get("page_summary") or "")[:1000],
        }}

    def _resolve(self, handle: str) -> str | None:
        if handle not in self._handles:
            self._handles[handle] = self.client.resolve_handle(handle)
        return self._handles[handle]
