"""A small, deterministic SVG writer for the equity curve and its drawdown (no plotting library)."""

from __future__ import annotations

import math
from typing import Sequence
from xml.sax.saxutils import escape

__all__ = ["equity_svg", "nice_ticks"]

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP = 78, 16, 40
EQUITY_H, GAP, DRAWDOWN_H = 230, 44, 80

_STYLE = """
svg { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: 12px; }
.bg { fill: #ffffff; } .fg { fill: #24292f; } .muted { fill: #57606a; }
.grid { stroke: #d0d7de; stroke-width: 1; } .zero { stroke: #8c959f; stroke-width: 1; }
.equity { fill: none; stroke: #0969da; stroke-width: 1.6; stroke-linejoin: round; }
.dd { fill: none; stroke: #cf222e; stroke-width: 1; } .dd-area { fill: #cf222e; fill-opacity: 0.3; }
@media (prefers-color-scheme: dark) {
  .bg { fill: #0d1117; } .fg { fill: #c9d1d9; } .muted { fill: #8b949e; }
  .grid { stroke: #30363d; } .zero { stroke: #6e7681; } .equity { stroke: #58a6ff; }
  .dd { stroke: #f85149; } .dd-area { fill: #f85149; }
}
"""


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10) + 0.0)
        value = first + step * len(ticks)
    if ticks[-1] < high:
        ticks.append(round(value, 10) + 0.0)
    return ticks


def _decimals(ticks: list[float]) -> int:
    """The fewest decimals that print every tick exactly (0.25 needs 2, 2.5 needs 1, 500 needs 0)."""
    span = max(abs(t) for t in ticks) or 1.0
    for decimals in range(7):
        if all(abs(round(t, decimals) - t) <= span * 1e-9 for t in ticks):
            return decimals
    return 6


def _label(value: float, decimals: int) -> str:
    return f"{value + 0.0:,.{decimals}f}".replace("-", "\u2212")


def _decimate(values: Sequence[float], columns: int) -> list[tuple[int, float]]:
    """At most ~2 points per pixel column (each column's first extreme, then the other), so peaks survive."""
    n = len(values)
    if n <= columns * 2:
        return list(enumerate(values))
    points: list[tuple[int, float]] = []
    per = n / columns
    for c in range(columns):
        start, stop = int(c * per), min(n, int((c + 1) * per))
        if start >= stop:
            continue
        chunk = range(start, stop)
        lo = min(chunk, key=lambda i: values[i])
        hi = max(chunk, key=lambda i: values[i])
        for i in sorted({lo, hi}):
            points.append((i, values[i]))
    if points[-1][0] != n - 1:
        points.append((n - 1, values[n - 1]))
    return points


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def equity_svg(cumulative: Sequence[float], *, title: str = "Equity curve", subtitle: str = "") -> str:
    """The SVG text of a cumulative P&L curve (starting at 0) above its drawdown from the running peak.

    ``cumulative`` holds the curve after each closed trade; the point before the first trade
    (0) is added here. Every piece of text is XML-escaped, so symbols or notes cannot inject markup.
    """
    curve = [0.0, *map(float, cumulative)]
    peak, drawdown = 0.0, []
    for value in curve:
        peak = max(peak, value)
        drawdown.append(value - peak)
    plot_w = WIDTH - LEFT - RIGHT
    n = len(curve) - 1 or 1

    def x_of(i: float) -> float:
        return LEFT + plot_w * i / n

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(subtitle or title)}</desc>',
        f"<style>{_STYLE}</style>",
        f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{HEIGHT}"/>',
        f'<text class="fg" x="{LEFT}" y="20" font-weight="600" font-size="14">{escape(title)}</text>',
    ]
    if subtitle:
        out.append(f'<text class="muted" x="{WIDTH - RIGHT}" y="20" text-anchor="end">{escape(subtitle)}</text>')

    def panel(values: list[float], top: float, height: float, low: float, high: float, cls: str, area: bool) -> None:
        if high - low < 1e-12:  # a flat line: give it a unit range (drawdown stays at the top)
            low, high = (low - 1.0, high) if area else (low - 1.0, high + 1.0)
        ticks = nice_ticks(low, high, 5 if height > 120 else 3)
        low, high = min(low, ticks[0]), max(high, ticks[-1])
        decimals = _decimals(ticks)

        def y_of(v: float) -> float:
            return top + height * (high - v) / (high - low)

        for tick in ticks:
            y = _fmt(y_of(tick))
            out.append(f'<line class="{"zero" if tick == 0 else "grid"}" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>')
            out.append(f'<text class="muted" x="{LEFT - 6}" y="{_fmt(y_of(tick) + 4)}" text-anchor="end">{_label(tick, decimals)}</text>')
        points = _decimate(values, plot_w)
        path = " ".join(f"{_fmt(x_of(i))},{_fmt(y_of(v))}" for i, v in points)
        if area:
            base = _fmt(y_of(0.0))
            out.append(f'<polygon class="{cls}-area" points="{_fmt(x_of(0))},{base} {path} {_fmt(x_of(points[-1][0]))},{base}"/>')
        out.append(f'<polyline class="{cls}" points="{path}"/>')

    panel(curve, TOP, EQUITY_H, min(curve), max(curve), "equity", False)
    dd_top = TOP + EQUITY_H + GAP
    out.append(f'<text class="fg" x="{LEFT}" y="{dd_top - 10}" font-weight="600">Drawdown from peak</text>')
    panel(drawdown, dd_top, DRAWDOWN_H, min(drawdown), 0.0, "dd", True)
    out.append(
        f'<text class="muted" x="{_fmt(LEFT + plot_w / 2)}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"Closed trades, in order of exit (0 to {len(curve) - 1})</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
