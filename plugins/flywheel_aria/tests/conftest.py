"""Fixtures for flywheel-aria tests: only this plugin loads, real images are made with Pillow."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "life_aria_session.json"
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(autouse=True)
def _only_aria(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Other plugins must not change what these tests see; the cwd holds no flywheel.toml.
    monkeypatch.setenv("FLYWHEEL_LOAD_PLUGINS", "aria")
    monkeypatch.delenv("FLYWHEEL_STRICT_PLUGINS", raising=False)
    monkeypatch.chdir(tmp_path)


def pattern_image(width: int, height: int, mode: str = "RGB", seed: int = 0):
    """A deterministic picture computed in Python (independent of Pillow's drawing code)."""
    from PIL import Image

    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    data = bytearray()
    for y in range(height):
        for x in range(width):
            v = ((x // 8) * 37 + (y // 8) * 91 + seed * 53) % 256
            data.extend([v, (v * 3 + seed) % 256, (255 - v), 200][:channels])
    return Image.frombytes(mode, (width, height), bytes(data))


def exif_with_gps(orientation: int = 1):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SecretCamMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    return exif


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming huge dimensions, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def image_bytes(image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.fixture
def write_session(tmp_path: Path, make_session) -> Callable[..., Path]:
    """Write a life_aria session into ``tmp_path/session`` (or ``folder``) and return its path."""

    def write(folder: Path | None = None, name: str = "work_session.json", **fields: Any) -> Path:
        folder = folder or tmp_path / "session"
        folder.mkdir(parents=True, exist_ok=True)
        doc = make_session("life_aria", **fields)
        path = folder / name
        path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_json(flywheel_cli, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """``flywheel run --json FILE --out tmp/out``: the single session result, exit code checked."""

    def run(path: Path, *extra: Any, expect: int = 0) -> dict[str, Any]:
        result = flywheel_cli("run", "--json", "--out", tmp_path / "out", *extra, path)
        assert result.exit_code == expect, result.output
        (data,) = result.json()
        return data

    return run


@pytest.fixture
def pics():
    """Image helpers: ``pics.pattern(w, h)``, ``pics.exif()``, ``pics.bomb(w, h)``, ``pics.encode(img, fmt)``."""
    from types import SimpleNamespace

    return SimpleNamespace(
        pattern=pattern_image, exif=exif_with_gps, bomb=png_bomb, encode=image_bytes
    )


@pytest.fixture
def example_doc() -> dict[str, Any]:
    """The shared life_aria example session (examples/life_aria_session.json)."""
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """``golden(name, text)``: compare with tests/golden/NAME; FLYWHEEL_UPDATE_GOLDEN=1 rewrites it."""
    import os

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if os.environ.get("FLYWHEEL_UPDATE_GOLDEN") == "1":
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"{path} is missing: run with FLYWHEEL_UPDATE_GOLDEN=1 and read it"
        assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"

    return check


# Tags markdown-it itself emits for CommonMark; anything else would be raw HTML getting through.
MARKDOWN_TAGS = {
    "p", "em", "strong", "code", "pre", "a", "img", "ul", "ol", "li", "blockquote", "hr", "br",
    "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip


def assert_inert(markdown: str) -> None:
    """Render as the most permissive site would (raw HTML allowed) and check nothing is raw:
    only CommonMark's own tags, no event handler, only http(s)/mailto links and images."""
    import re

    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": True}).render(markdown)
    tags = set(re.findall(r"</?([A-Za-z][\w-]*)", html))
    assert tags <= MARKDOWN_TAGS, (tags - MARKDOWN_TAGS, markdown)
    for url in re.findall(r'\b(?:href|src)="([^"]*)"', html):
        assert re.match(r"(https?://|mailto:|media/)", url), (url, markdown)
    assert not re.search(r"<[^>]*\son\w+=", html), markdown


@pytest.fixture
def inert() -> Callable[[str], None]:
    """``inert(markdown)``: fail if the Markdown would render any raw HTML or unsafe URL."""
    return assert_inert
