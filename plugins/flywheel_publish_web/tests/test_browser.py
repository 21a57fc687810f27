"""The built site in real headless Chromium: navigation, content, screenshots, and the XSS corpus."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "publish_web"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(run scripts/install-system-deps.sh as root)"),
]


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed ([test] extra)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _page(browser: Any, scheme: str = "light") -> Any:
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.dialogs = []  # every alert/confirm/prompt that fires
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.console_errors = []  # CSP violations (an inline style, say) and missing files show up here
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type in ("error", "warning") else None)
    return page


def test_index_to_post_table_code_image_and_screenshots(browser, web, sample_items, serve_dir) -> None:
    site = web()
    assert all(r.ok for r in site.publish(sample_items))
    base = serve_dir(site.dir)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page = _page(browser)
    page.goto(base)
    assert page.title() == "Agent log"
    entries = page.locator(".entry h2 a")
    assert entries.count() == 3
    assert entries.first.inner_text() == "SpaceExplorer: multiplayer and physics"  # newest first
    page.screenshot(path=str(ARTIFACTS / "index-light.png"), full_page=True)

    page.get_by_role("link", name="Shipping a durable publication queue").click()
    page.wait_for_load_state()
    assert page.title() == "Shipping a durable publication queue · Agent log"
    assert page.locator("h1").inner_text() == "Shipping a durable publication queue"
    assert page.locator(".prose table th").all_inner_texts() == ["Area", "Before", "After"]
    code = page.locator("pre.highlight code")
    assert "def lease" in code.inner_text()
    assert page.locator("pre.highlight .k").count() > 0  # keywords are highlighted spans
    # Highlighting is styled by the stylesheet (class-based), not inline styles.
    color = page.eval_on_selector("pre.highlight .k", "e => getComputedStyle(e).color")
    assert color not in ("", "rgb(31, 35, 40)")
    align = page.eval_on_selector(".prose td:last-child", "td => getComputedStyle(td).textAlign")
    assert align == "right"  # alignment survives the CSP that forbids inline styles
    image = page.locator(".prose img")
    assert image.get_attribute("src") == "media/diagram.png"
    assert page.eval_on_selector(".prose img", "img => img.complete && img.naturalWidth") == 320
    page.screenshot(path=str(ARTIFACTS / "post-light.png"), full_page=True)
    page.get_by_role("link", name="Build log").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Build log"
    assert page.console_errors == [] and page.dialogs == []
    page.context.close()

    dark = _page(browser, "dark")
    dark.goto(base)
    background = dark.eval_on_selector("body", "b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(16, 19, 24)"  # the dark palette follows the system setting
    dark.screenshot(path=str(ARTIFACTS / "index-dark.png"), full_page=True)
    dark.goto(base)
    dark.get_by_role("link", name="Shipping a durable publication queue").click()
    dark.wait_for_load_state()
    dark.screenshot(path=str(ARTIFACTS / "post-dark.png"), full_page=True)
    dark.context.close()


def test_trade_chart_and_devlog_gallery_render(browser, web, sample_items, serve_dir) -> None:
    site = web()
    results = site.publish(sample_items)
    base = serve_dir(site.dir)
    urls = {r.item_id: r.receipt["url"] for r in results}
    trade = next(i for i in sample_items if i.kind == "trade_journal")
    devlog = next(i for i in sample_items if i.kind == "devlog")
    page = _page(browser)
    page.goto(urls[trade.id].replace("https://example.org/log/", base))
    chart = page.locator("figure.chart img")
    assert chart.get_attribute("src") == "equity_curve.svg"
    assert page.eval_on_selector("figure.chart img", "img => img.naturalWidth") == 640
    page.screenshot(path=str(ARTIFACTS / "trade-light.png"), full_page=True)
    page.goto(urls[devlog.id].replace("https://example.org/log/", base))
    thumbs = page.locator(".gallery img")
    assert thumbs.count() == 3
    for i in range(3):  # lazily loaded images load once they are near the viewport
        thumbs.nth(i).scroll_into_view_if_needed()
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.gallery img')).every(i => i.complete)", timeout=15000
    )
    assert page.eval_on_selector_all(".gallery img", "imgs => imgs.map(i => i.naturalWidth)") == [240, 240, 240]
    assert page.locator(".gallery a").first.get_attribute("href") == "media/shot0.png"
    assert page.locator(".gallery figcaption").all_inner_texts() == ["Gameplay 1", "Gameplay 2", "Gameplay 3"]
    assert page.console_errors == []
    page.context.close()


TRADES = """# Trading journal 2025-12-02

## Trades

| # | Symbol | Side | Size | Entry | Exit | P&L | R | Held | Notes |
|--:|--------|------|-----:|------:|-----:|----:|--:|-----:|-------|
""" + "".join(
    f"| {n} | {sym} | {side} | {size} | 175.50 at 2025-12-0{n} 03:00 | 178.00 at 2025-12-0{n} 03:45 | {pnl} | 1.25R "
    f"| 45 min | {note} |\n"
    for n, (sym, side, size, pnl, note) in enumerate([
        ("AAPL", "long", 10, "+25.00", "Breakout above the opening range with volume; trailed the stop to break-even"),
        ("MSFT", "short", 5, "+50.00", ""),
        ("ESZ5", "long", 1, "-1,250.00", "Stopped out"),
    ], 1)
) + """
## By symbol

| Symbol | Trades | Win rate | Net P&L | Profit factor |
|--------|-------:|---------:|--------:|--------------:|
| AAPL | 1 | 100.0% | +25.00 | ∞ |
| ESZ5 | 1 | 0.0% | -1,250.00 | 0.00 |
"""

MEASURE = """() => {
  const cells = [...document.querySelectorAll('.prose td, .prose th')].map(c => {
    const range = document.createRange();  // the lines of the text itself, not the row's height
    range.selectNodeContents(c);
    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.bottom))).size;
    return {text: c.innerText, lines, wrap: c.classList.contains('wrap')};
  });
  const wraps = [...document.querySelectorAll('.table-wrap')].map(w => ({
    client: w.clientWidth, scroll: w.scrollWidth, overflow: getComputedStyle(w).overflowX,
    left: w.getBoundingClientRect().left, right: w.getBoundingClientRect().right}));
  const pnl = [...document.querySelectorAll('.prose th')].find(th => th.innerText === 'P&L');
  const box = pnl.closest('.table-wrap');
  return {page: document.documentElement.scrollWidth, cells, wraps,
          pnlRight: pnl.getBoundingClientRect().right - box.getBoundingClientRect().left, pnlBox: box.clientWidth};
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_trade_tables_are_readable_at_desktop_and_phone_widths(browser, web, kit, serve_dir, width) -> None:
    site = web()
    [result] = site.publish([kit.item("t", "trade_journal", session_type="trade", body=TRADES, title="Journal")])
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(result.receipt["url"].replace("https://example.org/log/", serve_dir(site.dir)))
    got = page.evaluate(MEASURE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"trade-tables-{width}.png"), full_page=True)
    assert got["page"] == width  # the page itself never scrolls sideways
    for box in got["wraps"]:
        assert box["overflow"] == "auto" and box["left"] >= 0 and box["right"] <= width
    numbers = [c for c in got["cells"] if not c["wrap"]]
    assert {c["lines"] for c in numbers} == {1}, [c for c in numbers if c["lines"] != 1]  # no cell wraps...
    notes = [c for c in got["cells"] if c["wrap"]]
    assert notes and max(c["lines"] for c in notes) <= 3  # ...but a note, and it stays short
    if width == 1280:  # the whole table is in view, P&L included
        assert got["wraps"][0]["scroll"] == got["wraps"][0]["client"] and got["pnlRight"] <= got["pnlBox"]
    else:  # the table scrolls inside its own box to reach P&L
        assert got["wraps"][0]["scroll"] > got["wraps"][0]["client"]
        page.eval_on_selector(".table-wrap", "w => { w.scrollLeft = w.scrollWidth; }")
        assert page.evaluate("document.documentElement.scrollWidth") == width
    page.context.close()


@pytest.mark.parametrize("width, across", [(1280, 4), (390, 2)])
def test_the_gallery_is_a_grid_of_captioned_thumbnails(browser, web, kit, serve_dir, width, across) -> None:
    shots = {f"media/s{i}.png": kit.png(480, 300, (40 + 20 * i, 90, 160)) for i in range(6)}
    thumbs = {f"media/s{i}.thumb.png": kit.png(240, 150, (40 + 20 * i, 90, 160)) for i in range(6)}
    images = [{"src": f"media/s{i}.png", "thumb": f"media/s{i}.thumb.png", "caption": f"Level {i + 1}",
               "alt": f"The game at level {i + 1}", "width": 240, "height": 150} for i in range(6)]
    site = web()
    [result] = site.publish([kit.item("a", "devlog", session_type="life_aria", body="# Devlog\n\nMade a game.\n",
                                      attachments=shots | thumbs, images=images)])
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(result.receipt["url"].replace("https://example.org/log/", serve_dir(site.dir)))
    boxes = page.eval_on_selector_all(".gallery img", """imgs => imgs.map(i => {
        const r = i.getBoundingClientRect(); return {x: Math.round(r.left), y: Math.round(r.top), w: r.width, alt: i.alt}; })""")
    assert len(boxes) == 6 and [b["alt"] for b in boxes] == [f"The game at level {i + 1}" for i in range(6)]
    first_row = [b for b in boxes if b["y"] == boxes[0]["y"]]
    assert len(first_row) >= across and len({b["x"] for b in first_row}) == len(first_row)
    assert page.locator(".gallery figcaption").all_inner_texts() == [f"Level {i + 1}" for i in range(6)]
    assert page.evaluate("document.documentElement.scrollWidth") == width
    page.screenshot(path=str(ARTIFACTS / f"gallery-{width}.png"), full_page=True)
    page.context.close()


@pytest.mark.parametrize("width, across", [(1280, 4), (390, 2)])
def test_a_devlogs_own_gallery_is_a_grid_too(browser, web, kit, serve_dir, width, across) -> None:
    """The devlog's Markdown shows its screenshots itself (a linked thumbnail, then its caption in
    emphasis, as flywheel-aria writes them): a grid of thumbnails, not a column of big images."""
    shots = {f"media/s{i}.png": kit.png(1280, 720, (40 + 20 * i, 90, 160)) for i in range(6)}
    thumbs = {f"media/s{i}_thumb.png": kit.png(480, 270, (40 + 20 * i, 90, 160)) for i in range(6)}
    gallery = "".join(f"[![{alt}](media/s{i}_thumb.png)](media/s{i}.png)  \n*Level {i + 1}*\n\n"
                      for i, alt in enumerate([f"Level {n}" for n in (1, 2, 3)] + ["Boss fight", "Menu", "Map"]))
    body = f"# Devlog: Game\n\nMade a game.\n\n## Gallery\n\n{gallery}## Lessons\n\n- Ship early.\n"
    site = web()
    [result] = site.publish([kit.item("a", "devlog", session_type="life_aria", body=body, attachments=shots | thumbs,
                                      images=[{"src": f"media/s{i}.png", "thumb": f"media/s{i}_thumb.png"} for i in range(6)])])
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(result.receipt["url"].replace("https://example.org/log/", serve_dir(site.dir)))
    boxes = page.eval_on_selector_all(".prose img", """imgs => imgs.map(i => {
        const r = i.getBoundingClientRect(); return {x: Math.round(r.left), y: Math.round(r.top), w: r.width, h: r.height}; })""")
    assert len(boxes) == 6 and page.locator(".gallery").count() == 0  # shown once, by the body
    first_row = [b for b in boxes if b["y"] == boxes[0]["y"]]
    assert len(first_row) >= across and len({b["x"] for b in first_row}) == len(first_row)
    assert all(b["h"] < 300 for b in boxes)  # thumbnails, not the width of the text column
    assert page.locator(".prose figcaption").all_inner_texts() == [f"Level {i + 1}" for i in range(6)]
    # Each picture is a link to the full-size image named by its alt text; a caption that only
    # repeats it is hidden from screen readers (said once), one that adds something is not.
    assert page.locator(".prose figure a").first.get_attribute("href") == "media/s0.png"
    hidden = page.eval_on_selector_all(".prose figcaption", "cs => cs.map(c => c.getAttribute('aria-hidden'))")
    assert hidden == ["true"] * 3 + [None] * 3
    assert page.evaluate("document.documentElement.scrollWidth") == width
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"devlog-gallery-{width}.png"), full_page=True)
    page.context.close()


def test_a_two_column_table_with_a_long_label_fits_a_phone(browser, web, kit, serve_dir) -> None:
    """The trade journal's Summary (Metric | Value) on a 390px phone: a label past 32 characters
    made its column a text column 18rem wide at least, and pushed the values out of view."""
    rows = [("Closed trades", "40"), ("Gross loss (after fees)", "-1,340.36"),
            ("Payoff ratio (avg win / avg loss)", "1.19"), ("Max drawdown (closed-trade P&L)", "391.40"),
            ("Longest winning streak", "3 trades")]
    table = "| Metric | Value |\n|---|--:|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)
    site = web()
    [result] = site.publish([kit.item("t", "trade_journal", session_type="trade", title="Journal",
                                      body=f"# Journal\n\n## Summary\n\n{table}")])
    page = browser.new_context(viewport={"width": 390, "height": 900}).new_page()
    page.goto(result.receipt["url"].replace("https://example.org/log/", serve_dir(site.dir)))
    box = page.eval_on_selector(".table-wrap", "w => ({scroll: w.scrollWidth, client: w.clientWidth})")
    assert box["scroll"] == box["client"]  # every value in view, nothing to scroll to
    values = page.eval_on_selector_all(".prose td:last-child", "tds => tds.map(t => t.getBoundingClientRect().right)")
    assert len(values) == len(rows) and max(values) <= 390
    page.context.close()


def test_the_first_tab_offers_to_skip_the_header_and_focus_shows(browser, web, sample_items, serve_dir) -> None:
    site = web()
    assert all(r.ok for r in site.publish(sample_items))
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.goto(serve_dir(site.dir))
    assert page.evaluate("getComputedStyle(document.querySelector('.skip')).left").startswith("-")  # hidden until used
    page.keyboard.press("Tab")
    focused = page.evaluate("""() => { const a = document.activeElement, r = a.getBoundingClientRect();
        return {text: a.textContent, left: r.left, top: r.top, outline: getComputedStyle(a).outlineStyle}; }""")
    assert focused["text"] == "Skip to content" and focused["left"] >= 0 and focused["top"] >= 0
    assert focused["outline"] == "solid"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the next stop is the first thing in the page's content, past the header's links
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert page.evaluate("document.activeElement.textContent") == "Aria"  # the newest entry's badge
    page.context.close()


def test_the_bylines_separators_are_spaced_alike(browser, web, sample_items, serve_dir) -> None:
    """'2025-12-04 · Agent-7': as much space before each dot as after (the byline was a flex row,
    whose gap put twice a space between the date and the first dot)."""
    site = web()
    receipts = [r.receipt for r in site.publish(sample_items)]
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.goto(receipts[4]["url"].replace("https://example.org/log/", serve_dir(site.dir)))  # the devlog
    before, after = page.evaluate("""() => {
        const time = document.querySelector('.post-header .meta time'), text = time.nextSibling;
        const dot = text.textContent.indexOf('·'), range = document.createRange();
        range.setStart(text, dot); range.setEnd(text, dot + 1);
        const d = range.getBoundingClientRect();
        range.setStart(text, dot + 2); range.setEnd(text, dot + 3);
        return [d.left - time.getBoundingClientRect().right, range.getBoundingClientRect().left - d.right]; }""")
    assert abs(before - after) <= 1, (before, after)
    page.context.close()
