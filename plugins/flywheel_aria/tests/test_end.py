"""``flywheel end --type life_aria``: the notes and screenshots changed since the start, as a devlog."""

from __future__ import annotations

import json
import os
from pathlib import Path


def test_end_takes_the_notes_changed_since_the_start(flywheel_cli, tmp_path: Path, pics) -> None:
    notes, shots = tmp_path / "notes", tmp_path / "sessions" / "shots"
    notes.mkdir()
    shots.mkdir(parents=True)
    (notes / "old.md").write_text("# Last week\n\nAn old note.\n")
    (shots / "old.png").write_bytes(pics.encode(pics.pattern(32, 24, seed=1), "PNG"))
    for path in (notes / "old.md", shots / "old.png"):
        os.utime(path, (1_000_000_000, 1_000_000_000))  # 2001: long before the session
    assert flywheel_cli("start", "--type", "life_aria", "--repo", tmp_path).exit_code == 0
    (notes / "today.md").write_text("# Garden game\n\nBuilt the greenhouse level.\n")
    (shots / "new.png").write_bytes(pics.encode(pics.pattern(32, 24, seed=2), "PNG"))

    result = flywheel_cli("end", "--type", "life_aria", "--repo", tmp_path, "--notes", notes, "--screenshots", shots,
                          "--summary", "A greenhouse level", "--highlight", "glass that fogs", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    doc = json.loads(Path(shown["session_file"]).read_text())
    assert [c["title"] for c in doc["source_data"]["conversations"]] == ["Garden game"]
    assert doc["source_data"]["screenshots"] == ["shots/new.png"], "relative to the sessions folder"
    assert doc["summary"] == "A greenhouse level" and doc["key_achievements"] == ["glass that fogs"]
    assert "devlog" in shown["artifacts"]

    same = flywheel_cli("end", "--type", "life_aria", "--repo", tmp_path, "--notes", notes, "--screenshots", shots)
    # Nothing new either way: the notes did not change since, or they give the session ended last.
    assert same.exit_code == 0 and same.stdout.startswith("nothing new since the last end at ")
    elsewhere = tmp_path / "elsewhere"  # a folder with no start and no end: --since applies
    elsewhere.mkdir()
    later = flywheel_cli("end", "--type", "life_aria", "--repo", elsewhere, "--notes", notes, "--since", "2031-01-01T00:00:00Z")
    assert later.exit_code == 0 and later.stdout.startswith("nothing new since 2031-01-01T00:00:00Z: ")
    assert "no note changed since 2031-01-01T00:00:00Z" in later.stdout
    assert len(list((tmp_path / "sessions").glob("*.json"))) == 1


def test_since_must_be_a_time_for_notes(flywheel_cli, tmp_path: Path) -> None:
    (tmp_path / "n.md").write_text("note\n")
    result = flywheel_cli("end", "--type", "life_aria", "--repo", tmp_path, "--notes", tmp_path / "n.md",
                          "--since", "2 hours ago")
    assert result.exit_code == 2 and "a life_aria session takes an ISO 8601 time" in result.stderr


def test_end_collects_new_screenshots_when_no_note_changed(flywheel_cli, tmp_path: Path, pics) -> None:
    """Screenshots taken since the last end are new work: the end found "nothing new" (it looked
    only at the notes) and the screenshots were never published."""
    notes, shots = tmp_path / "notes", tmp_path / "sessions" / "shots"
    notes.mkdir()
    shots.mkdir(parents=True)
    (notes / "garden.md").write_text("# Garden game\n\nBuilt the greenhouse level.\n")
    (shots / "level.png").write_bytes(pics.encode(pics.pattern(32, 24, seed=1), "PNG"))
    first = flywheel_cli("end", "--type", "life_aria", "--repo", tmp_path, "--notes", notes, "--screenshots", shots,
                         "--since", "2001-01-01T00:00:00Z", "--json")
    assert first.exit_code == 0, first.output
    ended = json.loads(first.stdout)
    for path in (notes / "garden.md", shots / "level.png"):
        os.utime(path, (1_000_000_000, 1_000_000_000))  # both made before the first end
    (shots / "night.png").write_bytes(pics.encode(pics.pattern(32, 24, seed=2), "PNG"))
    (shots / "sunrise.png").write_bytes(pics.encode(pics.pattern(32, 24, seed=3), "PNG"))

    second = flywheel_cli("end", "--type", "life_aria", "--repo", tmp_path, "--notes", notes, "--screenshots", shots,
                          "--json")
    assert second.exit_code == 0, second.output
    shown = json.loads(second.stdout)
    assert shown["status"] != "nothing-new", shown
    assert shown["session_id"] != ended["session_id"]
    doc = json.loads(Path(shown["session_file"]).read_text())
    assert doc["source_data"]["screenshots"] == ["shots/night.png", "shots/sunrise.png"]
    assert doc["source_data"]["conversations"] == [], "the unchanged note is not told again"
    devlog = Path(shown["artifacts"]["devlog"]["path"]).read_text()
    assert devlog.count("[![") == 2 and "\n\nTwo screenshots from this session.\n\n## Gallery\n" in devlog, devlog

    again = flywheel_cli("end", "--type", "life_aria", "--repo", tmp_path, "--notes", notes, "--screenshots", shots)
    # Nothing new either way: no file changed since, or the files give the session ended last.
    assert again.exit_code == 0 and again.stdout.startswith("nothing new since the last end at "), again.output
    for path in (shots / "night.png", shots / "sunrise.png"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    later = flywheel_cli("end", "--type", "life_aria", "--repo", elsewhere, "--notes", notes, "--screenshots", shots,
                         "--since", "2031-01-01T00:00:00Z")
    assert later.exit_code == 0 and "no note or screenshot changed since 2031-01-01T00:00:00Z" in later.stdout
