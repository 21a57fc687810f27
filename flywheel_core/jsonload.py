"""Strict, bounded JSON reading: every failure becomes one ``InputError`` with a JSON path.

Refuses, before parsing, files over the size limit or nested deeper than the depth limit;
refuses invalid UTF-8, NaN/Infinity and duplicate keys, which Python's json would accept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flywheel_core.errors import InputError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "load_json_file", "loads_strict"]

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 200

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKETS = re.compile(rb"[\[\]{}]")


class _Constant:
    def __init__(self, name: str) -> None:
        self.name = name


class _DupDict(dict):
    """A dict that remembers keys seen more than once while parsing."""

    duplicates: list[str]


class _Parse:
    """Parse hooks that note duplicates and NaN/Infinity, so clean files skip the tree walk."""

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

    def constant(self, name: str) -> _Constant:
        self.suspect = True
        return _Constant(name)


def _depth(raw: bytes) -> int:
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _check_tree(value: Any, file: str) -> Any:
    """Walk the parsed tree once: report the first NaN or duplicate key by path."""
    stack: list[tuple[str, Any]] = [("$", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            dups = getattr(node, "duplicates", None)
            if dups:
                raise InputError(file, _child(path, dups[0]), f"duplicate key {dups[0]!r}")
            stack.extend((_child(path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((_child(path, i), v) for i, v in enumerate(node))
        elif isinstance(node, _Constant):
            raise InputError(file, path, f"{node.name} is not valid JSON (use a number or null)")
    return value


def _plain(value: Any) -> Any:
    """Replace the parse-time dict subclass with plain dicts (iteratively deep enough)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def loads_strict(raw: bytes, file: str = "<input>", *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON bytes strictly; raise InputError naming ``file`` and a JSON path."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
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
    hooks = _Parse()
    try:
        value = json.loads(text, object_pairs_hook=hooks.pairs, parse_constant=hooks.constant)
    except json.JSONDecodeError as exc:
        raise InputError(
            file, "$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise InputError(file, "$", "nested too deeply to parse") from None
    return _plain(_check_tree(value, file)) if hooks.suspect else value


def load_json_file(path: Path, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Read and parse a JSON file with the size and depth limits; InputError on any problem."""
    name = str(path)
    try:
        if path.is_dir():
            raise InputError(name, "$", "is a directory, expected a JSON file")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(name, "$", f"file is {size} bytes; the limit is {max_bytes} (max_input_bytes)")
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(name, "$", "no such file") from None
    except PermissionError:
        raise InputError(name, "$", "permission denied") from None
    except OSError as exc:
        raise InputError(name, "$", f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise InputError(name, "$", f"file is larger than the limit of {max_bytes} bytes")
    return loads_strict(raw, name, max_depth=max_depth)
