"""docs/examples.md shows exactly what `flywheel run` and `publish` make of each bundled example.

The page's generated blocks are made afresh (scripts/docs-examples.py, in a temporary folder)
and compared one by one with the page, and its images with docs/images/.
"""

from __future__ import annotations

import importlib.util

import pytest

from core_support import EXAMPLES, ROOT

# The bundled session plugins and the web target make what these tests read: skipped when
# flywheel-core is tested alone (scripts/test-isolated.sh); make test has them all.
for _plugin in ("flywheel_build", "flywheel_trade", "flywheel_aria", "flywheel_publish_web"):
    pytest.importorskip(_plugin)

REFRESH = "refresh with `.venv/bin/python scripts/docs-examples.py`, then read the diff"


def _script():
    spec = importlib.util.spec_from_file_location("docs_examples", ROOT / "scripts" / "docs-examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()
DOC = (ROOT / "docs" / "examples.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, bytes]]:
    return SCRIPT.generate(DOC, tmp_path_factory.mktemp("docs-examples"))


def _current(block: str) -> str:
    return next(m.group("body") for m in SCRIPT.BLOCK.finditer(DOC) if m.group("id") == block)


@pytest.mark.parametrize("block", SCRIPT.block_ids(DOC))
def test_block_is_what_the_example_gives_today(generated, block):
    blocks, _ = generated
    assert _current(block) == blocks[block], f"docs/examples.md: block example:{block} is stale: {REFRESH}"


def test_images_are_what_the_examples_give_today(generated):
    _, images = generated
    assert images, "the trade example's equity curve is shown"
    for path, data in images.items():
        file = ROOT / "docs" / path
        assert file.is_file() and file.read_bytes() == data, f"docs/{path} is stale: {REFRESH}"
        assert f"]({path})" in DOC
    shown = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs" / SCRIPT.IMAGES).rglob("*") if p.is_file()}
    assert shown == set(images), f"docs/{SCRIPT.IMAGES}/ holds images no block shows: {REFRESH}"


def test_every_example_is_shown_with_its_commands_and_each_artifact():
    ids = SCRIPT.block_ids(DOC)
    assert len(ids) == len(set(ids)), "each block once"
    for example in sorted(EXAMPLES.glob("*.json")):
        shown = {i.split("/", 1)[1] for i in ids if i.split("/", 1)[0] == example.name}
        assert "run" in shown, f"docs/examples.md does not show `flywheel run examples/{example.name}`"
        assert "social_post.json" in shown, f"docs/examples.md does not show the posts of examples/{example.name}"
        assert len(shown) >= 4, f"docs/examples.md shows only {sorted(shown)} of examples/{example.name}"


def test_a_stale_block_is_named(generated):
    blocks, _ = generated
    block = "trade_session.json/trade_journal.md"
    stale = SCRIPT.fill(DOC, {**blocks, block: blocks[block].replace("+75.00", "+76.00")})
    found = [m.group("id") for m in SCRIPT.BLOCK.finditer(stale) if m.group("body") != blocks[m.group("id")]]
    assert found == [block]
    assert SCRIPT.fill(stale, blocks) == SCRIPT.fill(DOC, blocks), "refreshing puts it back, and only it"
