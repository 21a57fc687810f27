"""Keep docs/api.md honest: every name flywheel_core exports, nothing else, each with its real signature."""

from __future__ import annotations

import ast
import doctest
import importlib.util
import re

import pytest

import flywheel_core
from core_support import ROOT

DOC_PATH = ROOT / "docs" / "api.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
_spec = importlib.util.spec_from_file_location("docs_api", ROOT / "scripts" / "docs-api.py")
docs_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs_api)
#: The examples: every fenced block but the generated signatures.
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", docs_api.BLOCK.sub("", DOC), re.M | re.S)


def test_every_export_has_a_block_and_every_block_is_an_export() -> None:
    documented = [m[1] for m in docs_api.BLOCK.finditer(DOC)]
    assert sorted(documented) == sorted(flywheel_core.__all__), set(documented) ^ set(flywheel_core.__all__)


def test_every_signature_is_the_code_s() -> None:
    for match in docs_api.BLOCK.finditer(DOC):
        assert match[2] == docs_api.signature_block(match[1]), (
            f"{match[1]}: docs/api.md shows a signature the code does not have; run python scripts/docs-api.py")


def test_each_block_sits_under_its_own_heading() -> None:
    # "### `name`" then the marker: the prose between two headings is about that name.
    headings = re.findall(r"^### `(\w+)`\n\n<!-- signature: (\S+) -->$", DOC, re.M)
    assert [h for h, _ in headings] == [m for _, m in headings]
    assert len(headings) == len(re.findall(r"^### ", DOC, re.M)) == len(flywheel_core.__all__)


def test_the_checker_catches_a_missing_name_a_stray_name_and_a_changed_signature(monkeypatch) -> None:
    assert docs_api.problems(DOC) == []

    def planted(text: str, *, flag: bool = False) -> str:
        """A function flywheel_core exports that docs/api.md does not know."""
        return text

    monkeypatch.setattr(flywheel_core, "__all__", [*flywheel_core.__all__, "planted"])
    monkeypatch.setattr(flywheel_core, "planted", planted, raising=False)
    assert docs_api.problems(DOC) == ["planted: exported by flywheel_core, missing from docs/api.md"]

    stray = DOC + "\n<!-- signature: not_exported -->\n```python\nnot_exported()\n```\n"
    assert "not_exported: in docs/api.md, not exported by flywheel_core" in docs_api.problems(stray)

    monkeypatch.setattr(flywheel_core, "md_inline", lambda text, limit=80: text)
    assert "md_inline: signature out of date (run python scripts/docs-api.py)" in docs_api.problems(DOC)


def test_fill_writes_what_the_check_expects() -> None:
    stale = DOC.replace("load_config(explicit: Path | None = None", "load_config(explicit: str", 1)
    assert stale != DOC and docs_api.problems(stale)
    assert docs_api.fill(stale) == DOC


def test_names_the_prose_gives_are_exported() -> None:
    named = set(re.findall(r"\bflywheel_core\.(\w+)", DOC)) - {"testing", "__all__"}
    assert named <= set(flywheel_core.__all__), named - set(flywheel_core.__all__)
    for body in (b for lang, b in BLOCKS if lang == "python"):
        tree = ast.parse(body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module == "flywheel_core", node.module
                assert {a.name for a in node.names} <= set(flywheel_core.__all__)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "fw":
                assert node.attr in flywheel_core.__all__, node.attr


def test_examples_with_output_are_true() -> None:
    # ```pycon blocks show what a call returns: run them, with every exported name in scope.
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    names = {name: getattr(flywheel_core, name) for name in flywheel_core.__all__}
    examples = [body for lang, body in BLOCKS if lang == "pycon"]
    assert len(examples) >= 8
    for i, body in enumerate(examples):
        runner.run(parser.get_doctest(body, dict(names), f"docs/api.md pycon block {i + 1}", str(DOC_PATH), 0))
    assert runner.summarize(verbose=False).failed == 0


def _anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of ``text``: lower case, punctuation but ``_`` and ``-`` dropped."""
    return {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", text, re.M)}


#: The prose alone: no code block, no code span (``[x](javascript:...)`` is an example, not a link).
PROSE = re.sub(r"`[^`\n]+`", "", re.sub(r"^```.*?^```", "", DOC, flags=re.M | re.S))


@pytest.mark.parametrize("link", sorted(set(re.findall(r"\]\(((?!https?:)[^)]+)\)", PROSE))))
def test_links_lead_somewhere(link: str) -> None:
    file, _, anchor = link.partition("#")
    target = (DOC_PATH.parent / file) if file else DOC_PATH
    assert target.exists(), link
    if anchor:
        assert anchor in _anchors(target.read_text(encoding="utf-8")), link


def test_the_docs_that_send_readers_here_link_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [docs_row] = [line for line in readme.splitlines() if line.startswith("| `docs/` |")]
    assert "(docs/api.md)" in docs_row
    assert "(api.md)" in (ROOT / "docs" / "writing_plugins.md").read_text(encoding="utf-8")
