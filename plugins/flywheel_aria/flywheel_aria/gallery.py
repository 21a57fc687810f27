"""Screenshots named by a session, made safe to publish: confined, verified, re-encoded, thumbnailed.

Every path comes from the session and is untrusted. A file is read only once it resolves
inside the allowed roots (symlinks followed first), is a regular file within the size limit,
and Pillow recognises it, by content, as a PNG, JPEG, WebP or GIF within the pixel limit.
The copy is made from pixels alone, so EXIF (GPS, camera, time) and every other metadata
chunk is dropped; EXIF orientation is applied first so the picture still looks right.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import warnings
from pathlib import Path, PureWindowsPath
from typing import Any

import attrs

from flywheel_core import PathRefused, confine

__all__ = [
    "GalleryImage",
    "Refusal",
    "build_gallery",
    "check_paths",
    "locate",
    "process_image",
    "readable_name",
    "screenshot_entries",
]

#: Pillow format name -> file extension of the copy (the copy keeps its format).
FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}


class Refused(Exception):
    """A screenshot left out, with a short reason that never quotes the file's content."""


@attrs.frozen
class GalleryImage:
    """One accepted screenshot: its attachment names, bytes, sizes, caption and alt text."""

    index: int
    src: str
    thumb: str
    caption: str
    alt: str
    data: bytes
    thumb_data: bytes
    width: int
    height: int
    thumb_width: int
    thumb_height: int


@attrs.frozen
class Refusal:
    """One screenshot that could not be included (its path as the session wrote it), and why."""

    index: int
    name: str
    reason: str


def _text(value: Any) -> str | None:
    """A caption or alt text on one line, or None when missing or blank."""
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def screenshot_entries(
    source_data: dict[str, Any],
) -> list[tuple[int, str, str | None, str | None]]:
    """``(index, path, caption, alt)`` for each item: a path, or ``{path, caption, alt}``.

    ``alt`` is the item's ``alt``, else its ``description`` (what the picture shows).
    """
    out = []
    for i, item in enumerate(source_data.get("screenshots") or []):
        if isinstance(item, str):
            out.append((i, item, None, None))
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            alt = _text(item.get("alt")) or _text(item.get("description"))
            out.append((i, item["path"], _text(item.get("caption")), alt))
    return out


def display_name(path: str) -> str:
    """The file name part of an untrusted path, whichever separator it uses."""
    return PureWindowsPath(path).name or path


def readable_name(path: str) -> str:
    """A file name as words, for captions and alt text (``gameplay_001.png``: ``Gameplay 001``)."""
    stem = PureWindowsPath(display_name(path)).stem or display_name(path)
    words = re.sub(r"-(?!\d)|(?<!\d)-", " ", stem.replace("_", " "))  # "2025-12-02" stays
    words = " ".join(words.split())
    return words[:1].upper() + words[1:] if words else path


def locate(name: str, roots: list[Path], base: Path) -> Path:
    """Resolve an untrusted screenshot path inside ``roots`` (symlinks followed) or raise Refused."""
    if "\x00" in name:
        raise Refused("not a valid path")
    if PureWindowsPath(name).drive or name.startswith("\\\\"):
        raise Refused("a path on another machine")
    try:
        return confine(name, roots, base=base)
    except PathRefused as exc:  # fixed reasons only: the devlog is published
        raise Refused(
            "cannot be resolved"
            if "cannot be resolved" in str(exc)
            else "outside the allowed folders"
        ) from None
    except (OSError, ValueError):
        raise Refused("cannot be resolved") from None


def check_paths(source_data: dict[str, Any], roots: list[Path], base: Path) -> list[Refusal]:
    """The screenshots refused by path alone (outside the roots, missing), without reading any."""
    refused = []
    for index, name, _, _ in screenshot_entries(source_data):
        try:
            if not os.path.exists(locate(name, roots, base)):
                raise Refused("not found")
        except Refused as exc:
            refused.append(Refusal(index, name, str(exc)))
    return refused


def _read_bounded(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes; never block on a FIFO or a device."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise Refused("not found") from None
    except OSError:
        raise Refused("cannot be opened") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused("not a regular file")
        if info.st_size == 0:
            raise Refused("empty file")
        if info.st_size > limit:
            raise Refused(f"larger than {limit:,} bytes")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError:
        raise Refused("cannot be read") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise Refused(f"larger than {limit:,} bytes")
    if not data:
        raise Refused("empty file")
    return data


def _open(data: bytes, max_pixels: int):
    """Open ``data`` as an allowed image format and check its size before decoding pixels."""
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise Refused(f"more than {max_pixels:,} pixels") from None
        except (
            Exception
        ):  # Pillow raises many types (OSError, SyntaxError, ValueError...) for bad data
            raise Refused("not a PNG, JPEG, WebP or GIF image") from None
    width, height = image.size
    if width < 1 or height < 1:
        raise Refused("not a PNG, JPEG, WebP or GIF image")
    if width * height > max_pixels:
        raise Refused(f"more than {max_pixels:,} pixels ({width}x{height})")
    return image


def _clean_copy(image):
    """A new image holding only the pixels (and palette/transparency needed to show them)."""
    from PIL import Image

    fresh = Image.frombytes(image.mode, image.size, image.tobytes())
    if image.mode in ("P", "PA") and image.palette is not None:
        rawmode = image.palette.mode
        fresh.putpalette(image.getpalette(rawmode) or [], rawmode)
    transparency = image.info.get("transparency")
    if transparency is not None:
        fresh.info["transparency"] = transparency
    return fresh


def _encode(image, fmt: str) -> bytes:
    """Encode with fixed parameters: the same pixels always give the same bytes."""
    buf = io.BytesIO()
    options: dict[str, Any] = {}
    transparency = image.info.get("transparency")
    if fmt == "JPEG":
        if image.mode not in ("L", "RGB", "CMYK"):
            image = image.convert("RGB")
        options = {"quality": 90}
    elif fmt == "WEBP":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA")
        options = {"quality": 90, "method": 4}
    elif fmt == "GIF":
        if image.mode not in ("P", "L"):
            image = image.convert("P")
            transparency = None
        if transparency is not None:
            options["transparency"] = transparency
    else:
        options = {"compress_level": 6}
        if transparency is not None:
            options["transparency"] = transparency
    image.save(buf, fmt, **options)
    return buf.getvalue()


def _pixel_hash(image, fmt: str) -> str:
    """SHA-256 of what the copy shows: format, mode, size, palette and pixels (not metadata)."""
    digest = hashlib.sha256(f"{fmt}|{image.mode}|{image.size[0]}x{image.size[1]}|".encode())
    if image.mode in ("P", "PA"):
        digest.update(bytes(image.getpalette() or []))
    digest.update(image.tobytes())
    return digest.hexdigest()


def process_image(
    data: bytes, *, thumbnail_px: int, max_pixels: int
) -> tuple[str, str, bytes, bytes, tuple[int, int], tuple[int, int]]:
    """Verify and re-encode image bytes, or raise Refused.

    Returns (hash, ext, copy, thumbnail, the copy's size, the thumbnail's size).
    """
    from PIL import Image, ImageOps

    image = _open(data, max_pixels)
    fmt = image.format
    try:
        image.verify()  # checks structure (PNG CRCs, JPEG markers) without decoding
    except Exception:
        raise Refused("damaged or not an image") from None
    image = _open(data, max_pixels)  # verify() leaves the image unusable: open it again
    try:
        image.seek(0)  # animated GIF/WebP: the first frame only
        image.load()
        try:
            oriented = ImageOps.exif_transpose(image)
        except Exception:  # a damaged EXIF block: show the pixels as stored
            oriented = image
        clean = _clean_copy(oriented)
        thumb = clean.copy()
        thumb.info = dict(clean.info)
        thumb.thumbnail((thumbnail_px, thumbnail_px), Image.Resampling.LANCZOS)
        digest = _pixel_hash(clean, fmt)
        copy, small = _encode(clean, fmt), _encode(thumb, fmt)
        return digest, FORMATS[fmt], copy, small, clean.size, thumb.size
    except Refused:
        raise
    except Exception:
        raise Refused("damaged or not an image") from None


def build_gallery(
    source_data: dict[str, Any],
    roots: list[Path],
    base: Path,
    *,
    max_bytes: int,
    max_pixels: int,
    thumbnail_px: int,
    max_count: int = 100,
) -> tuple[list[GalleryImage], list[Refusal]]:
    """Every screenshot of a session, accepted (copied, thumbnailed) or refused with a reason."""
    images: list[GalleryImage] = []
    refused: list[Refusal] = []
    seen: set[str] = set()
    for n, (index, name, caption, alt) in enumerate(screenshot_entries(source_data)):
        if n >= max_count:
            refused.append(Refusal(index, name, f"beyond the first {max_count} screenshots"))
            continue
        try:
            path = locate(name, roots, base)
            data = _read_bounded(path, max_bytes)
            digest, ext, copy, thumb, (width, height), (thumb_width, thumb_height) = process_image(
                data, thumbnail_px=thumbnail_px, max_pixels=max_pixels
            )
        except Refused as exc:
            refused.append(Refusal(index, name, str(exc)))
            continue
        key = digest[:16]
        if key in seen:  # the same picture listed twice is shown once
            continue
        seen.add(key)
        images.append(
            GalleryImage(
                index=index,
                src=f"media/{key}.{ext}",
                thumb=f"media/{key}_thumb.{ext}",
                caption=caption or readable_name(name),
                alt=alt or caption or readable_name(name),
                data=copy,
                thumb_data=thumb,
                width=width,
                height=height,
                thumb_width=thumb_width,
                thumb_height=thumb_height,
            )
        )
    return images, refused
