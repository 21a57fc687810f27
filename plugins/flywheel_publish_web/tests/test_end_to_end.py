"""``flywheel run --publish`` through the real queue into the web target, with a small session-type plugin."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from flywheel_core import Artifact, SessionType, hookimpl


class NotesPlugin:
    """A session type of our own, so this test needs no other flywheel plugin installed.

    Its social post links to the session's blog post the way real generators do: with the
    URL ``ctx.page_url`` predicts before anything is published.
    """

    @hookimpl
    def flywheel_session_types(self):
        return [SessionType("notes", "test notes", {}, ("blog_post", "build_log", "social_post"))]

    @hookimpl
    def flywheel_generate(self, session, ctx):
        if session.session_type != "notes":
            return None
        title = str(session.get("title") or "Notes")
        url = ctx.page_url(session, "blog_post", title)
        return [
            Artifact("blog_post", f"# {title}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>\n",
                     title=title, summary="Notes of the day.", tags=["notes"], meta={"project": "notes"}),
            Artifact("build_log", "# Log\n\n- wrote notes\n", title=f"Log of {title}"),
            Artifact("social_post", f"{title}! {url}" if url else f"{title}!", title="social"),
        ]


def _project(tmp_path: Path, monkeypatch, register_plugin, make_session, *, web: str = "", **session) -> Path:
    register_plugin(NotesPlugin(), name="notes")
    (tmp_path / "flywheel.toml").write_text(web or '[targets.web]\nbase_url = "https://example.org/"\ntitle = "E2E"\n')
    path = tmp_path / "work_session.json"
    doc = make_session("notes", **{"title": "Queue day", "timestamp": "2025-12-02T05:20:00Z", **session})
    path.write_text(json.dumps(doc))
    monkeypatch.chdir(tmp_path)
    return path


def test_run_publish_puts_the_session_on_the_site(tmp_path, monkeypatch, register_plugin, flywheel_cli, make_session) -> None:
    session = _project(tmp_path, monkeypatch, register_plugin, make_session)
    result = flywheel_cli("run", session, "--publish")
    assert result.exit_code == 0, result.output
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Queue day" in index and "Notes of the day." in index
    pages = list((tmp_path / "site" / "notes" / "2025" / "12").glob("queue-day-*/index.html"))
    assert len(pages) == 1
    page = pages[0].read_text()
    assert "<table>" in page and "<script>" not in page and "&lt;script&gt;" in page
    # The web target declares the kinds it shows: the social post was never enqueued for it.
    listed = flywheel_cli("queue", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert sorted((e["target"], e["kind"]) for e in json.loads(listed.stdout)) == [("web", "blog_post"), ("web", "build_log")]
    recorded = json.loads(session.read_text())["artifacts"]["blog_post"]
    assert recorded["status"] == "published"
    assert recorded["published_to"]["web"]["url"].startswith("https://example.org/notes/2025/12/queue-day-")
    # Publishing again: nothing is due, nothing changes on the site.
    before = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    again = flywheel_cli("publish")
    assert again.exit_code == 0, again.output
    assert {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()} == before
    built = flywheel_cli("site", "build")
    assert built.exit_code == 0 and "0 files written" in built.stdout


def test_the_page_url_a_generator_gets_is_the_url_the_site_serves(
    tmp_path, monkeypatch, register_plugin, flywheel_cli, make_session, serve_dir
) -> None:
    session = _project(tmp_path, monkeypatch, register_plugin, make_session, title="Запуск очереди")
    result = flywheel_cli("run", session, "--publish")
    assert result.exit_code == 0, result.output
    social = (tmp_path / "flywheel-out" / "notes" / "test-notes-001" / "social_post.md").read_text()
    predicted = social.split()[-1]
    assert predicted.startswith("https://example.org/notes/2025/12/zapusk-ocheredi-")  # a readable slug, any script
    receipt = json.loads(session.read_text())["artifacts"]["blog_post"]["published_to"]["web"]
    assert receipt["url"] == predicted
    served = serve_dir(tmp_path / "site")
    with urllib.request.urlopen(predicted.replace("https://example.org/", served), timeout=10) as response:
        assert response.status == 200
        assert "<h1>Запуск очереди</h1>" in response.read().decode()


def test_page_url_is_none_without_an_enabled_web_target(
    tmp_path, monkeypatch, register_plugin, flywheel_cli, make_session
) -> None:
    session = _project(tmp_path, monkeypatch, register_plugin, make_session,
                       web='[targets.web]\nenabled = false\nbase_url = "https://example.org/"\n')
    assert flywheel_cli("run", session).exit_code == 0
    social = (tmp_path / "flywheel-out" / "notes" / "test-notes-001" / "social_post.md").read_text()
    assert social == "Queue day!"


def test_dry_run_reports_exactly_what_the_real_run_does(
    tmp_path, monkeypatch, register_plugin, flywheel_cli, make_session
) -> None:
    session = _project(tmp_path, monkeypatch, register_plugin, make_session)
    assert flywheel_cli("run", session).exit_code == 0
    dry = flywheel_cli("publish", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert not (tmp_path / "site").exists()
    real = flywheel_cli("publish", "--json")
    assert real.exit_code == 0, real.output
    predicted = {(o["kind"], o["status"]): o["receipt"] for o in json.loads(dry.stdout)}
    published = {(o["kind"], o["status"]): o["receipt"] for o in json.loads(real.stdout)}
    assert predicted == {(kind, "would-publish"): receipt for (kind, _), receipt in published.items()}
    assert sorted(published) == [("blog_post", "published"), ("build_log", "published")]
    for receipt in published.values():  # and each is really there
        assert Path(receipt["path"]).is_file()


def test_a_deploy_remote_that_never_answers_fails_the_batch_and_the_queue_retries_it(
    tmp_path, monkeypatch, register_plugin, flywheel_cli, make_session, silent_server
) -> None:
    web = (f'[targets.web]\nbase_url = "https://example.org/"\n[targets.web.deploy]\nmethod = "git"\n'
           f'remote = "{silent_server}"\ntimeout = 1\n')
    session = _project(tmp_path, monkeypatch, register_plugin, make_session, web=web)
    result = flywheel_cli("run", session, "--publish")
    assert result.exit_code == 1
    assert f"git fetch to the deploy remote {silent_server} got no answer in 1 s" in result.stderr
    entries = json.loads(flywheel_cli("queue", "list", "--json").stdout)
    assert {e["status"] for e in entries} == {"failed"} and all(e["next_attempt_at"] for e in entries)


def test_a_second_session_under_the_same_id_does_not_replace_the_first_ones_page(
    tmp_path, monkeypatch, register_plugin, flywheel_cli, make_session
) -> None:
    # An agent copied yesterday's session file for today's session and kept its session_id: the
    # new session replaced yesterday's page (its URL became a redirect to today's), and
    # yesterday's social post linked to a page about another day's work.
    first = _project(tmp_path, monkeypatch, register_plugin, make_session, title="Queue day")
    assert flywheel_cli("run", first, "--publish").exit_code == 0
    before = {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    second = tmp_path / "next_session.json"
    doc = json.loads(first.read_text())
    doc.update(title="Exporter day", timestamp="2025-12-03T05:20:00Z", artifacts={}, pipeline_status={})
    second.write_text(json.dumps(doc))
    result = flywheel_cli("run", second, "--publish")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().endswith(
        f"{second}: $.session_id: 'test-notes-001' is already the id of {first}, a session of 2025-12-02T05:20:00Z, "
        "whose artifacts are in the queue: give this session its own id (two sessions under one id replace each "
        "other's pages and posts)")
    assert {p: p.read_bytes() for p in (tmp_path / "site").rglob("*") if p.is_file()} == before
    # The same session copied elsewhere (a second clone of the repository) is the same session.
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "work_session.json").write_text(first.read_text())
    assert flywheel_cli("run", clone / "work_session.json", "--publish").exit_code == 0
