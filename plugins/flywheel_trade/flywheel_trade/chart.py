"""The equity curve and its drawdown as one deterministic layout, written as SVG text or as a PNG."""

from __future__ import annotations

import functools
import math
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Sequence
from xml.sax.saxutils import escape

import attrs

if TYPE_CHECKING:
    from PIL import Image, ImageFont

__all__ = ["Chart", "equity_chart", "equity_svg", "nice_ticks", "time_ticks"]

#: Layout units. The PNG is drawn at 1.5 units per pixel: 1200 x 630, the size networks show
#: link previews at. The SVG scales to its box; on a phone its labels grow (see _STYLE).
WIDTH, HEIGHT = 800, 420
PNG_SCALE = 1.5
LEFT, RIGHT, TOP = 100, 24, 56
EQUITY_H, GAP, DRAWDOWN_H = 196, 64, 60
#: Font sizes in units: (wide, big). Big is for a box under ~520 px wide (a phone, 390 px) and
#: for the PNG, which networks show about 500 px wide: labels stay 11 px or more on screen.
SIZES = {"label": (13, 28), "title": (15, 30), "subtitle": (13, 20)}
#: The SVG's light theme, and the PNG's colours.
COLOURS = {
    "bg": "#ffffff", "fg": "#24292f", "muted": "#57606a", "grid": "#d0d7de", "zero": "#8c959f",
    "equity": "#0969da", "dd": "#cf222e",
}
_WIDTHS = {"equity": 2.0, "dd": 1.2, "grid": 1.0, "zero": 1.0}
#: zlib's level for the PNG. Measured on a 40-trade chart: level 1 gives 27 KB in 2.0 ms, 3 gives
#: 23 KB in 2.1 ms, 4 gives 22 KB in 3.2 ms, 6 (zlib's default) 17 KB in 4.2 ms, 9 15 KB in 24 ms.
PNG_COMPRESS_LEVEL = 3
#: The opacity (of 255) of the drawdown area, as in the SVG's fill-opacity 0.3.
AREA_ALPHA = 77
#: Shades of each text colour in the PNG's palette: anti-aliased edges in steps of 1/63.
TEXT_SHADES = 64

_STYLE = f"""
svg {{ font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; font-size: {SIZES["label"][0]}px; }}
.bg {{ fill: #ffffff; }} .fg {{ fill: #24292f; }} .muted {{ fill: #57606a; }}
.grid {{ stroke: #d0d7de; stroke-width: 1; }} .zero {{ stroke: #8c959f; stroke-width: 1; }}
.equity {{ fill: none; stroke: #0969da; stroke-width: 2; stroke-linejoin: round; }}
.dd {{ fill: none; stroke: #cf222e; stroke-width: 1.2; }} .dd-area {{ fill: #cf222e; fill-opacity: 0.3; }}
.title {{ font-size: {SIZES["title"][0]}px; font-weight: 600; }}
@media (max-width: 520px) {{
  svg {{ font-size: {SIZES["label"][1]}px; }} .title {{ font-size: {SIZES["title"][1]}px; }}
  .subtitle, .alt {{ display: none; }}
}}
@media (prefers-color-scheme: dark) {{
  .bg {{ fill: #0d1117; }} .fg {{ fill: #c9d1d9; }} .muted {{ fill: #8b949e; }}
  .grid {{ stroke: #30363d; }} .zero {{ stroke: #6e7681; }} .equity {{ stroke: #58a6ff; }}
  .dd {{ stroke: #f85149; }} .dd-area {{ fill: #f85149; }}
}}
"""


@attrs.frozen
class Shape:
    """One piece of the drawing. ``alt``: left out where labels are big (every other tick label)."""

    kind: str  # line | polyline | polygon | text
    cls: str
    points: tuple[tuple[float, float], ...] = ()
    text: str = ""
    anchor: str = "start"  # start | middle | end
    baseline: str = "alphabetic"  # alphabetic | middle | hanging
    size: str = "label"
    alt: bool = False


@attrs.frozen
class Chart:
    """The laid-out chart: ``svg()`` for the page, ``png()`` for link previews."""

    title: str
    subtitle: str
    shapes: tuple[Shape, ...]

    def svg(self) -> str:
        """SVG text; every piece of text is XML-escaped, so symbols or notes cannot inject markup."""
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc">',
            f'<title id="chart-title">{_xml(self.title)}</title>',
            f'<desc id="chart-desc">{_xml(self.subtitle or self.title)}</desc>',
            f"<style>{_STYLE}</style>",
            f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{HEIGHT}"/>',
        ]
        for s in self.shapes:
            cls = s.cls + (" alt" if s.alt else "")
            if s.kind == "line":
                (x1, y1), (x2, y2) = s.points
                out.append(f'<line class="{cls}" x1="{_n(x1)}" x2="{_n(x2)}" y1="{_n(y1)}" y2="{_n(y2)}"/>')
            elif s.kind in ("polyline", "polygon"):
                points = " ".join(f"{_n(x)},{_n(y)}" for x, y in s.points)
                out.append(f'<{s.kind} class="{cls}" points="{points}"/>')
            else:
                (x, y), = s.points
                attrs_ = f' text-anchor="{s.anchor}"' if s.anchor != "start" else ""
                attrs_ += f' dominant-baseline="{s.baseline}"' if s.baseline != "alphabetic" else ""
                size = f" {s.size}" if s.size != "label" else ""
                out.append(f'<text class="{cls}{size}" x="{_n(x)}" y="{_n(y)}"{attrs_}>{_xml(s.text)}</text>')
        out.append("</svg>")
        return "\n".join(out) + "\n"

    def png(self, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
        """PNG bytes (1200 x 630, big labels, light theme); the same input gives the same bytes:
        Pillow writes no time stamp, and text uses the font Pillow ships, not the system's.

        A palette image (one byte a pixel, a third of what deflate would read from RGB): the
        chart's few colours, their tints under the drawdown area and the shades of its
        anti-aliased text. Lines are drawn at full size and not smoothed: they are horizontal
        or vertical (the curve steps at each close), where smoothing would only blur them."""
        import io

        from PIL import Image, ImageDraw

        k, colours = PNG_SCALE, _png_palette()
        size = (round(WIDTH * k), round(HEIGHT * k))
        image = Image.new("L", size, colours.index["bg"])  # palette indices; the palette is attached at the end
        draw = ImageDraw.Draw(image)

        def xy(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
            return [(x * k, y * k) for x, y in points]

        # Text first, on the blank background (the layout keeps it clear of lines): the boxes of
        # all texts are filled with their colour's own index for the background, then each text
        # is pasted in the shades above that index (boxes first: no box covers another text).
        tiles = []
        title_right = LEFT * k
        for s in self.shapes:
            if s.kind != "text" or s.alt:
                continue
            (x, y), = xy(s.points)
            anchor = {"start": "l", "middle": "m", "end": "r"}[s.anchor] + {"alphabetic": "s", "middle": "m", "hanging": "t"}[s.baseline]
            # The font Pillow ships has no minus sign (U+2212): a hyphen stands in.
            text, font_size = s.text.replace("\u2212", "-"), SIZES[s.size][1] * k
            if s.size == "subtitle":
                # Right-aligned beside the title: shortened word by word to the room left, never over it.
                room = x - title_right - 24 * k
                words = text.split(" ")
                while words and _font(font_size).getlength(text) > room:
                    words.pop()
                    text = " ".join(words).rstrip(" ·,") + "…"
                if not words:
                    continue
            base = colours.text["fg" if s.cls == "fg" else "muted"]
            box, tile, mask = _text_tile(text, font_size, anchor, x, y, base)
            draw.rectangle((box[0], box[1], box[0] + tile.width - 1, box[1] + tile.height - 1), fill=base)
            tiles.append((box, tile, mask))
            if s.size == "title":
                title_right = x + _font(font_size).getlength(text)
        for box, tile, mask in tiles:
            image.paste(tile, box, mask)
        for s in self.shapes:
            if s.kind == "polygon":
                # A translucent area: each pixel inside, lines included, takes its tint.
                points = xy(s.points)
                box = (math.floor(min(x for x, _ in points)), math.floor(min(y for _, y in points)),
                       math.ceil(max(x for x, _ in points)) + 1, math.ceil(max(y for _, y in points)) + 1)
                inside = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)
                ImageDraw.Draw(inside).polygon([(x - box[0], y - box[1]) for x, y in points], fill=255)
                image.paste(image.crop(box).point(colours.tint[s.cls.removesuffix("-area")]), box, mask=inside)
            elif s.kind in ("line", "polyline"):
                draw.line(xy(s.points), fill=colours.index[s.cls], width=max(1, round(_WIDTHS[s.cls] * k)), joint="curve")
        image.putpalette(colours.data)
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=compress_level)
        return out.getvalue()


@attrs.frozen
class _PngPalette:
    """The PNG's palette: ``index`` of each line colour (and the background); ``tint[area]``
    maps each index to its colour under a translucent area (text is left as it is);
    ``text[colour]``: the index of the background under that colour's text, followed by
    its TEXT_SHADES - 1 shades over the background, the last the colour itself."""

    data: bytes
    index: dict[str, int]
    tint: dict[str, list[int]]
    text: dict[str, int]


@functools.cache
def _png_palette() -> _PngPalette:
    """The palette of every PNG chart, made once per process."""
    bg = _rgb(COLOURS["bg"])
    colours = [bg] + [_rgb(COLOURS[name]) for name in _WIDTHS]
    index = {"bg": 0} | {name: i + 1 for i, name in enumerate(_WIDTHS)}
    lines = len(colours)
    tint = {}
    for area in ("dd",):
        tint[area] = [len(colours) + i for i in range(lines)]
        colours += [_blend(c, _rgb(COLOURS[area]), AREA_ALPHA) for c in colours[:lines]]
    text = {}
    for name in ("fg", "muted"):
        text[name] = len(colours)
        colours += [_blend(bg, _rgb(COLOURS[name]), round(level * 255 / (TEXT_SHADES - 1))) for level in range(TEXT_SHADES)]
    assert len(colours) <= 256, "a palette image holds 256 colours"
    for table in tint.values():
        table += range(len(table), 256)
    return _PngPalette(bytes(channel for colour in colours for channel in colour), index, tint, text)


@functools.lru_cache(maxsize=256)
def _text_tile(text: str, size: float, anchor: str, x: float, y: float, base: int) -> tuple[tuple[int, int], Image.Image, Image.Image]:
    """``text`` drawn at (``x``, ``y``) in palette indices: the top left corner of its box (a pixel
    wider than the text), the box (the index ``base``, the text in the TEXT_SHADES - 1 above it)
    and the mask of the text's own pixels. Kept per process: a chart's titles, and round tick
    labels at the same heights, recur from chart to chart (~0.2 ms a text to draw)."""
    from PIL import Image, ImageDraw

    face = _font(size)
    left, top, right, bottom = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((x, y), text, font=face, anchor=anchor)
    x0, y0 = math.floor(left) - 1, math.floor(top) - 1
    tile = Image.new("L", (math.ceil(right) + 2 - x0, math.ceil(bottom) + 2 - y0), base)
    ImageDraw.Draw(tile).text((x - x0, y - y0), text, font=face, anchor=anchor, fill=base + TEXT_SHADES - 1)
    return (x0, y0), tile, tile.point([0] * (base + 1) + [255] * (255 - base))


@functools.cache
def _font(size: float) -> ImageFont.FreeTypeFont:
    """The font Pillow ships at ``size`` pixels, loaded once per process (3 sizes, ~0.2 ms each)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _blend(under: tuple[int, int, int], over: tuple[int, int, int], alpha: int) -> tuple[int, int, int]:
    """``over`` at opacity ``alpha`` (of 255) on ``under``."""
    return tuple(round((o * alpha + u * (255 - alpha)) / 255) for u, o in zip(under, over))  # type: ignore[return-value]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _n(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


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


_MINUTE, _HOUR, _DAY = 60, 3600, 86400
#: Candidate steps between time ticks, in seconds, with the label each step reads best with.
_TIME_STEPS = [
    (s, "%H:%M:%S") for s in (1, 2, 5, 10, 15, 30)
] + [
    (s * _MINUTE, "%H:%M") for s in (1, 2, 5, 10, 15, 30)
] + [
    (s * _HOUR, "%H:%M") for s in (1, 2, 3, 6, 12)
] + [
    (s * _DAY, "%b %d") for s in (1, 2, 7, 14)
]


def time_ticks(start: datetime, end: datetime, count: int = 6) -> tuple[list[datetime], str]:
    """Round instants (UTC) covering [start, end] at most ``count`` + 1 apart, and their strftime
    format: clock times within a day, dates across days; months or years for long spans."""
    span = (end - start).total_seconds()
    for step, fmt in _TIME_STEPS:
        if span / step <= count:
            break
    else:
        months = next(m for m in (1, 2, 3, 6, 12, 24, 60, 120, 1200) if span / (m * 30.44 * _DAY) <= count)
        year, month = start.year, start.month
        month = ((month - 1) // months) * months + 1 if months < 12 else 1
        year = year if months <= 12 else year - year % (months // 12)
        ticks = []
        while True:
            moment = datetime(year, month, 1, tzinfo=timezone.utc)
            if moment > end:
                break
            if moment >= start:
                ticks.append(moment)
            month += months
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        return ticks, "%b %Y" if months < 12 else "%Y"
    epoch = datetime(1970, 1, 5, tzinfo=timezone.utc)  # a Monday: weekly ticks fall on Mondays
    first = math.ceil((start - epoch).total_seconds() / step)
    last = math.floor((end - epoch).total_seconds() / step)
    ticks = [epoch + timedelta(seconds=i * step) for i in range(first, last + 1)]
    if step < _DAY and start.date() != end.date():
        fmt = "%b %d %H:%M" if step >= _MINUTE else "%b %d %H:%M:%S"
    return ticks, fmt


def _decimals(ticks: list[float]) -> int:
    """The fewest decimals that print every tick exactly (0.25 needs 2, 2.5 needs 1, 500 needs 0)."""
    span = max(abs(t) for t in ticks) or 1.0
    for decimals in range(7):
        if all(abs(round(t, decimals) - t) <= span * 1e-9 for t in ticks):
            return decimals
    return 6


def _label(value: float, decimals: int) -> str:
    return f"{value + 0.0:,.{decimals}f}".replace("-", "\u2212")


def _decimate(points: list[tuple[float, float]], width: float) -> list[tuple[float, float]]:
    """At most 4 points per unit column (first, lowest, highest, last, in order), so peaks survive."""
    if len(points) <= width * 2:
        return points
    out: list[tuple[float, float]] = []
    column: list[tuple[int, tuple[float, float]]] = []

    def flush() -> None:
        if column:
            keep = {0, len(column) - 1, min(range(len(column)), key=lambda i: column[i][1][1]),
                    max(range(len(column)), key=lambda i: column[i][1][1])}
            out.extend(column[i][1] for i in sorted(keep))
            column.clear()

    current = None
    for i, point in enumerate(points):
        cell = math.floor(point[0])
        if cell != current:
            flush()
            current = cell
        column.append((i, point))
    flush()
    return out


def equity_chart(
    cumulative: Sequence[float],
    *,
    times: Sequence[datetime] | None = None,
    start: datetime | None = None,
    title: str = "Equity curve",
    subtitle: str = "",
) -> Chart:
    """The chart of a cumulative P&L curve (starting at 0) above its drawdown from the running peak.

    ``cumulative`` holds the curve after each closed trade, ``times`` (UTC) when each closed; the
    curve starts at 0 at ``start`` (the first entry) and steps at each close, on a time axis.
    Without times the x axis counts closed trades.
    """
    values = [0.0, *map(float, cumulative)]
    plot_w = WIDTH - LEFT - RIGHT
    if times is not None and len(times) == len(cumulative) and times:
        first = min(start or times[0], times[0])
        end = max(times)
        if end <= first:  # everything at one instant: give it an hour to stand in
            first, end = first - timedelta(minutes=30), end + timedelta(minutes=30)
        seconds = (end - first).total_seconds()
        xs = [LEFT + plot_w * (t - first).total_seconds() / seconds for t in (first, *times)]
        step = True
    else:
        n = len(values) - 1 or 1
        xs = [LEFT + plot_w * i / n for i in range(len(values))]
        step = False
    peak, drawdown = 0.0, []
    for value in values:
        peak = max(peak, value)
        drawdown.append(value - peak)

    shapes: list[Shape] = [
        Shape("text", "fg", ((LEFT, 30),), title, size="title"),
    ]
    if subtitle:
        shapes.append(Shape("text", "muted", ((WIDTH - RIGHT, 30),), subtitle, anchor="end", size="subtitle"))

    def path(ys: list[float], y_of) -> list[tuple[float, float]]:
        points = []
        for i, (x, y) in enumerate(zip(xs, ys)):
            if step and i:
                points.append((x, y_of(ys[i - 1])))  # P&L changes at the close, not before
            points.append((x, y_of(y)))
        return _decimate(points, plot_w)

    def panel(ys: list[float], top: float, height: float, low: float, high: float, cls: str, area: bool) -> None:
        if high - low < 1e-12:  # a flat line: give it a unit range (drawdown stays at the top)
            low, high = (low - 1.0, high) if area else (low - 1.0, high + 1.0)
        ticks = nice_ticks(low, high, 5 if height > 120 else 2)
        low, high = min(low, ticks[0]), max(high, ticks[-1])
        if area:
            ticks = [ticks[0], 0.0] if min(ys) < 0 else [0.0]  # a short panel: its depth and 0
        decimals = _decimals(ticks)

        def y_of(v: float) -> float:
            return top + height * (high - v) / (high - low)

        # Where labels are big, every other one is left out (0 always stays) so none overlap.
        keep = {i for i, t in enumerate(ticks) if t == 0} or {0}
        stride = 1 if len(ticks) <= 3 else 2
        anchor_index = min(keep)
        for i, tick in enumerate(ticks):
            y = y_of(tick)
            shapes.append(Shape("line", "zero" if tick == 0 else "grid", ((LEFT, y), (WIDTH - RIGHT, y))))
            shapes.append(Shape("text", "muted", ((LEFT - 8, y),), _label(tick, decimals), anchor="end",
                                baseline="middle", alt=(i - anchor_index) % stride != 0))
        points = path(ys, y_of)
        if area:
            base = y_of(0.0)
            shapes.append(Shape("polygon", f"{cls}-area", ((points[0][0], base), *points, (points[-1][0], base))))
        shapes.append(Shape("polyline", cls, tuple(points)))

    panel(values, TOP, EQUITY_H, min(values), max(values), "equity", False)
    dd_top = TOP + EQUITY_H + GAP
    shapes.append(Shape("text", "fg", ((LEFT, dd_top - 18),), "Drawdown from peak"))
    panel(drawdown, dd_top, DRAWDOWN_H, min(drawdown), 0.0, "dd", True)
    if min(drawdown) == 0:
        shapes.append(Shape("text", "muted", ((LEFT + plot_w / 2, dd_top + DRAWDOWN_H / 2),), "none: every close was a new high",
                            anchor="middle", baseline="middle"))
    axis_y = dd_top + DRAWDOWN_H + 10
    if step:
        ticks, fmt = time_ticks(first, end)
        for i, moment in enumerate(ticks):
            x = LEFT + plot_w * (moment - first).total_seconds() / seconds
            # Labels at the edges grow inwards, so none is cut off; the first names the zone.
            edge = "start" if x - LEFT < 60 else "end" if WIDTH - RIGHT - x < 60 else "middle"
            text = moment.strftime(fmt) + (" UTC" if i == 0 else "")
            shapes.append(Shape("line", "grid", ((x, dd_top + DRAWDOWN_H), (x, dd_top + DRAWDOWN_H + 5))))
            shapes.append(Shape("text", "muted", ((x, axis_y),), text, anchor=edge, baseline="hanging",
                                alt=i % 2 == 1 and len(ticks) > 3))
    else:
        shapes.append(Shape("text", "muted", ((LEFT + plot_w / 2, axis_y),),
                            f"Closed trades, in order of exit (0 to {len(values) - 1})", anchor="middle", baseline="hanging"))
    return Chart(title, subtitle, tuple(shapes))


#: What XML 1.0 forbids (C0 controls but tab and line breaks, lone surrogates, U+FFFE/U+FFFF) and
#: what no reader should get from a symbol: C1 controls and DEL, and bidi marks and overrides
#: that show text in another order than it is stored ("\u202eLPPA" reading as "APPL").
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
                       "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _xml(text: str) -> str:
    """Session text as one line of XML character data: characters XML cannot hold dropped, escaped."""
    return escape(" ".join(_NOT_TEXT.sub("", text).split()))


def equity_svg(cumulative: Sequence[float], *, times: Sequence[datetime] | None = None, start: datetime | None = None,
               title: str = "Equity curve", subtitle: str = "") -> str:
    """The SVG text of :func:`equity_chart`."""
    return equity_chart(cumulative, times=times, start=start, title=title, subtitle=subtitle).svg()
