"""kill -9 of a real ``flywheel publish`` in the middle of a thread, then a restart: one status per part."""

from __future__ import annotations

import signal

import pytest


@pytest.mark.parametrize(("killed_at", "keys_honoured"), [(1, False), (2, True), (3, False)])
def test_publisher_killed_mid_thread_resumes_without_duplicates(project, mastodon, long_text, killed_at,
                                                                keys_honoured) -> None:
    mastodon.honour_idempotency = keys_honoured
    project.run(project.session(long_text))
    parts = project.variants()["mastodon"]
    # The server makes part N, then the publisher dies before it reads the answer.
    mastodon.fail("POST", "/api/v1/statuses", "kill", nth=killed_at)
    crashed = project.spawn("publish")
    mastodon.kill_pid = crashed.pid
    crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL
    [entry] = project.queue()
    assert entry["status"] == "publishing", "the dead publisher's lease is still recorded"
    assert entry["progress"]["pending"] == killed_at - 1
    assert len(mastodon.posts()) == killed_at

    restarted = project.spawn("publish")
    _, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err
    posts = mastodon.posts()
    assert [p["text"] for p in posts] == parts, "exactly one status per part"
    assert [p["in_reply_to_id"] for p in posts] == [None, *[p["id"] for p in posts[:-1]]]
    [entry] = project.queue()
    assert entry["status"] == "published"
    assert [p["id"] for p in entry["receipt"]["parts"]] == [p["id"] for p in posts]
