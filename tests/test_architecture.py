"""The shape of the code: core imports run one way (import-linter), plugins use only core's top level."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from core_support import ROOT


def test_core_imports_follow_the_layers() -> None:
    # errors/types/models -> config/schema/render/store -> context -> hookspecs -> plugins
    # -> pipeline/publishing -> cli, as the contracts in pyproject.toml say.
    lint = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


#: The one module of flywheel_core a plugin may import: the fixtures and helpers for its tests.
ALLOWED_CORE_MODULES = {"flywheel_core.testing"}
#: Calls that import the module their first argument names.
DYNAMIC_IMPORTS = {"import_module", "__import__", "importorskip"}


def _distributions(root: Path = ROOT) -> list[Path]:
    """Every plugin distribution of a repository laid out as this one (a folder with a pyproject.toml)."""
    return sorted(p.parent for p in [*root.glob("plugins/*/pyproject.toml"),
                                     *root.glob("examples/plugins/*/pyproject.toml")])


def _packages(dist: Path) -> set[str]:
    """The import packages a distribution ships (its tests folder is not one)."""
    return {p.parent.name for p in dist.glob("*/__init__.py") if p.parent.name != "tests"}


def _python_files(dist: Path) -> list[Path]:
    """Every Python file of a distribution, code and tests, but not what pip builds in its folder."""
    def built(path: Path) -> bool:
        parts = path.relative_to(dist).parts[:-1]
        return any(part in ("build", "dist", "__pycache__") or part.endswith(".egg-info") for part in parts)

    return sorted(p for p in dist.rglob("*.py") if not built(p))


def _is_core_module(name: str) -> bool:
    """Whether ``flywheel_core.<name>`` is a submodule rather than an exported name."""
    return (ROOT / "flywheel_core" / f"{name}.py").exists() or (ROOT / "flywheel_core" / name).is_dir()


def _imported(tree: ast.AST) -> set[str]:
    """Every module a parsed file imports, anywhere in it: function bodies and ``if TYPE_CHECKING:``
    blocks too, ``import_module("...")``, and ``flywheel_core.<module>`` reached as an attribute."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names
                         if node.module == "flywheel_core" and _is_core_module(a.name))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "flywheel_core":
            if _is_core_module(node.attr):
                found.add(f"flywheel_core.{node.attr}")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if func in DYNAMIC_IMPORTS and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    # A bare `pytest.importorskip("other_plugin")` only asks whether that plugin is installed (the
    # test then loads it by its entry point, as flywheel does); it is an import once its module is used.
    for node in ast.walk(tree):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "importorskip"
                and node.value.args and isinstance(node.value.args[0], ast.Constant)):
            found.discard(node.value.args[0].value)
    return found


def forbidden_imports(path: Path, other_plugins: set[str]) -> set[str]:
    """What ``path`` imports that a plugin may not: a module of flywheel_core other than
    ``flywheel_core.testing`` (the rest is reached through ``from flywheel_core import X``), or a
    package of another plugin (``other_plugins``)."""
    def forbidden(module: str) -> bool:
        top = module.split(".")[0]
        if top == "flywheel_core":
            return module != "flywheel_core" and module not in ALLOWED_CORE_MODULES
        return top in other_plugins

    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return {module for module in _imported(tree) if forbidden(module)}


def plugin_import_offences(root: Path = ROOT) -> list[tuple[str, str]]:
    """(file, module) for every forbidden import in every file of every plugin under ``root``."""
    dists = _distributions(root)
    packages = {dist: _packages(dist) for dist in dists}
    everyone = set().union(*packages.values())
    return sorted((path.relative_to(root).as_posix(), module)
                  for dist in dists for path in _python_files(dist)
                  for module in forbidden_imports(path, everyone - packages[dist]))


def test_plugins_import_only_what_flywheel_core_exports() -> None:
    files = [p for dist in _distributions() for p in _python_files(dist)]
    assert len(files) > 50 and any("/tests/" in p.as_posix() for p in files), "the plugins were not found"
    assert {"flywheel_build", "flywheel_publish_web", "flywheel_changelog_md"} <= set().union(
        *map(_packages, _distributions()))
    offences = plugin_import_offences()
    assert offences == [], (
        "a plugin (its code or its tests) imports only from flywheel_core's top level and "
        "flywheel_core.testing, never another plugin: export what it needs from flywheel_core/__init__.py "
        f"(or flywheel_core.testing for a test helper) and document it: {offences}"
    )


def test_the_import_check_sees_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import flywheel_core\n"
        "import flywheel_core.testing\n"
        "from typing import TYPE_CHECKING\n"
        "from flywheel_core import hookimpl, Artifact, testing\n"
        "from flywheel_core.testing import run_cli\n"
        "from . import sibling\n"
        "import pytest\n"
        "if TYPE_CHECKING:\n"
        "    from flywheel_core.plugins import PluginHost\n"
        "def f():\n"
        "    from flywheel_core.fsutil import lock_for\n"
        "    import flywheel_core.render as r\n"
        "    from flywheel_core import social\n"
        "    flywheel_core.models.converter\n"
        "    import flywheel_trade.metrics\n"
        "    from flywheel_aria import plugin\n"
        "    importlib.import_module('flywheel_core.store')\n"
        "    web = pytest.importorskip('flywheel_publish_web')\n"
        "    pytest.importorskip('flywheel_publish_bluesky')\n"
        "    import flywheel_build.plugin\n",
        encoding="utf-8",
    )
    others = {"flywheel_trade", "flywheel_aria", "flywheel_publish_web", "flywheel_publish_bluesky"}
    assert forbidden_imports(sample, others) == {
        "flywheel_core.plugins", "flywheel_core.fsutil", "flywheel_core.render", "flywheel_core.social",
        "flywheel_core.models", "flywheel_trade.metrics", "flywheel_aria", "flywheel_core.store",
        "flywheel_publish_web",
    }


def test_the_import_check_fails_on_a_planted_import(tmp_path: Path) -> None:
    # Two plugins, as laid out in this repository: each clean, then one bad import planted in each
    # place a plugin keeps Python files (its package, its tests, a TYPE_CHECKING block).
    for name in ("flywheel_one", "flywheel_two"):
        dist = tmp_path / "plugins" / name
        (dist / name).mkdir(parents=True)
        (dist / "tests").mkdir()
        (dist / "pyproject.toml").write_text(f'[project]\nname = "{name}"\n')
        (dist / name / "__init__.py").write_text('"""A plugin."""\n')
        (dist / name / "plugin.py").write_text("from flywheel_core import hookimpl\n")
        (dist / "tests" / "test_it.py").write_text("from flywheel_core.testing import run_cli\n")
        (dist / "build" / "lib" / name).mkdir(parents=True)
        (dist / "build" / "lib" / name / "plugin.py").write_text("import flywheel_core.social\n")
    assert plugin_import_offences(tmp_path) == [], "a clean plugin, and what pip builds is not its code"
    one, two = tmp_path / "plugins" / "flywheel_one", tmp_path / "plugins" / "flywheel_two"
    (one / "tests" / "test_it.py").write_text("def test():\n    from flywheel_core.plugins import PluginHost\n")
    (two / "flywheel_two" / "plugin.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flywheel_one.plugin import x\n")
    assert plugin_import_offences(tmp_path) == [
        ("plugins/flywheel_one/tests/test_it.py", "flywheel_core.plugins"),
        ("plugins/flywheel_two/flywheel_two/plugin.py", "flywheel_one.plugin"),
    ]


def test_pip_install_build_folders_are_ignored_but_template_folders_are_not() -> None:
    # `pip install ./plugins/NAME` builds in plugins/NAME/build/, which git showed as untracked.
    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT).returncode == 0

    dists = sorted(p.parent.relative_to(ROOT).as_posix()
                   for p in [*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("examples/plugins/*/pyproject.toml")])
    assert len(dists) >= 6
    assert [d for d in dists if not ignored(f"{d}/build/lib/module.py")] == []
    assert not ignored("plugins/flywheel_build/flywheel_build/templates/build/new_template.md.j2")
