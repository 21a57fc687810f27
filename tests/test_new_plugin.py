"""`flywheel new-plugin` projects install into a fresh virtualenv and pass their own tests there.

The virtualenv holds exactly flywheel-core and the plugins under test as flywheel
distributions; third-party packages (jinja2, pytest, ...) are reused from this environment
through a folder of links, so nothing is downloaded and no other flywheel plugin is visible.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from core_support import EXAMPLES, ROOT
from flywheel_core.testing import run_cli

CHANGELOG_EXAMPLE = ROOT / "examples" / "plugins" / "flywheel_changelog_md"


def _third_party_links(folder: Path) -> Path:
    """Link every package of this environment except flywheel's own distributions into ``folder``."""
    folder.mkdir()
    for site in dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]):
        for entry in Path(site).iterdir():
            name = entry.name.lower()
            # Editable installs of flywheel-core and every plugin would leak entry points in.
            if name.startswith(("flywheel", "__editable__", "_flywheel")) or name.endswith(".pth"):
                continue
            if not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
    return folder


def _can_build_offline() -> bool:
    """setuptools builds editable wheels without downloads if it has bdist_wheel (>= 70.1 or `wheel`)."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    try:
        major, minor = (int(x) for x in re.findall(r"\d+", version("setuptools"))[:2])
    except (PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (70, 1) or (major >= 64 and find_spec("wheel") is not None)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYWHEEL_", "PYTHON", "VIRTUAL_ENV"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


class Venv:
    """A throwaway virtualenv: ``install`` editable projects, ``run`` its programs."""

    def __init__(self, path: Path, links: Path) -> None:
        self.path = path
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
        purelib = subprocess.run(
            [str(self.bin("python")), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        Path(purelib, "_third_party.pth").write_text(f"{links}\n", encoding="utf-8")

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def run(self, *args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300
        )

    def install(self, *projects: Path) -> None:
        offline = ["--no-build-isolation"] if _can_build_offline() else []
        editable = [arg for p in projects for arg in ("-e", str(p))]
        done = self.run(self.bin("python"), "-m", "pip", "install", "-q", "--no-deps", *offline, *editable)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    root = tmp_path_factory.mktemp("isolated")
    return Venv(root / "venv", _third_party_links(root / "third-party"))


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory, venv: Venv) -> dict[str, Path]:
    """One project of each kind (plus a generator for the generated type), installed with core."""
    where = tmp_path_factory.mktemp("projects")
    made = {}
    for key, args in {
        "tally": ["--kind", "session-type"],
        "notes": ["--kind", "generator", "--session-type", "tally"],
        "digest": ["--kind", "generator"],
        "shelf": ["--kind", "target"],
    }.items():
        result = run_cli(["new-plugin", key, "--dir", where, *args])
        assert result.exit_code == 0, result.output
        made[key] = where / f"flywheel-{key}"
    venv.install(ROOT, *made.values(), CHANGELOG_EXAMPLE)
    return made


def _pytest(venv: Venv, project: Path) -> subprocess.CompletedProcess[str]:
    # -P: the project folder must not shadow the installed package; its tests see what users get.
    return venv.run(venv.bin("python"), "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider", project, cwd=project)


@pytest.mark.parametrize(("key", "count"), [("tally", 4), ("notes", 3), ("digest", 3), ("shelf", 6)])
def test_generated_project_passes_its_own_tests(venv: Venv, projects: dict[str, Path], key: str, count: int) -> None:
    done = _pytest(venv, projects[key])
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(rf"\b{count} passed\b", done.stdout), done.stdout


def test_changelog_example_passes_its_tests_installed(venv: Venv, projects: dict[str, Path]) -> None:
    done = _pytest(venv, CHANGELOG_EXAMPLE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b\d{2,} passed\b", done.stdout) and "failed" not in done.stdout, done.stdout


def test_only_core_and_the_installed_plugins_load(venv: Venv, projects: dict[str, Path]) -> None:
    done = venv.run(venv.bin("flywheel"), "plugins", "--json")
    assert done.returncode == 0, done.stderr
    loaded = {p["name"]: p for p in json.loads(done.stdout)}
    assert sorted(loaded) == ["changelog_md", "digest", "notes", "shelf", "tally"]
    assert loaded["tally"]["session_types"] == ["tally"] and loaded["shelf"]["targets"] == ["shelf"]
    assert loaded["notes"]["hooks"] == ["flywheel_generate", "flywheel_template_dirs"]


def test_flywheel_run_shows_the_new_artifacts(venv: Venv, projects: dict[str, Path], tmp_path: Path) -> None:
    session = tmp_path / "work_session.json"
    shutil.copy(projects["tally"] / "examples" / "work_session.json", session)
    done = venv.run(venv.bin("flywheel"), "run", session, "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    folder = tmp_path / "out" / "tally" / "tally-2025-12-02"
    assert sorted(p.name for p in folder.iterdir()) == ["notes.md", "summary.md"]  # digest is for build only
    assert (folder / "notes.md").read_text().startswith("# Notes: tally-2025-12-02\n\n2025-12-02, Agent-1\n")
    assert "- Reviewed it with P&L numbers\n" in (folder / "summary.md").read_text()
    recorded = json.loads(session.read_text())
    assert {k: v["generator"] for k, v in recorded["artifacts"].items()} == {"summary": "tally", "notes": "notes"}


def test_flywheel_publish_sends_to_the_generated_target(venv: Venv, projects: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy(projects["tally"] / "examples" / "work_session.json", tmp_path / "work_session.json")
    (tmp_path / "flywheel.toml").write_text('[targets.shelf]\nfolder = "published"\n', encoding="utf-8")
    ran = venv.run(venv.bin("flywheel"), "run", "work_session.json", "--json", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert sorted((e["kind"], e["target"]) for e in json.loads(ran.stdout)[0]["enqueued"]) == [
        ("notes", "shelf"), ("summary", "shelf")]
    published = venv.run(venv.bin("flywheel"), "publish", cwd=tmp_path)
    assert published.returncode == 0, published.stdout + published.stderr
    for kind in ("summary", "notes"):
        copy = tmp_path / "published" / "tally" / "tally-2025-12-02" / f"{kind}.md"
        assert copy.read_bytes() == (tmp_path / "flywheel-out" / "tally" / "tally-2025-12-02" / f"{kind}.md").read_bytes()
    recorded = json.loads((tmp_path / "work_session.json").read_text())["artifacts"]["summary"]
    assert recorded["status"] == "published", recorded
    again = venv.run(venv.bin("flywheel"), "publish", cwd=tmp_path)
    assert again.returncode == 0 and "nothing is due" in again.stdout


def test_without_the_build_plugin_a_build_session_says_what_to_install(
    venv: Venv, projects: dict[str, Path], tmp_path: Path
) -> None:
    # digest and changelog_md add to build sessions, but nothing here owns the build type.
    session = tmp_path / "build_session.json"
    shutil.copy(EXAMPLES / "build_session.json", session)
    done = venv.run(venv.bin("flywheel"), "run", session, "--out", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 2
    assert "pip install ./plugins/flywheel_build" in done.stderr and "Traceback" not in done.stderr


def test_wheel_contains_the_templates(venv: Venv, projects: dict[str, Path], tmp_path: Path) -> None:
    offline = ["--no-build-isolation"] if _can_build_offline() else []
    done = venv.run(venv.bin("python"), "-m", "pip", "wheel", "-q", "--no-deps", *offline, "-w", tmp_path, projects["digest"])
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = tmp_path.glob("flywheel_digest-0.1.0-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "flywheel_digest/templates/build/digest.md.j2" in names
    assert "flywheel_digest/plugin.py" in names
    entry_points = zipfile.ZipFile(wheel).read("flywheel_digest-0.1.0.dist-info/entry_points.txt").decode()
    assert "[flywheel]\ndigest = flywheel_digest.plugin" in entry_points
