"""The artifacts of a trade session: golden files on the seed example, and what every journal must hold."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flywheel_core import LIMITS, post_length

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
FILES = ("trade_journal.md", "equity_curve.svg", "trade_metrics.json", "social_post.md", "social_post.json")


@pytest.fixture
def seed_run(run_trade):
    result, folder = run_trade(EXAMPLES / "trade_session.json")
    assert result.exit_code == 0, result.output
    return result, folder


@pytest.mark.parametrize("name", FILES)
def test_golden_seed_example(seed_run, name: str) -> None:
    """Regenerate deliberately with FLYWHEEL_UPDATE_GOLDEN=1, then read the diff before committing."""
    _, folder = seed_run
    got = (folder / name).read_bytes()
    golden = GOLDEN / name
    if os.environ.get("FLYWHEEL_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(got)
    assert got == golden.read_bytes(), f"{name} differs from tests/golden/{name}"


def test_seed_journal_facts(seed_run) -> None:
    result, folder = seed_run
    journal = (folder / "trade_journal.md").read_text()
    assert journal.startswith("# Trading journal: 2025-12-02\n"), "the session's date, not today's"
    assert "| Net P&L | +75.00 |" in journal and "P&amp;L" not in journal
    assert "![Equity curve](equity_curve.svg)" in journal
    assert "| 2 | MSFT | +50.00 | short | 5 | 380.25 | 370.25 | 04:30 | 30m |" in journal
    assert "| Trades | 5 | 2 | differs |" in journal
    assert "| Net P&L | 325.75 | 75.00 | differs |" in journal
    assert "| Win rate | 80.0% | 100.0% | differs |" in journal
    assert "- **Market sentiment:** positive" in journal
    assert "## How computed" in journal
    assert "Session `b2c3d4e5-f6a7-8901-bcde-f23456789012` by Agent-5, 3 h.\n" in journal, "was '3 h 00 min', a clock"
    for placeholder in ("None", "nan", "{{", "  minutes", "## \n"):
        assert placeholder not in journal
    metrics = json.loads((folder / "trade_metrics.json").read_text())
    assert metrics["net_pnl"] == 75.0 and metrics["win_rate"] == 100.0 and metrics["profit_factor"] is None
    assert "declared total_pnl 325.75 disagrees" in result.stderr, "run prints the validation warnings too"


def test_seed_artifacts_are_recorded_with_meta(seed_run, tmp_path: Path) -> None:
    saved = json.loads((tmp_path / "trade_session.json").read_text())
    assert set(saved["artifacts"]) == {"trade_journal", "trade_metrics", "social_post"}
    journal = saved["artifacts"]["trade_journal"]
    assert journal["generated"] is True and journal["status"] == "ready"
    assert journal["path"].endswith("trade_journal.md")
    assert sorted(f.rsplit("/", 1)[-1] for f in journal["files"]) == ["equity_curve.png", "equity_curve.svg"]
    assert saved["pipeline_status"]["trade_artifact"] == "complete"


def test_rerun_is_byte_identical(run_trade) -> None:
    _, folder = run_trade(EXAMPLES / "trade_session.json")
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    _, folder = run_trade(EXAMPLES / "trade_session.json")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == first


def test_artifact_meta_and_tags(trade_doc, make_trade, flywheel_host, tmp_path: Path) -> None:
    from flywheel_core import RunContext, load_config
    from flywheel_core.testing import as_session

    from flywheel_trade.journal import build_artifacts

    doc = trade_doc(
        [make_trade("NVDA", exit_price=101, exit_timestamp="2025-12-02T03:10:00Z"),
         make_trade("AAPL", timestamp="2025-12-02T04:00:00Z", exit_price=99, exit_timestamp="2025-12-02T04:10:00Z"),
         make_trade("AAPL", timestamp="2025-12-02T05:00:00Z")],
        metadata={"account": "IBKR paper"},
    )
    ctx = RunContext(config=load_config(None), host=flywheel_host, session_path=tmp_path / "s.json")
    arts = {a.kind: a for a in build_artifacts(as_session(doc), ctx)}
    journal = arts["trade_journal"]
    assert journal.meta == {
        "project": "IBKR paper",
        "provenance": {"trades": 3, "symbols": ["AAPL", "NVDA"]},
        "image": "equity_curve.png",
    }
    assert set(journal.attachments) == {"equity_curve.svg", "equity_curve.png"}
    assert journal.attachments["equity_curve.png"].startswith(b"\x89PNG"), "og:image: networks ignore SVG previews"
    assert journal.tags == ["trade", "AAPL", "NVDA"], "most traded symbol first"
    assert journal.title == "Trading journal 2025-12-02"
    assert journal.summary == ("Two trades closed on AAPL and NVDA: 1 won and 1 lost, for a net P&L of 0.00. The largest fall "
                               "from a peak along the way was 10.00 (the max drawdown). One position is still open, on AAPL.")
    assert arts["trade_metrics"].ext == "json" and "image" not in arts["trade_metrics"].meta
    social = arts["social_post"]
    assert set(social.attachments) == {"social_post.json", "equity_curve.png"}, "the chart goes with the posts"
    assert social.meta["image"] == "equity_curve.png"
    assert social.meta["social"]["image"] == {
        "src": "equity_curve.png",
        "alt": "Equity curve of 2 closed trades on AAPL and NVDA on 2 Dec 2025: cumulative net P&L from 0 to 0.00, "
               "with a largest fall of 10.00 from a peak.",
    }
    assert "link" not in social.meta["social"], "no website configured: no link"


def test_untrusted_text_is_escaped(run_trade, trade_doc, make_trade) -> None:
    evil = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) | *bold*"
    doc = trade_doc(
        [make_trade("<script>alert(1)</script>", exit_price=101, exit_timestamp="2025-12-02T03:10:00Z", notes=evil)],
        agent_id="Agent <b>7</b>",
        lessons=[{"title": "[x](javascript:alert(2))", "description": "Tom's P&L <svg onload=alert(3)>"}],
    )
    result, folder = run_trade(doc)
    assert result.exit_code == 0, result.output
    journal = (folder / "trade_journal.md").read_text()
    assert not re.search(r"(?<!\\)<[A-Za-z/!?]", journal), "every angle bracket from the session is escaped"
    assert not re.search(r"(?<!\\)\]\(javascript:", journal)
    assert r"\<img src=x onerror=alert(1)> \[click\](javascript:alert(1)) \| \*bold\*" in journal
    assert "Tom's P&L" in journal, "Markdown is not HTML-escaped"
    svg = (folder / "equity_curve.svg").read_text()
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # well-formed XML whatever the symbols


def test_narrative_fields_and_charts(run_trade, trade_doc, make_trade, tmp_path: Path) -> None:
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "setup 1.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (tmp_path.parent / "outside.png").write_bytes(b"\x89PNG")
    doc = trade_doc(
        [make_trade(exit_price=101, exit_timestamp="2025-12-02T03:10:00Z")],
        lessons=[{"title": "Patience", "description": "Wait for the retest."}, "Size down after two losses"],
        market_analysis="Range day.\nVolume dried up after 11:00.",
        what_worked=["Scaling out"],
        what_didnt_work=["Chasing the open"],
        next_goals={"risk": "max 1R per trade"},
        charts=[{"title": "Setup", "path": "shots/setup 1.png"}, {"title": "Escape", "path": "../outside.png"},
                {"title": "Missing", "path": "shots/none.png"}],
    )
    result, folder = run_trade(doc)
    assert result.exit_code == 0, result.output
    journal = (folder / "trade_journal.md").read_text()
    assert "## Market analysis\n\nRange day.\nVolume dried up after 11:00.\n" in journal
    assert "## What worked\n\n- Scaling out\n" in journal
    assert "## What didn't work\n\n- Chasing the open\n" in journal
    assert "## Lessons\n\n- **Patience:** Wait for the retest.\n- Size down after two losses\n" in journal
    assert "## Next goals\n\n- **Risk:** max 1R per trade\n" in journal
    assert "![Setup](charts/01-setup_1.png)" in journal
    assert (folder / "charts" / "01-setup_1.png").read_bytes().startswith(b"\x89PNG")
    assert "- Escape\n" in journal and "- Missing\n" in journal
    assert not (folder / "charts" / "02-outside.png").exists(), "a path outside the session's folder is refused"
    assert "$.charts[1].path: warning: chart not attached: '../outside.png' is outside the allowed folders" in result.stderr
    assert "$.charts[2].path: warning: chart not attached: 'shots/none.png' does not exist" in result.stderr


def test_open_positions_fees_and_r_in_the_journal(run_trade, trade_doc, make_trade) -> None:
    doc = trade_doc([
        make_trade("ES", quantity=2, price=5000, exit_price=4990, exit_timestamp="2025-12-02T03:20:00Z",
                   multiplier=50, fees=4.5, stop_loss=4980, notes="stopped at the low"),
        make_trade("NQ", action="sell", quantity=1, price=21000, timestamp="2025-12-02T04:00:00Z", stop_loss=21050),
    ])
    result, folder = run_trade(doc)
    assert result.exit_code == 0, result.output
    journal = (folder / "trade_journal.md").read_text()
    assert "Times are UTC (all on 2025-12-02)." in journal
    assert "| 1 | ES | -1,004.50 | long | 2 | 5,000.00 | 4,990.00 | 03:20 | 20m | -0.50 | 4.50 |" in journal
    assert "\nNotes:\n\n- Trade 1, ES: stopped at the low\n" in journal, "notes below the table, not in it"
    assert "## Open positions" in journal
    assert "| NQ | short | 1 | 21,000.00 | 04:00 | 21,050.00 |" in journal
    assert "| Fees (closed trades) | 4.50 |" in journal and "| Open positions | 1 |" in journal
    # One closed trade: its R is the Trades table's, not an "Average R" of one in the Summary.
    assert "| Average R" not in journal and "| Average win" not in journal and "| Win rate" not in journal


def test_session_without_trades_still_makes_honest_artifacts(run_trade, trade_doc) -> None:
    result, folder = run_trade(trade_doc([]))
    assert result.exit_code == 0, result.output
    journal = (folder / "trade_journal.md").read_text()
    assert "No trades were listed in this session." in journal
    assert "## Summary" not in journal and "equity_curve" not in journal
    assert not (folder / "equity_curve.svg").exists()
    assert json.loads((folder / "trade_metrics.json").read_text())["trades"] == 0
    variants = json.loads((folder / "social_post.json").read_text())
    assert variants["x"] == ["Trading, 2 Dec 2025: no trades.\n\n#Trading"]
    assert "P&L" not in json.dumps(variants), "no result to tell"


def test_social_posts_fit_every_platform(run_trade, trade_doc, make_trade) -> None:
    trades = [make_trade(f"SYM{i:03d}-LONG-NAME", timestamp=f"2025-12-02T03:{i:02d}:00Z", exit_price=100 + (i % 3) - 1,
                         exit_timestamp=f"2025-12-02T04:{i:02d}:00Z") for i in range(40)]
    result, folder = run_trade(trade_doc(trades))
    assert result.exit_code == 0, result.output
    variants = json.loads((folder / "social_post.json").read_text())
    assert set(variants) == set(LIMITS)
    for platform, posts in variants.items():
        assert posts and all(post_length(p, platform) <= LIMITS[platform] for p in posts), platform
    assert variants["x"][0].startswith("Trading, 2 Dec 2025. 40 closed trades on SYM000-LONG-NAME")
    assert "and 35 more" in variants["x"][0]
    assert variants["mastodon"][0].endswith("#Trading #SYM000LONGNAME #SYM002LONGNAME #SYM003LONGNAME #SYM005LONGNAME"), (
        "break-even SYM001 and SYM004 carry no P&L")


def test_numbers_in_journal_match_metrics(run_trade, trade_doc, make_trade) -> None:
    trades = [make_trade(timestamp=f"2025-12-02T0{i}:00:00Z", exit_price=p, exit_timestamp=f"2025-12-02T0{i}:30:00Z")
              for i, p in enumerate([103.333, 98.1, 100, 101.25])]
    result, folder = run_trade(trade_doc(trades))
    assert result.exit_code == 0, result.output
    metrics = json.loads((folder / "trade_metrics.json").read_text())
    journal = (folder / "trade_journal.md").read_text()
    assert metrics["net_pnl"] == pytest.approx(26.83)
    assert f"| Net P&L | +{metrics['net_pnl']:,.2f} |" in journal
    assert f"| Max drawdown (closed-trade P&L) | {metrics['max_drawdown']:,.2f} |" in journal
    assert "| Win rate (break-even = not won) | 50.0% |" in journal and "| Break-even | 1 |" in journal
    assert re.search(r"\| Profit factor \| 2\.41 \|", journal)


def test_metrics_json_round_trips_in_order(trade_doc, make_trade) -> None:
    from flywheel_core.testing import as_session

    from flywheel_trade.journal import metrics_json, validation_problems
    from flywheel_trade.metrics import compute_metrics, trades_from_source

    doc = trade_doc([make_trade(timestamp=f"2025-12-02T0{i}:00:00Z", exit_price=100 + i * 1.1,
                                exit_timestamp=f"2025-12-02T0{i}:30:00Z") for i in range(4)] + [make_trade("OPEN")])
    metrics = compute_metrics(trades_from_source(doc["source_data"]))
    text = metrics_json(metrics)
    assert json.loads(text) == metrics and list(json.loads(text)) == list(metrics)
    assert sum('"closed_at"' in line for line in text.splitlines()) == 4, "one line per trade"
    # validate then generate reuse one reading, yet a session changed in between is read again
    session = as_session(doc)
    assert validation_problems(session) == []
    session.source_data["trades"][0]["price"] = "not checked by the schema here"
    problems = validation_problems(session)
    assert problems and problems[0].path == "$.source_data.trades[0]" and problems[0].severity == "error"


def test_whitespace_inside_a_symbol_is_one_space_everywhere(run_trade, trade_doc, make_trade) -> None:
    trades = [make_trade("BTC\nUSD", exit_price=101, exit_timestamp="2025-12-02T03:10:00Z"),
              make_trade(" BTC  USD\t", timestamp="2025-12-02T04:00:00Z", exit_price=99, exit_timestamp="2025-12-02T04:10:00Z")]
    result, folder = run_trade(trade_doc(trades))
    assert result.exit_code == 0, result.output
    metrics = json.loads((folder / "trade_metrics.json").read_text())
    assert list(metrics["by_symbol"]) == ["BTC USD"] and metrics["by_symbol"]["BTC USD"]["trades"] == 2
    assert "BTC\nUSD" not in (folder / "social_post.md").read_text()


def test_mixed_currencies_are_flagged_not_silently_summed(run_trade, trade_doc, make_trade) -> None:
    trades = [make_trade("SAP", exit_price=101, exit_timestamp="2025-12-02T03:10:00Z", currency="EUR"),
              make_trade("AAPL", timestamp="2025-12-02T04:00:00Z", exit_price=99, exit_timestamp="2025-12-02T04:10:00Z", currency="usd")]
    result, folder = run_trade(trade_doc(trades))
    assert result.exit_code == 0, result.output
    assert "$.source_data.trades: warning: trades are in several currencies (EUR, USD): P&L is summed without conversion" in result.stderr
    journal = (folder / "trade_journal.md").read_text()
    assert "The trades are in several currencies (EUR, USD): every total adds them without conversion." in journal
    posts = json.loads((folder / "social_post.json").read_text())
    assert all("0.00 (EUR and USD, not converted)" in p[0] for p in posts.values()), "the posts flag the sum too"
    result, folder = run_trade(trade_doc([dict(t, currency="USD") for t in trades]))
    assert "currencies" not in result.stderr and "currencies" not in (folder / "trade_journal.md").read_text()
    assert "Net P&L 0.00 USD." in json.loads((folder / "social_post.json").read_text())["x"][0]
    # The posts said "USD" and the journal, with the same numbers, named no currency.
    assert "(the max drawdown). Amounts are in USD.\n" in (folder / "trade_journal.md").read_text()


def test_the_closed_trades_sentence_names_only_symbols_with_closed_trades(run_trade, trade_doc, make_trade) -> None:
    trades = [make_trade("AAPL", exit_price=101, exit_timestamp="2025-12-02T03:10:00Z"),
              make_trade("NVDA", timestamp="2025-12-02T04:00:00Z")]
    result, folder = run_trade(trade_doc(trades))
    assert result.exit_code == 0, result.output
    assert "\n\nOne trade closed: a long in AAPL for +10.00. One position is still open, on NVDA.\n\n" in (
        folder / "trade_journal.md").read_text()
    assert "Trading, 2 Dec 2025: one trade, a long in AAPL for +10.00.\n" in json.loads((folder / "social_post.json").read_text())["x"][0]


def test_a_declared_total_that_is_no_number_is_shown_escaped_and_not_compared(run_trade, trade_doc, make_trade) -> None:
    doc = trade_doc([make_trade(exit_price=110, exit_timestamp="2025-12-02T03:10:00Z")],
                    metadata={"total_pnl": "100", "max_drawdown": "lots | <b>"})
    result, folder = run_trade(doc)
    assert result.exit_code == 0, result.output
    journal = (folder / "trade_journal.md").read_text()
    assert "| Max drawdown | lots \\| \\<b> | 0.00 | not a number |" in journal
    assert "| Net P&L | 100.00 | 100.00 | agrees |" in journal
    assert "declared totals that are numbers agree with the listed trades; the others were not compared." in journal


def test_tiny_sizes_and_prices_keep_their_significant_digits() -> None:
    from flywheel_trade.journal import number, price

    assert number(0.0015) == "0.0015" and number(1234.5) == "1,234.50" and number(12) == "12"
    assert number(0.000000123) == "0.000000123", "a meme coin's price is not rounded away"
    assert number(1e-9) == "0.000000001" and price(0.12345678912) == "0.12345679"
    assert price(50.3333333333) == "50.33333" and price(1.08505) == "1.08505" and price(97000.1) == "97,000.10"


# -- every table of the journal against the metrics JSON (issue 11) --------------------------------


def journal_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Each ``## Heading``'s first Markdown table as rows keyed by column name (escapes undone)."""
    tables: dict[str, list[dict[str, str]]] = {}
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            heading = line[3:]
        elif line.startswith("| ") and i + 1 < len(lines) and re.match(r"^\|( ?:?-+:? ?\|)+$", lines[i + 1]) and heading not in tables:
            header = cells(line)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(header, cells(lines[i]), strict=True)))
                i += 1
            tables[heading] = rows
            continue
        i += 1
    return tables


def cells(line: str) -> list[str]:
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [re.sub(r"\\(.)", r"\1", p.strip()).replace("\u00a0", " ") for p in parts]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def cents(value: float | None, sign: bool = False) -> str:
    if value is None:
        return ""
    text = f"{round(value, 2) + 0.0:{'+' if sign else ''},.2f}"
    return "0.00" if text in ("+0.00", "-0.00") else text


def rate(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}%"


def factor(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


@pytest.fixture
def busy_session(run_trade, trade_doc, make_trade):
    """Wins, losses, a break-even, fees, stops, shorts, a futures multiplier, two open positions, declared totals."""
    t = make_trade
    trades = [
        t("AAPL", quantity=10, price=100, exit_price=110, exit_timestamp="2025-12-02T03:30:00Z", fees=2, stop_loss=95),
        t("MSFT", "sell", 5, 200, "2025-12-02T03:10:00Z", exit_price=210, exit_timestamp="2025-12-02T04:10:00Z", stop_loss=220),
        t("AAPL", quantity=1, price=50, timestamp="2025-12-02T03:20:00Z", profit_loss=0.0, exit_timestamp="2025-12-02T03:50:00Z"),
        t("ESH6", "sell", 2, 5000, "2025-12-02T04:00:00Z", exit_price=4990.25, exit_timestamp="2025-12-02T04:05:00Z",
          multiplier=50, fees=4.2),
        t("MSFT", "buy", 3, 100, "2025-12-02T05:00:00Z", exit_price=90, exit_timestamp="2025-12-02T06:00:00Z", fees=1),
        t("ESH6", "buy", 1, 5001, "2025-12-02T06:10:00Z", exit_price=5003.5, exit_timestamp="2025-12-02T06:20:00Z",
          multiplier=50, fees=2.1),
        t("NVDA", quantity=4, price=130.5, timestamp="2025-12-02T07:00:00Z", stop_loss=120),
        t("AMD", "sell", 7, 150, "2025-12-02T07:30:00Z"),
    ]
    result, folder = run_trade(trade_doc(trades, metadata={"trades_executed": 8, "total_pnl": 1000, "win_rate": 0.5}))
    assert result.exit_code == 0, result.output
    return json.loads((folder / "trade_metrics.json").read_text()), (folder / "trade_journal.md").read_text(), folder


def test_every_table_of_the_journal_agrees_with_the_metrics(busy_session) -> None:
    from flywheel_trade.journal import duration, short_duration

    metrics, journal, _ = busy_session
    tables = journal_tables(journal)
    assert set(tables) >= {"Summary", "Trades", "Open positions", "By symbol", "Long and short", "Declared vs computed"}

    summary = {row["Metric"]: row["Value"] for row in tables["Summary"]}
    m = metrics
    expected = {
        "Closed trades": str(m["trades"]),
        "Won": str(m["wins"]),
        "Lost": str(m["losses"]),
        "Break-even": str(m["breakeven"]),
        "Open positions": str(m["open_trades"]),
        "Net P&L": cents(m["net_pnl"], sign=True),
        "Gross profit (after fees)": cents(m["gross_profit"]),
        "Gross loss (after fees)": cents(m["gross_loss"], sign=True),
        "Profit factor": factor(m["profit_factor"]),
        "Expectancy per trade": cents(m["expectancy"], sign=True),
        "Average win": cents(m["avg_win"], sign=True),
        "Average loss": cents(m["avg_loss"], sign=True),
        "Payoff ratio (avg win / avg loss)": factor(m["payoff_ratio"]),
        "Largest win": cents(m["largest_win"], sign=True),
        "Largest loss": cents(m["largest_loss"], sign=True),
        "Max drawdown (closed-trade P&L)": cents(m["max_drawdown"]),
        "Fees (closed trades)": cents(m["fees"]),
    }
    for label, value in expected.items():
        assert summary.get(label) == value, label
    assert summary["Win rate (break-even = not won)"] == rate(m["win_rate"])
    assert summary["Longest winning streak"] == plural(m["max_consecutive_wins"], "trade")
    assert summary["Longest losing streak"] == plural(m["max_consecutive_losses"], "trade")
    assert summary["Average holding time"] == duration(m["avg_holding_minutes"])
    with_stop = sum(1 for r in m["per_trade"] if r["r_multiple"] is not None)
    assert summary[f"Average R ({with_stop} trades with a stop)"] == f"{m['avg_r']:+.2f}R"
    assert len(summary) == len(expected) + 5, "every row of the summary is checked"

    rows = tables["Trades"]
    assert [int(r["#"]) for r in rows] == list(range(1, m["trades"] + 1))
    for row, want in zip(rows, m["per_trade"], strict=True):
        assert (row["Symbol"], row["Side"], row["P&L"]) == (want["symbol"], want["side"], cents(want["pnl"], sign=True))
        assert row["R"] == ("" if want["r_multiple"] is None else f"{want['r_multiple']:+.2f}")
        assert row["Held"] == short_duration(want["holding_minutes"])
        assert row["Closed"] == want["closed_at"][11:16], "times within one day: the time alone"
    assert list(rows[0]) == ["#", "Symbol", "P&L", "Side", "Qty", "Entry", "Exit", "Closed", "Held", "R", "Fees"]
    assert [r["Fees"] for r in rows] == ["2.00", "", "4.20", "", "1.00", "2.10"]

    opened = tables["Open positions"]
    assert [(r["Symbol"], r["Side"], r["Qty"], r["Entry"], r["Opened"]) for r in opened] == [
        (p["symbol"], p["side"], f"{p['quantity']:g}", f"{p['entry_price']:,.2f}", p["opened_at"][11:16]) for p in m["open_positions"]]
    assert [r["Stop"] for r in opened] == ["120.00", ""]

    by_symbol = {r["Symbol"]: r for r in tables["By symbol"]}
    assert set(by_symbol) == set(m["by_symbol"])
    for symbol, want in m["by_symbol"].items():
        row = by_symbol[symbol]
        assert (row["Trades"], row["Win rate"], row["Net P&L"]) == (str(want["trades"]), rate(want["win_rate"]), cents(want["net_pnl"], sign=True))
        assert row["Profit factor"] == factor(want["profit_factor"]), symbol
    assert by_symbol["MSFT"]["Profit factor"] == "0.00", "losses only: a profit factor of 0, shown"

    sides = {r["Side"].lower(): r for r in tables["Long and short"]}
    for side in ("long", "short"):
        want = m[side]
        row = sides[side]
        assert (row["Trades"], row["Win rate"], row["Net P&L"], row["Profit factor"]) == (
            str(want["trades"]), rate(want["win_rate"]), cents(want["net_pnl"], sign=True), factor(want["profit_factor"]))

    assert {r["Total"]: r["Declared"] for r in tables["Declared vs computed"]} == {
        "Trades": "8", "Net P&L": "1,000.00", "Win rate": "0.5 (50.0%)"}
    declared = {r["Total"]: r["Computed"] for r in tables["Declared vs computed"]}
    assert declared == {"Trades": "8", "Net P&L": cents(m["net_pnl"]), "Win rate": rate(m["win_rate"])}


def test_hashtags_and_chart_name_the_symbols_that_carry_the_pnl(busy_session) -> None:
    # The case: an open AMD position was named and a closed SPY trade was not.
    metrics, _, folder = busy_session
    post = json.loads((folder / "social_post.json").read_text())["mastodon"][0]
    assert post.endswith("#Trading #ESH6 #AAPL #MSFT"), "most closed trades first, then the larger P&L"
    assert "AMD" not in post and "NVDA" not in post, "open positions carry no P&L"
    svg = (folder / "equity_curve.svg").read_text()
    assert "6 closed trades · ESH6, AAPL and MSFT" in svg
    assert "AMD" not in svg


# -- session values escaped in every Markdown file (issue 12, item 15) ------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "A|B *em* _u_ `tick` ![i](http://e.x/i.png)",
    "<img src=x onerror=alert(2)>\n# heading",
]


def unescaped(text: str, pattern: str) -> list[str]:
    return re.findall(rf"(?<!\\){pattern}", text)


def test_hostile_symbols_and_notes_are_escaped_in_every_markdown_file(run_trade, trade_doc, make_trade) -> None:
    trades = [make_trade(symbol, timestamp=f"2025-12-02T0{i}:00:00Z", exit_price=101 + i,
                         exit_timestamp=f"2025-12-02T0{i}:30:00Z", notes=symbol)
              for i, symbol in enumerate(HOSTILE)]
    trades.append(make_trade(HOSTILE[0], timestamp="2025-12-02T08:00:00Z", notes=HOSTILE[1]))  # open
    doc = trade_doc(trades, agent_id="<b>agent</b>", metadata={"account": "<i>acct</i>", "import": {
        "file": "<svg onload=alert(3)>.csv", "format": "ibkr", "executions": 3, "warnings": [HOSTILE[1]]}},
        source={"carried_in": [{"symbol": HOSTILE[0], "action": "buy", "quantity": 1, "exit_price": 0,
                                "exit_timestamp": "2025-12-02T09:00:00Z"}]})
    result, folder = run_trade(doc)
    assert result.exit_code == 0, result.output
    post = (folder / "social_post.md").read_text()
    assert "The best trade was \\<img src=x onerror=alert(2)> # heading +40.00." in post
    for name in ("trade_journal.md", "social_post.md"):
        text = re.sub(r"^>", "", (folder / name).read_text(), flags=re.M)  # the posts are quoted: our own ">"
        assert not unescaped(text, "<[A-Za-z/!?]"), f"{name}: an angle bracket from the session opens a tag"
        assert not unescaped(text, r"\]\((?!equity_curve)"), f"{name}: a link from the session is live"
        assert "\n# heading" not in text, f"{name}: a newline in a value started a block"
    journal = (folder / "trade_journal.md").read_text()
    for heading in ("Trades", "Open positions", "By symbol", "Positions carried in"):
        rows = journal_tables(journal)[heading]  # a stray | would break zip(strict=True)
        assert rows, heading
    variants = json.loads((folder / "social_post.json").read_text())
    assert "The best trade was <img src=x onerror=alert(2)> # heading" in variants["linkedin"][0], "plain text, not escaped"
    assert variants["mastodon"][0].endswith("#Trading"), "no hashtag made of a symbol that is no ticker"


@pytest.mark.parametrize("fmt, said", [("ibkr", "Interactive Brokers Flex format"), ("tradovate", "Tradovate format"),
                                       ("generic", "generic CSV format"), ("other", "other format")])
def test_the_import_names_the_export_as_a_reader_would(run_trade, trade_doc, make_trade, fmt, said) -> None:
    # "from ibkr_trades.csv (ibkr format, 9 executions)": the option's value, not a name.
    doc = trade_doc([make_trade("AAPL", exit_price=101, exit_timestamp="2025-12-02T03:10:00Z")],
                    metadata={"import": {"file": "fills.csv", "format": fmt, "executions": 2}})
    _, folder = run_trade(doc)
    assert f"from fills.csv ({said}, 2 executions).\n" in (folder / "trade_journal.md").read_text()


def test_empty_columns_are_left_out_and_notes_are_outside_the_tables(seed_run) -> None:
    _, folder = seed_run
    tables = journal_tables((folder / "trade_journal.md").read_text())
    assert list(tables["Trades"][0]) == ["#", "Symbol", "P&L", "Side", "Qty", "Entry", "Exit", "Closed", "Held"], (
        "no fees, R or notes column: no trade has them")
    assert list(tables["By symbol"][0]) == ["Symbol", "Net P&L", "Trades", "Win rate"], "no profit factor: no losses"
    assert all("Notes" not in rows[0] for rows in tables.values())


def test_tables_that_would_repeat_the_summary_are_left_out(run_trade, trade_doc, make_trade) -> None:
    """One SPY long of +112.00 was told five times: the opening, a Summary whose win rate, average
    win, largest win and expectancy were its P&L again ("Longest losing streak: 0 trades"), the
    Trades table, a "By symbol" table of one row and a "Long and short" table of one row."""
    doc = trade_doc([make_trade("SPY", quantity=20, price=598.1, timestamp="2025-12-03T14:40:00Z", profit_loss=112.0,
                                exit_price=603.7, exit_timestamp="2025-12-03T15:25:00Z")],
                    metadata={"duration_minutes": 45, "trades_executed": 1, "total_pnl": 112.0, "win_rate": 100.0})
    result, folder = run_trade(doc)
    assert result.exit_code == 0, result.output
    journal = (folder / "trade_journal.md").read_text()
    tables = journal_tables(journal)
    assert {row["Metric"]: row["Value"] for row in tables["Summary"]} == {"Closed trades": "1", "Net P&L": "+112.00"}
    assert "One trade closed: a long in SPY for +112.00." in journal
    assert "| 1 | SPY | +112.00 | long | 20 | 598.10 | 603.70 | 15:25 | 45m |" in journal
    assert "## By symbol" not in journal and "## Long and short" not in journal, journal


def test_a_losing_day_on_one_side_keeps_by_symbol_and_drops_long_and_short(run_trade, trade_doc, make_trade) -> None:
    trades = [make_trade("TSLA", quantity=10, price=251.2, timestamp="2025-12-03T14:35:00Z", exit_price=243.0,
                         exit_timestamp="2025-12-03T15:10:00Z"),
              make_trade("NVDA", quantity=20, price=141.5, timestamp="2025-12-03T15:20:00Z", exit_price=144.125,
                         exit_timestamp="2025-12-03T16:05:00Z"),
              make_trade("TSLA", quantity=10, price=244.0, timestamp="2025-12-03T16:30:00Z", exit_price=238.0,
                         exit_timestamp="2025-12-03T17:00:00Z")]
    result, folder = run_trade(trade_doc(trades))
    assert result.exit_code == 0, result.output
    tables = journal_tables((folder / "trade_journal.md").read_text())
    summary = {row["Metric"]: row["Value"] for row in tables["Summary"]}
    assert summary["Net P&L"] == "-89.50" and summary["Win rate"] == "33.3%" and summary["Longest losing streak"] == "1 trade"
    assert "Longest winning streak" in summary
    assert [r["Symbol"] for r in tables["By symbol"]] == ["NVDA", "TSLA"]
    assert "Long and short" not in tables, "every trade was long: the table would be the Summary again"


def test_declared_vs_computed_says_how_many_totals_differ(run_trade, trade_doc, make_trade) -> None:
    """Three declared totals agreed and one differed; the journal said "declares totals that differ"."""
    trades = [make_trade("TSLA", quantity=10, price=251.2, timestamp="2025-12-03T14:35:00Z", profit_loss=-82.0, exit_price=243.0,
                         exit_timestamp="2025-12-03T15:10:00Z"),
              make_trade("NVDA", quantity=20, price=141.5, timestamp="2025-12-03T15:20:00Z", profit_loss=52.5, exit_price=144.125,
                         exit_timestamp="2025-12-03T16:05:00Z")]
    doc = trade_doc(trades, metadata={"trades_executed": 2, "total_pnl": -29.5, "win_rate": 50.0, "max_drawdown": 240.0})
    result, folder = run_trade(doc)
    assert result.exit_code == 0, result.output
    journal = (folder / "trade_journal.md").read_text()
    assert ("\n1 of the 4 totals the session's metadata declares differs from the figure computed from its 2 listed trades. "
            "The computed figures are the ones used everywhere in this journal.\n") in journal, journal


def test_the_mastodon_post_says_the_duration_before_the_symbols(run_trade, trade_doc, make_trade) -> None:
    """"12 closed trades on XOM, GOOGL, AMD, META, AMZN and 7 more in 6 hours 30 minutes" read as
    seven more symbols in six and a half hours."""
    symbols = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOGL", "AMD", "NFLX", "JPM", "XOM", "BA"]
    trades = [make_trade(s, quantity=10, price=100 + i, timestamp=f"2025-12-03T{14 + i // 4:02d}:{(i % 4) * 15:02d}:00Z",
                         exit_price=100 + i + (1 if i % 2 else -1), exit_timestamp=f"2025-12-03T{14 + i // 4:02d}:{(i % 4) * 15 + 10:02d}:00Z")
              for i, s in enumerate(symbols)]
    result, folder = run_trade(trade_doc(trades, metadata={"duration_minutes": 390}))
    assert result.exit_code == 0, result.output
    post = json.loads((folder / "social_post.json").read_text())["mastodon"][0]
    assert "\n\nIn 6 hours 30 minutes, 12 closed trades on " in post and " more in 6 hours" not in post, post
