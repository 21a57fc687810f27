"""kill -9 of a real ``flywheel publish`` between the parts of a thread, then a restart: one record per part."""

from __future__ import annotations

import signal

import pytest


@pytest.mark.parametrize("killed_at", [1, 2])
def test_publisher_killed_between_parts_resumes_without_duplicates(proxied, proxy, pds, account, long_text,
                                                                   killed_at) -> None:
    proxied.run(proxied.session(long_text))
    parts = proxied.variants()["bluesky"]
    # The PDS writes part N, then the publisher dies before it reads the answer.
    proxy.fail("/xrpc/com.atproto.repo.putRecord", "kill", nth=killed_at)
    crashed = proxied.spawn("publish")
    proxy.kill_pid = crashed.pid
    crashed.communicate(timeout=120)
    assert crashed.returncode == -signal.SIGKILL
    [entry] = proxied.queue()
    assert entry["status"] == "publishing", "the dead publisher's lease is still recorded"
    assert len(entry["progress"].get("parts", [])) == killed_at - 1
    assert entry["progress"]["created_at"], "the time was fixed before the first write"
    assert len(pds.records(account.did)) == killed_at

    restarted = proxied.spawn("publish")
    _, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err
    records = pds.records(account.did)
    assert [r["value"]["text"] for r in records] == parts, "exactly one record per part"
    root = records[0]
    for previous, record in zip(records, records[1:]):
        assert record["value"]["reply"] == {"root": {"uri": root["uri"], "cid": root["cid"]},
                                            "parent": {"uri": previous["uri"], "cid": previous["cid"]}}
    [entry] = proxied.queue()
    assert entry["status"] == "published"
    assert [p["uri"] for p in entry["receipt"]["parts"]] == [r["uri"] for r in records]
