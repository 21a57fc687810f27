"""Hostile plugins: garbage results, sys.exit, stdout writes, hangs. Each costs only its own part."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core_support import FLYWHEEL, load
from flywheel_core import Artifact, PluginError, Problem, PublishResult, SessionType, Target, hookimpl
from flywheel_core.testing import build_session, run_cli

HOOKS = [
    "flywheel_session_types",
    "flywheel_targets",
    "flywheel_template_dirs",
    "flywheel_config_schema",
    "flywheel_register_commands",
    "flywheel_collect",
    "flywheel_validate",
    "flywheel_generate",
    "flywheel_publish",
]


_ARGS = {
    "flywheel_register_commands": ["cli", "collect"],
    "flywheel_collect": ["session", "ctx"],
    "flywheel_validate": ["session", "ctx"],
    "flywheel_generate": ["session", "ctx"],
    "flywheel_publish": ["target", "items", "config", "ctx"],
}


def _plugin(**behaviour):
    """A plugin object whose hooks do what ``behaviour`` says (a callable per hook name)."""
    namespace = {}
    for hook in behaviour:
        # pluggy passes only the arguments an implementation names, so each names its spec's.
        args = _ARGS.get(hook, [])
        source = (f"def {hook}(self, {', '.join(args)}):\n"
                  f"    return self.actions[{hook!r}]({', '.join(f'{a}={a}' for a in args)})\n")
        scope: dict = {}
        exec(source, scope)
        namespace[hook] = hookimpl(scope[hook])
    plugin = type("Hostile", (), namespace)()
    plugin.actions = behaviour
    return plugin


def _session(tmp_path: Path, **fields) -> Path:
    path = tmp_path / "work_session.json"
    path.write_text(json.dumps(build_session("build", **fields)), encoding="utf-8")
    return path


@pytest.fixture
def host(echo_host):
    """The echo build plugin (a good one) plus whatever hostile plugin a test registers."""

    def add(**behaviour):
        echo_host.register(_plugin(**behaviour), name="hostile", distribution="flywheel-hostile", version="6.6.6")
        return echo_host

    return add


@pytest.mark.parametrize("garbage", [42, "build", [42], [None], {"name": "x"}, [SessionType("x", schema="oops")],
                                     [SessionType("x", schema={"type": 12})]])
def test_garbage_session_types_drop_only_that_plugin(tmp_path: Path, host, garbage) -> None:
    echo_host = host(flywheel_session_types=lambda: garbage)
    result = run_cli(["validate", _session(tmp_path)], host=echo_host)
    # Before: "internal error: AttributeError" for most of these, naming no plugin.
    assert result.exit_code == 0, result.output
    assert "plugin hostile (flywheel-hostile) failed in flywheel_session_types" in result.stderr
    assert "internal error" not in result.output


@pytest.mark.parametrize("garbage", [7, [Target("ok"), "nope"], [Target("x", config_schema=[1])]])
def test_garbage_targets_drop_only_that_plugin(tmp_path: Path, host, garbage) -> None:
    echo_host = host(flywheel_targets=lambda: garbage)
    result = run_cli(["plugins"], host=echo_host)
    assert result.exit_code == 0
    assert "plugin hostile (flywheel-hostile) failed in flywheel_targets" in result.stderr
    assert echo_host.targets == {}


@pytest.mark.parametrize("garbage", [42, ["fine", 3], "templates"])
def test_garbage_template_dirs_do_not_stop_generation(tmp_path: Path, host, garbage) -> None:
    echo_host = host(flywheel_template_dirs=lambda: garbage)
    result = run_cli(["run", _session(tmp_path), "--out", tmp_path / "out"], host=echo_host)
    # Before: the renderer failed, blamed on the plugins that render, and nothing was generated.
    assert result.exit_code == 0, result.output
    assert "plugin hostile (flywheel-hostile) failed in flywheel_template_dirs" in result.stderr
    assert (tmp_path / "out" / "build" / "test-build-001" / "summary.md").exists()


@pytest.mark.parametrize("garbage", ["oops", [Problem.error("real"), "also"], 3.5, {"path": "$"}])
def test_garbage_from_validate_is_a_warning_naming_the_plugin(tmp_path: Path, host, garbage) -> None:
    echo_host = host(flywheel_validate=lambda session, ctx: garbage)
    result = run_cli(["validate", _session(tmp_path)], host=echo_host)
    assert result.exit_code == 0, result.output
    assert "warning: plugin hostile (flywheel-hostile) failed in flywheel_validate: returned" in result.stderr


@pytest.mark.parametrize("garbage", [42, "summary", [Artifact("extra", "x"), None]])
def test_garbage_from_generate_costs_only_that_plugin(tmp_path: Path, host, garbage) -> None:
    echo_host = host(flywheel_generate=lambda session, ctx: garbage)
    path = _session(tmp_path)
    result = run_cli(["run", path, "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 1
    assert "plugin hostile (flywheel-hostile) failed in flywheel_generate: returned" in result.stderr
    assert set(load(path)["artifacts"]) == {"summary"}, "the good plugin's artifact is kept"


def _replace_source_data(session, ctx):
    session.source_data = "D:/repo"


def _drop_artifacts(session, ctx):
    session.artifacts = [1, 2]


@pytest.mark.parametrize("collect", [_replace_source_data, _drop_artifacts])
def test_a_collector_that_breaks_the_session_is_undone_and_named(tmp_path: Path, host, collect) -> None:
    echo_host = host(flywheel_collect=collect)
    path = _session(tmp_path, source_data={"git_commits": [{"message": "feat: kept"}]})
    result = run_cli(["run", path, "--out", tmp_path / "out"], host=echo_host)
    # Before: "internal error: AttributeError", or the build plugin blamed for it.
    assert result.exit_code == 1, result.output
    assert "plugin hostile (flywheel-hostile) failed in flywheel_collect: left the session malformed ($." in result.stderr
    assert "its changes were undone" in result.stderr
    data = load(path)
    assert data["source_data"] == {"git_commits": [{"message": "feat: kept"}]}
    assert "- feat: kept" in (tmp_path / "out" / "build" / "test-build-001" / "summary.md").read_text()


@pytest.mark.parametrize("hook", [h for h in HOOKS if h != "flywheel_publish"])
def test_sys_exit_in_a_hook_is_a_plugin_failure_not_the_exit_code(tmp_path: Path, host, hook) -> None:
    def leave(**_):
        sys.exit(3)

    echo_host = host(**{hook: leave})
    # `run` asks for targets only when some are configured; `plugins` lists them.
    stderr = ""
    for args in (["run", _session(tmp_path), "--out", tmp_path / "out"], ["plugins"]):
        result = run_cli(args, host=echo_host)
        assert result.exit_code != 3, result.output
        stderr += result.stderr
    assert "plugin hostile (flywheel-hostile)" in stderr and "sys.exit(3)" in stderr


def _chatty(value=None):
    def hook(**_):
        print("hello from a plugin")
        return value

    return hook


def test_a_plugin_printing_in_every_hook_keeps_stdout_for_json(tmp_path: Path, host) -> None:
    echo_host = host(**{hook: _chatty() for hook in HOOKS})
    path = _session(tmp_path)
    for args in (["validate", path, "--json"], ["run", path, "--out", tmp_path / "out", "--json"],
                 ["plugins", "--json"]):
        result = run_cli(args, host=echo_host)
        assert json.loads(result.stdout), (args, result.stdout[:300])  # before: "hello..." broke the JSON
        assert "hello from a plugin" in result.stderr


def test_publish_through_call_one_keeps_stdout_and_checks_the_result(empty_host, capsys) -> None:
    class Shelf:
        @hookimpl
        def flywheel_publish(self, target, items, config, ctx):
            print("publishing...")
            return "done" if target == "bad" else [PublishResult(1, True)]

    empty_host.register(Shelf(), name="shelf", distribution="flywheel-shelf")
    answer = empty_host.call_one("shelf", "flywheel_publish", target="good", items=[], config={}, ctx=None)
    assert answer == [PublishResult(1, True)]
    with pytest.raises(PluginError, match=r"plugin shelf \(flywheel-shelf\) failed in flywheel_publish: returned str"):
        empty_host.call_one("shelf", "flywheel_publish", target="bad", items=[], config={}, ctx=None)
    out, err = capsys.readouterr()
    assert out == "" and "publishing..." in err


@pytest.mark.parametrize("hook,command", [("flywheel_register_commands", ["--help"]),
                                          ("flywheel_session_types", ["plugins"]),
                                          ("flywheel_config_schema", ["validate", "SESSION"])])
def test_a_hanging_registration_hook_is_skipped_after_the_time_limit(tmp_path: Path, fake_dist, hook, command) -> None:
    args = "cli, collect" if hook == "flywheel_register_commands" else ""
    source = f"import time\nfrom flywheel_core import hookimpl\n\n@hookimpl\ndef {hook}({args}):\n    time.sleep(3600)\n"
    env = dict(fake_dist("flywheel-hang", source), FLYWHEEL_HOOK_TIMEOUT="1")
    command = [str(_session(tmp_path)) if arg == "SESSION" else arg for arg in command]
    # Before: `flywheel --help` never returned. The subprocess timeout turns a hang into a failure.
    proc = subprocess.run([FLYWHEEL, *command], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "plugin flywheel_hang (flywheel-hang) failed" in proc.stderr
    assert "did not answer within 1 s (FLYWHEEL_HOOK_TIMEOUT), so it was skipped" in proc.stderr


def test_a_slow_pipeline_hook_is_reported_not_killed(tmp_path: Path, fake_dist) -> None:
    env = dict(fake_dist("flywheel-slow", """
import time
from flywheel_core import Artifact, SessionType, hookimpl

@hookimpl
def flywheel_session_types():
    return [SessionType("build", "test")]

@hookimpl
def flywheel_collect(session, ctx):
    time.sleep(6)  # five seconds past the notice, however busy the machine

@hookimpl
def flywheel_generate(session, ctx):
    return [Artifact("summary", "# slow but done\\n")]
"""), FLYWHEEL_HOOK_TIMEOUT="1")
    path = _session(tmp_path)
    proc = subprocess.run([FLYWHEEL, "run", path, "--out", tmp_path / "out"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "flywheel: plugin flywheel_slow (flywheel-slow) is still running flywheel_collect after 1 s" in proc.stderr
    assert load(path)["artifacts"]["summary"]["status"] == "ready"
