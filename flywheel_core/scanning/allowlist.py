"""The allow-list: known false positives, named by rule and fingerprint (never by value).

The file is JSON, like detect-secrets' ``.secrets.baseline``::

    {"version": 1,
     "allow": [{"rule": "E-mail address", "fingerprint": "<64 hex>",
                "preview": "s***@***.org", "note": "our public support address"}]}

``preview`` and ``note`` are for the people who read the file; fields flywheel does not know
are kept when it adds entries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flywheel_core.errors import InputError
from flywheel_core.scanning.model import Finding

__all__ = ["load_allowlist", "allowlist_entry", "add_to_allowlist", "ALLOWLIST_VERSION"]

ALLOWLIST_VERSION = 1
#: Far more than any hand-kept list of false positives (about 200 bytes an entry).
MAX_ALLOWLIST_BYTES = 16 * 1024 * 1024
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def _read(path: Path) -> dict[str, Any]:
    from flywheel_core.jsonload import loads_strict

    from flywheel_core.fsutil import PathRefused, read_regular_file

    name = str(path)
    try:  # never blocks: the file is named in the config, and a FIFO there would wait for ever
        raw = read_regular_file(path, MAX_ALLOWLIST_BYTES)
    except FileNotFoundError:
        return {"version": ALLOWLIST_VERSION, "allow": []}
    except PathRefused as exc:
        raise InputError(name, "$", str(exc)) from None
    except OSError as exc:
        raise InputError(name, "$", f"cannot be read ({exc.strerror or exc})") from None
    doc = loads_strict(raw, name)
    if not isinstance(doc, dict):
        raise InputError(name, "$", f"expected an object, got {type(doc).__name__}")
    if doc.get("version", ALLOWLIST_VERSION) != ALLOWLIST_VERSION:
        raise InputError(name, "$.version", f"unknown version {doc.get('version')!r}; expected 1")
    entries = doc.setdefault("allow", [])
    if not isinstance(entries, list):
        raise InputError(name, "$.allow", "expected a list of {rule, fingerprint, note} objects")
    for i, entry in enumerate(entries):
        where = f"$.allow[{i}]"
        if not isinstance(entry, dict):
            raise InputError(name, where, "expected an object with rule and fingerprint")
        for key in ("rule", "fingerprint"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise InputError(name, f"{where}.{key}", "expected a non-empty string")
        if not _FINGERPRINT.fullmatch(entry["fingerprint"]):
            raise InputError(name, f"{where}.fingerprint", "expected 64 lower-case hex digits (a sha256)")
    return doc


def load_allowlist(path: str | Path) -> frozenset[tuple[str, str]]:
    """The ``(rule, fingerprint)`` pairs of an allow-list file, for ``ScanContext.allow``.

    A missing file is an empty list; a malformed one is an ``InputError`` naming the file and
    the JSON path (exit 2).
    """
    doc = _read(Path(path))
    return frozenset((e["rule"], e["fingerprint"]) for e in doc["allow"])


def allowlist_entry(finding: Finding, note: str = "") -> dict[str, str]:
    """The allow-list entry that lets ``finding``'s value pass its rule from now on."""
    return {"rule": finding.rule, "fingerprint": finding.fingerprint, "preview": finding.preview,
            "note": note}


def add_to_allowlist(path: str | Path, findings: Iterable[Finding], note: str = "") -> int:
    """Add an entry per finding not yet allowed (under a lock, atomically); return how many."""
    from flywheel_core.fsutil import atomic_write, lock_for

    path = Path(path)
    with lock_for(path):
        doc = _read(path)
        known = {(e["rule"], e["fingerprint"]) for e in doc["allow"]}
        added = 0
        for finding in findings:
            if (finding.rule, finding.fingerprint) not in known:
                doc["allow"].append(allowlist_entry(finding, note))
                known.add((finding.rule, finding.fingerprint))
                added += 1
        if added:
            doc["version"] = ALLOWLIST_VERSION
            atomic_write(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return added
