"""Which config applies: --config, FLYWHEEL_CONFIG, the nearest project file up to the repository root, the user's.

Real processes in real git repositories: discovery depends on the working folder and the environment.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from core_support import FLYWHEEL
from flywheel_core.config import load_config
from flywheel_core.errors import UsageError
from flywheel_core.testing import run_cli


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def _flywheel(*args: object, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ, FLYWHEEL_LOAD_PLUGINS="", **env)
    return subprocess.run([FLYWHEEL, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=full, check=False)


def _config_json(cwd: Path, *args: object, **env: str) -> dict:
    proc = _flywheel("config", "--json", *args, cwd=cwd, **env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_subfolder_of_the_repository_finds_the_project_config_and_its_queue(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "project")
    (repo / "flywheel.toml").write_text('state_dir = "state"\nout_dir = "out"\n')
    deep = repo / "sessions" / "2025" / "12"
    deep.mkdir(parents=True)
    shown = _config_json(deep)
    assert shown["file"] == str(repo / "flywheel.toml") and shown["found_by"] == "nearest project file"
    assert shown["settings"]["state_dir"] == str(repo / "state")
    assert shown["settings"]["out_dir"] == str(repo / "out")
    # The queue commands use the same file: the project's queue, not a new empty one here.
    stats = _flywheel("queue", "stats", "--json", cwd=deep)
    assert json.loads(stats.stdout)["path"] == str(repo / "state" / "queue.sqlite3")
    human = _flywheel("config", cwd=deep).stdout
    assert f"# config file: {repo / 'flywheel.toml'} (the nearest one, looking from {deep} up to the repository root {repo})" in human
    assert f'state_dir = "{repo / "state"}"' in human


def test_pyproject_tool_table_counts_and_one_without_it_is_passed_over(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "mono")
    (repo / "pyproject.toml").write_text('[tool.flywheel]\nout_dir = "from-root"\n')
    package = repo / "packages" / "one"
    package.mkdir(parents=True)
    (package / "pyproject.toml").write_text('[project]\nname = "one"\n')  # no [tool.flywheel]: keep climbing
    shown = _config_json(package)
    assert shown["file"] == f"{repo / 'pyproject.toml'} [tool.flywheel]"
    assert shown["settings"]["out_dir"] == str(repo / "from-root")
    (package / "flywheel.toml").write_text('out_dir = "mine"\n')
    assert _config_json(package)["settings"]["out_dir"] == str(package / "mine"), "the nearest file wins"


def test_the_search_never_climbs_past_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "flywheel.toml").write_text('out_dir = "outside"\n')
    repo = _git_repo(tmp_path / "repo")
    (repo / "src").mkdir()
    shown = _config_json(repo / "src")
    assert shown["found_by"] == "defaults" and shown["file"] is None
    # With no file, paths resolve against the repository root, so every subfolder shares them.
    assert shown["base_dir"] == str(repo)
    assert shown["settings"]["state_dir"] == str(repo / ".flywheel")


def test_a_git_file_marks_a_root_too(tmp_path: Path) -> None:
    # Worktrees and submodules have a .git file, not a folder.
    (tmp_path / "flywheel.toml").write_text('out_dir = "outside"\n')
    worktree = tmp_path / "worktree"
    (worktree / "sub").mkdir(parents=True)
    (worktree / ".git").write_text("gitdir: /somewhere/else\n")
    config = load_config(cwd=worktree / "sub")
    assert config.found_by == "defaults" and config.base_dir == worktree


def test_outside_a_repository_only_the_current_folder_is_looked_in(tmp_path: Path) -> None:
    (tmp_path / "flywheel.toml").write_text('out_dir = "parent"\n')
    (tmp_path / "child").mkdir()
    assert load_config(cwd=tmp_path / "child").found_by == "defaults"
    assert load_config(cwd=tmp_path).out_dir == tmp_path / "parent"


def test_flywheel_config_beats_the_project_file_and_config_beats_both(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / "flywheel.toml").write_text('out_dir = "project"\n')
    elsewhere = tmp_path / "elsewhere" / "fw.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text('out_dir = "from-env"\n')
    named = tmp_path / "named.toml"
    named.write_text('out_dir = "from-option"\n')
    shown = _config_json(repo, FLYWHEEL_CONFIG=str(elsewhere))
    assert shown["found_by"] == "FLYWHEEL_CONFIG"
    assert shown["settings"]["out_dir"] == str(elsewhere.parent / "from-env"), "relative to the file's folder"
    shown = _config_json(repo, "--config", named, FLYWHEEL_CONFIG=str(elsewhere))
    assert shown["found_by"] == "--config" and shown["settings"]["out_dir"] == str(tmp_path / "from-option")
    assert _config_json(repo, FLYWHEEL_CONFIG="")["found_by"] == "nearest project file", "empty means unset"


def test_a_missing_flywheel_config_file_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = _flywheel("config", cwd=tmp_path, FLYWHEEL_CONFIG=str(tmp_path / "nope.toml"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"flywheel: error: {tmp_path / 'nope.toml'}: config file not found"


def test_a_named_pyproject_without_the_table_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    with pytest.raises(UsageError, match=r"has no \[tool.flywheel\] table \(named by --config\)"):
        load_config(tmp_path / "pyproject.toml")


def test_the_user_config_applies_when_no_project_file_does(tmp_path: Path) -> None:
    home_config = tmp_path / "xdg"
    user_file = home_config / "flywheel" / "flywheel.toml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text('state_dir = "state"\n[targets.web]\nsite_dir = "site"\n')
    repo = _git_repo(tmp_path / "repo")
    shown = _config_json(repo, XDG_CONFIG_HOME=str(home_config))
    assert shown["found_by"] == "user config" and shown["file"] == str(user_file)
    assert shown["settings"]["state_dir"] == str(user_file.parent / "state")
    assert shown["settings"]["targets"]["web"] == {"enabled": True, "scan": "hold", "review": "findings", "site_dir": "site"}
    (repo / "flywheel.toml").write_text("")
    assert _config_json(repo, XDG_CONFIG_HOME=str(home_config))["found_by"] == "nearest project file"


def test_config_masks_secrets(tmp_path: Path, monkeypatch, empty_host) -> None:
    (tmp_path / "flywheel.toml").write_text(
        '[targets.github]\nremote = "r"\ntoken = {"$env" = "FW_TEST_TOKEN"}\n'
        '[targets.mastodon]\ninstance = "https://m.example"\ntoken = "plain-text-token-1234"\n'
        '[plugins.x]\napi_key = {"$env" = "FW_TEST_UNSET"}\n'
    )
    monkeypatch.setenv("FW_TEST_TOKEN", "hunter2-very-secret-value")
    monkeypatch.delenv("FW_TEST_UNSET", raising=False)
    monkeypatch.chdir(tmp_path)
    human = run_cli(["config"], host=empty_host)
    assert human.exit_code == 0, human.output
    assert "hunter2" not in human.output and "plain-text-token" not in human.output
    assert 'token = {"$env" = "FW_TEST_TOKEN"}  # FW_TEST_TOKEN is set' in human.stdout
    assert 'api_key = {"$env" = "FW_TEST_UNSET"}  # FW_TEST_UNSET is NOT SET' in human.stdout
    assert 'token = "***"' in human.stdout
    shown = run_cli(["config", "--json"], host=empty_host).json()
    assert shown["settings"]["targets"]["github"]["token"] == {"$env": "FW_TEST_TOKEN", "set": True}
    assert shown["settings"]["targets"]["mastodon"]["token"] == "***"


def test_config_fills_in_the_defaults_of_installed_schemas(tmp_path: Path, monkeypatch, empty_host) -> None:
    from flywheel_core import Target, hookimpl

    class Things:
        @hookimpl
        def flywheel_targets(self):
            return [Target("shelf", "test", {"type": "object", "properties": {
                "folder": {"type": "string", "default": "shelf"},
                "deploy": {"type": "object", "properties": {"timeout": {"type": "number", "default": 60}}},
            }})]

        @hookimpl
        def flywheel_config_schema(self):
            return {"type": "object", "properties": {"depth": {"type": "integer", "default": 3}}}

    empty_host.register(Things(), name="things", distribution="flywheel-things", version="1")
    (tmp_path / "flywheel.toml").write_text('[targets.shelf]\ndeploy = {}\n[queue]\nmax_attempts = 3\n')
    monkeypatch.chdir(tmp_path)
    settings = run_cli(["config", "--json"], host=empty_host).json()["settings"]
    assert settings["targets"]["shelf"] == {"enabled": True, "scan": "hold", "review": "findings", "folder": "shelf",
                                          "deploy": {"timeout": 60}}
    assert settings["plugins"] == {"things": {"depth": 3}}
    assert settings["queue"]["max_attempts"] == 3 and settings["queue"]["lease_seconds"] == 300.0
    human = run_cli(["config"], host=empty_host).stdout
    assert ('[targets.shelf]\nenabled = true\nscan = "hold"\nreview = "findings"\nfolder = "shelf"\n\n'
            "[targets.shelf.deploy]\ntimeout = 60") in human


@pytest.mark.parametrize("value", [None, "", "relative/config", "/abs/config", "~/tilde"])
@pytest.mark.parametrize("home", ["/home/ann", "relative-home"])
def test_the_user_config_file_is_in_the_folder_platformdirs_names(value, home, monkeypatch: pytest.MonkeyPatch) -> None:
    """``user_config_path`` applies platformdirs' rule without importing it (issue 18: start-up)."""
    import platformdirs

    from flywheel_core.config import user_config_path

    monkeypatch.setenv("HOME", home)
    if value is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", value)
    assert user_config_path() == Path(platformdirs.user_config_dir("flywheel")) / "flywheel.toml"
