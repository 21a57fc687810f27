"""The social posts of a life_aria session: one per network, each fitting, linking to the devlog's page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flywheel_core import LIMITS, post_length
from flywheel_core.testing import (check_golden, check_posts_in_docs, check_social_posts, numbers_in, social_entities,
                                   social_post_runner)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "life_aria_session.json"
GOLDEN = Path(__file__).resolve().parent / "golden"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "examples.md"
BASE = "https://devlog.example.org/"
WEB = f'[targets.web]\nbase_url = "{BASE}"\nsite_dir = "site"\n'


@pytest.fixture
def run_with(tmp_path: Path):
    """``run_with(doc, config)``: ``flywheel run`` with this plugin and the real web target
    installed, under ``config`` (a flywheel.toml); returns (variants, social_post.md, run record)."""
    return social_post_runner(tmp_path, "aria")


def session_numbers(doc: dict[str, Any]) -> set[str]:
    """Every number a post may state: written in the session, its date's parts, its duration."""
    allowed = numbers_in(json.dumps(doc, ensure_ascii=False))
    day = doc["timestamp"][:10]
    allowed.update({day[:4], str(int(day[5:7])), str(int(day[8:10]))})
    minutes = doc.get("metadata", {}).get("duration_minutes")
    if isinstance(minutes, (int, float)):
        allowed.update({str(round(minutes) // 60), str(round(minutes) % 60)})
    return allowed


def test_the_example_s_posts_link_to_its_devlog_page(run_with) -> None:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    variants, markdown, data = run_with(doc, WEB)
    social = data["artifacts"]["social_post"]["meta"]["social"]
    link = social["link"]
    assert link.startswith(f"{BASE}life_aria/2025/12/devlog-spaceexplorer-")
    assert social["link_title"] == data["artifacts"]["devlog"]["title"] == "Devlog: SpaceExplorer"
    check_social_posts(variants, link=link, numbers=session_numbers(doc))
    assert variants["x"] == [
        f"SpaceExplorer: Built a new interactive game using React and Three.\u2060js.\n\nDevlog: {link}\n\n#Devlog #React"
    ]
    assert variants["mastodon"][0].endswith("\n\n#Devlog #React #ThreeJs #WebSocket"), "CamelCase, at the end"
    assert variants["linkedin"][0].count("#") == 3, "no hashtag wall on LinkedIn"
    assert f"- Link: <{link}>" in markdown
    golden("example_social_post_web.json", json.dumps(variants, indent=2, ensure_ascii=False) + "\n")


def test_no_link_without_a_web_target(run_with) -> None:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    variants, markdown, data = run_with(doc)
    check_social_posts(variants, link=None, numbers=session_numbers(doc))
    assert "link" not in data["artifacts"]["social_post"]["meta"]["social"]


def test_the_link_is_the_devlog_page_the_site_publishes(run_with, tmp_path: Path) -> None:
    doc = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    _, _, data = run_with(doc, WEB, "--publish")
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    session = json.loads((tmp_path / "work_session.json").read_text())
    assert session["artifacts"]["devlog"]["published_to"]["web"]["url"] == link
    page = tmp_path / "site" / link.removeprefix(BASE) / "index.html"
    assert page.is_file() and "SpaceExplorer" in page.read_text(encoding="utf-8"), "never a dead link"


def test_a_full_session_gives_each_network_what_suits_it(run_with, make_session) -> None:
    doc = make_session(
        "life_aria",
        title="Pixel Garden",
        summary="Aria and I made a small garden game in the browser. Seeds grow over real hours. "
                "The page is different each time you come back.",
        lessons=["Plant timers belong on the server.", "Small sprites read better."],
        next_steps=["Add watering", "Share a seed by link"],
        key_achievements=["Seeds grow while the tab is closed"],
        tags=["pixel art", "gamedev"],
        metadata={"duration_minutes": 45},
        source_data={"conversations": [{"source": "aria", "content": "We talked.",
                                        "artifacts": [{"name": "Pixel Garden", "type": "game",
                                                       "technologies": ["Canvas", "TypeScript"]}]}]},
    )
    variants, _, data = run_with(doc, WEB)
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    check_social_posts(variants, link=link, numbers=session_numbers(doc))
    assert variants["x"][0].startswith("Pixel Garden: Aria and I made a small garden game in the browser.\n\nDevlog: ")
    assert variants["x"][0].endswith("#Devlog #PixelArt")
    assert "Next up: Add watering." in variants["bluesky"][0]
    assert variants["mastodon"][0].startswith("New devlog: Pixel Garden (45 minutes)\n\n")
    linkedin = variants["linkedin"][0]
    for paragraph in ("Lessons: Plant timers belong on the server. Small sprites read better.",
                      "Next: Add watering. Share a seed by link.", "What came of it: Seeds grow while the tab is closed."):
        assert f"\n\n{paragraph}\n\n" in linkedin
    assert linkedin.endswith("#Devlog #PixelArt #Gamedev")


def test_hostile_session_text_is_neutralised(run_with, make_session) -> None:
    evil = "@everyone #giveaway $DOGE https://evil.example.com/x evil.com README.md \u202eRTL\u202c "
    doc = make_session(
        "life_aria",
        title=evil,
        overview=evil + "Long sentence " * 1000 + "." + "z" * 10_000,
        lessons=[evil * 3], next_steps=[evil], tags=["@mod", "#x"],
        source_data={"conversations": [{"source": "aria", "content": evil * 50,
                                        "artifacts": [{"name": "@owner", "technologies": ["evil.com"]}]}]},
    )
    variants, markdown, data = run_with(doc, WEB)
    link = data["artifacts"]["social_post"]["meta"]["social"]["link"]
    for network, posts in variants.items():
        assert 1 <= len(posts) <= 12
        for post in posts:
            assert post_length(post, network) <= LIMITS[network]
            assert "\u202e" not in post
            entities = social_entities(post, network)
            assert set(entities) <= {"hashtag", "link"}, (network, entities)
            assert set(entities.get("hashtag", [])) <= {"Devlog", "Mod", "X", "Evilcom", "EvilCom"}, (network, entities)
            assert set(entities.get("link", [])) <= {link}, (network, entities)
        assert link in "\n".join(posts)
    assert "#\u2060giveaway" in markdown


def test_the_example_s_posts_are_in_docs_examples_md() -> None:
    """docs/examples.md shows readers the posts `flywheel run` writes with a website configured."""
    check_posts_in_docs(GOLDEN / "example_social_post_web.json", DOCS, "## Life and creative session")


def golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; FLYWHEEL_UPDATE_GOLDEN=1 rewrites it (read the diff)."""
    check_golden(GOLDEN / name, text)
