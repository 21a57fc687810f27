"""The screenshot gallery: real images copied without metadata, untrusted paths refused."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from flywheel_aria.gallery import build_gallery, process_image


def _open(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


def _artifact_dir(tmp_path: Path, session_id: str = "test-life_aria-001") -> Path:
    return tmp_path / "out" / "life_aria" / session_id


def test_jpeg_copy_drops_exif_and_gps_and_applies_orientation(
    tmp_path, pics, write_session, run_json
):
    folder = tmp_path / "session"
    (folder / "shots").mkdir(parents=True)
    source = pics.pattern(240, 160)
    (folder / "shots" / "phone.jpg").write_bytes(
        pics.encode(source, "JPEG", exif=pics.exif(orientation=6), quality=95)
    )
    original = Image.open(folder / "shots" / "phone.jpg")
    assert original.getexif().get_ifd(0x8825), "the test image must carry GPS data"

    path = write_session(source_data={"screenshots": ["shots/phone.jpg"]})
    data = run_json(path)

    images = data["artifacts"]["devlog"]["meta"]["images"]
    assert len(images) == 1 and images[0]["caption"] == "Phone"
    copy_path = _artifact_dir(tmp_path) / images[0]["src"]
    raw = copy_path.read_bytes()
    copy = _open(copy_path)
    assert copy.format == "JPEG" and images[0]["src"].endswith(".jpg")
    assert dict(copy.getexif()) == {}
    assert "exif" not in copy.info and b"Exif" not in raw and b"SecretCamMaker" not in raw
    assert copy.size == (160, 240), "orientation 6 means the picture is turned a quarter"
    thumb = _open(_artifact_dir(tmp_path) / images[0]["thumb"])
    assert dict(thumb.getexif()) == {} and thumb.size == (160, 240)  # never upscaled


def test_png_copy_keeps_format_and_thumbnail_fits_480(tmp_path, pics, write_session, run_json):
    folder = tmp_path / "session"
    folder.mkdir()
    big = pics.pattern(1000, 600, "RGBA")
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Comment", "private note")
    big.save(folder / "big.png", pnginfo=info, exif=pics.exif())
    path = write_session(source_data={"screenshots": ["big.png"]})
    data = run_json(path)
    meta = data["artifacts"]["devlog"]["meta"]
    src, thumb = meta["images"][0]["src"], meta["images"][0]["thumb"]
    assert meta["image"] == src and src.startswith("media/") and src.endswith(".png")
    assert thumb == src.replace(".png", "_thumb.png")
    copy = _open(_artifact_dir(tmp_path) / src)
    assert copy.size == (1000, 600) and copy.mode == "RGBA"
    assert copy.tobytes() == big.tobytes(), "a PNG copy is lossless"
    assert "Comment" not in copy.info and "exif" not in copy.info
    small = _open(_artifact_dir(tmp_path) / thumb)
    assert max(small.size) == 480 and small.size == (480, 288)
    # the attachment name is a content hash: 16 hex digits
    assert len(Path(src).stem) == 16 and int(Path(src).stem, 16) >= 0


def test_same_input_gives_same_bytes(tmp_path, pics):
    jpeg = pics.encode(pics.pattern(300, 200), "JPEG", exif=pics.exif(3))
    png = pics.encode(pics.pattern(300, 200, "RGBA", seed=4), "PNG")
    for data in (jpeg, png):
        first = process_image(data, thumbnail_px=480, max_pixels=10**7)
        second = process_image(data, thumbnail_px=480, max_pixels=10**7)
        assert first == second


def test_same_pixels_with_other_metadata_share_a_name(pics):
    image = pics.pattern(64, 64)
    plain = process_image(pics.encode(image, "PNG"), thumbnail_px=480, max_pixels=10**7)
    tagged = process_image(
        pics.encode(image, "PNG", exif=pics.exif()), thumbnail_px=480, max_pixels=10**7
    )
    other = process_image(
        pics.encode(pics.pattern(64, 64, seed=9), "PNG"), thumbnail_px=480, max_pixels=10**7
    )
    assert plain[0] == tagged[0] and plain[2] == tagged[2]
    assert other[0] != plain[0]


@pytest.mark.parametrize("fmt, ext", [("GIF", "gif"), ("WEBP", "webp")])
def test_gif_and_webp_keep_their_format(tmp_path, pics, fmt, ext):
    image = pics.pattern(100, 50).convert("P") if fmt == "GIF" else pics.pattern(100, 50)
    (tmp_path / f"a.{ext}").write_bytes(pics.encode(image, fmt))
    images, refused = build_gallery(
        {"screenshots": [f"a.{ext}"]},
        [tmp_path],
        tmp_path,
        max_bytes=10**6,
        max_pixels=10**6,
        thumbnail_px=40,
    )
    assert refused == []
    (img,) = images
    assert img.src.endswith(f".{ext}")
    assert Image.open(io.BytesIO(img.data)).format == fmt
    assert Image.open(io.BytesIO(img.thumb_data)).size == (40, 20)


def test_object_items_with_caption_and_duplicates(tmp_path, pics):
    data = pics.encode(pics.pattern(20, 20), "PNG")
    (tmp_path / "a.png").write_bytes(data)
    (tmp_path / "copy of a.png").write_bytes(data)
    items = [{"path": "a.png", "caption": "The <b>menu</b>"}, "copy of a.png", {"path": "a.png"}]
    images, refused = build_gallery(
        {"screenshots": items},
        [tmp_path],
        tmp_path,
        max_bytes=10**6,
        max_pixels=10**6,
        thumbnail_px=480,
    )
    assert refused == [] and len(images) == 1, "the same picture is shown once"
    assert images[0].caption == "The <b>menu</b>"  # escaped by the template, kept raw in meta
    assert images[0].alt == "The <b>menu</b>", "without a description the caption is the alt text"


def test_gallery_entries_carry_captions_alt_text_and_sizes(tmp_path, pics, write_session, run_json):
    folder = tmp_path / "session"
    (folder / "shots").mkdir(parents=True)
    for name, size in (
        ("night-garden_01.png", (960, 540)),
        ("day.png", (300, 600)),
        ("x.png", (64, 64)),
    ):
        (folder / "shots" / name).write_bytes(
            pics.encode(pics.pattern(*size, seed=len(name)), "PNG")
        )
    path = write_session(
        source_data={
            "screenshots": [
                "shots/night-garden_01.png",
                {
                    "path": "shots/day.png",
                    "caption": "The garden by day",
                    "description": "Tall green plants under a blue sky, four [flowers]",
                },
                {
                    "path": "shots/x.png",
                    "alt": "A single *red* pixel sprite",
                    "description": "ignored when alt is given",
                },
            ]
        }
    )
    data = run_json(path)
    images = data["artifacts"]["devlog"]["meta"]["images"]
    assert [(i["caption"], i["alt"]) for i in images] == [
        ("Night garden 01", "Night garden 01"),  # the file name made readable
        ("The garden by day", "Tall green plants under a blue sky, four [flowers]"),
        ("X", "A single *red* pixel sprite"),
    ]
    sizes = ["width", "height", "thumb_width", "thumb_height"]
    assert [[i[k] for k in sizes] for i in images] == [
        [960, 540, 480, 270],
        [300, 600, 240, 480],
        [64, 64, 64, 64],  # never upscaled
    ]
    folder = _artifact_dir(tmp_path)
    for image in images:
        assert _open(folder / image["src"]).size == (image["width"], image["height"])
        assert _open(folder / image["thumb"]).size == (image["thumb_width"], image["thumb_height"])
    devlog = (folder / "devlog.md").read_text(encoding="utf-8")
    alt = "Tall green plants under a blue sky, four \\[flowers\\]"
    day = f"[![{alt}]({images[1]['thumb']})]({images[1]['src']})  \n*The garden by day*\n"
    assert day in devlog
    assert f"[![A single \\*red\\* pixel sprite]({images[2]['thumb']})]" in devlog


def _refusal_cases(base: Path, pics) -> dict[str, tuple[str, str]]:
    """name -> (path as the session writes it, expected reason). Builds the files they name."""
    session = base / "session"
    outside = base / "outside"
    session.mkdir()
    outside.mkdir()
    secret = pics.encode(pics.pattern(30, 30, seed=7), "PNG")
    (outside / "secret.png").write_bytes(secret)
    os.symlink(outside / "secret.png", session / "link.png")
    (session / "notes.png").write_text(
        "plain text, SECRET-TEXT-CONTENT, not a picture\n", encoding="utf-8"
    )
    (session / "empty.png").write_bytes(b"")
    (session / "bomb.png").write_bytes(pics.bomb(100_000, 100_000))
    (session / "wide.png").write_bytes(pics.bomb(12_000, 5_000))
    (session / "truncated.png").write_bytes(pics.encode(pics.pattern(200, 200), "PNG")[:300])
    (session / "folder.png").mkdir()
    os.mkfifo(session / "pipe.png")
    os.symlink("loop-b.png", session / "loop-a.png")
    os.symlink("loop-a.png", session / "loop-b.png")
    return {
        "etc_passwd": ("../../etc/passwd", "outside the allowed folders"),
        "absolute_outside": (str(outside / "secret.png"), "outside the allowed folders"),
        "symlink_out": ("link.png", "outside the allowed folders"),
        "text_named_png": ("notes.png", "not a PNG, JPEG, WebP or GIF image"),
        "zero_bytes": ("empty.png", "empty file"),
        "missing": ("nowhere/missing.png", "not found"),
        "bomb_header": ("bomb.png", "more than 50,000,000 pixels"),
        "over_pixel_limit": ("wide.png", "more than 50,000,000 pixels (12000x5000)"),
        "truncated": ("truncated.png", "damaged or not an image"),
        "windows_drive": ("D:/shots/a.png", "a path on another machine"),
        "directory": ("folder.png", "not a regular file"),
        "fifo": ("pipe.png", "not a regular file"),
        "symlink_loop": ("loop-a.png", "cannot be resolved"),
        "nul_byte": ("a\x00.png", "not a valid path"),
        "unc_share": ("\\\\server\\share\\a.png", "a path on another machine"),
    }


def test_every_refused_screenshot_is_a_warning_and_not_published(
    tmp_path, pics, write_session, flywheel_cli
):
    cases = _refusal_cases(tmp_path, pics)
    good = pics.encode(pics.pattern(40, 30), "PNG")
    (tmp_path / "session" / "good.png").write_bytes(good)
    names = [path for path, _ in cases.values()] + ["good.png"]
    path = write_session(source_data={"screenshots": names})

    result = flywheel_cli("run", "--json", "--out", tmp_path / "out", path)

    assert result.exit_code == 0, result.output
    (data,) = result.json()
    warnings = {p["path"]: p["message"] for p in data["problems"] if p["severity"] == "warning"}
    assert len(warnings) == len(data["problems"]) == len(cases), (
        "one warning per refused screenshot"
    )
    for i, (name, reason) in enumerate(cases.values()):
        assert f"left out: {reason}" in warnings[f"$.source_data.screenshots[{i}]"], (
            name,
            warnings,
        )
    assert f"$.source_data.screenshots[{len(cases)}]" not in warnings
    devlog = (_artifact_dir(tmp_path) / "devlog.md").read_text(encoding="utf-8")
    # The devlog is published and read by strangers: what was left out is the author's
    # business (the run's warnings name it in full), not the reader's.
    assert "could not be included" not in devlog and "missing" not in devlog
    assert "passwd" not in devlog and "secret" not in devlog and str(tmp_path) not in devlog
    assert "D:/shots" not in devlog and "server" not in devlog and "\x00" not in devlog
    assert "SECRET-TEXT-CONTENT" not in devlog + result.output
    # only the good picture was copied: nothing from outside the session folder
    media = sorted(p.name for p in (_artifact_dir(tmp_path) / "media").iterdir())
    assert len(media) == 2
    secret_pixels = pics.pattern(30, 30, seed=7).tobytes()
    for name in media:
        assert _open(_artifact_dir(tmp_path) / "media" / name).tobytes() != secret_pixels
    assert data["artifacts"]["devlog"]["meta"]["provenance"] == {
        "conversations": 0,
        "screenshots": 1,
    }


def test_media_roots_admit_a_folder_outside_the_session(
    tmp_path, pics, write_session, flywheel_cli
):
    shared = tmp_path / "shared-shots"
    shared.mkdir()
    (shared / "a.png").write_bytes(pics.encode(pics.pattern(50, 50), "PNG"))
    path = write_session(source_data={"screenshots": [str(shared / "a.png")]})
    refused = flywheel_cli("run", "--json", "--out", tmp_path / "out", path).json()[0]
    assert "images" not in refused["artifacts"]["devlog"]["meta"]

    config = tmp_path / "flywheel.toml"
    config.write_text(f'media_roots = ["{shared.name}"]\n', encoding="utf-8")
    result = flywheel_cli("run", "--json", "--config", config, "--out", tmp_path / "out", path)
    assert result.exit_code == 0, result.output
    assert result.json()[0]["artifacts"]["devlog"]["meta"]["images"][0]["caption"] == "A"


def test_size_limit_from_plugin_config(tmp_path, pics, write_session, flywheel_cli):
    folder = tmp_path / "session"
    folder.mkdir()
    (folder / "a.png").write_bytes(pics.encode(pics.pattern(200, 200), "PNG"))
    (folder / "b.png").write_bytes(pics.encode(pics.pattern(2, 2), "PNG"))
    (tmp_path / "flywheel.toml").write_text(
        "[plugins.aria]\nmax_image_bytes = 100\nmax_screenshots = 2\n", encoding="utf-8"
    )
    path = write_session(source_data={"screenshots": ["a.png", "b.png", "b.png"]})
    result = flywheel_cli("run", "--json", "--out", tmp_path / "out", path)
    assert result.exit_code == 0, result.output
    (data,) = result.json()
    messages = {p["path"]: p["message"] for p in data["problems"]}
    assert messages["$.source_data.screenshots[0]"].endswith("left out: larger than 100 bytes")
    assert "$.source_data.screenshots[1]" not in messages
    assert messages["$.source_data.screenshots[2]"].endswith(
        "left out: beyond the first 2 screenshots"
    )
    assert len(data["artifacts"]["devlog"]["meta"]["images"]) == 1


def test_bad_plugin_config_is_one_line_exit_2(tmp_path, write_session, flywheel_cli):
    (tmp_path / "flywheel.toml").write_text(
        '[plugins.aria]\nthumbnail_px = "big"\n', encoding="utf-8"
    )
    path = write_session(source_data={"screenshots": []})
    result = flywheel_cli("run", "--out", tmp_path / "out", path)
    assert result.exit_code == 2, result.output
    assert "thumbnail_px" in result.stderr and 'expected integer, got string "big"' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_rerun_is_byte_identical(tmp_path, pics, write_session, flywheel_cli):
    folder = tmp_path / "session"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(pics.encode(pics.pattern(600, 500), "JPEG", exif=pics.exif(8)))
    (folder / "b.png").write_bytes(pics.encode(pics.pattern(700, 300, "RGBA", seed=2), "PNG"))
    path = write_session(source_data={"screenshots": ["a.jpg", "b.png"]})

    def snapshot() -> dict[str, bytes]:
        result = flywheel_cli("run", "--out", tmp_path / "out", path)
        assert result.exit_code == 0, result.output
        root = _artifact_dir(tmp_path)
        return {
            str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
        }

    first = snapshot()
    assert len([n for n in first if n.startswith("media/")]) == 4
    assert snapshot() == first
    assert json.loads(first["social_post.json"])["x"]


def test_animated_gif_keeps_its_first_frame(tmp_path, pics):
    frames = [pics.pattern(32, 32, seed=s).convert("P") for s in (1, 2, 3)]
    buf = io.BytesIO()
    frames[0].save(
        buf,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=100,
        loop=0,
        comment=b"private",
    )
    (tmp_path / "anim.gif").write_bytes(buf.getvalue())
    images, refused = build_gallery(
        {"screenshots": ["anim.gif"]},
        [tmp_path],
        tmp_path,
        max_bytes=10**6,
        max_pixels=10**6,
        thumbnail_px=480,
    )
    assert refused == []
    copy = Image.open(io.BytesIO(images[0].data))
    assert getattr(copy, "n_frames", 1) == 1 and "comment" not in copy.info
    assert copy.convert("RGB").tobytes() == frames[0].convert("RGB").tobytes()


@pytest.mark.parametrize(
    "path, readable",
    [
        ("screenshots/gameplay_001.png", "Gameplay 001"),
        ("C:\\shots\\pixel-garden-night.webp", "Pixel garden night"),
        ("Screenshot 2025-12-02 at 10.31.22.png", "Screenshot 2025-12-02 at 10.31.22"),
        ("IMG_2034.JPG", "IMG 2034"),
        ("level-2.png", "Level 2"),
        ("__.png", "__.png"),
    ],
)
def test_readable_name(path, readable):
    from flywheel_aria.gallery import readable_name

    assert readable_name(path) == readable
