"""The equity chart: valid escaped SVG, extremes kept, time ticks, a deterministic PNG; a light plugin import."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest

from flywheel_trade.chart import equity_chart, equity_svg, nice_ticks, time_ticks

NS = {"svg": "http://www.w3.org/2000/svg"}


def polyline_points(svg: str, cls: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)
    line = next(p for p in root.iterfind("svg:polyline", NS) if p.get("class") == cls)
    return [tuple(map(float, pair.split(","))) for pair in line.get("points").split()]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 75, [0, 20, 40, 60, 80]),
        (-2900, 2050, [-3000, -2000, -1000, 0, 1000, 2000, 3000]),
        (-1, 0, [-1, -0.8, -0.6, -0.4, -0.2, 0]),
        (0.01, 0.04, [0.01, 0.02, 0.03, 0.04]),
    ],
)
def test_nice_ticks(low: float, high: float, expected: list[float]) -> None:
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_svg_is_well_formed_and_escapes_text() -> None:
    svg = equity_svg([10, -5.5, 20], title="P&L <script>", subtitle='"x" & <y>')
    root = ET.fromstring(svg)
    assert root.find("svg:title", NS).text == "P&L <script>"
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert root.get("viewBox") == "0 0 800 420"


def test_curve_starts_at_zero_and_drawdown_follows_the_peak() -> None:
    svg = equity_svg([10, -5, 20])
    equity = polyline_points(svg, "equity")
    drawdown = polyline_points(svg, "dd")
    assert len(equity) == len(drawdown) == 4, "the point before the first trade is drawn"
    ys = [y for _, y in equity]
    assert ys[2] > ys[0] > ys[1] > ys[3], "SVG y grows downwards: -5 is lowest, 20 highest"
    dys = [y for _, y in drawdown]
    assert dys[0] == dys[1] == dys[3] < dys[2], "only the fall from 10 to -5 is a drawdown"


def test_long_curves_are_decimated_but_keep_their_extremes() -> None:
    values = [float(i % 97) for i in range(10_000)]
    values[4321] = 5_000.0
    values[8765] = -5_000.0
    svg = equity_svg(values)
    points = polyline_points(svg, "equity")
    assert len(points) < 3_000 and len(svg) < 150_000
    ys = [y for _, y in points]
    top, bottom = min(ys), max(ys)
    full = polyline_points(equity_svg([5_000.0, -5_000.0]), "equity")
    assert top == pytest.approx(min(y for _, y in full)) and bottom == pytest.approx(max(y for _, y in full))


def test_same_input_same_bytes() -> None:
    assert equity_svg([1.5, -2.25, 3]) == equity_svg([1.5, -2.25, 3])


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, flywheel_trade.plugin as p; p.flywheel_session_types(); p.flywheel_template_dirs();"
        "heavy = [m for m in ('jinja2', 'jsonschema', 'matplotlib', 'numpy', 'pandas', 'empyrical') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


UTC = timezone.utc


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 12, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "labels"),
    [
        (at(2, 9, 30), at(2, 16, 0), ["10:00", "12:00", "14:00", "16:00"]),
        (at(2, 14, 2), at(2, 14, 41), ["14:10", "14:20", "14:30", "14:40"]),
        (at(1, 20), at(2, 3), ["Dec 01 20:00", "Dec 01 22:00", "Dec 02 00:00", "Dec 02 02:00"]),
        (at(1, 9), at(12, 9), ["Dec 02", "Dec 04", "Dec 06", "Dec 08", "Dec 10", "Dec 12"]),
        (datetime(2024, 1, 10, tzinfo=UTC), datetime(2025, 11, 20, tzinfo=UTC), ["Jul 2024", "Jan 2025", "Jul 2025"]),
        (datetime(2020, 1, 10, tzinfo=UTC), datetime(2025, 11, 20, tzinfo=UTC), ["2021", "2022", "2023", "2024", "2025"]),
    ],
)
def test_time_ticks_are_round_and_say_what_they_need(start: datetime, end: datetime, labels: list[str]) -> None:
    ticks, fmt = time_ticks(start, end)
    assert [t.strftime(fmt) for t in ticks] == labels
    assert all(start <= t <= end for t in ticks)


def curve_times(n: int) -> list[datetime]:
    return [at(2, 14) + timedelta(minutes=17 * i) for i in range(n)]


def test_x_axis_is_time_and_the_curve_steps_at_each_close() -> None:
    chart = equity_chart([10, -5, 20], times=curve_times(3), start=at(2, 13, 30))
    root = ET.fromstring(chart.svg())
    labels = [t.text for t in root.iterfind("svg:text", NS) if t.get("dominant-baseline") == "hanging"]
    assert labels == ["13:30 UTC", "13:45", "14:00", "14:15", "14:30"], "round times, the zone on the first"
    equity = polyline_points(chart.svg(), "equity")
    assert len(equity) == 7, "0 at the first entry, then a horizontal and a vertical step per close"
    assert equity[1][1] == equity[0][1] and equity[1][0] > equity[0][0], "flat until the first close"


def png_chunks(data: bytes) -> list[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, i = [], 8
    while i < len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        chunks.append(data[i + 4:i + 8].decode())
        i += 12 + length
    return chunks


def test_png_is_a_1200_by_630_preview_with_no_time_stamp_and_same_bytes_each_time() -> None:
    from PIL import Image

    kwargs = dict(times=curve_times(40), start=at(2, 13), title="Cumulative net P&L", subtitle="2025-12-02 · 40 closed trades · AAPL")
    values = [((i * 37) % 23 - 11) * 3.5 for i in range(40)]
    first = equity_chart(values, **kwargs).png()
    assert equity_chart(values, **kwargs).png() == first
    assert Image.open(io.BytesIO(first)).size == (1200, 630)
    assert set(png_chunks(first)) <= {"IHDR", "PLTE", "IDAT", "IEND"}, "no tIME, tEXt or other metadata"
    code = ("import sys; from datetime import datetime, timedelta, timezone; from flywheel_trade.chart import equity_chart;"
            "t = [datetime(2025,12,2,14,tzinfo=timezone.utc) + timedelta(minutes=17*i) for i in range(40)];"
            "v = [((i * 37) % 23 - 11) * 3.5 for i in range(40)];"
            "sys.stdout.buffer.write(equity_chart(v, times=t, start=datetime(2025,12,2,13,tzinfo=timezone.utc),"
            "title='Cumulative net P&L', subtitle='2025-12-02 · 40 closed trades · AAPL').png())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert other == first, "another process draws the same bytes"


def test_png_shows_the_chart_in_its_colours_the_area_tint_and_text_shades_only() -> None:
    """The PNG is a palette image: the lines in their colours, the drawdown area as a 30% tint
    over what it covers (background and grid alike), anti-aliased text in shades between its
    colour and the background; no other colour (e.g. from mixing palette indices)."""
    from PIL import Image

    values = [10, -25, 5, -40, 30]
    chart = equity_chart(values, times=curve_times(5), start=at(2, 13), title="Cumulative net P&L", subtitle="2 Dec")
    image = Image.open(io.BytesIO(chart.png()))
    assert image.mode == "P"
    rgb = image.convert("RGB")
    colours = {c for _, c in rgb.getcolors(1 << 16)}
    hexes = {"#" + "".join(f"{v:02x}" for v in c) for c in colours}
    assert {"#ffffff", "#0969da", "#cf222e", "#d0d7de", "#8c959f", "#24292f", "#57606a"} <= hexes

    def tint(c: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(round(0.7 * u + 0.3 * o) for u, o in zip(c, (0xcf, 0x22, 0x2e)))

    def shade_of(c: tuple[int, ...], ink: tuple[int, ...]) -> bool:  # on the line from white to ink
        a = (255 - c[0]) / (255 - ink[0])
        return all(abs(255 - a * (255 - i) - v) <= 2 for v, i in zip(c, ink))

    lines = [(255, 255, 255), (0x09, 0x69, 0xda), (0xcf, 0x22, 0x2e), (0xd0, 0xd7, 0xde), (0x8c, 0x95, 0x9f)]
    tints = {tint(c) for c in lines}
    for c in colours - set(lines):
        assert any(max(abs(a - b) for a, b in zip(c, t)) <= 1 for t in tints) or shade_of(c, (0x24, 0x29, 0x2f)) \
            or shade_of(c, (0x57, 0x60, 0x6a)), c
    assert sum(shade_of(c, (0x57, 0x60, 0x6a)) for c in colours) > 10, "labels are anti-aliased"
    # Where the layout puts them: the middle of the curve's first step, and inside the drawdown area.
    equity = polyline_points(chart.svg(), "equity")
    (x1, y), (x2, _) = equity[0], equity[1]
    assert rgb.getpixel((round((x1 + x2) / 2 * 1.5), round(y * 1.5))) == (0x09, 0x69, 0xda)
    dd = polyline_points(chart.svg(), "dd")
    (left, deepest), (right, _) = max(((a, b) for a, b in zip(dd, dd[1:]) if a[1] == b[1]), key=lambda s: s[0][1])
    top = dd[0][1]  # drawdown 0
    inside = (round((left + right) / 2 * 1.5), round((top + deepest) / 2 * 1.5))
    assert max(abs(a - b) for a, b in zip(rgb.getpixel(inside), tint((255, 255, 255)))) <= 1


def test_png_draws_any_text_without_interpreting_it() -> None:
    from PIL import Image

    for text in ("$\\frac{1}{2}$ <script>", "\ud800 lone surrogate", "日本語 😀", "x" * 500):
        data = equity_chart([1, -2, 3], times=curve_times(3), title=text, subtitle=text).png()
        assert Image.open(io.BytesIO(data)).size == (1200, 630)


@pytest.mark.parametrize("symbol", ["AA\x01", "B\x1b[2JB", "\u202eLPPA", "X]]>Y", "<script>alert(1)</script>",
                                    "Q\"'&Q", "NUL\x00", "FF\x0c\x7f\x85"])
def test_published_svg_is_valid_xml_whatever_the_symbol(run_trade, trade_doc, make_trade, symbol: str) -> None:
    """Regression: a symbol "AA\\x01" put \\x01 in <desc> and <text>, so equity_curve.svg (which the
    github target publishes) was not XML at all. Text is now XML 1.0 characters only, escaped."""
    doc = trade_doc([make_trade(symbol, exit_price=101, exit_timestamp="2025-12-02T03:10:00Z", notes=f"note {symbol}"),
                     make_trade("MSFT", exit_price=99, exit_timestamp="2025-12-02T03:20:00Z")])
    result, folder = run_trade(doc)
    assert result.exit_code == 0, result.output
    raw = (folder / "equity_curve.svg").read_bytes()
    root = ET.fromstring(raw)  # raises on a control character, a lone surrogate, "]]>" breaking out
    texts = [root.find("svg:desc", NS).text, *(t.text or "" for t in root.iterfind("svg:text", NS))]
    assert not any(ch in text for text in texts for ch in "\x00\x01\x1b\x0c\x7f\x85\u202e"), texts
    assert not root.findall(".//script") and not root.findall(".//svg:script", NS)
