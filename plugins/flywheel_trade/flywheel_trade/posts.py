"""The social posts of a trade session: what their templates are told, and the artifact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel_trade.metrics import Trade
from flywheel_trade.wording import count, counted, drawdown_worth_saying, join, one_trade, outcome

if TYPE_CHECKING:
    from flywheel_core import Artifact, RunContext, Session

__all__ = ["social_context", "social_artifact"]

#: With more closed trades than this, the posts name the best and worst trade, not each one.
LISTED_TRADES = 3
#: Session prose (lessons, notes) is cut to this before any template sees it.
PROSE_CHARS = 600
#: The narrative fields whose first item a post may quote.
PROSE_FIELDS = ("what_worked", "what_didnt_work", "lessons", "next_goals", "market_analysis")


def _duration(minutes: Any) -> str:
    """``45 minutes``, ``3 hours``, ``1 hour 30 minutes``; empty when unknown."""
    if not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or not 0 < minutes < 100_000:
        return ""
    hours, rest = divmod(round(minutes), 60)
    parts = [count(hours, "hour") if hours else "", count(rest, "minute") if rest else ""]
    return " ".join(p for p in parts if p)


def _currency(codes: list[str]) -> str:
    """`` USD`` for one currency, `` (EUR and USD, not converted)`` for several, else nothing."""
    from flywheel_core import defang

    if len(codes) == 1:
        return " " + defang(codes[0][:10])
    if codes:
        return f" ({defang(join([c[:10] for c in codes[:3]]) if len(codes) <= 3 else 'several currencies')}, not converted)"
    return ""


def _sentence(text: str) -> str:
    """``text`` ending as a sentence does (a clipped text already ends in "…")."""
    text = text.rstrip()
    return text if not text or text.endswith((".", "!", "?", "…")) else text + "."


def _prose(items: list[dict[str, str]]) -> str:
    """The first item of a narrative field as one defanged sentence or two: ``Title. Text.``
    (after the post's "Lesson: ", a "Title: text" read as a label inside a label)."""
    from flywheel_core import clip, defang

    for item in items:
        text = " ".join(_sentence(p.rstrip(" :")) for p in (item["title"], item["text"]) if p.strip())
        if text:
            return defang(_sentence(clip(text, PROSE_CHARS)))
    return ""


def _market(items: list[dict[str, str]]) -> str:
    """``moderate volatility, bullish trend, high volume``: short values before their name."""
    from flywheel_core import clip, defang

    words = [
        f"{i['text']} {i['title'].lower()}" if len(i["text"].split()) <= 2 else f"{i['title'].lower()}: {i['text']}"
        for i in items
        if i["title"] and i["text"]
    ]
    return defang(clip(", ".join(words), 300)) if words else ""


def social_context(session: Session, trades: list[Trade], metrics: dict[str, Any], facts: dict[str, Any], *,
                   journal_title: str) -> dict[str, Any]:
    """What each ``trade/social_post.<network>.txt.j2`` template is given, computed once.

    Every string taken from the session (symbols, market conditions, lessons) is already
    defanged and cut: a template may print it as is. Money keeps the journal's format.
    """
    from flywheel_core import defang

    from flywheel_trade.journal import _list_text, _narrative_items, _field, money, signed

    m = metrics
    by_index = {t.index: t for t in trades}
    closed = [by_index[row["index"]] for row in m["per_trade"]]
    n = m["trades"]
    when = session.when
    currencies = facts["currencies"]

    def symbols(names: list[str], limit: int = 5) -> str:
        return defang(_list_text([" ".join(s.split())[:40] for s in names], limit))

    legs = [f"a {t.side} in {symbols([t.symbol])} ({signed(t.pnl)})" for t in closed] if n <= LISTED_TRADES else []
    ranked = sorted(closed, key=lambda t: (t.pnl, -t.index))
    best, worst = (ranked[-1], ranked[0]) if n > LISTED_TRADES else (None, None)
    narrative = {name: _prose(_narrative_items(_field(session, name))) for name in PROSE_FIELDS}
    still_open = m["open_trades"]
    result = outcome(n, m["wins"], m["losses"], m["breakeven"]) if n else ""
    currency = _currency(currencies)
    return {
        "journal_title": journal_title,
        "day": f"{when.day} {when:%b %Y}",
        "duration": _duration(session.metadata.get("duration_minutes")),
        "listed": len(trades),
        "listed_text": f"the {'one trade' if len(trades) == 1 else count(len(trades), 'trade')} listed",
        "closed": n,
        "closed_count": count(n, "closed trade") if n else "",
        "closed_words": f"{counted(n, 'trade')} closed" if n else "",
        "closed_on": symbols(facts["pnl_symbols"]),
        "closed_text": f"{count(n, 'closed trade')} on {symbols(facts['pnl_symbols'])}" if n else "",
        # With one closed trade its P&L is the session's: the posts say it once, with the trade.
        "one": one_trade(closed[0].side, symbols([closed[0].symbol]), closed[0].pnl, signed(closed[0].pnl) + currency) if n == 1 else "",
        "outcome": result,
        # "Two trades closed, and both won: a long in AAPL (+25.00) and ...": a mixed result is
        # left to the listed trades themselves.
        "legs_outcome": f", and {result}" if legs and result.startswith(("both", "all")) else "",
        "legs": join(legs),
        "best": f"{symbols([best.symbol])} {signed(best.pnl)}" if best is not None and best.pnl > 0 else "",
        "worst": f"{symbols([worst.symbol])} {signed(worst.pnl)}" if worst is not None and worst.pnl < 0 else "",
        "net_pnl": signed(m["net_pnl"]) if n else "",
        # Said after every sum: a total over several currencies is flagged, never passed off as one.
        "currency": currency,
        "drawdown": money(m["max_drawdown"]) if n and drawdown_worth_saying(m["max_drawdown"], m["net_pnl"]) else "",
        "open_text": f"{counted(still_open, 'position')} {'is' if still_open == 1 else 'are'} still open" if still_open else "",
        "opened_text": (f"{counted(len(trades), 'position')} opened on {symbols(facts['pnl_symbols'])}, "
                        f"{'not closed' if len(trades) == 1 else 'none closed'} yet") if trades and not n else "",
        "market": _market(_narrative_items(session.source_data.get("market_conditions"))),
        "worked": narrative["what_worked"],
        "didnt": narrative["what_didnt_work"],
        "lesson": narrative["lessons"],
        "next": narrative["next_goals"],
        "analysis": narrative["market_analysis"],
        "declared_differ": facts["declared_disagree"] > 0,
    }


def social_artifact(ctx: RunContext, session: Session, context: dict[str, Any], *, summary: str, tags: list[str],
                    meta: dict[str, Any], topics: list[str], chart: tuple[str, bytes] | None) -> Artifact:
    """The ``social_post`` artifact: a post per network linking to the journal's page."""
    from flywheel_core import compose_social, hashtags_for

    # The symbols that carry the P&L say more than "#Trading" (the posts' first word says it):
    # when X's and Bluesky's few hashtags hold them all, they come first; with more, the general
    # tag leads and the first symbols follow.
    fits = all(len(hashtags_for(topics, network)) == len(topics) for network in ("x", "bluesky"))
    image = None
    attachments: dict[str, str | bytes] = {}
    if chart is not None:
        name, data = chart
        attachments[name] = data
        image = {"src": name, "alt": _chart_alt(context)}
    posts = compose_social(
        ctx,
        session,
        "trade",
        context,
        title=f"Social posts: {context['journal_title']}",
        page=("trade_journal", context["journal_title"]),
        topics=[*topics, "trading"] if fits else ["trading", *topics],
        content_warning=f"Trading P&L, {context['day']}",
        image=image,
    )
    return posts.artifact(summary=summary, tags=tags, meta={**meta, **({"image": image["src"]} if image else {})},
                          attachments=attachments)


def _chart_alt(context: dict[str, Any]) -> str:
    """The equity chart in words, from the same facts the posts state."""
    text = (f"Equity curve of {context['closed_text']} on {context['day']}: "
            f"cumulative net P&L from 0 to {context['net_pnl']}{context['currency']}")
    if context["drawdown"]:
        text += f", with a largest fall of {context['drawdown']} from a peak"
    return text + "."
