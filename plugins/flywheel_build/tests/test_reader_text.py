"""Sessions shaped as agents write them, read as a stranger reads the posts: commits that say
nothing, subjects in another language, a terse title and summary."""

from __future__ import annotations

import json

from flywheel_core.testing import build_session


def session(commits: list[dict], **fields):
    """A build session as the end-of-session guide assembles it: a repo_path of another machine."""
    meta = {"duration_minutes": 420, "files_changed": 3, "commits": len(commits), "lines_added": 210, "lines_removed": 95}
    return build_session("build", session_id="s-readers", agent_id="Agent-3", metadata=meta,
                         source_data={"repo_path": "D:/Projects/dream-os", "git_commits": commits}, **fields)


def commit(i: int, message: str, files: list[str], author: str = "Agent-3") -> dict:
    return {"hash": f"{i:x}a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b"[:40], "message": message, "author": author,
            "timestamp": f"2025-12-03T{10 + i}:05:00Z", "files": files}


def test_commits_that_say_nothing_are_counted_with_what_they_say(run_session):
    """Seven commits "fix", "wip", "update" made the title "dream-os: Fixed", the opening "Agent-3
    fixed (`6a1b2c3`), fixed (`0a1b2c3`), fixed (`3a1b2c3`) and updated (`5a1b2c3`)", the posts
    "Agent-3 fixed, fixed, fixed and updated." and a section listing "- Wip", "- Update"."""
    files = ["src/services/auth.py", "src/services/cache.py", "src/services/api.py"]
    commits = [commit(i, m, [files[i % 3]]) for i, m in enumerate(["fix", "wip", "update", "fix", "wip", "update", "fix"])]
    result, arts, _ = run_session(session(commits))
    assert result.exit_code == 0, result.output
    blog = arts["blog_post.md"]
    assert blog.startswith("# dream-os: Work session by Agent-3\n"), blog
    assert ("In a seven-hour session on dream-os, Agent-3 made 7 commits to auth.py, api.py and cache.py in src/services; "
            "their messages say no more than “fix”, “update” and “wip”.") in blog, blog
    assert "fixed, fixed" not in blog and "- Wip" not in blog and "## " not in blog.split("---")[0], blog
    for network, parts in json.loads(arts["social_post.json"]).items():
        assert parts[0].startswith("In a seven-hour session on dream-os, Agent-3 made 7 commits"), (network, parts[0])
        assert "fixed, fixed" not in parts[0] and "In all: 7 commits" not in parts[0] and "Behind it: 7" not in parts[0], parts[0]


def test_a_commit_that_says_nothing_beside_others_is_counted_after_them(run_session):
    commits = [commit(0, "feat: add CSV exporter", ["src/shop/csv_exporter.py"]), commit(1, "wip", ["src/shop/csv_exporter.py"]),
               commit(2, "Initial import", ["src/shop/__init__.py"])]
    result, arts, _ = run_session(session(commits))
    assert result.exit_code == 0, result.output
    blog = arts["blog_post.md"]
    assert blog.startswith("# dream-os: Added a CSV exporter\n"), blog
    assert "then committed “Initial import” (`2a1b2c3`)" in blog, blog
    assert "## Other changes\n\n1 commit whose message says no more than “wip”.\n" in blog, blog
    assert "- Wip" not in blog and "wip (" not in blog.split("---")[0], blog


def test_subjects_in_another_language_are_quoted_not_half_translated(run_session):
    """"fix: Temperaturumrechnung korrigiert" was told as "fixed a Temperaturumrechnung korrigiert",
    "feat: Sensoranbindung für BME280 hinzugefügt" as "Added Sensoranbindung für BME280 hinzugefügt"."""
    commits = [commit(0, "feat: Sensoranbindung für BME280 hinzugefügt", ["sensoren/bme280.py"], "Jürgen Müller"),
               commit(1, "fix: Temperaturumrechnung korrigiert", ["sensoren/umrechnung.py"], "Jürgen Müller"),
               commit(2, "docs: README auf Deutsch übersetzt", ["README.md"], "Jürgen Müller")]
    doc = session(commits, title="Wetterstation: BME280-Sensor angebunden",
                  summary="Die Wetterstation liest jetzt den BME280-Sensor aus und rechnet Temperaturen korrekt um.")
    doc["source_data"]["repo_path"] = "D:/Projekte/Wetterstation"
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    posts = json.loads(arts["social_post.json"])
    text = "\n".join([arts["blog_post.md"], *(p for parts in posts.values() for p in parts)])
    assert "fixed a Temperaturumrechnung" not in text and "Added Sensoranbindung" not in text, text
    # One sentence for the person, not "Jürgen Müller also committed “A”. Jürgen Müller also committed “B”."
    assert ("Jürgen Müller also committed “Sensoranbindung für BME280 hinzugefügt” and “Temperaturumrechnung korrigiert”."
            in posts["mastodon"][0]), posts["mastodon"][0]
    assert posts["mastodon"][0].count("Jürgen Müller also") == 1, posts["mastodon"][0]
    assert posts["bluesky"][0].startswith("The main change in Wetterstation: Sensoranbindung für BME280 hinzugefügt."), posts["bluesky"][0]


def test_a_terse_title_and_summary(run_session):
    """Title "Typo", summary "Fixed it.": the X post said "Typo. Fixed it." (no project), Bluesky
    "The main change in swarm-brain: Fixed a typo in config loader. Fixed it. Agent-2 also fixed
    a typo in config loader." (the one change twice), the blog post "1 commit by Agent-2: 1 fix."."""
    doc = session([commit(0, "fix: typo in config loader", ["config/loader.py"], "Agent-2")], title="Typo", summary="Fixed it.")
    doc["source_data"]["repo_path"] = "D:/Projects/swarm-brain"
    doc["metadata"].update(commits=1, files_changed=1)
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    posts = json.loads(arts["social_post.json"])
    assert posts["x"][0].startswith("swarm-brain: Typo. Fixed it.\n"), posts["x"][0]
    assert posts["mastodon"][0].startswith("swarm-brain: Typo.\n"), posts["mastodon"][0]
    assert posts["bluesky"][0].startswith("The main change in swarm-brain: Fixed a typo in config loader. Fixed it.\n"), posts["bluesky"][0]
    assert posts["bluesky"][0].count("typo in config loader") == 1, posts["bluesky"][0]
    assert "1 commit by Agent-2: 1 fix." not in arts["blog_post.md"], arts["blog_post.md"]


def test_emoji_and_tags_before_a_subject_and_short_posts_cut_at_a_change(run_session):
    """Agents' subjects as they come ("🐛 Fixed ...", "[Agent-7] Add ...", "✅ COMPLETE: ..."): the
    opening quoted “🐛 Fixed import error in message_queue.py” instead of telling it, and X and
    Bluesky cut the opening mid-quote ("committed “🐛 Fixed import…")."""
    commits = [{"hash": "a1b2c3d", "message": "✅ COMPLETE: Publication system deployed and tested", "timestamp": "2025-12-03T10:00:00Z"},
               {"hash": "b2c3d4e", "message": "🐛 Fixed import error in message_queue.py", "timestamp": "2025-12-03T10:30:00Z"},
               {"hash": "c3d4e5f", "message": "[Agent-7] Add swarm status dashboard", "timestamp": "2025-12-03T11:00:00Z"},
               {"hash": "d4e5f6a", "message": "V2 compliance: refactor messaging_core.py to under 400 lines", "timestamp": "2025-12-03T11:30:00Z"},
               {"hash": "e5f6a7b", "message": "chore: update status.json", "timestamp": "2025-12-03T11:45:00Z"}]
    doc = session(commits)
    doc["source_data"]["repo_path"] = "D:/Agent_Cellphone_V2_Repository"
    doc["metadata"]["duration_minutes"] = 150
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    blog = arts["blog_post.md"]
    assert blog.startswith("# Agent_Cellphone_V2_Repository: Added a swarm status dashboard\n"), blog
    assert "the session's commits added a swarm status dashboard (`c3d4e5f`), fixed an import error in message_queue.py (`b2c3d4e`)" in blog
    assert "🐛" not in blog.split("---")[0] and "[Agent-7]" not in blog.split("---")[0] and "In ✅" not in blog, blog
    posts = json.loads(arts["social_post.json"])
    for network in ("x", "bluesky"):
        first = posts[network][0].split("\n\n")[0]
        assert "…" not in first and first.endswith(", among other changes."), (network, first)
    assert posts["x"][0].startswith("In 2 h 30 min of work on Agent_Cellphone_V2_Repository, the session's commits added a swarm "
                                    "status dashboard and fixed an import error in message_queue.\u2060py, among other changes.\n")
