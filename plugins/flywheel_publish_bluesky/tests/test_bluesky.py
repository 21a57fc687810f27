"""Publishing to the reference PDS and reading the records back through its own XRPC API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import datetime

from flywheel_core import PublishContext, PublishItem, load_config

from flywheel_publish_bluesky.records import S32, decode_tid, record_key

TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
SESSION_SECONDS = int(datetime.fromisoformat("2025-12-02T05:20:00+00:00").timestamp())  # build_session's time


def _spans(record: dict) -> list[tuple[str, str, str]]:
    """(facet type, the bytes it covers as text, its value) for each facet of a record."""
    raw = record["text"].encode()
    out = []
    for facet in record.get("facets", []):
        [feature] = facet["features"]
        kind = feature["$type"].rsplit("#", 1)[1]
        covered = raw[facet["index"]["byteStart"]:facet["index"]["byteEnd"]].decode()
        out.append((kind, covered, feature.get("uri") or feature.get("did") or feature.get("tag")))
    return out


def _rkey(record: dict) -> str:
    return record["uri"].rsplit("/", 1)[1]


def test_a_thread_is_written_as_replies_to_its_root_and_parent(project, pds, account, long_text) -> None:
    project.run(project.session(long_text, hashtags=["flywheel", "atproto"]))
    parts = project.variants()["bluesky"]
    assert len(parts) >= 3
    project.publish()

    records = pds.records(account.did)
    assert [r["value"]["text"] for r in records] == parts, "one record per part, in thread order"
    root = records[0]
    assert "reply" not in root["value"]
    for previous, record in zip(records, records[1:]):
        assert record["value"]["reply"] == {"root": {"uri": root["uri"], "cid": root["cid"]},
                                            "parent": {"uri": previous["uri"], "cid": previous["cid"]}}
    created = [r["value"]["createdAt"] for r in records]
    assert created == sorted(created) and len(set(created)) == len(created)
    assert {tuple(r["value"]["langs"]) for r in records} == {("en",)}

    [entry] = project.queue()
    assert entry["status"] == "published"
    assert [p["uri"] for p in entry["receipt"]["parts"]] == [r["uri"] for r in records]
    assert entry["receipt"]["url"] == f"https://bsky.app/profile/{account.did}/post/{_rkey(root)}"

    spans = [s for r in records for s in _spans(r["value"])]
    assert ("link", "https://example.org/blog/2025/12/02/exactly-once-publishing",
            "https://example.org/blog/2025/12/02/exactly-once-publishing") in spans
    assert ("tag", "#flywheel", "flywheel") in spans and ("tag", "#atproto", "atproto") in spans

    again = project.cli("publish")
    assert "nothing is due" in again.stdout
    assert len(pds.records(account.did)) == len(parts)


def test_record_keys_are_tids_from_the_session_time_and_the_entry(project, pds, account, long_text) -> None:
    project.run(project.session(long_text))
    project.publish()
    rkeys = [_rkey(r) for r in pds.records(account.did)]
    assert all(TID.match(k) for k in rkeys), rkeys
    decoded = [decode_tid(k) for k in rkeys]
    micros = [m for m, _ in decoded]
    assert {m // 1_000_000 for m in micros} == {SESSION_SECONDS}, "the session's second"
    assert micros == list(range(micros[0], micros[0] + len(micros))), "consecutive microseconds, in order"
    assert len({clock for _, clock in decoded}) == 1, "one clock id, from the entry's key"


def test_record_key_rule() -> None:
    key = hashlib.sha256(b"an entry").hexdigest()
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest(), "big")
    first = record_key(key, SESSION_SECONDS, 0)
    assert record_key(key, SESSION_SECONDS, 0) == first, "deterministic"
    assert decode_tid(first) == (SESSION_SECONDS * 1_000_000 + (digest >> 10) % 990_000, digest & 0x3FF)
    assert decode_tid(record_key(key, SESSION_SECONDS, 3))[0] == decode_tid(first)[0] + 3
    assert record_key(hashlib.sha256(b"its next version").hexdigest(), SESSION_SECONDS, 0) != first
    assert len(first) == 13 and set(first) <= set(S32) and first[0] in S32[:16]


def test_facets_mark_utf8_byte_ranges(project, pds, account) -> None:
    text = (f"Café ☕ — déjà vu 👩🏽‍💻 at https://example.org/é?q=1, with @{account.handle} "
            "#ÜberTest #2025 and (#nottag) 日本語 #タグ.")
    project.run(project.session(text))
    project.publish()
    [record] = pds.records(account.did)
    assert record["value"]["text"] == text
    assert _spans(record["value"]) == [
        ("link", "https://example.org/é?q=1", "https://example.org/é?q=1"),
        ("mention", f"@{account.handle}", account.did),
        ("tag", "#ÜberTest", "ÜberTest"),
        ("tag", "#タグ", "タグ"),
    ]


def test_a_link_before_a_colon_ends_at_the_colon(project, pds, account) -> None:
    # The reference client drops one trailing [.,;:!?] from a link: "…/changelog: read it" links
    # the URL, not the colon (a facet covering it would point at ".../changelog:").
    text = "Release notes at https://example.org/changelog: read them, then https://example.org/faq; thanks!"
    project.run(project.session(text))
    project.publish()
    [record] = pds.records(account.did)
    assert _spans(record["value"]) == [
        ("link", "https://example.org/changelog", "https://example.org/changelog"),
        ("link", "https://example.org/faq", "https://example.org/faq"),
    ]


def test_an_unknown_handle_stays_plain_text(project, pds, account) -> None:
    project.run(project.session("Thanks @nobody-here.test for the report."))
    project.publish()
    [record] = pds.records(account.did)
    assert "facets" not in record["value"]


def test_images_are_uploaded_with_their_alt_text(project, pds, account) -> None:
    project.run(project.session("Today's equity curve, and the drawdown.", images=2))
    project.publish()
    [record] = pds.records(account.did)
    embed = record["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in embed["images"]] == ["Equity curve 1", "Equity curve 2"]
    assert [i["aspectRatio"] for i in embed["images"]] == [{"width": 3, "height": 2}, {"width": 4, "height": 2}]
    [png] = [p for p in (project.root / "out").rglob("chart-0.png")]
    blob = embed["images"][0]["image"]
    assert blob["mimeType"] == "image/png" and blob["size"] == png.stat().st_size
    assert pds.blob(account.did, blob["ref"]["$link"]) == png.read_bytes()


def test_the_page_gets_a_link_card(project, pds, account) -> None:
    page = "https://example.org/sessions/2025/12/02/exactly-once"
    project.run(project.session(f"Exactly-once publishing, explained: {page}", url=page))
    project.publish()
    [record] = pds.records(account.did)
    assert record["value"]["embed"] == {"$type": "app.bsky.embed.external", "external": {
        "uri": page, "title": "Exactly-once publishing", "description": ""}}


def test_without_a_page_the_first_link_gets_the_card_unless_switched_off(project, pds, account) -> None:
    project.run(project.session("Notes at https://example.org/notes and https://example.org/more"))
    project.publish()
    [record] = pds.records(account.did)
    assert record["value"]["embed"]["external"]["uri"] == "https://example.org/notes"

    project.configure(link_card=False)
    project.run(project.session("More at https://example.org/x", session_id="sess-2025-12-03"))
    project.publish()
    newest = [r for r in pds.records(account.did) if r["value"]["text"].startswith("More")]
    assert "embed" not in newest[0]["value"]


def _item(project, key: str, progress: dict | None = None) -> PublishItem:
    folder = next((project.root / "out").rglob("social_post.json")).parent
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    return PublishItem(id=1, target="bluesky", session_id="sess-2025-12-02", session_type="build",
                       kind="social_post", ext="md", sha256="0" * 64, files=files,
                       meta={"date": "2025-12-02T05:20:00Z", "title": "Social posts: x"}, attempts=2, key=key,
                       progress=dict(progress or {}))


def test_a_repeat_rewrites_the_same_records_instead_of_adding_posts(project, pds, account, long_text) -> None:
    from flywheel_publish_bluesky.publisher import publish

    project.run(project.session(long_text))
    config = load_config(project.config)
    table = config.target_config("bluesky")
    ctx = PublishContext(config=config, state_dir=project.root / "state")
    key = hashlib.sha256(b"one queue entry").hexdigest()

    first = _item(project, key)
    [done] = publish([first], table, ctx)
    assert done.ok, done.error
    records = pds.records(account.did)
    # Every answer lost, nothing checkpointed but the time fixed before the first write: all again.
    [again] = publish([_item(project, key, {"created_at": first.progress["created_at"]})], table, ctx)
    assert again.ok and again.receipt == done.receipt
    assert pds.records(account.did) == records, "the same records, byte for byte (same cids)"
    # Even with nothing checkpointed at all, no second post: the same keys are rewritten.
    [third] = publish([_item(project, key)], table, ctx)
    assert [p["uri"] for p in third.receipt["parts"]] == [r["uri"] for r in records]
    assert len(pds.records(account.did)) == len(records)


def test_a_lost_answer_is_written_again_as_the_same_record(proxied, proxy, pds, account, long_text) -> None:
    proxy.fail("/xrpc/com.atproto.repo.putRecord", "lost", nth=2)
    proxied.run(proxied.session(long_text))
    parts = proxied.variants()["bluesky"]
    assert proxied.cli("publish").exit_code == 1
    [entry] = proxied.queue()
    assert entry["status"] == "failed" and len(entry["progress"]["parts"]) == 1
    assert len(pds.records(account.did)) == 2, "the PDS wrote part 2; its answer was lost"

    proxied.publish()
    records = pds.records(account.did)
    assert [r["value"]["text"] for r in records] == parts
    assert records[2]["value"]["reply"]["parent"] == {"uri": records[1]["uri"], "cid": records[1]["cid"]}


def test_a_post_over_300_graphemes_is_refused_before_anything_is_sent(project, pds, account) -> None:
    fits = "🙂" * 300  # 300 graphemes, 1,200 bytes: Bluesky's limit exactly
    project.run(project.session("x", bluesky=[fits, "b" * 301]))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "dead" and entry["attempts"] == 1
    assert entry["last_error"] == ("social_post of session sess-2025-12-02: post 2 of 2 is 301 graphemes; "
                                   "Bluesky takes 300")
    assert pds.records(account.did) == []

    project.run(project.session("x", bluesky=[fits]))
    project.publish()
    assert [r["value"]["text"] for r in pds.records(account.did)] == [fits], "300 graphemes are accepted"


def test_an_image_over_a_million_bytes_is_refused(project, pds, account) -> None:
    project.run(project.session("A big chart.", images=1, image_padding=1_000_000))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "dead"
    assert re.search(r"image media/chart-0\.png is 1,000,\d{3} bytes; Bluesky takes images of at most "
                     r"1,000,000 bytes$", entry["last_error"]), entry["last_error"]
    assert pds.records(account.did) == []


def test_more_than_four_images_are_refused(project, pds, account) -> None:
    project.run(project.session("Five charts.", images=5))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "dead" and "has 5 images; a Bluesky post takes at most 4" in entry["last_error"]


def test_a_rate_limit_defers_the_entry_without_spending_an_attempt(proxied, proxy, pds, account) -> None:
    reset = int(time.time()) + 3600
    proxy.fail("/xrpc/com.atproto.repo.putRecord", 429, error="RateLimitExceeded", message="Rate Limit Exceeded",
               headers={"RateLimit-Limit": "5000", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)})
    proxied.run(proxied.session("One post."), proxied.session("Another.", session_id="sess-2025-12-03"))
    assert proxied.cli("publish").exit_code == 1
    entries = proxied.queue()
    assert {e["status"] for e in entries} == {"failed"} and {e["attempts"] for e in entries} == {0}
    assert all(datetime.fromisoformat(e["next_attempt_at"]).timestamp() >= reset - 2
               for e in entries)
    assert "HTTP 429: RateLimitExceeded: Rate Limit Exceeded" in entries[0]["last_error"]
    assert "not tried" in entries[1]["last_error"]
    assert [r["path"] for r in proxy.requests].count("/xrpc/com.atproto.repo.putRecord") == 1
    assert pds.records(account.did) == []


def test_a_refused_app_password_fails_every_entry_at_once(project, pds, account, monkeypatch) -> None:
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "aaaa-bbbb-cccc-dddd")
    project.run(project.session("One."), project.session("Two.", session_id="sess-2025-12-03"))
    result = project.cli("publish")
    assert result.exit_code == 1
    entries = project.queue()
    assert {e["status"] for e in entries} == {"dead"}
    assert "the handle or app password was refused" in entries[0]["last_error"]
    assert "aaaa-bbbb" not in result.output + json.dumps(entries)


def _expired_copy(token: str) -> str:
    """The same access token, expired an hour ago, signed with dev-env's JWT secret as the PDS signs it."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    signing = f"{header}.{b64(json.dumps(claims).encode())}"
    return f"{signing}.{b64(hmac.new(b'jwt-secret', signing.encode(), hashlib.sha256).digest())}"


def test_an_expired_access_token_is_refreshed(proxy, pds, account) -> None:
    from flywheel_publish_bluesky.client import BlueskyClient

    with BlueskyClient(proxy.url, account.handle, account.app_password) as client:
        client.login()
        client._access = _expired_copy(client._access)
        answer = client.put_record("app.bsky.feed.post", record_key("ab" * 32, SESSION_SECONDS, 0),
                                   {"$type": "app.bsky.feed.post", "text": "after a refresh",
                                    "createdAt": "2025-12-02T05:20:00.000Z"})
    paths = [r["path"].rsplit("/", 1)[1] for r in proxy.requests]
    assert paths == ["com.atproto.server.createSession", "com.atproto.repo.putRecord",
                     "com.atproto.server.refreshSession", "com.atproto.repo.putRecord"]
    assert pds.record(answer["uri"])["value"]["text"] == "after a refresh"


def test_dry_run_sends_nothing_and_shows_the_record_keys(proxied, proxy, long_text) -> None:
    proxied.run(proxied.session(long_text))
    result = proxied.cli("publish", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert proxy.requests == []
    assert "rkeys" in result.stdout


def test_plain_http_to_another_host_is_refused(project) -> None:
    project.configure(service="http://pds.example")
    project.run(project.session("One."))
    project.cli("publish")
    [entry] = project.queue()
    assert entry["status"] == "dead" and "plain http" in entry["last_error"]


def test_the_reference_pds_itself_refuses_a_second_create_with_the_same_key(pds, account) -> None:
    # Why putRecord and not createRecord: a retried createRecord with the same rkey is an error.
    session = {"Authorization": f"Bearer {account.access}"}
    record = {"$type": "app.bsky.feed.post", "text": "hello", "createdAt": "2025-12-02T05:20:00.000Z"}
    body = {"repo": account.did, "collection": "app.bsky.feed.post", "rkey": record_key("cd" * 32, SESSION_SECONDS, 0),
            "record": record}
    assert pds.http.post("com.atproto.repo.createRecord", json=body, headers=session).status_code == 200
    assert pds.http.post("com.atproto.repo.createRecord", json=body, headers=session).status_code >= 400
    assert pds.http.post("com.atproto.repo.putRecord", json=body, headers=session).status_code == 200
    assert len(pds.records(account.did)) == 1
