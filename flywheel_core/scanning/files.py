"""Scanning and redacting an artifact's files: text by its type, images by their metadata."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from flywheel_core.errors import FlywheelError
from flywheel_core.scanning.media import image_format, read_metadata, strip_metadata
from flywheel_core.scanning.model import Finding, ScanContext, fingerprint
from flywheel_core.scanning.scanner import redact_text, scan_text

__all__ = ["scan_files", "redact_files", "Unredactable", "TEXT_EXTENSIONS"]

#: Read as text (and unescaped by type: Markdown, HTML/SVG/XML, JSON); any other file that
#: is valid UTF-8 is read as plain text too.
TEXT_EXTENSIONS = frozenset(
    ".md .markdown .txt .json .csv .tsv .svg .html .htm .xml .atom .rss .yml .yaml .toml .ini .cfg .log"
    .split()
)


class Unredactable(FlywheelError):
    """A file's findings cannot be cut out (a binary that is not an image): hold it instead."""


def _decode(data: bytes) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > name.rfind("/") else ""


def _scan_image(name: str, data: bytes, ctx: ScanContext) -> list[Finding]:
    out: list[Finding] = []
    for meta in read_metadata(data):
        where = f"{name}#{meta.where}"
        if meta.exif:
            rule = "Image location" if meta.gps else "Image metadata"
            severity = "personal" if meta.gps else "private"
            preview = "EXIF with GPS position" if meta.gps else "EXIF block (camera, time, settings)"
            fp = fingerprint(rule, meta.text)
            if (rule, fp) not in ctx.allow and (ctx.rules is None or rule in ctx.rules):
                out.append(Finding(rule, where, 1, 1, preview, fp, severity, 0, 0))
        out.extend(scan_text(meta.text, name=where, context=ctx, kind="html" if meta.where == "XMP" else "plain"))
    return out


def scan_files(files: Mapping[str, bytes], *, context: ScanContext | None = None) -> list[Finding]:
    """Every finding in an artifact's files (main file and attachments), file by file.

    Text files are scanned as text (``Finding.file`` is the file name). Images are scanned
    by their metadata: each text chunk is scanned (``Finding.file`` is ``shot.png#tEXt:Comment``,
    ``photo.jpg#XMP``), and an EXIF block is itself a finding (``Image location`` when it holds
    a GPS position, else ``Image metadata``): flywheel's gallery strips EXIF, so one that is
    left is a leak. Any other binary is scanned by its readable strings (``name#strings``).
    """
    ctx = context or ScanContext()
    out: list[Finding] = []
    for name, data in files.items():
        if image_format(data):
            out.extend(_scan_image(name, data, ctx))
            continue
        text = _decode(data)
        if text is not None:
            out.extend(scan_text(text, name=name, context=ctx))
        else:
            strings = "\n".join(m.group().decode("ascii") for m in re.finditer(rb"[\x20-\x7e]{6,}", data))
            out.extend(scan_text(strings, name=f"{name}#strings", context=ctx, kind="plain"))
    return out


def redact_files(files: Mapping[str, bytes], findings: Iterable[Finding]) -> dict[str, bytes]:
    """``files`` with every finding cut out: each span of a text file replaced by
    ``[redacted:<rule>]``, an image's metadata blocks removed. Files without findings are
    returned as they are.

    Raises ``Unredactable`` for a finding in a binary that is not an image, or when a JSON
    file would no longer parse (nothing half-redacted is ever returned).
    """
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        # "shot.png#EXIF" is in shot.png; a file may have "#" in its own name.
        by_file.setdefault(f.file if f.file in files else f.file.rsplit("#", 1)[0], []).append(f)
    out = dict(files)
    for name, found in by_file.items():
        data = files.get(name)
        if data is None:
            continue
        if image_format(data):
            out[name] = strip_metadata(data)
            continue
        text = _decode(data)
        if text is None or any(f.file != name for f in found):
            raise Unredactable(f"{name}: binary file with findings; it cannot be redacted, hold it instead")
        redacted = redact_text(text, found)
        if _suffix(name) == ".json":
            try:
                json.loads(redacted)
            except ValueError:
                raise Unredactable(f"{name}: redacting it would break its JSON; hold it instead") from None
        out[name] = redacted.encode("utf-8")
    return out
