"""The site's content store: one JSON record per published artifact, files kept by content hash.

The store is core's shared store ``web``: in the state folder on one machine, in the PostgreSQL
queue for a fleet, so any worker on any machine builds the complete site. The site is always
rebuilt from it, never from itself, so ``flywheel site build --full`` reproduces it byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_core import open_shared_store, sha256_bytes

from flywheel_publish_web.markup import clean_text
from flywheel_publish_web.settings import PAGE_KINDS

if TYPE_CHECKING:
    from flywheel_core import PublishItem, SharedStore

    from flywheel_publish_web.settings import Settings

__all__ = ["ContentStore", "ItemRefused", "is_draft", "nothing_to_say", "permalink_for", "record_key", "site_path", "slugify"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ATTACHMENT_RE = re.compile(r"^(?!/)(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9._/-]{1,200}$")
#: Attachment types copied into the site. Anything a browser could run as a document
#: (html, xml, js) is never copied, whatever the artifact says.
COPIED_EXTS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "json", "csv", "txt", "md", "pdf"})


class ItemRefused(ValueError):
    """An item the site cannot take (bad type name, missing file, no date); its result fails."""


@functools.lru_cache(maxsize=4096)
def slugify(text: str, limit: int = 60) -> str:
    """Words of any script transliterated to ASCII, lower case, joined by ``-``, cut at a word
    boundary (``Запуск очереди`` -> ``zapusk-ocheredi``); may be empty (an emoji-only title)."""
    from slugify import slugify as transliterate

    # Apostrophes join words ("don't" -> "dont", not "don-t").
    return transliterate(text, max_length=limit, word_boundary=True, replacements=[["'", ""], ["\u2019", ""]])


def record_key(session_id: str, kind: str) -> str:
    return hashlib.sha256(f"{session_id}\x00{kind}".encode()).hexdigest()[:32]


def _clean(value: Any, depth: int = 0) -> Any:
    """JSON-safe copy of untrusted metadata with XML-invalid characters removed."""
    if depth > 8:
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, depth + 1) for v in value]
    return clean_text(str(value))


def _parse_date(value: Any) -> str:
    """The session's timestamp as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), or ItemRefused."""
    from datetime import datetime, timezone

    if not isinstance(value, str) or not value.strip():
        raise ItemRefused("meta.date: the session's timestamp is missing")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ItemRefused(f"meta.date: {value[:40]!r} is not an ISO 8601 timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sanitize_svg(data: bytes) -> bytes | None:
    """An SVG with scripts, event handlers, foreign content and unsafe links removed.

    Pages show SVGs through ``<img>`` (where nothing runs), but a reader can open the file
    itself, where an embedded script would run with the site's origin. None if unreadable.
    """
    import xml.etree.ElementTree as ET

    from flywheel_publish_web.markup import safe_url

    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    ET.register_namespace("", "http://www.w3.org/2000/svg")
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    banned = {"script", "foreignobject", "iframe", "object", "embed", "handler", "listener", "set", "animate"}

    def local(name: str) -> str:
        return name.rsplit("}", 1)[-1].lower()

    if local(root.tag) != "svg":
        return None
    for parent in list(root.iter()):
        for child in list(parent):
            if not isinstance(child.tag, str) or local(child.tag) in banned:
                parent.remove(child)
        for attr in list(parent.attrib):
            name = local(attr)
            if name.startswith("on") or (name == "href" and not safe_url(parent.attrib[attr])):
                del parent.attrib[attr]
            elif "javascript:" in parent.attrib[attr].lower().replace(" ", ""):
                del parent.attrib[attr]
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def permalink_for(session_type: str, session_id: str, kind: str, title: Any, date: str) -> str:
    """The site path of one artifact: ``<type>/<yyyy>/<mm>/<title words>-<8 hex>/``.

    A pure function of the artifact's session (type, id, date) and its own kind and title,
    nothing else: not what else is stored, not the order things arrived in. The 8 hex digits
    come from the session id and kind, so sessions (and the kinds of one session) with the same
    title get different addresses. ``date`` is the session's timestamp (ISO 8601, any zone).
    Publishing, the dry run and the ``flywheel_page_url`` hook all call this one function.
    """
    words = slugify(clean_text(title) if isinstance(title, str) else "") or kind.replace("_", "-")
    day = _parse_date(date)
    return f"{session_type}/{day[:4]}/{day[5:7]}/{words}-{record_key(session_id, kind)[:8]}/"


def nothing_to_say(meta: dict[str, Any]) -> bool:
    """True when an artifact says it was made from nothing: ``meta["nothing_to_say"]`` is true,
    or its ``provenance`` names no source (no commits, trades, conversations, screenshots,
    narrative: every entry but ``session`` empty)."""
    if meta.get("nothing_to_say") is True:
        return True
    provenance = meta.get("provenance")
    return isinstance(provenance, dict) and not any(v for k, v in provenance.items() if k != "session")


def is_draft(record: dict[str, Any]) -> bool:
    """A draft is built but not listed: marked so, or made from nothing (until ``site build --force``)."""
    return record["meta"].get("draft") is True or (nothing_to_say(record["meta"]) and not record.get("forced"))


def site_path(record: dict[str, Any]) -> str:
    """Where a stored artifact is on the site: its page folder, or its file for a download."""
    folder = record["permalink"]
    return folder if record["kind"] in PAGE_KINDS else folder + f"{record['kind']}.{record['ext']}"


#: The shared store the site's content lives in, and the prefix of its records' keys.
STORE = "web"
_POSTS = "posts/"
log = logging.getLogger("flywheel.web")


class ContentStore:
    """Records under ``posts/<key>`` of the shared store ``web``, file bytes as its blobs.

    Opened from the settings' config; close it (or use ``with``) when done. A content store of
    an older flywheel (``posts/*.json`` and ``blobs/`` in the target's state folder) is moved
    into the shared store the first time it is opened, then set aside under ``migrated/``.
    """

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        self.shared: SharedStore = open_shared_store(settings.config, STORE)
        if migrate:  # a dry run changes nothing
            self._migrate(settings.state_dir)

    def __enter__(self) -> ContentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.shared.close()

    def lock(self) -> Any:
        """One site builder at a time, on every machine sharing the store (see ``site_lock``)."""
        return self.shared.lock("site")

    def _migrate(self, folder: Path) -> None:
        """Move a store kept in files by an older flywheel into the shared store (nothing lost:
        a record already in the shared store is kept; the old folders are set aside, not deleted)."""
        posts = folder / "posts"
        if not posts.is_dir():
            return
        with self.shared.lock("migrate"):
            if not posts.is_dir():
                return  # another process did it while this one waited
            moved = 0
            for path in sorted(posts.glob("*.json")):
                record = json.loads(path.read_bytes())
                for sha in sorted(set(record.get("files", {}).values())):
                    blob = folder / "blobs" / sha[:2] / sha
                    if blob.is_file():
                        data = blob.read_bytes()
                        if sha256_bytes(data) == sha:
                            self.shared.put_blob(data)
                moved += self.shared.put(_POSTS + path.stem, record, expect=None) is not None
            aside = folder / "migrated"
            aside.mkdir(exist_ok=True)
            for name in ("posts", "blobs"):
                if (folder / name).exists():
                    os.replace(folder / name, aside / name)
            (folder / "cache" / "records.json").unlink(missing_ok=True)  # the old store's cache
            log.warning("moved %d page records of the site from %s into the shared store %s; the old files are "
                        "kept in %s", moved, posts, self.shared.location, aside)

    def records(self) -> list[dict[str, Any]]:
        """Every stored record, in a stable order (by key)."""
        return [doc.value for doc in self.shared.items(_POSTS)]

    def signature(self) -> tuple:
        """Changes whenever a record is added or replaced (``site serve`` polls this)."""
        return (self.shared.revision(),)

    def blob_path(self, sha: str) -> Path:
        """A local file with the blob's bytes (linked into the site)."""
        return self.shared.blob_path(sha)

    def prepare(self, item: PublishItem) -> tuple[dict[str, Any], dict[str, bytes]]:
        """Check one item and make its record, writing nothing: (record, blob sha256 -> bytes).

        Raises ItemRefused for an item the site cannot take. The dry run stops here.
        """
        if not NAME_RE.match(item.session_type or ""):
            raise ItemRefused(f"session type {item.session_type!r} is not a plain name")
        if not NAME_RE.match(item.kind or "") or not re.match(r"^[a-z0-9]{1,10}$", item.ext or ""):
            raise ItemRefused(f"artifact kind {item.kind!r} / ext {item.ext!r} is not a plain name")
        if item.kind in PAGE_KINDS and item.ext != "md":
            raise ItemRefused(f"a {item.kind} page must be Markdown (.md), not .{item.ext}")
        if item.filename not in item.files:
            raise ItemRefused(f"{item.filename} is missing from the item's files")
        meta = _clean(dict(item.meta or {}))
        meta["date"] = _parse_date(meta.get("date"))
        files: dict[str, str] = {}
        blobs: dict[str, bytes] = {}
        for name, data in sorted(item.files.items()):
            ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            if name == item.filename:
                if item.ext == "md":
                    data = clean_text(data.decode("utf-8", errors="replace")).encode("utf-8")
            elif not ATTACHMENT_RE.match(name) or ext not in COPIED_EXTS:
                continue  # never copied: not a plain relative name, or a type a browser could run
            elif ext == "svg":
                data = _sanitize_svg(data)
                if data is None:
                    continue
            files[name] = sha256_bytes(data)
            blobs[files[name]] = data
        record = {
            "session_id": clean_text(item.session_id),
            "session_type": item.session_type,
            "kind": item.kind,
            "ext": item.ext,
            "sha256": item.sha256 or sha256_bytes(item.content),
            "permalink": permalink_for(item.session_type, item.session_id, item.kind, meta.get("title"), meta["date"]),
            "aliases": [],
            "files": files,
            "meta": meta,
        }
        if nothing_to_say(meta) and self.get(item.session_id, item.kind).get("forced"):
            record["forced"] = True  # listed by `site build --force`: a new version stays listed
        return record, blobs

    def get(self, session_id: str, kind: str) -> dict[str, Any]:
        """The stored record of one artifact, or ``{}``."""
        doc = self.shared.get(_POSTS + record_key(session_id, kind))
        return doc.value if doc else {}

    def force(self) -> int:
        """List every page kept as a draft for having nothing to say; return how many."""
        count = 0
        for doc in self.shared.items(_POSTS):
            record = doc.value
            while nothing_to_say(record["meta"]) and not record.get("forced"):
                if self.shared.put(doc.key, {**record, "forced": True}, expect=doc.revision) is not None:
                    count += 1
                    break
                doc = self.shared.get(doc.key)  # changed meanwhile: look again
                record = doc.value
        return count

    def put(self, record: dict[str, Any], blobs: dict[str, bytes]) -> bool:
        """Store a prepared record and its files; True if it changed. Same content again changes nothing.

        A new version of an artifact whose address changed (it was retitled, or it was stored
        under the rule before permalinks were a pure function) keeps its old addresses as
        ``aliases``: the site redirects them, so no published link breaks. The write is a
        compare-and-set: a record another machine stored meanwhile is read again, never lost.
        """
        key = _POSTS + record_key(record["session_id"], record["kind"])
        for data in blobs.values():
            self.shared.put_blob(data)
        while True:
            current = self.shared.get(key)
            new = dict(record)
            if current is not None:
                old = current.value
                if "aliases" in old:  # stored under this rule
                    aliases, legacy = [*old["aliases"], old["permalink"]], old.get("legacy")
                else:  # stored when a session's first page fixed its address: resolved by SiteModel
                    aliases, legacy = [], old.get("permalink")
                new["aliases"] = sorted(set(aliases) - {new["permalink"]})
                if legacy:
                    new["legacy"] = legacy
                if _canonical(new) == _canonical(old):
                    return False
            if self.shared.put(key, new, expect=current.revision if current else None) is not None:
                return True

    def read_text(self, sha: str) -> str:
        return self.blob_path(sha).read_text(encoding="utf-8")


def _canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False)
