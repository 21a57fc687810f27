"""`flywheel new-plugin`, `flywheel context`, `flywheel render` and plugin config checks, in-process."""

from __future__ import annotations

import ast
import json
import os
import tomllib
from pathlib import Path

import jinja2
import pytest

from core_support import EXAMPLES
from flywheel_core import Artifact, SessionType, hookimpl
from flywheel_core.config import check_plugin_configs, load_config
from flywheel_core.errors import UsageError
from flywheel_core.testing import run_cli

ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"

# -- new-plugin ------------------------------------------------------------------------

EXPECTED_FILES = {
    "generator": [
        "README.md",
        "flywheel_release_notes/__init__.py",
        "flywheel_release_notes/plugin.py",
        "flywheel_release_notes/templates/build/release_notes.md.j2",
        "pyproject.toml",
        "tests/test_plugin.py",
    ],
    "session-type": [
        "README.md",
        "examples/work_session.json",
        "flywheel_release_notes/__init__.py",
        "flywheel_release_notes/plugin.py",
        "flywheel_release_notes/templates/release_notes/summary.md.j2",
        "pyproject.toml",
        "tests/test_plugin.py",
    ],
    "target": [
        "README.md",
        "flywheel_release_notes/__init__.py",
        "flywheel_release_notes/plugin.py",
        "pyproject.toml",
        "tests/test_plugin.py",
    ],
}
HOOKS = {
    "generator": ["flywheel_generate", "flywheel_template_dirs"],
    "session-type": ["flywheel_generate", "flywheel_session_types", "flywheel_template_dirs", "flywheel_validate"],
    "target": ["flywheel_publish", "flywheel_targets"],
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_FILES))
def test_new_plugin_makes_a_complete_project(tmp_path: Path, empty_host, kind: str) -> None:
    result = run_cli(["new-plugin", "release_notes", "--dir", tmp_path, "--kind", kind], host=empty_host)
    assert result.exit_code == 0, result.output
    project = tmp_path / "flywheel-release-notes"
    files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())
    assert files == EXPECTED_FILES[kind]
    assert 'pip install -e ".[test]" && pytest' in result.stdout
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "flywheel-release-notes"
    assert meta["project"]["dependencies"] == ["flywheel-core>=0.1"]
    assert meta["project"]["optional-dependencies"]["test"] == ["pytest>=8"]
    assert meta["project"]["entry-points"]["flywheel"] == {"release_notes": "flywheel_release_notes.plugin"}
    if kind != "target":
        assert meta["tool"]["setuptools"]["package-data"] == {"flywheel_release_notes": ["templates/**/*.j2"]}
    for path in project.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))  # valid Python
        assert ast.get_docstring(tree), f"{path} has a module docstring"
    plugin = ast.parse((project / "flywheel_release_notes/plugin.py").read_text())
    hooks = sorted(f.name for f in plugin.body if isinstance(f, ast.FunctionDef) and f.name.startswith("flywheel_"))
    assert hooks == HOOKS[kind]
    # Light imports only: `flywheel --help` imports every plugin module.
    imported = {a.name.split(".")[0] for n in ast.walk(plugin) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in ([ast.alias(n.module)] if isinstance(n, ast.ImportFrom) else n.names)}
    assert imported <= {"__future__", "pathlib", "typing", "flywheel_core"}
    for path in project.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "PACKAGE" not in str(path) and "SESSION_TYPE" not in str(path)
            assert "{% raw" not in text and "endraw" not in text
    for template in project.rglob("*.j2"):
        jinja2.Environment().parse(template.read_text())  # a valid Jinja2 template for the plugin
    if kind == "session-type":
        example = json.loads((project / "examples/work_session.json").read_text())
        assert example["session_type"] == "release_notes"


def test_new_plugin_json(tmp_path: Path, empty_host) -> None:
    result = run_cli(["new-plugin", "release_notes", "--dir", tmp_path, "--kind", "target", "--json"], host=empty_host)
    assert result.exit_code == 0, result.output
    shown = result.json()
    project = tmp_path / "flywheel-release-notes"
    assert shown == {"project": str(project), "kind": "target", "name": "release_notes", "files": EXPECTED_FILES["target"]}


def test_generated_generator_renders_with_the_real_renderer(tmp_path: Path, empty_host) -> None:
    """The packaged template of a generated generator, through ctx.render, before any install."""
    import importlib.util

    run_cli(["new-plugin", "notes", "--dir", tmp_path], host=empty_host)
    spec = importlib.util.spec_from_file_location("gen_notes_plugin", tmp_path / "flywheel-notes/flywheel_notes/plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Build:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("build")]

    empty_host.register(Build(), name="build")
    empty_host.register(module, name="notes")
    session = tmp_path / "s.json"
    session.write_bytes((EXAMPLES / "build_session.json").read_bytes())
    result = run_cli(["run", session, "--out", tmp_path / "out"], host=empty_host)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out/build" / ID / "notes.md").read_text() == (
        f"# Notes: {ID}\n\n2025-12-02, Agent-7\n\n## Commits\n\n"
        "- feat: Add Phase 3 publication system\n- feat: Add website publisher\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad"], "must match ^[a-z][a-z0-9_]*$"),
        (["1st"], "must match"),
        (["a-b"], "must match"),
        (["x" * 65], "at most 64"),
        (["core"], "taken by flywheel-core"),
        (["ok", "--kind", "exporter"], "--kind must be one of generator, session-type, target"),
        (["ok", "--kind", "target", "--session-type", "build"], "does not apply to --kind target"),
        (["ok", "--session-type", "Build"], "session type 'Build' must match"),
    ],
)
def test_new_plugin_refuses_bad_input(tmp_path: Path, empty_host, args: list[str], message: str) -> None:
    result = run_cli(["new-plugin", *args, "--dir", tmp_path], host=empty_host)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_new_plugin_refuses_the_name_of_an_installed_plugin(tmp_path: Path, empty_host) -> None:
    # `new-plugin build` made a flywheel-build project whose `pip install -e .` replaced the real one.
    from importlib.metadata import entry_points

    installed = sorted((ep.name, ep.dist.name) for ep in entry_points(group="flywheel") if ep.dist is not None)
    if not installed:
        pytest.skip("no flywheel plugin is installed (flywheel-core tested alone)")
    name, dist = installed[0]
    result = run_cli(["new-plugin", name, "--dir", tmp_path], host=empty_host)
    assert result.exit_code == 2, result.output
    assert f"plugin name {name!r} is taken by the installed {dist}; choose another name" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_plugin_never_overwrites(tmp_path: Path, empty_host) -> None:
    project = tmp_path / "flywheel-notes"
    project.mkdir()
    (project / "keep.txt").write_text("mine")
    result = run_cli(["new-plugin", "notes", "--dir", tmp_path], host=empty_host)
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert [p.name for p in project.iterdir()] == ["keep.txt"] and (project / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flywheel-notes"]  # no staging folder left


def test_session_type_option_names_the_type(tmp_path: Path, empty_host) -> None:
    run_cli(["new-plugin", "tags", "--session-type", "trade", "--dir", tmp_path], host=empty_host)
    plugin = (tmp_path / "flywheel-tags/flywheel_tags/plugin.py").read_text()
    assert 'SESSION_TYPES = ("trade",)' in plugin
    assert (tmp_path / "flywheel-tags/flywheel_tags/templates/trade/tags.md.j2").is_file()


# -- context and render ----------------------------------------------------------------


@pytest.fixture
def build_session(example) -> Path:
    return example("build_session.json")


def test_context_prints_what_each_template_receives(echo_host, build_session: Path, tmp_path: Path) -> None:
    before = build_session.read_bytes()
    result = run_cli(["context", build_session], host=echo_host)
    assert result.exit_code == 0, result.output
    data = result.json()
    assert list(data) == ["summary"]
    [entry] = data["summary"]
    assert entry["template"] == "build/summary.md.j2"
    context = entry["context"]
    assert sorted(context) == ["commits", "session"]
    assert context["session"]["session_id"] == ID
    assert context["session"]["date"] == "2025-12-02"  # properties templates can use are shown too
    assert context["session"]["when"] == "2025-12-02T05:20:00+00:00"
    assert context["commits"][1]["message"] == "feat: Add website publisher"
    assert "key_order" not in context["session"]
    assert build_session.read_bytes() == before, "dry run: the session file is untouched"
    assert not (tmp_path / "flywheel-out").exists()


def test_context_kind_selects_one(echo_host, build_session: Path) -> None:
    assert list(run_cli(["context", build_session, "--kind", "summary"], host=echo_host).json()) == ["summary"]
    result = run_cli(["context", build_session, "--kind", "readme"], host=echo_host)
    assert result.exit_code == 2
    assert "no template of kind 'readme' was rendered for this session (rendered: summary)" in result.stderr


def test_context_of_an_invalid_session_exits_2(echo_host, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"session_id": "x", "session_type": "build", "timestamp": "yesterday", "agent_id": "a"}')
    result = run_cli(["context", path], host=echo_host)
    assert result.exit_code == 2
    assert f"{path}: $.timestamp: must be an ISO 8601 timestamp" in result.stderr
    assert result.stdout == ""


def test_context_serialises_any_value(empty_host, tmp_path: Path, echo_templates: Path) -> None:
    from dataclasses import dataclass
    from datetime import date, datetime, timezone

    @dataclass
    class Point:
        x: int
        y: int

        @property
        def total(self) -> int:
            return self.x + self.y

    class Odd:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("build")]

        @hookimpl
        def flywheel_template_dirs(self):
            return [echo_templates]

        @hookimpl
        def flywheel_generate(self, session, ctx):
            ctx.render("build/summary.md.j2", session=session, commits=[], path=tmp_path, when=datetime(2025, 1, 2, tzinfo=timezone.utc),
                       day=date(2025, 1, 2), raw=b"\x00\x01", items={1, 2} - {2}, art=Artifact("x", "y"),
                       point=Point(1, 2))
            return []

    empty_host.register(Odd(), name="odd")
    session = tmp_path / "s.json"
    session.write_bytes((EXAMPLES / "minimal_build_session.json").read_bytes())
    [entry] = run_cli(["context", session], host=empty_host).json()["summary"]
    context = entry["context"]
    assert context["path"] == str(tmp_path)
    assert context["when"] == "2025-01-02T00:00:00+00:00" and context["day"] == "2025-01-02"
    assert context["raw"] == "<2 bytes>" and context["items"] == [1]
    assert context["art"]["kind"] == "x" and context["art"]["filename"] == "x.md"
    assert context["point"] == {"x": 1, "y": 2, "total": 3}


def test_render_uses_the_same_context(echo_host, build_session: Path, tmp_path: Path) -> None:
    template = tmp_path / "mine.md.j2"
    template.write_text("{{ session.session_id }} {{ session.date }}\n{% for c in commits %}* {{ c.message }}\n{% endfor %}")
    result = run_cli(["render", build_session, "--template", template], host=echo_host)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{ID} 2025-12-02\n* feat: Add Phase 3 publication system\n* feat: Add website publisher\n"


def test_render_escapes_html_only_for_html_files(echo_host, example, tmp_path: Path) -> None:
    session = example("build_session.json")
    doc = json.loads(session.read_text())
    doc["source_data"]["git_commits"][0]["message"] = "P&L <script>alert(1)</script>"
    session.write_text(json.dumps(doc))
    (tmp_path / "page.html.j2").write_text("<p>{{ commits[0].message }}</p>")
    (tmp_path / "note.md.j2").write_text("{{ commits[0].message }}")
    html = run_cli(["render", session, "-t", tmp_path / "page.html.j2", "-o", tmp_path / "page.html"], host=echo_host)
    assert html.exit_code == 0, html.output
    assert (tmp_path / "page.html").read_text() == "<p>P&amp;L &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    md = run_cli(["render", session, "-t", tmp_path / "note.md.j2"], host=echo_host)
    assert md.stdout == "P&L <script>alert(1)</script>"


def test_render_errors_name_the_template(echo_host, build_session: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.md.j2"
    broken.write_text("{{ session.nope }}")
    result = run_cli(["render", build_session, "-t", broken], host=echo_host)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"flywheel: error: {broken}: ") and "nope" in result.stderr
    broken.write_text("{% for %}")
    assert "line 1" in run_cli(["render", build_session, "-t", broken], host=echo_host).stderr
    missing = run_cli(["render", build_session, "-t", tmp_path / "missing.j2"], host=echo_host)
    assert missing.exit_code == 2 and "cannot read the template" in missing.stderr


def test_render_picks_the_kind_from_the_file_name(empty_host, echo_templates: Path, tmp_path: Path) -> None:
    (echo_templates / "build" / "readme.md.j2").write_text("readme")

    class Two:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("build")]

        @hookimpl
        def flywheel_template_dirs(self):
            return [echo_templates]

        @hookimpl
        def flywheel_generate(self, session, ctx):
            return [Artifact("summary", ctx.render("build/summary.md.j2", session=session, commits=[])),
                    Artifact("readme", ctx.render("build/readme.md.j2", title="The readme"))]

    empty_host.register(Two(), name="two")
    session = tmp_path / "s.json"
    session.write_bytes((EXAMPLES / "minimal_build_session.json").read_bytes())
    (tmp_path / "readme.md").write_text("{{ title }}")
    assert run_cli(["render", session, "-t", tmp_path / "readme.md"], host=empty_host).stdout == "The readme"
    (tmp_path / "other.md").write_text("{{ title }}")
    ambiguous = run_cli(["render", session, "-t", tmp_path / "other.md"], host=empty_host)
    assert ambiguous.exit_code == 2 and "choose the context with --kind (rendered for this session: readme, summary)" in ambiguous.stderr
    assert run_cli(["render", session, "-t", tmp_path / "other.md", "-k", "readme"], host=empty_host).stdout == "The readme"


def test_context_honours_a_user_template_override(echo_host, build_session: Path, tmp_path: Path) -> None:
    """A user's templates_dir override renders with the same context; a broken one is reported."""
    (tmp_path / "mine" / "build").mkdir(parents=True)
    (tmp_path / "mine" / "build" / "summary.md.j2").write_text("{{ nope }}")
    config = tmp_path / "flywheel.toml"
    config.write_text('templates_dir = "mine"\n')
    result = run_cli(["context", build_session, "--config", config], host=echo_host)
    assert result.exit_code == 1
    assert result.json()["summary"][0]["template"] == "build/summary.md.j2"
    assert "'nope' is undefined" in result.stderr


# -- check_plugin_configs --------------------------------------------------------------


class Configured:
    SCHEMA = {
        "type": "object",
        "required": ["folder"],
        "properties": {"folder": {"type": "string"}, "token": {"type": "string", "pattern": "^ghp_"},
                       "limits": {"type": "object", "properties": {"max": {"type": "integer"}}}},
        "additionalProperties": False,
    }

    @hookimpl
    def flywheel_config_schema(self):
        return self.SCHEMA


@pytest.fixture
def configured(empty_host):
    empty_host.register(Configured(), name="shelf")
    return empty_host


def _config(tmp_path: Path, text: str):
    (tmp_path / "flywheel.toml").write_text(text)
    return load_config(tmp_path / "flywheel.toml")


def test_valid_plugin_config_passes(configured, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHELF_TOKEN", "ghp_abc")
    config = _config(tmp_path, '[plugins.shelf]\nfolder = "x"\ntoken = {"$env" = "SHELF_TOKEN"}\n')
    check_plugin_configs(config, configured)
    assert config.plugin_config("shelf") == {"folder": "x", "token": "ghp_abc"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("", "plugins.shelf.folder: required field is missing"),
        ('folder = 3', "plugins.shelf.folder: expected string, got number 3"),
        ('folder = "x"\nflder = "y"', "plugins.shelf.flder: unknown key"),
        ('folder = "x"\nlimits = {max = "ten"}', 'plugins.shelf.limits.max: expected integer, got string "ten"'),
    ],
)
def test_invalid_plugin_config_is_one_line(configured, tmp_path: Path, table: str, message: str) -> None:
    config = _config(tmp_path, f"[plugins.shelf]\n{table}\n")
    with pytest.raises(UsageError) as caught:
        check_plugin_configs(config, configured)
    assert str(caught.value) == f"{tmp_path / 'flywheel.toml'}: {message}"


def test_secrets_are_resolved_then_checked_but_never_shown(configured, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SHELF_TOKEN", "hunter2-secret")
    config = _config(tmp_path, '[plugins.shelf]\nfolder = "x"\ntoken = {"$env" = "SHELF_TOKEN"}\n')
    with pytest.raises(UsageError) as caught:
        check_plugin_configs(config, configured)
    assert "plugins.shelf.token: ${SHELF_TOKEN} does not match '^ghp_'" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    monkeypatch.delenv("SHELF_TOKEN")
    with pytest.raises(UsageError, match="plugins.shelf.token: environment variable 'SHELF_TOKEN' is not set"):
        check_plugin_configs(config, configured)


def test_plugins_without_a_schema_are_not_checked(empty_host, tmp_path: Path) -> None:
    check_plugin_configs(_config(tmp_path, "[plugins.other]\nanything = 1\n"), empty_host)


def test_an_invalid_schema_blames_the_plugin_and_stops_nothing(empty_host, tmp_path: Path, capsys) -> None:
    class Broken:
        @hookimpl
        def flywheel_config_schema(self):
            return {"type": "no-such-type"}

    empty_host.register(Broken(), name="broken", distribution="flywheel-broken")
    check_plugin_configs(_config(tmp_path, "[plugins.broken]\nx = 1\n"), empty_host)
    err = capsys.readouterr().err
    assert "plugin broken (flywheel-broken) failed in flywheel_config_schema" in err
    assert "not valid JSON Schema" in err and "not checked" in err


def test_render_refuses_a_template_that_is_a_fifo(echo_host, build_session: Path, tmp_path: Path) -> None:
    # Before: read_text waited on the FIFO for ever.
    fifo = tmp_path / "readme.md.j2"
    os.mkfifo(fifo)
    result = run_cli(["render", build_session, "-t", fifo], host=echo_host)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"flywheel: error: {fifo}: cannot read the template: is a FIFO (named pipe), "
                                     "expected a regular file")
