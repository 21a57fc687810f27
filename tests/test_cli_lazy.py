"""Subcommands are built when used: `flywheel --help` lists them as typer would, building none."""

from __future__ import annotations

import contextlib
import functools
import io
import subprocess
from pathlib import Path

import pytest
import typer

from core_support import FLYWHEEL
from flywheel_core import hookimpl, lazy_command
from flywheel_core.cli import build_app, click_command
from flywheel_core.plugins import PluginHost
from flywheel_core.testing import run_cli


class Broken:
    """Adds a command typer cannot build (its annotation names nothing) and a lazy one."""

    @hookimpl
    def flywheel_register_commands(self, cli: typer.Typer, collect: typer.Typer) -> None:
        def broken(value: "NoSuchType") -> None:  # noqa: F821
            """A command whose options cannot be read."""

        cli.command()(broken)
        lazy_command(collect, "no_such_module_anywhere:run", name="ghost", help="A command from a missing module.")


def test_help_builds_no_subcommand(empty_host) -> None:
    empty_host.register(Broken(), name="broken")
    listing = run_cli(["--help"], host=empty_host)
    assert listing.exit_code == 0, listing.output
    assert "broken A command whose options cannot be read." in " ".join(listing.stdout.split())
    collect = run_cli(["collect", "--help"], host=empty_host)
    assert collect.exit_code == 0 and "ghost A command from a missing module." in " ".join(collect.stdout.split())
    used = run_cli(["broken", "x"], host=empty_host)
    assert used.exit_code == 1 and "NoSuchType" in used.stderr
    ghost = run_cli(["collect", "ghost"], host=empty_host)
    assert ghost.exit_code == 1 and "no_such_module_anywhere" in ghost.stderr


@pytest.mark.parametrize("args", [["--help"], ["collect", "--help"], ["site", "--help"], ["queue", "--help"], []])
def test_listings_are_the_ones_typer_builds(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Every installed plugin, so their lazily registered commands are compared too.
    monkeypatch.delenv("FLYWHEEL_LOAD_PLUGINS")
    host = PluginHost()
    host.load_entry_points()
    if args and args[0] not in run_cli(["--help"], host=host).stdout:
        pytest.skip(f"no installed plugin adds {args[0]!r}")
    eager = typer.main.get_command(build_app(host))
    lazy = click_command(build_app(host))
    assert run(lazy, args) == run(eager, args)


def run(command, args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            command.main(args, prog_name="flywheel")
        except SystemExit as exc:
            return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_a_misspelled_command_is_still_suggested(empty_host) -> None:
    result = run_cli(["valdate"], host=empty_host)
    assert result.exit_code == 2 and "Did you mean 'validate'?" in result.stderr


def _flywheel(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(FLYWHEEL), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_lazy_command_module_is_imported_only_when_the_command_is_used(fake_dist, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "ghostcmd.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('yes')\n\n"
        "def run(name: str = 'world') -> None:\n    \"\"\"Greet NAME, loudly.\n\n    More about it.\"\"\"\n"
        "    print(f'hello {name}')\n")
    env = fake_dist("ghost", """
        from flywheel_core import hookimpl, lazy_command

        @hookimpl
        def flywheel_register_commands(cli, collect):
            lazy_command(collect, "ghostcmd:run", name="ghost", help="Greet NAME, loudly.")
    """)

    flywheel = functools.partial(_flywheel, env)

    assert "ghost" in flywheel("collect", "--help") and "--help" in flywheel("--help")
    assert not marker.exists()
    assert "More about it." in flywheel("collect", "ghost", "--help")
    assert marker.exists()
    assert flywheel("collect", "ghost", "--name", "you") == "hello you\n"


def test_each_core_command_is_listed_by_its_docstring() -> None:
    """Core commands are lazy (issue 18): their listing line is kept beside the table, and must
    stay the first paragraph of the command function's docstring, as typer would show it."""
    import importlib
    import inspect

    from flywheel_core.cli import CORE_COMMANDS

    for name, target, summary in CORE_COMMANDS:
        module, _, function = target.partition(":")
        doc = inspect.getdoc(getattr(importlib.import_module(module), function))
        assert summary == doc.split("\n\n")[0], name


def test_each_core_group_is_listed_by_its_apps_help() -> None:
    """Core groups are lazy too: their listing line is kept beside the table and must stay the
    help their typer app gives itself (what `flywheel queue --help` shows at its top)."""
    import importlib

    from flywheel_core.cli import CORE_GROUPS

    for name, target, summary in CORE_GROUPS:
        module, _, attribute = target.partition(":")
        assert summary == getattr(importlib.import_module(module), attribute).info.help, name


def test_a_lazy_group_module_is_imported_only_when_one_of_its_commands_is_used(fake_dist, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "ghostgroup.py").write_text(
        f"from pathlib import Path\nimport typer\nPath({str(marker)!r}).write_text('yes')\n\n"
        "def make() -> typer.Typer:\n    app = typer.Typer(help='Ghostly things.', no_args_is_help=True)\n\n"
        "    @app.command()\n    def greet(name: str = 'world') -> None:\n        \"\"\"Greet NAME.\"\"\"\n"
        "        print(f'boo {name}')\n\n    @app.command()\n    def hide() -> None:\n"
        "        \"\"\"Hide.\"\"\"\n\n    return app\n")
    env = fake_dist("ghost", """
        from flywheel_core import hookimpl, lazy_group

        @hookimpl
        def flywheel_register_commands(cli, collect):
            lazy_group(cli, "ghostgroup:make", name="ghosts", help="Ghostly things.")
    """)

    flywheel = functools.partial(_flywheel, env)

    assert "ghosts Ghostly things." in " ".join(flywheel("--help").split())
    assert not marker.exists()
    listing = flywheel("ghosts", "--help")
    assert marker.exists() and "Ghostly things." in listing and "greet" in listing and "hide" in listing
    assert flywheel("ghosts", "greet", "--name", "you") == "boo you\n"
