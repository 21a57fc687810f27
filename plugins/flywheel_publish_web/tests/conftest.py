"""Shared fixtures: real PublishItems, a real config and publish context, a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import itertools
import struct
import threading
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

_ids = itertools.count(1)


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG (a vertical gradient of ``rgb``), without any imaging library."""
    rows = b"".join(
        b"\x00" + bytes([min(255, c + y // 2) for c in rgb]) * width for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


EQUITY_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 220" width="640" height="220">'
    b'<rect width="640" height="220" fill="#ffffff"/>'
    b'<g stroke="#e5e7eb">' + b"".join(b'<line x1="40" x2="620" y1="%d" y2="%d"/>' % (y, y) for y in (30, 80, 130, 180)) + b"</g>"
    b'<polyline fill="none" stroke="#17804a" stroke-width="3" points="40,180 120,160 200,170 280,120 360,130 440,80 520,90 620,40"/>'
    b'<text x="40" y="20" font-family="sans-serif" font-size="13" fill="#374151">Equity curve (USD)</text></svg>'
)


def make_item(
    session_id: str = "s-001",
    kind: str = "blog_post",
    *,
    session_type: str = "build",
    ext: str = "md",
    body: str | bytes = "# Title\n\nHello.\n",
    attachments: dict[str, bytes] | None = None,
    **meta: Any,
) -> Any:
    """A PublishItem as the queue would hand it over; ``meta`` overrides the defaults."""
    from flywheel_core import PublishItem

    content = body.encode() if isinstance(body, str) else body
    files = {f"{kind}.{ext}": content, **(attachments or {})}
    full_meta = {
        "title": "A session",
        "summary": "What happened.",
        "tags": [],
        "draft": False,
        "date": "2025-12-02T05:20:00Z",
        "session_id": session_id,
        "session_type": session_type,
        "agent_id": "Agent-7",
        "kind": kind,
        "ext": ext,
        **meta,
    }
    return PublishItem(
        id=next(_ids), target="web", session_id=session_id, session_type=session_type, kind=kind,
        ext=ext, sha256=hashlib.sha256(content).hexdigest(), files=files, meta=full_meta,
    )


BLOG = """# Shipping a durable publication queue

*2025-12-02 · Agent-7 · flywheel*

Crash-safe publishing with SQLite, leases and backoff.

The queue now survives crashes: every change is one SQLite transaction, and a killed
publisher's lease simply expires.

## What changed

| Area | Before | After |
|------|--------|------:|
| Storage | one JSON file | SQLite (WAL) |
| Retries | none | exponential backoff |
| P&L of bugs | high | ~~high~~ low |

```python
def lease(conn, seconds: float) -> int:
    \"\"\"Take the next due item for a while.\"\"\"
    with conn:  # BEGIN IMMEDIATE
        return conn.execute("UPDATE queue SET state = 'publishing'").rowcount
```

> Nothing is marked published until the target confirms.

![Architecture](media/diagram.png)

---

Made from session `build-1` and these commits:

- `abc123def456` feat: add publication queue
- `def456abc123` fix: retry on lock
"""

JOURNAL = """# Trading journal: AAPL and MSFT

Session `trade-1` by Agent-7, 3 h 00 min.

5 trades, net P&L +325.75, win rate 80%, max drawdown 50.00.

| Metric | Value |
|--------|-------|
| Net P&L | 325.75 |
| Win rate | 80.0% |
| Max drawdown | 50.00 |

Two clean trend days; one stop hit on MSFT.
"""

DEVLOG = """# SpaceExplorer: multiplayer and physics

*2025-12-04 · Agent-7 · 1 h 30 min*

A browser game with real-time multiplayer, physics and dynamic lighting.

Built a small game with React and Three.js: real-time multiplayer over WebSocket,
a physics step at 60 Hz and dynamic lighting.

- `WebSocket` rooms of up to eight players
- fixed-step physics, interpolated rendering
"""


@pytest.fixture
def sample_items() -> list[Any]:
    """A build post (with a companion build log), a trade journal with its chart, a devlog with a gallery."""
    return [
        make_item("build-1", "blog_post", body=BLOG, title="Shipping a durable publication queue",
                  summary="Crash-safe publishing with SQLite, leases and backoff.", tags=["python", "sqlite"],
                  project="flywheel", attachments={"media/diagram.png": png(320, 120, (60, 110, 200))},
                  provenance={"commits": [
                      {"hash": "abc123def4567890", "message": "feat: add publication queue", "url": "https://github.com/o/r/commit/abc123"},
                      {"hash": "def456abc1234567", "message": "fix: retry on lock", "url": "https://github.com/o/r/commit/def456"},
                  ]}),
        make_item("build-1", "build_log", body="# Build log\n\n- 3 commits\n- 8 files changed\n",
                  title="Build log", project="flywheel"),
        make_item("trade-1", "trade_journal", session_type="trade", body=JOURNAL, date="2025-12-03T21:00:00Z",
                  title="Trading journal: AAPL and MSFT", summary="5 trades, net P&L +325.75, win rate 80%, max drawdown 50.00.",
                  project="desk", image="equity_curve.svg", attachments={"equity_curve.svg": EQUITY_SVG},
                  provenance={"trades": 5, "symbols": ["AAPL", "MSFT"]}),
        make_item("trade-1", "trade_metrics", session_type="trade", ext="json", body=b'{"net_pnl": 325.75}',
                  date="2025-12-03T21:00:00Z", title="Trade metrics 2025-12-03"),
        make_item("aria-1", "devlog", session_type="life_aria", body=DEVLOG, date="2025-12-04T09:30:00Z",
                  title="SpaceExplorer: multiplayer and physics", summary="A browser game with real-time multiplayer, physics and dynamic lighting.",
                  technologies=["React", "Three.js", "WebSocket"], project="spaceexplorer",
                  attachments={f"media/shot{i}.png": png(480, 300, (40 + 60 * i, 90, 160)) for i in range(3)}
                  | {f"media/shot{i}.thumb.png": png(240, 150, (40 + 60 * i, 90, 160)) for i in range(3)},
                  images=[{"src": f"media/shot{i}.png", "thumb": f"media/shot{i}.thumb.png", "caption": f"Gameplay {i + 1}"}
                          for i in range(3)],
                  provenance={"conversations": 1}),
    ]


@pytest.fixture
def web(tmp_path: Path) -> Callable[..., Any]:
    """``web(**table)`` -> a Site helper with a real config file, publish context and settings
    (in ``tmp_path``, or in the folder ``root=`` names, for a second site; ``queue_url=``: the
    content store in that PostgreSQL queue)."""

    class Site:
        def __init__(self, *, root: Path | None = None, queue_url: str | None = None, **table: Any) -> None:
            from flywheel_core import PublishContext, load_config

            from flywheel_publish_web.publish import settings_for

            table = {"base_url": "https://example.org/log/", "title": "Agent log", **table}
            self.table = {k: v for k, v in table.items() if v is not None}  # base_url=None: leave it out
            (root or tmp_path).mkdir(parents=True, exist_ok=True)
            self.config_path = (root or tmp_path) / "flywheel.toml"
            queue = f'[queue]\nurl = "{queue_url}"\n' if queue_url else ""
            self.config_path.write_text(queue + _toml(self.table), encoding="utf-8")
            self.config = load_config(self.config_path)
            self.ctx = PublishContext(config=self.config, state_dir=self.config.state_dir)
            self.settings = settings_for(self.config.target_config("web"), self.ctx)
            self.dir = self.settings.site_dir

        def publish(self, items: list[Any], **kw: Any) -> list[Any]:
            from flywheel_publish_web.plugin import flywheel_publish

            ctx = self.ctx if not kw.get("dry_run") else type(self.ctx)(
                config=self.config, state_dir=self.config.state_dir, dry_run=True)
            return flywheel_publish(target="web", items=items, config=self.config.target_config("web"), ctx=ctx)

        def build(self, full: bool = False) -> Any:
            from flywheel_publish_web.build import build_site

            return build_site(self.settings, full=full)

        def store(self) -> Any:
            """The site's content store (close it after use)."""
            from flywheel_publish_web.store import ContentStore

            return ContentStore(self.settings)

        def read(self, path: str) -> str:
            return (self.dir / path).read_text(encoding="utf-8")

        def html_pages(self) -> set[str]:
            return {str(p.relative_to(self.dir)) for p in self.dir.rglob("*.html")}

    return Site


def _toml(table: dict[str, Any], prefix: str = "targets.web") -> str:
    import json

    flat = {k: v for k, v in table.items() if not isinstance(v, dict)}
    lines = [f"[{prefix}]"] + [f"{k} = {json.dumps(v)}" for k, v in flat.items()]
    for key, sub in table.items():
        if isinstance(sub, dict):
            lines.append(_toml(sub, f"{prefix}.{key}"))
    return "\n".join(lines) + "\n"


@pytest.fixture
def serve_dir() -> Iterator[Callable[[Path], str]]:
    """Serve a folder on 127.0.0.1 (a real HTTP server in a thread); returns its base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    def start(folder: Path) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "dt", "td", "th", "figcaption", "pre", "blockquote",
           "div", "section", "article", "header", "footer", "nav", "main", "tr", "ul", "ol", "dl", "figure", "br"}


def repeated_sentences(page: str, shortest: int = 40) -> list[str]:
    """Sentences of ``shortest`` characters or more that a reader sees twice or more on a page."""
    import collections
    import html.parser
    import re

    class Text(html.parser.HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.blocks: list[str] = []
            self.words: list[str] = []
            self.hidden = 0
            self.body = False

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.body = self.body or tag == "body"
            self.hidden += tag in ("script", "style", "template")
            if tag in _BLOCKS:
                self.flush()

        def handle_endtag(self, tag: str) -> None:
            self.hidden -= tag in ("script", "style", "template")
            if tag in _BLOCKS:
                self.flush()

        def handle_data(self, data: str) -> None:
            if self.body and not self.hidden:
                self.words.append(data)

        def flush(self) -> None:
            if text := " ".join("".join(self.words).split()):
                self.blocks.append(text)
            self.words = []

    parser = Text()
    parser.feed(page)
    parser.flush()
    sentences = [s.strip() for block in parser.blocks for s in re.split(r"(?<=[.!?])\s+", block)]
    counts = collections.Counter(s for s in sentences if len(s) >= shortest)
    return sorted(s for s, n in counts.items() if n > 1)


@pytest.fixture
def kit() -> Any:
    """Helpers for tests: ``kit.item(...)``, ``kit.png(w, h, rgb)``, ``kit.svg``, ``kit.repeated_sentences(html)``."""
    import types

    return types.SimpleNamespace(item=make_item, png=png, svg=EQUITY_SVG, repeated_sentences=repeated_sentences)


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/pages.git"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()
