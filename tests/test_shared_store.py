"""Shared stores (``open_shared_store``) on both backends: compare-and-set, revisions, blobs, the fleet lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flywheel_core import LockTimeout, UsageError, open_shared_store
from flywheel_core.config import Config
from flywheel_core.testing import QueueBackend


def _config(tmp_path: Path, backend: QueueBackend) -> Config:
    return Config(tmp_path, data={"state_dir": "state", "queue": {"url": backend.url} if backend.url else {}})


def test_documents_are_written_only_when_the_expected_revision_still_holds(tmp_path, queue_backend) -> None:
    with open_shared_store(_config(tmp_path, queue_backend), "web") as store:
        assert store.get("posts/a") is None and store.revision() == 0
        first = store.put("posts/a", {"title": "one"}, expect=None)
        assert first and store.get("posts/a").value == {"title": "one"}
        assert store.put("posts/a", {"title": "again"}, expect=None) is None, "create-only: it exists"
        second = store.put("posts/a", {"title": "two"}, expect=first)
        assert second and second > first
        assert store.put("posts/a", {"title": "stale"}, expect=first) is None, "a stale revision loses"
        assert store.get("posts/a").value == {"title": "two"} and store.revision() == second
        store.put("posts/b", {"n": [1, 2.5, None, "é\u0000"]})
        store.put("other/c", {"n": 1})
        assert [d.key for d in store.items("posts/")] == ["posts/a", "posts/b"]
        assert store.items("posts/")[1].value == {"n": [1, 2.5, None, "é\u0000"]}
        assert store.delete("posts/b", expect=second) is False
        assert store.delete("posts/b") and store.get("posts/b") is None
        assert store.put("posts/b", {"back": True}, expect=None), "a deleted key can be created again"
    with open_shared_store(_config(tmp_path, queue_backend), "other") as elsewhere:
        assert elsewhere.items() == [], "each store has its own keys"


def test_blobs_are_kept_by_content_and_linkable_from_a_local_file(tmp_path, queue_backend) -> None:
    with open_shared_store(_config(tmp_path, queue_backend), "web") as store:
        digest = store.put_blob(b"\x89PNG bytes")
        assert store.put_blob(b"\x89PNG bytes") == digest
        assert store.blob(digest) == b"\x89PNG bytes"
        assert store.blob_path(digest).read_bytes() == b"\x89PNG bytes"


def test_reading_a_store_that_was_never_written_creates_nothing(tmp_path) -> None:
    with open_shared_store(_config(tmp_path, QueueBackend("sqlite")), "web") as store:
        assert store.items() == [] and store.get("x") is None and store.revision() == 0
    assert not (tmp_path / "state").exists()


def test_store_names_are_plain(tmp_path) -> None:
    with pytest.raises(UsageError, match="must match"):
        open_shared_store(_config(tmp_path, QueueBackend("sqlite")), "../web")


def test_concurrent_compare_and_set_loses_no_update(tmp_path, queue_backend) -> None:
    config = _config(tmp_path, queue_backend)
    with open_shared_store(config, "counter") as store:
        store.put("n", {"n": 0})

    def bump(times: int) -> None:
        with open_shared_store(config, "counter") as mine:
            for _ in range(times):
                while True:
                    doc = mine.get("n")
                    if mine.put("n", {"n": doc.value["n"] + 1}, expect=doc.revision) is not None:
                        break

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open_shared_store(config, "counter") as store:
        assert store.get("n").value == {"n": 100}


def test_the_store_lock_is_held_by_one_process_at_a_time(tmp_path, queue_backend) -> None:
    config = _config(tmp_path, queue_backend)
    with open_shared_store(config, "web") as one, open_shared_store(config, "web") as two:
        one.put("x", {})  # the store exists
        with one.lock("site"):
            with pytest.raises(LockTimeout, match="site"):
                with two.lock("site", timeout=0.5):
                    pass
            with two.lock("other", timeout=0.5):
                pass  # another name is another lock
        with two.lock("site", timeout=0.5):
            pass
