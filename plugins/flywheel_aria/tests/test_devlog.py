"""The devlog and social post: golden files on the shared example, content rules, hostile text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOSTILE = (
    "<script>alert(1)</script> [click](javascript:alert(1)) {{ 7*7 }} {% raw %}x{% endraw %} "
    "<img src=x onerror=alert(2)> ![p](javascript:alert(3))"
)


def _outputs(tmp_path: Path, session_id: str) -> tuple[str, str, dict]:
    folder = tmp_path / "out" / "life_aria" / session_id
    return (
        (folder / "devlog.md").read_text(encoding="utf-8"),
        (folder / "social_post.md").read_text(encoding="utf-8"),
        json.loads((folder / "social_post.json").read_text(encoding="utf-8")),
    )


def _html(markdown: str) -> str:
    """Render like a permissive site would (raw HTML allowed), to prove the escaping holds."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).render(markdown)


def test_golden_example_without_its_screenshots(tmp_path, example_doc, golden, run_json):
    folder = tmp_path / "example"
    folder.mkdir()
    path = folder / "life_aria_session.json"
    path.write_text(json.dumps(example_doc, indent=2), encoding="utf-8")

    data = run_json(path)

    devlog, social, variants = _outputs(tmp_path, example_doc["session_id"])
    golden("example_devlog.md", devlog)
    golden("example_social_post.md", social)
    golden("example_social_post.json", json.dumps(variants, indent=2, ensure_ascii=False) + "\n")
    assert "could not be included" not in devlog and "gameplay" not in devlog
    warnings = {p["path"]: p["message"] for p in data["problems"]}
    assert (
        warnings["$.metadata.screenshots_taken"]
        == "metadata.screenshots_taken is 5 but source_data.screenshots lists 3"
    )
    assert (
        warnings["$.source_data.screenshots[2]"]
        == "screenshot 'screenshots/gameplay_003.png' left out: not found"
    )
    record = data["artifacts"]["devlog"]
    assert record["title"] == "Devlog: SpaceExplorer"
    assert record["summary"] == (
        "This session with Aria made SpaceExplorer, a game built with React, Three.js and WebSocket."
    )
    # The devlog was the conversation's text, unattributed, and one bullet: now what was made
    # in a sentence of its own, then Aria's words quoted with who said them and when.
    assert devlog.split("\n\n")[2:] == [
        "This session with Aria made SpaceExplorer, a game built with React, Three.js and WebSocket.",
        "## From the conversation",
        "> Built a new interactive game using React and Three.js. Features include real-time multiplayer, "
        "physics simulation, and dynamic lighting.\n>\n> — Aria, 2025-12-02 03:00 UTC\n",
    ]
    assert record["tags"] == ["React", "Three.js", "WebSocket", "life_aria"]
    assert record["meta"] == {
        "project": "SpaceExplorer",
        "provenance": {"conversations": 1, "screenshots": 0},
    }
    assert "image" not in data["artifacts"]["social_post"]["meta"]
    # Pattern 1 of the seed guide: agents read artifacts[kind]["generated"] and ["path"] back
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["artifacts"]["devlog"]["generated"] is True
    assert Path(saved["artifacts"]["devlog"]["path"]).read_text(encoding="utf-8") == devlog
    assert saved["pipeline_status"]["life_aria_artifact"] == "complete"


def test_golden_example_with_real_screenshots(tmp_path, example_doc, golden, pics, run_json):
    folder = tmp_path / "example"
    (folder / "screenshots").mkdir(parents=True)
    for i in (1, 2, 3):
        image = pics.pattern(640 + 80 * i, 360, seed=i)
        (folder / "screenshots" / f"gameplay_00{i}.png").write_bytes(
            pics.encode(image, "PNG", exif=pics.exif())
        )
    path = folder / "life_aria_session.json"
    path.write_text(json.dumps(example_doc, indent=2), encoding="utf-8")

    data = run_json(path)

    devlog, social, _ = _outputs(tmp_path, example_doc["session_id"])
    golden("example_devlog_with_images.md", devlog)
    golden("example_social_post_with_images.md", social)
    meta = data["artifacts"]["devlog"]["meta"]
    assert [(i["caption"], i["alt"]) for i in meta["images"]] == [
        ("Gameplay 001", "Gameplay 001"),
        ("Gameplay 002", "Gameplay 002"),
        ("Gameplay 003", "Gameplay 003"),
    ]
    assert [
        (i["width"], i["height"], i["thumb_width"], i["thumb_height"]) for i in meta["images"]
    ] == [
        (720, 360, 480, 240),
        (800, 360, 480, 216),
        (880, 360, 480, 196),
    ]
    assert meta["image"] == meta["images"][0]["src"]
    assert meta["provenance"] == {"conversations": 1, "screenshots": 3}
    social_meta = data["artifacts"]["social_post"]["meta"]
    assert social_meta["image"] == meta["images"][0]["src"]
    social_files = data["artifacts"]["social_post"]["files"]
    assert any(f.endswith(meta["image"]) for f in social_files), "the post's image travels with it"
    for image in meta["images"]:
        assert (
            f"[![{image['alt']}]({image['thumb']})]({image['src']})  \n*{image['caption']}*"
            in devlog
        )
    assert "could not be included" not in devlog


def test_hostile_content_is_shown_literally(tmp_path, write_session, run_json):
    path = write_session(
        title=f"Title {HOSTILE}",
        overview=HOSTILE,
        problem=HOSTILE,
        lessons=[{"title": "<b>bold</b>", "description": HOSTILE}, HOSTILE],
        next_steps=[HOSTILE],
        key_achievements=HOSTILE,
        source_data={
            "conversations": [
                {
                    "source": "<i>aria</i>",
                    "title": "## not a heading",
                    "content": f"{HOSTILE}\n# heading?\n> quote\n\n<div>\n{{{{ config }}}}\n</div>",
                    "timestamp": "2025-12-02T03:00:00Z",
                    "artifacts": [
                        {
                            "type": "<b>t</b>",
                            "name": "[evil](javascript:alert(4))",
                            "path": "<p>",
                            "url": "javascript:alert(5)",
                            "technologies": ["<script>"],
                        },
                        {"type": "site", "name": "ok", "url": "https://example.com/a_(b)"},
                    ],
                }
            ],
            "screenshots": [
                {"path": "missing <img src=x onerror=alert(6)>.png", "caption": HOSTILE}
            ],
        },
    )
    run_json(path)
    devlog, social, _ = _outputs(tmp_path, "test-life_aria-001")
    for markdown in (devlog, social):
        html = _html(markdown)
        assert (
            "<script" not in html
            and "<img" not in html
            and "<div" not in html
            and "<b>" not in html
        )
        assert not re.search(r"(href|src)=\"(?!https?://)", html), "only http(s) links and images"
        assert 'src="x"' not in html
        assert "49" not in markdown, "template syntax in content must not be evaluated"
    assert "{{ 7\\*7 }}" in devlog and "{% raw %}" in devlog
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _html(devlog)
    # the conversation's own heading is Markdown, moved under the devlog's structure
    assert "\n# heading" not in devlog and "\n> #### heading?" in devlog
    # a URL that could break out of the link is not made a link
    assert "](https://example.com/a_(b))" not in devlog and "**ok** (site)" in devlog


def test_only_http_urls_become_links_and_local_paths_are_not_shown(
    tmp_path, write_session, run_json
):
    arts = [
        {
            "type": "site",
            "name": "Portfolio",
            "url": "https://me.example/portfolio",
            "path": "D:/sites/p",
            "technologies": ["Astro"],
        },
        {"type": "game", "name": "Local", "path": "games/local", "technologies": []},
        {"type": "app", "name": "Data", "url": "data:text/html,hi"},
    ]
    path = write_session(
        source_data={"conversations": [{"content": "Made things.", "artifacts": arts}]}
    )
    run_json(path)
    devlog, _, _ = _outputs(tmp_path, "test-life_aria-001")
    assert devlog.split("\n\n")[2] == ("This session made three things: [Portfolio](https://me.example/portfolio) (site), "
                                       "Local (game) and Data (app).")
    # The opening named them, their types and links: the section adds only what they were made
    # with (it listed all three again, types and link included).
    made = devlog.split("## What was made\n\n")[1].split("\n\n## ")[0]
    assert made == "- **Portfolio**: made with Astro", devlog
    # issue 13: "Location: D:/games/SpaceExplorer" was published
    assert "Location" not in devlog and "games/local" not in devlog and "D:/sites" not in devlog
    assert "(data:" not in devlog


def test_narrative_fields_and_order(tmp_path, write_session, run_json):
    long = " ".join(f"Step {i} went well." for i in range(200))
    path = write_session(
        overview="We made a garden planner.\n\nIt has two parts.",
        problem="Plans were on paper.",
        solution="A small web app.",
        key_achievements=["Planner works offline"],
        lessons=[{"title": "Start small", "description": "One bed first."}, "Measure `twice`"],
        next_steps="Add a watering calendar",
        metadata={"duration_minutes": 125, "artifacts_created": 0, "screenshots_taken": 0},
        source_data={
            "conversations": [
                {"source": "aria", "content": "Later entry.", "timestamp": "2025-12-02T09:00:00Z"},
                {
                    "source": "aria",
                    "content": long,
                    "timestamp": "2025-12-02T08:00:00+02:00",
                    "title": "Morning",
                },
                {
                    "source": "notes",
                    "content": "Planted the first bed.\n\n# Soil\n\nSandy.",
                    "timestamp": "2025-12-02T07:00:00Z",
                    "title": "Garden notes",
                },
            ]
        },
    )
    data = run_json(path)
    devlog, _, _ = _outputs(tmp_path, "test-life_aria-001")
    assert devlog.startswith(
        # Untitled, nothing built: titled by the author's notes (was "Devlog: Agent-Test, 2025-12-02").
        "# Devlog: Garden notes\n\n*2025-12-02 · Agent-Test · 2 h 5 min*\n\n"
        "We made a garden planner.\n\nIt has two parts.\n\n## The problem\n"
    )
    sections = re.findall(r"^## (.+)$", devlog, re.M)
    assert sections == [
        "The problem",
        "The solution",
        "Highlights",
        "Garden notes",
        "Conversation highlights",
        "Lessons",
        "Next steps",
    ]
    assert "- **Start small**: One bed first.\n- Measure `twice`\n" in devlog
    assert "- Add a watering calendar\n" in devlog
    # the author's notes are the body, their headings nested under the note's own
    assert "## Garden notes\n\nPlanted the first bed.\n\n### Soil\n\nSandy.\n" in devlog
    # conversations are quoted in time order: 06:00 UTC (the +02:00 entry) before 09:00 UTC
    assert devlog.index("### Morning") < devlog.index("> Later entry.")
    assert "> — Aria, 2025-12-02 06:00 UTC" in devlog
    quoted = re.search(r"### Morning\n\n((?:>.*\n)+)", devlog).group(1)
    assert quoted.rstrip().splitlines()[0].endswith("went well.")  # cut at a sentence end
    assert len(quoted.splitlines()[0]) <= 600 + 2
    assert re.search(r"\*Trimmed to \d{3} of 3,889 characters\.\*", devlog)
    record = data["artifacts"]["devlog"]
    assert record["summary"] == "We made a garden planner.", "the overview's first paragraph"
    assert record["meta"]["project"] == "life"


def test_nearly_empty_session_has_no_placeholders(tmp_path, write_session, run_json):
    path = write_session(source_data={"conversations": [{"source": "aria"}, {}, {"content": "  "}]})
    data = run_json(path)
    assert data["artifacts"]["devlog"]["meta"]["provenance"] == {
        "conversations": 3,
        "screenshots": 0,
    }
    devlog, social, variants = _outputs(tmp_path, "test-life_aria-001")
    for text in (devlog, social):
        assert "None" not in text and "[]" not in text and "  " not in text.replace("  \n", "")
        headings = re.findall(r"^(#+ .*)\n\n(#+ |\Z)", text, re.M)
        assert not headings, f"empty section: {headings}"
    assert devlog == "# Devlog: Agent-Test, 2025-12-02\n\n*2025-12-02 · Agent-Test*\n"
    assert variants["x"] == ["New devlog: Agent-Test, 2025-12-02.\n\n#Devlog"]


def test_a_note_with_nothing_to_show_makes_no_section(tmp_path, write_session, run_json):
    # Notes as `collect aria` reads them: a "## " heading with no text under it, and a note whose
    # only paragraph became the opening, each left "## Heading" with nothing under it.
    notes = [("Knitting log", ""), ("Ideas", ""), ("Progress", "Cast on 120 stitches of the softer yarn."),
             ("Swatch", "Washed and blocked.\n\n### Photos\n"), ("Done", "")]
    path = write_session(title="Knitting log", source_data={"conversations": [
        {"source": "notes", "title": title, "content": text} for title, text in notes]})
    run_json(path)
    devlog, _, _ = _outputs(tmp_path, "test-life_aria-001")
    assert devlog.split("\n\n", 2)[2] == "Cast on 120 stitches of the softer yarn.\n\n## Swatch\n\nWashed and blocked.\n"


@pytest.mark.parametrize(
    "field, value, path",
    [
        (
            "conversations",
            [{"content": "x", "timestamp": "yesterday"}],
            "$.source_data.conversations[0].timestamp",
        ),
        ("conversations", [{"content": 5}], "$.source_data.conversations[0].content"),
        ("screenshots", [3], "$.source_data.screenshots[0]"),
        # The object alternative fits, so its complaint is the one given (not "expected string").
        ("screenshots", [{"caption": "no path"}], "$.source_data.screenshots[0].path"),
    ],
)
def test_schema_errors_name_the_path(write_session, flywheel_cli, field, value, path):
    session = write_session(source_data={field: value})
    result = flywheel_cli("validate", session)
    assert result.exit_code == 2
    assert f"{session}: {path}: " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_declared_counts_are_cross_checked(tmp_path, write_session, flywheel_cli):
    (tmp_path / "session").mkdir()
    (tmp_path / "session" / "a.png").write_bytes(b"checked by flywheel run, not by validate")
    conv = [
        {"content": "a", "artifacts": [{"name": "A"}, {"name": "B"}]},
        {"content": "b", "artifacts": [{"name": "C"}]},
    ]
    ok = write_session(
        name="ok.json",
        metadata={"artifacts_created": 3, "screenshots_taken": 1},
        source_data={"conversations": conv, "screenshots": ["a.png"]},
    )
    result = flywheel_cli("validate", ok)
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output
    bad = write_session(
        name="bad.json",
        metadata={"artifacts_created": 1, "screenshots_taken": 0},
        source_data={"conversations": conv, "screenshots": ["a.png"]},
    )
    result = flywheel_cli("validate", bad)
    assert result.exit_code == 0
    assert (
        f"{bad}: $.metadata.artifacts_created: warning: metadata.artifacts_created is 1 but the conversations list 3 created artifacts"
        in result.stderr
    )
    assert (
        f"{bad}: $.metadata.screenshots_taken: warning: metadata.screenshots_taken is 0 but source_data.screenshots lists 1"
        in result.stderr
    )


def test_validate_reports_refused_paths_without_reading(tmp_path, write_session, flywheel_cli):
    (tmp_path / "session").mkdir()
    (tmp_path / "session" / "here.png").write_bytes(b"not read by validate")
    names = ["here.png", "gone.png", "../../etc/passwd", "C:\\Users\\me\\a.png"]
    path = write_session(source_data={"screenshots": names})
    result = flywheel_cli("validate", path)
    assert result.exit_code == 0
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{path}: $.source_data.screenshots[1]: warning: screenshot 'gone.png' left out: not found",
        f"{path}: $.source_data.screenshots[2]: warning: screenshot '../../etc/passwd' left out: outside the allowed folders",
        f"{path}: $.source_data.screenshots[3]: warning: screenshot 'C:\\\\Users\\\\me\\\\a.png' left out: a path on another machine",
    ]
    run = flywheel_cli("run", "--json", "--out", tmp_path / "out", path)
    paths = [p["path"] for p in run.json()[0]["problems"]]
    assert sorted(paths) == [f"$.source_data.screenshots[{i}]" for i in range(4)], (
        "each warning once"
    )


@pytest.mark.parametrize(
    "name",
    ["example_devlog_with_images.md", "example_social_post_with_images.md", "collected_devlog.md"],
)
def test_readme_shows_the_rendered_examples(name):
    tests = Path(__file__).resolve().parent
    readme = (tests.parent / "README.md").read_text(encoding="utf-8")
    expected = (tests / "golden" / name).read_text(encoding="utf-8")
    assert f"````markdown\n{expected}````\n" in readme, f"README.md's copy of {name} is out of date"


def test_a_huge_note_is_trimmed_and_a_note_left_open_does_not_swallow_the_devlog(
    tmp_path, write_session, run_json
):
    huge = "\n\n".join(f"Paragraph {i} of a very long note." for i in range(5000))
    path = write_session(
        next_steps=["Ship it"],
        source_data={
            "conversations": [
                {"source": "notes", "title": "Long", "content": f"Intro.\n\n{huge}"},
                {"source": "notes", "title": "Code", "content": "Run:\n\n```sh\nmake demo"},
            ]
        },
    )
    run_json(path)
    devlog, _, _ = _outputs(tmp_path, "test-life_aria-001")
    assert re.search(r"\*Trimmed to 99,\d{3} of 183,\d{3} characters\.\*", devlog)
    assert "```sh\nmake demo\n```\n\n## Next steps\n\n- Ship it\n" in devlog


PIECES = st.sampled_from(
    [
        "<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<div>\n", "\n</div>",
        "[x](javascript:alert(1))", "![i](/home/zz/a.png)", "![i](a.png)", "<file:///etc/x>",
        "```", "\n```\n", "~~~", "# ", "\n## ", "> ", "\n- ", "\n1. ", "**", "*", "_", "`",
        "\n\n", "\n", "[", "]", "(", ")", "<", "\\", "C:\\Users\\zz\\x", "{{ 7*7 }}",
        "Date: 2026-11-29", "A sentence of prose.", "https://ok.example/a", "---",
    ]
)  # fmt: skip
PROSE = st.lists(st.one_of(PIECES, st.text(max_size=6)), max_size=25).map("".join)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            k: PROSE
            for k in (
                "title",
                "summary",
                "overview",
                "problem",
                "solution",
                "lessons",
                "next_steps",
            )
        },
    ),
    convs=st.lists(
        st.fixed_dictionaries(
            {"content": PROSE, "source": st.sampled_from(["notes", "aria"])},
            optional={"title": PROSE},
        ),
        max_size=3,
    ),
)
def test_any_session_gives_an_inert_devlog(flywheel_host, tmp_path, inert, fields, convs):
    from flywheel_core import RunContext, Session, load_config

    from flywheel_aria.generate import generate_artifacts

    session = Session(
        session_id="prop-1",
        session_type="life_aria",
        timestamp="2025-12-02T05:20:00Z",
        agent_id="Agent-7",
        source_data={"conversations": convs},
        extra=fields,
    )
    ctx = RunContext(
        config=load_config(cwd=tmp_path), host=flywheel_host, session_path=tmp_path / "s.json"
    )
    for artifact in generate_artifacts(session, ctx):
        inert(artifact.content)
        assert "zz" not in artifact.content, "no local path"
        # {{ 7*7 }} must not become 49; a 49 the random text holds itself may stay (hypothesis drew title "49").
        if "49" not in repr(fields) + repr(convs):
            assert "49" not in artifact.content


def test_several_things_made_the_section_lists_the_rest(tmp_path, write_session, run_json):
    # Five things made: the opening names three and "2 more"; the section names the other two whole.
    arts = [{"type": "tool", "name": f"Tool {n}", "technologies": ["Python"] if n == 4 else []} for n in range(1, 6)]
    run_json(write_session(source_data={"conversations": [{"source": "aria", "content": "Made tools.", "artifacts": arts}]}))
    devlog, _, _ = _outputs(tmp_path, "test-life_aria-001")
    assert devlog.split("\n\n")[2] == "This session with Aria made five things: Tool 1 (tool), Tool 2 (tool), Tool 3 (tool) and 2 more."
    made = devlog.split("## What was made\n\n")[1].split("\n\n## ")[0]
    assert made == "- **Tool 4** (tool), made with Python\n- **Tool 5** (tool)", devlog


def test_an_untitled_session_is_titled_by_its_conversation(tmp_path, write_session, run_json):
    # Nothing made, no title: the conversation's own title says what it was about (was
    # "Devlog: Agent-Test, 2025-12-02"); its quote is not headed by it again.
    conv = {"source": "aria", "title": "Choosing a palette", "content": "We tried four palettes.",
            "timestamp": "2025-12-02T03:00:00Z"}
    data = run_json(write_session(source_data={"conversations": [conv]}))
    assert data["artifacts"]["devlog"]["title"] == "Devlog: Choosing a palette"
    devlog, _, _ = _outputs(tmp_path, "test-life_aria-001")
    assert devlog.startswith("# Devlog: Choosing a palette\n") and devlog.count("Choosing a palette") == 1, devlog
    # No title, nothing made, no conversation title: who and when is all that is known.
    untitled = {k: v for k, v in conv.items() if k != "title"}
    data = run_json(write_session(source_data={"conversations": [untitled]}))
    assert data["artifacts"]["devlog"]["title"] == "Devlog: Agent-Test, 2025-12-02"


BIG = "A long paragraph of notes. " * 40_000  # 1 MB: the same path as the 50 MB the report found


@pytest.mark.parametrize(
    "fields, path, limit",
    [
        ({"overview": BIG}, "$.overview", "100,000"),
        ({"summary": BIG}, "$.summary", "100,000"),
        ({"title": "Title " * 300}, "$.title", "1,000"),
        ({"key_achievements": ["ok", BIG]}, "$.key_achievements[1]", "10,000"),
        ({"source_data": {"conversations": [{"source": "aria", "content": BIG * 2}]}}, "$.source_data.conversations[0].content", "1,000,000"),
        ({"source_data": {"conversations": [{"source": "aria", "title": BIG}]}}, "$.source_data.conversations[0].title", "1,000"),
    ],
)
def test_absurdly_long_prose_is_refused_with_its_path(write_session, flywheel_cli, fields, path, limit):
    # Regression: a 50 MB overview or conversation became a 50 MB devlog (16 s, 277 MB). Like
    # other absurd values (a duration over 10,000,000 minutes) it is refused, in one line.
    session = write_session(**fields)
    for command in ("validate", "run"):
        result = flywheel_cli(command, session, *(("--out", session.parent / "out") if command == "run" else ()))
        assert result.exit_code == 2, result.output
        [line] = result.stderr.splitlines()
        assert line.startswith(f"{session}: {path}: text of ") and line.endswith(f"characters is too long (at most {limit})")


def test_prose_at_the_limit_is_kept(write_session, flywheel_cli):
    session = write_session(overview="x " * 50_000, summary="A devlog.")
    assert flywheel_cli("validate", session).exit_code == 0


def test_a_dialogue_keeps_each_turn_with_its_speaker(tmp_path, write_session, run_json):
    """A chat with Aria and nothing made: the user's question was lifted out as the devlog's
    opening, unattributed ("Can you help me plan a small garden for the balcony?" as the
    devlog's own first line), and the posts said it as the agent's words."""
    convs = [{"source": "user", "content": "Can you help me plan a small garden for the balcony?", "timestamp": "2025-12-03T21:30:00Z"},
             {"source": "aria", "content": "Sure! Tomatoes, basil and chillies do well in pots on a sunny balcony. Water them in the morning.",
              "timestamp": "2025-12-03T21:31:00Z"},
             {"source": "user", "content": "Great, let's start with basil.", "timestamp": "2025-12-03T21:40:00Z"}]
    run_json(write_session(source_data={"conversations": convs}, metadata={"duration_minutes": 25}))
    devlog, _, posts = _outputs(tmp_path, "test-life_aria-001")
    assert devlog.split("\n\n")[2] == "## Conversation highlights", devlog
    assert "> Can you help me plan a small garden for the balcony?\n>\n> — user, 2025-12-03 21:30 UTC" in devlog, devlog
    quoted = "Aria: “Sure! Tomatoes, basil and chillies do well in pots on a sunny balcony. Water them in the morning.”"
    assert posts["x"][0].startswith(f"Agent-Test, 2025-12-02. {quoted}\n"), posts["x"][0]
    for network, parts in posts.items():
        assert quoted in parts[0] and "Can you help me" not in parts[0], (network, parts[0])
