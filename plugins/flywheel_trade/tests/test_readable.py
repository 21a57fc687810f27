"""The journal's tables and the equity chart measured in real Chromium at 390 and 1280 px wide."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(run scripts/install-system-deps.sh as root)"),
]

#: The table rules of flywheel-publish-web's theme (style.css), which shows the journal on a site:
#: a 46rem column with 1.25rem margins, 17 px text, tables at .93rem that scroll in their own box.
THEME = """
body { margin: 0; font: 17px/1.65 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", Arial, sans-serif; }
.wrap { max-width: 46rem; margin: 0 auto; padding: 0 1.25rem; }
img, svg { max-width: 100%; height: auto; }
.table-wrap { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; min-width: 60%; font-size: .93rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #ddd; padding: .45rem .7rem; text-align: left; vertical-align: top; }
th { font-weight: 650; white-space: nowrap; }
"""

MEASURE_TABLES = """() => [...document.querySelectorAll('.table-wrap')].map(wrap => {
  const table = wrap.querySelector('table'), box = wrap.getBoundingClientRect();
  const heads = [...table.querySelectorAll('th')];
  let heading = wrap.previousElementSibling;
  while (heading && heading.tagName !== 'H2') heading = heading.previousElementSibling;
  const lines = [...table.querySelectorAll('td')].map(td => {
    const s = getComputedStyle(td);
    return Math.round((td.getBoundingClientRect().height - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom))
                      / parseFloat(s.lineHeight));
  });
  const pnl = heads.find(th => th.innerText.includes('P&L'));
  return {cols: heads.map(th => th.innerText + ":" + Math.round(th.getBoundingClientRect().width)).join(" "), width: Math.round(table.getBoundingClientRect().width), box: Math.round(box.width), heading: heading.innerText, scrolls: wrap.scrollWidth > wrap.clientWidth + 1, lines: Math.max(...lines),
          pnlInView: pnl ? pnl.getBoundingClientRect().right <= box.right + 1 : null};
})"""

MEASURE_CHART = """() => {
  const svg = document.querySelector('svg'), box = svg.getBoundingClientRect(), scale = box.width / 800;
  const texts = [...svg.querySelectorAll('text')].filter(t => getComputedStyle(t).display !== 'none')
    .map(t => ({text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * scale, r: t.getBoundingClientRect()}));
  const overlaps = [];
  texts.forEach((a, i) => texts.slice(i + 1).forEach(b => {
    if (a.r.left < b.r.right && b.r.left < a.r.right && a.r.top < b.r.bottom && b.r.top < a.r.bottom) overlaps.push([a.text, b.text]);
  }));
  const outside = texts.filter(t => t.r.left < box.left - 1 || t.r.right > box.right + 1 || t.r.top < box.top - 1 || t.r.bottom > box.bottom + 1);
  return {width: box.width, smallest: Math.min(...texts.map(t => t.px)), labels: texts.map(t => t.text),
          overlaps, outside: outside.map(t => t.text)};
}"""


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed ([test] extra)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def show(browser: Any, tmp_path: Path, body: str, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    html = tmp_path / f"page-{width}.html"
    html.write_text(f"<!doctype html><meta charset=utf-8><style>{THEME}</style><div class=wrap>{body}</div>", encoding="utf-8")
    page.goto(html.as_uri())
    return page


def journal_html(text: str) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("table_open", lambda *a: '<div class="table-wrap"><table>')
    md.add_render_rule("table_close", lambda *a: "</table></div>")
    return md.render(text)


@pytest.fixture
def journals(run_trade, trade_doc, make_trade) -> dict[str, Path]:
    """A stock day (fees, notes, two open positions) and a day of options with long OCC symbols."""
    t = make_trade
    stocks = [t(s, "buy" if i % 3 else "sell", 10 + i, 100 + i * 7.25, f"2025-12-02T{9 + i // 2:02d}:{(i * 13) % 60:02d}:00Z",
                exit_price=100 + i * 7.25 + (-1) ** i * 3.5, exit_timestamp=f"2025-12-0{2 + i // 4}T{10 + i // 2:02d}:{(i * 7) % 60:02d}:00Z",
                fees=1.25, stop_loss=100 + i * 7.25 + (-5 if i % 3 else 5), notes="Faded the opening drive; " * (i % 3))
              for i, s in enumerate(["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "META", "GOOGL", "NFLX"] * 2)]
    stocks += [t("AMD", "sell", 7, 150, "2025-12-05T15:30:00Z", notes="Holding into the close"), t("SPY", quantity=100, price=601.25, timestamp="2025-12-05T15:45:00Z")]
    options = [t(f"{root:<6}251219{cp}{strike:08d}", quantity=2, price=3.15, timestamp=f"2025-12-02T1{i}:05:00Z",
                 exit_price=4.05 - i, exit_timestamp=f"2025-12-02T1{i}:55:00Z", multiplier=100, fees=1.3)
               for i, (root, cp, strike) in enumerate([("SPY", "C", 600000), ("AAPL", "P", 215000), ("GOOGL", "C", 1875000)])]
    out = {}
    for name, trades in (("stocks", stocks), ("options", options)):
        result, folder = run_trade(trade_doc(trades, session_id=f"read-{name}"))
        assert result.exit_code == 0, result.output
        out[name] = folder
    return out


@pytest.mark.parametrize("width", [390, 1280])
def test_journal_tables_are_readable_on_a_phone_and_a_laptop(browser, journals, tmp_path: Path, width: int) -> None:
    for name, folder in journals.items():
        page = show(browser, tmp_path, journal_html((folder / "trade_journal.md").read_text()), width)
        tables = page.evaluate(MEASURE_TABLES)
        page.close()
        # The options are all long: a "Long and short" table would be the Summary again.
        want = {"Summary", "Trades", "By symbol", "Long and short"} if name == "stocks" else {"Summary", "Trades", "By symbol"}
        assert {t["heading"] for t in tables} >= want, name
        for table in tables:
            where = f"{name} at {width} px, {table['heading']}: {json.dumps(table)}"
            assert table["lines"] <= 2, f"no cell of more than two lines ({where})"
            assert table["pnlInView"] in (True, None), f"the P&L column is on screen without scrolling ({where})"
            if width == 1280 and name == "stocks":
                assert not table["scrolls"], f"a laptop shows the whole table ({where})"


@pytest.mark.parametrize(("width", "chart"), [(390, 350), (1280, 696)])
def test_equity_chart_labels_are_legible_at_both_widths(browser, journals, tmp_path: Path, width: int, chart: int) -> None:
    svg = (journals["stocks"] / "equity_curve.svg").read_text()
    page = show(browser, tmp_path, f'<div style="width:{chart}px">{svg}</div>', width)
    got = page.evaluate(MEASURE_CHART)
    page.close()
    assert got["width"] == chart
    assert got["smallest"] >= 11, f"every label is 11 px or more on screen: {got}"
    assert not got["overlaps"] and not got["outside"], got
    times = [label for label in got["labels"] if label[:3] in ("Dec",)]
    assert len(times) >= 2, f"time ticks on the x axis: {got['labels']}"
