"""A small session's blog post and social posts open with who made what, in the past tense, from
real git repositories: no imperative subject pasted as a sentence, no counts in the opening."""

from __future__ import annotations

import json
import re

import pytest

from flywheel_build.prose import clause

BOB = ("Bob Stone", "bob@example.org")
BOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")


def run_repo(fw, tmp_path, repo, *args: str) -> tuple[dict, dict[str, str]]:
    """``collect build`` the whole repository, ``run`` it: (session, artifacts by file name)."""
    path = tmp_path / "s.json"
    result = fw("collect", "build", "--repo", str(repo.path), "--agent", "Agent-7", "-o", str(path), *args)
    assert result.exit_code == 0, result.output
    run = fw("run", str(path), "-o", str(tmp_path / "out"))
    assert run.exit_code == 0, run.output
    doc = json.loads(path.read_text(encoding="utf-8"))
    folder = tmp_path / "out" / "build" / doc["session_id"]
    return doc, {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}


def opening(blog: str) -> str:
    """The post's first paragraph after the date line, citations and escapes taken out."""
    first = blog.split("\n\n")[2]
    return re.sub(r"\\(.)", r"\1", re.sub(r" \((?:\[`[^`]+`\]\([^)]*\)|`[^`]+`)[^()]*\)", "", first))


def assert_no_subject_pasted(doc: dict, texts: list[str]) -> None:
    """No commit subject (after its Conventional prefix) that starts with a verb is in ``texts`` as written."""
    for c in doc["source_data"]["git_commits"]:
        subject = c["message"].split(": ", 1)[-1]
        if clause(subject, "other") is not None:
            for text in texts:
                assert subject not in text, (subject, text)


@pytest.mark.parametrize("conventional", [True, False])
def test_one_commit(fw, git_repo, tmp_path, conventional):
    repo = git_repo()
    subject = "feat: add a CSV exporter" if conventional else "Add CSV exporter"
    repo.commit(subject, {"src/shop/csv_exporter.py": "x = 1\n"}, when="2025-12-02T09:00:00Z")
    doc, arts = run_repo(fw, tmp_path, repo, "--duration", "45")
    blog = arts["blog_post.md"]
    assert blog.startswith("# Added a CSV exporter\n"), blog
    # Where: the folder of its file (the posts leave it out: the project is what a stranger needs there).
    assert opening(blog) == "In a 45-minute session, Ann Example added a CSV exporter in src/shop.", blog
    assert "## " not in blog, "one change, told in the opening: no section repeats it"
    assert "1 commit" in blog.split("---")[1], "the count is the footer's"
    posts = json.loads(arts["social_post.json"])
    assert posts["bluesky"][0].startswith("In a 45-minute session, Ann Example added a CSV exporter.")
    assert_no_subject_pasted(doc, [opening(blog), *(p[0] for p in posts.values())])


def test_two_commits_by_two_people_in_order(fw, git_repo, tmp_path):
    repo = git_repo()
    repo.commit("Implement publish queue", {"app/publication/publish_queue_manager.py": "q = 1\n",
                                            "app/publication/github_publisher.py": "g = 1\n"}, when="2025-12-02T09:00:00Z")
    repo.commit("fix: retry when GitHub answers 502", {"app/publication/github_publisher.py": "g = 2\n"},
                when="2025-12-02T09:40:00Z", author=BOB)
    doc, arts = run_repo(fw, tmp_path, repo)
    blog = arts["blog_post.md"]
    said = opening(blog)
    # The files name what was made; each person is named once, with what they did.
    assert said == ("In about an hour of work, Ann Example implemented a publish queue: a GitHub publisher and a publish "
                    "queue manager, and Bob Stone retried when GitHub answers 502, both in app/publication."), said
    assert "## Fixes" not in blog and "## New features" not in blog
    assert "2 commits by" not in blog
    posts = json.loads(arts["social_post.json"])
    assert_no_subject_pasted(doc, [said, *(p[0] for p in posts.values())])


def test_five_commits_with_a_merge_and_a_bot(fw, git_repo, tmp_path):
    repo = git_repo()
    repo.commit("Add parser for INI files", {"src/ini/parser.py": "p = 1\n"}, when="2025-12-02T09:00:00Z")
    repo.commit("docs: describe the parser", {"docs/parser.md": "d\n"}, when="2025-12-02T09:10:00Z")
    repo.git("checkout", "-q", "-b", "topic")
    repo.commit("Handle empty sections", {"src/ini/parser.py": "p = 2\n"}, when="2025-12-02T09:20:00Z", author=BOB)
    repo.git("checkout", "-q", "main")
    repo.commit("chore(deps): bump pytest from 8.0 to 8.1", {"requirements.txt": "pytest==8.1\n"},
                when="2025-12-02T09:25:00Z", author=BOT)
    env = repo.env("2025-12-02T09:30:00Z", "Ann Example", "ann@example.com")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'topic'", "topic", env=env)
    repo.commit("Rename parse() to load()", {"src/ini/parser.py": "p = 3\n"}, when="2025-12-02T09:45:00Z")
    doc, arts = run_repo(fw, tmp_path, repo, "--duration", "60")
    blog = arts["blog_post.md"]
    said = opening(blog)
    assert said.startswith("In an hour-long session, Ann Example added a parser for INI files"), said
    assert "Bob Stone handled empty sections" in said, said
    assert "renamed parse() to load()" in said and "described the parser" in said, said
    assert "Merge" not in said and "dependabot" not in said and "bump" not in said, said
    # The bot's update has its own section; the merge is counted in the footer only.
    assert "## Automated updates\n\n1 automated commit by dependabot" in blog, blog
    posts = json.loads(arts["social_post.json"])
    assert_no_subject_pasted(doc, [said, *(p[0] for p in posts.values())])
    for network, parts in posts.items():
        assert "Also:" not in parts[0], network


def test_the_bundled_examples_open_with_who_made_what(fw, tmp_path):
    from pathlib import Path

    examples = Path(__file__).resolve().parents[3] / "examples"
    for name in ("build_session.json", "minimal_build_session.json"):
        path = tmp_path / name
        path.write_bytes((examples / name).read_bytes())
        assert fw("run", str(path), "-o", str(tmp_path / "out")).exit_code == 0
    doc = json.loads((examples / "build_session.json").read_text(encoding="utf-8"))
    folder = tmp_path / "out" / "build" / doc["session_id"]
    blog = (folder / "blog_post.md").read_text(encoding="utf-8")
    assert opening(blog) == ("In a two-hour session on Agent_Cellphone_V2_Repository, Agent-7 added a Phase 3 publication system: "
                             "a publish queue manager and a GitHub publisher, then a website publisher, both in "
                             "systems/output_flywheel/publication."), blog
    assert "counts" not in blog and "*3 commits (2 listed) ·" in blog, "the bookkeeping is the footer's"
    posts = json.loads((folder / "social_post.json").read_text(encoding="utf-8"))
    assert_no_subject_pasted(doc, [opening(blog), *(p[0] for p in posts.values())])
    minimal = (tmp_path / "out" / "build" / "uuid-here" / "blog_post.md").read_text(encoding="utf-8")
    assert opening(minimal) == ("Agent-X worked for an hour and made 2 commits touching 5 files; the session lists none of "
                                "them, so this post can't say what changed."), minimal


def test_clauses():
    assert clause("Add Phase 3 publication system", "feat") == "added a Phase 3 publication system"
    assert clause("typo in warning text", "fix") == "fixed a typo in warning text"
    assert clause("exit with 2, not 1, on a usage error", "fix", "cli") == "made the cli exit with 2, not 1, on a usage error"
    assert clause("Drop pypy 3.9 and add pypy 3.11 support", "removal") == "dropped pypy 3.9 and added pypy 3.11 support"
    assert clause("Configure and check trusted_hosts", "other") == "configured and checked trusted_hosts"
    assert clause("Added python type annotation", "feat") == "added a python type annotation"
    assert clause("Initial import", "other") is None  # no verb: quoted by the caller, never made up
    assert clause("one", "feat", "f1") == "added one in the f1"
    assert clause("one", "feat", "UI Kit") == "added one (UI Kit)"


def test_changes_told_by_their_subject_alone_are_a_list(fw, git_repo, tmp_path):
    """A section's changes whose commits say no why were each a bold paragraph of one line
    ("**WIP** (`16a30da`, Ann Example)."); they read as a list. A scope is told in words: "(cli)
    (`a67ce75`)" stacked two brackets."""
    repo = git_repo()
    for i, subject in enumerate(["Initial commit", "WIP", "Refactor parser for speed", "fix typo in docs",
                                 "feat(cli): add --json flag to status command", "Bump lodash from 4.17.20 to 4.17.21"]):
        repo.commit(subject, {f"src/m{i}.py": f"x = {i}\n"}, when=f"2025-12-02T09:{10 * i:02d}:00Z")
    doc, arts = run_repo(fw, tmp_path, repo)
    blog = arts["blog_post.md"]
    assert blog.startswith("# Added --json flag to status command in the cli\n"), blog
    assert "added --json flag to status command in the cli, refactored parser for speed" in opening(blog), blog
    other = blog.split("## Other changes\n\n")[1].split("\n\n")[0].splitlines()
    assert [re.sub(r" \(`\w+`, Ann Example\)$", "", line) for line in other] == ["- Initial commit"], blog
    # "WIP" says nothing of what changed: counted with what it says, not listed as a change.
    assert "Also 1 commit whose message says no more than “WIP”." in blog, blog
    assert "**" not in blog, blog
