"""``flywheel run --publish`` through the real queue into the web target, with a small session-type plugin."""

from __future__ import annotations

import json
from pathlib import Path

from flywheel_core import Artifact, SessionType, hookimpl


class NotesPlugin:
    """A session type of our own, so this test needs no other flywheel plugin installed."""

    @hookimpl
    def flywheel_session_types(self):
        return [SessionType("notes", "test notes", {}, ("blog_post", "social_post"))]

    @hookimpl
    def flywheel_generate(self, session, ctx):
        if session.session_type != "notes":
            return None
        title = str(session.get("title") or "Notes")
        return [
            Artifact("blog_post", f"# {title}\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<script>alert(1)</script>\n",
                     title=title, summary="Notes of the day.", tags=["notes"], meta={"project": "notes"}),
            Artifact("social_post", f"{title}!", title="social"),
        ]


def test_run_publish_puts_the_session_on_the_site(tmp_path, monkeypatch, register_plugin, flywheel_cli, make_session) -> None:
    register_plugin(NotesPlugin(), name="notes")
    (tmp_path / "flywheel.toml").write_text('[targets.web]\nbase_url = "https://example.org/"\ntitle = "E2E"\n')
    session = tmp_path / "work_session.json"
    session.write_text(json.dumps(make_session("notes", title="Queue day", timestamp="2025-12-02T05:20:00Z")))
    monkeypatch.chdir(tmp_path)
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
    assert [(e["target"], e["kind"]) for e in json.loads(listed.stdout)] == [("web", "blog_post")]
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
