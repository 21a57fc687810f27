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


def test_a_growing_export_publishes_each_trade_once(flywheel_cli, tmp_path: Path) -> None:
    # A trader keeps one export and adds each day's fills to it: the second end's journal told
    # the first day's trades again (their P&L counted twice in what was published).
    rows = (DATA / "generic.csv").read_text(encoding="utf-8").splitlines()
    csv = tmp_path / "fills.csv"
    csv.write_text("\n".join(rows[:5]) + "\n", encoding="utf-8")  # AAPL bought and sold
    other = tmp_path / "other_broker.csv"
    other.write_text("\n".join([rows[0], "2025-12-02T09:00:00Z,SPY,buy,1,600,0", "2025-12-02T09:05:00Z,SPY,sell,1,601,0"]) + "\n",
                     encoding="utf-8")

    def end(path: Path):
        assert flywheel_cli("start", "--type", "trade", "--repo", tmp_path).exit_code == 0
        result = flywheel_cli("end", "--type", "trade", "--repo", tmp_path, "--csv", path, "--no-publish", "--json")
        assert result.exit_code == 0, result.output
        return result

    first = json.loads(Path(json.loads(end(csv).stdout)["session_file"]).read_text())
    assert [t["symbol"] for t in first["source_data"]["trades"]] == ["AAPL"]
    # Another export's times say nothing about this one: its SPY trade, older, is all there.
    spy = json.loads(Path(json.loads(end(other).stdout)["session_file"]).read_text())
    assert [t["symbol"] for t in spy["source_data"]["trades"]] == ["SPY"]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")  # the next day's fills added
    end(csv)  # the previous end of this folder was the other export's: everything is read
    csv.write_text("\n".join(rows + ["2025-12-03T10:00:00Z,NVDA,sell,5,910,0.5"]) + "\n", encoding="utf-8")
    result = end(csv)
    assert "fills.csv: left out 3 trade(s) done by 2025-12-02 16:00:00, the newest execution session" in result.stdout
    doc = json.loads(Path(json.loads(result.stdout)["session_file"]).read_text())
    # NVDA, bought on the first day and shown open then, is closed now: told whole, once.
    assert [(t["symbol"], t.get("profit_loss")) for t in doc["source_data"]["trades"]] == [("NVDA", 49)]


def test_a_previous_session_file_replaced_by_a_fifo_is_not_waited_on(flywheel_cli, tmp_path: Path) -> None:
    # Before: the previous end's session file was read with read_text, and a FIFO there hung `end`.
    import os

    csv = tmp_path / "fills.csv"
    csv.write_bytes((DATA / "generic.csv").read_bytes())
    first = flywheel_cli("end", "--type", "trade", "--repo", tmp_path, "--csv", csv, "--format", "generic", "--json")
    assert first.exit_code == 0, first.output
    previous = Path(json.loads(first.stdout)["session_file"])
    previous.unlink()
    os.mkfifo(previous)
    again = flywheel_cli("end", "--type", "trade", "--repo", tmp_path, "--csv", csv, "--format", "generic", "--json")
    assert "Traceback" not in again.output
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["status"] == "nothing-new", "the same export: nothing new, and no hang"
