"""The social posts of a build session: one per network, each fitting, linking to the blog post's page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from flywheel_core import LIMITS, post_length
from flywheel_core.testing import (check_golden, check_posts_in_docs, check_social_posts, numbers_in, social_entities,
                                   social_post_runner)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "examples.md"
BASE = "https://journal.example.org/"
WEB = f'[targets.web]\nbase_url = "{BASE}"\nsite_dir = "site"\n'


@pytest.fixture
def run_with(tmp_path: Path):
    """``run_with(doc, config)``: ``flywheel run`` with this plugin and the real web target
    installed, under ``config`` (a flywheel.toml); returns (variants, social_post.md, run record)."""
    return social_post_runner(tmp_path, "build")


def example() -> dict[str, Any]:
    return json.loads((EXAMPLES / "build_session.json").read_text(encoding="utf-8"))


def session_numbers(doc: dict[str, Any]) -> set[str]:
    """Every number a post may state: written in the session, or a count of its listed commits."""
    allowed = numbers_in(json.dumps(doc, ensure_ascii=False))
    commits = doc.get("source_data", {}).get("git_commits", [])
    allowed.update(str(n) for n in range(len(commits) + 1))  # "3 commits", "Ann (2)"
    return allowed


def test_the_example_s_posts_link_to_its_blog_post_page(run_with) -> None:
    doc = example()
    variants, markdown, data = run_with(doc, WEB)
    social = data["artifacts"]["social_post"]["meta"]["social"]
    link = social["link"]
    assert link.startswith(f"{BASE}build/2025/12/agent-cellphone-v2-repository-added-a-phase-3-publication-")
    assert social["link_title"] == data["artifacts"]["blog_post"]["title"] == \
        "Agent_Cellphone_V2_Repository: Added a Phase 3 publication system"
    check_social_posts(variants, link=link, numbers=session_numbers(doc))
    for network, posts in variants.items():
        # The posts lead with who made what on which project (the last part of its repo_path).
        assert posts[0].startswith("In a two-hour session on Agent_Cellphone_V2_Repository, Agent-7 added a Phase 3 publication "
                                   "system"), (network, posts[0])
        assert "Also:" not in posts[0] and "Add " not in posts[0], "past tense, no subject pasted as a sentence"
        assert "lines" not in posts[0] and "+450" not in posts[0], "what changed, not a line count"
    # An identifier with underscores makes no hashtag people use: none for the project.
    assert variants["x"] == [f"In a two-hour session on Agent_Cellphone_V2_Repository, Agent-7 added a Phase 3 publication "
                             f"system, then a website publisher.\n\nRead more: {link}\n\n#Python #BuildInPublic"]
    # The whole opening and the link would not fit Bluesky's 300: the opening in short, not a thread.
    assert variants["bluesky"] == [f"In a two-hour session on Agent_Cellphone_V2_Repository, Agent-7 added a Phase 3 publication "
                                   f"system, then a website publisher.\n\nThe whole story: {link}\n\n#Python #BuildInPublic"]
    assert variants["mastodon"][0].startswith("In a two-hour session on Agent_Cellphone_V2_Repository, Agent-7 added a Phase 3 "
                                              "publication system: a publish queue manager and a GitHub publisher, then a "
                                              "website publisher.\n\n")
    assert f"- Link: <{link}>" in markdown
    # One author: the blog post has no "Who did what" section, so the LinkedIn post promises none.
    assert variants["linkedin"][0].endswith(f"\n\nThe full story: {link}\n\n#Python #BuildInPublic")
    golden("social_post_web.json", json.dumps(variants, indent=2, ensure_ascii=False) + "\n")


def test_no_link_without_a_web_target(run_with) -> None:
    doc = example()
    variants, _, data = run_with(doc)
    check_social_posts(variants, link=None, numbers=session_numbers(doc))
    assert "link" not in data["artifacts"]["social_post"]["meta"]["social"]


def test_the_link_is_the_blog_post_page_the_site_publishes(run_with, tmp_path: Path) -> None:
    _, _, data = run_with(example(), WEB, "--publish")
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    session = json.loads((tmp_path / "work_session.json").read_text())
    assert session["artifacts"]["blog_post"]["published_to"]["web"]["url"] == link
    page = tmp_path / "site" / link.removeprefix(BASE) / "index.html"
    assert page.is_file() and "Phase 3 publication system" in page.read_text(encoding="utf-8"), "never a dead link"


def story_session(make_session, **fields: Any) -> dict[str, Any]:
    commits = [
        {"hash": "a1" * 20, "message": "feat(parser): accept trailing commas", "author": "Ann", "timestamp": "2025-12-02T05:00:00Z",
         "body": "Hand-written files often end a list with a comma. The parser now accepts one.", "files": ["src/tidy/parser.py"]},
        {"hash": "b2" * 20, "message": "fix(cli): exit 2 on a usage error", "author": "Bob", "timestamp": "2025-12-02T05:30:00Z",
         "files": ["src/tidy/cli.py"]},
        {"hash": "c3" * 20, "message": "docs: explain --strict", "author": "Ann", "timestamp": "2025-12-02T06:00:00Z", "files": ["docs/cli.md"]},
    ]
    doc = make_session(
        "build",
        project="tidyparse",
        title="tidyparse reads the config files people really write",
        summary="Config files written by hand now parse: a trailing comma in a list is accepted, and a usage "
                "error exits with 2 so scripts can tell it from a parse error. Nothing changes for files that already parsed.",
        highlights=["Trailing commas in lists are accepted", "A usage error exits with 2"],
        lessons=[{"title": "Error codes are an interface", "description": "Scripts depend on them; change them on purpose."}],
        next_steps=["Accept trailing commas in inline tables too"],
        source_data={"git_commits": commits},
    )
    doc.update(fields)
    return doc


def test_a_full_session_gives_each_network_what_suits_it(run_with, make_session) -> None:
    doc = story_session(make_session)
    variants, _, data = run_with(doc, WEB)
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    check_social_posts(variants, link=link, numbers=session_numbers(doc))
    title = "tidyparse reads the config files people really write."
    x = variants["x"][0]
    assert x.startswith(f"{title} Config files written by hand now parse"), x  # one idea: the title, then why
    assert x.endswith(f"Read more: {link}\n\n#Tidyparse #Python")
    bluesky = variants["bluesky"][0]
    assert bluesky.startswith("The main change in tidyparse: Trailing commas in lists are accepted. Config files"), bluesky
    mastodon = variants["mastodon"][0]
    assert mastodon.startswith(f"{title}\n\n") and mastodon.endswith("\n\n#Tidyparse #Python #BuildInPublic #Cli #Parser")
    linkedin = variants["linkedin"][0]
    for paragraph in ("Also in this work: A usage error exits with 2.", "Behind it: 3 commits by Ann (2) and Bob (1).",
                      "Lesson: Error codes are an interface. Scripts depend on them; change them on purpose.",
                      "Next: Accept trailing commas in inline tables too."):
        assert f"\n\n{paragraph}\n\n" in linkedin, (paragraph, linkedin)
    assert linkedin.startswith(f"{title}\n\nConfig files written by hand now parse: a trailing comma")
    assert linkedin.endswith("#Tidyparse #Python #BuildInPublic"), "three hashtags, no wall"
    assert f"\n\nThe full story, with who did what: {link}\n\n" in linkedin, "Ann and Bob: the post says who did what"
    for posts in variants.values():
        assert not re.search(r"[+-]\d+ (?:/ -\d+ )?lines", "\n".join(posts))


def test_a_big_release_summed_up_keeps_each_post_short(run_with, histories, tmp_path: Path, fw) -> None:
    histories.release_repo(tmp_path / "tidyparse")
    out = tmp_path / "session.json"
    assert fw("collect", "build", "--repo", tmp_path / "tidyparse", "--rev-range", "v2.3.0..v2.4.0", "-o", out).exit_code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    variants, _, data = run_with(doc, WEB)
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    check_social_posts(variants, link=link)
    assert all(len(posts) == 1 for posts in variants.values()), "one post each, no thread"
    assert variants["bluesky"][0].startswith("The main change in tidyparse 2.4.0: Ann Example dropped support for Python 3.8.")
    assert "145 commits by Ann Example (22)" in variants["linkedin"][0] and "from v2.3.0 to v2.4.0" in variants["linkedin"][0]


def test_hostile_commit_text_is_neutralised(run_with, make_session) -> None:
    evil = "@everyone #giveaway $DOGE https://evil.example.com/x evil.com README.md \u202eRTL\u202c"
    commits = [{"hash": "d4" * 20, "message": f"feat: {evil}", "body": f"Because {evil}. " * 40, "author": "@mallory"}]
    doc = make_session("build", project="@owner", source_data={"git_commits": commits}, key_achievements=[evil * 3])
    variants, markdown, data = run_with(doc, WEB)
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    for network, posts in variants.items():
        for post in posts:
            assert post_length(post, network) <= LIMITS[network]
            assert "\u202e" not in post
            entities = social_entities(post, network)
            assert set(entities) <= {"hashtag", "link"}, (network, entities)
            assert set(entities.get("hashtag", [])) <= {"Owner", "BuildInPublic"}, (network, entities)
            assert set(entities.get("link", [])) <= {link}, (network, entities)
        assert link in "\n".join(posts)
    assert "#\u2060giveaway" in markdown and "\\[" not in markdown.replace("\\[bot\\]", "")


def test_the_example_s_posts_are_in_docs_examples_md() -> None:
    """docs/examples.md shows readers the posts `flywheel run` writes with a website configured."""
    check_posts_in_docs(GOLDEN / "social_post_web.json", DOCS, "## Build session")


def golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; FLYWHEEL_UPDATE_GOLDEN=1 rewrites it (read the diff)."""
    check_golden(GOLDEN / name, text)


@pytest.mark.parametrize("config", [WEB, ""])
def test_a_session_listing_no_commit_says_its_counts_once(run_with, config) -> None:
    # examples/minimal_build_session.json: counts, no commit listed, no narrative. Mastodon and
    # LinkedIn added "In all: 2 commits." / "Behind it: 2 commits." after a sentence saying so.
    doc = json.loads((EXAMPLES / "minimal_build_session.json").read_text(encoding="utf-8"))
    variants, _, data = run_with(doc, config)
    told = ("Agent-X worked for an hour and made 2 commits touching 5 files; the session lists none of them, "
            "so this post can't say what changed.")
    for network in ("bluesky", "mastodon", "linkedin"):
        post = variants[network][0]
        assert post.startswith(told + "\n\n") and post.count("2 commits") == 1, (network, post)
    # Without a link the three say the same: the session gives nothing more, and padding says nothing.
    alike = frozenset() if config else frozenset({"bluesky", "mastodon", "linkedin"})
    check_social_posts(variants, link=data["artifacts"]["social_post"]["meta"]["social"].get("link"),
                       numbers=session_numbers(doc), alike=alike)
