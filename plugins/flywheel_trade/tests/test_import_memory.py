"""A long broker export is parsed a row at a time: memory follows the fills, not a multiple of the file."""

from __future__ import annotations

import csv
import random
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flywheel_core import InputError
from flywheel_trade.importer import _text_lines, read_fills

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "exports" / "ibkr_trades.csv"


def flex_export(path: Path, executions: int) -> None:
    """An IBKR Flex trades export like the bundled example (its 90 columns), ``executions`` rows of
    round trips in 50 symbols over a month, each account's header repeated as Flex does."""
    rows = list(csv.reader(EXAMPLE.open(encoding="utf-8")))
    message, header, template = rows[0], rows[1], rows[2]
    col = {name: i for i, name in enumerate(header)}
    rnd = random.Random(7)
    position: dict[str, int] = {}
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerows([message, header])
        for k in range(executions):
            if k == executions // 2:
                writer.writerow(header)
            symbol = f"S{rnd.randrange(50):02d}"
            held = position.get(symbol, 0)
            qty = -held if held and rnd.random() < 0.5 else rnd.choice([10, 25, 50, 100])
            position[symbol] = held + qty
            row = list(template)
            second = k * 7 % 23400 + 34200
            row[col["Symbol"]], row[col["Description"]] = symbol, f"{symbol} COMMON STOCK"
            row[col["DateTime"]] = f"202502{1 + k * 28 // executions:02d};{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}"
            row[col["Quantity"]], row[col["TradePrice"]] = str(qty), f"{rnd.uniform(20, 400):.2f}"
            row[col["IBCommission"]] = f"-{abs(qty) * 0.005:.3f}"
            row[col["Buy/Sell"]] = "BUY" if qty > 0 else "SELL"
            row[col["IBExecID"]] = f"0000e1a2.{k:06x}.01.01"
            writer.writerow(row)


def test_a_long_ibkr_export_takes_about_its_size_in_memory_not_ten_times(tmp_path: Path) -> None:
    # It held the bytes, the text, its lines and every row's 90 cells at once: 8x the file at
    # the peak (13x with what followed). Now the bytes (hashed: read once) and the fills.
    export = tmp_path / "flex.csv"
    flex_export(export, 4000)
    size = export.stat().st_size
    tracemalloc.start()
    try:
        result = read_fills(export, "ibkr")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(result.fills) == 4000 and result.fills[-1].line == 4003  # the repeated header is no row
    assert {f.account for f in result.fills} == {"U1234567"} and result.fills[0].currency == "USD"
    assert peak < 3.5 * size, f"peak {peak / size:.1f}x the file's {size} bytes"


@given(st.lists(st.sampled_from(["a", ",", '"', "é", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028",
                                 "\u2029", "\ufeff", "😀"]), max_size=40))
def test_lines_are_those_of_the_whole_text(parts: list[str]) -> None:
    raw = "".join(parts).encode("utf-8")
    for data in (raw, b"\xef\xbb\xbf" + raw):  # with and without a byte order mark
        assert list(_text_lines(data)) == data.decode("utf-8-sig").splitlines(keepends=True)


@pytest.mark.parametrize("offset", [-1, 0, 1, 2])
def test_utf8_is_checked_across_megabytes(tmp_path: Path, offset: int) -> None:
    # The file is checked a megabyte at a time: a character across the cut is no error, and a bad
    # byte anywhere is named by its line and its byte in the file.
    head = "timestamp,symbol,side,quantity,price\n"
    row = "2025-01-15T09:30:00Z,AAPL,buy,1,1\n"
    filler = row * (((1 << 20) - 200) // len(row))
    last = "2025-01-15T09:31:00Z,AAPL,sell,1,"
    pad = (1 << 20) - 1 + offset - len(head) - len(filler) - len(last)  # offset 0: é's two bytes either side
    text = head + filler + last + "1" * pad + "é\n"
    good = tmp_path / "good.csv"
    good.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"good.csv: line \d+: column price: '1+é' is not a number"):
        read_fills(good)
    bad = tmp_path / "bad.csv"
    data = text.encode("utf-8")
    cut = data.index("é".encode())
    assert cut == (1 << 20) - 1 + offset
    bad.write_bytes(data[:cut] + b"\xff" + data[cut + 2 :])
    lines = data[:cut].count(b"\n") + 1
    with pytest.raises(InputError, match=rf"bad.csv: line {lines}: invalid UTF-8 at byte {cut}$"):
        read_fills(bad)
