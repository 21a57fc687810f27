"""Trades as values and every trading metric computed from them (pure: no I/O, no rounding)."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Iterable, Literal

import attrs

__all__ = [
    "BREAKEVEN_NOISE",
    "NUMERIC_FIELDS",
    "Trade",
    "closed_in_order",
    "compute_metrics",
    "number_of",
    "price_pnl",
    "side_of",
    "trade_from_dict",
    "trades_from_source",
]

#: Computed P&L is rounded to this many decimals so binary noise (1.4e-14) never turns a
#: break-even trade into a win; far below any currency's smallest unit.
BREAKEVEN_NOISE = 10

_SIDES = {"buy": "long", "long": "long", "sell": "short", "short": "short"}


def side_of(action: str) -> Literal["long", "short"]:
    """``buy``/``long`` -> long, ``sell``/``short`` -> short, in any case; ValueError otherwise."""
    side = _SIDES.get(str(action).strip().lower())
    if side is None:
        raise ValueError(f"unknown action {action!r} (use buy or sell)")
    return side  # type: ignore[return-value]


def price_pnl(side: str, quantity: float, entry: float, exit_: float, fees: float = 0.0, multiplier: float = 1.0) -> float:
    """Net P&L of a round trip from its prices: (exit - entry) x quantity x multiplier x (+1 long, -1 short) - fees."""
    direction = 1.0 if side == "long" else -1.0
    return round((exit_ - entry) * quantity * multiplier * direction - fees, BREAKEVEN_NOISE)


@attrs.frozen
class Trade:
    """One trade: closed when ``pnl`` is known, open otherwise. ``index`` is its place in the session."""

    symbol: str
    side: Literal["long", "short"]
    quantity: float
    entry_price: float
    entry_time: datetime
    exit_price: float | None = None
    exit_time: datetime | None = None
    pnl: float | None = None
    fees: float = 0.0
    stop_loss: float | None = None
    multiplier: float = 1.0
    notes: str = ""
    index: int = 0
    #: Which of ``timestamp``/``exit_timestamp`` had no zone (read as UTC), for validate's warning.
    naive_fields: tuple[str, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.pnl is None

    @property
    def closed_at(self) -> datetime:
        """When the trade counts on the equity curve: its exit time, else its entry time."""
        return self.exit_time or self.entry_time

    @property
    def holding_minutes(self) -> float | None:
        if self.exit_time is None or self.exit_time < self.entry_time:
            return None
        return (self.exit_time - self.entry_time).total_seconds() / 60.0

    @property
    def risk(self) -> float | None:
        """Money at risk between entry and stop; None without a stop on the losing side."""
        if self.stop_loss is None:
            return None
        per_unit = self.entry_price - self.stop_loss if self.side == "long" else self.stop_loss - self.entry_price
        risk = per_unit * self.quantity * self.multiplier
        # A product that underflows to 0 or overflows has no usable R: None rather than a crash.
        return risk if 0 < risk < math.inf else None

    @property
    def r_multiple(self) -> float | None:
        """Net P&L in units of the initial risk (entry to stop)."""
        risk = self.risk
        if risk is None or self.pnl is None:
            return None
        r = self.pnl / risk
        return r if math.isfinite(r) else None


#: Same text as the schema's NUMBER_TEXT_PATTERN, with the sign and the digits captured.
_NUMBER_TEXT = re.compile(r"^\s*([+-]?)\s*\$?\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)\s*$")
#: Numeric fields of a trade, in the order they are checked.
NUMERIC_FIELDS = ("quantity", "price", "exit_price", "profit_loss", "fees", "stop_loss", "multiplier")


def number_of(value: Any) -> float | None:
    """A JSON number, or a number written as text (``"175.50"``, ``"$1,234.5"``), as a float."""
    if value is None:
        return None
    if isinstance(value, str):
        match = _NUMBER_TEXT.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a number")
        return float(match[1] + match[2].replace(",", ""))
    return float(value)


_num = number_of


def trade_from_dict(raw: dict[str, Any], index: int = 0) -> Trade:
    """A :class:`Trade` from one schema-valid ``source_data.trades`` item.

    P&L is ``profit_loss`` when given (taken as net of fees), else computed from
    ``exit_price``; without either the trade is open. Raises ValueError on unusable values.
    """
    from flywheel_core import parse_timestamp

    side = side_of(raw["action"])
    quantity = number_of(raw["quantity"])
    price = number_of(raw["price"])
    fees = number_of(raw.get("fees")) or 0.0
    multiplier = number_of(raw.get("multiplier")) or 1.0
    exit_price = _num(raw.get("exit_price"))
    exit_ts = raw.get("exit_timestamp")
    pnl = _num(raw.get("profit_loss"))
    if pnl is None and exit_price is not None:
        pnl = price_pnl(side, quantity, price, exit_price, fees, multiplier)
    notes = raw.get("notes")
    entry_time, entry_naive = parse_timestamp(raw["timestamp"])
    exit_time, exit_naive = parse_timestamp(exit_ts) if exit_ts else (None, False)
    return Trade(
        symbol=" ".join(str(raw["symbol"]).split()),  # a stray newline or tab must not split a symbol
        side=side,
        quantity=quantity,
        entry_price=price,
        entry_time=entry_time,
        exit_price=exit_price,
        exit_time=exit_time,
        pnl=pnl,
        fees=fees,
        stop_loss=_num(raw.get("stop_loss")),
        multiplier=multiplier,
        notes=notes if isinstance(notes, str) else "",
        index=index,
        naive_fields=tuple(f for f, naive in (("timestamp", entry_naive), ("exit_timestamp", exit_naive)) if naive),
    )


def trades_from_source(source_data: dict[str, Any]) -> list[Trade]:
    """Every trade of a session's ``source_data``, in the order listed."""
    return [trade_from_dict(raw, i) for i, raw in enumerate(source_data.get("trades") or [])]


def closed_in_order(trades: Iterable[Trade]) -> list[Trade]:
    """Closed trades ordered by exit time (entry time when none), then by place in the session."""
    return sorted((t for t in trades if not t.is_open), key=lambda t: (t.closed_at, t.index))


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _summary(trades: list[Trade]) -> dict[str, Any]:
    """Counts, P&L and rates of a group of closed trades (used whole, per side and per symbol)."""
    pnls = [t.pnl for t in trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_profit = math.fsum(wins)
    gross_loss = math.fsum(losses)
    n = len(pnls)
    return {
        "trades": n,
        "wins": len(wins),
        "losses": len(losses),
        "breakeven": n - len(wins) - len(losses),
        "net_pnl": math.fsum(pnls),
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "win_rate": _ratio(len(wins) * 100.0, n),
        "profit_factor": gross_profit / -gross_loss if losses else None,
        "expectancy": _ratio(math.fsum(pnls), n),
    }


_SYMBOL_KEYS = ("trades", "wins", "losses", "net_pnl", "win_rate", "profit_factor")


def _streaks(pnls: list[float]) -> tuple[int, int]:
    """Longest runs of wins and of losses; a break-even trade ends both."""
    best_win = best_loss = win = loss = 0
    for pnl in pnls:
        win = win + 1 if pnl > 0 else 0
        loss = loss + 1 if pnl < 0 else 0
        best_win, best_loss = max(best_win, win), max(best_loss, loss)
    return best_win, best_loss


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.microsecond == 0 else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_metrics(trades: Iterable[Trade]) -> dict[str, Any]:
    """Every metric of the ``trade_metrics`` artifact, in a fixed key order, at full precision.

    Closed trades are ordered by :func:`closed_in_order`. Undefined ratios are None (JSON null).
    """
    trades = list(trades)
    closed = closed_in_order(trades)
    open_trades = sorted((t for t in trades if t.is_open), key=lambda t: (t.entry_time, t.index))
    pnls = [t.pnl for t in closed]
    whole = _summary(closed)
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    avg_win, avg_loss = _mean(wins), _mean(losses)

    per_trade = []
    cumulative = peak = max_drawdown = 0.0
    for t in closed:
        cumulative += t.pnl
        peak = max(peak, cumulative)
        max_drawdown = max(max_drawdown, peak - cumulative)
        per_trade.append(
            {
                "index": t.index,
                "symbol": t.symbol,
                "side": t.side,
                "closed_at": _iso(t.closed_at),
                "pnl": float(t.pnl),
                "cumulative_pnl": cumulative,
                "drawdown": peak - cumulative,
                "r_multiple": t.r_multiple,
                "holding_minutes": t.holding_minutes,
            }
        )
    max_wins, max_losses = _streaks(pnls)
    holdings = [h for h in (t.holding_minutes for t in closed) if h is not None]
    rs = [r for r in (t.r_multiple for t in closed) if r is not None]

    def group(selected: list[Trade]) -> dict[str, Any]:
        s = _summary(selected)
        return {k: s[k] for k in ("trades", "wins", "losses", "breakeven", "net_pnl", "win_rate", "profit_factor", "expectancy")}

    by_symbol: dict[str, list[Trade]] = {}
    for t in closed:
        by_symbol.setdefault(t.symbol, []).append(t)
    return {
        "trades": whole["trades"],
        "open_trades": len(open_trades),
        "wins": whole["wins"],
        "losses": whole["losses"],
        "breakeven": whole["breakeven"],
        "net_pnl": whole["net_pnl"],
        "gross_profit": whole["gross_profit"],
        "gross_loss": whole["gross_loss"],
        "fees": math.fsum(t.fees for t in closed),
        "win_rate": whole["win_rate"],
        "profit_factor": whole["profit_factor"],
        "expectancy": whole["expectancy"],
        "avg_win": avg_win,
        "avg_loss": avg_loss,
        "payoff_ratio": avg_win / -avg_loss if avg_win is not None and avg_loss is not None else None,
        "largest_win": max(wins) if wins else None,
        "largest_loss": min(losses) if losses else None,
        "max_drawdown": max_drawdown,
        "max_consecutive_wins": max_wins,
        "max_consecutive_losses": max_losses,
        "avg_holding_minutes": _mean(holdings),
        "avg_r": _mean(rs),
        "long": group([t for t in closed if t.side == "long"]),
        "short": group([t for t in closed if t.side == "short"]),
        "by_symbol": {
            symbol: {k: v for k, v in group(by_symbol[symbol]).items() if k in _SYMBOL_KEYS}
            for symbol in sorted(by_symbol)
        },
        "per_trade": per_trade,
        "open_positions": [
            {
                "index": t.index,
                "symbol": t.symbol,
                "side": t.side,
                "quantity": t.quantity,
                "entry_price": t.entry_price,
                "opened_at": _iso(t.entry_time),
            }
            for t in open_trades
        ],
    }
