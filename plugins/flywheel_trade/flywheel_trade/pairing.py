"""Fills paired into round-trip trades per symbol: FIFO lots, partial fills, scaling, flips, fees pro rata,
and closes of positions carried in from before the export."""

from __future__ import annotations

import math
from collections import deque
from itertools import pairwise
from datetime import datetime, timezone
from typing import Any

import attrs

from flywheel_core import InputError

__all__ = ["Fill", "Pairing", "clean_number", "iso_utc", "pair", "round_trips"]

_EPS = 1e-9


@attrs.frozen
class Fill:
    """One execution: ``side`` is buy or sell, ``quantity`` positive, ``fees`` a cost (negative: rebate)."""

    line: int
    time: datetime
    symbol: str
    side: str
    quantity: float
    price: float
    fees: float = 0.0
    multiplier: float = 1.0
    currency: str = ""
    account: str = ""
    #: IBKR's Open/CloseIndicator: ``O`` opens, ``C`` closes, ``C;O`` closes and opens; empty when unknown.
    open_close: str = ""
    #: The export's id of the execution (IBKR IBExecID, Tradovate Fill ID); empty when it has none.
    execution_id: str = ""

    @property
    def closes(self) -> bool:
        """Marked as closing, or at price 0: brokers book an expiry or an exercised option so, and it cannot open."""
        return self.open_close == "C" or (self.price <= 0 and not self.open_close)


@attrs.define
class _Lot:
    quantity: float
    price: float
    time: datetime | None  # None: carried in from before the export (price and time unknown)
    fees: float  # entry fees not yet allocated to a closed part
    line: int

    @property
    def carried(self) -> bool:
        return self.time is None


@attrs.define
class _RoundTrip:
    """A position in one symbol of one account from flat (or a flip) back to flat."""

    symbol: str
    side: str  # long | short
    multiplier: float
    currency: str
    account: str = ""
    lots: deque[_Lot] = attrs.field(factory=deque)
    closed_qty: float = 0.0
    entry_value: float = 0.0  # sum of quantity x entry price over the closed part
    exit_value: float = 0.0
    gross: float = 0.0
    fees: float = 0.0
    first_entry: datetime | None = None
    last_exit: datetime | None = None
    lines: list[int] = attrs.field(factory=list)

    @property
    def open_qty(self) -> float:
        return sum(lot.quantity for lot in self.lots)


def _flat(quantity: float, scale: float) -> bool:
    return quantity <= _EPS * max(1.0, scale)


@attrs.frozen
class Pairing:
    """Round-trip trades, and closes of positions opened before the export (``carried_in``)."""

    trades: list[dict[str, Any]]
    carried_in: list[dict[str, Any]]


@attrs.define
class _CarriedClose:
    """What the fills of one export closed of a position opened before its first fill."""

    symbol: str
    side: str  # of the position: long | short
    multiplier: float
    currency: str
    account: str
    quantity: float = 0.0
    exit_value: float = 0.0
    fees: float = 0.0
    last_exit: datetime | None = None
    lines: list[int] = attrs.field(factory=list)


def carried_positions(ordered: list[Fill]) -> dict[tuple[str, str], float]:
    """The smallest position (signed: + long) each account and symbol must have held before the
    export's first fill so that every closing fill (:attr:`Fill.closes`) closes rather than opens.

    With ``held`` the position the file built before it, a sell of ``q`` marked closing needs
    ``carried >= q - held`` and a buy ``carried <= -(q + held)``. Bounds that cannot both hold mean
    the export lacks executions: refused, since flywheel will not guess which.
    """
    position: dict[tuple[str, str], float] = {}
    # key -> [lower bound, its line, upper bound, its line]
    bounds: dict[tuple[str, str], list] = {}
    for fill in ordered:
        key = (fill.account, fill.symbol)
        held = position.get(key, 0.0)
        if fill.closes:
            bound = bounds.setdefault(key, [-math.inf, 0, math.inf, 0])
            if fill.side == "sell" and fill.quantity - held > bound[0]:
                bound[0:2] = [fill.quantity - held, fill.line]
            elif fill.side == "buy" and -(fill.quantity + held) < bound[2]:
                bound[2:4] = [-(fill.quantity + held), fill.line]
        position[key] = held + (fill.quantity if fill.side == "buy" else -fill.quantity)
    carried = {}
    for key, (lower, lower_line, upper, upper_line) in bounds.items():
        if lower > upper and not _flat(lower - upper, max(abs(lower), abs(upper))):
            first, last = sorted((lower_line, upper_line))
            raise InputError(
                "", f"line {last}",
                f"{key[1]}: this closing execution and the one on line {first} cannot both close a position "
                "(whatever was held before the export); the export misses executions",
            )
        if lower > 0 and not _flat(lower, lower):
            carried[key] = lower
        elif upper < 0 and not _flat(-upper, -upper):
            carried[key] = upper
    return carried


def pair(fills: list[Fill]) -> Pairing:
    """Pair fills into trades per symbol, first in first out.

    A round trip runs from flat back to flat: its entry is the volume-weighted price of what was
    opened, its exit that of what closed it. A fill that crosses zero closes the position and
    opens the opposite one with the remainder; each fill's fees are split pro rata to the
    quantities each part covers. A position still open at the end becomes a closed trade for
    the part already closed (its oldest lots, FIFO) and an open trade for the rest.

    A closing fill with nothing to close in the file (see :func:`carried_positions`) closes a
    position carried in from before the export: as the oldest lot it is closed first (FIFO), and
    what closes it goes to ``carried_in``, never into a trade, since its entry price is unknown.
    """
    # Fills of the same moment keep the file's order, read the way the file runs: an export that
    # lists the newest first (as many brokers' do) lists a same-second buy and sell newest first too.
    step = -1 if _newest_first(fills) else 1
    ordered = sorted(fills, key=lambda f: (f.time, f.line * step))
    carried = carried_positions(ordered)
    # Keyed by account too: a sell in one account never closes a buy in another.
    open_trips: dict[tuple[str, str], _RoundTrip] = {}
    closes: dict[tuple[str, str], _CarriedClose] = {}
    done: list[dict[str, Any]] = []
    for fill in ordered:
        key = (fill.account, fill.symbol)
        trip = open_trips.get(key)
        direction = "long" if fill.side == "buy" else "short"
        if trip is None and key in carried:
            size = carried.pop(key)
            trip = open_trips[key] = _RoundTrip(fill.symbol, "long" if size > 0 else "short", fill.multiplier, fill.currency, fill.account)
            trip.lots.append(_Lot(abs(size), 0.0, None, 0.0, 0))
        if trip is not None and trip.multiplier != fill.multiplier:
            raise InputError("", f"line {fill.line}", f"multiplier {fill.multiplier:g} differs from {trip.multiplier:g} of earlier {fill.symbol} fills")
        if trip is None or trip.side == direction:
            _opening_price(fill)
            if trip is None:
                trip = open_trips[key] = _RoundTrip(fill.symbol, direction, fill.multiplier, fill.currency, fill.account)
            if trip.first_entry is None:
                trip.first_entry = fill.time
            trip.lots.append(_Lot(fill.quantity, fill.price, fill.time, fill.fees, fill.line))
            trip.lines.append(fill.line)
            continue
        remaining = fill.quantity
        per_unit_fee = fill.fees / fill.quantity
        sign = 1.0 if trip.side == "long" else -1.0
        in_file = False
        while trip.lots and not _flat(remaining, fill.quantity):
            lot = trip.lots[0]
            q = min(lot.quantity, remaining)
            lot.quantity -= q
            remaining -= q
            if lot.carried:
                close = closes.setdefault(key, _CarriedClose(fill.symbol, trip.side, trip.multiplier, fill.currency, fill.account))
                close.quantity += q
                close.exit_value += q * fill.price
                close.fees += per_unit_fee * q
                close.last_exit = fill.time
                close.lines.append(fill.line)
            else:
                in_file = True
                entry_fee = lot.fees * q / (lot.quantity + q)
                lot.fees -= entry_fee
                trip.closed_qty += q
                trip.entry_value += q * lot.price
                trip.exit_value += q * fill.price
                trip.gross += (fill.price - lot.price) * q * trip.multiplier * sign
                trip.fees += entry_fee + per_unit_fee * q
                trip.last_exit = fill.time
            if _flat(lot.quantity, q):
                trip.lots.popleft()
        if in_file:
            trip.lines.append(fill.line)
        if not trip.lots:
            if trip.closed_qty > 0:
                done.append(_closed_trade(trip))
            del open_trips[key]
            if not _flat(remaining, fill.quantity):
                _opening_price(fill)
                flipped = open_trips[key] = _RoundTrip(fill.symbol, direction, fill.multiplier, fill.currency, fill.account)
                flipped.first_entry = fill.time
                flipped.lots.append(_Lot(remaining, fill.price, fill.time, per_unit_fee * remaining, fill.line))
                flipped.lines.append(fill.line)
    for trip in open_trips.values():
        if trip.closed_qty > 0:
            done.append(_closed_trade(trip))
        if trip.lots:
            done.append(_open_trade(trip))
    # By entry time as a datetime: ISO strings misorder "10:00:00.500Z" before "10:00:00Z".
    done.sort(key=lambda t: (t["_entry"], t["symbol"], t["csv_lines"][0]))
    for t in done:
        del t["_entry"]
    carried_in = sorted((_carried_close(c) for c in closes.values()), key=lambda c: (c["_exit"], c["symbol"], c["csv_lines"][0]))
    for c in carried_in:
        del c["_exit"]
    return Pairing(done, carried_in)


def _newest_first(fills: list[Fill]) -> bool:
    """The file lists its executions newest first: later lines are never later in time, and some are earlier."""
    earlier = False
    for a, b in pairwise(sorted(fills, key=lambda f: f.line)):
        if b.time > a.time:
            return False
        earlier = earlier or b.time < a.time
    return earlier


def round_trips(fills: list[Fill]) -> list[dict[str, Any]]:
    """The trades of :func:`pair` (closes of positions carried in are in ``pair(fills).carried_in``)."""
    return pair(fills).trades


def _opening_price(fill: Fill) -> None:
    # Brokers book an option expiring worthless as a fill at 0: it may close a position, never open one.
    if fill.price <= 0:
        raise InputError("", f"line {fill.line}", "a price of 0 can only close a position (an expiry), not open one")


def clean_number(value: float) -> float | int:
    """Float noise removed (10 decimals), and whole numbers as ints, for a readable session file."""
    value = round(value, 10) + 0.0
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def iso_utc(moment: datetime) -> str:
    """``2025-12-02T14:30:00Z``, with milliseconds only when the time has them."""
    text = moment.astimezone(timezone.utc).isoformat(timespec="milliseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _closed_trade(trip: _RoundTrip) -> dict[str, Any]:
    q = trip.closed_qty
    trade: dict[str, Any] = {
        "symbol": trip.symbol,
        "action": "buy" if trip.side == "long" else "sell",
        "quantity": clean_number(q),
        "price": clean_number(trip.entry_value / q),
        "_entry": trip.first_entry,
        "timestamp": iso_utc(trip.first_entry),
        "exit_price": clean_number(trip.exit_value / q),
        "exit_timestamp": iso_utc(trip.last_exit),
        "profit_loss": clean_number(trip.gross - trip.fees),
        "fees": clean_number(trip.fees),
    }
    return _extras(trade, trip, trip.lines)


def _open_trade(trip: _RoundTrip) -> dict[str, Any]:
    q = trip.open_qty
    trade: dict[str, Any] = {
        "symbol": trip.symbol,
        "action": "buy" if trip.side == "long" else "sell",
        "quantity": clean_number(q),
        "price": clean_number(sum(lot.quantity * lot.price for lot in trip.lots) / q),
        "_entry": trip.lots[0].time,
        "timestamp": iso_utc(trip.lots[0].time),
        "fees": clean_number(sum(lot.fees for lot in trip.lots)),
    }
    return _extras(trade, trip, [lot.line for lot in trip.lots])


def _carried_close(close: _CarriedClose) -> dict[str, Any]:
    record: dict[str, Any] = {
        "symbol": close.symbol,
        "action": "buy" if close.side == "long" else "sell",
        "quantity": clean_number(close.quantity),
        "_exit": close.last_exit,
        "exit_price": clean_number(close.exit_value / close.quantity),
        "exit_timestamp": iso_utc(close.last_exit),
        "fees": clean_number(close.fees),
    }
    return _extras(record, close, close.lines)


def _extras(trade: dict[str, Any], trip: _RoundTrip | _CarriedClose, lines: list[int]) -> dict[str, Any]:
    if trip.multiplier != 1:
        trade["multiplier"] = clean_number(trip.multiplier)
    if trip.currency:
        trade["currency"] = trip.currency
    if trip.account:
        trade["account"] = trip.account
    trade["csv_lines"] = sorted(set(lines))
    return trade
