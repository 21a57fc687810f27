"""One fact set from a trade session, and the artifacts made from it: journal, metrics JSON, social post."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flywheel_trade.checks import check_trades, currencies_of, declared_problems, declared_vs_computed, shown
from flywheel_trade.metrics import Trade, compute_metrics, number_of, side_of
from flywheel_trade.schema import NARRATIVE_FIELDS
from flywheel_trade.wording import count, counted, drawdown_worth_saying, one_trade, outcome

if TYPE_CHECKING:
    from flywheel_core import Artifact, Problem, RunContext, Session

__all__ = ["build_artifacts", "journal_facts", "validation_problems", "money", "signed"]

NARRATIVE = NARRATIVE_FIELDS
CHART_IMAGE = "equity_curve.svg"
#: The same chart as a PNG: social networks ignore SVG previews (the artifact's ``meta["image"]``).
CHART_PNG = "equity_curve.png"
MAX_TAG_SYMBOLS = 20
#: A symbol that makes a hashtag: a ticker (``AAPL``, ``ESH6``, ``BRK.B``, ``BTC/USD``), not free text.
TICKER = re.compile(r"[A-Za-z][A-Za-z0-9._/-]{0,19}")
MAX_CHART_BYTES = 10 * 1024 * 1024
_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}


# -- formatting (money rounded to cents only here, never in the JSON) -------------------------


def money(value: float) -> str:
    """``1,234.50``; never ``-0.00``."""
    return f"{round(value, 2) + 0.0:,.2f}"


def signed(value: float) -> str:
    """``+1,234.50`` / ``-50.00`` / ``0.00``."""
    text = money(value)
    return text if text.startswith("-") or text == "0.00" else f"+{text}"


def pct(value: float) -> str:
    return f"{value:.1f}%"


def ratio(value: float) -> str:
    return f"{value:,.2f}"


def number(value: float) -> str:
    """A size or price: as many decimals as it has, 2 to 5 from 1 up (an FX quote), 8 below (crypto
    sizes), and 4 significant digits below 0.001 (0.000000123 is not shown as 0); thousands separated.
    An imported volume-weighted price such as 50.3333333333 prints as 50.33333."""
    if float(value).is_integer():
        return f"{int(value):,}"
    magnitude = abs(value)
    decimals = 5 if magnitude >= 1 else 8 if magnitude >= 1e-3 else min(15, 3 - math.floor(math.log10(magnitude)))
    text = f"{value:,.{decimals}f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def price(value: float) -> str:
    """A price: at least 2 decimals, up to 8 when it has them (FX, crypto)."""
    text = number(value)
    return text if "." in text else f"{text}.00"


def duration(minutes: float) -> str:
    seconds = round(minutes * 60)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    hours, rest = divmod(round(seconds / 60), 60)
    if hours < 24:
        return f"{hours} h {rest:02d} min" if rest else f"{hours} h"  # "3 h 00 min" read as a clock
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def short_duration(minutes: float) -> str:
    """``45s``, ``12m``, ``1h 05m``, ``2d 3h``: a table cell's holding time (the summary spells it out);
    it may take two lines."""
    seconds = round(minutes * 60)
    if seconds < 60:
        return f"{seconds}s"
    total = round(seconds / 60)
    if total < 60:
        return f"{total}m"
    hours, rest = divmod(total, 60)
    if hours < 24:
        return f"{hours}h {rest:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second else "%Y-%m-%d %H:%M")


def r_text(value: float) -> str:
    return f"{round(value, 2) + 0.0:+.2f}R"


def _trades(count: int) -> str:
    return f"{count} trade{'' if count == 1 else 's'}"


def _opt(value: Any, fmt: Any) -> str:
    return "" if value is None else fmt(value)


# -- facts ------------------------------------------------------------------------------------


def _narrative_items(value: Any) -> list[dict[str, str]]:
    """Whatever shape an agent used (text, list of text, list of {title, description}, mapping) as items."""
    if value is None or value == "" or value == [] or value == {}:
        return []
    if isinstance(value, str):
        return [{"title": "", "text": value.strip()}] if value.strip() else []
    if isinstance(value, dict):
        return [{"title": _human(k), "text": _text(v)} for k, v in value.items() if _text(v)]
    if isinstance(value, list):
        items = []
        for entry in value:
            if isinstance(entry, dict):
                title = _text(entry.get("title") or entry.get("name") or "")
                body = entry.get("description", entry.get("text", entry.get("content", entry.get("lesson"))))
                if body is None:
                    rest = {k: v for k, v in entry.items() if k not in ("title", "name")}
                    body = "; ".join(f"{_human(k)}: {_text(v)}" for k, v in rest.items())
                if title or _text(body):
                    items.append({"title": title, "text": _text(body)})
            elif _text(entry):
                items.append({"title": "", "text": _text(entry)})
        return items
    return [{"title": "", "text": _text(value)}]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _human(key: Any) -> str:
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _field(session: Session, name: str) -> Any:
    """A narrative field at the top level (the seed's place) or, failing that, in source_data."""
    value = session.get(name)
    return value if value is not None else session.source_data.get(name)


def _symbols_by_activity(trades: list[Trade]) -> list[str]:
    counts = Counter(t.symbol for t in trades)
    return [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def pnl_symbols(trades: list[Trade]) -> list[str]:
    """The symbols that carry the session's P&L: those with closed trades, most closed trades
    first, then the larger P&L either way; with nothing closed, the open positions' symbols."""
    closed = [t for t in trades if not t.is_open]
    if not closed:
        return _symbols_by_activity(trades)
    counts = Counter(t.symbol for t in closed)
    net: dict[str, float] = {}
    for t in closed:
        net[t.symbol] = net.get(t.symbol, 0.0) + t.pnl
    return sorted(counts, key=lambda s: (-counts[s], -abs(net[s]), s))


def _charts(session: Session, ctx: RunContext | None) -> tuple[list[dict[str, str]], dict[str, bytes]]:
    """The session's ``charts`` entries: local images inside the allowed roots are attached."""
    from flywheel_core import PathRefused, confine

    charts = _field(session, "charts")
    if not isinstance(charts, list):
        return [], {}
    base = "$.charts" if session.get("charts") is not None else "$.source_data.charts"
    items, files = [], {}
    for i, entry in enumerate(charts):
        entry = entry if isinstance(entry, dict) else {"path": entry}
        title = _text(entry.get("title") or entry.get("caption") or "")
        path = entry.get("path") or entry.get("src")
        item = {"title": title or f"Chart {i + 1}", "src": ""}
        if isinstance(path, str) and path.strip() and ctx is not None:
            try:
                resolved = confine(path.strip(), ctx.allowed_roots, base=ctx.session_dir)
                if resolved.suffix.lower() not in _IMAGE_EXT:
                    raise PathRefused(f"{path!r} is not an image ({', '.join(sorted(_IMAGE_EXT))})")
                if not resolved.is_file():
                    raise PathRefused(f"{path!r} does not exist")
                if resolved.stat().st_size > MAX_CHART_BYTES:
                    raise PathRefused(f"{path!r} is larger than {MAX_CHART_BYTES // (1024 * 1024)} MiB")
                safe = re.sub(r"[^A-Za-z0-9._-]", "_", resolved.stem).strip("._")[:80] or "chart"
                name = f"charts/{i + 1:02d}-{safe}{resolved.suffix.lower()}"
                files[name] = resolved.read_bytes()
                item["src"] = name
            except (PathRefused, OSError) as exc:
                ctx.warn(f"chart not attached: {exc}", f"{base}[{i}].path")
        if title or item["src"]:
            items.append(item)
    return items, files


#: A space that never breaks: a cell such as "2 trades" or "Dec 02" stays on one line, so a
#: narrow screen scrolls the table instead of stacking a cell's words into a tall column.
NBSP = "\u00a0"


def _nowrap(text: str) -> str:
    return text.replace(" ", NBSP)


def table(columns: list[tuple[str, str]], rows: list[list[str]], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """A Markdown table (``columns`` as (name, "left"|"right"), cells already escaped) without
    the columns that are empty in every row, except those named in ``keep``."""
    kept = [i for i, (name, _) in enumerate(columns) if name in keep or any(r[i] for r in rows)]
    return {
        "header": [columns[i][0] for i in kept],
        "align": [columns[i][1] for i in kept],
        "rows": [[r[i] for i in kept] for r in rows],
    }


def _clock(moments: list[datetime]) -> tuple[Any, str]:
    """How to print the tables' times: (formatter, sentence). Within one UTC day the date is said once."""
    days = {m.date() for m in moments}
    if len(days) <= 1:
        day = f" (all on {next(iter(days)).isoformat()})" if days else ""
        return (lambda m: m.strftime("%H:%M:%S" if m.second else "%H:%M")), f"Times are UTC{day}."
    # A date and a time may go on two lines (never more): the table then fits a wide screen.
    if len({d.year for d in days}) == 1:
        return (lambda m: _nowrap(m.strftime("%b %d")) + m.strftime(" %H:%M:%S" if m.second else " %H:%M")), "Times are UTC."
    return (lambda m: when(m)), "Times are UTC."


def _notes(items: list[tuple[str, str, str]]) -> list[str]:
    """Notes kept out of the tables (long text would make tall cells): "Trade 3, AAPL: text"."""
    from flywheel_core import md_inline

    return [f"{label}, {md_inline(symbol)}: {md_inline(text)}" for label, symbol, text in items if text.strip()]


#: The Summary rows of a session of one closed trade: the others only repeat its P&L.
ONE_TRADE_ROWS = {"Closed trades", "Open positions", "Net P&L", "Fees (closed trades)"}

#: From this many closed trades the opening gives the win rate (of fewer it says little) and
#: the best and worst trade (fewer are all in view in the table below it).
RATE_FROM = 5
NAMED_FROM = 4


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def opening(metrics: dict[str, Any], trades: list[Trade], named: list[str], declared_disagree: int,
            esc: Any = str) -> str:
    """The journal's opening paragraph: the session's result in words, its numbers exactly as
    the metrics are printed below. ``esc`` escapes session text (``md_inline`` for Markdown)."""
    m, n = metrics, metrics["trades"]
    by_index = {t.index: t for t in trades}
    closed = [by_index[row["index"]] for row in m["per_trade"]]
    symbols = esc(_list_text(named))
    if n == 1:
        t = closed[0]
        text = f"One trade closed: {one_trade(t.side, esc(t.symbol), t.pnl, signed(t.pnl))}."
    elif n:
        text = (f"{_first_up(counted(n, 'trade'))} closed on {symbols}: {outcome(n, m['wins'], m['losses'], m['breakeven'])}, "
                f"for a net P&L of {signed(m['net_pnl'])}.")
        if n >= RATE_FROM:
            text += f" Win rate {pct(m['win_rate'])}."
        if n >= NAMED_FROM:
            best = max(m["per_trade"], key=lambda r: (r["pnl"], -r["index"]))
            worst = min(m["per_trade"], key=lambda r: (r["pnl"], r["index"]))
            said = [f"best trade {esc(best['symbol'])} {signed(best['pnl'])}" if best["pnl"] > 0 else "",
                    f"worst {'trade ' if best['pnl'] <= 0 else ''}{esc(worst['symbol'])} {signed(worst['pnl'])}" if worst["pnl"] < 0 else ""]
            if any(said):
                text += f" {_first_up(', '.join(x for x in said if x))}."
        if drawdown_worth_saying(m["max_drawdown"], m["net_pnl"]):
            text += f" The largest fall from a peak along the way was {money(m['max_drawdown'])} (the max drawdown)."
    elif trades:
        return f"{_first_up(counted(len(trades), 'open position'))} on {symbols}, {'not' if len(trades) == 1 else 'none'} closed yet."
    else:
        return "No trades were listed in this session."
    if m["open_trades"]:
        still = esc(_list_text(_symbols_by_activity([t for t in trades if t.is_open])))
        text += f" {_first_up(counted(m['open_trades'], 'position'))} {'is' if m['open_trades'] == 1 else 'are'} still open, on {still}."
    if declared_disagree:
        listed = "the one trade listed" if len(trades) == 1 else f"the {count(len(trades), 'trade')} listed"
        text += f" These figures are computed from {listed}: the session's own totals differ (see Declared vs computed)."
    return text


def journal_facts(session: Session, trades: list[Trade], metrics: dict[str, Any], declared: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the templates show, computed once, JSON-serialisable, already formatted for print.

    Tables come ready to print (cells escaped, empty columns left out) and narrow: the P&L column
    comes right after the symbol, so it is on screen on a phone, and long notes go below the table.
    """
    from flywheel_core import md_inline

    m = metrics
    closed = {row["index"]: row for row in m["per_trade"]}
    carried = carried_in(session)
    by_index = {t.index: t for t in trades}
    symbols = _symbols_by_activity(trades)
    named = pnl_symbols(trades)
    closed_trades = [by_index[row["index"]] for row in m["per_trade"]]
    open_trades = sorted((t for t in trades if t.index not in closed), key=lambda t: (t.entry_time, t.index))
    clock, times = _clock(
        [t.exit_time or t.entry_time for t in closed_trades] + [t.entry_time for t in open_trades] + [c["_closed"] for c in carried if c["_closed"]]
    )
    trade_table = table(
        [("#", "right"), ("Symbol", "left"), ("P&L", "right"), ("Side", "left"), ("Qty", "right"), ("Entry", "right"),
         ("Exit", "right"), ("Closed", "left"), ("Held", "right"), ("R", "right"), ("Fees", "right")],
        [
            [str(n), md_inline(t.symbol), signed(t.pnl), t.side, number(t.quantity), price(t.entry_price),
             _opt(t.exit_price, price), _opt(t.exit_time, clock), _opt(t.holding_minutes, short_duration),
             _opt(t.r_multiple, lambda r: r_text(r)[:-1]), money(t.fees) if t.fees else ""]
            for n, t in enumerate(closed_trades, 1)
        ],
        keep=("#", "Symbol", "P&L", "Side", "Qty"),
    )
    open_table = table(
        [("Symbol", "left"), ("Side", "left"), ("Qty", "right"), ("Entry", "right"), ("Opened", "left"), ("Stop", "right")],
        [[md_inline(t.symbol), t.side, number(t.quantity), price(t.entry_price), clock(t.entry_time), _opt(t.stop_loss, price)]
         for t in open_trades],
        keep=("Symbol", "Side", "Qty", "Entry"),
    )
    carried_table = table(
        [("Symbol", "left"), ("Side", "left"), ("Qty", "right"), ("Exit", "right"), ("Closed", "left")],
        [[md_inline(c["symbol"]), c["side"], c["size"], c["exit"], clock(c["_closed"]) if c["_closed"] else ""] for c in carried],
        keep=("Symbol", "Side", "Qty"),
    )

    def row(label: str, value: Any, fmt: Any) -> list[str] | None:
        return None if value is None else [label, fmt(value)]

    with_stop = sum(1 for r in m["per_trade"] if r["r_multiple"] is not None)
    best = max(m["per_trade"], key=lambda r: (r["pnl"], -r["index"]), default=None)
    summary = [
        row("Closed trades", m["trades"], str),
        row("Won", m["wins"] if m["trades"] else None, str),
        row("Lost", m["losses"] if m["trades"] else None, str),
        row("Break-even", m["breakeven"] or None, str),
        row("Open positions", m["open_trades"] or None, str),
        row("Net P&L", m["net_pnl"] if m["trades"] else None, signed),
        # Definitions that differ between journals are stated where the number is (see "How computed").
        row("Gross profit (after fees)", m["gross_profit"] if m["wins"] else None, money),
        row("Gross loss (after fees)", m["gross_loss"] if m["losses"] else None, signed),
        row("Fees (closed trades)", m["fees"] or None, money),
        row("Win rate (break-even = not won)" if m["breakeven"] else "Win rate", m["win_rate"], pct),
        row("Profit factor", m["profit_factor"], ratio),
        row("Expectancy per trade", m["expectancy"], signed),
        row("Average win", m["avg_win"], signed),
        row("Average loss", m["avg_loss"], signed),
        row("Payoff ratio (avg win / avg loss)", m["payoff_ratio"], ratio),
        row("Largest win", m["largest_win"], signed),
        row("Largest loss", m["largest_loss"], signed),
        row("Max drawdown (closed-trade P&L)", m["max_drawdown"] if m["trades"] else None, money),
        # "Longest losing streak: 0 trades" on a day without a loss says nothing.
        row("Longest winning streak", m["max_consecutive_wins"] or None, lambda v: _nowrap(_trades(v))),
        row("Longest losing streak", m["max_consecutive_losses"] or None, lambda v: _nowrap(_trades(v))),
        row("Average holding time", m["avg_holding_minutes"], lambda v: _nowrap(duration(v))),
        row(f"Average R ({_trades(with_stop)} with a stop)", m["avg_r"], r_text),
    ]

    if m["trades"] == 1:
        # One trade's win rate, averages, largest win and expectancy are its P&L again: the
        # opening and the Trades table say it.
        summary = [r for r in summary if r is None or r[0] in ONE_TRADE_ROWS]

    def group_table(first: str, groups: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        return table(
            [(first, "left"), ("Net P&L", "right"), ("Trades", "right"), ("Win rate", "right"), ("Profit factor", "right")],
            [[name, signed(g["net_pnl"]), str(g["trades"]), _opt(g["win_rate"], pct), _opt(g.get("profit_factor"), ratio)]
             for name, g in groups],
            keep=(first, "Net P&L", "Trades", "Win rate"),
        )

    conditions = session.source_data.get("market_conditions")
    duration_minutes = session.metadata.get("duration_minutes")
    return {
        "session": {
            "id": session.session_id,
            "date": session.date,
            "agent": session.agent_id,
            "duration": duration(duration_minutes) if isinstance(duration_minutes, (int, float)) and duration_minutes > 0 else "",
        },
        "metrics": metrics,
        "symbols": symbols,
        # Sentences, hashtags and the chart name the symbols with closed trades; with none closed, the open ones.
        "pnl_symbols": named,
        "symbols_text": _list_text(named),
        "opening": opening(m, trades, named, sum(1 for d in declared if d["agrees"] is False), md_inline),
        "summary": table([("Metric", "left"), ("Value", "right")], [r for r in summary if r is not None]) if trades else None,
        "net_pnl": signed(m["net_pnl"]),
        "win_rate": _opt(m["win_rate"], pct),
        "max_drawdown": money(m["max_drawdown"]),
        "best": {"symbol": best["symbol"], "pnl": signed(best["pnl"])} if best and best["pnl"] > 0 else None,
        "chart": CHART_IMAGE if m["trades"] else "",
        "chart_png": CHART_PNG if m["trades"] else "",
        "times": times,
        "trades": trade_table if closed_trades else None,
        "trade_notes": _notes([(f"Trade {n}", t.symbol, t.notes) for n, t in enumerate(closed_trades, 1)]),
        "open_trades": open_table if open_trades else None,
        "open_notes": _notes([("Open", t.symbol, t.notes) for t in open_trades]),
        "carried_in": carried_table if carried else None,
        # One symbol's or one side's row would be the Summary again: the table is left out.
        "by_symbol": group_table("Symbol", [(md_inline(s), g) for s, g in m["by_symbol"].items()]) if len(m["by_symbol"]) > 1 else None,
        "by_side": group_table("Side", [(n.capitalize(), m[n]) for n in ("long", "short")]) if m["long"]["trades"] and m["short"]["trades"] else None,
        "import_notes": _import_notes(session),
        "market_conditions": _narrative_items(conditions),
        "narrative": [
            {
                "title": _human(name).replace("didnt", "didn't"),
                "items": items,
                "paragraph": isinstance(_field(session, name), str),
            }
            for name in NARRATIVE
            if (items := _narrative_items(_field(session, name)))
        ],
        "charts": [],
        "declared": table(
            [("Total", "left"), ("Declared", "right"), ("Computed", "right"), ("", "left")],
            [
                [
                    d["label"],
                    md_inline(_clip(str(d["declared"]), 40)) if d["agrees"] is None else shown(d["key"], d["declared"], declared=True),
                    "not defined" if d["computed"] is None else shown(d["key"], d["computed"]),
                    ("not plausible" if d.get("why") else "not a number") if d["agrees"] is None
                    else "agrees" if d["agrees"] else "differs",
                ]
                for d in declared
            ],
            keep=("Total", "Declared", "Computed", ""),
        ) if declared else None,
        "currencies": currencies_of(session.source_data.get("trades") or []),
        "declared_disagree": sum(1 for d in declared if d["agrees"] is False),
        "declared_unread": sum(1 for d in declared if d["agrees"] is None),
        "trades_listed": len(trades),
    }


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def carried_in(session: Session) -> list[dict[str, Any]]:
    """``source_data.carried_in``: closes of positions opened before the session, for the journal."""
    from flywheel_core import parse_timestamp

    rows = []
    for raw in session.source_data.get("carried_in") or []:
        if not isinstance(raw, dict):
            continue
        try:
            side = side_of(raw.get("action", ""))
            exit_price = number_of(raw.get("exit_price"))
            quantity = number_of(raw.get("quantity"))
            moment = parse_timestamp(raw["exit_timestamp"])[0] if raw.get("exit_timestamp") else None
        except (TypeError, ValueError):
            continue  # the schema reports it
        rows.append(
            {
                "symbol": " ".join(str(raw.get("symbol", "")).split()),
                "side": side,
                "size": number(quantity) if quantity is not None else "",
                "exit": price(exit_price) if exit_price is not None else "",
                "_closed": moment,
            }
        )
    return rows


#: What a reader calls each export format of ``collect trade --format``.
FORMAT_NAMES = {"ibkr": "Interactive Brokers Flex", "tradovate": "Tradovate", "generic": "generic CSV"}


def _import_notes(session: Session) -> dict[str, Any] | None:
    """What ``collect trade`` recorded about the export: its name and the warnings it gave."""
    record = session.metadata.get("import")
    if not isinstance(record, dict):
        return None
    warnings = [w for w in record.get("warnings") or [] if isinstance(w, str) and w.strip()]
    return {
        "file": str(record.get("file") or ""),
        "format": FORMAT_NAMES.get(str(record.get("format") or ""), str(record.get("format") or "")),
        "executions": record.get("executions") if isinstance(record.get("executions"), int) else None,
        "warnings": warnings,
    }


def _list_text(items: list[str], limit: int = 5) -> str:
    """``A``, ``A and B``, ``A, B and C``, ``A, B, C, D, E and 3 more``."""
    if not items:
        return ""
    head, rest = items[:limit], len(items) - limit
    if rest > 0:
        return f"{', '.join(head)} and {rest} more"
    return head[0] if len(head) == 1 else f"{', '.join(head[:-1])} and {head[-1]}"


# -- hooks' work --------------------------------------------------------------------------------


_LAST_READ: dict[str, Any] = {}


def _read(session: Session) -> tuple[list[Trade], list[Problem], dict[str, Any], list[dict[str, Any]]]:
    """Trades, problems, metrics and declared totals; ``flywheel run`` asks twice (validate, generate).

    The last result is reused while the trades and metadata serialise to the same JSON, so a
    session changed in between is always read again.
    """
    key = json.dumps([session.source_data.get("trades"), session.metadata], sort_keys=True, default=repr)
    if _LAST_READ.get("key") != key:
        trades, problems = check_trades(session.source_data.get("trades") or [])
        metrics = compute_metrics(trades)
        declared = declared_vs_computed(session.metadata, metrics, len(trades))
        _LAST_READ.clear()
        _LAST_READ.update(key=key, value=(trades, problems, metrics, declared))
    trades, problems, metrics, declared = _LAST_READ["value"]
    return list(trades), list(problems), metrics, list(declared)  # metrics is shared: never mutate it


def validation_problems(session: Session) -> list[Problem]:
    """Everything ``flywheel validate`` reports about a trade session beyond its schema."""
    from flywheel_core import Problem

    trades, problems, _, declared = _read(session)
    if not trades and not problems:
        problems.append(Problem.warning("no trades listed: the journal will be empty", "$.source_data.trades"))
    carried = carried_in(session)
    if carried:
        names = _list_text(sorted({c["symbol"] for c in carried}))
        problems.append(
            Problem.warning(
                f"{len(carried)} close{'s' if len(carried) != 1 else ''} of positions opened before this session "
                f"({names}): left out of every metric, since {'their entry prices are' if len(carried) != 1 else 'its entry price is'} "
                "not in the session",
                "$.source_data.carried_in",
            )
        )
    return problems + declared_problems(declared)


def metrics_json(metrics: dict[str, Any]) -> str:
    """The ``trade_metrics`` file: fixed key order, full precision, no NaN, one line per trade.

    Per-trade rows are written one per line with the C encoder (``indent`` would switch
    ``json`` to its pure-Python encoder, ten times slower on 10,000 trades).
    """

    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))

    parts = []
    for key, value in metrics.items():
        if isinstance(value, list) and value:
            rows = ",\n".join(f"    {compact(row)}" for row in value)
            parts.append(f"  {compact(key)}: [\n{rows}\n  ]")
        elif isinstance(value, dict) and value:
            nested = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False).replace("\n", "\n  ")
            parts.append(f"  {compact(key)}: {nested}")
        else:
            parts.append(f"  {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def build_artifacts(session: Session, ctx: RunContext) -> list[Artifact]:
    """The three artifacts of a trade session, all from one fact set.

    The facts are read with every local path in the session reduced to its last part
    (``scrub_session``): notes, narrative, account and the import's file name are published,
    the author's folders are not. Chart images are found from the original paths."""
    from flywheel_core import Artifact, scrub_session, scrub_tree

    charts, chart_files = _charts(session, ctx)
    session = scrub_session(session)
    trades, problems, metrics, declared = _read(session)
    if any(p.severity == "error" for p in problems):
        return []  # validate already stopped the run; never publish half-read trades
    facts = journal_facts(session, trades, metrics, declared)
    facts["charts"] = scrub_tree(charts)
    account = session.metadata.get("account") or session.source_data.get("account")
    symbols, named = facts["symbols"], facts["pnl_symbols"]
    meta: dict[str, Any] = {
        "project": account if isinstance(account, str) and account.strip() else "trading",
        "provenance": {"trades": len(trades), "symbols": sorted(symbols)},
    }
    tags = ["trade", *(named + [s for s in symbols if s not in named])[:MAX_TAG_SYMBOLS]]
    title = f"Trading journal {session.date}"
    summary = opening(metrics, trades, named, 0)

    attachments: dict[str, str | bytes] = dict(chart_files)
    journal_meta = dict(meta)
    if facts["chart"]:
        from flywheel_trade.chart import equity_chart

        by_index = {t.index: t for t in trades}
        closed = [by_index[r["index"]] for r in metrics["per_trade"]]
        chart = equity_chart(
            [r["cumulative_pnl"] for r in metrics["per_trade"]],
            times=[t.closed_at for t in closed],
            start=min(t.entry_time for t in closed),
            title="Cumulative net P&L",
            subtitle=f"{session.date} · {metrics['trades']} closed trade{'s' if metrics['trades'] != 1 else ''} · {_list_text(named, 3)}",
        )
        attachments[CHART_IMAGE] = chart.svg()
        attachments[CHART_PNG] = chart.png()
        # Networks ignore SVG link previews: the page's og:image is the PNG (the journal shows the SVG).
        journal_meta["image"] = CHART_PNG
    journal = ctx.render("trade/trade_journal.md.j2", **facts)
    from flywheel_trade.posts import social_artifact, social_context

    topics = [s for s in named if TICKER.fullmatch(s)][:4]
    social = social_artifact(
        ctx, session, social_context(session, trades, metrics, facts, journal_title=title), summary=summary, tags=tags, meta=dict(meta),
        topics=topics, chart=(CHART_PNG, attachments[CHART_PNG]) if facts["chart"] else None,
    )
    return [
        Artifact(
            kind="trade_journal", content=journal, ext="md", title=title, summary=summary,
            tags=tags, attachments=attachments, meta=journal_meta,
        ),
        Artifact(
            kind="trade_metrics", content=metrics_json(metrics), ext="json", title=f"Trade metrics {session.date}",
            summary=summary, tags=tags, meta=dict(meta),
        ),
        social,
    ]
