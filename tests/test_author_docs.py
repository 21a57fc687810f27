"""Keep docs/writing_plugins.md accurate: hooks, commands, options, fixtures, links and code blocks."""

from __future__ import annotations

import ast
import json
import re
import shlex
import tomllib
from pathlib import Path

import jinja2
import pytest
import typer

from core_support import ROOT
from flywheel_core import hookspecs, testing
from flywheel_core.testing import run_cli

DOC_PATH = ROOT / "docs" / "writing_plugins.md"
DOC = DOC_PATH.read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", DOC, re.M | re.S)
HOOKS = {n for n, f in vars(hookspecs).items() if n.startswith("flywheel_") and hasattr(f, "flywheel_spec")}
HOOK_SECTION = DOC.split("\n## Hooks\n")[1].split("\n## ")[0]
FIXTURES = {"flywheel_host", "flywheel_cli"}


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCKS if lang == language]


def test_every_hook_is_listed_and_every_name_is_a_hook() -> None:
    listed = set(re.findall(r"^\| `(flywheel_\w+)\(", HOOK_SECTION, re.M))
    assert listed == HOOKS
    mentioned = set(re.findall(r"\bflywheel_[a-z_]*[a-z]", DOC)) - FIXTURES - {"flywheel_core", "flywheel_changelog_md"}
    assert mentioned == HOOKS, mentioned ^ HOOKS


def test_hook_signatures_in_the_table_are_exact() -> None:
    import inspect

    for name, params in re.findall(r"^\| `(flywheel_\w+)\(([^)]*)\)`", HOOK_SECTION, re.M):
        assert params == ", ".join(inspect.signature(getattr(hookspecs, name)).parameters), name


def _cli() -> typer.core.TyperGroup:
    from flywheel_core.cli import build_app
    from flywheel_core.plugins import PluginHost

    return typer.main.get_command(build_app(PluginHost()))


def test_every_flywheel_command_and_option_exists() -> None:
    group = _cli()
    core_commands = {"run", "validate", "schema", "plugins", "init", "publish", "queue", "new-plugin", "context", "render"}
    seen = 0
    for body in blocks("sh"):
        for line in body.splitlines():
            line = line.split("#")[0].strip()
            if not line.startswith("flywheel "):
                continue
            words = shlex.split(line)
            command = group.commands.get(words[1])
            assert command is not None and words[1] in core_commands, line
            options = {o for p in command.params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
            for word in words[2:]:
                if word.startswith("-"):
                    assert word.split("=")[0] in options, f"{line}: {word}"
            seen += 1
    assert seen >= 6


def test_inline_commands_use_real_options() -> None:
    group = _cli()
    for name, option in [("new-plugin", "--session-type"), ("new-plugin", "--kind"), ("context", "--kind"),
                         ("render", "--template"), ("render", "-o"), ("render", "--config"), ("context", "--config")]:
        assert f"`{option}" in DOC or f" {option}" in DOC
        assert option in {o for p in group.commands[name].params for o in getattr(p, "opts", [])}


def test_new_plugin_output_in_the_tutorial_is_real(tmp_path: Path, empty_host, monkeypatch) -> None:
    [shown] = [b for b in blocks("text") if b.startswith("created ")]
    monkeypatch.chdir(tmp_path)
    result = run_cli(["new-plugin", "changelog_md", "--dir", "."], host=empty_host)
    assert result.exit_code == 0, result.output
    assert result.stdout == shown


def _testing_table(header: str) -> list[str]:
    """The first cell of each row of the table in the Testing section whose header begins ``header``."""
    section = DOC.split("\n## Testing\n")[1].split("\n## ")[0]
    rows = section.split(f"\n| {header} |")[1].split("\n\n")[0].splitlines()[2:]
    return [row.split("|")[1] for row in rows]


def test_fixtures_in_the_table_exist() -> None:
    named = {re.match(r" `(\w+)", cell).group(1) for cell in _testing_table("fixture")}
    assert named == {"flywheel_host", "empty_host", "register_plugin", "flywheel_cli", "make_session", "session_file"}
    for name in named:
        assert hasattr(testing, name), name


def test_every_testing_helper_is_in_the_table() -> None:
    # A plugin's tests may import flywheel_core.testing and nothing else of core but its top
    # level (tests/test_architecture.py), so each name it exports is one its authors are told of.
    named = {name for cell in _testing_table("name") for name in re.findall(r"`(\w+)", cell)}
    assert named == set(testing.__all__)


def test_python_blocks_compile_and_import_only_public_api() -> None:
    public = {"flywheel_core", "flywheel_changelog_md", "pathlib", "pytest"}
    for body in blocks("python"):
        tree = ast.parse(body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module.split(".")[0] in public, node.module
                if node.module == "flywheel_core":
                    import flywheel_core

                    for alias in node.names:
                        assert hasattr(flywheel_core, alias.name), alias.name


def test_toml_json_and_jinja_blocks_parse() -> None:
    assert len(blocks("toml")) >= 3
    for body in blocks("toml"):
        tomllib.loads(body)
    for body in blocks("json"):
        json.loads(body)
    [template] = blocks("jinja")
    jinja2.Environment().parse(template)


def test_the_tutorial_template_is_the_example_s_template() -> None:
    [template] = blocks("jinja")
    packaged = ROOT / "examples/plugins/flywheel_changelog_md/flywheel_changelog_md/templates/build/changelog.md.j2"
    # The tutorial leaves out the Breaking marker for brevity; everything else is the same.
    assert template == packaged.read_text().replace("{% if change.breaking %}**Breaking:** {% endif %}", "")


def test_config_schema_in_the_docs_is_the_example_s() -> None:
    [body] = [b for b in blocks("python") if "CONFIG_SCHEMA = " in b]
    namespace: dict = {}
    exec(body.split("\n\n\n@hookimpl")[0], namespace)  # just the schema literal
    source = (ROOT / "examples/plugins/flywheel_changelog_md/flywheel_changelog_md/plugin.py").read_text()
    example = ast.literal_eval(source.split("CONFIG_SCHEMA = ", 1)[1].split("\n\n\n", 1)[0])
    strip = lambda s: {**s, "properties": {k: {x: y for x, y in v.items() if x != "description"} for k, v in s["properties"].items()}}
    assert namespace["CONFIG_SCHEMA"] == strip(example)


@pytest.mark.parametrize("link", sorted(set(re.findall(r"\]\(((?!https?:|#)[^)]+)\)", DOC))))
def test_relative_links_exist(link: str) -> None:
    assert (DOC_PATH.parent / link.split("#")[0]).exists(), link


def test_anchor_links_exist() -> None:
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", DOC, re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", DOC):
        assert anchor in headings, anchor
