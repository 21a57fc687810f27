"""Session text is data: ≥30 XSS payloads in every field, checked statically, in feeds, and in Chromium."""

from __future__ import annotations

import html.parser
import os
import xml.etree.ElementTree as ET
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]

PAYLOADS = [
    "<script>window.__xss=1</script>",
    "<ScRiPt>alert(1)</ScRiPt>",
    '<img src=x onerror="window.__xss=1">',
    "<img src=x onerror=alert&#40;1&#41;>",
    "<svg onload=window.__xss=1>",
    '"><script>window.__xss=1</script>',
    "'><script>window.__xss=1</script>",
    "</title><script>window.__xss=1</script>",
    "</textarea><script>alert(1)</script>",
    '" onmouseover="window.__xss=1" x="',
    "' autofocus onfocus='window.__xss=1",
    "javascript:window.__xss=1",
    "[click](javascript:window.__xss=1)",
    "[click](jav&#x09;ascript:window.__xss=1)",
    "[click](JaVaScRiPt:window.__xss=1)",
    "[click](&#106;avascript:window.__xss=1)",
    "[click](javascript&colon;window.__xss=1)",
    "[click](%6Aavascript:alert(1))",
    "[click]( \x01javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTwvc2NyaXB0Pg==)",
    "![x](javascript:window.__xss=1)",
    '![x](x" onerror="window.__xss=1)',
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    '<a href="javascript:window.__xss=1">x</a>',
    '<iframe src="javascript:window.__xss=1"></iframe>',
    '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    "<body onload=window.__xss=1>",
    "<details open ontoggle=window.__xss=1>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    '<base href="javascript:/"><meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<svg><a xlink:href="javascript:alert(1)"><text y="20">x</text></a></svg>',
    "<!--<img src=\"--><img src=x onerror=window.__xss=1//\">",
    "]]><script>alert(1)</script><![CDATA[",
    "{{ 7*7 }}{% if true %}jinja{% endif %}",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "\x00\x01\x08\x0b\ufffe NUL and control characters \u2028\u2029",
    "<<script>script>window.__xss=1<</script>/script>",
]


def _session(index: int, payload: str, kit: Any) -> list[Any]:
    """One session carrying ``payload`` in every field a generator could pass through."""
    sid = f"xss-{index:02d}"
    body = (
        f"# {payload}\n\n{payload}\n\n"
        f"## Trade notes\n\n| symbol | notes |\n|---|---|\n| AAPL | {payload.replace('|', '')} |\n\n"
        f"## Conversation\n\n> {payload}\n\n"
        f"[{payload}](https://example.org/?q={index})\n\n```\n{payload}\n```\n"
    )
    common = dict(
        title=f"T{index} {payload}", summary=f"S {payload}", tags=[payload, f"tag{index}"], project=payload,
        agent_id=payload, technologies=[payload], image=payload,
        images=[{"src": payload, "thumb": "media/ok.png", "caption": payload},
                {"src": "media/ok.png", "thumb": payload, "caption": payload}],
        provenance={"commits": [{"hash": payload, "message": payload, "url": payload},
                                {"hash": "abc1234", "message": f"fix: {payload}", "url": "javascript:alert(1)"}],
                    "trades": 1, "symbols": [payload], "conversations": payload},
    )
    files = {"media/ok.png": kit.png(8, 8, (200, 40, 40)), "evil.html": b"<script>alert(1)</script>",
             "../escape.svg": b"<svg onload=alert(1)/>", f"{payload[:40]}.png": b"x",
             "media/bad.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script>'
                              b'<a href="javascript:alert(1)"><text>t</text></a></svg>'}
    session_type = ("build", "trade", "life_aria")[index % 3]
    kind = {"build": "blog_post", "trade": "trade_journal", "life_aria": "devlog"}[session_type]
    return [
        kit.item(sid, kind, session_type=session_type, body=body, attachments=files, **common),
        kit.item(sid, "build_log", session_type=session_type, body=f"# {payload}\n\n{payload}\n", **common),
    ]


@pytest.fixture
def xss_site(web, kit) -> Any:
    site = web(title="XSS <script>alert(1)</script>", description='"><img src=x onerror=alert(1)>',
               author="</title><script>alert(1)</script>", per_page=10)
    items = [item for i, payload in enumerate(PAYLOADS) for item in _session(i, payload, kit)]
    draft = kit.item("xss-draft", "blog_post", body=PAYLOADS[0], title=PAYLOADS[2], draft=True)
    results = site.publish([*items, draft])
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return site


class _Audit(html.parser.HTMLParser):
    """Collects what could run: script elements, event handlers, dangerous URLs and elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.findings: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        from flywheel_publish_web.markup import url_scheme

        if tag in ("script", "iframe", "object", "embed", "base", "form", "style", "svg", "math", "frame"):
            self.findings.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.findings.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "formaction", "data", "poster", "xlink:href") and value:
                if url_scheme(value) not in (None, "http", "https", "mailto"):
                    self.findings.append(f"{tag}[{name}={value[:40]}]")
            if tag == "meta" and name == "http-equiv" and value and value.lower() == "refresh":
                self.findings.append("meta refresh")


def audit(text: str) -> list[str]:
    parser = _Audit()
    parser.feed(text)
    return parser.findings


def test_corpus_is_big_enough() -> None:
    assert len(PAYLOADS) >= 30


def test_no_page_contains_anything_that_runs(xss_site) -> None:
    pages = sorted(xss_site.dir.rglob("*.html"))
    assert len(pages) > 2 * len(PAYLOADS)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert audit(text) == [], page
        assert "49" not in text.split("{{ 7*7 }}")[0][-5:]  # template syntax in content is never evaluated
    assert "{{ 7*7 }}" in xss_site.read("archive/2025/12/index.html")
    # Only plain relative attachment names of harmless types were copied; SVG scripts are gone.
    copied = {p.name for p in xss_site.dir.rglob("*") if p.is_file() and not p.name.endswith((".html", ".xml"))}
    assert "evil.html" not in copied and "escape.svg" not in copied
    assert not list(xss_site.dir.parent.glob("escape.svg"))
    for svg in xss_site.dir.rglob("bad.svg"):
        data = svg.read_text()
        assert "script" not in data and "onload" not in data and "javascript" not in data


def test_feeds_stay_well_formed_and_inert(xss_site) -> None:
    import feedparser

    for name in ("feed.xml", "rss.xml"):
        raw = (xss_site.dir / name).read_bytes()
        root = ET.fromstring(raw)  # well-formed XML, whatever the titles held
        assert root.tag in ("{http://www.w3.org/2005/Atom}feed", "rss")
        parsed = feedparser.parse(raw)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert len(parsed.entries) == 20
        for element in root.iter():
            if element.tag.endswith(("content", "description", "summary")) and element.text:
                assert audit(element.text) == [], (name, element.text[:200])
    sitemap = ET.fromstring((xss_site.dir / "sitemap.xml").read_bytes())
    assert len(sitemap) > len(PAYLOADS)


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed at /usr/bin/chromium "
                    "(run scripts/install-system-deps.sh as root)")
def test_corpus_in_chromium_fires_nothing(xss_site, serve_dir) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed ([test] extra)")
    base = serve_dir(xss_site.dir)
    paths = sorted(str(p.relative_to(xss_site.dir)) for p in xss_site.dir.rglob("*.html"))
    # Every post and companion page, every index page, the archive, tags index and a few tag pages.
    chosen = [p for p in paths if not p.startswith("tags/")] + ["tags/index.html"] + \
        [p for p in paths if p.startswith("tags/")][:8]
    dialogs: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in chosen:
            page.goto(base + path)
            page.mouse.move(200, 300)  # hover handlers, if any had survived
            state = page.evaluate("""() => ({
                sentinel: typeof window.__xss,
                scripts: document.querySelectorAll('script').length,
                handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
                    .filter(a => a.name.startsWith('on')).map(a => e.tagName + '[' + a.name + ']')),
                links: [...document.querySelectorAll('a[href], img[src], link[href]')]
                    .map(e => new URL(e.href || e.src, location.href).protocol)
                    .filter(p => !['http:', 'https:', 'mailto:'].includes(p)),
                frames: document.querySelectorAll('iframe, object, embed, base').length,
            })""")
            assert state == {"sentinel": "undefined", "scripts": 0, "handlers": [], "links": [], "frames": 0}, path
        # Title and text show the payloads literally.
        page.goto(base + "archive/2025/12/index.html")
        assert "<script>window.__xss=1</script>" in page.inner_text("main")
        browser.close()
    assert dialogs == []
