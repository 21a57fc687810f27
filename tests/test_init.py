"""``flywheel init``: every setting of core, every installed target and plugin, and the .gitignore advice."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from core_support import FLYWHEEL
from flywheel_core.cli.setup import init_text
from flywheel_core.config import CONFIG_SCHEMA, TARGET_COMMON_SCHEMA, load_config
from flywheel_core.schema import first_errors
from flywheel_core.testing import run_cli

SETTING_LINE = re.compile(r'^# (?=\[|[A-Za-z0-9_"-]+ = )')


def uncomment(text: str) -> dict[str, Any]:
    """The template with every commented-out setting switched on, parsed."""
    return tomllib.loads("\n".join(SETTING_LINE.sub("", line) for line in text.splitlines()))


def keys(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Every property path of a schema, nested objects included (targets/plugins tables excluded)."""
    found = set()
    for key, prop in (schema.get("properties") or {}).items():
        found.add(prefix + key)
        if isinstance(prop, dict) and prop.get("properties"):
            found |= keys(prop, f"{prefix}{key}.")
    return found


def paths(table: dict[str, Any], prefix: str = "") -> set[str]:
    found = set()
    for key, value in table.items():
        found.add(prefix + key)
        if isinstance(value, dict) and "$env" not in value:
            found |= paths(value, f"{prefix}{key}.")
    return found


def without_env(value: Any) -> Any:
    if isinstance(value, dict):
        return "from-the-environment" if set(value) == {"$env"} else {k: without_env(v) for k, v in value.items()}
    return value


def defaults(schema: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and "default" in prop:
            out[prefix + key] = prop["default"]
        if isinstance(prop, dict) and prop.get("properties"):
            out.update(defaults(prop, f"{prefix}{key}."))
    return out


def lookup(table: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        table = table[part]
    return table


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch):
    """The host with every installed plugin (the template must cover all of ours)."""
    from flywheel_core.plugins import PluginHost

    monkeypatch.delenv("FLYWHEEL_LOAD_PLUGINS", raising=False)
    host = PluginHost()
    host.load_entry_points()
    return host


def _check_table(table: dict[str, Any], schema: dict[str, Any], where: str, valid: bool = True) -> None:
    missing = keys(schema) - paths(table)
    assert not missing, f"{where}: the template does not list {sorted(missing)}"
    if valid:  # our own sections show working examples, not placeholders
        checked = without_env({k: v for k, v in table.items() if k not in TARGET_COMMON_SCHEMA["properties"]})
        assert list(first_errors(schema, checked)) == [], where
    for key, default in defaults(schema).items():
        assert lookup(table, key) == default, f"{where}.{key}: the template shows another value than the default"


def test_the_template_lists_every_setting_of_core_and_of_every_installed_plugin(installed) -> None:
    data = uncomment(init_text(installed))
    core = {k: v for k, v in data.items() if k not in ("targets", "plugins")}
    assert keys(CONFIG_SCHEMA) - {"targets", "plugins"} <= paths(core)
    assert list(first_errors(CONFIG_SCHEMA, data)) == []
    for name, (_, target) in installed.targets.items():
        assert name in data["targets"], f"[targets.{name}] is missing"
        _check_table(data["targets"][name], target.config_schema, f"targets.{name}")
        assert data["targets"][name]["enabled"] is True
    for name, schema in installed.config_schemas().items():
        assert name in data["plugins"], f"[plugins.{name}] is missing"
        _check_table(data["plugins"][name], schema, f"plugins.{name}")


def test_the_written_file_loads_to_the_defaults(tmp_path: Path, installed) -> None:
    result = run_cli(["init", tmp_path], host=installed)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "flywheel.toml").read_text()
    config = load_config(tmp_path / "flywheel.toml")
    assert config.targets == {} and config.data.get("plugins") is None, "every target and plugin table stays off"
    for key in ("repo_roots", "readme_path", "release", "release_kind", "app_password", "quote_chars"):
        assert re.search(rf"^# {key} = ", text, re.M), key


def test_an_installed_plugin_the_template_does_not_know_gets_a_generated_section(tmp_path: Path, empty_host) -> None:
    from flywheel_core import Target, hookimpl

    schema = {"type": "object", "required": ["bucket"], "properties": {
        "bucket": {"type": "string", "minLength": 1, "description": "Where the\n   files go."},
        "region": {"enum": ["eu", "us"]},
        "parts": {"type": "integer", "minimum": 1, "default": 4},
        "secret_key": {"type": "string"},
        "retry": {"type": "object", "properties": {"times": {"type": "integer", "default": 2}}},
    }, "additionalProperties": False}

    class Bucket:
        @hookimpl
        def flywheel_targets(self):
            return [Target("s3_ish", "Copy artifacts to a bucket.", schema)]

        @hookimpl
        def flywheel_config_schema(self):
            return {"type": "object", "properties": {"flavour": {"type": "string", "default": "plain"}}}

    empty_host.register(Bucket(), name="bucket", distribution="flywheel-bucket", version="2.0")
    assert run_cli(["init", tmp_path], host=empty_host).exit_code == 0
    text = (tmp_path / "flywheel.toml").read_text()
    assert '# [targets.s3_ish]' in text and "bucket (flywheel-bucket): Copy artifacts to a bucket." in text
    assert '# bucket = ""                            # (required) Where the files go.' in text
    assert '# secret_key = {"$env" = "S3_ISH_SECRET_KEY"}' in text, "a secret is shown read from the environment"
    data = uncomment(text)
    _check_table(data["targets"]["s3_ish"], schema, "targets.s3_ish", valid=False)
    assert data["targets"]["s3_ish"]["region"] == "eu" and data["targets"]["s3_ish"]["retry"] == {"times": 2}
    assert data["plugins"]["bucket"] == {"flavour": "plain"}


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def _flywheel(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, FLYWHEEL_LOAD_PLUGINS="")
    return subprocess.run([FLYWHEEL, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, check=False)


def _ignored(repo: Path, *names: str) -> list[str]:
    done = subprocess.run(["git", "-C", str(repo), "check-ignore", "--", *names], capture_output=True, text=True)
    return done.stdout.splitlines()


def test_init_in_a_repository_suggests_gitignore_lines_and_writes_them_on_request(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    first = _flywheel("init", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert f"add these lines to {repo / '.gitignore'} (or run `flywheel init --gitignore`)" in first.stdout
    assert first.stdout.splitlines()[-4:] == ["  /flywheel-out/", "  /.flywheel/", "  /sessions/", "  *session.json"]
    assert not (repo / ".gitignore").exists(), "only a suggestion without --gitignore"

    (repo / ".gitignore").write_text("*.pyc")  # no final newline: the block must still start on its own line
    second = _flywheel("init", "--gitignore", cwd=repo)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == [
        f"kept {repo / 'flywheel.toml'}",
        f"added to {repo / '.gitignore'}: /flywheel-out/, /.flywheel/, /sessions/, *session.json",
    ]
    assert (repo / ".gitignore").read_text().startswith("*.pyc\n\n# flywheel: ")
    probes = ["flywheel-out/build/x/readme.md", ".flywheel/queue.sqlite3", "sessions/work_session.json",
              "build_session.json"]
    assert _ignored(repo, *probes) == probes
    assert _ignored(repo, "src/main.py", "flywheel.toml") == []
    again = _flywheel("init", "--gitignore", "--json", cwd=repo)
    assert json.loads(again.stdout)["gitignore"] == {"path": str(repo / ".gitignore"), "lines": [], "written": False}
    assert (repo / ".gitignore").read_text().count("# flywheel: ") == 1, "nothing added twice"


def test_init_in_a_subfolder_anchors_the_lines_and_skips_what_is_already_ignored(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("*session.json\n")
    project = repo / "tools" / "fw"
    project.mkdir(parents=True)
    done = _flywheel("init", "--json", project, cwd=repo)
    shown = json.loads(done.stdout)
    assert shown["repository"] == str(repo) and shown["written"] is True
    assert shown["gitignore"]["lines"] == ["/tools/fw/flywheel-out/", "/tools/fw/.flywheel/", "/tools/fw/sessions/"]


def test_init_outside_a_repository_says_nothing_about_gitignore(tmp_path: Path) -> None:
    done = _flywheel("init", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == f"wrote {tmp_path / 'flywheel.toml'}\n"
    assert _flywheel("init", cwd=tmp_path).returncode == 2, "an existing file is kept without --force"


def test_init_in_a_repository_whose_config_includes_a_fifo_gives_up(tmp_path: Path, empty_host, monkeypatch) -> None:
    # git check-ignore read the FIFO the config includes and waited for its writer for ever.
    repo = _git_repo(tmp_path / "repo")
    os.mkfifo(repo / ".git" / "evil")
    with open(repo / ".git" / "config", "a", encoding="utf-8") as config:
        config.write("[include]\n\tpath = evil\n")
    monkeypatch.setattr("flywheel_core.tracking.GIT_TIMEOUT", 1.0)
    result = run_cli(["init", repo], host=empty_host)
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"flywheel: error: {repo}: git did not answer within 1 s: does the repository's config "
                             "(an [include] path) or a .gitignore name a FIFO or a device?\n")


@pytest.mark.parametrize("flag", [[], ["--gitignore"]])
def test_init_refuses_a_gitignore_that_is_a_fifo(tmp_path: Path, flag: list[str]) -> None:
    # Before: `flywheel init --gitignore` read the FIFO with read_text and waited for ever (and
    # plain init waited a minute for git check-ignore). Refused before anything is written.
    repo = _git_repo(tmp_path / "repo")
    os.mkfifo(repo / ".gitignore")
    done = _flywheel("init", *flag, cwd=repo)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith(
        f"{repo / '.gitignore'}: is a FIFO (named pipe), not a regular file; git and flywheel would wait on it "
        "for ever; make it a regular file")
    assert "Traceback" not in done.stderr and not (repo / "flywheel.toml").exists()
