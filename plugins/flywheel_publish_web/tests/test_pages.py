"""What each page says: every thing once (no sentence twice, one summary, one date line, one provenance)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _every_page_type(web, kit, sample_items):
    """A site with every page type: a post of each session type, a companion, the front page and a
    numbered page, tag pages, the archive and a month, the 404 page, and a draft."""
    site = web(per_page=2)
    more = [kit.item(f"old-{n}", title=f"Older post {n}", date=f"2025-11-0{n}T10:00:00Z", tags=["python"],
                     summary=f"Older session number {n}, which makes the front page longer than one page.")
            for n in range(1, 4)]
    draft = kit.item("draft", title="Unfinished", draft=True, date="2025-12-05T00:00:00Z")
    assert all(r.ok for r in site.publish([*sample_items, *more, draft]))
    return site


def test_no_sentence_is_said_twice_on_any_page(web, kit, sample_items) -> None:
    site = _every_page_type(web, kit, sample_items)
    pages = site.html_pages()
    kinds = {"index.html", "page/1/index.html", "404.html", "archive/index.html", "archive/2025/12/index.html",
             "tags/index.html", "tags/python/index.html"}
    assert kinds <= pages
    assert {p.split("/")[0] for p in pages} >= {"build", "trade", "life_aria"}
    for path in sorted(pages):
        assert kit.repeated_sentences(site.read(path)) == [], path


def test_the_checker_catches_a_repeat(kit) -> None:
    sentence = "Crash-safe publishing with SQLite, leases and backoff."
    page = f"<html><head><title>{sentence}</title></head><body><p>{sentence}</p><p>Once more. {sentence}</p></body></html>"
    assert kit.repeated_sentences(page) == [sentence]
    assert kit.repeated_sentences(page.replace("Once more. " + sentence, "Something else.")) == []


def test_a_post_shows_its_summary_date_line_and_commits_once(web, sample_items) -> None:
    site = web()
    receipts = [r.receipt for r in site.publish(sample_items)]
    blog = Path(receipts[0]["path"]).read_text()
    header, body = blog.split("</head>")[1].split("<div class=\"prose\">")
    assert "Crash-safe publishing" not in header  # the body says the summary: no lede
    assert body.count("Crash-safe publishing") == 1
    assert "2025-12-02 · Agent-7" not in blog  # the body's date line went into the header
    assert blog.count('<time datetime="2025-12-02T05:20:00Z">') == 1
    assert blog.count("feat: add publication queue") == 1  # the body lists the commits: not the provenance
    # The body says "Made from session `build-1`": the provenance does not say it again.
    assert "<dt>Commits</dt>" not in blog and "<dt>Session</dt>" not in blog and blog.count("build-1") == 1
    devlog = Path(receipts[4]["path"]).read_text()
    assert "Agent-7 · 1 h 30 min</p>" in devlog  # what the date line said beyond the header's facts
    # A summary the body does not say is the lede; commits the body does not list are in the provenance.
    log = Path(receipts[1]["path"]).read_text()
    assert "<dt>Commits</dt>" in log and log.count("feat: add publication queue") == 1
    assert "<dt>Session</dt><dd><code>build-1</code></dd>" in log  # its body does not name the session


@pytest.mark.parametrize("example", ["build_session.json", "trade_session.json", "life_aria_session.json"])
def test_the_page_adds_no_repeat_to_what_the_real_generators_wrote(example, tmp_path, monkeypatch, flywheel_cli,
                                                                    kit) -> None:
    pytest.importorskip({"build_session.json": "flywheel_build", "trade_session.json": "flywheel_trade",
                         "life_aria_session.json": "flywheel_aria"}[example])
    shutil.copy(ROOT / "examples" / example, tmp_path / example)
    (tmp_path / "flywheel.toml").write_text('[targets.web]\nbase_url = "https://example.org/"\n')
    monkeypatch.chdir(tmp_path)
    result = flywheel_cli("run", example, "--publish")
    assert result.exit_code == 0, result.output
    artifacts = json.loads((tmp_path / example).read_text())["artifacts"]
    for kind, record in artifacts.items():
        receipt = record.get("published_to", {}).get("web")
        if not receipt:
            continue
        page = Path(receipt["path"]).read_text()
        if not receipt["path"].endswith(".html"):
            continue
        markdown = Path(record["path"]).read_text()
        # Whatever repeats on the page already repeats in the artifact itself (its generator's to fix).
        said_twice_by_the_body = {s for s in kit.repeated_sentences(page) if markdown.count(s[:30]) > 1}
        assert kit.repeated_sentences(page) == sorted(said_twice_by_the_body), kind
        # The session id once (the blog post says "Made from session …": not in the provenance too).
        session_id = json.loads((tmp_path / example).read_text())["session_id"]
        assert _visible(page).count(session_id) == 1, kind
        # Tags: not the session type (the badge says it), no internal id, no near-duplicate.
        tags = re.findall(r'<li><a href="[^"]*tags/[^"]*/">#([^<]*)</a></li>', page.split('<div class="prose">')[0])
        assert "life_aria" not in _visible(page) and len({t.lower()[:5] for t in tags}) == len(tags), tags
        # One date style on the page: the byline's as the title's ("Trading journal 2025-12-02").
        assert re.search(r'<time datetime="[^"]+">(\d{4}-\d\d-\d\d)</time>', page), kind
        assert not _OTHER_DATE_STYLE.search(_visible(page)), _OTHER_DATE_STYLE.search(_visible(page))


_OTHER_DATE_STYLE = re.compile(r"\b\d{1,2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{4}\b")


def _visible(page: str) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", page.split("<body>")[1]))


def test_a_session_with_nothing_to_say_is_a_draft_until_forced(web, kit, flywheel_cli) -> None:
    site = web()
    empty = {"provenance": {"commits": [], "session": "uuid-here"}}
    items = [kit.item("uuid-here", title="repo: Work session", **empty),
             kit.item("uuid-here", "build_log", title="Build log: repo, 2025-12-02", **empty),
             kit.item("real", title="Shipping the queue", date="2025-12-01T00:00:00Z",
                      provenance={"commits": [{"hash": "abc1234", "message": "feat: queue"}]})]
    dry = site.publish(items, dry_run=True)
    results = site.publish(items)
    assert [r.receipt for r in dry] == [r.receipt for r in results]
    assert [r.receipt.get("draft") for r in results] == [True, True, None]
    page = Path(results[0].receipt["path"]).read_text()
    assert '<meta name="robots" content="noindex">' in page and "flywheel site build --force" in page
    for listing in ("index.html", "feed.xml", "archive/2025/12/index.html"):
        assert "Work session" not in site.read(listing) and "Shipping the queue" in site.read(listing), listing
    sitemap = site.read("sitemap.xml")
    assert results[0].receipt["url"] not in sitemap and results[2].receipt["url"] in sitemap

    forced = flywheel_cli("site", "build", "--config", site.config_path)
    assert forced.exit_code == 0 and "Work session" not in site.read("index.html")
    forced = flywheel_cli("site", "build", "--force", "--config", site.config_path)
    assert forced.exit_code == 0, forced.output
    assert "listed 2 pages kept as drafts" in forced.stdout
    assert "Work session" in site.read("index.html") and "noindex" not in Path(results[0].receipt["path"]).read_text()
    # A new version of a listed page stays listed, and says so in its receipt.
    again = site.publish([kit.item("uuid-here", title="repo: Work session", body="# v2\n", **empty)])
    assert "draft" not in again[0].receipt and "Work session" in site.read("index.html")


def test_the_seeds_minimal_session_is_kept_as_a_draft(tmp_path, monkeypatch, flywheel_cli) -> None:
    pytest.importorskip("flywheel_build")
    shutil.copy(ROOT / "examples" / "minimal_build_session.json", tmp_path / "s.json")
    (tmp_path / "flywheel.toml").write_text('[targets.web]\nbase_url = "https://example.org/"\n')
    monkeypatch.chdir(tmp_path)
    result = flywheel_cli("run", "s.json", "--publish")
    assert result.exit_code == 0, result.output
    receipt = json.loads((tmp_path / "s.json").read_text())["artifacts"]["blog_post"]["published_to"]["web"]
    assert receipt["draft"] is True
    assert "Work session" not in (tmp_path / "site" / "index.html").read_text()


@pytest.mark.parametrize("image, files, preview", [
    ("equity_curve.png", ("equity_curve.svg", "equity_curve.png"), "equity_curve.png"),  # the trade plugin's PNG
    ("equity_curve.svg", ("equity_curve.svg", "equity_curve.png"), "equity_curve.png"),  # a PNG beside the SVG
    ("equity_curve.svg", ("equity_curve.svg",), None),  # networks ignore SVG previews: none
])
def test_link_previews_use_a_raster_image(web, kit, image, files, preview) -> None:
    data = {"equity_curve.svg": kit.svg, "equity_curve.png": kit.png(640, 220, (23, 128, 74))}
    site = web()
    [result] = site.publish([kit.item("t", "trade_journal", session_type="trade", image=image,
                                      attachments={name: data[name] for name in files})])
    page = Path(result.receipt["path"]).read_text()
    if preview:
        assert f'<meta property="og:image" content="{result.receipt["url"]}{preview}">' in page
        assert '<meta name="twitter:card" content="summary_large_image">' in page
        assert (Path(result.receipt["path"]).parent / preview).is_file()
    else:
        assert "og:image" not in page and '<meta name="twitter:card" content="summary">' in page


# The build plugin's blog post as it writes it today: the opening cites each commit in inline code.
CITED = ("# Added a Phase 3 publication system\n\n*2025-12-02*\n\nIn a two-hour session, Agent-7 added a Phase 3 "
         "publication system: a publish queue manager and a GitHub publisher (`abc123d`), then a website publisher "
         "(`def456ghi789`).\n\n---\n\n*3 commits (2 listed) · 8 files changed · 2 h of work.*\n")


@pytest.mark.parametrize("summary", [
    # The opening without its citations (what listings and feeds show), and with them.
    "In a two-hour session, Agent-7 added a Phase 3 publication system: a publish queue manager and a GitHub "
    "publisher, then a website publisher.",
    "In a two-hour session, Agent-7 added a Phase 3 publication system: a publish queue manager and a GitHub "
    "publisher (`abc123d`), then a website publisher (`def456ghi789`).",
])
def test_a_summary_the_body_says_with_citations_is_no_lede(web, kit, summary) -> None:
    site = web()
    [result] = site.publish([kit.item("a1b2", "blog_post", body=CITED, title="Added a Phase 3 publication system",
                                       summary=summary)])
    page = Path(result.receipt["path"]).read_text()
    header = page.split("</head>")[1].split('<div class="prose">')[0]
    assert 'class="lede"' not in header and "publish queue manager" not in header  # was: shown above the post
    assert page.split("</head>")[1].count("a publish queue manager and a GitHub publisher") == 1


def test_a_summary_saying_more_than_the_body_is_still_the_lede(web, kit) -> None:
    site = web()
    summary = "In a two-hour session, Agent-7 added a Phase 3 publication system and a Mastodon publisher."
    [result] = site.publish([kit.item("a1b2", "blog_post", body=CITED, title="Added a Phase 3 publication system",
                                       summary=summary)])
    assert '<p class="lede">' + summary + "</p>" in Path(result.receipt["path"]).read_text()


def test_a_gallery_caption_that_repeats_the_alt_text_is_said_once(web, kit) -> None:
    """A screenshot without a description has its caption as alt text: a screen reader read the
    link's alt text, then the same caption again."""
    shots = {f"media/s{i}.png": kit.png(48, 30, (40, 90, 160)) for i in range(2)}
    images = [{"src": "media/s0.png", "caption": "Level 1"},
              {"src": "media/s1.png", "caption": "Level 2", "alt": "The boss fight at level 2"}]
    site = web()
    [result] = site.publish([kit.item("a", "devlog", session_type="life_aria", body="# Devlog\n\nMade a game.\n",
                                      attachments=shots, images=images)])
    page = Path(result.receipt["path"]).read_text()
    assert 'alt="Level 1"' in page and '<figcaption aria-hidden="true">Level 1</figcaption>' in page
    assert 'alt="The boss fight at level 2"' in page and "<figcaption>Level 2</figcaption>" in page
