"""``flywheel start`` / ``flywheel end`` and ``flywheel_collect_session``: one step from a finished
session to published artifacts, exactly once, with a test session type and a real test target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core_support import FLYWHEEL
from flywheel_core import hookimpl
from flywheel_core.testing import run_cli

#: A plugin with a session type ``jot`` collected from a text file (``--notes``), one artifact,
#: and the ``shelf`` target: files in a folder, one log line per publication that changed the
#: shelf (publishing what is already there adds nothing, as every target must).
JOT = textwrap.dedent('''
    """Test plugin: the ``jot`` session type and the ``shelf`` target."""
    import hashlib
    import json
    from pathlib import Path

    from flywheel_core import Artifact, NothingToCollect, PublishResult, SessionType, Target, UsageError, hookimpl

    @hookimpl
    def flywheel_session_types():
        return [SessionType("jot", "the lines of a text file", artifacts=("summary",))]

    @hookimpl
    def flywheel_targets():
        return [Target("shelf", "files on a shelf", {"type": "object", "properties": {"dir": {"type": "string"}}})]

    @hookimpl
    def flywheel_collect_session(session_type, options, ctx):
        if session_type != "jot":
            return None
        if not options.get("notes"):
            raise UsageError("a jot session needs --notes FILE")
        text = Path(options["notes"]).read_text(encoding="utf-8")
        if not text.strip():
            raise NothingToCollect(f"{options['notes']}: no lines")
        if "WARN" in text:
            ctx.warn("the notes ask for a warning")
        ctx.note("read the notes")
        seen = {k: options.get(k) for k in ("agent_id", "title", "summary", "lessons", "next_steps", "since",
                                            "started_at", "repo")}
        seen["refs_before"] = options.get("refs_before") is not None
        return {"session_id": "jot-" + hashlib.sha256(text.encode()).hexdigest()[:12], "session_type": "jot",
                "timestamp": "2025-12-02T05:20:00Z", "agent_id": options.get("agent_id") or "jotter",
                "metadata": {"duration_minutes": 5}, "source_data": {"lines": text.splitlines(), "options": seen},
                "artifacts": {}, "pipeline_status": {}}

    @hookimpl
    def flywheel_generate(session, ctx):
        if session.session_type != "jot":
            return None
        return [Artifact("summary", "\\n".join(session.source_data["lines"]) + "\\n", title="Jot")]

    @hookimpl
    def flywheel_publish(target, items, config, ctx):
        if target != "shelf":
            return None
        shelf = ctx.config.base_dir / config.get("dir", "shelf")
        results = []
        for item in items:
            path = shelf / item.session_id / item.filename
            if not (path.exists() and path.read_bytes() == item.content):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(item.content)
                with open(shelf / "log.jsonl", "a") as fh:
                    fh.write(json.dumps({"session": item.session_id, "kind": item.kind}) + "\\n")
            commit = hashlib.sha1(item.content).hexdigest()
            results.append(PublishResult(item.id, True, receipt={
                "url": f"https://shelf.example/{item.session_id}/{item.filename}", "commit": commit}))
        return results
''')


def _jot():
    module = types.ModuleType("flywheel_jot")
    exec(compile(JOT, "flywheel_jot.py", "exec"), module.__dict__)
    return module


class Project:
    """A folder with flywheel.toml (shelf target), a notes file, and ways to run flywheel there."""

    def __init__(self, root: Path, host) -> None:
        self.root, self.host = root, host
        self.config = root / "flywheel.toml"
        self.config.write_text('out_dir = "out"\nstate_dir = "state"\nsessions_dir = "sessions"\n'
                               '[queue]\nbackoff_seconds = 0\n[targets.shelf]\ndir = "shelf"\n', encoding="utf-8")
        self.notes = root / "notes.txt"
        self.notes.write_text("planted tomatoes\nfixed the fence\n", encoding="utf-8")

    def cli(self, *args):
        return run_cli([*map(str, args), "--config", self.config], host=self.host)

    def end(self, *args):
        return self.cli("end", "--type", "jot", "--repo", self.root, "--notes", self.notes, *args)

    def sessions(self) -> list[Path]:
        folder = self.root / "sessions"
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def shelf_log(self) -> list[dict]:
        log = self.root / "shelf" / "log.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def entries(self) -> list[dict]:
        return self.cli("queue", "list", "--json").json()

    def state(self) -> dict:
        [path] = (self.root / "state" / "sessions").iterdir()
        return json.loads(path.read_text())


@pytest.fixture
def project(tmp_path: Path, empty_host, monkeypatch: pytest.MonkeyPatch) -> Project:
    empty_host.register(_jot(), name="jot", distribution="flywheel-jot", version="1")
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)  # as an agent runs flywheel: from its project
    return Project(root, empty_host)


# -- start ------------------------------------------------------------------------------------


def test_start_records_one_open_session_and_keeps_it_unless_restart(project: Project) -> None:
    first = project.cli("start", "--type", "jot", "--repo", project.root, "--agent", "Agent-7")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(f"started a jot session in {project.root} (not a git repository) by Agent-7, ")
    opened = project.state()["open"]
    assert opened["agent"] == "Agent-7" and opened["refs"] is None

    again = project.cli("start", "--type", "jot", "--repo", project.root, "--agent", "Agent-9")
    assert again.exit_code == 0
    assert f"a jot session in {project.root} is already open since {opened['started_at']} by Agent-7; kept it" in again.stdout
    assert project.state()["open"] == opened

    restarted = project.cli("start", "--type", "jot", "--repo", project.root, "--agent", "Agent-9", "--restart", "--json")
    assert restarted.exit_code == 0
    shown = restarted.json()
    assert shown["agent"] == "Agent-9" and shown["already_open"] is False
    assert project.state()["open"]["agent"] == "Agent-9"


def test_start_refuses_an_unknown_type_and_a_missing_folder(project: Project) -> None:
    unknown = project.cli("start", "--type", "gardening", "--repo", project.root)
    assert unknown.exit_code == 2 and "unknown session type 'gardening'" in unknown.stderr
    missing = project.cli("start", "--type", "jot", "--repo", project.root / "nope")
    assert missing.exit_code == 2 and "nope: no such folder" in missing.stderr
    assert not (project.root / "state" / "sessions").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_start_in_a_repository_git_refuses_says_why(project: Project) -> None:
    # Another user's clone: git refuses it ("dubious ownership"); start said "(not a git
    # repository)", recorded no branches, and only the end failed.
    subprocess.run(["git", "init", "-q", str(project.root)], check=True)
    os.chown(project.root, 65534, 65534)
    if subprocess.run(["git", "-C", str(project.root), "rev-parse"], capture_output=True).returncode == 0:
        pytest.skip("this git trusts every repository (safe.directory = *)")
    result = project.cli("start", "--type", "jot", "--repo", project.root)
    assert result.exit_code == 2, result.output
    assert f"{project.root}: git cannot read this repository: detected dubious ownership" in result.stderr
    assert f"(to trust it: git config --global --add safe.directory {project.root})" in result.stderr
    assert result.stderr.count("\n") == 1 and not (project.root / "state" / "sessions").exists()


def test_start_in_a_repository_whose_config_includes_a_fifo_gives_up(project: Project, monkeypatch) -> None:
    # Every git command there waited for the FIFO's writer for ever (a tarball can hold both).
    subprocess.run(["git", "init", "-q", str(project.root)], check=True)
    os.mkfifo(project.root / ".git" / "evil")
    with open(project.root / ".git" / "config", "a", encoding="utf-8") as config:
        config.write("[include]\n\tpath = evil\n")
    monkeypatch.setattr("flywheel_core.tracking.GIT_TIMEOUT", 1.0)
    result = project.cli("start", "--type", "jot", "--repo", project.root)
    assert result.exit_code == 2, result.output
    assert f"{project.root}: git did not answer within 1 s: does the repository's config (an [include] path)" in result.stderr


# -- end ------------------------------------------------------------------------------------------


def test_end_writes_the_session_file_runs_publishes_and_prints_one_summary(project: Project) -> None:
    project.cli("start", "--type", "jot", "--repo", project.root, "--agent", "Agent-7")
    result = project.end("--title", "Garden day", "--summary", "Tomatoes in", "--lesson", "water first",
                         "--lesson", "then weed", "--next", "harvest")
    assert result.exit_code == 0, result.output
    [file] = project.sessions()
    doc = json.loads(file.read_text())
    assert file.name == f"{doc['session_id']}_jot.json", "named <session_id>_<type>.json as the guide does"
    assert doc["agent_id"] == "Agent-7", "the agent recorded by start"
    seen = doc["source_data"]["options"]
    assert seen["title"] == "Garden day" and seen["summary"] == "Tomatoes in"
    assert seen["lessons"] == ["water first", "then weed"] and seen["next_steps"] == ["harvest"]
    assert seen["started_at"] == doc["metadata"]["started_at"] and seen["since"] == seen["started_at"]
    assert doc["artifacts"]["summary"]["status"] == "published"
    assert project.shelf_log() == [{"session": doc["session_id"], "kind": "summary"}]
    url = f"https://shelf.example/{doc['session_id']}/summary.md"
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"session sessions/{file.name}: complete (jot {doc['session_id']}, ")
    assert lines[1].startswith("  wrote summary") and lines[1].endswith(f"out/jot/{doc['session_id']}/summary.md")
    assert lines[2].startswith(f"  published summary -> shelf: {url} (commit ")
    assert len(lines) == 3
    assert "flywheel: note: read the notes" in result.stderr
    assert "open" not in project.state(), "the end closed the session"


def test_end_twice_with_nothing_new_writes_nothing_and_says_so(project: Project) -> None:
    assert project.end().exit_code == 0
    state, files, log = project.state(), [p.read_bytes() for p in project.sessions()], project.shelf_log()
    again = project.end()
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("nothing new since the last end at ")
    assert "it is the session ended last" in again.stdout
    assert project.state() == state and [p.read_bytes() for p in project.sessions()] == files
    assert project.shelf_log() == log and len(project.entries()) == 1


def test_a_collector_with_nothing_to_collect_is_nothing_new_and_the_start_stays_open(project: Project) -> None:
    project.cli("start", "--type", "jot", "--repo", project.root)
    project.notes.write_text("\n")
    result = project.end()
    assert result.exit_code == 0
    assert result.stdout.startswith("nothing new since the session started at ") and "no lines" in result.stdout
    assert project.sessions() == [] and "open" in project.state()


def test_duration_is_measured_from_the_start_and_a_declared_one_wins(project: Project) -> None:
    from flywheel_core.config import load_config
    from flywheel_core.tracking import end_session, start_session

    config = load_config(project.config)
    began = datetime(2025, 12, 2, 5, 0, tzinfo=timezone.utc)
    start_session(config, project.host, session_type="jot", folder=project.root, now=began)
    done = end_session(config, project.host, session_type="jot", folder=project.root,
                       options={"notes": str(project.notes)}, now=began + timedelta(minutes=47, seconds=20))
    assert done.status == "complete" and done.duration_minutes == 47
    meta = json.loads(done.session_file.read_text())["metadata"]
    assert meta["duration_minutes"] == 47, "measured from start to end: the collector's 5 is replaced"
    assert (meta["started_at"], meta["ended_at"]) == ("2025-12-02T05:00:00Z", "2025-12-02T05:47:20Z")

    project.notes.write_text("another day\n")
    start_session(config, project.host, session_type="jot", folder=project.root, now=began)
    declared = end_session(config, project.host, session_type="jot", folder=project.root, duration=90,
                           options={"notes": str(project.notes)}, now=began + timedelta(minutes=10))
    assert json.loads(declared.session_file.read_text())["metadata"]["duration_minutes"] == 90


def test_without_a_start_the_collector_gets_the_last_end_or_nothing(project: Project) -> None:
    first = project.end("--json").json()
    assert first["started_at"] is None and first["duration_minutes"] == 5, "no start: the collector's own value"
    options = json.loads(Path(first["session_file"]).read_text())["source_data"]["options"]
    assert options["since"] is None and options["started_at"] is None
    project.notes.write_text("next day\n")
    second = project.end("--json").json()
    options = json.loads(Path(second["session_file"]).read_text())["source_data"]["options"]
    assert options["since"] == first["ended_at"], "since the previous end"
    project.notes.write_text("third day\n")
    third = project.end("--since", "2025-12-01T00:00:00Z", "--json").json()
    options = json.loads(Path(third["session_file"]).read_text())["source_data"]["options"]
    assert options["since"] == second["ended_at"], "--since only when nothing recorded says where to begin"
    assert len(project.sessions()) == 3


def test_since_is_used_when_nothing_was_recorded(project: Project) -> None:
    shown = project.end("--since", "2025-12-01T00:00:00Z", "--json").json()
    assert json.loads(Path(shown["session_file"]).read_text())["source_data"]["options"]["since"] == "2025-12-01T00:00:00Z"


def test_the_repositorys_own_config_applies_wherever_flywheel_runs(project: Project, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"  # a hook or cron starts flywheel anywhere
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run_cli(["end", "--type", "jot", "--repo", project.root, "--notes", project.notes], host=project.host)
    assert result.exit_code == 0, result.output
    assert len(project.sessions()) == 1 and len(project.shelf_log()) == 1
    assert list(elsewhere.iterdir()) == []
    (elsewhere / "other.toml").write_text('sessions_dir = "mine"\nstate_dir = "state"\n')
    project.notes.write_text("another day\n")
    named = run_cli(["end", "--type", "jot", "--repo", project.root, "--notes", project.notes, "--config", "other.toml"],
                    host=project.host)
    assert named.exit_code == 0, named.output
    assert len(list((elsewhere / "mine").iterdir())) == 1, "--config is relative to where flywheel runs, as everywhere"


def test_end_json_is_one_document_for_machines(project: Project) -> None:
    result = project.end("--json")
    assert result.exit_code == 0
    shown = result.json()
    assert shown["status"] == "complete" and shown["exit_code"] == 0 and shown["session_type"] == "jot"
    assert shown["artifacts"]["summary"]["path"].endswith("summary.md")
    [receipt] = shown["receipts"]
    assert receipt["target"] == "shelf" and receipt["url"].startswith("https://shelf.example/")
    assert shown["pending"] == [] and shown["notes"] == ["read the notes"]
    again = project.end("--json").json()
    assert again["status"] == "nothing-new" and again["session_file"] is None


def test_no_publish_enqueues_and_says_what_waits(project: Project) -> None:
    result = project.end("--no-publish")
    assert result.exit_code == 0, result.output
    [entry] = project.entries()
    assert entry["status"] == "queued"
    assert f"  queued summary -> shelf (entry {entry['id']}) (publish with `flywheel publish`)" in result.stdout
    assert project.shelf_log() == []
    assert project.cli("publish").exit_code == 0 and len(project.shelf_log()) == 1


def test_strict_refuses_a_warning_before_anything_is_written(project: Project) -> None:
    project.notes.write_text("WARN me\n")
    result = project.end("--strict")
    assert result.exit_code == 2
    assert "--strict: the collector warned (1 warning(s)), nothing was written; first: the notes ask for a warning" in result.stderr
    assert project.sessions() == [] and not (project.root / "out").exists()
    lenient = project.end()
    assert lenient.exit_code == 0 and "warning: the notes ask for a warning" in lenient.stderr


def test_bad_options_are_one_line_exit_2(project: Project) -> None:
    no_notes = project.cli("end", "--type", "jot", "--repo", project.root)
    assert no_notes.exit_code == 2 and no_notes.stderr == "flywheel: error: a jot session needs --notes FILE\n"
    bad_target = project.root / "bad.toml"
    bad_target.write_text('sessions_dir = "sessions"\n[targets.nowhere]\n')
    refused = run_cli(["end", "--type", "jot", "--repo", project.root, "--notes", project.notes, "--config", bad_target],
                      host=project.host)
    assert refused.exit_code == 2 and "nowhere" in refused.stderr
    assert project.sessions() == [] and not (project.root / "state").exists(), "refused before anything was recorded"


def test_a_type_without_a_collector_says_so(project: Project) -> None:
    from flywheel_core import SessionType

    class Plain:
        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("plain", "no collector")]

    project.host.register(Plain(), name="plain", distribution="flywheel-plain")
    result = project.cli("end", "--type", "plain", "--repo", project.root)
    assert result.exit_code == 2
    assert "plugin plain (flywheel-plain) owns session type 'plain' but cannot collect one" in result.stderr


# -- the hook ---------------------------------------------------------------------------------


def test_collect_session_asks_only_the_owner_and_checks_its_answer(project: Project, tmp_path: Path) -> None:
    import flywheel_core as fw
    from flywheel_core import NothingToCollect, PluginError, SessionType

    asked: list[str] = []

    class Greedy:
        """Answers for every type: must never be asked for one it does not own."""

        @hookimpl
        def flywheel_session_types(self):
            return [SessionType("odd", "returns junk"), SessionType("sly", "names a file outside")]

        @hookimpl
        def flywheel_collect_session(self, session_type, options, ctx):
            asked.append(session_type)
            if session_type == "sly":
                return {"session_id": "../../outside", "session_type": "sly"}
            return ["not", "a", "document"] if session_type == "odd" else {"session_id": "x", "session_type": session_type}

    project.host.register(Greedy(), name="greedy", distribution="flywheel-greedy")
    got = fw.collect_session("jot", {"notes": str(project.notes), "agent_id": "A"}, config=project.config,
                             host=project.host, session_path=tmp_path / "out" / "s.json")
    assert got.document["agent_id"] == "A" and got.notes == ["read the notes"] and got.problems == []
    assert asked == [], "the jot plugin owns jot: the greedy one was not asked"
    with pytest.raises(PluginError, match=r"plugin greedy \(flywheel-greedy\) returned list"):
        fw.collect_session("odd", {}, config=project.config, host=project.host)
    sly = project.cli("end", "--type", "sly", "--repo", project.root)
    assert sly.exit_code == 1 and "returned session_id '../../outside', which does not match" in sly.stderr
    assert project.sessions() == [] and not (project.root.parent / "outside_sly.json").exists()
    project.notes.write_text("")
    with pytest.raises(NothingToCollect, match="no lines"):
        fw.collect_session("jot", {"notes": str(project.notes)}, config=project.config, host=project.host)


def test_collect_session_fires_before_the_pipeline_hooks_in_end(project: Project) -> None:
    class Every:
        @hookimpl
        def flywheel_collect(self, session, ctx):
            pass

        @hookimpl
        def flywheel_validate(self, session, ctx):
            pass

    project.host.register(Every(), name="every")
    seen: list[str] = []
    undo = project.host.pm.add_hookcall_monitoring(lambda name, impls, kw: seen.append(name), lambda *a: None)
    try:
        assert project.end().exit_code == 0
    finally:
        undo()
    order = [h for i, h in enumerate(seen) if h.startswith("flywheel_") and (i == 0 or seen[i - 1] != h)]
    wanted = ["flywheel_collect_session", "flywheel_collect", "flywheel_validate", "flywheel_generate", "flywheel_publish"]
    assert [h for h in order if h in wanted] == wanted


# -- the guide's own commands ------------------------------------------------------------------


def test_run_takes_the_guides_session_file_flag(project: Project) -> None:
    assert project.end("--no-publish").exit_code == 0
    [file] = project.sessions()
    result = project.cli("run", "--session-file", file, "--publish")
    assert result.exit_code == 0, result.output
    assert f"{file}: complete (jot " in result.stdout and "published summary of jot-" in result.stdout
    neither = project.cli("run")
    assert neither.exit_code == 2 and "name at least one session file" in neither.stderr


def test_queue_add_takes_the_guides_add_entry_arguments(project: Project) -> None:
    assert project.end("--no-publish").exit_code == 0
    [entry] = project.entries()
    extra = project.root / "out" / "jot" / entry["session_id"] / "notes.md"
    extra.write_text("# more\n")
    added = project.cli("queue", "add", "--add-entry", "--type", "notes", "--file", extra, "--targets", "shelf")
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("queued: entry ") and added.stdout.endswith(" notes -> shelf\n")
    both = project.cli("queue", "add", extra, "--file", extra, "--type", "notes", "--targets", "shelf")
    assert both.exit_code == 2 and "name the artifact file once" in both.stderr


# -- the Python API ------------------------------------------------------------------------------


def test_python_api_in_process_returns_typed_results(project: Project) -> None:
    import flywheel_core as fw

    tracker = fw.start_session("jot", repo=project.root, agent="Agent-7", config=project.config, host=project.host)
    assert isinstance(tracker, fw.SessionTracker) and not tracker.already_open and tracker.folder == project.root
    result = tracker.end(summary="in-process", lessons=["typed"], notes=str(project.notes))
    assert isinstance(result, fw.EndResult) and result.ok and not result.nothing_new
    assert isinstance(result.session_file, Path) and result.session_file.parent == project.root / "sessions"
    artifact = result.artifacts["summary"]
    assert isinstance(artifact, fw.ArtifactFile) and artifact.path.read_text() == "planted tomatoes\nfixed the fence\n"
    [receipt] = result.receipts
    assert isinstance(receipt, fw.Receipt) and receipt.url and receipt.commit and receipt.target == "shelf"
    again = fw.end_session("jot", repo=project.root, notes=str(project.notes), config=project.config, host=project.host)
    assert again.nothing_new and again.session_file is None and again.exit_code == 0

    outcome = fw.run_session_file(result.session_file, publish=True, config=project.config, host=project.host)
    assert isinstance(outcome, fw.SessionOutcome) and outcome.status == "complete" and outcome.receipts == [receipt]
    assert len(project.shelf_log()) == 1, "running it again publishes nothing twice"


def test_python_api_raises_what_the_cli_maps_to_exit_codes(project: Project) -> None:
    import flywheel_core as fw

    with pytest.raises(fw.UsageError, match="a jot session needs --notes FILE") as usage:
        fw.end_session("jot", repo=project.root, config=project.config, host=project.host)
    assert usage.value.exit_code == 2
    broken = project.root / "broken.json"
    broken.write_text('{"session_id": "x", "session_type": "jot"}')
    with pytest.raises(fw.InputError) as bad:
        fw.run_session_file(broken, config=project.config, host=project.host)
    assert bad.value.exit_code == 2 and bad.value.file == str(broken) and "more problem" in str(bad.value)
    with pytest.raises(fw.UsageError, match="lessons must be a list of strings"):
        fw.end_session("jot", repo=project.root, lessons="one", notes=str(project.notes), config=project.config,
                       host=project.host)


API_SCRIPT = textwrap.dedent('''
    import json, sys
    import flywheel_core as fw

    config, notes, repo = sys.argv[1:4]
    tracker = fw.start_session("jot", repo=repo, agent="Agent-7", config=config)
    result = tracker.end(summary="from a script", notes=notes)
    print(json.dumps({"file": str(result.session_file), "path": str(result.artifacts["summary"].path),
                      "urls": [r.url for r in result.receipts], "exit": result.exit_code}))
    try:
        fw.end_session("gardening", repo=repo, config=config)
    except fw.UsageError as exc:
        print(json.dumps({"error": str(exc), "exit": exc.exit_code}))
''')


def test_python_api_from_a_script_prints_nothing_of_its_own(project: Project, fake_dist) -> None:
    env = fake_dist("flywheel-jot", JOT)
    script = project.root / "agent.py"
    script.write_text(API_SCRIPT)
    done = subprocess.run([sys.executable, script, project.config, project.notes, project.root], env=env,
                          capture_output=True, text=True, cwd=project.root, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "the API prints nothing (no progress bar off a terminal either)"
    first, second = map(json.loads, done.stdout.splitlines())
    assert Path(first["file"]).is_file() and Path(first["path"]).read_text().startswith("planted tomatoes")
    assert first["urls"][0].startswith("https://shelf.example/jot-") and first["exit"] == 0
    assert second["exit"] == 2 and "unknown session type 'gardening'" in second["error"]


# -- killed at every step, finished by the next end (or publish), never twice -------------------


CRASH_POINTS = ["after_end_recorded", "after_session_file", "after_write", "after_enqueue", "after_claim",
                "before_queue_update", "after_queue_update", "before_end_done"]


@pytest.mark.parametrize("step,finisher", [*((s, "end") for s in CRASH_POINTS),
                                           ("after_enqueue", "publish"), ("before_queue_update", "publish")])
def test_end_killed_at_each_step_is_finished_once(project: Project, fake_dist, step: str, finisher: str) -> None:
    env = {**fake_dist("flywheel-jot", JOT), "FLYWHEEL_TEST_CRASH_AT": step}
    crashed = subprocess.run([FLYWHEEL, "end", "--type", "jot", "--repo", project.root, "--notes", project.notes,
                              "--config", project.config], env=env, capture_output=True, text=True, cwd=project.root,
                             check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    published_before = len(project.shelf_log())
    assert published_before == (1 if step in ("before_queue_update", "after_queue_update", "before_end_done") else 0)

    if finisher == "publish":
        assert project.cli("publish").exit_code == 0
        assert len(project.shelf_log()) == 1
    finished = project.end()
    assert finished.exit_code == 0, finished.output
    if step == "after_end_recorded":  # nothing was written: this end simply does it
        assert finished.stdout.startswith("session sessions/")
    else:
        assert finished.stdout.startswith("finished an end that was interrupted:\n  session sessions/")
        assert "\nnothing new since the last end at " in finished.stdout
    [file] = project.sessions()
    doc = json.loads(file.read_text())
    assert project.shelf_log() == [{"session": doc["session_id"], "kind": "summary"}], "published exactly once"
    assert doc["artifacts"]["summary"]["status"] == "published"
    assert [e["status"] for e in project.entries()] == ["published"]
    state = project.state()
    assert "ending" not in state and state["last_end"]["session_id"] == doc["session_id"]

    again = project.end()
    assert again.exit_code == 0 and again.stdout.startswith("nothing new since the last end at ")
    assert len(project.shelf_log()) == 1 and len(project.sessions()) == 1


# -- progress ------------------------------------------------------------------------------------


def test_run_over_many_sessions_draws_a_bar_only_on_a_terminal(project: Project, fake_dist) -> None:
    from flywheel_core.testing import run_on_terminal

    env = fake_dist("flywheel-jot", JOT)
    files = []
    for i in range(3):
        project.notes.write_text(f"day {i}\n")
        assert project.end("--no-publish").exit_code == 0
    files = [str(p) for p in project.sessions()]
    env = {k: v for k, v in env.items() if k not in ("NO_COLOR", "TERM")} | {"TERM": "xterm-256color"}
    shown = run_on_terminal([FLYWHEEL, "run", *files, "--config", project.config], env=env, cwd=project.root)
    assert shown.exit_code == 0, shown.terminal
    assert "running sessions" in shown.terminal and "/3" in shown.terminal
    piped = subprocess.run([FLYWHEEL, "run", *files, "--config", project.config], env=env, capture_output=True,
                           text=True, cwd=project.root, check=False)
    assert piped.returncode == 0 and piped.stderr == ""


def test_a_start_made_after_a_killed_end_stays_open(project: Project, fake_dist) -> None:
    from flywheel_core.config import load_config
    from flywheel_core.tracking import start_session

    env = {**fake_dist("flywheel-jot", JOT), "FLYWHEEL_TEST_CRASH_AT": "after_enqueue"}
    start = datetime(2025, 12, 2, 5, 0, tzinfo=timezone.utc)
    start_session(load_config(project.config), project.host, session_type="jot", folder=project.root, now=start)
    crashed = subprocess.run([FLYWHEEL, "end", "--type", "jot", "--repo", project.root, "--notes", project.notes,
                              "--config", project.config], env=env, capture_output=True, text=True, check=False)
    assert crashed.returncode == -signal.SIGKILL
    restarted = project.cli("start", "--type", "jot", "--repo", project.root, "--restart")
    assert restarted.exit_code == 0
    new_start = project.state()["open"]["started_at"]
    finished = project.end()
    assert finished.stdout.startswith("finished an end that was interrupted:")
    assert project.state()["open"]["started_at"] == new_start, "the new session is still open"
    assert len(project.shelf_log()) == 1


def test_two_ends_at_once_make_one_session(project: Project, fake_dist) -> None:
    env = fake_dist("flywheel-jot", JOT)
    command = [FLYWHEEL, "end", "--type", "jot", "--repo", project.root, "--notes", project.notes, "--config",
               project.config]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    said = sorted(out.split(" ", 1)[0] for out, _ in outputs)
    assert said == ["nothing", "session"], outputs
    assert len(project.sessions()) == 1 and len(project.shelf_log()) == 1

