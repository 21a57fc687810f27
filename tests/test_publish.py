"""`flywheel run` enqueueing, `flywheel publish` and `flywheel queue ...` end to end, with a real test target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from core_support import FLYWHEEL, SHELF, load
from flywheel_core import hookimpl
from flywheel_core.testing import QueueBackend, run_cli

ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
TOKEN = "ghp_" + "PublishCanary" * 3

class Project:
    def __init__(self, root: Path, host, backend: QueueBackend | None = None) -> None:
        self.root = root
        self.host = host
        self.backend = backend or QueueBackend("sqlite")
        self.config = root / "flywheel.toml"
        self.configure()

    def configure(self, targets: str = '[targets.shelf]\ndir = "shelf"\nfail_when = "FAIL"\nraise_when = "RAISE"\n',
                  queue: str = "") -> None:
        self.config.write_text(f'out_dir = "out"\nstate_dir = "state"\n[queue]\n{self.backend.toml}{queue}\n{targets}',
                               encoding="utf-8")

    def cli(self, *args):
        return run_cli([*map(str, args), "--config", self.config], host=self.host)

    def entries(self) -> list[dict]:
        result = self.cli("queue", "list", "--json")
        assert result.exit_code == 0, result.output
        return result.json()

    def shelf_log(self) -> list[dict]:
        path = self.root / "shelf" / "log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _shelf_module():
    module = types.ModuleType("shelf_target")
    exec(compile(SHELF, "shelf_target.py", "exec"), module.__dict__)
    return module


@pytest.fixture
def project(tmp_path: Path, echo_host, queue_backend: QueueBackend) -> Project:
    echo_host.register(_shelf_module(), name="shelf", distribution="flywheel-shelf", version="1")
    return Project(tmp_path, echo_host, queue_backend)


def test_run_enqueues_each_artifact_for_each_enabled_target(project: Project, example) -> None:
    session = example()
    result = project.cli("run", session)
    assert result.exit_code == 0, result.output
    assert "  queued for shelf: summary" in result.stdout
    assert result.stdout.endswith("\nqueued, not published yet: `flywheel publish` sends them (or run with --publish)\n")
    [entry] = project.entries()
    assert entry["status"] == "queued" and entry["kind"] == "summary" and entry["session_id"] == ID
    assert entry["files"] == ["data.json", "summary.md"]
    record = load(session)["artifacts"]["summary"]
    assert record["status"] == "queued" and not record.get("published_to")
    again = project.cli("run", session)
    assert again.exit_code == 0
    assert len(project.entries()) == 1, "the same content is not enqueued twice"


def test_publish_sends_the_enqueued_bytes_once_and_mirrors_the_session(project: Project, example) -> None:
    session = example()
    assert project.cli("run", session).exit_code == 0
    summary = project.root / "out" / "build" / ID / "summary.md"
    original = summary.read_bytes()
    summary.write_text("changed after enqueueing")  # the queue publishes what it was given
    result = project.cli("publish")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"published summary of {ID} -> shelf: path {ID}/summary.md\n"
    assert (project.root / "shelf" / ID / "summary.md").read_bytes() == original
    assert (project.root / "shelf" / ID / "data.json").read_text() == "{}\n"
    [logged] = project.shelf_log()
    meta = logged["meta"]
    assert meta["date"] == "2025-12-02T05:20:00Z" and meta["session_type"] == "build" and meta["agent_id"]
    assert meta["title"] == f"Session {ID}" and meta["generator"] == "echo" and meta["kind"] == "summary"
    assert meta["session_path"] == str(session.resolve())
    record = load(session)["artifacts"]["summary"]
    assert record["status"] == "published"
    assert record["published_to"] == {"shelf": {"path": f"{ID}/summary.md"}}
    second = project.cli("publish")
    assert second.exit_code == 0 and second.stdout == "nothing is due\n"
    assert len(project.shelf_log()) == 1


def test_run_publish_does_both(project: Project, example) -> None:
    result = project.cli("run", example(), "--publish")
    assert result.exit_code == 0, result.output
    assert f"published summary of {ID} -> shelf" in result.stdout
    assert [e["status"] for e in project.entries()] == ["published"]


def test_run_publish_that_sends_nothing_says_why(project: Project, example) -> None:
    session = example()
    assert project.cli("run", session, "--publish").exit_code == 0
    again = project.cli("run", session, "--publish")
    assert again.exit_code == 0, again.output
    assert "nothing new to publish: the queue already has every artifact" in again.stdout
    project.configure(targets="")
    none = project.cli("run", session, "--publish")
    assert none.exit_code == 0, none.output
    assert f"nothing to publish: no publication target is enabled in {project.config}" in none.stdout


def test_dry_run_says_what_and_where_and_changes_nothing(project: Project, example) -> None:
    session = example()
    project.cli("run", session)
    before = (session.read_bytes(), project.entries())
    result = project.cli("publish", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"would publish summary of {ID} -> shelf: path {ID}/summary.md\n"
    assert (session.read_bytes(), project.entries()) == before
    assert not (project.root / "shelf").exists()


def test_dry_run_without_a_queue_creates_nothing(project: Project) -> None:
    result = project.cli("publish", "--dry-run")
    assert result.exit_code == 0 and "nothing is due" in result.stdout
    assert not (project.root / "state").exists()


def test_failure_is_printed_redacted_backed_off_mirrored_and_retried(project: Project, example) -> None:
    session = example()
    project.cli("run", session)
    (project.root / "FAIL").write_text(f"shelf full (auth {TOKEN})")
    result = project.cli("publish")
    assert result.exit_code == 1
    assert f"FAILED summary of {ID} -> shelf (failed, attempt 1; next attempt after " in result.stderr
    assert "shelf full (auth ***)" in result.stderr and TOKEN not in result.output
    [entry] = project.entries()
    assert entry["status"] == "failed" and entry["attempts"] == 1 and entry["next_attempt_at"]
    record = load(session)["artifacts"]["summary"]
    assert record["status"] == "failed"
    assert record["published_to"]["shelf"]["error"] == "shelf full (auth ***)"
    assert TOKEN not in session.read_text()
    waiting = project.cli("publish").stdout
    assert waiting.startswith("nothing is due; 1 waiting for their next attempt (the first at "), "backing off"
    assert "`flywheel queue retry --failed` retries failed ones now" in waiting
    (project.root / "FAIL").unlink()
    retry = project.cli("queue", "retry", str(entry["id"]))
    assert retry.exit_code == 0 and retry.stdout == f"1 entry queued again: {entry['id']}\n"
    assert project.cli("publish").exit_code == 0
    record = load(session)["artifacts"]["summary"]
    assert record["status"] == "published" and record["errors"] == []


def test_dead_after_max_attempts_and_revived_by_retry_failed(project: Project, example, caplog) -> None:
    project.configure(queue="max_attempts = 2\nbackoff_seconds = 0")
    session = example()
    project.cli("run", session)
    (project.root / "FAIL").write_text("nope")
    assert project.cli("publish").exit_code == 1
    assert project.cli("publish").exit_code == 1
    [entry] = project.entries()
    assert entry["status"] == "dead" and entry["attempts"] == 2
    assert project.cli("publish").stdout == "nothing is due\n"
    rerun = project.cli("run", session)
    assert rerun.exit_code == 0 and "queued" not in rerun.stdout
    assert f"`flywheel queue retry {entry['id']}` tries it again" in caplog.text
    listed = project.cli("queue", "list", "--status", "dead")
    assert f"dead        shelf     {ID}" in listed.stdout
    (project.root / "FAIL").unlink()
    assert project.cli("queue", "retry", "--failed").stdout == f"1 entry queued again: {entry['id']}\n"
    assert project.cli("publish").exit_code == 0


def test_exception_in_the_target_fails_the_whole_batch_redacted(project: Project, example, tmp_path) -> None:
    project.cli("run", example())
    other = tmp_path / "second.json"
    other.write_text(example().read_text().replace(ID, "second-session"))
    project.cli("run", other)
    (project.root / "RAISE").write_text(f"remote said https://bob:{TOKEN}@example.com")
    result = project.cli("publish")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    # One failure of the whole batch is said once, with the entries it hit below it.
    assert lines[0] == "FAILED 2 entries -> shelf: target 'shelf' failed: RuntimeError: remote said https://***@example.com"
    assert sorted(line.split(" (")[0] for line in lines[1:]) == [f"  summary of {ID}", "  summary of second-session"]
    assert TOKEN not in result.output
    assert {e["status"] for e in project.entries()} == {"failed"}


def test_a_newer_version_supersedes_the_queued_one(project: Project, example) -> None:
    session = example()
    project.cli("run", session)
    data = load(session)
    data["source_data"]["git_commits"][0]["message"] = "feat: a changed message"
    session.write_text(json.dumps(data))
    project.cli("run", session)
    statuses = [e["status"] for e in project.entries()]
    assert statuses == ["superseded", "queued"]
    assert project.cli("publish").exit_code == 0
    [logged] = project.shelf_log()
    assert logged["sha"] == load(session)["artifacts"]["summary"]["sha256"]
    assert "a changed message" in (project.root / "shelf" / ID / "summary.md").read_text()


def test_unknown_target_is_an_error_at_enqueue_time(project: Project, example) -> None:
    project.configure(targets='[targets.github]\nremote = "x"\n')
    result = project.cli("run", example())
    assert result.exit_code == 2
    assert "no installed plugin provides publication target 'github'" in result.stderr
    assert "pip install ./plugins/flywheel_publish_github" in result.stderr
    assert "Traceback" not in result.output


def test_a_misspelt_target_names_the_file_and_the_installed_targets(project: Project, example) -> None:
    project.configure(targets='[targets.shelff]\ndir = "shelf"\n')
    result = project.cli("run", example())
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"flywheel: error: {project.config}: $.targets.shelff: no installed plugin "
                                      "provides publication target 'shelff' (installed: shelf)")


def test_an_unset_token_variable_names_the_config_file(project: Project, example, monkeypatch) -> None:
    monkeypatch.delenv("SHELF_TOKEN_NEVER_SET", raising=False)
    project.configure(targets='[targets.shelf]\ndir = "shelf"\ntoken = {"$env" = "SHELF_TOKEN_NEVER_SET"}\n')
    result = project.cli("run", example())
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"flywheel: error: {project.config}: targets.shelf.token: "
                                      "environment variable 'SHELF_TOKEN_NEVER_SET' is not set")


def test_target_table_is_checked_against_the_targets_schema(project: Project, example) -> None:
    project.configure(targets='[targets.shelf]\ncolour = "red"\n')
    result = project.cli("run", example())
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("flywheel.toml: $.targets.shelf.colour: unknown key")


def test_disabled_target_is_not_enqueued_and_refused_by_name(project: Project, example) -> None:
    project.configure(targets='[targets.shelf]\ndir = "shelf"\nenabled = false\n')
    session = example()
    result = project.cli("run", session)
    assert result.exit_code == 0 and "queued" not in result.stdout
    path = project.root / "out" / "build" / ID / "summary.md"
    added = project.cli("queue", "add", path, "--kind", "summary", "--targets", "shelf")
    assert added.exit_code == 2 and "target 'shelf' is disabled" in added.stderr
    assert project.cli("publish", "--target", "shelf").exit_code == 2


def test_queue_add_only_takes_files_from_the_output_folder(project: Project, example, tmp_path) -> None:
    session = example()
    project.cli("run", session)
    outside = tmp_path / "notes.md"
    outside.write_text("not an artifact")
    result = project.cli("queue", "add", outside, "--kind", "notes", "--targets", "shelf")
    assert result.exit_code == 2 and "is outside the output folder" in result.stderr
    sneaky = project.root / "out" / ".." / "notes.md"
    assert project.cli("queue", "add", sneaky, "--kind", "notes", "--targets", "shelf").exit_code == 2
    assert project.cli("queue", "add", project.root / "out/build/x.md", "--kind", "n", "--targets", "shelf").exit_code == 2
    assert project.cli("queue", "add", session, "--kind", "bad kind", "--targets", "shelf").exit_code == 2


def test_queue_add_with_session_records_the_outcome(project: Project, example) -> None:
    session = example()
    project.configure(targets='[targets.shelf]\ndir = "shelf"\nenabled = false\n')
    project.cli("run", session)
    project.configure()
    notes = project.root / "out" / "build" / ID / "notes.md"
    notes.write_text("# Notes\n")
    added = project.cli("queue", "add", notes, "--kind", "notes", "--targets", "shelf", "--session", session)
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("queued: entry 1 notes -> shelf")
    again = project.cli("queue", "add", notes, "--kind", "notes", "--targets", "shelf", "--session", session)
    assert again.stdout.startswith("already queued: entry 1")
    assert project.cli("publish").exit_code == 0
    assert (project.root / "shelf" / ID / "notes.md").read_text() == "# Notes\n"
    record = load(session)["artifacts"]["notes"]
    assert record["status"] == "published" and record["path"] == str(notes)
    assert project.shelf_log()[0]["meta"]["date"] == "2025-12-02T05:20:00Z"


def test_queue_add_without_session_infers_it_from_the_path(project: Project) -> None:
    path = project.root / "out" / "trade" / "t-1" / "journal.md"
    path.parent.mkdir(parents=True)
    path.write_text("# Journal\n")
    result = project.cli("queue", "add", path, "--kind", "trade_journal", "--targets", "shelf", "--json")
    assert result.exit_code == 0, result.output
    [entry] = project.entries()
    assert (entry["session_id"], entry["session_type"], entry["files"]) == ("t-1", "trade", ["trade_journal.md"])


def test_missing_session_file_is_a_warning_not_a_failure(project: Project, example, caplog) -> None:
    session = example()
    project.cli("run", session)
    session.unlink()
    result = project.cli("publish")
    assert result.exit_code == 0, result.output
    assert [e["status"] for e in project.entries()] == ["published"]
    assert f"could not record publication state in {session.resolve()}" in caplog.text


def test_list_stats_and_usage_errors(project: Project, example) -> None:
    assert project.cli("queue", "list").stdout == "the queue is empty\n"
    assert not (project.root / "state").exists(), "listing does not create a queue"
    project.cli("run", example())
    listed = project.cli("queue", "list")
    assert listed.stdout.splitlines()[0].split() == ["ID", "STATUS", "TARGET", "SESSION", "KIND", "TRIES", "DETAIL"]
    assert project.cli("queue", "list", "--status", "bogus").exit_code == 2
    stats = project.cli("queue", "stats", "--json").json()
    assert stats["targets"]["shelf"]["queued"] == 1 and stats["due_now"] == 1
    text = project.cli("queue", "stats").stdout
    assert "due now: 1" in text
    assert project.cli("queue", "retry").exit_code == 2
    assert project.cli("queue", "retry", "1", "--failed").exit_code == 2
    assert project.cli("publish", "--target", "nope").exit_code == 2
    published = project.cli("publish", "--json")
    assert published.exit_code == 0
    [outcome] = published.json()
    assert outcome["status"] == "published" and outcome["receipt"] == {"path": f"{ID}/summary.md"}


def test_corrupt_queue_is_a_one_line_error_in_a_real_process(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "queue.sqlite3").write_bytes(b"garbage" * 1000)
    (tmp_path / "flywheel.toml").write_text('state_dir = "state"\n')
    env = dict(os.environ, FLYWHEEL_LOAD_PLUGINS="")
    proc = subprocess.run([FLYWHEEL, "queue", "list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "the publication queue is damaged or not an SQLite database" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / "state" / "queue.sqlite3").read_bytes() == b"garbage" * 1000


# -- many processes at once ---------------------------------------------------------------------

WORKER = textwrap.dedent('''
    import sys
    from pathlib import Path
    from flywheel_core.config import load_config
    from flywheel_core.plugins import get_host
    from flywheel_core.publishing import enqueue_file, publish

    config, host = load_config(Path(sys.argv[1])), get_host()
    worker, count = int(sys.argv[2]), int(sys.argv[3])
    for i in range(count):
        enqueue_file(config, host, config.out_dir / "build" / f"s{worker}-{i}" / "readme.md", "readme", ["shelf"])
        if i % 4 == 3:
            outcomes = publish(config, host).outcomes
            assert all(o.status == "published" for o in outcomes), outcomes
    outcomes = publish(config, host).outcomes
    assert all(o.status == "published" for o in outcomes), outcomes
''')


def _shelf_project(tmp_path: Path, fake_dist, backend: QueueBackend) -> tuple[Path, dict[str, str]]:
    env = fake_dist("shelf-target", SHELF)
    config = tmp_path / "flywheel.toml"
    config.write_text(f'out_dir = "out"\nstate_dir = "state"\n[queue]\nbackoff_seconds = 0\n{backend.toml}'
                      '[targets.shelf]\ndir = "shelf"\n')
    return config, env


def test_many_processes_enqueue_and_publish_at_once(tmp_path: Path, fake_dist, queue_backend) -> None:
    config, env = _shelf_project(tmp_path, fake_dist, queue_backend)
    workers, count = 4, 12
    for w in range(workers):
        for i in range(count):
            path = tmp_path / "out" / "build" / f"s{w}-{i}" / "readme.md"
            path.parent.mkdir(parents=True)
            path.write_text(f"# {w}-{i}\n")
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(config), str(w), str(count)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for w in range(workers)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "locked" not in err
    result = subprocess.run([FLYWHEEL, "queue", "list", "--json", "--config", config], env=env,
                            capture_output=True, text=True, check=True)
    entries = json.loads(result.stdout)
    assert len(entries) == workers * count
    assert {e["status"] for e in entries} == {"published"}
    logged = [json.loads(line)["id"] for line in (tmp_path / "shelf" / "log.jsonl").read_text().splitlines()]
    assert sorted(logged) == sorted(e["id"] for e in entries), "each entry published exactly once"


def test_concurrent_publish_commands_never_publish_twice(tmp_path: Path, fake_dist, queue_backend) -> None:
    config, env = _shelf_project(tmp_path, fake_dist, queue_backend)
    for i in range(30):
        path = tmp_path / "out" / "build" / f"s-{i}" / "readme.md"
        path.parent.mkdir(parents=True)
        path.write_text(f"# {i}\n")
    script = ("import sys; from pathlib import Path; from flywheel_core.config import load_config; "
              "from flywheel_core.plugins import get_host; from flywheel_core.publishing import enqueue_file; "
              "c = load_config(Path(sys.argv[1])); h = get_host(); "
              "[enqueue_file(c, h, p, 'readme', ['shelf']) for p in sorted(c.out_dir.rglob('readme.md'))]")
    subprocess.run([sys.executable, "-c", script, str(config)], env=env, check=True, cwd=tmp_path)
    procs = [subprocess.Popen([FLYWHEEL, "publish", "--config", config], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path) for _ in range(3)]
    published = 0
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        published += out.count("published readme")
    assert published == 30
    logged = [json.loads(line)["id"] for line in (tmp_path / "shelf" / "log.jsonl").read_text().splitlines()]
    assert sorted(logged) == list(range(1, 31))


def test_a_receipt_that_says_skipped_is_not_shown_as_a_url() -> None:
    # The web target stores a social post but shows no page for it; its receipt still has the
    # session's url, which must not read as "the social post is at this url".
    from flywheel_core.cli.queue import _summary

    receipt = {"url": "https://x.example/p/", "skipped": "kind 'social_post' is not shown on the site"}
    assert _summary(receipt) == "stored; kind 'social_post' is not shown on the site"
    assert _summary({"url": "https://x.example/p/"}) == "url https://x.example/p/"


def test_queue_add_with_session_brings_the_recorded_attachments_and_nothing_else(project: Project, example) -> None:
    # A devlog without its gallery images would publish broken images.
    session = example()
    project.configure(targets='[targets.shelf]\ndir = "shelf"\nenabled = false\n')
    project.cli("run", session)
    project.configure()
    folder = project.root / "out" / "build" / ID
    (folder / "media").mkdir()
    (folder / "media" / "pic.png").write_bytes(b"png bytes")
    notes = folder / "notes.md"
    notes.write_text("# Notes\n\n![pic](media/pic.png)\n")
    secret = project.root / "secret.txt"
    secret.write_text("SECRET")
    doc = load(session)
    doc["artifacts"]["notes"] = {"generated": True, "path": str(notes),
                                 "files": [str(folder / "media" / "pic.png"), str(secret), "../../../secret.txt"]}
    session.write_text(json.dumps(doc))
    added = project.cli("queue", "add", notes, "--kind", "notes", "--targets", "shelf", "--session", session)
    assert added.exit_code == 0, added.output
    [entry] = [e for e in project.entries() if e["kind"] == "notes"]
    assert sorted(entry["files"]) == ["media/pic.png", "notes.md"]
    assert project.cli("publish").exit_code == 0
    assert (project.root / "shelf" / ID / "media" / "pic.png").read_bytes() == b"png bytes"
    assert not (project.root / "shelf" / ID / "secret.txt").exists()


# -- a damaged queue is never taken for a new one ----------------------------------------------

def _queue_with_a_pending_entry(state: Path) -> Path:
    from flywheel_core.publishing import PublicationQueue

    with PublicationQueue.in_folder(state) as queue:
        queue.enqueue(target="shelf", session_id="s1", session_type="build", kind="readme", ext="md",
                      files={"readme.md": b"# pending\n"}, meta={})
    return state / "queue.sqlite3"


def _sqlite(path: Path, *statements: str) -> None:
    import sqlite3

    db = sqlite3.connect(path, isolation_level=None)
    for statement in statements:
        db.execute(statement)
    db.close()


DAMAGE = {
    "empty file": (lambda p: p.write_bytes(b""), "is an empty file (0 bytes), not a queue"),
    "not sqlite": (lambda p: p.write_bytes(b"garbage" * 1000), "is damaged or not an SQLite database"),
    "not a queue": (lambda p: (p.unlink(), _sqlite(p, "CREATE TABLE notes (x)")),
                    "is an SQLite database but not a flywheel publication queue"),
    "wrong schema": (lambda p: _sqlite(p, "DROP TABLE items"), "is not a flywheel publication queue (no such table"),
    "bad JSON in a row": (lambda p: _sqlite(p, "UPDATE items SET meta = '{\"title\": '"),
                          "entry 1: column 'meta' does not hold valid JSON"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:1500]), "is damaged or not an SQLite database"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_queue_is_a_one_line_error_never_a_new_queue(tmp_path: Path, damage: str) -> None:
    # A 0-byte queue.sqlite3 was taken for a new queue: its pending entries vanished, publish exited 0.
    path = _queue_with_a_pending_entry(tmp_path / "state")
    make, message = DAMAGE[damage]
    make(path)
    before = path.read_bytes()
    (tmp_path / "flywheel.toml").write_text('state_dir = "state"\n')
    env = dict(os.environ, FLYWHEEL_LOAD_PLUGINS="")
    for command in (["publish"], ["queue", "list"], ["queue", "stats"], ["publish", "--dry-run"]):
        proc = subprocess.run([FLYWHEEL, *command], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        assert proc.stderr.startswith(f"flywheel: error: {path}: ") and message in proc.stderr, proc.stderr
        assert len(proc.stderr.splitlines()) == 1 and "internal error" not in proc.stderr
        assert path.read_bytes() == before, "the damaged queue is left as it was"


# -- one plugin's failure costs only its own artifacts ------------------------------------------

class Broken:
    @hookimpl
    def flywheel_generate(self, session, ctx):
        raise RuntimeError("the third-party generator broke")


def test_a_generator_that_raises_leaves_the_other_artifacts_enqueued(project: Project, example) -> None:
    project.host.register(Broken(), name="broken", distribution="flywheel-broken", version="1")
    session = example()
    result = project.cli("run", session)
    assert result.exit_code == 1
    assert "plugin broken (flywheel-broken) failed in flywheel_generate: RuntimeError: the third-party generator broke" \
        in result.stderr
    assert "queued for shelf: summary" in result.stdout
    doc = load(session)
    assert doc["pipeline_status"]["build_artifact"] == "failed" and len(doc["errors"]) == 1
    assert doc["artifacts"]["summary"]["status"] == "queued"
    assert project.cli("publish").exit_code == 0
    assert load(session)["artifacts"]["summary"]["status"] == "published"
    assert (project.root / "shelf" / ID / "summary.md").exists()
