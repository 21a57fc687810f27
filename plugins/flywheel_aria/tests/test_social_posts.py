"""The social posts of a life_aria session: one per network, each fitting, linking to the devlog's page."""

from __future__ import annotations

import json
import re
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
    # A person telling what they made (was "SpaceExplorer: Built a new interactive game using ...",
    # the conversation pasted after the name); the session's own words follow where there is room.
    made = "Built a game with Aria in 1 hour 30 minutes: SpaceExplorer, made with React, Three.\u2060js and WebSocket."
    features = "Features include real-time multiplayer, physics simulation, and dynamic lighting."
    assert variants["x"] == [f"{made}\n\nDevlog: {link}\n\n#Devlog #React"]
    assert variants["bluesky"][0].startswith(f"{made} {features}\n\n")
    assert variants["mastodon"][0].startswith(f"{made}\n\n{features}\n\nRead it: {link}")
    assert variants["linkedin"][0].startswith(f"Devlog: SpaceExplorer\n\n{made} {features}\n\nThe full devlog: {link}")
    assert "Built a new interactive game" not in json.dumps(variants), "what was made is said once"
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


def _shots(folder: Path, *names: str) -> list[str]:
    from PIL import Image

    (folder / "shots").mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.new("RGB", (64, 48), (20 + 60 * i, 120, 40)).save(folder / "shots" / name)
    return [f"shots/{name}" for name in names]


def test_sessions_as_people_have_them_read_naturally(run_with, make_session, tmp_path: Path) -> None:
    """Two things made over two conversations, a lesson and a screenshot; and a session of
    screenshots alone (what `flywheel end` collects after a game was played)."""
    made = make_session(
        "life_aria", session_id="two-things", agent_id="Agent-3", metadata={"duration_minutes": 45},
        lessons=["Keep the save format small."], next_steps=["Share a seed by link"],
        source_data={"screenshots": _shots(tmp_path, "planner.png"), "conversations": [
            {"source": "aria", "timestamp": "2026-11-29T09:00:00Z",
             "content": "Made two small tools for the garden. The planner draws beds to scale; the swap page lists spare seeds.",
             "artifacts": [{"name": "Garden Planner", "type": "app", "technologies": ["Svelte"]},
                           {"name": "Seed Swap", "type": "site", "url": "https://seeds.example.org/", "technologies": ["Astro"]}]},
            {"source": "aria", "timestamp": "2026-11-29T09:40:00Z", "content": "Tested the planner on a phone: the grid needs bigger handles."},
        ]})
    variants, _, data = run_with(made, WEB)
    check_social_posts(variants, link=data["artifacts"]["social_post"]["meta"]["social"]["link"], numbers=session_numbers(made))
    devlog = Path(data["artifacts"]["devlog"]["path"]).read_text(encoding="utf-8")
    assert devlog.split("\n\n")[2] == ("This session with Aria made two things: Garden Planner (app) and "
                                       "[Seed Swap](https://seeds.example.org/) (site).")
    assert re.findall(r"^## (.+)$", devlog, re.M) == ["What was made", "Conversation highlights", "Gallery", "Lessons", "Next steps"]
    assert "> — Aria, 2026-11-29 09:40 UTC" in devlog
    assert variants["x"][0].startswith("Built two things with Aria in 45 minutes: Garden Planner and Seed Swap.\n\n")
    assert variants["bluesky"][0].startswith("Built two things with Aria in 45 minutes: Garden Planner and Seed Swap. "
                                             "The planner draws beds to scale; the swap page lists spare seeds.")
    assert "Read it with the screenshot: " in variants["mastodon"][0] and "Lesson: Keep the save format small." in variants["mastodon"][0]

    shots = make_session("life_aria", session_id="shots", agent_id="aria", timestamp="2026-11-29T10:00:00Z",
                         metadata={"duration_minutes": 20},
                         source_data={"conversations": [], "screenshots": _shots(tmp_path, "night.png", "sunrise.png")})
    variants, _, data = run_with(shots, WEB)
    devlog = Path(data["artifacts"]["devlog"]["path"]).read_text(encoding="utf-8")
    assert devlog.startswith("# Devlog: screenshots of 2026-11-29\n\n*2026-11-29 · aria · 20 min*\n\n"
                             "Two screenshots from this session.\n\n## Gallery\n")
    for network in ("x", "bluesky", "mastodon"):
        assert variants[network][0].startswith("Two screenshots from 29 Nov 2026.\n\n"), variants[network][0]
    assert "Two screenshots from 29 Nov 2026. The session took 20 minutes." in variants["linkedin"][0]
