"""The hand-written SVG chart: valid XML, escaped text, extremes kept; and a light plugin import."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from flywheel_trade.chart import equity_svg, nice_ticks

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
    assert root.get("viewBox") == "0 0 760 420"


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
    assert len(points) < 2_000 and len(svg) < 120_000
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
