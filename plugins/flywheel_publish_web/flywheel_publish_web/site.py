"""The site model (posts, tags, archive) and the page plan: what each page shows, keyed by its inputs."""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import attrs

from flywheel_publish_web.settings import DOWNLOAD_KINDS, PAGE_KINDS, Settings
from flywheel_publish_web.store import COPIED_EXTS, ContentStore, is_draft, nothing_to_say, permalink_for, slugify

__all__ = ["Page", "Post", "SiteModel", "plan_pages", "record_digests", "type_label", "type_slug", "THEME_VERSION"]

#: Bump when the page-making code changes in a way templates do not show, to rebuild every page.
THEME_VERSION = "2"
TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_NAMES = (
    "web/base.html.j2",
    "web/index.html.j2",
    "web/post.html.j2",
    "web/list.html.j2",
    "web/tags.html.j2",
    "web/archive.html.j2",
    "web/404.html.j2",
    "web/redirect.html.j2",
    "web/style.css",
    "web/favicon.svg",
)
TYPE_LABELS = {"build": "Build", "trade": "Trade", "life_aria": "Aria"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
RASTER = (".png", ".jpg", ".jpeg", ".gif", ".webp")
FEED_NS = uuid.UUID("6f1c1f5e-8a41-4d38-9a0e-5b3f4f0e7a21")


def copyable(name: str) -> bool:
    """Only types a browser will not run as a document are copied into the site."""
    return "." in name and name.rsplit(".", 1)[1].lower() in COPIED_EXTS


def type_label(session_type: str) -> str:
    return TYPE_LABELS.get(session_type, session_type.replace("_", " ").title())


def kind_label(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def human_date(iso: str) -> str:
    """A date as every page shows it: ``YYYY-MM-DD``, the style of the titles ("Trading journal
    2025-12-02", "Build log: app, 2025-12-02") and of the artifacts' own text, so a page never
    shows one day in two styles (titles name addresses: they keep theirs)."""
    return iso[:10]


def entry_id(session_id: str, kind: str) -> str:
    """The feed id of a page: from session id and kind only, so it survives any rebuild or move."""
    return uuid.uuid5(FEED_NS, f"{session_id}\x00{kind}").urn


def _text(value: Any, limit: int = 500) -> str:
    """One line of untrusted text (HTML escaping happens in the template)."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return ""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@attrs.define(eq=False)
class Post:
    """One session's page: its main record, companion pages and downloads."""

    main: dict[str, Any]
    path: str
    title: str
    date: str
    draft: bool
    summary: str
    project: str
    tags: list[tuple[str, str]]  # (name, slug): what the post shows
    #: Tag slugs left out as near-duplicates -> the slug of the tag page they duplicate.
    tag_aliases: dict[str, str] = attrs.field(factory=dict)
    companions: list[dict[str, Any]] = attrs.field(factory=list)
    downloads: list[dict[str, Any]] = attrs.field(factory=list)
    prev: Post | None = None
    next: Post | None = None

    @property
    def meta(self) -> dict[str, Any]:
        return self.main["meta"]

    @property
    def session_type(self) -> str:
        return self.main["session_type"]

    def companion_path(self, record: dict[str, Any]) -> str:
        return record["permalink"]

    def local_image(self) -> str | None:
        """The post's preview image (an attachment name): ``meta.image``, else the first gallery thumb."""
        files = self.main["files"]
        image = self.meta.get("image")
        if isinstance(image, str) and image in files:
            return image
        for entry in self.meta.get("images") or []:
            if isinstance(entry, dict):
                for key in ("thumb", "src"):
                    if isinstance(entry.get(key), str) and entry[key] in files:
                        return entry[key]
        return None

    def preview_image(self) -> str | None:
        """The image networks show in a link preview (``og:image``): a raster one, since they
        ignore SVG. ``meta.image`` if it is one, else a PNG/JPEG of the same name beside it."""
        image = self.local_image()
        if image is None or image.lower().endswith(RASTER):
            return image
        stem = image.rsplit(".", 1)[0]
        return next((stem + ext for ext in RASTER if stem + ext in self.main["files"]), None)


# English endings folded away when comparing tags, so "trade", "trades" and "trading" are one.
_ENDINGS = re.compile(r"(?<=[a-z0-9]{3})(?:ing|ed|es|s)?e?$")


@functools.lru_cache(maxsize=4096)
def _tag(text: str) -> tuple[str, str]:
    """A tag's slug, and what makes two tags the same to a reader (``Three.js``/``threejs``,
    ``trade``/``trading``); cached: a site has a few hundred tags and a thousand posts."""
    slug = slugify(text, 60) or "t-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return slug, _ENDINGS.sub("", slug.replace("-", ""))


@functools.lru_cache(maxsize=256)
def type_slug(session_type: str) -> str:
    """The tag page that lists the sessions of a type (``tags/life-aria/``): the address it always had."""
    return slugify(session_type, 60)


def _post_tags(record: dict[str, Any], types: dict[str, str] | None = None) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The tags a post shows, (name, slug): explicit tags, then project, symbols and technologies.

    Not the session type (the byline's badge says it, and links to that type's tag page), nor a
    near-duplicate of it or of an earlier tag (``trading`` on a trade, ``threejs`` after ``Three.js``).
    A tag naming another session type (``life_aria`` on a build post) shows that type's label, as
    its tag page does (``types``: each type's tag slug -> its label).
    Also returns the slugs left out this way, each with the slug of the page it duplicates.
    """
    meta = record["meta"]
    provenance = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    names: list[Any] = []
    for source in (meta.get("tags"), [meta.get("project")], provenance.get("symbols"), meta.get("technologies"),
                   provenance.get("technologies")):
        if isinstance(source, list):
            names.extend(source)
    kind = type_slug(record["session_type"])
    kept = {_tag(record["session_type"])[1]: kind, _tag(type_label(record["session_type"]))[1]: kind}  # folded -> slug
    shown: dict[str, str] = {}
    dropped: dict[str, str] = {}
    for name in names:
        text = _text(name, 60).lstrip("#")
        if not text:
            continue
        slug, folded = _tag(text)
        same = kept.setdefault(folded, slug)
        if same != slug:
            dropped.setdefault(slug, same)
        elif slug not in shown and slug != kind:
            shown[slug] = (types or {}).get(slug, text)
    return [(name, slug) for slug, name in shown.items()], {s: t for s, t in dropped.items() if s not in shown}


def _current(record: dict[str, Any]) -> dict[str, Any]:
    """A record stored before addresses were a pure function, given its address under today's rule."""
    if "aliases" in record:
        return record
    meta = record["meta"]
    return {**record, "aliases": [], "legacy": record.get("permalink"),
            "permalink": permalink_for(record["session_type"], record["session_id"], record["kind"],
                                       meta.get("title"), meta["date"])}


def record_digests(records: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """A digest of each stored record, by (session id, kind): what a page shows of a record is
    made from the record (and the session types, keyed apart), so its digest stands for all of it
    in a page's key."""
    return {(r["session_id"], r["kind"]): _key(r) for r in records}


class SiteModel:
    """Every post, newest first, with tags and prev/next links, from the stored records."""

    def __init__(self, settings: Settings, store: ContentStore, records: list[dict[str, Any]],
                 digests: dict[tuple[str, str], str] | None = None) -> None:
        self.settings = settings
        self.store = store
        #: (session id, kind) -> digest of the stored record (``record_digests``): what its pages show of it.
        self.digests = record_digests(records) if digests is None else digests
        by_session: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for record in records:
            if record["kind"] in PAGE_KINDS and record["ext"] != "md":
                continue  # stored before pages had to be Markdown
            by_session[record["session_id"]][record["kind"]] = _current(record)
        # Every session type's tag page, by its slug: a tag naming a type shows the type's label.
        types = {type_slug(t): type_label(t) for t in {*TYPE_LABELS, *(r["session_type"] for r in records)}}
        #: What a post's tags are made from besides its main record (see ``_post_tags``).
        self.types_key = _key(sorted(types.items()))
        posts = []
        #: Downloads of sessions that have no page (yet): still at their own address.
        self.loose: list[dict[str, Any]] = []
        #: Old address -> the page now there (retitled pages, addresses of an earlier rule).
        self.redirects: dict[str, str] = {}
        for kinds in by_session.values():
            pages = [kinds[k] for k in PAGE_KINDS if k in kinds]
            downloads = [kinds[k] for k in DOWNLOAD_KINDS if k in kinds]
            self._aliases(pages)
            if not pages:
                self.loose.extend(downloads)
                continue
            main = pages[0]
            meta = main["meta"]
            tags, tag_aliases = _post_tags(main, types)
            post = Post(
                main=main,
                path=main["permalink"],
                title=_text(meta.get("title"), 300) or self._heading(main) or f"{type_label(main['session_type'])} session",
                date=meta["date"],
                draft=is_draft(main),
                summary=_text(meta.get("summary"), 600),
                project=_text(meta.get("project"), 100),
                tags=tags,
                tag_aliases=tag_aliases,
                companions=pages[1:],
                downloads=downloads,
            )
            posts.append(post)
        live = {r["permalink"] for kinds in by_session.values() for r in kinds.values()}
        self.redirects = {old: new for old, new in sorted(self.redirects.items()) if old not in live}
        posts.sort(key=lambda p: (p.date, p.path), reverse=True)
        self.posts = posts
        self.listed = [p for p in posts if not p.draft]
        by_project: dict[str, list[Post]] = defaultdict(list)
        for post in self.listed:
            if post.project:
                by_project[post.project].append(post)
        for group in by_project.values():  # newest first: the next post is the newer one
            for newer, older in zip(group, group[1:]):
                older.next, newer.prev = newer, older
        # A tag page per tag, and one per session type (its badge links there) named by its label.
        tags: dict[str, dict[str, Any]] = {}
        for post in self.listed:
            for name, slug in [*post.tags, (type_label(post.session_type), type_slug(post.session_type))]:
                tags.setdefault(slug, {"name": name, "slug": slug, "posts": []})["posts"].append(post)
        for tag in tags.values():  # newest first, as listed (a tag and the type can share a page)
            tag["posts"] = list(dict.fromkeys(tag["posts"]))
        self.tags = dict(sorted(tags.items()))
        #: Tag pages of tags now left out as near-duplicates -> the tag page they duplicate.
        self.tag_redirects = {old: new for post in self.listed for old, new in post.tag_aliases.items()
                              if old not in self.tags and new in self.tags}

    def _aliases(self, pages: list[dict[str, Any]]) -> None:
        """Old addresses of a session's pages: earlier titles, and the rule before addresses were
        pure (the session's first page at ``legacy``, its other pages at ``legacy/<kind>/``)."""
        legacy = [r for r in pages if r.get("legacy")]
        for record in pages:
            old = list(record["aliases"])
            if record.get("legacy"):
                old.append(record["legacy"] if record is legacy[0] else f"{record['legacy']}{record['kind'].replace('_', '-')}/")
            for path in old:
                self.redirects.setdefault(path, record["permalink"])

    def _heading(self, record: dict[str, Any]) -> str:
        text = self.store.read_text(record["files"][f"{record['kind']}.{record['ext']}"])
        match = re.search(r"^#[ \t]+(.+?)[ \t#]*$", text, re.MULTILINE)
        return _text(match.group(1), 300) if match else ""


@attrs.define
class Page:
    """A page to write: ``key`` hashes every input, ``render`` makes its bytes when needed."""

    key: str
    render: Callable[[], bytes]
    sitemap: bool = False
    lastmod: str | None = None


def _key(*parts: Any) -> str:
    """A digest of a page's inputs. ``repr`` of plain dicts, lists and strings is stable for
    the same inputs (dicts are built in a fixed order) and much cheaper than sorted JSON."""
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def root_of(path: str) -> str:
    """The relative prefix from a page folder back to the site root (``./`` at the root)."""
    return "../" * path.count("/") or "./"


def plan_pages(model: SiteModel, theme: Any) -> tuple[dict[str, Page], dict[str, str]]:
    """Every page of the site (``path/index.html`` -> Page) and every copied file (path -> blob)."""
    s = model.settings
    site = theme.site_context()
    pages: dict[str, Page] = {}
    files: dict[str, str] = {}

    def page(folder: str, template: str, ctx: dict[str, Any] | None, *, listed: bool = True,
             lastmod: str | None = None, extra: Callable[[], dict[str, Any]] | None = None,
             key_parts: Any = None, make_ctx: Callable[[], dict[str, Any]] | None = None) -> None:
        """Add ``folder/index.html`` keyed by its context, or by ``key_parts`` that determine
        ``make_ctx()``; ``extra`` adds context that the key already determines (the body)."""
        root = root_of(folder)
        if make_ctx is None:
            full = {"site": site, "root": root, **(ctx or {})}
            listing = full.pop("entries", None)
            if listing is None:
                key = _key(theme.version, template, full)
                make_ctx = lambda: full  # noqa: E731
            else:  # posts: keyed by what their entries show, entries made only to render
                key = _key(theme.version, template, full, model.types_key, [listed_key(p) for p in listing])
                make_ctx = lambda: {**full, "entries": [entry(p, root) for p in listing]}  # noqa: E731
        else:
            key = _key(theme.version, template, site, root, key_parts)

        def render() -> bytes:
            context = {"site": site, "root": root, **make_ctx()}
            return theme.render(template, **context, **(extra() if extra else {})).encode("utf-8")

        pages[f"{folder}index.html"] = Page(key, render, sitemap=listed, lastmod=lastmod)

    entries: dict[tuple[int, str], dict[str, Any]] = {}

    def listed_key(post: Post) -> str:
        """What an entry in a listing shows of ``post`` (its root aside) is made from its main
        record alone, and the session types (``model.types_key``, in the listing's key): the
        record's digest stands for it. A post is in several listings, whose keys then hold a
        digest, not all it shows."""
        return model.digests[post.main["session_id"], post.main["kind"]]

    def entry(post: Post, root: str) -> dict[str, Any]:
        key = (id(post), root)
        if key not in entries:
            entries[key] = _entry(post, root)
        return entries[key]

    def _entry(post: Post, root: str) -> dict[str, Any]:
        image = post.local_image()
        return {
            "title": post.title,
            "url": root + post.path,
            "date": post.date,
            "date_human": human_date(post.date),
            "session_type": post.session_type,
            "type_label": type_label(post.session_type),
            "type_url": f"{root}tags/{type_slug(post.session_type)}/",
            "summary": post.summary,
            "image": root + post.path + image if image else None,
            "tags": [{"name": n, "url": f"{root}tags/{t}/"} for n, t in post.tags[:6]],
        }

    def head(folder: str, title: str, description: str, **more: Any) -> dict[str, Any]:
        return {"title": title, "description": description or s.description, "canonical": s.url(folder),
                "image": None, "og_type": "website", "noindex": False, "published": None, **more}

    def paginated(base: str, posts: list[Post], template: str, title: str, description: str,
                  heading: str | None, label: str) -> None:
        """A front page at ``base`` with the newest per_page posts, older ones on ``base/page/N/``.

        Numbered pages count from the oldest, so a page keeps its posts forever (stable links)
        and a new post rewrites only the front page and the newest numbered page.
        """
        front, rest = posts[: s.per_page], posts[s.per_page :][::-1]
        chunks = [rest[i : i + s.per_page][::-1] for i in range(0, len(rest), s.per_page)]

        def link(root: str, n: int) -> str:
            return f"{root}{base}" if n == 0 else f"{root}{base}page/{n}/"

        for number, chunk in enumerate([front, *chunks]):
            folder = base if number == 0 else f"{base}page/{number}/"
            root = root_of(folder)
            span = f"{human_date(chunk[-1].date)} to {human_date(chunk[0].date)}" if number else ""
            newer = None if number == 0 else link(root, 0 if number == len(chunks) else number + 1)
            older = link(root, len(chunks) if number == 0 else number - 1) if (chunks if number == 0 else number > 1) else None
            page(folder, template, {
                "page": head(folder, f"{title}: {span}" if number else title, description),
                "heading": f"{label} from {span}" if number else heading,
                "entries": chunk,
                "pager": {"newer": newer, "older": older},
            })

    paginated("", model.listed, "web/index.html.j2", s.title, s.description, None, "Sessions")

    # Post pages and their companions, downloads and attachments; old addresses redirect.
    for post in model.posts:
        _plan_post(post, model, theme, page, files)
    _plan_downloads(model.loose, files)
    for old, new in model.redirects.items():
        page(old, "web/redirect.html.j2", {"page": {**head(old, "Moved", ""), "canonical": s.url(new), "noindex": True},
                                           "target": root_of(old) + new}, listed=False)

    # A tag left out as a near-duplicate (a trade's "trading") points to the page of the one shown.
    for old, new in sorted(model.tag_redirects.items()):
        folder = f"tags/{old}/"
        page(folder, "web/redirect.html.j2", {"page": {**head(folder, "Moved", ""), "canonical": s.url(f"tags/{new}/"),
                                                       "noindex": True}, "target": root_of(folder) + f"tags/{new}/"},
             listed=False)

    # Tags, and the archive by month.
    for slug, tag in model.tags.items():
        paginated(f"tags/{slug}/", tag["posts"], "web/list.html.j2", f"#{tag['name']}",
                  f"Sessions tagged {tag['name']}.", f"#{tag['name']}", f"#{tag['name']}")
    page("tags/", "web/tags.html.j2", {
        "page": head("tags/", "Tags", "Every tag on the site."),
        "tags": [{"name": t["name"], "url": f"{slug}/", "count": len(t["posts"])} for slug, t in model.tags.items()],
    })
    months: dict[str, list[Post]] = defaultdict(list)
    for post in model.listed:
        months[post.date[:7]].append(post)
    for month, posts in months.items():
        folder = f"archive/{month[:4]}/{month[5:7]}/"
        label = f"{MONTHS[int(month[5:7]) - 1]} {month[:4]}"
        page(folder, "web/list.html.j2", {
            "page": head(folder, label, f"Sessions of {label}."),
            "heading": label,
            "entries": posts,
            "pager": {"newer": None, "older": None},
        })
    page("archive/", "web/archive.html.j2", {
        "page": head("archive/", "Archive", "Every session, by month."),
        "months": [{"label": f"{MONTHS[int(m[5:7]) - 1]} {m[:4]}", "url": f"{m[:4]}/{m[5:7]}/", "count": len(p)}
                   for m, p in months.items()],
    })
    # GitHub Pages serves 404.html at any depth, so its links are absolute.
    pages["404.html"] = Page(_key(theme.version, "404", site), lambda: theme.render(
        "web/404.html.j2", site=site, root=s.base_url, page=head("404.html", "Not found", "")).encode())
    pages["style.css"] = Page(_key(theme.version, "css"), theme.css)
    pages["favicon.svg"] = Page(_key(theme.version, "favicon"), lambda: theme.source("web/favicon.svg").encode())
    return pages, files


def _plan_post(post: Post, model: SiteModel, theme: Any, page: Callable[..., None], files: dict[str, str]) -> None:
    """A page per record of the session, keyed by what it is made from: the records, the session
    types (a tag naming one shows its label) and the neighbours.

    The key uses the raw inputs, and the page's context is built only when it is rendered:
    on an incremental build that is a handful of the thousand post pages.
    """
    records = [post.main, *post.companions, *post.downloads]
    inputs = [model.digests[r["session_id"], r["kind"]] for r in records]
    neighbours = [(p.path, p.title) if p else None for p in (post.prev, post.next)]
    for record in [post.main, *post.companions]:
        folder = record["permalink"]
        draft = is_draft(record)
        page(folder, "web/post.html.j2", None, listed=not draft and not post.draft, lastmod=post.date[:10],
             key_parts=(record["kind"], post.path, post.title, inputs, model.types_key, neighbours),
             make_ctx=lambda record=record, folder=folder: _post_context(post, record, folder, model.settings, theme))
        for name, blob in record["files"].items():
            if name != f"{record['kind']}.{record['ext']}" and copyable(name):
                files[folder + name] = blob
    _plan_downloads(post.downloads, files)


def _plan_downloads(records: list[dict[str, Any]], files: dict[str, str]) -> None:
    """A download's files, in its own folder (its address does not depend on its session's page)."""
    for record in records:
        for name, blob in record["files"].items():
            if copyable(name):
                files[record["permalink"] + name] = blob


def _post_context(post: Post, record: dict[str, Any], folder: str, s: Settings, theme: Any) -> dict[str, Any]:
    """What ``web/post.html.j2`` shows for one record (the session's page or a companion)."""
    from flywheel_publish_web.markup import url_scheme

    root = root_of(folder)
    meta = post.meta
    provenance = meta.get("provenance") if isinstance(meta.get("provenance"), dict) else {}
    commits = []
    for commit in provenance.get("commits") or []:
        if not isinstance(commit, dict):
            continue
        url = commit.get("url")
        url = url if isinstance(url, str) and url_scheme(url) in ("http", "https") else None
        message = _text(str(commit.get("message") or "").splitlines()[0] if commit.get("message") else "", 200)
        commits.append({"hash": _text(commit.get("hash"), 12), "message": message, "url": url})
    counts = []
    for key, label in (("trades", "trades"), ("conversations", "conversations")):
        value = provenance.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            counts.append(f"{value} {label if value != 1 else label[:-1]}")
    symbols = [_text(x, 20) for x in provenance.get("symbols") or [] if _text(x, 20)]
    neighbour = lambda p: {"title": p.title, "url": root + p.path} if p else None  # noqa: E731
    companion = record is not post.main
    rmeta = record["meta"]
    draft = is_draft(record)
    title = (_text(rmeta.get("title"), 300) or kind_label(record["kind"])) if companion else post.title
    summary = _text(rmeta.get("summary"), 600) if companion else post.summary
    # The session's page links to its companions ("listed in the [build log](build_log.md)").
    pages = {} if companion else {f"{r['kind']}.{r['ext']}": root + r["permalink"] for r in post.companions}
    shown = theme.post_body(record, summary, commits, pages)
    agent = _text(rmeta.get("agent_id"), 100)
    # What a date line in the body said beyond the header's date, agent and project (a duration).
    known = {post.date[:10], agent, post.project, type_label(post.session_type)}
    return {
        **shown,
        "page": {
            "title": title,
            "description": _text(rmeta.get("summary"), 300) or post.summary or s.description,
            "canonical": s.url(folder),
            "image": s.url(post.path + preview) if (preview := post.preview_image()) else None,
            "og_type": "article",
            "noindex": draft,
            "published": post.date,
        },
        "post": {
            "title": title,
            "date": post.date,
            "date_human": human_date(post.date),
            "more": [p for p in shown["dateline"][1:] if p and p not in known],
            "session_id": _text(record["session_id"], 200),
            "session_type": post.session_type,
            "type_label": type_label(post.session_type),
            "type_url": f"{root}tags/{type_slug(post.session_type)}/",
            "kind_label": kind_label(record["kind"]),
            "draft": draft,
            "empty": draft and nothing_to_say(rmeta) and rmeta.get("draft") is not True,
            "agent": agent,
            "project": post.project,
            "tags": [] if companion else [{"name": n, "url": f"{root}tags/{t}/"} for n, t in post.tags],
            "parent": {"title": post.title, "url": root + post.path} if companion else None,
            "companions": [] if companion else [
                {"label": kind_label(r["kind"]), "url": root + r["permalink"]} for r in post.companions
            ],
            "downloads": [] if companion else [
                {"name": name, "url": root + r["permalink"] + name}
                for r in post.downloads for name in sorted(r["files"]) if copyable(name)
            ],
            "counts": counts,
            "symbols": symbols,
            "prev": None if companion else neighbour(post.prev),
            "next": None if companion else neighbour(post.next),
        },
    }
