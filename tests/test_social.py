"""Social posts fit every platform, whatever the text; threads split on boundaries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
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


# -- session text made inert, optional parts, hashtags ------------------------------------------

from flywheel_core.social import clip, defang, fit_post, hashtag, hashtags_for, optional, sentences  # noqa: E402
from flywheel_core.testing import social_entities  # noqa: E402

HOSTILE = (
    "Ping @everyone and @alice@mastodon.social, see #tag ＃wide $AAPL at https://evil.example/x?a=1, "
    "evil.com, README.md and www.phish.net. \u202egnp.exe\u202c ok\x00\x1b[31m "
)


@pytest.mark.parametrize("network", PLATFORMS)
def test_defanged_text_makes_no_mention_hashtag_cashtag_or_link(network: str) -> None:
    assert social_entities(HOSTILE, network), "the model of the network's parser sees the raw text's entities"
    text = defang(HOSTILE)
    assert social_entities(text, network) == {}
    assert text.replace("\u2060", "") == (
        "Ping @everyone and @alice@mastodon.social, see #tag ＃wide $AAPL at https://evil.example/x?a=1, "
        "evil.com, README.md and www.phish.net. gnp.exe ok[31m"
    ), "it still reads the same; bidi overrides and control characters are gone"


def test_defang_keeps_numbers_words_and_emoji_and_is_idempotent() -> None:
    text = "Version 1.5 ships 3,200 fixes 👩‍💻 (e-mail: none) 50.00%"
    assert defang(text) == text
    assert defang(defang(HOSTILE)) == defang(HOSTILE)
    assert defang(optional("x")) == "x", "a session cannot forge an optional part"


def test_clip_cuts_at_a_sentence_end_else_a_word() -> None:
    assert clip("First sentence here, long enough. Second one is much longer than this.", 45) == (
        "First sentence here, long enough."
    )
    assert clip("word " * 30, 30) == "word word word word word…"
    assert clip("é" * 50, 10) == "é" * 9 + "…"
    assert clip("👨‍👩‍👧‍👦" * 5, 12).rstrip("…") in ("👨‍👩‍👧‍👦", ""), "never inside a grapheme"


def test_hashtags_are_camel_case_distinct_and_few() -> None:
    assert [hashtag(w) for w in ("machine learning", "Three.js", "iOS", "2025", "life_aria", "日本語")] == [
        "MachineLearning", "ThreeJs", "iOS", None, "LifeAria", "日本語"]
    topics = ["trading", "Trading", "MSFT", "AAPL", "x" * 50, "ESH6", "NVDA", "AMD", "TSLA"]
    assert hashtags_for(topics, "x") == ["Trading", "MSFT"]
    assert hashtags_for(topics, "linkedin") == ["Trading", "MSFT", "AAPL"]
    assert hashtags_for(topics, "mastodon") == ["Trading", "MSFT", "AAPL", "ESH6", "NVDA"]


def test_fit_post_drops_optional_parts_last_first_then_hashtags_then_threads() -> None:
    body = "A" * 150 + "." + optional(" First extra" + "b" * 60 + ".") + optional(" Second extra" + "c" * 60 + ".")
    assert fit_post(body, "x") == ["A" * 150 + ". First extra" + "b" * 60 + "."]
    assert fit_post(body, "mastodon", hashtags=["One"]) == [
        "A" * 150 + ". First extra" + "b" * 60 + ". Second extra" + "c" * 60 + ".\n\n#One"]
    # Nothing optional left: hashtags go (the last first) before the post becomes a thread.
    assert fit_post("d" * 270, "x", hashtags=["One", "Two"]) == ["d" * 270 + "\n\n#One"]
    assert fit_post("d" * 277, "x", hashtags=["One", "Two"]) == ["d" * 277]
    thread = fit_post("word " * 100, "x", hashtags=["One"])
    assert len(thread) == 2 and thread[-1].endswith("#One 2/2")


def test_fit_post_never_drops_the_link_and_adds_it_when_the_template_did_not() -> None:
    link = "https://example.org/notes/2025/12/day-0a1b2c3d/"
    posts = fit_post("Short.", "bluesky", link=link, hashtags=["Notes"])
    assert posts == [f"Short.\n\n{link}\n\n#Notes"]
    inside = fit_post("Head." + optional(f" Read {link} now."), "x", link=link)
    assert inside == [f"Head. Read {link} now."]
    long = fit_post("Head." + optional(" " + "z" * 300) + f"\n\nRead: {link}", "x", link=link)
    assert long == [f"Head.\n\nRead: {link}"]


def test_sentences_after_the_first_are_optional() -> None:
    marked = sentences("One. Two! Three? Four.", keep=2)
    assert fit_post(marked, "x") == ["One. Two! Three? Four."]
    assert fit_post(marked + " " + "w" * 270, "x")[0].startswith("One. Two! ")


# -- compose_social with a session type of our own -----------------------------------------------

from flywheel_core import Artifact, SessionType, compose_social, hookimpl  # noqa: E402

LINK_BASE = "https://notes.example.org/"
NOTES_TEMPLATES = {
    "x": '{{ title }}: {{ note | clip(200) | sentences }}\n\n{{ "Read: " ~ link if link }}\n',
    "bluesky": "Today, {{ title }}. {{ note | clip(250) | sentences }}\n",  # places no link: core adds it
    "mastodon": '{{ title }}\n\n{{ note | clip(450) | sentences }}\n\n{{ link if link }}\n',
    "linkedin": "Notes of the day: {{ title }}\n\n{{ note | sentences(3) }}\n\n{{ \"More: \" ~ link if link }}\n",
}


class NotesPlugin:
    """A session type whose generator shares core's social machinery, as trade and aria do."""

    def __init__(self, templates: Path) -> None:
        self.templates = templates

    @hookimpl
    def flywheel_session_types(self):
        return [SessionType("notes", "notes", {}, ("page", "social_post"))]

    @hookimpl
    def flywheel_template_dirs(self):
        return [self.templates]

    @hookimpl
    def flywheel_generate(self, session, ctx):
        if session.session_type != "notes":
            return None
        title = str(session.get("title") or "Notes")
        context = {"title": defang(title), "note": defang(session.get("note") or "")}
        posts = compose_social(ctx, session, "notes", context, title=f"Social posts: {title}", page=("page", title),
                               topics=session.get("tags") or [], content_warning=session.get("cw") or "",
                               image={"src": "media/a.png", "alt": "A <b>chart</b>"})
        page = Artifact("page", f"# {title}\n", title=title)
        return [page, posts.artifact(summary=title, tags=["notes"], meta={"project": "notes"},
                                     attachments={"media/a.png": b"\x89PNG"})]


class SitePlugin:
    """A website that gives a session's ``page`` a URL (the web target's role)."""

    @hookimpl
    def flywheel_page_url(self, session, kind, title, config):
        return page_link(session.session_id, title) if kind == "page" else None


def page_link(session_id: str, title: str) -> str:
    import hashlib

    return f"{LINK_BASE}{session_id}/{hashlib.sha256(title.encode()).hexdigest()[:8]}/"


@pytest.fixture
def notes(tmp_path: Path, register_plugin, flywheel_cli, make_session):
    folder = tmp_path / "plugin-templates" / "notes"
    folder.mkdir(parents=True)
    for network, text in NOTES_TEMPLATES.items():
        (folder / f"social_post.{network}.txt.j2").write_text(text, encoding="utf-8")
    (folder / "social_post.md.j2").write_text('{% extends "social/social_post.md.j2" %}\n', encoding="utf-8")
    register_plugin(NotesPlugin(folder.parent), name="notes")

    def run(*, site: bool = False, config: str = "", **fields):
        if site:
            register_plugin(SitePlugin(), name="site")
        (tmp_path / "flywheel.toml").write_text(config, encoding="utf-8")
        doc = make_session("notes", **{"title": "Queue day", "note": NOTE, "tags": ["queues", "sqlite"], **fields})
        path = tmp_path / "work_session.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        result = flywheel_cli("run", "--json", "--config", tmp_path / "flywheel.toml", "--out", tmp_path / "out", path)
        assert result.exit_code == 0, result.output
        folder = tmp_path / "out" / "notes" / "test-notes-001"
        variants = json.loads((folder / "social_post.json").read_text(encoding="utf-8"))
        return variants, (folder / "social_post.md").read_text(encoding="utf-8"), result.json()[0]

    return run


NOTE = ("The queue now survives a crash at any point. Every entry is written before it is sent, "
        "so nothing is published twice. Retries back off. The tests kill the process at random.")


def test_each_network_gets_its_own_post_and_each_fits(notes) -> None:
    variants, markdown, _ = notes()
    assert set(variants) == set(PLATFORMS)
    texts = [p[0] for p in variants.values()]
    assert len(set(texts)) == 4, "one post written for each network, not one text four times"
    for network, posts in variants.items():
        assert len(posts) == 1 and fits(posts[0], network), network
    assert variants["x"] == ["Queue day: " + NOTE + "\n\n#Queues #Sqlite"]
    assert variants["mastodon"][0].endswith("\n\n#Queues #Sqlite"), "CamelCase hashtags at the end"
    assert markdown.startswith("# Social posts: Queue day\n")
    assert "## Mastodon\n\n> Queue day\n>\n> The queue now survives" in markdown


def test_every_post_links_to_the_page_when_a_site_gives_one(notes) -> None:
    variants, markdown, data = notes(site=True)
    link = page_link("test-notes-001", "Queue day")
    for network, posts in variants.items():
        assert link in "\n".join(posts), network
        assert fits(posts[0], network)
    assert variants["x"][0].startswith("Queue day: The queue now survives a crash at any point."), (
        "sentences after the first go before a thread does")
    assert variants["bluesky"][0].startswith("Today, Queue day.") and f"\n\n{link}\n\n#Queues" in variants["bluesky"][0]
    meta = data["artifacts"]["social_post"]["meta"]["social"]
    assert meta["link"] == link and meta["link_title"] == "Queue day"
    assert meta["image"] == {"src": "media/a.png", "alt": "A <b>chart</b>"}
    assert meta["hashtags"] == {"x": ["Queues", "Sqlite"], "bluesky": ["Queues", "Sqlite"],
                                "mastodon": ["Queues", "Sqlite"], "linkedin": ["Queues", "Sqlite"]}
    assert "content_warning" not in meta
    assert f"- Link: <{link}>" in markdown and "alt text: A \\<b>chart\\</b>" in markdown


def test_no_link_without_a_site(notes) -> None:
    variants, markdown, data = notes()
    assert "http" not in json.dumps(variants)
    assert "link" not in data["artifacts"]["social_post"]["meta"]["social"]
    assert "- Link: none" in markdown


def test_a_page_url_that_is_not_a_plain_url_is_not_posted(notes, register_plugin) -> None:
    class Odd:
        @hookimpl
        def flywheel_page_url(self, session, kind, title, config):
            return "javascript:alert(1)"

    register_plugin(Odd(), name="odd")
    variants, _, data = notes()
    assert "javascript" not in json.dumps(variants)
    assert any("not a plain http(s) URL" in p["message"] for p in data["problems"])


def test_a_user_template_replaces_one_network_s(notes, tmp_path: Path) -> None:
    mine = tmp_path / "mine" / "notes"
    mine.mkdir(parents=True)
    (mine / "social_post.linkedin.txt.j2").write_text("My words on {{ title }}.{{ ' Extra.' | optional }}\n")
    variants, _, _ = notes(config='templates_dir = "mine"\n')
    assert variants["linkedin"] == ["My words on Queue day. Extra.\n\n#Queues #Sqlite"]
    assert variants["x"][0].startswith("Queue day: ")


def test_hostile_session_text_is_inert_and_bounded(notes) -> None:
    note = HOSTILE + " \u202eevil " + "Long sentence goes on " * 500 + ". " + "z" * 10_000
    variants, markdown, data = notes(site=True, title="@everyone #win", note=note, tags=["#x", "@y", "ok ok"],
                                     cw="Money <3")
    link = page_link("test-notes-001", "@everyone #win")
    for network, posts in variants.items():
        assert 1 <= len(posts) <= 12, network
        for post in posts:
            assert fits(post, network), (network, post)
            assert "\u202e" not in post and "\x1b" not in post
            entities = social_entities(post, network)
            assert not entities.get("mention") and not entities.get("cashtag"), (network, entities)
            assert set(entities.get("hashtag", [])) <= {"X", "Y", "OkOk"}, (network, entities)
            assert set(entities.get("link", [])) <= {link}, (network, entities)
        assert link in "\n".join(posts), network
    assert data["artifacts"]["social_post"]["meta"]["social"]["content_warning"] == "Money <3"
    assert "\\@everyone" not in markdown and "> @\u2060everyone #\u2060win" in markdown


# X's weighted length without importing twitter-text (its import is most of a small run), checked
# against twitter-text itself wherever the light count answers.
_X_PIECES = list("abcXYZ019 .,;:!?-'\"()[]#@\n/") + [
    "\u2060", "\u2026", "\u2014", "é", "ж", "\u00b7", "\u2022", "日", "😷", "©", "README.md",
    "https://example.org/build/2025/12/a-b-1f2e/", "http://x.io", "http://x.ioa", "https://example.org",
    "https://a-b.example.co.uk/x", "https://example.org/a/",
    # Numbers as trade and build posts write them: a dot before a digit starts no domain.
    "+75.00", "1.5", "v1.2.3", "192.168.0.1", "1.com", "3.co", ".de", "$", "%", "&", "+", "~",
]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_X_PIECES), max_size=60).map("".join))
@example("http://x.io-.de")  # a host label ending in "-": no link to twitter-text (23 counted, it says 15)
@example("see http://-x.com and http://a--b.com")
def test_the_light_x_count_agrees_with_twitter_text(text) -> None:
    from flywheel_core.social import _parse_tweet, _x_length_plain

    light = _x_length_plain(text)
    if light is not None:
        assert light == _parse_tweet()(text).weightedLength


def test_a_plain_post_with_a_page_link_is_counted_without_twitter_text() -> None:
    code = (
        "import sys; from flywheel_core.social import post_length; "
        "n = post_length('Shipped the queue \\u2014 details: https://example.org/build/2025/12/q-1a2b/', 'x'); "
        "print(n, 'twitter_text' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["52", "False"]


def test_a_post_with_prices_is_counted_without_twitter_text() -> None:
    """A trade post's "+75.00" was taken for a domain, so every trade run imported twitter-text
    (about a second in a batch of runs)."""
    from flywheel_core.social import _parse_tweet

    post = "Trading, 2 Dec 2025. 2 closed trades on MSFT and AAPL: both won. Net P&L +75.00 (v1.2, 0.5R).\n\n#Trading"
    code = f"import sys; from flywheel_core.social import post_length; print(post_length({post!r}, 'x'), 'twitter_text' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(_parse_tweet()(post).weightedLength), "False"]


_SPLIT_PIECES = list("aZ9 .,-_#@\t\n\r") + ["\r\n", "é", "\u00ad", "\u02ff", "\u2014", "\u2026", "\u2060", "\u0301", "\u200d",
                                           "👍🏽", "🇫🇷", "한", "\u1100\u1161", "e\u0301", "\ufe0f", "日"]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_SPLIT_PIECES), max_size=30).map("".join))
def test_graphemes_and_hashtags_without_regex_agree_with_it(text) -> None:
    """Plain text is split and tagged without importing `regex` (10 ms of a run's start): the
    same graphemes and hashtags as `regex` gives."""
    import regex

    from flywheel_core.social import _graphemes, _hashtag

    assert _graphemes(text) == regex.findall(r"\X", text)
    parts = regex.findall(r"[\p{L}\p{M}\p{N}]+", text)
    tag = "".join(p if any(c.isupper() for c in p) else p[:1].upper() + p[1:] for p in parts)
    expected = tag if tag and len(tag) <= 40 and regex.search(r"\p{L}", tag) else None
    assert _hashtag.__wrapped__(text) == expected


def test_a_plain_post_is_fitted_without_importing_regex() -> None:
    code = ("import sys; from flywheel_core.social import fit_post, hashtags_for; "
            "tags = hashtags_for(['machine learning', 'Three.js', 'iOS'], 'bluesky'); "
            "print(fit_post('Shipped the queue \\u2014 it survives a crash. ' * 9, 'bluesky', hashtags=tags) != [], "
            "tags, 'regex' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "['MachineLearning',", "'ThreeJs']", "False"]


def test_plain_drops_every_control_character_and_folds_the_ones_that_are_whitespace() -> None:
    """Unicode's control characters (Cc, a set that never changes) against one pattern: the
    whitespace ones (tab, newline, the separators U+001C-001F, NEL U+0085) fold to a space,
    every other is dropped; the characters around them stay as written."""
    import unicodedata

    from flywheel_core.social import plain

    controls = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"]
    assert len(controls) == 65
    for ch in controls:
        assert plain(f"a{ch}b") == ("a b" if ch.isspace() else "ab"), hex(ord(ch))
    assert plain("x\x00y \x9f z\u00a0é\u200d👍🏽") == "xy z é\u200d👍🏽", "format characters (the joiner) stay"
