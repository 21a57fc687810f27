"""The plugin inside flywheel: `flywheel run` writes the entry and keeps CHANGELOG.md up to date."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest

from flywheel_core import SessionType, hookimpl
from flywheel_changelog_md import plugin
from flywheel_changelog_md.changelog import MARKER

COMMITS = [
    {"hash": "abc123def456", "message": "feat: Add Phase 3 publication system"},
    {"hash": "0f1e2d3c4b5a", "message": "fix(queue): retry failed entries\n\nFound by P&L checks."},
    {"hash": "def456abc789", "message": "docs: explain the queue"},
    {"hash": "1234567890ab", "message": "feat: render [a link](javascript:alert(1)) <b>"},
]
ENTRY = (
    "## [Unreleased] - 2025-12-02\n"
    "\n"
    "### Added\n"
    "\n"
    "- Add Phase 3 publication system (abc123d)\n"
    "- render \\[a link\\](javascript:alert(1)) \\<b> (1234567)\n"
    "\n"
    "### Fixed\n"
    "\n"
    "- **queue:** retry failed entries (0f1e2d3)\n"
)


class BuildType:
    """Registers the `build` session type, so these tests need only flywheel-core."""

    @hookimpl
    def flywheel_session_types(self):
        return [SessionType("build")]


@pytest.fixture(autouse=True)
def no_installed_plugins(monkeypatch):
    monkeypatch.setenv("FLYWHEEL_LOAD_PLUGINS", "")


@pytest.fixture
def registered(register_plugin):
    register_plugin(BuildType(), name="build")
    register_plugin(plugin, name="changelog_md")


@pytest.fixture
def project(tmp_path, make_session, session_file):
    """A folder with flywheel.toml, CHANGELOG.md and a build session; returns a run function."""
    (tmp_path / "flywheel.toml").write_text('[plugins.changelog_md]\nchangelog = "CHANGELOG.md"\n')
    (tmp_path / "CHANGELOG.md").write_text(f"# Changelog\n\n{MARKER}\n\n## [0.1.0] - 2025-11-01\n\n- First.\n")
    session = session_file(make_session("build", source_data={"git_commits": COMMITS}))
    return session


def run(flywheel_cli, tmp_path, session, *extra):
    return flywheel_cli("run", session, "--out", tmp_path / "out", "--config", tmp_path / "flywheel.toml", *extra)


def test_entry_point_is_installed():
    found = {ep.name: ep.value for ep in entry_points(group="flywheel")}
    assert found.get("changelog_md") == "flywheel_changelog_md.plugin", "run: pip install -e ."


def test_run_writes_the_entry_as_an_artifact(registered, flywheel_cli, make_session, session_file, tmp_path):
    session = session_file(make_session("build", source_data={"git_commits": COMMITS}))
    result = flywheel_cli("run", session, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out/build/test-build-001/changelog.md").read_text() == ENTRY
    record = json.loads(session.read_text())["artifacts"]["changelog"]
    assert record["generated"] is True and record["generator"] == "changelog_md"


def test_run_inserts_into_changelog_once(registered, flywheel_cli, project, tmp_path):
    assert run(flywheel_cli, tmp_path, project).exit_code == 0
    first = (tmp_path / "CHANGELOG.md").read_text()
    assert first == (
        f"# Changelog\n\n{MARKER}\n\n<!-- changelog:session test-build-001 -->\n{ENTRY}"
        "<!-- changelog:end test-build-001 -->\n\n## [0.1.0] - 2025-11-01\n\n- First.\n"
    )
    assert run(flywheel_cli, tmp_path, project).exit_code == 0
    assert (tmp_path / "CHANGELOG.md").read_text() == first  # idempotent: no second entry


def test_dry_run_leaves_changelog_alone(registered, flywheel_cli, project, tmp_path):
    before = (tmp_path / "CHANGELOG.md").read_text()
    assert run(flywheel_cli, tmp_path, project, "--dry-run").exit_code == 0
    assert (tmp_path / "CHANGELOG.md").read_text() == before


def test_heading_is_configurable(registered, flywheel_cli, project, tmp_path):
    (tmp_path / "flywheel.toml").write_text('[plugins.changelog_md]\nheading = "{date} ({session_id})"\n')
    assert run(flywheel_cli, tmp_path, project).exit_code == 0
    text = (tmp_path / "out/build/test-build-001/changelog.md").read_text()
    assert text.startswith("## 2025-12-02 (test-build-001)\n")


@pytest.mark.parametrize(
    ("changelog", "message"),
    [("../CHANGELOG.md", "outside the allowed folders"), ("MISSING.md", "is not a file"), ("NOMARK.md", "changelog:insert")],
)
def test_a_bad_changelog_fails_the_run_with_one_line(registered, flywheel_cli, project, tmp_path, changelog, message):
    (tmp_path / "NOMARK.md").write_text("# Changelog\n")
    (tmp_path / "flywheel.toml").write_text(f'[plugins.changelog_md]\nchangelog = "{changelog}"\n')
    result = run(flywheel_cli, tmp_path, project)
    assert result.exit_code == 1
    assert "plugins.changelog_md.changelog" in result.stderr and message in result.stderr
    assert "Traceback" not in result.output


def test_sessions_without_user_facing_commits_get_no_entry(registered, flywheel_cli, make_session, session_file, tmp_path):
    doc = make_session("build", source_data={"git_commits": [{"message": "chore: bump"}]})
    result = flywheel_cli("run", session_file(doc), "--out", tmp_path / "out")
    # The stand-in build type makes nothing itself, so no artifact at all means a failed run.
    assert "no plugin generated any artifact" in result.stderr
    assert not (tmp_path / "out/build/test-build-001/changelog.md").exists()


def test_other_session_types_are_ignored(register_plugin, flywheel_cli, make_session, session_file, tmp_path):
    class TradeType:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("trade")]

    register_plugin(TradeType(), name="trade")
    register_plugin(plugin, name="changelog_md")
    doc = make_session("trade", source_data={"git_commits": COMMITS})
    flywheel_cli("run", session_file(doc), "--out", tmp_path / "out")
    assert not (tmp_path / "out/trade").exists()


def test_config_is_checked_against_the_declared_schema(registered, flywheel_cli, project, tmp_path):
    (tmp_path / "flywheel.toml").write_text("[plugins.changelog_md]\nchangelog = 3\n")
    result = run(flywheel_cli, tmp_path, project)
    assert result.exit_code == 2
    assert "plugins.changelog_md.changelog: expected string, got number 3" in result.stderr
    assert not (tmp_path / "out").exists()
