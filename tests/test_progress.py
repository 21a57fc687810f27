"""flywheel_core.progress_bars: a bar on a real terminal, not a byte more when piped, quiet or NO_COLOR."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flywheel_core.testing import run_on_terminal

SCRIPT = textwrap.dedent("""
    import sys
    from flywheel_core import progress, track
    from flywheel_core.progress_bars import set_quiet

    set_quiet(sys.argv[1] == "quiet")
    with progress(40, "crunching numbers") as task:
        for i in range(40):
            task.advance()
            if i == 20:
                print("halfway", flush=True)   # stdout while the bar is on screen
                with progress(None, "nested step") as inner:
                    inner.advance(3)
                    inner.update(total=3)
    for _ in track(range(5), "counting"):
        pass
    print("done")
""")


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "work.py"
    path.write_text(SCRIPT)
    return path


def _env(**changes: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def test_a_terminal_sees_the_bar_and_stdout_gets_only_the_program_lines(script: Path) -> None:
    result = run_on_terminal([sys.executable, script, "loud"], env=_env())
    assert result.exit_code == 0, result.terminal
    assert "crunching numbers" in result.terminal and "/40" in result.terminal
    assert "nested step" in result.terminal, "a nested block adds its line to the bar on screen"
    assert "counting" in result.terminal and "/5" in result.terminal
    assert "\x1b[" in result.terminal
    assert result.stdout == "halfway\ndone\n", "a piped stdout never receives the bar"


def test_piped_stderr_gets_nothing(script: Path) -> None:
    proc = subprocess.run([sys.executable, script, "loud"], capture_output=True, text=True, env=_env(), check=False)
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert proc.stdout == "halfway\ndone\n"


@pytest.mark.parametrize("mode,changes", [
    ("quiet", {}),
    ("loud", {"NO_COLOR": "1"}),
    ("loud", {"TERM": "dumb"}),
])
def test_quiet_no_color_and_dumb_terminals_get_nothing(script: Path, mode: str, changes: dict[str, str]) -> None:
    result = run_on_terminal([sys.executable, script, mode], env=_env(**changes))
    assert result.exit_code == 0
    assert result.terminal == ""
    assert result.stdout == "halfway\ndone\n"


def test_nothing_drawn_imports_no_rich(script: Path) -> None:
    # Piped: the helper must not even import rich (start-up cost of every command).
    code = "import sys; from flywheel_core import progress\nwith progress(3, 'x') as t: t.advance()\nprint('rich' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True)
    assert proc.stdout == "False\n"


def test_every_export_survives_its_module_being_imported() -> None:
    # Importing flywheel_core.X sets the package attribute X to the module: an export named
    # like its own module (`progress` in flywheel_core/progress.py) would turn into a module.
    code = ("import importlib, types, flywheel_core as fc\n"
            "for module in set(fc._LAZY.values()): importlib.import_module(module)\n"
            "print(sorted(n for n in fc._LAZY if isinstance(getattr(fc, n), types.ModuleType)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "[]\n"
