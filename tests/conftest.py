"""Fixtures for core tests: no installed plugin loads unless a test asks for one."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from core_support import EXAMPLES, EchoBuild


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    # Core behaviour must not depend on which plugins happen to be installed.
    monkeypatch.setenv("FLYWHEEL_LOAD_PLUGINS", "")
    monkeypatch.delenv("FLYWHEEL_STRICT_PLUGINS", raising=False)


@pytest.fixture
def echo_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "plugin-templates"
    (folder / "build").mkdir(parents=True)
    (folder / "build" / "summary.md.j2").write_text(
        "# {{ session.session_id }} on {{ session.date }}\n"
        "{% for c in commits %}- {{ c.message | md_inline }}\n{% endfor %}",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def echo_host(empty_host, echo_templates):
    empty_host.register(EchoBuild(echo_templates), name="echo", distribution="flywheel-echo", version="1.0")
    return empty_host


@pytest.fixture
def example(tmp_path: Path):
    """Copy a bundled example into tmp_path and return its path."""

    def copy(name: str = "build_session.json") -> Path:
        target = tmp_path / name
        target.write_bytes((EXAMPLES / name).read_bytes())
        return target

    return copy


@pytest.fixture
def fake_dist(tmp_path: Path):
    """Write an installed-looking distribution (dist-info + entry point) and return an env for it.

    Subprocesses started with the returned environment discover it through importlib.metadata,
    exactly as they would a pip-installed plugin.
    """

    def make(name: str, source: str, *, version: str = "0.1") -> dict[str, str]:
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        module = name.replace("-", "_")
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site / f"{module}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[flywheel]\n{module} = {module}\n")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
        env["FLYWHEEL_LOAD_PLUGINS"] = module  # only this plugin, whatever else is installed
        return env

    return make
