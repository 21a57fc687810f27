"""Notes rendered as Markdown, never as markup: safe_markdown, safe_inline, plain_text, ledes."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from flywheel_aria.prose import plain_text, safe_inline, safe_markdown, split_lede, trim_blocks


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).render(markdown)


def test_markdown_is_kept_as_markdown():
    note = (
        "**Date**: 2026-11-29\n**Mood**: *curious*\n\n"
        "Fixed `parse_args` (it failed) in snake_case_names, see [the docs](https://example.com/a_b).\n\n"
        "- one\n- two\n\n1. first\n2. second\n\n```python\nx = '<b>'  # not HTML\n```"
    )
    out = safe_markdown(note)
    assert out.startswith("**Date**: 2026-11-29\\\n**Mood**: *curious*\n\n")  # one fact a line
    assert "\\*" not in out, "issue 13: **Date** showed as \\*\\*Date\\*\\*"
    assert "Fixed `parse_args` (it failed) in snake_case_names" in out
    assert "[the docs](https://example.com/a_b)" in out
    assert "- one\n- two\n\n1. first\n2. second" in out
    assert "```python\nx = '<b>'  # not HTML\n```" in out
    html = _html(out)
    assert "<strong>Date</strong>" in html and '<a href="https://example.com/a_b">' in html


def test_what_would_inject_markup_is_neutralised(inert):
    note = (
        "Hi <b onclick=x>bold</b> <span style='x'>s</span>.\n\n"
        "<div>\n<script>alert(1)</script>\n</div>\n\n"
        "[js](javascript:alert(1)) [data](data:text/html,hi) [rel](notes/other.md) "
        "[ok](https://example.com) [mail](mailto:a@example.com) <javascript:alert(2)>\n\n"
        "![local](../shots/a.png) ![abs](/home/x/a.png) ![data](data:image/png;base64,AA) "
        "![remote](https://example.com/a.png)\n\n"
        "[ref]\n\n[ref]: javascript:alert(3)\n"
    )
    out = safe_markdown(note)
    inert(out)
    html = _html(out)
    assert "&lt;b onclick=x&gt;bold&lt;/b&gt;" in html, "raw HTML shows as the text it is"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "js data rel" in html and '<a href="https://example.com">ok</a>' in html
    assert '<a href="mailto:a@example.com">mail</a>' in html
    assert "local abs data" in html and 'src="https://example.com/a.png"' in html
    assert "javascript:alert(2)" in html and "ref" in html


def test_headings_nest_under_the_devlog():
    note = "# Big\n\ntext\n\n## Smaller\n\ntext\n\nSetext\n------\n\ntext\n\n###### deepest\n\ntext"
    out = safe_markdown(note, heading_top=3)
    assert re.findall(r"^#+ \w+", out, re.M) == [
        "### Big",
        "#### Smaller",
        "#### Setext",
        "###### deepest",
    ]
    assert safe_markdown("### Already deep\n\ntext", heading_top=2) == "### Already deep\n\ntext", "never moved up"
    assert safe_markdown("Not # a heading\n\\# nor this") == "Not # a heading\n\\# nor this"


def test_inline_text_stays_one_line_and_safe(inert):
    assert safe_inline("Use `requestAnimationFrame`\n for **smooth** motion") == (
        "Use `requestAnimationFrame` for **smooth** motion"
    )
    assert safe_inline("# not a heading") == "\\# not a heading"
    assert safe_inline("1. not a list") == "1\\. not a list"
    inert(safe_inline("<img src=x onerror=alert(1)> [x](javascript:y)"))


def test_plain_text_and_lede():
    note = (
        "**Date**: 2026-11-29\n**Mood**: curious\n\n"
        "Aria and I made a *small* game.\nIt grows.\n\n## Why\n\nCalm."
    )
    assert (
        plain_text("A *small* `game` [link](https://x.y) ![pic](a.png).")
        == "A small game link pic."
    )
    lede = split_lede(note)
    assert lede is not None
    assert lede.markdown == "Aria and I made a *small* game.\nIt grows."
    assert lede.plain == "Aria and I made a small game. It grows."
    assert lede.rest == "**Date**: 2026-11-29\n**Mood**: curious\n\n\n## Why\n\nCalm."
    assert split_lede("- a list\n- only") is None
    assert split_lede("Note: a long line is prose even when it starts like a label, really.")


def test_trim_blocks_cuts_between_blocks_or_sentences():
    text = "First paragraph here.\n\n- a\n- b\n\n```\ncode\n```\n\nLast."
    assert trim_blocks(text, 500) == (text, False)
    assert trim_blocks(text, 30) == ("First paragraph here.\n\n- a\n- b", True)
    long = " ".join(f"Sentence {i} is here." for i in range(20))
    cut, trimmed = trim_blocks(long, 60)
    assert trimmed and cut.endswith("is here.") and len(cut) <= 60
    fence = "```\n" + "x = 1\n" * 100 + "```"
    cut, trimmed = trim_blocks(fence, 20)
    assert trimmed and cut.startswith("```\nx = 1\n") and len(cut) < 60, "bounded, at a line end"
    assert safe_markdown(cut).endswith("x = 1\n```"), "the rendered copy closes its fence"


FRAGMENTS = st.sampled_from(
    [
        "<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<div>", "</div>",
        "<!-- c -->",
        "<a href='javascript:x'>", "[x](javascript:alert(1))", "![i](file:///etc/passwd)",
        "![i](a.png)", "[r]", "[r]: javascript:y", "<javascript:z>", "&lt;b&gt;", "&#60;i&#62;",
        "**", "*", "_", "`", "```", "~~~", "\n", "\n\n", "    ", "# ", "> ", "- ", "1. ", "---",
        "[", "]", "(", ")", "!", "<", ">", "\\", "javascript:", "<?php x ?>", "<![CDATA[x]]>",
        "<style>", "<iframe src=x>", "text", "https://ok.example/a", "<https://ok.example>",
    ]
)  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=30).map("".join))
def test_any_text_renders_inert(inert, text):
    inert(safe_markdown(text, heading_top=3))
    inert(safe_inline(text))


def test_pathological_nesting_is_shown_literally_not_a_crash(inert):
    text = "*" * 3000 + "a" + "*" * 3000
    for out in (safe_markdown(text), safe_inline(text)):
        assert out.startswith("\\*\\*") and "a" in out
        inert(out)


def test_lede_and_trim_read_only_the_start_of_a_huge_text():
    huge = "- item\n" * 200_000
    assert split_lede(huge + "\nA paragraph far away.") is None
    cut, trimmed = trim_blocks(huge, 600)
    assert trimmed and len(cut) <= 2 * 600 + len("- item"), "one long block: twice the limit"


def test_a_heading_with_nothing_under_it_is_left_out():
    # Notes written as an outline ("## Ideas" with no idea yet) gave the devlog empty sections.
    note = "Intro.\n\n## Ideas\n\n## Done\n\n### Part\n\n## Progress\n\nCast on.\n\n### Later\n"
    assert safe_markdown(note, heading_top=3) == "Intro.\n\n### Progress\n\nCast on."
    assert safe_markdown("## Only a heading") == ""
    assert safe_markdown("- ## A heading in a list item\n") == "- ## A heading in a list item"


def test_lines_of_facts_stay_one_a_line():
    # "**Date**: 2026-11-29" over "**Mood**: curious" showed as "Date: 2026-11-29 Mood: curious".
    out = safe_markdown("**Date**: 2026-11-29\n**Mood**: curious\n\nA sentence\nwrapped: as prose is.")
    assert out == "**Date**: 2026-11-29\\\n**Mood**: curious\n\nA sentence\nwrapped: as prose is."
    assert "<br />" in _html(out).split("</p>")[0]


def test_terminal_escapes_controls_and_bidi_overrides_never_reach_the_devlog() -> None:
    # A summary or a conversation holding ESC[2J, ^A or U+202E reached devlog.md as it was:
    # whoever cats the published file in a terminal runs the sequence.
    text = "Built it\x1b[2J\x1b[31m red\x01\x08\x7f \u202eevil\u202c\n\nnext\x1b]0;title\x07 part"
    for shown in (safe_markdown(text), safe_inline(text), plain_text(text), split_lede(text).markdown):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", shown), repr(shown)
    assert safe_inline("Built it\x1b[2J red") == "Built it red"
