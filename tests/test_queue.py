"""PublicationQueue on real SQLite and real PostgreSQL: idempotency, versions, leases, backoff, dead entries, corruption."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flywheel_core import PublishResult
from flywheel_core.errors import FlywheelError, UsageError
from flywheel_core.fsutil import sha256_bytes
from flywheel_core.publishing import PublicationQueue, idempotency_key
from flywheel_core.testing import QueueBackend

TOKEN = "ghp_" + "QueueCanary1" * 3


def add(queue: PublicationQueue, text: str = "hello", *, target: str = "shelf", session: str = "s1",
        kind: str = "readme", extra: dict[str, bytes] | None = None):
    files = {f"{kind}.md": text.encode(), **(extra or {})}
    return queue.enqueue(target=target, session_id=session, session_type="build", kind=kind, ext="md",
                         files=files, meta={"title": text})


@pytest.fixture
def queue(tmp_path: Path, queue_backend: QueueBackend):
    with queue_backend.open(tmp_path / "state", {"backoff_seconds": 10, "backoff_max_seconds": 100}) as q:
        yield q


def _blob(backend: QueueBackend, queue: PublicationQueue, digest: str, data: bytes | None) -> None:
    """Remove a stored blob (None) or replace its bytes, behind the queue's back."""
    if backend.url is None:
        if data is None:
            (queue.blobs.folder / digest).unlink()
        else:
            (queue.blobs.folder / digest).write_bytes(data)
    elif data is None:
        backend.sql(queue, "DELETE FROM blobs WHERE sha256 = ?", digest)
    else:
        backend.sql(queue, "UPDATE blobs SET data = ? WHERE sha256 = ?", data, digest)


def test_database_is_wal_versioned_and_rows_are_keyed(queue: PublicationQueue, queue_backend: QueueBackend) -> None:
    entry, new = add(queue)
    assert new and entry.status == "queued" and entry.seq == 1
    if queue_backend.url is None:
        db = sqlite3.connect(queue.storage.path)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 5
    else:
        assert queue_backend.sql(queue, "SELECT version FROM flywheel_schema") == [(5,)]
    digest = sha256_bytes(b"hello")
    assert entry.sha256 == digest
    assert entry.files == {"readme.md": digest}
    assert queue.blobs.get(digest) == b"hello"
    version = sha256_bytes(f"readme.md\0{digest}\n".encode())
    assert entry.key == idempotency_key("shelf", "s1", "readme", version)


def test_same_version_twice_is_a_no_op_and_each_target_gets_a_row(queue: PublicationQueue) -> None:
    first, _ = add(queue)
    again, new = add(queue)
    assert not new and again.id == first.id
    other, new = add(queue, target="web")
    assert new and other.id != first.id
    assert len(queue.entries()) == 2


def test_a_new_version_supersedes_unpublished_older_ones(queue: PublicationQueue) -> None:
    v1, _ = add(queue, "v1")
    v2, _ = add(queue, "v2")
    assert queue.get(v1.id).status == "superseded"
    assert v2.seq == 2 and v2.status == "queued"
    assert [e.id for e in queue.due()] == [v2.id]
    # Going back to v1 makes it the newest version again (the target holds v2 by then).
    back, new = add(queue, "v1")
    assert new and back.id == v1.id and back.seq == 3 and back.status == "queued"
    assert queue.get(v2.id).status == "superseded"


def test_changed_attachment_is_a_new_version_and_removed_files_are_reported(queue: PublicationQueue) -> None:
    v1, _ = add(queue, extra={"media/a.png": b"png"})
    [claimed] = queue.claim("shelf")
    queue.record(PublishResult(claimed.id, True, receipt={"at": "1"}))
    v2, new = add(queue)  # same main file, attachment gone
    assert new and v2.id != v1.id
    [claimed] = queue.claim("shelf")
    item = queue.item(claimed)
    assert item.files == {"readme.md": b"hello"}
    assert item.meta["previous_files"] == ["media/a.png"]


def test_claim_leases_and_record_publishes(queue: PublicationQueue) -> None:
    entry, _ = add(queue)
    [claimed] = queue.claim("shelf")
    assert claimed.status == "publishing" and claimed.attempts == 1 and claimed.lease_owner == queue.owner
    assert queue.claim("shelf") == [], "a leased entry is not handed out twice"
    item = queue.item(claimed)
    assert item.content == b"hello" and item.meta == {"title": "hello"} and item.attempts == 1
    done = queue.record(PublishResult(entry.id, True, receipt={"commit": "abc", "note": f"token {TOKEN}"}))
    assert done.status == "published" and done.receipt["commit"] == "abc"
    assert TOKEN not in json.dumps(done.receipt)
    assert queue.due() == []
    assert add(queue)[1] is False, "re-enqueueing what is published changes nothing"


def test_failure_backs_off_then_dies_after_max_attempts(tmp_path: Path, queue_backend: QueueBackend) -> None:
    queue = queue_backend.open(tmp_path, {"max_attempts": 3, "backoff_seconds": 10, "backoff_max_seconds": 15})
    entry, _ = add(queue)
    delays = []
    for attempt in (1, 2, 3):
        queue_backend.sql(queue, "UPDATE items SET next_attempt_at = 0 WHERE id = ?", entry.id)
        [claimed] = queue.claim("shelf")
        assert claimed.attempts == attempt
        before = time.time()
        failed = queue.record(PublishResult(entry.id, False, error=f"boom with {TOKEN}"))
        delays.append(failed.next_attempt_at - before)
    assert failed.status == "dead" and failed.attempts == 3
    assert TOKEN not in failed.last_error and "***" in failed.last_error
    assert 5 - 1 <= delays[0] <= 10 + 1 and 7.5 - 1 <= delays[1] <= 15 + 1, "capped at backoff_max_seconds"
    assert queue.claim("shelf") == [], "dead entries are not retried on their own"
    assert queue.retry(entry.id) == [entry.id]
    revived = queue.get(entry.id)
    assert revived.status == "queued" and revived.attempts == 0


def test_backoff_grows_exponentially_within_jitter_and_cap(queue: PublicationQueue) -> None:
    for attempts, full in ((1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)):
        for _ in range(20):
            assert full * 0.5 <= queue.backoff(attempts) <= full


def test_retry_failed_lists_ids_in_order(queue: PublicationQueue) -> None:
    entries = [add(queue, f"v{i}", session=f"s{i}")[0] for i in range(3)]
    queue.claim("shelf")
    for entry in reversed(entries):  # failed in reverse order: row order follows the updates
        queue.fail(entry.id, "down", permanent=True)
    assert queue.retry() == sorted(e.id for e in entries)


def test_retry_refuses_what_is_not_failed(queue: PublicationQueue) -> None:
    entry, _ = add(queue)
    queue.claim("shelf")
    with pytest.raises(UsageError, match="is publishing"):
        queue.retry(entry.id)
    with pytest.raises(UsageError, match="no queue entry with id 99"):
        queue.retry(99)


def test_expired_lease_is_claimable_again_but_a_live_one_is_not(queue: PublicationQueue, queue_backend) -> None:
    entry, _ = add(queue)
    future = time.time() + 600
    queue_backend.sql(queue, "UPDATE items SET status = 'publishing', lease_owner = 'other-host:1:x', lease_until = ? "
                      "WHERE id = ?", future, entry.id)
    assert queue.claim("shelf") == [], "another machine's live lease is respected"
    queue_backend.sql(queue, "UPDATE items SET lease_until = ? WHERE id = ?", time.time() - 1, entry.id)
    [claimed] = queue.claim("shelf")
    assert claimed.lease_owner == queue.owner


def _claim_script(backend: QueueBackend, state: Path) -> str:
    """A Python program that claims ``shelf`` entries of the same queue, then exits."""
    return (f"from flywheel_core.testing import QueueBackend; "
            f"QueueBackend({backend.name!r}, {backend.url!r}).open({str(state)!r}).claim('shelf')")


def test_lease_of_a_dead_local_publisher_is_taken_over_at_once(tmp_path: Path, queue_backend: QueueBackend) -> None:
    state = tmp_path / "state"
    with queue_backend.open(state) as queue:
        entry, _ = add(queue)
    subprocess.run([sys.executable, "-c", _claim_script(queue_backend, state)], check=True)
    with queue_backend.open(state) as queue:
        assert queue.get(entry.id).status == "publishing"
        [claimed] = queue.claim("shelf")
        assert claimed.id == entry.id and (claimed.attempts, claimed.interruptions) == (1, 1)
        assert queue.item(claimed).attempts == 2, "the target is told it may have got that far before"


def test_lease_of_a_killed_publisher_not_yet_reaped_is_taken_over_at_once(tmp_path: Path, queue_backend) -> None:
    # `timeout -s KILL 1 flywheel publish` kills timeout too: the publisher stays a zombie until
    # init reaps it, and kill(pid, 0) still succeeds on a zombie.
    state = tmp_path / "state"
    with queue_backend.open(state) as queue:
        entry, _ = add(queue)
    zombie = subprocess.Popen([sys.executable, "-c", _claim_script(queue_backend, state)])
    try:
        while not Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            time.sleep(0.05)  # exited, and not waited for: a zombie
        with queue_backend.open(state) as queue:
            assert queue.get(entry.id).status == "publishing"
            [claimed] = queue.claim("shelf")
            assert claimed.id == entry.id and (claimed.attempts, claimed.interruptions) == (1, 1)
        assert queue.item(claimed).attempts == 2, "the target is told it may have got that far before"
    finally:
        zombie.wait()


def test_a_newer_version_waits_while_an_older_one_is_being_published(tmp_path: Path, queue_backend) -> None:
    a = queue_backend.open(tmp_path)
    b = queue_backend.open(tmp_path)
    v1, _ = add(a, "v1")
    [claimed] = a.claim("shelf")
    v2, _ = add(b, "v2")
    assert a.get(v1.id).status == "superseded"
    assert b.claim("shelf") == [], "v2 must not overtake v1 at the target"
    done = a.record(PublishResult(v1.id, True, receipt={"n": 1}))
    assert done.status == "superseded" and done.receipt == {"n": 1}
    assert [e.id for e in b.claim("shelf")] == [v2.id]


def test_missing_blob_is_reported_not_guessed(queue: PublicationQueue, queue_backend: QueueBackend) -> None:
    entry, _ = add(queue)
    _blob(queue_backend, queue, entry.sha256, None)
    [claimed] = queue.claim("shelf")
    with pytest.raises(FlywheelError, match="is missing"):
        queue.item(claimed)
    if queue_backend.url is None:
        _blob(queue_backend, queue, entry.sha256, b"tampered")
    else:
        queue_backend.sql(queue, "INSERT INTO blobs (sha256, data) VALUES (?, ?)", entry.sha256, b"tampered")
    with pytest.raises(FlywheelError, match="is corrupt"):
        queue.item(claimed)
    dead = queue.fail(entry.id, "content gone", permanent=True)
    assert dead.status == "dead"


def test_corrupt_database_is_an_error_and_left_untouched(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "queue.sqlite3").write_bytes(b"this is not a database" * 100)
    before = (state / "queue.sqlite3").read_bytes()
    with pytest.raises(FlywheelError, match="damaged or not an SQLite database.*left untouched"):
        PublicationQueue.in_folder(state).entries()
    assert (state / "queue.sqlite3").read_bytes() == before


def test_queue_from_a_newer_flywheel_is_refused(tmp_path: Path, queue_backend: QueueBackend) -> None:
    with queue_backend.open(tmp_path) as queue:
        add(queue)
        if queue_backend.url is None:
            queue.storage.db.execute("PRAGMA user_version = 99")
        else:
            queue_backend.sql(queue, "UPDATE flywheel_schema SET version = 99")
    with pytest.raises(FlywheelError, match="newer flywheel"):
        queue_backend.open(tmp_path).entries()


def test_stats_count_by_target_and_state(queue: PublicationQueue) -> None:
    add(queue, "a")
    add(queue, "b")
    add(queue, "c", target="web")
    stats = queue.stats()
    assert stats["targets"]["shelf"]["queued"] == 1 and stats["targets"]["shelf"]["superseded"] == 1
    assert stats["targets"]["web"]["queued"] == 1
    assert stats["due_now"] == 2 and stats["blobs"] == 3 and stats["oldest_pending"].endswith("Z")


def test_keys_and_rows_do_not_depend_on_order_or_time(tmp_path: Path, queue_backend: QueueBackend) -> None:
    # An entry's identity is its content and place: the same versions enqueued in another order,
    # by another process, at another time, give the same keys, hashes and metadata.
    versions = [("s1", "readme", "a"), ("s2", "readme", "b"), ("s1", "log", "c")]
    rows = []
    for name, order in (("one", versions), ("two", list(reversed(versions)))):
        with queue_backend.open(tmp_path / name) as queue:
            queue_backend.sql(queue, "DELETE FROM items")  # a database is shared by both runs
            for session, kind, text in order:
                add(queue, text, session=session, kind=kind)
            rows.append(sorted((e.key, e.target, e.session_id, e.kind, e.sha256, json.dumps(e.files), json.dumps(e.meta))
                               for e in queue.entries()))
    assert rows[0] == rows[1]


def test_entries_killed_by_the_old_interruption_rule_are_queued_again_on_upgrade(tmp_path: Path) -> None:
    # Before schema 3 a publisher killed 8 times killed its entries ("publisher stopped before
    # finishing, 8 times"). They were never evidence of a bad item: the upgrade revives them.
    from flywheel_core.publishing.sqlite import _MIGRATIONS

    path = tmp_path / "queue.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for step in (1, 2):
        for statement in filter(str.strip, _MIGRATIONS[step].split(";")):
            db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    for i, (status, error) in enumerate([("dead", "publisher stopped before finishing, 8 times"),
                                         ("dead", "HTTP 422: refused"), ("published", None)]):
        db.execute("INSERT INTO items (key, target, session_id, session_type, kind, ext, sha256, seq, files, meta, "
                   "status, attempts, last_error, next_attempt_at, created_at, updated_at) "
                   "VALUES (?, 'shelf', 's', 'build', ?, 'md', 'x', 1, '{}', '{}', ?, 8, ?, 0, 0, 0)",
                   (f"k{i}", f"kind{i}", status, error))
    db.close()
    with PublicationQueue.in_folder(tmp_path) as queue:
        revived, refused, published = queue.entries()
    assert (revived.status, revived.attempts, revived.interruptions) == ("queued", 0, 8)
    assert (refused.status, refused.attempts) == ("dead", 8), "a target's refusal stays dead"
    assert published.status == "published"


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_a_long_batch_renews_its_lease_and_a_stopped_one_expires(tmp_path: Path, queue_backend) -> None:
    # A lease held by another machine binds only by time: its holder renews it while it works.
    settings = {"lease_seconds": 3}
    far = queue_backend.open(tmp_path, settings)
    far.owner = "another-machine:4242:cafe"
    entry, _ = add(far)
    [claimed] = far.claim("shelf")
    first = claimed.lease_until
    here = queue_backend.open(tmp_path, settings)
    with far.keep_leases([entry.id]):
        _wait_for(lambda: time.time() > first + 0.5 and here.get(entry.id).lease_until > time.time() + 0.5,
                  "the lease to outlive its first expiry")
        assert here.claim("shelf") == [], "a renewed lease of another machine is respected"
    _wait_for(lambda: here.get(entry.id).lease_until < time.time(), "the lease to expire once not renewed")
    [taken] = here.claim("shelf")
    assert (taken.id, taken.lease_owner, taken.interruptions) == (entry.id, here.owner, 1)


def test_an_entry_whose_publisher_keeps_dying_is_dead_with_the_reason(tmp_path: Path, queue_backend) -> None:
    queue = queue_backend.open(tmp_path, {"max_interruptions": 3})
    entry, _ = add(queue)
    for interruptions in range(3):
        [claimed] = queue.claim("shelf")
        assert (claimed.attempts, claimed.interruptions) == (1, interruptions)
        queue_backend.sql(queue, "UPDATE items SET lease_until = 0 WHERE id = ?", entry.id)  # its lease ran out
    assert queue.claim("shelf") == []
    dead = queue.get(entry.id)
    assert (dead.status, dead.attempts, dead.interruptions) == ("dead", 0, 3)
    assert dead.last_error.startswith("its publisher stopped before finishing, 3 times")
