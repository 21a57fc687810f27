"""Keep docs/plugin_hooks.md honest: every hook documented with its exact signature, and tested."""

from __future__ import annotations

import inspect
import re

import pytest

from core_support import ROOT
from flywheel_core import hookspecs

HOOKS = sorted(
    name for name, fn in vars(hookspecs).items()
    if name.startswith("flywheel_") and callable(fn) and hasattr(fn, "flywheel_spec")
)
DOC = (ROOT / "docs" / "plugin_hooks.md").read_text(encoding="utf-8")
TEST_SOURCES = [
    p.read_text(encoding="utf-8")
    for p in [*ROOT.glob("tests/**/*.py"), *ROOT.glob("plugins/*/tests/**/*.py"),
              *ROOT.glob("examples/plugins/*/tests/**/*.py")]
    if p.name != "test_docs.py"
]


def test_there_are_hooks() -> None:
    assert {"flywheel_collect", "flywheel_validate", "flywheel_generate", "flywheel_publish"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_with_its_signature(hook: str) -> None:
    params = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert f"### `{hook}({params})`" in DOC


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_spec_has_a_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 80, hook


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_implemented_in_some_test(hook: str) -> None:
    pattern = re.compile(rf"def {hook}\(")
    assert any(pattern.search(src) for src in TEST_SOURCES), f"no test implements {hook}"


def test_documented_hooks_exist() -> None:
    documented = set(re.findall(r"^### `(flywheel_\w+)\(", DOC, re.M))
    assert documented == set(HOOKS)


def test_docs_list_hooks_in_spec_order() -> None:
    source = inspect.getsource(hookspecs)
    in_spec = [h for h in re.findall(r"^def (flywheel_\w+)\(", source, re.M)]
    in_docs = re.findall(r"^### `(flywheel_\w+)\(", DOC, re.M)
    assert in_docs == in_spec
