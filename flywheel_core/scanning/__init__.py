"""The publishing scan: secrets and personal data found before anything goes public.

API (docs/secrets.md has every rule with examples)::

    scan_text(text, *, name="<text>", context=None, kind=None) -> list[Finding]
    scan_files(files: Mapping[str, bytes], *, context=None) -> list[Finding]
    scan_session(doc: dict, *, context=None) -> list[Finding]      # file = JSON path
    session_context(doc, context=None) -> ScanContext              # what the session declares
    redact_text(text, findings) -> str                             # "[redacted:<rule-slug>]"
    redact_files(files, findings) -> dict[str, bytes]              # raises Unredactable
    redact_document(doc, findings) -> doc                          # scan_session's findings cut out
    load_allowlist(path) -> frozenset[(rule, fingerprint)]         # for ScanContext.allow
    allowlist_entry(finding, note="") -> dict;  add_to_allowlist(path, findings, note="") -> int

    Finding(rule, file, line, column, preview, fingerprint, severity, start, end)
        .describe() -> "blog_post.md:3:14: GitHub Token ghp_****9f"; .to_dict() / from_dict()
    ScanContext(declared_hashes, allow, exempt_paths, known_people, local_paths, rules)

Severities: ``secret`` (credentials), ``personal`` (e-mail, phone, home folder, GPS),
``private`` (local paths, private IPs, internal host names, image metadata). A preview shows
at most 4 characters of a value; a fingerprint is a sha256 of rule and value; the value
itself is never stored or returned.

Names are loaded on first use: the rules' regular expressions are compiled when a scan first
runs, not when something imports ``Finding`` or the allow-list helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flywheel_core.lazyexports import lazy_exports

_LAZY = {
    "ALLOWLIST_VERSION": "flywheel_core.scanning.allowlist",
    "add_to_allowlist": "flywheel_core.scanning.allowlist",
    "allowlist_entry": "flywheel_core.scanning.allowlist",
    "load_allowlist": "flywheel_core.scanning.allowlist",
    "TEXT_EXTENSIONS": "flywheel_core.scanning.files",
    "Unredactable": "flywheel_core.scanning.files",
    "redact_files": "flywheel_core.scanning.files",
    "scan_files": "flywheel_core.scanning.files",
    "Finding": "flywheel_core.scanning.model",
    "ScanContext": "flywheel_core.scanning.model",
    "Severity": "flywheel_core.scanning.model",
    "fingerprint": "flywheel_core.scanning.model",
    "mask": "flywheel_core.scanning.model",
    "rule_slug": "flywheel_core.scanning.model",
    "RULE_NAMES": "flywheel_core.scanning.rules",
    "is_placeholder": "flywheel_core.scanning.rules",
    "SESSION_EXEMPT_PATHS": "flywheel_core.scanning.scanner",
    "SESSION_SKIPPED_PATHS": "flywheel_core.scanning.scanner",
    "find_values": "flywheel_core.scanning.scanner",
    "redact_document": "flywheel_core.scanning.scanner",
    "redact_text": "flywheel_core.scanning.scanner",
    "scan_session": "flywheel_core.scanning.scanner",
    "scan_text": "flywheel_core.scanning.scanner",
    "session_context": "flywheel_core.scanning.scanner",
    "session_findings": "flywheel_core.scanning.scanner",
}

__all__ = [
    "ALLOWLIST_VERSION",
    "Finding",
    "RULE_NAMES",
    "SESSION_EXEMPT_PATHS",
    "SESSION_SKIPPED_PATHS",
    "ScanContext",
    "Severity",
    "TEXT_EXTENSIONS",
    "Unredactable",
    "add_to_allowlist",
    "allowlist_entry",
    "find_values",
    "fingerprint",
    "is_placeholder",
    "load_allowlist",
    "mask",
    "redact_document",
    "redact_files",
    "redact_text",
    "rule_slug",
    "scan_files",
    "scan_session",
    "scan_text",
    "session_context",
    "session_findings",
]


__getattr__, __dir__ = lazy_exports('flywheel_core.scanning', _LAZY, globals())


if TYPE_CHECKING:
    from flywheel_core.scanning.allowlist import (
        ALLOWLIST_VERSION,
        add_to_allowlist,
        allowlist_entry,
        load_allowlist,
    )
    from flywheel_core.scanning.files import TEXT_EXTENSIONS, Unredactable, redact_files, scan_files
    from flywheel_core.scanning.model import Finding, ScanContext, Severity, fingerprint, mask, rule_slug
    from flywheel_core.scanning.rules import RULE_NAMES, is_placeholder
    from flywheel_core.scanning.scanner import (
        SESSION_EXEMPT_PATHS,
        SESSION_SKIPPED_PATHS,
        find_values,
        redact_document,
        redact_text,
        scan_session,
        scan_text,
        session_context,
        session_findings,
    )
