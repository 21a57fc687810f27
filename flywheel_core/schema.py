"""The envelope JSON Schema (draft 2020-12), merging in a session type's schema, and checking.

A document is first checked by a compiled yes/no check (``flywheel_core.fastcheck``); jsonschema
is imported only for one that fails it, to say where and why (or for a schema the check cannot
compile).
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterator

from flywheel_core.fastcheck import compile_check

if TYPE_CHECKING:
    from flywheel_core.fastcheck import Check

__all__ = ["ENVELOPE_SCHEMA", "first_errors", "iter_errors", "matches_schema", "merged_schema"]

#: A session id names files and folders, in the output and in a published repository: not a name
#: Windows reserves (CON, NUL, COM1, with any extension, in any case), nor one ending in "." (Windows
#: drops it), or that repository cannot be checked out there. (No inline (?i): ECMA-262 has none.)
SESSION_ID_PATTERN = (r"^(?!([Cc][Oo][Nn]|[Pp][Rr][Nn]|[Aa][Uu][Xx]|[Nn][Uu][Ll]|[Cc][Oo][Mm][0-9]|[Ll][Pp][Tt][0-9])(\.|$))"
                      r"[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9_-])?$")

_ARTIFACT_RECORD = {
    "type": "object",
    "properties": {
        "generated": {"type": "boolean"},
        "path": {"type": ["string", "null"]},
        # flywheel writes ready | published | failed; other tools wrote their own words, kept as is.
        "status": {"type": ["string", "null"]},
        "sha256": {"type": ["string", "null"]},
        "generator": {"type": ["string", "null"]},
        "generated_at": {"type": ["string", "null"]},
        "files": {"type": "array", "items": {"type": "string"}},
        "published_to": {"type": "object"},
        "errors": {"type": "array"},
    },
}

ENVELOPE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:flywheel:work_session",
    "title": "work_session.json",
    "description": "The record of one work session, as written by an agent or `flywheel collect`. "
    "Fields not listed here are allowed and kept.",
    "type": "object",
    "required": ["session_id", "session_type", "timestamp", "agent_id"],
    "properties": {
        "session_id": {
            "type": "string",
            "pattern": SESSION_ID_PATTERN,
            "description": "Unique id, safe in file names (a UUID or any slug).",
            "x-error": "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit, not ending with '.', and not a name Windows reserves (CON, PRN, AUX, NUL, COM0-9, "
            "LPT0-9) (it names files and folders)",
        },
        "session_type": {
            "type": "string",
            "pattern": r"^[a-z][a-z0-9_]{0,63}$",
            "description": "build, trade, life_aria, or a type a plugin registers.",
        },
        "timestamp": {
            "type": "string",
            "format": "flywheel-timestamp",
            "description": "ISO 8601; a timestamp without a zone is read as UTC.",
            "x-error": "must be an ISO 8601 timestamp such as 2025-12-02T05:20:00Z",
        },
        "agent_id": {
            "type": "string",
            "minLength": 1,
            "pattern": r"\S",
            "x-error": "must be a non-empty string",
        },
        "metadata": {
            "type": "object",
            # The ceiling is `--duration`'s: a duration in milliseconds (or 1e300) was published as a
            # 300-digit number of hours of work.
            "properties": {"duration_minutes": {"type": "number", "minimum": 0, "maximum": 10_000_000}},
        },
        "source_data": {"type": "object"},
        "artifacts": {"type": "object", "additionalProperties": _ARTIFACT_RECORD},
        "pipeline_status": {
            "type": "object",
            "description": "<type>_artifact: pending | complete | failed | not_applicable (others kept).",
            "additionalProperties": {"type": ["string", "null"]},
        },
        "errors": {"type": "array"},
    },
}


def merged_schema(type_schema: dict[str, Any] | None, title: str | None = None) -> dict[str, Any]:
    """The envelope with a session type's schema deep-merged in (``required`` lists unioned)."""
    merged = copy.deepcopy(ENVELOPE_SCHEMA)
    if type_schema:
        _merge(merged, copy.deepcopy(type_schema))
    if title:
        merged["title"] = title
    return merged


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if key in ("$schema", "$id"):
            continue
        if key == "required" and isinstance(into.get(key), list):
            into[key] = into[key] + [v for v in value if v not in into[key]]
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


_parse_timestamp: Any = None


def _timestamp_ok(value: object) -> bool:
    """Whether a string is a timestamp flywheel reads (a non-string is another keyword's business).

    One that cannot be placed in UTC (year 1 with an offset east of UTC) is refused, not a crash.
    """
    if not isinstance(value, str):
        return True
    global _parse_timestamp
    if _parse_timestamp is None:  # loaded when a timestamp is first checked, not for a config
        from flywheel_core.timestamps import parse_timestamp as _parse_timestamp
    try:
        _parse_timestamp(value)
    except (ValueError, OverflowError):
        return False
    return True


_FORMATS = {"flywheel-timestamp": _timestamp_ok}
# id(schema) -> (schema, its check): the schema is kept so its id cannot be reused meanwhile.
_CHECKS: dict[int, tuple[Any, Check | None]] = {}


def _passes(schema: Any, instance: Any) -> bool:
    """Whether the compiled check of ``schema`` passes ``instance`` (False: ask jsonschema)."""
    check = _fast_check(schema)
    try:
        return check is not None and check(instance)
    except (TypeError, RecursionError):  # a broken schema or a deep document: jsonschema says what
        return False


def _fast_check(schema: Any) -> Check | None:
    """The compiled check of ``schema``, made once per schema object (so change a copy of a
    schema, never one in use), or None when it uses a keyword the check does not know."""
    entry = _CHECKS.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    if len(_CHECKS) >= 256:
        _CHECKS.clear()
    check = compile_check(schema, _FORMATS)
    _CHECKS[id(schema)] = (schema, check)
    return check


@lru_cache(maxsize=32)
def _validator(key: str):
    import json

    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    checker.checks("flywheel-timestamp")(_timestamp_ok)
    return jsonschema.Draft202012Validator(json.loads(key), format_checker=checker)


def _fmt_path(base: str, parts: Any) -> str:
    from flywheel_core.jsonload import _child

    path = base
    for part in parts:
        path = _child(path, part)
    return path


def iter_errors(schema: dict[str, Any], instance: Any) -> Iterator[tuple[str, str]]:
    """Yield ``(json_path, message)`` for every schema violation, sorted by path.

    A document the compiled check passes has none; jsonschema looks only at the others.
    """
    import json

    if _passes(schema, instance):
        return
    validator = _validator(json.dumps(schema, sort_keys=True))
    found: list[tuple[str, str]] = []
    for error in validator.iter_errors(instance):
        if error.validator in ("anyOf", "oneOf") and error.context:
            import jsonschema

            # The alternative the value's type fits says what is wrong (10**30 files is too many),
            # not another one's "expected array".
            fitting = [e for e in error.context if e.validator != "type" or e.relative_path]
            error = jsonschema.exceptions.best_match(fitting or error.context)
        path = _fmt_path("$", error.absolute_path)
        if error.validator == "required":
            missing = [k for k in error.validator_value if k not in error.instance]
            found.extend((_fmt_path(path, [k]), "required field is missing") for k in missing)
            continue
        if error.validator == "additionalProperties" and error.validator_value is False:
            extras = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            found.extend((_fmt_path(path, [k]), "unknown key") for k in extras)
            continue
        custom = error.schema.get("x-error") if isinstance(error.schema, dict) else None
        if error.validator == "type":
            wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            got = _short(error.instance) if error.instance is None or isinstance(error.instance, bool) else (
                f"{json_type(error.instance)} {_short(error.instance)}")
            found.append((path, f"expected {' or '.join(map(str, wanted))}, got {got}"))
        elif error.validator == "maxLength":  # not the value itself: it may be 50 MB
            found.append((path, f"text of {len(error.instance):,} characters is too long (at most {error.validator_value:,})"))
        elif error.validator == "maxItems":
            found.append((path, f"{len(error.instance):,} items are too many (at most {error.validator_value:,})"))
        elif custom and error.validator != "required":
            found.append((path, f"{custom} (got {_short(error.instance)})"))
        else:
            found.append((path, _oneline(error.message)))
    yield from sorted(set(found))


def matches_schema(schema: dict[str, Any], instance: Any) -> bool:
    """Whether ``instance`` is valid against ``schema`` (JSON Schema draft 2020-12), quickly.

    The compiled check answers without importing jsonschema; jsonschema decides only for a
    schema the check cannot compile or an instance it refuses. For a plugin that validates its
    own tables: call this first, and ask jsonschema for messages only when it says False.
    """
    return _passes(schema, instance) or next(iter_errors(schema, instance), None) is None


def first_errors(schema: dict[str, Any], instance: Any, limit: int = 1) -> list[tuple[str, str]]:
    out = []
    for item in iter_errors(schema, instance):
        out.append(item)
        if len(out) >= limit:
            break
    return out


def json_type(value: Any) -> str:
    """The JSON name of a value's type (``null``, not Python's ``None``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def mask_secrets(text: str) -> str:
    """``text`` with each credential the publishing scan finds in it replaced by
    ``[redacted:<rule>]``, as the ``redact`` policy writes it.

    An error line quotes the value it refuses, and it is printed, kept in ``--json`` output and
    in a cron job's log: a key pasted into the wrong field must not reach them. Only error
    lines get here, so the scanner's import (a quarter of a second) is paid only on bad input.
    """
    from flywheel_core.scanning import redact_text, scan_text

    return redact_text(text, [found for found in scan_text(text, kind="plain") if found.severity == "secret"])


#: What a credential can look like at a glance: a long run of token characters (``sk_live_…``,
#: base64), or a word that names one. Only text with such a run costs the scanner's import.
_SUSPICIOUS = re.compile(r"[A-Za-z0-9_+/=-]{20,}|(?i:pass(?:word|wd)|secret|token|api.?key|private.?key)")


def mask_suspicious(text: str) -> str:
    """:func:`mask_secrets` for text printed on every run (a warning): the scanner is imported
    only when the text holds something credential-like, so a clean run pays nothing."""
    return mask_secrets(text) if _SUSPICIOUS.search(text) else text


def _short(value: Any, limit: int = 60) -> str:
    """A value as JSON, cut to ``limit`` characters without encoding all of a huge value, its
    secrets masked (the whole of a long token, before the cut leaves part of it unrecognisable)."""
    import json

    if isinstance(value, str):
        value = mask_secrets(value[: limit * 8])[:limit]
    chunks: list[str] = []
    size = 0
    for chunk in json.JSONEncoder(ensure_ascii=False).iterencode(value):
        chunks.append(chunk[: limit + 1])
        size += len(chunks[-1])
        if size > limit:
            break
    text = "".join(chunks)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _oneline(message: str, limit: int = 240) -> str:
    """Keep a message on one line and short, whatever value it quotes."""
    message = " ".join(mask_secrets(message[: limit * 2]).split())
    return message if len(message) <= limit else message[: limit - 3] + "..."
