"""What a scan reports (Finding), what it is told (ScanContext), and how a value is shown or named."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any, Literal

import attrs

__all__ = ["Finding", "ScanContext", "Severity", "fingerprint", "mask", "rule_slug"]

#: "secret": a credential (always held); "personal": names a person (an e-mail address, a
#: phone number, a home folder); "private": describes a machine or network (a local path, a
#: private IP address, an internal host name).
Severity = Literal["secret", "personal", "private"]


@attrs.frozen
class Finding:
    """One thing that must not be published as it is.

    ``file`` is an artifact file name or a session JSON path (``$.source_data.git_commits[3].message``);
    ``line`` and ``column`` are 1-based, counted in the text as stored (the Markdown or JSON as
    written, not its unescaped view); ``start``/``end`` are the character offsets of the whole
    span in that text (what ``redact_text`` replaces). ``preview`` is masked and ``fingerprint``
    is a hash: neither holds the value itself.
    """

    rule: str
    file: str
    line: int
    column: int
    preview: str
    fingerprint: str
    severity: Severity
    start: int
    end: int

    def describe(self) -> str:
        """One line for people: ``blog_post.md:3:14: GitHub Token ghp_****…9f``."""
        return f"{self.file}:{self.line}:{self.column}: {self.rule} {self.preview}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the queue and ``--json`` output): no secret in it."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(**{f.name: data[f.name] for f in attrs.fields(cls)})


def _frozen_lower(values: Iterable[str]) -> frozenset[str]:
    return frozenset(str(v).strip().lower() for v in values if str(v).strip())


def _pairs(values: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((str(rule), str(fp)) for rule, fp in values)


def _tuple(values: Iterable[str]) -> tuple[str, ...]:
    # Not ``converter=tuple``: attrs reads a builtin converter's signature with the tokenizer (~6 ms).
    return tuple(values)


def _rules(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


@attrs.frozen
class ScanContext:
    """What the scanner is told besides the text.

    - ``declared_hashes``: commit hashes, session ids, sha256 sums the session itself declares;
      a value equal to one (or a hex abbreviation of one) is never a finding.
    - ``allow``: ``(rule, fingerprint)`` pairs from the allow-list: known false positives.
    - ``exempt_paths``: names (session JSON paths or file names) exempt from the personal and
      private rules, never from the secret rules. ``[*]`` matches any index, ``*`` any part of
      a key; a pattern also covers everything below it (``$.source_data.git_commits[*].author``).
    - ``known_people``: names and e-mail addresses published on purpose (commit authors): never
      a personal finding, wherever they appear.
    - ``local_paths``: this machine's own folders (the repository, the working folder); found
      as ``Absolute path`` wherever they appear.
    - ``rules``: the rule names to run (``None``: every rule of ``RULES``).
    """

    declared_hashes: frozenset[str] = attrs.field(factory=frozenset, converter=_frozen_lower)
    allow: frozenset[tuple[str, str]] = attrs.field(factory=frozenset, converter=_pairs)
    exempt_paths: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    known_people: frozenset[str] = attrs.field(factory=frozenset, converter=_frozen_lower)
    local_paths: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    rules: frozenset[str] | None = attrs.field(default=None, converter=_rules)

    def exempt(self, name: str) -> bool:
        """Whether ``name`` (a JSON path or file name) is exempt from the personal/private rules."""
        return bool(self.exempt_paths) and _exempt_regex(self.exempt_paths).match(name) is not None

    def declared(self, value: str) -> bool:
        """Whether ``value`` is (an abbreviation of) a hash or id the session declares."""
        value = value.lower()
        if not self.declared_hashes:
            return False
        if value in self.declared_hashes:
            return True
        return len(value) >= 7 and _HEX.fullmatch(value) is not None and any(
            h.startswith(value) for h in self.declared_hashes
        )


_HEX = re.compile(r"[0-9a-f]+")
_EXEMPT_CACHE: dict[tuple[str, ...], re.Pattern[str]] = {}


def _exempt_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    regex = _EXEMPT_CACHE.get(patterns)
    if regex is None:
        parts = []
        for pattern in patterns:
            body = re.escape(pattern).replace(r"\[\*\]", r"\[\d+\]").replace(r"\*", r"[^.\[]*")
            parts.append(body)
        # A pattern covers its own path and everything below it, nothing that merely starts alike.
        regex = re.compile(rf"(?:{'|'.join(parts)})(?:$|[.\[])")
        if len(_EXEMPT_CACHE) < 64:
            _EXEMPT_CACHE[patterns] = regex
    return regex


def fingerprint(rule: str, value: str) -> str:
    """sha256 of rule and value: the same secret found again gets the same fingerprint.

    Like detect-secrets' ``hashed_secret``, it lets an allow-list name a value without
    holding it. A short value can be guessed back from its hash by trying candidates, so an
    allow-list should only ever name values that are not secret (known false positives).
    """
    return hashlib.sha256(f"{rule}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


def mask(value: str, keep: str = "") -> str:
    """``value`` with at most its last 2 characters shown: ``ghp_`` + stars + ``9f``.

    ``keep`` is a public prefix of the format (``ghp_``, ``AKIA``, ``xoxb-``) shown as it is.
    Under 12 characters nothing of the value is shown; the stars stop at 24.
    """
    prefix = keep if keep and value.startswith(keep) else ""
    body = value[len(prefix):]
    if len(body) < 12:
        return prefix + "********"
    return prefix + "*" * min(len(body) - 2, 24) + body[-2:]


def rule_slug(rule: str) -> str:
    """``GitHub Token`` -> ``github-token``: the ``[redacted:<slug>]`` marker."""
    return re.sub(r"[^a-z0-9]+", "-", rule.lower()).strip("-")
