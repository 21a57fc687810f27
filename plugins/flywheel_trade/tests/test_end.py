"""``flywheel end --type trade``: a broker's export to a published journal in one step, once."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def test_end_turns_the_export_into_a_session_and_a_second_end_finds_nothing_new(flywheel_cli, tmp_path: Path) -> None:
    csv = tmp_path / "fills.csv"
    csv.write_bytes((DATA / "generic.csv").read_bytes())
    assert flywheel_cli("start", "--type", "trade", "--repo", tmp_path, "--agent", "Agent-5").exit_code == 0
    result = flywheel_cli("end", "--type", "trade", "--repo", tmp_path, "--csv", csv, "--format", "generic",
                          "--lesson", "sized down after the loss", "--next", "trade the open only",
                          "--summary", "no place for it", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    doc = json.loads(Path(shown["session_file"]).read_text())
    assert Path(shown["session_file"]).name == f"{doc['session_id']}_trade.json"
    assert Path(shown["session_file"]).parent == tmp_path / "sessions", "sessions_dir of the folder --repo names"
    assert doc["agent_id"] == "Agent-5" and doc["source_data"]["trades"]
    assert doc["lessons"] == ["sized down after the loss"] and doc["next_goals"] == ["trade the open only"]
    assert isinstance(doc["metadata"]["duration_minutes"], int), "measured from the start"
    assert set(shown["artifacts"]) >= {"trade_journal", "social_post"}
    assert "sized down after the loss" in Path(shown["artifacts"]["trade_journal"]["path"]).read_text()
    assert any("no place for --summary" in p["message"] for p in shown["problems"])

    again = flywheel_cli("end", "--type", "trade", "--repo", tmp_path, "--csv", csv)
    assert again.exit_code == 0 and again.stdout.startswith("nothing new ") and "it is the session ended last" in again.stdout
    assert len(list((tmp_path / "sessions").iterdir())) == 1


def test_end_without_an_export_is_one_line_exit_2(flywheel_cli, tmp_path: Path) -> None:
    result = flywheel_cli("end", "--type", "trade", "--repo", tmp_path)
    assert result.exit_code == 2
    assert result.stderr == "flywheel: error: a trade session is collected from a broker's CSV export: pass --csv FILE (and --format)\n"
