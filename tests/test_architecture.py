"""The shape of the code: core imports run one way (import-linter), plugins use only core's top level."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from core_support import ROOT

#: Plugin modules that still import a module of flywheel_core, to be fixed by their owners:
#: (file, module imported). Empty it as they are fixed; a stale entry fails too.
KNOWN_OFFENDERS: set[tuple[str, str]] = set()


def test_core_imports_follow_the_layers() -> None:
    # errors/types/models -> config/schema/render/store -> context -> hookspecs -> plugins
    # -> pipeline/publishing -> cli, as the contracts in pyproject.toml say.
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def _plugin_modules() -> list[Path]:
    """Every module of every plugin package in this repository (tests excluded)."""
    found = []
    for dist in sorted([*ROOT.glob("plugins/*"), *ROOT.glob("examples/plugins/*")]):
        for package in sorted(p.parent for p in dist.glob("*/__init__.py")):
            if package.name != "tests":
                found += sorted(package.rglob("*.py"))
    return found


def _core_module_imports(path: Path) -> set[str]:
    """``flywheel_core.<module>`` names ``path`` imports, in any form, anywhere in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("flywheel_core."):
                names.add(node.module)
            elif node.module == "flywheel_core":
                names.update(f"flywheel_core.{a.name}" for a in node.names if _is_module(a.name))
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("flywheel_core."))
    return names


def _is_module(name: str) -> bool:
    """Whether ``from flywheel_core import name`` names a submodule rather than an exported name."""
    return (ROOT / "flywheel_core" / f"{name}.py").exists() or (ROOT / "flywheel_core" / name).is_dir()


def test_plugins_import_only_what_flywheel_core_exports() -> None:
    modules = _plugin_modules()
    assert len(modules) > 10, "the plugins were not found"
    found = {(p.relative_to(ROOT).as_posix(), name) for p in modules for name in _core_module_imports(p)}
    new = sorted(found - KNOWN_OFFENDERS)
    assert not new, (
        "plugins must import only from flywheel_core's top level (export what they need from "
        f"flywheel_core/__init__.py): {new}"
    )
    fixed = sorted(KNOWN_OFFENDERS - found)
    assert not fixed, f"fixed, so remove from KNOWN_OFFENDERS: {fixed}"


def test_the_offender_check_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import flywheel_core\n"
        "from flywheel_core import hookimpl, Artifact\n"
        "def f():\n"
        "    from flywheel_core.fsutil import lock_for\n"
        "    import flywheel_core.render as r\n"
        "    from flywheel_core import social\n",
        encoding="utf-8",
    )
    assert _core_module_imports(sample) == {"flywheel_core.fsutil", "flywheel_core.render", "flywheel_core.social"}


def test_pip_install_build_folders_are_ignored_but_template_folders_are_not() -> None:
    # `pip install ./plugins/NAME` builds in plugins/NAME/build/, which git showed as untracked.
    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT).returncode == 0

    dists = sorted(p.parent.relative_to(ROOT).as_posix()
                   for p in [*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("examples/plugins/*/pyproject.toml")])
    assert len(dists) >= 6
    assert [d for d in dists if not ignored(f"{d}/build/lib/module.py")] == []
    assert not ignored("plugins/flywheel_build/flywheel_build/templates/build/new_template.md.j2")
