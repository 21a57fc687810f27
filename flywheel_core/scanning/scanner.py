"""Scanning a text or a session document, and redacting what was found."""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

import attrs

from flywheel_core.scanning.model import Finding, ScanContext, fingerprint, rule_slug
from flywheel_core.scanning.rules import Hit, find_hits

__all__ = ["scan_text", "scan_session", "session_context", "session_findings", "redact_text", "redact_document",
           "find_values", "text_kind", "SESSION_EXEMPT_PATHS", "SESSION_SKIPPED_PATHS"]

#: Session fields exempt from the personal and private rules (never from the secret rules):
#: the commit authors the user publishes, and the machine folder flywheel reads the
#: repository from (never rendered).
SESSION_EXEMPT_PATHS: tuple[str, ...] = (
    "$.agent_id",
    "$.source_data.repo_path",
    "$.source_data.git_commits[*].author",
    "$.source_data.git_commits[*].email",
    "$.source_data.git_commits[*].author_email",
    "$.source_data.git_commits[*].committer",
    "$.source_data.git_commits[*].committer_email",
)
#: flywheel's own records in a session (output paths, statuses): not scanned.
SESSION_SKIPPED_PATHS: tuple[str, ...] = ("$.artifacts", "$.pipeline_status")

_DECLARING_KEYS = frozenset(
    ("hash", "sha", "sha1", "sha256", "commit", "commit_hash", "parent", "parents", "session_id",
     "id", "uuid", "digest", "tree")
)
_HASHLIKE = re.compile(r"(?:sha\d+[:-])?([0-9a-fA-F][0-9a-fA-F-]{6,127})")
_AUTHOR_KEYS = frozenset(("author", "email", "author_email", "committer", "committer_email"))

_KINDS = {
    ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html", ".svg": "html", ".xml": "html", ".atom": "html", ".rss": "html",
    ".json": "json",
}
#: Characters nobody sees (a word joiner, a zero-width space, a soft hyphen): the social posts put
#: a word joiner in every address so networks do not link it, which hid ``https://user:pw@host``
#: from the rules. The rules read the text without them, as a reader does.
#: (Also written as a Python or JSON escape, as a traced repr or a log line shows them.)
_INVISIBLE = r"[\u00ad\u200b-\u200d\u2060\ufeff]|\\u(?i:00ad|200[b-d]|2060|feff)"
_ESCAPES = {
    # CommonMark backslash escapes (md_escape writes them) and character references.
    "markdown": re.compile(
        r"\\([!-/:-@\[-`{-~])|&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});|" + _INVISIBLE
    ),
    "html": re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});|" + _INVISIBLE),
    "json": re.compile(r"\\(?:u[0-9a-fA-F]{4}|[\"\\/bfnrt])|" + _INVISIBLE),
    "plain": re.compile(_INVISIBLE),
}
_HAS_INVISIBLE = re.compile(_INVISIBLE)
_JSON_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def text_kind(name: str) -> str:
    """How a file's text is unescaped before scanning: markdown, html, json or plain."""
    dot = name.rfind(".")
    return _KINDS.get(name[dot:].lower(), "plain") if dot >= 0 else "plain"


class _View:
    """A text as people read it (escapes undone) and the way back to offsets in the original.

    ``ghp\\_abc`` in Markdown, ``&#64;`` in SVG and ``\\u0040`` in JSON hide a token or an
    address from a regex; the rules run on the unescaped view and every span is mapped back
    to the stored text, where lines and columns are counted and redaction happens.
    """

    def __init__(self, raw: str, kind: str) -> None:
        self.raw = raw
        self._dec: list[int] = []
        self._raw: list[int] = []
        pattern = _ESCAPES.get(kind)
        if pattern is None or ("\\" not in raw and "&" not in raw and not _HAS_INVISIBLE.search(raw)):
            self.text = raw
            return
        matches = [(m.start(), m.end(), m.group()) for m in pattern.finditer(raw)]
        decoded = [self._decode(seq, kind) for _, _, seq in matches]
        # An anchor before and after each escape: decoded offset -> raw offset.
        parts: list[str] = []
        last = shrink = 0
        for (start, end, seq), char in zip(matches, decoded):
            if char == seq:
                continue  # an unknown entity stays as written
            parts += (raw[last:start], char)
            self._dec += (start - shrink, start - shrink + len(char))
            self._raw += (start, end)
            shrink += end - start - len(char)
            last = end
        parts.append(raw[last:])
        self.text = "".join(parts)

    @staticmethod
    def _decode(seq: str, kind: str) -> str:
        if _HAS_INVISIBLE.fullmatch(seq):  # an invisible character: nothing
            return ""
        if seq.startswith("&"):
            return html.unescape(seq)
        if kind == "json":
            char = chr(int(seq[2:], 16)) if seq[1] == "u" else _JSON_SIMPLE[seq[1]]
            return "" if _HAS_INVISIBLE.match(char) else char
        return seq[1]

    def to_raw(self, i: int) -> int:
        k = bisect_right(self._dec, i) - 1
        return i if k < 0 else self._raw[k] + (i - self._dec[k])


def _accept(hits: Iterable[Hit], ctx: ScanContext) -> list[tuple[Hit, str]]:
    """Drop declared and allowed values, then any hit overlapping a stronger one (hits come
    strongest first); return the rest in text order with their fingerprints."""
    kept: list[tuple[Hit, str]] = []
    starts: list[int] = []  # the kept spans, disjoint, sorted by start
    ends: list[int] = []
    for hit in hits:
        if ctx.declared(hit.value):
            continue
        fp = fingerprint(hit.rule, hit.value)
        if (hit.rule, fp) in ctx.allow:
            continue
        i = bisect_right(starts, hit.start)
        if (i > 0 and ends[i - 1] > hit.start) or (i < len(starts) and starts[i] < hit.end):
            continue
        starts.insert(i, hit.start)
        ends.insert(i, hit.end)
        kept.append((hit, fp))
    kept.sort(key=lambda hf: hf[0].start)
    return kept


class _Lines:
    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


def scan_text(
    text: str, *, name: str = "<text>", context: ScanContext | None = None, kind: str | None = None
) -> list[Finding]:
    """Every finding in ``text``, in order. ``name`` is what findings call the file (an
    artifact file name or a JSON path); ``kind`` (markdown, html, json, plain) defaults to
    what ``name``'s extension says, and decides which escapes are undone before scanning."""
    ctx = context or ScanContext()
    view = _View(text, kind or text_kind(name))
    hits = find_hits(view.text, ctx, personal=not ctx.exempt(name))
    lines: _Lines | None = None
    out = []
    for hit, fp in _accept(hits, ctx):
        lines = lines or _Lines(text)
        start, end = view.to_raw(hit.start), view.to_raw(hit.end)
        line, column = lines.position(start)
        out.append(Finding(hit.rule, name, line, column, hit.preview, fp, hit.severity, start, end))
    return out


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{_json_string(key)}]"


def _json_string(key: str) -> str:
    import json

    return json.dumps(key, ensure_ascii=False)


_KEY = "\0key"  # marks a dict key among the strings of a document
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def _strings(doc: Any) -> Iterable[tuple[str, str, str | None]]:
    """(path, string, key) of every string in ``doc``, keys included, records skipped."""
    stack: list[tuple[str, Any, str | None]] = [("$", doc, None)]
    while stack:
        path, node, key = stack.pop()
        if path in SESSION_SKIPPED_PATHS:
            continue
        if isinstance(node, dict):
            for k, v in reversed(list(node.items())):
                child = _child(path, str(k))
                yield child, str(k), _KEY
                stack.append((child, v, str(k)))
        elif isinstance(node, list):
            stack.extend((_child(path, i), v, key) for i, v in reversed(list(enumerate(node))))
        elif isinstance(node, str):
            yield path, node, key


def session_context(doc: dict[str, Any], context: ScanContext | None = None) -> ScanContext:
    """``context`` plus what a session document declares: its hashes and ids (hex or UUID
    values of a commit ``hash``, ``session_id``, ``sha256``…) join ``declared_hashes``, its
    commit authors join ``known_people``, and ``SESSION_EXEMPT_PATHS`` join ``exempt_paths``.
    An artifact made from the session is scanned with it too (a build log quotes the commits'
    hashes and authors)."""
    ctx = context or ScanContext()
    strings = list(_strings(doc))
    # Only hash-shaped values: a token written into an "id" field must still be found.
    declared = {m.group(1) for _, s, k in strings if k in _DECLARING_KEYS
                for m in [_HASHLIKE.fullmatch(s)] if m}
    people = {s for p, s, k in strings if k in _AUTHOR_KEYS and "git_commits" in p}
    return attrs.evolve(
        ctx,
        declared_hashes=ctx.declared_hashes | {s.lower() for s in declared},
        known_people=ctx.known_people | {s.lower() for s in people},
        exempt_paths=tuple(dict.fromkeys((*SESSION_EXEMPT_PATHS, *ctx.exempt_paths))),
    )


def scan_session(doc: dict[str, Any], *, context: ScanContext | None = None) -> list[Finding]:
    """Every finding in a session document's strings; ``Finding.file`` is the JSON path.

    The session's own hashes and ids join ``declared_hashes``; commit authors join
    ``known_people`` and, with the machine's ``repo_path``, are exempt from the personal and
    private rules (``SESSION_EXEMPT_PATHS``; see :func:`session_context`). flywheel's own
    records (``$.artifacts``, ``$.pipeline_status``) are not scanned. Keys are scanned like
    values (a finding in a key names the key's path).
    """
    return [f for f, _ in session_findings(doc, context=context)]


def session_findings(doc: dict[str, Any], *, context: ScanContext | None = None) -> list[tuple[Finding, str]]:
    """:func:`scan_session`'s findings, each with the value found. For redacting what an
    artifact carries of them; the values never leave the process (nothing stores them)."""
    ctx = session_context(doc, context)
    strings = list(_strings(doc))
    # All strings are scanned as one text (a rule's regex runs once, not once per field);
    # a separator no rule reads across keeps each hit inside its own string.
    joined: list[str] = []
    starts: list[int] = []
    pos = 0
    for _, s, _k in strings:
        starts.append(pos)
        joined.append(s)
        pos += len(s) + 3
    text = "\n\0\n".join(joined)
    out: list[Finding] = []
    view = _View(text, "plain")  # read without invisible characters, as everywhere; spans mapped back
    hits = find_hits(view.text, ctx)
    if view.text is not text:
        hits = [attrs.evolve(h, start=view.to_raw(h.start), end=view.to_raw(h.end)) for h in hits]
    exempt = [ctx.exempt(p) for p, _, _ in strings]
    local: list[Hit] = []
    where: list[int] = []
    for hit in hits:
        k = bisect_right(starts, hit.start) - 1
        s_len = len(strings[k][1])
        rel = hit.start - starts[k]
        if rel >= s_len or (hit.severity != "secret" and exempt[k]):
            continue
        end = min(hit.end - starts[k], s_len)
        local.append(attrs.evolve(hit, start=hit.start, end=starts[k] + end))
        where.append(k)
    index = {id(h): k for h, k in zip(local, where)}
    lines: dict[int, _Lines] = {}
    bad_keys: dict[str, str] = {}
    values: list[str] = []
    for hit, fp in _accept(local, ctx):
        k = index[id(hit)]
        path, s, key = strings[k]
        start, end = hit.start - starts[k], hit.end - starts[k]
        line, column = lines.setdefault(k, _Lines(s)).position(start)
        out.append(Finding(hit.rule, path, line, column, hit.preview, fp, hit.severity, start, end))
        values.append(_HAS_INVISIBLE.sub("", s[start:end]))
        if key is _KEY:
            bad_keys.setdefault(path, path[:len(path) - len(_child("", s))] + f"[<key: {hit.preview}>]")
    # A key with a finding must not reappear in the paths that name it or what is below it.
    for path in sorted(bad_keys, key=len, reverse=True):
        masked = bad_keys[path]
        out = [attrs.evolve(f, file=masked + f.file[len(path):])
               if f.file == path or f.file.startswith((path + ".", path + "[")) else f for f in out]
    return list(zip(out, values))


def redact_document(doc: Any, findings: Iterable[Finding]) -> Any:
    """A copy of a JSON document with each finding of :func:`scan_session` cut out of the
    string its JSON path names (``[redacted:<rule-slug>]``). A finding in a key cannot be cut
    out without changing the document's shape: ``Unredactable`` is raised for it (hold instead)."""
    from flywheel_core.scanning.files import Unredactable

    by_path: dict[str, list[Finding]] = {}
    for f in findings:
        by_path.setdefault(f.file, []).append(f)
    done: set[str] = set()

    def copy(path: str, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: copy(_child(path, str(k)), v) for k, v in node.items()}
        if isinstance(node, list):
            return [copy(_child(path, i), v) for i, v in enumerate(node)]
        if isinstance(node, str) and path in by_path:
            done.add(path)
            return redact_text(node, by_path[path])
        return node

    out = copy("$", doc)
    left = sorted(set(by_path) - done)
    if left:
        raise Unredactable(f"{left[0]}: a finding in a key cannot be redacted; hold it instead")
    return out


def find_values(text: str, values: Iterable[str], *, name: str = "<text>", kind: str | None = None,
                part: int | None = None) -> list[tuple[int, int]]:
    """Where ``values`` occur in ``text`` as people read it (escapes undone, as ``scan_text``
    does), as (start, end) offsets in the stored text, merged.

    With ``part``, what is left of a value cut short or reshaped counts too: any run of at
    least ``part`` characters of it, in any case, and any such run of its letters and digits
    alone (a page slug ``…-zdxhz-sipsybvutioh…`` or a hashtag keeps those of a token)."""
    view = _View(text, kind or text_kind(name))
    haystack = view.text
    if part is not None:
        folded = haystack.lower()
        haystack = folded if len(folded) == len(haystack) else haystack.translate(_ASCII_LOWER)
    spans: list[tuple[int, int]] = []
    for value in values:
        if not value:
            continue
        if part is None:
            needles = [value]
        else:
            forms = {value.lower(), re.sub(r"[^0-9a-z]+", "", value.lower())}
            needles = list(dict.fromkeys(
                form[i:i + part] if len(form) > part else form
                for form in forms if form for i in range(max(1, len(form) - part + 1))))
        for needle in needles:
            i = haystack.find(needle)
            while i >= 0:
                spans.append((i, i + len(needle)))
                i = haystack.find(needle, i + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return [(view.to_raw(start), view.to_raw(end)) for start, end in merged]


def redact_text(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with each finding's span replaced by ``[redacted:<rule-slug>]``.

    ``findings`` are those of this very text (``scan_text`` on it, or the findings of one
    file); overlapping spans are merged under the first rule.
    """
    out: list[str] = []
    last = 0
    for start, end, rule in sorted((f.start, f.end, f.rule) for f in findings):
        if start < last:  # overlaps the span just replaced: extend it
            last = max(last, end)
            continue
        out.append(text[last:start])
        out.append(f"[redacted:{rule_slug(rule)}]")
        last = end
    out.append(text[last:])
    return "".join(out)
