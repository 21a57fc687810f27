"""The small commands: --version, plugins, schema, init, and config discovery."""

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


def test_version_lists_core_and_plugins(echo_host) -> None:
    result = run_cli(["--version"], host=echo_host)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["flywheel-core 0.1.0", "flywheel-echo 1.0"]


def test_plugins_json(echo_host) -> None:
    result = run_cli(["plugins", "--json"], host=echo_host)
    [info] = result.json()
    assert info["distribution"] == "flywheel-echo" and info["version"] == "1.0"
    assert info["session_types"] == ["build"] and info["targets"] == []
    assert info["hooks"] == ["flywheel_generate", "flywheel_session_types", "flywheel_template_dirs"]


def test_plugins_human(echo_host) -> None:
    out = run_cli(["plugins"], host=echo_host).stdout
    assert "echo: flywheel-echo 1.0" in out and "session types: build" in out


def test_schema_envelope_and_merged(echo_host) -> None:
    envelope = run_cli(["schema"], host=echo_host).json()
    assert envelope["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert envelope["required"] == ["session_id", "session_type", "timestamp", "agent_id"]


def test_schema_merges_the_type_schema(empty_host) -> None:
    from flywheel_core import SessionType, hookimpl

    class Typed:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("build", schema={
                "required": ["source_data"],
                "properties": {"source_data": {"required": ["repo_path"], "properties": {"repo_path": {"type": "string"}}}},
            })]

    empty_host.register(Typed(), name="typed")
    merged = run_cli(["schema", "build"], host=empty_host).json()
    assert merged["required"][-1] == "source_data"
    assert merged["properties"]["source_data"] == {
        "type": "object", "required": ["repo_path"], "properties": {"repo_path": {"type": "string"}}}
    assert merged["properties"]["session_id"]["pattern"]


def test_schema_of_an_uninstalled_type(empty_host) -> None:
    result = run_cli(["schema", "trade"], host=empty_host)
    assert result.exit_code == 2 and "pip install ./plugins/flywheel_trade" in result.stderr


def test_validate_of_an_uninstalled_type_says_how_to_install_it(tmp_path: Path, empty_host, make_session) -> None:
    # flywheel's plugins are not on PyPI: "pip install flywheel-trade" found nothing to install.
    path = tmp_path / "s.json"
    path.write_text(json.dumps(make_session("trade")))
    result = run_cli(["validate", str(path)], host=empty_host)
    assert result.exit_code == 0, result.output
    assert "only the envelope was checked (install flywheel-trade from a clone of flywheel: " \
           "pip install ./plugins/flywheel_trade)" in result.stderr


def test_init_writes_a_working_commented_config(tmp_path: Path, empty_host) -> None:
    result = run_cli(["init", tmp_path], host=empty_host)
    assert result.exit_code == 0
    text = (tmp_path / "flywheel.toml").read_text()
    assert text.count("#") > 20
    config = load_config(cwd=tmp_path)
    assert config.out_dir == tmp_path / "flywheel-out"
    assert config.state_dir == tmp_path / ".flywheel"
    assert config.queue["max_attempts"] == 8
    again = run_cli(["init", tmp_path], host=empty_host)
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_config_discovery_order(tmp_path: Path, monkeypatch) -> None:
    assert load_config(cwd=tmp_path).source == "defaults"
    (tmp_path / "pyproject.toml").write_text('[tool.flywheel]\nout_dir = "from-pyproject"\n')
    assert load_config(cwd=tmp_path).out_dir == tmp_path / "from-pyproject"
    (tmp_path / "flywheel.toml").write_text('out_dir = "from-toml"\n')
    assert load_config(cwd=tmp_path).out_dir == tmp_path / "from-toml"
    other = tmp_path / "sub" / "cfg.toml"
    other.parent.mkdir()
    other.write_text('out_dir = "explicit"\n')
    assert load_config(other, cwd=tmp_path).out_dir == other.parent / "explicit"


@pytest.mark.parametrize(
    "text,message",
    [
        ("out_dir = [", "invalid TOML"),
        ("out_dir = 3", "$.out_dir"),
        ("unknown_key = 1", "$.unknown_key: unknown key"),
        ("[queue]\nmax_attempts = 0", "$.queue.max_attempts"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "flywheel.toml").write_text(text)
    with pytest.raises(UsageError, match=message.replace("$", r"\$").replace("[", r"\[")):
        load_config(cwd=tmp_path)


def test_env_secrets_are_resolved_on_use(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "flywheel.toml").write_text('[targets.github]\ntoken = {"$env" = "MY_TOKEN"}\n')
    config = load_config(cwd=tmp_path)
    with pytest.raises(UsageError, match="MY_TOKEN"):
        config.target_config("github")
    monkeypatch.setenv("MY_TOKEN", "s3cret")
    assert config.target_config("github")["token"] == "s3cret"
    assert config.targets["github"]["token"] == {"$env": "MY_TOKEN"}, "the secret is never stored back"


def test_bad_config_exits_2_without_traceback(tmp_path: Path, example) -> None:
    (tmp_path / "flywheel.toml").write_text("out_dir = [")
    env = dict(os.environ, FLYWHEEL_LOAD_PLUGINS="")
    proc = subprocess.run([FLYWHEEL, "validate", example()], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "invalid TOML" in proc.stderr and "Traceback" not in proc.stderr


def test_usage_errors_exit_2(empty_host) -> None:
    assert run_cli(["run"], host=empty_host).exit_code == 2
    assert run_cli(["frobnicate"], host=empty_host).exit_code == 2
    assert run_cli(["validate", "--nope"], host=empty_host).exit_code == 2


def test_help_lists_the_commands(empty_host) -> None:
    out = run_cli(["--help"], host=empty_host).stdout
    for command in ("run", "validate", "schema", "plugins", "init", "collect"):
        assert f"  {command}" in out
