"""Checks the schema cannot express: time order, P&L consistency, declared totals vs computed."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from flywheel_trade.metrics import NUMERIC_FIELDS, Trade, number_of, price_pnl, trade_from_dict

if TYPE_CHECKING:
    from flywheel_core import Problem

__all__ = ["DECLARED", "currencies_of", "declared_number", "MAX_PNL", "PNL_TOLERANCE", "RATE_TOLERANCE", "check_trades", "declared_problems", "declared_vs_computed", "shown"]

#: Money differences up to a cent are rounding, not disagreement.
PNL_TOLERANCE = 0.01
#: Largest P&L a trade may have: far above any real trade, small enough that 10**6 of them
#: still add up to a finite float.
MAX_PNL = 1e15
#: A declared win rate rounded to one decimal (66.7 for 66.67%) still agrees.
RATE_TOLERANCE = 0.05

#: metadata key -> (metric key, label, tolerance)
DECLARED = {
    "trades_executed": ("trades_listed", "Trades", 0.0),
    "total_pnl": ("net_pnl", "Net P&L", PNL_TOLERANCE),
    "win_rate": ("win_rate", "Win rate", RATE_TOLERANCE),
    "max_drawdown": ("max_drawdown", "Max drawdown", PNL_TOLERANCE),
}


def _path(index: int, field: str = "") -> str:
    return f"$.source_data.trades[{index}]" + (f".{field}" if field else "")


def check_trades(raw_trades: list[Any]) -> tuple[list[Trade], list[Problem]]:
    """Read every trade and report problems by JSON path; returns the trades that could be read."""
    from flywheel_core import Problem

    trades: list[Trade] = []
    problems: list[Problem] = []
    previous: Trade | None = None
    naive: list[str] = []  # JSON paths of timestamps without a zone
    texts: list[str] = []  # JSON paths of numbers written as text
    # One warning for trades listed out of time order, not one per trade (a shuffled list gave thousands).
    disorder, first_disorder = 0, ("", "")
    for i, raw in enumerate(raw_trades):
        try:
            trade = trade_from_dict(raw, i)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(Problem.error(f"cannot read this trade: {exc}", _path(i)))
            continue
        text_fields = [f for f in NUMERIC_FIELDS if isinstance(raw.get(f), str)]
        texts.extend(_path(i, f) for f in text_fields)
        # The schema's exclusiveMinimum only applies to JSON numbers: text such as "0.00" is checked here.
        bad = [
            f for f in text_fields
            if f not in ("profit_loss", "fees") and (number_of(raw[f]) < 0 if f == "exit_price" else number_of(raw[f]) <= 0)
        ]
        if bad:
            problems.extend(
                Problem.error(
                    f"must be a number{', 0 or more' if f == 'exit_price' else ' greater than 0'} (got {json.dumps(raw[f])})",
                    _path(i, f),
                )
                for f in bad
            )
            continue
        # A price or size no market has: it was printed in the journal's table as a 300-digit number.
        huge = [f for f in NUMERIC_FIELDS if f != "profit_loss" and not abs(number_of(raw.get(f)) or 0) <= MAX_PNL]
        if huge:
            problems.extend(
                Problem.error(f"{f} ({number_of(raw[f]):.6g}) is beyond ±{MAX_PNL:.0e}: not a plausible amount", _path(i, f))
                for f in huge
            )
            continue
        if trade.pnl is not None and not abs(trade.pnl) <= MAX_PNL:
            given = raw.get("profit_loss") is not None
            problems.append(
                Problem.error(
                    f"{'profit_loss' if given else 'the P&L computed from its prices'} ({trade.pnl:.6g}) is beyond "
                    f"±{MAX_PNL:.0e}: not a plausible amount",
                    _path(i, "profit_loss" if given else ""),
                )
            )
            continue  # never summed: it would overflow every total
        trades.append(trade)
        naive.extend(_path(i, f) for f in trade.naive_fields)
        if trade.exit_time is not None and trade.exit_time < trade.entry_time:
            problems.append(
                Problem.error(
                    f"exit_timestamp {raw['exit_timestamp']} is before the entry timestamp {raw['timestamp']}",
                    _path(i, "exit_timestamp"),
                )
            )
        if previous is not None and trade.entry_time < previous.entry_time:
            if not disorder:
                first_disorder = (
                    f"entry at {raw['timestamp']} is earlier than trade {previous.index}'s entry; "
                    "trades are listed out of order",
                    _path(i, "timestamp"),
                )
            disorder += 1
        previous = trade
        given = number_of(raw.get("profit_loss"))
        if given is not None and trade.exit_price is not None:
            computed = price_pnl(trade.side, trade.quantity, trade.entry_price, trade.exit_price, trade.fees, trade.multiplier)
            if abs(given - computed) > PNL_TOLERANCE:
                problems.append(
                    Problem.warning(
                        f"profit_loss {given:.2f} differs from the P&L computed from prices "
                        f"({computed:.2f} = (exit - entry) x quantity{' x multiplier' if trade.multiplier != 1 else ''}"
                        f" x {'+1 long' if trade.side == 'long' else '-1 short'} - fees); profit_loss is used",
                        _path(i, "profit_loss"),
                    )
                )
        if trade.fees < 0:
            problems.append(
                Problem.warning(
                    f"fees {trade.fees:g} is negative: read as a net rebate that adds to the P&L "
                    "(fees are a positive cost)",
                    _path(i, "fees"),
                )
            )
        if trade.is_open and trade.exit_time is not None:
            problems.append(
                Problem.warning(
                    "has an exit_timestamp but neither exit_price nor profit_loss: listed as an open trade",
                    _path(i),
                )
            )
        wrong_side = trade.stop_loss is not None and (
            trade.stop_loss >= trade.entry_price if trade.side == "long" else trade.stop_loss <= trade.entry_price
        )
        if wrong_side:
            problems.append(
                Problem.warning(
                    f"stop_loss {trade.stop_loss:g} is not on the losing side of a {trade.side} entry at "
                    f"{trade.entry_price:g}: no R multiple for this trade",
                    _path(i, "stop_loss"),
                )
            )
    problems = _capped(problems)
    if disorder:
        count = f"{disorder} trades in all; " if disorder > 1 else ""
        problems.append(Problem.warning(f"{first_disorder[0]} ({count}metrics order them by exit time)", first_disorder[1]))
    currencies = currencies_of(raw_trades)
    if len(currencies) > 1:
        problems.append(
            Problem.warning(
                f"trades are in several currencies ({', '.join(currencies)}): P&L is summed without conversion",
                "$.source_data.trades",
            )
        )
    if texts:
        hint = 'write 175.5, not "175.50"'
        message = (
            f"{len(texts)} numbers are written as text and read as numbers (this is the first; {hint})"
            if len(texts) > 1
            else f"a number written as text is read as a number ({hint})"
        )
        problems.append(Problem.warning(message, texts[0]))
    if naive:
        # One warning, not one per trade: an agent that omits the zone omits it everywhere.
        problems.append(
            Problem.warning(
                f"{len(naive)} trade timestamp{'s have' if len(naive) != 1 else ' has'} no time zone and "
                f"{'are' if len(naive) != 1 else 'is'} read as UTC (this is the first; add Z or an offset such as -05:00)",
                naive[0],
            )
        )
    return trades, problems


#: Per-trade warnings of one kind shown before the rest are counted in one line.
MAX_SAME_WARNING = 5


def _capped(problems: list[Problem]) -> list[Problem]:
    """The first few per-trade warnings of each kind (the field they name), then one line counting the rest."""
    from flywheel_core import Problem

    shown: dict[str, list[Problem]] = {}
    hidden: dict[str, int] = {}
    kept = []
    for problem in problems:
        kind = problem.path.partition("]")[2] if problem.severity == "warning" else None
        if kind is not None and len(shown.setdefault(kind, [])) >= MAX_SAME_WARNING:
            hidden[kind] = hidden.get(kind, 0) + 1
            continue
        if kind is not None:
            shown[kind].append(problem)
        kept.append(problem)
    for kind, count in hidden.items():
        last = shown[kind][-1].path
        kept.append(Problem.warning(f"{count} more trade{'s have' if count != 1 else ' has'} the warning shown for {last}", "$.source_data.trades"))
    return kept


def currencies_of(raw_trades: list[Any]) -> list[str]:
    """The distinct ``currency`` values the trades name (an imported session records them)."""
    found = {
        raw["currency"].strip().upper()
        for raw in raw_trades
        if isinstance(raw, dict) and isinstance(raw.get("currency"), str) and raw["currency"].strip()
    }
    return sorted(found)


def declared_vs_computed(metadata: dict[str, Any], metrics: dict[str, Any], trades_listed: int) -> list[dict[str, Any]]:
    """One row per declared total: ``{key, label, declared, computed, agrees}``.

    A declared drawdown is compared by size, since some write it as a negative number.
    """
    rows = []
    for key, (metric, label, tolerance) in DECLARED.items():
        declared = metadata.get(key)
        computed = trades_listed if metric == "trades_listed" else metrics.get(metric)
        if isinstance(declared, str):
            number = declared_number(declared)
            if number is None:
                rows.append({"key": key, "label": label, "declared": declared, "computed": computed, "agrees": None})
                continue
            declared = number
        if not isinstance(declared, (int, float)) or isinstance(declared, bool):
            continue
        if not abs(declared) <= MAX_PNL:  # 1e300 was printed in the journal as a 300-digit number
            rows.append({"key": key, "label": label, "declared": f"{declared:.6g}", "computed": computed, "agrees": None,
                         "why": f"beyond ±{MAX_PNL:.0e}, not a plausible amount"})
            continue
        compare = abs(declared) if key == "max_drawdown" else declared
        agrees = computed is not None and abs(compare - computed) <= tolerance
        if key == "win_rate" and 0 < declared <= 1 and computed is not None and computed > 1:
            # 0.67 for 67%: a fraction, compared to the nearest percent it can stand for.
            agrees = abs(declared * 100 - computed) <= 0.5
        rows.append({"key": key, "label": label, "declared": declared, "computed": computed, "agrees": agrees})
    return rows


_DECLARED_TEXT = re.compile(r"^([+-]?)\s*\$?\s*(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*%?$")


def declared_number(text: str) -> float | None:
    """``"$1,050.50"`` -> 1050.5, ``"80%"`` -> 80.0, ``"-50"`` -> -50.0; None for anything else."""
    match = _DECLARED_TEXT.match(text.strip())
    return float(match[1] + match[2].replace(",", "")) if match else None


def declared_problems(rows: list[dict[str, Any]]) -> list[Problem]:
    """A warning for each declared total that disagrees with the computed one."""
    from flywheel_core import Problem

    problems = []
    for row in rows:
        if row["agrees"]:
            continue
        key = row["key"]
        if row["agrees"] is None:
            message = f"declared {key} {row['declared']!r} is {row.get('why', 'not a number')}: not compared"
        elif row["computed"] is None:
            message = f"declared {key} {shown(key, row['declared'], declared=True)}, but there are no closed trades to compute it from"
        else:
            what = "trades listed" if key == "trades_executed" else "computed from the trades"
            message = f"declared {key} {shown(key, row['declared'], declared=True)} disagrees with {shown(key, row['computed'])} {what}"
        problems.append(Problem.warning(message, f"$.metadata.{key}"))
    return problems


def shown(key: str, value: float, declared: bool = False) -> str:
    """A declared or computed total as the journal prints it."""
    if key == "trades_executed":
        return str(int(value)) if float(value).is_integer() else str(value)
    if key == "win_rate":
        # A declared rate of at most 1 may be a fraction: both readings are shown.
        return f"{value:g} ({value * 100:.1f}%)" if declared and 0 < value <= 1 else f"{value:.1f}%"
    return f"{round(value, 2) + 0.0:,.2f}"
