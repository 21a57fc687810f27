"""`flywheel run`: artifacts per session folder, the session file updated in place, nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from core_support import EXAMPLES, FLYWHEEL, load
from flywheel_core import Artifact, SessionType, hookimpl
from flywheel_core.testing import build_session, run_cli

ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"


def test_run_writes_artifacts_and_records_them(tmp_path: Path, echo_host, example) -> None:
    session = example("build_session.json")
    out = tmp_path / "out"
    result = run_cli(["run", session, "--out", out], host=echo_host)
    assert result.exit_code == 0, result.output
    folder = out / "build" / ID
    text = (folder / "summary.md").read_text()
    assert text.startswith(f"# {ID} on 2025-12-02\n"), "dates come from the session"
    assert "- feat: Add website publisher" in text
    assert (folder / "data.json").read_text() == "{}\n"
    data = load(session)
    record = data["artifacts"]["summary"]
    assert record["generated"] is True and record["status"] == "ready"
    assert record["path"] == str(folder / "summary.md")
    assert record["generator"] == "echo"
    assert len(record["sha256"]) == 64 and record["generated_at"].endswith("Z")
    assert record["files"] == [str(folder / "data.json")]
    assert data["pipeline_status"]["build_artifact"] == "complete"
    assert "errors" not in data


def test_rerun_is_byte_identical(tmp_path: Path, echo_host, example) -> None:
    session = example()
    out = tmp_path / "out"
    run_cli(["run", session, "--out", out], host=echo_host)
    first = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    run_cli(["run", session, "--out", out], host=echo_host)
    second = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert first == second


def test_dry_run_writes_nothing(tmp_path: Path, echo_host, example) -> None:
    session = example()
    before = session.read_bytes()
    result = run_cli(["run", session, "--out", tmp_path / "out", "--dry-run"], host=echo_host)
    assert result.exit_code == 0, result.output
    assert "would write summary" in result.stdout
    assert session.read_bytes() == before
    assert not (tmp_path / "out").exists()


def test_dry_run_json(tmp_path: Path, echo_host, example) -> None:
    result = run_cli(["run", example(), "--out", tmp_path / "o", "--dry-run", "--json"], host=echo_host)
    [entry] = result.json()
    assert entry["status"] == "dry-run"
    assert entry["artifacts"]["summary"]["bytes"] > 0


def test_no_plugin_for_type_exits_2_naming_the_distribution(empty_host, example) -> None:
    result = run_cli(["run", example()], host=empty_host)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no installed plugin handles session type 'build'" in lines[0]
    assert "pip install ./plugins/flywheel_build" in lines[0]


def test_core_alone_in_a_real_process(tmp_path: Path, example) -> None:
    env = dict(os.environ, FLYWHEEL_LOAD_PLUGINS="")
    proc = subprocess.run([FLYWHEEL, "run", example()], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2
    assert "pip install ./plugins/flywheel_build" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([FLYWHEEL, "plugins"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "No plugins are installed" in proc.stdout


def test_markdown_is_not_html_escaped_and_data_is_not_template(tmp_path: Path, echo_host, session_file) -> None:
    doc = build_session(
        "build",
        source_data={"git_commits": [{"hash": "1", "message": "P&L for Tom's {{ 7*7 }} <b>"}]},
    )
    result = run_cli(["run", session_file(doc), "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out/build/test-build-001/summary.md").read_text()
    assert "P&L for Tom's {{ 7\\*7 }} \\<b>" in text  # a backslash only where Markdown would act
    assert "&amp;" not in text and "&#39;" not in text and "49" not in text


def test_unknown_fields_survive_a_run(tmp_path: Path, echo_host, session_file) -> None:
    doc = {
        "zzz_first": {"keep": [1, 2, {"deep": None}]},
        "session_id": "a5-2025-12-02-guardrail-impl",
        "deliverables": ["a", "b"],
        "session_type": "build",
        "timestamp": "2025-12-02T03:00:00.000000",
        "agent_id": "Agent-7",
        "metadata": {"agent_name": "x", "current_mission": {"m": 1}, "duration_minutes": 30},
        "source_data": {"repo_path": "D:/Repo", "files_changed": ["a.py"], "git_commits": []},
        "artifacts": {"readme": {"generated": False, "path": None, "custom": "kept"}},
        "pipeline_status": {"build_artifact": "pending", "other_artifact": "not_applicable"},
        "output_flywheel_usage": {"version": "1.0"},
        "lessons": [{"title": "t", "description": "d"}],
        "ünïcode": "✓",
    }
    path = session_file(doc)
    assert run_cli(["run", path, "--out", tmp_path / "out"], host=echo_host).exit_code == 0
    after = load(path)
    assert list(after)[: len(doc)] == list(doc), "key order kept"
    for key, value in doc.items():
        if key not in ("artifacts", "pipeline_status"):
            assert after[key] == value, key
    assert after["artifacts"]["readme"] == {"generated": False, "path": None, "custom": "kept"}
    assert after["pipeline_status"]["other_artifact"] == "not_applicable"
    assert after["pipeline_status"]["build_artifact"] == "complete"
    assert "✓" in path.read_text(encoding="utf-8"), "non-ASCII is written as is"


class Boom:
    @hookimpl
    def flywheel_generate(self, session, ctx):
        raise RuntimeError("kaput")


class Extra:
    @hookimpl
    def flywheel_generate(self, session, ctx):
        return [Artifact("extra", "# extra\n")]


def test_plugin_raising_in_a_hook_costs_only_its_artifacts(tmp_path: Path, echo_host, example) -> None:
    echo_host.register(Boom(), name="boom", distribution="flywheel-boom")
    echo_host.register(Extra(), name="extra", distribution="flywheel-extra")
    session = example()
    result = run_cli(["run", session, "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 1
    assert "plugin boom (flywheel-boom) failed in flywheel_generate: RuntimeError: kaput" in result.stderr
    assert "Traceback" not in result.output
    data = load(session)
    assert set(data["artifacts"]) == {"summary", "extra"}
    assert data["pipeline_status"]["build_artifact"] == "failed"
    assert any("kaput" in e for e in data["errors"])


def test_strict_plugins_makes_hook_errors_fatal(tmp_path: Path, echo_host, example, monkeypatch) -> None:
    monkeypatch.setenv("FLYWHEEL_STRICT_PLUGINS", "1")
    echo_host.register(Boom(), name="boom", distribution="flywheel-boom")
    result = run_cli(["run", example(), "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 1
    assert "RuntimeError: kaput" in result.stderr


def test_two_plugins_making_the_same_kind(tmp_path: Path, echo_host, example) -> None:
    class Again:
        @hookimpl
        def flywheel_generate(self, session, ctx):
            return [Artifact("summary", "other")]

    echo_host.register(Again(), name="again", distribution="flywheel-again")
    result = run_cli(["run", example(), "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 1
    assert "artifact 'summary' is made by both" in result.stderr


def test_two_plugins_registering_one_session_type(echo_host, example) -> None:
    class Rival:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("build")]

    echo_host.register(Rival(), name="rival", distribution="flywheel-rival")
    result = run_cli(["run", example()], host=echo_host)
    assert result.exit_code == 1
    assert "session type 'build' is registered by both echo (flywheel-echo) and rival (flywheel-rival)" in result.stderr


def test_validate_hook_errors_stop_the_run(tmp_path: Path, echo_host, example) -> None:
    from flywheel_core import Problem

    class Picky:
        @hookimpl
        def flywheel_validate(self, session, ctx):
            return [Problem.error("no commits", "$.source_data.git_commits"), Problem.warning("hm")]

    echo_host.register(Picky(), name="picky")
    session = example()
    before = session.read_bytes()
    result = run_cli(["run", session, "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 2
    assert f"{session}: $.source_data.git_commits: no commits" in result.stderr
    assert f"{session}: $: warning: hm" in result.stderr
    assert session.read_bytes() == before


def test_hooks_fire_in_pipeline_order(tmp_path: Path, echo_host, example) -> None:
    calls: list[str] = []

    class Every:
        @hookimpl
        def flywheel_collect(self, session, ctx):
            calls.append("collect")

        @hookimpl
        def flywheel_validate(self, session, ctx):
            calls.append("validate")

        @hookimpl
        def flywheel_generate(self, session, ctx):
            calls.append("generate")

    echo_host.register(Every(), name="every")
    seen: list[str] = []
    undo = echo_host.pm.add_hookcall_monitoring(lambda name, impls, kw: seen.append(name), lambda *a: None)
    try:
        assert run_cli(["run", example(), "--out", tmp_path / "out"], host=echo_host).exit_code == 0
    finally:
        undo()
    assert calls == ["collect", "validate", "generate"]
    pipeline = [h for h in seen if h in ("flywheel_collect", "flywheel_validate", "flywheel_generate")]
    first = {h: pipeline.index(h) for h in set(pipeline)}
    assert first["flywheel_collect"] < first["flywheel_validate"] < first["flywheel_generate"]
    dedup = [h for i, h in enumerate(seen) if i == 0 or seen[i - 1] != h]
    assert dedup == [
        "flywheel_session_types",
        "flywheel_collect",
        "flywheel_validate",
        "flywheel_generate",  # echo's, which renders a template:
        "flywheel_template_dirs",
        "flywheel_generate",  # every's
    ], dedup


def test_collect_may_enrich_the_session(tmp_path: Path, echo_host, example) -> None:
    class Collector:
        @hookimpl
        def flywheel_collect(self, session, ctx):
            session.source_data["git_commits"].append({"hash": "fff", "message": "collected"})

    echo_host.register(Collector(), name="collector")
    session = example("minimal_build_session.json")
    assert run_cli(["run", session, "--out", tmp_path / "out"], host=echo_host).exit_code == 0
    assert load(session)["source_data"]["git_commits"] == [{"hash": "fff", "message": "collected"}]


def test_every_example_runs(tmp_path: Path, echo_host) -> None:
    for source in EXAMPLES.glob("*build*.json"):
        target = tmp_path / source.name
        target.write_bytes(source.read_bytes())
        assert run_cli(["run", target, "--out", tmp_path / "out"], host=echo_host).exit_code == 0


PLUGIN = '''
from pathlib import Path
from flywheel_core import hookimpl, Artifact, SessionType

@hookimpl
def flywheel_session_types():
    return [SessionType("build")]

@hookimpl
def flywheel_generate(session, ctx):
    return [Artifact(k, f"# {k} {session.session_id}\\n") for k in ("one", "two", "three")]
'''


@pytest.mark.parametrize("runs", [50])
def test_concurrent_runs_on_one_file(tmp_path: Path, fake_dist, example, runs: int) -> None:
    env = fake_dist("flywheel-fakebuild", PLUGIN)
    session = example()
    procs = [
        subprocess.Popen([FLYWHEEL, "run", session, "--out", tmp_path / "out"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(runs)
    ]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in outcomes), outcomes[:3]
    data = json.loads(session.read_text())
    assert set(data["artifacts"]) == {"one", "two", "three"}
    assert data["pipeline_status"]["build_artifact"] == "complete"
    assert not list(session.parent.glob(".*.tmp")), "no temp files left behind"


def test_plugin_that_fails_to_import_is_reported_and_skipped(tmp_path: Path, fake_dist, example) -> None:
    env = fake_dist("flywheel-broken", "raise ImportError('missing dependency: frobnicate')\n")
    proc = subprocess.run([FLYWHEEL, "plugins"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0
    assert "plugin 'flywheel_broken' (flywheel-broken) was not loaded: ImportError: missing dependency" in proc.stderr
    proc = subprocess.run([FLYWHEEL, "validate", example()], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    strict = dict(env, FLYWHEEL_STRICT_PLUGINS="1")
    proc = subprocess.run([FLYWHEEL, "plugins"], capture_output=True, text=True, env=strict)
    assert proc.returncode != 0 and "frobnicate" in proc.stderr


def test_misspelled_hook_is_caught(tmp_path: Path, fake_dist) -> None:
    env = fake_dist("flywheel-typo", "from flywheel_core import hookimpl\n@hookimpl\ndef flywheel_generat(session):\n    pass\n")
    proc = subprocess.run([FLYWHEEL, "plugins", "--json"], capture_output=True, text=True, env=env)
    assert "flywheel_generat" in proc.stderr and "unknown hook" in proc.stderr
    assert json.loads(proc.stdout) == []


def test_load_plugins_allowlist(tmp_path: Path, fake_dist) -> None:
    env = fake_dist("flywheel-fakebuild", PLUGIN)
    proc = subprocess.run([FLYWHEEL, "plugins", "--json"], capture_output=True, text=True, env=env)
    assert [p["distribution"] for p in json.loads(proc.stdout)] == ["flywheel-fakebuild"]
    env["FLYWHEEL_LOAD_PLUGINS"] = ""
    proc = subprocess.run([FLYWHEEL, "plugins", "--json"], capture_output=True, text=True, env=env)
    assert json.loads(proc.stdout) == []
    env["FLYWHEEL_LOAD_PLUGINS"] = "flywheel_fakebuild"
    env["FLYWHEEL_BLOCK_PLUGINS"] = "flywheel-fakebuild"
    proc = subprocess.run([FLYWHEEL, "plugins", "--json"], capture_output=True, text=True, env=env)
    assert json.loads(proc.stdout) == []


def test_an_agents_own_artifact_record_is_kept_under_previous(tmp_path: Path, echo_host, example) -> None:
    # An agent that recorded its own summary lost that record when flywheel wrote its own.
    session = example()
    doc = load(session)
    mine = {"path": "docs/summary-by-the-agent.md", "status": "published",
            "published_to": {"blog": {"url": "https://agent.example/summary"}}}
    doc["artifacts"] = {"summary": mine}
    session.write_text(json.dumps(doc), encoding="utf-8")
    result = run_cli(["run", session, "--out", tmp_path / "out"], host=echo_host)
    assert result.exit_code == 0, result.output
    assert (f"{session}: $.artifacts.summary: warning: artifacts.summary held a record flywheel did not write "
            "(path docs/summary-by-the-agent.md); it is kept under artifacts.summary.previous") in result.stderr
    record = load(session)["artifacts"]["summary"]
    assert record["previous"] == mine, "nothing the agent wrote is lost"
    assert record["generator"] == "echo" and record["path"] == str(tmp_path / "out" / "build" / ID / "summary.md")
    again = run_cli(["run", session, "--out", tmp_path / "out"], host=echo_host)
    assert again.exit_code == 0 and "warning" not in again.stderr, "flywheel's own record is updated in place"
    assert load(session)["artifacts"]["summary"]["previous"] == mine
