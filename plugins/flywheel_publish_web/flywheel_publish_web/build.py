"""Building the site: render what changed into a sibling folder, then swap it in atomically."""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
from pathlib import Path
from typing import Any

import attrs

from flywheel_core.fsutil import atomic_write, lock_for, sha256_bytes

from flywheel_publish_web.settings import Settings
from flywheel_publish_web.site import (
    TEMPLATE_NAMES,
    TEMPLATES,
    THEME_VERSION,
    Page,
    Post,
    SiteModel,
    _key,
    entry_id,
    human_date,
    kind_label,
    plan_pages,
)
from flywheel_publish_web.store import ContentStore

__all__ = ["BuildReport", "Theme", "build_site", "site_lock"]

MARKER = ".flywheel-site"
MANIFEST = "manifest.json"


@attrs.define
class BuildReport:
    """What a build did: every page and file path it wrote or removed, relative to the site."""

    site_dir: Path
    pages: int
    written: list[str]
    removed: list[str]
    full: bool
    #: Site path of each stored artifact that is on the site: (session_id, kind) -> path.
    urls: dict[tuple[str, str], str] = attrs.field(factory=dict)
    #: (session_id, kind) of the artifacts whose page is a draft.
    drafts: set[tuple[str, str]] = attrs.field(factory=set)

    @property
    def index(self) -> Path:
        return self.site_dir / "index.html"


def site_lock(settings: Settings) -> Any:
    """One builder at a time per content store (publishers, ``site build``, ``site serve``)."""
    return lock_for(settings.state_dir / "site.lock")


class Theme:
    """Templates (user's ``templates_dir/web/`` first), Markdown, CSS and feed bodies."""

    def __init__(self, settings: Settings, store: ContentStore) -> None:
        import jinja2

        self.settings = settings
        self.store = store
        search = [str(settings.templates_dir)] if settings.templates_dir else []
        cache = settings.state_dir / "cache" / "jinja"
        cache.mkdir(parents=True, exist_ok=True)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([*search, str(TEMPLATES)]),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            bytecode_cache=jinja2.FileSystemBytecodeCache(str(cache)),
        )
        import markdown_it
        import pygments

        digest = hashlib.sha256(f"{THEME_VERSION}|{pygments.__version__}|{markdown_it.__version__}".encode())
        for name in TEMPLATE_NAMES:
            digest.update(self.env.loader.get_source(self.env, name)[0].encode())
        self.version = digest.hexdigest()
        self._md: Any = None

    @property
    def md(self) -> Any:
        if self._md is None:
            from flywheel_publish_web.markup import MarkdownRenderer

            self._md = MarkdownRenderer()
        return self._md

    def site_context(self) -> dict[str, Any]:
        s = self.settings
        return {"title": s.title, "description": s.description, "author": s.author,
                "language": s.language, "base_url": s.base_url, "css_version": self.version[:10]}

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def css(self) -> bytes:
        from flywheel_publish_web.markup import pygments_css

        source = self.env.loader.get_source(self.env, "web/style.css")[0]
        return (source + "\n/* code highlighting (Pygments) */\n" + pygments_css()).encode()

    def _markdown(self, record: dict[str, Any], prefix: str) -> tuple[str, set[str]]:
        main = f"{record['kind']}.{record['ext']}"
        text = self.store.read_text(record["files"][main])
        files = {n for n in record["files"] if n != main}
        body, _heading, used = self.md.render(text, files=files, prefix=prefix)
        return body, used

    def post_extra(self, record: dict[str, Any], folder: str, post: Post) -> dict[str, Any]:
        """The rendered body, and the chart and gallery images the body does not already show."""
        from markupsafe import Markup

        body, used = self._markdown(record, "")
        files, meta = record["files"], record["meta"]
        image = meta.get("image")
        figure = None
        if isinstance(image, str) and image in files and image not in used:
            figure = {"src": image, "alt": f"{kind_label(record['kind'])} chart"}
        gallery = []
        for item in meta.get("images") or []:
            if not isinstance(item, dict) or not isinstance(item.get("src"), str) or item["src"] not in files:
                continue
            thumb = item.get("thumb") if isinstance(item.get("thumb"), str) and item.get("thumb") in files else item["src"]
            if item["src"] in used or thumb in used or item["src"] == (figure or {}).get("src"):
                continue
            caption = item.get("caption")
            gallery.append({"src": item["src"], "thumb": thumb, "caption": " ".join(caption.split()) if isinstance(caption, str) else ""})
        return {"body": Markup(body), "figure": figure, "gallery": gallery}

    def feed_body(self, post: Post) -> str:
        """The post's HTML with absolute URLs, cached by content so a rebuild renders only new posts."""
        url = self.settings.url(post.path)
        key = _key(self.version, post.main["sha256"], sorted(post.main["files"].items()), url)
        path = self.settings.state_dir / "cache" / "feed" / f"{key}.html"
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            pass
        body, _ = self._markdown(post.main, url)
        atomic_write(path, body)
        return body


def _feeds(model: SiteModel, theme: Theme) -> dict[str, Page]:
    """``feed.xml`` (Atom) and ``rss.xml``: the newest listed posts, with ids that never change."""
    s = model.settings
    posts = model.listed[: s.feed_size]
    summary = [(p.main["session_id"], p.main["kind"], p.main["sha256"], p.title, p.summary, p.date, p.path, p.tags,
                p.meta.get("agent_id")) for p in posts]
    key = _key(theme.version, "feeds", theme.site_context(), summary)
    made: dict[str, bytes] = {}

    def make() -> dict[str, bytes]:
        if made:
            return made
        from feedgen.feed import FeedGenerator

        fg = FeedGenerator()
        fg.id(entry_id(s.base_url, "site"))
        fg.title(s.title)
        fg.subtitle(s.description or s.title)
        fg.link(href=s.base_url, rel="alternate")
        fg.link(href=s.url("feed.xml"), rel="self")
        fg.language(s.language)
        fg.generator("flywheel")
        if s.author:
            fg.author({"name": s.author})
        # Feed dates come from the sessions, never from the clock, so rebuilds are identical.
        newest = posts[0].date if posts else "2000-01-01T00:00:00Z"
        fg.updated(newest)
        fg.lastBuildDate(newest)
        for post in reversed(posts):  # feedgen prepends: add oldest first for newest-first output
            fe = fg.add_entry()
            fe.id(entry_id(post.main["session_id"], post.main["kind"]))
            fe.guid(entry_id(post.main["session_id"], post.main["kind"]), permalink=False)
            fe.title(post.title)
            fe.link(href=s.url(post.path))
            fe.published(post.date)
            fe.updated(post.date)
            author = s.author or str(post.meta.get("agent_id") or "") or s.title
            fe.author({"name": author})
            if post.summary:  # RSS readers treat <description> as HTML: escape the plain text
                fe.summary(html.escape(post.summary, quote=False), type="html")
            fe.content(theme.feed_body(post), type="html")
            for name, slug in post.tags:
                fe.category(term=slug, label=name)
        made["feed.xml"] = fg.atom_str(pretty=True)
        fg.subtitle(html.escape(s.description or s.title, quote=False))  # RSS: HTML; Atom: text
        made["rss.xml"] = fg.rss_str(pretty=True)
        return made

    return {name: Page(key, lambda name=name: make()[name]) for name in ("feed.xml", "rss.xml")}


def _sitemap(s: Settings, pages: dict[str, Page]) -> bytes:
    from xml.sax.saxutils import escape

    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for path in sorted(p for p, page in pages.items() if page.sitemap):
        url = s.url(path[: -len("index.html")])
        lastmod = f"<lastmod>{pages[path].lastmod}</lastmod>" if pages[path].lastmod else ""
        lines.append(f"  <url><loc>{escape(url)}</loc>{lastmod}</url>")
    lines.append("</urlset>\n")
    return "\n".join(lines).encode()


def _clone(src: Path, dst: Path) -> None:
    """Hard-link every file of the live site into ``dst``: a copy that costs no data.

    Pages are then replaced (unlink + write), never written in place, so the live site's
    files are untouched until the swap.
    """
    for dirpath, _dirs, names in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target = dst if rel == "." else dst / rel
        target.mkdir(exist_ok=True)
        for name in names:
            try:
                os.link(os.path.join(dirpath, name), target / name)
            except OSError:
                shutil.copy2(os.path.join(dirpath, name), target / name)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def swap_in(staging: Path, live: Path) -> None:
    """Make ``staging`` the live site: readers see the old site or the new one, never a mix."""
    if not live.exists():
        os.rename(staging, live)
        return
    if _exchange(staging, live):
        shutil.rmtree(staging)
        return
    old = live.with_name(live.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    os.rename(live, old)
    os.rename(staging, live)
    shutil.rmtree(old)


def _write(path: Path, data: bytes) -> None:
    try:
        path.unlink()  # may be a hard link into the live site: never write through it
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def _check_site_dir(site: Path) -> None:
    from flywheel_core import UsageError

    if site.exists() and (not site.is_dir() or (any(site.iterdir()) and not (site / MARKER).exists())):
        raise UsageError(f"{site}: exists and was not built by flywheel; refusing to replace it (set site_dir)")


def _stage_and_swap(site: Path, store: ContentStore, incremental: bool, writes: dict[str, bytes],
                    links: dict[str, str], removed: list[str]) -> None:
    """Apply the changes to a copy of the live site beside it, then swap the copy in."""
    staging = site.with_name(site.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)  # left over from a build that was killed
    if incremental:
        _clone(site, staging)
    else:
        staging.mkdir(parents=True)
    for path, data in writes.items():
        _write(staging / path, data)
    for path, blob in links.items():
        target = staging / path
        try:
            target.unlink()
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
        try:  # content-addressed blobs are never modified, so sharing their inode is safe
            os.link(store.blob_path(blob), target)
        except OSError:
            shutil.copyfile(store.blob_path(blob), target)
    for path in removed:
        try:
            (staging / path).unlink()
        except FileNotFoundError:
            pass
        parent = (staging / path).parent
        while parent != staging:
            try:
                parent.rmdir()  # only succeeds once the folder is empty
            except OSError:
                break
            parent = parent.parent
    os.sync()  # the new site is on disk before it becomes the live one
    swap_in(staging, site)


def build_site(settings: Settings, *, full: bool = False) -> BuildReport:
    """Build the site from the content store; only pages whose inputs changed are rendered."""
    store = ContentStore(settings.state_dir)
    site = settings.site_dir
    _check_site_dir(site)
    model = SiteModel(settings, store, store.records())
    theme = Theme(settings, store)
    pages, files = plan_pages(model, theme)
    pages.update(_feeds(model, theme))
    pages["sitemap.xml"] = Page(_key("sitemap", settings.base_url, sorted(
        (p, pg.lastmod) for p, pg in pages.items() if pg.sitemap)), lambda: _sitemap(settings, pages))
    robots = f"User-agent: *\nAllow: /\n\nSitemap: {settings.url('sitemap.xml')}\n".encode()
    pages["robots.txt"] = Page(sha256_bytes(robots), lambda: robots)
    pages[MARKER] = Page("marker", lambda: b"built by flywheel-publish-web; replaced whole on every build\n")
    pages[".nojekyll"] = Page("nojekyll", lambda: b"")  # GitHub Pages: serve the files as they are

    manifest_path = settings.state_dir / MANIFEST
    old: dict[str, Any] = {}
    if not full and site.is_dir():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            old = {}
        if old.get("site_dir") != str(site):
            old = {}
    old_pages, old_files = old.get("pages", {}), old.get("files", {})
    writes: dict[str, bytes] = {}
    new_pages: dict[str, list[str]] = {}
    for path, page in pages.items():
        before = old_pages.get(path)
        live = bool(before) and (site / path).exists()
        if live and before[0] == page.key:
            new_pages[path] = before
            continue
        data = page.render()
        new_pages[path] = [page.key, sha256_bytes(data)]
        if not (live and before[1] == new_pages[path][1]):
            writes[path] = data
    links = {p: b for p, b in files.items() if not (old_files.get(p) == b and (site / p).exists())}
    removed = sorted((set(old_pages) | set(old_files)) - set(new_pages) - set(files))
    if writes or links or removed or not site.exists():
        _stage_and_swap(site, store, bool(old), writes, links, removed)
    manifest = json.dumps({"site_dir": str(site), "pages": new_pages, "files": files}, sort_keys=True)
    if manifest != json.dumps(old, sort_keys=True):
        atomic_write(manifest_path, manifest.encode())
    written = sorted([*writes, *links])
    report = BuildReport(site, sum(p.endswith(".html") for p in pages), written, removed, full or not old)
    for post in model.posts:
        for record in [post.main, *post.companions]:
            key = (record["session_id"], record["kind"])
            report.urls[key] = post.path if record is post.main else post.companion_path(record)
            if post.draft or record["meta"].get("draft") is True:
                report.drafts.add(key)
        for record in post.downloads:
            report.urls[(record["session_id"], record["kind"])] = post.path + f"{record['kind']}.{record['ext']}"
    return report
