"""Strict, bounded JSON reading and writing: every failure becomes one ``InputError`` with a JSON path.

Refuses, before parsing, files that are not regular files, over the size limit or nested deeper
than the depth limit; refuses what Python's json would accept but is not portable JSON: invalid
UTF-8, NaN/Infinity and numbers too large for a double (``1e400``), integers longer than Python
converts (4,300 digits), lone surrogate escapes (``"\\ud800"``) and duplicate keys. Memory stays
within a small multiple of the input: no step backtracks or builds a list per token.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from itertools import accumulate
from pathlib import Path
from typing import Any, Iterator

from flywheel_core.errors import InputError
from flywheel_core.fsutil import FileTooLarge, PathRefused, read_regular_file

__all__ = ["MAX_BYTES", "MAX_DEPTH", "dumps_strict", "load_json_file", "loads_strict"]

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 200

#: Every byte but the five that shape a document: what ``_depth`` deletes before counting.
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'"[]{}')
#: +1 for an opening bracket, -1 for a closing one, by byte value.
_STEP = [0] * 256
for _byte in b"[{":
    _STEP[_byte] = 1
for _byte in b"]}":
    _STEP[_byte] = -1
#: A ``\uD800``-``\uDFFF`` escape somewhere in the raw text: only then are strings searched.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Compiled on first use, not at import (issue 18: start-up): most commands need none of these.
_re = functools.cache(re.compile)
_SURROGATE = "[\ud800-\udfff]"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def dumps_strict(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes what strict JSON readers refuse, UTF-8 kept readable.

    NaN/Infinity (``allow_nan=False``) and integers too long to print raise ValueError naming
    the JSON path of the value. Every JSON file or column flywheel writes goes through this.
    """
    kwargs.setdefault("ensure_ascii", False)
    try:
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError as exc:
        path = _unwritable(value)
        if path is None:
            raise
        raise ValueError(f"{path}: {_reason(exc)}") from None


def _reason(exc: ValueError) -> str:
    if "JSON compliant" in str(exc):
        return "NaN or infinity is not JSON (use a number or null)"
    return f"integer too long to write (over {sys.get_int_max_str_digits()} digits)"


def _unwritable(value: Any) -> str | None:
    """The JSON path of the first float JSON cannot hold or integer too long to print, if any."""
    stack: list[tuple[str, Any]] = [("$", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((_child(path, str(k)), v) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((_child(path, i), v) for i, v in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            return path
        elif isinstance(node, int) and not isinstance(node, bool) and node.bit_length() > 14_000:
            try:
                str(node)
            except ValueError:
                return path
    return None


class _Bad:
    """A parsed value that is not portable JSON; ``_check_tree`` reports it with its path."""

    def __init__(self, message: str) -> None:
        self.message = message


class _DupDict(dict):
    """A dict that remembers keys seen more than once while parsing."""

    duplicates: list[str]


class _Parse:
    """Parse hooks that note duplicates and unportable numbers, so clean files skip the tree walk."""

    def __init__(self) -> None:
        self.suspect = False

    def pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) == len(pairs):
            return out
        self.suspect = True
        marked = _DupDict(out)
        seen: set[str] = set()
        marked.duplicates = [k for k, _ in pairs if k in seen or seen.add(k)]
        return marked

    def constant(self, name: str) -> _Bad:
        self.suspect = True
        return _Bad(f"{name} is not valid JSON (use a number or null)")

    def number(self, text: str) -> float | _Bad:
        value = float(text)
        if math.isfinite(value):
            return value
        self.suspect = True
        return _Bad(f"number {_clip(text)} is too large for a double (it would read as infinity)")

    def integer(self, text: str) -> int | _Bad:
        limit = sys.get_int_max_str_digits()
        digits = len(text.lstrip("-"))
        if limit and digits > limit:
            self.suspect = True
            return _Bad(f"integer with {digits} digits is too long (the limit is {limit} digits)")
        return int(text)


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _depth(raw: bytes) -> int:
    """How deeply arrays and objects nest, brackets inside strings ignored, in linear time."""
    # Escaped backslashes go first, then escaped quotes: every quote left opens or closes a string.
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    # Two adjacent quotes enclose nothing (or join two strings): dropping them keeps every other
    # byte on its side of the string boundaries. What is left are strings holding brackets.
    while b'""' in text:
        text = text.replace(b'""', b"")
    if b'"' in text:
        text = _outside_strings(text)
    return max(accumulate(map(_STEP.__getitem__, text)), default=0)


def _outside_strings(text: bytes, chunk: int = 1 << 16) -> bytes:
    """The bytes of ``text`` that are outside strings; quotes alternate opening and closing."""
    out, inside = [], 0
    for start in range(0, len(text), chunk):  # chunks bound the pieces split makes at a time
        pieces = text[start : start + chunk].split(b'"')
        out.append(b"".join(pieces[inside::2]))
        inside ^= (len(pieces) - 1) & 1
    return b"".join(out)


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _re(_NAME).fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(_clip(key, 80))}]"


def _at(parent: str, key: str | int | None) -> str:
    return _child(parent, key) if parent and key is not None else "$"


def _check_tree(value: Any, file: str, *, surrogates: bool) -> Any:
    """Walk the parsed tree depth first: report the first duplicate key, unportable number or
    (when ``surrogates``) lone surrogate, in document order, by JSON path.

    The walk holds one iterator per level, so its memory follows the depth, not the size.
    """
    # Each level: the parent's JSON path and an iterator over (key, child); "" marks the root.
    stack: list[tuple[str, Iterator[tuple[Any, Any]]]] = [("", iter([(None, value)]))]
    while stack:
        parent, children = stack[-1]
        for key, node in children:  # paths are built only for containers and problems
            if surrogates and isinstance(key, str) and _re(_SURROGATE).search(key):
                raise InputError(file, _at(parent, key), _surrogate_message(key))
            if isinstance(node, (dict, list)):
                path = _at(parent, key)
                dups = getattr(node, "duplicates", None)
                if dups:
                    raise InputError(file, _child(path, dups[0]), f"duplicate key {dups[0]!r}")
                stack.append((path, iter(node.items()) if isinstance(node, dict) else enumerate(node)))
                break
            if isinstance(node, _Bad):
                raise InputError(file, _at(parent, key), node.message)
            if surrogates and isinstance(node, str) and _re(_SURROGATE).search(node):
                raise InputError(file, _at(parent, key), _surrogate_message(node))
        else:
            stack.pop()
    return value


def _surrogate_message(text: str) -> str:
    found = _re(_SURROGATE).search(text)
    assert found is not None
    return (
        f"lone surrogate \\u{ord(found.group()):04x} at character {found.start()} is not Unicode text "
        "(escape the character itself, or a surrogate pair such as \\ud83d\\ude00)"
    )


def _json_reason(exc: json.JSONDecodeError) -> str:
    """Where and why the parser stopped, or what agents actually wrote there: a comma before
    ``}`` or ``]`` (Python says "Expecting property name enclosed in double quotes" after it)."""
    doc, pos = exc.doc, exc.pos
    if doc[pos : pos + 1] in ("}", "]") and doc[:pos].rstrip().endswith(","):
        comma = doc.rindex(",", 0, pos)
        line, column = doc.count("\n", 0, comma) + 1, comma - doc.rfind("\n", 0, comma)
        return f"invalid JSON at line {line} column {column}: a comma before '{doc[pos]}' (JSON allows no trailing comma)"
    return f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"


def loads_strict(raw: bytes, file: str = "<input>", *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON bytes strictly; raise InputError naming ``file`` and a JSON path."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:2]:
        # Windows PowerShell 5's Out-File and `>` write UTF-16 (a byte-order mark, or a NUL beside
        # every ASCII byte): say so, not "invalid UTF-8 at byte 0" or "Expecting value".
        raise InputError(file, "$", "the file is UTF-16, not UTF-8: save it as UTF-8 "
                                    "(PowerShell: Out-File -Encoding utf8, or Set-Content -Encoding utf8)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(file, "$", f"invalid UTF-8 at byte {exc.start} (line {line})") from None
    if not text.strip():
        raise InputError(file, "$", "file is empty, expected a JSON object")
    deepest = _depth(raw)
    if deepest > max_depth:
        raise InputError(file, "$", f"nested {deepest} levels deep; the limit is {max_depth}")
    surrogates = _SURROGATE_ESCAPE.search(raw) is not None
    hooks = _Parse()
    hooks.suspect = surrogates
    options: dict[str, Any] = {"object_pairs_hook": hooks.pairs, "parse_constant": hooks.constant,
                               "parse_float": hooks.number}
    try:
        try:
            value = json.loads(text, **options)
        except ValueError as exc:
            if isinstance(exc, json.JSONDecodeError):
                raise
            # An integer too long to convert: parse again, slower, to say where it is.
            value = json.loads(text, parse_int=hooks.integer, **options)
    except json.JSONDecodeError as exc:
        raise InputError(
            file, "$", _json_reason(exc)
        ) from None
    except RecursionError:
        raise InputError(file, "$", "nested too deeply to parse") from None
    return _check_tree(value, file, surrogates=surrogates) if hooks.suspect else value


def load_json_file(path: Path, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Read and parse a JSON file with the size and depth limits; InputError on any problem.

    Only a regular file is read: a FIFO, a device or a folder is refused without blocking.
    """
    name = str(path)
    try:
        raw = read_regular_file(path, max_bytes)
    except FileTooLarge as exc:
        raise InputError(name, "$", f"{exc} (max_input_bytes)") from None
    except PathRefused as exc:
        raise InputError(name, "$", str(exc)) from None
    except FileNotFoundError:
        raise InputError(name, "$", "no such file") from None
    except PermissionError:
        raise InputError(name, "$", "permission denied") from None
    except OSError as exc:
        raise InputError(name, "$", f"cannot read: {exc.strerror or exc}") from None
    return loads_strict(raw, name, max_depth=max_depth)
