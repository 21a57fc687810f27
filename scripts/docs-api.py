"""Fill the signature blocks of docs/api.md from flywheel_core itself: `python scripts/docs-api.py [--check]`.

Each exported name has a block in docs/api.md, a marker line followed by a fenced code block:

    <!-- signature: load_config -->
    ```python
    load_config(explicit: Path | None = None, cwd: Path | None = None) -> Config
    ```

This script rewrites the code block under every marker from ``inspect.signature`` (annotations
as the source writes them), so a signature in the docs cannot drift from the code; the prose
around the blocks is written by hand. ``--check`` changes nothing and exits 1 when a block is
out of date, a name is exported but has no block, or a block names something not exported
(tests/test_api_docs.py runs the same check).
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path
from typing import Any

import attrs

import flywheel_core

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "api.md"
WIDTH = 100  # a signature longer than this gets one parameter per line
BLOCK = re.compile(r"^<!-- signature: (\S+) -->\n```python\n(.*?)^```$", re.M | re.S)


class _Raw:
    """Shows a string as it is: an annotation or a default as the source writes it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _annotation(value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return value
    return _Raw(value if isinstance(value, str) else inspect.formatannotation(value))


def _default(owner: Any, name: str, value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return value
    if value is attrs.NOTHING and attrs.has(owner):  # an attrs field made by a factory
        factory = attrs.fields_dict(owner)[name].default.factory
        return _Raw(repr(factory()) if factory in (list, dict, tuple, set) else "...")
    return _Raw(repr(value))


def _parameters(owner: Any, signature: inspect.Signature, skip_first: bool) -> list[str]:
    params = list(signature.parameters.values())[1 if skip_first else 0:]
    out: list[str] = []
    previous = None
    for p in params:
        if previous is inspect.Parameter.POSITIONAL_ONLY and p.kind is not previous:
            out.append("/")
        if p.kind is inspect.Parameter.KEYWORD_ONLY and previous not in (p.kind, inspect.Parameter.VAR_POSITIONAL):
            out.append("*")
        out.append(str(p.replace(annotation=_annotation(p.annotation), default=_default(owner, p.name, p.default))))
        previous = p.kind
    if previous is inspect.Parameter.POSITIONAL_ONLY:
        out.append("/")
    return out


def _call(prefix: str, owner: Any, function: Any, *, indent: str = "", skip_first: bool = False) -> str:
    """``prefix(params) -> return``, on one line when it fits, else one parameter per line.

    A constructor (``function`` a class, or an ``__init__``) shows no ``-> None``.
    """
    signature = inspect.signature(function)
    params = _parameters(owner, signature, skip_first)
    returns = signature.return_annotation
    constructor = isinstance(function, type) or getattr(function, "__name__", "") == "__init__"
    tail = "" if returns is inspect.Signature.empty or constructor else f" -> {_annotation(returns)!r}"
    line = f"{indent}{prefix}({', '.join(params)}){tail}"
    if len(line) <= WIDTH:
        return line
    inner = "".join(f"{indent}    {p},\n" for p in params)
    return f"{indent}{prefix}(\n{inner}{indent}){tail}"


def _members(cls: type) -> list[str]:
    """The public methods and properties of ``cls`` (and its flywheel_core bases), one line each."""
    seen: dict[str, str] = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith("flywheel_core"):
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            if isinstance(value, property):
                returns = inspect.signature(value.fget).return_annotation
                seen[name] = f"    .{name} -> {_annotation(returns)!r}"
            elif isinstance(value, (classmethod, staticmethod)):
                seen[name] = _call(f"{cls.__name__}.{name}", cls, getattr(cls, name), indent="    ")
            elif inspect.isfunction(value):
                seen[name] = _call(f".{name}", cls, value, indent="    ", skip_first=True)
    return [seen[name] for name in sorted(seen)]


def signature_block(name: str) -> str:
    """The code block docs/api.md shows for the exported ``name`` (without the fences)."""
    value = getattr(flywheel_core, name)
    if isinstance(value, type) and issubclass(value, BaseException):
        base = value.__mro__[1].__name__
        code = f"  # exit_code = {value.exit_code}" if hasattr(value, "exit_code") else ""
        lines = [f"class {name}({base}){code}"]
        if "__init__" in vars(value):
            lines.append(_call(name, value, value.__init__, indent="    ", skip_first=True))
    elif isinstance(value, type):
        lines = [_call(name, value, value), *_members(value)]
    elif type(value).__module__.startswith("pluggy"):  # hookimpl, hookspec: pluggy's markers
        lines = [f"{name} = pluggy.{type(value).__name__}({value.project_name!r})",
                 _call(name, value, value.__call__)]
    elif callable(value):
        lines = [_call(name, None, value)]
    else:
        lines = [f"{name} = {value!r}"]
    return "\n".join(lines) + "\n"


def exported() -> list[str]:
    return list(flywheel_core.__all__)


def fill(text: str) -> str:
    """``text`` with every signature block regenerated."""
    return BLOCK.sub(
        lambda m: f"<!-- signature: {m[1]} -->\n```python\n{signature_block(m[1])}```"
        if m[1] in flywheel_core.__all__ else m[0],
        text,
    )


def problems(text: str) -> list[str]:
    """What is wrong with docs/api.md's blocks: one line each; empty when it is up to date."""
    documented = [m[1] for m in BLOCK.finditer(text)]
    out = [f"{name}: exported by flywheel_core, missing from docs/api.md" for name in exported() if name not in documented]
    out += [f"{name}: in docs/api.md, not exported by flywheel_core" for name in documented if name not in exported()]
    out += [f"{name}: documented twice" for name in sorted({n for n in documented if documented.count(n) > 1})]
    for m in BLOCK.finditer(text):
        if m[1] in exported() and m[2] != signature_block(m[1]):
            out.append(f"{m[1]}: signature out of date (run python scripts/docs-api.py)")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if docs/api.md is out of date")
    args = parser.parse_args()
    text = DOC.read_text(encoding="utf-8")
    if not args.check:
        new = fill(text)
        if new != text:
            DOC.write_text(new, encoding="utf-8")
            print(f"updated {DOC.relative_to(ROOT)}")
        text = new
    found = problems(text)
    for line in found:
        print(f"docs/api.md: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
