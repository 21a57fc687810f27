"""Property: whatever the session says, every generated social post fits its platform."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORDS = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(["🚀", "👩‍💻", "日本語のテキスト", "e\u0301", "#tag", "@user", "P&L", "{{ 7*7 }}", "<script>"]),
    st.builds(lambda n: "https://example.com/" + "a" * n, st.integers(0, 400)),
    st.builds(lambda n: "x" * n, st.integers(50, 700)),
)
TEXT = st.lists(WORDS, min_size=1, max_size=40).map(" ".join)


def commit(subject: str, i: int) -> dict:
    return {"hash": f"{i:07x}abcdef", "message": subject, "author": "A", "timestamp": f"2025-12-02T05:{i % 60:02d}:00Z"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    subjects=st.lists(TEXT, max_size=6),
    project=st.one_of(st.none(), TEXT),
    achievements=st.lists(TEXT, max_size=4),
    overview=st.one_of(st.none(), TEXT),
    remote=st.sampled_from([None, "https://github.com/acme/" + "r" * 150, "git@gitlab.com:g/p.git"]),
)
def test_every_post_fits(build_host, tmp_path, subjects, project, achievements, overview, remote):
    from flywheel_core import LIMITS, Config, RunContext, fits
    from flywheel_core.testing import as_session

    import flywheel_build.plugin as plugin

    doc = {
        "session_id": "prop", "session_type": "build", "timestamp": "2025-12-02T06:00:00Z", "agent_id": "A",
        "metadata": {"duration_minutes": 90},
        "source_data": {"git_commits": [commit(s, i) for i, s in enumerate(subjects)], **({"remote_url": remote} if remote else {})},
    }
    if project:
        doc["project"] = project
    if achievements:
        doc["key_achievements"] = achievements
    if overview:
        doc["overview"] = overview
    session = as_session(doc)
    ctx = RunContext(config=Config(tmp_path), host=build_host)
    artifacts = {a.kind: a for a in plugin.flywheel_generate(session=session, ctx=ctx)}
    variants = json.loads(artifacts["social_post"].attachments["social_post.json"])
    assert set(variants) == set(LIMITS)
    for platform, posts in variants.items():
        assert posts
        for post in posts:
            assert fits(post, platform), (platform, post)
