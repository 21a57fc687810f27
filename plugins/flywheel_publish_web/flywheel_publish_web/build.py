"""Building the site: render what changed into a sibling folder, then swap it in atomically."""

from __future__ import annotations

import gc
import hashlib
import html
import json
import os
import re
import shutil
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import attrs

from flywheel_core import atomic_write, progress, sha256_bytes

from flywheel_publish_web.markup import Rendered
from flywheel_publish_web.settings import Settings
from flywheel_publish_web.site import (
    TEMPLATE_NAMES,
    TEMPLATES,
    THEME_VERSION,
    Page,
    Post,
    SiteModel,
    _key,
    _text,
    entry_id,
    kind_label,
    plan_pages,
    record_digests,
    type_label,
    type_slug,
)
from flywheel_publish_web.store import ContentStore, record_key

__all__ = ["BodyCache", "BuildReport", "Theme", "build_site", "site_lock"]

MARKER = ".flywheel-site"
_RELATIVE_ATTR = re.compile(r'\b(href|src)="(?![a-zA-Z][a-zA-Z0-9+.-]*:|#|/)')
MANIFEST = "manifest.json"


@attrs.define
class BuildReport:
    """What a build did: every page and file path it wrote or removed, relative to the site."""

    site_dir: Path
    pages: int
    written: list[str]
    removed: list[str]
    full: bool
    #: Post bodies (Markdown) rendered by markdown-it, and bodies taken from the body cache.
    bodies_rendered: int = 0
    bodies_cached: int = 0
    #: Every input as the last build's (see ``_inputs``): nothing planned, nothing written.
    unchanged: bool = False

    @property
    def index(self) -> Path:
        return self.site_dir / "index.html"


@contextmanager
def site_lock(settings: Settings) -> Iterator[None]:
    """One builder at a time per content store (publishers, ``site build``, ``site serve``), on
    every machine that shares it: each build then sees every record stored before it, and each
    deploy carries all of them.

    The shared store's lock says what a waiter waits for and whom, and gives up after
    ``FLYWHEEL_LOCK_TIMEOUT`` seconds with one line naming this lock and its holder (a stopped
    publisher too): the batch fails with that line and the queue tries it again later.
    """
    with ContentStore(settings) as store, store.lock():
        yield


class BodyCache:
    """Post bodies rendered to HTML, kept between builds: one file per page record, replaced
    when its Markdown (or anything else its body is made from) changes.

    A page rendered again only because its neighbours changed (its prev/next links) takes its
    body from here instead of running markdown-it and Pygments again. Each entry starts with the
    digest of its inputs and of its own bytes: a stale, torn or edited entry is a miss, never
    output. Entries are written atomically (a rename) but not fsynced: after a crash, a lost or
    torn one is just rendered again.
    """

    def __init__(self, folder: Path, version: str) -> None:
        self.folder = folder
        # Bodies depend on the Markdown code too (markup.py), which the theme version leaves out.
        self.version = _key(version, Path(__file__).with_name("markup.py").read_bytes())
        self.wrote = False

    def key(self, record: dict[str, Any], files: set[str], pages: dict[str, str], date: str) -> str:
        """Everything a body is made from: the Markdown (by its blob's sha256), the names of the
        post's other files, the URLs of the session's other pages, the date line's date."""
        main = f"{record['kind']}.{record['ext']}"
        return _key(self.version, record["files"][main], sorted(files), sorted(pages.items()), date)

    def _slot(self, record: dict[str, Any]) -> Path:
        return self.folder / f"{record_key(record['session_id'], record['kind'])}.json"

    def get(self, record: dict[str, Any], key: str) -> Rendered | None:
        try:
            digest, payload = self._slot(record).read_bytes().split(b"\n", 1)
            if digest != sha256_bytes(key.encode() + b"\n" + payload).encode():
                return None
            body, heading, used, dateline = json.loads(payload)
        except (OSError, ValueError):
            return None
        if not (isinstance(body, str) and isinstance(heading, (str, type(None))) and isinstance(used, list)
                and isinstance(dateline, list) and all(isinstance(x, str) for x in [*used, *dateline])):
            return None
        return Rendered(body, heading, set(used), list(dateline))

    def put(self, record: dict[str, Any], key: str, rendered: Rendered) -> None:
        payload = json.dumps([rendered.body, rendered.heading, sorted(rendered.used), rendered.dateline]).encode()
        path = self._slot(record)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(sha256_bytes(key.encode() + b"\n" + payload).encode() + b"\n" + payload)
            os.replace(tmp, path)
        except OSError:  # a cache: a full disk or a read-only state folder only costs a render
            tmp.unlink(missing_ok=True)
            return
        self.wrote = True

    def prune(self, posts: list[Post]) -> None:
        """Drop the entries of pages no longer in the site (and temporary files a crash left)."""
        # Names, not paths: a Path per page would cost a publish more than the listing itself.
        live = {f"{record_key(r['session_id'], r['kind'])}.json" for post in posts for r in [post.main, *post.companions]}
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        for name in names:
            if name not in live:
                (self.folder / name).unlink(missing_ok=True)


#: What a plain dict answers as an attribute (``items``, ``keys``...): to Jinja, ``x.items`` is that method.
_DICT_ATTRS = frozenset(dir(dict))


def _environment(*, sandboxed: bool = False, **options: Any) -> Any:
    """A Jinja2 environment that finds ``page.title`` in a plain dict without an exception first;
    ``sandboxed``: Jinja2's SandboxedEnvironment as it is, for templates the user's
    ``templates_dir`` holds (a cloned repository's own flywheel.toml may name one)."""
    import jinja2

    if sandboxed:
        from jinja2.sandbox import SandboxedEnvironment

        return SandboxedEnvironment(**options)

    class Environment(jinja2.Environment):
        def getattr(self, obj: Any, attribute: str) -> Any:
            # Jinja tries getattr(obj, name), then obj[name]: on the dicts every page is made of,
            # an AttributeError raised and caught per lookup, a fifth of the time a page takes.
            # A dict key that is no dict attribute has the same answer, found first.
            if type(obj) is dict and attribute not in _DICT_ATTRS:
                try:
                    return obj[attribute]
                except KeyError:
                    pass
            return super().getattr(obj, attribute)

    return Environment(**options)


class Theme:
    """Templates (user's ``templates_dir/web/`` first), Markdown, CSS and feed bodies."""

    def __init__(self, settings: Settings, store: ContentStore, *, body_cache: bool = False) -> None:
        from importlib.util import find_spec

        self.settings = settings
        self.store = store
        self.search = [*([settings.templates_dir] if settings.templates_dir else []), TEMPLATES]
        # The version covers every input of every page that is not in its context: templates,
        # CSS, and the libraries that turn Markdown and code into HTML, by their package's
        # __init__.py, which states their version: read, not imported (a build with nothing new
        # renders nothing, and importing markdown-it alone would cost it 40 ms).
        digest = hashlib.sha256(THEME_VERSION.encode())
        for package in ("pygments", "markdown_it", "jinja2"):
            digest.update(Path(find_spec(package).origin).read_bytes())
        for name in TEMPLATE_NAMES:
            digest.update(self.source(name).encode())
        self.version = digest.hexdigest()
        self._md: Any = None
        self._env: Any = None
        self._bodies: dict[tuple, Rendered] = {}
        #: Post bodies kept between builds (incremental builds only: a full build renders all).
        self.body_cache = BodyCache(settings.state_dir / "cache" / "body", self.version) if body_cache else None
        self.bodies_rendered = self.bodies_cached = 0

    def source(self, name: str) -> str:
        """A template's text: the user's ``templates_dir/web/...`` first, then the packaged one."""
        for folder in self.search:
            path = Path(folder) / name
            if path.is_file():
                return path.read_text(encoding="utf-8")
        raise FileNotFoundError(f"template {name!r} not found in {', '.join(map(str, self.search))}")

    @property
    def env(self) -> Any:
        """Jinja2 with autoescape and StrictUndefined, made on first render (a no-op build needs none)."""
        if self._env is None:
            import jinja2

            from flywheel_core import private_cache_folder

            sandboxed = self.settings.templates_dir is not None
            # Compiled templates are loaded as code: only from a folder that is the user's alone, never
            # from the project's state folder, which a cloned repository may ship with one in it. Apart:
            # a sandbox compiles calls differently, and the cache does not tell them apart.
            cache = private_cache_folder("web-templates-sandboxed" if sandboxed else "web-templates")
            self._env = _environment(
                sandboxed=sandboxed,
                loader=jinja2.FileSystemLoader([str(p) for p in self.search]),
                autoescape=True,
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                auto_reload=False,  # templates do not change during a build: no stat per page
                bytecode_cache=None if cache is None else jinja2.FileSystemBytecodeCache(str(cache)),
            )
        return self._env

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
        if self.settings.templates_dir is None:
            return self.env.get_template(template).render(**context)
        import jinja2

        try:
            return self.env.get_template(template).render(**context)
        except jinja2.TemplateError as exc:  # the user's templates: a one-line error, not a traceback
            from flywheel_core import UsageError

            where = f"{exc.filename}:{exc.lineno}" if isinstance(exc, jinja2.TemplateSyntaxError) else f"template {template!r}"
            raise UsageError(f"{where}: {exc.message} (templates from templates_dir "
                             f"{self.settings.templates_dir} run sandboxed)") from None

    def css(self) -> bytes:
        from flywheel_publish_web.markup import pygments_css

        return (self.source("web/style.css") + "\n/* code highlighting (Pygments) */\n" + pygments_css()).encode()

    def markdown(self, record: dict[str, Any], pages: dict[str, str] | None = None, *, kept: bool = False) -> Rendered:
        """A record's body (links relative to its page), rendered once per process; ``pages``:
        the URLs of the session's other pages by their artifact's file name (see ``render``).
        ``kept``: the body of the record's own page, also looked up in and added to the body cache."""
        pages = pages or {}
        key = (record["sha256"], tuple(sorted(record["files"].items())), record["meta"]["date"], tuple(sorted(pages.items())))
        if key not in self._bodies:
            main = f"{record['kind']}.{record['ext']}"
            files = {n for n in record["files"] if n != main}
            date = record["meta"]["date"][:10]
            cache = self.body_cache if kept else None
            cache_key = cache.key(record, files, pages, date) if cache else ""
            rendered = cache.get(record, cache_key) if cache else None
            if rendered is None:
                text = self.store.read_text(record["files"][main])
                rendered = self.md.render(text, files=files, pages=pages, date=date)
                self.bodies_rendered += 1
                if cache:
                    cache.put(record, cache_key, rendered)
            else:
                self.bodies_cached += 1
            self._bodies[key] = rendered
        return self._bodies[key]

    def post_body(self, record: dict[str, Any], summary: str, commits: list[dict[str, Any]],
                  pages: dict[str, str] | None = None) -> dict[str, Any]:
        """The rendered body, and what the page around it adds: each thing once.

        The summary (the lede), commits and the session id (in the provenance) are left out when
        the body already says them; a leading date line goes into the header, which shows the date.
        The chart and gallery images are shown unless the body shows them.
        """
        from markupsafe import Markup

        from flywheel_publish_web.markup import mentions, plain_text, plain_texts

        rendered = self.markdown(record, pages, kept=True)
        files, meta = record["files"], record["meta"]
        said, said_uncited = plain_texts(rendered.body)
        # The summary may leave out the body's citations (an index card has no use for them).
        told = plain_text(summary.rstrip("…"), uncited=True) if summary else ""
        lede = summary if told and told not in said_uncited else ""
        image = meta.get("image")
        figure = None
        if isinstance(image, str) and image in files and image not in rendered.used:
            figure = {"src": image, "alt": _text(meta.get("image_alt"), 300) or f"{kind_label(record['kind'])} chart"}
        gallery = []
        for item in meta.get("images") or []:
            if not isinstance(item, dict) or not isinstance(item.get("src"), str) or item["src"] not in files:
                continue
            thumb = item.get("thumb") if isinstance(item.get("thumb"), str) and item.get("thumb") in files else item["src"]
            if item["src"] in rendered.used or thumb in rendered.used or item["src"] == (figure or {}).get("src"):
                continue
            caption = _text(item.get("caption"), 300)
            width, height = (item.get(k) if type(item.get(k)) is int and 0 < item[k] < 100_000 else None
                             for k in ("width", "height"))
            gallery.append({"src": item["src"], "thumb": thumb, "caption": caption, "width": width, "height": height,
                            "alt": _text(item.get("alt"), 300) or caption or "Screenshot"})
        return {
            "body": Markup(rendered.body),
            "figure": figure,
            "gallery": gallery,
            "lede": lede,
            "dateline": rendered.dateline,
            "commits": [c for c in commits if not c["hash"] or c["hash"][:7].lower() not in said],
            # The provenance names the session unless the body already does ("Made from session `…`").
            "session_said": mentions(said, record["session_id"].lower()),
        }

    def feed_body(self, post: Post) -> str:
        """The post's HTML with absolute URLs, cached by content so a rebuild renders only new posts."""
        url = self.settings.url(post.path)
        pages = {f"{r['kind']}.{r['ext']}": self.settings.url(r["permalink"]) for r in post.companions}
        key = _key(self.version, post.main["sha256"], sorted(post.main["files"].items()), url, sorted(pages.items()))
        path = self.settings.state_dir / "cache" / "feed" / f"{key}.html"
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            pass
        # The only relative URLs left in a body are the post's own files: make them absolute.
        body = _RELATIVE_ATTR.sub(lambda m: f'{m.group(1)}="{url}', self.markdown(post.main, pages).body)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)  # a cache: atomic, not worth an fsync
        return body


def _feeds(model: SiteModel, theme: Theme) -> dict[str, Page]:
    """``feed.xml`` (Atom) and ``rss.xml``: the newest listed posts, with ids that never change."""
    s = model.settings
    posts = model.listed[: s.feed_size]
    summary = [(p.main["session_id"], p.main["kind"], p.main["sha256"], p.title, p.summary, p.date, p.path, p.tags,
                p.meta.get("agent_id")) for p in posts]
    key = _key(theme.version, "feeds", theme.site_context(), summary, s.base_url_set or str(s.site_dir))
    made: dict[str, bytes] = {}

    def make() -> dict[str, bytes]:
        if made:
            return made
        from feedgen.feed import FeedGenerator

        fg = FeedGenerator()
        # The feed's own id: from base_url, else from the site folder, so two sites never share one.
        fg.id(entry_id(s.base_url if s.base_url_set else s.site_dir.as_uri(), "site"))
        fg.title(s.title)
        fg.subtitle(s.description or s.title)
        fg.link(href=s.base_url, rel="alternate")
        fg.link(href=s.url("feed.xml"), rel="self")
        fg.language(s.language)
        fg.generator("flywheel")
        if s.author:
            fg.author({"name": s.author})
        # Feed dates come from the sessions, never from the clock, so rebuilds are identical.
        # (datetime objects: feedgen would parse strings with dateutil, slowly.)
        newest = _utc(posts[0].date if posts else "2000-01-01T00:00:00Z")
        fg.updated(newest)
        fg.lastBuildDate(newest)
        for post in reversed(posts):  # feedgen prepends: add oldest first for newest-first output
            fe = fg.add_entry()
            fe.id(entry_id(post.main["session_id"], post.main["kind"]))
            fe.guid(entry_id(post.main["session_id"], post.main["kind"]), permalink=False)
            fe.title(post.title)
            fe.link(href=s.url(post.path))
            fe.published(_utc(post.date))
            fe.updated(_utc(post.date))
            author = s.author or str(post.meta.get("agent_id") or "") or s.title
            fe.author({"name": author})
            if post.summary:  # RSS readers treat <description> as HTML: escape the plain text
                fe.summary(html.escape(post.summary, quote=False), type="html")
            fe.content(theme.feed_body(post), type="html")
            for name, slug in [(type_label(post.session_type), type_slug(post.session_type)), *post.tags]:
                fe.category(term=slug, label=name)
        made["feed.xml"] = fg.atom_str(pretty=True)
        fg.subtitle(html.escape(s.description or s.title, quote=False))  # RSS: HTML; Atom: text
        made["rss.xml"] = fg.rss_str(pretty=True)
        return made

    return {name: Page(key, lambda name=name: make()[name]) for name in ("feed.xml", "rss.xml")}


def _utc(iso: str) -> Any:
    from datetime import datetime, timezone

    # fromisoformat, not strptime: strptime imports and compiles its locale-aware parser on
    # first use, a fixed cost of every publish. The stored dates are all YYYY-MM-DDTHH:MM:SSZ.
    return datetime.fromisoformat(iso.removesuffix("Z")).replace(tzinfo=timezone.utc)


def _sitemap(s: Settings, pages: dict[str, Page]) -> bytes:
    # html.escape(quote=False) escapes &, < and > as xml.sax.saxutils.escape does, without
    # importing the xml.sax package for it.
    escape = partial(html.escape, quote=False)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for path in sorted(p for p, page in pages.items() if page.sitemap):
        url = s.url(path[: -len("index.html")])
        lastmod = f"<lastmod>{pages[path].lastmod}</lastmod>" if pages[path].lastmod else ""
        lines.append(f"  <url><loc>{escape(url)}</loc>{lastmod}</url>")
    lines.append("</urlset>\n")
    return "\n".join(lines).encode()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    import ctypes

    try:
        # The C library the interpreter already has loaded (find_library would run ldconfig).
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def swap_in(staging: Path, live: Path) -> None:
    """Make ``staging`` the live site and the old site the staging folder, in one atomic step.

    Where the kernel cannot exchange two folders, fall back to three renames (the site is
    then briefly absent, but never half-built).
    """
    if not live.exists():
        os.rename(staging, live)
        return
    if _exchange(staging, live):
        return
    old = live.with_name(live.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    os.rename(live, old)
    os.rename(staging, live)
    os.rename(old, staging)


def _write(path: Path, data: bytes) -> None:
    """Write a file of the (not live) mirror in place, unless the live tree shares its inode."""
    try:
        if os.stat(path).st_nlink > 1:
            os.unlink(path)  # a hard link into the other tree: never write through it
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def _link(source: Path, target: Path) -> None:
    """Hard-link an unchanging file (a blob, a page of the other tree); copy where links fail."""
    try:
        target.unlink()
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _remove(root: Path, paths: list[str]) -> None:
    for path in paths:
        try:
            (root / path).unlink()
        except FileNotFoundError:
            continue
        parent = (root / path).parent
        while parent != root:
            try:
                parent.rmdir()  # only succeeds once the folder is empty
            except OSError:
                break
            parent = parent.parent


def _marker_id(tree: Path) -> str | None:
    try:
        return (tree / MARKER).read_text(encoding="utf-8").rsplit(" ", 1)[-1].strip()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _write_marker(tree: Path, build_id: str) -> None:
    _write(tree / MARKER, f"built by flywheel-publish-web, replaced whole on every build: {build_id}\n".encode())


def _check_site_dir(site: Path) -> None:
    from flywheel_core import UsageError

    if site.exists() and (not site.is_dir() or (any(site.iterdir()) and not (site / MARKER).exists())):
        raise UsageError(f"{site}: exists and was not built by flywheel; refusing to replace it (set site_dir)")


@attrs.define
class _Change:
    """The new state of the site and how it differs from what readers see now."""

    pages: dict[str, list[str]]  # path -> [input key, sha256 of bytes]
    files: dict[str, str]  # path -> blob sha256
    rendered: dict[str, bytes]  # the bytes of every page rendered this build
    changed: list[str]  # paths whose bytes differ from the live site (or all, when it is unknown)
    removed: list[str]  # paths the live site has and the new one does not


def _apply(tree: Path, store: ContentStore, change: _Change, removed: list[str]) -> None:
    """Bring a tree that matches the old live site up to the new one: only changed paths."""
    for path in change.changed:
        if path in change.files:
            _link(store.blob_path(change.files[path]), tree / path)
        else:
            _write(tree / path, change.rendered[path])
    _remove(tree, removed)


def _fill(tree: Path, live: Path, store: ContentStore, change: _Change) -> None:
    """Fill a new, empty tree: rendered pages are written, the others hard-linked from the live
    site (no data copied), attachments linked from the content store."""
    root = os.fspath(tree)
    made = {""}  # the tree itself
    for path in [*change.pages, *change.files]:
        target = os.path.join(root, path)  # str, not Path: a full build joins a thousand of them
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(os.path.join(root, folder), exist_ok=True)
            made.add(folder)
        if path in change.files:
            _link(store.blob_path(change.files[path]), Path(target))
        elif path in change.rendered:
            _create(target, change.rendered[path])
        else:
            _link(live / path, Path(target))


def _create(path: str, data: bytes) -> None:
    """Write a new file: one open, write and close (``open()`` would also stat the file, ask whether
    it is a terminal and seek, per page)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


#: Up to this many changed paths, a build makes them durable one by one; beyond, one sync() is cheaper.
FSYNC_LIMIT = 300


def _flush(tree: Path, paths: list[str] | None) -> None:
    """Put the new site on disk before it becomes the live one (a crash then leaves one whole site).

    ``paths``: the files written, linked or removed under ``tree`` (None: unknown, or too many):
    each is fsynced with every folder above it, whose entries changed. Otherwise ``os.sync()``,
    which also waits for every other process's writes on a busy machine.
    """
    if paths is None or len(paths) > FSYNC_LIMIT:
        os.sync()
        return
    folders = {tree}
    for path in paths:
        target = tree / path
        try:
            fd = os.open(target, os.O_RDONLY)
        except FileNotFoundError:  # removed: its folder (or the first one left above it) changed
            pass
        else:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        folders.update(target.parents[: len(Path(path).parts)])
    for folder in sorted(folders, key=lambda f: -len(f.parts)):
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:  # a folder emptied and removed
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _sync(tree: Path, live: Path, store: ContentStore, change: _Change) -> None:
    """Bring a tree of unknown content to the new site, comparing actual bytes (slow path)."""
    if not tree.exists():
        tree.mkdir(parents=True)
        _fill(tree, live, store, change)
        return
    for path, (_page_key, digest) in change.pages.items():
        target = tree / path
        if target.is_file() and sha256_bytes(target.read_bytes()) == digest:
            continue
        if path in change.rendered:
            _write(target, change.rendered[path])
        else:  # not rendered: its bytes are the live site's
            _link(live / path, target)
    for path, blob in change.files.items():
        target = tree / path
        if target.is_file() and sha256_bytes(target.read_bytes()) == blob:
            continue
        _link(store.blob_path(blob), target)
    wanted = set(change.pages) | set(change.files) | {MARKER}
    extra = [str(p.relative_to(tree)) for p in tree.rglob("*") if not p.is_dir() and str(p.relative_to(tree)) not in wanted]
    _remove(tree, extra)
    for folder in sorted((p for p in tree.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        try:
            folder.rmdir()
        except OSError:
            pass


def build_site(settings: Settings, *, full: bool = False, records: list[dict[str, Any]] | None = None,
               verify: bool = True, store: ContentStore | None = None) -> BuildReport:
    """Build the site from the content store, rendering only pages whose inputs changed.

    Two trees: the live ``site_dir`` and a mirror beside it (``<site_dir>.staging``). Changes
    go into the mirror, which is then exchanged with the live folder in one atomic rename,
    and the old live folder receives the same changes to become the next mirror. Readers
    never see a half-built site, and each build writes only what changed (creating or
    deleting a folder per page would cost more than rendering, on some disks).

    ``verify`` also checks that every file the manifest lists is still in the live site (and
    puts back what was deleted by hand); publishing skips it, ``flywheel site build`` does it.
    ``store``: an open content store to read (default: one opened and closed here).
    """
    if store is None:
        with ContentStore(settings) as store:
            return build_site(settings, full=full, records=records, verify=verify, store=store)
    with _collector_paused():
        return _build(settings, full, records, verify, store)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one build (on again after it, if it was on).

    A build makes a few hundred thousand objects that nearly all live until it ends (the
    records, the model, the page plan), and every automatic collection walks them all again:
    a tenth of the CPU time of publishing one post to a site of 1,000. The build breaks its
    own reference cycles when it ends, so what it leaves is freed at once.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: The plugin's code that turns records into pages, and libraries beyond the theme's whose version
#: can change a page (a tag's address, a feed): read, not imported. Both are inputs of every build.
_CODE = ("build.py", "site.py", "markup.py", "store.py", "settings.py")
_LIBRARIES = (("slugify", "__version__.py"), ("feedgen", "version.py"), ("lxml", "__init__.py"))


def _inputs(settings: Settings, theme: Theme, digests: dict[tuple[str, str], str]) -> str:
    """A digest of everything a build makes the site from: the records, the settings that show on
    pages, the theme (templates, CSS, Markdown and highlighting libraries), this code and Python.

    When the last build's manifest holds the same digest, every page would get the key it has
    and the build has nothing to do: it neither models nor plans the site (on 1,000 posts, a
    fifth of the CPU of ``site build`` with nothing new). Anything else, a digest missing, torn
    or edited included, is a miss: the build plans every page as usual.
    """
    from importlib.util import find_spec

    digest = hashlib.sha256(sys.version.encode())
    for name in _CODE:
        digest.update(Path(__file__).with_name(name).read_bytes())
    for package, name in _LIBRARIES:
        spec = find_spec(package)
        digest.update(Path(spec.origin).with_name(name).read_bytes() if spec and spec.origin else b"-")
    shown = attrs.asdict(settings, recurse=False, filter=lambda a, _v: a.name not in ("deploy", "config", "source"))
    return _key(digest.hexdigest(), theme.version, shown, list(digests.values()))


def _read_manifest(settings: Settings) -> dict[str, Any]:
    try:
        state = json.loads((settings.state_dir / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    # Edited into another shape: nothing is known (the build then writes every file).
    ok = isinstance(state, dict) and all(isinstance(state.get(k), dict) for k in ("pages", "files"))
    return state if ok else {}


def _all_there(site: Path, state: dict[str, Any]) -> bool:
    root = os.fspath(site)
    return all(os.path.exists(os.path.join(root, path)) for part in ("pages", "files") for path in state[part])


def _build(settings: Settings, full: bool, records: list[dict[str, Any]] | None, verify: bool,
           store: ContentStore) -> BuildReport:
    site = settings.site_dir
    mirror = site.with_name(site.name + ".staging")
    _check_site_dir(site)
    _check_site_dir(mirror)
    records = store.records() if records is None else records
    theme = Theme(settings, store, body_cache=not full)
    state = _read_manifest(settings)
    # The manifest describes the live site only if it was written for this folder by the build
    # that made what is there (the marker): otherwise nothing is known, and everything is written.
    live = state if (not full and state.get("site_dir") == str(site) and _marker_id(site) == state.get("id")) else None
    digests = record_digests(records)  # also the post pages' keys: computed once
    inputs = _inputs(settings, theme, digests)
    if live and live.get("inputs") == inputs and (not verify or _all_there(site, live)):
        return BuildReport(site, sum(p.endswith(".html") for p in live["pages"]), [], [], False, unchanged=True)
    model = SiteModel(settings, store, records, digests)
    pages, files = plan_pages(model, theme)
    try:
        return _render(settings, verify, store, model, theme, pages, files, live, inputs)
    finally:
        # The plan's reference cycles (the sitemap's page refers to the table of pages, a post
        # to its neighbours), broken so that all of it is freed now, with the collector paused.
        pages.clear()
        for post in model.posts:
            post.prev = post.next = None


def _render(settings: Settings, verify: bool, store: ContentStore, model: SiteModel, theme: Theme,
            pages: dict[str, Page], files: dict[str, str], live: dict[str, Any] | None, inputs: str) -> BuildReport:
    """Render the pages whose key changed, then put the new site in place (see ``build_site``)."""
    site = settings.site_dir
    mirror = site.with_name(site.name + ".staging")
    pages.update(_feeds(model, theme))
    pages["sitemap.xml"] = Page(_key("sitemap", settings.base_url, sorted(
        (p, pg.lastmod) for p, pg in pages.items() if pg.sitemap)), lambda: _sitemap(settings, pages))
    robots = f"User-agent: *\nAllow: /\n\nSitemap: {settings.url('sitemap.xml')}\n".encode()
    pages["robots.txt"] = Page(sha256_bytes(robots), lambda: robots)
    pages[".nojekyll"] = Page("nojekyll", lambda: b"")  # GitHub Pages: serve the files as they are

    manifest_path = settings.state_dir / MANIFEST
    mirror_known = live is not None and _marker_id(mirror) == live["id"]
    new_pages: dict[str, list[str]] = {}
    rendered: dict[str, bytes] = {}
    missing: set[str] = set()  # deleted from the live site by hand: put back
    with progress(len(pages), "building the site") as task:  # a bar only on a terminal
        for path, page in pages.items():
            task.advance()
            before = live["pages"].get(path) if live else None
            if before and before[0] == page.key:
                if not verify or os.path.exists(site / path):
                    new_pages[path] = before
                    continue
                missing.add(path)
            rendered[path] = page.render()
            new_pages[path] = [page.key, sha256_bytes(rendered[path])]
    if live:
        old_pages, old_files = live["pages"], live["files"]
        if verify:
            missing |= {p for p, b in files.items() if old_files.get(p) == b and not os.path.exists(site / p)}
        changed = [p for p, v in new_pages.items() if old_pages.get(p, [None, None])[1] != v[1] or p in missing]
        changed += [p for p, b in files.items() if old_files.get(p) != b or p in missing]
        removed = sorted((set(old_pages) | set(old_files)) - set(new_pages) - set(files))
    else:
        changed, removed = [*new_pages, *files], []
    if theme.body_cache and theme.body_cache.wrote:
        theme.body_cache.prune(model.posts)
    change = _Change(new_pages, files, rendered, sorted(changed), removed)
    report = BuildReport(site, sum(p.endswith(".html") for p in pages), change.changed, removed, live is None,
                         theme.bodies_rendered, theme.bodies_cached)
    build_id = _key({p: v[1] for p, v in new_pages.items()}, files)[:16]  # of the content only
    manifest = {"site_dir": str(site), "id": build_id, "pages": new_pages, "files": files, "inputs": inputs}
    if live and not changed and not removed:
        if new_pages != live["pages"] or inputs != live.get("inputs"):  # same bytes from new inputs: remember them
            atomic_write(manifest_path, json.dumps(manifest, sort_keys=True).encode())
        return report
    if mirror_known:
        # Marked unknown (durably) before it changes: a build that dies part-way (disk full,
        # killed) leaves a mirror the next build compares byte by byte instead of trusting.
        _write_marker(mirror, "incomplete")
        _flush(mirror, [MARKER])
        _apply(mirror, store, change, removed)
    else:
        _sync(mirror, site, store, change)
    _write_marker(mirror, build_id)
    _flush(mirror, [*change.changed, *removed, MARKER] if mirror_known else None)
    swap_in(mirror, site)
    atomic_write(manifest_path, json.dumps(manifest, sort_keys=True).encode())
    if live is not None and mirror.exists():
        # The old live site is now the mirror: give it the same changes for the next build.
        _apply(mirror, store, change, removed)
        _write_marker(mirror, build_id)
    return report
