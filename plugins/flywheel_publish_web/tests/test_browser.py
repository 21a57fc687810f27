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
