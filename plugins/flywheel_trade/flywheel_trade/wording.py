"""A session's result in words, shared by the journal's opening and the social posts."""

from __future__ import annotations

__all__ = ["count", "counted", "drawdown_worth_saying", "join", "one_trade", "outcome"]

#: Counts told in words (more than three in digits, as "4 closed trades", "2 won and 2 lost" are).
WORDS = {1: "one", 2: "two", 3: "three"}


def count(n: int, noun: str) -> str:
    """``1 trade``, ``2 trades``: a count in digits, its noun agreeing."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def counted(n: int, noun: str) -> str:
    """``one trade``, ``two trades``, ``12 trades``: small counts in words, as prose has them."""
    return f"{WORDS.get(n, n)} {noun}{'' if n == 1 else 's'}"


def join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}" if items else ""


def outcome(n: int, wins: int, losses: int, even: int) -> str:
    """``both won``, ``all 5 lost``, ``3 won, 1 lost and 1 broke even``: a result in words."""
    every = "it" if n == 1 else "both" if n == 2 else f"all {n}"
    if wins == n:
        return f"{every} won"
    if losses == n:
        return f"{every} lost"
    if even == n:
        return f"{every} broke even"
    return join([t for c, t in ((wins, f"{wins} won"), (losses, f"{losses} lost"), (even, f"{even} broke even")) if c])


def one_trade(side: str, symbol: str, pnl: float, pnl_text: str) -> str:
    """``a long in AAPL for +25.00``, ``a short in MSFT that broke even``: a single trade's
    whole result (its P&L is the session's: said once)."""
    return f"a {side} in {symbol} " + ("that broke even" if pnl_text.startswith("0.00") else f"for {pnl_text}")


def drawdown_worth_saying(max_drawdown: float, net_pnl: float) -> bool:
    """Whether the largest fall from a peak tells more than the net P&L does: when every trade
    lost it is the loss itself, said twice (compared as printed, to the cent)."""
    return round(max_drawdown, 2) > 0 and round(max_drawdown, 2) != round(max(0.0, -net_pnl), 2)
