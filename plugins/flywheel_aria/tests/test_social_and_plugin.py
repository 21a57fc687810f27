"""Social posts always fit their platform; the plugin registers cleanly and imports lightly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flywheel_core import RunContext, Session, load_config
from flywheel_core import PLATFORMS, fits

from flywheel_aria.generate import generate_artifacts

WORDS = st.sampled_from(
    [
        "game",
        "Three.js",
        "ok.",
        "Done!",
        "really?",
        "日本語のテキスト",
        "🚀🔥",
        "👩‍💻",
        "https://example.com/a/very/long/path?q=1",
        "x" * 300,
        "<b>",
        "[x](javascript:alert(1))",
        "{{ 7*7 }}",
        "\n",
        "\n\n",
        "é",
        "a_b",
        "#tag",
    ]
)
TEXT = st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=30)), max_size=80).map(" ".join)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    overview=st.one_of(st.none(), TEXT),
    title=st.one_of(st.none(), TEXT),
    contents=st.lists(TEXT, max_size=3),
    technologies=st.lists(st.one_of(WORDS, st.text(max_size=20)), max_size=8),
)
def test_every_social_post_fits_its_platform(
    flywheel_host, tmp_path, overview, title, contents, technologies
):
    extra = {k: v for k, v in {"overview": overview, "title": title}.items() if v is not None}
    session = Session(
        session_id="prop-1",
        session_type="life_aria",
        timestamp="2025-12-02T05:20:00Z",
        agent_id="Agent-7",
        source_data={
            "conversations": [
                {
                    "source": "aria",
                    "content": c,
                    "artifacts": [{"name": "Thing", "technologies": technologies}],
                }
                for c in contents
            ]
        },
        extra=extra,
    )
    ctx = RunContext(
        config=load_config(cwd=tmp_path), host=flywheel_host, session_path=tmp_path / "s.json"
    )
    artifacts = {a.kind: a for a in generate_artifacts(session, ctx)}
    variants = json.loads(artifacts["social_post"].attachments["social_post.json"])
    assert set(variants) == set(PLATFORMS)
    for platform, posts in variants.items():
        assert posts, platform
        for post in posts:
            assert post.strip() and fits(post, platform), (platform, post)
    if "none" not in json.dumps([overview, title, contents, technologies]).lower():  # hashtags capitalise "none"
        assert all("None" not in a.content for a in artifacts.values()), "no placeholder text"


def test_entry_point_registers_the_session_type(flywheel_host, flywheel_cli):
    assert flywheel_host.infos["aria"].distribution == "flywheel-aria"
    owner, session_type = flywheel_host.session_type("life_aria")
    assert owner == "aria" and session_type.artifacts == ("devlog", "social_post")
    assert flywheel_host.config_schemas()["aria"]["properties"]["thumbnail_px"]["type"] == "integer"
    schema = flywheel_cli("schema", "life_aria")
    assert schema.exit_code == 0
    props = schema.json()["properties"]["source_data"]["properties"]
    assert set(props) >= {"conversations", "screenshots"}
    listing = flywheel_cli("plugins", "--json")
    assert listing.exit_code == 0 and "life_aria" in listing.stdout
    assert "aria" in flywheel_cli("collect", "--help").stdout


def test_plugin_module_imports_nothing_heavy():
    code = (
        "import sys, flywheel_aria.plugin as p; p.flywheel_session_types(); p.flywheel_template_dirs();"
        "heavy = [m for m in ('PIL', 'jinja2', 'jsonschema', 'markdown_it', 'mdformat', "
        "'frontmatter', 'yaml', 'httpx', 'matplotlib') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_templates_are_packaged():
    import flywheel_aria.plugin as plugin

    (folder,) = plugin.flywheel_template_dirs()
    assert sorted(p.name for p in Path(folder, "life_aria").iterdir()) == [
        "devlog.md.j2",
        "social_post.bluesky.txt.j2",
        "social_post.linkedin.txt.j2",
        "social_post.mastodon.txt.j2",
        "social_post.md.j2",
        "social_post.x.txt.j2",
    ]


def test_social_posts_are_plain_text_and_the_markdown_copy_is_escaped(
    tmp_path, write_session, run_json
):
    path = write_session(
        title="Pixel *Garden*",
        overview="We made **Pixel Garden** with `canvas` and [a link](javascript:x) <b>raw</b>.",
        tags="pixel-art, ",
    )
    run_json(path)
    folder = tmp_path / "out" / "life_aria" / "test-life_aria-001"
    variants = json.loads((folder / "social_post.json").read_text(encoding="utf-8"))
    text = "New devlog: Pixel *Garden*\n\nWe made Pixel Garden with canvas and a link <b>raw</b>."
    assert variants["mastodon"] == [f"{text}\n\n#Devlog #PixelArt"], "networks show text as is"
    social = (folder / "social_post.md").read_text(encoding="utf-8")
    assert social.startswith("# Social posts: Pixel \\*Garden\\*\n\n")
    assert "> New devlog: Pixel \\*Garden\\*\n" in social
    assert "\\<b>raw\\</b>" in social and "> #Devlog #PixelArt\n" in social
