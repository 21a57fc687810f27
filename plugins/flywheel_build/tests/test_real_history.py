"""Histories shaped like the public ones flywheel was tried on (issue 11, Builds): odd dates,
many authors and bots, merges that do not say so and "merges" that are not, unknown commits."""

from __future__ import annotations

import json
import re

import pytest

from flywheel_core.testing import build_session

SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
BOT = ("mergify[bot]", "37929162+mergify[bot]@users.noreply.github.com")


def collect(fw, *args) -> tuple[dict, str]:
    result = fw("collect", "build", *map(str, args))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return json.loads(result.stdout), result.stderr


def run_collected(fw, tmp_path, doc: dict, name: str = "s.json") -> dict[str, str]:
    path = tmp_path / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = fw("run", path, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / "build" / doc["session_id"]
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}


def plain(text: str) -> str:
    """Markdown text without its backslash escapes (core's md_inline escapes brackets)."""
    return re.sub(r"\\(.)", r"\1", text)


# -- dates git prints ------------------------------------------------------------------------


@pytest.fixture
def odd_dates(git_repo):
    """psf/requests has a commit whose zone is "+051800"; git accepts worse."""
    repo = git_repo()
    shas = {}
    for key, date in [
        ("epoch", "0 +0000"),
        ("normal", "1764651600 +0530"),
        ("requests", "1313405700 +051800"),
        ("minus24", "1764652000 -2400"),
        ("nines", "1764652100 +9999"),
        ("no_zone", "1764652200"),
        ("far_future", "99999999999 +0000"),
        ("year_10000", "253402300800 +0000"),
        ("newest", "1764655200 +0100"),
    ]:
        shas[key] = repo.raw_commit(f"fix: commit {key}", date=date, files={f"{key}.py": "x = 1\n"})
    return repo, shas


def test_any_date_git_prints_is_read(fw, odd_dates, tmp_path):
    repo, shas = odd_dates
    doc, stderr = collect(fw, "--repo", repo.path)
    when = {c["hash"]: c["timestamp"] for c in doc["source_data"]["git_commits"]}
    assert when[shas["requests"]] == "2011-08-15T10:55:00Z"  # the instant git stored, in UTC
    assert when[shas["minus24"]] == "2025-12-02T05:06:40Z" and when[shas["nines"]] == "2025-12-02T05:08:20Z"
    assert when[shas["normal"]] == "2025-12-02T10:30:00+05:30"
    assert when[shas["epoch"]] == "1970-01-01T00:00:00+00:00"
    assert when[shas["far_future"]] == "5138-11-16T09:46:39+00:00"
    assert when[shas["no_zone"]] is None and when[shas["year_10000"]] is None
    for key in ("requests", "minus24", "nines"):
        assert f"commit {shas[key][:12]} has an impossible time zone" in stderr, stderr
    assert f"commit {shas['no_zone'][:12]} has no readable date" in stderr
    assert f"commit {shas['year_10000'][:12]} has a date out of range" in stderr
    # The newest commit git names is in the year 5138: the session (its posts, its place on the
    # website) is dated by the newest of the others, and that is said.
    assert doc["timestamp"] == "2025-12-02T06:00:00Z"
    assert f"1 commit(s) dated in the future: {shas['far_future'][:12]} (5138-11-16); the session is dated by the others" in stderr

    assert fw("validate", _write(tmp_path, doc)).exit_code == 0
    arts = run_collected(fw, tmp_path, doc)
    assert "commit requests" in arts["build_log.md"]


def test_an_author_line_git_cannot_read_is_no_author_named_percent_an(fw, git_repo, tmp_path):
    # Old importers wrote "author Foo <foo 123 +0000" (no ">"); git then prints its placeholders,
    # and "%aN" was published as the author's name.
    repo = git_repo()
    repo.commit("feat: first", {"a.py": "1\n"}, when="2025-12-02T01:00:00Z")
    broken = repo.raw_commit("fix: from an old import", author="Foo <foo", date="1764640000 +0000", files={"b.py": "1\n"})
    doc, stderr = collect(fw, "--repo", repo.path)
    commit = next(c for c in doc["source_data"]["git_commits"] if c["hash"] == broken)
    assert (commit["author"], commit["email"]) == ("", "")
    assert f"commit {broken[:12]} has no readable author (git prints none)" in stderr
    arts = run_collected(fw, tmp_path, doc)
    assert not any("%a" in text for text in arts.values())


def _write(tmp_path, doc) -> str:
    path = tmp_path / "collected.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def test_listed_commit_with_an_odd_zone_is_filled_with_a_warning(run_session, odd_dates):
    repo, shas = odd_dates
    doc = build_session("build", session_id="s-odd", agent_id="A", source_data={
        "repo_path": "repo", "git_commits": [{"hash": shas["requests"]}]})
    result, arts, saved = run_session(doc)
    assert result.exit_code == 0, result.output
    assert saved["source_data"]["git_commits"][0]["timestamp"] == "2011-08-15T10:55:00Z"
    assert f"commit {shas['requests'][:12]} has an impossible time zone" in result.stderr


# -- who did the work ------------------------------------------------------------------------


@pytest.fixture
def team(git_repo):
    """Three authors and a bot that made the newest commits (Pillow's shape)."""
    repo = git_repo()
    ann, bob = ("Ann Example", "ann@example.com"), ("Bob", "bob@example.com")
    repo.commit("feat: parser", {"p.py": "1\n"}, when="2025-12-01T09:00:00Z", author=ann)
    repo.commit("fix: parser edge", {"p.py": "2\n"}, when="2025-12-01T09:30:00Z", author=ann)
    repo.commit("docs: explain", {"d.md": "1\n"}, when="2025-12-01T09:10:00Z", author=bob)
    repo.commit("test: more", {"t.py": "1\n"}, when="2025-12-02T14:00:00Z", author=ann)
    repo.commit("refactor: tidy", {"p.py": "3\n"}, when="2025-12-02T15:00:00Z", author=ann)
    for i in range(2):
        repo.commit(f"chore(deps): bump x to {i}", {"req.txt": f"{i}\n"}, when=f"2025-12-02T16:0{i}:00Z", author=BOT)
    return repo


def test_agent_is_who_ran_the_session_not_the_newest_author(fw, team, tmp_path):
    team.git("config", "user.name", "Runner Person")
    doc, _ = collect(fw, "--repo", team.path)
    assert doc["agent_id"] == "Runner Person"
    doc, _ = collect(fw, "--repo", team.path, "--agent", "Agent-7")
    assert doc["agent_id"] == "Agent-7"
    arts = run_collected(fw, tmp_path, doc)
    arts = {k: plain(v) for k, v in arts.items()}
    text = "".join(v for k, v in arts.items() if k.endswith(".md"))
    assert "mergify[bot] made" not in text and "made 7 commits" not in text and "Agent-7 made" not in text
    credits = "by Ann Example (4), Bob (1) and 1 bot"
    # The post opens with who made what (the authors, not the agent); the counts are the footer's.
    assert "of work, Ann Example added a parser (`" in arts["blog_post.md"] and ", and Bob explained (`" in arts["blog_post.md"]
    assert f"7 commits {credits}" in arts["readme.md"], arts["readme.md"]
    log = arts["build_log.md"]
    assert "run by Agent-7" in log
    assert "- Ann Example (4 commits)\n- Bob (1 commit)\n- mergify[bot] (2 automated commits)" in log, log


def test_work_time_is_an_estimate_from_commit_times(fw, team, tmp_path):
    doc, _ = collect(fw, "--repo", team.path)
    assert "duration_minutes" not in doc["metadata"]
    arts = run_collected(fw, tmp_path, doc)
    # Ann: 30 + 30 (09:00-09:30), then a new stretch 30, then 60 (14:00-15:00); Bob: 30. Bots: none.
    estimate = "about 3 h of work (estimated from commit times)"
    for name in ("blog_post.md", "readme.md", "build_log.md"):
        assert estimate in plain(arts[name]), (name, arts[name])
        assert "31 h" not in arts[name]  # the calendar span, 09:00 one day to 16:01 the next
    doc, _ = collect(fw, "--repo", team.path, "--duration", "90", "--rev-range", "HEAD~2..HEAD")
    arts = run_collected(fw, tmp_path, doc, "declared.json")
    assert "· 1 h 30 min of work." in plain(arts["blog_post.md"]) and "estimated" not in arts["blog_post.md"]


def test_estimate_follows_git_hours():
    from types import SimpleNamespace

    from flywheel_build.facts import estimate_work_minutes

    def c(when, author="A", bot=False, merge=False):
        return SimpleNamespace(when=when, author=author, bot=bot, merge=merge)

    commits = [c("2025-12-01T09:00:00Z"), c("2025-12-01T10:59:00Z"), c("2025-12-01T13:00:00Z"),
               c("2025-12-01T13:00:00Z", author="B"), c("2025-12-01T09:00:00Z", bot=True), c("2025-12-01T20:00:00Z", merge=True)]
    assert estimate_work_minutes(commits) == 30 + 119 + 30 + 30
    assert estimate_work_minutes([c(None)]) is None


# -- merges ----------------------------------------------------------------------------------


def test_merges_are_counted_by_parents_not_subjects(fw, git_repo, tmp_path):
    """pytest's history has squashed "Merge pull request ..." commits with real changes, and
    true merges whose subject says nothing of it."""
    repo = git_repo()
    repo.commit("feat: base", {"a.py": "1\n"}, when="2025-12-02T01:00:00Z")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("fix: on topic", {"b.py": "1\n"}, when="2025-12-02T02:00:00Z")
    repo.git("checkout", "-q", "main")
    repo.commit("Merge pull request #12 from someone/squashed", {"c.py": "1\n2\n"}, when="2025-12-02T03:00:00Z")
    env = repo.env("2025-12-02T04:00:00Z", "Ann Example", "ann@example.com")
    repo.git("merge", "-q", "--no-ff", "-m", "Bring in the topic work", "topic", env=env)
    doc, _ = collect(fw, "--repo", repo.path)
    merges = [c["message"] for c in doc["source_data"]["git_commits"] if c.get("merge")]
    assert merges == ["Bring in the topic work"]
    assert len(merges) == int(repo.git("rev-list", "--merges", "--count", "HEAD"))
    assert all(len(c["parents"]) == (2 if c.get("merge") else 1) for c in doc["source_data"]["git_commits"][:-1])
    arts = run_collected(fw, tmp_path, doc)
    changed = plain(arts["build_log.md"].split("## Merges")[0])
    assert "Merge pull request #12 from someone/squashed" in changed  # it changed c.py: it is news
    assert "1 merge commit" in arts["build_log.md"] and "read as" not in arts["build_log.md"]


def test_sessions_without_parents_fall_back_to_subjects_and_say_so(run_session):
    commits = [
        {"hash": "a" * 40, "message": "Merge branch 'topic'"},
        {"hash": "b" * 40, "message": "Merge pull request #3 from x/y", "files": ["c.py"], "insertions": 4},
        {"hash": "c" * 40, "message": "Merge branch 'other'", "merge": False},
    ]
    result, arts, _ = run_session(build_session("build", session_id="s-m", source_data={"git_commits": commits}))
    assert result.exit_code == 0, result.output
    log = plain(arts["build_log.md"])
    assert "1 merge commit: `aaaaaaa`" in log
    assert "1 commit read as a merge from its subject and lack of changes: the session lists no parents." in log
    assert "Merge pull request #3 from x/y (`bbbbbbb`)" in log and "Merge branch 'other' (`ccccccc`)" in log


# -- commits the repository does not have ----------------------------------------------------


def test_unknown_commit_is_never_the_headline_nor_a_link(run_session, git_repo):
    repo = git_repo("checkout-folder")
    repo.git("remote", "add", "origin", "https://github.com/acme/repo.git")
    real = repo.commit("fix: small repair", {"a.py": "1\n"}, when="2025-12-02T05:00:00Z")
    fake = "f" * 40
    listed = [{"hash": fake, "message": "feat!: rewrite everything", "insertions": 5000},
              {"hash": real, "message": "fix: small repair"}]
    result, arts, _ = run_session(build_session("build", session_id="s-u", agent_id="A",
                                                source_data={"repo_path": "checkout-folder", "git_commits": listed}))
    assert result.exit_code == 0, result.output
    assert "1 listed commit(s) not found" in result.stderr
    assert arts["blog_post.md"].startswith("# repo: Fixed a small repair\n"), arts["blog_post.md"]
    text = "".join(arts.values())
    assert f"commit/{fake}" not in text and f"https://github.com/acme/repo/commit/{real}" in text
    assert "`fffffff`, not in the repository" in arts["build_log.md"]
    assert "rewrite everything" not in json.loads(arts["social_post.json"])["x"][0]


# -- headline --------------------------------------------------------------------------------


def test_headline_is_the_most_significant_change_as_written(fw, git_repo, tmp_path):
    repo = git_repo()
    base = repo.commit("release version 3.1.2", {"VERSION": "3.1.2\n"}, when="2025-11-01T09:00:00Z")
    repo.commit("Start version 3.1.3", {"VERSION": "3.1.3.dev\n"}, when="2025-12-01T09:00:00Z")
    repo.commit("docs: long rewrite", {"docs.md": "x\n" * 500}, when="2025-12-01T09:10:00Z")
    repo.commit("fix: add() drops the last item", {"lib.py": "1\n2\n3\n"}, when="2025-12-01T09:20:00Z")
    repo.commit("fix: typo", {"lib2.py": "1\n"}, when="2025-12-01T09:30:00Z")
    repo.commit("release version 3.1.3", {"VERSION": "3.1.3\n"}, when="2025-12-01T09:40:00Z")
    doc, _ = collect(fw, "--repo", repo.path, "--rev-range", f"{base}..HEAD")
    assert doc["source_data"]["git_commits"][-1]["message"] == "Start version 3.1.3"
    arts = run_collected(fw, tmp_path, doc)
    assert plain(arts["blog_post.md"]).startswith("# add() drops the last item\n"), arts["blog_post.md"]


def test_a_benchmark_run_is_no_headline(fw, git_repo, tmp_path):
    # Regression: the demo's post on this repository was titled "Made bench at f44c37f ...": a
    # commit of benchmark results (benchmarks/, README) outranked the code changes as "other".
    repo = git_repo()
    base = repo.commit("initial", {"lib.py": "0\n"}, when="2025-12-01T09:00:00Z")
    repo.commit("web: templates run sandboxed", {"lib.py": "1\n2\n"}, when="2025-12-01T09:10:00Z")
    repo.commit("make bench at abc1234: 15 of 19 targets met",
                {"benchmarks/RESULTS.md": "x\n" * 300, "benchmarks/scan.py": "y\n" * 50, "README.md": "z\n"},
                when="2025-12-01T09:20:00Z")
    doc, _ = collect(fw, "--repo", repo.path, "--rev-range", f"{base}..HEAD")
    arts = run_collected(fw, tmp_path, doc)
    title = plain(arts["blog_post.md"]).splitlines()[0]
    assert "templates run sandboxed" in title and "bench" not in title, arts["blog_post.md"]


@pytest.mark.parametrize(
    "subjects, headline",
    [
        (["feat: small thing", "fix: huge fix", "feat!: drop python 3.8"], "Dropped python 3.8"),
        (["fix: a", "feat: iOS support", "docs: x"], "iOS support"),
        (["Update README", "Fix crash on empty input", "Release 2.0"], "Fixed a crash on empty input"),
        (["chore: one", "chore: two"], "Two"),  # same tier, same size: the newest
        (["fix: --verbose flag", "test: x"], "--verbose flag"),
    ],
)
def test_headline_ranking(run_session, subjects, headline):
    # Listed oldest first here; the session lists them newest first.
    commits = [{"hash": f"{i:040x}", "message": s, "timestamp": f"2025-12-02T0{i}:00:00Z"} for i, s in enumerate(subjects)]
    result, arts, _ = run_session(build_session("build", session_id="s-h", source_data={"git_commits": commits[::-1]}))
    assert result.exit_code == 0, result.output
    assert plain(arts["blog_post.md"]).startswith(f"# {headline}\n"), arts["blog_post.md"]


# -- session ids -----------------------------------------------------------------------------


def test_ranges_ending_at_the_same_head_get_their_own_ids(fw, git_repo, tmp_path):
    repo = git_repo()
    first = repo.commit("feat: one", {"a.py": "1\n"}, when="2025-12-02T01:00:00Z")
    second = repo.commit("feat: two", {"a.py": "2\n"}, when="2025-12-02T02:00:00Z")
    repo.commit("feat: three", {"a.py": "3\n"}, when="2025-12-02T03:00:00Z")
    ids = [collect(fw, "--repo", repo.path, "--rev-range", f"{base}..HEAD")[0]["session_id"] for base in (first, second, first)]
    assert ids[0] != ids[1] and ids[0] == ids[2], ids
    whole = collect(fw, "--repo", repo.path)[0]["session_id"]
    assert whole not in ids and all(SESSION_ID.match(i) for i in ids + [whole])
    assert len({i.rsplit("-", 1)[0] for i in ids + [whole]}) == 1  # same end and newest commit, told apart by the range


# -- commit bodies ---------------------------------------------------------------------------


def test_bodies_are_collected_clean_with_trailers_apart(fw, git_repo, tmp_path):
    repo = git_repo()
    repo.commit(
        "feat: parser\n\nThe parser now reads\u202e nested\x1b[31m lists.\r\n\r\nFixes: #12\n"
        "Co-authored-by: Bob Builder <bob@example.com>\nCo-authored-by: pre-commit-ci[bot] <66853113+pre-commit-ci[bot]@users.noreply.github.com>\n"
        "Signed-off-by: Ann Example <ann@example.com>\n",
        {"p.py": "1\n"}, when="2025-12-02T01:00:00Z")
    repo.commit("fix: odd body\n\n\x1e1\t2\tnot-a-file\n\tindented\n" + "long words " * 1000, {"q.py": "1\n"},
                when="2025-12-02T02:00:00Z", author=("Bob Builder", "bob@example.com"))
    repo.commit("docs: only a sign-off\n\nSigned-off-by: Ann Example <ann@example.com>", {"d.md": "1\n"}, when="2025-12-02T03:00:00Z")
    doc, _ = collect(fw, "--repo", repo.path)
    sign_off, odd, parser = doc["source_data"]["git_commits"]
    assert parser["body"] == "The parser now reads nested lists.\n\nFixes: #12"  # the colour code goes whole
    assert parser["trailers"] == {
        "Co-authored-by": ["Bob Builder <bob@example.com>", "pre-commit-ci[bot] <66853113+pre-commit-ci[bot]@users.noreply.github.com>"],
        "Signed-off-by": ["Ann Example <ann@example.com>"],
    }
    assert odd["files"] == ["q.py"] and odd["body"].startswith("1\t2\tnot-a-file\n\tindented\nlong words")
    assert len(odd["body"]) <= 4000 and odd["body"].endswith(" …") and "trailers" not in odd
    assert sign_off["body"] == "" and sign_off["trailers"] == {"Signed-off-by": ["Ann Example <ann@example.com>"]}
    assert fw("validate", _write(tmp_path, doc)).exit_code == 0
    arts = run_collected(fw, tmp_path, doc)
    # Co-authors are authors: Bob wrote one commit and co-wrote another.
    assert "Ann Example and Bob Builder added a parser (`" in plain(arts["blog_post.md"]), arts["blog_post.md"]
    assert "**Ann Example**: 2 commits" in arts["blog_post.md"] and "**Bob Builder**: 2 commits" in arts["blog_post.md"]
    assert "parser (`" in plain(arts["build_log.md"]) and "Ann Example with Bob Builder and pre-commit-ci[bot]" in plain(arts["build_log.md"])
