"""md_inline / md_escape: untrusted text shows exactly as written, with a backslash only where needed."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flywheel_core import md_escape, md_inline
from flywheel_core.render import _INVISIBLE  # what is never shown: terminal escapes, controls, bidi overrides

markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py renders the escaped text")

#: Every character Markdown gives meaning to somewhere, and neighbours that change what they do.
SPECIAL = list("\\`*_{}[]()<>#+-.!|~&;:=@/?\"'$%^ \t\n") + ["\u00a0", "\u3000", "€", "—", "’", "a", "1", "Z"]
HOSTILE = [
    "# ", "## x ##", "> ", "- ", "+ ", "* ", "1. ", "2) ", "===", "---", "- - -", "***", "___", "```", "~~~",
    "    ", "\t", "  \n", "\\\n", "<script>", "</p>", "<!--", "<?php", "<https://e.com>", "<a@b.co>", "<1@x.y>",
    "[a](javascript:x)", "![i](x)", "[r]: /u", "[r]", "&amp;", "&#x41;", "&#65;", "&copy", "**b**", "__b__",
    "*e*", "_e_", "~~s~~", "~s~", "a_b_c", "parse_args", "`c`", "``c ` c``", "` `", "|", "| a | b |",
    "|-|-|", ":-:", "\\|", "\\*", "\\`", "(x)", "P&L", "{{ 7*7 }}",
]
TEXT = st.one_of(
    st.text(st.sampled_from(SPECIAL), max_size=40),
    st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(st.sampled_from(SPECIAL), max_size=4)), max_size=12).map("".join),
    st.text(max_size=40),  # any code point
)


def renderer():
    """The web target's Markdown (flywheel_publish_web.markup): CommonMark, raw HTML off, GFM tables and strikethrough."""
    return markdown_it.MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


MD = renderer()
MD_TRIM_CHARS = markdown_it.common.utils.MD_TRIM_CHARS


def shown(children) -> str:
    """What a reader sees of an inline token's children; a code span keeps its backticks."""
    parts = []
    for t in children:
        assert t.type in ("text", "code_inline", "softbreak"), (t.type, t)
        parts.append(t.markup + t.content + t.markup if t.type == "code_inline" else "\n" if t.type == "softbreak" else t.content)
    return "".join(parts)


def same(a: str, b: str) -> bool:
    """Equal text; a code span shows ``` `` a `` ``` without its padding spaces, as CommonMark says."""
    return re.sub(r" *(`+) *", r"\1", a) == re.sub(r" *(`+) *", r"\1", b)


def check_html(source: str) -> None:
    html = MD.render(source)
    assert set(re.findall(r"</?([a-z0-9]+)", html)) <= {"p", "code"}, (source, html)


@settings(max_examples=1000, deadline=None)
@given(TEXT)
@example("parse_args (it failed)")
@example("Fix `parse_args` for `a|b`")
@example("``` python")
@example("a ` b")
@example("`|``0`0`0``0``<A0:>`")
@example("``|`0``")
def test_md_inline_shows_the_text_exactly(text: str) -> None:
    """Rendered alone, in a list item, as a heading and in a table cell, md_inline(s) shows s,
    with no markup but code spans (``code`` as written stays code)."""
    expected = " ".join(_INVISIBLE.sub("", text.replace("\0", "\ufffd").replace("\x0b", " ").replace("\x0c", " ")).split())
    escaped = md_inline(text)
    assert "\n" not in escaped
    tokens = MD.parse(escaped)
    if not expected:
        assert tokens == [] and escaped == ""
        return
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], (escaped, tokens)
    assert same(shown(tokens[1].children), expected), (text, escaped, shown(tokens[1].children))
    check_html(escaped)

    for wrap, open_tags in (("- {}", ["bullet_list_open", "list_item_open", "paragraph_open"]),
                            ("## {}", ["heading_open"]), ("**{}**", ["paragraph_open"])):
        tokens = MD.parse(wrap.format(escaped))
        assert [t.type for t in tokens[: len(open_tags)]] == open_tags, (wrap, escaped)
        inline = next(t for t in tokens if t.type == "inline")
        children = [t for t in inline.children if t.type != "text" or t.content]
        if wrap == "**{}**":  # bold, and nothing else
            assert children[0].type == "strong_open" and children[-1].type == "strong_close", (escaped, children)
            children = children[1:-1]
        assert same(shown(children), expected), (wrap, escaped)

    table = MD.parse(f"| a | b |\n| - | - |\n| {escaped} | x |\n")
    cells = [t for t in table if t.type == "inline"]
    assert len(cells) == 4, (escaped, cells)
    assert same(shown(cells[2].children), expected) and shown(cells[3].children) == "x", (escaped, cells[2].children)


@settings(max_examples=500, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=6).map("\n".join))
@example("a\n===\n    code\n\n> quote\n1. list\n```\nfence")
@example("line  \nnext\\\nlast")
@example("|\n:-")
def test_md_escape_keeps_lines_and_paragraphs(text: str) -> None:
    """md_escape(s) renders as s's paragraphs (blank lines apart), each line as written
    (indentation and trailing spaces aside, which Markdown does not show)."""
    escaped = md_escape(text)
    visible = _INVISIBLE.sub("", text.replace("\0", "\ufffd").replace("\x0b", " ").replace("\x0c", " "))
    lines = [line.strip(" \t") for line in re.split(r"\r\n?|\n", visible)]
    paragraphs = [p for p in "\n".join(lines).split("\n\n")]
    paragraphs = ["\n".join(x for x in p.split("\n") if x) for p in paragraphs]
    # The renderer trims each paragraph of Unicode spaces too (markdown-it's mdTrim).
    expected = [p.strip(MD_TRIM_CHARS) for p in paragraphs if p.strip(MD_TRIM_CHARS)]
    tokens = MD.parse(escaped)
    assert {t.type for t in tokens} <= {"paragraph_open", "inline", "paragraph_close"}, (escaped, tokens)
    got = [shown(t.children) for t in tokens if t.type == "inline" and t.content]  # "\xa0" alone: an empty <p>
    assert len(got) == len(expected) and all(same(a, b) for a, b in zip(got, expected)), (text, escaped, got, expected)
    check_html(escaped)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("parse_args (it failed)", "parse_args (it failed)"),
        ("Fix `parse_args` on empty input", "Fix `parse_args` on empty input"),
        ("C:\\Users\\me and 7 > 5 < 9, P&L +3.5%", "C:\\Users\\me and 7 > 5 < 9, P&L +3.5%"),
        ("don't {{ 7*7 }} or a * b", "don't {{ 7\\*7 }} or a * b"),
        ("# 1. see [docs](javascript:x) <b>hi</b> &amp; **bold** __init__", "\\# 1. see \\[docs\\](javascript:x) \\<b>hi\\</b> \\&amp; \\*\\*bold\\*\\* \\_\\_init\\_\\_"),
        ("1. first", "1\\. first"),
        ("a | b ~~gone~~ it`s", "a \\| b \\~\\~gone\\~\\~ it\\`s"),
        ("Issue #", "Issue \\#"),
        ("ends with \\", "ends with \\\\"),
    ],
)
def test_only_what_would_be_markup_is_escaped(text: str, escaped: str) -> None:
    assert md_inline(text) == escaped


def test_md_escape_neutralises_blocks_line_by_line() -> None:
    text = "Title\n===\n    indented code?\n> quote\n- item\n```sh\nrm -rf /\n```\n\nTwo  \nlines"
    assert md_escape(text) == "Title\n\\===\n indented code?\n\\> quote\n\\- item\n\\`\\`\\`sh\nrm -rf /\n\\`\\`\\`\n\nTwo\nlines"


@settings(max_examples=3000, deadline=None)
@given(TEXT)
@example("Shipped the queue 2. It works")
@example("1. first")
@example("Title ##")
def test_a_line_that_skips_the_escaping_needed_none(text: str) -> None:
    """Lines with no character that can be markup are returned at once (most prose): exactly
    what the character-by-character escaping makes of them."""
    from flywheel_core.render import _escape_line, _escape_marked

    for line in text.splitlines() or [text]:
        assert _escape_line(line) == _escape_marked(line)


def test_terminal_escapes_controls_and_bidi_overrides_are_never_shown() -> None:
    # An agent_id, title or trade note holding ESC[2J (clear the screen), ESC]… or U+202E reached
    # the README, journal and devlog as it was: whoever cats the file runs the sequence.
    for escape in (md_escape, md_inline):
        assert escape("Agent\x1b[2J\x1b[31m red\x01\x08\x7f\x85 \u202eevil\u202c") == "Agent red evil"
    assert md_escape("a\tb\nc\r\nd") == "a\tb\nc\nd"
