"""The publishing scan at enqueue time: each target's policy (hold, redact, off) applied to a version's findings.

An artifact version is scanned once, when the queue takes it: its files (text, and image
metadata), the metadata targets are told (title, summary, tags, alt texts...), and the session
it was made from, with what the session declares (its hashes, its commit authors). Then, per
target and kind:

- ``hold``: findings make the entry ``held``; nothing of it is published until a person
  approves it (``flywheel review``).
- ``redact``: each finding is replaced by ``[redacted:<rule>]`` before the bytes are stored, so
  the value never reaches the queue's blobs; what the session's findings left in the artifact
  (a token the template cut short, a password quoted without its keyword) is cut out too. A
  file that cannot be redacted (a binary with findings) holds the entry instead.
- ``off``: not scanned.

``review = "always"`` holds every entry of the target, findings or not. The decision is
stored in the entry's ``findings`` column (:func:`scan_record`), masked: never a value.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

import flywheel_core.scanning as scanning  # lazy: its rules are compiled when a scan first runs
from flywheel_core.scanning.media import image_format, strip_metadata

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.publishing.storage import QueueEntry
    from flywheel_core.scanning import Finding, ScanContext

__all__ = ["INTERNAL_META", "ScanPolicy", "Screening", "held_lines", "scan_lines"]

log = logging.getLogger("flywheel.scan")

#: Metadata keys flywheel itself writes for targets (paths, names, dates): not scanned, never
#: redacted. Everything else a plugin puts in ``meta`` (title, summary, tags, image alt texts,
#: project, provenance...) may be shown by a target, so it is scanned like the files.
INTERNAL_META = frozenset(("session_path", "generator", "kind", "ext", "date", "session_id", "session_type",
                           "previous_files"))
#: A value of a session finding is looked for in the artifact whole; a secret's value also by any
#: run of this many of its characters (a template may cut a long token short: the rest still leaks).
_PART = 12
#: Shorter values of session findings are not looked for in artifacts (they would match ordinary text).
_MIN_TRACED = 6


@attrs.frozen
class ScanPolicy:
    """What a configuration says about the publishing scan: a mode per target and kind, the
    targets whose every entry waits for review, the allow-list, and this machine's folders.

    ``ScanPolicy()`` (a queue opened without a configuration) holds everything it finds."""

    scan: Mapping[str, Any] = attrs.field(factory=dict)
    review: Mapping[str, str] = attrs.field(factory=dict)
    allowlist: Path | None = None
    local_paths: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> ScanPolicy:
        targets = config.targets
        return cls(
            scan={name: table["scan"] for name, table in targets.items() if "scan" in table},
            review={name: str(table["review"]) for name, table in targets.items() if "review" in table},
            allowlist=config.allowlist_path,
            local_paths=tuple(dict.fromkeys(str(p) for p in (config.base_dir, config.out_dir, config.state_dir))),
        )

    def mode(self, target: str, kind: str) -> str:
        """``hold``, ``redact`` or ``off`` for artifacts of ``kind`` at ``target``."""
        value = self.scan.get(target, "hold")
        if isinstance(value, Mapping):
            value = value.get(kind, value.get("default", "hold"))
        return str(value)

    def always(self, target: str) -> bool:
        """Whether every entry of ``target`` waits for a person (``review = "always"``)."""
        return self.review.get(target) == "always"

    def context(self, extra_paths: Iterable[str] = ()) -> ScanContext:
        """The scan context: the allow-list read now (a malformed one is an error naming it)."""
        allow = scanning.load_allowlist(self.allowlist) if self.allowlist is not None else frozenset()
        paths = [p for p in (*self.local_paths, *extra_paths) if len(p.rstrip("/\\")) > 4]
        return scanning.ScanContext(allow=allow, local_paths=tuple(dict.fromkeys(paths)))


def _public_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in INTERNAL_META}


def _meta_label(finding: Finding) -> Finding:
    """A finding in the metadata, named ``meta.title`` rather than the bare ``$.title``."""
    return attrs.evolve(finding, file="meta" + finding.file[1:])


class Screening:
    """The scan of one enqueue: the session's findings once, each version's on first use, and
    per target the files, metadata and findings record the queue stores."""

    def __init__(self, policy: ScanPolicy, session: Mapping[str, Any] | None, session_path: str | None = None) -> None:
        self.policy = policy
        self.session = dict(session) if session is not None else None
        self._session_path = session_path
        self._ctx: ScanContext | None = None
        self._session_found: list[tuple[Finding, str]] | None = None
        self._versions: dict[int, _Version] = {}

    @property
    def context(self) -> ScanContext:
        if self._ctx is None:
            extra: list[str] = []
            if self._session_path:
                extra.append(str(Path(self._session_path).parent))
            repo = (self.session or {}).get("source_data", {})
            repo = repo.get("repo_path") if isinstance(repo, dict) else None
            if isinstance(repo, str) and repo.startswith("/"):
                extra.append(repo)
            ctx = self.policy.context(extra)
            self._ctx = scanning.session_context(self.session, ctx) if self.session is not None else ctx
        return self._ctx

    @property
    def session_found(self) -> list[tuple[Finding, str]]:
        if self._session_found is None:
            self._session_found = (scanning.session_findings(self.session, context=self.context)
                                   if self.session is not None else [])
        return self._session_found

    def decide(self, version: Any, target: str) -> tuple[dict[str, bytes], dict[str, Any], dict[str, Any], str | None]:
        """``(files, meta, record, sha256)`` to enqueue ``version`` for ``target`` with.

        ``record`` goes into the entry's ``findings`` column (``held`` set: the entry is held);
        ``sha256`` is the generated main file's hash when ``files`` is a redacted copy.
        """
        mode = self.policy.mode(target, version.kind)
        review = "always" if self.policy.always(target) else "findings"
        record: dict[str, Any] = {"policy": mode, "review": review, "held": None, "findings": [], "approved": None}
        files, meta, sha = version.files, version.meta, None
        if mode != "off":
            screened = self._versions.get(id(version))
            if screened is None:
                screened = self._versions[id(version)] = _Version(version, self)
            record["findings"] = [f.to_dict() for f in screened.findings]
            if mode == "hold" and screened.findings:
                record["held"] = "findings"
            elif mode == "redact" and screened.findings:
                redacted = screened.redacted()
                if isinstance(redacted, str):
                    record["held"], record["reason"] = "unredactable", redacted
                else:
                    files, meta = redacted
                    sha = _main_sha(version)
        if review == "always" and not record["held"]:
            record["held"] = "review"
        return files, meta, record, sha


def _main_sha(version: Any) -> str:
    from flywheel_core.fsutil import sha256_bytes

    return sha256_bytes(version.files[f"{version.kind}.{version.ext}"])


class _Version:
    """One artifact version's findings, and its redacted copy on demand."""

    def __init__(self, version: Any, screening: Screening) -> None:
        self.version = version
        self.screening = screening
        ctx = screening.context
        self.in_files = scanning.scan_files(version.files, context=ctx)
        self.public = _public_meta(version.meta)
        self.in_meta = scanning.scan_session(self.public, context=ctx)
        # A session finding counts where the artifact carries its value: a plugin that leaves a
        # field out (or cleans it, as the aria devlog drops local paths) publishes nothing of it.
        found = screening.session_found
        texts = _texts(version.files, self.public) if found else []
        self.carried = [(f, v) for f, v in found if _carries(texts, version.files, f, v)]
        self.findings = [*self.in_files, *map(_meta_label, self.in_meta), *(f for f, _ in self.carried)]

    def redacted(self) -> tuple[dict[str, bytes], dict[str, Any]] | str:
        """(files, meta) with every finding cut out, or why that cannot be done."""
        version, ctx = self.version, self.screening.context
        # The id names the published files, pages and commits (a target's paths and messages):
        # redacting the text left a token used as session_id in all of them.
        named = [f for f, _ in self.screening.session_found if f.file == "$.session_id"]
        if named:
            return (f"the session_id holds a {named[0].rule} ({named[0].preview}) and names the published files and "
                    "pages: give the session another id")
        try:
            files = scanning.redact_files(version.files, self.in_files)
            public = scanning.redact_document(self.public, self.in_meta)
            files, public = _cut_session_values(files, public, self.carried)
        except scanning.Unredactable as exc:
            return str(exc)
        left = [*scanning.scan_files(files, context=ctx),
                *(_meta_label(f) for f in scanning.scan_session(public, context=ctx))]
        if left:  # a redaction that made a new finding (never seen: the property tests say so)
            return f"still found after redaction: {left[0].describe()}"
        return files, {**version.meta, **public}


def _strings(node: Any) -> Iterable[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _texts(files: Mapping[str, bytes], meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, text) of each text file, and of the metadata's strings joined (one search, not one per string)."""
    out = []
    for name, data in files.items():
        if image_format(data):
            continue
        try:
            out.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    out.append(("meta.txt", "\n\0\n".join(_strings(meta))))
    return out


def _carries(texts: list[tuple[str, str]], files: Mapping[str, bytes], finding: Finding, value: str) -> bool:
    """Whether an artifact holds a session finding's value: whole, escaped as its file type
    escapes text, or (a secret) any run of ``_PART`` of its characters; in a binary or an
    image, as bytes."""
    if len(value) < _MIN_TRACED:
        return False
    part = _PART if finding.severity == "secret" else None
    if any(scanning.find_values(text, [value], name=name, part=part) for name, text in texts):
        return True
    raw = value.encode("utf-8", "surrogatepass")
    return any(raw in data for name, data in files.items() if all(name != n for n, _ in texts))


def _cut_session_values(
    files: dict[str, bytes], meta: dict[str, Any], found: list[tuple[Finding, str]]
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """What the artifact carries of the session's findings, cut out: the whole value anywhere
    (escaped as the file type escapes it), and for a secret any run of ``_PART`` of its
    characters. An image carrying one loses its metadata; any other binary cannot be redacted."""
    if not found:
        return files, meta
    out = dict(files)
    for name, data in files.items():
        if image_format(data):
            if any(v.encode() in data for _, v in found):
                out[name] = strip_metadata(data)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if any(v.encode() in data for _, v in found):
                raise scanning.Unredactable(f"{name}: binary file holding what the session's findings found; hold it instead") from None
            continue
        cut = _cut_text(text, found, name)
        if cut != text:
            if name.lower().endswith(".json"):
                try:
                    json.loads(cut)
                except ValueError:
                    raise scanning.Unredactable(f"{name}: redacting it would break its JSON; hold it instead") from None
            out[name] = cut.encode("utf-8")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return _cut_text(node, found, "meta.txt") if isinstance(node, str) else node

    return out, walk(meta)


def _cut_text(text: str, found: list[tuple[Finding, str]], name: str) -> str:
    spans: list[tuple[int, int, str]] = []
    for finding, value in found:
        part = _PART if finding.severity == "secret" else None
        spans += [(s, e, finding.rule) for s, e in scanning.find_values(text, [value], name=name, part=part)]
    if not spans:
        return text
    out, last = [], 0
    for start, end, rule in sorted(spans):
        if start < last:
            last = max(last, end)
            continue
        out += [text[last:start], f"[redacted:{scanning.rule_slug(rule)}]"]
        last = end
    out.append(text[last:])
    return "".join(out)


# -- what people are told ----------------------------------------------------------------------


def _record(entry: QueueEntry | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(entry, Mapping):
        return dict(entry.get("scan") or {})
    return dict(entry.findings or {})


def _fields(entry: QueueEntry | Mapping[str, Any]) -> tuple[int, str, str, str, str, str]:
    if isinstance(entry, Mapping):
        return (int(entry["id"]), str(entry.get("session_id", "")), str(entry["kind"]), str(entry["target"]),
                str(entry["status"]), str(entry.get("sha256", "")))
    return entry.id, entry.session_id, entry.kind, entry.target, entry.status, entry.sha256


def _why(record: dict[str, Any], ids: list[int]) -> str:
    n = len(record.get("findings") or [])
    counted = f"{n} finding{'s' if n != 1 else ''}"
    first = ids[0]
    if record.get("held") == "review":
        return f'waits for review (review = "always"); read it with `flywheel review show {first}`'
    if record.get("held") == "unredactable":
        return f"{counted}, cannot be redacted ({record.get('reason', '')}); `flywheel review show {first}`"
    return f"{counted}; `flywheel review show {first}`, then approve or reject it"


def held_lines(entries: Iterable[QueueEntry | Mapping[str, Any]]) -> list[str]:
    """What is held and why: a line per artifact version (its targets and entry ids together),
    then a line per finding (``file:line:column: rule masked-preview``; the same value found in
    several places is one line that counts them). ``entries`` are queue entries or
    ``enqueue_versions`` results; those that are not held are skipped."""
    groups: dict[tuple[str, str, str, str], list[tuple[int, str, dict[str, Any]]]] = {}
    for entry in entries:
        entry_id, session_id, kind, target, status, sha = _fields(entry)
        if status != "held":
            continue
        record = _record(entry)
        key = (session_id, kind, sha, json.dumps(record.get("findings") or [], sort_keys=True))
        groups.setdefault(key, []).append((entry_id, target, record))
    lines: list[str] = []
    for (session_id, kind, _, _), members in groups.items():
        ids = [i for i, _, _ in members]
        targets = ", ".join(t for _, t, _ in members)
        which = f"entr{'ies' if len(ids) > 1 else 'y'} {', '.join(map(str, ids))}"
        record = members[0][2]
        lines.append(f"HELD {kind} of {session_id} -> {targets} ({which}): {_why(record, ids)}")
        lines += _finding_lines(record.get("findings") or [])
    return lines


def _finding_lines(findings: list[dict[str, Any]]) -> list[str]:
    """A line per distinct value (rule and fingerprint): where it is first, and how many more
    places hold it (a social post repeats its text for every network)."""
    places: dict[tuple[str, str], list[Finding]] = {}
    for data in findings:
        finding = scanning.Finding.from_dict(data)
        places.setdefault((finding.rule, finding.fingerprint), []).append(finding)
    lines = []
    for found in places.values():
        more = len(found) - 1
        lines.append(f"  {found[0].describe()}" + (f" (and {more} more place{'s' * (more != 1)})" if more else ""))
    return lines


def scan_lines(results: Iterable[Mapping[str, Any]]) -> list[str]:
    """For ``flywheel run``/``end``: :func:`held_lines` of ``enqueue_versions`` results, then a
    line per entry published with findings redacted."""
    results = list(results)
    lines = held_lines(results)
    for r in results:
        record = r.get("scan") or {}
        if r.get("status") != "held" and record.get("policy") == "redact" and record.get("findings") and r.get("new"):
            n = len(record["findings"])
            lines.append(f"REDACTED {n} finding{'s' if n != 1 else ''} in {r['kind']} of {r.get('session_id', '')} "
                         f"-> {r['target']} (entry {r['id']})")
    return lines
