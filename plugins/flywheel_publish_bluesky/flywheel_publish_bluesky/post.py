"""What a ``social_post`` artifact asks to post on Bluesky: thread parts, images, alt text (read as the Mastodon target does)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from flywheel_core import PublishItem

__all__ = ["IMAGE_TYPES", "Image", "Post", "PostError", "read_post"]

log = logging.getLogger("flywheel.publish.bluesky")

#: What Bluesky shows as an image (app.bsky.embed.images); SVG (a chart's vector copy) is not one of them.
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class PostError(Exception):
    """The artifact cannot be posted as it is (no retry can help)."""


@dataclass(frozen=True)
class Image:
    name: str
    data: bytes = field(repr=False)
    mime: str
    alt: str


@dataclass(frozen=True)
class Post:
    parts: list[str]
    images: list[Image]
    spoiler_text: str | None = None


def read_post(item: PublishItem, platform: str) -> Post:
    """The ``platform`` variant of ``social_post.json`` (a list of thread parts) and the images.

    The variant is a list of post texts, or an object with ``posts`` (and an optional
    ``spoiler_text``), so generators can add per-network fields without breaking this reader.
    """
    raw = item.files.get("social_post.json")
    if raw is None:
        raise PostError("has no social_post.json attachment (the per-network texts): enqueue it with `flywheel run`, "
                        "or `flywheel queue add --session SESSION_FILE`")
    try:
        doc: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PostError(f"social_post.json is not valid JSON: {exc}") from None
    variant = doc.get(platform) if isinstance(doc, dict) else None
    spoiler = None
    if isinstance(variant, dict):
        spoiler = variant.get("spoiler_text")
        variant = variant.get("posts")
    if not isinstance(variant, list) or not variant or not all(isinstance(p, str) and p.strip() for p in variant):
        raise PostError(f"social_post.json: $.{platform}: expected a list of non-empty post texts")
    if spoiler is not None and not isinstance(spoiler, str):
        raise PostError(f"social_post.json: $.{platform}.spoiler_text: expected a string")
    return Post([p.strip() for p in variant], _images(item), spoiler or None)


def _images(item: PublishItem) -> list[Image]:
    """``meta["image"]`` then ``meta["images"]`` (``{"src", "alt" or "caption"}``), in order, once each."""
    wanted: dict[str, str] = {}
    meta = item.meta
    if isinstance(meta.get("image"), str):
        wanted[meta["image"]] = str(meta.get("image_alt") or "")
    for entry in meta.get("images") or []:
        if isinstance(entry, str):
            entry = {"src": entry}
        if isinstance(entry, dict) and isinstance(entry.get("src"), str):
            alt = entry.get("alt") or entry.get("caption") or wanted.get(entry["src"]) or ""
            wanted[entry["src"]] = str(alt)
    images = []
    for name, alt in wanted.items():
        mime = IMAGE_TYPES.get(PurePosixPath(name).suffix.lower())
        if mime is None:
            log.info("%s of %s: %s is not an image type the network shows; not attached",
                     item.kind, item.session_id, name)
            continue
        data = item.files.get(name)
        if data is None:
            raise PostError(f"image {name!r} named in its metadata is not among the artifact's files")
        images.append(Image(name, data, mime, alt.strip()))
    return images
