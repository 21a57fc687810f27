"""Every artifact and site page reads well to someone who did not write the session.

One real `flywheel run` and `flywheel publish` (web target) of the bundled examples and of
sessions made the way people make them (a git history, Markdown notes with screenshots, a broker
export with the trader's notes); each test reads what a reader sees of every file written.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from artifact_support import (aria_session, build_session, examples, flywheel, markdown_blocks, repeated_sentences,
                              trade_session, written_parts)

# The bundled session plugins and the web target make what these tests read: skipped when
# flywheel-core is tested alone (scripts/test-isolated.sh); make test has them all.
for _plugin in ("flywheel_build", "flywheel_trade", "flywheel_aria", "flywheel_publish_web"):
    pytest.importorskip(_plugin)

CONFIG = '[targets.web]\nbase_url = "https://journal.example.org/"\nsite_dir = "site"\n'


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("read")
    (root / "flywheel.toml").write_text(CONFIG, encoding="utf-8")
    sessions = [*examples(root), build_session(root), aria_session(root), trade_session(root)]
    flywheel(root, "run", *sessions)
    flywheel(root, "publish")
    return root


@pytest.fixture(scope="module")
def parts(root: Path) -> dict[str, list[str]]:
    parts = written_parts(root / "flywheel-out", root / "site")
    kinds = {name.rsplit("/", 1)[-1].split(" ")[0] for name in parts}
    assert {"blog_post.md", "build_log.md", "readme.md", "social_post.md", "social_post.json", "trade_journal.md",
            "devlog.md", "index.html"} <= kinds, kinds
    return parts


def test_no_sentence_is_said_twice_in_one_artifact_or_page(parts):
    """A sentence of 40 characters or more said twice in one artifact, post or page (e.g. a summary
    shown as the lede and again as the first paragraph) is a generator saying one thing twice."""
    said_twice = {name: repeated for name, blocks in parts.items() if (repeated := repeated_sentences(blocks))}
    assert not said_twice, "\n".join(f"{name}: {s!r}" for name, found in said_twice.items() for s in found)


#: What reads badly, wherever it is: {what: (pattern on the text a reader sees, text it must
#: catch, text that reads well)}.
BAD = {
    "doubled punctuation": (r"(?<![.\d])\.\.(?![.\d])|[,;:]\s*[.,;:!?]|[.!?]\s*[,;:]|\(\s*\)|\s[.,;:!?](?=\s|$)",
                            ["Done..", "Fixed it,.", "Saved: .", "a () b", "the end ."], ["3.0.3..3.1.0", "Wait...", "e.g. this"]),
    "a singular counted as plural": (
        r"(?<![\d.,])\b1 (commits|trades|files|changes|lines|features|fixes|people|authors|screenshots|positions|"
        r"executions|sessions|conversations|hours|minutes|days|wins|losses|merges)\b",
        ["1 commits by Ann", "in 1 files"], ["1 commit", "21 commits", "1.5 hours"]),
    "an escape shown to the reader": (r"\\[\\`*_{}\[\]()#+\-.!<>|~]|&(amp|lt|gt|quot|#\d+|#x[0-9a-f]+);",
                                      ["dependabot\\[bot\\]", "a \\*b\\*", "R&amp;D"], ["R&D", "C:/x", "a\\b"]),
    "a value the template did not fill": (r"\bNone\b|\bnull\b|\bnan\b|\bundefined\b|\{\{|\}\}|\{%|%\}|\[\]|\{\}",
                                          ["by None", "{{ title }}", "tags: []"], ["Nonetheless", "nullable"]),
    "words joined without a space": (r"[a-z][.!?][A-Z][a-z]", ["it works.Next we"], ["Three.js", "e.g. Next", "README.md"]),
    "a label inside a label": (r"\b(Lesson|Next|What worked|What did not|Also|Market): [^.:;!?]{1,40}: [A-Z]",
                               ["Lesson: Scale out: Taking"], ["Lesson: Scale out. Taking", "Note: 10:30"]),
    "lines of facts run together": (r"(^|\s)[A-Z][a-z]+: [^.,;:!?]{1,30} [A-Z][a-z]+: \S",
                                    ["Date: 2026-11-29 Mood: curious"], ["Date: 2026-11-29", "Also: Watering, then Drawing: no"]),
}
CHECKS = pytest.mark.parametrize("what", list(BAD), ids=[w.replace(" ", "-") for w in BAD])


@CHECKS
def test_each_check_catches_what_it_names(what):
    pattern, bad, good = BAD[what]
    assert [b for b in bad if not re.search(pattern, b)] == []
    assert [g for g in good if re.search(pattern, g)] == []


@CHECKS
def test_nothing_reads_badly(parts, what):
    pattern = BAD[what][0]
    found = [f"{name}: ...{block[max(0, m.start() - 40):m.end() + 40]}..." for name, blocks in parts.items()
             for block in blocks for m in [re.search(pattern, block)] if m]
    assert not found, f"{what}:\n" + "\n".join(found)


def _empty_headings(markdown: str) -> list[str]:
    """Headings followed by nothing, or straight by a heading of their level or above."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    empty = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            after = tokens[i + 3] if i + 3 < len(tokens) else None
            if after is None or (after.type == "heading_open" and after.tag <= token.tag):
                empty.append(f"{token.markup} {tokens[i + 1].content}")
    return empty


#: An HTML heading and what comes right after it: a closing section, or a heading.
_PAGE_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>\s*<(/?)(\w+)", re.DOTALL)


def test_no_heading_has_nothing_under_it(root):
    empty = [f"{path.relative_to(root)}: {heading}" for path in sorted((root / "flywheel-out").rglob("*.md"))
             for heading in _empty_headings(path.read_text(encoding="utf-8"))]
    for path in sorted((root / "site").rglob("*.html")):
        for m in _PAGE_HEADING.finditer(path.read_text(encoding="utf-8")):
            level, closing, after = m.group(1), m.group(3), m.group(4)
            if (level, closing, after) == ("1", "/", "header"):
                continue  # a page's title ends its header: the article under it follows
            if closing or (re.fullmatch(r"h[1-6]", after) and after[1] <= level):
                empty.append(f"{path.relative_to(root)}: <h{level}>{m.group(2)}</h{level}> then <{closing}{after}>")
    assert not empty, "headings with nothing under them:\n" + "\n".join(empty)


def test_markdown_blocks_is_what_a_reader_sees():
    assert markdown_blocks("# A\\_b\n\n**Bold** and `code` &amp; [link](x).\n\n- one\n- two\n") == [
        "A_b", "Bold and code & link.", "one", "two"]


def test_a_build_post_page_gives_its_counts_once(parts):
    """The page's lede is the post's summary: it was "6 commits to pixel-garden by Ann Lee (4) and
    Bo Chen (2), including ...", above a post saying "6 commits by Ann Lee (4) and Bo Chen (2): ..."."""
    (page,) = [blocks for name, blocks in parts.items() if re.search(r"site/build/.*/pixel-garden-plants-grow-[^/]*/index.html$", name)]
    text = "\n".join(page)
    # A small session's post opens with who made what, once; the counts are the footer's.
    assert text.count("of work on pixel-garden, Ann Lee added a feature: plants grow over real hours") == 1, text
    assert "Ann Lee (4) and Bo Chen (2)" not in text, text
    assert "Every commit, with its author, is listed in the build log." in text, "no remote: the build log has no links"


def test_every_link_of_every_page_leads_somewhere(root):
    """Relative links and images of the site's pages lead to a page or file it has; the post's
    "listed in the build log" is a link to the build log's page (it was plain text)."""
    import posixpath
    from urllib.parse import unquote, urlsplit

    site = root / "site"
    dead = []
    for page in sorted(site.rglob("*.html")):
        folder = page.parent.relative_to(site).as_posix()
        for url in re.findall(r'\b(?:href|src)="([^"]+)"', page.read_text(encoding="utf-8")):
            parts = urlsplit(url)
            if parts.scheme or url.startswith("#"):
                continue
            target = site / posixpath.normpath(posixpath.join(folder, unquote(parts.path)))
            if not (target.is_file() or (target / "index.html").is_file()):
                dead.append(f"{page.relative_to(site)}: {url}")
    assert not dead, "links to nothing:\n" + "\n".join(dead)
    (post,) = site.glob("build/*/*/pixel-garden-plants-grow-*/index.html")
    assert re.search(r'is listed in the <a href="\.\./\.\./\.\./\.\./build/2025/12/build-log-pixel-garden-[^"]+/">build log</a>',
                     post.read_text(encoding="utf-8"))
    feed = (site / "feed.xml").read_text(encoding="utf-8")
    assert "is listed in the &lt;a href=\"https://journal.example.org/build/2025/12/build-log-pixel-garden-" in feed
