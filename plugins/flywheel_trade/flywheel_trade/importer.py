"""Broker CSV exports of executions (generic, IBKR Flex, Tradovate) to fills, and fills to a trade session.

Every row either becomes a fill or is reported: a row that cannot be read stops the import with
``FILE: line N: column X: ...`` (exit 2); rows that are not executions (IBKR summary rows,
Tradovate orders that never filled) are counted in the notes printed to stderr. A multiplier the
export does not give is derived only where it is certain (and warned about), else refused.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
import sys
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any, Iterable, Iterator

import attrs

from flywheel_core import InputError, UsageError
from flywheel_trade.checks import MAX_PNL
from flywheel_trade.pairing import Fill, clean_number, iso_utc, pair, round_trips

__all__ = [
    "FORMATS",
    "Fill",
    "POINT_VALUES",
    "UNIT_ASSET_CLASSES",
    "ImportResult",
    "contract_root",
    "pair",
    "parse_multipliers",
    "read_fills",
    "round_trips",
    "session_from_csv",
]

FORMATS = ("generic", "ibkr", "tradovate")
#: The largest export read (about five million executions; the bytes are held, read once, and the
#: fills: some two and a half times its size in memory).
MAX_CSV_BYTES = 256 * 1024 * 1024
#: Bytes checked to be UTF-8 at a time.
_CHUNK = 1 << 20
#: A generic file's optional column naming each execution: a row repeating one is skipped.
_GENERIC_IDS = ("execution_id", "fill_id", "exec_id")

#: Dollars per 1.00 of price of CME-group (CME, CBOT, NYMEX, COMEX) futures, by root: the exchange's
#: contract unit, for prices quoted in dollars. Used only when the export gives no multiplier
#: (Tradovate never does), with a warning. Left out on purpose: contracts quoted in cents (grains,
#: livestock), where brokers differ on the price unit. Anything else needs ``--multiplier ROOT=N``.
POINT_VALUES: dict[str, float] = {
    # equity indexes
    "ES": 50, "MES": 5, "NQ": 20, "MNQ": 2, "YM": 5, "MYM": 0.5, "RTY": 50, "M2K": 5, "EMD": 100, "NKD": 5,
    # energy (per barrel, per MMBtu, per gallon)
    "CL": 1000, "MCL": 100, "QM": 500, "NG": 10000, "QG": 2500, "RB": 42000, "HO": 42000,
    # metals (per troy ounce, per pound)
    "GC": 100, "MGC": 10, "SI": 5000, "SIL": 1000, "HG": 25000, "MHG": 2500, "PL": 50, "PA": 100,
    # interest rates (per point of par)
    "ZB": 1000, "UB": 1000, "ZN": 1000, "TN": 1000, "ZF": 1000, "ZT": 2000,
    # soybean meal (per short ton; the other grains are quoted in cents)
    "ZM": 100,
    # currencies (per US dollar of the quote)
    "6E": 125000, "M6E": 12500, "6J": 12500000, "6B": 62500, "M6B": 6250, "6A": 100000, "M6A": 10000,
    "6C": 100000, "6S": 125000, "6N": 100000, "6M": 500000,
    # crypto
    "BTC": 5, "MBT": 0.1, "ETH": 50, "MET": 0.1,
}

#: IBKR asset classes traded one unit per contract (shares, currency, coins, spot metal).
UNIT_ASSET_CLASSES = frozenset({"STK", "CASH", "CRYPTO", "CFD", "FUND", "CMDTY"})
#: A standard OCC option symbol (IBKR pads the root with spaces): 100 shares per contract. An
#: adjusted option after a split or merger gets a root with a digit (``AAPL1``) and another deliverable.
_OCC = re.compile(r"^(?P<root>[A-Z]{1,6}) *\d{6}[CP]\d{8}$")
#: Anything with an expiry, a right and a strike: an option, whatever its layout.
_OPTION_LIKE = re.compile(r"^(?P<root>[A-Z0-9.]+?)[\s_.-]*\d{6}\s*[CP]\s*\d", re.I)
#: A futures contract: a root (a letter, maybe a digit before, 2 more at most), a month code and
#: the year (MESZ5, 6EH25, M2KU5).
_FUTURE = re.compile(r"^(?P<root>\d?[A-Z][A-Z0-9]{0,2}?)[FGHJKMNQUVXZ]\d{1,2}$")

_IBKR_ENVELOPE = {"MSG", "BOF", "BOA", "BOS", "EOS", "EOA", "EOF"}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
#: A number written with a decimal comma (``150,25``, ``1.234,5``): only read in ``;``-separated files.
_DECIMAL_COMMA = re.compile(r"^[+-]?(\d+|\d{1,3}(\.\d{3})+),\d+$")
#: A whole number grouped with dots (``1.500``) in such a file.
_DOT_THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(\.\d{3})+$")
#: A number with a decimal point; one shaped like ``_DOT_THOUSANDS`` (``1.500``) tells nothing.
_DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+$")


@attrs.define
class ImportResult:
    """What an import produced: the fills; notes about rows that were not fills; warnings about
    what was assumed (multipliers derived from the symbol) or left out (positions carried in)."""

    fills: list[Fill]
    notes: list[str] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)
    #: SHA-256 of the bytes read (the file is read once: a second read could see another file).
    sha256: str = ""
    #: What the person importing can do about the warnings: printed, never kept in the session
    #: (the journal shows the warnings to its readers, who cannot pass an option).
    advice: list[str] = attrs.field(factory=list)


class _Multipliers:
    """Each fill's multiplier: ``--multiplier`` (by symbol or root), else the export's own column,
    else derived where certain (noted for a warning), else refused naming the symbol."""

    def __init__(self, rows: _Rows, overrides: dict[str, float]) -> None:
        self.rows, self.overrides = rows, overrides
        self.used: set[str] = set()
        #: (value, why) -> symbols: one warning per assumption, naming every symbol it covers.
        self.assumed: dict[tuple[float, str], set[str]] = {}

    def __call__(
        self, line: int, column: str, symbol: str, stated: float | None, *, asset_class: str = "", root: str = "", futures: bool = False
    ) -> float:
        # The export may name the root too (IBKR UnderlyingSymbol: EUR for 6EH5; Tradovate Product):
        # the first root the table knows is used, else the symbol's own.
        roots = [contract_root(symbol)] + ([root.strip().upper()] if root.strip() else [])
        root = next((r for r in roots if r in POINT_VALUES), roots[0])
        for name in (symbol, *roots):
            if name in self.overrides:
                self.used.add(name)
                return self.overrides[name]
        if stated is not None:
            return stated
        value, why = _derive_multiplier(symbol, root, asset_class.strip().upper(), futures)
        if value is None:
            name = root if re.fullmatch(r"[A-Za-z0-9._-]+", root) else repr(root)
            raise self.rows.fail(line, f"no multiplier for {symbol!r} in the export and {why}; pass --multiplier {name}=N "
                                 "(dollars per 1.00 of price)", column)
        if why:
            self.assumed.setdefault((value, why), set()).add(symbol)
        return value

    def warnings(self) -> list[str]:
        out = []
        for (value, why), symbols in sorted(self.assumed.items(), key=lambda kv: sorted(kv[1])[0]):
            names = sorted(symbols)
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            out.append(f"{shown}: multiplier {value:g}, {why}, since the export gives none")
        return out


def contract_root(symbol: str) -> str:
    """The root ``--multiplier`` may name: a futures root (``MES`` of ``MESZ5``), an option's
    underlying (``AAPL1`` of ``AAPL1 250117C00150000``), else the symbol itself."""
    text = " ".join(symbol.split()).upper()
    match = _FUTURE.match(text) or _OPTION_LIKE.match(text)
    return match["root"] if match else text


def _derive_multiplier(symbol: str, root: str, asset_class: str, futures: bool) -> tuple[float | None, str]:
    """(value, why it was assumed; "" when there is nothing to say), or (None, why it cannot be)."""
    text = " ".join(symbol.split()).upper()
    if asset_class in UNIT_ASSET_CLASSES:
        return 1.0, ""
    if asset_class in ("", "OPT") and not futures and _OCC.match(symbol.strip().upper()):
        return 100.0, "the standard for OCC option symbols"
    if asset_class == "FUT" or (not asset_class and (futures or _FUTURE.match(text))):
        if root in POINT_VALUES:
            return float(POINT_VALUES[root]), f"the point value of {root} futures in flywheel's table"
        return None, f"{root} is not in flywheel's table of futures point values"
    if asset_class == "OPT" or _OPTION_LIKE.match(text):
        return None, "it is not a standard OCC option symbol (an adjusted option may deliver other than 100 shares)"
    if asset_class:
        return None, f"asset class {asset_class} has no standard multiplier"
    return 1.0, ""


# -- reading cells ------------------------------------------------------------------------------


class _Rows:
    """A CSV file's rows with the header's columns found by name, and errors that name line and column."""

    def __init__(self, path: Path, file: str, tz: tzinfo) -> None:
        self.path, self.file, self.tz = path, file, tz
        self.naive_times = 0
        self.sha256 = ""  # of the bytes read, set by records()
        self.warnings: list[str] = []  # what a format's reader could not be sure of
        #: (line, local time) of times the zone has twice, as clocks go back.
        self.repeated_hour: list[tuple[int, datetime]] = []
        self.decimal_comma = False  # set by records() for a `;` file that writes 150,25
        #: Set by records() for a `;` file where no number shows its decimal mark: 1.500 there is
        #: 1500 to a German spreadsheet and 1.5 to a Swiss one, so such a number is refused.
        self.dots_unclear = False
        #: The column naming each execution (IBKR IBExecID, Tradovate Fill ID), set by the format's reader.
        self.id_column: tuple[str, int] | None = None
        self._raw: bytes | None = None  # the file's bytes, once read

    def fail(self, line: int, message: str, column: str | None = None) -> InputError:
        return InputError(self.file, f"line {line}", f"column {column}: {message}" if column else message)

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, cells) for every non-blank record; invalid UTF-8 is an error with its line.

        Rows are parsed as they are asked for, from the bytes read once (a second call parses
        them again: a format that needs two passes reads the same file). Nothing else the size
        of the file is held: not its text, not its lines, not its rows."""
        raw = self._bytes()
        first = next((line for line in _text_lines(raw) if line.strip()), "")
        # Spreadsheets set to a locale with a decimal comma export `;`-separated files; "Text (Tab
        # delimited)" and .tsv exports separate with tabs.
        delimiter = max((",", ";", "\t"), key=first.count) if first.count(",") < max(first.count(";"), first.count("\t")) else ","
        if delimiter == ";":
            self.decimal_comma, point = _decimal_marks(_text_lines(raw))
            self.dots_unclear = not self.decimal_comma and not point
        reader = csv.reader(_text_lines(raw), delimiter=delimiter, strict=True)
        start = 1
        try:
            for cells in reader:
                line = start
                start = reader.line_num + 1
                if any(c.strip() for c in cells):
                    yield line, cells
        except csv.Error as exc:
            raise InputError(self.file, f"line {reader.line_num}", f"malformed CSV: {exc}") from None

    def _bytes(self) -> bytes:
        """The file's bytes, read (and hashed, and checked to be UTF-8) on the first call only."""
        from flywheel_core import PathRefused, read_regular_file

        if self._raw is not None:
            return self._raw
        try:
            # Bounded, and never waiting on a FIFO (--csv /dev/stdin with nothing piped) nor
            # reading a device forever (--csv /dev/zero).
            raw = read_regular_file(self.path, MAX_CSV_BYTES)
        except FileNotFoundError:
            raise InputError(self.file, "$", "no such file") from None
        except IsADirectoryError:
            raise InputError(self.file, "$", "is a directory, expected a CSV file") from None
        except PathRefused as exc:  # not a regular file ("is a FIFO, expected a regular file"), or over the limit
            hint = "" if "regular file" in str(exc) else ": export a shorter period"
            raise InputError(self.file, "$", f"{exc}{hint}") from None
        except OSError as exc:
            raise InputError(self.file, "$", f"cannot read: {exc.strerror or exc}") from None
        self.sha256 = hashlib.sha256(raw).hexdigest()
        # Checked a megabyte at a time, so no decoded copy of the whole file is made.
        decoder = codecs.getincrementaldecoder("utf-8")()
        view = memoryview(raw)
        try:
            for start in range(0, len(raw), _CHUNK):
                decoder.decode(view[start : start + _CHUNK], final=start + _CHUNK >= len(raw))
        except UnicodeDecodeError:
            try:
                raw.decode("utf-8-sig")  # again at once: the error's position in the file, not in a chunk
            except UnicodeDecodeError as exc:
                line = raw[: exc.start].count(b"\n") + 1
                raise InputError(self.file, f"line {line}", f"invalid UTF-8 at byte {exc.start}") from None
        self._raw = raw
        return raw

    def number(
        self, line: int, column: str, value: str, *, positive: bool = False, zero_ok: bool = False, default: float | None = None
    ) -> float:
        text = value.strip().replace("\u2212", "-")
        if not text:
            if default is not None:
                return default
            raise self.fail(line, "is empty, expected a number", column)
        if self.decimal_comma:
            # Every number is read the file's way: a point here is a thousands separator or a mistake.
            if _DECIMAL_COMMA.match(text) or _DOT_THOUSANDS.match(text):
                text = text.replace(".", "").replace(",", ".")
            elif "." in text or "," in text:
                raise self.fail(line, f"{value.strip()!r} is not a number (this file writes decimals with a comma)", column)
        elif self.dots_unclear and text.count(".") == 1 and _DOT_THOUSANDS.match(text):
            whole, point = text.replace(".", ""), f"{float(text):g}"
            raise self.fail(
                line, f"{text!r} is {whole} where decimals are written with a comma and {point} where with a point, and no "
                f"other number in this `;`-separated file shows which: write it as {whole} or {point.replace('.', ',')}",
                column,
            )
        elif _THOUSANDS.match(text):
            text = text.replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise self.fail(line, f"{value.strip()!r} is not a number", column) from None
        if not math.isfinite(number):
            raise self.fail(line, f"{value.strip()!r} is not a finite number", column)
        if abs(number) > MAX_PNL:  # `run` refuses such a session: say so here, at its row
            raise self.fail(line, f"{value.strip()} is beyond ±{MAX_PNL:.0e}: not a plausible amount", column)
        if positive and number <= 0 and not (zero_ok and number == 0):
            wanted = "0 or more" if zero_ok else "greater than 0"
            raise self.fail(line, f"must be {wanted}, got {value.strip()}", column)
        return number

    def execution_id(self, cells: list[str]) -> str:
        return _cell(cells, self.id_column[1]).strip() if self.id_column else ""

    def iso_time(self, line: int, column: str, value: str) -> datetime:
        """An ISO 8601 timestamp; one without a zone is read in ``--tz``."""
        from flywheel_core import parse_timestamp

        try:
            moment, naive = parse_timestamp(value.strip())
        except ValueError:
            raise self.fail(line, f"{value.strip()!r} is not an ISO 8601 timestamp", column) from None
        return self.localize(moment.replace(tzinfo=None), line, column) if naive else moment

    def localize(self, naive: datetime, line: int, column: str) -> datetime:
        """A local time of ``--tz`` in UTC. One the zone skips (clocks went forward) is refused: the
        file is in another zone. One it has twice (clocks went back) is read as the first and listed
        in ``repeated_hour``: which it was, the file does not say."""
        self.naive_times += 1
        if self.tz is timezone.utc:  # no clock changes: the common case, at no cost
            return naive.replace(tzinfo=timezone.utc)
        aware = naive.replace(tzinfo=self.tz)
        moment = aware.astimezone(timezone.utc)
        if moment.astimezone(self.tz).replace(tzinfo=None) != naive:
            raise self.fail(line, f"{naive:%Y-%m-%d %H:%M:%S} does not exist in {self.tz} (clocks went forward over it "
                            "that day): is --tz the zone of the export's times?", column)
        if aware.utcoffset() != naive.replace(tzinfo=self.tz, fold=1).utcoffset():
            self.repeated_hour.append((line, naive))
        return moment


def _text_lines(raw: bytes) -> Iterator[str]:
    """``raw.decode("utf-8-sig").splitlines(keepends=True)``, one line at a time (``raw`` is valid
    UTF-8): it is cut after each newline byte, which no multi-byte character holds, and each
    piece is split as the whole text would be (at CR, form feed, U+2028...)."""
    pieces = io.BytesIO(raw)
    head = pieces.readline()
    if head:
        yield from head.decode("utf-8-sig").splitlines(keepends=True)
    for piece in pieces:
        yield from piece.decode("utf-8").splitlines(keepends=True)


def _decimal_marks(lines: Iterable[str]) -> tuple[bool, bool]:
    """(some cell writes a decimal comma, some cell writes a decimal point) in a `;`-separated file.

    ``150,25`` and ``1.500.000`` say comma; ``150.25`` says point; ``1.500`` says nothing.
    """
    point = False
    try:
        for row in csv.reader(lines, delimiter=";"):
            for cell in row:
                cell = cell.strip()
                if _DECIMAL_COMMA.match(cell) or (cell.count(".") > 1 and _DOT_THOUSANDS.match(cell)):
                    return True, point
                point = point or bool(_DECIMAL_POINT.match(cell) and not _DOT_THOUSANDS.match(cell))
    except csv.Error:
        pass  # the strict read reports it with its line
    return False, point


class _Header:
    """Column lookup: exact names first, then case- and space-insensitive when that is unambiguous."""

    def __init__(self, cells: list[str]) -> None:
        self.cells = [c.strip() for c in cells]
        self.exact = {c: i for i, c in reversed(list(enumerate(self.cells)))}
        loose: dict[str, list[int]] = {}
        for i, c in enumerate(self.cells):
            loose.setdefault(_loose(c), []).append(i)
        self.loose = loose

    def find(self, *names: str) -> tuple[str, int] | None:
        for name in names:
            if name in self.exact:
                return name, self.exact[name]
        for name in names:
            hits = self.loose.get(_loose(name), [])
            if len(hits) == 1:
                return self.cells[hits[0]], hits[0]
        return None

    def require(self, rows: _Rows, line: int, *names: str) -> tuple[str, int]:
        found = self.find(*names)
        if found is None:
            wanted = " or ".join(repr(n) for n in names)
            raise rows.fail(line, f"missing (expected {wanted}; the header has {', '.join(self.cells)})", names[0])
        return found


def _loose(name: str) -> str:
    return re.sub(r"[\s_]+", "", name).lower()


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


#: Sides as brokers write them once lower-cased, with ``_`` and ``-`` as spaces (Schwab and
#: thinkorswim say "Buy to Open" and "Sell Short", others BTO/STC or BUY_TO_COVER): the side,
#: and whether the fill opens (O) or closes (C) a position, as IBKR's Open/CloseIndicator says.
_SIDES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("buy", "b", "bot", "bought", "long"), ("buy", "")),
    **dict.fromkeys(("sell", "s", "sld", "sold", "short"), ("sell", "")),
    **dict.fromkeys(("buy to open", "bto", "buy open"), ("buy", "O")),
    **dict.fromkeys(("buy to close", "btc", "buy close", "buy to cover", "cover"), ("buy", "C")),
    **dict.fromkeys(("sell to open", "sto", "sell open", "sell short", "short sell", "ss"), ("sell", "O")),
    **dict.fromkeys(("sell to close", "stc", "sell close"), ("sell", "C")),
}


def _side(rows: _Rows, line: int, column: str, value: str) -> str:
    return _side_and_intent(rows, line, column, value)[0]


def _side_and_intent(rows: _Rows, line: int, column: str, value: str) -> tuple[str, str]:
    """``(buy or sell, O, C or "")`` of a side cell."""
    found = _SIDES.get(" ".join(value.lower().replace("_", " ").replace("-", " ").split()))
    if found:
        return found
    raise rows.fail(line, f"{value.strip()!r} is not a side (expected buy or sell)", column)


# -- formats ------------------------------------------------------------------------------------


def _generic(rows: _Rows, records: Iterator[tuple[int, list[str]]], multipliers: _Multipliers) -> list[Fill]:
    first = next(records, None)
    if first is None:
        raise InputError(rows.file, "line 1", "the file is empty (expected a header: timestamp,symbol,side,quantity,price,fees)")
    hline, hcells = first
    header = _Header(hcells)
    col = {name: header.require(rows, hline, name) for name in ("timestamp", "symbol", "side", "quantity", "price")}
    fees = header.find("fees", "fee", "commission")
    mult = header.find("multiplier")
    account = header.find("account")
    rows.id_column = header.find(*_GENERIC_IDS)
    fills = []
    for line, cells in records:
        _check_width(rows, line, cells, header)
        symbol = _symbol(rows, line, col["symbol"][0], _cell(cells, col["symbol"][1]))
        stated = rows.number(line, mult[0], _cell(cells, mult[1]), positive=True, default=math.nan) if mult else math.nan
        side, intent = _side_and_intent(rows, line, col["side"][0], _cell(cells, col["side"][1]))
        fills.append(
            Fill(
                line=line,
                time=rows.iso_time(line, col["timestamp"][0], _cell(cells, col["timestamp"][1])),
                symbol=symbol,
                side=side,
                quantity=rows.number(line, col["quantity"][0], _cell(cells, col["quantity"][1]), positive=True),
                price=rows.number(line, col["price"][0], _cell(cells, col["price"][1]), positive=True, zero_ok=True),
                fees=rows.number(line, fees[0], _cell(cells, fees[1]), default=0.0) if fees else 0.0,
                multiplier=multipliers(line, mult[0] if mult else col["symbol"][0], symbol, _known(stated)),
                account=_label(cells, account),
                # "Sell to Close" of a position opened before the file closes it, as IBKR's C does.
                open_close=intent,
                execution_id=rows.execution_id(cells),
            )
        )
    return fills


def _known(value: float) -> float | None:
    """A number read with ``default=nan`` for an empty cell: None when the cell was empty."""
    return None if math.isnan(value) else value


def _check_width(rows: _Rows, line: int, cells: list[str], header: _Header) -> None:
    # Many exports end each row with a separator the header lacks: empty cells past the header are nothing.
    if len(cells) != len(header.cells) and (len(cells) < len(header.cells) or any(c.strip() for c in cells[len(header.cells):])):
        raise rows.fail(line, f"has {len(cells)} fields but the header has {len(header.cells)}")


def _symbol(rows: _Rows, line: int, column: str, value: str) -> str:
    symbol = value.strip()
    if not symbol:
        raise rows.fail(line, "is empty, expected a symbol", column)
    return sys.intern(symbol)


def _label(cells: list[str], column: tuple[str, int] | None) -> str:
    """A cell that names (an account, a currency): one string for all rows that repeat it,
    as a symbol is, so a long export's fills do not each hold a copy."""
    return sys.intern(_cell(cells, column[1]).strip()) if column else ""


_IBKR_DATE = re.compile(r"^(?P<date>\d{8}|\d{4}-\d{2}-\d{2})(?:[;,T ]+(?P<time>\d{6}|\d{2}:\d{2}(?::\d{2})?))?$")


def _ibkr_time(rows: _Rows, line: int, column: str, value: str) -> datetime:
    """IBKR's ``yyyyMMdd;HHmmss`` (the Flex default) or ``yyyy-MM-dd`` with ``;``, ``,``, space or T."""
    match = _IBKR_DATE.match(value.strip())
    if not match:
        raise rows.fail(
            line,
            f"{value.strip()!r} is not a date-time flywheel reads (set the Flex query's date format to "
            "yyyyMMdd or yyyy-MM-dd and time format to HHmmss or HH:mm:ss)",
            column,
        )
    date = match["date"].replace("-", "")
    time = (match["time"] or "000000").replace(":", "").ljust(6, "0")
    try:
        naive = datetime.strptime(date + time, "%Y%m%d%H%M%S")
    except ValueError:
        raise rows.fail(line, f"{value.strip()!r} is not a valid date-time", column) from None
    return rows.localize(naive, line, column)


def _ibkr_records(rows: _Rows, records: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[str, int, list[str]]]:
    """(section code, line, cells) of each record that is not the statement's envelope; the code
    is "" for a file without HEADER/DATA section codes, whose two columns are then left out."""
    for line, cells in records:
        first = cells[0].strip().upper()
        if first == "STATEMENT" and len(cells) > 1 and cells[1].strip().upper() == "HEADER":
            # Its Trades section has no multiplier column: option and futures P&L would be off by 100x.
            raise rows.fail(line, "this is an IBKR Activity Statement, not a Flex Query: export the Trades "
                            "section with a Flex Query (Reports > Flex Queries)")
        if first in ("HEADER", "DATA") and len(cells) > 2:
            yield cells[1].strip().upper(), line, cells[2:]  # "section code and line descriptor" columns
        elif first not in _IBKR_ENVELOPE:  # else statement envelope records and messages, not executions
            yield "", line, cells


def _ibkr_data(rows: _Rows, records: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[str, _Header, int, list[str] | None]]:
    """(section code, its header, line, cells) of every data row; cells None for a section's
    header (its first row), which is not repeated as data (the next account's header)."""
    headers: dict[str, _Header] = {}
    for code, line, cells in _ibkr_records(rows, records):
        header = headers.get(code)
        if header is None:
            headers[code] = _Header(cells)
            yield code, headers[code], line, None
        elif not _repeats(cells, header):
            yield code, header, line, cells


def _repeats(cells: list[str], header: _Header) -> bool:
    # Cheap tests first: this runs on every row, twice, and a data row almost never matches.
    return (len(cells) == len(header.cells) and cells[0].strip() == header.cells[0]
            and [c.strip() for c in cells] == header.cells)


@attrs.define
class _Section:
    """What the first pass learns of a Flex section: its header, where, and its rows' levels of detail."""

    header: _Header
    line: int
    rows: int = 0
    levels: dict[str, int] = attrs.field(factory=dict)  # LevelOfDetail (upper case) -> rows
    #: (line, symbol, description) of each row of a Corporate Actions section (splits, mergers).
    actions: list[tuple[int, str, str]] = attrs.field(factory=list)


def _corporate_action(code: str, header: _Header) -> bool:
    """A Flex Corporate Actions section: its code, or the columns only it has."""
    return code == "CORP" or header.find("ActionDescription", "ActionID") is not None


def _ibkr_section(rows: _Rows, records: Iterator[tuple[int, list[str]]], notes: list[str]) -> tuple[str, _Section]:
    """The code and outline of the trades section (all rows when the file has no section codes).

    A first pass over the file: only each section's header and counts are kept, not its rows."""
    sections: dict[str, _Section] = {}
    for code, header, line, cells in _ibkr_data(rows, records):
        if cells is None:
            sections[code] = _Section(header, line)
            continue
        section = sections[code]
        section.rows += 1
        if _corporate_action(code, header) and (symbol := header.find("Symbol")):
            what = header.find("ActionDescription", "Description")
            described = _cell(cells, what[1]).strip() if what else ""
            section.actions.append((line, _cell(cells, symbol[1]).strip(), described))
        level = header.find("LevelOfDetail")
        if level is not None:
            value = _cell(cells, level[1]).strip().upper()
            section.levels[value] = section.levels.get(value, 0) + 1
    if not sections:
        raise InputError(rows.file, "line 1", "the file is empty (expected an IBKR Flex Query trades CSV)")
    # Several Flex sections: the Trades one (code TRNT), else the first with a trade price column.
    code = next(
        (c for c in sections if c == "TRNT"),
        next((c for c in sections if sections[c].header.find("TradePrice")), next(iter(sections))),
    )
    others = sorted(c for c in sections if c != code)
    if others:
        skipped = sum(sections[c].rows for c in others)
        notes.append(f"skipped {skipped} row(s) of other Flex sections ({', '.join(others)})")
    # A split or merger changes quantities and prices between a trade's fills: flywheel does not
    # adjust for it, so the P&L of that symbol is flagged rather than published as if it were sure.
    sections[code].actions = [a for c in others for a in sections[c].actions]
    return code, sections[code]


def _ibkr(rows: _Rows, records: Iterator[tuple[int, list[str]]], notes: list[str], multipliers: _Multipliers) -> list[Fill]:
    code, section = _ibkr_section(rows, records, notes)
    header, hline = section.header, section.line
    sym = header.require(rows, hline, "Symbol")
    qty = header.require(rows, hline, "Quantity")
    price = header.require(rows, hline, "TradePrice", "Price")
    when = header.find("DateTime", "Date/Time")
    date = header.find("TradeDate")
    clock = header.find("TradeTime")
    if when is None and date is None:
        raise rows.fail(hline, "missing (expected 'DateTime', or 'TradeDate' with 'TradeTime')", "DateTime")
    buy_sell = header.find("Buy/Sell")
    commission = header.find("IBCommission", "Commission")
    taxes = header.find("Taxes")
    mult = header.find("Multiplier")
    asset_class = header.find("AssetClass", "Asset Class")
    underlying = header.find("UnderlyingSymbol")
    indicator = header.find("Open/CloseIndicator", "Open/Close")
    currency = header.find("CurrencyPrimary", "Currency")
    fee_currency = header.find("IBCommissionCurrency")
    mixed: dict[tuple[str, str], list[int]] = {}  # (commission currency, trade currency) -> lines
    level = header.find("LevelOfDetail")
    account = header.find("ClientAccountID", "AccountId", "Account")
    rows.id_column = header.find("IBExecID", "TransactionID")
    wanted: set[str] | None = None  # the levels of detail read (None: every row)
    if level is not None:
        keep = "EXECUTION" if "EXECUTION" in section.levels else "ORDER"
        wanted = {keep, ""}
        skipped = sum(n for value, n in section.levels.items() if value not in wanted)
        if skipped:
            other = sorted(set(section.levels) - wanted)
            notes.append(f"skipped {skipped} IBKR row(s) that are not executions (LevelOfDetail {', '.join(other)})")
    # The second pass: the section's rows again, parsed one at a time.
    data = ((line, cells) for c, _, line, cells in _ibkr_data(rows, rows.records()) if c == code and cells is not None)
    if wanted is not None:
        data = ((line, cells) for line, cells in data if _cell(cells, level[1]).strip().upper() in wanted)  # type: ignore[index]
    fills = []
    for line, cells in data:
        _check_width(rows, line, cells, header)
        symbol = _symbol(rows, line, sym[0], _cell(cells, sym[1]))
        signed_qty = rows.number(line, qty[0], _cell(cells, qty[1]))
        if signed_qty == 0:
            raise rows.fail(line, "is 0, expected a signed non-zero quantity", qty[0])
        side = "buy" if signed_qty > 0 else "sell"
        if buy_sell is not None:
            stated = _cell(cells, buy_sell[1]).strip()
            if "(CA.)" in stated.upper():
                raise rows.fail(line, f"{stated!r} is a cancelled execution; run the Flex query without cancelled trades", buy_sell[0])
            if stated and _side(rows, line, buy_sell[0], stated.split()[0]) != side:
                raise rows.fail(line, f"says {stated} but {qty[0]} is {_cell(cells, qty[1]).strip()}", buy_sell[0])
        if when is not None and _cell(cells, when[1]).strip():
            moment = _ibkr_time(rows, line, when[0], _cell(cells, when[1]))
        elif date is not None:
            stamp = _cell(cells, date[1]).strip() + (";" + _cell(cells, clock[1]).strip() if clock and _cell(cells, clock[1]).strip() else "")
            moment = _ibkr_time(rows, line, date[0], stamp)
        else:
            hint = "" if level else " (a summary row? add LevelOfDetail to the Flex query so flywheel can skip them)"
            raise rows.fail(line, f"is empty, expected the execution time{hint}", when[0] if when else "DateTime")
        # IBKR writes commissions and taxes as negative cash amounts: a cost is their negation.
        fees = 0.0
        if commission is not None:
            fees -= rows.number(line, commission[0], _cell(cells, commission[1]), default=0.0)
            # IBKR charges forex in USD: a USD.JPY trade's P&L is in JPY, its commission in USD.
            paid_in, traded_in = (_cell(cells, c[1]).strip().upper() if c else "" for c in (fee_currency, currency))
            if fees and paid_in and traded_in and paid_in != traded_in:
                mixed.setdefault((paid_in, traded_in), []).append(line)
        if taxes is not None:
            fees -= rows.number(line, taxes[0], _cell(cells, taxes[1]), default=0.0)
        stated = rows.number(line, mult[0], _cell(cells, mult[1]), positive=True, default=math.nan) if mult else math.nan
        kind = _cell(cells, asset_class[1]).strip().upper() if asset_class else ""
        multiplier = multipliers(
            line, mult[0] if mult else sym[0], symbol, _known(stated), asset_class=kind,
            root=_cell(cells, underlying[1]) if underlying and kind == "FUT" else "",
        )
        fills.append(
            Fill(
                line=line,
                time=moment,
                symbol=symbol,
                side=side,
                quantity=abs(signed_qty),
                price=rows.number(line, price[0], _cell(cells, price[1]), positive=True, zero_ok=True),
                fees=fees,
                multiplier=multiplier,
                currency=_label(cells, currency),
                account=_label(cells, account),
                open_close=_open_close(rows, line, indicator, cells),
                execution_id=rows.execution_id(cells),
            )
        )
    traded = {name for f in fills for name in (f.symbol, contract_root(f.symbol))}
    for line, symbol, what in section.actions:
        if symbol in traded:
            rows.warnings.append(f"line {line}: corporate action on {symbol} ({what or 'no description'}): flywheel "
                                 "does not adjust trades for it, so the quantities, prices and P&L of "
                                 f"{symbol} trades held across it are wrong")
    for (paid_in, traded_in), lines in sorted(mixed.items()):
        shown = ", ".join(map(str, lines[:5])) + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")
        rows.warnings.append(f"line(s) {shown}: commission in {paid_in} on trades in {traded_in}: their fees are "
                             f"taken from a {traded_in} P&L unconverted")
    return fills


_TRADOVATE_LOCAL = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _tradovate_time(rows: _Rows, line: int, column: str, value: str) -> datetime:
    """``_timestamp`` is UTC (``2026-06-17 13:29:32.166Z``); ``Timestamp`` is local ``MM/DD/YYYY HH:MM:SS``."""
    text = value.strip()
    match = _TRADOVATE_LOCAL.match(text)
    if match:
        month, day, year, hour, minute, second = match.groups()
        try:
            naive = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        except ValueError:
            raise rows.fail(line, f"{text!r} is not a valid date-time", column) from None
        return rows.localize(naive, line, column)
    return rows.iso_time(line, column, text)


def _open_close(rows: _Rows, line: int, indicator: tuple[str, int] | None, cells: list[str]) -> str:
    """IBKR's Open/CloseIndicator: ``O``, ``C``, ``C;O`` (a close that opens the other side), or ""."""
    if indicator is None:
        return ""
    value = _cell(cells, indicator[1]).strip().upper().replace(" ", "")
    if value in ("", "O", "C", "C;O"):
        return value
    if value == "O;C":
        return "C;O"
    raise rows.fail(line, f"{value!r} is not an open/close indicator (expected O, C or C;O)", indicator[0])


def _tradovate(rows: _Rows, records: Iterator[tuple[int, list[str]]], notes: list[str], multipliers: _Multipliers) -> list[Fill]:
    first = next(records, None)
    if first is None:
        raise InputError(rows.file, "line 1", "the file is empty (expected a Tradovate Fills or Orders CSV)")
    hline, hcells = first
    header = _Header(hcells)
    orders = header.find("Fill ID", "_id", "id") is None and header.find("Status") is not None
    if orders:
        when = header.require(rows, hline, "Fill Time", "Timestamp")
        qty = header.require(rows, hline, "filledQty", "Filled Qty")
        price = header.require(rows, hline, "avgPrice", "Avg Fill Price")
        commission = None
        # Kept with the session: every P&L of the journal would otherwise read as net of fees.
        rows.warnings.append("a Tradovate Orders export has no commissions: fees are 0 and every P&L is before "
                             "commissions (export Fills to include them)")
    else:
        # Prefer the UTC `_timestamp` over the local `Timestamp`; exact names first, since the
        # older export has both `timestamp` (UTC) and `Timestamp` (local).
        when = header.find("_timestamp", "timestamp") or header.require(rows, hline, "Timestamp")
        qty = header.require(rows, hline, "Quantity", "_qty", "qty")
        price = header.require(rows, hline, "Price", "_price", "price")
        commission = header.find("commission", "Commission", "Fees")
    side_col = header.require(rows, hline, "B/S", "action", "Side")
    contract = header.require(rows, hline, "Contract", "Symbol")
    product = header.find("Product")
    status = header.find("Status")
    account = header.find("Account", "_accountId")
    rows.id_column = header.find("Order ID", "orderId") if orders else header.find("Fill ID", "_id")
    fills, unfilled = [], 0
    for line, cells in records:
        _check_width(rows, line, cells, header)
        if orders:
            filled = rows.number(line, qty[0], _cell(cells, qty[1]), default=0.0)
            if filled == 0:
                unfilled += 1
                continue
            if filled < 0:
                raise rows.fail(line, f"must not be negative, got {_cell(cells, qty[1]).strip()}", qty[0])
        symbol = _symbol(rows, line, contract[0], _cell(cells, contract[1]))
        # Tradovate trades futures only, and its exports carry no multiplier.
        root = _cell(cells, product[1]).strip() if product else ""
        multiplier = multipliers(line, product[0] if product else contract[0], symbol, None, root=root, futures=True)
        fills.append(
            Fill(
                line=line,
                time=_tradovate_time(rows, line, when[0], _cell(cells, when[1])),
                symbol=symbol,
                side=_side(rows, line, side_col[0], _cell(cells, side_col[1])),
                quantity=rows.number(line, qty[0], _cell(cells, qty[1]), positive=True),
                price=rows.number(line, price[0], _cell(cells, price[1]), positive=True, zero_ok=True),
                fees=rows.number(line, commission[0], _cell(cells, commission[1]), default=0.0) if commission else 0.0,
                multiplier=multiplier,
                account=_label(cells, account),
                execution_id=rows.execution_id(cells),
            )
        )
    if unfilled:
        states = f" ({status[0]} other than filled)" if status else ""
        notes.append(f"skipped {unfilled} Tradovate order(s) with nothing filled{states}")
    return fills


def _drop_repeats(rows: _Rows, fills: list[Fill], notes: list[str]) -> list[Fill]:
    """The fills less those whose execution id was read before (two exports joined into one file):
    a repeat that agrees is skipped with a note, one that differs is refused."""
    column = rows.id_column[0] if rows.id_column else "id"
    first: dict[tuple[str, str], Fill] = {}
    kept, repeats = [], []
    for fill in fills:
        key = (fill.account, fill.execution_id)
        seen = first.setdefault(key, fill) if fill.execution_id else fill
        if seen is fill:
            kept.append(fill)
        elif attrs.evolve(seen, line=0) == attrs.evolve(fill, line=0):
            repeats.append(f"{fill.line} repeats {seen.line}")
        else:
            raise rows.fail(fill.line, f"{fill.execution_id!r} is the execution of line {seen.line}, with other values "
                            "there; remove the row that is wrong", column)
    if repeats:
        shown = ", ".join(repeats[:3]) + (f" and {len(repeats) - 3} more" if len(repeats) > 3 else "")
        notes.append(f"skipped {len(repeats)} row(s) repeating an execution read before (same {column}): line {shown}")
    return kept


def read_fills(
    path: Path,
    fmt: str = "generic",
    *,
    tz: tzinfo = timezone.utc,
    multipliers: dict[str, float] | None = None,
    file: str | None = None,
) -> ImportResult:
    """Read every execution of a CSV export; InputError (exit 2) at the first row that cannot be read."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown CSV format {fmt!r} (known: {', '.join(FORMATS)})")
    rows = _Rows(path, file or str(path), tz)
    notes: list[str] = []
    records = rows.records()
    points = _Multipliers(rows, multipliers or {})
    if fmt == "generic":
        fills = _generic(rows, records, points)
    elif fmt == "ibkr":
        fills = _ibkr(rows, records, notes, points)
    else:
        fills = _tradovate(rows, records, notes, points)
    fills = _drop_repeats(rows, fills, notes)
    for name in sorted(set(multipliers or {}) - points.used):
        # A typo here would silently leave P&L unscaled.
        notes.append(f"--multiplier {name} matched no symbol or futures root in the file")
    if not fills:
        raise InputError(rows.file, "$", "no executions found in the file")
    currencies = sorted({f.currency for f in fills if f.currency})
    if len(currencies) > 1:
        notes.append(f"executions are in several currencies ({', '.join(currencies)}): P&L is summed without conversion")
    warnings = points.warnings() + rows.warnings
    advice = ["check the multipliers assumed above, or give each with --multiplier ROOT=N"] if points.assumed else []
    if rows.naive_times and tz is timezone.utc:
        # Kept with the session: the journal would otherwise say "Times are UTC" of times in an unknown zone.
        warnings.append(f"{rows.naive_times} time(s) in the export have no zone and were read as UTC: "
                        "times and dates shown may be off by the zone's hours")
        advice.append("use --tz to name the export's zone (e.g. --tz America/New_York)")
    if rows.repeated_hour:
        (line, first), count = rows.repeated_hour[0], len(rows.repeated_hour)
        warnings.append(
            f"{count} time(s) fall in the hour {tz} has twice as clocks go back (line {line}: {first:%Y-%m-%d %H:%M:%S}), "
            f"read as the first of the two, {first.replace(tzinfo=tz):%Z}: times and holding times there may be an hour off"
        )
    return ImportResult(fills, notes, warnings, rows.sha256, advice)


# -- session ------------------------------------------------------------------------------------


def parse_multipliers(values: list[str]) -> dict[str, float]:
    """``["MES=5", "ZR=50"]`` -> ``{"MES": 5.0, "ZR": 50.0}``; UsageError on anything else."""
    out = {}
    for value in values:
        name, sep, number = value.partition("=")
        try:
            parsed = float(number)
        except ValueError:
            parsed = math.nan
        if not sep or not name.strip() or not math.isfinite(parsed) or parsed <= 0:
            raise UsageError(f"--multiplier {value!r}: expected SYMBOL=VALUE with a positive VALUE, e.g. MES=5")
        out[name.strip()] = parsed
    return out


def session_from_csv(
    path: Path,
    fmt: str = "generic",
    *,
    agent_id: str,
    tz: tzinfo = timezone.utc,
    multipliers: dict[str, float] | None = None,
    file: str | None = None,
) -> tuple[dict[str, Any], ImportResult]:
    """A trade ``work_session.json`` document from a CSV export, and the import's notes and warnings.

    The session id and timestamp come from the data (the last execution), so importing the same
    file twice gives the same session. Closes of positions opened before the export go to
    ``source_data.carried_in``, outside every metric, with a warning each.
    """
    name = file or str(path)
    result = read_fills(path, fmt, tz=tz, multipliers=multipliers, file=file)
    try:
        paired = pair(result.fills)
    except InputError as exc:
        raise InputError(name, exc.path, exc.message) from None
    for trade in paired.trades:  # each amount was plausible, their product may not be: `run` would refuse it
        pnl = trade.get("profit_loss")
        if isinstance(pnl, (int, float)) and abs(pnl) > MAX_PNL:
            rows = trade["csv_lines"]
            raise InputError(name, f"line{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))}",
                             f"the P&L of this {trade['symbol']} trade ({pnl:.6g}) is beyond ±{MAX_PNL:.0e}: not a plausible amount")
    first = min(f.time for f in result.fills)
    last = max(f.time for f in result.fills)
    digest = result.sha256
    currencies = sorted({f.currency for f in result.fills if f.currency})
    metadata: dict[str, Any] = {"duration_minutes": clean_number((last - first).total_seconds() / 60.0)}
    if len(currencies) == 1:
        metadata["currency"] = currencies[0]
    metadata["import"] = {"format": fmt, "file": path.name, "sha256": digest, "executions": len(result.fills)}
    if result.warnings:
        # Kept with the session: the journal tells its readers which multipliers were assumed.
        metadata["import"]["warnings"] = list(result.warnings)
    for close in paired.carried_in:
        side = "long" if close["action"] == "buy" else "short"
        lines = ", ".join(map(str, close["csv_lines"]))
        result.warnings.append(
            f"line{'s' if len(close['csv_lines']) > 1 else ''} {lines}: {close['symbol']} closes {clean_number(close['quantity'])} "
            f"of a {side} position opened before the export's first execution (nothing in the file opens it): "
            "recorded as carried in and left out of every metric, since its entry price is not in the file"
        )
    source: dict[str, Any] = {"trades": paired.trades}
    if paired.carried_in:
        source["carried_in"] = paired.carried_in
    session = {
        "session_id": f"trade-{last:%Y%m%d}-{digest[:10]}",
        "session_type": "trade",
        "timestamp": iso_utc(last),
        "agent_id": agent_id,
        "metadata": metadata,
        "source_data": source,
        "artifacts": {},
        "pipeline_status": {"trade_artifact": "pending"},
    }
    return session, result
