"""Publishing to the web target: receipts, pages, tags, drafts, feeds, sitemap, incremental and atomic builds."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ATOM = "{http://www.w3.org/2005/Atom}"


def _snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """path -> (inode, mtime_ns, bytes) of every file: what a rewrite would change."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(folder))] = (st.st_ino, st.st_mtime_ns, path.read_bytes())
    return out


def test_receipts_are_urls_and_republishing_is_a_no_op(web, sample_items) -> None:
    site = web()
    first = site.publish(sample_items)
    assert all(r.ok for r in first)
    receipts = {r.item_id: r.receipt for r in first}
    blog, log, journal, metrics, devlog = sample_items
    url = receipts[blog.id]["url"]
    assert re.fullmatch(r"https://example\.org/log/build/2025/12/shipping-a-durable-publication-queue-[0-9a-f]{8}/", url)
    assert re.fullmatch(r"https://example\.org/log/build/2025/12/build-log-[0-9a-f]{8}/", receipts[log.id]["url"])
    assert re.fullmatch(r"https://example\.org/log/trade/2025/12/trade-metrics-2025-12-03-[0-9a-f]{8}/trade_metrics\.json",
                        receipts[metrics.id]["url"])
    for receipt in receipts.values():  # each receipt names a file that is there, at its URL
        assert Path(receipt["path"]).is_file()
        relative = receipt["url"][len("https://example.org/log/"):]
        assert Path(receipt["path"]) == site.dir / (relative + "index.html" if relative.endswith("/") else relative)
    page = Path(receipts[blog.id]["path"]).read_text()
    assert page.count("Shipping a durable publication queue") >= 2
    assert 'href="../../../../' + receipts[log.id]["url"][len("https://example.org/log/"):] + '"' in page
    assert 'href="../../../../' + url[len("https://example.org/log/"):] + '"' in Path(receipts[log.id]["path"]).read_text()

    before = _snapshot(site.dir)
    again = site.publish(sample_items)
    assert [r.receipt for r in again] == [r.receipt for r in first]
    assert _snapshot(site.dir) == before  # not one file rewritten


def test_a_new_version_replaces_the_page_and_a_new_title_leaves_a_redirect(web, kit) -> None:
    site = web()
    v1 = site.publish([kit.item("s1", body="# Old\n\nfirst version\n", title="Old title", tags=["alpha"])])[0]
    v2 = site.publish([kit.item("s1", body="# Old\n\nsecond version\n", title="Old title", tags=["beta"])])[0]
    assert v1.receipt["url"] == v2.receipt["url"]
    page = Path(v2.receipt["path"]).read_text()
    assert "second version" in page and "first version" not in page
    assert not (site.dir / "tags/alpha").exists()  # the old tag page went with the old version
    assert (site.dir / "tags/beta/index.html").exists()
    # Retitled: the address follows the title, and the old address sends readers to the new one.
    v3 = site.publish([kit.item("s1", body="# New\n\nthird version\n", title="New title")])[0]
    assert "/new-title-" in v3.receipt["url"] and v3.receipt["url"] != v1.receipt["url"]
    moved = Path(v1.receipt["path"]).read_text()
    new_path = v3.receipt["url"][len("https://example.org/log/"):]
    assert f'<meta http-equiv="refresh" content="0; url=../../../../{new_path}">' in moved
    assert f'<link rel="canonical" href="{v3.receipt["url"]}">' in moved and "noindex" in moved
    assert v1.receipt["url"] not in site.read("sitemap.xml")
    v4 = site.publish([kit.item("s1", body="# Newer\n\nfourth\n", title="Newest title")])[0]
    for old in (v1, v3):  # every earlier address still leads to the page
        assert v4.receipt["url"][len("https://example.org/log/"):] in Path(old.receipt["path"]).read_text()


def test_bad_items_fail_alone(web, kit) -> None:
    site = web()
    good = kit.item("ok")
    no_date = kit.item("nodate", date="")
    bad_type = kit.item("badtype", session_type="../etc")
    missing = kit.item("missing")
    missing.files = {}
    results = site.publish([good, no_date, bad_type, missing])
    assert [r.ok for r in results] == [True, False, False, False]
    assert "meta.date" in results[1].error
    assert "session type" in results[2].error
    assert "missing" in results[3].error
    assert not (site.dir.parent / "etc").exists()


def test_index_pagination_newest_first_and_prev_next_within_a_project(web, kit) -> None:
    site = web(per_page=2)
    items = [kit.item(f"s{i}", title=f"Post {i}", date=f"2025-12-0{i}T10:00:00Z",
                      project="alpha" if i % 2 else "beta") for i in range(1, 6)]
    site.publish(items)
    titles = lambda page: re.findall(r'<h2><a href="[^"]+">([^<]+)</a></h2>', site.read(page))  # noqa: E731
    # The front page has the newest per_page; /page/N/ count from the oldest, so they never shift.
    assert titles("index.html") == ["Post 5", "Post 4"]
    assert titles("page/2/index.html") == ["Post 3"]
    assert titles("page/1/index.html") == ["Post 2", "Post 1"]
    assert 'href="./page/2/"' in site.read("index.html")
    assert 'href="../../page/1/"' in site.read("page/2/index.html") and 'href="../../"' in site.read("page/2/index.html")
    assert "Older" not in site.read("page/1/index.html") and "Sessions from 2025-12-01 to 2025-12-02" in site.read("page/1/index.html")
    post3 = next(site.dir.glob("build/2025/12/post-3-*/index.html")).read_text()
    assert "Previous in alpha" in post3 and "Post 1" in post3 and "Next in alpha" in post3 and "Post 5" in post3
    assert "Post 2" not in post3  # another project


def test_tags_from_type_project_symbols_technologies_and_explicit(web, sample_items) -> None:
    site = web()
    site.publish(sample_items)
    tags = {p.parent.name for p in site.dir.glob("tags/*/index.html")}
    assert {"python", "sqlite", "build", "flywheel", "trade", "desk", "aapl", "msft", "life-aria",
            "react", "three-js", "websocket", "spaceexplorer"} <= tags
    aapl = site.read("tags/aapl/index.html")
    assert "Trading journal: AAPL and MSFT" in aapl and "Shipping" not in aapl
    assert "#AAPL" in site.read("tags/index.html")


def test_tags_leave_out_the_session_type_internal_ids_and_near_duplicates(web, kit) -> None:
    site = web()
    # Shaped like the trade and aria generators' items: the type among the tags, a project
    # that repeats it in other words, technologies that repeat a tag.
    trade = kit.item("t-1", "trade_journal", session_type="trade", title="Trading journal 2025-12-02",
                     tags=["trade", "MSFT", "AAPL"], project="trading", provenance={"trades": 2, "symbols": ["AAPL", "MSFT"]})
    aria = kit.item("a-1", "devlog", session_type="life_aria", title="Devlog: SpaceExplorer", date="2025-12-03T00:00:00Z",
                    tags=["React", "Three.js", "WebSocket", "life_aria"], project="SpaceExplorer",
                    technologies=["React", "threejs"], provenance={"conversations": 1})
    receipts = [r.receipt for r in site.publish([trade, aria])]

    def shown(page: str) -> list[str]:
        header = page.split('<header class="post-header">')[1].split("</header>")[0]
        return re.findall(r'<li><a href="[^"]*">#([^<]*)</a></li>', header)

    trade_page, aria_page = (Path(r["path"]).read_text() for r in receipts)
    assert shown(trade_page) == ["MSFT", "AAPL"]
    assert shown(aria_page) == ["React", "Three.js", "WebSocket", "SpaceExplorer"]
    assert '<a class="badge badge-life_aria" href="../../../../tags/life-aria/">Aria</a>' in aria_page
    # The type keeps its tag page at the address it always had, named for readers.
    assert "<h1 class=\"page-title\">#Aria</h1>" in site.read("tags/life-aria/index.html")
    assert "Trading journal" in site.read("tags/trade/index.html")
    for path in site.html_pages():
        assert "life_aria" not in re.sub(r"<[^>]+>", " ", site.read(path)), path
    # The near-duplicate's old tag page sends readers to the one shown.
    moved = site.read("tags/trading/index.html")
    assert 'content="0; url=../../tags/trade/"' in moved and 'name="robots" content="noindex"' in moved
    assert not (site.dir / "tags/threejs").exists() or "url=../../tags/three-js/" in site.read("tags/threejs/index.html")
    assert "tags/trading/" not in site.read("sitemap.xml")


def test_drafts_are_built_but_not_listed(web, kit, sample_items) -> None:
    site = web()
    draft = kit.item("draft-1", title="Secret draft", tags=["hidden-tag"], draft=True, date="2025-12-09T00:00:00Z")
    results = site.publish([*sample_items, draft])
    receipt = results[-1].receipt
    assert receipt["draft"] is True
    page = Path(receipt["path"]).read_text()
    assert '<meta name="robots" content="noindex">' in page and "Draft:" in page
    for listing in ("index.html", "archive/index.html", "archive/2025/12/index.html", "tags/index.html", "feed.xml",
                    "rss.xml", "sitemap.xml"):
        assert "Secret draft" not in site.read(listing) and "draft-1" not in site.read(listing), listing
    assert not (site.dir / "tags/hidden-tag").exists()


def test_sitemap_lists_exactly_the_non_draft_pages(web, kit, sample_items) -> None:
    site = web(per_page=2)
    site.publish([*sample_items, kit.item("d", draft=True, title="Draft one")])
    locs = {e.text for e in ET.fromstring(site.read("sitemap.xml")).iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")}
    expected = set()
    for path in site.html_pages():
        if path == "404.html" or "noindex" in site.read(path):
            continue
        expected.add("https://example.org/log/" + path[: -len("index.html")])
    assert locs == expected
    assert "https://example.org/log/page/1/" in locs
    assert site.read("robots.txt").endswith("Sitemap: https://example.org/log/sitemap.xml\n")


def test_feeds_parse_and_ids_never_change_on_rebuild(web, sample_items) -> None:
    import feedparser

    site = web()
    site.publish(sample_items)
    atom = feedparser.parse(site.read("feed.xml"))
    rss = feedparser.parse(site.read("rss.xml"))
    assert atom.bozo == 0 and rss.bozo == 0
    assert [e.title for e in atom.entries] == ["SpaceExplorer: multiplayer and physics",
                                               "Trading journal: AAPL and MSFT", "Shipping a durable publication queue"]
    ids = [e.id for e in atom.entries]
    assert all(i.startswith("urn:uuid:") for i in ids) and [e.id for e in rss.entries] == ids
    assert atom.feed.updated == "2025-12-04T09:30:00+00:00"  # the newest session, not the clock
    entry = atom.entries[2]
    assert 'src="https://example.org/log/build/2025/12/' in entry.content[0].value  # absolute image URLs
    before = {n: site.read(n) for n in ("feed.xml", "rss.xml", "index.html")}
    site.build(full=True)
    assert {n: site.read(n) for n in before} == before
    moved = web(base_url="https://elsewhere.example/")  # same content store, another address
    moved.build(full=True)
    assert [e.id for e in feedparser.parse(moved.read("feed.xml")).entries] == ids


def test_full_rebuild_is_byte_identical(web, sample_items) -> None:
    site = web()
    site.publish(sample_items)
    before = {k: v[2] for k, v in _snapshot(site.dir).items()}
    report = site.build(full=True)
    assert report.full and len(report.written) == len(before) - 1  # every file but the build marker
    assert {k: v[2] for k, v in _snapshot(site.dir).items()} == before


def test_publishing_one_post_at_a_time_gives_the_site_a_full_build_gives(web, kit, sample_items) -> None:
    site = web(per_page=2)
    items = [*sample_items, *(kit.item(f"p{i}", title=f"Post {i}", date=f"2025-11-{10 + i:02d}T10:00:00Z",
                                       tags=[f"t{i % 2}", "trading" if i % 3 else "python"], project="proj")
                              for i in range(6))]
    for item in items:  # each publish an incremental build of what changed
        assert site.publish([item])[0].ok
    assert site.publish([kit.item("p2", title="Post 2, retitled", date="2025-11-12T10:00:00Z", tags=["t0"],
                                  project="proj")])[0].ok
    incremental = {k: v[2] for k, v in _snapshot(site.dir).items()}
    site.build(full=True)
    assert {k: v[2] for k, v in _snapshot(site.dir).items()} == incremental
    mirror = {k: v[2] for k, v in _snapshot(site.dir.with_name("site.staging")).items()}
    assert {k: v for k, v in mirror.items() if k != ".flywheel-site"} == \
        {k: v for k, v in incremental.items() if k != ".flywheel-site"}


@pytest.mark.parametrize("damage", ["torn", "edited", "another page's", "garbage", "missing"])
def test_a_stale_or_corrupt_body_cache_entry_cannot_change_a_page(web, kit, damage) -> None:
    site = web()
    code = "```python\ndef lease(conn):\n    return conn.execute('SELECT 1')\n```"
    items = [kit.item(f"p{i}", title=f"Post {i}", body=f"# Post {i}\n\nWords of post {i}.\n\n{code}\n",
                      date=f"2025-11-{10 + i}T10:00:00Z", project="proj") for i in range(4)]
    for item in items:
        assert site.publish([item])[0].ok
    cache = site.settings.state_dir / "cache" / "body"
    entries = {next(f"p{i}" for i in range(4) if f"Words of post {i}." in e.read_text()): e for e in cache.glob("*.json")}
    assert len(entries) == 4
    entry = entries["p3"]  # the page the next post's build redoes for its "next" link
    if damage == "torn":
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    elif damage == "edited":  # still valid JSON, with a body that is not the post's
        entry.write_text(entry.read_text().replace("Words of post 3.", "<script>forged</script>"))
    elif damage == "another page's":  # an intact entry made from other inputs
        entry.write_bytes(entries["p2"].read_bytes())
    elif damage == "garbage":
        entry.write_bytes(b"\x00\xff" * 100)
    else:
        entry.unlink()
    # Entries of pages that are gone, and a temporary file a crash left: dropped by the next build that writes.
    (cache / ("0" * 32 + ".json")).write_text("{}")
    (cache / f".{entry.name}.999.tmp").write_text("half")
    with site.store() as store:
        store.put(*store.prepare(kit.item("p4", title="Post 4", body="# Post 4\n\nWords of post 4.\n",
                                          date="2025-11-14T10:00:00Z", project="proj")))
    report = site.build()
    post3 = next(p for p in report.written if p.startswith("build/2025/11/post-3-"))
    assert (report.bodies_rendered, report.bodies_cached) == (2, 0)  # the new post and its damaged neighbour
    page = site.read(post3)
    assert "Words of post 3." in page and "forged" not in page and "Words of post 2." not in page
    incremental = {k: v[2] for k, v in _snapshot(site.dir).items()}
    assert site.build(full=True).bodies_rendered == 5
    assert {k: v[2] for k, v in _snapshot(site.dir).items()} == incremental
    # The damaged entry was written again; the strays are gone: one entry per page.
    names = {e.name for e in cache.iterdir()}
    assert len(names) == 5 and names > {e.name for e in entries.values()}
    with site.store() as store:
        store.put(*store.prepare(kit.item("p5", title="Post 5", date="2025-11-15T10:00:00Z", project="proj")))
    report = site.build()
    assert (report.bodies_rendered, report.bodies_cached) == (1, 1)


@pytest.mark.parametrize("change", ["record", "settings", "template", "library", "manifest edited", "manifest torn",
                                    "manifest reshaped", "page deleted", "another site's manifest"])
def test_a_build_with_nothing_new_plans_nothing_and_any_changed_input_is_a_miss(web, kit, change, monkeypatch) -> None:
    import json

    import flywheel_publish_web.build as build
    from flywheel_publish_web.cli import load_settings

    site = web(per_page=2)
    items = [kit.item(f"p{i}", title=f"Post {i}", date=f"2025-11-{10 + i}T10:00:00Z", tags=["t"], project="proj")
             for i in range(4)]
    assert all(r.ok for r in site.publish(items))
    before = {k: v[2] for k, v in _snapshot(site.dir).items()}
    report = site.build()
    assert report.unchanged and report.written == report.removed == [] and report.pages == len(site.html_pages())
    assert {k: v[2] for k, v in _snapshot(site.dir).items()} == before  # nothing touched
    assert site.publish(items[:1])[0].ok and site.build().unchanged  # the same content again: still nothing new

    manifest = site.settings.state_dir / "manifest.json"
    if change == "record":
        with site.store() as store:
            store.put(*store.prepare(kit.item("p1", title="Post 1", body="# Post 1\n\nNew words.\n",
                                              date="2025-11-11T10:00:00Z", tags=["t"], project="proj")))
    elif change == "settings":
        site = web(per_page=2, title="Another title")
    elif change == "template":  # the user's own 404 page: the theme's version changes
        (site.config_path.parent / "mine" / "web").mkdir(parents=True)
        (site.config_path.parent / "mine" / "web" / "404.html.j2").write_text("<p>Lost.</p>\n")
        site.config_path.write_text('templates_dir = "mine"\n' + site.config_path.read_text())
        site.settings = load_settings(site.config_path)
    elif change == "library":  # as if python-slugify had been upgraded
        monkeypatch.setattr(build, "_LIBRARIES", (("slugify", "__init__.py"), *build._LIBRARIES[1:]))
    elif change == "manifest edited":
        state = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**state, "inputs": "0" * 32}))
    elif change == "manifest reshaped":  # its digest kept, its lists of pages and files not
        state = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**state, "pages": None, "files": []}))
    elif change == "manifest torn":
        manifest.write_bytes(manifest.read_bytes()[: manifest.stat().st_size // 2])
    elif change == "page deleted":
        (site.dir / "tags/index.html").unlink()
    else:  # the manifest of another site with the same content: its pages are not this site's
        state = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**state, "site_dir": str(site.dir.with_name("elsewhere"))}))
    report = site.build()
    assert not report.unchanged
    if change == "page deleted":
        assert report.written == ["tags/index.html"] and (site.dir / "tags/index.html").is_file()
    if change == "template":
        assert "404.html" in report.written and site.read("404.html") == "<p>Lost.</p>"
    if change == "record":
        assert "New words." in site.read(next(p for p in report.written if p.startswith("build/2025/11/post-1-")))
    incremental = {k: v[2] for k, v in _snapshot(site.dir).items()}
    assert site.build().unchanged  # the miss wrote what the next build compares with
    site.build(full=True)
    assert {k: v[2] for k, v in _snapshot(site.dir).items()} == incremental


def test_adding_one_post_rewrites_only_what_shows_it(web, kit) -> None:
    from flywheel_publish_web.build import build_site
    from flywheel_publish_web.store import ContentStore

    site = web(per_page=3)
    site.publish([kit.item(f"s{i}", title=f"Post {i}", date=f"2025-11-{10 + i}T10:00:00Z", tags=[f"t{i}", "common"],
                           project="proj") for i in range(9)]
                 + [kit.item("other", title="Other project", date="2025-10-01T00:00:00Z", tags=["solo"], project="x")])
    site.publish([kit.item("s0", title="Post 0", date="2025-11-10T10:00:00Z", tags=["t0", "common", "late"],
                           project="proj")])  # a build whose changes the mirror must also receive
    live_before = _snapshot(site.dir)
    # The mirror becomes the live site by one rename, so its files keep their inodes if untouched.
    mirror = site.dir.with_name("site.staging")
    mirror_before = _snapshot(mirror)
    assert {k: v[2] for k, v in mirror_before.items()} == {k: v[2] for k, v in live_before.items()}

    store = ContentStore(site.settings)
    store.put(*store.prepare(kit.item("s9", title="Post 9", date="2025-12-01T10:00:00Z", tags=["t9", "common"],
                                      project="proj")))
    report = build_site(site.settings)
    after = _snapshot(site.dir)
    post9 = next(p for p in after if p.startswith("build/2025/12/post-9-"))
    post8 = next(p for p in after if p.startswith("build/2025/11/post-8-") and p.endswith("index.html"))
    expected = {
        post9,
        post8,  # its "next in proj" link now points to the new post
        "index.html", "page/3/index.html",  # 11 posts: the front page, and the newest numbered page gains one
        "tags/build/index.html", "tags/build/page/3/index.html",  # the same 11 posts
        # 10 posts: a third numbered page appears, and the second's "newer" link now points to it.
        "tags/common/index.html", "tags/common/page/2/index.html", "tags/common/page/3/index.html",
        "tags/proj/index.html", "tags/proj/page/2/index.html", "tags/proj/page/3/index.html",
        "tags/t9/index.html", "tags/index.html",  # a new tag; the counts
        "archive/index.html", "archive/2025/12/index.html",  # a new month
        "feed.xml", "rss.xml", "sitemap.xml",
    }
    assert set(report.written) == expected and report.removed == []  # the write log
    rewritten = {p for p in after if p not in mirror_before or after[p][:2] != mirror_before[p][:2]}
    assert rewritten == expected | {".flywheel-site"}  # on disk: every other file kept its inode and mtime
    changed_bytes = {p for p in after if p not in live_before or after[p][2] != live_before[p][2]}
    assert changed_bytes == expected | {".flywheel-site"}
    # The old live tree, now the mirror, got the same changes: both trees are equal again.
    assert {k: v[2] for k, v in _snapshot(mirror).items()} == {k: v[2] for k, v in after.items()}


def test_dir_deploy_swaps_atomically(web, kit) -> None:
    site = web()
    site.publish([kit.item("a", title="First")])
    first = site.dir.stat().st_ino
    site.publish([kit.item("b", title="Second")])
    second = site.dir.stat().st_ino
    site.publish([kit.item("c", title="Third")])
    # The folder named site_dir is a different folder after each build: swapped in whole, never edited.
    assert len({first, second, site.dir.stat().st_ino}) >= 2 and second != site.dir.stat().st_ino
    assert sorted(p.name for p in site.dir.parent.iterdir() if p.name.startswith("site")) == ["site", "site.staging"]
    assert all(t in site.read("index.html") for t in ("First", "Second", "Third"))


def test_a_site_dir_that_is_a_symlink_is_swapped_where_it_points(web, kit, tmp_path) -> None:
    # site -> www, the folder a web server serves: swapping the link itself with the new tree
    # left www empty after the first build, then edited in place (half-built) on every other one.
    www = tmp_path / "www"
    www.mkdir()
    (tmp_path / "site").symlink_to(www)
    site = web()
    site.publish([kit.item("a", title="First")])
    assert (tmp_path / "site").is_symlink() and "First" in (www / "index.html").read_text()
    first = www.stat().st_ino
    site.publish([kit.item("b", title="Second")])
    assert (tmp_path / "site").is_symlink() and www.stat().st_ino != first, "swapped in whole, not edited"
    assert all(t in (tmp_path / "site" / "index.html").read_text() for t in ("First", "Second"))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("site", "www"))) == [
        "site", "www", "www.staging"]


def test_a_killed_build_leaves_the_live_site_whole(web, kit, monkeypatch) -> None:
    from flywheel_publish_web import build

    site = web()
    site.publish([kit.item("a", title="First")])
    before = _snapshot(site.dir)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between staging and swap")

    monkeypatch.setattr(build, "swap_in", crash)
    with pytest.raises(KeyboardInterrupt):
        site.publish([kit.item("b", title="Second")])
    assert _snapshot(site.dir) == before  # readers still see the whole old site
    monkeypatch.undo()
    site.build()
    assert "Second" in site.read("index.html")
    assert sorted(p.name for p in site.dir.parent.iterdir() if p.name.startswith("site")) == ["site", "site.staging"]


def test_a_build_that_dies_half_way_through_the_mirror_leaves_nothing_of_itself_for_the_next(web, kit,
                                                                                            monkeypatch) -> None:
    # The disk fills up (or the build is killed) while the mirror takes a build's changes: the
    # mirror then holds part of a site that never went live. The next build must not take it for
    # a copy of the live site, or the failed build's pages go live with it.
    import errno

    from flywheel_publish_web import build

    site = web()
    site.publish([kit.item("a", title="First", body="# First\n\noriginal text\n")])
    site.publish([kit.item("b", title="Second")])  # the mirror is known: builds now apply changes to it
    [page] = [p for p in _snapshot(site.dir) if "original text" in (site.dir / p).read_text(errors="replace")
              and p.endswith("index.html") and p.count("/") > 1]
    real_write, written = build._write, []

    def disk_full(path, data):  # the first page written fits; the disk is full at the second
        if path.name != ".flywheel-site":
            if written:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            written.append(path)
        return real_write(path, data)

    monkeypatch.setattr(build, "_write", disk_full)
    with pytest.raises(OSError):
        site.publish([kit.item("a", title="First", body="# First\n\nedited text\n")])
    monkeypatch.undo()
    assert written == [site.dir.with_name("site.staging") / page], "the edited page went into the mirror"
    assert "original text" in site.read(page)  # readers still see the old site

    site.publish([kit.item("a", title="First", body="# First\n\noriginal text\n")])  # the edit is undone
    site.publish([kit.item("c", title="Third")])
    assert "original text" in site.read(page) and "edited text" not in site.read(page)
    assert "Third" in site.read("index.html")


def test_an_incremental_build_makes_every_change_durable_before_the_swap(web, kit, monkeypatch) -> None:
    from flywheel_publish_web import build

    site = web()
    site.publish([kit.item("a", title="First", tags=["one"])])
    site.publish([kit.item("b", title="Second", tags=["one"])])  # now the mirror is known
    synced: list[str] = []
    opened: dict[int, str] = {}
    real_open, real_fsync, real_swap = os.open, os.fsync, build.swap_in

    def spy_open(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        opened[fd] = os.fspath(path)
        return fd

    def spy_fsync(fd):
        synced.append(opened[fd])
        return real_fsync(fd)

    def swap(staging, live):
        done.update(synced)
        return real_swap(staging, live)

    done: set[str] = set()
    monkeypatch.setattr(os, "open", spy_open)
    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(build, "swap_in", swap)
    site.publish([kit.item("c", title="Third", tags=["two"], date="2025-12-09T00:00:00Z")])
    report = site.build()  # nothing new: nothing to sync
    assert report.written == []
    mirror = site.dir.with_name("site.staging")  # the tree that was swapped in, by its name before the swap
    post = next(p for p in site.dir.glob("build/2025/12/third-*/index.html"))
    wanted = {str(mirror / post.relative_to(site.dir)), str(mirror / post.parent.relative_to(site.dir)),
              str(mirror / "index.html"), str(mirror / "tags/two/index.html"), str(mirror / "tags/two"),
              str(mirror / "tags"), str(mirror), str(mirror / ".flywheel-site")}
    assert wanted <= done, sorted(wanted - done)


def test_refuses_to_replace_a_folder_it_did_not_build(web, kit, tmp_path) -> None:
    from flywheel_core import UsageError

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "precious.txt").write_text("mine")
    site = web()
    with pytest.raises(UsageError, match="not built by flywheel"):
        site.publish([kit.item("a")])
    assert (tmp_path / "site" / "precious.txt").read_text() == "mine"


def test_dry_run_predicts_the_real_receipts_and_touches_nothing(web, kit, sample_items) -> None:
    site = web()
    bad = kit.item("nodate", date="")
    dry = site.publish([*sample_items, bad], dry_run=True)
    with site.store() as store:
        assert not site.dir.exists() and store.records() == []
    real = site.publish([*sample_items, bad])
    assert [(r.ok, r.receipt, r.error) for r in dry] == [(r.ok, r.receipt, r.error) for r in real]
    assert [r.ok for r in real] == [True] * len(sample_items) + [False]


def test_the_target_takes_only_the_kinds_the_site_shows(web, kit, flywheel_host) -> None:
    _, target = flywheel_host.target("web")
    assert target.kinds == ("blog_post", "devlog", "trade_journal", "build_log", "trade_metrics")
    assert not target.takes("social_post") and not target.takes("readme")
    # An entry of another kind (enqueued before the target declared its kinds) fails for good.
    site = web()
    [result] = site.publish([kit.item("s", "social_post", title="Tweet")])
    assert not result.ok and result.permanent and "does not show 'social_post'" in result.error
    with site.store() as store:
        assert store.records() == []


def test_attachments_are_confined_and_svg_is_sanitized(web, kit) -> None:
    site = web()
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">'
           b'<script>alert(1)</script><foreignObject><p>x</p></foreignObject>'
           b'<a xlink:href="javascript:alert(1)"><rect width="5" height="5"/></a><circle r="3"/></svg>')
    item = kit.item("a", body="![c](chart.svg)\n", attachments={
        "chart.svg": svg, "page.html": b"<script>alert(1)</script>", "run.js": b"alert(1)",
        "../../outside.png": b"x", "/abs.png": b"x", "doc.xml": b"<x/>", "entity.svg": b'<!DOCTYPE x [<!ENTITY a "b">]><svg/>'})
    receipt = site.publish([item])[0].receipt
    folder = Path(receipt["path"]).parent
    assert sorted(p.name for p in folder.iterdir()) == ["chart.svg", "index.html"]
    clean = (folder / "chart.svg").read_text()
    assert "<circle" in clean and "script" not in clean and "onload" not in clean
    assert "foreignObject" not in clean and "javascript" not in clean
    assert not list(site.settings.state_dir.parent.parent.rglob("outside.png"))


def test_unsafe_links_in_markdown_never_reach_a_page(web, kit) -> None:
    site = web()
    body = ("[a](javascript:alert(1)) [b](jav&#x09;ascript:alert(1)) [c](data:text/html,x) [d](VBSCRIPT:x)\n\n"
            "[e](https://ok.example/) [f](#section) [g](missing.png) ![h](../../etc/passwd)\n")
    page = Path(site.publish([kit.item("a", body=body)])[0].receipt["path"]).read_text()
    hrefs = re.findall(r'(?:href|src)="([^"]*)"', page.split('<div class="prose">')[1].split("</div>")[0])
    assert hrefs == ["https://ok.example/", "#section"]


def _urls(results) -> list[str]:
    return [r.receipt["url"] for r in results]


def test_addresses_are_a_pure_function_of_the_session_not_of_arrival_order_or_crashes(
    web, kit, sample_items, tmp_path, monkeypatch
) -> None:
    from flywheel_publish_web import build

    clean = web(root=tmp_path / "clean")
    expected = dict(zip([i.id for i in sample_items], _urls(clean.publish(sample_items))))

    one_by_one = web(root=tmp_path / "reversed")
    got = {item.id: one_by_one.publish([item])[0].receipt["url"] for item in reversed(sample_items)}
    assert got == expected

    # A companion and a download first, then a crash after storing but before the build, then the rest.
    crashed = web(root=tmp_path / "crashed")
    blog, log, journal, metrics, devlog = sample_items
    got = {i.id: u for i, u in zip([log, metrics], _urls(crashed.publish([log, metrics])))}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed before the build")

    monkeypatch.setattr(build, "swap_in", crash)
    with pytest.raises(KeyboardInterrupt):
        crashed.publish([devlog, blog])
    monkeypatch.undo()
    got.update({i.id: u for i, u in zip([journal, devlog, blog], _urls(crashed.publish([journal, devlog, blog])))})
    assert got == expected
    for name in ("index.html", "feed.xml", "sitemap.xml"):  # and the sites are the same
        assert crashed.read(name) == clean.read(name) == one_by_one.read(name)


def test_sessions_with_the_same_title_get_addresses_from_their_ids(web, kit) -> None:
    site = web()
    first = site.publish([kit.item("a", title="Daily notes"), kit.item("b", title="Daily notes")])
    again = web().publish([kit.item("b", title="Daily notes"), kit.item("a", title="Daily notes")])
    assert _urls(first) == _urls(again)[::-1] and len(set(_urls(first))) == 2
    assert all("/daily-notes-" in url for url in _urls(first))


def test_pages_stored_under_the_old_rule_redirect_to_their_new_address(web, kit) -> None:
    import json

    from flywheel_publish_web.store import ContentStore, record_key

    site = web()
    store = ContentStore(site.settings)
    old = "build/2025/12/shipping-the-queue-0badc0de/"
    for kind, title in (("blog_post", "Shipping the queue"), ("build_log", "Build log")):
        record, blobs = store.prepare(kit.item("s", kind, title=title))
        store.put(record, blobs)
        legacy = {k: v for k, v in record.items() if k != "aliases"} | {"permalink": old}  # as it was stored
        store.shared.put(f"posts/{record_key('s', kind)}", json.loads(json.dumps(legacy)))
    site.build()
    pages = {kind: store.prepare(kit.item("s", kind, title=title))[0]["permalink"]
             for kind, title in (("blog_post", "Shipping the queue"), ("build_log", "Build log"))}
    assert f"url=../../../../{pages['blog_post']}" in site.read(old + "index.html")
    assert f"url=../../../../../{pages['build_log']}" in site.read(old + "build-log/index.html")
    # A new version keeps the old address redirecting.
    site.publish([kit.item("s", "blog_post", title="Shipping the queue", body="# v2\n")])
    assert f"url=../../../../{pages['blog_post']}" in site.read(old + "index.html")


def test_concurrent_publishers_both_land(web, tmp_path) -> None:
    import subprocess
    import sys

    site = web()
    script = """
import hashlib, sys
from pathlib import Path
from flywheel_core import PublishContext, PublishItem, load_config
from flywheel_publish_web.plugin import flywheel_publish
config = load_config(Path(sys.argv[1]))
for n in range(3):
    body = f"# {sys.argv[2]} {n}\\n\\nText.\\n".encode()
    item = PublishItem(id=n, target="web", session_id=f"{sys.argv[2]}-{n}", session_type="build", kind="blog_post",
        ext="md", sha256=hashlib.sha256(body).hexdigest(), files={"blog_post.md": body},
        meta={"title": f"{sys.argv[2]} {n}", "date": f"2025-12-0{n + 1}T00:00:00Z"})
    [r] = flywheel_publish(target="web", items=[item], config=config.target_config("web"),
                           ctx=PublishContext(config=config, state_dir=config.state_dir))
    assert r.ok, r.error
"""
    procs = [subprocess.Popen([sys.executable, "-c", script, str(site.config_path), name],
                              stderr=subprocess.PIPE, text=True) for name in ("alpha", "beta")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    index = site.read("index.html")
    assert all(f"{name} {n}" in index for name in ("alpha", "beta") for n in range(3))
    assert site.build().written == []  # the last build left nothing stale


def test_a_stopped_publisher_holding_the_site_lock_fails_the_batch_in_one_line_naming_it(web, kit, monkeypatch) -> None:
    import signal
    import subprocess
    import sys

    import flywheel_core

    if "LockTimeout" not in flywheel_core.__all__:
        pytest.skip("needs core's lock_for that names its holder (LockTimeout; the coreinput branch)")
    site = web()
    site.publish([kit.item("a", title="First")])
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
from pathlib import Path
from flywheel_core import PublishContext, load_config
from flywheel_publish_web.build import site_lock
from flywheel_publish_web.publish import settings_for
config = load_config(Path({str(site.config_path)!r}))
with site_lock(settings_for(config.target_config("web"), PublishContext(config=config, state_dir=config.state_dir))):
    print("locked", flush=True)
    time.sleep(600)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        os.kill(holder.pid, signal.SIGSTOP)  # a publisher stopped while it builds the site
        monkeypatch.setenv("FLYWHEEL_LOCK_TIMEOUT", "1")
        with pytest.raises(flywheel_core.LockTimeout) as info:
            site.publish([kit.item("b", title="Second")])
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    message = str(info.value)
    assert "\n" not in message and "web.site.lock" in message
    assert f"pid {holder.pid}" in message and "stopped" in message
    assert "Second" not in site.read("index.html")


def test_a_content_store_of_an_older_flywheel_moves_into_the_shared_store_on_first_use(web, kit) -> None:
    import json

    from flywheel_publish_web.store import ContentStore, record_key

    site = web()
    # The layout before the shared store: posts/<key>.json and blobs/<2 hex>/<sha256> in the
    # target's state folder.
    old = site.settings.state_dir
    items = [kit.item("old-1", title="Written long ago", attachments={"chart.png": b"\x89PNG old"}),
             kit.item("old-2", title="Also old")]
    with ContentStore(site.settings, migrate=False) as preparer:
        for item in items:
            record, blobs = preparer.prepare(item)
            (old / "posts").mkdir(parents=True, exist_ok=True)
            (old / "posts" / f"{record_key(item.session_id, item.kind)}.json").write_text(json.dumps(record))
            for sha, data in blobs.items():
                (old / "blobs" / sha[:2]).mkdir(parents=True, exist_ok=True)
                (old / "blobs" / sha[:2] / sha).write_bytes(data)
    site.publish([kit.item("new-1", title="Published today")])
    index = site.read("index.html")
    assert all(title in index for title in ("Written long ago", "Also old", "Published today"))
    chart = next(site.dir.rglob("chart.png"))
    assert chart.read_bytes() == b"\x89PNG old"
    assert not (old / "posts").exists() and sorted(p.name for p in (old / "migrated" / "posts").iterdir()) == sorted(
        f"{record_key(i.session_id, i.kind)}.json" for i in items), "set aside, not deleted"
    with site.store() as store:
        assert len(store.records()) == 3


def test_a_tag_naming_another_session_type_shows_its_label(web, kit) -> None:
    site = web()
    # A build post tagged with another type's id, as a session's own tags may be (was: "#life_aria").
    build = kit.item("b-1", "blog_post", title="Added a game server", tags=["python", "life_aria", "music_jam"])
    jam = kit.item("m-1", "devlog", session_type="music_jam", title="Jam", date="2025-12-03T00:00:00Z")
    receipts = [r.receipt for r in site.publish([build, jam])]
    page = Path(receipts[0]["path"]).read_text()
    header = page.split('<header class="post-header">')[1].split("</header>")[0]
    assert re.findall(r'<li><a href="([^"]*)">#([^<]*)</a></li>', header) == [
        ("../../../../tags/python/", "python"), ("../../../../tags/life-aria/", "Aria"),
        ("../../../../tags/music-jam/", "Music Jam")]
    assert "<h1 class=\"page-title\">#Aria</h1>" in site.read("tags/life-aria/index.html")
    for path in site.html_pages():
        assert not re.search(r"life_aria|music_jam", re.sub(r"<[^>]+>", " ", site.read(path))), path


def test_a_new_session_type_relabels_the_tag_on_pages_built_before_it(web, kit) -> None:
    # Regression: a post's page kept "#music_jam" after the first music_jam session was published
    # (its key left out the session types its tags are named by); a full build showed "#Music Jam".
    site = web()
    build = kit.item("b-1", "blog_post", title="Added a game server", tags=["python", "music_jam"])
    page = Path(site.publish([build])[0].receipt["path"])
    assert "#music_jam" in page.read_text()
    jam = kit.item("m-1", "devlog", session_type="music_jam", title="Jam", date="2025-12-03T00:00:00Z")
    assert site.publish([jam])[0].ok
    assert "#Music Jam" in page.read_text() and "#music_jam" not in page.read_text()
    incremental = {k: v[2] for k, v in _snapshot(site.dir).items()}
    site.build(full=True)
    assert {k: v[2] for k, v in _snapshot(site.dir).items()} == incremental
