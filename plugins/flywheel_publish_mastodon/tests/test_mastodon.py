"""Publishing social posts to a Mastodon server: threads, images, refusals and rate limits."""

from __future__ import annotations

import json
import time
from datetime import datetime


def _when(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_a_thread_is_posted_in_order_each_part_replying_to_the_previous(project, mastodon, long_text) -> None:
    project.run(project.session(long_text, hashtags=["flywheel"]))
    parts = project.variants()["mastodon"]
    assert len(parts) == 3
    result = project.cli("publish")
    assert result.exit_code == 0, result.output

    posts = mastodon.posts()
    assert [p["text"] for p in posts] == parts, "each part once, in order, exactly as generated"
    assert [p["in_reply_to_id"] for p in posts] == [None, posts[0]["id"], posts[1]["id"]]
    assert {p["visibility"] for p in posts} == {"unlisted"} and {p["language"] for p in posts} == {"en"}
    sent = [r for r in mastodon.requests if r["path"] == "/api/v1/statuses"]
    keys = [r["headers"]["Idempotency-Key"] for r in sent]
    assert len(set(keys)) == 3 and all(k.startswith("flywheel-") for k in keys)

    [entry] = project.queue()
    assert entry["status"] == "published"
    assert entry["receipt"]["url"] == posts[0]["url"]
    assert [p["id"] for p in entry["receipt"]["parts"]] == [p["id"] for p in posts]
    again = project.cli("publish")
    assert again.exit_code == 0 and "nothing is due" in again.stdout
    assert len(mastodon.posts()) == 3


def test_images_are_uploaded_with_alt_text_and_processed_before_posting(project, mastodon, long_text) -> None:
    mastodon.processing_polls = 2  # 202 on upload, then 206 twice before the url is there
    project.run(project.session(long_text, images=2))
    assert project.cli("publish").exit_code == 0

    uploads = list(mastodon.media.values())
    assert [m["description"] for m in uploads] == ["Equity curve 1", "Equity curve 2"]
    assert {m["content_type"] for m in uploads} == {"image/png"}
    assert all(m["data"].startswith(b"\x89PNG") for m in uploads)
    first, *rest = mastodon.posts()
    assert [a["description"] for a in first["media_attachments"]] == ["Equity curve 1", "Equity curve 2"]
    assert all(a["url"] for a in first["media_attachments"]), "posted only once processed"
    assert all(p["media_attachments"] == [] for p in rest), "the images go with the first part only"
    polls = [r for r in mastodon.requests if r["method"] == "GET" and r["path"].startswith("/api/v1/media/")]
    assert len(polls) >= 3


def test_media_still_processing_fails_the_attempt_then_reuses_the_upload(project, mastodon, long_text) -> None:
    mastodon.processing_polls = 10_000
    project.configure(media_wait_seconds=0.3)
    project.run(project.session(long_text, images=1))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "failed" and "still processing" in entry["last_error"]
    assert mastodon.posts() == [] and len(mastodon.media) == 1

    for media in mastodon.media.values():
        media["polls_left"] = 0  # the server finished meanwhile
    assert project.cli("publish").exit_code == 0
    assert len(mastodon.media) == 1, "the earlier upload was used, not a second one"
    assert len(mastodon.posts()[0]["media_attachments"]) == 1


def test_a_lost_answer_is_not_posted_again(project, mastodon, long_text) -> None:
    mastodon.fail("POST", "/api/v1/statuses", "lost", nth=2)
    project.run(project.session(long_text))
    first = project.cli("publish")
    assert first.exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "failed" and "RemoteProtocolError" in entry["last_error"]
    assert entry["progress"]["pending"] == 1 and len(entry["progress"]["parts"]) == 1
    assert len(mastodon.posts()) == 2, "the server made part 2; its answer was lost"

    assert project.cli("publish").exit_code == 0
    assert mastodon.texts() == project.variants()["mastodon"], "exactly one status per part"


def test_a_server_that_ignores_idempotency_keys_still_gets_no_duplicate(project, mastodon, long_text) -> None:
    mastodon.honour_idempotency = False  # like servers that implement the API without the header
    mastodon.fail("POST", "/api/v1/statuses", "lost", nth=2)
    project.run(project.session(long_text))
    assert project.cli("publish").exit_code == 1
    assert project.cli("publish").exit_code == 0
    assert mastodon.texts() == project.variants()["mastodon"]
    looked = [r["path"] for r in mastodon.requests if r["method"] == "GET"]
    assert "/api/v1/accounts/verify_credentials" in looked
    assert any(p.endswith("/source") for p in looked), "the part was found by its source text"
    [entry] = project.queue()
    assert [p["id"] for p in entry["receipt"]["parts"]] == [p["id"] for p in mastodon.posts()]


def test_the_lookup_ignores_a_status_with_the_same_text_elsewhere(project, mastodon, long_text) -> None:
    # An older root status with the text of part 2 must not be taken for the reply that is missing.
    mastodon.honour_idempotency = False
    project.run(project.session(long_text))
    parts = project.variants()["mastodon"]
    mastodon.fail("POST", "/api/v1/statuses", 500, nth=2)
    assert project.cli("publish").exit_code == 1
    with mastodon.lock:
        sid = mastodon.new_id()
        mastodon.statuses[sid] = {"id": sid, "created_at": "2025-12-02T00:00:00.000Z", "in_reply_to_id": None,
                                  "content": "<p>x</p>", "url": f"{mastodon.url}/@flywheel/{sid}", "reblog": None,
                                  "text": parts[1], "media_attachments": []}
        mastodon.sources[sid] = {"text": parts[1], "spoiler_text": ""}
    assert project.cli("publish").exit_code == 0
    posts = [p for p in mastodon.posts() if p["id"] != sid]
    assert [p["text"] for p in posts] == parts
    assert posts[1]["in_reply_to_id"] == posts[0]["id"]


def test_a_server_error_mid_thread_resumes_from_the_missing_part(project, mastodon, long_text) -> None:
    mastodon.fail("POST", "/api/v1/statuses", 500, nth=3)  # the thread is cut after part 2
    project.run(project.session(long_text))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "failed" and "HTTP 500" in entry["last_error"]
    assert [p["id"] for p in entry["progress"]["parts"]] == [p["id"] for p in mastodon.posts()]

    assert project.cli("publish").exit_code == 0
    posts = mastodon.posts()
    assert [p["text"] for p in posts] == project.variants()["mastodon"]
    assert posts[2]["in_reply_to_id"] == posts[1]["id"]
    sent = [r for r in mastodon.requests if r["path"] == "/api/v1/statuses"]
    assert len(sent) == 4, "parts 1 and 2 were not sent again"


def test_429_defers_the_entry_until_the_reset_without_spending_an_attempt(project, mastodon, long_text) -> None:
    mastodon.fail("POST", "/api/v1/statuses", 429, error="Too many requests")
    project.run(project.session(long_text), project.session("Another day.", session_id="sess-2025-12-03"))
    result = project.cli("publish")
    assert result.exit_code == 1
    entries = project.queue()
    assert {e["status"] for e in entries} == {"failed"}
    assert {e["attempts"] for e in entries} == {0}, "a rate limit spends no attempt"
    reset = _when(mastodon.rate_headers()["X-RateLimit-Reset"])
    assert all(_when(e["next_attempt_at"]) >= reset - 2 for e in entries)
    assert [r["path"] for r in mastodon.requests].count("/api/v1/statuses") == 1, "the second entry was not tried"
    assert "not tried" in " ".join(e["last_error"] for e in entries)
    assert project.cli("publish").stdout.startswith("nothing is due")
    assert mastodon.posts() == []


def test_retry_after_is_honoured_when_the_server_sends_it(project, mastodon) -> None:
    mastodon.fail("POST", "/api/v1/statuses", 429, headers={"Retry-After": "7200"})
    project.run(project.session("One short post."))
    project.cli("publish")
    [entry] = project.queue()
    assert _when(entry["next_attempt_at"]) > time.time() + 3600


def test_remaining_zero_stops_before_the_request_that_would_be_refused(project, mastodon, long_text) -> None:
    project.run(project.session(long_text))
    mastodon.limit = 2  # the instance's limits, then part 1: Remaining 0 on its answer
    result = project.cli("publish")
    assert result.exit_code == 1
    assert [r["path"] for r in mastodon.requests] == ["/api/v2/instance", "/api/v1/statuses"], \
        "no request was made once the limit said 0 remain"
    [entry] = project.queue()
    assert entry["status"] == "failed" and entry["attempts"] == 0
    assert len(entry["progress"]["parts"]) == 1 and "pending" not in entry["progress"], "part 2 was never sent"

    mastodon.limit, mastodon.window_start = 300, time.time() - 301  # the window resets
    assert project.cli("queue", "retry", entry["id"]).exit_code == 0
    assert project.cli("publish").exit_code == 0
    assert mastodon.texts() == project.variants()["mastodon"]


def test_a_refusal_is_permanent_and_keeps_the_servers_message(project, mastodon) -> None:
    mastodon.fail("POST", "/api/v1/statuses", 422, error="Validation failed: Text contains a blocked word")
    project.run(project.session("One short post."))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "dead" and entry["attempts"] == 1
    assert "HTTP 422: Validation failed: Text contains a blocked word" in entry["last_error"]
    assert entry["last_error"].startswith(f"social_post of session {entry['session_id']}")


def test_a_refused_token_fails_every_entry_with_one_request(project, mastodon, monkeypatch) -> None:
    monkeypatch.setenv("MASTODON_TOKEN", "not-the-token-" + "x" * 20)
    project.run(project.session("One."), project.session("Two.", session_id="sess-2025-12-03"))
    result = project.cli("publish")
    assert result.exit_code == 1
    entries = project.queue()
    assert {e["status"] for e in entries} == {"dead"}
    assert all("The access token is invalid" in e["last_error"] for e in entries)
    assert len(mastodon.requests) == 1
    assert "not-the-token" not in result.output + json.dumps(entries)


def test_a_post_too_long_for_the_server_is_refused_before_sending_anything(project, mastodon, long_text) -> None:
    project.configure(max_characters=300)
    project.run(project.session(long_text))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "dead"
    assert "post 1 of 3 is 438 characters" in entry["last_error"] and "takes 300" in entry["last_error"]
    assert mastodon.requests == []


def test_an_artifact_without_the_network_variant_is_a_clear_permanent_error(project, mastodon) -> None:
    project.run(project.session("Only for X.", only=["x"]))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "dead"
    assert entry["last_error"] == ("social_post of session sess-2025-12-02: social_post.json: $.mastodon: "
                                   "expected a list of non-empty post texts")
    assert mastodon.requests == []


def test_an_artifact_added_without_its_texts_is_a_clear_permanent_error(project, mastodon, tmp_path) -> None:
    project.run(project.session("One short post."))
    [md] = (tmp_path / "out").rglob("social_post.md")
    md.write_bytes(md.read_bytes() + b"edited by hand\n")
    added = project.cli("queue", "add", "--kind", "social_post", "--targets", "mastodon", md)
    assert added.exit_code == 0, added.output
    project.cli("publish")
    errors = [e["last_error"] for e in project.queue() if e["status"] == "dead"]
    assert errors == [("social_post of session sess-2025-12-02: has no social_post.json attachment "
                       "(the per-network texts): enqueue it with `flywheel run`, or `flywheel queue add "
                       "--session SESSION_FILE`")]


def test_dry_run_checks_and_sends_nothing(project, mastodon, long_text) -> None:
    project.run(project.session(long_text, images=1))
    result = project.cli("publish", "--dry-run")
    assert result.exit_code == 0, result.output
    assert mastodon.requests == []
    assert project.queue()[0]["status"] == "queued"


def test_content_warning_from_the_config_goes_on_every_part(project, mastodon, long_text) -> None:
    project.configure(spoiler_text="Long thread about queues", sensitive=True)
    project.run(project.session(long_text, images=1))
    assert project.cli("publish").exit_code == 0
    posts = mastodon.posts()
    assert {p["spoiler_text"] for p in posts} == {"Long thread about queues"}
    assert posts[0]["sensitive"] is True


def test_plain_http_to_another_host_is_refused(project, mastodon) -> None:
    project.configure(instance="http://mastodon.example")
    project.run(project.session("One short post."))
    project.cli("publish")
    [entry] = project.queue()
    assert entry["status"] == "dead" and "plain http" in entry["last_error"]


#: Two parts: a short first one (216 characters), then a long one (473).
SHORT_THEN_LONG = (
    "Moved the publishing queue onto one SQLite file in WAL mode, so that two publishers on one machine take turns "
    "instead of racing, and a crash at any point leaves every entry either queued or published, never both. "
    "The harder half was the social targets: each part of a thread is now checkpointed before it is sent and "
    "confirmed after, a lost answer is looked up instead of posted again, images wait until the server has "
    "processed them, and rate limits defer the entry to the reset time the server announces rather than sleeping "
    "inside the publisher, which kept one slow account from holding up every other target in the same batch for "
    "the whole five minutes of its rate limit window."
)


def test_the_content_warning_counts_against_the_limit_before_anything_is_sent(project, mastodon) -> None:
    # Mastodon counts spoiler_text + text against max_characters: part 2 (473 + 36) would be refused
    # with a 422 after part 1 was posted, leaving half a thread behind.
    project.configure(spoiler_text="Long thread about queues and retries")
    project.run(project.session(SHORT_THEN_LONG))
    assert [len(p) for p in project.variants()["mastodon"]] == [216, 473]
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "dead"
    assert "post 2 of 2 is 509 characters with its content warning" in entry["last_error"], entry["last_error"]
    assert mastodon.posts() == [], "no half thread"


def test_an_instance_with_a_lower_limit_is_read_and_nothing_is_sent(project, mastodon) -> None:
    mastodon.max_characters = 300  # a server configured below Mastodon's 500 (glitch-soc, GoToSocial...)
    project.run(project.session(SHORT_THEN_LONG))
    assert project.cli("publish").exit_code == 1
    [entry] = project.queue()
    assert entry["status"] == "dead"
    assert f"post 2 of 2 is 473 characters; {mastodon.url} takes 300" in entry["last_error"], entry["last_error"]
    assert mastodon.posts() == [], "no half thread"
    assert [r["path"] for r in mastodon.requests] == ["/api/v2/instance"]


def test_an_instance_with_a_higher_limit_does_not_raise_the_configured_one(project, mastodon, long_text) -> None:
    mastodon.max_characters = 5000
    project.configure(max_characters=450)
    project.run(project.session(long_text))
    assert project.cli("publish").exit_code == 0
    assert mastodon.texts() == project.variants()["mastodon"]
