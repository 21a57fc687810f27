"""A social post as a Mastodon thread: each part checkpointed, resumed where it stopped, never posted twice.

Exactly once rests on three things. Every part is sent with an ``Idempotency-Key`` made from the
queue entry's key and the part's index, so a retry within the hour the server remembers keys
returns the status already made. Before sending, the part's index is checkpointed as *pending*;
after the server confirms it, its id replaces the mark. A part still pending on the next attempt
(the process died or the answer was lost) is first looked for among the account's latest
statuses: one replying to the same parent whose source text (``GET /api/v1/statuses/:id/source``)
is exactly the part's text is taken as that part, so servers that ignore the key, or an
answer lost more than an hour ago, still make no duplicate. No invisible marker is added to the
text: it would be read aloud by screen readers and count against the length limit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flywheel_core import PublishContext, PublishItem, PublishResult, post_length

from flywheel_publish_mastodon.client import (
    MastodonAPI,
    MastodonError,
    Permanent,
    RateLimited,
    Transient,
    Unauthorized,
    check_instance,
)
from flywheel_publish_mastodon.post import Post, PostError, read_post

__all__ = ["MAX_IMAGES", "Settings", "ThreadPoster", "publish"]

log = logging.getLogger("flywheel.publish.mastodon")

MAX_IMAGES = 4
#: Statuses whose source is fetched when looking for a part of unknown outcome (each one a request).
MAX_SOURCE_LOOKUPS = 10
#: An unattached upload is kept by Mastodon for about a day; reuse one only well within that.
MEDIA_REUSE_SECONDS = 6 * 3600
#: Clock difference between flywheel and the server tolerated when matching a pending part's time.
CLOCK_SLACK = 600.0


@dataclass(frozen=True)
class Settings:
    instance: str
    token: str
    visibility: str = "public"
    language: str | None = None
    spoiler_text: str | None = None
    sensitive: bool = False
    max_characters: int = 500
    media_wait: float = 60.0
    timeout: float = 30.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        return cls(
            instance=config["instance"].rstrip("/"),
            token=config["token"],
            visibility=config.get("visibility", "public"),
            language=config.get("language"),
            spoiler_text=config.get("spoiler_text") or None,
            sensitive=bool(config.get("sensitive", False)),
            max_characters=int(config.get("max_characters", 500)),
            media_wait=float(config.get("media_wait_seconds", 60)),
            timeout=float(config.get("timeout_seconds", 30)),
        )

    def __repr__(self) -> str:  # never show the token in a traceback or a log line
        return f"Settings(instance={self.instance!r}, visibility={self.visibility!r})"


def _name(item: PublishItem) -> str:
    return f"{item.kind} of session {item.session_id}"


def publish(items: list[PublishItem], config: dict[str, Any], ctx: PublishContext) -> list[PublishResult]:
    """Post each item; one result per item. A rate limit or a refused token stops the batch:
    the items not tried get the same answer (deferred, or dead) without a request each."""
    settings = Settings.from_config(config)
    if ctx.dry_run:
        return [_dry_run(item, settings) for item in items]
    try:
        api = MastodonAPI(settings.instance, settings.token, timeout=settings.timeout)
    except Permanent as exc:
        return [_failure(item, exc, f"{_name(item)}: ") for item in items]
    results: list[PublishResult] = []
    stop: MastodonError | None = None
    with api:
        poster = ThreadPoster(api, settings, ctx)
        for item in items:
            if stop is not None:
                results.append(_failure(item, stop, f"{_name(item)}: not tried: "))
                continue
            try:
                receipt = poster.post(item)
            except PostError as exc:
                results.append(PublishResult(item.id, False, error=f"{_name(item)}: {exc}", permanent=True))
            except MastodonError as exc:
                log.debug("%s: %s", _name(item), exc)
                results.append(_failure(item, exc, f"{_name(item)}: "))
                if isinstance(exc, (RateLimited, Unauthorized)):
                    stop = exc
            else:
                results.append(PublishResult(item.id, True, receipt=receipt))
    return results


def _failure(item: PublishItem, exc: MastodonError, prefix: str) -> PublishResult:
    error = prefix + str(exc)
    if isinstance(exc, RateLimited):
        return PublishResult(item.id, False, error=error, retry_after=exc.retry_after)
    return PublishResult(item.id, False, error=error, permanent=isinstance(exc, Permanent))


def _check(post: Post, settings: Settings, server_limit: int | None = None) -> None:
    """Refuse before sending anything: a thread cut by a refusal half-way is worse than none.
    Mastodon counts the content warning and the text together against the limit."""
    total = len(post.parts)
    spoiler = post.spoiler_text or settings.spoiler_text or ""
    limit, source = settings.max_characters, "(max_characters)"
    if server_limit is not None and server_limit < limit:
        limit, source = server_limit, "(configuration.statuses.max_characters of its /api/v2/instance)"
    for number, part in enumerate(post.parts, 1):
        length = post_length(spoiler + part, "mastodon")
        if length > limit:
            warning = " with its content warning" if spoiler else ""
            raise PostError(f"post {number} of {total} is {length} characters{warning}; "
                            f"{settings.instance} takes {limit} {source}")
    if len(post.images) > MAX_IMAGES:
        raise PostError(f"has {len(post.images)} images; a Mastodon post takes at most {MAX_IMAGES}")


def _dry_run(item: PublishItem, settings: Settings) -> PublishResult:
    try:
        check_instance(settings.instance)
        post = read_post(item, "mastodon")
        _check(post, settings)
    except (PostError, Permanent) as exc:
        return PublishResult(item.id, False, error=f"{_name(item)}: {exc}", permanent=True)
    return PublishResult(item.id, True, receipt={
        "dry_run": True, "instance": settings.instance, "parts": len(post.parts),
        "images": [image.name for image in post.images],
    })


def _timestamp(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


class ThreadPoster:
    """Posts items through one API client; remembers the account id once it is looked up."""

    def __init__(self, api: MastodonAPI, settings: Settings, ctx: PublishContext) -> None:
        self.api = api
        self.settings = settings
        self.ctx = ctx
        self._account: str | None = None
        self._server_limit: int | None = None
        self._asked = False

    def post(self, item: PublishItem) -> dict[str, Any]:
        post = read_post(item, "mastodon")
        _check(post, self.settings)
        if not self._asked:  # once per batch: an instance may take fewer than the configured characters
            self._server_limit = self.api.max_characters()
            self._asked = True
        _check(post, self.settings, self._server_limit)
        state: dict[str, Any] = dict(item.progress)
        done: list[dict[str, Any]] = [p for p in state.get("parts") or [] if isinstance(p, dict) and p.get("id")]
        state["parts"] = done
        unknown = state.get("pending")
        if unknown is None and not done and item.attempts > 1:
            unknown = 0  # an earlier attempt may have posted before anything was checkpointed
        for index in range(len(done), len(post.parts)):
            parent = done[-1]["id"] if done else None
            if unknown == index:
                found = self._find(post, index, parent, state.get("pending_at"))
                if found is not None:
                    log.info("%s: part %d was already posted (%s); not posted again", _name(item), index + 1,
                             found["url"])
                    done.append(found)
                    state.pop("pending", None)
                    self.ctx.checkpoint(item, state)
                    continue
            form = self._form(post, index, parent)
            if index == 0 and post.images:
                form["media_ids[]"] = self._media(item, post, state)
            self.api.check_budget()  # a part marked pending but never sent would cost a lookup later
            state.update(pending=index, pending_at=time.time())
            self.ctx.checkpoint(item, state)
            status = self.api.post_status(form, idempotency_key=f"flywheel-{item.key}-{index}")
            done.append(self._part(status))
            state.pop("pending", None)
            state.pop("pending_at", None)
            self.ctx.checkpoint(item, state)
        return {"url": done[0]["url"], "id": done[0]["id"], "instance": self.settings.instance, "parts": done}

    def _form(self, post: Post, index: int, parent: str | None) -> dict[str, Any]:
        form: dict[str, Any] = {"status": post.parts[index], "visibility": self.settings.visibility}
        spoiler = post.spoiler_text or self.settings.spoiler_text
        if spoiler:
            form["spoiler_text"] = spoiler
        if self.settings.language:
            form["language"] = self.settings.language
        if parent is not None:
            form["in_reply_to_id"] = parent
        if index == 0 and post.images and self.settings.sensitive:
            form["sensitive"] = "true"
        return form

    @staticmethod
    def _part(status: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(status, dict) or not status.get("id"):
            raise Transient("the server's answer to a new status has no id")
        return {"id": str(status["id"]), "url": status.get("url") or status.get("uri") or ""}

    # -- looking for a part whose outcome is unknown ------------------------------------------------

    def _find(self, post: Post, index: int, parent: str | None, since: Any) -> dict[str, Any] | None:
        if self._account is None:
            self._account = str(self.api.verify_credentials()["id"])
        floor = float(since) - CLOCK_SLACK if isinstance(since, (int, float)) else None
        spoiler = post.spoiler_text or self.settings.spoiler_text or ""
        looked = 0
        for status in self.api.account_statuses(self._account):
            if status.get("reblog") or str(status.get("in_reply_to_id") or "") != (parent or ""):
                continue
            created = _timestamp(status.get("created_at"))
            if floor is not None and created is not None and created < floor:
                continue
            if looked == MAX_SOURCE_LOOKUPS:
                break
            looked += 1
            source = self.api.status_source(str(status["id"]))
            if (source.get("text") or "").strip() == post.parts[index] and (source.get("spoiler_text") or "") == spoiler:
                return self._part(status)
        return None

    # -- images ------------------------------------------------------------------------------------

    def _media(self, item: PublishItem, post: Post, state: dict[str, Any]) -> list[str]:
        """Upload the images (or reuse this entry's recent uploads) and wait until each is processed."""
        earlier = state.get("media") or {}
        if (isinstance(earlier, dict) and len(earlier.get("ids") or []) == len(post.images)
                and time.time() - float(earlier.get("at") or 0) < MEDIA_REUSE_SECONDS):
            ids = [str(i) for i in earlier["ids"]]
            try:
                self._wait(set(ids))
                return ids
            except Permanent as exc:  # removed by the server meanwhile: upload again
                if isinstance(exc, Unauthorized):
                    raise
                log.info("%s: earlier uploads are gone (%s); uploading again", _name(item), exc)
        ids, waiting = [], set()
        for image in post.images:
            code, attachment = self.api.upload_media(image.name, image.data, image.mime, image.alt)
            media_id = str(attachment["id"])
            ids.append(media_id)
            if code == 202 or not attachment.get("url"):
                waiting.add(media_id)
        state["media"] = {"ids": ids, "at": time.time()}
        self.ctx.checkpoint(item, state)
        self._wait(waiting)
        return ids

    def _wait(self, waiting: set[str]) -> None:
        """Poll ``GET /api/v1/media/:id`` until every upload has its ``url`` (bounded by media_wait)."""
        deadline = time.monotonic() + self.settings.media_wait
        delay = 0.25
        while waiting:
            for media_id in sorted(waiting):
                code, attachment = self.api.media(media_id)
                if code == 200 and attachment.get("url"):
                    waiting.discard(media_id)
            if not waiting:
                return
            if time.monotonic() + delay > deadline:
                raise Transient(f"{len(waiting)} image(s) still processing after {self.settings.media_wait:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
