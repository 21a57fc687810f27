"""`flywheel validate` on trade sessions: schema errors and semantic checks, each with its JSON path."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_seed_example_is_valid_but_its_declared_totals_are_flagged(flywheel_cli, tmp_path: Path) -> None:
    path = tmp_path / "trade_session.json"
    path.write_bytes((EXAMPLES / "trade_session.json").read_bytes())
    result = flywheel_cli("validate", path)
    assert result.exit_code == 0, result.output
    assert f"{path}: valid (trade)" in result.stdout
    warnings = lines(result)
    assert f"{path}: $.metadata.trades_executed: warning: declared trades_executed 5 disagrees with 2 trades listed" in warnings
    assert f"{path}: $.metadata.total_pnl: warning: declared total_pnl 325.75 disagrees with 75.00 computed from the trades" in warnings
    assert f"{path}: $.metadata.win_rate: warning: declared win_rate 80.0% disagrees with 100.0% computed from the trades" in warnings
    assert f"{path}: $.metadata.max_drawdown: warning: declared max_drawdown 50.00 disagrees with 0.00 computed from the trades" in warnings
    assert len(warnings) == 4


def validate(flywheel_cli, session_file, doc: dict):
    path = session_file(doc)
    return path, flywheel_cli("validate", path)


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("price", "abc", "$.source_data.trades[3].price", 'must be a number greater than 0 (got "abc")'),
        ("price", "1.234,5", "$.source_data.trades[3].price", 'must be a number greater than 0 (got "1.234,5")'),
        ("price", 0, "$.source_data.trades[3].price", "must be a number greater than 0 (got 0)"),
        ("price", "0.00", "$.source_data.trades[3].price", 'must be a number greater than 0 (got "0.00")'),
        ("quantity", -5, "$.source_data.trades[3].quantity", "must be a number greater than 0 (got -5)"),
        ("quantity", "-5", "$.source_data.trades[3].quantity", 'must be a number greater than 0 (got "-5")'),
        ("quantity", 0, "$.source_data.trades[3].quantity", "must be a number greater than 0 (got 0)"),
        ("quantity", True, "$.source_data.trades[3].quantity", "expected number or string, got true"),
        ("action", "hold", "$.source_data.trades[3].action", "must be buy or sell"),
        ("symbol", " ", "$.source_data.trades[3].symbol", "must be a non-empty string"),
        ("timestamp", "yesterday", "$.source_data.trades[3].timestamp", "must be an ISO 8601 timestamp"),
        ("fees", "1.5 USD", "$.source_data.trades[3].fees", 'must be a number (got "1.5 USD")'),
        ("exit_price", -1, "$.source_data.trades[3].exit_price", "must be a number, 0 or more (got -1)"),
        ("exit_price", "-1", "$.source_data.trades[3].exit_price", 'must be a number, 0 or more (got "-1")'),
        ("profit_loss", "NaN", "$.source_data.trades[3].profit_loss", 'must be a number (got "NaN")'),
    ],
)
def test_schema_errors_name_the_trade_and_field(
    flywheel_cli, session_file, trade_doc, make_trade, field, value, path, message
) -> None:
    trades = [make_trade(timestamp=f"2025-12-02T0{i}:00:00Z") for i in range(5)]
    trades[3][field] = value
    file, result = validate(flywheel_cli, session_file, trade_doc(trades))
    assert result.exit_code == 2, result.output
    errors = [line for line in lines(result) if "warning" not in line]
    assert errors and errors[0].startswith(f"{file}: {path}: ") and message in errors[0], errors
    assert "Traceback" not in result.output


def test_missing_fields_and_trades_are_errors(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    item = make_trade()
    del item["price"]
    _, result = validate(flywheel_cli, session_file, trade_doc([item]))
    assert result.exit_code == 2
    assert "$.source_data.trades[0].price: required field is missing" in result.stderr
    doc = trade_doc([])
    del doc["source_data"]["trades"]
    _, result = validate(flywheel_cli, session_file, doc)
    assert result.exit_code == 2 and "$.source_data.trades: required field is missing" in result.stderr


def test_nan_and_infinity_are_refused_before_the_schema(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    text = json.dumps(trade_doc([make_trade(price=1.5)])).replace("1.5", "NaN")
    path = session_file(text)
    result = flywheel_cli("validate", path)
    assert result.exit_code == 2 and "$.source_data.trades[0].price: NaN is not valid JSON" in result.stderr
    path = session_file(text.replace("NaN", "-Infinity"))
    result = flywheel_cli("validate", path)
    assert result.exit_code == 2 and "-Infinity is not valid JSON" in result.stderr


def test_action_is_case_insensitive_and_long_short_are_accepted(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [
        make_trade(action=a, timestamp=f"2025-12-02T0{i}:00:00Z", exit_price=101, exit_timestamp=f"2025-12-02T0{i}:30:00Z")
        for i, a in enumerate(["BUY", "Sell", "long", " SHORT "])
    ]
    _, result = validate(flywheel_cli, session_file, trade_doc(trades))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_exit_before_entry_is_an_error(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    bad = make_trade(timestamp="2025-12-02T04:00:00Z", exit_price=110, exit_timestamp="2025-12-02T03:59:59Z")
    file, result = validate(flywheel_cli, session_file, trade_doc([make_trade(), bad]))
    assert result.exit_code == 2
    assert (
        f"{file}: $.source_data.trades[1].exit_timestamp: exit_timestamp 2025-12-02T03:59:59Z is before "
        "the entry timestamp 2025-12-02T04:00:00Z"
    ) in lines(result)


def test_run_stops_on_exit_before_entry(run_trade, trade_doc, make_trade) -> None:
    bad = make_trade(exit_price=110, exit_timestamp="2025-12-01T00:00:00Z")
    result, folder = run_trade(trade_doc([bad]))
    assert result.exit_code == 2
    assert not folder.exists(), "nothing is generated from an invalid session"


def test_warnings_out_of_order_pnl_mismatch_open_with_exit_time_and_bad_stop(
    flywheel_cli, session_file, trade_doc, make_trade
) -> None:
    trades = [
        make_trade(timestamp="2025-12-02T05:00:00Z", exit_price=110, exit_timestamp="2025-12-02T06:00:00Z"),
        make_trade(timestamp="2025-12-02T04:00:00Z", exit_price=110, exit_timestamp="2025-12-02T04:10:00Z",
                   profit_loss=90.0),
        make_trade(timestamp="2025-12-02T07:00:00Z", exit_timestamp="2025-12-02T07:10:00Z"),
        make_trade(timestamp="2025-12-02T08:00:00Z", stop_loss=120),
        make_trade(timestamp="2025-12-02T09:00:00Z", exit_price=110, profit_loss=100.004),
        make_trade(timestamp="2025-12-02T10:00:00Z", exit_price=110, fees=-0.35),
    ]
    file, result = validate(flywheel_cli, session_file, trade_doc(trades))
    assert result.exit_code == 0, result.output
    got = lines(result)
    assert any(l.startswith(f"{file}: $.source_data.trades[1].timestamp: warning: entry at 2025-12-02T04:00:00Z is earlier") for l in got)
    assert (
        f"{file}: $.source_data.trades[1].profit_loss: warning: profit_loss 90.00 differs from the P&L computed "
        "from prices (100.00 = (exit - entry) x quantity x +1 long - fees); profit_loss is used"
    ) in got
    assert any(l.startswith(f"{file}: $.source_data.trades[2]: warning: has an exit_timestamp but neither") for l in got)
    assert any(l.startswith(f"{file}: $.source_data.trades[3].stop_loss: warning: stop_loss 120 is not on the losing side") for l in got)
    assert not any("trades[4]" in l for l in got), "a difference within a cent is rounding"
    assert f"{file}: $.source_data.trades[5].fees: warning: fees -0.35 is negative: read as a net rebate that adds to the P&L (fees are a positive cost)" in got


def test_declared_totals_that_agree_are_silent(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [
        make_trade(exit_price=110, exit_timestamp="2025-12-02T03:10:00Z"),
        make_trade(timestamp="2025-12-02T04:00:00Z", exit_price=95, exit_timestamp="2025-12-02T04:10:00Z"),
        make_trade(timestamp="2025-12-02T05:00:00Z", exit_price=102, exit_timestamp="2025-12-02T05:10:00Z"),
    ]
    meta = {"trades_executed": 3, "total_pnl": 70.004, "win_rate": 66.7, "max_drawdown": -50}
    _, result = validate(flywheel_cli, session_file, trade_doc(trades, metadata=meta))
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output


def test_no_trades_is_a_warning(flywheel_cli, session_file, trade_doc) -> None:
    file, result = validate(flywheel_cli, session_file, trade_doc([]))
    assert result.exit_code == 0
    assert f"{file}: $.source_data.trades: warning: no trades listed: the journal will be empty" in lines(result)


def test_unknown_fields_are_kept(run_trade, trade_doc, make_trade, tmp_path: Path) -> None:
    doc = trade_doc([make_trade(exit_price=101, exit_timestamp="2025-12-02T03:30:00Z", strategy="breakout")],
                    overview="quiet day")
    result, _ = run_trade(doc)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "work_session.json").read_text())
    assert saved["source_data"]["trades"][0]["strategy"] == "breakout"
    assert saved["overview"] == "quiet day"
    assert saved["pipeline_status"]["trade_artifact"] == "complete"


def test_declared_rate_without_closed_trades(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    file, result = validate(flywheel_cli, session_file, trade_doc([make_trade()], metadata={"win_rate": 50}))
    assert result.exit_code == 0
    assert f"{file}: $.metadata.win_rate: warning: declared win_rate 50.0%, but there are no closed trades to compute it from" in lines(result)


def test_amounts_too_large_to_add_up_are_errors_not_crashes(flywheel_cli, run_trade, session_file, trade_doc, make_trade) -> None:
    trades = [
        make_trade(quantity=1e308, price=1e308, exit_price=1e-300, exit_timestamp="2025-12-02T04:00:00Z"),
        make_trade(timestamp="2025-12-02T05:00:00Z", profit_loss=1.7e308),
        make_trade(timestamp="2025-12-02T06:00:00Z", profit_loss=1.7e308),
    ]
    file, result = validate(flywheel_cli, session_file, trade_doc(trades))
    assert result.exit_code == 2, result.output
    got = lines(result)
    assert "failed" not in result.stderr, got
    # Its quantity and price are no market's: refused before their P&L is computed.
    assert f"{file}: $.source_data.trades[0].quantity: quantity (1e+308) is beyond ±1e+15: not a plausible amount" in got, got
    assert any(l.startswith(f"{file}: $.source_data.trades[1].profit_loss: ") for l in got), got
    result, folder = run_trade(trade_doc(trades))
    assert result.exit_code == 2 and not folder.exists(), result.output


def test_a_risk_too_small_to_represent_gives_no_r_multiple(run_trade, trade_doc, make_trade) -> None:
    tiny = make_trade(quantity=1e-200, price=1e-200, stop_loss=0.5e-200, profit_loss=1.0)
    result, folder = run_trade(trade_doc([tiny]))
    assert result.exit_code == 0, result.output
    assert "losing side" not in result.stderr, "the stop is on the right side; only its risk is too small"
    assert json.loads((folder / "trade_metrics.json").read_text())["avg_r"] is None


def test_timestamps_without_a_zone_are_read_as_utc_with_one_warning(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [
        make_trade(),
        make_trade(timestamp="2025-12-02T04:00:00", exit_price=101, exit_timestamp="2025-12-02T04:30:00"),
        make_trade(timestamp="2025-12-02 05:00:00", exit_price=101, exit_timestamp="2025-12-02T05:30:00-01:00"),
    ]
    file, result = validate(flywheel_cli, session_file, trade_doc(trades))
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        f"{file}: $.source_data.trades[1].timestamp: warning: 3 trade timestamps have no time zone and are read as UTC "
        "(this is the first; add Z or an offset such as -05:00)"
    ]


def test_a_win_rate_declared_as_a_fraction_agrees(run_trade, flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [
        make_trade(exit_price=110, exit_timestamp="2025-12-02T03:10:00Z"),
        make_trade(timestamp="2025-12-02T04:00:00Z", exit_price=95, exit_timestamp="2025-12-02T04:10:00Z"),
        make_trade(timestamp="2025-12-02T05:00:00Z", exit_price=102, exit_timestamp="2025-12-02T05:10:00Z"),
    ]
    _, result = validate(flywheel_cli, session_file, trade_doc(trades, metadata={"win_rate": 0.67}))
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output
    result, folder = run_trade(trade_doc(trades, metadata={"win_rate": 0.67}))
    assert "| Win rate | 0.67 (67.0%) | 66.7% | agrees |" in (folder / "trade_journal.md").read_text()
    _, result = validate(flywheel_cli, session_file, trade_doc(trades, metadata={"win_rate": 0.5}))
    assert "declared win_rate 0.5 (50.0%) disagrees with 66.7% computed from the trades" in result.stderr


def test_a_computed_win_rate_below_one_percent_is_a_percent(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [make_trade(timestamp=f"2025-12-02T{3 + i // 60:02d}:{i % 60:02d}:00Z", exit_price=101 if i == 0 else 99)
              for i in range(150)]
    _, result = validate(flywheel_cli, session_file, trade_doc(trades, metadata={"win_rate": 5}))
    assert "declared win_rate 5.0% disagrees with 0.7% computed from the trades" in result.stderr, result.stderr


def test_declared_totals_written_as_text_are_compared_or_skipped_with_a_warning(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [
        make_trade(exit_price=110, exit_timestamp="2025-12-02T03:10:00Z"),
        make_trade(timestamp="2025-12-02T04:00:00Z", exit_price=95, exit_timestamp="2025-12-02T04:10:00Z"),
    ]
    meta = {"trades_executed": "2", "total_pnl": "$50.00", "win_rate": "50%", "max_drawdown": "about fifty"}
    file, result = validate(flywheel_cli, session_file, trade_doc(trades, metadata=meta))
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        f"{file}: $.metadata.max_drawdown: warning: declared max_drawdown 'about fifty' is not a number: not compared"
    ]
    _, result = validate(flywheel_cli, session_file, trade_doc(trades, metadata={"total_pnl": "1,050.5"}))
    assert "declared total_pnl 1,050.50 disagrees with 50.00 computed from the trades" in result.stderr


def test_numbers_written_as_text_are_read_with_one_warning(run_trade, flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [
        make_trade(price="175.50", quantity="10", exit_price="$178.00", exit_timestamp="2025-12-02T03:30:00Z", fees="0.5"),
        make_trade(timestamp="2025-12-02T04:00:00Z", price="1,234.5", profit_loss="-12.25"),
    ]
    file, result = validate(flywheel_cli, session_file, trade_doc(trades))
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        f"{file}: $.source_data.trades[0].quantity: warning: 6 numbers are written as text and read as numbers "
        '(this is the first; write 175.5, not "175.50")'
    ]
    result, folder = run_trade(trade_doc(trades))
    metrics = json.loads((folder / "trade_metrics.json").read_text())
    assert metrics["net_pnl"] == pytest.approx(25 - 0.5 - 12.25)
    assert "| 2 | AAPL | -12.25 | long | 10 | 1,234.50 |" in (folder / "trade_journal.md").read_text()


def test_one_number_written_as_text(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    file, result = validate(flywheel_cli, session_file, trade_doc([make_trade(price="175.50")]))
    assert result.exit_code == 0, result.output
    assert lines(result) == [f'{file}: $.source_data.trades[0].price: warning: a number written as text is read as a number (write 175.5, not "175.50")']


def test_many_trades_out_of_order_give_one_warning(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [make_trade(timestamp=f"2025-12-02T0{9 - i}:00:00Z") for i in range(6)]
    file, result = validate(flywheel_cli, session_file, trade_doc(trades))
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        f"{file}: $.source_data.trades[1].timestamp: warning: entry at 2025-12-02T08:00:00Z is earlier than trade 0's "
        "entry; trades are listed out of order (5 trades in all; metrics order them by exit time)"
    ]


def test_the_same_warning_on_many_trades_is_capped(flywheel_cli, session_file, trade_doc, make_trade) -> None:
    trades = [make_trade(timestamp=f"2025-12-02T{10 + i}:00:00Z", fees=-0.1) for i in range(9)]
    file, result = validate(flywheel_cli, session_file, trade_doc(trades))
    assert result.exit_code == 0, result.output
    got = lines(result)
    assert [l.split(": warning:")[0] for l in got] == [f"{file}: $.source_data.trades[{i}].fees" for i in range(5)] + [
        f"{file}: $.source_data.trades"
    ]
    assert got[-1].endswith("warning: 4 more trades have the warning shown for $.source_data.trades[4].fees")


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_trade_in_the_first_or_last_year_python_holds_is_refused_not_a_crash(run_trade, trade_doc, make_trade, moment) -> None:
    # The chart puts half an hour of margin around the first and last trade: a trade dated in
    # the year 9999 (or 1) ended `flywheel run` with "plugin trade failed in flywheel_generate:
    # OverflowError: date value out of range" (exit 1) instead of naming the field.
    doc = trade_doc([make_trade(timestamp=moment, exit_price=110.0, exit_timestamp=moment)], timestamp=moment)
    result, _ = run_trade(doc)
    assert result.exit_code == 2, result.output
    assert "$.source_data.trades[0].timestamp: must be an ISO 8601 timestamp" in result.stderr
    assert "$.timestamp: must be an ISO 8601 timestamp" in result.stderr
    assert "OverflowError" not in result.output and "failed in" not in result.output


def test_a_declared_total_no_account_holds_is_not_compared_nor_printed_whole(run_trade, trade_doc, make_trade) -> None:
    # total_pnl -1e300 was printed in the journal's "Declared vs computed" table as a 300-digit
    # number (trades' own P&L beyond ±1e15 is refused; the declared totals were not bounded).
    trades = [make_trade(exit_price=110, exit_timestamp="2025-12-02T03:10:00Z")]
    meta = {"total_pnl": -1e300, "max_drawdown": "99999999999999999999999", "trades_executed": 10**30}
    result, folder = run_trade(trade_doc(trades, metadata=meta))
    assert result.exit_code == 0, result.output
    assert "$.metadata.total_pnl: warning: declared total_pnl '-1e+300' is beyond ±1e+15, not a plausible amount: not compared" in result.stderr
    assert "$.metadata.max_drawdown: warning: declared max_drawdown '1e+23' is beyond" in result.stderr
    assert "$.metadata.trades_executed: warning: declared trades_executed '1e+30' is beyond" in result.stderr
    journal = (folder / "trade_journal.md").read_text(encoding="utf-8")
    assert "| Net P&L | -1e+300 | 100.00 | not plausible |" in journal
    assert not re.search(r"\d{1,3}(,\d{3}){6}", journal), journal


@pytest.mark.parametrize("field", ["quantity", "price", "exit_price", "fees", "multiplier"])
def test_a_price_or_size_no_market_has_is_refused_with_its_path(flywheel_cli, session_file, trade_doc, make_trade, field) -> None:
    # With profit_loss given, a price of 1e300 passed and the journal printed it as a 300-digit number.
    trade = make_trade(exit_price=110, exit_timestamp="2025-12-02T03:10:00Z", profit_loss=25)
    trade[field] = 1e300
    file, result = validate(flywheel_cli, session_file, trade_doc([trade]))
    assert result.exit_code == 2, result.output
    assert f"{file}: $.source_data.trades[0].{field}: {field} (1e+300) is beyond ±1e+15: not a plausible amount" in lines(result)


BIG = "A long note on the trade. " * 40_000  # 1 MB: the same path as the 50 MB the report found


@pytest.mark.parametrize(
    "where, path, limit",
    [
        ("note", "$.source_data.trades[0].notes", "100,000"),
        ("top", "$.market_analysis", "100,000"),
        ("list", "$.lessons[1]", "100,000"),
        ("source", "$.source_data.what_worked.entries", "100,000"),
    ],
)
def test_absurdly_long_prose_is_refused_with_its_path(run_trade, trade_doc, make_trade, where, path, limit):
    # Regression: a 50 MB note became a 50 MB journal. Like other absurd values it is refused.
    trade = make_trade(exit_price=101, exit_timestamp="2025-12-02T03:10:00Z", notes=BIG if where == "note" else "ok")
    fields = {"top": {"market_analysis": BIG}, "list": {"lessons": ["short", BIG]}}.get(where, {})
    source = {"what_worked": {"entries": BIG}} if where == "source" else None
    result, _ = run_trade(trade_doc([trade], source=source, **fields))
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert f": {path}: text of " in line and line.endswith(f"characters is too long (at most {limit})"), line


def test_a_warning_quoting_a_secret_shows_it_masked(flywheel_cli, tmp_path: Path) -> None:
    # Regression: total_pnl "sk_live_..." (a key pasted into the wrong field) was quoted in the
    # warning "declared total_pnl 'sk_live_...' is not a number" on stderr and in --json output.
    key = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    doc = json.loads((EXAMPLES / "trade_session.json").read_text())
    doc["metadata"]["total_pnl"] = key
    path = tmp_path / "trade_session.json"
    path.write_text(json.dumps(doc))
    result = flywheel_cli("validate", path)
    assert result.exit_code == 0, result.output
    assert f"{path}: $.metadata.total_pnl: warning: declared total_pnl '[redacted:stripe-access-key]' is not a number: not compared" in lines(result)
    as_json = flywheel_cli("validate", path, "--json")
    assert key not in result.output + as_json.output and "sk_live" not in as_json.output
