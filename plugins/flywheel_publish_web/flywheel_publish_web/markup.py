"""Markdown to safe HTML: markdown-it-py with raw HTML off, Pygments code, and vetted URLs."""

from __future__ import annotations

import html
import posixpath
import re
from functools import lru_cache
from typing import Any, Callable, NamedTuple
from urllib.parse import quote, unquote

__all__ = ["MarkdownRenderer", "Rendered", "safe_url", "clean_text", "plain_text", "plain_texts", "mentions", "pygments_css"]

#: Schemes a link or image may use; anything else (javascript:, data:, vbscript:, file:) is dropped.
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
# Browsers ignore ASCII tab/newline anywhere in a URL and strip leading controls and spaces,
# so "jav\tascript:" is "javascript:"; for the check, remove every control, raw or %-encoded.
_CONTROLS = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u2028\u2029\ufeff]+")
_ENCODED_CONTROLS = re.compile(r"%(?:[01][0-9a-f]|20|7f)", re.IGNORECASE)
# Characters XML 1.0 forbids: they would break the feeds (and mean nothing on a page).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Remove characters that are invalid in XML (controls, lone surrogates)."""
    return _XML_INVALID.sub("", text)


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see in ``url`` (lower case), or None for a relative URL."""
    text = url
    for _ in range(4):  # entity-encoded twice or more ("&amp;#x6a;") is still unescaped
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = _CONTROLS.sub("", _ENCODED_CONTROLS.sub("", text))
    match = _SCHEME.match(text)
    return match.group(1).lower() if match else None


def safe_url(url: str | None) -> bool:
    """True when ``url`` is relative or uses http, https or mailto."""
    if not isinstance(url, str):
        return False
    scheme = url_scheme(url)
    return scheme is None or scheme in SAFE_SCHEMES


def _is_local(url: str) -> bool:
    """A relative path to a file (not a fragment, not protocol-relative, no scheme)."""
    return url_scheme(url) is None and not url.startswith(("#", "//", "/", "\\"))


@lru_cache(maxsize=256)
def _lexer(lang: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.lexers.special import TextLexer
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False) if lang else TextLexer()
    except ClassNotFound:
        return TextLexer()


@lru_cache(maxsize=1)
def _formatter() -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(nowrap=True)


def highlight(code: str, lang: str, _attrs: str = "") -> str:
    """Pygments with CSS classes, as ``<pre class="highlight">`` (markdown-it keeps it as is)."""
    import pygments

    lang = lang.strip().lower()
    body = pygments.highlight(code, _lexer(lang), _formatter())
    return f'<pre class="highlight"><code>{body}</code></pre>'


def pygments_css(light: str = "default", dark: str = "github-dark") -> str:
    """Class-based highlighting CSS: ``light`` by default, ``dark`` when the reader prefers dark."""
    from pygments.formatters import HtmlFormatter
    from pygments.util import ClassNotFound

    def defs(style: str) -> str:
        try:
            formatter = HtmlFormatter(style=style)
        except ClassNotFound:
            formatter = HtmlFormatter(style="monokai")
        # Backgrounds come from the site's own palette, so both themes match the page.
        lines = formatter.get_style_defs(".highlight").splitlines()
        return "\n".join(l for l in lines if not l.startswith(("pre {", ".highlight {", ".highlight  {", "td.linenos", "span.linenos")))

    dark_rules = "\n".join("  " + line for line in defs(dark).splitlines())
    return f"{defs(light)}\n@media (prefers-color-scheme: dark) {{\n{dark_rules}\n}}\n"


#: Tags inside a line of text: removed without a space, so "(<code>abc</code>)" reads "(abc)" as
#: the Markdown "(`abc`)" does (a block tag still parts words). Only the names ignore case: with
#: the whole pattern case-blind, re would not search for its leading "<" directly.
_INLINE_TAG = re.compile(r"</?(?i:a|abbr|b|cite|del|em|i|kbd|mark|q|s|small|span|strong|sub|sup|u)\b[^>]*>")
_CODE_TAG = re.compile(r"</?code\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
#: Markdown's emphasis and code marks, deleted (a table for str.translate).
_MARKS = str.maketrans("", "", "*_`~")
#: A citation: a parenthesised reference opening with code, "(`abc123d`)", "(`abc123d`; fixes #3)".
_CITATION = re.compile(r"\s*\(`[^`()]*`[^()]*\)")


def _decoded(text: str) -> str:
    """``text`` without its tags and entities (the first half of ``plain_text``)."""
    return html.unescape(_TAG.sub(" ", _CODE_TAG.sub("`", _INLINE_TAG.sub("", text))))


def _flattened(text: str) -> str:
    return " ".join(text.translate(_MARKS).split()).lower()


def plain_text(text: str, *, uncited: bool = False) -> str:
    """Text as a reader sees it, for comparing: tags, Markdown emphasis and code marks and
    spacing removed, entities decoded, lower case. HTML and Markdown of the same words give the
    same text. ``uncited``: citations dropped too, so a sentence without its commit references
    is found in a body that has them."""
    text = _decoded(text)
    return _flattened(_uncited(text) if uncited else text)


def plain_texts(text: str) -> tuple[str, str]:
    """``plain_text(text)`` and ``plain_text(text, uncited=True)``, tags and entities removed once."""
    text = _decoded(text)
    plain = _flattened(text)
    return plain, _flattened(_uncited(text)) if "(`" in text else plain


def _uncited(text: str) -> str:
    # Every citation holds "(`": without one, the pattern (no fixed start) need not scan the text.
    return _CITATION.sub("", text) if "(`" in text else text


def mentions(text: str, word: str) -> bool:
    r"""``word`` in ``text`` as a whole word (hyphens join words): what
    ``re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text)`` finds, without compiling a
    pattern per session (a thousand of them cost a full build a tenth of a second)."""
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if not (start and _joins_words(text[start - 1])) and not (end < len(text) and _joins_words(text[end])):
            return True
        start = text.find(word, start + 1)
    return False


def _joins_words(char: str) -> bool:
    return char.isalnum() or char in "_-"  # re's \w in a str pattern is isalnum() or "_"


class Rendered(NamedTuple):
    """A Markdown document as HTML, and what was taken out of it or used by it."""

    body: str
    heading: str | None  # the leading ``# heading``, removed (the page shows it as its title)
    used: set[str]  # the post's files the body shows
    dateline: list[str]  # the parts of a leading date line, removed (the page header shows them)


class MarkdownRenderer:
    """CommonMark + tables + strikethrough, raw HTML off, links and images vetted and resolved."""

    def __init__(self) -> None:
        from markdown_it import MarkdownIt

        self.md = MarkdownIt("commonmark", {"html": False, "highlight": highlight})
        self.md.enable(["table", "strikethrough"])
        self.md.validateLink = safe_url
        # Wide tables scroll inside their own box instead of widening the page.
        self.md.add_render_rule("table_open", lambda self, tokens, idx, options, env: '<div class="table-wrap">\n<table>\n')
        self.md.add_render_rule("table_close", lambda self, tokens, idx, options, env: "</table>\n</div>\n")

    def parse(self, text: str) -> list[Any]:
        return self.md.parse(text)

    def render(
        self,
        text: str,
        *,
        files: frozenset[str] | set[str] = frozenset(),
        pages: dict[str, str] | None = None,
        prefix: str = "",
        drop_title: bool = True,
        date: str | None = None,
    ) -> Rendered:
        """Render ``text``; see :class:`Rendered` for what comes back.

        Relative links and images resolve to ``files`` (the post's own attachments, copied
        beside its page) and are prefixed with ``prefix`` (``../`` for a page one folder
        deeper, the page's absolute URL in feeds); a link to a name in ``pages`` (another
        artifact of the session, ``build_log.md``) goes to that URL, its page; anything else
        relative is dropped. With
        ``date`` (the session's ``YYYY-MM-DD``), a first paragraph all in emphasis that starts
        with it (``*2025-12-02 · Agent-7 · 1 h 30 min*``) is a date line: removed, its parts
        returned, so the page shows the date once, in its header.
        """
        tokens = self.parse(text)
        heading = None
        if drop_title and len(tokens) >= 3 and tokens[0].type == "heading_open" and tokens[0].tag == "h1":
            heading = tokens[1].content.strip()
            tokens = tokens[3:]
        dateline: list[str] = []
        if date and len(tokens) >= 3 and tokens[0].type == "paragraph_open":
            children = tokens[1].children or []
            if len(children) >= 3 and children[0].type == "em_open" and children[-1].type == "em_close" \
                    and not any(c.type == "em_close" for c in children[1:-1]):
                line = "".join(c.content if c.type != "softbreak" else " " for c in children[1:-1])
                parts = [" ".join(p.split()) for p in line.split("·")]
                if parts[0] == date:
                    dateline, tokens = parts, tokens[3:]
        used: set[str] = set()
        if _vet(tokens, lambda url: _resolve(url, files, prefix, used, pages or {})):
            tokens = _figures(tokens)
        return Rendered(self.md.renderer.render(tokens, self.md.options, {}), heading, used, dateline)


def _resolve(url: str, files: frozenset[str] | set[str], prefix: str, used: set[str],
             pages: dict[str, str]) -> str | None:
    if not safe_url(url):
        return None
    if not _is_local(url):
        return url
    cut = re.search(r"[?#]", url)
    path, rest = (url[: cut.start()], url[cut.start() :]) if cut else (url, "")
    name = posixpath.normpath(unquote(path))
    if name in pages and name not in files:
        return pages[name] + rest
    if name not in files:
        return None
    used.add(name)
    return prefix + quote(name) + rest


#: A table column whose longest cell is longer than this is text (notes): its cells wrap.
#: Every other cell (numbers, dates, symbols) stays on one line and the table scrolls instead.
TEXT_COLUMN = 32


def _vet(tokens: list[Any], resolve: Callable[[str], str | None]) -> bool:
    """Rewrite link and image URLs in place; a refused link becomes plain text. True when an
    image is left (only then can a paragraph be a figure: most posts skip that pass).

    Column alignment becomes a class (the pages' Content-Security-Policy forbids inline
    styles), and so does a column of long text (``wrap``): see ``TEXT_COLUMN``.
    """
    columns: dict[int, list[Any]] = {}
    longest: dict[int, int] = {}
    column = 0
    images = False
    for i, token in enumerate(tokens):
        if token.type == "tr_open":
            column = 0
        elif token.type in ("th_open", "td_open"):
            classes = []
            if token.attrGet("style"):
                align = str(token.attrGet("style")).rsplit(":", 1)[-1]
                classes = [f"align-{align}"] if align in ("left", "right", "center") else []
            token.attrs = {"class": " ".join(classes)} if classes else {}
            text = "".join(c.content for c in tokens[i + 1].children or []) if i + 1 < len(tokens) else ""
            columns.setdefault(column, []).append(token)
            longest[column] = max(longest.get(column, 0), len(text))
            column += 1
        elif token.type == "table_close":
            for n, cells in columns.items():
                if longest[n] > TEXT_COLUMN:
                    for cell in cells:
                        cell.attrSet("class", " ".join(filter(None, [cell.attrGet("class"), "wrap"])))
            columns, longest = {}, {}
        if token.children:
            images = _vet_inline(token.children, resolve) or images
    return images


def _picture(children: list[Any]) -> tuple[int, int] | None:
    """Where a paragraph that is one picture ends and its caption starts, or None: an image, or a
    linked one, then optionally a line break and a caption all in emphasis (``*Gameplay 001*``)."""
    types = [c.type for c in children]
    n = 3 if types[:3] == ["link_open", "image", "link_close"] else 1 if types[:1] == ["image"] else 0
    if not n:
        return None
    if len(types) == n:
        return n, n
    caption = types[n + 1 :]
    if types[n] in ("softbreak", "hardbreak") and len(caption) >= 3 and caption[0] == "em_open" \
            and caption[-1] == "em_close" and "em_close" not in caption[1:-1]:
        return n, n + 1
    return None


def _figures(tokens: list[Any]) -> list[Any]:
    """Pictures as figures: a paragraph that is one picture and its caption (a devlog's gallery)
    becomes ``<figure>`` with a ``<figcaption>``, and consecutive ones share a grid
    (``<div class="figures">``): a dozen screenshots are a few rows of thumbnails, not a column of
    big images. A caption that only repeats the image's alt text is hidden from screen readers,
    which read the alt text already."""
    from markdown_it.token import Token

    out: list[Any] = []
    run: list[Any] = []

    def close_run() -> None:
        if len(run) > 3:  # two pictures or more: a lone one keeps the text column's width
            out.append(Token("figures_open", "div", 1, attrs={"class": "figures"}, block=True))
            out.extend(run)
            out.append(Token("figures_close", "div", -1, block=True))
        else:
            out.extend(run)
        run.clear()

    i = 0
    while i < len(tokens):
        token = tokens[i]
        found = None
        if token.type == "paragraph_open" and not token.hidden and i + 2 < len(tokens) \
                and tokens[i + 2].type == "paragraph_close":
            found = _picture(tokens[i + 1].children or [])
        if found is None:
            close_run()
            out.append(token)
            i += 1
            continue
        inline = tokens[i + 1]
        children = inline.children
        end, start = found
        picture, caption = children[:end], children[start:]
        if caption:
            image = picture[1] if len(picture) == 3 else picture[0]
            alt = " ".join("".join(c.content for c in image.children or []).split())
            said = " ".join("".join(c.content for c in caption[1:-1]).split())
            caption[0].tag, caption[-1].tag = "figcaption", "figcaption"
            if said == alt:
                caption[0].attrSet("aria-hidden", "true")
        inline.children = picture + caption
        token.tag, tokens[i + 2].tag = "figure", "figure"
        run.extend(tokens[i : i + 3])
        i += 3
    close_run()
    return out


def _vet_inline(children: list[Any], resolve: Callable[[str], str | None]) -> bool:
    dropped: list[bool] = []
    images = False
    for token in children:
        if token.type == "link_open":
            href = resolve(str(token.attrGet("href") or ""))
            if href is None:
                token.tag, token.attrs = "span", {}
            else:
                token.attrSet("href", href)
                if not _is_local(href) and url_scheme(href) in ("http", "https"):
                    token.attrSet("rel", "nofollow noopener")
            dropped.append(href is None)
        elif token.type == "link_close":
            if dropped and dropped.pop():
                token.tag = "span"
        elif token.type == "image":
            src = resolve(str(token.attrGet("src") or ""))
            if src is None:
                token.type, token.tag, token.attrs = "text", "", {}
                token.content = "".join(c.content for c in token.children or [])
                token.children = None
            else:
                token.attrSet("src", src)
                token.attrSet("loading", "lazy")
                images = True
    return images
