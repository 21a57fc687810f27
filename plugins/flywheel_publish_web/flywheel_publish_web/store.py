"""The site's content store: one JSON record per published artifact, files kept by content hash.

The site is always rebuilt from this store (in the target's state folder), never from itself,
so ``flywheel site build --full`` reproduces it byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_core import atomic_write, sha256_bytes

from flywheel_publish_web.markup import clean_text

if TYPE_CHECKING:
    from flywheel_core import PublishItem

__all__ = ["ContentStore", "ItemRefused", "permalink_for", "slugify", "record_key"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
ATTACHMENT_RE = re.compile(r"^(?!/)(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9._/-]{1,200}$")
#: Attachment types copied into the site. Anything a browser could run as a document
#: (html, xml, js) is never copied, whatever the artifact says.
COPIED_EXTS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "json", "csv", "txt", "md", "pdf"})


class ItemRefused(ValueError):
    """An item the site cannot take (bad type name, missing file, no date); its result fails."""


@functools.lru_cache(maxsize=4096)
def slugify(text: str, limit: int = 60) -> str:
    """ASCII, lower case, words joined by ``-``, cut at a word boundary; may be empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > limit:
        slug = slug[:limit].rsplit("-", 1)[0] if "-" in slug[:limit] else slug[:limit]
    return slug


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


def permalink_for(session_type: str, session_id: str, title: Any, date: str) -> str:
    """``<type>/<yyyy>/<mm>/<title words>-<8 hex of the session id>/``: ASCII, unique, stable."""
    words = slugify(title if isinstance(title, str) else "") or "session"
    short = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{session_type}/{date[:4]}/{date[5:7]}/{words}-{short}/"


class ContentStore:
    """Records under ``posts/<key>.json``, file bytes under ``blobs/<sha256>``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.posts = root / "posts"
        self.blobs = root / "blobs"

    def _entries(self) -> dict[str, list[int]]:
        """Each record file's (inode, mtime, size): a new version is always a new inode."""
        try:
            scan = list(os.scandir(self.posts))
        except FileNotFoundError:
            return {}
        out = {}
        for entry in scan:
            if entry.name.endswith(".json"):
                st = entry.stat()
                out[entry.name] = [st.st_ino, st.st_mtime_ns, st.st_size]
        return out

    def records(self) -> list[dict[str, Any]]:
        """Every stored record, in a stable order.

        Reading a thousand small files costs more than the rest of a no-change build, so the
        records are also kept in one cache file, trusted only for files whose inode, mtime and
        size are unchanged.
        """
        entries = self._entries()
        cache_path = self.root / "cache" / "records.json"
        try:
            cache = json.loads(cache_path.read_bytes())
        except (FileNotFoundError, ValueError):
            cache = {"entries": {}, "records": {}}
        records: dict[str, Any] = {}
        for name, signature in entries.items():
            if cache["entries"].get(name) == signature and name in cache["records"]:
                records[name] = cache["records"][name]
            else:
                with open(self.posts / name, "rb") as fh:
                    records[name] = json.loads(fh.read())
        if entries != cache["entries"]:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_path.with_name(f".records.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"entries": entries, "records": records}), encoding="utf-8")
            os.replace(tmp, cache_path)  # a cache: atomic, but not worth an fsync
        return [records[name] for name in sorted(records)]

    def signature(self) -> tuple:
        """Changes whenever a record is added or replaced (``site serve`` polls this)."""
        return tuple(sorted((name, *sig) for name, sig in self._entries().items()))

    def blob_path(self, sha: str) -> Path:
        return self.blobs / sha[:2] / sha

    def _put_blob(self, data: bytes) -> str:
        sha = sha256_bytes(data)
        path = self.blob_path(sha)
        if not path.exists():
            atomic_write(path, data)
        return sha

    def put(self, item: PublishItem, existing: list[dict[str, Any]],
            page_kinds: tuple[str, ...] = ()) -> tuple[dict[str, Any], bool]:
        """Store one item; return (record, changed). Same content again changes nothing.

        The session's permalink is fixed by the first artifact stored for it whose kind makes
        a page (``page_kinds``), from that artifact's title; a new version (even retitled)
        replaces the old page at the same address. Other kinds carry no permalink.
        """
        if not NAME_RE.match(item.session_type or ""):
            raise ItemRefused(f"session type {item.session_type!r} is not a plain name")
        if not NAME_RE.match(item.kind or "") or not re.match(r"^[a-z0-9]{1,10}$", item.ext or ""):
            raise ItemRefused(f"artifact kind {item.kind!r} / ext {item.ext!r} is not a plain name")
        if item.filename not in item.files:
            raise ItemRefused(f"{item.filename} is missing from the item's files")
        meta = _clean(dict(item.meta or {}))
        meta["date"] = _parse_date(meta.get("date"))
        files: dict[str, str] = {}
        for name, data in sorted(item.files.items()):
            if name == item.filename:
                if item.ext == "md":
                    data = clean_text(data.decode("utf-8", errors="replace")).encode("utf-8")
                files[name] = self._put_blob(data)
                continue
            ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            if not ATTACHMENT_RE.match(name) or ext not in COPIED_EXTS:
                continue  # never copied: not a plain relative name, or a type a browser could run
            if ext == "svg":
                data = _sanitize_svg(data)
                if data is None:
                    continue
            files[name] = self._put_blob(data)
        fixed = [r["permalink"] for r in existing if r["session_id"] == item.session_id and r.get("permalink")]
        if fixed:
            permalink = fixed[0]
        elif item.kind in page_kinds:
            permalink = permalink_for(item.session_type, item.session_id, meta.get("title"), meta["date"])
        else:
            permalink = None
        record = {
            "session_id": clean_text(item.session_id),
            "session_type": item.session_type,
            "kind": item.kind,
            "ext": item.ext,
            "sha256": item.sha256 or sha256_bytes(item.content),
            "permalink": permalink,
            "files": files,
            "meta": meta,
        }
        data = json.dumps(record, sort_keys=True, ensure_ascii=False, indent=1).encode("utf-8")
        path = self.posts / f"{record_key(item.session_id, item.kind)}.json"
        try:
            if path.read_bytes() == data:
                return record, False
        except FileNotFoundError:
            pass
        atomic_write(path, data)
        return record, True

    def read_text(self, sha: str) -> str:
        return self.blob_path(sha).read_text(encoding="utf-8")
