"""Jinja2 rendering for plugins: StrictUndefined, autoescape for HTML only, user templates first."""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_core.errors import FlywheelError

if TYPE_CHECKING:
    import jinja2

    from flywheel_core.config import Config
    from flywheel_core.types import PluginRegistry

__all__ = ["Renderer", "get_renderer", "TemplateError", "capitalize_first", "md_escape", "md_inline"]


class TemplateError(FlywheelError):
    """A template is missing, broken, or used an undefined value (exit 1, names the template)."""


def _is_html(name: str | None) -> bool:
    return bool(name) and bool(re.search(r"\.html?(\.j2|\.jinja2?)?$", name))


# -- Markdown escaping: only what would change meaning -----------------------------------------
# CommonMark with GFM tables and strikethrough (the web target's Markdown) and GitHub's own
# rendering of READMEs give meaning to few characters, and only in some places: escaping every
# one of them fills raw files with backslashes (``parse\_args``, ``\(it failed\)``). A character
# is escaped here only where it could start or end markup wherever a template puts the text: at
# a line start, in a list item, a heading, a table cell, between ``**`` and ``**``.

_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
#: Links, images and reference definitions (``[``, ``]``), table cells (``|``): escaped anywhere.
_ALWAYS = frozenset("[]|")
# Compiled on first use, not at import (issue 18: start-up): most commands need none of these.
_re = functools.cache(re.compile)
_ENTITY = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
#: What follows ``<`` in a raw HTML tag, an autolink (``<https:...>``) or an e-mail autolink.
_TAG_OR_AUTOLINK = r"[A-Za-z/!?]|[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
#: Block starts: ATX heading, list item, block quote; setext underline, thematic break or a
#: table's delimiter row (``---``, ``- - -``, ``:-:|``); code fence. (An ordered list item's
#: ``.`` or ``)`` is escaped.)
_BLOCK = re.compile(r"[ \t]*(?:(?:#{1,6}|[-+*])(?=[ \t]|$)|>|=+[ \t]*$|[-:|][-:| \t]*$|~{3,})")
_ORDERED = re.compile(r"[ \t]*\d{1,9}([.)])(?=[ \t]|$)")
_CLOSING_HASHES = re.compile(r"[ \t](#+)[ \t]*$")  # "## Title ##": a heading's closing sequence
_DELIMITERS = r"\*+|_+|~+"


def _is_space(ch: str) -> bool:
    return ch in "\t\n\x0b\x0c\r" or unicodedata.category(ch) == "Zs"


def _may_delimit(run: str, before: str | None, after: str | None) -> bool:
    """Whether a run of ``*``, ``_`` or ``~`` could open or close emphasis or strikethrough.

    CommonMark's flanking rules, under both its definitions of punctuation (0.31 counts Unicode
    symbols, as markdown-it does; GitHub's cmark-gfm only Unicode punctuation). A run at either
    end of the text could meet anything there, so it may always delimit."""
    if before is None or after is None:
        return True
    lw, nw = _is_space(before), _is_space(after)
    before_class, after_class = unicodedata.category(before)[0], unicodedata.category(after)[0]
    for symbols in ("P", "PS"):
        lp = before in _ASCII_PUNCT or before_class in symbols
        np_ = after in _ASCII_PUNCT or after_class in symbols
        left = not nw and (not np_ or lw or lp)
        right = not lw and (not lp or nw or np_)
        if run[0] != "_" and (left or right):
            return True
        if run[0] == "_" and ((left and (not right or lp)) or (right and (not left or np_))):
            return True
    return False


def _code_spans(line: str) -> tuple[list[tuple[int, int]], set[int]]:
    """The code spans of ``line`` kept as they are (they are inert: CommonMark shows their text
    as written) and the backticks to escape: a run with no closing run of the same length
    (which the text around could close), a code fence at the line start, and the runs of a
    span holding a ``|`` (a table would split it). A kept span holds no escaped backtick: a
    backslash inside a code span would show."""
    runs = [m.span() for m in re.finditer(r"`+", line)]
    literal: set[int] = set()  # indices into runs
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        start, end = runs[i]
        width = end - start
        close = next((j for j in range(i + 1, len(runs)) if j not in literal and runs[j][1] - runs[j][0] == width), None)
        if i in literal:
            pass
        elif close is None or (width >= 3 and not line[:start].strip(" \t")) or literal & set(range(i + 1, close)):
            literal.add(i)
        elif "|" in line[end : runs[close][0]]:
            literal.update((i, close))
        else:
            spans.append((start, runs[close][1]))
            i = close
        i += 1
    return spans, {k for i in literal for k in range(*runs[i])}


#: A character that can be markup wherever it stands (or start a code span): a line without
#: one, and without a block start or a heading's closing hashes, is shown as it is.
_INLINE_MARKUP = re.compile(r"[][|\\<&*_~`]")
#: The characters :func:`_escape_marked` looks at one by one (the others it finds by runs).
_SINGLE_MARKUP = r"[][|\\<&]"


def _escape_line(line: str) -> str:
    """One line of untrusted text with a backslash before each character that would be markup."""
    if not (_INLINE_MARKUP.search(line) or _BLOCK.match(line) or _ORDERED.match(line) or _CLOSING_HASHES.search(line)):
        return line  # most lines of prose: nothing below would mark a character
    return _escape_marked(line)


def _escape_marked(line: str) -> str:
    spans, marked = _code_spans(line)
    block = _BLOCK.match(line)
    if block:
        marked.add(len(line) - len(line[block.start() :].lstrip(" \t")))
    ordered = _ORDERED.match(line)
    if ordered:
        marked.add(ordered.start(1))
    closing = _CLOSING_HASHES.search(line)
    if closing:
        marked.add(closing.start(1))
    # Only the characters that may need it are visited (a line is walked in C, not character by
    # character in Python: most of a long line of prose is letters).
    for m in _re(_SINGLE_MARKUP).finditer(line):
        i, ch = m.start(), m.group()
        if ch in _ALWAYS or (ch == "\\" and (i + 1 == len(line) or line[i + 1] in _ASCII_PUNCT)):
            marked.add(i)
        elif ch == "<" and (i + 1 == len(line) or _re(_TAG_OR_AUTOLINK).match(line, i + 1)):
            marked.add(i)
        elif ch == "&" and _re(_ENTITY).match(line, i):
            marked.add(i)
    out: list[str] = []
    pos = 0
    for start, end in [*spans, (len(line), len(line))]:
        for m in _re(_DELIMITERS).finditer(line, pos, start):  # a run is escaped whole, or its neighbours change
            a, b = m.start(), m.end()
            if _may_delimit(m.group(), line[a - 1] if a else None, line[b] if b < len(line) else None) or not marked.isdisjoint(range(a, b)):
                marked.update(range(a, b))
        for k in sorted(k for k in marked if pos <= k < start):  # a backslash before each marked character
            out += (line[pos:k], "\\")
            pos = k
        out += (line[pos:start], line[start:end])
        pos = end
    return "".join(out)


#: What no reader should get from session text: terminal escape sequences (``ESC[2J`` clears the
#: screen of whoever cats the README), other control characters, and bidi overrides that show
#: text in another order than it is stored. Tab and line breaks stay; NUL, VT and FF are mapped.
_INVISIBLE = re.compile("\x1b\\[[0-?]*[ -/]*[@-~]|[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\x01-\x08\x0e-\x1f\x7f-\x9f]")


def _shown(text: Any) -> str:
    return _INVISIBLE.sub("", str(text).replace("\0", "\ufffd").replace("\x0b", " ").replace("\x0c", " "))


def md_escape(text: Any) -> str:
    """Untrusted text shown literally in Markdown, its lines and paragraphs kept: a backslash
    only before what would be markup (``[x](javascript:..)``, ``*bold*``, ``# heading``), so
    ``parse_args`` and ``(it failed)`` stay as written. Indentation is folded to one space (four
    would make a code block) and trailing spaces dropped (two would make a line break)."""
    lines = re.split(r"\r\n?|\n", _shown(text))
    out = []
    for i, line in enumerate(lines):
        body = line.strip(" \t")
        if body:
            lead = " " if line[:1] in (" ", "\t") else ""
            tail = " " if i == len(lines) - 1 and line[-1:] in (" ", "\t") else ""  # a fragment's last space
            out.append(_escape_line(lead + body + tail))
        else:
            out.append(" " if i == len(lines) - 1 and line else "")
    return "\n".join(out)


def md_inline(text: Any) -> str:
    """Untrusted text as one line of Markdown shown literally (newlines folded to spaces), with
    :func:`md_escape`'s rules."""
    return _escape_line(" ".join(_shown(text).split()))


def capitalize_first(text: Any) -> str:
    """The first letter upper case, the rest as written (Jinja's ``capitalize`` lowers ``MSFT``)."""
    text = str(text)
    return text[:1].upper() + text[1:]


class Renderer:
    """A Jinja2 environment over ``templates_dir`` (if set) then each plugin's template folders.

    ``sandboxed``: Jinja2's SandboxedEnvironment, for a search path holding the user's
    ``templates_dir``: a cloned repository's flywheel.toml may name templates no one reviewed,
    and a plain environment lets them reach Python (``cycler.__init__.__globals__.os.system``).
    """

    def __init__(self, search_path: list[Path], *, sandboxed: bool = False) -> None:
        import jinja2

        if sandboxed:
            from jinja2.sandbox import SandboxedEnvironment as environment
        else:
            environment = jinja2.Environment
        self.search_path = search_path
        self.env = environment(
            loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
            undefined=jinja2.StrictUndefined,
            autoescape=_is_html,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            # Apart: a sandbox compiles calls differently, and the cache does not tell them apart.
            bytecode_cache=_bytecode_cache("templates-sandboxed" if sandboxed else "templates"),
        )
        self.env.filters["md"] = md_escape
        self.env.filters["md_inline"] = md_inline
        # Social posts (flywheel_core.posts): session text made inert, cut, or marked optional.
        from flywheel_core.social import clip, defang, optional, sentences

        self.env.filters.update(defang=defang, clip=clip, optional=optional, sentences=sentences)
        self.env.filters["capitalize_first"] = capitalize_first
        self.env.globals["optional"] = optional

    def render(self, template: str, /, **context: Any) -> str:
        import jinja2

        try:
            return self.env.get_template(template).render(**context)
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(
                f"template {exc.name!r} not found in: {', '.join(map(str, self.search_path)) or '(none)'}"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{exc.filename or template}:{exc.lineno}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"template {template!r}: {exc.message}") from None
        except jinja2.exceptions.SecurityError as exc:  # only a sandbox raises it
            raise TemplateError(f"template {template!r}: {exc} (templates from templates_dir run sandboxed)") from None

    def render_string(self, source: str, /, *, html: bool = False, **context: Any) -> str:
        """Render a template given as text (``flywheel render --template``)."""
        import jinja2

        env = self.env.overlay(autoescape=html)
        try:
            return env.from_string(source).render(**context)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"line {exc.lineno}: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(exc.message or "undefined value") from None
        except jinja2.exceptions.SecurityError as exc:
            raise TemplateError(f"{exc} (templates run sandboxed when templates_dir is set)") from None


def _bytecode_cache(name: str) -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the user's cache folder, so a run loads them instead of compiling
    them again (about 7 ms a template, most of a small run's rendering). Jinja2 checks each
    entry against its template's source and Python version, and compiles a changed one afresh."""
    import jinja2

    from flywheel_core.cachedir import private_cache_folder

    folder = private_cache_folder(name)  # its files are loaded as code: only ours, or none
    return None if folder is None else jinja2.FileSystemBytecodeCache(str(folder))


# One renderer (one Jinja2 environment, each template compiled once) per config and plugin set.
_CACHE: dict[tuple, Renderer] = {}


#: Core's own templates (``social/social_post.md.j2``), searched after every plugin's.
CORE_TEMPLATES = Path(__file__).resolve().parent / "templates"


def get_renderer(config: Config, host: PluginRegistry) -> Renderer:
    """The renderer for this config and plugin set (built once per process)."""
    search = ([config.templates_dir] if config.templates_dir else []) + host.template_dirs() + [CORE_TEMPLATES]
    key = tuple(map(str, search))
    if key not in _CACHE:
        _CACHE[key] = Renderer(search, sandboxed=config.templates_dir is not None)
    return _CACHE[key]
