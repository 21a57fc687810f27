"""`flywheel collect trade`: CSV executions from three formats paired FIFO into round trips, bad rows refused."""

from __future__ import annotations

import json
import os
import re
from datetime import timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel_core import InputError
from flywheel_trade.importer import Fill, pair, read_fills, round_trips, session_from_csv

DATA = Path(__file__).resolve().parent / "data"


def by_symbol(trades: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for t in trades:
        out.setdefault(t["symbol"], []).append(t)
    return out


def collect(flywheel_cli, tmp_path: Path, csv: Path, *args: str):
    out = tmp_path / "session.json"
    result = flywheel_cli("collect", "trade", "--csv", csv, "-o", out, "--agent-id", "Agent-9", *args)
    return result, out


# -- generic ------------------------------------------------------------------------------------


def test_generic_scale_in_out_flip_fees_and_open_position(flywheel_cli, tmp_path: Path) -> None:
    result, out = collect(flywheel_cli, tmp_path, DATA / "generic.csv")
    assert result.exit_code == 0, result.output
    session = json.loads(out.read_text())
    trades = by_symbol(session["source_data"]["trades"])
    # AAPL: 60 @100 + 40 @100.50 in, 50 @102 + 50 @101 out: one round trip.
    assert trades["AAPL"] == [{
        "symbol": "AAPL", "action": "buy", "quantity": 100, "price": 100.2, "timestamp": "2025-12-02T14:30:00Z",
        "exit_price": 101.5, "exit_timestamp": "2025-12-02T15:00:00Z", "profit_loss": 128, "fees": 2,
        "csv_lines": [2, 3, 4, 5],
    }]
    # TSLA: short 10, then a buy of 25 closes the short and opens a long of 15 (its 2.50 fee split 1.00 / 1.50).
    short, long = trades["TSLA"]
    assert (short["action"], short["quantity"], short["price"], short["exit_price"]) == ("sell", 10, 250, 245)
    assert (short["profit_loss"], short["fees"], short["csv_lines"]) == (48, 2, [6, 7])
    assert (long["action"], long["quantity"], long["price"], long["exit_price"]) == ("buy", 15, 245, 249)
    assert (long["profit_loss"], long["fees"], long["timestamp"]) == (57, 3, "2025-12-02T15:20:00Z")
    # NVDA never closed: an open trade carrying its entry fee.
    assert trades["NVDA"] == [{"symbol": "NVDA", "action": "buy", "quantity": 5, "price": 900, "timestamp": "2025-12-02T16:00:00Z",
                               "fees": 0.5, "csv_lines": [9]}]
    assert session["session_type"] == "trade" and session["agent_id"] == "Agent-9"
    assert session["timestamp"] == "2025-12-02T16:00:00Z", "the session is dated by its data"
    assert session["metadata"]["duration_minutes"] == 90
    assert session["metadata"]["import"]["executions"] == 8
    assert f"{out}: 4 trade(s) (1 open) from 8 execution(s)" in result.stderr


def test_imported_session_validates_and_runs(flywheel_cli, tmp_path: Path) -> None:
    _, out = collect(flywheel_cli, tmp_path, DATA / "generic.csv")
    result = flywheel_cli("validate", out)
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output
    result = flywheel_cli("run", out, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    metrics = json.loads(next((tmp_path / "site").rglob("trade_metrics.json")).read_text())
    assert (metrics["trades"], metrics["open_trades"], metrics["net_pnl"], metrics["fees"]) == (3, 1, 233.0, 7.0)


def test_same_file_gives_the_same_session(flywheel_cli, tmp_path: Path) -> None:
    first = flywheel_cli("collect", "trade", "--csv", DATA / "generic.csv", "--agent-id", "A")
    second = flywheel_cli("collect", "trade", "--csv", DATA / "generic.csv", "--agent-id", "A")
    assert first.exit_code == 0 and first.stdout == second.stdout, "stdout without -o, deterministic"
    assert json.loads(first.stdout)["session_id"].startswith("trade-20251202-")


def fills(*rows: tuple) -> list[Fill]:
    from datetime import datetime

    return [
        Fill(line=i + 2, time=datetime(2025, 1, 1, 10, i, tzinfo=timezone.utc), symbol=s, side=side, quantity=q, price=p, fees=f)
        for i, (s, side, q, p, f) in enumerate(rows)
    ]


def test_partial_close_at_the_end_is_split_fifo() -> None:
    # Lots 100 @10 then 100 @12; selling 150 closes the whole first lot and half the second.
    trades = round_trips(fills(("X", "buy", 100, 10, 1.0), ("X", "buy", 100, 12, 1.0), ("X", "sell", 150, 15, 1.5)))
    closed, still_open = trades
    assert (closed["quantity"], closed["price"], closed["exit_price"]) == (150, pytest.approx(32 / 3), 15)
    assert closed["profit_loss"] == pytest.approx(500 + 150 - (1.0 + 0.5 + 1.5))
    assert (still_open["quantity"], still_open["price"], still_open["fees"]) == (50, 12, 0.5)
    assert "exit_price" not in still_open and still_open["timestamp"] == "2025-01-01T10:01:00Z"


def test_flip_from_long_to_short_and_back() -> None:
    trades = round_trips(fills(("X", "buy", 2, 100, 0), ("X", "sell", 5, 110, 0), ("X", "buy", 3, 105, 0)))
    assert [(t["action"], t["quantity"], t["price"], t["exit_price"], t["profit_loss"]) for t in trades] == [
        ("buy", 2, 100, 110, 20),
        ("sell", 3, 110, 105, 15),
    ]


def test_fractional_quantities_close_exactly() -> None:
    trades = round_trips(fills(("BTC", "buy", 0.1, 100, 0), ("BTC", "buy", 0.2, 100, 0), ("BTC", "sell", 0.3, 110, 0)))
    assert len(trades) == 1 and trades[0]["quantity"] == pytest.approx(0.3) and trades[0]["profit_loss"] == pytest.approx(3)


def test_symbols_are_paired_independently() -> None:
    trades = round_trips(fills(("A", "buy", 1, 10, 0), ("B", "sell", 1, 20, 0), ("A", "sell", 1, 11, 0), ("B", "buy", 1, 19, 0)))
    assert {t["symbol"]: t["profit_loss"] for t in trades} == {"A": 1, "B": 1}


# -- IBKR ---------------------------------------------------------------------------------------


def test_ibkr_flex_trades(flywheel_cli, tmp_path: Path) -> None:
    result, out = collect(flywheel_cli, tmp_path, DATA / "ibkr_trades.csv", "--format", "ibkr", "--tz", "America/New_York")
    assert result.exit_code == 0, result.output
    assert "skipped 1 IBKR row(s) that are not executions (LevelOfDetail SYMBOL_SUMMARY)" in result.stderr
    session = json.loads(out.read_text())
    trades = by_symbol(session["source_data"]["trades"])
    aapl = trades["AAPL"][0]
    assert aapl["timestamp"] == "2025-01-15T14:30:00Z", "09:30 in New York"
    assert (aapl["quantity"], aapl["price"], aapl["exit_price"]) == (150, pytest.approx(151 / 3), 54.8)
    assert (aapl["profit_loss"], aapl["fees"], aapl["currency"]) == (667, 3, "USD")
    assert aapl["csv_lines"] == [3, 4, 5, 6], "line numbers count the MSG line and the header"
    # ESH5, multiplier 50: short 2 flipped to long 1 by a buy of 3, then closed.
    short, long = trades["ESH5"]
    assert (short["action"], short["quantity"], short["multiplier"]) == ("sell", 2, 50)
    assert (short["profit_loss"], short["fees"]) == (pytest.approx(991.6), pytest.approx(8.4))
    assert (long["action"], long["quantity"], long["profit_loss"], long["fees"]) == ("buy", 1, pytest.approx(245.8), pytest.approx(4.2))
    closed, still_open = trades["MSFT"]
    assert (closed["quantity"], closed["profit_loss"]) == (4, pytest.approx(19.2))
    assert (still_open["quantity"], still_open["fees"], "exit_price" in still_open) == (6, pytest.approx(0.6), False)
    assert (closed["csv_lines"], still_open["csv_lines"]) == ([10, 11], [10])
    assert session["metadata"]["currency"] == "USD"


def test_ibkr_without_tz_says_times_were_read_as_utc(flywheel_cli, tmp_path: Path) -> None:
    result, out = collect(flywheel_cli, tmp_path, DATA / "ibkr_trades.csv", "--format", "ibkr")
    assert result.exit_code == 0
    assert "time(s) in the export have no zone and were read as UTC" in result.stderr
    assert "use --tz to name the export's zone" in result.stderr
    session = json.loads(out.read_text())
    assert session["source_data"]["trades"][0]["timestamp"] == "2025-01-15T09:30:00Z"
    # Kept with the session: the journal's "Times are UTC" would otherwise state a guess as fact.
    assert any("have no zone and were read as UTC" in w for w in session["metadata"]["import"]["warnings"])


def ibkr_csv(tmp_path: Path, rows: list[str], header: str = '"Symbol","DateTime","Quantity","TradePrice","IBCommission","Buy/Sell","Multiplier"') -> Path:
    path = tmp_path / "flex.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_ibkr_variants_trade_date_and_time_and_section_codes(tmp_path: Path) -> None:
    path = ibkr_csv(tmp_path, [
        '"HEADER","TRNT","Symbol","TradeDate","TradeTime","Quantity","TradePrice"',
        '"DATA","TRNT","SPY","2025-01-15","09:30:00","10","580.5"',
        '"DATA","TRNT","SPY","2025-01-15","10:00:00","-10","581.5"',
        '"EOS","TRNT","2",""',
    ], header='"BOF","U1234567","Trades","1"')
    got = read_fills(path, "ibkr")
    assert [(f.side, f.quantity, f.time.hour) for f in got.fills] == [("buy", 10, 9), ("sell", 10, 10)]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('"AAPL","20250115;093000","abc","50","-1","BUY","1"', "line 2: column Quantity: 'abc' is not a number"),
        ('"AAPL","20250115;093000","10","NaN","-1","BUY","1"', "line 2: column TradePrice: 'NaN' is not a finite number"),
        ('"AAPL","20250115;093000","10","inf","-1","BUY","1"', "line 2: column TradePrice: 'inf' is not a finite number"),
        ('"AAPL","20250115;093000","0","50","-1","BUY","1"', "line 2: column Quantity: is 0"),
        ('"AAPL","20250115;093000","10","-50","-1","BUY","1"', "line 2: column TradePrice: must be 0 or more, got -50"),
        ('"AAPL","20250115;093000","-10","50","-1","BUY","1"', "line 2: column Buy/Sell: says BUY but Quantity is -10"),
        ('"AAPL","01/15/2025 09:30","10","50","-1","BUY","1"', "line 2: column DateTime: '01/15/2025 09:30' is not a date-time"),
        ('"AAPL","20250115;093000","10","50","-1","BUY (Ca.)","1"', "line 2: column Buy/Sell: 'BUY (Ca.)' is a cancelled execution"),
        ('"","20250115;093000","10","50","-1","BUY","1"', "line 2: column Symbol: is empty"),
        ('"AAPL","20250115;093000","10","50","-1","BUY","0"', "line 2: column Multiplier: must be greater than 0"),
        ('"AAPL","20250115;093000","10","50"', "line 2: has 4 fields but the header has 7"),
    ],
)
def test_ibkr_bad_rows(tmp_path: Path, row: str, message: str) -> None:
    path = ibkr_csv(tmp_path, [row])
    with pytest.raises(InputError) as err:
        read_fills(path, "ibkr")
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}"), str(err.value)


def test_ibkr_missing_column(tmp_path: Path) -> None:
    path = ibkr_csv(tmp_path, ['"AAPL","10"'], header='"Symbol","Quantity"')
    with pytest.raises(InputError, match=r"line 1: column TradePrice: missing \(expected 'TradePrice' or 'Price'; the header has Symbol, Quantity\)"):
        read_fills(path, "ibkr")


# -- Tradovate ----------------------------------------------------------------------------------


def test_tradovate_fills_partial_fills_point_values_and_utc(flywheel_cli, tmp_path: Path) -> None:
    result, out = collect(flywheel_cli, tmp_path, DATA / "tradovate_fills.csv", "--format", "tradovate")
    assert result.exit_code == 0, result.output
    assert "without a zone" not in result.stderr, "the UTC _timestamp column is used"
    trades = by_symbol(json.loads(out.read_text())["source_data"]["trades"])
    mes = trades["MESH6"][0]
    # Two partial fills of one buy order (6961.25, 6961.50), one sell of 2 @6966; MES is $5 a point.
    assert (mes["quantity"], mes["price"], mes["exit_price"], mes["multiplier"]) == (2, 6961.375, 6966, 5)
    assert (mes["profit_loss"], mes["fees"]) == (45.25, 1)
    assert (mes["timestamp"], mes["exit_timestamp"]) == ("2026-02-11T16:33:16.562Z", "2026-02-11T16:40:02Z")
    mnq = trades["MNQH6"][0]
    assert (mnq["action"], mnq["profit_loss"], mnq["multiplier"]) == ("sell", 18.5, 2)


def test_tradovate_local_timestamp_with_tz(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(
        "Fill ID,Order ID,Timestamp,Date,Account,B/S,Quantity,Price,Contract,Product,Product Description,commission\n"
        "1,1,06/12/2026 09:49:42,6/12/26,acct, Buy,1,29320.00,MNQM6,MNQ,Micro,0.5\n"
        "2,2,06/12/2026 09:50:11,6/12/26,acct, Sell,1,29330.00,MNQM6,MNQ,Micro,0.5\n",
        encoding="utf-8",
    )
    from zoneinfo import ZoneInfo

    got = read_fills(path, "tradovate", tz=ZoneInfo("America/Chicago"))
    assert got.fills[0].time.isoformat() == "2026-06-12T14:49:42+00:00"
    assert round_trips(got.fills)[0]["profit_loss"] == 19.0, "10 points x $2 - 1.00 commission"


def test_tradovate_orders_export(flywheel_cli, tmp_path: Path) -> None:
    result, out = collect(flywheel_cli, tmp_path, DATA / "tradovate_orders.csv", "--format", "tradovate", "--tz", "America/New_York")
    assert result.exit_code == 0, result.output
    assert "skipped 1 Tradovate order(s) with nothing filled" in result.stderr
    assert "Orders export has no commissions" in result.stderr
    session = json.loads(out.read_text())
    # Kept with the session, so the journal says its P&L is before commissions (it was a note on stderr only).
    assert any("every P&L is before commissions" in w for w in session["metadata"]["import"]["warnings"])
    trades = by_symbol(session["source_data"]["trades"])
    assert trades["MESU6"][0]["profit_loss"] == -15, "3 points x $5 lost"
    assert trades["MNQU6"][0]["profit_loss"] == 150, "75 points x $2"
    assert trades["MESU6"][0]["timestamp"] == "2026-06-17T13:29:32Z"


def test_tradovate_unknown_product_needs_a_multiplier(flywheel_cli, tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text("Timestamp,B/S,Quantity,Price,Contract\n06/12/2026 09:49:42, Buy,1,10.5,ZRZ6\n", encoding="utf-8")
    result = flywheel_cli("collect", "trade", "--csv", path, "--format", "tradovate")
    assert result.exit_code == 2
    assert (f"{path}: line 2: column Contract: no multiplier for 'ZRZ6' in the export and ZR is not in flywheel's table "
            "of futures point values; pass --multiplier ZR=N (dollars per 1.00 of price)") in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = flywheel_cli("collect", "trade", "--csv", path, "--format", "tradovate", "--multiplier", "ZR=50")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source_data"]["trades"][0]["multiplier"] == 50


# -- bad input, any format ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("timestamp,symbol,side,price\n2025-12-02T14:30:00Z,AAPL,buy,100\n",
         "line 1: column quantity: missing (expected 'quantity'; the header has timestamp, symbol, side, price)"),
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,buy,ten,100\n",
         "line 2: column quantity: 'ten' is not a number"),
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,buy,10,100\n2025-12-02T14:31:00Z,AAPL,sell,-10,101\n",
         "line 3: column quantity: must be greater than 0, got -10"),
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,buy,0,100\n",
         "line 2: column quantity: must be greater than 0, got 0"),
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,buy,10,Infinity\n",
         "line 2: column price: 'Infinity' is not a finite number"),
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,buy,10,nan\n",
         "line 2: column price: 'nan' is not a finite number"),
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,hold,10,100\n",
         "line 2: column side: 'hold' is not a side (expected buy or sell)"),
        ("timestamp,symbol,side,quantity,price\nyesterday,AAPL,buy,10,100\n",
         "line 2: column timestamp: 'yesterday' is not an ISO 8601 timestamp"),
        ("timestamp,symbol,side,quantity,price,fees\n2025-12-02T14:30:00Z,AAPL,buy,10,100,1e999\n",
         "line 2: column fees: '1e999' is not a finite number"),
        # Regression: collect wrote amounts that `run` then refused ("price (1e+300) is beyond ±1e+15").
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,buy,10,100\n2025-12-02T15:00:00Z,AAPL,sell,10,1e300\n",
         "line 3: column price: 1e300 is beyond ±1e+15: not a plausible amount"),
        ("timestamp,symbol,side,quantity,price,fees\n2025-12-02T14:30:00Z,AAPL,buy,10,100,-2e16\n",
         "line 2: column fees: -2e16 is beyond ±1e+15: not a plausible amount"),
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,buy,100000000,100000000\n"
         "2025-12-02T15:00:00Z,AAPL,sell,100000000,200000000\n",
         "lines 2, 3: the P&L of this AAPL trade (1e+16) is beyond ±1e+15: not a plausible amount"),
        ("timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,AAPL,buy,10,100,extra\n",
         "line 2: has 6 fields but the header has 5"),
        ("timestamp,symbol,side,quantity,price\n\n\n2025-12-02T14:30:00Z,\"AAPL,buy,10,100\n",
         "line 4: malformed CSV"),
        ("timestamp,symbol,side,quantity,price\n", "$: no executions found in the file"),
        ("", "line 1: the file is empty"),
    ],
)
def test_bad_generic_csv_exits_2_with_line_and_column(flywheel_cli, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(content, encoding="utf-8")
    result = flywheel_cli("collect", "trade", "--csv", path, "-o", tmp_path / "s.json")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"flywheel: error: {path}: {message}"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "s.json").exists(), "a failed import writes nothing"


def test_bad_invocations(flywheel_cli, tmp_path: Path) -> None:
    result = flywheel_cli("collect", "trade", "--csv", tmp_path / "nope.csv")
    assert result.exit_code == 2 and f"{tmp_path / 'nope.csv'}: $: no such file" in result.stderr
    result = flywheel_cli("collect", "trade", "--csv", DATA / "generic.csv", "--format", "schwab")
    assert result.exit_code == 2 and "unknown CSV format 'schwab' (known: generic, ibkr, tradovate)" in result.stderr
    result = flywheel_cli("collect", "trade", "--csv", DATA / "generic.csv", "--tz", "Mars/Olympus")
    assert result.exit_code == 2 and "--tz 'Mars/Olympus' is not a known time zone" in result.stderr
    result = flywheel_cli("collect", "trade", "--csv", DATA / "generic.csv", "--multiplier", "ES")
    assert result.exit_code == 2 and "--multiplier 'ES': expected SYMBOL=VALUE" in result.stderr
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"timestamp,symbol,side,quantity,price\n2025-12-02T14:30:00Z,caf\xe9,buy,1,1\n")
    result = flywheel_cli("collect", "trade", "--csv", path)
    assert result.exit_code == 2 and f"{path}: line 2: invalid UTF-8" in result.stderr


def test_session_from_csv_is_pure(tmp_path: Path) -> None:
    session, result = session_from_csv(DATA / "generic.csv", agent_id="X")
    assert result.notes == result.warnings == [] and session["pipeline_status"] == {"trade_artifact": "pending"}
    assert len(session["source_data"]["trades"]) == 4


def test_ibkr_rebate_becomes_negative_fees_and_validates_with_a_warning(flywheel_cli, tmp_path: Path) -> None:
    path = ibkr_csv(tmp_path, [
        '"AAPL","20250115;093000","10","50","0.35","BUY","1"',
        '"AAPL","20250115;094000","-10","51","0.35","SELL","1"',
    ])
    result, out = collect(flywheel_cli, tmp_path, path, "--format", "ibkr")
    assert result.exit_code == 0, result.output
    trade = json.loads(out.read_text())["source_data"]["trades"][0]
    assert (trade["fees"], trade["profit_loss"]) == (-0.7, 10.7)
    result = flywheel_cli("validate", out)
    assert result.exit_code == 0 and "read as a net rebate" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Timestamp,Quantity,Price,Contract\n06/12/2026 09:49:42,1,10,MESM6\n",
         "line 1: column B/S: missing (expected 'B/S' or 'action' or 'Side'"),
        ("Timestamp,B/S,Quantity,Price,Contract\n06/12/2026 09:49:42, Buy,1,abc,MESM6\n",
         "line 2: column Price: 'abc' is not a number"),
        ("Timestamp,B/S,Quantity,Price,Contract\n06/12/2026 09:49:42, Buy,-1,10,MESM6\n",
         "line 2: column Quantity: must be greater than 0, got -1"),
        ("Timestamp,B/S,Quantity,Price,Contract\n13/45/2026 09:49:42, Buy,1,10,MESM6\n",
         "line 2: column Timestamp: '13/45/2026 09:49:42' is not a valid date-time"),
        ("Timestamp,B/S,Quantity,Price,Contract\n06/12/2026 09:49:42, Hold,1,10,MESM6\n",
         "line 2: column B/S: 'Hold' is not a side"),
    ],
)
def test_tradovate_bad_rows(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_fills(path, "tradovate")
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


# -- pairing invariants on generated fills ---------------------------------------------------------

fill_rows = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["buy", "sell"]), st.integers(1, 7),
              st.integers(90, 110), st.sampled_from([0.0, 0.5, 1.25])),
    min_size=1, max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(fill_rows)
def test_pairing_conserves_cash_and_quantity(rows: list[tuple]) -> None:
    from datetime import datetime, timedelta

    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    made = [Fill(line=i + 2, time=start + timedelta(minutes=i), symbol=s, side=side, quantity=q, price=p, fees=f)
            for i, (s, side, q, p, f) in enumerate(rows)]
    # Flatten every symbol at the end, so every fill is part of a closed trade.
    for symbol in ("A", "B"):
        position = sum(f.quantity * (1 if f.side == "buy" else -1) for f in made if f.symbol == symbol)
        if position:
            made.append(Fill(line=len(made) + 2, time=start + timedelta(days=1), symbol=symbol,
                             side="sell" if position > 0 else "buy", quantity=abs(position), price=100, fees=0.75))
    trades = round_trips(made)
    assert all("exit_price" in t for t in trades), "flat at the end: nothing open"
    cash = sum(f.price * f.quantity * (-1 if f.side == "buy" else 1) for f in made)
    fees = sum(f.fees for f in made)
    assert sum(t["profit_loss"] for t in trades) == pytest.approx(cash - fees, abs=1e-6)
    assert sum(t["fees"] for t in trades) == pytest.approx(fees, abs=1e-6)
    for t in trades:
        direction = 1 if t["action"] == "buy" else -1
        computed = (t["exit_price"] - t["price"]) * t["quantity"] * direction - t["fees"]
        assert t["profit_loss"] == pytest.approx(computed, abs=1e-6), "profit_loss agrees with the prices"
        assert t["timestamp"] <= t["exit_timestamp"]
    opened = sum(t["quantity"] for t in trades)
    traded = sum(f.quantity for f in made)
    assert opened * 2 == traded, "every unit is opened once and closed once"


def test_accounts_are_paired_separately(tmp_path: Path) -> None:
    # A buy in one account is never closed by a sell in another; each trade names its account.
    path = ibkr_csv(tmp_path, [
        '"U1","AAPL","20250115;093000","100","150","-1","BUY"',
        '"U2","AAPL","20250115;100000","-100","160","-1","SELL"',
        '"U1","AAPL","20250115;110000","-100","155","-1","SELL"',
    ], header='"ClientAccountID","Symbol","DateTime","Quantity","TradePrice","IBCommission","Buy/Sell"')
    session, _ = session_from_csv(path, "ibkr", agent_id="a")
    got = sorted((t["account"], t["action"], t.get("exit_price"), t.get("profit_loss")) for t in session["source_data"]["trades"])
    assert got == [("U1", "buy", 155, 498), ("U2", "sell", None, None)]


def test_generic_and_tradovate_accounts_are_kept_apart(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text("timestamp,symbol,side,quantity,price,account\n"
                    "2025-01-15T09:30:00Z,AAPL,buy,1,10,A\n2025-01-15T09:31:00Z,AAPL,sell,1,11,B\n")
    trades = round_trips(read_fills(path).fills)
    assert sorted((t["account"], t["action"], "exit_price" in t) for t in trades) == [("A", "buy", False), ("B", "sell", False)]


def test_ibkr_multi_section_flex_reads_the_trades_section(tmp_path: Path) -> None:
    # A Flex query with several sections: only the Trades section (TRNT) holds executions.
    path = ibkr_csv(tmp_path, [
        '"BOS","POST","Open Positions"',
        '"HEADER","POST","ClientAccountID","Symbol","Position","MarkPrice"',
        '"DATA","POST","U1","QQQ","5","500"',
        '"EOS","POST","1"',
        '"BOS","TRNT","Trades"',
        '"HEADER","TRNT","ClientAccountID","Symbol","TradeDate","TradeTime","Quantity","TradePrice"',
        '"DATA","TRNT","U1","SPY","20250115","093000","10","580.5"',
        '"DATA","TRNT","U1","SPY","20250115","100000","-10","581.5"',
        '"EOS","TRNT","2"',
        '"BOS","CNFT","Trade Confirms"',
        '"HEADER","CNFT","Symbol","Quantity"',
        '"DATA","CNFT","SPY","10"',
    ], header='"BOF","U1","Trades","1"')
    got = read_fills(path, "ibkr")
    assert [(f.symbol, f.side, f.line) for f in got.fills] == [("SPY", "buy", 8), ("SPY", "sell", 9)]
    assert "skipped 2 row(s) of other Flex sections (CNFT, POST)" in got.notes


def test_ibkr_split_in_the_corporate_actions_section_is_flagged_in_the_session(tmp_path: Path) -> None:
    # A Flex query with Trades and Corporate Actions: NVDA split 10 for 1 between the buy of 10 and
    # the sell of 100. flywheel does not adjust for it, so the -8,951 it computes must not go out unflagged.
    path = ibkr_csv(tmp_path, [
        '"BOS","TRNT","Trades; trade date basis"',
        '"HEADER","TRNT","ClientAccountID","CurrencyPrimary","AssetClass","Symbol","Multiplier","DateTime","Quantity","TradePrice","IBCommission","Buy/Sell","Open/CloseIndicator","IBExecID","LevelOfDetail"',
        '"DATA","TRNT","U1","USD","STK","NVDA","1","20250603;100000","10","1000","-1","BUY","O","x1","EXECUTION"',
        '"DATA","TRNT","U1","USD","STK","NVDA","1","20250615;100000","-100","105","-1","SELL","C","x2","EXECUTION"',
        '"DATA","TRNT","U1","USD","STK","SPY","1","20250615;110000","1","600","-1","BUY","O","x3","EXECUTION"',
        '"EOS","TRNT","3"',
        '"BOS","CORP","Corporate Actions"',
        '"HEADER","CORP","ClientAccountID","CurrencyPrimary","AssetClass","Symbol","Description","DateTime","ActionDescription","Quantity","Type"',
        '"DATA","CORP","U1","USD","STK","NVDA","NVIDIA CORP","20250610;202500","NVDA(US67066G1040) SPLIT 10 FOR 1 (NVDA, NVIDIA CORP, US67066G1040)","90","FS"',
        '"DATA","CORP","U1","USD","STK","AMD","ADVANCED MICRO DEVICES","20250610;202500","AMD SPLIT 2 FOR 1","5","FS"',
        '"EOS","CORP","2"',
    ], header='"BOF","U1","Trades","1"')
    session, result = session_from_csv(path, "ibkr", agent_id="a")
    [warning] = [w for w in session["metadata"]["import"]["warnings"] if "corporate action" in w]
    assert warning.startswith("line 10: corporate action on NVDA (NVDA(US67066G1040) SPLIT 10 FOR 1"), warning
    assert "AMD" not in " ".join(result.warnings), "an action on a symbol not traded in the file says nothing"


def test_a_newest_first_export_keeps_same_second_fills_in_the_order_they_happened(tmp_path: Path) -> None:
    # Many brokers export the newest execution first. A buy of 100 and the sell of 200 that closed
    # the whole position, both in the same second, were read top-down: the sell first, closing
    # 100 and opening a phantom short that the buy then "covered" (two trades, one of them short).
    path = tmp_path / "fills.csv"
    path.write_bytes("\ufefftimestamp,symbol,side,quantity,price,fees\r\n"
                     "2025-03-10T14:30:01Z,AAPL,sell,200,10.05,1\r\n"
                     "2025-03-10T14:30:01Z,AAPL,buy,100,10.00,1\r\n"
                     "2025-03-10T13:00:00Z,AAPL,buy,100,9.00,1\r\n".encode())
    trades = round_trips(read_fills(path).fills)
    assert [(t["action"], t["quantity"], t["price"], t["exit_price"], t["profit_loss"]) for t in trades] == [
        ("buy", 200, 9.5, 10.05, 107)]
    # The same executions oldest first (the usual order) give the same trade.
    path.write_text("timestamp,symbol,side,quantity,price,fees\n"
                    "2025-03-10T13:00:00Z,AAPL,buy,100,9.00,1\n"
                    "2025-03-10T14:30:01Z,AAPL,buy,100,10.00,1\n"
                    "2025-03-10T14:30:01Z,AAPL,sell,200,10.05,1\n")
    assert round_trips(read_fills(path).fills) == trades


def test_semicolon_export_with_decimal_commas(tmp_path: Path) -> None:
    # A European spreadsheet's CSV: `;` between fields, `,` as the decimal mark, `.` grouping thousands.
    path = tmp_path / "fills.csv"
    path.write_text("timestamp;symbol;side;quantity;price;fees\n"
                    "2025-01-15T09:30:00Z;SAP;buy;1.500;150,25;1,5\n"
                    "2025-01-15T10:30:00.250Z;SAP;sell;1500;151,75;2\n", encoding="utf-8")
    got = read_fills(path).fills
    assert [(f.quantity, f.price, f.fees) for f in got] == [(1500, 150.25, 1.5), (1500, 151.75, 2)]


def test_semicolon_export_with_decimal_points(tmp_path: Path) -> None:
    # A Swiss spreadsheet's CSV: `;` between fields and a decimal point; 1.0855 shows which mark.
    path = tmp_path / "fills.csv"
    path.write_text("timestamp;symbol;side;quantity;price\n2025-01-15T09:30:00Z;EUR.USD;buy;20000;1.085\n"
                    "2025-01-15T09:31:00Z;EUR.USD;sell;20000;1.0855\n", encoding="utf-8")
    assert [(f.symbol, f.quantity, f.price) for f in read_fills(path).fills] == [("EUR.USD", 20000, 1.085), ("EUR.USD", 20000, 1.0855)]


@pytest.mark.parametrize(
    ("quantity", "price", "reads"),
    [
        ("1.000", "150", "'1.000' is 1000 where decimals are written with a comma and 1 where with a point"),
        ("20000", "1.085", "'1.085' is 1085 where decimals are written with a comma and 1.085 where with a point"),
    ],
)
def test_semicolon_export_whose_dots_could_group_thousands_is_refused(tmp_path: Path, quantity: str, price: str, reads: str) -> None:
    # A German export of whole prices: 1.000 shares were read as 1 (P&L off a thousandfold).
    path = tmp_path / "fills.csv"
    path.write_text(f"timestamp;symbol;side;quantity;price\r\n2025-01-15T09:30:00+01:00;SAP;buy;{quantity};{price}\r\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match=rf"line 2: column \w+: {re.escape(reads)}, and no other number"):
        read_fills(path)


def test_semicolon_export_grouping_millions_with_dots_writes_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text("timestamp;symbol;side;quantity;price\n2025-01-15T09:30:00Z;SAP;buy;1.000.000;150\n"
                    "2025-01-15T09:31:00Z;SAP;sell;1.000;0.500\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 3: column price: '0.500' is not a number \(this file writes decimals with a comma\)"):
        read_fills(path)


def test_semicolon_export_mixing_decimal_marks_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text("timestamp;symbol;side;quantity;price\n2025-01-15T09:30:00Z;SAP;buy;1,5;150\n"
                    "2025-01-15T09:31:00Z;SAP;sell;1;151.75\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"line 3: column price: '151.75' is not a number \(this file writes decimals with a comma\)"):
        read_fills(path)


def test_ibkr_activity_statement_is_named_and_refused(tmp_path: Path) -> None:
    path = ibkr_csv(tmp_path, [
        'Trades,Header,DataDiscriminator,Asset Category,Currency,Symbol,Date/Time,Quantity,T. Price,Comm/Fee',
        'Trades,Data,Order,Stocks,USD,AAPL,"2025-01-15, 09:30:00",100,150,-1',
    ], header="Statement,Header,Field Name,Field Value")
    with pytest.raises(InputError, match=r"line 1: this is an IBKR Activity Statement, not a Flex Query: "
                                         r"export the Trades section with a Flex Query \(Reports > Flex Queries\)"):
        read_fills(path, "ibkr")


def test_an_option_expiring_worthless_closes_at_price_0(tmp_path: Path, flywheel_cli) -> None:
    # IBKR books an expiry as a trade at price 0; it closes the position, and the session validates.
    path = ibkr_csv(tmp_path, [
        '"SPY  250117C00600000","20250110;100000","2","1.50","-1.3","BUY","100"',
        '"SPY  250117C00600000","20250117;162000","-2","0","0","SELL","100"',
    ])
    session, _ = session_from_csv(path, "ibkr", agent_id="a")
    (trade,) = session["source_data"]["trades"]
    assert (trade["exit_price"], trade["profit_loss"]) == (0, -301.3)
    out = tmp_path / "s.json"
    out.write_text(json.dumps(session))
    result = flywheel_cli("validate", out)
    assert result.exit_code == 0, result.output


def test_a_price_of_0_marked_opening_is_refused(tmp_path: Path) -> None:
    path = ibkr_csv(tmp_path, ['"SPY","20250110;100000","2","0","0","BUY","1","O"'],
                    header='"Symbol","DateTime","Quantity","TradePrice","IBCommission","Buy/Sell","Multiplier","Open/CloseIndicator"')
    with pytest.raises(InputError, match=r"line 2: a price of 0 can only close a position \(an expiry\), not open one"):
        session_from_csv(path, "ibkr", agent_id="a")


def test_trades_are_listed_in_time_order_with_fractional_seconds() -> None:
    from datetime import datetime

    def at(second: float) -> datetime:
        return datetime(2025, 1, 1, 10, 0, tzinfo=timezone.utc).replace(second=int(second), microsecond=int(second % 1 * 1e6))

    rows = [Fill(line=2, time=at(0), symbol="B", side="buy", quantity=1, price=10),
            Fill(line=3, time=at(0.5), symbol="A", side="buy", quantity=1, price=10),
            Fill(line=4, time=at(30), symbol="A", side="sell", quantity=1, price=11),
            Fill(line=5, time=at(40), symbol="B", side="sell", quantity=1, price=11)]
    trades = round_trips(rows)
    assert [(t["symbol"], t["timestamp"]) for t in trades] == [("B", "2025-01-01T10:00:00Z"), ("A", "2025-01-01T10:00:00.500Z")]


def test_generic_multiplier_by_futures_root_and_unused_ones_noted(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text("timestamp,symbol,side,quantity,price\n"
                    "2025-01-15T14:30:00Z,MESZ5,buy,1,6000\n2025-01-15T14:40:00Z,MESZ5,sell,1,6010\n")
    got = read_fills(path, multipliers={"MES": 5, "ZZZ": 7})
    assert [f.multiplier for f in got.fills] == [5, 5]
    assert "--multiplier ZZZ matched no symbol or futures root in the file" in got.notes


def test_ibkr_summary_row_without_level_of_detail_says_what_to_add(tmp_path: Path) -> None:
    path = ibkr_csv(tmp_path, ['"AAPL","20250115;093000","10","50","-1","BUY","1"', '"AAPL","","10","50","","",""'])
    with pytest.raises(InputError, match=r"line 3: column DateTime: is empty, expected the execution time "
                                         r"\(a summary row\? add LevelOfDetail to the Flex query so flywheel can skip them\)"):
        read_fills(path, "ibkr")


# -- multipliers the export does not give (issue 11) ---------------------------------------------

#: A Flex query's Trades section as IBKR writes it when the query leaves out `Multiplier`.
FLEX_NO_MULTIPLIER = (
    '"ClientAccountID","CurrencyPrimary","AssetClass","Symbol","Description","UnderlyingSymbol","DateTime",'
    '"Quantity","TradePrice","IBCommission","Buy/Sell","Open/CloseIndicator","Notes/Codes","LevelOfDetail"'
)


def flex_row(asset: str, symbol: str, underlying: str, when: str, qty: str, price: str, commission: str,
             open_close: str = "O", codes: str = "") -> str:
    side = "BUY" if not qty.startswith("-") else "SELL"
    return (f'"U1234567","USD","{asset}","{symbol}","{symbol} TEST","{underlying}","{when}",'
            f'"{qty}","{price}","{commission}","{side}","{open_close}","{codes}","EXECUTION"')


def test_ibkr_without_multiplier_column_options_and_futures_are_scaled_with_a_warning(flywheel_cli, tmp_path: Path) -> None:
    # The case: options bought 2 @ 3.00 and sold 1 @ 4.00 showed -0.50; the truth is +98.50.
    path = ibkr_csv(tmp_path, [
        flex_row("OPT", "AAPL  250117C00150000", "AAPL", "20250110;100000", "2", "3.00", "-1.00"),
        flex_row("OPT", "AAPL  250117C00150000", "AAPL", "20250110;110000", "-1", "4.00", "-1.00", "C"),
        flex_row("FUT", "ESH5", "ES", "20250110;120000", "-1", "5000.00", "-2.10"),
        flex_row("FUT", "ESH5", "ES", "20250110;130000", "1", "4990.00", "-2.10", "C"),
        flex_row("FUT", "6EH5", "EUR", "20250110;120000", "1", "1.0300", "-2.10"),  # IBKR's underlying is EUR
        flex_row("FUT", "6EH5", "EUR", "20250110;130000", "-1", "1.0310", "-2.10", "C"),
        flex_row("STK", "MSFT", "", "20250110;140000", "10", "400", "-1"),
        flex_row("STK", "MSFT", "", "20250110;150000", "-10", "401", "-1", "C"),
    ], header=FLEX_NO_MULTIPLIER)
    result, out = collect(flywheel_cli, tmp_path, path, "--format", "ibkr", "--tz", "UTC")
    assert result.exit_code == 0, result.output
    trades = by_symbol(json.loads(out.read_text())["source_data"]["trades"])
    option, still_open = trades["AAPL  250117C00150000"]
    assert (option["multiplier"], option["profit_loss"], option["fees"]) == (100, 98.5, 1.5)
    assert (still_open["quantity"], still_open["multiplier"], "exit_price" in still_open) == (1, 100, False)
    assert (trades["ESH5"][0]["multiplier"], trades["ESH5"][0]["profit_loss"]) == (50, 495.8)
    assert (trades["6EH5"][0]["multiplier"], trades["6EH5"][0]["profit_loss"]) == (125000, pytest.approx(120.8))
    assert "multiplier" not in trades["MSFT"][0] and trades["MSFT"][0]["profit_loss"] == 8
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert warnings == [
        f"flywheel: warning: {path}: 6EH5: multiplier 125000, the point value of 6E futures in flywheel's table, "
        "since the export gives none",
        f"flywheel: warning: {path}: AAPL  250117C00150000: multiplier 100, the standard for OCC option symbols, "
        "since the export gives none",
        f"flywheel: warning: {path}: ESH5: multiplier 50, the point value of ES futures in flywheel's table, "
        "since the export gives none",
    ]
    result = flywheel_cli("run", out, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    metrics = json.loads(next((tmp_path / "site").rglob("trade_metrics.json")).read_text())
    assert metrics["net_pnl"] == pytest.approx(98.5 + 495.8 + 120.8 + 8)
    journal = next((tmp_path / "site").rglob("trade_journal.md")).read_text()
    assert "multiplier 100, the standard for OCC option symbols" in journal, "the journal says what was assumed"
    assert "--multiplier" not in journal, "what the importer can do is said to the importer, not to the journal's readers"


@pytest.mark.parametrize(
    ("asset", "symbol", "underlying", "name"),
    [
        ("FUT", "ZRH5", "ZR", "ZR"),  # rough rice: not in the table
        ("FOP", "ESH5 C5000", "ES", "'ESH5 C5000'"),  # options on futures: no standard multiplier
        ("OPT", "AAPL1 250117C00150000", "AAPL", "AAPL1"),  # adjusted after a corporate action
        ("BOND", "US-T 4.5 2034", "", "'US-T 4.5 2034'"),
    ],
)
def test_ibkr_multiplier_that_is_not_certain_is_refused(flywheel_cli, tmp_path: Path, asset: str, symbol: str,
                                                        underlying: str, name: str) -> None:
    path = ibkr_csv(tmp_path, [flex_row(asset, symbol, underlying, "20250110;100000", "1", "3.00", "-1.00")],
                    header=FLEX_NO_MULTIPLIER)
    result = flywheel_cli("collect", "trade", "--csv", path, "--format", "ibkr", "-o", tmp_path / "s.json")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"flywheel: error: {path}: line 2: column Symbol: no multiplier for {symbol!r} in the export")
    assert f"pass --multiplier {name}=N" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.json").exists()
    result = flywheel_cli("collect", "trade", "--csv", path, "--format", "ibkr", "--multiplier", f"{name.strip(chr(39))}=10")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source_data"]["trades"][0]["multiplier"] == 10


def test_ibkr_multiplier_column_wins_and_an_empty_cell_is_derived(tmp_path: Path) -> None:
    path = ibkr_csv(tmp_path, [
        '"OPT","SPY   250117C00600000","20250110;100000","1","2","-1","BUY","10"',  # a mini option: the column says 10
        '"FUT","MESH5","20250110;100000","1","6000","-1","BUY",""',
    ], header='"AssetClass","Symbol","DateTime","Quantity","TradePrice","IBCommission","Buy/Sell","Multiplier"')
    got = read_fills(path, "ibkr", tz=ZoneInfo("UTC"))
    assert [f.multiplier for f in got.fills] == [10, 5]
    assert got.warnings == ["MESH5: multiplier 5, the point value of MES futures in flywheel's table, since the export "
                            "gives none"]


def test_generic_futures_and_options_without_multiplier_column(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text("timestamp,symbol,side,quantity,price\n"
                    "2025-01-15T14:30:00Z,MESZ5,buy,1,6000\n2025-01-15T14:40:00Z,MESZ5,sell,1,6010\n"
                    "2025-01-15T14:30:00Z,SPY 250117P00580000,buy,1,2.5\n2025-01-15T14:40:00Z,SPY 250117P00580000,sell,1,3\n"
                    "2025-01-15T14:30:00Z,AAPL,buy,1,200\n2025-01-15T14:40:00Z,AAPL,sell,1,201\n")
    trades = by_symbol(session_from_csv(path, agent_id="a")[0]["source_data"]["trades"])
    assert [trades[s][0]["profit_loss"] for s in ("MESZ5", "SPY 250117P00580000", "AAPL")] == [50, 50, 1]
    path.write_text("timestamp,symbol,side,quantity,price\n2025-01-15T14:30:00Z,ZRZ5,buy,1,15\n")
    with pytest.raises(InputError, match=r"line 2: column symbol: no multiplier for 'ZRZ5' in the export and ZR is not "
                                         r"in flywheel's table of futures point values; pass --multiplier ZR=N"):
        read_fills(path)


def test_tradovate_point_values_from_the_table_are_warned_about(tmp_path: Path) -> None:
    got = read_fills(DATA / "tradovate_fills.csv", "tradovate")
    assert [w.split(":")[0] for w in got.warnings] == ["MESH6", "MNQH6"]
    assert "multiplier 5, the point value of MES futures in flywheel's table" in got.warnings[0]


# -- positions carried in from before the export (issue 11) ---------------------------------------


def test_ibkr_closes_of_positions_carried_in_are_reported_not_invented(flywheel_cli, tmp_path: Path) -> None:
    # A short of 16 opened before the period is bought back (C); a long call carried in expires at 0
    # (C, Ep); a new round trip in the same stock follows. Neither close may open a position.
    path = ibkr_csv(tmp_path, [
        flex_row("STK", "TSLA", "", "20250110;100000", "16", "250.00", "-1.00", "C"),
        flex_row("OPT", "SPY   250110C00600000", "SPY", "20250110;162000", "-2", "0", "0", "C", "Ep"),
        flex_row("STK", "TSLA", "", "20250110;110000", "5", "251.00", "-0.50", "O"),
        flex_row("STK", "TSLA", "", "20250110;120000", "-5", "255.00", "-0.50", "C"),
    ], header=FLEX_NO_MULTIPLIER)
    result, out = collect(flywheel_cli, tmp_path, path, "--format", "ibkr")
    assert result.exit_code == 0, result.output
    session = json.loads(out.read_text())
    trades = session["source_data"]["trades"]
    assert [(t["symbol"], t["action"], t["quantity"], t["profit_loss"]) for t in trades] == [("TSLA", "buy", 5, 19)]
    assert session["source_data"]["carried_in"] == [
        {"symbol": "TSLA", "action": "sell", "quantity": 16, "exit_price": 250, "exit_timestamp": "2025-01-10T10:00:00Z",
         "fees": 1, "currency": "USD", "account": "U1234567", "csv_lines": [2]},
        {"symbol": "SPY   250110C00600000", "action": "buy", "quantity": 2, "exit_price": 0,
         "exit_timestamp": "2025-01-10T16:20:00Z", "fees": 0, "multiplier": 100, "currency": "USD", "account": "U1234567",
         "csv_lines": [3]},
    ]
    assert (f"flywheel: warning: {path}: line 2: TSLA closes 16 of a short position opened before the export's first "
            "execution (nothing in the file opens it): recorded as carried in and left out of every metric, since its "
            "entry price is not in the file") in result.stderr
    assert "1 trade(s) (0 open, 2 carried-in position(s) closed) from 4 execution(s)" in result.stderr
    result = flywheel_cli("validate", out)
    assert result.exit_code == 0, result.output
    assert (f"{out}: $.source_data.carried_in: warning: 2 closes of positions opened before this session "
            "(SPY 250110C00600000 and TSLA): left out of every metric, since their entry prices are not in the session") in result.stderr
    result = flywheel_cli("run", out, "--out", tmp_path / "site")
    assert result.exit_code == 0, result.output
    metrics = json.loads(next((tmp_path / "site").rglob("trade_metrics.json")).read_text())
    assert (metrics["trades"], metrics["open_trades"], metrics["net_pnl"]) == (1, 0, 19)
    journal = next((tmp_path / "site").rglob("trade_journal.md")).read_text()
    assert "## Positions carried in" in journal and "| TSLA | short | 16 | 250.00 | 10:00 |" in journal


def test_carried_in_lots_are_closed_first_fifo(tmp_path: Path) -> None:
    # Long 16 carried in, 5 more bought in the file, 21 sold: the old 16 close first, then the 5.
    path = ibkr_csv(tmp_path, [
        '"TSLA","20250110;100000","5","240","-1","BUY","1","O"',
        '"TSLA","20250110;110000","-21","250","-2.1","SELL","1","C"',
    ], header='"Symbol","DateTime","Quantity","TradePrice","IBCommission","Buy/Sell","Multiplier","Open/CloseIndicator"')
    session, result = session_from_csv(path, "ibkr", agent_id="a", tz=ZoneInfo("UTC"))
    (trade,) = session["source_data"]["trades"]
    assert (trade["quantity"], trade["price"], trade["exit_price"], trade["profit_loss"]) == (5, 240, 250, 48.5)
    (carried,) = session["source_data"]["carried_in"]
    assert (carried["action"], carried["quantity"], carried["fees"], carried["csv_lines"]) == ("buy", 16, 1.6, [3])
    assert len(result.warnings) == 1 and "warnings" not in session["metadata"]["import"], "carried_in says it already"


def test_an_expiry_without_indicator_closes_a_carried_position(tmp_path: Path) -> None:
    # Any format: a fill at price 0 never opens; with nothing to close in the file, it closes a carried position.
    path = tmp_path / "fills.csv"
    path.write_text("timestamp,symbol,side,quantity,price,multiplier\n"
                    "2025-01-17T21:00:00Z,SPY 250117P00580000,buy,3,0,100\n"
                    "2025-01-17T14:30:00Z,AAPL,buy,1,200,1\n2025-01-17T14:40:00Z,AAPL,sell,1,201,1\n")
    session, result = session_from_csv(path, agent_id="a")
    assert [t["symbol"] for t in session["source_data"]["trades"]] == ["AAPL"]
    assert [(c["symbol"], c["action"], c["quantity"]) for c in session["source_data"]["carried_in"]] == [
        ("SPY 250117P00580000", "sell", 3)]
    assert result.warnings[0].startswith("line 2: SPY 250117P00580000 closes 3 of a short position opened before")


def test_closing_fills_that_no_carried_position_explains_are_refused(flywheel_cli, tmp_path: Path) -> None:
    # Selling 5 to close needs a long of 5 carried in; buying 3 to close right after needs a short: both cannot be.
    path = ibkr_csv(tmp_path, [
        '"TSLA","20250110;100000","-5","240","-1","SELL","1","C"',
        '"TSLA","20250110;110000","3","250","-1","BUY","1","C"',
    ], header='"Symbol","DateTime","Quantity","TradePrice","IBCommission","Buy/Sell","Multiplier","Open/CloseIndicator"')
    result = flywheel_cli("collect", "trade", "--csv", path, "--format", "ibkr")
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"flywheel: error: {path}: line 3: TSLA: this closing execution and the one on "
                                     "line 2 cannot both close a position (whatever was held before the export); the "
                                     "export misses executions")


def test_unknown_open_close_indicator_is_refused(tmp_path: Path) -> None:
    path = ibkr_csv(tmp_path, ['"TSLA","20250110;100000","5","240","-1","BUY","1","X"'],
                    header='"Symbol","DateTime","Quantity","TradePrice","IBCommission","Buy/Sell","Multiplier","Open/CloseIndicator"')
    with pytest.raises(InputError, match=r"line 2: column Open/CloseIndicator: 'X' is not an open/close indicator"):
        read_fills(path, "ibkr")


@settings(max_examples=200, deadline=None)
@given(st.integers(-8, 8), st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 6)), min_size=1, max_size=25))
def test_indicators_from_a_hidden_carried_position_never_invent_one(start: int, rows: list[tuple]) -> None:
    """Fills marked as a broker would, given a position held before the export: every unit is accounted for,
    no more is reported carried in than was held, and what stays open is what the broker holds at the end."""
    from datetime import datetime, timedelta

    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    made, true = [], start
    for i, (side, q) in enumerate(rows):
        after = true + (q if side == "buy" else -q)
        if true == 0 or (true > 0) == (side == "buy"):
            mark = "O"
        else:
            mark = "C" if (after == 0 or (after > 0) == (true > 0)) else "C;O"
        made.append(Fill(line=i + 2, time=t0 + timedelta(minutes=i), symbol="X", side=side, quantity=q, price=100 + i, open_close=mark))
        true = after
    paired = pair(made)
    closed = sum(t["quantity"] for t in paired.trades if "exit_price" in t)
    still_open = sum(t["quantity"] * (1 if t["action"] == "buy" else -1) for t in paired.trades if "exit_price" not in t)
    carried = sum(c["quantity"] for c in paired.carried_in)
    assert 2 * closed + abs(still_open) + carried == sum(q for _, q in rows)
    assert carried <= abs(start)
    if carried == abs(start):
        assert still_open == true, "once the carried position is closed, what stays open is what the broker holds"


# -- the same execution twice --------------------------------------------------------------------


def test_two_flex_exports_joined_count_each_execution_once(flywheel_cli, tmp_path: Path) -> None:
    # Daily Flex exports appended to one file overlap: every execution of the first is in it twice.
    once = (DATA / "ibkr_trades.csv").read_text(encoding="utf-8")
    joined = tmp_path / "joined.csv"
    joined.write_text(once + once, encoding="utf-8")
    result, out = collect(flywheel_cli, tmp_path, joined, "--format", "ibkr", "--tz", "America/New_York")
    assert result.exit_code == 0, result.output
    assert "skipped 9 row(s) repeating an execution read before (same IBExecID): line 15 repeats 3, 16 repeats 4" in result.stderr
    alone, _ = session_from_csv(DATA / "ibkr_trades.csv", "ibkr", agent_id="Agent-9")
    session = json.loads(out.read_text())
    assert session["metadata"]["import"]["executions"] == 9
    assert [t["profit_loss"] for t in session["source_data"]["trades"] if "profit_loss" in t] == pytest.approx(
        [t["profit_loss"] for t in alone["source_data"]["trades"] if "profit_loss" in t])


def test_tradovate_fill_listed_twice_counts_once_and_a_conflicting_one_is_refused(tmp_path: Path) -> None:
    rows = (DATA / "tradovate_fills.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "fills.csv"
    path.write_text("\n".join([*rows, rows[1]]) + "\n", encoding="utf-8")
    got = read_fills(path, "tradovate")
    assert len(got.fills) == len(rows) - 1
    assert f"skipped 1 row(s) repeating an execution read before (same Fill ID): line {len(rows) + 1} repeats 2" in got.notes
    path.write_text("\n".join([*rows, rows[1].replace(",1,6961.25,", ",2,6961.25,")]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"line {len(rows) + 1}: column Fill ID: '540725260010' is the execution of line 2, with other values"):
        read_fills(path, "tradovate")


def test_generic_rows_without_an_id_column_are_all_executions(tmp_path: Path) -> None:
    # Two fills at the same second and price are real (one order filled in two pieces).
    path = tmp_path / "fills.csv"
    row = "2025-01-15T09:30:00Z,AAPL,buy,10,100,1"
    path.write_text(f"timestamp,symbol,side,quantity,price,fees\n{row}\n{row}\n", encoding="utf-8")
    assert [f.quantity for f in read_fills(path).fills] == [10, 10]
    path.write_text(f"timestamp,symbol,side,quantity,price,fees,fill_id\n{row},A1\n{row},A1\n{row},A2\n", encoding="utf-8")
    assert [f.line for f in read_fills(path).fills] == [2, 4]


# -- local times across a clock change ----------------------------------------------------------


def test_a_local_time_the_zone_skips_is_refused(tmp_path: Path) -> None:
    # 02:30 on 9 March 2025 never happened in New York: the export's times are in another zone.
    path = ibkr_csv(tmp_path, ['"ES","20250309;015900","1","5000","-1","BUY","50"',
                               '"ES","20250309;023000","-1","5001","-1","SELL","50"'])
    with pytest.raises(InputError, match=r"line 3: column DateTime: 2025-03-09 02:30:00 does not exist in America/New_York"):
        read_fills(path, "ibkr", tz=ZoneInfo("America/New_York"))
    assert len(read_fills(path, "ibkr").fills) == 2, "in UTC it exists"


def test_a_local_time_the_zone_has_twice_is_flagged(flywheel_cli, tmp_path: Path) -> None:
    # 01:30 on 2 November 2025 happened twice in New York (EDT, then EST): read as the first, and said.
    path = ibkr_csv(tmp_path, ['"ES","20251102;013000","1","5000","-1","BUY","50"',
                               '"ES","20251102;030000","-1","5001","-1","SELL","50"'])
    result, out = collect(flywheel_cli, tmp_path, path, "--format", "ibkr", "--tz", "America/New_York")
    assert result.exit_code == 0, result.output
    flagged = ("1 time(s) fall in the hour America/New_York has twice as clocks go back (line 2: 2025-11-02 01:30:00), "
               "read as the first of the two, EDT")
    assert flagged in result.stderr
    session = json.loads(out.read_text())
    assert session["source_data"]["trades"][0]["timestamp"] == "2025-11-02T05:30:00Z"
    assert any(flagged in w for w in session["metadata"]["import"]["warnings"])


def test_tab_separated_export_and_rows_ending_with_a_separator(tmp_path: Path) -> None:
    path = tmp_path / "fills.tsv"
    path.write_text("timestamp\tsymbol\tside\tquantity\tprice\tfees\r\n2025-01-15T09:30:00Z\tAAPL\tbuy\t1,000\t100.5\t1\t\r\n"
                    "2025-01-15T10:30:00Z\tAAPL\tsell\t1000\t101\t1\t\r\n", encoding="utf-8")
    assert [(f.side, f.quantity, f.price) for f in read_fills(path).fills] == [("buy", 1000, 100.5), ("sell", 1000, 101)]
    path.write_text("timestamp,symbol,side,quantity,price,fees\n2025-01-15T09:30:00Z,AAPL,buy,10,100,1,,\n"
                    "2025-01-15T10:30:00Z,AAPL,sell,10,101,1,,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 3: has 8 fields but the header has 6"):
        read_fills(path)


def test_sides_written_to_open_and_to_close_are_read_and_a_close_never_opens(tmp_path: Path) -> None:
    # Schwab/thinkorswim-style sides: "Sell to Close" of shares bought before the export was read
    # as a refused side; a plain reading as "sell" would have invented a short position.
    path = tmp_path / "fills.csv"
    path.write_text(
        "timestamp,symbol,side,quantity,price,fees\n"
        "2025-01-15T09:30:00Z,AAPL,Sell to Close,50,200,1\n"
        "2025-01-15T09:40:00Z,TSLA,Sell Short,10,250,1\n"
        "2025-01-15T09:50:00Z,TSLA,Buy to Cover,10,240,1\n"
        "2025-01-15T10:00:00Z,MSFT,BUY_TO_OPEN,5,400,0\n"
        "2025-01-15T10:10:00Z,MSFT,stc,5,410,0\n", encoding="utf-8")
    session, result = session_from_csv(path, agent_id="Agent-9")
    trades = {t["symbol"]: t for t in session["source_data"]["trades"]}
    assert (trades["TSLA"]["action"], trades["TSLA"]["profit_loss"]) == ("sell", 98)
    assert (trades["MSFT"]["action"], trades["MSFT"]["profit_loss"]) == ("buy", 50)
    assert "AAPL" not in trades
    assert [(c["symbol"], c["action"], c["quantity"]) for c in session["source_data"]["carried_in"]] == [("AAPL", "buy", 50)]
    assert any("line 2: AAPL closes 50 of a long position opened before the export" in w for w in result.warnings)


def test_an_export_that_is_a_fifo_or_a_device_is_refused_at_once(tmp_path: Path, monkeypatch) -> None:
    # `--csv /dev/stdin` with nothing piped waited forever; `--csv /dev/zero` read until memory ran out.
    fifo = tmp_path / "fills.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match=r"fills.csv: \$: is a FIFO \(named pipe\), expected a regular file"):
        read_fills(fifo)
    with pytest.raises(InputError, match=r"/dev/zero: \$: is a character device, expected a regular file"):
        read_fills(Path("/dev/zero"))
    big = tmp_path / "big.csv"
    big.write_text("timestamp,symbol,side,quantity,price\n" + "2025-01-15T09:30:00Z,AAPL,buy,1,1\n" * 40, encoding="utf-8")
    monkeypatch.setattr("flywheel_trade.importer.MAX_CSV_BYTES", 1000)
    with pytest.raises(InputError, match=r"big.csv: \$: file is \d+ bytes; the limit is 1000: export a shorter period"):
        read_fills(big)


def test_ibkr_forex_commission_in_another_currency_is_flagged(tmp_path: Path) -> None:
    # IBKR charges forex commissions in USD while a USD.JPY trade's P&L is in JPY.
    path = ibkr_csv(tmp_path, [
        '"USD.JPY","CASH","JPY","USD","20250115;093000","10000","150.10","-2","BUY","1"',
        '"USD.JPY","CASH","JPY","USD","20250115;100000","-10000","150.20","-2","SELL","1"',
        '"SPY","STK","USD","USD","20250115;100000","10","580","-1","BUY","1"',
    ], header='"Symbol","AssetClass","CurrencyPrimary","IBCommissionCurrency","DateTime","Quantity","TradePrice",'
              '"IBCommission","Buy/Sell","Multiplier"')
    got = read_fills(path, "ibkr", tz=ZoneInfo("UTC"))
    assert got.warnings == ["line(s) 2, 3: commission in USD on trades in JPY: their fees are taken from a JPY P&L unconverted"]


def test_a_cell_holding_a_credential_is_refused_without_quoting_it(flywheel_cli, tmp_path: Path) -> None:
    # "column price: 'sk_live_…' is not a number": the key pasted into the wrong column was
    # printed whole on stderr (and into the log of a cron job), which only masked GitHub tokens.
    key = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    csv = tmp_path / "fills.csv"
    csv.write_text(f"timestamp,symbol,side,quantity,price,fees\n2025-01-15 09:30:00,AAPL,BUY,10,{key},0\n")
    result = flywheel_cli("collect", "trade", "--csv", csv)
    assert result.exit_code == 2, result.output
    assert f"{csv}: line 2: column price: '[redacted:stripe-access-key]' is not a number" in result.stderr
    assert key[-10:] not in result.output
