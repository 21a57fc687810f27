"""The registration hooks: commands, targets, plugin config schemas, template overrides."""

from __future__ import annotations

from pathlib import Path

import typer

from flywheel_core import Artifact, SessionType, Target, hookimpl
from flywheel_core.testing import run_cli


class Commands:
    @hookimpl
    def flywheel_register_commands(self, cli, collect):
        @collect.command("echo")
        def collect_echo(word: str = typer.Option(..., "--word")) -> None:
            """Print a word."""
            print(f"collected {word}")

        group = typer.Typer(help="Demo group.")

        @group.command("hello")
        def hello() -> None:
            print("hello")

        cli.add_typer(group, name="demo")


def test_plugins_add_commands(empty_host) -> None:
    empty_host.register(Commands(), name="commands")
    assert run_cli(["collect", "echo", "--word", "hi"], host=empty_host).stdout == "collected hi\n"
    assert run_cli(["demo", "hello"], host=empty_host).stdout == "hello\n"
    assert "demo" in run_cli(["--help"], host=empty_host).stdout


def test_a_plugin_failing_to_add_commands_is_reported(empty_host) -> None:
    class Broken:
        @hookimpl
        def flywheel_register_commands(self, cli, collect):
            raise ValueError("nope")

    empty_host.register(Broken(), name="broken", distribution="flywheel-broken")
    result = run_cli(["plugins"], host=empty_host)
    assert result.exit_code == 0
    assert "plugin broken (flywheel-broken) failed to add its commands" in result.stderr


class Targets:
    @hookimpl
    def flywheel_targets(self):
        return [Target("shelf", "a folder", {"type": "object"})]


def test_targets_are_registered_and_listed(empty_host) -> None:
    empty_host.register(Targets(), name="shelf", distribution="flywheel-shelf")
    assert empty_host.target("shelf")[0] == "shelf"
    [info] = run_cli(["plugins", "--json"], host=empty_host).json()
    assert info["targets"] == ["shelf"]


def test_unknown_target_names_its_distribution(empty_host) -> None:
    import pytest

    from flywheel_core.errors import UsageError

    with pytest.raises(UsageError, match="pip install ./plugins/flywheel_publish_web"):
        empty_host.target("web")


def test_config_schemas_are_collected(empty_host) -> None:
    class Configured:
        @hookimpl
        def flywheel_config_schema(self):
            return {"type": "object", "properties": {"n": {"type": "integer"}}}

    empty_host.register(Configured(), name="configured")
    assert empty_host.config_schemas() == {"configured": {"type": "object", "properties": {"n": {"type": "integer"}}}}


def test_user_templates_override_packaged_ones(tmp_path: Path, echo_host, example) -> None:
    user = tmp_path / "mine" / "build"
    user.mkdir(parents=True)
    (user / "summary.md.j2").write_text("custom {{ session.agent_id }}\n")
    (tmp_path / "flywheel.toml").write_text('templates_dir = "mine"\n')
    session = example()
    result = run_cli(["run", session, "--config", tmp_path / "flywheel.toml"], host=echo_host)
    assert result.exit_code == 0, result.output
    out = tmp_path / "flywheel-out/build/a1b2c3d4-e5f6-7890-abcd-ef1234567890/summary.md"
    assert out.read_text() == "custom Agent-7\n"


def test_a_broken_template_is_a_clear_failure(tmp_path: Path, echo_host, example) -> None:
    user = tmp_path / "mine" / "build"
    user.mkdir(parents=True)
    (user / "summary.md.j2").write_text("{{ session.nope }}\n")
    (tmp_path / "flywheel.toml").write_text('templates_dir = "mine"\n')
    result = run_cli(["run", example(), "--config", tmp_path / "flywheel.toml"], host=echo_host)
    assert result.exit_code == 1
    assert "template 'build/summary.md.j2'" in result.stderr and "nope" in result.stderr
    assert "Traceback" not in result.output


def test_templates_of_a_cloned_projects_config_run_sandboxed(tmp_path: Path, echo_host, example) -> None:
    # Regression: a cloned repository's own flywheel.toml naming templates_dir ran its Jinja
    # templates in a plain environment: `flywheel run` there ran any command they held.
    marker = tmp_path / "pwned"
    user = tmp_path / "repo" / "mine" / "build"
    user.mkdir(parents=True)
    (user / "summary.md.j2").write_text(
        "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}\n")
    (tmp_path / "repo" / "flywheel.toml").write_text('templates_dir = "mine"\n')
    result = run_cli(["run", example(), "--config", tmp_path / "repo" / "flywheel.toml"], host=echo_host)
    assert not marker.exists()
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert "error: plugin echo" in line and "template 'build/summary.md.j2': access to attribute '__init__' of " in line
    assert line.endswith("is unsafe. (templates from templates_dir run sandboxed)")


def test_html_templates_autoescape_and_markdown_does_not(tmp_path: Path, empty_host) -> None:
    from flywheel_core.render import Renderer

    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.md.j2").write_text("{{ v }}")
    (tmp_path / "t" / "a.html.j2").write_text("{{ v }}")
    renderer = Renderer([tmp_path / "t"])
    assert renderer.render("a.md.j2", v="P&L <b>") == "P&L <b>"
    assert renderer.render("a.html.j2", v="P&L <b>") == "P&amp;L &lt;b&gt;"


def test_a_session_type_plugin_end_to_end(tmp_path: Path, empty_host, session_file, make_session) -> None:
    class Diary:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("diary", schema={"properties": {"source_data": {"required": ["entries"]}}})]

        @hookimpl
        def flywheel_generate(self, session, ctx):
            return [Artifact("page", "\n".join(session.source_data["entries"]) + "\n")]

    empty_host.register(Diary(), name="diary")
    bad = session_file(make_session("diary"), "bad.json")
    result = run_cli(["run", bad], host=empty_host)
    assert result.exit_code == 2 and f"{bad}: $.source_data.entries: required field is missing" in result.stderr
    good = session_file(make_session("diary", source_data={"entries": ["a", "b"]}), "good.json")
    result = run_cli(["run", good, "--out", tmp_path / "o"], host=empty_host)
    assert result.exit_code == 0
    assert (tmp_path / "o/diary/test-diary-001/page.md").read_text() == "a\nb\n"


def test_generators_ask_for_page_urls_and_the_first_answer_wins(tmp_path: Path, empty_host, session_file,
                                                               make_session) -> None:
    class Site:
        def __init__(self, base: str | None) -> None:
            self.base = base

        @hookimpl
        def flywheel_page_url(self, session, kind, title, config):
            if self.base is None or kind != "page":
                return None
            return f"{self.base}{session.session_type}/{session.session_id}/{title.lower()}/"

    class Diary:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("diary")]

        @hookimpl
        def flywheel_generate(self, session, ctx):
            links = [ctx.page_url(session, kind, "Day") for kind in ("page", "other")]
            return [Artifact("page", "# Day\n"), Artifact("links", f"{links}\n")]

    empty_host.register(Diary(), name="diary")
    path = session_file(make_session("diary"))
    assert run_cli(["run", path, "--out", tmp_path / "none"], host=empty_host).exit_code == 0
    assert (tmp_path / "none/diary/test-diary-001/links.md").read_text() == "[None, None]\n"  # nobody answers
    empty_host.register(Site(None), name="quiet")
    empty_host.register(Site("https://a.example/"), name="site")
    assert run_cli(["run", path, "--out", tmp_path / "o"], host=empty_host).exit_code == 0
    links = (tmp_path / "o/diary/test-diary-001/links.md").read_text()
    assert links == "['https://a.example/diary/test-diary-001/day/', None]\n"
