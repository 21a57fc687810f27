"""Image metadata: the text PNG, JPEG, WebP and GIF files carry besides pixels, and its removal.

Only the container is parsed (no decoding, no Pillow): PNG ``tEXt``/``zTXt``/``iTXt``/``eXIf``
chunks, JPEG ``APP1`` (EXIF, XMP), ``APP13`` (IPTC) and comment segments, WebP ``EXIF``/``XMP``
chunks, GIF comment and XMP extensions. A damaged file yields what was read before the damage.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator

import attrs

__all__ = ["Metadata", "image_format", "read_metadata", "strip_metadata"]

_MAX_TEXT = 1 << 20  # a compressed text chunk is inflated to at most 1 MiB (zip bombs)


@attrs.frozen
class Metadata:
    """One metadata block: ``where`` names it (``tEXt:Comment``, ``EXIF``, ``XMP``, ``COM``),
    ``text`` is what can be read in it, ``gps`` whether an EXIF block holds a GPS location."""

    where: str
    text: str
    exif: bool = False
    gps: bool = False


def image_format(data: bytes) -> str | None:
    """png, jpeg, webp, gif or None, from the file's first bytes (not its name)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def _printable(data: bytes) -> str:
    """The readable runs of a binary block (EXIF, IPTC), one per line."""
    return "\n".join(m.group().decode("ascii") for m in re.finditer(rb"[\x20-\x7e]{4,}", data))


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompressobj().decompress(data, _MAX_TEXT)
    except zlib.error:
        return b""


def _exif(blob: bytes) -> Metadata:
    """An EXIF (TIFF) block: its readable strings, and whether IFD0 points to GPS data."""
    gps = False
    if blob[:2] in (b"II", b"MM") and len(blob) >= 8:
        order = "<" if blob[:2] == b"II" else ">"
        (ifd,) = struct.unpack(order + "I", blob[4:8])
        if ifd + 2 <= len(blob):
            (count,) = struct.unpack(order + "H", blob[ifd:ifd + 2])
            for n in range(min(count, 512)):
                entry = blob[ifd + 2 + 12 * n: ifd + 14 + 12 * n]
                if len(entry) < 12:
                    break
                tag, _, _, value = struct.unpack(order + "HHII", entry)
                gps = gps or (tag == 0x8825 and value != 0)
    return Metadata("EXIF", _printable(blob[8:]), exif=True, gps=gps)


def _png(data: bytes) -> Iterator[tuple[int, int, Metadata | None]]:
    pos = 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        body = data[pos + 8:pos + 8 + length]
        meta: Metadata | None = None
        if kind == b"tEXt":
            key, _, text = body.partition(b"\0")
            meta = Metadata(f"tEXt:{key.decode('latin-1')}", text.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            meta = Metadata(f"zTXt:{key.decode('latin-1')}", _inflate(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed = rest[:1] == b"\1"
            _lang, _, rest = rest[2:].partition(b"\0")
            _translated, _, text = rest.partition(b"\0")
            raw = _inflate(text) if compressed else text
            meta = Metadata(f"iTXt:{key.decode('latin-1')}", raw.decode("utf-8", "replace"))
        elif kind == b"eXIf":
            meta = _exif(body)
        yield pos, end, meta
        if kind == b"IEND" or end > len(data):
            return
        pos = end


_XMP = b"http://ns.adobe.com/xap/1.0/\0"
_XMP_EXT = b"http://ns.adobe.com/xmp/extension/\0"


def _jpeg(data: bytes) -> Iterator[tuple[int, int, Metadata | None]]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata after this
            return
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        end = pos + 2 + length
        body = data[pos + 4:end]
        meta: Metadata | None = None
        if marker == 0xE1 and body.startswith(b"Exif\0\0"):
            meta = _exif(body[6:])
        elif marker == 0xE1 and body.startswith((_XMP, _XMP_EXT)):
            meta = Metadata("XMP", body.partition(b"\0")[2].decode("utf-8", "replace"))
        elif marker == 0xED:
            meta = Metadata("IPTC", _printable(body))
        elif marker == 0xFE:
            meta = Metadata("COM", body.decode("utf-8", "replace"))
        yield pos, end, meta
        pos = end


def _webp(data: bytes) -> Iterator[tuple[int, int, Metadata | None]]:
    pos = 12
    while pos + 8 <= len(data):
        kind, size = struct.unpack("<4sI", data[pos:pos + 8])
        end = pos + 8 + size + (size & 1)
        body = data[pos + 8:pos + 8 + size]
        meta: Metadata | None = None
        if kind == b"EXIF":
            meta = _exif(body[6:] if body.startswith(b"Exif\0\0") else body)
        elif kind == b"XMP ":
            meta = Metadata("XMP", body.decode("utf-8", "replace"))
        yield pos, end, meta
        pos = end


def _gif(data: bytes) -> Iterator[tuple[int, int, Metadata | None]]:
    pos = 13
    if len(data) > 10 and data[10] & 0x80:
        pos += 3 * 2 ** ((data[10] & 7) + 1)

    def blocks(p: int) -> tuple[int, bytes]:
        out = []
        while p < len(data) and data[p] != 0:
            out.append(data[p + 1:p + 1 + data[p]])
            p += 1 + data[p]
        return p + 1, b"".join(out)

    while pos < len(data):
        kind = data[pos]
        if kind == 0x21 and pos + 1 < len(data):
            label = data[pos + 1]
            end, body = blocks(pos + 2)
            meta: Metadata | None = None
            if label == 0xFE:
                meta = Metadata("COM", body.decode("utf-8", "replace"))
            elif label == 0xFF and body.startswith(b"XMP DataXMP"):
                # XMP sits in GIF as raw bytes split into "blocks" by its own length bytes.
                meta = Metadata("XMP", data[pos + 14:end].decode("utf-8", "replace"))
            yield pos, end, meta
            pos = end
        elif kind == 0x2C and pos + 10 <= len(data):
            flags = data[pos + 9]
            p = pos + 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            end, _ = blocks(p)
            yield pos, end, None
            pos = end
        else:
            return


_PARSERS = {"png": _png, "jpeg": _jpeg, "webp": _webp, "gif": _gif}


def read_metadata(data: bytes) -> list[Metadata]:
    """Every metadata block of an image, in file order ([] for anything else)."""
    fmt = image_format(data)
    if fmt is None:
        return []
    return [meta for _, _, meta in _PARSERS[fmt](data) if meta is not None]


def strip_metadata(data: bytes) -> bytes:
    """The same image without its metadata blocks (pixels and colour profile untouched)."""
    fmt = image_format(data)
    if fmt is None:
        return data
    cuts = [(start, end) for start, end, meta in _PARSERS[fmt](data) if meta is not None]
    if not cuts:
        return data
    out = bytearray()
    last = 0
    for start, end in cuts:
        out += data[last:start]
        last = end
    out += data[last:]
    if fmt == "webp":
        struct.pack_into("<I", out, 4, len(out) - 8)
        head = out.find(b"VP8X", 12, 40)
        if head >= 0:
            out[head + 8] &= ~0x0C & 0xFF  # the EXIF and XMP flags of the extended header
    return bytes(out)
