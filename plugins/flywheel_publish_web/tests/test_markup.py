"""Markdown rendering: URL vetting, highlighting, tables, relative files, slugs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flywheel_publish_web.markup import MarkdownRenderer, mentions, plain_text, plain_texts, pygments_css, safe_url
from flywheel_publish_web.store import slugify


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", " javascript:alert(1)", "\x01javascript:alert(1)",
    "jav\tascript:alert(1)", "jav\nascript:alert(1)", "jav&#x09;ascript:alert(1)", "&#106;avascript:alert(1)",
    "javascript&colon;alert(1)", "&amp;#106;avascript:alert(1)", "jav%09ascript:alert(1)", "java\u200bscript:x",
    "vbscript:msgbox(1)", "VbScRiPt:x", "data:text/html,<script>alert(1)</script>", "DATA:image/png;base64,AAAA",
    "file:///etc/passwd", "blob:https://x/y",
])
def test_unsafe_urls_are_refused(url: str) -> None:
    assert not safe_url(url)


@pytest.mark.parametrize("url", ["https://example.org/a?b=c", "http://x", "mailto:a@b.c", "media/a.png", "#top",
                                 "./x.svg", "//cdn.example/x.png", "javascript-notes.md"])
def test_safe_urls_pass(url: str) -> None:
    assert safe_url(url)


def test_render_tables_code_strikethrough_and_relative_files() -> None:
    md = MarkdownRenderer()
    text = ("# Heading\n\n| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\n```rust\nfn main() {}\n```\n\n"
            "![c](chart.svg) ![x](other.png) [doc](notes.txt#L3) <b>raw</b> P&L\n")
    body, heading, used, _ = md.render(text, files={"chart.svg", "notes.txt"}, prefix="../")
    assert heading == "Heading" and "<h1>" not in body
    assert "<table>" in body and "<s>2</s>" in body
    assert '<pre class="highlight"><code><span class="k">fn</span>' in body
    assert '<img src="../chart.svg" alt="c" loading="lazy" />' in body
    assert "other.png" not in body and 'loading="lazy" /> x <a' in body  # unknown file: alt text only
    assert '<a href="../notes.txt#L3">doc</a>' in body
    assert "&lt;b&gt;raw&lt;/b&gt; P&amp;L" in body
    assert used == {"chart.svg", "notes.txt"}


def test_unknown_language_is_plain_escaped_code() -> None:
    body = MarkdownRenderer().render("```nosuchlang\n<script>x</script>\n```\n").body
    assert body == '<pre class="highlight"><code>&lt;script&gt;x&lt;/script&gt;\n</code></pre>\n'


def test_highlight_css_has_a_dark_variant() -> None:
    css = pygments_css()
    light, dark = css.split("@media (prefers-color-scheme: dark)")
    assert ".highlight .k" in light and ".highlight .k" in dark


@pytest.mark.parametrize("title, slug", [
    ("Shipping the Queue!", "shipping-the-queue"), ("Café & crème", "cafe-creme"), ("Don’t panic: it's fine", "dont-panic-its-fine"),
    ("Запуск очереди публикаций", "zapusk-ocheredi-publikatsii"), ("日本語のタイトル", "ri-ben-yu-notaitoru"),
    ("🚀🚀", ""), ("a" * 80, "a" * 60), ("word " * 30, ("word-" * 12).rstrip("-")),
])
def test_slugs_transliterate_any_script_and_are_bounded(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_a_leading_date_line_is_taken_out_for_the_page_header() -> None:
    md = MarkdownRenderer()
    text = "# Title\n\n*2025-12-02 · Agent\\_7 · 1 h 30 min*\n\nBody.\n"
    rendered = md.render(text, date="2025-12-02")
    assert rendered.dateline == ["2025-12-02", "Agent_7", "1 h 30 min"] and rendered.body == "<p>Body.</p>\n"
    assert md.render(text, date="2025-12-03").dateline == []  # another day: not the session's date line
    assert md.render(text).dateline == []
    partly = md.render("*2025-12-02* and more\n", date="2025-12-02")
    assert partly.dateline == [] and "and more" in partly.body


def test_a_link_to_another_artifact_of_the_session_goes_to_its_page():
    # The blog post says "listed in the [build log](build_log.md)": on the site that was plain
    # text beside a page that has the build log.
    md = MarkdownRenderer()
    text = "See the [build log](build_log.md#features), [notes](notes.md) and [chart](chart.svg)."
    out = md.render(text, files={"chart.svg"}, pages={"build_log.md": "../build-log-x/"}, prefix="").body
    assert '<a href="../build-log-x/#features">build log</a>' in out
    assert "<span>notes</span>" in out and '<a href="chart.svg">chart</a>' in out
    assert "<span>build log</span>" in md.render(text).body, "no such page: plain text, as before"


# Text shaped like a rendered body: tags of any case (the inline ones are removed whole, code
# marks kept), entities, citations, Markdown marks, and the letters that fold into ASCII ones.
_PIECES = st.sampled_from([
    "a", "b", "-", "_", " ", "\n", "1", "é", "٣", "*", "`", "~", "<", ">", "/", "&", ";", "ſ", "\u212a",
    '<span class="k">', "</span>", "</SPAN>", "<sPan>", "<ſpan>", "<code>", "</CODE>", "<em>", "<p>", "</p>",
    "<strong x>", "<spa>", "&amp;", "&#x2a;", "&lt;em&gt;", "(`abc123d`)", "(`abc`; fixes #3)", " (`x`", "build-1",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_plain_texts_is_plain_text_both_ways(text: str) -> None:
    assert plain_texts(text) == (plain_text(text), plain_text(text, uncited=True))


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join), st.lists(st.sampled_from(["b", "-", "_", "1", "é", "٣", "build-1"]),
                                                          max_size=3).map("".join))
def test_mentions_finds_what_the_word_pattern_finds(text: str, word: str) -> None:
    assert mentions(text, word) == bool(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text))


def test_pictures_with_captions_are_figures_and_a_row_of_them_a_grid() -> None:
    from flywheel_publish_web.markup import MarkdownRenderer

    text = ("## Gallery\n\n[![Level 1](a_thumb.png)](a.png)  \n*Level 1*\n\n"
            "[![The boss](b_thumb.png)](b.png)  \n*Level `2`*\n\nText.\n\n![Diagram](c.png)\n\n- ![x](c.png)\n")
    body = MarkdownRenderer().render(text, files={"a.png", "a_thumb.png", "b.png", "b_thumb.png", "c.png"}).body
    assert ('<div class="figures">\n<figure><a href="a.png"><img src="a_thumb.png" alt="Level 1" loading="lazy" /></a>'
            '<figcaption aria-hidden="true">Level 1</figcaption></figure>\n'
            '<figure><a href="b.png"><img src="b_thumb.png" alt="The boss" loading="lazy" /></a>'
            '<figcaption>Level <code>2</code></figcaption></figure>\n</div>\n<p>Text.</p>\n') in body
    # A lone picture is a figure at the column's width (no grid); one in a list stays as it was.
    assert '<figure><img src="c.png" alt="Diagram" loading="lazy" /></figure>\n<ul>\n<li><img src="c.png"' in body
    # A picture refused (not the post's file) is no figure: its alt text stays as text.
    refused = MarkdownRenderer().render("[![Secret](missing.png)](x.png)  \n*Caption*\n").body
    assert "<figure" not in refused and "<img" not in refused
