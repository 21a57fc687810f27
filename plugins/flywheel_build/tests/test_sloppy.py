"""Sloppy commit lists agents write in the wild: duplicates, missing messages, huge subjects."""

from __future__ import annotations

import hashlib
import json
import re

from flywheel_core.testing import build_session


def session(**fields):
    """A build session document: core's test builder with this suite's defaults."""
    defaults = {"session_id": "s-001", "agent_id": "Agent-7", "metadata": {"duration_minutes": 120},
                "source_data": {}}
    return build_session("build", **{**defaults, **fields})


def test_duplicate_hashes_count_once_and_show_once(run_session):
    commits = [
        {"hash": "abc123", "message": "feat: first"},
        {"hash": "abc123", "message": "feat: first again"},
        {"hash": "def456", "message": "fix: second"},
    ]
    doc = session(metadata={}, source_data={"git_commits": commits})
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    assert "listed twice" in result.output
    for name in ("readme.md", "build_log.md", "blog_post.md"):
        assert "2 commits" in arts[name], (name, arts[name])
        assert "3 commits" not in arts[name]
        assert "first again" not in arts[name]
        assert arts[name].count("`abc123`") == arts[name].count("`def456`"), arts[name]


def test_commit_without_message_has_no_empty_entry(run_session):
    commits = [{"hash": "def456", "message": None}, {"hash": "abc123", "message": "   "}, {"hash": "0a1b2c", "message": "feat: ok"}]
    result, arts, _ = run_session(session(metadata={}, source_data={"git_commits": commits}))
    assert result.exit_code == 0, result.output
    for name, text in arts.items():
        if name.endswith(".md"):
            assert not re.search(r"^- +\(|^- \s|\*\*:\*\*|\*\*\*\*", text, re.M), (name, text)
            assert "`def456`" in text or name in ("social_post.md", "blog_post.md"), (name, text)
    assert "## Other changes\n\n2 commits without a message.\n" in arts["blog_post.md"], "was: '****. (`def456`)'"


def test_huge_subject_is_clipped_everywhere(run_session):
    big = "feat: " + "word " * 20_000 + "\n\nbody"
    commits = [{"hash": "abc123", "message": big}, {"hash": "def456", "message": "A" * 100_000}]
    result, arts, saved = run_session(session(metadata={}, source_data={"git_commits": commits}))
    assert result.exit_code == 0, result.output
    for name, text in arts.items():
        assert len(text) < 10_000, (name, len(text))
    assert saved["source_data"]["git_commits"][1]["message"] == "A" * 100_000


def test_blog_post_stays_readable_with_thousands_of_commits(run_session):
    commits = [{"hash": hashlib.sha1(str(i).encode()).hexdigest(), "message": f"{('feat', 'fix')[i % 2]}: change number {i}"} for i in range(5000)]
    result, arts, _ = run_session(session(metadata={}, source_data={"git_commits": commits}))
    assert result.exit_code == 0, result.output
    blog = arts["blog_post.md"]
    assert len(blog.splitlines()) < 60, len(blog.splitlines())
    assert "5,000 commits" in blog
    # Bare subjects: a few are listed by name (8 per kind), the thousands are counted.
    assert "Also 2,491 more new features." in blog and "Also 2,492 more fixes." in blog, blog
    assert "change number 123 " not in blog  # the commit list is the build log's, linked from the post
    assert "[build log](build_log.md)" in blog
    assert "change number 4998" in arts["build_log.md"] and "change number 0 " in arts["build_log.md"]  # the log keeps all


def test_highlights_do_not_repeat_what_changed(run_session):
    commits = [{"hash": "abc123", "message": "feat: add the parser"}, {"hash": "def456", "message": "fix: empty input"}]
    result, arts, _ = run_session(session(metadata={}, source_data={"git_commits": commits}))
    blog = arts["blog_post.md"]
    # The title and the opening only (who made it): no section says it again.
    assert blog.lower().count("added the parser") == 2 and "## " not in blog, blog
    result, arts, _ = run_session(session(metadata={}, key_achievements=["Parser ships", "Empty input is fine"],
                                          source_data={"git_commits": commits}))
    blog = arts["blog_post.md"]
    # The first highlight is the title (none given): listed again, it would be said twice.
    assert blog.startswith("# Parser ships\n") and "## Highlights\n\n- Empty input is fine\n" in blog
    assert blog.count("Parser ships") == 1, blog


def test_clipped_social_text_has_no_stop_after_the_ellipsis_and_no_fallback_hashtag(run_session):
    commits = [{"hash": "abc123", "message": "feat: " + "very long feature name " * 20}]
    result, arts, _ = run_session(session(metadata={}, key_achievements=["ach " * 100, "second " * 40], source_data={"git_commits": commits}))
    assert result.exit_code == 0, result.output
    posts = json.loads(arts["social_post.json"])
    text = " ".join(p for ps in posts.values() for p in ps)
    assert "…." not in text and "…" in text, text
    assert "#Buildsession" not in text and "#BuildSession" not in text, text
    assert "#BuildInPublic" in text  # hashtags are CamelCase now (compose_social), so screen readers say the words


def test_social_highlights_keep_their_scope(run_session):
    commits = [{"hash": "abc123", "message": "feat(f1): one"}, {"hash": "def456", "message": "feat(f2): two"}]
    result, arts, _ = run_session(session(metadata={}, source_data={"git_commits": commits}))
    posts = json.loads(arts["social_post.json"])
    # Each post says who made what: both changes, each with its scope.
    assert posts["x"][0].startswith("The session's commits added one in the f1 and two in the f2."), posts["x"]
    for network in ("x", "bluesky", "mastodon", "linkedin"):
        assert "in the f1" in posts[network][0] and "in the f2" in posts[network][0], posts[network]


def test_short_hashes_stay_unique_and_bot_only_sessions_read_well(run_session):
    commits = [
        {"hash": "abcdef1234", "message": "Bump x from 1 to 2", "author": "dependabot[bot]"},
        {"hash": "abcdef1235", "message": "Merge pull request #1 from a/b", "merge": True},
        {"hash": "abcdef1236", "message": "chore(deps): update", "author": "renovate[bot]"},
    ]
    result, arts, _ = run_session(session(metadata={}, source_data={"git_commits": commits}))
    assert result.exit_code == 0, result.output
    for short in ("`abcdef1234`", "`abcdef1235`", "`abcdef1236`"):
        assert short in arts["build_log.md"], arts["build_log.md"]
    assert "`abcdef1`" not in "".join(arts.values())
    blog = arts["blog_post.md"]
    # Not "... to Build session s-001", and not credited to the agent: the bots wrote them.
    assert "\n3 commits by 2 bots: 1 merge and 2 automated updates.\n" in blog, blog
    assert "## Automated updates\n\n2 automated commits by" in blog, blog
    posts = json.loads(arts["social_post.json"])
    # An unnamed project's posts lead with what happened, never "Build session <id>:".
    assert all(p[0].startswith("Merges and automated updates.") for p in posts.values()), posts
    assert posts["mastodon"][0].count("3 commits") == 1, posts["mastodon"]


def test_long_durations_have_thousands_separators(run_session):
    result, arts, _ = run_session(session(metadata={"duration_minutes": 6_000_000}))  # under the 10,000,000 ceiling
    assert "100,000 h of work" in arts["blog_post.md"], arts["blog_post.md"]


def test_bidi_and_control_characters_are_dropped_emoji_kept(run_session):
    commits = [{"hash": "abc123", "message": "fix: \u202eevil\u202c \x1b[31mred \u200bzero 👩\u200d💻 coder", "author": "Ann\u2066"}]
    result, arts, _ = run_session(session(metadata={}, title="Title \u202e reversed", source_data={"git_commits": commits}))
    assert result.exit_code == 0, result.output
    text = "".join(arts.values())
    for bad in ("\u202e", "\u202c", "\u2066", "\x1b", "[31m", "31m"):
        assert bad not in text
    assert "👩\u200d💻 coder" in arts["build_log.md"] and "evil" in arts["build_log.md"]


def test_a_count_no_session_holds_is_refused_with_its_path(run_session):
    # metadata.commits 10**30 was published as "1,000,000,000,000,000,000,000,000,000,000 commits".
    for field in ("commits", "files_changed", "lines_added", "lines_removed"):
        result, _, _ = run_session(session(metadata={field: 10**30}, source_data={"git_commits": []}))
        assert result.exit_code == 2, result.output
        assert f"$.metadata.{field}: " in result.stderr and "1000000000000000000000000000000" in result.stderr
    commits = [{"hash": "abc123", "message": "feat: x", "insertions": 10**30}]
    result, _, _ = run_session(session(metadata={}, source_data={"git_commits": commits}))
    assert result.exit_code == 2 and "$.source_data.git_commits[0].insertions: " in result.stderr, result.output
