"""Session prose as safe Markdown: parsed with markdown-it-py, vetted, written back by mdformat.

Notes and conversations are Markdown: emphasis, lists, links and code are shown as such
(``**Date**`` stays bold). What would inject markup or change meaning is neutralised in the
syntax tree, not by pattern matching on text: raw HTML becomes literal text, a link that is not
http(s) or mailto keeps its text only, an image that is not http(s) (a local file, ``data:``)
becomes its alt text, headings are moved down so they nest under the devlog's own, and a
heading with nothing under it is left out.
mdformat then writes the tree back as Markdown, escaping text so it stays text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import attrs
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdformat.renderer import MDRenderer

from flywheel_aria.facts import trim_sentences

if TYPE_CHECKING:
    from markdown_it.rules_core import StateCore

__all__ = ["Lede", "plain_text", "safe_markdown", "split_lede", "trim_blocks"]

# "Date: 2026-11-29": a line of facts, not prose (a summary is made of prose).
_LABEL_LINE = re.compile(r"^[^\W\d][\w '-]{0,24}:\s*\S")
_SAFE_LINK_SCHEMES = ("http", "https", "mailto")
#: How far into a text its opening paragraph is looked for.
LEDE_SEARCH = 20_000


def _safe(url: str, schemes: tuple[str, ...]) -> bool:
    """An absolute URL with one of ``schemes`` (http(s) with a host); a relative one is local."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    return scheme in schemes and (scheme == "mailto" or bool(parts.netloc))


def _inline_text(tokens: list[Token] | None) -> str:
    """The text a reader sees in inline tokens (markup dropped, images by their alt text)."""
    out = []
    for token in tokens or []:
        if token.type in ("text", "code_inline", "html_inline"):
            out.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            out.append("\n")
        elif token.type == "image":
            out.append(_inline_text(token.children))
    return "".join(out)


def _neutralise(state: StateCore) -> None:
    """A markdown-it core rule: vet the token tree in place (see the module docstring)."""
    shift = 0
    levels = [int(t.tag[1]) for t in state.tokens if t.type == "heading_open"]
    if levels:
        shift = max(0, state.env.get("heading_top", 1) - min(levels))
    tokens: list[Token] = []
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close") and shift:
            level = min(6, int(token.tag[1]) + shift)
            token.tag, token.markup = f"h{level}", "#" * level
        if token.type == "html_block":
            # Shown as the text it is: a paragraph, one line per line of the block.
            children = []
            for line in token.content.rstrip("\n").split("\n"):
                if children:
                    children.append(Token("softbreak", "br", 0))
                children.append(Token("text", "", 0, content=line))
            tokens += [
                Token("paragraph_open", "p", 1, map=token.map, block=True),
                Token("inline", "", 0, children=children, content=token.content, block=True),
                Token("paragraph_close", "p", -1, block=True),
            ]
            continue
        if token.type in ("fence", "code_block") and not token.content.endswith("\n"):
            token.content += "\n"  # a fence left open at the end: its closing line stands alone
        if token.children:
            token.children = _neutralise_inline(token.children)
            if _label_lines(token.children):
                # "**Date**: 2026-11-29" over "**Mood**: curious": one fact a line, as a notes
                # app shows it, not "Date: 2026-11-29 Mood: curious" run together.
                for child in token.children:
                    if child.type == "softbreak":
                        child.type, child.tag = "hardbreak", "br"
        tokens.append(token)
    state.tokens = _without_empty_headings(tokens)


def _label_lines(children: list[Token]) -> bool:
    """Inline tokens of two lines or more, each a short ``Label: value`` line."""
    lines = _inline_text(children).split("\n")
    return len(lines) > 1 and all(_LABEL_LINE.match(line.strip()) and len(line) <= 60 for line in lines)


def _without_empty_headings(tokens: list[Token]) -> list[Token]:
    """``tokens`` less each heading with nothing under it (at the end, or straight before a
    heading of its level or above): a reader would find an empty section. From the end, so a
    heading whose only subsection was empty goes too."""
    out: list[Token] = []
    for i in range(len(tokens) - 1, -1, -1):
        token = tokens[i]
        if token.type == "heading_open" and token.level == 0:
            after = out[-3] if len(out) >= 3 else None  # out[-2:] are its heading_close and inline
            if after is None or (after.type == "heading_open" and after.level == 0 and after.tag <= token.tag):
                del out[-2:]
                continue
        out.append(token)
    return out[::-1]


def _neutralise_inline(children: list[Token]) -> list[Token]:
    out: list[Token] = []
    dropped: list[bool] = []  # for each open link: was it unwrapped?
    for token in children:
        if token.type == "html_inline":
            out.append(Token("text", "", 0, content=token.content))
        elif token.type == "link_open":
            keep = _safe(str(token.attrGet("href") or ""), _SAFE_LINK_SCHEMES)
            dropped.append(not keep)
            if keep:
                out.append(token)
        elif token.type == "link_close":
            if not (dropped and dropped.pop()):
                out.append(token)
        elif token.type == "image" and not _safe(
            str(token.attrGet("src") or ""), ("http", "https")
        ):
            out.append(Token("text", "", 0, content=" ".join(_inline_text(token.children).split())))
        else:
            out.append(token)
    return out


def _escape_less_than(text: str, _node: Any, _context: Any) -> str:
    """mdformat escapes "<" before anything but a space, yet misses the second of "<<"
    ("<<script>" kept a raw tag): escape every "<" that an even run of backslashes precedes."""

    def fix(match: re.Match[str]) -> str:
        slashes = match.group(1)
        return slashes + ("<" if len(slashes) % 2 else "\\<")

    return re.sub(r"(\\*)<(?! )", fix, text)


class _Extension:
    """An mdformat parser extension holding the text postprocessor above."""

    RENDERERS: ClassVar[dict[str, Any]] = {}
    POSTPROCESSORS: ClassVar[dict[str, Any]] = {"text": _escape_less_than}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", renderer_cls=MDRenderer)
    # Every link and image is parsed as one (even javascript:), so _neutralise sees and vets it.
    md.validateLink = lambda url: True
    md.core.ruler.push("flywheel_neutralise", _neutralise)
    md.options["mdformat"] = {"number": True}  # keep "1. 2. 3." as written
    md.options["parser_extension"] = [_Extension]
    return md


#: Removed from session text before it is parsed, as core's ``md_escape`` removes them: terminal
#: escape sequences (``ESC[2J`` clears the screen of whoever cats the devlog), other control
#: characters and bidi overrides (text shown in another order than it is stored).
_INVISIBLE = re.compile("\x1b\\[[0-?]*[ -/]*[@-~]|[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x00-\x08\x0e-\x1f\x7f-\x9f]")


def _source(text: str) -> str:
    text = _INVISIBLE.sub("", text.replace("\x0b", " ").replace("\x0c", " "))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _head(source: str, chars: int) -> str:
    """The start of ``source`` up to a line end past ``chars``: enough to find a first
    paragraph or the blocks that fit a trim, without parsing a huge text whole."""
    end = source.find("\n", chars)
    return source if end < 0 else source[:end]


def _literal(text: str) -> str:
    """Text shown exactly as written, every Markdown character escaped (the last resort)."""
    from flywheel_core import md_escape

    return "\n".join(md_escape(line) for line in _source(text).split("\n")).strip("\n")


def safe_markdown(text: str, *, heading_top: int = 2) -> str:
    """Untrusted Markdown, vetted and re-written; its highest heading becomes ``heading_top``."""
    md = _parser()
    env: dict[str, Any] = {"heading_top": heading_top}
    tokens = md.parse(_source(text), env)
    try:
        return md.renderer.render(tokens, md.options, env).strip("\n")
    except RecursionError:  # thousands of nested "*": mdformat's tree is recursive
        return _literal(text)


def safe_inline(text: str) -> str:
    """Untrusted text as one safe line of Markdown (a list item's text, a summary)."""
    md = _parser()
    env: dict[str, Any] = {}
    line = " ".join(_source(text).split())
    inline = md.parseInline(line, env)
    tokens = [
        Token("paragraph_open", "p", 1, block=True),
        *inline,
        Token("paragraph_close", "p", -1, block=True),
    ]
    for token in tokens:
        if token.children:
            token.children = _neutralise_inline(token.children)
    try:
        return md.renderer.render(tokens, md.options, env).strip("\n")
    except RecursionError:
        return _literal(line)


def plain_text(text: str) -> str:
    """What a reader sees of a Markdown text, as one line of plain text (for summaries)."""
    md = _parser()
    parts = [_inline_text(t.children) for t in md.parse(_source(text)) if t.type == "inline"]
    return " ".join(" ".join(parts).split())


@attrs.frozen
class Lede:
    """The first prose paragraph of a Markdown text: its Markdown, its plain text, and the rest."""

    markdown: str
    plain: str
    rest: str


def _is_prose(lines: list[str]) -> bool:
    text = " ".join(lines)
    if not re.search(r"[^\W\d_]", text):
        return False  # an image alone, a number
    return not all(_LABEL_LINE.match(line.strip()) and len(line) <= 60 for line in lines)


def split_lede(text: str) -> Lede | None:
    """The first top-level paragraph that is prose (not ``Date: ...`` lines), or None.

    Only the first ``LEDE_SEARCH`` characters are searched.
    """
    source = _source(text)
    tokens = _parser().parse(_head(source, LEDE_SEARCH))
    for i, token in enumerate(tokens):
        if token.type != "paragraph_open" or token.level != 0 or token.map is None:
            continue
        lines = _inline_text(tokens[i + 1].children).split("\n")
        if not _is_prose(lines):
            continue
        start, end = token.map
        all_lines = source.split("\n")
        rest = "\n".join(all_lines[:start] + all_lines[end:]).strip("\n")
        return Lede("\n".join(all_lines[start:end]), " ".join(" ".join(lines).split()), rest)
    return None


def trim_blocks(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to about ``limit`` characters at the end of a block; (text, whether it was cut).

    Whole blocks (paragraphs, lists, code) are kept while they fit; a first paragraph that
    is too long on its own is cut at a sentence end.
    """
    source = _source(text).strip("\n")
    if len(source) <= limit:
        return source, False
    # A block that ends past 2 * limit cannot fit: parse no further than that.
    head = _head(source, 2 * limit)
    lines = head.split("\n")
    blocks = [t for t in _parser().parse(head) if t.level == 0 and t.nesting >= 0 and t.map]
    kept = ""
    for block in blocks:
        candidate = "\n".join(lines[: block.map[1]]).rstrip()
        if len(candidate) > limit:
            break
        kept = candidate
    if kept:
        return kept, True
    first = blocks[0] if blocks else None
    block = ("\n".join(lines[: first.map[1]]) if first else head).rstrip()
    if first is not None and first.type == "paragraph_open":
        return trim_sentences(block, limit)[0], True
    return block, block != source
