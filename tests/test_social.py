"""Social posts fit every platform, whatever the text; threads split on boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel_core.social import LIMITS, PLATFORMS, fits, post_length, social_variants, split_post

URL = "https://github.com/example/flywheel/commit/0123456789abcdef0123456789abcdef01234567"


def test_x_weighting() -> None:
    assert post_length("hello", "x") == 5
    assert post_length(URL, "x") == 23, "URLs count 23 on X"
    assert post_length("日本語", "x") == 6, "CJK weighs 2"
    assert post_length("👨‍👩‍👧‍👦", "x") == 2, "an emoji sequence weighs 2"


def test_bluesky_counts_graphemes() -> None:
    assert post_length("👨‍👩‍👧‍👦e\u0301", "bluesky") == 2


def test_short_text_is_one_post_with_hashtags() -> None:
    assert split_post("Shipped it.", "x", hashtags=["build", "#python"]) == ["Shipped it.\n\n#build #python"]


def test_long_text_becomes_a_numbered_thread_without_breaking_urls_or_words() -> None:
    text = " ".join(f"Sentence number {i} talks about {URL} and more words here." for i in range(20))
    posts = split_post(text, "x", hashtags=["flywheel"])
    assert len(posts) > 1
    for i, post in enumerate(posts, 1):
        assert fits(post, "x"), post
        assert post.endswith(f" {i}/{len(posts)}")
    joined = " ".join(p.rsplit(" ", 1)[0] for p in posts)
    assert joined.count(URL) == 20, "every URL survives whole"
    assert "#flywheel" in posts[-1]
    words = set(text.split())
    for post in posts:
        for word in post.rsplit(" ", 1)[0].split():
            assert word in words or word == "#flywheel"


def test_a_single_huge_word_is_cut_at_graphemes() -> None:
    posts = split_post("é" * 700, "bluesky")
    assert all(fits(p, "bluesky") for p in posts)
    assert "".join(p.rsplit(" ", 1)[0] for p in posts) == "é" * 700


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=1500
) | st.lists(st.sampled_from(["word", URL, "日本語", "🎉", "x" * 40, ".", "!", "\n"]), max_size=300).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(texts, st.lists(st.from_regex(r"\A[a-z]{1,15}\Z"), max_size=4))
def test_every_variant_fits_its_platform(text: str, tags: list[str]) -> None:
    variants = social_variants(text, hashtags=tags)
    assert set(variants) == set(PLATFORMS)
    for platform, posts in variants.items():
        assert posts
        for post in posts:
            assert post_length(post, platform) <= LIMITS[platform], (platform, post)


def test_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        split_post("x", "myspace")


def test_hostile_input_is_bounded() -> None:
    variants = social_variants("#" + "a" * 28000 + " " + "word " * 50000, hashtags=["x" * 5000])
    for platform, posts in variants.items():
        assert 1 < len(posts) <= 12, platform
        assert all(fits(p, platform) for p in posts)


def test_long_text_is_cut_with_an_ellipsis() -> None:
    posts = split_post("word " * 5000, "x")
    assert len(posts) <= 12
    assert "…" in posts[-1]
