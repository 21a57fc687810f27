"""``flywheel run`` on build sessions: collecting the window, filling listed commits, the artifacts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flywheel_core.testing import build_session

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def session(**fields):
    """A build session document: core's test builder with this suite's defaults."""
    defaults = {"session_id": "s-001", "agent_id": "Agent-7", "metadata": {"duration_minutes": 120},
                "source_data": {"repo_path": "repo"}}
    return build_session("build", **{**defaults, **fields})


@pytest.fixture
def windowed(git_repo):
    repo = git_repo()
    repo.commit("chore: before the session", {"a.py": "1\n"}, when="2025-12-02T03:00:00Z")
    repo.commit("feat(api): add endpoint", {"a.py": "1\n2\n", "b.py": "x\n"}, when="2025-12-02T04:00:00Z")
    repo.commit("fix: handle empty input", {"b.py": "y\n"}, when="2025-12-02T05:15:00+00:00")
    repo.commit("docs: after the session", {"c.md": "z\n"}, when="2025-12-02T06:00:00Z")
    return repo


def test_window_ends_at_the_timestamp(run_session, windowed):
    result, arts, saved = run_session(session())
    assert result.exit_code == 0, result.output
    commits = saved["source_data"]["git_commits"]
    assert [c["message"] for c in commits] == ["fix: handle empty input", "feat(api): add endpoint"]
    assert saved["metadata"] == {"duration_minutes": 120, "commits": 2, "files_changed": 2, "lines_added": 3, "lines_removed": 1}
    assert "## New features" in arts["build_log.md"] and "**api:** add endpoint" in arts["build_log.md"]
    assert "before the session" not in "".join(arts.values())


def test_naive_timestamp_is_utc(run_session, windowed):
    _, _, saved = run_session(session(timestamp="2025-12-02T04:30:00", metadata={"duration_minutes": 45}))
    assert [c["message"] for c in saved["source_data"]["git_commits"]] == ["feat(api): add endpoint"]


@pytest.mark.parametrize("minutes", [60_000_000, 1e15])  # back to 1910, and beyond any date
def test_a_window_reaching_before_1970_is_refused_with_its_path(run_session, windowed, minutes):
    # Such a duration was read (the window started at the epoch) and published as so many hours of
    # work; core now refuses a duration over `--duration`'s ceiling, 10,000,000 minutes.
    result, _, _ = run_session(session(metadata={"duration_minutes": minutes}))
    assert result.exit_code == 2, result.output
    assert "$.metadata.duration_minutes: " in result.stderr and "greater than the maximum of 10000000" in result.stderr


def test_the_longest_window_accepted_reads_every_commit_in_it(run_session, windowed):
    result, _, saved = run_session(session(metadata={"duration_minutes": 10_000_000}))  # back to 2006
    assert result.exit_code == 0, result.output
    assert [c["message"] for c in saved["source_data"]["git_commits"]][-1] == "chore: before the session"


def test_empty_window_and_missing_duration_warn(run_session, windowed):
    result, arts, saved = run_session(session(timestamp="2025-11-01T00:00:00Z"))
    assert result.exit_code == 0 and "no commits in" in result.stderr
    assert "git_commits" not in saved["source_data"]
    result, _, _ = run_session(session(metadata={}))
    assert result.exit_code == 0 and "no metadata.duration_minutes" in result.stderr


def test_listed_commits_are_the_truth_and_get_filled(run_session, windowed):
    fix, feat = windowed.git("rev-list", "-2", "HEAD~1").split()
    listed = [
        {"hash": feat[:10], "message": "feat: as the agent wrote it"},
        {"hash": fix, "message": "fix: handle empty input", "insertions": 99},
        {"hash": "deadbeefdeadbeef"},
        {"hash": "not-a-hash"},
    ]
    result, arts, saved = run_session(session(source_data={"repo_path": "repo", "git_commits": listed}))
    assert result.exit_code == 0, result.output
    first, second, missing, odd = saved["source_data"]["git_commits"]
    assert first["message"] == "feat: as the agent wrote it" and first["hash"] == feat[:10]
    assert (first["insertions"], first["deletions"], sorted(first["files"])) == (2, 0, ["a.py", "b.py"])
    assert first["author"] == "Ann Example" and first["timestamp"] == "2025-12-02T04:00:00+00:00"
    assert second["insertions"] == 99 and second["deletions"] == 1
    assert missing == {"hash": "deadbeefdeadbeef"} and odd == {"hash": "not-a-hash"}
    assert "2 listed commit(s) not found" in result.stderr
    assert "as the agent wrote it" in arts["build_log.md"]


def test_repo_elsewhere_is_not_read(run_session, git_repo, tmp_path):
    other = git_repo("elsewhere")
    other.commit("feat: secret", {"s.py": "1\n"}, when="2025-12-02T05:00:00Z")
    doc = session(source_data={"repo_path": str(other.path)})
    result, arts, saved = run_session(doc, folder=tmp_path / "sessions")
    assert result.exit_code == 0
    assert "outside the allowed folders" in result.stderr
    assert "secret" not in "".join(arts.values())


def test_repo_roots_config_allows_a_repo(run_session, git_repo, tmp_path):
    other = git_repo("elsewhere")
    other.commit("feat: allowed", {"s.py": "1\n"}, when="2025-12-02T05:00:00Z")
    (tmp_path / "flywheel.toml").write_text('[plugins.build]\nrepo_roots = ["elsewhere"]\n', encoding="utf-8")
    result, arts, saved = run_session(session(source_data={"repo_path": str(other.path)}), folder=tmp_path / "sessions")
    assert result.exit_code == 0, result.output
    assert [c["message"] for c in saved["source_data"]["git_commits"]] == ["feat: allowed"]


def test_repo_containing_the_session_is_read(run_session, windowed):
    result, _, saved = run_session(session(source_data={"repo_path": ".."}), folder=windowed.path / "sessions")
    assert result.exit_code == 0, result.output
    assert len(saved["source_data"]["git_commits"]) == 2


def test_a_warning_about_repo_path_never_quotes_a_credential(run_session):
    # The warning quoted repo_path whole: an AWS key id pasted into the path reached stderr,
    # the --json output and cron logs (error lines were masked, plugins' ctx.warn lines not).
    key = "AKIA" + "KQ7ECPLBWU2E5RJ0"
    result, _, _ = run_session(session(source_data={"repo_path": f"/srv/{key}/app"}))
    assert result.exit_code == 0, result.output
    assert "repo_path '/srv/[redacted:aws-access-key]/app' does not exist on this machine" in result.stderr
    assert key[4:] not in result.output + result.stderr


def test_example_without_its_repo_warns_once(run_session):
    doc = json.loads((EXAMPLES / "build_session.json").read_text(encoding="utf-8"))
    result, arts, saved = run_session(doc)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("is not on this machine") == 1
    assert sorted(arts) == ["blog_post.md", "build_log.md", "readme.md", "social_post.json", "social_post.md"]
    assert saved["artifacts"]["readme"]["generated"] is True
    assert saved["pipeline_status"]["build_artifact"] == "complete"


README_WITH_REGION = "# Demo\r\n\r\nIntro & P&L stay.\r\n\r\n<!-- flywheel:start -->\r\nold stuff\r\n<!-- flywheel:end -->\r\n\r\nFooter.\r\n"


def test_readme_region_is_replaced_and_stable(run_session, windowed):
    windowed.write("README.md", README_WITH_REGION)
    result, arts, _ = run_session(session())
    assert result.exit_code == 0, result.output
    readme = arts["readme.md"]
    before, _, rest = README_WITH_REGION.partition("<!-- flywheel:start -->")
    _, _, after = rest.partition("<!-- flywheel:end -->")
    assert readme.startswith(before + "<!-- flywheel:start -->") and readme.endswith("<!-- flywheel:end -->" + after)
    assert "old stuff" not in readme and "## Recent activity" in readme and "fix: handle empty input" in readme
    assert "\n" not in readme.replace("\r\n", "")  # line endings kept
    # the spliced README fed back in gives the same bytes
    windowed.write("README.md", readme)
    _, again, _ = run_session(session())
    assert again["readme.md"] == readme


def test_unterminated_region_builds_a_new_readme(run_session, windowed):
    windowed.write("README.md", "# Demo\n<!-- flywheel:start -->\n")
    result, arts, _ = run_session(session())
    assert "without a following" in result.stderr
    # No metadata, no remote: the README written anew keeps the title the repository's README had.
    assert arts["readme.md"].startswith("# Demo\n")


@pytest.mark.parametrize(
    "name, content",
    [
        ("pyproject.toml", '[project]\nname = "demo-py"\ndescription = "Tools for P&L reports"\n'),
        ("package.json", '{"name": "demo-py", "description": "Tools for P&L reports"}'),
        ("Cargo.toml", '[package]\nname = "demo-py"\ndescription = "Tools for P&L reports"\n'),
        ("setup.cfg", "[metadata]\nname = demo-py\ndescription = Tools for P&L reports\n"),
    ],
)
def test_readme_from_project_files(run_session, windowed, name, content):
    windowed.commit("build: project file", {name: content}, when="2025-12-02T05:16:00Z")
    windowed.git("remote", "add", "origin", "git@github.com:acme/demo-py.git")
    _, arts, _ = run_session(session())
    readme = arts["readme.md"]
    assert readme.startswith("# demo-py\n\nTools for P&L reports\n")
    assert "git clone git@github.com:acme/demo-py.git" in readme
    assert "## Languages" in readme and "- Python: 2 files" in readme
    assert re.search(r"\(\[`[0-9a-f]{7}`\]\(https://github\.com/acme/demo-py/commit/[0-9a-f]{40}\)\)", readme)


NO_PLACEHOLDERS = re.compile(r"\bNone\b|\bnull\b|git clone\s*$|over\s+minutes|\{\{|\{%", re.M)


def assert_clean(text: str) -> None:
    assert not NO_PLACEHOLDERS.search(text), text
    lines = text.splitlines()
    for i, line in enumerate(lines):
        level = len(line) - len(line.lstrip("#"))
        if level and line[level:level + 1] == " ":
            following = next((ln for ln in lines[i + 1 :] if ln.strip()), "")
            deeper = following.startswith("#" * (level + 1))
            assert following and (deeper or not following.startswith("#")), f"empty section {line!r}"


def test_credentials_in_a_listed_remote_never_reach_artifacts(run_session):
    token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    doc = session(source_data={"remote_url": f"https://me:{token}@github.com/acme/demo.git", "git_commits": [
        {"hash": "0123456789abcdef0123456789abcdef01234567", "message": "feat: x"}]})
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    assert token not in "".join(arts.values()) and "me:" not in "".join(arts.values())
    assert "git clone https://github.com/acme/demo.git" in arts["readme.md"]
    assert "https://github.com/acme/demo/commit/0123456789abcdef0123456789abcdef01234567" in arts["build_log.md"]


def test_bare_session_has_no_placeholders(run_session):
    doc = session(metadata={}, source_data={})
    result, arts, _ = run_session(doc)
    assert result.exit_code == 0, result.output
    for name, text in arts.items():
        if name.endswith(".md"):
            assert_clean(text)
    assert arts["readme.md"].startswith("# Build session s-001\n")
    assert "No commits were listed" in arts["build_log.md"]


def test_hostile_commit_text_stays_text(run_session, git_repo):
    from markdown_it import MarkdownIt

    repo = git_repo()
    evil = "feat: [click](javascript:alert(1)) <script>alert(2)</script> <img src=x onerror=alert(3)> {{ 7*7 }} {% raw %} `code` P&L"
    body = "Because [the docs](javascript:alert(4)) said <script>alert(5)</script> so, {{ 8*8 }} times.\n\nFixes #12"
    repo.commit(evil + f"\n\n{body}\n\nBREAKING CHANGE: <b>bold</b> [y](javascript:z)", {"e.py": "1\n"}, when="2025-12-02T05:00:00Z",
                author=("<script>x</script>", "e@x"))
    result, arts, _ = run_session(session(overview="Overview with [a link](javascript:evil()) & P&L"))
    assert result.exit_code == 0, result.output
    md = MarkdownIt("commonmark")
    for name, text in arts.items():
        if not name.endswith(".md"):
            continue
        html = md.render(text)
        assert "<script" not in html and "<img" not in html and "<b>" not in html, (name, html)
        assert set(re.findall(r"<a [^>]*>", html)) <= {'<a href="build_log.md">'}, (name, html)  # only our own link
        if "7*7" in text or "7\\*7" in text:
            assert "{{ 7*7 }}" in html and "49" not in html
    assert "P&L" in arts["blog_post.md"] and "&amp;" not in arts["blog_post.md"]
    assert "8*8" in arts["blog_post.md"].replace("\\", "") and "64" not in arts["blog_post.md"]  # the body is told, as text
    assert "{{ 7*7 }}" in json.loads(arts["social_post.json"])["linkedin"][0]


def test_conventional_grouping_links_and_bots(run_session, git_repo):
    repo = git_repo()
    repo.git("remote", "add", "origin", "https://gitlab.com/group/sub/proj.git")
    repo.commit("feat(parser)!: drop the v1 format", {"p.py": "1\n"}, when="2025-12-02T04:00:00Z")
    repo.commit("fix(cli): exit 2 on bad input", {"c.py": "1\n"}, when="2025-12-02T04:10:00Z", author=("Bob", "b@x"))
    repo.commit("perf: faster scan\n\nBREAKING CHANGE: scan() is now async", {"s.py": "1\n"}, when="2025-12-02T04:20:00Z")
    repo.commit("docs: usage", {"d.md": "1\n"}, when="2025-12-02T04:30:00Z")
    repo.commit("random message", {"r.txt": "1\n"}, when="2025-12-02T04:40:00Z")
    for i in range(3):
        repo.commit(f"build(deps): bump lib from 1.{i} to 1.{i + 1}", {"req.txt": f"{i}\n"}, when=f"2025-12-02T04:5{i}:00Z",
                    author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"))
    result, arts, _ = run_session(session())
    assert result.exit_code == 0, result.output
    log = arts["build_log.md"]
    headings = re.findall(r"^## (.+)$", log, re.M)
    assert headings == ["Breaking changes", "Fixes", "Documentation", "Other changes", "Automated", "Authors"]
    breaking = log.split("## Breaking changes")[1].split("##")[0]
    assert "**parser:** drop the v1 format" in breaking and "(breaking: scan() is now async)" in breaking.replace("\\", "")
    assert "**cli:** exit 2 on bad input" in log and ", Bob" in log
    assert re.search(r"\[`[0-9a-f]{7}`\]\(https://gitlab\.com/group/sub/proj/-/commit/[0-9a-f]{40}\)", log)
    automated = log.split("## Automated")[1].split("##")[0].strip()
    assert automated.count("\n") == 0 and automated.startswith("- 3 automated commits by dependabot\\[bot\\]")
    assert "bump lib" not in log


def test_artifact_metadata(fw, windowed, tmp_path):
    windowed.git("remote", "add", "origin", "https://github.com/acme/repo")
    path = tmp_path / "work_session.json"
    path.write_text(json.dumps(session()), encoding="utf-8")
    result = fw("run", path, "-o", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    records = result.json()[0]["artifacts"]
    assert sorted(records) == ["blog_post", "build_log", "readme", "social_post"]
    blog = records["blog_post"]
    assert blog["title"] == "repo: Added an endpoint in the api"  # the scope keeps its context
    # The commits' author is credited, not the agent that ran the session.
    assert records["build_log"]["summary"] == "2 commits to repo by Ann Example in 2 h, including 1 feature and 1 fix."
    # The blog post's is what it says first (its page shows it once, not in other words above it).
    # The whole opening without its citations: listings and feeds show it.
    assert blog["summary"] == "In a two-hour session on repo, Ann Example added an endpoint in the api, then handled empty input."
    assert blog["tags"] == ["build", "repo", "python", "api"]  # the remote's name, the language, the scope
    commits = blog["meta"]["provenance"]["commits"]
    assert [c["message"] for c in commits] == ["fix: handle empty input", "feat(api): add endpoint"]
    assert all(c["url"] == f"https://github.com/acme/repo/commit/{c['hash']}" for c in commits)
    assert blog["meta"]["project"] == "repo"
    assert records["social_post"]["files"][0].endswith("social_post.json")
    assert records["build_log"]["title"] == "Build log: repo, 2025-12-02"


def test_repo_path_naming_a_file_says_so(run_session, windowed):
    result, _, _ = run_session(session(source_data={"repo_path": "repo/a.py"}))
    assert result.exit_code == 0, result.output
    assert "repo_path 'repo/a.py' is a file, not a repository folder; using the session's own data" in result.output


def test_unreadable_readme_is_reported(run_session, windowed):
    (windowed.path / "README.md").write_bytes(b"# Caf\xe9\n<!-- flywheel:start -->\n<!-- flywheel:end -->\n")
    result, arts, _ = run_session(session())
    assert result.exit_code == 0, result.output
    assert "README.md is over 1 MB, not UTF-8 or a link out of the repository; wrote a new README instead" in result.output
    assert arts["readme.md"].startswith("# Build session s-001\n")


def test_repo_path_symlink_loop_or_long_name_only_warns(run_session, tmp_path):
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    for name in ("loop_a", "a" * 5000):
        result, arts, _ = run_session(session(source_data={"repo_path": name}))
        assert result.exit_code == 0, result.output
        assert "cannot be read" in result.output and "readme.md" in arts


def test_symlink_loops_in_the_repository_are_skipped(run_session, windowed):
    for name in ("README.md", "pyproject.toml", "package.json"):
        (windowed.path / name).symlink_to(windowed.path / name)
    result, arts, _ = run_session(session())
    assert result.exit_code == 0, result.output
    assert arts["readme.md"].startswith("# Build session s-001\n")


def test_confine_refuses_a_symlink_loop(tmp_path):
    from flywheel_core import PathRefused, confine

    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(PathRefused):
        confine("loop", [tmp_path])


def test_a_kind_of_change_has_one_name_in_the_log_and_the_post() -> None:
    """The build log's heading for a kind of change is the blog post's section title for it (the
    log said "Features" and "Bug fixes" where the post said "New features" and "Fixes")."""
    from flywheel_build.facts import GROUP_TITLES
    from flywheel_build.story import _KINDS

    assert {k: _KINDS[k][0] for k in GROUP_TITLES} == GROUP_TITLES
    assert GROUP_TITLES["feat"] == "New features" and GROUP_TITLES["fix"] == "Fixes"
