"""CLI habits: -h everywhere, shell completion, --version --json, --quiet."""

from __future__ import annotations

import json
import os
import subprocess

import typer

from core_support import FLYWHEEL
from flywheel_core.testing import run_cli


def _commands(command, path=()):
    """Every command and group of the click tree, as its argv path."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_dash_h_is_help_on_every_command_and_group(echo_host) -> None:
    from flywheel_core import hookimpl
    from flywheel_core.cli import build_app

    class Commands:
        @hookimpl
        def flywheel_register_commands(self, cli, collect):
            collect.command("echo")(lambda: None)  # a plugin's command inherits -h too

    echo_host.register(Commands(), name="commands")
    paths = list(_commands(typer.main.get_command(build_app(echo_host))))
    assert ("collect", "echo") in paths and ("queue", "retry") in paths and ("config",) in paths
    for path in paths:
        short = run_cli([*path, "-h"], host=echo_host)
        assert short.exit_code == 0, (path, short.output)
        assert short.stdout.startswith("Usage: flywheel"), path
        assert short.stdout == run_cli([*path, "--help"], host=echo_host).stdout, path
        assert "-h, --help" in short.stdout, path


def _env() -> dict[str, str]:
    return dict(os.environ, FLYWHEEL_LOAD_PLUGINS="")


def test_shell_completion_script_and_protocol() -> None:
    env = dict(_env(), _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    script = subprocess.run([FLYWHEEL, "--show-completion", "bash"], capture_output=True, text=True, env=env, check=False)
    assert script.returncode == 0, script.stderr
    assert "_FLYWHEEL_COMPLETE=complete_bash" in script.stdout
    # What bash then runs on <TAB>: the real completion protocol, answered by the app.
    for words, cword, expected in (("flywheel qu", "1", "queue"), ("flywheel queue re", "2", "retry"),
                                   ("flywheel config --j", "2", "--json")):
        done = subprocess.run([FLYWHEEL], capture_output=True, text=True, check=False, env=dict(
            _env(), _FLYWHEEL_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword))
        assert done.stdout.split() == [expected], (words, done.stdout, done.stderr)


def test_help_offers_completion_install() -> None:
    out = subprocess.run([FLYWHEEL, "-h"], capture_output=True, text=True, env=_env(), check=True).stdout
    assert "--install-completion" in out and "--show-completion" in out and "-q, --quiet" in out


def test_version_json(echo_host) -> None:
    result = run_cli(["--version", "--json"], host=echo_host)
    assert result.exit_code == 0
    assert result.json() == {"flywheel-core": "0.1.0", "flywheel-echo": "1.0"}
    assert run_cli(["--json", "--version"], host=echo_host).json() == result.json()


def test_json_before_a_command_is_refused_not_ignored(echo_host) -> None:
    result = run_cli(["--json", "plugins"], host=echo_host)
    assert result.exit_code == 2
    assert "only applies to --version" in result.stderr and "flywheel plugins --json" in result.stderr


def test_options_without_a_command_are_a_usage_error(empty_host) -> None:
    result = run_cli(["-q"], host=empty_host)
    assert result.exit_code == 2 and "Missing command" in result.stderr


def test_quiet_is_accepted_before_any_command(empty_host) -> None:
    result = run_cli(["-q", "plugins", "--json"], host=empty_host)
    assert result.exit_code == 0 and result.json() == []
    result = run_cli(["--quiet", "config", "--json"], host=empty_host)
    assert result.exit_code == 0 and json.loads(result.stdout)["found_by"]


def test_the_installed_version_is_the_one_flywheel_prints() -> None:
    """One source for the version: pyproject reads flywheel_core.__version__ (two literals drifted apart)."""
    from importlib.metadata import version

    import flywheel_core

    assert version("flywheel-core") == flywheel_core.__version__


def _closed_pipe_run(args, cwd, *, read_first_line=False):
    """Run flywheel with its stdout a real pipe whose reader goes away (``| head -1``)."""
    if read_first_line:  # like head -1: read one line, then close
        proc = subprocess.Popen([FLYWHEEL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        return proc.wait(), err
    read, write = os.pipe()
    os.close(read)  # the reader is gone before flywheel writes a byte
    try:
        done = subprocess.run([FLYWHEEL, *args], stdout=write, stderr=subprocess.PIPE, cwd=cwd, check=False)
    finally:
        os.close(write)
    return done.returncode, done.stderr.decode()


def test_output_into_a_closed_pipe_exits_quietly_like_git(tmp_path) -> None:
    """Regression: `flywheel queue list | head -1` exited 1 with no message (click's EPIPE
    handling); a short output failed only at the interpreter's last flush. Now: 141 (128 +
    SIGPIPE, what git and coreutils give), no error on stderr, no "Exception ignored"."""
    from core_support import EXAMPLES

    sessions = [str(EXAMPLES / "build_session.json")] * 3
    for args in (["plugins"], ["plugins", "--json"], ["queue", "list"], ["validate", *sessions]):
        code, err = _closed_pipe_run(args, tmp_path)
        assert code == 141 and not _pipe_noise(err), (args, code, err)
    many = sessions * 1000  # ~200 KB of "valid" lines: far more than a pipe holds
    code, err = _closed_pipe_run(["validate", *many], tmp_path, read_first_line=True)
    assert code == 141 and not _pipe_noise(err), (code, err)


def _pipe_noise(stderr: str) -> list[str]:
    # Warnings about the sessions themselves may be there; nothing about the pipe may.
    return [line for line in stderr.splitlines() if "warning:" not in line]
