"""``flywheel queue export|import|migrate``: a queue moves SQLite -> PostgreSQL -> SQLite without loss."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from flywheel_core import PublishResult, open_shared_store
from flywheel_core.config import Config
from flywheel_core.testing import QueueBackend, run_cli


def _config(root: Path, url: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "flywheel.toml"
    path.write_text('state_dir = "state"\n' + (f'[queue]\nurl = "{url}"\n' if url else ""))
    return path


def _fill(state: Path) -> None:
    """A queue with an entry in every state, progress, a lease, a mirrored session file and a shared store."""
    queue = QueueBackend("sqlite").open(state, {"backoff_seconds": 5})
    add = lambda session, text, **kw: queue.enqueue(  # noqa: E731
        target=kw.get("target", "shelf"), session_id=session, session_type="build", kind="readme", ext="md",
        files={"readme.md": text.encode(), "media/a.png": b"\x89PNG\x00\xff"}, meta={"title": text, "n": [1, 2.5]},
        session_path=kw.get("session_path"))
    add("s1", "published", session_path="/work/s1.json")
    add("s2", "failed")
    add("s3", "dead")
    add("s4", "v1")
    add("s4", "v2 supersedes v1")
    add("s5", "in hand", target="web")
    claimed = {e.session_id: e for e in queue.claim("shelf")}
    queue.record(PublishResult(claimed["s1"].id, True, receipt={"commit": "abc", "url": "https://x/é"}))
    queue.record(PublishResult(claimed["s2"].id, False, error="remote said no"))
    queue.fail(claimed["s3"].id, "refused", permanent=True)
    queue.save_progress(claimed["s4"].id, {"step": 2})
    queue.claim("web")
    queue.file_synced("/work/s1.json", [(claimed["s1"].id, 3)], "12:34:56")
    queue.close()
    with open_shared_store(Config(state.parent, data={"state_dir": str(state)}), "web") as store:
        store.put("posts/a", {"title": "A", "aliases": []})
        store.put("posts/b", {"title": "B"})
        store.delete("posts/b")


def test_a_queue_moves_to_postgres_and_back_without_loss(tmp_path: Path, postgres_url: str) -> None:
    _fill(tmp_path / "one" / "state")
    one, pg, two = _config(tmp_path / "one"), _config(tmp_path / "pg", postgres_url), _config(tmp_path / "two")
    exports = []
    for source, target in ((one, pg), (pg, two), (two, None)):
        out = source.parent / "export.jsonl"
        done = run_cli(["queue", "export", "--output", str(out), "--config", str(source)])
        assert done.exit_code == 0, done.output
        assert "exported 6 entries, 1 session files, 2 shared documents and 7 blobs" in done.stderr
        exports.append(out.read_text())
        if target is not None:
            loaded = run_cli(["queue", "import", str(out), "--config", str(target)])
            assert loaded.exit_code == 0, loaded.output
            assert loaded.stdout.startswith("imported 6 entries, 1 session files, 2 shared documents and 7 blobs into")
    assert exports[0] == exports[1] == exports[2], "every row, column and blob came through unchanged"
    rows = [json.loads(line) for line in exports[0].splitlines()]
    assert rows[0] == {"flywheel_queue_export": 1, "schema": 5}
    statuses = sorted(r["row"]["status"] for r in rows if r.get("table") == "items")
    assert statuses == ["dead", "failed", "published", "publishing", "publishing", "superseded"]
    # The queue behaves the same after the trip: ids kept, new ids follow them, the store reads the same.
    back = QueueBackend("sqlite").open(tmp_path / "two" / "state")
    assert [e.id for e in back.entries()] == [1, 2, 3, 4, 5, 6]
    entry, new = back.enqueue(target="shelf", session_id="s9", session_type="build", kind="readme", ext="md",
                              files={"readme.md": b"new"}, meta={})
    assert new and entry.id == 7
    with open_shared_store(Config(tmp_path / "pg", data={"state_dir": "state", "queue": {"url": postgres_url}}),
                           "web") as store:
        assert [d.value for d in store.items("posts/")] == [{"title": "A", "aliases": []}]
        assert store.put("posts/c", {}) > store.get("posts/a").revision, "revisions follow the imported ones"


def test_import_refuses_a_queue_that_is_not_empty_and_a_broken_export(tmp_path: Path) -> None:
    _fill(tmp_path / "one" / "state")
    one = _config(tmp_path / "one")
    out = tmp_path / "export.jsonl"
    assert run_cli(["queue", "export", "-o", str(out), "--config", str(one)]).exit_code == 0
    again = run_cli(["queue", "import", str(out), "--config", str(one)])
    assert again.exit_code == 2 and "already holds 6 entries and shared documents; import into an empty queue" in again.stderr
    broken = tmp_path / "broken.jsonl"
    lines = out.read_text().splitlines()
    broken.write_text("\n".join([lines[0], lines[1].replace('"base64": "', '"base64": "AAAA')]) + "\n")
    fresh = _config(tmp_path / "fresh")
    bad = run_cli(["queue", "import", str(broken), "--config", str(fresh)])
    assert bad.exit_code == 2 and f"{broken}: line 2: blob " in bad.stderr and "does not match its bytes" in bad.stderr
    assert run_cli(["queue", "import", str(one), "--config", str(fresh)]).exit_code == 2, "not an export"


def test_migrate_creates_and_upgrades_the_schema(tmp_path: Path, postgres_url: str) -> None:
    from flywheel_core.publishing.sqlite import _MIGRATIONS

    state = tmp_path / "old" / "state"
    state.mkdir(parents=True)
    db = sqlite3.connect(state / "queue.sqlite3", isolation_level=None)
    for step in (1, 2, 3):
        for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
            db.execute(statement)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA user_version = 3")
    db.close()
    old = run_cli(["queue", "migrate", "--config", str(_config(tmp_path / "old"))])
    assert old.exit_code == 0 and old.stdout.endswith("upgraded the queue from schema version 3 to 5\n")
    pg = _config(tmp_path / "pg", postgres_url)
    made = run_cli(["queue", "migrate", "--config", str(pg)])
    assert made.exit_code == 0 and made.stdout.endswith("created the queue (schema version 5)\n")
    assert run_cli(["queue", "migrate", "--config", str(pg)]).stdout.endswith("schema is version 5, nothing to do\n")
