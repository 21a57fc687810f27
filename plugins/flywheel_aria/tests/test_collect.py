"""``flywheel collect aria``: Markdown notes and a screenshot folder to a valid life_aria session."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

NOTE_WITH_HEADINGS = """---
timestamp: 2025-12-02T09:30:00+01:00
source: "aria"
title: Game night notes
---
# Game night

Set the scene first.

## Physics

Gravity feels right now.

```python
## not a heading: inside a code fence
```

## Lighting

Dynamic lights <b>work</b>.
"""

PLAIN_NOTE = "Sketched the level map. It has 3 zones.\n"


def _notes(tmp_path: Path) -> Path:
    notes = tmp_path / "notes"
    (notes / "day1").mkdir(parents=True)
    (notes / "day1" / "game.md").write_text(NOTE_WITH_HEADINGS, encoding="utf-8")
    (notes / "sketch.markdown").write_text(PLAIN_NOTE, encoding="utf-8")
    (notes / ".hidden.md").write_text("secret draft\n", encoding="utf-8")
    (notes / "todo.txt").write_text("not a note\n", encoding="utf-8")
    os.utime(notes / "sketch.markdown", (1764660000, 1764660000))  # 2025-12-02T07:20:00Z
    return notes


def _screens(folder: Path, pics) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "b.png").write_bytes(pics.encode(pics.pattern(64, 48, seed=2), "PNG"))
    (folder / "a.JPG").write_bytes(
        pics.encode(pics.pattern(64, 48, seed=1), "JPEG", exif=pics.exif())
    )
    (folder / "readme.txt").write_text("not an image", encoding="utf-8")
    return folder


def test_collect_writes_a_session_that_runs(tmp_path, pics, flywheel_cli):
    notes = _notes(tmp_path)
    out_dir = tmp_path / "sessions"
    _screens(out_dir / "shots", pics)
    target = out_dir / "aria.json"

    result = flywheel_cli(
        "collect",
        "aria",
        "--notes",
        notes,
        "--screenshots",
        out_dir / "shots",
        "--agent-id",
        "Agent-7",
        "-o",
        target,
    )

    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "4 entries, 2 screenshots" in result.stdout
    doc = json.loads(target.read_text(encoding="utf-8"))
    convs = doc["source_data"]["conversations"]
    assert [(c.get("title"), c["source"], c["timestamp"]) for c in convs] == [
        ("Game night", "aria", "2025-12-02T08:30:00Z"),
        ("Physics", "aria", "2025-12-02T08:30:00Z"),
        ("Lighting", "aria", "2025-12-02T08:30:00Z"),
        (None, "notes", "2025-12-02T07:20:00Z"),
    ]
    assert convs[0]["content"] == "Set the scene first."
    assert "## not a heading: inside a code fence" in convs[1]["content"]
    assert convs[2]["content"] == "Dynamic lights <b>work</b>."
    assert convs[3]["content"] == "Sketched the level map. It has 3 zones."
    assert doc["source_data"]["screenshots"] == ["shots/a.JPG", "shots/b.png"]
    assert doc["session_type"] == "life_aria" and doc["agent_id"] == "Agent-7"
    assert doc["timestamp"] == "2025-12-02T08:30:00Z"
    assert doc["metadata"] == {"artifacts_created": 0, "screenshots_taken": 2}
    assert doc["title"] == "Game night notes", "front matter title names the session"
    assert "secret draft" not in target.read_text(encoding="utf-8")

    assert flywheel_cli("validate", target).exit_code == 0
    run = flywheel_cli("run", "--json", "--out", tmp_path / "out", target)
    assert run.exit_code == 0, run.output
    (data,) = run.json()
    assert [p for p in data["problems"] if p["severity"] == "warning"] == []
    images = data["artifacts"]["devlog"]["meta"]["images"]
    assert [i["caption"] for i in images] == ["A", "B"]
    devlog = Path(data["artifacts"]["devlog"]["path"]).read_text(encoding="utf-8")
    # entries from "source: aria" are quoted, the author's notes are the body
    assert "### Physics\n\n> Gravity feels right now." in devlog
    assert "> Dynamic lights \\<b>work\\</b>." in devlog
    assert "\nSketched the level map. It has 3 zones.\n" in devlog


def test_collect_is_deterministic_and_prints_without_output(tmp_path, flywheel_cli):
    notes = _notes(tmp_path)
    first = flywheel_cli("collect", "aria", "--notes", notes)
    second = flywheel_cli("collect", "aria", "--notes", notes)
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert doc["session_id"].startswith("aria-2025-12-02-") and doc["agent_id"] == "aria"
    assert doc["source_data"]["screenshots"] == []


def test_single_file_uses_its_mtime_in_utc(tmp_path, flywheel_cli):
    note = tmp_path / "one.md"
    note.write_text("# Walk\n\nWent for a walk.\n", encoding="utf-8")
    moment = datetime(2025, 6, 1, 12, 34, 56, tzinfo=timezone.utc).timestamp()
    os.utime(note, (moment, moment))
    doc = json.loads(flywheel_cli("collect", "aria", "--notes", note).stdout)
    (conv,) = doc["source_data"]["conversations"]
    assert conv == {
        "source": "notes",
        "title": "Walk",
        "content": "Went for a walk.",
        "timestamp": "2025-06-01T12:34:56Z",
        "artifacts": [],
    }


def test_screenshots_outside_the_output_folder_are_absolute_with_a_hint(
    tmp_path, pics, flywheel_cli
):
    notes = _notes(tmp_path)
    shots = _screens(tmp_path / "elsewhere", pics)
    target = tmp_path / "sessions" / "s.json"
    result = flywheel_cli("collect", "aria", "--notes", notes, "--screenshots", shots, "-o", target)
    assert result.exit_code == 0, result.output
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["source_data"]["screenshots"] == [
        str((shots / "a.JPG").resolve()),
        str((shots / "b.png").resolve()),
    ]
    assert "media_roots" in result.stderr


def test_bad_input_is_one_line_exit_2(tmp_path, flywheel_cli):
    missing = flywheel_cli("collect", "aria", "--notes", tmp_path / "nope")
    assert missing.exit_code == 2 and "notes file or folder not found" in missing.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    result = flywheel_cli("collect", "aria", "--notes", empty)
    assert result.exit_code == 2 and "no notes found" in result.stderr

    bad = tmp_path / "bad.md"
    bad.write_text("---\ntimestamp: next tuesday\n---\ntext\n", encoding="utf-8")
    result = flywheel_cli("collect", "aria", "--notes", bad)
    assert result.exit_code == 2
    assert f"{bad}: front matter timestamp:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    binary = tmp_path / "bin.md"
    binary.write_bytes(b"\xff\xfe\x00bad")
    result = flywheel_cli("collect", "aria", "--notes", binary)
    assert result.exit_code == 2 and "not UTF-8 text" in result.stderr

    result = flywheel_cli(
        "collect", "aria", "--notes", _notes(tmp_path), "--screenshots", tmp_path / "none"
    )
    assert result.exit_code == 2 and "screenshots folder not found" in result.stderr


def test_notes_symlinked_out_of_the_folder_and_fifos_are_left_out(tmp_path, flywheel_cli):
    # A note is published: a symlink in the notes folder must not smuggle in a file from elsewhere.
    secret = tmp_path / "secret.md"
    secret.write_text("SECRET-CANARY\n", encoding="utf-8")
    notes = _notes(tmp_path)
    (notes / "leak.md").symlink_to(secret)
    (notes / "outside").symlink_to(tmp_path, target_is_directory=True)
    (notes / "inside.md").symlink_to(notes / "sketch.markdown")
    os.mkfifo(notes / "pipe.md")
    result = flywheel_cli("collect", "aria", "--notes", notes)
    assert result.exit_code == 0, result.output
    assert "SECRET-CANARY" not in result.stdout
    assert f"{notes / 'leak.md'}: left out: a symlink to a file outside {notes}" in result.stderr
    contents = [c["content"] for c in json.loads(result.stdout)["source_data"]["conversations"]]
    assert contents.count(PLAIN_NOTE.strip()) == 2, "a symlink that stays inside the folder is kept"


def test_front_matter_is_yaml_lists_and_folded_values_work(tmp_path, flywheel_cli):
    note = tmp_path / "garden.md"
    note.write_text(
        "---\n"
        "title: Pixel Garden\n"
        "date: 2026-11-29\n"
        "tags: [pixel-art, garden, 2026]\n"
        "summary: >\n"
        "  A tiny pixel-art garden that grows\n"
        "  while you are away.\n"
        "---\n"
        "Seeds grow over real hours.\n",
        encoding="utf-8",
    )
    result = flywheel_cli("collect", "aria", "--notes", note)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["title"] == "Pixel Garden"
    assert doc["summary"] == "A tiny pixel-art garden that grows while you are away."
    assert doc["tags"] == ["pixel-art", "garden", "2026"]
    (conv,) = doc["source_data"]["conversations"]
    assert conv["timestamp"] == "2026-11-29T00:00:00Z", "a YAML date is midnight UTC"
    assert conv["content"] == "Seeds grow over real hours."
    assert flywheel_cli("validate", _write(tmp_path / "s.json", doc)).exit_code == 0


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_bad_front_matter_is_a_warning_naming_the_note(tmp_path, flywheel_cli):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(
        "---\ntitle: [unclosed\nprivate: do not publish\n---\nKept text.\n", encoding="utf-8"
    )
    (notes / "b.md").write_text("---\n- a list\n- not a mapping\n---\nB text.\n", encoding="utf-8")
    (notes / "c.md").write_text("---\nA thematic break, no closing line.\n", encoding="utf-8")
    result = flywheel_cli("collect", "aria", "--notes", notes)
    assert result.exit_code == 0, result.output
    assert f"{notes / 'a.md'}: front matter is not valid YAML (line 3): ignored" in result.stderr
    assert f"{notes / 'b.md'}: front matter is not a list of 'key: value' lines: ignored" in (
        result.stderr
    )
    assert "Traceback" not in result.output
    contents = [c["content"] for c in json.loads(result.stdout)["source_data"]["conversations"]]
    assert contents == ["Kept text.", "B text.", "---\nA thematic break, no closing line."]
    assert "do not publish" not in result.stdout, "a broken block is left out, not published"


def test_title_comes_from_the_notes_and_the_option_wins(tmp_path, flywheel_cli):
    note = tmp_path / "garden.md"
    note.write_text("# Pixel Garden\n\n**Date**: 2026-11-29\n\n## Why\n\nCalm.\n", encoding="utf-8")
    doc = json.loads(flywheel_cli("collect", "aria", "--notes", note).stdout)
    assert doc["title"] == "Pixel Garden"
    forced = flywheel_cli("collect", "aria", "--notes", note, "--title", "  My   garden ")
    assert json.loads(forced.stdout)["title"] == "My garden"


def test_the_devlog_is_titled_by_the_notes_heading(tmp_path, flywheel_cli):
    # issue 13: "# Pixel Garden" became "Devlog: aria, 2026-11-29"
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "garden.md").write_text(
        "---\ndate: 2026-11-29\n---\n# Pixel Garden\n\n**Date**: 2026-11-29\n\n"
        "Seeds grow over real hours.\n\n## Sprites\n\n### Colours\n\nFour per plant.\n",
        encoding="utf-8",
    )
    target = tmp_path / "aria.json"
    assert flywheel_cli("collect", "aria", "--notes", notes, "-o", target).exit_code == 0
    run = flywheel_cli("run", "--json", "--out", tmp_path / "out", target)
    assert run.exit_code == 0, run.output
    record = run.json()[0]["artifacts"]["devlog"]
    assert record["title"] == "Pixel Garden"
    devlog = Path(record["path"]).read_text(encoding="utf-8")
    assert devlog.startswith("# Pixel Garden\n")
    assert "Devlog: aria" not in devlog
    # issue 13: the notes' Markdown showed escaped (\*\*Date\*\*)
    assert "**Date**: 2026-11-29" in devlog and "\\*" not in devlog
    assert "\n## Sprites\n\n### Colours\n\nFour per plant.\n" in devlog, "nested under its note"


GARDEN = """# Pixel Garden

**Date**: 2026-11-29
**Mood**: curious

Aria and I made a small garden game in the browser. Seeds are planted with a click and
grow over real hours, so the page is different each time you come back.

## Why

I wanted something calm to open between tasks, with no score and no timer at all.

## How it looks

- 16x16 sprites, four colours per plant, drawn by hand in one evening
- A day/night palette swap every ten minutes of real time
"""


def _sentences(markdown: str) -> list[str]:
    """Sentences (or lines) of 40+ characters as a reader sees them (markup characters dropped)."""
    text = re.sub(r"[*_`>#\\\\]", "", markdown)
    parts = re.split(r"(?<=[.!?])\s+|\n", text)
    return [" ".join(p.split()) for p in parts if len(" ".join(p.split())) >= 40]


def test_collected_devlog_says_each_thing_once(tmp_path, flywheel_cli):
    # issue 13: a devlog made by collect aria showed the whole note three times
    note = tmp_path / "garden.md"
    note.write_text(GARDEN, encoding="utf-8")
    target = tmp_path / "aria.json"
    assert flywheel_cli("collect", "aria", "--notes", note, "-o", target).exit_code == 0
    run = flywheel_cli("run", "--json", "--out", tmp_path / "out", target)
    assert run.exit_code == 0, run.output
    record = run.json()[0]["artifacts"]["devlog"]
    devlog = Path(record["path"]).read_text(encoding="utf-8")
    sentences = _sentences(devlog)
    assert sentences and len(sentences) == len(set(sentences)), sentences
    assert devlog.count("Pixel Garden") == 1, "the note's heading is the title, not a section too"
    # one short summary, from the first paragraph of prose (not the "Date:" lines)
    assert record["summary"] == (
        "Aria and I made a small garden game in the browser. Seeds are planted with a click "
        "and grow over real hours, so the page is different each time you come back."
    )
    body = devlog.split("\n\n", 2)[2]
    assert body.startswith("Aria and I made a small garden game in the browser."), body
    assert "**Date**: 2026-11-29\\\n**Mood**: curious" in body  # a hard break: one fact a line
    assert re.findall(r"^## (.+)$", devlog, re.M) == ["Why", "How it looks"]


def test_front_matter_summary_opens_the_devlog_and_the_notes_follow_whole(tmp_path, flywheel_cli):
    note = tmp_path / "garden.md"
    note.write_text(
        "---\nsummary: A tiny pixel-art garden that grows while you are away.\n---\n" + GARDEN,
        encoding="utf-8",
    )
    target = tmp_path / "aria.json"
    assert flywheel_cli("collect", "aria", "--notes", note, "-o", target).exit_code == 0
    run = flywheel_cli("run", "--json", "--out", tmp_path / "out", target)
    record = run.json()[0]["artifacts"]["devlog"]
    devlog = Path(record["path"]).read_text(encoding="utf-8")
    assert record["summary"] == "A tiny pixel-art garden that grows while you are away."
    body = devlog.split("\n\n", 2)[2]
    assert body.startswith(
        "A tiny pixel-art garden that grows while you are away.\n\n**Date**: 2026-11-29\\\n"
    )
    assert devlog.count("Aria and I made a small garden game") == 1
    sentences = _sentences(devlog)
    assert len(sentences) == len(set(sentences)), sentences


def test_golden_devlog_of_collected_notes(tmp_path, pics, flywheel_cli, golden):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "garden.md").write_text(
        "---\ntitle: Pixel Garden\ndate: 2026-11-29T21:40:00+01:00\n"
        "tags: [pixel-art, garden]\n---\n"
        + GARDEN
        + "\n## Next\n\n1. Watering with the mouse wheel\n2. Save the garden in `localStorage`\n",
        encoding="utf-8",
    )
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "garden-day.png").write_bytes(pics.encode(pics.pattern(640, 360, seed=3), "PNG"))
    (shots / "garden-night.png").write_bytes(pics.encode(pics.pattern(640, 360, seed=4), "PNG"))
    target = tmp_path / "aria.json"
    result = flywheel_cli("collect", "aria", "--notes", notes, "--screenshots", shots, "-o", target)
    assert result.exit_code == 0, result.output
    run = flywheel_cli("run", "--json", "--out", tmp_path / "out", target)
    assert run.exit_code == 0, run.output
    record = run.json()[0]["artifacts"]["devlog"]
    golden("collected_devlog.md", Path(record["path"]).read_text(encoding="utf-8"))
    assert record["tags"] == ["pixel-art", "garden", "life_aria"]


def test_screenshots_symlinked_out_of_the_folder_are_left_out_unnamed(tmp_path, pics, flywheel_cli):
    # shot.png -> ~/.ssh/id_rsa or ../.env: the target's path must not land in the session file.
    project = tmp_path / "project"
    shots = project / "shots"
    shots.mkdir(parents=True)
    (project / ".env").write_text("API_TOKEN=x\n", encoding="utf-8")
    key = tmp_path / "id_rsa"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n", encoding="utf-8")
    (shots / "key.png").symlink_to(key)
    (shots / "env.png").symlink_to(Path("..") / ".env")
    (shots / "real.png").write_bytes(pics.encode(pics.pattern(16, 16, seed=3), "PNG"))
    (shots / "again.png").symlink_to("real.png")
    out = project / "session.json"
    result = flywheel_cli("collect", "aria", "--notes", _notes(tmp_path), "--screenshots", shots, "-o", out)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["source_data"]["screenshots"] == ["shots/real.png", "shots/real.png"], "a link inside the folder is kept"
    assert "id_rsa" not in out.read_text() and ".env" not in out.read_text()
    for name in ("key.png", "env.png"):
        assert f"{shots / name}: left out: a symlink to a file outside {shots}" in result.stderr


@pytest.mark.parametrize(
    ("stamp", "said", "code"),
    [
        ("2025-02-30", "front matter holds a date that cannot be read (day is out of range for month): ignored", 0),
        ("2025-01-01T10:00:00+25:00", "front matter holds a date that cannot be read (offset must be", 0),
        ("0001-01-01T00:00:00+05:00", "front matter timestamp: '0001-01-01 00:00:00+05:00' is out of range", 2),
        ('"9999-12-31T23:59:59-05:00"', "front matter timestamp: '9999-12-31T23:59:59-05:00' is out of range", 2),
    ],
)
def test_front_matter_dates_no_calendar_holds_are_one_line(tmp_path, flywheel_cli, stamp, said, code):
    # YAML builds these dates itself (a ValueError, not a YAMLError) or Python cannot put them in
    # UTC: both ended in "internal error".
    note = tmp_path / "n.md"
    note.write_text(f"---\ntimestamp: {stamp}\n---\nText.\n", encoding="utf-8")
    result = flywheel_cli("collect", "aria", "--notes", note)
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert f"{note}: {said}" in result.stderr
    assert result.exit_code == code, result.output


def test_files_in_the_screenshots_folder_that_are_no_image_are_named(tmp_path, pics, flywheel_cli):
    # A phone's HEIC screenshots and a screen recording were left out without a word.
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "ok.png").write_bytes(pics.encode(pics.pattern(16, 16, seed=4), "PNG"))
    for name in ("IMG_0001.HEIC", "IMG_0002.HEIC", "demo.mov"):
        (shots / name).write_bytes(b"\x00" * 16)
    (shots / ".DS_Store").write_bytes(b"\x00")
    result = flywheel_cli("collect", "aria", "--notes", _notes(tmp_path), "--screenshots", shots)
    assert result.exit_code == 0, result.output
    assert f"{shots}: 3 file(s) left out, not PNG, JPEG, WebP or GIF: IMG_0001.HEIC, IMG_0002.HEIC, demo.mov" in result.stderr
    assert json.loads(result.stdout)["metadata"]["screenshots_taken"] == 1
